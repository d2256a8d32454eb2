/**
 * The Job controller's vocabulary, as upstream's pkg/controller/job keeps it: the finalizer,
 * annotations and labels it writes, its bounds, the condition reasons and messages, and the
 * small predicates over Jobs and their pods (finished, suspended, indexed, which pods count as
 * failed or terminating under podReplacementPolicy, managedBy). Pure functions over plain data.
 * Feature gates are as in 1.33's defaults: JobPodReplacementPolicy, JobManagedBy,
 * JobSuccessPolicy, JobBackoffLimitPerIndex and PodIndexLabel on, so terminal conditions are
 * delayed (FailureTarget before Failed, SuccessCriteriaMet before Complete) and terminating pods
 * are always counted.
 */
import type { Job, JobCondition, Pod } from '../api/index.ts';
import { isPodReady, nowRfc3339 } from './controller-utils.ts';

/** The finalizer that keeps a Job's pods until the Job has counted them. */
export const jobTrackingFinalizer = 'batch.kubernetes.io/job-tracking';
/** Annotation (and, PodIndexLabel, label) carrying an Indexed Job pod's index. */
export const completionIndexAnnotation = 'batch.kubernetes.io/job-completion-index';
/** Failures counted against backoffLimitPerIndex in the index so far. */
export const indexFailureCountAnnotation = 'batch.kubernetes.io/job-index-failure-count';
/** Failures in the index that a pod failure policy Ignore rule matched. */
export const indexIgnoredFailureCountAnnotation = 'batch.kubernetes.io/job-index-ignored-failure-count';
/** The env var Indexed Job containers read their index from. */
export const completionIndexEnvName = 'JOB_COMPLETION_INDEX';
/** `spec.managedBy` naming this controller (absent means the same). */
export const jobControllerName = 'kubernetes.io/job-controller';

/** Upstream MaxUncountedPods: pod UIDs one status write may carry in uncountedTerminatedPods. */
export const maxUncountedPods = 500;
/** Upstream MaxPodCreateDeletePerSync. */
export const maxPodCreateDeletePerSync = 500;
/** Upstream DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff (the code's cap; its docs say six minutes). */
export const podFailureBackoffMs = 10_000;
export const maxPodFailureBackoffMs = 10 * 60_000;
/** Upstream syncJobBatchPeriod: pod events and status-only Job updates sync the Job at most this often. */
export const syncJobBatchMs = 1_000;

/** Condition reasons and messages, upstream's (batch/v1 JobReason* and the controller's texts). */
export const reasons = {
  backoffLimitExceeded: 'BackoffLimitExceeded',
  deadlineExceeded: 'DeadlineExceeded',
  podFailurePolicy: 'PodFailurePolicy',
  maxFailedIndexesExceeded: 'MaxFailedIndexesExceeded',
  failedIndexes: 'FailedIndexes',
  successPolicy: 'SuccessPolicy',
  completionsReached: 'CompletionsReached',
} as const;
export const messages = {
  backoffLimitExceeded: 'Job has reached the specified backoff limit',
  deadlineExceeded: 'Job was active longer than specified deadline',
  maxFailedIndexesExceeded: 'Job has exceeded the specified maximal number of failed indexes',
  failedIndexes: 'Job has failed indexes',
  completionsReached: 'Reached expected number of succeeded pods',
} as const;

// ---- Jobs --------------------------------------------------------------------------------------

export function findCondition(list: readonly JobCondition[] | undefined, type: string): JobCondition | undefined {
  return list?.find((c) => c.type === type);
}

function conditionTrue(job: Job, type: string): boolean {
  return findCondition(job.status?.conditions, type)?.status === 'True';
}

/** Complete or Failed (upstream IsJobFinished). */
export function isJobFinished(job: Job): boolean {
  return conditionTrue(job, 'Complete') || conditionTrue(job, 'Failed');
}

export function isSuspended(job: Job): boolean {
  return job.spec?.suspend === true;
}

export function isIndexed(job: Job): boolean {
  return job.spec?.completionMode === 'Indexed';
}

export function hasBackoffLimitPerIndex(job: Job): boolean {
  return job.spec?.backoffLimitPerIndex !== undefined && job.spec.backoffLimitPerIndex !== null;
}

/** The controller named by spec.managedBy when it is not this one. */
export function managedByExternalController(job: Job): string | undefined {
  const m = job.spec?.managedBy;
  return m && m !== jobControllerName ? m : undefined;
}

/** Pods are replaced only once they failed (podReplacementPolicy Failed, implied by a pod failure policy). */
export function onlyReplaceFailedPods(job: Job): boolean {
  return job.spec?.podReplacementPolicy === 'Failed' || !!job.spec?.podFailurePolicy;
}

export function newCondition(type: string, status: string, reason: string, message: string, now: number): JobCondition {
  const t = nowRfc3339(now);
  return { type, status, lastProbeTime: t, lastTransitionTime: t, reason, message };
}

/**
 * Sets a condition's status, reason and message (upstream ensureJobConditionStatus): an existing
 * one changes in place when any differs; a missing one is added unless it would be False.
 * Returns the list and whether it changed.
 */
export function ensureConditionStatus(list: JobCondition[] | undefined, type: string, status: string, reason: string, message: string, now: number): { list: JobCondition[]; changed: boolean } {
  const out = list ?? [];
  const i = out.findIndex((c) => c.type === type);
  if (i >= 0) {
    const c = out[i]!;
    if (c.status === status && (c.reason ?? '') === reason && (c.message ?? '') === message) return { list: out, changed: false };
    out[i] = newCondition(type, status, reason, message, now);
    return { list: out, changed: true };
  }
  if (status === 'False') return { list: out, changed: false };
  out.push(newCondition(type, status, reason, message, now));
  return { list: out, changed: true };
}

// ---- pods --------------------------------------------------------------------------------------

export function hasTrackingFinalizer(pod: Pod): boolean {
  return pod.metadata.finalizers?.includes(jobTrackingFinalizer) ?? false;
}

const terminal = (pod: Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** Being deleted and not yet finished (upstream IsPodTerminating). */
export function isPodTerminating(pod: Pod): boolean {
  return !!pod.metadata.deletionTimestamp && !terminal(pod);
}

/**
 * Failed, or (unless only failed pods are replaced) deleted before it succeeded: orphans the
 * node never finished count as failures (upstream isPodFailed).
 */
export function isPodFailed(pod: Pod, job: Job): boolean {
  if (pod.status?.phase === 'Failed') return true;
  if (onlyReplaceFailedPods(job)) return false;
  return !!pod.metadata.deletionTimestamp && pod.status?.phase !== 'Succeeded';
}

export function countReady(pods: readonly Pod[]): number {
  let n = 0;
  for (const p of pods) if (isPodReady(p)) n++;
  return n;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; resolves when all settled. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!, i);
    }),
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
