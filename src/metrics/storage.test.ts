/**
 * The two-point storage, as metrics-server's storage tests: usage from the second scrape on, CPU
 * as a rate over the window, memory the last working set, counters going backwards skipped,
 * restarts and fresh containers, stale objects dropped, simulated usage stored as it comes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsStorage, type MetricsBatch, type MetricsPoint } from './storage.ts';

const t0 = Date.UTC(2024, 0, 1);
const s = (n: number) => t0 + n * 1000;
const point = (atSec: number, cpuSeconds: number, memory: number, startSec = -1000): MetricsPoint => ({ startTimeMs: s(startSec), timestampMs: s(atSec), cumulativeCpu: cpuSeconds * 1e9, memoryBytes: memory });

function batch(nodes: Record<string, MetricsPoint>, pods: Record<string, Record<string, MetricsPoint>> = {}): MetricsBatch {
  return { nodes: new Map(Object.entries(nodes)), pods: new Map(Object.entries(pods).map(([k, v]) => [k, new Map(Object.entries(v))])) };
}

test('a node has usage from its second point on: CPU over the window, memory the last value', () => {
  const st = new MetricsStorage({ resolutionMs: 15_000 });
  st.store(batch({ n1: point(0, 10, 100) }));
  assert.equal(st.node('n1'), undefined);
  st.store(batch({ n1: point(15, 13, 200) }));
  assert.deepEqual(st.node('n1'), { timestampMs: s(15), windowMs: 15_000, usage: { cpuNanoCores: 200_000_000, memoryBytes: 200 } });
});

test('a point no newer than the last keeps the previous one that is older', () => {
  const st = new MetricsStorage({ resolutionMs: 15_000 });
  st.store(batch({ n1: point(0, 10, 100) }));
  st.store(batch({ n1: point(10, 11, 100) }));
  st.store(batch({ n1: point(10, 11, 150) }));
  assert.deepEqual(st.node('n1')?.usage, { cpuNanoCores: 100_000_000, memoryBytes: 150 });
  assert.equal(st.node('n1')?.windowMs, 10_000);
});

test('a node that does not answer is dropped at once', () => {
  const st = new MetricsStorage({ resolutionMs: 15_000 });
  st.store(batch({ n1: point(0, 1, 1), n2: point(0, 1, 1) }));
  st.store(batch({ n1: point(15, 2, 1), n2: point(15, 2, 1) }));
  st.store(batch({ n1: point(30, 3, 1) }));
  assert.ok(st.node('n1'));
  assert.equal(st.node('n2'), undefined);
  assert.deepEqual(st.size, { nodes: 1, pods: 0 });
});

test('a CPU counter going backwards is skipped', () => {
  const logs: string[] = [];
  const st = new MetricsStorage({ resolutionMs: 15_000, log: (m) => logs.push(m) });
  st.store(batch({ n1: point(0, 10, 1) }));
  st.store(batch({ n1: point(15, 5, 1) }));
  assert.equal(st.node('n1'), undefined);
  assert.match(logs.join('\n'), /unexpected decrease in cumulative CPU usage value/);
});

test('a pod has usage once every container has two points, stamped with the earliest container time', () => {
  const st = new MetricsStorage({ resolutionMs: 15_000 });
  st.store(batch({}, { 'ns/p': { a: point(0, 1, 10), b: point(1, 1, 20) } }));
  assert.equal(st.pod('ns', 'p'), undefined);
  st.store(batch({}, { 'ns/p': { a: point(15, 2.5, 11), b: point(14, 1.5, 21) } }));
  assert.deepEqual(st.pod('ns', 'p'), {
    timestampMs: s(14),
    windowMs: 13_000,
    containers: [
      { name: 'a', usage: { cpuNanoCores: 100_000_000, memoryBytes: 11 } },
      { name: 'b', usage: { cpuNanoCores: Math.floor(0.5e9 / 13), memoryBytes: 21 } },
    ],
  });
});

test('a new container in a pod hides the pod until it has two points', () => {
  const st = new MetricsStorage({ resolutionMs: 15_000 });
  st.store(batch({}, { 'ns/p': { a: point(0, 1, 10) } }));
  st.store(batch({}, { 'ns/p': { a: point(15, 2, 10), b: point(15, 1, 10) } }));
  assert.equal(st.pod('ns', 'p'), undefined);
  st.store(batch({}, { 'ns/p': { a: point(30, 3, 10), b: point(30, 2, 10) } }));
  assert.equal(st.pod('ns', 'p')?.containers.length, 2);
});

test('a restarted container (started after the stored point) starts over', () => {
  const st = new MetricsStorage({ resolutionMs: 15_000 });
  st.store(batch({}, { 'ns/p': { a: point(0, 5, 10, -100) } }));
  st.store(batch({}, { 'ns/p': { a: point(60, 0.1, 10, 5) } }));
  assert.equal(st.pod('ns', 'p'), undefined);
  st.store(batch({}, { 'ns/p': { a: point(75, 1.6, 10, 5) } }));
  assert.equal(st.pod('ns', 'p')?.containers[0]?.usage.cpuNanoCores, 100_000_000);
});

test('a container started between 10 s and one resolution ago counts from its start with zero CPU', () => {
  const st = new MetricsStorage({ resolutionMs: 60_000 });
  st.store(batch({}, { 'ns/p': { a: point(100, 2, 10, 80) } }));
  assert.deepEqual(st.pod('ns', 'p'), { timestampMs: s(100), windowMs: 20_000, containers: [{ name: 'a', usage: { cpuNanoCores: 100_000_000, memoryBytes: 10 } }] });
});

test('a container started less than 10 s ago waits for its second point', () => {
  const st = new MetricsStorage({ resolutionMs: 60_000 });
  st.store(batch({}, { 'ns/p': { a: point(100, 2, 10, 95) } }));
  assert.equal(st.pod('ns', 'p'), undefined);
});

test('simulated usage is stored as it comes and replaced by the next store', () => {
  const st = new MetricsStorage({ resolutionMs: 15_000 });
  const usage = { cpuNanoCores: 1, memoryBytes: 2 };
  st.store(batch({}), { nodes: new Map([['v', { timestampMs: s(0), windowMs: 15_000, usage }]]), pods: new Map([['ns/p', { timestampMs: s(0), windowMs: 15_000, containers: [{ name: 'c', usage }] }]]) });
  assert.deepEqual(st.node('v')?.usage, usage);
  assert.equal(st.pod('ns', 'p')?.containers[0]?.name, 'c');
  st.store(batch({}));
  assert.equal(st.node('v'), undefined);
  assert.equal(st.pod('ns', 'p'), undefined);
});
