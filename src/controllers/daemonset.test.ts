/**
 * The DaemonSet controller against the in-process API server (only `daemonset` runs; no
 * scheduler): a small stand-in kubelet in the test binds each daemon pod to the node its
 * affinity names, marks it Running and Ready, and finishes deletions, so placement, pod shape,
 * revisions, rolling updates, failed pods and status are checked without the rest of the system.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Binding, ControllerRevision, DaemonSet, Event, Node, Pod } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { resources, type Clientset, type RestClient } from '../client/index.ts';
import { runControllerManager } from './manager.ts';
import { targetNodeName } from './daemonset-util.ts';
import { startTestApi, until, type TestApi } from './testing.ts';

const ns = 'default';

describe('daemonset controller', () => {
  let testApi: TestApi | undefined;
  let client: RestClient;
  let cs: Clientset;
  const ac = new AbortController();
  let done: Promise<void> = Promise.resolve();
  let kubelet: Promise<void> = Promise.resolve();
  /** Pods the stand-in kubelet must fail instead of starting (by name). */
  const failNext = new Set<string>();

  const pods = async (ds: string) => (await cs.pods.list({ namespace: ns })).items.filter((p) => p.metadata.ownerReferences?.[0]?.name === ds);
  const events = async (ds: string) => (await cs.events.list({ namespace: ns })).items.filter((e: Event) => e.involvedObject?.name === ds).map((e) => `${e.reason}: ${e.message}`);
  const getDs = (name: string) => cs.daemonSets.get(name, { namespace: ns });
  const addNode = async (name: string, o: { labels?: Record<string, string>; taints?: NonNullable<Node['spec']>['taints'] } = {}) => {
    await cs.nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } }, spec: o.taints ? { taints: o.taints } : {} });
  };
  const daemonSet = (name: string, o: { image?: string; nodeSelector?: Record<string, string>; strategy?: NonNullable<DaemonSet['spec']>['updateStrategy'] } = {}): DaemonSet => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: ns },
    spec: {
      selector: { matchLabels: { app: name } },
      ...(o.strategy ? { updateStrategy: o.strategy } : {}),
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: o.image ?? 'img:1' }], ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}) } },
    },
  });
  /** Pod names by node, of pods not being deleted. */
  const placement = async (ds: string) => {
    const out: Record<string, string[]> = {};
    for (const p of await pods(ds)) if (!p.metadata.deletionTimestamp) (out[targetNodeName(p) ?? '?'] ??= []).push(p.metadata.labels?.['controller-revision-hash'] ?? '');
    return out;
  };

  /** One pass of the stand-in kubelet. */
  async function kubeletPass(): Promise<void> {
    for (const pod of (await cs.pods.list({ namespace: ns })).items) {
      const name = pod.metadata.name!;
      try {
        if (pod.metadata.deletionTimestamp) {
          await cs.pods.delete(name, { namespace: ns, gracePeriodSeconds: 0 });
        } else if (!pod.spec?.nodeName) {
          const node = targetNodeName(pod);
          if (!node) continue;
          const binding: Binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: ns }, target: { kind: 'Node', name: node } };
          await client.create<Binding>(resources.pods, binding, { namespace: ns, subresource: 'binding' });
        } else if (!pod.status?.phase || pod.status.phase === 'Pending') {
          const failed = [...failNext].some((prefix) => name.startsWith(prefix));
          const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
          const status = failed
            ? { phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }] }
            : { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] };
          await cs.pods.patchStatus(name, { status }, { type: 'merge', namespace: ns });
        }
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  before(async () => {
    testApi = await startTestApi('daemonset-test');
    ({ client, cs } = testApi);
    // Pods are refused until their ServiceAccount exists (no serviceaccount controller runs here).
    await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }, { namespace: ns });
    done = runControllerManager({ client, identity: 'daemonset-test', enabled: ['daemonset'] }, ac.signal);
    kubelet = (async () => {
      while (!ac.signal.aborted) {
        await kubeletPass().catch(() => {});
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await addNode('n1', { labels: { disk: 'ssd' } });
    await addNode('n2');
    await addNode('tainted', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] });
  });

  after(async () => {
    ac.abort();
    await done;
    await kubelet;
    await testApi?.close();
  });

  test('one pod per eligible node, shaped as upstream, with a revision and a status', async () => {
    await cs.daemonSets.create(daemonSet('a'), { namespace: ns });
    await until('a pod on n1 and n2, none on the tainted node', async () => {
      const p = await placement('a');
      return Object.keys(p).sort().join() === 'n1,n2' && p['n1']!.length === 1 && p['n2']!.length === 1 ? p : undefined;
    });
    const pod = (await pods('a')).find((p) => targetNodeName(p) === 'n1')!;
    const revs = (await cs.controllerRevisions.list({ namespace: ns })).items.filter((r: ControllerRevision) => r.metadata.ownerReferences?.[0]?.name === 'a');
    assert.equal(revs.length, 1);
    const hash = revs[0]!.metadata.labels!['controller-revision-hash']!;
    assert.equal(revs[0]!.metadata.name, `a-${hash}`);
    assert.equal(revs[0]!.revision, 1);
    assert.deepEqual(pod.metadata.labels, { app: 'a', 'controller-revision-hash': hash, 'pod-template-generation': '1' });
    assert.match(pod.metadata.name!, /^a-[a-z0-9]{5}$/);
    assert.deepEqual(pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] });
    assert.deepEqual(pod.spec?.tolerations?.map((t) => `${t.key}:${t.effect}`), [
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/disk-pressure:NoSchedule',
      'node.kubernetes.io/memory-pressure:NoSchedule',
      'node.kubernetes.io/pid-pressure:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
    ]);
    assert.equal(pod.metadata.ownerReferences?.[0]?.kind, 'DaemonSet');
    const ds = await until('status with both pods ready', async () => {
      const d = await getDs('a');
      return d.status?.numberAvailable === 2 && d.status.observedGeneration === d.metadata.generation ? d : undefined;
    });
    assert.deepEqual(
      { ...ds.status },
      { currentNumberScheduled: 2, numberMisscheduled: 0, desiredNumberScheduled: 2, numberReady: 2, observedGeneration: 1, updatedNumberScheduled: 2, numberAvailable: 2 },
    );
    const ev = await events('a');
    assert.equal(ev.filter((e) => e.startsWith('SuccessfulCreate: Created pod: a-')).length, 2, ev.join('\n'));
  });

  test('a node selector limits the pods; relabelling a node moves them', async () => {
    await cs.daemonSets.create(daemonSet('sel', { nodeSelector: { disk: 'ssd' } }), { namespace: ns });
    await until('a pod on n1 only', async () => (Object.keys(await placement('sel')).join() === 'n1' ? true : undefined));
    await cs.nodes.patch('n2', { metadata: { labels: { disk: 'ssd' } } }, { type: 'merge' });
    await until('pods on n1 and n2', async () => (Object.keys(await placement('sel')).sort().join() === 'n1,n2' ? true : undefined));
    await cs.nodes.patch('n1', { metadata: { labels: { disk: null } } }, { type: 'merge' });
    await until('the pod on n1 deleted', async () => (Object.keys(await placement('sel')).join() === 'n2' ? true : undefined));
    await cs.nodes.patch('n1', { metadata: { labels: { disk: 'ssd' } } }, { type: 'merge' });
    await cs.nodes.patch('n2', { metadata: { labels: { disk: null } } }, { type: 'merge' });
  });

  test('a node added later gets its pod', async () => {
    await addNode('n3');
    await until('a pod of a on n3', async () => ((await placement('a'))['n3']?.length === 1 ? true : undefined));
    await until('desiredNumberScheduled 3', async () => ((await getDs('a')).status?.numberAvailable === 3 ? true : undefined));
    await cs.nodes.delete('n3');
    await until('desiredNumberScheduled back to 2', async () => ((await getDs('a')).status?.desiredNumberScheduled === 2 ? true : undefined));
  });

  test('RollingUpdate replaces every pod with the new template, recording a second revision', async () => {
    const ds = await getDs('a');
    await cs.daemonSets.update({ ...ds, spec: { ...ds.spec!, template: { ...ds.spec!.template, spec: { containers: [{ name: 'c', image: 'img:2' }] } } } }, { namespace: ns });
    const revs = await until('a second revision', async () => {
      const r = (await cs.controllerRevisions.list({ namespace: ns })).items.filter((x) => x.metadata.ownerReferences?.[0]?.name === 'a');
      return r.length === 2 ? r : undefined;
    });
    const newest = revs.find((r) => r.revision === 2)!;
    const hash = newest.metadata.labels!['controller-revision-hash']!;
    await until('every pod of a on the new revision and available', async () => {
      const p = await placement('a');
      const d = await getDs('a');
      return Object.values(p).flat().every((h) => h === hash) && Object.keys(p).sort().join() === 'n1,n2' && d.status?.updatedNumberScheduled === 2 && d.status.numberAvailable === 2 && d.status.observedGeneration === d.metadata.generation ? true : undefined;
    });
    for (const p of await pods('a')) {
      if (p.metadata.deletionTimestamp) continue;
      assert.equal(p.spec?.containers[0]?.image, 'img:2');
      assert.equal(p.metadata.labels?.['pod-template-generation'], '2');
    }
    // With no history kept, the first revision goes once no pod uses it.
    await cs.daemonSets.patch('a', { spec: { revisionHistoryLimit: 0 } }, { type: 'merge', namespace: ns });
    await until('only the current revision left', async () => {
      const r = (await cs.controllerRevisions.list({ namespace: ns })).items.filter((x) => x.metadata.ownerReferences?.[0]?.name === 'a');
      return r.length === 1 && r[0]!.metadata.name === newest.metadata.name ? true : undefined;
    });
  });

  test('OnDelete keeps old pods until they are deleted', async () => {
    await cs.daemonSets.create(daemonSet('od', { strategy: { type: 'OnDelete' } }), { namespace: ns });
    await until('pods of od on n1 and n2', async () => ((await getDs('od')).status?.numberAvailable === 2 ? true : undefined));
    const ds = await getDs('od');
    await cs.daemonSets.update({ ...ds, spec: { ...ds.spec!, template: { ...ds.spec!.template, spec: { containers: [{ name: 'c', image: 'img:2' }] } } } }, { namespace: ns });
    await until('the update observed', async () => {
      const d = await getDs('od');
      return d.status?.observedGeneration === 2 && (d.status.updatedNumberScheduled ?? 0) === 0 ? true : undefined;
    });
    const before = (await pods('od')).map((p) => p.metadata.name).sort();
    assert.equal(before.length, 2);
    const victim = (await pods('od')).find((p) => targetNodeName(p) === 'n1')!;
    await cs.pods.delete(victim.metadata.name!, { namespace: ns });
    await until('a new pod on n1 only', async () => {
      const d = await getDs('od');
      return d.status?.updatedNumberScheduled === 1 && d.status.numberAvailable === 2 ? true : undefined;
    });
    const after = await pods('od');
    assert.equal(after.find((p) => targetNodeName(p) === 'n2')!.metadata.name, before.find((n) => n !== victim.metadata.name));
  });

  test('a failed daemon pod is deleted and replaced, with a FailedDaemonPod event', async () => {
    failNext.add('f-');
    await cs.daemonSets.create(daemonSet('f', { nodeSelector: { disk: 'ssd' } }), { namespace: ns });
    await until('a FailedDaemonPod event', async () => ((await events('f')).some((e) => /^FailedDaemonPod: Found failed daemon pod default\/f-\w+ on node n1, will try to kill it$/.test(e)) ? true : undefined));
    failNext.clear();
    await until('a running replacement', async () => ((await getDs('f')).status?.numberAvailable === 1 ? true : undefined));
    const ev = await events('f');
    assert.ok(ev.filter((e) => e.startsWith('SuccessfulCreate')).length >= 2, ev.join('\n'));
    assert.ok(ev.some((e) => e.startsWith('SuccessfulDelete: Deleted pod: f-')), ev.join('\n'));
  });
});
