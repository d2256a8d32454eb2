/**
 * The ReplicaSet controller against the in-process API server (only `replicaset` runs; no
 * scheduler, no kubelet): pods are created from the template with a controller reference,
 * matching orphans are adopted and non-matching pods released (through the pod cache's
 * controller-UID index, never by scanning the namespace), orphans of other namespaces are left
 * alone, status counts follow the pods' readiness, and scaling down deletes unassigned pods first.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Binding, Pod, ReplicaSet } from '../api/index.ts';
import { resources, type Clientset } from '../client/index.ts';
import { runControllerManager } from './manager.ts';
import { podsToDelete, compareForDeletion } from './controller-utils.ts';
import { startTestApi, until, type TestApi } from './testing.ts';

const ns = 'default';

const replicaSet = (name: string, replicas: number, labels: Record<string, string> = { app: name }): ReplicaSet => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name, namespace: ns },
  spec: {
    replicas,
    selector: { matchLabels: { app: labels['app']! } },
    template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'img:1' }] } },
  },
});

const bare = (name: string, labels: Record<string, string>, namespace = ns): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { containers: [{ name: 'c', image: 'img:1' }] },
});

describe('replicaset controller', () => {
  let testApi: TestApi | undefined;
  let cs: Clientset;
  const ac = new AbortController();
  let done: Promise<void> = Promise.resolve();

  const podsOf = async (rs: string, namespace = ns) =>
    (await cs.pods.list({ namespace })).items.filter((p) => !p.metadata.deletionTimestamp && p.metadata.ownerReferences?.some((r) => r.controller && r.name === rs));
  const getRs = (name: string) => cs.replicaSets.get(name, { namespace: ns });

  before(async () => {
    testApi = await startTestApi('replicaset-test');
    ({ cs } = testApi);
    for (const n of [ns, 'other']) {
      if (n !== ns) await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } });
      await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: n } }, { namespace: n });
    }
    done = runControllerManager({ client: testApi.client, identity: 'replicaset-test', enabled: ['replicaset'] }, ac.signal);
  });

  after(async () => {
    ac.abort();
    await done;
    await testApi?.close();
  });

  test('creates spec.replicas pods from the template, each controlled by the set', async () => {
    const rs = await cs.replicaSets.create(replicaSet('web', 3), { namespace: ns });
    const pods = await until('3 pods', async () => {
      const p = await podsOf('web');
      return p.length === 3 ? p : undefined;
    });
    for (const p of pods) {
      assert.match(p.metadata.name!, /^web-/);
      assert.deepEqual(p.metadata.labels, { app: 'web' });
      assert.equal(p.spec?.containers[0]?.image, 'img:1');
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    }
    await until('status.replicas 3', async () => ((await getRs('web')).status?.replicas === 3 ? true : undefined));
  });

  test('ready pods are counted in readyReplicas and availableReplicas', async () => {
    const pods = await podsOf('web');
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    for (const p of pods.slice(0, 2)) {
      await cs.pods.patchStatus(p.metadata.name!, { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } }, { type: 'merge', namespace: ns });
    }
    const st = await until('2 ready', async () => {
      const s = (await getRs('web')).status;
      return s?.readyReplicas === 2 ? s : undefined;
    });
    assert.equal(st.availableReplicas, 2);
    assert.equal(st.fullyLabeledReplicas, 3);
  });

  test('a status written by someone else is put right (the controller writes from the newest set it sees)', async () => {
    // Each write below makes the controller's copy stale: its writes in between may conflict,
    // and a conflict is not retried on a timer; the set's own events bring it back.
    for (let i = 0; i < 5; i++) {
      const rs = await getRs('web');
      // Unconditional (no resourceVersion), as ReplicaSets allow: the controller writes too.
      const metadata = { ...rs.metadata, resourceVersion: undefined };
      await cs.replicaSets.updateStatus({ ...rs, metadata, status: { ...rs.status, replicas: 7 + i, readyReplicas: 0, availableReplicas: 0 } }, { namespace: ns });
    }
    const st = await until('status put right', async () => {
      const s = (await getRs('web')).status;
      return s?.replicas === 3 && s.readyReplicas === 2 ? s : undefined;
    });
    assert.equal(st.availableReplicas, 2);
  });

  test('a matching orphan is adopted and counts toward replicas; an orphan elsewhere is left alone', async () => {
    await cs.pods.create(bare('stray', { app: 'api' }), { namespace: ns });
    await cs.pods.create(bare('stray', { app: 'api' }, 'other'), { namespace: 'other' });
    const rs = await cs.replicaSets.create(replicaSet('api', 2), { namespace: ns });
    const pods = await until('2 pods, the orphan among them', async () => {
      const p = await podsOf('api');
      return p.length === 2 && p.some((x) => x.metadata.name === 'stray') ? p : undefined;
    });
    assert.equal(pods.find((p) => p.metadata.name === 'stray')!.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
    // Give the controller a moment more: still 2, and the other namespace's orphan untouched.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await podsOf('api')).length, 2);
    assert.equal((await cs.pods.get('stray', { namespace: 'other' })).metadata.ownerReferences, undefined);
  });

  test('a controlled pod relabelled out of the selector is released and replaced', async () => {
    const [victim] = await podsOf('api');
    await cs.pods.patch(victim!.metadata.name!, { metadata: { labels: { app: 'elsewhere' } } }, { type: 'merge', namespace: ns });
    await until('released', async () => ((await cs.pods.get(victim!.metadata.name!, { namespace: ns })).metadata.ownerReferences ? undefined : true));
    await until('replaced', async () => ((await podsOf('api')).length === 2 ? true : undefined));
  });

  test('scaling down deletes unassigned pods before assigned ones', async () => {
    await cs.replicaSets.create(replicaSet('down', 3), { namespace: ns });
    const pods = await until('3 pods', async () => {
      const p = await podsOf('down');
      return p.length === 3 ? p : undefined;
    });
    // Two pods are bound to a node: the unbound one goes first.
    const keep = pods.slice(0, 2).map((p) => p.metadata.name!);
    for (const name of keep) {
      const binding: Binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: ns }, target: { kind: 'Node', name: 'n1' } };
      await testApi!.client.create<Binding>(resources.pods, binding, { namespace: ns, subresource: 'binding' });
    }
    await cs.replicaSets.patch('down', { spec: { replicas: 2 } }, { type: 'merge', namespace: ns });
    const left = await until('2 pods', async () => {
      const p = await podsOf('down');
      return p.length === 2 ? p : undefined;
    });
    assert.deepEqual(left.map((p) => p.metadata.name).sort(), [...keep].sort());
  });
});

describe('podsToDelete', () => {
  const pod = (name: string, o: { node?: string; phase?: string; ready?: string; restarts?: number; created?: string } = {}): Pod => ({
    metadata: { name, creationTimestamp: o.created ?? '2026-01-01T00:00:00Z' },
    spec: { containers: [], ...(o.node ? { nodeName: o.node } : {}) },
    status: {
      phase: o.phase ?? 'Running',
      conditions: o.ready ? [{ type: 'Ready', status: 'True', lastTransitionTime: o.ready }] : [],
      containerStatuses: o.restarts ? [{ name: 'c', image: '', imageID: '', ready: false, restartCount: o.restarts }] : [],
    },
  });
  const pods = [
    pod('old-ready', { node: 'n', ready: '2026-01-01T00:00:00Z', created: '2026-01-01T00:00:00Z' }),
    pod('new-ready', { node: 'n', ready: '2026-01-02T00:00:00Z', created: '2026-01-01T00:00:00Z' }),
    pod('unassigned', { phase: 'Pending' }),
    pod('pending', { node: 'n', phase: 'Pending' }),
    pod('unknown', { node: 'n', phase: 'Unknown' }),
    pod('restarting', { node: 'n', restarts: 3 }),
    pod('running-new', { node: 'n', created: '2026-01-03T00:00:00Z' }),
    pod('running-old', { node: 'n', created: '2026-01-02T00:00:00Z' }),
  ];
  const cases = [1, 3, 5, 7];
  for (const n of cases) {
    test(`the first ${n} agree with compareForDeletion`, () => {
      const want = [...pods].sort(compareForDeletion).slice(0, n).map((p) => p.metadata.name);
      assert.deepEqual(podsToDelete(pods, n).map((p) => p.metadata.name), want);
    });
  }
  test('all of them (or more) are returned without ranking; none for 0', () => {
    assert.equal(podsToDelete(pods, pods.length).length, pods.length);
    assert.equal(podsToDelete(pods, 99).length, pods.length);
    assert.deepEqual(podsToDelete(pods, 0), []);
  });
});
