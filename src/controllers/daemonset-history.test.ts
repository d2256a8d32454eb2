/**
 * DaemonSet revisions (daemonset-history.ts) and the failed-pod backoff (daemonset-backoff.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControllerRevision, DaemonSet } from '../api/index.ts';
import { FakeClock } from '../client/index.ts';
import { Backoff } from './daemonset-backoff.ts';
import { daemonSetRevisionData, newDaemonSetRevision, revisionMatches, revisionsToDelete, revisionToKeep } from './daemonset-history.ts';

function ds(image: string, collisionCount?: number): DaemonSet {
  return {
    metadata: { name: 'web', namespace: 'ns', uid: 'u1', annotations: { 'kubernetes.io/change-cause': `image ${image}` } },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } } },
    ...(collisionCount !== undefined ? { status: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0, collisionCount } } : {}),
  };
}

test('revision data is the template with $patch: replace, keys sorted as Go writes them', () => {
  const data = daemonSetRevisionData(ds('a'));
  assert.equal(
    JSON.stringify(data),
    '{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"image":"a","name":"c"}]}}}}',
  );
});

test('a revision is named after the template hash, labelled, annotated and owned as upstream', () => {
  const r = newDaemonSetRevision(ds('a'), 3);
  const hash = r.metadata.labels!['controller-revision-hash']!;
  assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  assert.equal(r.metadata.name, `web-${hash}`);
  assert.deepEqual(r.metadata.labels, { app: 'web', 'controller-revision-hash': hash });
  assert.equal(r.metadata.annotations?.['kubernetes.io/change-cause'], 'image a');
  assert.deepEqual(r.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true }]);
  assert.equal(r.revision, 3);
  assert.notEqual(newDaemonSetRevision(ds('a', 1), 3).metadata.name, r.metadata.name, 'the collision count changes the name');
  assert.notEqual(newDaemonSetRevision(ds('b'), 3).metadata.name, r.metadata.name);
});

test('a revision matches the template it restores, whatever the key order or empty fields', () => {
  const r = newDaemonSetRevision(ds('a'), 1);
  assert.equal(revisionMatches(ds('a'), r), true);
  assert.equal(revisionMatches(ds('b'), r), false);
  const reordered: ControllerRevision = { ...r, data: { spec: { template: { spec: { containers: [{ name: 'c', image: 'a', env: [] }] }, metadata: { labels: { app: 'web' } }, $patch: 'replace' } } } };
  assert.equal(revisionMatches(ds('a'), reordered), true);
});

const rev = (name: string, revision: number, hash = name): ControllerRevision => ({ metadata: { name, labels: { 'controller-revision-hash': hash } }, revision });

test('history cleanup deletes the oldest revisions beyond the limit that no pod uses', () => {
  const old = [rev('r3', 3), rev('r1', 1), rev('r2', 2), rev('r4', 4)];
  assert.deepEqual(revisionsToDelete(old, 2, new Set()).map((r) => r.metadata.name), ['r1', 'r2']);
  assert.deepEqual(revisionsToDelete(old, 2, new Set(['r1'])).map((r) => r.metadata.name), ['r2', 'r3']);
  assert.deepEqual(revisionsToDelete(old, 4, new Set()), []);
  assert.deepEqual(revisionsToDelete(old, 0, new Set(['r1', 'r2', 'r3', 'r4'])), []);
});

test('of duplicate current revisions the newest is kept', () => {
  assert.equal(revisionToKeep([rev('a', 2), rev('b', 5), rev('c', 1)]).metadata.name, 'b');
});

test('failed-pod backoff: 1 s doubling to the maximum, starting over after twice the maximum', () => {
  const clock = new FakeClock();
  const b = new Backoff({ initialMs: 1000, maxMs: 4000, clock });
  assert.equal(b.inBackoffSinceUpdate('k'), false);
  b.next('k');
  assert.equal(b.get('k'), 1000);
  assert.equal(b.inBackoffSinceUpdate('k'), true);
  clock.step(1000);
  assert.equal(b.inBackoffSinceUpdate('k'), false);
  b.next('k');
  b.next('k');
  b.next('k');
  assert.equal(b.get('k'), 4000, 'capped');
  clock.step(8001);
  assert.equal(b.inBackoffSinceUpdate('k'), false);
  b.gc();
  assert.equal(b.size, 0, 'expired entries are collected');
  b.next('k');
  assert.equal(b.get('k'), 1000, 'starts over');
});

test('failed-pod backoff keeps at most maxEntries, dropping the least recently updated', () => {
  const b = new Backoff({ maxEntries: 2, clock: new FakeClock() });
  b.next('a');
  b.next('b');
  b.next('a');
  b.next('c');
  assert.equal(b.size, 2);
  assert.equal(b.get('b'), 0);
  assert.equal(b.get('a'), 2000);
});
