/**
 * The CronJob controller against the in-process API server (temporary SQLite store), with no Job
 * controller: the test completes Jobs itself through the status subresource. Time is a jump
 * clock: real time plus an offset the test moves forward, firing the controller's pending
 * requeues at once, so a minute boundary is crossed without waiting for it (the API server still
 * stamps creation times in real time, so every expectation is computed from them). Events are
 * captured from the controller's recorder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CronJob, Job } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { InformerFactory, type Clock, type Clientset, type Recorder, type RestClient, type TimerHandle } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { startCronJobController } from './cronjob.ts';
import { scheduledTimestampAnnotation } from './cronjob-utils.ts';
import { startTestApi, until, type TestApi } from './testing.ts';

/** Real time plus an offset that only grows; `jumpTo` fires every timer that falls due. */
class JumpClock implements Clock {
  #offset = 0;
  #timers = new Map<number, { at: number; fn: () => void; handle: ReturnType<typeof setTimeout> }>();
  #next = 1;

  now(): number {
    return Date.now() + this.#offset;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#next++;
    const delay = Math.max(0, ms);
    const handle = setTimeout(() => {
      this.#timers.delete(id);
      fn();
    }, Math.min(delay, 2 ** 31 - 1));
    this.#timers.set(id, { at: this.now() + delay, fn, handle });
    return { id };
  }

  clearTimeout(h: TimerHandle): void {
    const id = (h as { id: number }).id;
    const t = this.#timers.get(id);
    if (t) clearTimeout(t.handle);
    this.#timers.delete(id);
  }

  jumpTo(ms: number): void {
    if (ms > this.now()) this.#offset += ms - this.now();
    const now = this.now();
    for (const [id, t] of [...this.#timers]) {
      if (t.at > now) continue;
      clearTimeout(t.handle);
      this.#timers.delete(id);
      t.fn();
    }
  }
}

const ns = 'cron';
const minute = 60_000;
/** The first minute boundary strictly after `ms`. */
const minuteAfter = (ms: number) => Math.floor(ms / minute) * minute + minute;
const rfc = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

let testApi: TestApi | undefined;
let client: RestClient;
let cs: Clientset;
const clock = new JumpClock();
const events: { object: string; type: string; reason: string; message: string }[] = [];
const ac = new AbortController();
let informers: InformerFactory;

before(async () => {
  testApi = await startTestApi('cronjob-test');
  ({ client, cs } = testApi);
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  informers = new InformerFactory(client, { log: () => {} });
  const recorder: Recorder = {
    event: (o, type, reason, message) => events.push({ object: ('metadata' in o && o.metadata ? o.metadata.name : (o as { name?: string }).name) ?? '', type, reason, message }),
  };
  const ctx: ControllerContext = { client, config: defaultControllerConfig, informers, recorder: () => recorder, signal: ac.signal, log: () => {} };
  startCronJobController(ctx, { clock, localZone: 'UTC' });
  informers.start(ac.signal);
});
after(async () => {
  ac.abort();
  await informers?.stopped();
  await testApi?.close();
});

async function newCronJob(name: string, spec: Partial<NonNullable<CronJob['spec']>> = {}): Promise<{ cj: CronJob; first: number }> {
  const cj = await cs.cronJobs.create(
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name, namespace: ns },
      spec: {
        schedule: '* * * * *',
        ...spec,
        jobTemplate: {
          metadata: { labels: { app: name }, annotations: { note: 'from-template' } },
          spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox' }] } } },
        },
      },
    },
    { namespace: ns },
  );
  return { cj, first: minuteAfter(Date.parse(cj.metadata.creationTimestamp!)) };
}

const jobNameAt = (cronJob: string, at: number) => `${cronJob}-${at / minute}`;

/**
 * Creates an every-minute (by default) CronJob at the start of a fresh virtual minute (so ~59 s
 * of real time pass before the next boundary) and moves the clock to just after its first due
 * minute: the latest boundary when one has passed since its creation, else the next one.
 */
async function startCronJob(name: string, spec: Partial<NonNullable<CronJob['spec']>> = {}): Promise<{ cj: CronJob; at: number }> {
  clock.jumpTo(minuteAfter(clock.now()) + 1000);
  const { cj, first } = await newCronJob(name, spec);
  const at = first <= clock.now() ? Math.floor(clock.now() / minute) * minute : first;
  clock.jumpTo(at + 1000);
  return { cj, at };
}

async function getJob(name: string): Promise<Job | undefined> {
  try {
    return await cs.jobs.get(name, { namespace: ns });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const jobAppears = (name: string) => until(`job ${name}`, () => getJob(name));
const jobGone = (name: string) => until(`job ${name} gone`, async () => ((await getJob(name)) ? undefined : true));
const jobsOf = async (cronJob: string) => (await cs.jobs.list({ namespace: ns })).items.filter((j) => j.metadata.ownerReferences?.some((r) => r.kind === 'CronJob' && r.name === cronJob));
const cronStatus = (name: string, ok: (cj: CronJob) => boolean) =>
  until(`cronjob ${name} status`, async () => {
    const cj = await cs.cronJobs.get(name, { namespace: ns });
    return ok(cj) ? cj : undefined;
  });
const eventSeen = (object: string, reason: string) => until(`${reason} on ${object}`, async () => events.find((e) => e.object === object && e.reason === reason));

/** Marks a job finished as a Job controller would (start, completion, conditions). */
async function finish(name: string, start: number, type: 'Complete' | 'Failed' = 'Complete'): Promise<Job> {
  const job = (await getJob(name))!;
  const done = rfc(start + 30_000);
  const conditions = type === 'Complete'
    ? [{ type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: done }, { type: 'Complete', status: 'True', lastTransitionTime: done }]
    : [{ type: 'FailureTarget', status: 'True', lastTransitionTime: done }, { type: 'Failed', status: 'True', lastTransitionTime: done }];
  return cs.jobs.updateStatus(
    { ...job, status: { startTime: rfc(start), ...(type === 'Complete' ? { completionTime: done, succeeded: 1 } : { failed: 1 }), conditions } },
    { namespace: ns },
  );
}

describe('cronjob controller', () => {
  let first = 0;

  test('an every-minute CronJob starts the Job of the minute that fell due, named after it', async () => {
    const made = await startCronJob('every', { successfulJobsHistoryLimit: 1 });
    first = made.at;
    const job = await jobAppears(jobNameAt('every', first));
    assert.deepEqual(job.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'every', uid: made.cj.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(job.metadata.annotations?.[scheduledTimestampAnnotation], rfc(first));
    assert.equal(job.metadata.annotations?.['note'], 'from-template');
    assert.equal(job.metadata.labels?.['app'], 'every');
    assert.deepEqual(job.spec?.template.spec?.containers.map((c) => c.image), ['busybox']);
    const cj = await cronStatus('every', (c) => c.status?.active?.length === 1);
    assert.equal(cj.status?.lastScheduleTime, rfc(first));
    assert.deepEqual(cj.status?.active?.map((a) => [a.kind, a.name, a.uid]), [['Job', job.metadata.name, job.metadata.uid]]);
    const created = await eventSeen('every', 'SuccessfulCreate');
    assert.equal(created.message, `Created job ${job.metadata.name}`);
    assert.equal((await jobsOf('every')).length, 1);
  });

  test('a completed Job leaves the active list and sets lastSuccessfulTime', async () => {
    const name = jobNameAt('every', first);
    const done = await finish(name, first);
    const cj = await cronStatus('every', (c) => (c.status?.active ?? []).length === 0 && c.status?.lastSuccessfulTime !== undefined);
    assert.equal(cj.status?.lastSuccessfulTime, done.status?.completionTime);
    assert.equal((await eventSeen('every', 'SawCompletedJob')).message, `Saw completed job: ${name}, condition: Complete`);
  });

  test('the next minute starts the next Job; with successfulJobsHistoryLimit 1 the older one goes once the newer completes', async () => {
    const second = first + minute;
    clock.jumpTo(second + 1000);
    await jobAppears(jobNameAt('every', second));
    await finish(jobNameAt('every', second), second);
    await jobGone(jobNameAt('every', first));
    assert.equal((await eventSeen('every', 'SuccessfulDelete')).message, `Deleted job ${jobNameAt('every', first)}`);
    assert.deepEqual((await jobsOf('every')).map((j) => j.metadata.name), [jobNameAt('every', second)]);
  });

  test('Forbid: while a Job runs, the next minute starts none (JobAlreadyActive)', async () => {
    const { at } = await startCronJob('forbid', { concurrencyPolicy: 'Forbid' });
    await jobAppears(jobNameAt('forbid', at));
    await cronStatus('forbid', (c) => c.status?.active?.length === 1);
    clock.jumpTo(at + minute + 1000);
    const skipped = await eventSeen('forbid', 'JobAlreadyActive');
    assert.equal(skipped.message, 'Not starting job because prior execution is running and concurrency policy is Forbid');
    assert.deepEqual((await jobsOf('forbid')).map((j) => j.metadata.name), [jobNameAt('forbid', at)]);
  });

  test('Replace: the next minute deletes the running Job and starts a new one', async () => {
    const { at } = await startCronJob('replace', { concurrencyPolicy: 'Replace' });
    const old = await jobAppears(jobNameAt('replace', at));
    await cronStatus('replace', (c) => c.status?.active?.length === 1);
    const next = at + minute;
    clock.jumpTo(next + 1000);
    await jobAppears(jobNameAt('replace', next));
    await jobGone(old.metadata.name!);
    const cj = await cronStatus('replace', (c) => c.status?.active?.length === 1 && c.status.active[0]!.name === jobNameAt('replace', next));
    assert.equal(cj.status?.lastScheduleTime, rfc(next));
    assert.equal(events.find((e) => e.object === 'replace' && e.reason === 'SuccessfulDelete')?.message, `Deleted job ${old.metadata.name}`);
  });

  test('suspend: no Job while suspended; resumed, the missed minute runs at once', async () => {
    const { at } = await startCronJob('pause');
    await cronStatus('pause', (c) => c.status?.active?.length === 1);
    const cj = await cs.cronJobs.get('pause', { namespace: ns });
    await cs.cronJobs.update({ ...cj, spec: { ...cj.spec!, suspend: true } }, { namespace: ns });
    await until('suspension seen', async () => ((await cs.cronJobs.get('pause', { namespace: ns })).spec?.suspend ? true : undefined));
    const missed = at + minute;
    clock.jumpTo(missed + 1000);
    // Every every-minute CronJob is due at the same boundary: 'every' runs, 'pause' does not.
    await jobAppears(jobNameAt('every', missed));
    assert.equal(await getJob(jobNameAt('pause', missed)), undefined);
    const cur = await cs.cronJobs.get('pause', { namespace: ns });
    await cs.cronJobs.update({ ...cur, spec: { ...cur.spec!, suspend: false } }, { namespace: ns });
    const late = await jobAppears(jobNameAt('pause', missed));
    assert.equal(late.metadata.annotations?.[scheduledTimestampAnnotation], rfc(missed));
  });

  test('a new schedule moves the wake-up: a yearly CronJob switched to every minute runs', async () => {
    const { cj } = await newCronJob('later', { schedule: '0 0 1 1 *' });
    const cur = await cs.cronJobs.get('later', { namespace: ns });
    await cs.cronJobs.update({ ...cur, spec: { ...cur.spec!, schedule: '* * * * *' } }, { namespace: ns });
    clock.jumpTo(minuteAfter(clock.now()) + 1000);
    const job = (await until('a job of later', async () => (await jobsOf('later'))[0]))!;
    assert.equal(job.metadata.ownerReferences?.[0]?.uid, cj.metadata.uid);
    assert.match(job.metadata.name!, /^later-\d+$/);
    assert.equal(job.metadata.annotations?.[scheduledTimestampAnnotation], rfc(Number(job.metadata.name!.slice('later-'.length)) * minute));
  });
});
