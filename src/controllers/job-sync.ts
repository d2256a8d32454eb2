/**
 * One sync of a Job, as upstream's syncJob and manageJob (1.33): count the pods finished since
 * the last sync, decide whether the Job has failed (pod failure policy FailJob, backoffLimit —
 * also restarts of OnFailure pods —, activeDeadlineSeconds, backoffLimitPerIndex and
 * maxFailedIndexes) or met its success criteria (completions, success policy), then either
 * delete the active pods of a finished Job or bring the active pods to what parallelism and the
 * remaining completions want (suspended: none), creating at most maxPodCreateDeletePerSync per
 * sync in slow-start batches after the pod-failure backoff (job-manage.ts), and finally account
 * for finished pods and write the status (job-tracking.ts). What it reads off the pods is in
 * job-counting.ts.
 *
 * Expectations: the Job is not managed while its own creates and deletes are not all seen in
 * the cache (and a finished Job is not declared so), so pods are never created twice. A Job
 * managed by another controller (spec.managedBy) or already finished is left alone. Errors of
 * pod writes are thrown after the status was written, so the queue retries with backoff.
 * Deviation: while pod creation waits out the failure backoff, status.active keeps counting the
 * running pods (upstream reports 0 until the next sync).
 */
import type { Job, JobCondition, Pod } from '../api/index.ts';
import type { Clientset, Indexer, Recorder } from '../client/index.ts';
import type { UIDTrackingExpectations } from './expectations.ts';
import { isPodActive, nowRfc3339 } from './controller-utils.ts';
import type { BackoffRecord, BackoffStore } from './job-backoff.ts';
import { countablePods, failJobMessage, isIndexFailed, nonIgnoredFailedCount, pastActiveDeadline, pastBackoffLimitOnFailure, podsWithDelayedDeletionPerIndex, successCriteriaMet, validIndex } from './job-counting.ts';
import { indexesOf, intervalsTotal, parseIndexes, withIndexes, type Interval } from './job-indexes.ts';
import { manageJob } from './job-manage.ts';
import { matchSuccessPolicy } from './job-policy.ts';
import { claimPods, deletePods } from './job-pods.ts';
import { trackJobStatusAndRemoveFinalizers, type FinalizerExpectations } from './job-tracking.ts';
import {
  countReady,
  ensureConditionStatus,
  findCondition,
  hasBackoffLimitPerIndex,
  hasTrackingFinalizer,
  isIndexed,
  isJobFinished,
  isPodFailed,
  isPodTerminating,
  isSuspended,
  managedByExternalController,
  messages,
  newCondition,
  reasons,
} from './job-util.ts';

/** What a sync works with: the caches, the client, the bookkeeping and the tunables. */
export interface JobDeps {
  cs: Clientset;
  recorder: Recorder;
  jobs: { readonly store: Indexer<Job> };
  pods: { readonly store: Indexer<Pod> };
  expectations: UIDTrackingExpectations;
  finalizerExpectations: FinalizerExpectations;
  backoff: BackoffStore;
  now(): number;
  /** Syncs the Job again in `ms` (an earlier pending sync stays). */
  enqueueAfter(key: string, ms: number): void;
  podFailureBackoffMs: number;
  maxPodFailureBackoffMs: number;
  syncBatchMs: number;
}

/** The state of one sync (upstream syncJobCtx). */
export interface SyncCtx {
  key: string;
  /** The working copy: its status is what gets written. */
  job: Job;
  pods: Pod[];
  activePods: Pod[];
  finishedCondition?: JobCondition;
  succeeded: number;
  failed: number;
  prevSucceededIndexes: Interval[];
  succeededIndexes: Interval[];
  /** Only with backoffLimitPerIndex. */
  failedIndexes?: Interval[];
  newBackoffRecord: BackoffRecord;
  /** Pods whose finalizer removal was requested but is not yet seen in the cache. */
  expectedRmFinalizers: ReadonlySet<string>;
  uncounted: { succeeded: Set<string>; failed: Set<string> };
  /** With backoffLimitPerIndex: per index, the failed pod kept until its replacement exists. */
  podsWithDelayedDeletionPerIndex: Map<number, Pod>;
  terminating: number;
  ready: number;
}

/** Syncs the Job of `key` (see the file comment). Never called twice at once for one key. */
export async function syncJob(d: JobDeps, key: string): Promise<void> {
  const shared = d.jobs.store.get(key);
  if (!shared) {
    d.expectations.delete(key);
    d.finalizerExpectations.delete(key);
    d.backoff.remove(key);
    return;
  }
  if (managedByExternalController(shared)) return;
  if (isJobFinished(shared)) {
    d.backoff.remove(key);
    return;
  }
  const mode = shared.spec?.completionMode;
  if (mode && mode !== 'NonIndexed' && mode !== 'Indexed') {
    d.recorder.event(shared, 'Warning', 'UnknownCompletionMode', 'Skipped Job sync because completion mode is unknown');
    return;
  }
  const job = structuredClone(shared);
  const status = (job.status ??= {});
  status.uncountedTerminatedPods ??= {};
  // Before reading the pods: a pod that shows up after this check defers the Job to the next sync.
  const satisfied = d.expectations.satisfied(key);
  const pods = await claimPods(d, job);
  const activePods = pods.filter(isPodActive);
  const c: SyncCtx = {
    key,
    job,
    pods,
    activePods,
    succeeded: 0,
    failed: 0,
    prevSucceededIndexes: [],
    succeededIndexes: [],
    newBackoffRecord: { failuresAfterLastSuccess: 0 },
    expectedRmFinalizers: d.finalizerExpectations.expected(key),
    uncounted: { succeeded: new Set(status.uncountedTerminatedPods.succeeded ?? []), failed: new Set(status.uncountedTerminatedPods.failed ?? []) },
    podsWithDelayedDeletionPerIndex: new Map(),
    terminating: pods.filter(isPodTerminating).length,
    ready: countReady(activePods),
  };
  let active = activePods.length;
  const newSucceeded = countablePods(c, c.uncounted.succeeded, (p) => p.status?.phase === 'Succeeded');
  const newFailed = countablePods(c, c.uncounted.failed, (p) => isPodFailed(p, job));
  c.succeeded = (status.succeeded ?? 0) + newSucceeded.length + c.uncounted.succeeded.size;
  c.failed = (status.failed ?? 0) + nonIgnoredFailedCount(job, newFailed) + c.uncounted.failed.size;
  const now = d.now();
  if (!status.startTime && !isSuspended(job)) status.startTime = nowRfc3339(now);
  c.newBackoffRecord = d.backoff.newRecord(key, newSucceeded, newFailed);

  const backoffLimit = job.spec?.backoffLimit ?? 6;
  c.finishedCondition = successCriteriaMet(job);
  // Once the success criteria are met, the pod failure policy is no longer looked at.
  if (!c.finishedCondition) {
    const target = findCondition(status.conditions, 'FailureTarget');
    if (target?.status === 'True') c.finishedCondition = newCondition('Failed', 'True', target.reason ?? '', target.message ?? '', now);
    else {
      const msg = failJobMessage(job, pods);
      if (msg !== undefined) c.finishedCondition = newCondition('FailureTarget', 'True', reasons.podFailurePolicy, msg, now);
    }
  }
  if (!c.finishedCondition) {
    const deadline = job.spec?.activeDeadlineSeconds;
    if (c.failed > backoffLimit || pastBackoffLimitOnFailure(job, pods)) {
      c.finishedCondition = newCondition('FailureTarget', 'True', reasons.backoffLimitExceeded, messages.backoffLimitExceeded, now);
    } else if (pastActiveDeadline(job, now)) {
      c.finishedCondition = newCondition('FailureTarget', 'True', reasons.deadlineExceeded, messages.deadlineExceeded, now);
    } else if (deadline !== undefined && deadline !== null && !isSuspended(job)) {
      d.enqueueAfter(key, deadline * 1000 - (now - Date.parse(status.startTime!)));
    }
  }
  if (isIndexed(job)) {
    const completions = job.spec?.completions ?? 0;
    c.prevSucceededIndexes = parseIndexes(status.completedIndexes, completions);
    c.succeededIndexes = withIndexes(c.prevSucceededIndexes, indexesOf(pods.filter((p) => p.status?.phase === 'Succeeded' && validIndex(p, completions) && hasTrackingFinalizer(p))));
    c.succeeded = intervalsTotal(c.succeededIndexes);
    if (hasBackoffLimitPerIndex(job)) {
      c.failedIndexes = withIndexes(
        parseIndexes(status.failedIndexes, completions),
        indexesOf(pods.filter((p) => validIndex(p, completions) && hasTrackingFinalizer(p) && isIndexFailed(job, p))),
      );
      if (!c.finishedCondition) {
        const max = job.spec?.maxFailedIndexes;
        const failedTotal = intervalsTotal(c.failedIndexes);
        if (max !== undefined && max !== null && failedTotal > max) {
          c.finishedCondition = newCondition('FailureTarget', 'True', reasons.maxFailedIndexesExceeded, messages.maxFailedIndexesExceeded, now);
        } else if (failedTotal > 0 && failedTotal + intervalsTotal(c.succeededIndexes) >= completions) {
          c.finishedCondition = newCondition('FailureTarget', 'True', reasons.failedIndexes, messages.failedIndexes, now);
        }
      }
      c.podsWithDelayedDeletionPerIndex = podsWithDelayedDeletionPerIndex(c);
    }
    if (!c.finishedCondition) {
      const msg = matchSuccessPolicy(job.spec?.successPolicy, completions, c.succeededIndexes);
      if (msg !== undefined) c.finishedCondition = newCondition('SuccessCriteriaMet', 'True', reasons.successPolicy, msg, now);
    }
  }

  let manageError: unknown;
  let suspendChanged = false;
  if (c.finishedCondition) {
    // A finished Job's pods go; it is declared finished only once they are all gone from the count.
    const r = await deletePods(d, job, c.activePods);
    if (r.deleted !== active || !satisfied) c.finishedCondition = undefined;
    active -= r.deleted;
    c.terminating += r.deleted;
    c.ready -= r.deletedReady;
    manageError = r.error;
  } else {
    let managed = false;
    if (satisfied && !job.metadata.deletionTimestamp) {
      const r = await manageJob(d, c);
      active = r.active;
      manageError = r.error;
      managed = true;
    }
    const completions = job.spec?.completions;
    const complete = completions === undefined || completions === null ? c.succeeded > 0 && active === 0 : c.succeeded >= completions && active === 0;
    if (complete) {
      c.finishedCondition = newCondition('SuccessCriteriaMet', 'True', reasons.completionsReached, messages.completionsReached, now);
    } else if (managed) {
      // Conditions and events change only in a sync that managed the pods.
      if (isSuspended(job)) {
        const r = ensureConditionStatus(status.conditions, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now);
        status.conditions = r.list;
        if (r.changed) {
          suspendChanged = true;
          d.recorder.event(job, 'Normal', 'Suspended', 'Job suspended');
        }
      } else {
        const r = ensureConditionStatus(status.conditions, 'Suspended', 'False', 'JobResumed', 'Job resumed', now);
        status.conditions = r.list;
        if (r.changed) {
          suspendChanged = true;
          d.recorder.event(job, 'Normal', 'Resumed', 'Job resumed');
          // activeDeadlineSeconds counts the time the Job is continuously active.
          status.startTime = nowRfc3339(now);
        }
      }
    }
  }
  if (!status.conditions?.length) delete status.conditions;

  const needsStatusUpdate = suspendChanged || active !== (status.active ?? 0) || c.ready !== status.ready || c.terminating !== status.terminating;
  status.active = active;
  status.ready = c.ready;
  status.terminating = c.terminating;
  await trackJobStatusAndRemoveFinalizers(d, c, needsStatusUpdate);
  if (manageError !== undefined) throw manageError;
}
