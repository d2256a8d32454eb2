/**
 * Simulated nodes keep running through API failures: registration that meets a Conflict, a 429,
 * a 503 or a broken connection is retried with backoff (it once ended `bosun virtual-nodes`), and
 * a started pod's status leaves `qosClass` to the API server. A stub client stands in for the
 * API (the behaviour under test is the retry policy, not the API).
 *
 * Pods that finish: which pods do and how (tables over nodes-simulation.ts: durations, exit
 * codes, restarts with crash-loop back-off, the statuses written), then the node finishing a
 * running Job pod against the version it saw, and reporting a deleted pod that finalizers keep
 * as Failed before deleting it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiObject, Pod } from '../api/index.ts';
import { alreadyExists, conflict, statusError, tooManyRequests } from '../api/errors.ts';
import type { RestClient, WatchEvent } from '../client/index.ts';
import { limiter, podWriteConcurrency, retryDelay, retryInitialMs, retryMaxMs, runVirtualNodes } from './nodes.ts';
import { crashLoopDelay, nextTransitionAt, parseGoDurationMs, podSimulation, stoppedStatus, transition } from './nodes-simulation.ts';

interface Call {
  verb: string;
  resource: string;
  name?: string;
  body?: unknown;
}

/** A client whose writes fail with `failures` (in order, one per write) before succeeding. */
function stubClient(failures: Error[], podEvents: WatchEvent<Pod>[] = []) {
  const calls: Call[] = [];
  const fail = () => {
    const f = failures.shift();
    if (f) throw f;
  };
  const client = {
    async create(res: { resource: string }, o: ApiObject) {
      calls.push({ verb: 'create', resource: res.resource, name: o.metadata.name, body: o });
      fail();
      return { ...o, metadata: { ...o.metadata, resourceVersion: '1', uid: 'u' } };
    },
    async patch(res: { resource: string }, name: string, body: unknown) {
      calls.push({ verb: 'patch', resource: res.resource, name, body });
      fail();
      return {};
    },
    async patchStatus(res: { resource: string }, name: string, body: unknown) {
      calls.push({ verb: 'patchStatus', resource: res.resource, name, body });
      fail();
      return {};
    },
    async updateStatus(res: { resource: string }, o: ApiObject) {
      calls.push({ verb: 'updateStatus', resource: res.resource, name: o.metadata.name, body: o });
      fail();
      return o;
    },
    async delete(res: { resource: string }, name: string) {
      calls.push({ verb: 'delete', resource: res.resource, name });
      return {};
    },
    async list(res: { resource: string }) {
      return { items: [], metadata: { resourceVersion: res.resource === 'pods' ? '1' : '1' } };
    },
    async watch(res: { resource: string }, opts: { signal?: AbortSignal }) {
      const events = res.resource === 'pods' ? podEvents.splice(0) : [];
      return {
        close() {},
        async *[Symbol.asyncIterator]() {
          for (const e of events) yield e;
          await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve(), { once: true }));
        },
      };
    },
  };
  return { client: client as unknown as RestClient, calls };
}

const gr = { group: '', resource: 'nodes' };

test('registration survives a conflict, a 429, a 503 and a reset connection, and keeps running', async () => {
  const failures = [
    alreadyExists(gr, 'virtual-node-0'), // already registered: fine, not a failure
    conflict(gr, 'virtual-node-0', 'the object has been modified; please apply your changes to the latest version and try again'),
    tooManyRequests('too many requests'),
    statusError('ServiceUnavailable', 'the server is shutting down'),
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
  ];
  const { client, calls } = stubClient(failures);
  const logs: string[] = [];
  const ac = new AbortController();
  const run = runVirtualNodes({ client, count: 1, log: (m) => logs.push(m) }, ac.signal);
  const deadline = Date.now() + 20_000;
  while (!logs.some((m) => m.includes('1 registered')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(logs.some((m) => m.includes('1 registered')), logs.join('\n'));
  assert.equal(failures.length, 0);
  assert.ok(logs.filter((m) => m.includes('(retrying)')).length >= 4, logs.join('\n'));
  // The node status is a merge patch, never an update that a concurrent change could conflict with.
  assert.ok(!calls.some((c) => c.verb === 'updateStatus'));
  ac.abort();
  await run; // resolves: no rejection escaped
});

test('a bad count is the only thing that ends it', async () => {
  const { client } = stubClient([]);
  await assert.rejects(runVirtualNodes({ client, count: -1 }, new AbortController().signal), /count must be a non-negative integer/);
});

test('retry delays double from 200 ms to at most 7 s', () => {
  assert.equal(retryDelay(0), retryInitialMs);
  assert.equal(retryDelay(1), 2 * retryInitialMs);
  assert.equal(retryDelay(5), 32 * retryInitialMs);
  assert.equal(retryDelay(6), retryMaxMs);
  assert.equal(retryDelay(1000), retryMaxMs);
});

test('a started pod is Running and Ready without a qosClass written by the node', async () => {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'pu', resourceVersion: '2' },
    spec: { nodeName: 'virtual-node-0', containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: '100m' } } }] },
    status: { phase: 'Pending', qosClass: 'Burstable' },
  };
  const { client, calls } = stubClient([], [{ type: 'ADDED', object: pod }]);
  const ac = new AbortController();
  const run = runVirtualNodes({ client, count: 1 }, ac.signal);
  const deadline = Date.now() + 10_000;
  const started = () => calls.find((c) => c.verb === 'patchStatus' && c.resource === 'pods');
  while (!started() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const body = started()?.body as { status: Record<string, unknown> } | undefined;
  assert.equal(body?.status['phase'], 'Running');
  assert.equal('qosClass' in body!.status, false);
  ac.abort();
  await run;
});

// ---- pods that finish (nodes-simulation.ts) ---------------------------------------------------------

const t0 = Date.parse('2025-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const jobRef = { apiVersion: 'batch/v1', kind: 'Job', name: 'j', uid: 'ju', controller: true };

/** A running pod of container `c` started at t0 (`restarts` earlier crashes, `waiting` in back-off). */
function runningPod(x: { policy?: string; job?: boolean; annotations?: Record<string, string>; restarts?: number; waiting?: boolean } = {}): Pod {
  const state = x.waiting ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: { startedAt: iso(t0) } };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'pu', resourceVersion: '5', ...(x.job ? { ownerReferences: [jobRef] } : {}), ...(x.annotations ? { annotations: x.annotations } : {}) },
    spec: { nodeName: 'virtual-node-0', restartPolicy: x.policy ?? 'Never', containers: [{ name: 'c', image: 'i' }] },
    status: {
      phase: 'Running',
      qosClass: 'BestEffort',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: x.waiting && type.endsWith('Ready') && type !== 'PodReadyToStartContainers' ? 'False' : 'True', lastTransitionTime: iso(t0) })),
      containerStatuses: [{ name: 'c', image: 'i', imageID: '', containerID: 'virtual://pu/c', ready: !x.waiting, started: !x.waiting, restartCount: x.restarts ?? 0, state, ...(x.waiting ? { lastState: { terminated: { exitCode: 1, finishedAt: iso(t0) } } } : {}) }],
    },
  };
}

const simulationCases: { name: string; pod: Pod; want: ReturnType<typeof podSimulation> }[] = [
  { name: 'a Job pod runs 1 s and exits 0', pod: runningPod({ job: true }), want: { runMs: 1000, exitCode: 0 } },
  { name: 'annotations set the duration and the exit code', pod: runningPod({ job: true, annotations: { 'simulation.bosun.dev/run-duration': '1m30s', 'simulation.bosun.dev/exit-code': '3' } }), want: { runMs: 90_000, exitCode: 3 } },
  { name: 'another pod finishes only with the annotation', pod: runningPod(), want: undefined },
  { name: 'an annotated bare pod finishes', pod: runningPod({ annotations: { 'simulation.bosun.dev/run-duration': '250ms' } }), want: { runMs: 250, exitCode: 0 } },
  { name: 'restartPolicy Always never finishes', pod: runningPod({ policy: 'Always', job: true }), want: undefined },
  { name: 'a malformed duration is ignored', pod: runningPod({ annotations: { 'simulation.bosun.dev/run-duration': 'soon' } }), want: undefined },
];
for (const c of simulationCases) test(`simulation: ${c.name}`, () => assert.deepEqual(podSimulation(c.pod), c.want));

test('Go durations parse as upstream writes them', () => {
  assert.deepEqual(['1s', '500ms', '1h2m3s', '1.5s', '0', '2x', ''].map(parseGoDurationMs), [1000, 500, 3_723_000, 1500, 0, undefined, undefined]);
});

test('crash-loop back-off: the first restart at once, then 10 s doubling to 5 min', () => {
  assert.deepEqual([1, 2, 3, 4, 7, 8, 50].map(crashLoopDelay), [0, 10_000, 20_000, 40_000, 300_000, 300_000, 300_000]);
});

test('a finished pod is Succeeded with its container Completed and not ready', () => {
  const pod = runningPod({ job: true });
  assert.equal(nextTransitionAt(pod), t0 + 1000);
  const s = transition(pod, t0 + 1000)!;
  assert.equal(s.phase, 'Succeeded');
  assert.equal('qosClass' in s, false);
  assert.deepEqual(s.containerStatuses?.[0]?.state, { terminated: { exitCode: 0, reason: 'Completed', startedAt: iso(t0), finishedAt: iso(t0 + 1000), containerID: 'virtual://pu/c' } });
  assert.equal(s.containerStatuses?.[0]?.ready, false);
  const ready = s.conditions?.find((c) => c.type === 'Ready');
  assert.deepEqual([ready?.status, ready?.reason], ['False', 'PodCompleted']);
  assert.deepEqual(s.conditions?.map((c) => c.type), ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']);
});

test('a non-zero exit with restartPolicy Never fails the pod with reason Error', () => {
  const s = transition(runningPod({ job: true, annotations: { 'simulation.bosun.dev/exit-code': '42' } }), t0 + 1000)!;
  assert.equal(s.phase, 'Failed');
  assert.deepEqual([s.containerStatuses?.[0]?.state?.terminated?.exitCode, s.containerStatuses?.[0]?.state?.terminated?.reason], [42, 'Error']);
  assert.equal(s.conditions?.find((c) => c.type === 'Ready')?.message, 'containers with unready status: [c]');
});

test('OnFailure restarts: at once the first time, then in CrashLoopBackOff until the back-off passed', () => {
  const annotations = { 'simulation.bosun.dev/exit-code': '1' };
  const first = transition(runningPod({ job: true, policy: 'OnFailure', annotations }), t0 + 1000)!;
  assert.equal(first.phase, undefined, 'stays Running');
  assert.deepEqual([first.containerStatuses?.[0]?.restartCount, first.containerStatuses?.[0]?.ready], [1, true]);
  assert.deepEqual(first.containerStatuses?.[0]?.state, { running: { startedAt: iso(t0 + 1000) } });
  assert.equal(first.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
  const second = transition(runningPod({ job: true, policy: 'OnFailure', annotations, restarts: 1 }), t0 + 1000)!;
  assert.equal(second.containerStatuses?.[0]?.restartCount, 2);
  assert.equal(second.containerStatuses?.[0]?.state?.waiting?.reason, 'CrashLoopBackOff');
  assert.equal(second.containerStatuses?.[0]?.state?.waiting?.message, 'back-off 10s restarting failed container=c pod=p_default(pu)');
  assert.equal(second.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
  // Waiting: due 10 s after the exit, then running again and ready.
  const waiting = runningPod({ job: true, policy: 'OnFailure', annotations, restarts: 2, waiting: true });
  assert.equal(nextTransitionAt(waiting), t0 + 10_000);
  const back = transition(waiting, t0 + 10_000)!;
  assert.deepEqual(back.containerStatuses?.[0]?.state, { running: { startedAt: iso(t0 + 10_000) } });
  assert.equal(back.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
});

test('a stopped pod is Failed with its running containers terminated by SIGTERM', () => {
  const s = stoppedStatus(runningPod(), t0 + 5000);
  assert.equal(s.phase, 'Failed');
  assert.deepEqual(s.containerStatuses?.[0]?.state?.terminated, { exitCode: 143, reason: 'Error', startedAt: iso(t0), finishedAt: iso(t0 + 5000), containerID: 'virtual://pu/c' });
});

test('a running Job pod whose time is up is finished against the version seen', async () => {
  const pod = runningPod({ job: true });
  const { client, calls } = stubClient([], [{ type: 'ADDED', object: pod }]);
  const ac = new AbortController();
  const run = runVirtualNodes({ client, count: 1 }, ac.signal);
  const deadline = Date.now() + 10_000;
  const finished = () => calls.find((c) => c.verb === 'patchStatus' && c.resource === 'pods');
  while (!finished() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const body = finished()?.body as { metadata: { resourceVersion: string }; status: Record<string, unknown> } | undefined;
  assert.equal(body?.status['phase'], 'Succeeded');
  assert.equal(body?.metadata.resourceVersion, '5');
  ac.abort();
  await run;
});

test('a deleted pod that finalizers keep is reported Failed, then deleted', async () => {
  const pod = runningPod({ job: true, annotations: { 'simulation.bosun.dev/run-duration': '1h' } });
  pod.metadata.deletionTimestamp = iso(Date.now());
  pod.metadata.deletionGracePeriodSeconds = 30;
  pod.metadata.finalizers = ['batch.kubernetes.io/job-tracking'];
  const { client, calls } = stubClient([], [{ type: 'ADDED', object: pod }]);
  const ac = new AbortController();
  const run = runVirtualNodes({ client, count: 1 }, ac.signal);
  const deadline = Date.now() + 10_000;
  const deleted = () => calls.find((c) => c.verb === 'delete' && c.resource === 'pods');
  while (!deleted() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const podCalls = calls.filter((c) => c.resource === 'pods').map((c) => [c.verb, (c.body as { status?: { phase?: string } } | undefined)?.status?.phase]);
  assert.deepEqual(podCalls, [['patchStatus', 'Failed'], ['delete', undefined]]);
  ac.abort();
  await run;
});

test('the pod-write limiter never runs more than its bound at once and runs everything in order', async () => {
  const limit = limiter(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 7 }, (_, i) =>
      limit(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        order.push(i);
        running--;
      }),
    ),
  );
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
  assert.ok(podWriteConcurrency > 0);
});
