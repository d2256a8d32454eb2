import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { nameFromGenerateName, validateObjectMeta, validateObjectMetaUpdate, type ObjectMetaOptions } from './meta.ts';
import type { ObjectMeta } from './types.ts';

const ns: ObjectMetaOptions = { namespaced: true, nameRule: 'subdomain' };
const fields = (meta: ObjectMeta, opts = ns) => validateObjectMeta(meta, opts).map((c) => c.field);

describe('object metadata', () => {
  const cases: { name: string; meta: ObjectMeta; opts?: Parameters<typeof validateObjectMeta>[1]; want: string[] }[] = [
    { name: 'a plain namespaced object is valid', meta: { name: 'web', namespace: 'default' }, want: [] },
    { name: 'a name or generateName is required', meta: { namespace: 'default' }, want: ['metadata.name'] },
    { name: 'generateName alone is enough', meta: { generateName: 'web-', namespace: 'default' }, want: [] },
    { name: 'an upper-case name is not a DNS subdomain', meta: { name: 'Web', namespace: 'default' }, want: ['metadata.name'] },
    { name: 'a dotted name is a valid subdomain', meta: { name: 'a.b', namespace: 'default' }, want: [] },
    { name: 'a dotted name is not a DNS label', meta: { name: 'a.b', namespace: 'default' }, opts: { namespaced: true, nameRule: 'label' }, want: ['metadata.name'] },
    { name: 'a namespaced object needs its namespace', meta: { name: 'web' }, want: ['metadata.namespace'] },
    { name: 'a cluster-scoped object may not have one', meta: { name: 'n1', namespace: 'x' }, opts: { namespaced: false, nameRule: 'subdomain' }, want: ['metadata.namespace'] },
    { name: 'a bad label key is reported', meta: { name: 'web', namespace: 'd', labels: { 'bad key': 'v' } }, want: ['metadata.labels'] },
    { name: 'a bad label value is reported', meta: { name: 'web', namespace: 'd', labels: { k: 'not ok' } }, want: ['metadata.labels'] },
    { name: 'owner references need apiVersion, kind, name and uid', meta: { name: 'web', namespace: 'd', ownerReferences: [{} as never] }, want: ['metadata.ownerReferences[0].apiVersion', 'metadata.ownerReferences[0].kind', 'metadata.ownerReferences[0].name', 'metadata.ownerReferences[0].uid'] },
    {
      name: 'only one owner reference may be the controller',
      meta: {
        name: 'web',
        namespace: 'd',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'A', name: 'a', uid: '1', controller: true },
          { apiVersion: 'v1', kind: 'B', name: 'b', uid: '2', controller: true },
        ],
      },
      want: ['metadata.ownerReferences'],
    },
    { name: 'repeated finalizers are reported', meta: { name: 'web', namespace: 'd', finalizers: ['a.io/x', 'a.io/x'] }, want: ['metadata.finalizers[1]'] },
    { name: 'a negative generation is invalid', meta: { name: 'web', namespace: 'd', generation: -1 }, want: ['metadata.generation'] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(fields(c.meta, c.opts), c.want));
});

describe('metadata updates', () => {
  const old: ObjectMeta = { name: 'web', namespace: 'd', uid: 'u1', creationTimestamp: '2026-01-01T00:00:00Z' };
  test('name, namespace, uid and creationTimestamp are immutable', () => {
    const got = validateObjectMetaUpdate({ name: 'web2', namespace: 'e', uid: 'u2', creationTimestamp: '2026-01-02T00:00:00Z' }, old).map((c) => c.field);
    assert.deepEqual(got, ['metadata.name', 'metadata.namespace', 'metadata.uid', 'metadata.creationTimestamp']);
  });
  test('timestamps compare as instants: a fraction of zero is the same time', () => {
    assert.deepEqual(validateObjectMetaUpdate({ ...old, creationTimestamp: '2026-01-01T00:00:00.000Z' }, old), []);
    assert.deepEqual(validateObjectMetaUpdate({ ...old, creationTimestamp: '2026-01-01T01:00:00+01:00' }, old), []);
  });
  test('deletionTimestamp and deletionGracePeriodSeconds are immutable', () => {
    const got = validateObjectMetaUpdate({ ...old, deletionTimestamp: '2026-01-03T00:00:00Z', deletionGracePeriodSeconds: 30 }, old);
    assert.deepEqual(got.map((c) => [c.field, c.message]), [
      ['metadata.deletionTimestamp', 'Invalid value: 2026-01-03 00:00:00 +0000 UTC: field is immutable'],
      ['metadata.deletionGracePeriodSeconds', 'Invalid value: 30: field is immutable'],
    ]);
  });
  test('no finalizer may be added once deletion started', () => {
    const deleting = { ...old, deletionTimestamp: '2026-01-03T00:00:00Z', finalizers: ['a.io/x'] };
    assert.deepEqual(validateObjectMetaUpdate({ ...deleting, finalizers: ['a.io/x', 'b.io/y'] }, deleting).map((c) => c.field), ['metadata.finalizers']);
    assert.deepEqual(validateObjectMetaUpdate({ ...deleting, finalizers: [] }, deleting), []);
  });
});

test('generated names add five characters to a prefix cut to 58', () => {
  assert.match(nameFromGenerateName('web-'), /^web-[a-z0-9]{5}$/);
  assert.equal(nameFromGenerateName('x'.repeat(80)).length, 63);
});
