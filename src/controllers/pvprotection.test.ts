/**
 * The PV protection controller against the in-process API server on a temporary SQLite store,
 * which runs the StorageObjectInUseProtection admission plugin as the server wires it: a volume
 * nobody binds goes at once when deleted; a Bound one stays until its phase changes; a removed
 * finalizer comes back. "Kept" is observed through the controller's log line, not by waiting.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { storageObjectInUseProtectionPlugin } from '../apiserver/admission/storage.ts';
import type { ApiServer } from '../apiserver/server.ts';
import { startTestApi, until, type TestApi } from './testing.ts';
import { InformerFactory, type Clientset, type Recorder, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { isVolumeBeingUsed, startPvProtectionController } from './pvprotection.ts';

test('a volume is in use exactly while its phase is Bound', () => {
  const pv = (phase?: string): PersistentVolume => ({ metadata: { name: 'v' }, ...(phase ? { status: { phase } } : {}) });
  assert.deepEqual(['Bound', 'Available', 'Released', 'Failed', 'Pending', undefined].map((p) => isVolumeBeingUsed(pv(p))), [true, false, false, false, false, false]);
});

let testApi: TestApi | undefined;
let api: ApiServer;
let client: RestClient;
let cs: Clientset;
const ac = new AbortController();
let informers: InformerFactory;
const logs: string[] = [];

before(async () => {
  testApi = await startTestApi('pvprotection-test', [storageObjectInUseProtectionPlugin()]);
  ({ api, client, cs } = testApi);
  informers = new InformerFactory(client, { log: () => {} });
  const ctx: ControllerContext = { client, config: defaultControllerConfig, informers, recorder: () => ({}) as Recorder, signal: ac.signal, log: (m) => logs.push(m) };
  startPvProtectionController(ctx);
  informers.start(ac.signal);
});
after(async () => {
  ac.abort();
  await informers?.stopped();
  await testApi?.close();
});

const newVolume = (name: string) =>
  cs.persistentVolumes.create({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/tmp/${name}` } } });
const getVolume = async (name: string): Promise<PersistentVolume | undefined> => {
  try {
    return await cs.persistentVolumes.get(name);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
};
const gone = (name: string) => until(`volume ${name} gone`, async () => ((await getVolume(name)) ? undefined : true));
const setPhase = async (name: string, phase: string) => {
  const pv = (await getVolume(name))!;
  await cs.persistentVolumes.updateStatus({ ...pv, status: { ...pv.status, phase } });
};

test('a new volume carries the finalizer; deleted while not bound, it goes', async () => {
  const pv = await newVolume('free');
  assert.deepEqual(pv.metadata.finalizers, ['kubernetes.io/pv-protection']);
  await cs.persistentVolumes.delete('free');
  await gone('free');
});

test('a Bound volume stays while deleted, and goes once it is no longer Bound', async () => {
  await newVolume('bound');
  await setPhase('bound', 'Bound');
  await cs.persistentVolumes.delete('bound');
  await until('kept line', async () => (logs.some((l) => l.includes('keeping volume bound:')) ? true : undefined));
  const held = await getVolume('bound');
  assert.ok(held?.metadata.deletionTimestamp, 'being deleted');
  assert.deepEqual(held.metadata.finalizers, ['kubernetes.io/pv-protection']);
  await setPhase('bound', 'Released');
  await gone('bound');
});

test('a volume that lost its finalizer while not being deleted gets it back', async () => {
  const pv = await newVolume('stripped');
  await cs.persistentVolumes.update({ ...pv, metadata: { ...pv.metadata, finalizers: ['example.com/other'] } });
  const back = await until('finalizer back', async () => {
    const got = await getVolume('stripped');
    return got?.metadata.finalizers?.includes('kubernetes.io/pv-protection') ? got : undefined;
  });
  assert.deepEqual(back.metadata.finalizers, ['example.com/other', 'kubernetes.io/pv-protection']);
});
