/**
 * A DaemonSet's ControllerRevisions, as upstream's daemon controller keeps them (update.go:
 * getPatch, Match, snapshot, cleanupHistory): a revision's data is the patch that restores the
 * DaemonSet's pod template, `{"spec":{"template":{..., "$patch":"replace"}}}` — what `kubectl
 * rollout undo daemonset/x` sends back as a strategic merge patch — and the revision is named
 * `<daemonset>-<hash>` where the hash (also its `controller-revision-hash` label, and the label
 * of the pods made from it) is the pod-template hash of the template and the collision count.
 * Its labels are the template's plus that label; its annotations the DaemonSet's (so `kubectl
 * rollout history` shows kubernetes.io/change-cause). Pure functions; the controller does the
 * writes. The generic revision helpers are the lead's history.ts.
 */
import type { ControllerRevision, DaemonSet } from '../api/index.ts';
import { controllerRevisionName, sortRevisions } from './history.ts';
import { newControllerRef, podTemplateHash, semanticEqual } from './controller-utils.ts';
import { daemonSetRevisionLabel } from './daemonset-util.ts';

/** A copy of a JSON value with object keys sorted, as Go's encoding/json writes a map. */
function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortedKeys((v as Record<string, unknown>)[k]);
  return out;
}

/**
 * Upstream getPatch: the DaemonSet's template under spec.template with `$patch: replace`. Keys
 * are sorted and the template's metadata carries `creationTimestamp: null`, as Go's JSON of the
 * typed object does, so kubectl's byte comparison of a revision with the live DaemonSet (which
 * decides "skipped rollback") sees the same text.
 */
export function daemonSetRevisionData(ds: DaemonSet): { spec: { template: Record<string, unknown> } } {
  const template = structuredClone(ds.spec?.template ?? {}) as Record<string, unknown>;
  const meta = (template['metadata'] ?? {}) as Record<string, unknown>;
  if (!('creationTimestamp' in meta)) meta['creationTimestamp'] = null;
  template['metadata'] = meta;
  template['$patch'] = 'replace';
  return { spec: { template: sortedKeys(template) as Record<string, unknown> } };
}

/** Upstream Match: the revision restores the DaemonSet's current template (compared semantically). */
export function revisionMatches(ds: DaemonSet, revision: ControllerRevision): boolean {
  return semanticEqual(revision.data ?? null, daemonSetRevisionData(ds));
}

/** The hash a DaemonSet's current revision is named after (upstream ComputeHash of the template). */
export function daemonSetRevisionHash(ds: DaemonSet): string {
  return podTemplateHash(ds.spec?.template, ds.status?.collisionCount);
}

/** Upstream snapshot's object: the DaemonSet's current template as revision number `revision`. */
export function newDaemonSetRevision(ds: DaemonSet, revision: number): ControllerRevision {
  const hash = daemonSetRevisionHash(ds);
  const annotations = ds.metadata.annotations;
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: controllerRevisionName(ds.metadata.name ?? '', hash),
      namespace: ds.metadata.namespace,
      labels: { ...(ds.spec?.template?.metadata?.labels ?? {}), [daemonSetRevisionLabel]: hash },
      ...(annotations && Object.keys(annotations).length ? { annotations: { ...annotations } } : {}),
      ownerReferences: [newControllerRef(ds, 'DaemonSet', 'apps/v1')],
    },
    data: daemonSetRevisionData(ds) as ControllerRevision['data'],
    revision,
  };
}

/**
 * Upstream cleanupHistory's choice: of the old revisions beyond `limit`, oldest first, those
 * whose hash no live pod carries.
 */
export function revisionsToDelete(old: readonly ControllerRevision[], limit: number, liveHashes: ReadonlySet<string>): ControllerRevision[] {
  let toKill = old.length - limit;
  if (toKill <= 0) return [];
  const out: ControllerRevision[] = [];
  for (const r of sortRevisions([...old])) {
    if (toKill <= 0) break;
    const hash = r.metadata.labels?.[daemonSetRevisionLabel];
    if (hash !== undefined && liveHashes.has(hash)) continue;
    out.push(r);
    toKill--;
  }
  return out;
}

/** Upstream dedupCurHistories' choice: of revisions equal to the current template, the one with the highest revision number. */
export function revisionToKeep(current: readonly ControllerRevision[]): ControllerRevision {
  let keep = current[0]!;
  for (const r of current) if ((r.revision ?? 0) >= (keep.revision ?? 0)) keep = r;
  return keep;
}
