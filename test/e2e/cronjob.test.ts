/**
 * CronJobs end to end with the real kubectl against `bosun server --virtual-nodes 1`: an
 * every-minute CronJob gets its Job at the next minute boundary (named after the scheduled minute,
 * controlled by the CronJob, with the scheduled-timestamp annotation, listed in status.active,
 * status.lastScheduleTime set, a SuccessfulCreate event); a CronJob suspended from the start has
 * no Job at that boundary, and once resumed runs the missed minute at once, as upstream; `kubectl
 * get cronjob` shows upstream's columns; `kubectl create job --from=cronjob/…` (client-side in
 * kubectl) makes a Job from the template. The Jobs' own progress is the Job controller's and is
 * not asserted here (their pods are told to run for ten minutes on the simulated node, so the
 * first Job stays active). One real minute boundary is waited for (the test takes up to ~75 s).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl, kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server: ServerHandle;
const v = kubectlVersions.at(-1)!;
const ns = 'cron';

interface ObjectMeta {
  name: string;
  uid: string;
  creationTimestamp: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}
interface CronJob {
  metadata: ObjectMeta;
  spec: { suspend?: boolean; jobTemplate: { spec: { template: { spec: { containers: { name: string; image: string }[] } } } } };
  status?: { active?: { kind: string; name: string; uid: string }[]; lastScheduleTime?: string };
}
interface Job {
  metadata: ObjectMeta;
  spec: { template: { spec: { restartPolicy: string; containers: { name: string; image: string; command?: string[] }[] } } };
}

const cronJobYaml = (name: string, suspend: boolean) => `apiVersion: batch/v1
kind: CronJob
metadata:
  name: ${name}
spec:
  schedule: "* * * * *"
  suspend: ${suspend}
  jobTemplate:
    metadata:
      labels: {app: ${name}}
    spec:
      template:
        metadata:
          # On a simulated node the Job's pod runs this long, so the Job stays active here.
          annotations: {simulation.bosun.dev/run-duration: 10m}
        spec:
          restartPolicy: OnFailure
          containers:
          - name: tick
            image: busybox
            command: ["true"]
`;

const getJSON = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectlOk(server, v, ['-n', ns, ...args, '-o', 'json'])) as T;
const jobsOf = async (cronJob: string): Promise<Job[]> =>
  (await getJSON<{ items: Job[] }>(['get', 'jobs'])).items.filter((j) => j.metadata.ownerReferences?.some((r) => r.kind === 'CronJob' && r.name === cronJob));

before(async () => {
  server = await startServer({ args: ['--virtual-nodes', '1'] });
  await kubectlOk(server, v, ['create', 'namespace', ns]);
  // The Job controller's pods wait for the namespace's default ServiceAccount.
  await waitForServiceAccount(server, ns);
  await kubectlOk(server, v, ['-n', ns, 'apply', '-f', '-'], { input: `${cronJobYaml('every', false)}---\n${cronJobYaml('paused', true)}` });
});

after(async () => {
  await server?.stop();
});

test('an every-minute CronJob starts a Job at the next minute; a suspended one does not until resumed', async () => {
  const job = await until('a job of cronjob every', async () => (await jobsOf('every'))[0], { timeoutMs: 80_000 });
  const cj = await getJSON<CronJob>(['get', 'cronjob', 'every']);
  const scheduled = job.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'];
  assert.ok(scheduled, 'scheduled-timestamp annotation');
  const at = Date.parse(scheduled);
  assert.equal(at % 60_000, 0, `${scheduled} is a minute boundary`);
  assert.ok(at > Date.parse(cj.metadata.creationTimestamp), 'scheduled after the cronjob was created');
  assert.equal(job.metadata.name, `every-${at / 60_000}`);
  assert.deepEqual(job.metadata.ownerReferences?.map((r) => [r.apiVersion, r.kind, r.name, r.uid, r.controller]), [['batch/v1', 'CronJob', 'every', cj.metadata.uid, true]]);
  assert.equal(job.metadata.labels?.['app'], 'every');
  assert.deepEqual(job.spec.template.spec.containers.map((c) => [c.name, c.image, c.command]), [['tick', 'busybox', ['true']]]);

  const status = await until('status of every', async () => {
    const c = await getJSON<CronJob>(['get', 'cronjob', 'every']);
    return c.status?.lastScheduleTime && (c.status.active ?? []).some((a) => a.uid === job.metadata.uid) ? c.status : undefined;
  });
  // Later minutes may have passed; the first job's minute is at or before the last schedule.
  assert.ok(Date.parse(status.lastScheduleTime!) >= at);

  const events = await until('SuccessfulCreate event', async () => {
    const out = await kubectlOk(server, v, ['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.kind=CronJob,involvedObject.name=every', '-o', 'json']);
    const items = (JSON.parse(out) as { items: { reason: string; message: string; source?: { component?: string } }[] }).items;
    return items.find((e) => e.reason === 'SuccessfulCreate' && e.message === `Created job ${job.metadata.name}`);
  });
  assert.equal(events.source?.component, 'cronjob-controller');

  // The same boundary passed for the suspended one: no job, no schedule time.
  const paused = await getJSON<CronJob>(['get', 'cronjob', 'paused']);
  assert.equal(paused.status?.lastScheduleTime, undefined);
  assert.deepEqual(await jobsOf('paused'), []);
  const table = await kubectlOk(server, v, ['-n', ns, 'get', 'cronjobs']);
  const [header, ...rows] = table.trim().split('\n');
  assert.deepEqual(header!.trim().split(/\s{2,}/), ['NAME', 'SCHEDULE', 'TIMEZONE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'AGE']);
  const pausedRow = rows.find((r) => r.startsWith('paused'))!.trim().split(/\s+/);
  assert.deepEqual(pausedRow.slice(0, 10), ['paused', '*', '*', '*', '*', '*', '<none>', 'True', '0', '<none>']);

  // Resumed, it runs the minute it missed at once (no startingDeadlineSeconds), as upstream.
  const resumedAt = Date.now();
  await kubectlOk(server, v, ['-n', ns, 'patch', 'cronjob', 'paused', '--type', 'merge', '-p', '{"spec":{"suspend":false}}']);
  const late = await until('a job of cronjob paused', async () => (await jobsOf('paused'))[0], { timeoutMs: 20_000 });
  assert.ok(Date.parse(late.metadata.annotations!['batch.kubernetes.io/cronjob-scheduled-timestamp']!) <= resumedAt, 'a minute from before the resume');
});

for (const minor of kubectlVersions) {
  test(`kubectl 1.${minor} create job --from=cronjob makes a Job from the template`, async () => {
    const name = `manual-${minor}`;
    await kubectlOk(server, minor, ['-n', ns, 'create', 'job', name, '--from=cronjob/every']);
    const cj = await getJSON<CronJob>(['get', 'cronjob', 'every']);
    const job = await getJSON<Job>(['get', 'job', name]);
    assert.equal(job.metadata.annotations?.['cronjob.kubernetes.io/instantiate'], 'manual');
    assert.equal(job.metadata.labels?.['app'], 'every');
    // kubectl marks the reference as the controller since 1.28.
    assert.deepEqual(job.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [['CronJob', 'every', cj.metadata.uid, Number(minor) >= 28 ? true : undefined]]);
    assert.deepEqual(job.spec.template.spec.containers, cj.spec.jobTemplate.spec.template.spec.containers);
    assert.equal(job.spec.template.spec.restartPolicy, 'OnFailure');
  });
}

test('a time zone is given in spec.timeZone, not in the schedule, and must be known', async () => {
  const tz = await kubectl(server, v, ['-n', ns, 'create', 'cronjob', 'tz', '--image', 'busybox', '--schedule', 'TZ=UTC 0 * * *']);
  assert.notEqual(tz.code, 0);
  assert.match(tz.stderr, /cannot use TZ or CRON_TZ in schedule, use timeZone field instead/);
  const unknown = await kubectl(server, v, ['-n', ns, 'apply', '-f', '-'], { input: cronJobYaml('mars', true).replace('  suspend:', '  timeZone: Mars/Olympus\n  suspend:') });
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown time zone Mars\/Olympus/);
  await kubectlOk(server, v, ['-n', ns, 'apply', '-f', '-'], { input: cronJobYaml('kolkata', true).replace('  suspend:', '  timeZone: Asia/Kolkata\n  suspend:') });
  const row = (await kubectlOk(server, v, ['-n', ns, 'get', 'cronjob', 'kolkata', '--no-headers'])).trim().split(/\s+/);
  assert.deepEqual(row.slice(0, 8), ['kolkata', '*', '*', '*', '*', '*', 'Asia/Kolkata', 'True']);
});
