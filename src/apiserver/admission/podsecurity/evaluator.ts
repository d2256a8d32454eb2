/**
 * The check registry, as upstream's pod-security-admission policy/registry.go: for a level and
 * version, the revision of each check that applies (the newest whose minimum version is not
 * newer), baseline checks at both levels except those a restricted revision overrides, ordered
 * by id (baseline ids first, then restricted ids; byte order), so messages are stable.
 * `latest` and versions newer than the newest revision evaluate as that newest version.
 * Privileged evaluates nothing. The list for each level and version is built once.
 */
import type { PodSpec } from '../../../api/index.ts';
import { baselineChecks } from './baseline.ts';
import type { Check, CheckPod, CheckResult, PodMeta, VersionedCheck } from './check.ts';
import type { LevelVersion } from './levels.ts';
import { restrictedChecks } from './restricted.ts';

export type Evaluator = (lv: LevelVersion, meta: PodMeta, spec: PodSpec) => CheckResult[];

/** The revision of `check` that applies at minor version `v`, if any. */
function revisionAt(check: Check, v: number): VersionedCheck | undefined {
  let found: VersionedCheck | undefined;
  for (const r of check.versions) if (r.minimumVersion <= v) found = r;
  return found;
}

/** An evaluator over `checks` (the default: every baseline and restricted check). */
export function newEvaluator(checks: readonly Check[] = [...baselineChecks, ...restrictedChecks]): Evaluator {
  const ids = new Set<string>();
  for (const c of checks) {
    if (ids.has(c.id)) throw new Error(`multiple checks registered for ID ${c.id}`);
    ids.add(c.id);
  }
  const byId = (a: Check, b: Check) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const baseline = checks.filter((c) => c.level === 'baseline').sort(byId);
  const restricted = checks.filter((c) => c.level === 'restricted').sort(byId);
  const maxVersion = Math.max(0, ...checks.map((c) => c.versions.at(-1)?.minimumVersion ?? 0));

  const cache = new Map<string, CheckPod[]>();
  function checksFor(level: 'baseline' | 'restricted', v: number): CheckPod[] {
    const key = `${level}:${v}`;
    let fns = cache.get(key);
    if (fns) return fns;
    const restrictedRevisions = level === 'restricted' ? restricted.map((c) => revisionAt(c, v)) : [];
    const overridden = new Set(restrictedRevisions.flatMap((r) => r?.overrides ?? []));
    fns = [];
    for (const c of baseline) {
      const r = revisionAt(c, v);
      if (r && !overridden.has(c.id)) fns.push(r.check);
    }
    for (const r of restrictedRevisions) if (r) fns.push(r.check);
    cache.set(key, fns);
    return fns;
  }

  return (lv, meta, spec) => {
    if (lv.level === 'privileged') return [];
    const v = lv.version === 'latest' || lv.version > maxVersion ? maxVersion : lv.version;
    return checksFor(lv.level, v).map((check) => check(meta, spec));
  };
}
