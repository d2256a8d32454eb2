/**
 * Expectations as upstream's ControllerExpectations / UIDTrackingControllerExpectations and
 * slowStartBatch: the bookkeeping balances exactly in every edge case, so a controller never
 * waits for the five-minute timeout.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../client/index.ts';
import { ControllerExpectations, UIDTrackingExpectations, expectationsTimeoutMs, slowStartBatch, slowStartInitialBatchSize } from './expectations.ts';
import { burstReplicas } from './replicaset.ts';

/** A create that fails on the calls whose (0-based) numbers are in `failing`; records batch sizes. */
function fakeCreates(failing: ReadonlySet<number>, onCreated?: () => void) {
  let calls = 0;
  let inFlight = 0;
  const batches: number[] = [];
  const fn = async () => {
    const n = calls++;
    if (inFlight++ === 0) batches.push(0);
    batches[batches.length - 1]!++;
    await Promise.resolve();
    inFlight--;
    if (failing.has(n)) throw new Error(`create ${n} failed`);
    onCreated?.();
  };
  return { fn, batches, calls: () => calls };
}

describe('slowStartBatch', () => {
  test('batches double from 1 and the last one takes the rest (burst of 500)', async () => {
    const c = fakeCreates(new Set());
    const r = await slowStartBatch(burstReplicas, slowStartInitialBatchSize, c.fn);
    assert.deepEqual(c.batches, [1, 2, 4, 8, 16, 32, 64, 128, 245]);
    assert.equal(r.successes, 500);
    assert.equal(r.error, undefined);
  });

  test('stops after the first batch with a failure; later batches are never attempted', async () => {
    const c = fakeCreates(new Set([3, 4]));
    const r = await slowStartBatch(10, 1, c.fn);
    assert.deepEqual(c.batches, [1, 2, 4]);
    assert.equal(c.calls(), 7);
    assert.equal(r.successes, 5);
    assert.match(String(r.error), /create 3 failed/);
  });

  test('a count of zero attempts nothing', async () => {
    const c = fakeCreates(new Set());
    assert.deepEqual(await slowStartBatch(0, 1, c.fn), { successes: 0 });
    assert.equal(c.calls(), 0);
  });
});

describe('expectations', () => {
  test('no record is satisfied, and lowering without a record creates none', () => {
    const e = new ControllerExpectations();
    assert.equal(e.satisfied('ns/rs'), true);
    e.creationObserved('ns/rs');
    assert.equal(e.get('ns/rs'), undefined);
    assert.equal(e.satisfied('ns/rs'), true);
  });

  test('satisfied only once every expected create is observed', () => {
    const e = new ControllerExpectations();
    e.expectCreations('ns/rs', 2);
    e.creationObserved('ns/rs');
    assert.equal(e.satisfied('ns/rs'), false);
    e.creationObserved('ns/rs');
    assert.equal(e.satisfied('ns/rs'), true);
  });

  // The manage step of the ReplicaSet controller, as it is written: expect, create in slow-start
  // batches with the watch observing each success, lower the failed and skipped ones.
  async function manage(e: ControllerExpectations, count: number, failing: Set<number>, observeBeforeReturn: boolean) {
    const pendingWatch: (() => void)[] = [];
    const observe = () => e.creationObserved('ns/rs');
    e.expectCreations('ns/rs', count);
    const c = fakeCreates(failing, () => (observeBeforeReturn ? observe() : pendingWatch.push(observe)));
    const { successes } = await slowStartBatch(count, slowStartInitialBatchSize, c.fn);
    for (let i = successes; i < count; i++) e.creationObserved('ns/rs');
    return { successes, deliverWatch: () => pendingWatch.splice(0).forEach((f) => f()) };
  }

  test('a create seen by the watch before the create call returns counts once', async () => {
    const e = new ControllerExpectations();
    const r = await manage(e, 7, new Set(), true);
    assert.equal(r.successes, 7);
    assert.deepEqual(e.get('ns/rs'), { add: 0, del: 0 });
    assert.equal(e.satisfied('ns/rs'), true);
  });

  test('one failed create lowers the expectation by the failed and the skipped creates', async () => {
    const e = new ControllerExpectations();
    const r = await manage(e, 10, new Set([4]), false);
    assert.equal(r.successes, 6);
    assert.deepEqual(e.get('ns/rs'), { add: 6, del: 0 });
    assert.equal(e.satisfied('ns/rs'), false);
    r.deliverWatch();
    assert.deepEqual(e.get('ns/rs'), { add: 0, del: 0 });
    assert.equal(e.satisfied('ns/rs'), true);
  });

  test('several failures in one batch are not lowered twice', async () => {
    const e = new ControllerExpectations();
    const r = await manage(e, 10, new Set([3, 4, 5, 6]), false);
    assert.equal(r.successes, 3);
    // Before the watch catches up the controller must still wait for its 3 pods.
    assert.equal(e.satisfied('ns/rs'), false);
    r.deliverWatch();
    assert.deepEqual(e.get('ns/rs'), { add: 0, del: 0 });
  });

  test('twenty bursts of 500 with failures in some balance after each burst (10,000 replicas)', async () => {
    const e = new ControllerExpectations();
    let made = 0;
    for (let burst = 0; made < 10_000; burst++) {
      assert.equal(e.satisfied('ns/rs'), true, `burst ${burst} may start`);
      const failing = burst % 3 === 1 ? new Set([100 + burst, 101 + burst]) : new Set<number>();
      const r = await manage(e, Math.min(burstReplicas, 10_000 - made), failing, burst % 2 === 0);
      r.deliverWatch();
      made += r.successes;
      assert.deepEqual(e.get('ns/rs'), { add: 0, del: 0 }, `burst ${burst} balances`);
    }
  });

  test('pending expectations expire after the timeout (5 minutes), not before', () => {
    const clock = new FakeClock();
    const e = new ControllerExpectations({ clock });
    e.expectCreations('ns/rs', 1);
    clock.step(expectationsTimeoutMs);
    assert.equal(e.satisfied('ns/rs'), false);
    clock.step(1);
    assert.equal(e.satisfied('ns/rs'), true);
  });

  test('a new record replaces the old one', () => {
    const e = new ControllerExpectations();
    e.expectCreations('ns/rs', 5);
    e.expectCreations('ns/rs', 1);
    e.creationObserved('ns/rs');
    assert.equal(e.satisfied('ns/rs'), true);
  });

  test('deleting the record (the set is gone) satisfies it', () => {
    const e = new UIDTrackingExpectations();
    e.expectDeletions('ns/rs', ['ns/a']);
    e.delete('ns/rs');
    assert.equal(e.satisfied('ns/rs'), true);
    assert.equal(e.pendingDeletions('ns/rs').size, 0);
  });
});

describe('deletions tracked per pod', () => {
  test('a pod seen terminating and then gone counts once', () => {
    const e = new UIDTrackingExpectations();
    e.expectDeletions('ns/rs', ['ns/a', 'ns/b']);
    e.deletionObserved('ns/rs', 'ns/a'); // deletionTimestamp set
    e.deletionObserved('ns/rs', 'ns/a'); // DELETED event
    assert.deepEqual(e.get('ns/rs'), { add: 0, del: 1 });
    assert.equal(e.satisfied('ns/rs'), false);
    e.deletionObserved('ns/rs', 'ns/b');
    assert.equal(e.satisfied('ns/rs'), true);
  });

  test('the deletion of a pod the controller did not ask to delete does not count', () => {
    const e = new UIDTrackingExpectations();
    e.expectDeletions('ns/rs', ['ns/a']);
    e.deletionObserved('ns/rs', 'ns/other');
    assert.equal(e.satisfied('ns/rs'), false);
    assert.deepEqual([...e.pendingDeletions('ns/rs')], ['ns/a']);
  });

  test('a failed delete is lowered by the controller, and its later event is not counted again', () => {
    const e = new UIDTrackingExpectations();
    e.expectDeletions('ns/rs', ['ns/a', 'ns/b']);
    e.deletionObserved('ns/rs', 'ns/a'); // delete call failed
    e.deletionObserved('ns/rs', 'ns/a'); // ... yet the pod went away
    assert.deepEqual(e.get('ns/rs'), { add: 0, del: 1 });
  });
});
