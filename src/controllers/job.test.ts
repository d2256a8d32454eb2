/**
 * The Job controller against the in-process API server on a temporary SQLite store. No
 * scheduler or node runs: the test plays the kubelet, finishing pods by writing their status
 * (and removing deleted pods once stopped). The pod-failure backoff and the sync batching are
 * shortened through the controller's options; each test has its own namespace.
 *
 * Covered: completions and parallelism with the tracking finalizer and the two-step Complete;
 * Indexed Jobs (annotation, label, env, hostname, completedIndexes); backoffLimit with the
 * failure backoff; OnFailure restarts against backoffLimit; pod failure policy FailJob and
 * Ignore; backoffLimitPerIndex with failedIndexes; success policy; activeDeadlineSeconds;
 * suspend and resume; podReplacementPolicy Failed and status.terminating; adoption of an
 * orphan; managedBy; the finalizers of a deleted Job's pods.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Binding, Job, JobSpec, Pod } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import type { ApiObject } from '../api/index.ts';
import { InformerFactory, resources, type Clientset, type ObjectReference, type Recorder } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { startJobController } from './job.ts';
import { startTestApi, until, type TestApi } from './testing.ts';

let testApi: TestApi | undefined;
let cs: Clientset;
const events: string[] = [];
const ac = new AbortController();
let informers: InformerFactory;

before(async () => {
  testApi = await startTestApi('job-test');
  cs = testApi.cs;
  informers = new InformerFactory(testApi.client, { log: () => {} });
  const recorder: Recorder = {
    event(obj: ApiObject | ObjectReference, type: string, reason: string, message: string) {
      const o = 'metadata' in obj ? obj.metadata : obj;
      events.push(`${o.namespace}/${o.name} ${type} ${reason} ${message}`);
    },
  };
  const ctx: ControllerContext = { client: testApi.client, config: defaultControllerConfig, informers, recorder: () => recorder, signal: ac.signal, log: (m) => { if (process.env['JOB_TEST_LOG']) console.error(m); } };
  startJobController(ctx, { syncBatchMs: 20, podFailureBackoffMs: 200, maxPodFailureBackoffMs: 800 });
  informers.start(ac.signal);
});
after(async () => {
  ac.abort();
  await informers?.stopped();
  await testApi?.close();
});

// ---- fixtures: a namespace per test, Jobs, and the test as kubelet -----------------------------------

let nsCount = 0;
async function namespace(): Promise<string> {
  const ns = `job-${++nsCount}`;
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // Pods need their service account (no serviceaccount controller runs here).
  await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }, { namespace: ns });
  return ns;
}

async function createJob(ns: string, name: string, spec: Partial<JobSpec>, annotations?: Record<string, string>): Promise<Job> {
  const template = { ...(annotations ? { metadata: { annotations } } : {}), spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } };
  return cs.jobs.create({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: ns }, spec: { template, ...spec } as JobSpec }, { namespace: ns });
}

const getJob = (ns: string, name: string) => cs.jobs.get(name, { namespace: ns });
const jobPods = async (ns: string, name: string): Promise<Pod[]> => (await cs.pods.list({ namespace: ns, labelSelector: `batch.kubernetes.io/job-name=${name}` })).items;
const condition = (job: Job, type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/** Waits until the Job satisfies `pred`; returns it. */
const jobUntil = (ns: string, name: string, what: string, pred: (j: Job) => boolean) =>
  until(`${ns}/${name}: ${what}`, async () => {
    const j = await getJob(ns, name);
    return pred(j) ? j : undefined;
  });

/** Waits for `n` live (not finished, not deleting) pods of the Job; returns them. */
const livePods = (ns: string, name: string, n: number) =>
  until(`${n} live pods of ${ns}/${name}`, async () => {
    const pods = (await jobPods(ns, name)).filter((p) => !p.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));
    return pods.length === n ? pods : undefined;
  });

/** The scheduler placing pods on a node (deleted pods then stop gracefully instead of going at once). */
async function bind(pods: Pod[]): Promise<void> {
  for (const p of pods) {
    const binding: Binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: p.metadata.name, namespace: p.metadata.namespace }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-a' } };
    await testApi!.client.create<Binding>(resources.pods, binding, { namespace: p.metadata.namespace, subresource: 'binding' }).catch((err: unknown) => {
      // A pod the controller deleted meanwhile (a deadline passed on a loaded machine) needs no node:
      // its tracking finalizer keeps it until it is counted, as for a bound one.
      if (!isConflict(err) || !/is being deleted/.test((err as Error).message)) throw err;
    });
  }
}

/** The kubelet reporting a pod running and ready. */
async function run(pod: Pod): Promise<void> {
  const now = new Date().toISOString();
  await cs.pods.updateStatus({ ...pod, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }], containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: now } } }] } }, { namespace: pod.metadata.namespace });
}

/** The kubelet reporting a pod finished with `exitCode` (Succeeded for 0). */
async function finish(pod: Pod, exitCode: number): Promise<void> {
  const live = await cs.pods.get(pod.metadata.name!, { namespace: pod.metadata.namespace });
  const now = new Date().toISOString();
  await cs.pods.updateStatus(
    {
      ...live,
      status: {
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }],
        containerStatuses: [{ name: 'c', ready: false, restartCount: 0, image: 'busybox', imageID: '', state: { terminated: { exitCode, finishedAt: now } } }],
      },
    },
    { namespace: pod.metadata.namespace },
  );
}

/** The kubelet stopping deleted pods: reported Failed when finalizers keep them, then removed. */
async function reap(ns: string, name: string): Promise<void> {
  for (const pod of await jobPods(ns, name)) {
    if (!pod.metadata.deletionTimestamp) continue;
    if (pod.metadata.finalizers?.length && !['Succeeded', 'Failed'].includes(pod.status?.phase ?? '')) await finish(pod, 143).catch(() => {});
    await cs.pods.delete(pod.metadata.name!, { namespace: ns, gracePeriodSeconds: 0 }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
}

const eventsOf = (ns: string, name: string) => events.filter((e) => e.startsWith(`${ns}/${name} `)).map((e) => e.slice(ns.length + name.length + 2));

// ---- tests -------------------------------------------------------------------------------------------

describe('job controller', () => {
  test('pods are created up to parallelism with the tracking finalizer; the Job completes in two steps', async () => {
    const ns = await namespace();
    const job = await createJob(ns, 'work', { completions: 3, parallelism: 2 });
    const first = await livePods(ns, 'work', 2);
    for (const p of first) {
      assert.deepEqual(p.metadata.finalizers, ['batch.kubernetes.io/job-tracking']);
      assert.equal(p.metadata.ownerReferences?.[0]?.uid, job.metadata.uid);
      assert.equal(p.metadata.ownerReferences?.[0]?.controller, true);
      assert.match(p.metadata.name!, /^work-[a-z0-9]{5}$/);
    }
    await run(first[0]!);
    await jobUntil(ns, 'work', 'active 2, ready 1', (j) => j.status?.active === 2 && j.status.ready === 1 && !!j.status.startTime);
    await finish(first[0]!, 0);
    const second = await until('a third pod', async () => {
      const all = await jobPods(ns, 'work');
      return all.length === 3 ? all : undefined;
    });
    for (const p of second) if (p.status?.phase !== 'Succeeded') await finish(p, 0);
    const done = await jobUntil(ns, 'work', 'Complete', (j) => !!condition(j, 'Complete'));
    assert.equal(done.status?.succeeded, 3);
    assert.equal(done.status?.active ?? 0, 0);
    assert.ok(done.status?.completionTime);
    assert.deepEqual(
      done.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]),
      [
        ['SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods'],
        ['Complete', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods'],
      ],
    );
    // Counted pods lost their finalizer.
    for (const p of await jobPods(ns, 'work')) assert.deepEqual(p.metadata.finalizers ?? [], []);
    const ev = eventsOf(ns, 'work');
    assert.equal(ev.filter((e) => e.startsWith('Normal SuccessfulCreate Created pod: work-')).length, 3);
    assert.ok(ev.includes('Normal Completed Job completed'), ev.join('\n'));
  });

  test('an Indexed Job gives each pod its index, env var and hostname, and reports completedIndexes', async () => {
    const ns = await namespace();
    await createJob(ns, 'idx', { completions: 3, parallelism: 3, completionMode: 'Indexed' });
    const pods = await livePods(ns, 'idx', 3);
    const byIndex = new Map(pods.map((p) => [p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'], p]));
    assert.deepEqual([...byIndex.keys()].sort(), ['0', '1', '2']);
    for (const [ix, p] of byIndex) {
      assert.equal(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'], ix);
      assert.equal(p.spec?.hostname, `idx-${ix}`);
      assert.match(p.metadata.name!, new RegExp(`^idx-${ix}-[a-z0-9]{5}$`));
      assert.deepEqual(p.spec?.containers[0]?.env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.labels['batch.kubernetes.io/job-completion-index']" } } }]);
    }
    await finish(byIndex.get('1')!, 0);
    await jobUntil(ns, 'idx', 'completedIndexes 1', (j) => j.status?.completedIndexes === '1' && j.status.succeeded === 1);
    await finish(byIndex.get('0')!, 0);
    await finish(byIndex.get('2')!, 0);
    const done = await jobUntil(ns, 'idx', 'Complete', (j) => !!condition(j, 'Complete'));
    assert.equal(done.status?.completedIndexes, '0-2');
  });

  test('failures beyond backoffLimit fail the Job after backing off between pods', async () => {
    const ns = await namespace();
    await createJob(ns, 'flaky', { backoffLimit: 1 });
    const [a] = await livePods(ns, 'flaky', 1);
    await finish(a!, 1);
    await jobUntil(ns, 'flaky', 'failed 1', (j) => j.status?.failed === 1);
    const [b] = await livePods(ns, 'flaky', 1);
    assert.notEqual(b!.metadata.name, a!.metadata.name);
    await finish(b!, 1);
    const failed = await jobUntil(ns, 'flaky', 'Failed', (j) => !!condition(j, 'Failed'));
    assert.equal(failed.status?.failed, 2);
    assert.deepEqual(
      failed.status?.conditions?.map((c) => [c.type, c.reason, c.message]),
      [
        ['FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'],
        ['Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'],
      ],
    );
    assert.ok(eventsOf(ns, 'flaky').includes('Warning BackoffLimitExceeded Job has reached the specified backoff limit'));
    assert.equal(failed.status?.completionTime, undefined);
  });

  test('restarts of OnFailure pods count against backoffLimit', async () => {
    const ns = await namespace();
    await cs.jobs.create(
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'crashy', namespace: ns }, spec: { backoffLimit: 2, template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox' }] } } } },
      { namespace: ns },
    );
    const [p] = await livePods(ns, 'crashy', 1);
    await cs.pods.updateStatus({ ...p!, status: { phase: 'Running', containerStatuses: [{ name: 'c', ready: false, restartCount: 2, image: 'busybox', imageID: '', state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }, { namespace: ns });
    const failed = await until('Failed or FailureTarget', async () => {
      const j = await getJob(ns, 'crashy');
      return condition(j, 'FailureTarget') ? j : undefined;
    });
    assert.equal(condition(failed, 'FailureTarget')?.reason, 'BackoffLimitExceeded');
    // Its pod is deleted; once the kubelet stopped it the Job is Failed.
    await until('pod deleted', async () => ((await jobPods(ns, 'crashy')).every((x) => x.metadata.deletionTimestamp) ? true : undefined));
    await reap(ns, 'crashy');
    await jobUntil(ns, 'crashy', 'Failed', (j) => !!condition(j, 'Failed'));
  });

  test('a FailJob rule of the pod failure policy fails the Job with its message', async () => {
    const ns = await namespace();
    await createJob(ns, 'pfp', { parallelism: 2, completions: 4, podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { containerName: 'c', operator: 'In', values: [42] } }] } });
    const [a, b] = await livePods(ns, 'pfp', 2);
    await bind([a!, b!]);
    await finish(a!, 42);
    const target = await jobUntil(ns, 'pfp', 'FailureTarget', (j) => !!condition(j, 'FailureTarget'));
    const want = `Container c for pod ${ns}/${a!.metadata.name} failed with exit code 42 matching FailJob rule at index 0`;
    assert.equal(condition(target, 'FailureTarget')?.reason, 'PodFailurePolicy');
    assert.equal(condition(target, 'FailureTarget')?.message, want);
    // The other pod is being deleted; with a pod failure policy it is only replaced once failed,
    // and the Job waits for it to stop before it is Failed.
    await until('b deleted', async () => ((await cs.pods.get(b!.metadata.name!, { namespace: ns })).metadata.deletionTimestamp ? true : undefined));
    const waiting = await getJob(ns, 'pfp');
    assert.equal(condition(waiting, 'Failed'), undefined);
    await reap(ns, 'pfp');
    const failed = await jobUntil(ns, 'pfp', 'Failed', (j) => !!condition(j, 'Failed'));
    assert.equal(condition(failed, 'Failed')?.message, want);
    assert.equal(failed.status?.terminating, 0);
    assert.ok(eventsOf(ns, 'pfp').includes(`Warning PodFailurePolicy ${want}`));
  });

  test('an Ignore rule does not count the failure and the pod is replaced', async () => {
    const ns = await namespace();
    await createJob(ns, 'ign', { backoffLimit: 0, podFailurePolicy: { rules: [{ action: 'Ignore', onExitCodes: { operator: 'In', values: [7] } }] } });
    const [a] = await livePods(ns, 'ign', 1);
    await finish(a!, 7);
    const [b] = await livePods(ns, 'ign', 1);
    assert.notEqual(b!.metadata.name, a!.metadata.name);
    await finish(b!, 0);
    const done = await jobUntil(ns, 'ign', 'Complete', (j) => !!condition(j, 'Complete'));
    assert.equal(done.status?.failed ?? 0, 0);
  });

  test('backoffLimitPerIndex fails indexes on their own and the Job with FailedIndexes', async () => {
    const ns = await namespace();
    await createJob(ns, 'per', { completions: 2, parallelism: 2, completionMode: 'Indexed', backoffLimitPerIndex: 0 });
    const pods = await livePods(ns, 'per', 2);
    const ix = (p: Pod) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'];
    for (const p of pods) assert.equal(p.metadata.annotations?.['batch.kubernetes.io/job-index-failure-count'], '0');
    await finish(pods.find((p) => ix(p) === '0')!, 1);
    await jobUntil(ns, 'per', 'failedIndexes 0', (j) => j.status?.failedIndexes === '0');
    await finish(pods.find((p) => ix(p) === '1')!, 0);
    const failed = await jobUntil(ns, 'per', 'Failed', (j) => !!condition(j, 'Failed'));
    assert.equal(condition(failed, 'Failed')?.reason, 'FailedIndexes');
    assert.equal(condition(failed, 'Failed')?.message, 'Job has failed indexes');
    assert.equal(failed.status?.completedIndexes, '1');
  });

  test('a met success policy ends the Job early, deleting the other pods', async () => {
    const ns = await namespace();
    await createJob(ns, 'leader', { completions: 3, parallelism: 3, completionMode: 'Indexed', successPolicy: { rules: [{ succeededIndexes: '0' }] } });
    const pods = await livePods(ns, 'leader', 3);
    await bind(pods);
    await finish(pods.find((p) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'] === '0')!, 0);
    const met = await jobUntil(ns, 'leader', 'SuccessCriteriaMet', (j) => !!condition(j, 'SuccessCriteriaMet'));
    assert.equal(condition(met, 'SuccessCriteriaMet')?.reason, 'SuccessPolicy');
    assert.equal(condition(met, 'SuccessCriteriaMet')?.message, 'Matched rules at index 0');
    await until('others deleted', async () => ((await jobPods(ns, 'leader')).filter((p) => p.metadata.deletionTimestamp).length === 2 ? true : undefined));
    await reap(ns, 'leader');
    const done = await jobUntil(ns, 'leader', 'Complete', (j) => !!condition(j, 'Complete'));
    assert.equal(condition(done, 'Complete')?.reason, 'SuccessPolicy');
    assert.equal(done.status?.completedIndexes, '0');
  });

  test('activeDeadlineSeconds fails the Job with DeadlineExceeded and deletes its pods', async () => {
    const ns = await namespace();
    await createJob(ns, 'slow', { activeDeadlineSeconds: 2, parallelism: 2, completions: 2 });
    await bind(await livePods(ns, 'slow', 2));
    const target = await jobUntil(ns, 'slow', 'FailureTarget', (j) => !!condition(j, 'FailureTarget'));
    assert.equal(condition(target, 'FailureTarget')?.reason, 'DeadlineExceeded');
    assert.equal(condition(target, 'FailureTarget')?.message, 'Job was active longer than specified deadline');
    await until('pods deleted', async () => ((await jobPods(ns, 'slow')).filter((p) => p.metadata.deletionTimestamp).length === 2 ? true : undefined));
    await reap(ns, 'slow');
    const failed = await jobUntil(ns, 'slow', 'Failed', (j) => !!condition(j, 'Failed'));
    assert.equal(failed.status?.failed, 2);
    assert.equal(failed.status?.active ?? 0, 0);
  });

  test('a suspended Job has no pods; resuming starts them and resets startTime; suspending again deletes them', async () => {
    const ns = await namespace();
    await createJob(ns, 'sus', { suspend: true, parallelism: 2, completions: 2 });
    const suspended = await jobUntil(ns, 'sus', 'Suspended', (j) => !!condition(j, 'Suspended'));
    assert.equal(condition(suspended, 'Suspended')?.reason, 'JobSuspended');
    assert.equal(suspended.status?.startTime, undefined);
    assert.deepEqual(await jobPods(ns, 'sus'), []);
    await cs.jobs.patch('sus', { spec: { suspend: false } }, { type: 'merge', namespace: ns });
    await livePods(ns, 'sus', 2);
    const resumed = await jobUntil(ns, 'sus', 'resumed', (j) => j.status?.conditions?.some((c) => c.type === 'Suspended' && c.status === 'False') ?? false);
    const cond = resumed.status?.conditions?.find((c) => c.type === 'Suspended');
    assert.deepEqual([cond?.reason, cond?.message], ['JobResumed', 'Job resumed']);
    assert.ok(resumed.status?.startTime);
    await cs.jobs.patch('sus', { spec: { suspend: true } }, { type: 'merge', namespace: ns });
    await jobUntil(ns, 'sus', 'suspended again, no active pods', (j) => !!condition(j, 'Suspended') && (j.status?.active ?? 0) === 0);
    // Deleted pods of a suspended Job lose their finalizer first: they are not counted as failures.
    const pods = await jobPods(ns, 'sus');
    assert.ok(pods.every((p) => p.metadata.deletionTimestamp && !p.metadata.finalizers?.length));
    assert.equal((await getJob(ns, 'sus')).status?.failed ?? 0, 0);
    const ev = eventsOf(ns, 'sus');
    assert.ok(ev.includes('Normal Suspended Job suspended') && ev.includes('Normal Resumed Job resumed'), ev.join('\n'));
    assert.equal(ev.filter((e) => e.startsWith('Normal SuccessfulDelete')).length, 2);
  });

  test('podReplacementPolicy Failed replaces a deleted pod only once it failed; terminating is reported', async () => {
    const ns = await namespace();
    await createJob(ns, 'repl', { podReplacementPolicy: 'Failed' });
    const [a] = await livePods(ns, 'repl', 1);
    await bind([a!]);
    await cs.pods.delete(a!.metadata.name!, { namespace: ns });
    await jobUntil(ns, 'repl', 'terminating 1', (j) => j.status?.terminating === 1 && (j.status.active ?? 0) === 0);
    assert.equal((await jobPods(ns, 'repl')).length, 1, 'not replaced while terminating');
    await finish(a!, 143);
    const [b] = await livePods(ns, 'repl', 1);
    assert.notEqual(b!.metadata.name, a!.metadata.name);
    await jobUntil(ns, 'repl', 'failed 1, terminating 0', (j) => j.status?.failed === 1 && j.status.terminating === 0);
  });

  test('a matching finished orphan is adopted and counted; a Job managed elsewhere is left alone', async () => {
    const ns = await namespace();
    const labels = { app: 'adopt' };
    const stray = await cs.pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'stray', namespace: ns, labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } }, { namespace: ns });
    await finish(stray, 0);
    const job = await createJob(ns, 'adopt', { completions: 2, manualSelector: true, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } });
    const adopted = await until('adopted', async () => {
      const p = await cs.pods.get('stray', { namespace: ns });
      return p.metadata.ownerReferences?.some((r) => r.uid === job.metadata.uid && r.controller) ? p : undefined;
    });
    assert.equal(adopted.metadata.ownerReferences?.length, 1);
    await jobUntil(ns, 'adopt', 'the orphan counted', (j) => j.status?.succeeded === 1);

    await createJob(ns, 'foreign', { managedBy: 'example.com/other' });
    await createJob(ns, 'mine', {});
    await livePods(ns, 'mine', 1);
    assert.deepEqual(await jobPods(ns, 'foreign'), []);
    assert.equal((await getJob(ns, 'foreign')).status?.startTime, undefined);
  });

  test('the pods of a deleted Job lose their finalizer', async () => {
    const ns = await namespace();
    await createJob(ns, 'gone', { parallelism: 2, completions: 2 });
    const pods = await livePods(ns, 'gone', 2);
    await cs.jobs.delete('gone', { namespace: ns, propagationPolicy: 'Orphan' });
    await until('finalizers removed', async () => {
      const now = await Promise.all(pods.map((p) => cs.pods.get(p.metadata.name!, { namespace: ns })));
      return now.every((p) => !p.metadata.finalizers?.length) ? true : undefined;
    });
  });
});
