/**
 * The StatefulSet controller's pure helpers, as tables: names and ordinals, the pods it builds
 * (identity, storage, revision), claim ownership under each retention policy (upstream's
 * isClaimOwnerUpToDate and updateClaimOwnerRefForSetAndPod cases), stale claims, revision data
 * and its inverse, and the status arithmetic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControllerRevision, OwnerReference, PersistentVolumeClaim, Pod, StatefulSet } from '../api/index.ts';
import {
  applyRevision,
  claimOwnerRefsFor,
  claimsMatchRetentionPolicy,
  completeRollingUpdate,
  countReplicas,
  identityMatches,
  inconsistentStatus,
  isClaimOfSet,
  isClaimOwnerUpToDate,
  isMemberOf,
  maxUnavailableOf,
  newStatefulSetPod,
  newVersionedStatefulSetPod,
  parentAndOrdinal,
  podClaimIsStale,
  podClaims,
  revisionData,
  storageMatches,
} from './statefulset-utils.ts';

// ---- fixtures -----------------------------------------------------------------------------------

const template = { metadata: { labels: { app: 'web' }, annotations: { a: '1' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } };

function makeSet(o: Partial<StatefulSet['spec']> & { name?: string; uid?: string; status?: StatefulSet['status'] } = {}): StatefulSet {
  const { name = 'web', uid = 'set-uid', status, ...spec } = o;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: 'ns', uid, generation: 1 },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      serviceName: 'web',
      template: structuredClone(template),
      volumeClaimTemplates: [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      podManagementPolicy: 'OrderedReady',
      revisionHistoryLimit: 10,
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

const setRef = (uid = 'set-uid', name = 'web'): OwnerReference => ({ apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid, controller: true, blockOwnerDeletion: true });
const podRef = (uid: string, name = 'web-1'): OwnerReference => ({ apiVersion: 'v1', kind: 'Pod', name, uid, controller: true, blockOwnerDeletion: true });
const otherRef: OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: 'other', uid: 'other-uid', controller: true };
const claim = (refs: OwnerReference[] = [], name = 'www-web-1'): PersistentVolumeClaim => ({ metadata: { name, namespace: 'ns', ...(refs.length ? { ownerReferences: refs } : {}) } });
const livePod = (name: string, uid = `${name}-uid`): Pod => ({ metadata: { name, namespace: 'ns', uid, labels: { app: 'web' } }, spec: { containers: [] } });
const policy = (whenScaled: string, whenDeleted: string) => ({ persistentVolumeClaimRetentionPolicy: { whenScaled, whenDeleted } });

// ---- names --------------------------------------------------------------------------------------

const ordinalCases: { name: string; pod: string; want: { parent: string; ordinal: number } }[] = [
  { name: 'a member name splits at its last dash', pod: 'web-2', want: { parent: 'web', ordinal: 2 } },
  { name: 'a parent name may contain dashes and digits', pod: 'my-db-1-10', want: { parent: 'my-db-1', ordinal: 10 } },
  { name: 'a name without an ordinal has none', pod: 'web', want: { parent: '', ordinal: -1 } },
  { name: 'a trailing non-digit is no ordinal', pod: 'web-1a', want: { parent: '', ordinal: -1 } },
  { name: 'an ordinal beyond 32 bits is invalid, the parent still found', pod: 'web-2147483648', want: { parent: 'web', ordinal: -1 } },
];
for (const c of ordinalCases) test(`ordinal: ${c.name}`, () => assert.deepEqual(parentAndOrdinal(c.pod), c.want));

test('membership is by parent name; claims of a set are recognised by template and set name', () => {
  const set = makeSet();
  assert.equal(isMemberOf(set, livePod('web-0')), true);
  assert.equal(isMemberOf(set, livePod('webby-0')), false);
  assert.equal(isClaimOfSet(set, 'www-web-4'), true);
  assert.equal(isClaimOfSet(set, 'www-web-x'), false);
  assert.equal(isClaimOfSet(set, 'data-web-1'), false);
});

// ---- pods ---------------------------------------------------------------------------------------

test('a new pod has the identity, the claim volume, the template and the set as controller', () => {
  const set = makeSet();
  const pod = newStatefulSetPod(set, 1);
  assert.equal(pod.metadata.name, 'web-1');
  assert.equal(pod.metadata.generateName, 'web-');
  assert.deepEqual(pod.metadata.labels, { app: 'web', 'statefulset.kubernetes.io/pod-name': 'web-1', 'apps.kubernetes.io/pod-index': '1' });
  assert.deepEqual(pod.metadata.annotations, { a: '1' });
  assert.deepEqual(pod.metadata.ownerReferences, [setRef()]);
  assert.equal(pod.spec!.hostname, 'web-1');
  assert.equal(pod.spec!.subdomain, 'web');
  assert.deepEqual(pod.spec!.volumes, [{ name: 'www', persistentVolumeClaim: { claimName: 'www-web-1' } }]);
  assert.equal(identityMatches(set, pod), true);
  assert.equal(storageMatches(set, pod), true);
  assert.equal(set.spec!.template.spec!.volumes, undefined, 'the template is not touched');
});

test('a template volume of a claim template name is replaced by the claim', () => {
  const set = makeSet();
  set.spec!.template.spec!.volumes = [{ name: 'www', emptyDir: {} }, { name: 'tmp', emptyDir: {} }];
  const pod = newStatefulSetPod(set, 0);
  assert.deepEqual(pod.spec!.volumes, [{ name: 'www', persistentVolumeClaim: { claimName: 'www-web-0' } }, { name: 'tmp', emptyDir: {} }]);
});

test('identity and storage mismatches are seen', () => {
  const set = makeSet();
  const pod = newStatefulSetPod(set, 0);
  const noLabel = structuredClone(pod);
  delete noLabel.metadata.labels!['statefulset.kubernetes.io/pod-name'];
  assert.equal(identityMatches(set, noLabel), false);
  const otherClaim = structuredClone(pod);
  otherClaim.spec!.volumes = [{ name: 'www', persistentVolumeClaim: { claimName: 'www-web-9' } }];
  assert.equal(storageMatches(set, otherClaim), false);
});

const revisionCases: { name: string; set: StatefulSet; ordinal: number; want: string }[] = [
  { name: 'below the partition: the current revision', set: makeSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }), ordinal: 1, want: 'cur' },
  { name: 'at the partition: the update revision', set: makeSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }), ordinal: 2, want: 'upd' },
  { name: 'the partition counts from ordinals.start', set: makeSet({ ordinals: { start: 5 }, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } }), ordinal: 6, want: 'cur' },
  { name: 'RollingUpdate without rollingUpdate: below the current replica count, current', set: makeSet({ updateStrategy: { type: 'RollingUpdate' }, status: { replicas: 3, currentReplicas: 2 } }), ordinal: 1, want: 'cur' },
  { name: 'OnDelete: the update revision', set: makeSet({ updateStrategy: { type: 'OnDelete' }, status: { replicas: 3, currentReplicas: 3 } }), ordinal: 0, want: 'upd' },
];
for (const c of revisionCases) {
  test(`new pod revision: ${c.name}`, () => {
    const updateSet = structuredClone(c.set);
    updateSet.spec!.template.spec!.containers[0]!.image = 'busybox:2';
    const pod = newVersionedStatefulSetPod(c.ordinal, { currentSet: c.set, updateSet, currentRevision: 'cur', updateRevision: 'upd' });
    assert.equal(pod.metadata.labels!['controller-revision-hash'], c.want);
    assert.equal(pod.spec!.containers[0]!.image, c.want === 'cur' ? 'busybox:1' : 'busybox:2');
  });
}

test('claims carry the template, the selector labels, the set namespace and the ordinal name', () => {
  const set = makeSet();
  set.spec!.volumeClaimTemplates![0]!.metadata.labels = { tier: 'db', app: 'other' };
  const got = podClaims(set, livePod('web-2')).get('www')!;
  assert.equal(got.metadata.name, 'www-web-2');
  assert.equal(got.metadata.namespace, 'ns');
  assert.deepEqual(got.metadata.labels, { tier: 'db', app: 'web' });
  assert.deepEqual(got.spec?.accessModes, ['ReadWriteOnce']);
});

// ---- claim ownership ------------------------------------------------------------------------------

const inRange = livePod('web-1');
const scaledDown = livePod('web-5', 'web-5-uid');
const ownerCases: { name: string; spec: Partial<StatefulSet['spec']>; claim: PersistentVolumeClaim; pod: Pod; upToDate: boolean; want: OwnerReference[] }[] = [
  { name: 'Retain/Retain: no references', spec: policy('Retain', 'Retain'), claim: claim(), pod: inRange, upToDate: true, want: [] },
  { name: 'Retain/Retain: the set reference goes', spec: policy('Retain', 'Retain'), claim: claim([setRef()]), pod: inRange, upToDate: false, want: [] },
  { name: 'Retain/Retain: another controller is left alone', spec: policy('Retain', 'Retain'), claim: claim([otherRef]), pod: inRange, upToDate: true, want: [otherRef] },
  { name: 'whenDeleted Delete: owned by the set', spec: policy('Retain', 'Delete'), claim: claim(), pod: inRange, upToDate: false, want: [setRef()] },
  { name: 'whenDeleted Delete: a scaled-down claim stays the set\'s', spec: policy('Retain', 'Delete'), claim: claim([setRef()], 'www-web-5'), pod: scaledDown, upToDate: true, want: [setRef()] },
  { name: 'whenScaled Delete: an in-range claim has no owner', spec: policy('Delete', 'Retain'), claim: claim(), pod: inRange, upToDate: true, want: [] },
  { name: 'whenScaled Delete: a scaled-down claim is owned by its pod', spec: policy('Delete', 'Retain'), claim: claim([], 'www-web-5'), pod: scaledDown, upToDate: false, want: [podRef('web-5-uid', 'web-5')] },
  { name: 'Delete/Delete: in range, owned by the set', spec: policy('Delete', 'Delete'), claim: claim([]), pod: inRange, upToDate: false, want: [setRef()] },
  { name: 'Delete/Delete: scaled down, the set reference moves to the pod', spec: policy('Delete', 'Delete'), claim: claim([setRef()], 'www-web-5'), pod: scaledDown, upToDate: false, want: [podRef('web-5-uid', 'web-5')] },
  { name: 'Delete/Delete: scaled back up, the pod reference moves to the set', spec: policy('Delete', 'Delete'), claim: claim([podRef('web-1-uid')]), pod: inRange, upToDate: false, want: [setRef()] },
  { name: 'a stale pod reference (another uid) is left alone', spec: policy('Delete', 'Delete'), claim: claim([podRef('old-uid')]), pod: inRange, upToDate: true, want: [] },
  { name: 'another controller: nothing is added', spec: policy('Delete', 'Delete'), claim: claim([otherRef]), pod: inRange, upToDate: true, want: [otherRef] },
  { name: 'another controller besides ours: ours go', spec: policy('Delete', 'Delete'), claim: claim([otherRef, { ...setRef(), controller: false }]), pod: inRange, upToDate: false, want: [otherRef] },
  { name: 'a non-controller reference of the set becomes a controller one', spec: policy('Retain', 'Delete'), claim: claim([{ ...setRef(), controller: false }]), pod: inRange, upToDate: false, want: [setRef()] },
];
for (const c of ownerCases) {
  test(`claim owners: ${c.name}`, () => {
    const set = makeSet(c.spec);
    assert.equal(isClaimOwnerUpToDate(c.claim, set, c.pod), c.upToDate, 'up to date');
    assert.deepEqual(claimOwnerRefsFor(c.claim, set, c.pod), c.want);
  });
}

test('claims match the policy when every existing claim is up to date; missing ones do', () => {
  const set = makeSet(policy('Retain', 'Delete'));
  assert.equal(claimsMatchRetentionPolicy(set, inRange, () => undefined), true);
  assert.equal(claimsMatchRetentionPolicy(set, inRange, () => claim()), false);
  assert.equal(claimsMatchRetentionPolicy(set, inRange, () => claim([setRef()])), true);
});

const staleCases: { name: string; spec: Partial<StatefulSet['spec']>; claim?: PersistentVolumeClaim; want: boolean }[] = [
  { name: 'no claim yet: not stale', spec: policy('Delete', 'Retain'), want: false },
  { name: 'a claim still owned by the previous pod: stale', spec: policy('Delete', 'Retain'), claim: claim([podRef('old-uid')]), want: true },
  { name: 'a claim without owner: not stale', spec: policy('Delete', 'Retain'), claim: claim(), want: false },
  { name: 'whenScaled Retain never has stale claims', spec: policy('Retain', 'Retain'), claim: claim([podRef('old-uid')]), want: false },
];
for (const c of staleCases) {
  test(`stale claim: ${c.name}`, () => {
    const set = makeSet(c.spec);
    const pod = newStatefulSetPod(set, 1);
    assert.equal(podClaimIsStale(set, pod, () => c.claim), c.want);
  });
}

// ---- revisions ----------------------------------------------------------------------------------

test('revision data is the template under $patch: replace, as Go encodes it', () => {
  const set = makeSet();
  const data = revisionData(set);
  assert.equal(
    JSON.stringify(data),
    '{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"a":"1"},"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"image":"busybox:1","name":"c"}]}}}}',
  );
});

test('applying a revision restores its template; any other data goes through the strategic merge patch', () => {
  const old = makeSet();
  const rev: ControllerRevision = { metadata: { name: 'web-1' }, revision: 1, data: revisionData(old) };
  const now = makeSet();
  now.spec!.template.spec!.containers[0]!.image = 'busybox:2';
  const restored = applyRevision(now, rev);
  assert.deepEqual(restored.spec!.template, old.spec!.template);
  assert.equal(now.spec!.template.spec!.containers[0]!.image, 'busybox:2', 'the set is not touched');
  const partial: ControllerRevision = { metadata: { name: 'web-2' }, revision: 2, data: { spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:3' }] } } } } };
  const merged = applyRevision(now, partial);
  assert.equal(merged.spec!.template.spec!.containers[0]!.image, 'busybox:3');
  assert.deepEqual(merged.spec!.template.metadata, now.spec!.template.metadata);
});

// ---- status -------------------------------------------------------------------------------------

const readyPod = (name: string, rev: string, readySince = '2025-01-01T00:00:00Z', extra: Partial<Pod['metadata']> = {}): Pod => ({
  metadata: { name, labels: { 'controller-revision-hash': rev }, ...extra },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: readySince }] },
});

test('replica counts: created, ready, available (minReadySeconds), current and updated (terminating aside)', () => {
  const now = Date.parse('2025-01-01T00:01:00Z');
  const status = { replicas: 0 };
  countReplicas(status, [
    readyPod('web-0', 'a'),
    readyPod('web-1', 'b', '2025-01-01T00:00:50Z'),
    readyPod('web-2', 'b', '2025-01-01T00:00:00Z', { deletionTimestamp: '2025-01-01T00:00:59Z' }),
    { metadata: { name: 'web-3', labels: { 'controller-revision-hash': 'b' } }, status: { phase: 'Pending' } },
    { metadata: { name: 'web-4' } },
  ], { minReadySeconds: 30, currentRevision: 'a', updateRevision: 'b', now });
  assert.deepEqual(status, { replicas: 4, readyReplicas: 3, availableReplicas: 2, currentReplicas: 1, updatedReplicas: 2 });
});

test('a rolling update completes when all wanted replicas are updated and ready; OnDelete never does', () => {
  const status = () => ({ replicas: 3, readyReplicas: 3, updatedReplicas: 3, currentReplicas: 1, currentRevision: 'a', updateRevision: 'b' });
  const done = status();
  completeRollingUpdate(makeSet(), done);
  assert.equal(done.currentRevision, 'b');
  assert.equal(done.currentReplicas, 3);
  const notReady = { ...status(), readyReplicas: 2 };
  completeRollingUpdate(makeSet(), notReady);
  assert.equal(notReady.currentRevision, 'a');
  const onDelete = status();
  completeRollingUpdate(makeSet({ updateStrategy: { type: 'OnDelete' } }), onDelete);
  assert.equal(onDelete.currentRevision, 'a');
});

test('the status is written when a reported field or a newer generation differs', () => {
  const base = { observedGeneration: 1, replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, availableReplicas: 3, currentRevision: 'a', updateRevision: 'a', collisionCount: 0 };
  const set = makeSet({ status: base });
  assert.equal(inconsistentStatus(set, { ...base }), false);
  assert.equal(inconsistentStatus(set, { ...base, observedGeneration: 2 }), true);
  assert.equal(inconsistentStatus(set, { ...base, availableReplicas: 2 }), true);
  assert.equal(inconsistentStatus(set, { ...base, collisionCount: 1 }), true);
  assert.equal(inconsistentStatus(makeSet(), { ...base }), true, 'never observed');
});

const maxUnavailableCases: { v: number | string | undefined; replicas: number; want: number }[] = [
  { v: undefined, replicas: 5, want: 1 },
  { v: 2, replicas: 5, want: 2 },
  { v: '50%', replicas: 5, want: 2 },
  { v: '10%', replicas: 5, want: 1 },
];
for (const c of maxUnavailableCases) test(`maxUnavailable ${String(c.v)} of ${c.replicas} is ${c.want}`, () => assert.equal(maxUnavailableOf(c.v, c.replicas), c.want));
