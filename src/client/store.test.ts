import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/types.ts';
import { CacheStore, deepFreeze, IndexNamespace, IndexNodeName, IndexOwnerUid, namespaceIndex, objectKey, ownerUidIndex, podNodeNameIndex, splitKey } from './store.ts';

function pod(ns: string, name: string, opts: { node?: string; owners?: string[]; rv?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: ns,
      name,
      resourceVersion: opts.rv ?? '1',
      ownerReferences: opts.owners?.map((uid) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${uid}`, uid })),
    },
    spec: opts.node ? { nodeName: opts.node } : {},
  };
}

const newStore = () => new CacheStore({ [IndexNamespace]: namespaceIndex, [IndexOwnerUid]: ownerUidIndex, [IndexNodeName]: podNodeNameIndex });
const names = (objs: KubeObject[]) => objs.map((o) => o.metadata.name).sort();

const keyCases: { name: string; obj: KubeObject; key: string }[] = [
  { name: 'a namespaced object is keyed namespace/name', obj: pod('ns1', 'p'), key: 'ns1/p' },
  { name: 'a cluster-scoped object is keyed by name', obj: { metadata: { name: 'node-1' } }, key: 'node-1' },
];
for (const c of keyCases) {
  test(`objectKey: ${c.name}`, () => {
    assert.equal(objectKey(c.obj), c.key);
    assert.deepEqual(splitKey(c.key), { namespace: c.obj.metadata.namespace ?? '', name: c.obj.metadata.name });
  });
}

const indexCases: { name: string; index: string; value: string; want: string[] }[] = [
  { name: 'objects by namespace', index: IndexNamespace, value: 'a', want: ['p1', 'p2'] },
  { name: 'objects by owner uid', index: IndexOwnerUid, value: 'u1', want: ['p1', 'p3'] },
  { name: 'an object with two owners is under both', index: IndexOwnerUid, value: 'u2', want: ['p3'] },
  { name: 'pods by node name', index: IndexNodeName, value: 'n1', want: ['p2', 'p3'] },
  { name: 'nothing under an unknown value', index: IndexNodeName, value: 'n9', want: [] },
];
for (const c of indexCases) {
  test(`byIndex: ${c.name}`, () => {
    const s = newStore();
    s.set('a/p1', pod('a', 'p1', { owners: ['u1'] }));
    s.set('a/p2', pod('a', 'p2', { node: 'n1' }));
    s.set('b/p3', pod('b', 'p3', { node: 'n1', owners: ['u1', 'u2'] }));
    assert.deepEqual(names(s.byIndex(c.index, c.value)), c.want);
  });
}

test('an update moves the object between index values and a delete removes it', () => {
  const s = newStore();
  s.set('a/p', pod('a', 'p', { node: 'n1' }));
  const old = s.set('a/p', pod('a', 'p', { node: 'n2', rv: '2' }));
  assert.equal(old?.metadata.resourceVersion, '1');
  assert.deepEqual(s.byIndex(IndexNodeName, 'n1'), []);
  assert.deepEqual(names(s.byIndex(IndexNodeName, 'n2')), ['p']);
  assert.equal(s.delete('a/p')?.metadata.resourceVersion, '2');
  assert.deepEqual(s.byIndex(IndexNodeName, 'n2'), []);
  assert.equal(s.size, 0);
  assert.equal(s.delete('a/p'), undefined);
});

test('indexers added later index the objects already stored; names are unique', () => {
  const s = new CacheStore();
  s.set('a/p', pod('a', 'p', { node: 'n1' }));
  s.addIndexers({ byNode: podNodeNameIndex });
  assert.deepEqual(names(s.byIndex('byNode', 'n1')), ['p']);
  assert.throws(() => s.addIndexers({ byNode: podNodeNameIndex }), /already exists/);
  assert.throws(() => s.byIndex('nope', 'x'), /does not exist/);
});

test('deepFreeze makes nested fields read-only', () => {
  const p = deepFreeze(pod('a', 'p', { node: 'n1' }));
  assert.throws(() => {
    (p['spec'] as Record<string, unknown>)['nodeName'] = 'other';
  }, TypeError);
  assert.throws(() => {
    p.metadata.name = 'x';
  }, TypeError);
});
