/**
 * The pod-failure backoff of Jobs, as upstream's backoff_utils.go: after n consecutive pod
 * failures (none succeeded since), replacement pods wait base·2^(n-1), capped, counted from the
 * last failure. Per Job, a record of the failures since the last success and when the last one
 * happened, kept in memory while the Job runs (a restarted controller starts from the pods it
 * sees, as upstream's). With backoffLimitPerIndex each index backs off on its own, from the
 * failure count its last failed pod carries.
 *
 * A pod's finish time: the latest finishedAt of its containers when all terminated, else when
 * its Ready condition turned False, else its deletion time less the grace period, else its
 * creation.
 */
import type { Pod } from '../api/index.ts';
import { indexAbsoluteFailureCount } from './job-indexes.ts';

export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  /** ms since the epoch; undefined without failures. */
  lastFailureTime?: number;
}

const parse = (t: string | null | undefined): number | undefined => {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
};

/** When a pod finished (see the file comment), in ms since the epoch. */
export function finishedTime(pod: Pod): number {
  const statuses = pod.status?.containerStatuses ?? [];
  let latest: number | undefined;
  let all = statuses.length > 0;
  for (const s of statuses) {
    const at = parse(s.state?.terminated?.finishedAt);
    if (at === undefined) {
      all = false;
      break;
    }
    if (latest === undefined || at > latest) latest = at;
  }
  if (all && latest !== undefined) return latest;
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const readyFalseAt = ready?.status === 'False' ? parse(ready.lastTransitionTime) : undefined;
  if (readyFalseAt !== undefined) return readyFalseAt;
  const deleted = parse(pod.metadata.deletionTimestamp);
  if (deleted !== undefined) return deleted - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  return parse(pod.metadata.creationTimestamp) ?? 0;
}

const byFinish = (a: Pod, b: Pod) => finishedTime(a) - finishedTime(b);

/** The backoff records of the Jobs being synced, by Job key. */
export class BackoffStore {
  #records = new Map<string, BackoffRecord>();

  /** The record after this sync's newly finished pods (not stored until `update`). */
  newRecord(key: string, newSucceeded: readonly Pod[], newFailed: readonly Pod[]): BackoffRecord {
    const old = this.#records.get(key);
    const rec: BackoffRecord = { failuresAfterLastSuccess: old?.failuresAfterLastSuccess ?? 0, lastFailureTime: old?.lastFailureTime };
    if (!newFailed.length && !newSucceeded.length) return rec;
    const failed = [...newFailed].sort(byFinish);
    if (!newSucceeded.length) {
      rec.failuresAfterLastSuccess += failed.length;
      rec.lastFailureTime = finishedTime(failed.at(-1)!);
      return rec;
    }
    rec.failuresAfterLastSuccess = 0;
    rec.lastFailureTime = undefined;
    const lastSuccess = Math.max(...newSucceeded.map(finishedTime));
    for (let i = failed.length - 1; i >= 0; i--) {
      const t = finishedTime(failed[i]!);
      if (t <= lastSuccess) break;
      rec.lastFailureTime ??= t;
      rec.failuresAfterLastSuccess++;
    }
    return rec;
  }

  update(key: string, rec: BackoffRecord): void {
    this.#records.set(key, { ...rec });
  }

  remove(key: string): void {
    this.#records.delete(key);
  }

  get(key: string): BackoffRecord | undefined {
    return this.#records.get(key);
  }

  get size(): number {
    return this.#records.size;
  }
}

/** ms left before pods may be created again after `failures` consecutive failures, the last at `lastFailure`. */
export function remainingForFailures(now: number, baseMs: number, maxMs: number, failures: number, lastFailure: number | undefined): number {
  if (failures <= 0 || lastFailure === undefined) return 0;
  let delay = baseMs;
  for (let i = 1; i < failures; i++) {
    delay *= 2;
    if (delay >= maxMs) {
      delay = maxMs;
      break;
    }
  }
  const elapsed = now - lastFailure;
  return delay < elapsed ? 0 : delay - elapsed;
}

export function remainingTime(rec: BackoffRecord, now: number, baseMs: number, maxMs: number): number {
  return remainingForFailures(now, baseMs, maxMs, rec.failuresAfterLastSuccess, rec.lastFailureTime);
}

/** ms left before the index of `lastFailedPod` (its latest failed pod) may get a new pod; 0 without one. */
export function remainingTimePerIndex(lastFailedPod: Pod | undefined, now: number, baseMs: number, maxMs: number): number {
  if (!lastFailedPod) return 0;
  return remainingForFailures(now, baseMs, maxMs, indexAbsoluteFailureCount(lastFailedPod) + 1, finishedTime(lastFailedPod));
}
