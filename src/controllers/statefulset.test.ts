/**
 * The StatefulSet controller against the in-process API server on a temporary SQLite store (no
 * scheduler, no nodes, no garbage collector: the test plays the kubelet by writing pod status).
 * Covered: ordered creation with claims made before their pod and the upstream event texts; a
 * failed pod replaced under the same name with the same claim; claim ownership for
 * whenDeleted Delete; revisions (a new one per template, a rollback renumbering the old one,
 * history trimmed to revisionHistoryLimit); adoption of orphan pods and revisions and release of
 * a pod whose labels no longer match; minReadySeconds reported once it has passed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControllerRevision, Pod, StatefulSet } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { InformerFactory, type Clientset, type Recorder, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { startStatefulSetController } from './statefulset.ts';
import { startTestApi, until, type TestApi } from './testing.ts';

const ns = 'sts';
let testApi: TestApi | undefined;
let client: RestClient;
let cs: Clientset;
const events: string[] = [];
let stop: () => Promise<void>;

before(async () => {
  testApi = await startTestApi('statefulset-test');
  ({ client, cs } = testApi);
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // Pods need their service account (no serviceaccount controller runs here).
  await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }, { namespace: ns });
  const ac = new AbortController();
  const informers = new InformerFactory(client, { log: () => {} });
  const recorder: Recorder = { event: (obj, type, reason, message) => void events.push(`${'metadata' in obj ? obj.metadata.name : obj.name} ${type} ${reason} ${message}`) };
  const ctx: ControllerContext = { client, config: defaultControllerConfig, informers, recorder: () => recorder, signal: ac.signal, log: () => {} };
  startStatefulSetController(ctx);
  informers.start(ac.signal);
  stop = async () => {
    ac.abort();
    await informers.stopped();
  };
});
after(async () => {
  await stop?.();
  await testApi?.close();
});

function statefulSet(name: string, spec: Partial<StatefulSet['spec']> = {}): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 2,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } },
      ...spec,
    },
  };
}

const getPod = async (name: string): Promise<Pod | undefined> => {
  try {
    return await cs.pods.get(name, { namespace: ns });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
};
const podExists = (name: string) => until(`pod ${name}`, () => getPod(name));

/** Plays the kubelet: the pod runs and is ready (since `since`). */
async function markReady(name: string, since = new Date()): Promise<void> {
  const pod = await podExists(name);
  const t = since.toISOString().replace(/\.\d+Z$/, 'Z');
  await cs.pods.updateStatus({ ...pod, status: { ...pod.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: t }] } }, { namespace: ns });
}

const getSet = (name: string) => cs.statefulSets.get(name, { namespace: ns });
const setStatus = (name: string, pred: (s: StatefulSet) => boolean) =>
  until(`status of ${name}`, async () => {
    const s = await getSet(name);
    return pred(s) ? s : undefined;
  });
const revisionsOf = async (name: string): Promise<ControllerRevision[]> =>
  (await cs.controllerRevisions.list({ namespace: ns })).items.filter((r) => r.metadata.ownerReferences?.some((o) => o.name === name)).sort((a, b) => a.revision - b.revision);

describe('statefulset controller', () => {
  test('pods come in ordinal order, each after its claims, the next once the previous is ready', async () => {
    await cs.statefulSets.create(statefulSet('web', { volumeClaimTemplates: [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }] }), { namespace: ns });
    const web0 = await podExists('web-0');
    const claim = await cs.persistentVolumeClaims.get('www-web-0', { namespace: ns });
    assert.deepEqual(claim.metadata.labels, { app: 'web' });
    assert.deepEqual(web0.spec?.volumes?.find((v) => v.name === 'www')?.persistentVolumeClaim, { claimName: 'www-web-0' });
    assert.equal(web0.spec?.hostname, 'web-0');
    assert.equal(web0.spec?.subdomain, 'web');
    // The controller has seen web-0 (status counts it) and, web-0 not being ready, made no web-1.
    await setStatus('web', (s) => s.status?.replicas === 1);
    assert.equal(await getPod('web-1'), undefined);
    await markReady('web-0');
    await podExists('web-1');
    await markReady('web-1');
    const s = await setStatus('web', (x) => x.status?.readyReplicas === 2 && x.status.currentRevision === x.status.updateRevision && x.status.updatedReplicas === 2);
    assert.equal(s.status?.observedGeneration, s.metadata.generation);
    assert.equal(s.status?.availableReplicas, 2);
    assert.equal(s.status?.collisionCount, 0);
    assert.match(s.status?.currentRevision ?? '', /^web-[a-z0-9]+$/);
    const claimFirst = events.indexOf('web Normal SuccessfulCreate create Claim www-web-0 Pod web-0 in StatefulSet web success');
    const podNext = events.indexOf('web Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful');
    assert.ok(claimFirst >= 0 && podNext > claimFirst, events.join('\n'));
  });

  test('a failed pod is replaced by a pod of the same name using the same claim', async () => {
    const before = await podExists('web-1');
    const claimUid = (await cs.persistentVolumeClaims.get('www-web-1', { namespace: ns })).metadata.uid;
    await cs.pods.updateStatus({ ...before, status: { ...before.status, phase: 'Failed' } }, { namespace: ns });
    const after = await until('a new web-1', async () => {
      const p = await getPod('web-1');
      return p && p.metadata.uid !== before.metadata.uid ? p : undefined;
    });
    assert.equal(after.spec?.volumes?.find((v) => v.name === 'www')?.persistentVolumeClaim?.claimName, 'www-web-1');
    assert.equal((await cs.persistentVolumeClaims.get('www-web-1', { namespace: ns })).metadata.uid, claimUid);
    assert.ok(events.includes('web Normal SuccessfulDelete delete Pod web-1 in StatefulSet web successful'));
  });

  test('whenDeleted Delete makes the set the owner of its claims', async () => {
    await cs.statefulSets.create(
      statefulSet('owned', { replicas: 1, podManagementPolicy: 'Parallel', persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' }, volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }] }),
      { namespace: ns },
    );
    const set = await getSet('owned');
    const claim = await until('claim data-owned-0', async () => {
      try {
        return await cs.persistentVolumeClaims.get('data-owned-0', { namespace: ns });
      } catch {
        return undefined;
      }
    });
    assert.deepEqual(claim.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'owned', uid: set.metadata.uid, controller: true, blockOwnerDeletion: true }]);
  });

  test('revisions: one per template, a rollback renumbers the old one, history is trimmed', async () => {
    await cs.statefulSets.create(statefulSet('hist', { replicas: 1, revisionHistoryLimit: 1 }), { namespace: ns });
    await podExists('hist-0');
    await markReady('hist-0');
    const setImage = async (image: string) => {
      const s = await getSet('hist');
      s.spec!.template.spec!.containers[0]!.image = image;
      await cs.statefulSets.update(s, { namespace: ns });
    };
    const rolled = (image: string) =>
      until(`hist-0 at ${image}`, async () => {
        const p = await getPod('hist-0');
        if (p?.spec?.containers[0]?.image !== image) return undefined;
        if (p.status?.phase !== 'Running') await markReady('hist-0');
        const s = await getSet('hist');
        return s.status?.currentRevision === s.status?.updateRevision && s.status?.readyReplicas === 1 ? s : undefined;
      });
    await rolled('busybox:1');
    const [r1] = await revisionsOf('hist');
    assert.equal(r1?.revision, 1);
    assert.deepEqual(r1?.data, JSON.parse(JSON.stringify({ spec: { template: { $patch: 'replace', metadata: { creationTimestamp: null, labels: { app: 'hist' } }, spec: (await getSet('hist')).spec!.template.spec } } })));
    await setImage('busybox:2');
    await rolled('busybox:2');
    await setImage('busybox:3');
    const s3 = await rolled('busybox:3');
    // Revision 1 is neither current, nor updated, nor used by a pod, and the limit is 1: it goes.
    const revs = await until('history trimmed', async () => {
      const r = await revisionsOf('hist');
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(revs.map((r) => r.revision), [2, 3]);
    assert.equal(s3.status?.updateRevision, revs[1]!.metadata.name);
    // Back to busybox:2: revision 2 becomes revision 4 (no new revision).
    await setImage('busybox:2');
    await rolled('busybox:2');
    const back = await until('revision 2 renumbered', async () => {
      const r = await revisionsOf('hist');
      return r.some((x) => x.revision === 4) ? r : undefined;
    });
    assert.deepEqual(back.map((r) => [r.metadata.name, r.revision]), [[revs[1]!.metadata.name, 3], [revs[0]!.metadata.name, 4]]);
  });

  test('orphans are adopted; a pod that no longer matches is released', async () => {
    // An orphan revision and an orphan pod matching a set about to be created.
    const template = { metadata: { labels: { app: 'adopt' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } };
    await cs.controllerRevisions.create({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'adopt-old', namespace: ns, labels: { app: 'adopt' } }, revision: 7, data: { spec: { template: { $patch: 'replace', ...template } } } }, { namespace: ns });
    await cs.pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'adopt-0', namespace: ns, labels: { app: 'adopt' } }, spec: template.spec }, { namespace: ns });
    await cs.statefulSets.create(statefulSet('adopt', { replicas: 1 }), { namespace: ns });
    const set = await getSet('adopt');
    const owned = (o: { metadata: { ownerReferences?: { uid: string; controller?: boolean }[] } }) => o.metadata.ownerReferences?.some((r) => r.uid === set.metadata.uid && r.controller);
    await until('pod adopted', async () => ((await getPod('adopt-0')) && owned((await getPod('adopt-0'))!) ? true : undefined));
    await until('revision adopted', async () => (owned(await cs.controllerRevisions.get('adopt-old', { namespace: ns })) ? true : undefined));
    // The adopted pod's identity is repaired (its pod-name label), as upstream's UpdateStatefulPod does.
    await markReady('adopt-0');
    await until('identity repaired', async () => ((await getPod('adopt-0'))?.metadata.labels?.['statefulset.kubernetes.io/pod-name'] === 'adopt-0' ? true : undefined));
    // Relabelled out of the selector: released, and a new adopt-0 cannot be made while it holds the name.
    const pod = (await getPod('adopt-0'))!;
    await cs.pods.patch('adopt-0', { metadata: { labels: { app: 'elsewhere' } } }, { type: 'merge', namespace: ns });
    await until('pod released', async () => (!owned((await getPod('adopt-0'))!) ? true : undefined));
    assert.equal((await getPod('adopt-0'))!.metadata.uid, pod.metadata.uid);
  });

  test('minReadySeconds: available once the pods have been ready that long', async () => {
    await cs.statefulSets.create(statefulSet('slow', { replicas: 1, minReadySeconds: 2 }), { namespace: ns });
    await podExists('slow-0');
    await markReady('slow-0');
    const ready = await setStatus('slow', (s) => s.status?.readyReplicas === 1);
    assert.equal(ready.status?.availableReplicas ?? 0, 0);
    // Nothing else changes: the controller looks again when the pod becomes available.
    await setStatus('slow', (s) => s.status?.availableReplicas === 1);
  });
});
