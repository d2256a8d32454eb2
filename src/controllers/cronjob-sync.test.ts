/**
 * The CronJob reconcile as tables, in the manner of upstream's TestControllerV2SyncCronJob: a
 * CronJob, the Jobs it controls and the time, against an in-memory JobControl (a pure unit: no
 * informers, no API server), checking which Jobs are created and deleted, the active list, the
 * events, whether status must be written and when to look again. Schedules without a zone run in
 * UTC here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CronJob, Job, ObjectReference } from '../api/index.ts';
import { alreadyExists, forbidden, notFound } from '../api/errors.ts';
import type { Recorder } from '../client/index.ts';
import { cleanupFinishedJobs, syncCronJob, type JobControl, type SyncDeps } from './cronjob-sync.ts';
import { jobName, scheduledTimestampAnnotation } from './cronjob-utils.ts';

const jobsGR = { group: 'batch', resource: 'jobs' };
const ms = (s: string) => Date.parse(s);
const rfc = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

// 2016-05-19 10:00 UTC, on the hour.
const onTheHour = ms('2016-05-19T10:00:00Z');
const hour = 3_600_000;
const justBefore = onTheHour - 1000;
const justAfter = onTheHour + 1000;

interface CjOpts {
  schedule?: string;
  policy?: 'Allow' | 'Forbid' | 'Replace';
  suspend?: boolean;
  deadline?: number;
  created?: number;
  lastSchedule?: number;
  active?: Job[];
  timeZone?: string;
  successLimit?: number;
  failedLimit?: number;
  deleting?: boolean;
}

function cronJob(o: CjOpts = {}): CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      name: 'mycronjob',
      namespace: 'snazzycats',
      uid: 'cj-uid',
      resourceVersion: '7',
      creationTimestamp: rfc(o.created ?? onTheHour - hour / 2),
      ...(o.deleting ? { deletionTimestamp: rfc(onTheHour) } : {}),
    },
    spec: {
      schedule: o.schedule ?? '0 * * * ?',
      concurrencyPolicy: o.policy ?? 'Allow',
      ...(o.suspend !== undefined ? { suspend: o.suspend } : {}),
      ...(o.deadline !== undefined ? { startingDeadlineSeconds: o.deadline } : {}),
      ...(o.timeZone !== undefined ? { timeZone: o.timeZone } : {}),
      ...(o.successLimit !== undefined ? { successfulJobsHistoryLimit: o.successLimit } : {}),
      ...(o.failedLimit !== undefined ? { failedJobsHistoryLimit: o.failedLimit } : {}),
      jobTemplate: {
        metadata: { labels: { a: 'b' }, annotations: { x: 'y' } },
        spec: { template: { metadata: {}, spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox' }] } } },
      },
    },
    status: {
      ...(o.lastSchedule !== undefined ? { lastScheduleTime: rfc(o.lastSchedule) } : {}),
      ...(o.active ? { active: o.active.map(ref) } : {}),
    },
  };
}

/** A Job of the CronJob for `scheduled`; `finished` sets its condition (and start/completion times). */
function job(scheduled: number, finished?: 'Complete' | 'Failed', owner = 'cj-uid'): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: `mycronjob-${Math.trunc(scheduled / 60_000)}`,
      namespace: 'snazzycats',
      uid: `job-${scheduled}`,
      resourceVersion: '1',
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'mycronjob', uid: owner, controller: true }],
    },
    spec: { template: { spec: { containers: [] } } },
    status: {
      startTime: rfc(scheduled),
      ...(finished ? { conditions: [{ type: finished, status: 'True' }], ...(finished === 'Complete' ? { completionTime: rfc(scheduled + 60_000) } : {}) } : {}),
    },
  };
}

const ref = (j: Job): ObjectReference => ({ kind: 'Job', apiVersion: 'batch/v1', namespace: j.metadata.namespace, name: j.metadata.name, uid: j.metadata.uid });

/** An in-memory API for the sync: jobs by name, a CronJob to answer fresh reads, errors to inject. */
class FakeControl implements JobControl {
  jobs = new Map<string, Job>();
  created: Job[] = [];
  deleted: string[] = [];
  fresh: CronJob | undefined;
  createError: Error | undefined;
  #uid = 0;

  constructor(jobs: Job[], fresh?: CronJob) {
    for (const j of jobs) this.jobs.set(j.metadata.name!, j);
    this.fresh = fresh;
  }
  async getJob(_ns: string, name: string): Promise<Job> {
    const j = this.jobs.get(name);
    if (!j) throw notFound(jobsGR, name);
    return j;
  }
  async createJob(_ns: string, job: Job): Promise<Job> {
    if (this.createError) throw this.createError;
    if (this.jobs.has(job.metadata.name!)) throw alreadyExists(jobsGR, job.metadata.name!);
    const made = { ...job, metadata: { ...job.metadata, uid: `new-${++this.#uid}`, resourceVersion: '2' } };
    this.jobs.set(job.metadata.name!, made);
    this.created.push(made);
    return made;
  }
  async deleteJob(_ns: string, name: string): Promise<void> {
    if (!this.jobs.delete(name)) throw notFound(jobsGR, name);
    this.deleted.push(name);
  }
  async getCronJob(): Promise<CronJob> {
    if (!this.fresh) throw new Error('no fresh cronjob');
    return structuredClone(this.fresh);
  }
}

function run(cj: CronJob, jobs: Job[], now: number, control = new FakeControl(jobs, structuredClone(cj))) {
  const events: string[] = [];
  const messages: string[] = [];
  const recorder: Recorder = { event: (_o, type, reason, message) => (events.push(`${type} ${reason}`), messages.push(message)) };
  const deps: SyncDeps = { control, recorder, now, localZone: 'UTC' };
  return { control, events, messages, deps, go: () => syncCronJob(cj, jobs, deps) };
}

interface Case {
  name: string;
  cj: CjOpts;
  jobs?: Job[];
  now: number;
  created?: string[];
  deleted?: string[];
  active?: string[];
  events?: string[];
  update?: boolean;
  /** ms, or null for no requeue. */
  requeue?: number | null;
}

const name = (t: number) => `mycronjob-${Math.trunc(t / 60_000)}`;
const prev = job(onTheHour - hour);
const prevDone = job(onTheHour - hour, 'Complete');

const cases: Case[] = [
  { name: 'never ran, not yet time: nothing, look again just after the hour', cj: {}, now: justBefore, requeue: 1100, update: false, active: [] },
  { name: 'never ran, just after the hour: the job of the hour', cj: {}, now: justAfter, created: [name(onTheHour)], active: [name(onTheHour)], events: ['Normal SuccessfulCreate'], update: true, requeue: hour - 1000 + 100 },
  { name: 'suspended: nothing, and no wake-up', cj: { suspend: true }, now: justAfter, update: false, requeue: null },
  { name: 'within the starting deadline: the job of the hour', cj: { deadline: 10 }, now: justAfter, created: [name(onTheHour)] },
  { name: 'past the starting deadline: nothing, look again at the next hour', cj: { deadline: 10 }, now: onTheHour + 60_000, created: [], update: false, requeue: hour - 60_000 + 100 },
  { name: 'ran this hour already (lastScheduleTime): nothing', cj: { lastSchedule: onTheHour }, now: justAfter, created: [], update: false, requeue: hour - 1000 + 100 },
  { name: 'Allow with a job still running: a second one', cj: { lastSchedule: onTheHour - hour, active: [prev] }, jobs: [prev], now: justAfter, created: [name(onTheHour)], active: [prev.metadata.name!, name(onTheHour)] },
  {
    name: 'Forbid with a job still running: nothing, JobAlreadyActive',
    cj: { policy: 'Forbid', lastSchedule: onTheHour - hour, active: [prev] },
    jobs: [prev],
    now: justAfter,
    created: [],
    active: [prev.metadata.name!],
    events: ['Normal JobAlreadyActive'],
    update: false,
    requeue: 100 - 1000 + 0 + hour,
  },
  { name: 'Forbid with the last job finished: the next one', cj: { policy: 'Forbid', lastSchedule: onTheHour - hour, active: [prevDone] }, jobs: [prevDone], now: justAfter, created: [name(onTheHour)], active: [name(onTheHour)], events: ['Normal SawCompletedJob', 'Normal SuccessfulCreate'] },
  {
    name: 'Replace with a job still running: it is deleted, the new one made',
    cj: { policy: 'Replace', lastSchedule: onTheHour - hour, active: [prev] },
    jobs: [prev],
    now: justAfter,
    created: [name(onTheHour)],
    deleted: [prev.metadata.name!],
    active: [name(onTheHour)],
    events: ['Normal SuccessfulDelete', 'Normal SuccessfulCreate'],
  },
  { name: 'a few missed hours: only the latest runs', cj: { created: onTheHour - 5 * hour - 60_000 }, now: justAfter, created: [name(onTheHour)], events: ['Normal SuccessfulCreate'] },
  { name: 'over 100 missed hours: a warning, and the latest runs', cj: { created: onTheHour - 200 * hour - 60_000 }, now: justAfter, created: [name(onTheHour)], events: ['Warning TooManyMissedTimes', 'Normal SuccessfulCreate'] },
  { name: 'over 100 missed but within the deadline: no warning', cj: { created: onTheHour - 200 * hour - 60_000, deadline: 200 }, now: justAfter, created: [name(onTheHour)], events: ['Normal SuccessfulCreate'] },
  { name: 'being deleted: nothing but status', cj: { deleting: true }, now: justAfter, created: [], update: false, requeue: null },
  { name: 'an unknown time zone: a warning, nothing else', cj: { timeZone: 'Mars/Olympus' }, now: justAfter, created: [], events: ['Warning UnknownTimeZone'], requeue: null },
  { name: 'an impossible date: InvalidSchedule', cj: { schedule: '59 23 31 2 *' }, now: justAfter, created: [], events: ['Warning InvalidSchedule'], requeue: null },
  { name: 'a TZ in the schedule (legacy object): a warning, and it still runs', cj: { schedule: 'TZ=UTC 0 * * * ?' }, now: justAfter, created: [name(onTheHour)], events: ['Warning UnsupportedSchedule', 'Normal SuccessfulCreate'] },
  {
    name: 'a finished active job leaves the active list and sets lastSuccessfulTime',
    cj: { lastSchedule: onTheHour, active: [job(onTheHour, 'Complete')] },
    jobs: [job(onTheHour, 'Complete')],
    now: justAfter + 120_000,
    created: [],
    active: [],
    events: ['Normal SawCompletedJob'],
    update: true,
  },
  {
    name: 'an active entry whose job is gone: MissingJob, dropped',
    cj: { lastSchedule: onTheHour, active: [job(onTheHour)] },
    now: justAfter,
    created: [],
    active: [],
    events: ['Normal MissingJob'],
    update: true,
  },
  {
    name: 'a running job it controls but does not list: UnexpectedJob',
    cj: { lastSchedule: onTheHour },
    jobs: [job(onTheHour)],
    now: justAfter,
    created: [],
    events: ['Warning UnexpectedJob'],
    update: false,
  },
];

for (const c of cases) {
  test(`sync: ${c.name}`, async () => {
    const r = run(cronJob(c.cj), c.jobs ?? [], c.now);
    const res = await r.go();
    assert.equal(res.error, undefined, String(res.error));
    if (c.created) assert.deepEqual(r.control.created.map((j) => j.metadata.name), c.created);
    assert.deepEqual(r.control.deleted, c.deleted ?? []);
    if (c.active) assert.deepEqual((res.cronJob.status?.active ?? []).map((a) => a.name), c.active);
    if (c.events) assert.deepEqual(r.events, c.events);
    if (c.update !== undefined) assert.equal(res.updateStatus, c.update);
    if (c.requeue !== undefined) assert.equal(res.requeueAfter ?? null, c.requeue);
  });
}

test('the job made for a scheduled time: name, template, owner, scheduled-timestamp annotation, status', async () => {
  const r = run(cronJob(), [], justAfter);
  const res = await r.go();
  const made = r.control.created[0]!;
  assert.equal(made.metadata.name, `mycronjob-${onTheHour / 60_000}`);
  assert.equal(made.metadata.name, jobName(res.cronJob, onTheHour));
  assert.deepEqual(made.metadata.labels, { a: 'b' });
  assert.deepEqual(made.metadata.annotations, { x: 'y', [scheduledTimestampAnnotation]: '2016-05-19T10:00:00Z' });
  assert.deepEqual(made.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'mycronjob', uid: 'cj-uid', controller: true, blockOwnerDeletion: true }]);
  assert.deepEqual(made.spec, cronJob().spec!.jobTemplate.spec);
  assert.equal(res.cronJob.status?.lastScheduleTime, '2016-05-19T10:00:00Z');
  assert.deepEqual(res.cronJob.status?.active, [{ kind: 'Job', namespace: 'snazzycats', name: made.metadata.name, uid: 'new-1', apiVersion: 'batch/v1', resourceVersion: '2' }]);
  assert.deepEqual(r.messages, [`Created job ${made.metadata.name}`]);
});

test('spec.timeZone: the schedule runs in that zone and the annotation carries its offset', async () => {
  // 09:00 in New York on 2016-05-19 (EDT) is 13:00 UTC.
  const nine = ms('2016-05-19T13:00:00Z');
  const r = run(cronJob({ schedule: '0 9 * * *', timeZone: 'America/New_York', created: nine - 2 * hour }), [], nine + 1000);
  const res = await r.go();
  const made = r.control.created[0]!;
  assert.equal(made.metadata.name, `mycronjob-${nine / 60_000}`);
  assert.equal(made.metadata.annotations![scheduledTimestampAnnotation], '2016-05-19T09:00:00-04:00');
  assert.equal(res.requeueAfter, 24 * hour - 1000 + 100);
});

test('a job that already exists under the name and is ours joins the active list, without SuccessfulCreate', async () => {
  const existing = job(onTheHour);
  const control = new FakeControl([]);
  control.jobs.set(existing.metadata.name!, existing);
  const r = run(cronJob(), [], justAfter, control);
  const res = await r.go();
  assert.deepEqual(r.control.created, []);
  assert.deepEqual(r.events, []);
  assert.deepEqual((res.cronJob.status?.active ?? []).map((a) => a.uid), [existing.metadata.uid]);
  assert.equal(res.updateStatus, true);
});

test('a job that already exists under the name but is another’s is left alone', async () => {
  const control = new FakeControl([]);
  const theirs = job(onTheHour, undefined, 'someone-else');
  control.jobs.set(theirs.metadata.name!, theirs);
  const r = run(cronJob(), [], justAfter, control);
  const res = await r.go();
  assert.deepEqual(res.cronJob.status?.active ?? [], []);
  assert.equal(res.updateStatus, false);
  assert.equal(res.requeueAfter, undefined);
});

test('a failed create is a FailedCreate warning and an error to retry', async () => {
  const control = new FakeControl([]);
  control.createError = forbidden(jobsGR, 'x', 'exceeded quota');
  const r = run(cronJob(), [], justAfter, control);
  const res = await r.go();
  assert.ok(res.error);
  assert.deepEqual(r.events, ['Warning FailedCreate']);
  assert.match(r.messages[0]!, /^Error creating job: /);
  assert.equal(res.cronJob.status?.lastScheduleTime, undefined);
});

test('a running job the cache missed from the status but a fresh read lists: no warning, the fresh copy wins', async () => {
  const running = job(onTheHour);
  const fresh = cronJob({ lastSchedule: onTheHour, active: [running] });
  fresh.metadata.resourceVersion = '8';
  const r = run(cronJob({ lastSchedule: onTheHour - hour }), [running], justAfter, new FakeControl([running], fresh));
  const res = await r.go();
  assert.deepEqual(r.events, []);
  assert.equal(res.cronJob.metadata.resourceVersion, '8');
  assert.deepEqual(r.control.created, []);
});

test('lastSuccessfulTime moves to the latest completion, finished jobs outside the active list too', async () => {
  const older = job(onTheHour - 2 * hour, 'Complete');
  const newer = job(onTheHour - hour, 'Complete');
  const r = run(cronJob({ lastSchedule: onTheHour - hour }), [newer, older], justBefore);
  const res = await r.go();
  assert.equal(res.cronJob.status?.lastSuccessfulTime, rfc(onTheHour - hour + 60_000));
  assert.equal(res.updateStatus, true);
});

// ---- history limits ----------------------------------------------------------------------------------

const historyCases: { name: string; success?: number; failed?: number; jobs: Job[]; deleted: string[] }[] = [
  {
    name: 'keeps the newest successful jobs up to the limit',
    success: 2,
    failed: 1,
    jobs: [job(onTheHour - 3 * hour, 'Complete'), job(onTheHour - hour, 'Complete'), job(onTheHour - 2 * hour, 'Complete'), job(onTheHour - 4 * hour, 'Complete')],
    deleted: [name(onTheHour - 4 * hour), name(onTheHour - 3 * hour)],
  },
  { name: 'keeps the newest failed job', success: 3, failed: 1, jobs: [job(onTheHour - 2 * hour, 'Failed'), job(onTheHour - hour, 'Failed')], deleted: [name(onTheHour - 2 * hour)] },
  { name: 'a limit of zero deletes every finished job of that kind', success: 0, failed: 5, jobs: [job(onTheHour - hour, 'Complete'), job(onTheHour - 2 * hour, 'Failed')], deleted: [name(onTheHour - hour)] },
  { name: 'running jobs are never history', success: 0, failed: 0, jobs: [job(onTheHour - hour), job(onTheHour - 2 * hour, 'Failed')], deleted: [name(onTheHour - 2 * hour)] },
  { name: 'no limits, nothing deleted', jobs: [job(onTheHour - hour, 'Complete'), job(onTheHour - 2 * hour, 'Complete')], deleted: [] },
];

for (const c of historyCases) {
  test(`history: ${c.name}`, async () => {
    const cj = cronJob({ successLimit: c.success, failedLimit: c.failed, active: c.jobs });
    const r = run(cj, c.jobs, justBefore, new FakeControl(c.jobs));
    const updated = await cleanupFinishedJobs(cj, c.jobs, r.deps);
    assert.deepEqual(r.control.deleted, c.deleted);
    assert.equal(updated, c.deleted.length > 0);
    for (const d of c.deleted) assert.ok(!(cj.status?.active ?? []).some((a) => a.name === d), `${d} left the active list`);
    assert.deepEqual(r.events, c.deleted.map(() => 'Normal SuccessfulDelete'));
    assert.deepEqual(r.messages, c.deleted.map((d) => `Deleted job ${d}`));
  });
}

test('history: a failed delete is a FailedDelete warning and leaves the job listed', async () => {
  const done = job(onTheHour - hour, 'Complete');
  const cj = cronJob({ successLimit: 0, active: [done] });
  const r = run(cj, [done], justBefore, new FakeControl([]));
  assert.equal(await cleanupFinishedJobs(cj, [done], r.deps), false);
  assert.deepEqual(r.events, ['Warning FailedDelete']);
  assert.equal(cj.status?.active?.length, 1);
});
