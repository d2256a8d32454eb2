/**
 * What a Job sync reads off its pods and spec, as upstream's syncJob helpers: which finished
 * pods are not counted yet, which failures count under the pod failure policy, whether a FailJob
 * rule matched, the restarts of OnFailure pods against backoffLimit, activeDeadlineSeconds,
 * whether an index failed for good (backoffLimitPerIndex), and per index the failed pod kept
 * until its replacement exists. Pure functions over the sync's state.
 */
import type { Job, JobCondition, Pod } from '../api/index.ts';
import { finishedTime } from './job-backoff.ts';
import { completionIndexOf, indexAbsoluteFailureCount, indexFailureCount, indexesOf, intervalsHas, unknownIndex } from './job-indexes.ts';
import { matchPodFailurePolicy } from './job-policy.ts';
import type { SyncCtx } from './job-sync.ts';
import { findCondition, hasTrackingFinalizer, isIndexed, isPodFailed, isSuspended } from './job-util.ts';

export const validIndex = (p: Pod, completions: number) => {
  const ix = completionIndexOf(p);
  return ix !== unknownIndex && ix < completions;
};

/**
 * Pods not yet counted (they carry the finalizer, are not in `uncounted`, no finalizer removal
 * is pending, and for Indexed Jobs have a valid index) that pass `filter` (upstream
 * getValidPodsWithFilter).
 */
export function countablePods(c: SyncCtx, uncounted: ReadonlySet<string> | undefined, filter: (p: Pod) => boolean): Pod[] {
  const out: Pod[] = [];
  const indexed = isIndexed(c.job);
  const completions = c.job.spec?.completions ?? 0;
  for (const p of c.pods) {
    const uid = p.metadata.uid ?? '';
    if (!hasTrackingFinalizer(p) || uncounted?.has(uid) || c.expectedRmFinalizers.has(uid)) continue;
    if (indexed && !validIndex(p, completions)) continue;
    if (filter(p)) out.push(p);
  }
  return out;
}

export function nonIgnoredFailedCount(job: Job, failed: readonly Pod[]): number {
  const policy = job.spec?.podFailurePolicy;
  if (!policy) return failed.length;
  return failed.filter((p) => matchPodFailurePolicy(policy, p).countFailed).length;
}

export function successCriteriaMet(job: Job): JobCondition | undefined {
  const c = findCondition(job.status?.conditions, 'SuccessCriteriaMet');
  return c?.status === 'True' ? c : undefined;
}

/** The FailJob message of the first failed pod a FailJob rule matches. */
export function failJobMessage(job: Job, pods: readonly Pod[]): string | undefined {
  const policy = job.spec?.podFailurePolicy;
  if (!policy) return undefined;
  for (const p of pods) {
    if (!isPodFailed(p, job)) continue;
    const m = matchPodFailurePolicy(policy, p).failJobMessage;
    if (m !== undefined) return m;
  }
  return undefined;
}

/** restartPolicy OnFailure: the restarts of running and pending pods reached backoffLimit. */
export function pastBackoffLimitOnFailure(job: Job, pods: readonly Pod[]): boolean {
  if (job.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false;
  let restarts = 0;
  for (const p of pods) {
    const phase = p.status?.phase;
    if (phase !== 'Running' && phase !== 'Pending') continue;
    for (const s of p.status?.initContainerStatuses ?? []) restarts += s.restartCount ?? 0;
    for (const s of p.status?.containerStatuses ?? []) restarts += s.restartCount ?? 0;
  }
  const limit = job.spec?.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

export function pastActiveDeadline(job: Job, now: number): boolean {
  const deadline = job.spec?.activeDeadlineSeconds;
  const start = job.status?.startTime;
  if (deadline === undefined || deadline === null || !start || isSuspended(job)) return false;
  return now - Date.parse(start) >= deadline * 1000;
}

/** The pod's index has failed for good: FailIndex matched, or its counted failures reached backoffLimitPerIndex. */
export function isIndexFailed(job: Job, pod: Pod): boolean {
  if (!isPodFailed(pod, job)) return false;
  let counted = true;
  if (job.spec?.podFailurePolicy) {
    const m = matchPodFailurePolicy(job.spec.podFailurePolicy, pod);
    if (m.action === 'FailIndex') return true;
    counted = m.countFailed;
  }
  return counted && indexFailureCount(pod) >= (job.spec?.backoffLimitPerIndex ?? 0);
}

/**
 * Per index without a pod, the latest failed (uncounted) pod: kept until its replacement
 * exists so the failure count can be carried over (upstream getPodsWithDelayedDeletionPerIndex).
 */
export function podsWithDelayedDeletionPerIndex(c: SyncCtx): Map<number, Pod> {
  const completions = c.job.spec?.completions ?? 0;
  const activeIndexes = new Set(indexesOf(c.activePods));
  const out = new Map<number, Pod>();
  for (const p of countablePods(c, undefined, (pod) => isPodFailed(pod, c.job))) {
    const ix = completionIndexOf(p);
    if (ix === unknownIndex || ix >= completions) continue;
    if (intervalsHas(c.succeededIndexes, ix) || intervalsHas(c.failedIndexes, ix) || activeIndexes.has(ix)) continue;
    const prev = out.get(ix);
    if (!prev || (indexAbsoluteFailureCount(prev) <= indexAbsoluteFailureCount(p) && finishedTime(p) >= finishedTime(prev))) out.set(ix, p);
  }
  return out;
}

