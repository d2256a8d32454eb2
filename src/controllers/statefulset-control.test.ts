/**
 * The StatefulSet update algorithm against a recording StatefulPodControl (a fake for a pure
 * unit: the algorithm decides, the fake writes down what it was asked to do). Each case gives
 * the set and its pods and names the writes one sync makes, in order, and where it matters the
 * status: ordered creation, Parallel bursts, finished pods, scale down order, claims, rolling
 * updates with partition and maxUnavailable, OnDelete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControllerRevision, PersistentVolumeClaim, Pod, StatefulSet } from '../api/index.ts';
import { updateStatefulSet, type StatefulPodControl } from './statefulset-control.ts';
import { newStatefulSetPod, revisionData } from './statefulset-utils.ts';

const now = Date.parse('2025-01-01T01:00:00Z');

function makeSet(spec: Partial<StatefulSet['spec']> = {}, meta: Partial<StatefulSet['metadata']> = {}): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'ns', uid: 'set-uid', generation: 2, ...meta },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      serviceName: 'web',
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox:2' }] } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      podManagementPolicy: 'OrderedReady',
      ...spec,
    },
  };
}

/** Revision `name` of the set with its image set to `image`. */
function revision(set: StatefulSet, name: string, image: string): ControllerRevision {
  const s = structuredClone(set);
  s.spec!.template.spec!.containers[0]!.image = image;
  return { metadata: { name, namespace: 'ns' }, revision: name === 'rev-a' ? 1 : 2, data: revisionData(s) };
}

type PodState = 'pending' | 'unready' | 'ready' | 'failed' | 'succeeded' | 'terminating';

/** A created pod of the set at `rev`, in `state`. */
function pod(set: StatefulSet, ordinal: number, rev: string, state: PodState = 'ready'): Pod {
  const p = newStatefulSetPod(set, ordinal);
  p.metadata.uid = `uid-${ordinal}`;
  p.metadata.labels!['controller-revision-hash'] = rev;
  const phase = { pending: 'Pending', unready: 'Running', ready: 'Running', failed: 'Failed', succeeded: 'Succeeded', terminating: 'Running' }[state];
  p.status = { phase, conditions: [{ type: 'Ready', status: state === 'ready' || state === 'terminating' ? 'True' : 'False', lastTransitionTime: '2025-01-01T00:00:00Z' }] };
  if (state === 'terminating') p.metadata.deletionTimestamp = '2025-01-01T00:59:00Z';
  return p;
}

function recorder(claims: Record<string, PersistentVolumeClaim> = {}) {
  const calls: string[] = [];
  const control: StatefulPodControl = {
    claim: (_ns, name) => claims[name],
    async createPod(_set, p) {
      calls.push(`create ${p.metadata.name}@${p.metadata.labels?.['controller-revision-hash']}`);
    },
    async updatePod(_set, p) {
      calls.push(`update ${p.metadata.name}`);
    },
    async deletePod(_set, p) {
      calls.push(`delete ${p.metadata.name}`);
    },
    async createMissingClaims(_set, p) {
      calls.push(`claims ${p.metadata.name}`);
    },
    async updateClaimsForRetentionPolicy(_set, p) {
      calls.push(`retain ${p.metadata.name}`);
    },
  };
  return { calls, control };
}

interface Case {
  name: string;
  set: StatefulSet;
  pods: (set: StatefulSet) => Pod[];
  claims?: Record<string, PersistentVolumeClaim>;
  want: string[];
  status?: Record<string, unknown>;
}

const A = 'rev-a';
const B = 'rev-b';
const cases: Case[] = [
  { name: 'OrderedReady creates the first pod only', set: makeSet(), pods: () => [], want: [`create web-0@${B}`] },
  { name: 'OrderedReady waits for a pod that is not ready', set: makeSet(), pods: (s) => [pod(s, 0, B, 'unready')], want: [] },
  { name: 'OrderedReady waits for a pending pod, creating its missing claims', set: makeSet(), pods: (s) => [pod(s, 0, B, 'pending')], want: ['claims web-0'] },
  { name: 'OrderedReady creates the next pod once its predecessor is ready', set: makeSet(), pods: (s) => [pod(s, 0, B)], want: [`create web-1@${B}`] },
  { name: 'OrderedReady fills a gap before going on', set: makeSet(), pods: (s) => [pod(s, 0, B), pod(s, 2, B)], want: [`create web-1@${B}`] },
  { name: 'OrderedReady waits for minReadySeconds', set: makeSet({ minReadySeconds: 7200 }), pods: (s) => [pod(s, 0, B)], want: [] },
  { name: 'Parallel creates every missing pod', set: makeSet({ podManagementPolicy: 'Parallel' }), pods: (s) => [pod(s, 1, B, 'unready')], want: [`create web-0@${B}`, `create web-2@${B}`] },
  { name: 'ordinals start at spec.ordinals.start', set: makeSet({ ordinals: { start: 5 } }), pods: () => [], want: [`create web-5@${B}`] },
  { name: 'a failed pod is deleted to be recreated', set: makeSet(), pods: (s) => [pod(s, 0, B), pod(s, 1, B, 'failed')], want: ['delete web-1'] },
  { name: 'a succeeded pod is deleted to be recreated', set: makeSet(), pods: (s) => [pod(s, 0, B, 'succeeded')], want: ['delete web-0'] },
  { name: 'OrderedReady waits for a terminating replica', set: makeSet(), pods: (s) => [pod(s, 0, B, 'terminating')], want: [] },
  { name: 'a pod without its identity label is repaired', set: makeSet(), pods: (s) => {
    const p = pod(s, 0, B);
    delete p.metadata.labels!['statefulset.kubernetes.io/pod-name'];
    return [p, pod(s, 1, B), pod(s, 2, B)];
  }, want: ['update web-0'] },
  {
    name: 'scale down removes the highest ordinal first, one at a time',
    set: makeSet({ replicas: 1 }),
    pods: (s) => [pod(s, 0, B), pod(s, 1, B), pod(s, 2, B)],
    want: ['delete web-2'],
  },
  { name: 'scale down waits while a condemned pod terminates', set: makeSet({ replicas: 1 }), pods: (s) => [pod(s, 0, B), pod(s, 1, B), pod(s, 2, B, 'terminating')], want: [] },
  {
    name: 'scale down waits for an unhealthy condemned pod that is not the first unhealthy one',
    set: makeSet({ replicas: 1 }),
    pods: (s) => [pod(s, 0, B), pod(s, 1, B, 'unready'), pod(s, 2, B, 'unready')],
    want: [],
  },
  { name: 'the first unhealthy pod may be removed', set: makeSet({ replicas: 1 }), pods: (s) => [pod(s, 0, B), pod(s, 1, B), pod(s, 2, B, 'unready')], want: ['delete web-2'] },
  { name: 'Parallel scale down removes every condemned pod', set: makeSet({ replicas: 1, podManagementPolicy: 'Parallel' }), pods: (s) => [pod(s, 0, B), pod(s, 1, B, 'unready'), pod(s, 2, B)], want: ['delete web-2', 'delete web-1'] },
  {
    name: 'under whenScaled Delete a condemned pod\'s claims are handed to it before it goes',
    set: makeSet({ replicas: 2, volumeClaimTemplates: [{ metadata: { name: 'www' } }], persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' } }),
    pods: (s) => [pod(s, 0, B), pod(s, 1, B), pod(s, 2, B)],
    claims: { 'www-web-2': { metadata: { name: 'www-web-2', namespace: 'ns' } } },
    want: ['retain web-2', 'delete web-2'],
  },
  {
    name: 'a claim still owned by the previous pod of the ordinal holds the creation back',
    set: makeSet({ volumeClaimTemplates: [{ metadata: { name: 'www' } }], persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' } }),
    pods: () => [],
    claims: { 'www-web-0': { metadata: { name: 'www-web-0', namespace: 'ns', ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: 'old', controller: true }] } } },
    want: [],
  },
  {
    name: 'a rolling update deletes the highest ordinal not yet updated',
    set: makeSet(),
    pods: (s) => [pod(s, 0, A), pod(s, 1, A), pod(s, 2, A)],
    want: ['delete web-2'],
    status: { replicas: 3, readyReplicas: 3, currentReplicas: 2, updatedReplicas: 0, currentRevision: A, updateRevision: B },
  },
  { name: 'a rolling update waits for an updated pod to be available', set: makeSet(), pods: (s) => [pod(s, 0, A), pod(s, 1, A), pod(s, 2, B, 'unready')], want: [] },
  { name: 'a rolling update goes on below an updated, ready pod', set: makeSet(), pods: (s) => [pod(s, 0, A), pod(s, 1, A), pod(s, 2, B)], want: ['delete web-1'] },
  {
    name: 'a partition keeps lower ordinals at the current revision',
    set: makeSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }),
    pods: (s) => [pod(s, 0, A), pod(s, 1, A), pod(s, 2, B)],
    want: [],
  },
  {
    name: 'a new pod below the partition is made at the current revision',
    set: makeSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }),
    pods: (s) => [pod(s, 0, A)],
    want: [`create web-1@${A}`],
  },
  {
    name: 'maxUnavailable deletes up to that many at once',
    set: makeSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 2 } } }),
    pods: (s) => [pod(s, 0, A), pod(s, 1, A), pod(s, 2, A)],
    want: ['delete web-2', 'delete web-1'],
    status: { currentReplicas: 1 },
  },
  {
    name: 'maxUnavailable counts pods already unavailable',
    set: makeSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 2 } } }),
    pods: (s) => [pod(s, 0, A), pod(s, 1, A), pod(s, 2, B, 'unready')],
    want: [],
  },
  { name: 'OnDelete leaves old pods alone', set: makeSet({ updateStrategy: { type: 'OnDelete' } }), pods: (s) => [pod(s, 0, A), pod(s, 1, A), pod(s, 2, A)], want: [] },
  { name: 'OnDelete recreates a deleted pod at the update revision', set: makeSet({ updateStrategy: { type: 'OnDelete' } }), pods: (s) => [pod(s, 0, A), pod(s, 2, A)], want: [`create web-1@${B}`] },
  { name: 'a set being deleted only reports', set: makeSet({}, { deletionTimestamp: '2025-01-01T00:00:00Z' }), pods: (s) => [pod(s, 0, A, 'failed')], want: [], status: { replicas: 1, observedGeneration: 2 } },
];

for (const c of cases) {
  test(c.name, async () => {
    const { calls, control } = recorder(c.claims);
    const podsIn = c.pods(c.set);
    const frozen = JSON.stringify(podsIn);
    const { status, error } = await updateStatefulSet({ set: c.set, pods: podsIn, current: revision(c.set, A, 'busybox:1'), update: revision(c.set, B, 'busybox:2'), collisionCount: 0, now }, control);
    assert.equal(error, undefined);
    assert.deepEqual(calls, c.want);
    assert.equal(JSON.stringify(podsIn), frozen, 'pods are not mutated');
    for (const [k, v] of Object.entries(c.status ?? {})) assert.deepEqual((status as Record<string, unknown>)[k], v, k);
  });
}

test('a failing write stops an ordered sync and is returned with the status', async () => {
  const set = makeSet({ replicas: 1 });
  const { control } = recorder();
  const boom = new Error('boom');
  control.deletePod = async () => {
    throw boom;
  };
  const { status, error } = await updateStatefulSet({ set, pods: [pod(set, 0, B), pod(set, 1, B), pod(set, 2, B)], current: revision(set, B, 'busybox:2'), update: revision(set, B, 'busybox:2'), collisionCount: 3, now }, control);
  assert.equal(error, boom);
  assert.equal(status.replicas, 3);
  assert.equal(status.collisionCount, 3);
});

test('Parallel creation goes in slow-start batches and stops after a failed batch', async () => {
  const set = makeSet({ replicas: 10, podManagementPolicy: 'Parallel' });
  const { calls, control } = recorder();
  control.createPod = async (_s, p) => {
    calls.push(p.metadata.name!);
    if (p.metadata.name === 'web-2') throw new Error('quota');
  };
  const { error } = await updateStatefulSet({ set, pods: [], current: revision(set, B, 'busybox:2'), update: revision(set, B, 'busybox:2'), collisionCount: 0, now }, control);
  assert.match(String(error), /quota/);
  // Batches of 1 (web-0), 2 (web-1, web-2): the failure in the second stops the rest.
  assert.deepEqual(calls.sort(), ['web-0', 'web-1', 'web-2']);
});
