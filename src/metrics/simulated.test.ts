/** Simulated nodes' usage from pod annotations: per container, defaults, sidecars, node sums. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../api/index.ts';
import { containerUsage, isSimulated, nodeBaseUsage, simulatedNode, simulatedPod } from './simulated.ts';

const node = (name: string, virtual = true): Node => ({ metadata: { name, labels: virtual ? { 'node.bosun.dev/virtual': 'true' } : {} } });
function pod(name: string, opts: { node?: string; phase?: string; annotations?: Record<string, string>; containers?: string[]; sidecars?: string[]; deleting?: boolean } = {}): Pod {
  return {
    metadata: { name, namespace: 'ns', annotations: opts.annotations, deletionTimestamp: opts.deleting ? '2024-01-01T00:00:00Z' : undefined },
    spec: {
      nodeName: opts.node ?? 'v0',
      containers: (opts.containers ?? ['c']).map((n) => ({ name: n })),
      initContainers: [...(opts.sidecars ?? []).map((n) => ({ name: n, restartPolicy: 'Always' })), { name: 'init' }],
    },
    status: { phase: opts.phase ?? 'Running' },
  };
}

const usageCases: { name: string; annotations?: Record<string, string>; want: { cpuNanoCores: number; memoryBytes: number } }[] = [
  { name: 'annotations give each container its usage', annotations: { 'metrics.bosun.dev/cpu': '250m', 'metrics.bosun.dev/memory': '64Mi' }, want: { cpuNanoCores: 250e6, memoryBytes: 64 * 2 ** 20 } },
  { name: 'without annotations a container uses 1m and 4Mi', want: { cpuNanoCores: 1e6, memoryBytes: 4 * 2 ** 20 } },
  { name: 'one annotation alone sets its resource only', annotations: { 'metrics.bosun.dev/cpu': '2' }, want: { cpuNanoCores: 2e9, memoryBytes: 4 * 2 ** 20 } },
  { name: 'an annotation that is not a quantity is ignored', annotations: { 'metrics.bosun.dev/cpu': 'fast', 'metrics.bosun.dev/memory': '-1Mi' }, want: { cpuNanoCores: 1e6, memoryBytes: 4 * 2 ** 20 } },
];
for (const c of usageCases) test(c.name, () => assert.deepEqual(containerUsage(pod('p', { annotations: c.annotations })), c.want));

test('a running pod reports its sidecars and containers, not its init containers', () => {
  const s = simulatedPod(pod('p', { containers: ['a', 'b'], sidecars: ['proxy'] }), 1000, 15_000);
  assert.deepEqual(s?.containers.map((c) => c.name), ['proxy', 'a', 'b']);
  assert.equal(s?.timestampMs, 1000);
  assert.equal(s?.windowMs, 15_000);
});

test('pods that are not Running, or are being deleted, report nothing', () => {
  assert.equal(simulatedPod(pod('p', { phase: 'Pending' }), 0, 1), undefined);
  assert.equal(simulatedPod(pod('p', { phase: 'Succeeded' }), 0, 1), undefined);
  assert.equal(simulatedPod(pod('p', { deleting: true }), 0, 1), undefined);
});

test('a node uses its base plus its running pods’ containers', () => {
  const pods = [
    pod('a', { annotations: { 'metrics.bosun.dev/cpu': '250m', 'metrics.bosun.dev/memory': '64Mi' }, containers: ['x', 'y'] }),
    pod('b'),
    pod('c', { phase: 'Pending' }),
    pod('elsewhere', { node: 'v1' }),
  ];
  const r = simulatedNode(node('v0'), pods, 5, 15_000);
  assert.deepEqual(r.node.usage, { cpuNanoCores: nodeBaseUsage.cpuNanoCores + 2 * 250e6 + 1e6, memoryBytes: nodeBaseUsage.memoryBytes + 2 * 64 * 2 ** 20 + 4 * 2 ** 20 });
  assert.deepEqual([...r.pods.keys()], ['ns/a', 'ns/b']);
});

test('only nodes labelled node.bosun.dev/virtual=true are simulated', () => {
  assert.equal(isSimulated(node('v')), true);
  assert.equal(isSimulated(node('real', false)), false);
});
