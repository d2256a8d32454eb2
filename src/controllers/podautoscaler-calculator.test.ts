/**
 * The HPA replica calculator as tables: upstream's replica_calculator_test.go scenarios (scale up
 * and down, tolerance, unready and missing pods, the CPU initialization period, raw values,
 * container metrics, sidecars) with the numbers worked out by hand from upstream's formulas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../api/index.ts';
import { calculateRequests, groupPods, plainMetricReplicas, resourceReplicas, perPodReplicas, usageRatioReplicaCount, type GroupingOptions } from './podautoscaler-calculator.ts';
import type { PodMetricsInfo } from './podautoscaler-metrics.ts';

const now = Date.UTC(2025, 0, 1, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const min = 60_000;
const grouping: GroupingOptions = { cpuInitializationPeriodMs: 5 * min, delayOfInitialReadinessStatusMs: 30_000, now };
const tol = { scaleUp: 0.1, scaleDown: 0.1 };

interface PodOpts {
  cpu?: string;
  memory?: string;
  phase?: string;
  ready?: 'True' | 'False' | 'none';
  /** When the pod started, ms before now (default 10 min: past the CPU initialization period). */
  startedAgo?: number;
  /** When Ready last changed, ms before now (default: 9 min). */
  readySinceAgo?: number;
  deleted?: boolean;
  containers?: { name: string; cpu?: string }[];
  sidecarCpu?: string;
}

function pod(name: string, o: PodOpts = {}): Pod {
  const containers = o.containers ?? [{ name: 'app', cpu: o.cpu ?? '1' }];
  const ready = o.ready ?? 'True';
  return {
    metadata: { name, namespace: 'ns', ...(o.deleted ? { deletionTimestamp: iso(now) } : {}) },
    spec: {
      containers: containers.map((c) => ({ name: c.name, image: 'busybox', resources: { requests: { ...(c.cpu !== undefined ? { cpu: c.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}) } } })),
      ...(o.sidecarCpu ? { initContainers: [{ name: 'side', image: 'busybox', restartPolicy: 'Always', resources: { requests: { cpu: o.sidecarCpu } } }] } : {}),
    },
    status: {
      phase: o.phase ?? 'Running',
      startTime: iso(now - (o.startedAgo ?? 10 * min)),
      ...(ready === 'none' ? {} : { conditions: [{ type: 'Ready', status: ready, lastTransitionTime: iso(now - (o.readySinceAgo ?? 9 * min)) }] }),
    },
  };
}

/** Samples in milli-units by pod name, taken now over a 30 s window unless `at` says otherwise. */
function samples(values: Record<string, number>, at = now): PodMetricsInfo {
  return new Map(Object.entries(values).map(([k, v]) => [k, { timestampMs: at, windowMs: 30_000, value: v }]));
}

const pods3 = (o: PodOpts[] = [{}, {}, {}]) => o.map((x, i) => pod(`p${i}`, x));

const utilizationCases: { name: string; current: number; pods: Pod[]; metrics: PodMetricsInfo; target: number; want: number; wantUtilization: number; wantRaw?: number }[] = [
  { name: 'scale up: 50% of 30% over 3 pods is 5', current: 3, pods: pods3(), metrics: samples({ p0: 300, p1: 500, p2: 700 }), target: 30, want: 5, wantUtilization: 50, wantRaw: 500 },
  { name: 'scale down: 28% of 50% over 5 pods is 3', current: 5, pods: [0, 1, 2, 3, 4].map((i) => pod(`p${i}`)), metrics: samples({ p0: 100, p1: 300, p2: 500, p3: 250, p4: 250 }), target: 50, want: 3, wantUtilization: 28 },
  { name: 'within the tolerance nothing changes', current: 3, pods: pods3([{ cpu: '900m' }, { cpu: '1' }, { cpu: '1100m' }]), metrics: samples({ p0: 1010, p1: 1030, p2: 1020 }), target: 100, want: 3, wantUtilization: 102 },
  {
    name: 'an unready pod counts as 0 on a scale-up (less scale)',
    current: 3,
    pods: pods3([{ ready: 'False', startedAgo: 10 * min, readySinceAgo: 9 * min + 50_000 }, {}, {}]),
    metrics: samples({ p0: 300, p1: 500, p2: 700 }),
    target: 30,
    want: 4,
    wantUtilization: 60,
  },
  {
    name: 'unready pods that would turn a scale-up into a scale-down keep the count',
    current: 3,
    pods: pods3([{}, { ready: 'False', readySinceAgo: 9 * min + 50_000 }, { ready: 'False', readySinceAgo: 9 * min + 50_000 }]),
    metrics: samples({ p0: 400, p1: 500, p2: 700 }),
    target: 30,
    want: 3,
    wantUtilization: 40,
  },
  {
    name: 'unready pods are left out of a scale-down',
    current: 5,
    pods: [0, 1, 2, 3, 4].map((i) => pod(`p${i}`, i >= 3 ? { ready: 'False', readySinceAgo: 9 * min + 50_000 } : {})),
    metrics: samples({ p0: 100, p1: 300, p2: 500, p3: 250, p4: 250 }),
    target: 50,
    want: 2,
    wantUtilization: 30,
  },
  {
    name: 'a pod that was ready and turned unready still counts (outside the initialization period)',
    current: 2,
    pods: [pod('p0'), pod('p1', { ready: 'False', readySinceAgo: 1 * min })],
    metrics: samples({ p0: 1000, p1: 1000 }),
    target: 50,
    want: 4,
    wantUtilization: 100,
  },
  {
    name: 'hot CPU: a pod sampled less than a window after it turned ready is unready',
    current: 2,
    pods: [pod('p0'), pod('p1', { startedAgo: 1 * min, readySinceAgo: 10_000 })],
    metrics: samples({ p0: 1000, p1: 5000 }),
    target: 100,
    want: 2,
    wantUtilization: 100,
  },
  {
    name: 'a young pod sampled a whole window after readiness counts',
    current: 2,
    pods: [pod('p0'), pod('p1', { startedAgo: 1 * min, readySinceAgo: 40_000 })],
    metrics: samples({ p0: 1000, p1: 5000 }),
    target: 100,
    want: 6,
    wantUtilization: 300,
  },
  {
    name: 'a missing pod counts as 0 on a scale-up',
    current: 3,
    pods: pods3(),
    metrics: samples({ p0: 1500, p1: 1500 }),
    target: 50,
    want: 6,
    wantUtilization: 150,
  },
  {
    name: 'a missing pod counts as its whole request on a scale-down',
    current: 4,
    pods: [0, 1, 2, 3].map((i) => pod(`p${i}`)),
    metrics: samples({ p0: 100, p1: 100, p2: 100 }),
    target: 50,
    want: 3,
    wantUtilization: 10,
  },
  {
    name: 'a missing pod on a scale-down above 100% counts as the target',
    current: 4,
    pods: [0, 1, 2, 3].map((i) => pod(`p${i}`)),
    metrics: samples({ p0: 100, p1: 100, p2: 100 }),
    target: 200,
    want: 2,
    wantUtilization: 10,
  },
  {
    name: 'a missing pod that flips the direction keeps the count',
    current: 2,
    pods: [pod('p0'), pod('p1')],
    metrics: samples({ p0: 1900 }),
    target: 100,
    want: 2,
    wantUtilization: 190,
  },
  {
    name: 'deleted and failed pods are ignored; pending pods are unready',
    current: 3,
    pods: [pod('p0'), pod('p1', { deleted: true }), pod('p2', { phase: 'Failed' }), pod('p3', { phase: 'Pending' })],
    metrics: samples({ p0: 1000, p1: 9000, p2: 9000 }),
    target: 50,
    want: 3,
    wantUtilization: 100,
  },
  {
    name: 'a sidecar\'s request counts with the containers\'',
    current: 1,
    pods: [pod('p0', { cpu: '500m', sidecarCpu: '500m' })],
    metrics: samples({ p0: 1000 }),
    target: 50,
    want: 2,
    wantUtilization: 100,
  },
];

for (const c of utilizationCases) {
  test(`utilization: ${c.name}`, () => {
    const r = resourceReplicas({ currentReplicas: c.current, pods: c.pods, metrics: c.metrics, tolerances: tol, grouping, targetUtilization: c.target, resource: 'cpu', container: '' });
    assert.equal(r.replicas, c.want);
    assert.equal(r.utilization, c.wantUtilization);
    if (c.wantRaw !== undefined) assert.equal(r.rawUtilization, c.wantRaw);
  });
}

test('utilization: the samples given are not changed', () => {
  const metrics = samples({ p0: 1500, p1: 1500 });
  resourceReplicas({ currentReplicas: 3, pods: pods3(), metrics, tolerances: tol, grouping, targetUtilization: 50, resource: 'cpu', container: '' });
  assert.deepEqual([...metrics.keys()], ['p0', 'p1']);
});

const errorCases: { name: string; run: () => unknown; want: RegExp }[] = [
  { name: 'no pods', run: () => resourceReplicas({ currentReplicas: 1, pods: [], metrics: samples({ a: 1 }), tolerances: tol, grouping, targetUtilization: 50, resource: 'cpu', container: '' }), want: /^Error: no pods returned by selector while calculating replica count$/ },
  {
    name: 'only unready pods',
    run: () => resourceReplicas({ currentReplicas: 1, pods: [pod('p0', { phase: 'Pending' })], metrics: samples({ p0: 1 }), tolerances: tol, grouping, targetUtilization: 50, resource: 'cpu', container: '' }),
    want: /^Error: did not receive metrics for targeted pods \(pods might be unready\)$/,
  },
  {
    name: 'a container without a request',
    run: () => resourceReplicas({ currentReplicas: 1, pods: [pod('p0', { containers: [{ name: 'app' }] })], metrics: samples({ p0: 1 }), tolerances: tol, grouping, targetUtilization: 50, resource: 'cpu', container: '' }),
    want: /^Error: missing request for cpu in container app of Pod p0$/,
  },
  {
    name: 'samples of unknown pods only',
    run: () => resourceReplicas({ currentReplicas: 1, pods: [pod('p0', { containers: [{ name: 'app', cpu: '0' }] })], metrics: samples({ p0: 5 }), tolerances: tol, grouping, targetUtilization: 50, resource: 'cpu', container: '' }),
    want: /^Error: no metrics returned matched known pods$/,
  },
];
for (const c of errorCases) test(`error: ${c.name}`, () => assert.throws(c.run, c.want));

test('requests: one container by name, or an upstream error naming the pod', () => {
  const p = pod('p0', { containers: [{ name: 'a', cpu: '200m' }, { name: 'b', cpu: '300m' }] });
  assert.deepEqual([...calculateRequests([p], '', 'cpu')], [['p0', 500]]);
  assert.deepEqual([...calculateRequests([p], 'b', 'cpu')], [['p0', 300]]);
  assert.throws(() => calculateRequests([p], 'c', 'cpu'), /^Error: container c not found in Pod p0$/);
});

test('container metrics: utilization of one container against its own request', () => {
  const p = pod('p0', { containers: [{ name: 'a', cpu: '200m' }, { name: 'b', cpu: '800m' }] });
  const r = resourceReplicas({ currentReplicas: 1, pods: [p], metrics: samples({ p0: 400 }), tolerances: tol, grouping, targetUtilization: 100, resource: 'cpu', container: 'a' });
  assert.deepEqual(r, { replicas: 2, utilization: 200, rawUtilization: 400 });
});

test('memory readiness does not matter: an unready pod within the initialization period counts', () => {
  const pods = [pod('p0', { startedAgo: 10_000, ready: 'False', readySinceAgo: 5_000, memory: '100Mi' })];
  const r = resourceReplicas({ currentReplicas: 1, pods, metrics: samples({ p0: 200 * 1024 * 1024 * 1000 }), tolerances: tol, grouping, targetUtilization: 100, resource: 'memory', container: '' });
  assert.equal(r.replicas, 2);
});

const plainCases: { name: string; current: number; pods: Pod[]; metrics: PodMetricsInfo; target: number; want: number; wantUsage: number }[] = [
  { name: 'average value scale up', current: 2, pods: [pod('p0'), pod('p1')], metrics: samples({ p0: 300_000, p1: 500_000 }), target: 200_000, want: 4, wantUsage: 400_000 },
  { name: 'average value within tolerance', current: 2, pods: [pod('p0'), pod('p1')], metrics: samples({ p0: 205_000, p1: 195_000 }), target: 200_000, want: 2, wantUsage: 200_000 },
  { name: 'a missing pod counts as the target on a scale-down', current: 3, pods: pods3(), metrics: samples({ p0: 10_000, p1: 10_000 }), target: 100_000, want: 2, wantUsage: 10_000 },
  { name: 'a missing pod counts as 0 on a scale-up', current: 3, pods: pods3(), metrics: samples({ p0: 400_000, p1: 400_000 }), target: 100_000, want: 8, wantUsage: 400_000 },
];
for (const c of plainCases) {
  test(`plain: ${c.name}`, () => {
    const r = plainMetricReplicas({ currentReplicas: c.current, pods: c.pods, metrics: c.metrics, tolerances: tol, grouping, targetUsage: c.target, resource: 'memory' });
    assert.deepEqual(r, { replicas: c.want, usage: c.wantUsage });
  });
}

test('grouping: the CPU initialization period and the initial readiness delay', () => {
  const m = samples({ young: 1, late: 1, never: 1, was: 1, noStart: 1 });
  const noStart = pod('noStart');
  delete noStart.status!.startTime;
  const g = groupPods(
    [
      pod('young', { startedAgo: 60_000, readySinceAgo: 10_000 }),
      pod('late', { startedAgo: 60_000, readySinceAgo: 45_000 }),
      pod('never', { ready: 'False', startedAgo: 10 * min, readySinceAgo: 10 * min - 10_000 }),
      pod('was', { ready: 'False', startedAgo: 10 * min, readySinceAgo: 60_000 }),
      noStart,
      pod('gone'),
    ],
    m,
    'cpu',
    grouping,
  );
  assert.deepEqual({ ready: g.readyPodCount, unready: [...g.unready].sort(), missing: [...g.missing] }, { ready: 2, unready: ['never', 'noStart', 'young'], missing: ['gone'] });
});

test('object and external value targets: ready pods times the ratio, or the ratio itself at zero replicas', () => {
  const pods = [pod('p0'), pod('p1'), pod('p2', { ready: 'False' })];
  assert.equal(usageRatioReplicaCount(pods, { currentReplicas: 3, usageRatio: 2, tolerances: tol }), 4);
  assert.equal(usageRatioReplicaCount(pods, { currentReplicas: 3, usageRatio: 1.05, tolerances: tol }), 3);
  assert.equal(usageRatioReplicaCount([], { currentReplicas: 0, usageRatio: 2.5, tolerances: tol }), 3);
  assert.throws(() => usageRatioReplicaCount([], { currentReplicas: 2, usageRatio: 2, tolerances: tol }), /^Error: unable to calculate ready pods: no pods returned by selector while calculating replica count$/);
});

test('per-pod (average value) object and external targets', () => {
  assert.deepEqual(perPodReplicas({ statusReplicas: 2, totalUsage: 1000, targetAverage: 100, tolerances: tol }), { replicas: 10, usage: 500 });
  assert.deepEqual(perPodReplicas({ statusReplicas: 10, totalUsage: 1040, targetAverage: 100, tolerances: tol }), { replicas: 10, usage: 104 });
});
