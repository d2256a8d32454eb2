import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/types.ts';
import {
  CacheStore,
  controllerUidIndex,
  deepFreeze,
  IndexControllerUid,
  IndexNamespace,
  IndexNodeName,
  IndexOwnerUid,
  namespaceIndex,
  objectKey,
  orphanIndexValue,
  ownerUidIndex,
  podNodeNameIndex,
  splitKey,
} from './store.ts';

function pod(ns: string, name: string, opts: { node?: string; owners?: string[]; controller?: string; rv?: string } = {}): KubeObject {
  const refs = opts.owners?.map((uid) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${uid}`, uid, ...(uid === opts.controller ? { controller: true } : {}) }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: ns,
      name,
      resourceVersion: opts.rv ?? '1',
      ownerReferences: refs,
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

describe('the controller-UID index (upstream PodControllerUIDIndex)', () => {
  const fill = () => {
    const s = new CacheStore({ [IndexControllerUid]: controllerUidIndex });
    s.set('a/owned1', pod('a', 'owned1', { owners: ['u1'], controller: 'u1' }));
    s.set('a/owned2', pod('a', 'owned2', { owners: ['u0', 'u1'], controller: 'u1' }));
    s.set('a/other', pod('a', 'other', { owners: ['u2'], controller: 'u2' }));
    s.set('a/orphan', pod('a', 'orphan'));
    s.set('a/referenced', pod('a', 'referenced', { owners: ['u1'] }));
    s.set('b/orphan', pod('b', 'orphan'));
    return s;
  };
  const cases: { name: string; value: string; want: string[] }[] = [
    { name: 'objects are filed under their controller reference uid only', value: 'u1', want: ['owned1', 'owned2'] },
    { name: 'an owner that is not the controller does not file the object', value: 'u0', want: [] },
    { name: 'objects without a controller are orphans of their namespace', value: orphanIndexValue('a'), want: ['orphan', 'referenced'] },
    { name: 'orphans of another namespace are apart', value: orphanIndexValue('b'), want: ['orphan'] },
    { name: 'a namespace without orphans has none', value: orphanIndexValue('c'), want: [] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(names(fill().byIndex(IndexControllerUid, c.value)), c.want));

  test('orphan values use upstream OrphanPodIndexKey and never collide with a uid', () => {
    assert.equal(orphanIndexValue('default'), '_ORPHAN_POD/default');
  });

  test('adoption and release move an object between its orphan value and the controller uid', () => {
    const s = fill();
    s.set('a/orphan', pod('a', 'orphan', { owners: ['u1'], controller: 'u1', rv: '2' }));
    assert.deepEqual(names(s.byIndex(IndexControllerUid, 'u1')), ['orphan', 'owned1', 'owned2']);
    assert.deepEqual(names(s.byIndex(IndexControllerUid, orphanIndexValue('a'))), ['referenced']);
    s.set('a/owned1', pod('a', 'owned1', { rv: '2' }));
    assert.deepEqual(names(s.byIndex(IndexControllerUid, 'u1')), ['orphan', 'owned2']);
    assert.deepEqual(names(s.byIndex(IndexControllerUid, orphanIndexValue('a'))), ['owned1', 'referenced']);
    s.delete('a/owned2');
    assert.deepEqual(names(s.byIndex(IndexControllerUid, 'u1')), ['orphan']);
    assert.equal(s.countByIndex(IndexControllerUid, 'u1'), 1);
    assert.equal(s.hasIndex(IndexControllerUid), true);
    assert.equal(s.hasIndex('nope'), false);
  });
});

test('byIndex returns a fresh array each call: changing it leaves the index alone', () => {
  const s = newStore();
  s.set('a/p1', pod('a', 'p1'));
  const got = s.byIndex(IndexNamespace, 'a');
  got.pop();
  assert.deepEqual(names(s.byIndex(IndexNamespace, 'a')), ['p1']);
});
