/**
 * The PVC protection controller: its decisions as tables (which pods use a claim, which pod
 * events wake claims), then the controller against the in-process API server on a temporary
 * SQLite store, which runs the StorageObjectInUseProtection admission plugin as the server
 * wires it. A claim nobody uses goes at once; one a pod on a node uses stays while the pod
 * object exists (finished or not) and goes when it is deleted; a removed finalizer comes back.
 * Last, a controller whose pod cache sees no pod at all (its informer selects none) still keeps
 * a used claim: the live list of the namespace's pods decides, as upstream's.
 *
 * "Kept" is observed without timing: the test waits for the controller's log line saying it
 * kept the claim, then checks the claim is still there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolumeClaim, Pod } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { storageObjectInUseProtectionPlugin } from '../apiserver/admission/storage.ts';
import type { ApiServer } from '../apiserver/server.ts';
import { startTestApi, until, type TestApi } from './testing.ts';
import { InformerFactory, resources, type Clientset, type Recorder, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { claimsToWake, isPodTerminated, podPvcIndexFunc, podUsesClaim, startPvcProtectionController } from './pvcprotection.ts';

// ---- decisions ---------------------------------------------------------------------------------

const claimObj = (name = 'data', ownerUid?: string): PersistentVolumeClaim => ({
  metadata: { name, namespace: 'ns', ...(ownerUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: ownerUid, controller: true }] } : {}) },
  spec: {},
});
const podObj = (x: { node?: string; claim?: string; ephemeral?: string; phase?: string; deleted?: boolean; grace?: number; uid?: string; running?: boolean } = {}): Pod => ({
  metadata: {
    name: 'p',
    namespace: 'ns',
    uid: x.uid ?? 'uid-1',
    ...(x.deleted ? { deletionTimestamp: '2025-01-01T00:00:00Z', deletionGracePeriodSeconds: x.grace ?? 30 } : {}),
  },
  spec: {
    ...(x.node ? { nodeName: x.node } : {}),
    containers: [{ name: 'c', image: 'busybox' }],
    volumes: [
      { name: 'scratch', emptyDir: {} },
      ...(x.claim ? [{ name: 'v', persistentVolumeClaim: { claimName: x.claim } }] : []),
      ...(x.ephemeral ? [{ name: x.ephemeral, ephemeral: { volumeClaimTemplate: { spec: {} } } }] : []),
    ],
  },
  status: {
    ...(x.phase ? { phase: x.phase } : {}),
    ...(x.running !== undefined ? { containerStatuses: [{ name: 'c', ready: x.running, restartCount: 0, image: 'busybox', imageID: '', state: x.running ? { running: {} } : { terminated: { exitCode: 0 } } }] } : {}),
  },
});

const usesCases: { name: string; pod: Pod; pvc: PersistentVolumeClaim; want: boolean }[] = [
  { name: 'a pod on a node naming the claim uses it', pod: podObj({ node: 'n1', claim: 'data' }), pvc: claimObj(), want: true },
  { name: 'a pod not yet on a node does not', pod: podObj({ claim: 'data' }), pvc: claimObj(), want: false },
  { name: 'a finished pod still does while it exists', pod: podObj({ node: 'n1', claim: 'data', phase: 'Succeeded' }), pvc: claimObj(), want: true },
  { name: 'a force-deleted pod still does through a persistentVolumeClaim volume', pod: podObj({ node: 'n1', claim: 'data', deleted: true, grace: 0 }), pvc: claimObj(), want: true },
  { name: 'a pod naming another claim does not', pod: podObj({ node: 'n1', claim: 'other' }), pvc: claimObj(), want: false },
  { name: 'an ephemeral volume uses the claim its pod controls', pod: podObj({ node: 'n1', ephemeral: 'cache' }), pvc: claimObj('p-cache', 'uid-1'), want: true },
  { name: 'an ephemeral volume does not use a same-named claim another pod controls', pod: podObj({ node: 'n1', ephemeral: 'cache' }), pvc: claimObj('p-cache', 'uid-2'), want: false },
  { name: 'an ephemeral volume of a shut-down pod no longer uses its claim', pod: podObj({ node: 'n1', ephemeral: 'cache', deleted: true, grace: 0 }), pvc: claimObj('p-cache', 'uid-1'), want: false },
  { name: 'an ephemeral volume of a pod deleted gracefully still does', pod: podObj({ node: 'n1', ephemeral: 'cache', deleted: true, grace: 30 }), pvc: claimObj('p-cache', 'uid-1'), want: true },
];
for (const c of usesCases) test(`uses: ${c.name}`, () => assert.equal(podUsesClaim(c.pod, c.pvc), c.want));

test('the pod index files a pod under each claim its volumes name', () => {
  assert.deepEqual(podPvcIndexFunc(podObj({ claim: 'data', ephemeral: 'cache' })), ['ns/data', 'ns/p-cache']);
  assert.deepEqual(podPvcIndexFunc(podObj()), []);
});

const wakeCases: { name: string; pod: Pod; deleted: boolean; want: string[] }[] = [
  { name: 'a live pod on a node wakes nothing', pod: podObj({ node: 'n1', claim: 'data', phase: 'Running' }), deleted: false, want: [] },
  { name: 'a deleted pod wakes its claims', pod: podObj({ node: 'n1', claim: 'data', phase: 'Running' }), deleted: true, want: ['ns/data'] },
  { name: 'a finished pod wakes its claims', pod: podObj({ node: 'n1', claim: 'data', phase: 'Failed' }), deleted: false, want: ['ns/data'] },
  { name: 'an unscheduled pod wakes its claims', pod: podObj({ claim: 'data' }), deleted: false, want: ['ns/data'] },
  { name: 'a pod being deleted whose containers stopped wakes its claims', pod: podObj({ node: 'n1', claim: 'data', deleted: true, running: false }), deleted: false, want: ['ns/data'] },
  { name: 'a pod being deleted whose container runs wakes nothing', pod: podObj({ node: 'n1', claim: 'data', deleted: true, running: true }), deleted: false, want: [] },
];
for (const c of wakeCases) test(`wake: ${c.name}`, () => assert.deepEqual(claimsToWake(c.pod, c.deleted), c.want));

test('terminated: finished, or deleted with nothing running', () => {
  assert.equal(isPodTerminated(podObj({ phase: 'Succeeded' })), true);
  assert.equal(isPodTerminated(podObj({ phase: 'Running' })), false);
  assert.equal(isPodTerminated(podObj({ deleted: true })), true);
  assert.equal(isPodTerminated(podObj({ deleted: true, running: true })), false);
});

// ---- against the API server ----------------------------------------------------------------------

const ns = 'claims';
let testApi: TestApi | undefined;
let api: ApiServer;
let client: RestClient;
let cs: Clientset;

before(async () => {
  testApi = await startTestApi('pvcprotection-test', [storageObjectInUseProtectionPlugin()]);
  ({ api, client, cs } = testApi);
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // Pods need their service account (no serviceaccount controller runs here).
  await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }, { namespace: ns });
});
after(async () => {
  await testApi?.close();
});


/** Runs the controller with its own informers; `blindToPods` makes its pod cache select no pod. */
function runController(opts: { blindToPods?: boolean } = {}) {
  const ac = new AbortController();
  const logs: string[] = [];
  const real = new InformerFactory(client, { log: () => {} });
  const informers = opts.blindToPods
    ? (Object.assign(Object.create(real) as InformerFactory, {
        typedInformerFor: (res: typeof resources.pods, sel?: object) => (res === resources.pods ? real.typedInformerFor(res, { fieldSelector: 'metadata.name=no-such-pod' }) : real.typedInformerFor(res, sel)),
      }) as InformerFactory)
    : real;
  const ctx: ControllerContext = { client, config: defaultControllerConfig, informers, recorder: () => ({}) as Recorder, signal: ac.signal, log: (m) => logs.push(m) };
  startPvcProtectionController(ctx);
  real.start(ac.signal);
  return {
    logs,
    /** Waits for the n-th (1-based) "keeping claim" line for `name`. */
    kept: (name: string, n: number) => until(`keeping ${name} #${n}`, async () => (logs.filter((l) => l.includes(`keeping claim ${ns}/${name}:`)).length >= n ? true : undefined)),
    async stop() {
      ac.abort();
      await real.stopped();
    },
  };
}

const newClaim = (name: string) =>
  cs.persistentVolumeClaims.create({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: ns }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }, { namespace: ns });
const newPod = (name: string, claim: string, node = 'node-a') =>
  cs.pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] } }, { namespace: ns });
const getClaim = async (name: string): Promise<PersistentVolumeClaim | undefined> => {
  try {
    return await cs.persistentVolumeClaims.get(name, { namespace: ns });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
};
const gone = (name: string) => until(`claim ${name} gone`, async () => ((await getClaim(name)) ? undefined : true));

describe('pvc-protection controller', () => {
  let ctl: ReturnType<typeof runController>;
  before(() => {
    ctl = runController();
  });
  after(() => ctl.stop());

  test('a new claim carries the finalizer; deleted while no pod uses it, it goes', async () => {
    const c = await newClaim('unused');
    assert.deepEqual(c.metadata.finalizers, ['kubernetes.io/pvc-protection']);
    await cs.persistentVolumeClaims.delete('unused', { namespace: ns });
    await gone('unused');
  });

  test('a claim a pod on a node uses stays, finished pod or not, until the pod is deleted', async () => {
    await newClaim('used');
    await newPod('user', 'used');
    await cs.persistentVolumeClaims.delete('used', { namespace: ns });
    await ctl.kept('used', 1);
    const held = await getClaim('used');
    assert.ok(held?.metadata.deletionTimestamp, 'being deleted');
    assert.deepEqual(held.metadata.finalizers, ['kubernetes.io/pvc-protection']);
    // The pod finishing wakes the claim; a finished pod still holds it (upstream).
    const pod = await cs.pods.get('user', { namespace: ns });
    await cs.pods.updateStatus({ ...pod, status: { ...pod.status, phase: 'Succeeded' } }, { namespace: ns });
    await ctl.kept('used', 2);
    assert.ok(await getClaim('used'), 'still there while the finished pod exists');
    await cs.pods.delete('user', { namespace: ns, gracePeriodSeconds: 0 });
    await gone('used');
  });

  test('a pod not bound to a node does not hold a claim', async () => {
    await newClaim('pending-user');
    await cs.pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unscheduled', namespace: ns }, spec: { containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'pending-user' } }] } }, { namespace: ns });
    await cs.persistentVolumeClaims.delete('pending-user', { namespace: ns });
    await gone('pending-user');
  });

  test('a claim that lost its finalizer while not being deleted gets it back', async () => {
    const c = await newClaim('stripped');
    await cs.persistentVolumeClaims.update({ ...c, metadata: { ...c.metadata, finalizers: [] } }, { namespace: ns });
    const back = await until('finalizer back', async () => {
      const got = await getClaim('stripped');
      return got?.metadata.finalizers?.includes('kubernetes.io/pvc-protection') ? got : undefined;
    });
    assert.deepEqual(back.metadata.finalizers, ['kubernetes.io/pvc-protection']);
  });
});

describe('pvc-protection controller whose pod cache misses the pod', () => {
  let ctl: ReturnType<typeof runController>;
  before(() => {
    ctl = runController({ blindToPods: true });
  });
  after(() => ctl.stop());

  test('the live pod list keeps a used claim, and releases it once the pod is gone', async () => {
    await newClaim('hidden-use');
    await newPod('hidden', 'hidden-use');
    await cs.persistentVolumeClaims.delete('hidden-use', { namespace: ns });
    await ctl.kept('hidden-use', 1);
    assert.ok((await getClaim('hidden-use'))?.metadata.deletionTimestamp, 'kept while being deleted');
    await cs.pods.delete('hidden', { namespace: ns, gracePeriodSeconds: 0 });
    // This cache never hears of the pod's deletion: a change to the claim wakes it.
    const c = (await getClaim('hidden-use'))!;
    await cs.persistentVolumeClaims.update({ ...c, metadata: { ...c.metadata, labels: { nudge: '1' } } }, { namespace: ns });
    await gone('hidden-use');
  });
});
