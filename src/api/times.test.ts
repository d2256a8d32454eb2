import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalMicroTime, canonicalTime, normalizeObjectTimes, sameTime } from './times.ts';
import type { KubeObject } from './types.ts';

describe('metav1.Time', () => {
  const cases: [string, string][] = [
    ['2026-12-05T06:04:24Z', '2026-12-05T06:04:24Z'],
    ['2026-12-05T06:04:24.000Z', '2026-12-05T06:04:24Z'],
    ['2026-12-05T06:04:24.999Z', '2026-12-05T06:04:24Z'],
    ['2026-12-05T08:04:24.5+02:00', '2026-12-05T06:04:24Z'],
    ['2026-12-31T23:30:00-01:00', '2027-01-01T00:30:00Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'],
    ['not a time', 'not a time'],
    ['2026-02-30T00:00:00Z', '2026-02-30T00:00:00Z'],
    ['2026-12-05 06:04:24Z', '2026-12-05 06:04:24Z'],
  ];
  for (const [input, want] of cases) test(`${input} is written ${want}`, () => assert.equal(canonicalTime(input), want));

  test('MicroTime keeps six fractional digits', () => {
    assert.equal(canonicalMicroTime('2026-12-05T06:04:24.1234567Z'), '2026-12-05T06:04:24.123456Z');
    assert.equal(canonicalMicroTime('2026-12-05T06:04:24Z'), '2026-12-05T06:04:24.000000Z');
  });

  test('instants compare at second precision', () => {
    assert.ok(sameTime('2026-12-05T06:04:24.000Z', '2026-12-05T06:04:24Z'));
    assert.ok(!sameTime('2026-12-05T06:04:25Z', '2026-12-05T06:04:24Z'));
    assert.ok(sameTime(undefined, null));
  });
});

test('every Time and MicroTime field of a kind is normalized through the schema', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      creationTimestamp: '2026-12-05T06:04:24.000Z',
      managedFields: [{ manager: 'm', operation: 'Update', apiVersion: 'v1', time: '2026-12-05T06:04:24.321Z' }],
    },
    spec: { containers: [{ name: 'c', image: 'i' }] },
    status: {
      startTime: '2026-12-05T06:04:24.5Z',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-05T07:04:24+01:00', lastProbeTime: null }],
      containerStatuses: [{ name: 'c', state: { running: { startedAt: '2026-12-05T06:04:24.9Z' } } }],
    },
  } as unknown as KubeObject;
  normalizeObjectTimes(pod, { group: '', version: 'v1', kind: 'Pod' });
  const s = pod['status'] as any;
  assert.equal(pod.metadata.creationTimestamp, '2026-12-05T06:04:24Z');
  assert.equal(pod.metadata.managedFields![0]!.time, '2026-12-05T06:04:24Z');
  assert.equal(s.startTime, '2026-12-05T06:04:24Z');
  assert.equal(s.conditions[0].lastTransitionTime, '2026-12-05T06:04:24Z');
  assert.equal(s.conditions[0].lastProbeTime, null);
  assert.equal(s.containerStatuses[0].state.running.startedAt, '2026-12-05T06:04:24Z');

  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: { renewTime: '2026-12-05T06:04:24.5Z' } } as unknown as KubeObject;
  normalizeObjectTimes(lease, { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' });
  assert.equal((lease['spec'] as any).renewTime, '2026-12-05T06:04:24.500000Z');

  const custom = { apiVersion: 'x.io/v1', kind: 'Thing', metadata: { name: 't', creationTimestamp: '2026-12-05T06:04:24.000Z' } } as KubeObject;
  normalizeObjectTimes(custom, { group: 'x.io', version: 'v1', kind: 'Thing' });
  assert.equal(custom.metadata.creationTimestamp, '2026-12-05T06:04:24Z');
});

test('every type of the schema can be walked', async () => {
  const { allTypes } = await import('./schema/index.ts');
  const { normalizeTimes } = await import('./times.ts');
  for (const t of allTypes()) if (t.kind === 'message') normalizeTimes({}, t.name);
});
