/**
 * One scrape over fake node agents: each node within its timeout and at most `concurrency` at a
 * time, failures logged when they start or change (not every scrape), simulated nodes computed
 * without a request, duplicate points kept from the first node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../api/index.ts';
import { Scraper, type ScrapeSources } from './scraper.ts';
import type { ResourceMetricsGetter } from './kubelet.ts';

const node = (name: string, virtual = false): Node => ({ metadata: { name, labels: virtual ? { 'node.bosun.dev/virtual': 'true' } : {} } });
const text = (cpu: number, pod = 'p') => `node_cpu_usage_seconds_total ${cpu} 1000\nnode_memory_working_set_bytes 10 1000\ncontainer_cpu_usage_seconds_total{container="c",namespace="ns",pod="${pod}"} ${cpu} 1000\ncontainer_memory_working_set_bytes{container="c",namespace="ns",pod="${pod}"} 5 1000\n`;
const sources = (nodes: Node[], pods: Pod[] = []): ScrapeSources => ({ nodes: () => nodes, podsOnNode: (n) => pods.filter((p) => p.spec?.nodeName === n) });

test('every real node is asked once; simulated nodes are computed from their pods', async () => {
  const asked: string[] = [];
  const get: ResourceMetricsGetter = async (n) => {
    asked.push(n.metadata.name!);
    return { text: text(1), requestTimeMs: 1000 };
  };
  const pod: Pod = { metadata: { name: 's', namespace: 'ns' }, spec: { nodeName: 'v', containers: [{ name: 'c' }] }, status: { phase: 'Running' } };
  const r = await new Scraper({ resourceMetrics: get, timeoutMs: 1000, log: () => {} }).scrape(sources([node('a'), node('v', true)], [pod]), 5000, 15_000, new AbortController().signal);
  assert.deepEqual(asked, ['a']);
  assert.deepEqual([...r.batch.nodes.keys()], ['a']);
  assert.deepEqual([...r.simulated.nodes.keys()], ['v']);
  assert.deepEqual([...r.simulated.pods.keys()], ['ns/s']);
  assert.equal(r.simulated.pods.get('ns/s')?.timestampMs, 5000);
});

test('a pod reported by two nodes is kept from the first that answered', async () => {
  const get: ResourceMetricsGetter = async (n) => ({ text: text(n.metadata.name === 'a' ? 1 : 2), requestTimeMs: 1 });
  const r = await new Scraper({ resourceMetrics: get, timeoutMs: 1000, concurrency: 1, log: () => {} }).scrape(sources([node('a'), node('b')]), 0, 1, new AbortController().signal);
  assert.equal(r.batch.pods.get('ns/p')?.get('c')?.cumulativeCpu, 1e9);
});

test('a node that hangs is given up at the timeout and the others still count', async () => {
  const logs: string[] = [];
  const get: ResourceMetricsGetter = (n, signal) =>
    n.metadata.name === 'slow' ? new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })) : Promise.resolve({ text: text(1, n.metadata.name!), requestTimeMs: 1 });
  const started = Date.now();
  const r = await new Scraper({ resourceMetrics: get, timeoutMs: 100, log: (m) => logs.push(m) }).scrape(sources([node('slow'), node('ok')]), 0, 1, new AbortController().signal);
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual([...r.batch.nodes.keys()], ['ok']);
  assert.deepEqual(logs, ['metrics: failed to scrape node slow: timeout to access kubelet (100 ms)']);
});

test('a failing node is logged when it starts failing, when its error changes and when it recovers', async () => {
  const logs: string[] = [];
  let answer: string | Error = new Error('connect ECONNREFUSED');
  const get: ResourceMetricsGetter = async () => {
    if (answer instanceof Error) throw answer;
    return { text: answer, requestTimeMs: 1 };
  };
  const s = new Scraper({ resourceMetrics: get, timeoutMs: 100, log: (m) => logs.push(m) });
  const once = () => s.scrape(sources([node('a')]), 0, 1, new AbortController().signal);
  await once();
  await once();
  answer = new Error('request failed, status: "403 Forbidden"');
  await once();
  answer = text(1);
  await once();
  await once();
  assert.deepEqual(logs, [
    'metrics: failed to scrape node a: connect ECONNREFUSED',
    'metrics: failed to scrape node a: request failed, status: "403 Forbidden"',
    'metrics: node a scraped again',
  ]);
});

test('at most `concurrency` nodes are scraped at once', async () => {
  let now = 0;
  let peak = 0;
  const get: ResourceMetricsGetter = async () => {
    peak = Math.max(peak, ++now);
    await new Promise((r) => setTimeout(r, 5));
    now--;
    return { text: text(1), requestTimeMs: 1 };
  };
  const nodes = Array.from({ length: 20 }, (_, i) => node(`n${i}`));
  await new Scraper({ resourceMetrics: get, timeoutMs: 1000, concurrency: 4, log: () => {} }).scrape(sources(nodes), 0, 1, new AbortController().signal);
  assert.equal(peak, 4);
});

test('without a way to reach node agents only simulated nodes have usage', async () => {
  const r = await new Scraper({ timeoutMs: 100, log: () => {} }).scrape(sources([node('a'), node('v', true)]), 0, 1, new AbortController().signal);
  assert.equal(r.batch.nodes.size, 0);
  assert.deepEqual([...r.simulated.nodes.keys()], ['v']);
});
