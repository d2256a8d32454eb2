/**
 * Issue 15 end to end: Jobs on `bin/bosun server --virtual-nodes 3`, driven with the real
 * kubectl. Simulated nodes run Job pods for `simulation.bosun.dev/run-duration` (default 1s)
 * and exit with `simulation.bosun.dev/exit-code` (default 0). Covered: a Job completes and
 * `kubectl wait --for=condition=Complete` returns (kubectl 1.27 and 1.33); an Indexed Job's
 * indexes (annotation, label, env, hostname, completedIndexes "0-4"); BackoffLimitExceeded after
 * exit code 1 and the failure backoff; a pod failure policy FailJob on an exit code; suspend and
 * resume; activeDeadlineSeconds; ttlSecondsAfterFinished deleting the Job and its pods. The
 * scenarios run concurrently against one server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job, Pod } from '../../src/api/index.ts';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server!: ServerHandle;
useServer({ args: ['--virtual-nodes', '3'] }, (s) => (server = s));

const newest = kubectlVersions.at(-1)!;
const detail = () => server.output().slice(-3000);

async function apply(manifest: unknown): Promise<void> {
  await waitForServiceAccount(server, 'default');
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
}

/** A Job manifest: one busybox container, restartPolicy Never, the given spec and pod annotations. */
function jobManifest(name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: { ...spec, template: { ...(annotations ? { metadata: { annotations } } : {}), spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'true'] }] } } },
  };
}

async function getJob(name: string): Promise<Job | undefined> {
  const r = await kubectl(server, newest, ['get', 'job', name, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Job) : undefined;
}

async function jobPods(name: string): Promise<Pod[]> {
  return (JSON.parse(await kubectlOk(server, newest, ['get', 'pods', '-l', `batch.kubernetes.io/job-name=${name}`, '-o', 'json'])) as { items: Pod[] }).items;
}

const condition = (job: Job | undefined, type: string) => job?.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/** `kubectl wait --for=condition=<cond> job/<name>`; fails with kubectl's output otherwise. */
async function wait(name: string, cond: string, minor = newest, timeout = '90s'): Promise<void> {
  const r = await kubectl(server, minor, ['wait', `--for=condition=${cond}`, `job/${name}`, `--timeout=${timeout}`], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `kubectl ${minor} wait ${cond} job/${name}: ${r.stderr}${r.stdout}\n${detail()}`);
  assert.match(r.stdout, new RegExp(`job.batch/${name} condition met`));
}

async function events(name: string): Promise<string> {
  return kubectlOk(server, newest, ['get', 'events', '--field-selector', `involvedObject.kind=Job,involvedObject.name=${name}`, '-o', 'custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message', '--no-headers']);
}

describe('jobs on simulated nodes', { concurrency: true }, () => {
  for (const v of kubectlVersions) {
    test(`kubectl ${v}: a Job completes and kubectl wait --for=condition=Complete returns`, async () => {
      const name = `done-${v}`;
      await waitForServiceAccount(server, 'default');
      await kubectlOk(server, v, ['create', 'job', name, '--image=busybox', '--', 'true']);
      await wait(name, 'Complete', v);
      const job = (await getJob(name))!;
      assert.equal(job.status?.succeeded, 1);
      assert.ok(job.status?.completionTime);
      assert.deepEqual(job.status?.conditions?.map((c) => [c.type, c.reason]), [['SuccessCriteriaMet', 'CompletionsReached'], ['Complete', 'CompletionsReached']]);
      assert.match(await kubectlOk(server, v, ['get', 'job', name]), new RegExp(`${name}\\s+Complete\\s+1/1`));
      const [pod] = await jobPods(name);
      assert.equal(pod?.status?.phase, 'Succeeded');
      assert.equal(pod?.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
      assert.deepEqual(pod?.metadata.finalizers ?? [], [], 'the tracking finalizer is gone once counted');
      await until('Completed event', async () => (await events(name)).includes('Job completed'));
      assert.match(await events(name), new RegExp(`Normal\\s+SuccessfulCreate\\s+Created pod: ${name}-`));
      // Deleting the Job (kubectl's background propagation) takes its pod with it.
      await kubectlOk(server, v, ['delete', 'job', name]);
      await until('pod gone', async () => (await jobPods(name)).length === 0, { detail });
    });
  }

  test('an Indexed Job runs indexes 0-4 with their annotation, label, env and hostname', async () => {
    await apply(jobManifest('indexed', { completions: 5, parallelism: 3, completionMode: 'Indexed' }));
    await wait('indexed', 'Complete');
    const job = (await getJob('indexed'))!;
    assert.equal(job.status?.completedIndexes, '0-4');
    assert.equal(job.status?.succeeded, 5);
    const pods = await jobPods('indexed');
    assert.deepEqual(pods.map((p) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index']).sort(), ['0', '1', '2', '3', '4']);
    for (const p of pods) {
      const ix = p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'];
      assert.equal(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'], ix);
      assert.equal(p.spec?.hostname, `indexed-${ix}`);
      assert.match(p.metadata.name!, new RegExp(`^indexed-${ix}-`));
      assert.deepEqual(p.spec?.containers[0]?.env?.find((e) => e.name === 'JOB_COMPLETION_INDEX')?.valueFrom?.fieldRef?.fieldPath, "metadata.labels['batch.kubernetes.io/job-completion-index']");
    }
  });

  test('exit code 1 beyond backoffLimit fails the Job with BackoffLimitExceeded', async () => {
    await apply(jobManifest('flaky', { backoffLimit: 1 }, { 'simulation.bosun.dev/exit-code': '1' }));
    // Two pods, 10 s of failure backoff between them.
    await wait('flaky', 'Failed');
    const job = (await getJob('flaky'))!;
    assert.equal(job.status?.failed, 2);
    assert.equal(condition(job, 'Failed')?.reason, 'BackoffLimitExceeded');
    assert.equal(condition(job, 'Failed')?.message, 'Job has reached the specified backoff limit');
    const pods = await jobPods('flaky');
    assert.deepEqual(pods.map((p) => [p.status?.phase, p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode]), [['Failed', 1], ['Failed', 1]]);
    await until('BackoffLimitExceeded event', async () => /Warning\s+BackoffLimitExceeded\s+Job has reached the specified backoff limit/.test(await events('flaky')));
    assert.match(await kubectlOk(server, newest, ['get', 'job', 'flaky']), /flaky\s+Failed\s+0\/1/);
  });

  test('a pod failure policy FailJob rule fails the Job on exit code 42', async () => {
    const rules = [{ action: 'FailJob', onExitCodes: { containerName: 'c', operator: 'In', values: [42] } }];
    await apply(jobManifest('fatal', { backoffLimit: 6, podFailurePolicy: { rules } }, { 'simulation.bosun.dev/exit-code': '42' }));
    await wait('fatal', 'Failed');
    const job = (await getJob('fatal'))!;
    const [pod] = await jobPods('fatal');
    assert.equal(job.status?.failed, 1);
    assert.equal(condition(job, 'Failed')?.reason, 'PodFailurePolicy');
    assert.equal(condition(job, 'Failed')?.message, `Container c for pod default/${pod!.metadata.name} failed with exit code 42 matching FailJob rule at index 0`);
    assert.equal(condition(job, 'FailureTarget')?.reason, 'PodFailurePolicy');
  });

  test('a suspended Job starts nothing until resumed; suspending a running Job deletes its pods', async () => {
    await apply(jobManifest('later', { suspend: true, completions: 2, parallelism: 2 }));
    const suspended = await until('Suspended', async () => {
      const j = await getJob('later');
      return condition(j, 'Suspended') ? j : undefined;
    }, { detail });
    assert.equal(condition(suspended, 'Suspended')?.reason, 'JobSuspended');
    assert.equal(suspended.status?.startTime, undefined);
    assert.deepEqual(await jobPods('later'), []);
    assert.match(await kubectlOk(server, newest, ['get', 'job', 'later']), /later\s+Suspended/);
    await kubectlOk(server, newest, ['patch', 'job', 'later', '--type=merge', '-p', '{"spec":{"suspend":false}}']);
    await wait('later', 'Complete');
    const resumed = (await getJob('later'))!;
    assert.deepEqual(
      resumed.status?.conditions?.filter((c) => c.type === 'Suspended').map((c) => [c.status, c.reason, c.message]),
      [['False', 'JobResumed', 'Job resumed']],
    );

    await apply(jobManifest('paused', { completions: 2, parallelism: 2 }, { 'simulation.bosun.dev/run-duration': '1h' }));
    await until('2 active', async () => (await getJob('paused'))?.status?.active === 2, { detail });
    await kubectlOk(server, newest, ['patch', 'job', 'paused', '--type=merge', '-p', '{"spec":{"suspend":true}}']);
    await until('suspended with no pods', async () => {
      const j = await getJob('paused');
      return condition(j, 'Suspended') && (j?.status?.active ?? 0) === 0 && (await jobPods('paused')).length === 0;
    }, { timeoutMs: 30_000, detail });
    assert.match(await events('paused'), /Normal\s+Suspended\s+Job suspended/);
    await kubectlOk(server, newest, ['delete', 'job', 'paused']);
  });

  test('activeDeadlineSeconds fails a Job that runs too long and deletes its pods', async () => {
    await apply(jobManifest('deadline', { activeDeadlineSeconds: 2 }, { 'simulation.bosun.dev/run-duration': '1h' }));
    await wait('deadline', 'Failed');
    const job = (await getJob('deadline'))!;
    assert.equal(condition(job, 'Failed')?.reason, 'DeadlineExceeded');
    assert.equal(condition(job, 'Failed')?.message, 'Job was active longer than specified deadline');
    assert.equal(job.status?.failed, 1);
    await until('pods gone', async () => (await jobPods('deadline')).length === 0, { detail });
    assert.match(await events('deadline'), /Warning\s+DeadlineExceeded\s+Job was active longer than specified deadline/);
  });

  test('ttlSecondsAfterFinished deletes the finished Job and its pods', async () => {
    await apply(jobManifest('ephemeral', { ttlSecondsAfterFinished: 1, completions: 2, parallelism: 2 }));
    await until('pods created', async () => (await jobPods('ephemeral')).length === 2, { detail });
    await until('Job deleted', async () => (await getJob('ephemeral')) === undefined, { timeoutMs: 60_000, detail });
    await until('pods deleted', async () => (await jobPods('ephemeral')).length === 0, { timeoutMs: 30_000, detail });
  });
});
