/**
 * The CronJob controller (upstream's cronjob-controller, ControllerV2): informers on CronJobs
 * and Jobs, a delaying work queue keyed by CronJob, and a reconcile (cronjob-sync.ts) that starts
 * the Job due at each scheduled time, applies the concurrency policy, the starting deadline and
 * the history limits, and keeps status.active, lastScheduleTime and lastSuccessfulTime.
 *
 * No CronJob is polled: each sync asks to be requeued just after its next activation (the queue
 * keeps one pending time per CronJob, the earliest), a Job event wakes the CronJob controlling
 * it, and a change of schedule or time zone moves the wake-up to the new next activation (an
 * unparseable new schedule gets an UnParseableCronJobSchedule warning and no wake-up). A
 * CronJob's Jobs are found through an index of their controller reference: those whose controller
 * is a CronJob of its name (upstream matches the name alone, any kind; the uid is not compared,
 * so Jobs left by an earlier CronJob of the same name are reported and cleaned up as upstream).
 *
 * Time comes from an injectable clock (the queue's delays too), and schedules without a time zone
 * run in the process's zone (upstream: the controller manager's), both overridable for tests.
 * Status is written with an update of the status subresource, as upstream; a conflict retries
 * through the queue's rate limiter. Five workers, as upstream's --concurrent-cron-job-syncs.
 * Departure: requeue delays are capped at Node's timer limit (`maxRequeueMs`, ~24.8 days), where
 * upstream's Go timers have none; a yearly CronJob therefore wakes once in between, to no effect.
 */
import type { CronJob, Job } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { parseSchedule } from '../api/groups/cron.ts';
import { localZoneName } from '../api/groups/cron-zone.ts';
import { WorkQueue, clientset, realClock, resources, runWorkers, waitForCacheSync, type Clock, type ReconcileResult } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { controllerRef, keyOf, splitKey } from './controller-utils.ts';
import { cleanupFinishedJobs, formatSchedule, syncCronJob, type JobControl, type SyncDeps } from './cronjob-sync.ts';
import { nextScheduleTimeDuration } from './cronjob-utils.ts';

/** Upstream's --concurrent-cron-job-syncs default. */
export const cronJobWorkers = 5;

const component = 'cronjob-controller';
/**
 * Longest requeue delay: a timer longer than this (about 24.8 days, Node's setTimeout limit)
 * would fire at once. A CronJob whose next activation is further away wakes up after this long,
 * finds nothing due and sleeps again.
 */
export const maxRequeueMs = 2 ** 31 - 1;

const requeueDelay = (ms: number): number => Math.min(maxRequeueMs, Math.max(1, ms));

/** Job index: `<namespace>/<name>` of the CronJob named as the Job's controller. */
const indexByCronJob = 'cronjob-controller/by-cronjob';

export interface CronJobControllerOptions {
  /** Default: the system clock. */
  clock?: Clock;
  /** The zone of schedules without spec.timeZone; default the process's zone (TZ). */
  localZone?: string;
}

function cronJobOwnerKeys(job: Job): string[] {
  const ref = controllerRef(job);
  return ref?.kind === 'CronJob' ? [`${job.metadata.namespace ?? ''}/${ref.name}`] : [];
}

export function startCronJobController(ctx: ControllerContext, opts: CronJobControllerOptions = {}): void {
  const clock = opts.clock ?? realClock;
  const localZone = opts.localZone ?? localZoneName();
  const cronJobs = ctx.informers.typedInformerFor(resources.cronJobs);
  const jobs = ctx.informers.typedInformerFor(resources.jobs, { indexers: { [indexByCronJob]: cronJobOwnerKeys } });
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder(component);
  const log = (m: string) => ctx.log(`${component}: ${m}`);
  const queue = new WorkQueue<string>({ name: 'cronjob', clock });

  const control: JobControl = {
    getJob: (namespace, name) => cs.jobs.get(name, { namespace }),
    createJob: (namespace, job) => cs.jobs.create(job, { namespace }),
    async deleteJob(namespace, name) {
      await cs.jobs.delete(name, { namespace, propagationPolicy: 'Background' });
    },
    getCronJob: (namespace, name) => cs.cronJobs.get(name, { namespace }),
  };

  /** The cached CronJob a Job's controller reference names (same uid), if any. */
  const resolve = (job: Job): CronJob | undefined => {
    const ref = controllerRef(job);
    if (ref?.kind !== 'CronJob') return undefined;
    const cj = cronJobs.store.get(`${job.metadata.namespace}/${ref.name}`);
    return cj?.metadata.uid === ref.uid ? cj : undefined;
  };
  const wakeOwner = (job: Job) => {
    const cj = resolve(job);
    if (cj) queue.add(keyOf(cj));
  };

  cronJobs.addEventHandler({
    onAdd: (cj) => queue.add(keyOf(cj)),
    onUpdate: (old, cj) => {
      if (old.spec?.schedule === cj.spec?.schedule && (old.spec?.timeZone ?? null) === (cj.spec?.timeZone ?? null)) {
        queue.add(keyOf(cj));
        return;
      }
      // A new schedule: wake up at its next activation (a sooner one replaces the pending one).
      let schedule;
      try {
        schedule = parseSchedule(formatSchedule(cj));
      } catch {
        recorder.event(cj, 'Warning', 'UnParseableCronJobSchedule', `unparseable schedule for cronjob: ${cj.spec?.schedule}`);
        return;
      }
      queue.addAfter(keyOf(cj), requeueDelay(nextScheduleTimeDuration(cj, clock.now(), schedule, localZone)));
    },
    onDelete: (cj) => queue.add(keyOf(cj)),
  });
  jobs.addEventHandler({
    onAdd: wakeOwner,
    onUpdate: (old, job) => {
      if (old.metadata.resourceVersion === job.metadata.resourceVersion) return;
      const oldRef = controllerRef(old);
      const ref = controllerRef(job);
      if (oldRef && (oldRef.uid !== ref?.uid || oldRef.name !== ref?.name || oldRef.kind !== ref?.kind)) wakeOwner(old);
      wakeOwner(job);
    },
    onDelete: wakeOwner,
  });

  async function sync(key: string): Promise<ReconcileResult | void> {
    const cached = cronJobs.store.get(key);
    if (!cached) return;
    const owned = jobs.store.byIndex(indexByCronJob, key);
    const cj = structuredClone(cached);
    cj.apiVersion ??= 'batch/v1';
    cj.kind ??= 'CronJob';
    const deps: SyncDeps = { control, recorder, now: clock.now(), localZone, log };
    const cleaned = await cleanupFinishedJobs(cj, owned, deps);
    const r = await syncCronJob(cj, owned, deps);
    if (r.error !== undefined) log(`error reconciling cronjob ${key}: ${r.error instanceof Error ? r.error.message : String(r.error)}`);
    if (cleaned || r.updateStatus) {
      try {
        await cs.cronJobs.updateStatus(r.cronJob, { namespace: splitKey(key).namespace });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
    }
    // As upstream: a requeue time wins over an error; an error alone retries with backoff.
    if (r.requeueAfter !== undefined) return { requeueAfter: requeueDelay(r.requeueAfter) };
    if (r.error !== undefined) throw r.error;
  }

  void (async () => {
    if (!(await waitForCacheSync(ctx.signal, cronJobs, jobs))) {
      queue.shutDown();
      return;
    }
    log('caches synced');
    await runWorkers(queue, cronJobWorkers, sync, { signal: ctx.signal, log });
  })().catch((err: unknown) => log(`workers stopped: ${err instanceof Error ? err.message : String(err)}`));
}
