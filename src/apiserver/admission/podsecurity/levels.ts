/**
 * Pod Security Standards levels, policy versions and the namespace labels that select them, as
 * upstream's pod-security-admission `api` package (constants.go, helpers.go): levels
 * privileged < baseline < restricted; versions `latest` or `v1.<minor>`; a namespace's policy
 * is read from its `pod-security.kubernetes.io/{enforce,audit,warn}[-version]` labels over the
 * configured defaults, with upstream's fallbacks for values that do not parse (enforce:
 * restricted, audit and warn: privileged, version: latest) and upstream's field errors.
 */
import type { StatusCause } from '../../../api/types.ts';
import { invalidValue } from '../../../api/validation.ts';

export type Level = 'privileged' | 'baseline' | 'restricted';

/** A policy version: a 1.x minor number, or `latest` (newer than every number). */
export type Version = number | 'latest';

export interface LevelVersion {
  level: Level;
  version: Version;
}

export interface Policy {
  enforce: LevelVersion;
  audit: LevelVersion;
  warn: LevelVersion;
}

export const labelPrefix = 'pod-security.kubernetes.io/';
export const enforceLevelLabel = `${labelPrefix}enforce`;
export const enforceVersionLabel = `${labelPrefix}enforce-version`;
export const auditLevelLabel = `${labelPrefix}audit`;
export const auditVersionLabel = `${labelPrefix}audit-version`;
export const warnLevelLabel = `${labelPrefix}warn`;
export const warnVersionLabel = `${labelPrefix}warn-version`;

/** Audit annotation keys (the API server's key is `pod-security.kubernetes.io/<key>`). */
export const auditAnnotationPrefix = labelPrefix;
export const exemptionReasonAnnotationKey = 'exempt';
export const auditViolationsAnnotationKey = 'audit-violations';
export const enforcedPolicyAnnotationKey = 'enforce-policy';

const levels: readonly Level[] = ['privileged', 'baseline', 'restricted'];
const levelError = `must be one of ${levels.join(', ')}`;
const versionError = 'must be "latest" or "v1.x"';
const versionPattern = /^v1\.([0-9]|[1-9][0-9]*)$/;

/** The level named by `s`; an unknown name is `restricted` with upstream's error. */
export function parseLevel(s: string): { level: Level; error?: string } {
  return (levels as readonly string[]).includes(s) ? { level: s as Level } : { level: 'restricted', error: levelError };
}

/** The version named by `s` (`latest` or `v1.x`); anything else is `latest` with upstream's error. */
export function parseVersion(s: string): { version: Version; error?: string } {
  if (s === 'latest') return { version: 'latest' };
  const m = versionPattern.exec(s);
  const minor = m ? Number(m[1]) : NaN;
  // Go's Atoi fails past int64; a number JavaScript cannot hold exactly is refused the same way.
  return Number.isSafeInteger(minor) ? { version: minor } : { version: 'latest', error: versionError };
}

export const versionString = (v: Version): string => (v === 'latest' ? 'latest' : `v1.${v}`);

/** `restricted:latest`, `baseline:v1.25`: how upstream names a level and version in messages. */
export const levelVersionString = (lv: LevelVersion): string => `${lv.level}:${versionString(lv.version)}`;

/** -1, 0 or 1 as `a` is less strict than, as strict as, or stricter than `b`. */
export function compareLevels(a: Level, b: Level): number {
  return Math.sign(levels.indexOf(a) - levels.indexOf(b));
}

export const sameLevelVersion = (a: LevelVersion, b: LevelVersion): boolean => a.level === b.level && a.version === b.version;

/** Both privileged (any version), or the same level and version. */
export const equivalentLevelVersion = (a: LevelVersion, b: LevelVersion): boolean =>
  (a.level === 'privileged' && b.level === 'privileged') || sameLevelVersion(a, b);

export const equivalentPolicy = (a: Policy, b: Policy): boolean =>
  equivalentLevelVersion(a.enforce, b.enforce) && equivalentLevelVersion(a.audit, b.audit) && equivalentLevelVersion(a.warn, b.warn);

export const fullyPrivileged = (p: Policy): boolean =>
  p.enforce.level === 'privileged' && p.audit.level === 'privileged' && p.warn.level === 'privileged';

/** Everything privileged at latest: upstream's default configuration. */
export const privilegedPolicy: Policy = {
  enforce: { level: 'privileged', version: 'latest' },
  audit: { level: 'privileged', version: 'latest' },
  warn: { level: 'privileged', version: 'latest' },
};

const labelField = (label: string) => `metadata.labels[${label}]`;

/**
 * The policy a namespace's labels select over `defaults`, with one field error per label that
 * does not parse (upstream's PolicyToEvaluate). A usable policy is always returned. An explicit
 * enforce level stricter than the warn level raises warn to it (and its version, unless a warn
 * version is given) when no warn level is set.
 */
export function policyToEvaluate(labels: Readonly<Record<string, string>> | undefined, defaults: Policy): { policy: Policy; errors: StatusCause[] } {
  const errors: StatusCause[] = [];
  if (!labels) return { policy: defaults, errors };
  const p: Policy = { enforce: { ...defaults.enforce }, audit: { ...defaults.audit }, warn: { ...defaults.warn } };
  let hasEnforceLevel = false;
  const note = (label: string, value: string, error: string | undefined) => {
    if (error) errors.push(invalidValue(labelField(label), value, error));
  };
  const level = (label: string, failOpen: boolean): Level | undefined => {
    const v = labels[label];
    if (v === undefined) return undefined;
    const r = parseLevel(v);
    note(label, v, r.error);
    return r.error && failOpen ? 'privileged' : r.level;
  };
  const version = (label: string): Version | undefined => {
    const v = labels[label];
    if (v === undefined) return undefined;
    const r = parseVersion(v);
    note(label, v, r.error);
    return r.version;
  };

  const el = labels[enforceLevelLabel];
  if (el !== undefined) {
    const r = parseLevel(el);
    p.enforce.level = r.level;
    hasEnforceLevel = !r.error; // an enforce label that does not parse does not raise warn
    note(enforceLevelLabel, el, r.error);
  }
  const ev = version(enforceVersionLabel);
  if (ev !== undefined) p.enforce.version = ev;
  const al = level(auditLevelLabel, true); // audit fails open
  if (al !== undefined) p.audit.level = al;
  const av = version(auditVersionLabel);
  if (av !== undefined) p.audit.version = av;
  const wl = level(warnLevelLabel, true); // warn fails open
  if (wl !== undefined) p.warn.level = wl;
  const wv = version(warnVersionLabel);
  if (wv !== undefined) p.warn.version = wv;

  if (wl === undefined && hasEnforceLevel && compareLevels(p.enforce.level, p.warn.level) > 0) {
    p.warn.level = p.enforce.level;
    if (wv === undefined) p.warn.version = p.enforce.version;
  }
  return { policy: p, errors };
}

/** The field errors as Go's ErrorList.ToAggregate().Error() writes them: one, or `[a, b]`. */
export function aggregateErrorString(errors: readonly StatusCause[]): string {
  const msgs = [...new Set(errors.map((e) => `${e.field}: ${e.message}`))];
  return msgs.length === 1 ? msgs[0]! : `[${msgs.join(', ')}]`;
}
