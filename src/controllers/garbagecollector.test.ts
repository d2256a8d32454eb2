/**
 * The garbage collector against the in-process API server (only `garbagecollector` runs), over
 * ConfigMaps as owners and dependents: background deletion of a dependent whose owner is gone
 * (deleted later, or dangling from the start), a dependent with a live owner kept across
 * updates, the live owner of several kept until its last owner goes, and foreground deletion.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap, OwnerReference } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import type { Clientset } from '../client/index.ts';
import { runControllerManager } from './manager.ts';
import { LruSet, absentOwnerCacheSize } from './garbagecollector.ts';
import { startTestApi, until, type TestApi } from './testing.ts';

const ns = 'default';

describe('garbage collector', () => {
  let testApi: TestApi | undefined;
  let cs: Clientset;
  const ac = new AbortController();
  let done: Promise<void> = Promise.resolve();

  const cm = (name: string, owners: OwnerReference[] = []): ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, ...(owners.length ? { ownerReferences: owners } : {}) },
    data: { v: '0' },
  });
  const ref = (o: ConfigMap, block = false): OwnerReference => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o.metadata.name!, uid: o.metadata.uid!, ...(block ? { blockOwnerDeletion: true } : {}) });
  const exists = async (name: string) => {
    try {
      return await cs.configMaps.get(name, { namespace: ns });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const gone = (name: string) => until(`${name} gone`, async () => ((await exists(name)) ? undefined : true), 15_000);

  before(async () => {
    testApi = await startTestApi('gc-test');
    ({ cs } = testApi);
    done = runControllerManager({ client: testApi.client, identity: 'gc-test', enabled: ['garbagecollector'] }, ac.signal);
  });

  after(async () => {
    ac.abort();
    await done;
    await testApi?.close();
  });

  test('a dependent with a live owner stays across updates; deleting the owner deletes it', async () => {
    const owner = await cs.configMaps.create(cm('owner'), { namespace: ns });
    await cs.configMaps.create(cm('dep', [ref(owner)]), { namespace: ns });
    for (let i = 1; i <= 5; i++) await cs.configMaps.patch('dep', { data: { v: String(i) } }, { type: 'merge', namespace: ns });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await exists('dep'))?.data?.['v'], '5');
    await cs.configMaps.delete('owner', { namespace: ns });
    await gone('dep');
  });

  test('every dependent of a deleted owner goes (the owner found absent once serves the rest)', async () => {
    const owner = await cs.configMaps.create(cm('many-owner'), { namespace: ns });
    for (let i = 0; i < 20; i++) await cs.configMaps.create(cm(`many-${i}`, [ref(owner)]), { namespace: ns });
    await cs.configMaps.delete('many-owner', { namespace: ns });
    for (let i = 0; i < 20; i++) await gone(`many-${i}`);
  });

  test('a dependent whose owner never existed (dangling uid) is deleted', async () => {
    await cs.configMaps.create(cm('dangling', [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'nobody', uid: '00000000-0000-0000-0000-00000000dead' }]), { namespace: ns });
    await gone('dangling');
  });

  test('a dependent whose owner reference is changed to a missing owner is deleted', async () => {
    const owner = await cs.configMaps.create(cm('owner2'), { namespace: ns });
    await cs.configMaps.create(cm('dep2', [ref(owner)]), { namespace: ns });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(await exists('dep2'));
    await cs.configMaps.patch('dep2', { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'ghost', uid: '00000000-0000-0000-0000-00000000beef' }] } }, { type: 'merge', namespace: ns });
    await gone('dep2');
  });

  test('a dependent of two owners stays until the last one goes, losing the dangling reference', async () => {
    const a = await cs.configMaps.create(cm('own-a'), { namespace: ns });
    const b = await cs.configMaps.create(cm('own-b'), { namespace: ns });
    await cs.configMaps.create(cm('shared', [ref(a), ref(b)]), { namespace: ns });
    await cs.configMaps.delete('own-a', { namespace: ns });
    await until('reference to own-a dropped', async () => {
      const s = await exists('shared');
      return s && s.metadata.ownerReferences?.length === 1 ? s : undefined;
    }, 15_000);
    await cs.configMaps.delete('own-b', { namespace: ns });
    await gone('shared');
  });

  test('foreground deletion removes the blocking dependent first, then the owner', async () => {
    const owner = await cs.configMaps.create(cm('fg-owner'), { namespace: ns });
    await cs.configMaps.create(cm('fg-dep', [ref(owner, true)]), { namespace: ns });
    await cs.configMaps.delete('fg-owner', { namespace: ns, propagationPolicy: 'Foreground' });
    await gone('fg-dep');
    await gone('fg-owner');
  });
});

describe('LruSet (the absent-owner cache)', () => {
  test('holds at most its size, forgetting the least recently used first', () => {
    const s = new LruSet(2);
    s.add('a');
    s.add('b');
    assert.equal(s.has('a'), true); // a is now the most recently used
    s.add('c'); // b goes
    assert.equal(s.has('b'), false);
    assert.equal(s.has('a'), true);
    assert.equal(s.has('c'), true);
    assert.equal(s.size, 2);
  });
  test("upstream's size: 500", () => assert.equal(absentOwnerCacheSize, 500));
});
