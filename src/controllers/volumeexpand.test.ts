/**
 * Volume expansion against the in-process API server, with the PV binder binding the claims: a
 * claim on a volume of Bosun's local-path provisioner grows at once (volume capacity, claim
 * capacity and allocatedResources, no condition left; events ExternalExpanding, Resizing and
 * VolumeResizeSuccessful as upstream's expand controller and external-resizer record them); a
 * claim on another provisioner's volume only gets ExternalExpanding and keeps its capacity.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume } from '../api/index.ts';
import type { Clientset } from '../client/index.ts';
import { startPersistentVolumeBinderController } from './pvbinder.ts';
import { claimWhere, newClaim, newPv, runControllers, volumeWhere, type RunningController } from './pvbinder-testing.ts';
import { startTestApi, type TestApi } from './testing.ts';
import { externalExpandingMessage, needsExpansion, startVolumeExpandController } from './volumeexpand.ts';

const ns = 'grow';
let testApi: TestApi | undefined;
let cs: Clientset;
let ctl: RunningController;

before(async () => {
  testApi = await startTestApi('volumeexpand-test');
  cs = testApi.cs;
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  ctl = runControllers(testApi.client, startPersistentVolumeBinderController, startVolumeExpandController);
});
after(async () => {
  await ctl?.stop();
  await testApi?.close();
});

test('what needs expanding, and the words for volumes left to others', () => {
  const pv: PersistentVolume = { metadata: { name: 'v' }, spec: {} };
  const claim = (req: string, cap?: string) => ({ metadata: { name: 'c' }, spec: { resources: { requests: { storage: req } } }, status: cap ? { capacity: { storage: cap } } : {} });
  assert.equal(needsExpansion(claim('2Gi', '1Gi'), pv), true);
  assert.equal(needsExpansion(claim('1024Mi', '1Gi'), pv), false);
  assert.equal(needsExpansion(claim('1Gi', '1Gi'), { metadata: { name: 'v', annotations: { 'volume.alpha.kubernetes.io/pre-resize-capacity': '1Gi' } } }), true);
  assert.equal(externalExpandingMessage(pv), 'waiting for an external controller to expand this PVC');
  assert.equal(externalExpandingMessage({ metadata: { name: 'v' }, spec: { gcePersistentDisk: { pdName: 'd' } } }), 'CSI migration enabled for kubernetes.io/gce-pd; waiting for external resizer to expand the pvc');
});

async function boundClaim(name: string, provisioner: string) {
  await cs.persistentVolumes.create(newPv(`${name}-pv`, { cls: `${name}-class`, policy: 'Delete', annotations: { 'pv.kubernetes.io/provisioned-by': provisioner }, claimRef: { namespace: ns, name } }));
  await cs.persistentVolumeClaims.create(newClaim(name, ns, { cls: `${name}-class` }), { namespace: ns });
  return claimWhere(cs, ns, name, 'Bound', (c) => c.status?.phase === 'Bound');
}

test('a local-path claim grows at once', async () => {
  const c = await boundClaim('local', 'bosun.dev/local-path');
  await cs.persistentVolumeClaims.update({ ...c, spec: { ...c.spec, resources: { requests: { storage: '3Gi' } } } }, { namespace: ns });
  const grown = await claimWhere(cs, ns, 'local', 'grown', (x) => x.status?.capacity?.['storage'] === '3Gi');
  assert.deepEqual(grown.status?.allocatedResources, { storage: '3Gi' });
  assert.equal(grown.status?.allocatedResourceStatuses, undefined);
  assert.equal(grown.status?.conditions, undefined);
  await volumeWhere(cs, 'local-pv', 'grown', (v) => v.spec?.capacity?.['storage'] === '3Gi');
  const expanding = await ctl.event('local', 'ExternalExpanding');
  assert.deepEqual([expanding.component, expanding.type, expanding.message], ['volume_expand', 'Normal', 'waiting for an external controller to expand this PVC']);
  const resizing = await ctl.event('local', 'Resizing');
  assert.deepEqual([resizing.component, resizing.message], ['external-resizer bosun.dev/local-path', 'External resizer is resizing volume local-pv']);
  assert.equal((await ctl.event('local', 'VolumeResizeSuccessful')).message, 'Resize volume succeeded');
});

test('another provisioner’s claim waits for its external resizer', async () => {
  const c = await boundClaim('remote', 'ebs.csi.aws.com');
  await cs.persistentVolumeClaims.update({ ...c, spec: { ...c.spec, resources: { requests: { storage: '5Gi' } } } }, { namespace: ns });
  await ctl.event('remote', 'ExternalExpanding', 'waiting for an external controller to expand this PVC');
  const now = await cs.persistentVolumeClaims.get('remote', { namespace: ns });
  assert.equal(now.status?.capacity?.['storage'], '1Gi');
  assert.equal((await cs.persistentVolumes.get('remote-pv')).spec?.capacity?.['storage'], '1Gi');
  assert.equal(ctl.events.some((e) => e.name === 'remote' && e.reason === 'Resizing'), false);
});
