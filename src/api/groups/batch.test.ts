import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { cronJobs, jobs } from './batch.ts';
import { scheduleError } from './cron.ts';
import { create, make, oneHourLater, summary, update, type TestObject } from './core-testing.ts';

const pi = { name: 'pi', image: 'perl:5.34' };
const podTemplate = (spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) => ({ metadata: meta, spec: { restartPolicy: 'Never', containers: [pi], ...spec } });
const job = (spec: Record<string, unknown>, meta: KubeObject['metadata'] = {}): TestObject => make(jobs, { spec }, { uid: 'uid-1', ...meta });
const generated = {
  'job-name': 'x',
  'batch.kubernetes.io/job-name': 'x',
  'controller-uid': 'uid-1',
  'batch.kubernetes.io/controller-uid': 'uid-1',
};

// ---- Job defaults and selector generation ----------------------------------------------------------------

test('a minimal job gets upstream defaults, a generated selector and the template labels', () => {
  const { obj, causes } = create(jobs, job({ template: podTemplate() }));
  const { template, ...rest } = obj.spec;
  assert.deepEqual(rest, {
    parallelism: 1,
    completions: 1,
    backoffLimit: 6,
    completionMode: 'NonIndexed',
    suspend: false,
    podReplacementPolicy: 'TerminatingOrFailed',
    manualSelector: false,
    selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'uid-1' } },
  });
  assert.deepEqual(template.metadata.labels, generated);
  assert.deepEqual(obj.metadata.labels, generated);
  assert.equal(template.spec.dnsPolicy, 'ClusterFirst');
  assert.deepEqual(obj.status, {});
  assert.deepEqual(summary(causes), []);
});

const jobDefaultCases: { name: string; spec: Record<string, unknown>; want: Record<string, unknown> }[] = [
  { name: 'parallelism alone leaves completions unset', spec: { parallelism: 3 }, want: { parallelism: 3, completions: undefined } },
  { name: 'completions alone gets parallelism 1', spec: { completions: 5 }, want: { parallelism: 1, completions: 5 } },
  {
    name: 'a backoff limit per index raises backoffLimit to the maximum',
    spec: { completions: 3, completionMode: 'Indexed', backoffLimitPerIndex: 1 },
    want: { backoffLimit: 2147483647 },
  },
  {
    name: 'a pod failure policy replaces pods only once failed and its patterns default to True',
    spec: { podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] } },
    want: { podReplacementPolicy: 'Failed', podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] } },
  },
];
for (const c of jobDefaultCases) {
  test(c.name, () => {
    const { obj, causes } = create(jobs, job({ template: podTemplate(), ...c.spec }));
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual(obj.spec[k], v, k);
    assert.deepEqual(summary(causes), []);
  });
}

test('a job with its own labels keeps them; its template gains the generated ones', () => {
  const { obj } = create(jobs, job({ template: podTemplate({}, { labels: { app: 'pi' } }) }, { labels: { team: 'a' } }));
  assert.deepEqual(obj.metadata.labels, { team: 'a' });
  assert.deepEqual(obj.spec.template.metadata.labels, { app: 'pi', ...generated });
});

test('a job without labels gets its template labels, generated ones included', () => {
  const { obj } = create(jobs, job({ template: podTemplate({}, { labels: { app: 'pi' } }) }));
  assert.deepEqual(obj.metadata.labels, { app: 'pi', ...generated });
});

test('a manual selector is left alone', () => {
  const { obj, causes } = create(jobs, job({ manualSelector: true, selector: { matchLabels: { app: 'pi' } }, template: podTemplate({}, { labels: { app: 'pi' } }) }));
  assert.deepEqual(obj.spec.selector, { matchLabels: { app: 'pi' } });
  assert.deepEqual(obj.spec.template.metadata.labels, { app: 'pi' });
  assert.deepEqual(summary(causes), []);
});

// ---- Job validation ------------------------------------------------------------------------------------------

const jobValidationCases: { name: string; spec: Record<string, unknown>; want: string[] }[] = [
  { name: 'a job template may not restart always', spec: { template: podTemplate({ restartPolicy: 'Always' }) }, want: ['spec.template.spec.restartPolicy: FieldValueRequired'] },
  { name: 'parallelism may not be negative', spec: { parallelism: -1, template: podTemplate() }, want: ['spec.parallelism: FieldValueInvalid'] },
  { name: 'an indexed job needs completions', spec: { completionMode: 'Indexed', parallelism: 2, template: podTemplate() }, want: ['spec.completions: FieldValueRequired'] },
  { name: 'a completion mode must be known', spec: { completionMode: 'Sometimes', template: podTemplate() }, want: ['spec.completionMode: FieldValueNotSupported'] },
  {
    name: 'a backoff limit per index requires indexed completion',
    spec: { backoffLimitPerIndex: 1, template: podTemplate() },
    want: ['spec.backoffLimitPerIndex: FieldValueInvalid'],
  },
  {
    name: 'a pod failure policy requires restartPolicy Never',
    spec: { podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [42] } }] }, template: podTemplate({ restartPolicy: 'OnFailure' }) },
    want: ['spec.template.spec.restartPolicy: FieldValueInvalid'],
  },
  {
    name: 'exit codes in a failure policy must be ordered and non-zero for In',
    spec: { podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [3, 0] } }] }, template: podTemplate() },
    want: ['spec.podFailurePolicy.rules[0].onExitCodes.values[1]: FieldValueInvalid', 'spec.podFailurePolicy.rules[0].onExitCodes.values: FieldValueInvalid'],
  },
  {
    name: 'a manual selector must match the template',
    spec: { manualSelector: true, selector: { matchLabels: { app: 'other' } }, template: podTemplate({}, { labels: { app: 'pi' } }) },
    want: ['spec.template.metadata.labels: FieldValueInvalid'],
  },
  {
    name: 'a generated selector may not be overridden',
    spec: { selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'someone-else' } }, template: podTemplate() },
    want: ['spec.selector: FieldValueInvalid', 'spec.template.metadata.labels: FieldValueInvalid'],
  },
];
for (const c of jobValidationCases) {
  test(c.name, () => assert.deepEqual(summary(create(jobs, job(c.spec)).causes), c.want));
}

test('an indexed job name must leave room for the index in pod hostnames', () => {
  const long = 'j'.repeat(62);
  const { causes } = create(jobs, job({ completionMode: 'Indexed', completions: 10, parallelism: 1, template: podTemplate() }, { name: long }));
  assert.deepEqual(summary(causes), ['metadata.name: FieldValueInvalid']);
});

function storedJob(spec: Record<string, unknown> = { template: podTemplate() }): TestObject {
  const { obj } = create(jobs, job(spec));
  obj.metadata.generation = 1;
  return obj;
}

const jobUpdateCases: { name: string; spec?: Record<string, unknown>; status?: Record<string, unknown>; change: (j: TestObject) => void; want: string[] }[] = [
  { name: 'a job may be suspended', change: (j) => (j.spec.suspend = true), want: [] },
  { name: 'parallelism may change', change: (j) => (j.spec.parallelism = 4), want: [] },
  { name: 'completions may not change for a non-indexed job', change: (j) => (j.spec.completions = 3), want: ['spec.completions: FieldValueInvalid'] },
  { name: 'the template of a running job is immutable', change: (j) => (j.spec.template.spec.containers[0].image = 'perl:5.36'), want: ['spec.template: FieldValueInvalid'] },
  {
    name: 'a suspended job that never started may change its node selector',
    spec: { suspend: true, template: podTemplate() },
    change: (j) => (j.spec.template.spec.nodeSelector = { zone: 'a' }),
    want: [],
  },
  {
    name: 'a suspended job that started may not change its node selector',
    spec: { suspend: true, template: podTemplate() },
    status: { startTime: '2024-01-01T00:00:00Z' },
    change: (j) => (j.spec.template.spec.nodeSelector = { zone: 'a' }),
    want: ['spec.template: FieldValueInvalid'],
  },
  {
    name: 'an indexed job may scale completions with parallelism',
    spec: { completionMode: 'Indexed', completions: 2, parallelism: 2, template: podTemplate() },
    change: (j) => {
      j.spec.completions = 4;
      j.spec.parallelism = 4;
    },
    want: [],
  },
];
for (const c of jobUpdateCases) {
  test(c.name, () => {
    const old = storedJob(c.spec);
    if (c.status) old.status = c.status;
    const next = structuredClone(old);
    c.change(next);
    assert.deepEqual(summary(update(jobs, next, old).causes), c.want);
  });
}

test('job status updates may not take back a terminal condition or a counter', () => {
  const old = storedJob();
  old.status = { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
  const next = structuredClone(old);
  next.spec.parallelism = 9;
  next.status = { succeeded: 0 };
  const { obj, causes } = update(jobs, next, old, 'status');
  assert.equal(obj.spec.parallelism, 1);
  assert.deepEqual(summary(causes), ['status.conditions: FieldValueInvalid', 'status.succeeded: FieldValueInvalid']);
});

// ---- Job table and selectors ---------------------------------------------------------------------------------

const jobRowCases: { name: string; spec: Record<string, unknown>; status: Record<string, unknown>; meta?: KubeObject['metadata']; want: unknown[] }[] = [
  { name: 'a running job', spec: { completions: 3 }, status: { succeeded: 1, startTime: '2024-01-01T00:50:00Z' }, want: ['Running', '1/3', '10m'] },
  {
    name: 'a complete job measures start to completion',
    spec: { completions: 1 },
    status: { succeeded: 1, startTime: '2024-01-01T00:00:00Z', completionTime: '2024-01-01T00:00:42Z', conditions: [{ type: 'Complete', status: 'True' }] },
    want: ['Complete', '1/1', '42s'],
  },
  { name: 'a failed job', spec: { completions: 1 }, status: { failed: 6, conditions: [{ type: 'Failed', status: 'True' }] }, want: ['Failed', '0/1', ''] },
  { name: 'a suspended job', spec: { completions: 1 }, status: { conditions: [{ type: 'Suspended', status: 'True' }] }, want: ['Suspended', '0/1', ''] },
  { name: 'a job being deleted', spec: { completions: 1 }, status: {}, meta: { deletionTimestamp: '2024-01-01T01:00:00Z' }, want: ['Terminating', '0/1', ''] },
  { name: 'a work-queue job counts against parallelism', spec: { parallelism: 3 }, status: { succeeded: 2 }, want: ['Running', '2/1 of 3', ''] },
];
for (const c of jobRowCases) {
  test(`job row: ${c.name}`, () => {
    const j = make(jobs, { spec: { ...c.spec, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u' } }, template: podTemplate() }, status: c.status }, c.meta ?? {});
    const row = jobs.table!.row(j, oneHourLater);
    assert.deepEqual(row.slice(1, 4), c.want);
    assert.deepEqual(row.slice(4), ['60m', 'pi', 'perl:5.34', 'batch.kubernetes.io/controller-uid=u']);
  });
}

test('jobs select on status.successful', () => {
  assert.equal(jobs.fieldSelectors!['status.successful']!(make(jobs, { status: { succeeded: 2 } })), '2');
  assert.equal(jobs.fieldSelectors!['status.successful']!(make(jobs, {})), '0');
});

// ---- CronJobs --------------------------------------------------------------------------------------------------

const cron = (spec: Record<string, unknown>, meta: KubeObject['metadata'] = {}): TestObject => make(cronJobs, { spec }, meta);
const jobTemplate = { spec: { template: podTemplate({ restartPolicy: 'OnFailure' }) } };

test('a minimal cron job allows concurrency, is not suspended and keeps 3 and 1 jobs', () => {
  const { obj, causes } = create(cronJobs, cron({ schedule: '*/5 * * * *', jobTemplate }));
  const { jobTemplate: jt, ...rest } = obj.spec;
  assert.deepEqual(rest, { schedule: '*/5 * * * *', concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
  assert.deepEqual(jt.metadata, {});
  assert.equal(jt.spec.template.spec.dnsPolicy, 'ClusterFirst');
  assert.equal(jt.spec.backoffLimit, undefined);
  assert.deepEqual(obj.status, {});
  assert.deepEqual(summary(causes), []);
});

const scheduleCases: { name: string; schedule: string; want: string }[] = [
  { name: 'every five minutes', schedule: '*/5 * * * *', want: '' },
  { name: 'named months and weekdays', schedule: '0 9 * jan-mar MON-FRI', want: '' },
  { name: 'a descriptor', schedule: '@hourly', want: '' },
  { name: 'an @every duration', schedule: '@every 1h30m', want: '' },
  { name: 'too few fields', schedule: 'foo', want: 'expected exactly 5 fields, found 1: [foo]' },
  { name: 'a minute out of range', schedule: '60 * * * *', want: 'end of range (60) above maximum (59): 60' },
  { name: 'a day of month below range', schedule: '0 0 0 * *', want: 'beginning of range (0) below minimum (1): 0' },
  { name: 'a word that is not a number', schedule: '0 noon * * *', want: 'failed to parse int from noon: strconv.Atoi: parsing "noon": invalid syntax' },
  { name: 'an unknown descriptor', schedule: '@fortnightly', want: 'unrecognized descriptor: @fortnightly' },
  { name: 'a reversed range', schedule: '0 5-2 * * *', want: 'beginning of range (5) beyond end of range (2): 5-2' },
];
for (const c of scheduleCases) {
  test(`schedule: ${c.name}`, () => assert.equal(scheduleError(c.schedule), c.want));
}

const cronValidationCases: { name: string; spec: Record<string, unknown>; meta?: KubeObject['metadata']; want: string[] }[] = [
  { name: 'a schedule is required', spec: { jobTemplate }, want: ['spec.schedule: FieldValueRequired'] },
  { name: 'a bad schedule is rejected with the parser error', spec: { schedule: '* * *', jobTemplate }, want: ['spec.schedule: FieldValueInvalid'] },
  { name: 'TZ in the schedule is rejected', spec: { schedule: 'TZ=UTC 0 * * * *', jobTemplate }, want: ['spec.schedule: FieldValueInvalid'] },
  { name: 'an unknown time zone is rejected', spec: { schedule: '0 * * * *', timeZone: 'Mars/Olympus', jobTemplate }, want: ['spec.timeZone: FieldValueInvalid'] },
  { name: 'a known time zone passes', spec: { schedule: '0 * * * *', timeZone: 'Europe/Paris', jobTemplate }, want: [] },
  { name: 'the concurrency policy must be known', spec: { schedule: '0 * * * *', concurrencyPolicy: 'Sometimes', jobTemplate }, want: ['spec.concurrencyPolicy: FieldValueNotSupported'] },
  {
    name: 'the job template may not restart always',
    spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: podTemplate({ restartPolicy: 'Always' }) } } },
    want: ['spec.jobTemplate.spec.template.spec.restartPolicy: FieldValueRequired'],
  },
  {
    name: 'the job template may not bring a selector',
    spec: { schedule: '0 * * * *', jobTemplate: { spec: { selector: { matchLabels: { a: 'b' } }, template: podTemplate() } } },
    want: ['spec.jobTemplate.spec.selector: FieldValueInvalid'],
  },
  { name: 'a cron job name leaves room for the job suffix', spec: { schedule: '0 * * * *', jobTemplate }, meta: { name: 'c'.repeat(53) }, want: ['metadata.name: FieldValueInvalid'] },
];
for (const c of cronValidationCases) {
  test(c.name, () => assert.deepEqual(summary(create(cronJobs, cron(c.spec, c.meta)).causes), c.want));
}

test('cron job rows show schedule, time zone, suspend, active jobs and the last schedule', () => {
  const cj = make(cronJobs, {
    spec: { schedule: '*/5 * * * *', timeZone: 'Etc/UTC', suspend: false, jobTemplate },
    status: { active: [{ name: 'a' }], lastScheduleTime: '2024-01-01T00:58:00Z' },
  });
  assert.deepEqual(cronJobs.table!.row(cj, oneHourLater), ['x', '*/5 * * * *', 'Etc/UTC', 'False', 1, '2m', '60m', 'pi', 'perl:5.34', '<none>']);
  const bare = make(cronJobs, { spec: { schedule: '@daily', jobTemplate } });
  assert.deepEqual(cronJobs.table!.row(bare, oneHourLater).slice(1, 6), ['@daily', '<none>', '<unset>', 0, '<none>']);
  assert.deepEqual(
    cronJobs.table!.columns.map((c) => `${c.name}:${c.type}:${c.priority}`),
    ['Name:string:0', 'Schedule:string:0', 'Timezone:string:0', 'Suspend:boolean:0', 'Active:integer:0', 'Last Schedule:string:0', 'Age:string:0', 'Containers:string:1', 'Images:string:1', 'Selector:string:1'],
  );
});

test('batch kinds carry a generation, a status subresource and upstream names', () => {
  assert.deepEqual(
    [jobs, cronJobs].map((d) => [d.plural, d.shortNames ?? [], d.categories, d.generation, d.subresources]),
    [
      ['jobs', [], ['all'], true, { status: true }],
      ['cronjobs', ['cj'], ['all'], true, { status: true }],
    ],
  );
});
