import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import { statusError } from '../api/errors.ts';
import type { Client } from '../client/index.ts';
import { retryOnConflict, updateStatus } from './status.ts';
import { findStatusCondition, isStatusConditionTrue, removeStatusCondition, setStatusCondition } from './conditions.ts';

const conflict = () => statusError('Conflict', 'Operation cannot be fulfilled on databases.example.com "x": the object has been modified; please apply your changes to the latest version and try again');

test('retryOnConflict retries conflicts and returns the first success', async () => {
  let n = 0;
  assert.equal(await retryOnConflict(async () => (++n < 3 ? Promise.reject(conflict()) : 'ok'), { backoff: { durationMs: 1 } }), 'ok');
  assert.equal(n, 3);
});

test('retryOnConflict gives up after the last step with the conflict', async () => {
  let n = 0;
  await assert.rejects(retryOnConflict(async () => {
    n++;
    throw conflict();
  }, { backoff: { durationMs: 1, steps: 4 } }), /has been modified/);
  assert.equal(n, 4);
});

test('retryOnConflict throws other errors at once', async () => {
  let n = 0;
  await assert.rejects(retryOnConflict(async () => {
    n++;
    throw statusError('NotFound', 'gone');
  }), /gone/);
  assert.equal(n, 1);
});

test('updateStatus reads again after a conflict and skips a write that changes nothing', async () => {
  let stored: KubeObject = { metadata: { name: 'x', namespace: 'ns', resourceVersion: '1' }, status: { phase: 'Pending' } };
  let conflicts = 1;
  const writes: unknown[] = [];
  const client = {
    get: async () => structuredClone(stored),
    updateStatus: async (_r: unknown, obj: KubeObject) => {
      if (conflicts-- > 0) {
        stored = { ...stored, metadata: { ...stored.metadata, resourceVersion: '2' } };
        throw conflict();
      }
      writes.push(obj.metadata.resourceVersion);
      stored = obj;
      return obj;
    },
  } as unknown as Client;
  const res = { group: 'example.com', version: 'v1', resource: 'databases', kind: 'Database', namespaced: true };
  const out = await updateStatus<KubeObject>(client, res, { namespace: 'ns', name: 'x' }, (o) => void (o['status'] = { phase: 'Ready' }), { backoff: { durationMs: 1 } });
  assert.deepStrictEqual(out['status'], { phase: 'Ready' });
  assert.deepStrictEqual(writes, ['2']);
  await updateStatus<KubeObject>(client, res, { namespace: 'ns', name: 'x' }, (o) => void (o['status'] = { phase: 'Ready' }));
  assert.equal(writes.length, 1);
});

test('setStatusCondition keeps the transition time unless the status changes', () => {
  const conds: Condition[] = [];
  let t = 0;
  const now = () => `2025-01-01T00:00:0${t++}Z`;
  assert.equal(setStatusCondition(conds, { type: 'Ready', status: 'False', reason: 'Creating', message: 'waiting' }, now), true);
  assert.equal(setStatusCondition(conds, { type: 'Ready', status: 'False', reason: 'Creating', message: 'waiting' }, now), false);
  assert.equal(setStatusCondition(conds, { type: 'Ready', status: 'False', reason: 'Scaling', message: '1/3', observedGeneration: 2 }, now), true);
  assert.equal(conds[0]!.lastTransitionTime, '2025-01-01T00:00:00Z');
  assert.equal(setStatusCondition(conds, { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }, now), true);
  assert.equal(conds[0]!.lastTransitionTime, '2025-01-01T00:00:01Z');
  assert.equal(conds[0]!.observedGeneration, 2);
  assert.ok(isStatusConditionTrue(conds, 'Ready'));
  assert.equal(findStatusCondition(conds, 'Progressing'), undefined);
  assert.equal(removeStatusCondition(conds, 'Ready'), true);
  assert.equal(conds.length, 0);
});
