/**
 * The metrics server end to end in one process: an API server serving metrics.k8s.io from a
 * MetricsServer, which watches nodes and pods through it, scrapes a node agent's
 * `/metrics/resource` over HTTPS (the agent's real server over a backend whose counters grow)
 * and computes a simulated node from its pods' annotations. Checked through the API as a
 * client sees it: discovery (aggregated too), OpenAPI, lists and gets, Table output, NotFound,
 * and the verbs that are refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Node, Pod } from '../api/index.ts';
import { builtinResources } from '../api/groups/index.ts';
import { bootstrap } from '../apiserver/bootstrap.ts';
import { ApiServer } from '../apiserver/server.ts';
import { clientset, createClient, type Clientset, type RestClient } from '../client/index.ts';
import { ensurePki, issueClientCert, issueServingCert } from '../pki/index.ts';
import { openStore } from '../storage/index.ts';
import { startAgentServer, type AgentServer } from '../kubelet/server/index.ts';
import { fakeBackend } from '../kubelet/server/testing.ts';
import { MetricsServer } from './index.ts';
import { kubeletResourceMetrics } from './kubelet.ts';
import { isNotFound } from '../api/errors.ts';
import { parseQuantity } from '../api/quantity.ts';

const resolutionMs = 300;
let dir: string;
let api: ApiServer;
let client: RestClient;
let cs: Clientset;
let agent: AgentServer;
let metrics: MetricsServer;
let closeStore: () => Promise<void>;
const abort = new AbortController();
let running: Promise<void>;
const logs: string[] = [];
let caPem: string;
let kubeletClientCert: { certPem: string; keyPem: string };
let adminLike: { certPem: string; keyPem: string };

/** The agent's summary: counters that grow with the time they are read at (0.5 cores for the container, 2 for the node). */
function summary() {
  const sec = Date.now() / 1000;
  return {
    node: { nodeName: 'real-1', cpu: { time: '', usageCoreNanoSeconds: Math.round(sec * 2e9) }, memory: { time: '', workingSetBytes: 2 ** 30 } },
    pods: [
      {
        podRef: { name: 'busy', namespace: 'default', uid: 'u1' },
        containers: [{ name: 'spin', startTime: '2024-01-01T00:00:00Z', cpu: { time: '', usageCoreNanoSeconds: Math.round((sec - 1.7e9) * 0.5e9) }, memory: { time: '', workingSetBytes: 8 * 2 ** 20 } }],
      },
    ],
  };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-metrics-'));
  const pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
  const kubeletClient = await issueClientCert(pki, { name: 'kubelet-client', commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] });
  kubeletClientCert = kubeletClient;
  caPem = pki.caCertPem;
  adminLike = await issueClientCert(pki, { name: 'someone', commonName: 'someone' });
  const serving = await issueServingCert(pki, { name: 'agent-serving', commonName: 'real-1', sans: ['127.0.0.1'] });
  agent = await startAgentServer({ bindAddress: '127.0.0.1', port: 0, tls: { ...serving, caPem: pki.caCertPem }, backend: { ...fakeBackend({ pods: [] }), statsSummary: async () => summary() }, log: () => {} }, abort.signal);
  metrics = new MetricsServer({ resolutionMs, kubelet: { ...kubeletClient, caPem: pki.caCertPem }, log: (m) => logs.push(m) });
  const store = await openStore(undefined, dir);
  closeStore = () => store.close();
  api = new ApiServer({ store, resources: builtinResources, tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem }, port: 0, providedResources: metrics.resources, admission: () => [] });
  const port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
  client = await createClient({ component: 'metrics-test', connection: { server: `https://127.0.0.1:${port}`, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem } });
  cs = clientset(client);
  const node = (name: string, extra: Partial<Node> = {}): Node => ({ metadata: { name, ...extra.metadata }, status: extra.status });
  await cs.nodes.create(node('virtual-1', { metadata: { name: 'virtual-1', labels: { 'node.bosun.dev/virtual': 'true' } } }));
  await cs.nodes.create(node('real-1', { metadata: { name: 'real-1', labels: { zone: 'a' } } }));
  await cs.nodes.patchStatus('real-1', { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: agent.port } } } }, { type: 'merge' });
  const pod = (name: string, nodeName: string, annotations?: Record<string, string>): Pod => ({ metadata: { name, namespace: 'default', labels: { app: name }, annotations }, spec: { nodeName, containers: [{ name: 'spin', image: 'busybox' }] } });
  await cs.pods.create(pod('busy', 'real-1'));
  await cs.pods.create(pod('sim', 'virtual-1', { 'metrics.bosun.dev/cpu': '250m', 'metrics.bosun.dev/memory': '64Mi' }));
  for (const name of ['busy', 'sim']) await cs.pods.patchStatus(name, { status: { phase: 'Running' } }, { type: 'merge', namespace: 'default' });
  running = metrics.run(client, abort.signal);
});

after(async () => {
  abort.abort();
  await running;
  await client.transport.close();
  await agent.close();
  await api.close();
  await closeStore();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; logs:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('both nodes have usage: the scraped one at its counters’ rate, the simulated one from its pods', async () => {
  const list = await until('two node metrics', async () => {
    const l = await cs.nodeMetrics.list();
    return l.items.length === 2 ? l : undefined;
  });
  assert.equal(list.kind, 'NodeMetricsList');
  assert.deepEqual(list.items.map((n) => n.metadata.name), ['real-1', 'virtual-1']);
  const real = list.items[0]!;
  assert.equal(real.usage['memory'], '1Gi');
  const cores = parseQuantity(real.usage['cpu'])!;
  assert.ok(Math.abs(cores - 2) < 0.2, `real node CPU ${real.usage['cpu']}`);
  assert.deepEqual(real.metadata.labels, { zone: 'a' });
  assert.match(real.window, /^(\d+ms|\d+(\.\d+)?s)$/);
  assert.deepEqual(list.items[1]!.usage, { cpu: '300m', memory: '192Mi' });
});

test('a pod on the scraped node shows its container’s CPU rate and working set', async () => {
  const m = await until('busy pod metrics', () => cs.podMetrics.get('busy', { namespace: 'default' }));
  assert.equal(m.kind, 'PodMetrics');
  assert.equal(m.apiVersion, 'metrics.k8s.io/v1beta1');
  assert.equal(m.containers[0]?.name, 'spin');
  assert.equal(m.containers[0]?.usage['memory'], '8Mi');
  const cores = parseQuantity(m.containers[0]!.usage['cpu'])!;
  assert.ok(Math.abs(cores - 0.5) < 0.1, `container CPU ${m.containers[0]?.usage['cpu']}`);
});

test('the label selector reaches the pod list across namespaces', async () => {
  const l = await until('sim pod metrics', async () => {
    const r = await client.list(cs.podMetrics.resource, { labelSelector: 'app=sim' });
    return r.items.length ? r : undefined;
  });
  assert.deepEqual(l.items.map((p) => p.metadata.name), ['sim']);
  assert.deepEqual((l.items[0] as unknown as { containers: unknown }).containers, [{ name: 'spin', usage: { cpu: '250m', memory: '64Mi' } }]);
});

test('an unknown pod is NotFound as the pod lister says it', async () => {
  await assert.rejects(cs.podMetrics.get('nope', { namespace: 'default' }), (err: unknown) => isNotFound(err) && /pods "nope" not found/.test((err as Error).message));
});

test('discovery lists metrics.k8s.io/v1beta1 nodes and pods with get and list, in aggregated discovery too', async () => {
  const doc = JSON.parse(Buffer.from((await client.transport.request({ method: 'GET', path: '/apis/metrics.k8s.io/v1beta1' })).body).toString());
  assert.deepEqual(doc.resources, [
    { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
    { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
  ]);
  const agg = JSON.parse(Buffer.from((await client.transport.request({ method: 'GET', path: '/apis', accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' })).body).toString());
  const group = agg.items.find((g: { metadata: { name: string } }) => g.metadata.name === 'metrics.k8s.io');
  assert.deepEqual(group.versions[0].resources.map((r: { resource: string; scope: string; verbs: string[] }) => [r.resource, r.scope, r.verbs]), [
    ['nodes', 'Cluster', ['get', 'list']],
    ['pods', 'Namespaced', ['get', 'list']],
  ]);
});

test('the OpenAPI v3 document has the kinds’ schemas with their group-version-kind and the built-in types they use', async () => {
  const doc = JSON.parse(Buffer.from((await client.transport.request({ method: 'GET', path: '/openapi/v3/apis/metrics.k8s.io/v1beta1' })).body).toString());
  const pm = doc.components.schemas['io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics'];
  assert.deepEqual(pm['x-kubernetes-group-version-kind'], [{ group: 'metrics.k8s.io', version: 'v1beta1', kind: 'PodMetrics' }]);
  for (const name of ['io.k8s.metrics.pkg.apis.metrics.v1beta1.ContainerMetrics', 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'io.k8s.apimachinery.pkg.apis.meta.v1.Time', 'io.k8s.apimachinery.pkg.api.resource.Quantity']) assert.ok(doc.components.schemas[name], name);
  assert.ok(doc.paths['/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}'].get);
});

test('a Table has metrics-server’s columns', async () => {
  await until('sim pod metrics', () => cs.podMetrics.get('sim', { namespace: 'default' }));
  const r = await client.transport.request({ method: 'GET', path: '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods', query: { labelSelector: 'app=sim' }, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  const t = JSON.parse(Buffer.from(r.body).toString());
  assert.equal(t.kind, 'Table');
  assert.deepEqual(t.columnDefinitions.map((c: { name: string; format: string }) => `${c.name}:${c.format}`), ['Name:name', 'cpu:quantity', 'memory:quantity', 'Window:duration']);
  assert.deepEqual(t.rows[0].cells.slice(0, 3), ['sim', '250m', '64Mi']);
});

const refused: { name: string; method: string; path: string; query?: Record<string, string>; status: number; message: RegExp }[] = [
  { name: 'a create is 405', method: 'POST', path: '/apis/metrics.k8s.io/v1beta1/nodes', status: 405, message: /the server does not allow this method on the requested resource/ },
  { name: 'a delete is 405', method: 'DELETE', path: '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/sim', status: 405, message: /does not allow this method/ },
  { name: 'a watch is 405 as for a storage without a Watcher', method: 'GET', path: '/apis/metrics.k8s.io/v1beta1/pods', query: { watch: 'true' }, status: 405, message: /watch is not supported on resources of kind "pods.metrics.k8s.io"/ },
  { name: 'a /watch/ path has no route', method: 'GET', path: '/apis/metrics.k8s.io/v1beta1/watch/pods', status: 404, message: /the server could not find the requested resource/ },
  { name: 'an unsupported field is a 400', method: 'GET', path: '/apis/metrics.k8s.io/v1beta1/pods', query: { fieldSelector: 'spec.nodeName=real-1' }, status: 400, message: /field label not supported: spec.nodeName/ },
];
for (const c of refused) {
  test(c.name, async () => {
    const r = await client.transport.request({ method: c.method, path: c.path, query: c.query, body: c.method === 'POST' ? '{}' : undefined });
    assert.equal(r.status, c.status);
    assert.match(JSON.parse(Buffer.from(r.body).toString()).message, c.message);
  });
}

test('the agent answers /metrics/resource to the kubelet-client identity; an answer over the cap is refused', async () => {
  const getter = kubeletResourceMetrics({ ...kubeletClientCert, caPem }, abort.signal);
  const real = await cs.nodes.get('real-1');
  const { text } = await getter(real, AbortSignal.timeout(5000));
  assert.match(text, /^container_cpu_usage_seconds_total\{container="spin",namespace="default",pod="busy"\} \S+ \d+$/m);
  const capped = kubeletResourceMetrics({ ...kubeletClientCert, caPem }, abort.signal, { maxBytes: 100 });
  await assert.rejects(capped(real, AbortSignal.timeout(5000)), /answer larger than 100 bytes/);
});

test('a node agent refusing the identity is a failed request', async () => {
  const getter = kubeletResourceMetrics({ certPem: adminLike.certPem, keyPem: adminLike.keyPem, caPem }, abort.signal);
  await assert.rejects(getter(await cs.nodes.get('real-1'), AbortSignal.timeout(5000)), /request failed, status: "403 Forbidden"/);
});
