/**
 * The pod-count side of a Job sync, as upstream's manageJob: a suspended Job's active pods are
 * deleted; otherwise the active pods are brought to what parallelism and the remaining
 * completions want — extra pods (and, for Indexed Jobs, pods of repeated, unknown or
 * out-of-range indexes) deleted first, least valuable first; missing ones created after the
 * pod-failure backoff (per index with backoffLimitPerIndex), at most maxPodCreateDeletePerSync a
 * sync, in slow-start batches, Indexed Jobs taking the lowest free indexes. Deletions and
 * creations are announced to the expectations first, and every one that will not be observed
 * (failed, never attempted) is taken back.
 */
import type { Pod } from '../api/index.ts';
import { slowStartBatch, slowStartInitialBatchSize } from './expectations.ts';
import { keyOf } from './controller-utils.ts';
import { remainingTime, remainingTimePerIndex } from './job-backoff.ts';
import { activePodsForRemoval, firstPendingIndexes, indexesOf, mergeIntervals, withIndexes, type Interval } from './job-indexes.ts';
import { createPod, deletePods, isNamespaceTerminating, podTemplateFor } from './job-pods.ts';
import type { JobDeps, SyncCtx } from './job-sync.ts';
import { hasBackoffLimitPerIndex, isIndexed, isPodTerminating, isSuspended, maxPodCreateDeletePerSync, onlyReplaceFailedPods } from './job-util.ts';

/**
 * Brings the active pods toward what the Job wants (upstream manageJob); returns the new active
 * count and the first error. Deletions (a suspended Job's pods, extra pods, repeated indexes)
 * take precedence over creations within one sync.
 */
export async function manageJob(d: JobDeps, c: SyncCtx): Promise<{ active: number; error?: unknown }> {
  const { job, key } = c;
  let active = c.activePods.length;
  const parallelism = job.spec?.parallelism ?? 1;
  if (isSuspended(job)) {
    const victims = activePodsForRemoval(job, c.activePods, active);
    return deleteForManage(d, c, victims, active);
  }
  const completions = job.spec?.completions;
  let wantActive: number;
  if (completions === undefined || completions === null) wantActive = c.succeeded > 0 ? active : parallelism;
  else wantActive = Math.max(0, Math.min(completions - c.succeeded, parallelism));
  const victims = activePodsForRemoval(job, c.activePods, Math.max(0, active - wantActive)).slice(0, maxPodCreateDeletePerSync);
  if (victims.length) return deleteForManage(d, c, victims, active);

  const terminating = onlyReplaceFailedPods(job) ? c.terminating : 0;
  let diff = wantActive - terminating - active;
  if (diff <= 0) return { active };
  const now = d.now();
  if (!hasBackoffLimitPerIndex(job)) {
    const wait = remainingTime(c.newBackoffRecord, now, d.podFailureBackoffMs, d.maxPodFailureBackoffMs);
    if (wait > 0) {
      d.enqueueAfter(key, Math.max(wait, d.syncBatchMs));
      return { active };
    }
  }
  diff = Math.min(diff, maxPodCreateDeletePerSync);
  let indexes: number[] | undefined;
  if (isIndexed(job)) {
    indexes = firstPendingIndexes(nonPendingIndexes(c), diff, completions ?? 0);
    if (hasBackoffLimitPerIndex(job)) {
      const ready: number[] = [];
      let wait = Infinity;
      for (const ix of indexes) {
        const left = remainingTimePerIndex(c.podsWithDelayedDeletionPerIndex.get(ix), now, d.podFailureBackoffMs, d.maxPodFailureBackoffMs);
        if (left === 0) ready.push(ix);
        else wait = Math.min(wait, left);
      }
      if (!ready.length && wait !== Infinity) {
        d.enqueueAfter(key, Math.max(wait, d.syncBatchMs));
        return { active };
      }
      indexes = ready;
    }
    diff = indexes.length;
    if (!diff) return { active };
  }
  d.expectations.expectCreations(key, diff);
  const template = podTemplateFor(job);
  let next = 0;
  const { successes, error } = await slowStartBatch(diff, slowStartInitialBatchSize, () => {
    const index = indexes?.[next++];
    return createPod(d, job, template, { index, replaces: index === undefined ? undefined : c.podsWithDelayedDeletionPerIndex.get(index) });
  });
  // Failed and never-attempted creates will not be observed.
  for (let i = successes; i < diff; i++) d.expectations.creationObserved(key);
  active += successes;
  return { active, error: error === undefined || isNamespaceTerminating(error) ? undefined : error };
}

async function deleteForManage(d: JobDeps, c: SyncCtx, victims: Pod[], active: number): Promise<{ active: number; error?: unknown }> {
  d.expectations.expectDeletions(c.key, victims.map(keyOf));
  const r = await deletePods(d, c.job, victims, { key: c.key, withExpectations: true });
  c.terminating += r.deleted;
  c.ready -= r.deletedReady;
  return { active: active - r.deleted, error: r.error };
}

/** Indexes that must not get a new pod: succeeded, active, failed for good, and (Failed replacement) terminating. */
function nonPendingIndexes(c: SyncCtx): Interval[] {
  let out = withIndexes(c.succeededIndexes, indexesOf(c.activePods));
  if (onlyReplaceFailedPods(c.job)) out = withIndexes(out, indexesOf(c.pods.filter(isPodTerminating)));
  if (c.failedIndexes) out = mergeIntervals(out, c.failedIndexes);
  return out;
}

