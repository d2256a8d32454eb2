import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/types.ts';
import { statusError } from '../api/errors.ts';
import type { Client, ResourceDescriptor } from '../client/index.ts';
import {
  AlreadyOwnedError,
  addFinalizer,
  containsFinalizer,
  createOrPatch,
  createOrUpdate,
  isControlledBy,
  mergePatch,
  removeFinalizer,
  removeOwnerReference,
  setControllerReference,
  setOwnerReference,
} from './controllerutil.ts';

const owner = (name = 'db', ns = 'ns'): KubeObject => ({ apiVersion: 'example.com/v1', kind: 'Database', metadata: { name, namespace: ns, uid: `uid-${name}` } });
const child = (ns = 'ns'): KubeObject => ({ metadata: { name: 'sts', namespace: ns } });

test('setControllerReference adds a controller reference that blocks owner deletion', () => {
  const c = child();
  setControllerReference(owner(), c);
  assert.deepStrictEqual(c.metadata.ownerReferences, [{ apiVersion: 'example.com/v1', kind: 'Database', name: 'db', uid: 'uid-db', blockOwnerDeletion: true, controller: true }]);
  assert.ok(isControlledBy(c, owner()));
});

test('setControllerReference is idempotent and replaces the same owner by group, kind and name', () => {
  const c = child();
  setControllerReference(owner(), c);
  setControllerReference({ ...owner(), apiVersion: 'example.com/v2' }, c);
  assert.equal(c.metadata.ownerReferences!.length, 1);
  assert.equal(c.metadata.ownerReferences![0]!.apiVersion, 'example.com/v2');
});

test('setControllerReference refuses a second controller with upstream\'s message', () => {
  const c = child();
  setControllerReference(owner('a'), c);
  assert.throws(() => setControllerReference(owner('b'), c), (err: unknown) => err instanceof AlreadyOwnedError && err.message === 'Object ns/sts is already owned by another Database controller a');
});

test('owner references across namespaces are refused as upstream', () => {
  assert.throws(() => setOwnerReference(owner('db', 'a'), child('b')), /^Error: cross-namespace owner references are disallowed, owner's namespace a, obj's namespace b$/);
  assert.throws(() => setControllerReference(owner('db', 'a'), { metadata: { name: 'pv' } }), /^Error: cluster-scoped resource must not have a namespace-scoped owner, owner's namespace a$/);
});

test('an owner without a uid is refused', () => {
  assert.throws(() => setOwnerReference({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns' } }, child()), /needs apiVersion, kind, metadata.name and metadata.uid/);
});

test('setOwnerReference adds a plain reference beside a controller, removeOwnerReference takes it away', () => {
  const c = child();
  setControllerReference(owner('a'), c);
  setOwnerReference(owner('b'), c);
  assert.deepStrictEqual(c.metadata.ownerReferences!.map((r) => [r.name, r.controller ?? false]), [['a', true], ['b', false]]);
  assert.equal(removeOwnerReference(owner('b'), c), true);
  assert.equal(removeOwnerReference(owner('b'), c), false);
  assert.equal(c.metadata.ownerReferences!.length, 1);
});

test('finalizers are added once and removed', () => {
  const o = child();
  assert.equal(addFinalizer(o, 'example.com/cleanup'), true);
  assert.equal(addFinalizer(o, 'example.com/cleanup'), false);
  assert.ok(containsFinalizer(o, 'example.com/cleanup'));
  assert.equal(removeFinalizer(o, 'example.com/cleanup'), true);
  assert.equal(removeFinalizer(o, 'example.com/cleanup'), false);
  assert.deepStrictEqual(o.metadata.finalizers, []);
});

const mergeCases: { name: string; from: unknown; to: unknown; want: unknown }[] = [
  { name: 'equal values give no patch', from: { a: 1, b: [1] }, to: { a: 1, b: [1] }, want: undefined },
  { name: 'a changed field', from: { a: 1, b: 2 }, to: { a: 1, b: 3 }, want: { b: 3 } },
  { name: 'a removed field becomes null', from: { a: 1, b: 2 }, to: { a: 1 }, want: { b: null } },
  { name: 'nested objects recurse', from: { s: { x: 1, y: 2 } }, to: { s: { x: 1, y: 5 } }, want: { s: { y: 5 } } },
  { name: 'arrays are replaced whole', from: { l: [1, 2] }, to: { l: [1] }, want: { l: [1] } },
];
for (const c of mergeCases) test(`mergePatch: ${c.name}`, () => assert.deepStrictEqual(mergePatch(c.from, c.to), c.want));

/** A fake client over one map (a pure unit: the real client is covered in test/e2e/operator.test.ts). */
function fakeClient(initial: KubeObject[] = []) {
  const objs = new Map(initial.map((o) => [o.metadata.name!, structuredClone(o)]));
  const calls: string[] = [];
  let rv = 10;
  const client = {
    get: async (_r: ResourceDescriptor, name: string) => {
      calls.push(`get ${name}`);
      const o = objs.get(name);
      if (!o) throw statusError('NotFound', `configmaps "${name}" not found`);
      return structuredClone(o);
    },
    create: async (_r: ResourceDescriptor, obj: KubeObject) => {
      calls.push(`create ${obj.metadata.name}`);
      const o = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
      objs.set(o.metadata.name!, o);
      return o;
    },
    update: async (_r: ResourceDescriptor, obj: KubeObject) => {
      calls.push(`update ${obj.metadata.name}`);
      const o = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
      objs.set(o.metadata.name!, o);
      return o;
    },
    patch: async (_r: ResourceDescriptor, name: string, patch: unknown, opts: { subresource?: string }) => {
      calls.push(`patch${opts.subresource ? `/${opts.subresource}` : ''} ${name} ${JSON.stringify(patch)}`);
      return structuredClone(objs.get(name)!);
    },
  } as unknown as Client;
  return { client, calls, objs };
}
const cm = { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true };

test('createOrUpdate creates, then updates only on a change', async () => {
  const { client, calls } = fakeClient();
  const want = (v: string) => (o: KubeObject) => void (o['data'] = { k: v });
  assert.equal((await createOrUpdate<KubeObject>(client, cm, { metadata: { name: 'c', namespace: 'ns' } }, want('1'))).result, 'created');
  assert.equal((await createOrUpdate<KubeObject>(client, cm, { metadata: { name: 'c', namespace: 'ns' } }, want('1'))).result, 'unchanged');
  const r = await createOrUpdate<KubeObject>(client, cm, { metadata: { name: 'c', namespace: 'ns' } }, want('2'));
  assert.equal(r.result, 'updated');
  assert.deepStrictEqual(r.object['data'], { k: '2' });
  assert.deepStrictEqual(calls, ['get c', 'create c', 'get c', 'get c', 'update c']);
});

test('createOrUpdate refuses a mutate that renames the object', async () => {
  const { client } = fakeClient();
  await assert.rejects(createOrUpdate(client, cm, { metadata: { name: 'c', namespace: 'ns' } }, (o) => void (o.metadata.name = 'd')), /^Error: MutateFn cannot mutate object name and\/or object namespace$/);
});

test('createOrPatch patches the object and its status separately', async () => {
  const { client, calls } = fakeClient([{ metadata: { name: 'c', namespace: 'ns', resourceVersion: '3' }, spec: { a: 1 }, status: { ready: false } }]);
  const r = await createOrPatch<KubeObject>(client, cm, { metadata: { name: 'c', namespace: 'ns' } }, (o) => {
    o['spec'] = { a: 2 };
    o['status'] = { ready: true };
  });
  assert.equal(r.result, 'updatedStatus');
  assert.deepStrictEqual(calls.slice(1), ['patch c {"spec":{"a":2}}', 'patch/status c {"status":{"ready":true}}']);
  const { client: c2, calls: calls2 } = fakeClient([{ metadata: { name: 'c', namespace: 'ns' }, status: { ready: false } }]);
  assert.equal((await createOrPatch<KubeObject>(c2, cm, { metadata: { name: 'c', namespace: 'ns' } }, (o) => void (o['status'] = { ready: true }))).result, 'updatedStatusOnly');
  assert.equal(calls2.length, 2);
  assert.equal((await createOrPatch<KubeObject>(c2, cm, { metadata: { name: 'c', namespace: 'ns' } }, () => {})).result, 'unchanged');
});
