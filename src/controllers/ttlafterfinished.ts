/**
 * The TTL-after-finished controller (upstream pkg/controller/ttlafterfinished): deletes a Job
 * `spec.ttlSecondsAfterFinished` seconds after it finished (the lastTransitionTime of its
 * Complete or Failed condition). A Job whose time has not come is looked at again when it will
 * have; before deleting, the Job is read again from the API server and the check repeated on that
 * fresh copy (the TTL may have been changed or removed meanwhile), and the delete is
 * preconditioned on its uid with foreground propagation, so its pods go before it does.
 * Jobs being deleted, unfinished, or without a TTL are left alone.
 */
import type { Job } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { keyOf, splitKey, startQueue } from './controller-utils.ts';

/** Upstream --concurrent-ttl-after-finished-syncs. */
export const ttlWorkers = 5;

/** When the Job finished (ms since the epoch), or undefined when it has not (or the time is missing). */
export function jobFinishTime(job: Job): number | undefined {
  for (const c of job.status?.conditions ?? []) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') {
      const t = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
      return Number.isNaN(t) ? undefined : t;
    }
  }
  return undefined;
}

/** Finished, with a TTL, and not being deleted. */
export function needsCleanup(job: Job): boolean {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  return ttl !== undefined && ttl !== null && !job.metadata.deletionTimestamp && jobFinishTime(job) !== undefined;
}

/** ms until the Job's TTL expires at `now` (≤ 0: expired); undefined when it needs no clean-up. */
export function timeLeft(job: Job, now: number): number | undefined {
  if (!needsCleanup(job)) return undefined;
  return jobFinishTime(job)! + job.spec!.ttlSecondsAfterFinished! * 1000 - now;
}

export interface TTLAfterFinishedOptions {
  now?: () => number;
}

/** Starts the controller; returns at once. */
export function startTTLAfterFinishedController(ctx: ControllerContext, opts: TTLAfterFinishedOptions = {}): void {
  const jobs = ctx.informers.typedInformerFor(resources.jobs);
  const cs = clientset(ctx.client);
  const now = opts.now ?? Date.now;
  const queue = startQueue(ctx, (key) => processJob(key), { name: 'ttl-after-finished-controller', workers: ttlWorkers, waitFor: [jobs] });
  const enqueue = (job: Job) => {
    if (needsCleanup(job)) queue.add(keyOf(job));
  };
  jobs.addEventHandler({ onAdd: enqueue, onUpdate: (_old, cur) => enqueue(cur) });

  /** True when the TTL has expired; otherwise schedules a look when it will. */
  const expired = (job: Job): boolean => {
    const left = timeLeft(job, now());
    if (left === undefined) return false;
    if (left <= 0) return true;
    queue.addAfter(keyOf(job), left);
    return false;
  };

  async function processJob(key: string): Promise<void> {
    const cached = jobs.store.get(key);
    if (!cached || !expired(cached)) return;
    const { namespace, name } = splitKey(key);
    let fresh: Job;
    try {
      fresh = await cs.jobs.get(name, { namespace });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!expired(fresh)) return;
    ctx.log(`ttl-after-finished-controller: deleting job ${key}`);
    try {
      await cs.jobs.delete(name, { namespace, propagationPolicy: 'Foreground', preconditions: { uid: fresh.metadata.uid } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
