/**
 * Counting a Job's finished pods with the `batch.kubernetes.io/job-tracking` finalizer, as
 * upstream's trackJobStatusAndRemoveFinalizers (1.33):
 *
 * 1. finished pods still carrying the finalizer (and, for a finished Job, every pod) are put in
 *    `status.uncountedTerminatedPods` (for Indexed Jobs succeeded pods go straight to
 *    completedIndexes), at most maxUncountedPods per sync, and the status is written; an interim
 *    FailureTarget or SuccessCriteriaMet condition is written with it;
 * 2. their finalizers are removed (the removals are expected in the cache before those pods are
 *    looked at again);
 * 3. pods whose finalizer is gone move from the uncounted lists to `succeeded` / `failed`, and
 *    once nothing is uncounted and no pod is terminating the terminal Complete or Failed
 *    condition (with completionTime) is added; the status is written again and the event
 *    recorded (Completed "Job completed", or the failure reason and message).
 * A crash between the steps loses nothing: what was written says which pods are in flight.
 */
import type { Job, JobCondition, Pod } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { completionIndexOf, formatIndexes, intervalsHas, intervalsTotal, unknownIndex, withIndexes } from './job-indexes.ts';
import { matchPodFailurePolicy } from './job-policy.ts';
import { podWriteConcurrency, removeTrackingFinalizer } from './job-pods.ts';
import type { JobDeps, SyncCtx } from './job-sync.ts';
import { ensureConditionStatus, findCondition, forEachLimit, hasBackoffLimitPerIndex, hasTrackingFinalizer, isIndexed, isPodFailed, maxUncountedPods, newCondition } from './job-util.ts';

/**
 * Per Job key, the uids of pods whose finalizer removal was requested and not yet observed in
 * the cache (upstream's uidTrackingExpectations for finalizers). Empty sets are dropped.
 */
export class FinalizerExpectations {
  #byKey = new Map<string, Set<string>>();

  expected(key: string): ReadonlySet<string> {
    return this.#byKey.get(key) ?? new Set();
  }

  expectRemoved(key: string, uids: readonly string[]): void {
    if (!uids.length) return;
    let s = this.#byKey.get(key);
    if (!s) this.#byKey.set(key, (s = new Set()));
    for (const u of uids) s.add(u);
  }

  observed(key: string, uid: string): void {
    const s = this.#byKey.get(key);
    if (!s?.delete(uid)) return;
    if (!s.size) this.#byKey.delete(key);
  }

  delete(key: string): void {
    this.#byKey.delete(key);
  }

  get size(): number {
    return this.#byKey.size;
  }
}

/** Accounts for finished pods and writes the status (see the file comment). Throws on write errors. */
export async function trackJobStatusAndRemoveFinalizers(d: JobDeps, c: SyncCtx, needsFlush: boolean): Promise<void> {
  const job = c.job;
  const status = job.status!;
  const uncounted = (status.uncountedTerminatedPods ??= {});
  const indexed = isIndexed(job);
  const completions = job.spec?.completions ?? 0;
  const pods = indexed ? [...c.pods].sort((a, b) => completionIndexOf(a) - completionIndexOf(b)) : c.pods;
  const withFinalizer = new Set<string>();
  for (const p of pods) if (hasTrackingFinalizer(p) && !c.expectedRmFinalizers.has(p.metadata.uid!)) withFinalizer.add(p.metadata.uid!);
  if (cleanUncountedPodsWithoutFinalizers(job, withFinalizer)) needsFlush = true;

  const toRemove: Pod[] = [];
  const newSucceededIndexes: number[] = [];
  let reachedMax = false;
  const finishedFailing = !!c.finishedCondition && c.finishedCondition.type !== 'SuccessCriteriaMet';
  for (const pod of pods) {
    const uid = pod.metadata.uid!;
    if (!hasTrackingFinalizer(pod) || c.expectedRmFinalizers.has(uid)) continue;
    const failed = isPodFailed(pod, job);
    if (!canRemoveFinalizer(c, pod, failed)) continue;
    toRemove.push(pod);
    if (pod.status?.phase === 'Succeeded' && !c.uncounted.failed.has(uid)) {
      if (indexed) {
        const ix = completionIndexOf(pod);
        if (ix !== unknownIndex && ix < completions && !intervalsHas(c.prevSucceededIndexes, ix)) {
          newSucceededIndexes.push(ix);
          needsFlush = true;
        }
      } else if (!c.uncounted.succeeded.has(uid)) {
        needsFlush = true;
        (uncounted.succeeded ??= []).push(uid);
      }
    } else if (failed || finishedFailing) {
      // Once the Job is finishing without success, every pod not succeeded counts as failed.
      const ix = completionIndexOf(pod);
      if (!c.uncounted.failed.has(uid) && (!indexed || (ix !== unknownIndex && ix < completions))) {
        if (!job.spec?.podFailurePolicy || matchPodFailurePolicy(job.spec.podFailurePolicy, pod).countFailed) {
          needsFlush = true;
          (uncounted.failed ??= []).push(uid);
        }
      }
    }
    if (newSucceededIndexes.length + (uncounted.succeeded?.length ?? 0) + (uncounted.failed?.length ?? 0) >= maxUncountedPods) {
      // Bounded status size, and big Jobs do not starve the others: the rest wait for the next sync.
      reachedMax = true;
      break;
    }
  }
  if (indexed) {
    c.succeededIndexes = withIndexes(c.succeededIndexes, newSucceededIndexes);
    const text = formatIndexes(c.succeededIndexes);
    if (text !== (status.completedIndexes ?? '')) needsFlush = true;
    status.succeeded = intervalsTotal(c.succeededIndexes);
    status.completedIndexes = text;
    const failedText = c.failedIndexes && hasBackoffLimitPerIndex(job) ? formatIndexes(c.failedIndexes) : undefined;
    if (failedText !== status.failedIndexes) {
      status.failedIndexes = failedText;
      needsFlush = true;
    }
  }
  const now = d.now();
  if (c.finishedCondition?.type === 'FailureTarget') {
    (status.conditions ??= []).push(c.finishedCondition);
    needsFlush = true;
    c.finishedCondition = newCondition('Failed', 'True', c.finishedCondition.reason ?? '', c.finishedCondition.message ?? '', now);
  }
  if (c.finishedCondition?.type === 'SuccessCriteriaMet' && c.finishedCondition.status === 'True') {
    if (findCondition(status.conditions, 'SuccessCriteriaMet')?.status !== 'True') {
      (status.conditions ??= []).push(c.finishedCondition);
      needsFlush = true;
    }
    c.finishedCondition = newCondition('Complete', 'True', c.finishedCondition.reason ?? '', c.finishedCondition.message ?? '', now);
  }
  needsFlush = await flushUncountedAndRemoveFinalizers(d, c, toRemove, withFinalizer, needsFlush);
  const finished = !reachedMax && enactJobFinished(c, now);
  if (finished) needsFlush = true;
  if (!needsFlush) return;
  c.job = await writeStatus(d, c.job);
  if (finished) recordJobFinished(d, c.job, c.finishedCondition!);
}

/**
 * The finalizer may go once the Job is being deleted or finishing, the pod succeeded, or it
 * failed — unless, with backoffLimitPerIndex, it is kept to hand its failure count to its
 * replacement.
 */
function canRemoveFinalizer(c: SyncCtx, pod: Pod, failed: boolean): boolean {
  if (c.job.metadata.deletionTimestamp || c.finishedCondition || pod.status?.phase === 'Succeeded') return true;
  if (!failed) return false;
  if (hasBackoffLimitPerIndex(c.job)) {
    const ix = completionIndexOf(pod);
    if (ix !== unknownIndex && c.podsWithDelayedDeletionPerIndex.get(ix)?.metadata.uid === pod.metadata.uid) return false;
  }
  return true;
}

/**
 * Writes new uncounted pods (and interim conditions), removes the finalizers, then moves the
 * pods whose finalizer is gone into the counters; on a removal error writes what progress was
 * made and throws. Returns whether the status still has changes to write.
 */
async function flushUncountedAndRemoveFinalizers(d: JobDeps, c: SyncCtx, toRemove: Pod[], withFinalizer: Set<string>, needsFlush: boolean): Promise<boolean> {
  if (needsFlush) {
    c.job = await writeStatus(d, c.job);
    d.backoff.update(c.key, c.newBackoffRecord);
    needsFlush = false;
  }
  let rmError: unknown;
  if (toRemove.length) {
    d.finalizerExpectations.expectRemoved(c.key, toRemove.map((p) => p.metadata.uid!));
    await forEachLimit(toRemove, podWriteConcurrency, async (pod) => {
      try {
        await removeTrackingFinalizer(d, pod);
      } catch (err) {
        // Not coming: stop expecting it.
        d.finalizerExpectations.observed(c.key, pod.metadata.uid!);
        if (!isNotFound(err)) {
          rmError ??= err;
          return;
        }
      }
      withFinalizer.delete(pod.metadata.uid!);
    });
  }
  if (cleanUncountedPodsWithoutFinalizers(c.job, withFinalizer)) needsFlush = true;
  if (rmError !== undefined) {
    if (needsFlush) c.job = await writeStatus(d, c.job);
    throw rmError;
  }
  return needsFlush;
}

/** Moves uncounted pods no longer carrying the finalizer into the counters; true when something moved. */
function cleanUncountedPodsWithoutFinalizers(job: Job, withFinalizer: ReadonlySet<string>): boolean {
  const status = (job.status ??= {});
  const uncounted = (status.uncountedTerminatedPods ??= {});
  let changed = false;
  const succeeded = (uncounted.succeeded ?? []).filter((u) => withFinalizer.has(u));
  if (succeeded.length !== (uncounted.succeeded?.length ?? 0)) {
    changed = true;
    status.succeeded = (status.succeeded ?? 0) + uncounted.succeeded!.length - succeeded.length;
    uncounted.succeeded = succeeded;
  }
  const failed = (uncounted.failed ?? []).filter((u) => withFinalizer.has(u));
  if (failed.length !== (uncounted.failed?.length ?? 0)) {
    changed = true;
    status.failed = (status.failed ?? 0) + uncounted.failed!.length - failed.length;
    uncounted.failed = failed;
  }
  return changed;
}

/** Adds the terminal condition once nothing is uncounted or terminating; true when it did. */
function enactJobFinished(c: SyncCtx, now: number): boolean {
  const cond = c.finishedCondition;
  if (!cond) return false;
  const status = c.job.status!;
  const uncounted = status.uncountedTerminatedPods;
  if ((uncounted?.succeeded?.length ?? 0) + (uncounted?.failed?.length ?? 0) > 0) return false;
  if (c.terminating > 0) return false;
  status.conditions = ensureConditionStatus(status.conditions, cond.type, cond.status, cond.reason ?? '', cond.message ?? '', now).list;
  if (cond.type === 'Complete') status.completionTime = cond.lastTransitionTime ?? undefined;
  return true;
}

function recordJobFinished(d: JobDeps, job: Job, done: JobCondition): void {
  if (done.type === 'Complete') {
    const completions = job.spec?.completions;
    if (completions !== undefined && completions !== null && (job.status?.succeeded ?? 0) > completions) {
      d.recorder.event(job, 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached');
    }
    d.recorder.event(job, 'Normal', 'Completed', 'Job completed');
  } else {
    d.recorder.event(job, 'Warning', done.reason ?? '', done.message ?? '');
  }
}

/** PUT /status with the working copy (empty uncounted lists and completedIndexes left out, as Go omits them); returns the stored Job. */
async function writeStatus(d: JobDeps, job: Job): Promise<Job> {
  if (job.status?.completedIndexes === '') delete job.status.completedIndexes;
  const u = job.status?.uncountedTerminatedPods;
  if (u) {
    if (!u.succeeded?.length) delete u.succeeded;
    if (!u.failed?.length) delete u.failed;
  }
  const stored = await d.cs.jobs.updateStatus(job, { namespace: job.metadata.namespace });
  // The working copy stays authoritative for what this sync decided; take the new version.
  return { ...stored, status: { ...job.status, ...stored.status, uncountedTerminatedPods: { ...stored.status?.uncountedTerminatedPods } } };
}
