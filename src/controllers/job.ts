/**
 * The Job controller (upstream pkg/controller/job, 1.33 behaviour): runs each Job's pods to
 * completion — completions and parallelism, NonIndexed and Indexed completion modes,
 * backoffLimit with the pod-failure backoff, backoffLimitPerIndex and maxFailedIndexes, pod
 * failure policies, success policies, activeDeadlineSeconds, suspend and resume,
 * podReplacementPolicy — and keeps its status: active, ready, terminating, succeeded, failed,
 * completedIndexes, failedIndexes, uncountedTerminatedPods, startTime, completionTime and the
 * conditions (Suspended, FailureTarget, Failed, SuccessCriteriaMet, Complete) with upstream's
 * reasons, messages and events. Pods carry the `batch.kubernetes.io/job-tracking` finalizer until
 * counted (job-tracking.ts). The sync itself is job-sync.ts.
 *
 * Wiring, as upstream's: pod events and status-only Job updates sync the Job after a one-second
 * batching delay (so a 1,000-pod Job syncs about once a second, not per pod event), spec
 * changes and new Jobs at once; a changed activeDeadlineSeconds schedules a sync at the new
 * deadline. A second queue removes the tracking finalizer from pods whose Job is gone or
 * finished, or that lost their controller. Expectations: creations are counted as pods appear,
 * deletions per pod (a pod seen terminating, or gone, counts once), finalizer removals per uid.
 * Jobs whose spec.managedBy names another controller are left to it. Workers start once the
 * Job and pod caches have synced.
 */
import type { Job, Pod } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';
import { clientset, IndexNamespace, IndexOwnerUid, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { UIDTrackingExpectations } from './expectations.ts';
import { controllerRef, jsonEqual, keyOf, splitKey, startQueue } from './controller-utils.ts';
import { BackoffStore } from './job-backoff.ts';
import { removeTrackingFinalizer } from './job-pods.ts';
import { IndexControllerUid, controllerUidIndex } from '../client/store.ts';
import { syncJob, type JobDeps } from './job-sync.ts';
import { FinalizerExpectations } from './job-tracking.ts';
import { hasTrackingFinalizer, isJobFinished, managedByExternalController, maxPodFailureBackoffMs, podFailureBackoffMs, syncJobBatchMs } from './job-util.ts';

/** Upstream --concurrent-job-syncs. */
export const jobWorkers = 5;

export interface JobControllerOptions {
  /** The pod-failure backoff's first delay and cap (default upstream's 10 s and 10 min). */
  podFailureBackoffMs?: number;
  maxPodFailureBackoffMs?: number;
  /** Batching delay of pod-triggered syncs (default 1 s). */
  syncBatchMs?: number;
  now?: () => number;
}

/** Starts the Job controller; returns at once. `opts` are for tests (the manager passes none). */
export function startJobController(ctx: ControllerContext, opts: JobControllerOptions = {}): void {
  const jobs = ctx.informers.typedInformerFor(resources.jobs);
  const pods = ctx.informers.typedInformerFor(resources.pods, { indexers: { [IndexControllerUid]: controllerUidIndex } });
  const cs = clientset(ctx.client);
  const batchMs = opts.syncBatchMs ?? syncJobBatchMs;
  const deps: JobDeps = {
    cs,
    recorder: ctx.recorder('job-controller'),
    jobs,
    pods,
    expectations: new UIDTrackingExpectations(),
    finalizerExpectations: new FinalizerExpectations(),
    backoff: new BackoffStore(),
    now: opts.now ?? Date.now,
    enqueueAfter: (key, ms) => queue.addAfter(key, ms),
    podFailureBackoffMs: opts.podFailureBackoffMs ?? podFailureBackoffMs,
    maxPodFailureBackoffMs: opts.maxPodFailureBackoffMs ?? maxPodFailureBackoffMs,
    syncBatchMs: batchMs,
  };
  const queue = startQueue(ctx, (key) => syncJob(deps, key), { name: 'job-controller', workers: jobWorkers, waitFor: [jobs, pods] });
  const orphanQueue = startQueue(ctx, (key) => syncOrphanPod(key), { name: 'job-orphan-pod', workers: 1, waitFor: [jobs, pods] });

  const immediately = (job: Job) => queue.add(keyOf(job));
  const batched = (key: string) => queue.addAfter(key, batchMs);

  // ---- Jobs ----
  jobs.addEventHandler({
    onAdd: immediately,
    onUpdate: (old, cur) => {
      const key = keyOf(cur);
      if (cur.metadata.generation === old.metadata.generation) batched(key);
      else immediately(cur);
      // Finished Jobs keep no finalizers on their pods (a backup of the sync's own removal).
      if (isJobFinished(cur)) cleanupPodFinalizers(cur);
      const start = cur.status?.startTime;
      const deadline = cur.spec?.activeDeadlineSeconds;
      if (start && deadline !== undefined && deadline !== null && deadline !== old.spec?.activeDeadlineSeconds) {
        queue.addAfter(key, deadline * 1000 - (Date.now() - Date.parse(start)));
      }
    },
    onDelete: (job) => {
      immediately(job);
      cleanupPodFinalizers(job);
    },
  });

  /** The Job (from the cache) a controller reference points to, if it is that very Job. */
  const resolve = (namespace: string, pod: Pod, ref = controllerRef(pod)): Job | undefined => {
    if (!ref || ref.kind !== 'Job') return undefined;
    const job = jobs.store.get(`${namespace}/${ref.name}`);
    return job?.metadata.uid === ref.uid ? job : undefined;
  };
  /** Jobs in the pod's namespace whose selector matches it (for orphans that may be adopted). */
  const selecting = (pod: Pod): Job[] =>
    jobs.store.byIndex(IndexNamespace, pod.metadata.namespace ?? '').filter((j) => labelSelectorFromObject(j.spec?.selector ?? null).matches(pod.metadata.labels));
  const orphan = (pod: Pod) => {
    if (hasTrackingFinalizer(pod)) orphanQueue.add(keyOf(pod));
  };

  // ---- pods ----
  const podDeleted = (pod: Pod, final: boolean) => {
    const ns = pod.metadata.namespace ?? '';
    if (!controllerRef(pod)) return orphan(pod);
    const job = resolve(ns, pod);
    if (!job || isJobFinished(job)) return orphan(pod);
    const key = keyOf(job);
    deps.expectations.deletionObserved(key, keyOf(pod));
    if (final || !hasTrackingFinalizer(pod)) deps.finalizerExpectations.observed(key, pod.metadata.uid ?? '');
    batched(key);
  };
  pods.addEventHandler({
    onAdd: (pod) => {
      if (pod.metadata.deletionTimestamp) return podDeleted(pod, false);
      const ns = pod.metadata.namespace ?? '';
      if (controllerRef(pod)) {
        const job = resolve(ns, pod);
        if (!job) return;
        deps.expectations.creationObserved(keyOf(job));
        return batched(keyOf(job));
      }
      orphan(pod);
      for (const j of selecting(pod)) batched(keyOf(j));
    },
    onUpdate: (old, cur) => {
      if (cur.metadata.resourceVersion === old.metadata.resourceVersion) return;
      if (cur.metadata.deletionTimestamp) return podDeleted(cur, false);
      const ns = cur.metadata.namespace ?? '';
      const finalizerRemoved = !hasTrackingFinalizer(cur);
      const curRef = controllerRef(cur);
      const oldRef = controllerRef(old);
      const refChanged = !jsonEqual(curRef ?? null, oldRef ?? null);
      if (refChanged && oldRef) {
        const job = resolve(ns, old, oldRef);
        if (job) {
          if (finalizerRemoved) deps.finalizerExpectations.observed(keyOf(job), cur.metadata.uid ?? '');
          batched(keyOf(job));
        }
      }
      if (curRef) {
        const job = resolve(ns, cur, curRef);
        if (!job) return;
        if (finalizerRemoved) deps.finalizerExpectations.observed(keyOf(job), cur.metadata.uid ?? '');
        return batched(keyOf(job));
      }
      orphan(cur);
      if (refChanged || !jsonEqual(cur.metadata.labels ?? {}, old.metadata.labels ?? {})) for (const j of selecting(cur)) batched(keyOf(j));
    },
    onDelete: (pod) => podDeleted(pod, true),
  });

  /** Queues the Job's pods that still carry the finalizer for its removal. */
  function cleanupPodFinalizers(job: Job): void {
    for (const pod of pods.store.byIndex(IndexOwnerUid, job.metadata.uid ?? '')) {
      if (controllerRef(pod)?.uid === job.metadata.uid && hasTrackingFinalizer(pod)) orphanQueue.add(keyOf(pod));
    }
  }

  /** Removes the tracking finalizer of a pod no unfinished Job of ours controls (upstream syncOrphanPod). */
  async function syncOrphanPod(key: string): Promise<void> {
    const pod = pods.store.get(key);
    if (!pod) return;
    const ref = controllerRef(pod);
    if (ref) {
      // Owned by something other than a batch/v1 Job: not ours to touch.
      if (ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return;
      const job = resolve(splitKey(key).namespace, pod, ref);
      if (job && managedByExternalController(job)) return;
      if (job && !isJobFinished(job)) return; // adopted meanwhile
    }
    try {
      await removeTrackingFinalizer(deps, pod);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
