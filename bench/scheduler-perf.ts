/**
 * Upstream scheduler_perf workloads run in one process: the real scheduler (its informers, queue,
 * plugins, binding and preemption code) against the in-memory API of ./memory-api.ts, with
 * simulated nodes. Prints pods/s for the measured pods (creation of the first to binding of the
 * last), and the process's RSS at the largest size. Each workload gives up after 2 minutes.
 */
import type { KubeObject } from '../src/api/types.ts';
import { InformerFactory, RestClient, type Recorder } from '../src/client/index.ts';
import { startScheduler } from '../src/scheduler/scheduler.ts';
import { MemoryApi } from './memory-api.ts';

const podsPath = '/api/v1/pods';
const nodesPath = '/api/v1/nodes';
const limitMs = 120_000;

function node(i: number, zones: number): KubeObject {
  const name = `node-${i}`;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': `zone-${i % zones}` } },
    spec: {},
    status: { allocatable: { cpu: '4', memory: '32Gi', pods: '110' }, capacity: { cpu: '4', memory: '32Gi', pods: '110' } },
  };
}

interface PodShape {
  labels?: Record<string, string>;
  cpu?: string;
  priority?: number;
  spec?: Record<string, unknown>;
}

function pod(name: string, s: PodShape, nodeName?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: s.labels ?? {}, creationTimestamp: new Date().toISOString() },
    spec: {
      schedulerName: 'default-scheduler',
      ...(nodeName ? { nodeName } : {}),
      ...(s.priority !== undefined ? { priority: s.priority } : {}),
      containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: s.cpu ?? '100m', memory: '100Mi' } } }],
      ...(s.spec ?? {}),
    },
    status: nodeName ? { phase: 'Running' } : { phase: 'Pending' },
  };
}

interface Workload {
  name: string;
  nodes: number;
  zones?: number;
  initial: number;
  measured: number;
  initialPod: PodShape;
  measuredPod: PodShape;
  /** Initial pods are placed by the scheduler too (else spread round-robin over nodes). */
  scheduleInitial?: boolean;
}

const silent: Recorder = { event() {} };

async function run(w: Workload): Promise<{ podsPerSecond: number; bound: number; rssMb: number }> {
  const api = new MemoryApi();
  for (let i = 0; i < w.nodes; i++) api.put(nodesPath, node(i, w.zones ?? 3));
  if (!w.scheduleInitial) for (let i = 0; i < w.initial; i++) api.put(podsPath, pod(`init-${i}`, w.initialPod, `node-${i % w.nodes}`));
  const client = new RestClient(api, { qps: Infinity });
  const informers = new InformerFactory(client, { log: () => {} });
  const ac = new AbortController();
  startScheduler({ client, informers, recorder: silent, signal: ac.signal, log: () => {} });
  informers.start(ac.signal);
  await informers.waitForCacheSync(ac.signal);
  const waitBound = async (prefix: string, count: number, since: number): Promise<number> => {
    for (;;) {
      let n = 0;
      for (const k of api.bound.keys()) if (k.startsWith(`default/${prefix}-`)) n++;
      if (n >= count || performance.now() - since > limitMs) return n;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  if (w.scheduleInitial) {
    const t = performance.now();
    for (let i = 0; i < w.initial; i++) api.put(podsPath, pod(`init-${i}`, w.initialPod));
    await waitBound('init', w.initial, t);
  }
  const started = performance.now();
  for (let i = 0; i < w.measured; i++) api.put(podsPath, pod(`m-${i}`, w.measuredPod));
  const bound = await waitBound('m', w.measured, started);
  let last = started;
  for (const [k, t] of api.bound) if (k.startsWith('default/m-') && t > last) last = t;
  const rssMb = process.memoryUsage().rss / 1024 / 1024;
  ac.abort();
  await informers.stopped();
  return { podsPerSecond: bound / ((last - started) / 1000), bound, rssMb };
}

export const workloads: Workload[] = [
  { name: 'SchedulingBasic', nodes: 5000, initial: 1000, measured: 10000, initialPod: {}, measuredPod: {} },
  {
    name: 'PodAntiAffinity',
    nodes: 5000,
    initial: 1000,
    measured: 2000,
    scheduleInitial: true,
    initialPod: { labels: { color: 'green' }, spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { color: 'green' } }, topologyKey: 'kubernetes.io/hostname' }] } } } },
    measuredPod: { labels: { color: 'green' }, spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { color: 'green' } }, topologyKey: 'kubernetes.io/hostname' }] } } } },
  },
  {
    name: 'TopologySpreading',
    nodes: 5000,
    zones: 10,
    initial: 0,
    measured: 5000,
    initialPod: {},
    measuredPod: { labels: { app: 'spread' }, spec: { topologySpreadConstraints: [{ maxSkew: 5, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'spread' } } }] } },
  },
  { name: 'PreemptionBasic', nodes: 500, initial: 2000, measured: 500, initialPod: { cpu: '1', priority: 0 }, measuredPod: { cpu: '1', priority: 10 } },
];

export async function benchSchedulerPerf(record: (name: string, value: string) => void, only?: string[]): Promise<void> {
  for (const w of workloads) {
    if (only && !only.includes(w.name)) continue;
    const r = await run(w);
    const done = r.bound >= w.measured ? '' : ` (only ${r.bound}/${w.measured} bound within 2 min)`;
    record(`scheduler_perf ${w.name}: ${w.nodes} nodes, ${w.initial} initial, ${w.measured} measured`, `${r.podsPerSecond.toFixed(0)} pods/s${done}`);
    if (w.name === 'SchedulingBasic') record(`bench process RSS with ${w.nodes} nodes + ${w.initial + w.measured} pods (scheduler and in-memory API)`, `${r.rssMb.toFixed(0)} MB`);
  }
}
