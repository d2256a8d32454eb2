/**
 * The Job pod-failure backoff as upstream's backoff_utils_test.go has it: how a pod's finish
 * time is found, how the record of failures since the last success evolves with newly finished
 * pods, and the remaining wait (10 s doubling, capped), globally and per index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../api/index.ts';
import { BackoffStore, finishedTime, remainingForFailures, remainingTimePerIndex } from './job-backoff.ts';

const t0 = Date.parse('2025-01-01T00:00:00Z');
const at = (s: number) => new Date(t0 + s * 1000).toISOString().replace('.000Z', 'Z');
const finished = (s: number, extra: Partial<Pod['metadata']> = {}): Pod => ({
  metadata: { name: `p${s}`, ...extra },
  status: { containerStatuses: [{ name: 'c', ready: false, restartCount: 0, image: 'i', imageID: '', state: { terminated: { exitCode: 1, finishedAt: at(s) } } }] },
});

const finishCases: { name: string; pod: Pod; want: number }[] = [
  { name: 'the latest container finish', pod: { metadata: {}, status: { containerStatuses: [0, 7, 3].map((s) => ({ name: `c${s}`, ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 0, finishedAt: at(s) } } })) } }, want: t0 + 7000 },
  {
    name: 'Ready turning False when a container still runs',
    pod: { metadata: {}, status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: at(4) }], containerStatuses: [{ name: 'c', ready: false, restartCount: 0, image: '', imageID: '', state: { running: {} } }] } },
    want: t0 + 4000,
  },
  { name: 'the deletion less the grace period', pod: { metadata: { deletionTimestamp: at(30), deletionGracePeriodSeconds: 30 } }, want: t0 },
  { name: 'else the creation', pod: { metadata: { creationTimestamp: at(2) } }, want: t0 + 2000 },
];
for (const c of finishCases) test(`finish time: ${c.name}`, () => assert.equal(finishedTime(c.pod), c.want));

test('failures accumulate until a success, which keeps only later failures', () => {
  const store = new BackoffStore();
  let rec = store.newRecord('ns/j', [], [finished(1), finished(3)]);
  assert.deepEqual(rec, { failuresAfterLastSuccess: 2, lastFailureTime: t0 + 3000 });
  store.update('ns/j', rec);
  rec = store.newRecord('ns/j', [], [finished(5)]);
  assert.deepEqual(rec, { failuresAfterLastSuccess: 3, lastFailureTime: t0 + 5000 });
  store.update('ns/j', rec);
  rec = store.newRecord('ns/j', [finished(6)], [finished(4), finished(8), finished(9)]);
  assert.deepEqual(rec, { failuresAfterLastSuccess: 2, lastFailureTime: t0 + 9000 });
  rec = store.newRecord('ns/j', [finished(6)], []);
  assert.deepEqual(rec, { failuresAfterLastSuccess: 0, lastFailureTime: undefined });
  store.remove('ns/j');
  assert.equal(store.size, 0);
});

const waitCases: { name: string; failures: number; elapsedS: number; want: number }[] = [
  { name: 'no failure, no wait', failures: 0, elapsedS: 0, want: 0 },
  { name: 'one failure waits 10 s', failures: 1, elapsedS: 4, want: 6_000 },
  { name: 'three failures wait 40 s', failures: 3, elapsedS: 0, want: 40_000 },
  { name: 'the wait is capped', failures: 30, elapsedS: 0, want: 600_000 },
  { name: 'a wait that passed is none', failures: 2, elapsedS: 25, want: 0 },
];
for (const c of waitCases) {
  test(`backoff: ${c.name}`, () => assert.equal(remainingForFailures(t0 + c.elapsedS * 1000, 10_000, 600_000, c.failures, t0), c.want));
}

test('an index backs off from the failure count its last failed pod carries', () => {
  const pod = finished(0, { annotations: { 'batch.kubernetes.io/job-index-failure-count': '1', 'batch.kubernetes.io/job-index-ignored-failure-count': '1' } });
  // Two earlier failures plus this one: 40 s.
  assert.equal(remainingTimePerIndex(pod, t0 + 10_000, 10_000, 600_000), 30_000);
  assert.equal(remainingTimePerIndex(undefined, t0, 10_000, 600_000), 0);
});
