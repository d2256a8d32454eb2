/**
 * The ephemeral volume controller against the in-process API server: the claim `<pod>-<volume>`
 * is made from the template and controlled by the pod, made again if deleted while the pod
 * lives, and a same-named claim the pod does not control is reported (FailedBinding) and left
 * alone. The claim built for a volume, and the ownership test, as tables.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolumeClaim, Pod } from '../api/index.ts';
import type { Clientset } from '../client/index.ts';
import { claimForVolume, claimNotForPod, startEphemeralVolumeController } from './ephemeralvolume.ts';
import { newClaim, runControllers, type RunningController } from './pvbinder-testing.ts';
import { startTestApi, until, type TestApi } from './testing.ts';

const ns = 'eph';
let testApi: TestApi | undefined;
let cs: Clientset;
let ctl: RunningController;

const podWith = (name: string, volume = 'scratch'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
  spec: {
    containers: [{ name: 'c', image: 'busybox' }],
    volumes: [
      { name: 'plain', emptyDir: {} },
      {
        name: volume,
        ephemeral: {
          volumeClaimTemplate: {
            metadata: { labels: { app: 'cache' }, annotations: { note: 'from-template' } },
            spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'scratch', resources: { requests: { storage: '2Gi' } } },
          },
        },
      },
    ],
  },
});

test('the claim built for a volume: name, owner, template metadata and spec', () => {
  const pod = { ...podWith('p'), metadata: { ...podWith('p').metadata, uid: 'pod-uid' } };
  const c = claimForVolume(pod, pod.spec!.volumes![1]!);
  assert.equal(c.metadata.name, 'p-scratch');
  assert.deepEqual(c.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'pod-uid', controller: true, blockOwnerDeletion: true }]);
  assert.deepEqual(c.metadata.labels, { app: 'cache' });
  assert.deepEqual(c.metadata.annotations, { note: 'from-template' });
  assert.equal(c.spec?.storageClassName, 'scratch');
  assert.equal(claimNotForPod(pod, c), null);
  const foreign: PersistentVolumeClaim = { ...c, metadata: { ...c.metadata, ownerReferences: [] } };
  assert.equal(claimNotForPod(pod, foreign), 'PVC eph/p-scratch was not created for pod eph/p (pod is not owner)');
});

before(async () => {
  testApi = await startTestApi('ephemeral-test');
  cs = testApi.cs;
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // Pods need their service account (no serviceaccount controller runs here).
  await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }, { namespace: ns });
  ctl = runControllers(testApi.client, startEphemeralVolumeController);
});
after(async () => {
  await ctl?.stop();
  await testApi?.close();
});

const getClaim = (name: string) => cs.persistentVolumeClaims.get(name, { namespace: ns }).catch(() => undefined);

test('a pod’s ephemeral volume gets its claim, controlled by the pod, and again after a deletion', async () => {
  const pod = await cs.pods.create(podWith('web'), { namespace: ns });
  const claim = await until('claim web-scratch', () => getClaim('web-scratch'));
  assert.equal(claim.metadata.ownerReferences?.[0]?.uid, pod.metadata.uid);
  assert.equal(claim.metadata.ownerReferences?.[0]?.controller, true);
  assert.deepEqual(claim.spec?.resources?.requests, { storage: '2Gi' });
  await cs.persistentVolumeClaims.delete('web-scratch', { namespace: ns });
  const again = await until('claim web-scratch made again', async () => {
    const c = await getClaim('web-scratch');
    return c && c.metadata.uid !== claim.metadata.uid ? c : undefined;
  });
  assert.equal(again.metadata.ownerReferences?.[0]?.uid, pod.metadata.uid);
});

test('a same-named claim the pod does not control is reported and left alone', async () => {
  await cs.persistentVolumeClaims.create(newClaim('db-scratch', ns), { namespace: ns });
  await cs.pods.create(podWith('db'), { namespace: ns });
  const e = await ctl.event('db', 'FailedBinding');
  assert.equal(e.message, 'ephemeral volume scratch: PVC eph/db-scratch was not created for pod eph/db (pod is not owner)');
  assert.equal(e.type, 'Warning');
  assert.equal(e.component, 'ephemeral_volume');
  assert.deepEqual((await getClaim('db-scratch'))?.metadata.ownerReferences, undefined);
});
