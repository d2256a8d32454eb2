/**
 * The metrics.k8s.io providers over fixed caches and storage: metrics-server's answers for get
 * and list, its NotFound errors, selectors, ordering and Table rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../api/index.ts';
import { isNotFound, StatusError } from '../api/errors.ts';
import { nodeMetricsResource, podMetricsResource, type MetricsSources } from './api.ts';
import { MetricsStorage } from './storage.ts';

const now = Date.UTC(2024, 0, 1, 0, 0, 30);
const at = Date.UTC(2024, 0, 1, 0, 0, 15, 500);
const u = (cpuNanoCores: number, memoryBytes: number) => ({ cpuNanoCores, memoryBytes });

function sources(): MetricsSources {
  const nodes: Node[] = [
    { metadata: { name: 'n2', labels: { zone: 'b' } } },
    { metadata: { name: 'n1', labels: { zone: 'a' } } },
    { metadata: { name: 'n3' } },
  ];
  const pod = (ns: string, name: string, labels: Record<string, string>, phase = 'Running'): Pod => ({ metadata: { namespace: ns, name, labels }, spec: { containers: [{ name: 'c' }] }, status: { phase } });
  const pods: Pod[] = [pod('b', 'z', { app: 'web' }), pod('a', 'y', { app: 'web' }), pod('a', 'x', { app: 'db' }), pod('a', 'pending', { app: 'web' }, 'Pending'), pod('a', 'new', { app: 'web' })];
  const storage = new MetricsStorage({ resolutionMs: 15_000 });
  const sample = (containers: { name: string; usage: ReturnType<typeof u> }[]) => ({ timestampMs: at, windowMs: 15_000, containers });
  storage.store({ nodes: new Map(), pods: new Map() }, {
    nodes: new Map([
      ['n1', { timestampMs: at, windowMs: 15_012, usage: u(250e6, 64 * 2 ** 20) }],
      ['n2', { timestampMs: at, windowMs: 15_000, usage: u(1e9, 2 ** 30) }],
    ]),
    pods: new Map([
      ['a/x', sample([{ name: 'c', usage: u(1e6, 4 * 2 ** 20) }])],
      ['a/y', sample([{ name: 'c', usage: u(250e6, 64 * 2 ** 20) }, { name: 'd', usage: u(250e6, 64 * 2 ** 20) }])],
      ['b/z', sample([{ name: 'c', usage: u(2e6, 2 ** 20) }])],
      ['a/pending', sample([{ name: 'c', usage: u(1, 1) }])],
    ]),
  });
  return {
    storage,
    node: (name) => nodes.find((n) => n.metadata.name === name),
    nodes: () => nodes,
    pod: (ns, name) => pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name),
    pods: (ns) => pods.filter((p) => !ns || p.metadata.namespace === ns),
    now: () => now,
  };
}

test('a NodeMetrics has the node’s name and labels, the sample’s timestamp, window and usage', () => {
  assert.deepEqual(nodeMetricsResource(sources()).get('', 'n1'), {
    metadata: { name: 'n1', creationTimestamp: '2024-01-01T00:00:30Z', labels: { zone: 'a' } },
    timestamp: '2024-01-01T00:00:15Z',
    window: '15.012s',
    usage: { cpu: '250m', memory: '64Mi' },
  });
});

test('a PodMetrics lists each container’s usage', () => {
  assert.deepEqual(podMetricsResource(sources()).get('a', 'y'), {
    metadata: { name: 'y', namespace: 'a', creationTimestamp: '2024-01-01T00:00:30Z', labels: { app: 'web' } },
    timestamp: '2024-01-01T00:00:15Z',
    window: '15s',
    containers: [
      { name: 'c', usage: { cpu: '250m', memory: '64Mi' } },
      { name: 'd', usage: { cpu: '250m', memory: '64Mi' } },
    ],
  });
});

const notFoundCases: { name: string; call: (s: MetricsSources) => unknown; message: string; kind: string }[] = [
  { name: 'an unknown node is the node lister’s NotFound', call: (s) => nodeMetricsResource(s).get('', 'nope'), message: 'node "nope" not found', kind: 'node' },
  { name: 'a node without usage is a nodemetrics NotFound', call: (s) => nodeMetricsResource(s).get('', 'n3'), message: 'nodemetrics.metrics.k8s.io "n3" not found', kind: 'nodemetrics' },
  { name: 'an unknown pod is the pod lister’s NotFound', call: (s) => podMetricsResource(s).get('a', 'nope'), message: 'pods "nope" not found', kind: 'pods' },
  { name: 'a pod that is not Running is not found either', call: (s) => podMetricsResource(s).get('a', 'pending'), message: 'pods "pending" not found', kind: 'pods' },
  { name: 'a running pod without usage is a podmetrics NotFound with namespace/name', call: (s) => podMetricsResource(s).get('a', 'new'), message: 'podmetrics.metrics.k8s.io "a/new" not found', kind: 'podmetrics' },
];
for (const c of notFoundCases) {
  test(c.name, () => {
    assert.throws(() => c.call(sources()), (err: unknown) => isNotFound(err) && (err as StatusError).status.message === c.message && (err as StatusError).status.details?.kind === c.kind);
  });
}

const names = (objs: readonly { metadata: { name?: string; namespace?: string } }[]) => objs.map((o) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name));

const listCases: { name: string; list: (s: MetricsSources) => readonly { metadata: { name?: string; namespace?: string } }[]; want: (string | undefined)[] }[] = [
  { name: 'nodes with usage, by name', list: (s) => nodeMetricsResource(s).list('', {}), want: ['n1', 'n2'] },
  { name: 'nodes by label', list: (s) => nodeMetricsResource(s).list('', { labelSelector: 'zone=b' }), want: ['n2'] },
  { name: 'nodes by name field', list: (s) => nodeMetricsResource(s).list('', { fieldSelector: 'metadata.name!=n1' }), want: ['n2'] },
  { name: 'running pods with usage across namespaces, by namespace then name', list: (s) => podMetricsResource(s).list('', {}), want: ['a/x', 'a/y', 'b/z'] },
  { name: 'pods of one namespace', list: (s) => podMetricsResource(s).list('b', {}), want: ['b/z'] },
  { name: 'pods by label', list: (s) => podMetricsResource(s).list('a', { labelSelector: 'app=web' }), want: ['a/y'] },
  { name: 'pods by namespace field', list: (s) => podMetricsResource(s).list('', { fieldSelector: 'metadata.namespace=b' }), want: ['b/z'] },
];
for (const c of listCases) test(`list: ${c.name}`, () => assert.deepEqual(names(c.list(sources())), c.want));

test('a field other than metadata.name (and a pod’s metadata.namespace) is a BadRequest', () => {
  assert.throws(() => podMetricsResource(sources()).list('a', { fieldSelector: 'spec.nodeName=n1' }), /field label not supported: spec.nodeName/);
  assert.throws(() => nodeMetricsResource(sources()).list('', { fieldSelector: 'metadata.namespace=a' }), /field label not supported: metadata.namespace/);
  assert.throws(() => nodeMetricsResource(sources()).list('', { labelSelector: 'a in (' }), (err: unknown) => (err as StatusError).status.code === 400);
});

test('table rows are name, cpu, memory (summed over a pod’s containers) and window', () => {
  const pods = podMetricsResource(sources());
  assert.deepEqual(pods.def.table?.columns.map((c) => c.name), ['Name', 'cpu', 'memory', 'Window']);
  assert.deepEqual(pods.def.table?.row(pods.get('a', 'y'), now), ['y', '500m', '128Mi', '15s']);
  const nodes = nodeMetricsResource(sources());
  assert.deepEqual(nodes.def.table?.row(nodes.get('', 'n2'), now), ['n2', '1', '1Gi', '15s']);
});
