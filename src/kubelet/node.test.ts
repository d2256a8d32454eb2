import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capacityOf, defaultEviction, nodeConditions, parseEvictionHard } from './node.ts';

const cases: Array<{ name: string; input: string; want?: Partial<typeof defaultEviction>; error?: RegExp }> = [
  { name: 'an empty value keeps upstream’s defaults', input: '', want: defaultEviction },
  { name: 'memory.available takes a quantity', input: 'memory.available<1Gi', want: { memoryAvailableBytes: 2 ** 30, memoryAvailableText: '1Gi', nodefsAvailableFraction: 0.1 } },
  { name: 'nodefs.available takes a percentage', input: 'memory.available<100Mi,nodefs.available<5%', want: { memoryAvailableBytes: 100 * 2 ** 20, nodefsAvailableFraction: 0.05 } },
  { name: 'an unsupported signal is refused', input: 'imagefs.available<15%', error: /eviction signal imagefs\.available is not supported/ },
  { name: 'a malformed threshold is refused', input: 'memory.available>1Gi', error: /want SIGNAL<QUANTITY/ },
  { name: 'a percentage for memory is refused', input: 'memory.available<10%', error: /want a quantity/ },
];
for (const c of cases) {
  test(c.name, () => {
    if (c.error) assert.throws(() => parseEvictionHard(c.input), c.error);
    else assert.deepEqual(parseEvictionHard(c.input), { ...defaultEviction, ...c.want });
  });
}

test('allocatable is capacity minus the eviction thresholds', () => {
  const m = { cpus: 2, memoryBytes: 4 * 2 ** 30, fsBytes: 100 * 2 ** 30, machineID: '', systemUUID: '', bootID: '', kernelVersion: '', osImage: '' };
  const { capacity, allocatable } = capacityOf(m, 110);
  assert.deepEqual(capacity, { cpu: '2', memory: '4194304Ki', pods: '110', 'ephemeral-storage': '104857600Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0' });
  assert.equal(allocatable['memory'], '4091904Ki');
  assert.equal(allocatable['ephemeral-storage'], String(Math.floor(100 * 2 ** 30 * 0.9)));
});

test('node conditions keep their transition time while their status holds', () => {
  const prev = nodeConditions(undefined, { memory: false, disk: false, pid: false, memoryAvailableBytes: 1 }, { ok: true, message: '' }, '2026-01-01T00:00:00Z');
  const next = nodeConditions(prev, { memory: true, disk: false, pid: false, memoryAvailableBytes: 1 }, { ok: true, message: '' }, '2026-01-01T00:01:00Z');
  assert.deepEqual(next.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime]), [
    ['MemoryPressure', 'True', 'KubeletHasInsufficientMemory', '2026-01-01T00:01:00Z'],
    ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', '2026-01-01T00:00:00Z'],
    ['PIDPressure', 'False', 'KubeletHasSufficientPID', '2026-01-01T00:00:00Z'],
    ['Ready', 'True', 'KubeletReady', '2026-01-01T00:00:00Z'],
  ]);
});
