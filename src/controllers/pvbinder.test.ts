/**
 * The PersistentVolume binder against the in-process API server (temporary SQLite store):
 * static binding (smallest fit, class, selector, named volume, volumes pre-bound to a claim),
 * the annotations and phases both objects get, Retain → Released after the claim goes, Delete
 * left to an external provisioner or Failed without one, Recycle refused, the hand-off to an
 * external provisioner and the completion of the binding it starts, WaitForFirstConsumer
 * claims left to the scheduler, Lost claims, and the default class given to claims without one.
 * Each test uses its own namespace and volume names.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from './testing.ts';
import type { Clientset } from '../client/index.ts';
import { startPersistentVolumeBinderController } from './pvbinder.ts';
import { claimWhere, newClaim, newClass, newPv, runControllers, volumeWhere, type RunningController } from './pvbinder-testing.ts';

let testApi: TestApi | undefined;
let cs: Clientset;
let ctl: RunningController;

before(async () => {
  testApi = await startTestApi('pvbinder-test');
  cs = testApi.cs;
  ctl = runControllers(testApi.client, (ctx) => startPersistentVolumeBinderController(ctx, { resyncMs: 1000 }));
});
after(async () => {
  await ctl?.stop();
  await testApi?.close();
});

async function namespace(name: string): Promise<string> {
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}
const bound = (c: { status?: { phase?: string } }) => c.status?.phase === 'Bound';

describe('static binding', () => {
  test('the smallest volume of the class that fits is bound, with upstream annotations and status', async () => {
    const ns = await namespace('static');
    await cs.persistentVolumes.create(newPv('static-1g', { size: '1Gi' }));
    await cs.persistentVolumes.create(newPv('static-5g', { size: '5Gi' }));
    await cs.persistentVolumes.create(newPv('static-10g', { size: '10Gi' }));
    await cs.persistentVolumes.create(newPv('static-3g-gold', { size: '3Gi', cls: 'gold' }));
    await cs.persistentVolumeClaims.create(newClaim('data', ns, { size: '2Gi' }), { namespace: ns });
    const claim = await claimWhere(cs, ns, 'data', 'Bound', bound);
    assert.equal(claim.spec?.volumeName, 'static-5g');
    assert.equal(claim.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
    assert.equal(claim.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
    assert.deepEqual(claim.status?.capacity, { storage: '5Gi' });
    assert.deepEqual(claim.status?.accessModes, ['ReadWriteOnce']);
    const pv = await volumeWhere(cs, 'static-5g', 'Bound', bound);
    assert.equal(pv.spec?.claimRef?.name, 'data');
    assert.equal(pv.spec?.claimRef?.namespace, ns);
    assert.equal(pv.spec?.claimRef?.uid, claim.metadata.uid);
    assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
    assert.ok(pv.status?.lastPhaseTransitionTime, 'the phase transition is timed');
    await volumeWhere(cs, 'static-1g', 'Available', (v) => v.status?.phase === 'Available');
  });

  test('access modes and a selector narrow the choice', async () => {
    const ns = await namespace('modes');
    await cs.persistentVolumes.create(newPv('modes-rwo', { size: '1Gi', cls: 'modes' }));
    await cs.persistentVolumes.create(newPv('modes-rwx', { size: '4Gi', cls: 'modes', modes: ['ReadWriteMany'] }));
    await cs.persistentVolumes.create(newPv('modes-plain', { size: '1Gi', cls: 'sel' }));
    await cs.persistentVolumes.create(newPv('modes-gold', { size: '8Gi', cls: 'sel', labels: { tier: 'gold' } }));
    await cs.persistentVolumeClaims.create(newClaim('shared', ns, { cls: 'modes', modes: ['ReadWriteMany'] }), { namespace: ns });
    await cs.persistentVolumeClaims.create(newClaim('gold', ns, { cls: 'sel', selector: { tier: 'gold' } }), { namespace: ns });
    assert.equal((await claimWhere(cs, ns, 'shared', 'Bound', bound)).spec?.volumeName, 'modes-rwx');
    assert.equal((await claimWhere(cs, ns, 'gold', 'Bound', bound)).spec?.volumeName, 'modes-gold');
  });

  test('a claim naming a volume gets it; a volume naming a claim goes to it', async () => {
    const ns = await namespace('named');
    await cs.persistentVolumes.create(newPv('named-small', { size: '1Gi' }));
    await cs.persistentVolumes.create(newPv('named-big', { size: '9Gi' }));
    await cs.persistentVolumeClaims.create(newClaim('wants-big', ns, { volumeName: 'named-big' }), { namespace: ns });
    const c = await claimWhere(cs, ns, 'wants-big', 'Bound', bound);
    assert.equal(c.spec?.volumeName, 'named-big');
    assert.equal(c.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], undefined, 'the user chose the volume');
    assert.equal((await volumeWhere(cs, 'named-big', 'Bound', bound)).metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');

    await cs.persistentVolumes.create(newPv('reserved', { size: '7Gi', claimRef: { namespace: ns, name: 'reserver' } }));
    await volumeWhere(cs, 'reserved', 'Available while its claim is missing', (v) => v.status?.phase === 'Available');
    await cs.persistentVolumeClaims.create(newClaim('reserver', ns), { namespace: ns });
    const r = await claimWhere(cs, ns, 'reserver', 'Bound', bound);
    assert.equal(r.spec?.volumeName, 'reserved', 'the pre-bound volume, not the smaller free one');
    const pv = await volumeWhere(cs, 'reserved', 'Bound', bound);
    assert.equal(pv.spec?.claimRef?.uid, r.metadata.uid);
    assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], undefined, 'the user pre-bound it');
  });

  test('a named volume that does not fit is refused with VolumeMismatch', async () => {
    const ns = await namespace('mismatch');
    await cs.persistentVolumes.create(newPv('mismatch-tiny', { size: '1Gi' }));
    await cs.persistentVolumeClaims.create(newClaim('greedy', ns, { size: '5Gi', volumeName: 'mismatch-tiny' }), { namespace: ns });
    const e = await ctl.event('greedy', 'VolumeMismatch');
    assert.equal(e.message, 'Cannot bind to requested volume "mismatch-tiny": requested PV is too small');
    assert.equal(e.type, 'Warning');
    assert.equal((await cs.persistentVolumeClaims.get('greedy', { namespace: ns })).status?.phase, 'Pending');
  });

  test('a claim of class "" without volumes stays Pending with FailedBinding', async () => {
    const ns = await namespace('nothing');
    await cs.persistentVolumeClaims.create(newClaim('orphan', ns, { size: '100Gi' }), { namespace: ns });
    const e = await ctl.event('orphan', 'FailedBinding');
    assert.equal(e.message, 'no persistent volumes available for this claim and no storage class is set');
    assert.equal((await cs.persistentVolumeClaims.get('orphan', { namespace: ns })).status?.phase, 'Pending');
  });
});

describe('release and reclaim', () => {
  test('Retain: the volume is Released when its claim goes, and keeps its claimRef', async () => {
    const ns = await namespace('retain');
    await cs.persistentVolumes.create(newPv('kept', { size: '1Gi', cls: 'retain' }));
    await cs.persistentVolumeClaims.create(newClaim('short-lived', ns, { cls: 'retain' }), { namespace: ns });
    await claimWhere(cs, ns, 'short-lived', 'Bound', bound);
    await cs.persistentVolumeClaims.delete('short-lived', { namespace: ns });
    const pv = await volumeWhere(cs, 'kept', 'Released', (v) => v.status?.phase === 'Released');
    assert.equal(pv.spec?.claimRef?.name, 'short-lived');
    // A new claim of the same name does not get a Released volume.
    await cs.persistentVolumeClaims.create(newClaim('short-lived', ns, { cls: 'retain' }), { namespace: ns });
    // Class "retain" has no StorageClass object: the new claim's sync says so.
    assert.equal((await ctl.event('short-lived', 'ProvisioningFailed')).message, 'storageclass.storage.k8s.io "retain" not found');
    assert.equal((await cs.persistentVolumeClaims.get('short-lived', { namespace: ns })).spec?.volumeName, undefined);
  });

  test('Delete: an external provisioner’s volume is left to it; one without a deleter fails', async () => {
    const ns = await namespace('delete');
    await cs.persistentVolumes.create(newPv('external', { cls: 'del-ext', policy: 'Delete', annotations: { 'pv.kubernetes.io/provisioned-by': 'bosun.dev/local-path' } }));
    await cs.persistentVolumes.create(newPv('no-deleter', { cls: 'del-none', policy: 'Delete' }));
    await cs.persistentVolumeClaims.create(newClaim('a', ns, { cls: 'del-ext' }), { namespace: ns });
    await cs.persistentVolumeClaims.create(newClaim('b', ns, { cls: 'del-none' }), { namespace: ns });
    await claimWhere(cs, ns, 'a', 'Bound', bound);
    await claimWhere(cs, ns, 'b', 'Bound', bound);
    await cs.persistentVolumeClaims.delete('a', { namespace: ns });
    await cs.persistentVolumeClaims.delete('b', { namespace: ns });
    await volumeWhere(cs, 'external', 'Released', (v) => v.status?.phase === 'Released');
    const failed = await volumeWhere(cs, 'no-deleter', 'Failed', (v) => v.status?.phase === 'Failed');
    assert.equal(failed.status?.message, 'error getting deleter volume plugin for volume "no-deleter": no deletable volume plugin matched');
    const e = await ctl.event('no-deleter', 'VolumeFailedDelete');
    assert.equal(e.type, 'Warning');
  });

  test('Recycle is refused: the volume fails with VolumeFailedRecycle', async () => {
    const ns = await namespace('recycle');
    await cs.persistentVolumes.create(newPv('recycled', { cls: 'recycle', policy: 'Recycle' }));
    await cs.persistentVolumeClaims.create(newClaim('r', ns, { cls: 'recycle' }), { namespace: ns });
    await claimWhere(cs, ns, 'r', 'Bound', bound);
    await cs.persistentVolumeClaims.delete('r', { namespace: ns });
    await volumeWhere(cs, 'recycled', 'Failed', (v) => v.status?.phase === 'Failed');
    assert.equal((await ctl.event('recycled', 'VolumeFailedRecycle')).message, 'No recycler plugin found for the volume!');
  });

  test('a bound claim whose volume is deleted is Lost', async () => {
    const ns = await namespace('lost');
    await cs.persistentVolumes.create(newPv('doomed', { cls: 'lost' }));
    await cs.persistentVolumeClaims.create(newClaim('l', ns, { cls: 'lost' }), { namespace: ns });
    await claimWhere(cs, ns, 'l', 'Bound', bound);
    await cs.persistentVolumes.delete('doomed');
    await claimWhere(cs, ns, 'l', 'Lost', (c) => c.status?.phase === 'Lost');
    assert.equal((await ctl.event('l', 'ClaimLost')).message, 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
  });
});

describe('dynamic provisioning hand-off', () => {
  test('an Immediate class: annotations and ExternalProvisioning at once; the provisioner’s volume completes the binding', async () => {
    const ns = await namespace('provision');
    await cs.storageClasses.create(newClass('ext-now', 'example.com/ext'));
    await cs.persistentVolumeClaims.create(newClaim('dyn', ns, { cls: 'ext-now', size: '3Gi' }), { namespace: ns });
    const c = await claimWhere(cs, ns, 'dyn', 'annotated', (x) => x.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'] === 'example.com/ext');
    assert.equal(c.metadata.annotations?.['volume.beta.kubernetes.io/storage-provisioner'], 'example.com/ext');
    const e = await ctl.event('dyn', 'ExternalProvisioning');
    assert.equal(
      e.message,
      "Waiting for a volume to be created either by the external provisioner 'example.com/ext' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
    );
    // What a provisioner does: a volume whose claimRef carries the claim's uid.
    await cs.persistentVolumes.create(
      newPv(`pvc-${c.metadata.uid}`, { size: '3Gi', cls: 'ext-now', policy: 'Delete', annotations: { 'pv.kubernetes.io/provisioned-by': 'example.com/ext' }, claimRef: { namespace: ns, name: 'dyn', uid: c.metadata.uid } }),
    );
    const b = await claimWhere(cs, ns, 'dyn', 'Bound', bound);
    assert.equal(b.spec?.volumeName, `pvc-${c.metadata.uid}`);
    await volumeWhere(cs, `pvc-${c.metadata.uid}`, 'Bound', bound);
  });

  test('a migrated in-tree provisioner is named by its CSI driver; an unknown in-tree one fails', async () => {
    const ns = await namespace('intree');
    await cs.storageClasses.create(newClass('fast-ssd', 'kubernetes.io/gce-pd'));
    await cs.storageClasses.create(newClass('gluster', 'kubernetes.io/glusterfs'));
    await cs.persistentVolumeClaims.create(newClaim('pd', ns, { cls: 'fast-ssd' }), { namespace: ns });
    await cs.persistentVolumeClaims.create(newClaim('gl', ns, { cls: 'gluster' }), { namespace: ns });
    assert.match((await ctl.event('pd', 'ExternalProvisioning')).message, /external provisioner 'pd\.csi\.storage\.gke\.io'/);
    assert.equal((await ctl.event('gl', 'ProvisioningFailed')).message, 'no volume plugin matched name: kubernetes.io/glusterfs');
    assert.equal((await cs.persistentVolumeClaims.get('pd', { namespace: ns })).status?.phase, 'Pending');
  });

  test('a WaitForFirstConsumer claim waits for the scheduler, then is handed to the provisioner', async () => {
    const ns = await namespace('wffc');
    await cs.storageClasses.create(newClass('ext-later', 'example.com/ext', { mode: 'WaitForFirstConsumer' }));
    await cs.persistentVolumeClaims.create(newClaim('later', ns, { cls: 'ext-later' }), { namespace: ns });
    assert.equal((await ctl.event('later', 'WaitForFirstConsumer')).message, 'waiting for first consumer to be created before binding');
    const c = await cs.persistentVolumeClaims.get('later', { namespace: ns });
    assert.equal(c.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'], undefined);
    await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }, { namespace: ns });
    await cs.pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'consumer', namespace: ns }, spec: { containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'later' } }] } }, { namespace: ns });
    assert.equal((await ctl.event('later', 'WaitForPodScheduled')).message, 'waiting for pod consumer to be scheduled');
    // What the scheduler does once it has chosen a node.
    const fresh = await cs.persistentVolumeClaims.get('later', { namespace: ns });
    await cs.persistentVolumeClaims.update({ ...fresh, metadata: { ...fresh.metadata, annotations: { ...fresh.metadata.annotations, 'volume.kubernetes.io/selected-node': 'node-a' } } }, { namespace: ns });
    await claimWhere(cs, ns, 'later', 'handed to the provisioner', (x) => x.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'] === 'example.com/ext');
    await ctl.event('later', 'ExternalProvisioning');
  });

  test('a claim without any class gets the default class', async () => {
    const ns = await namespace('defaulted');
    await cs.storageClasses.create(newClass('the-default', 'example.com/ext', { isDefault: true }));
    // Bigger than any volume of class "" left by other tests, which it would otherwise get.
    await cs.persistentVolumeClaims.create(newClaim('classless', ns, { cls: null, size: '500Gi' }), { namespace: ns });
    const c = await claimWhere(cs, ns, 'classless', 'given the default class', (x) => x.spec?.storageClassName === 'the-default');
    assert.ok(c);
    await cs.storageClasses.delete('the-default');
  });
});
