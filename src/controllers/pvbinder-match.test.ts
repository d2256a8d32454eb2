/**
 * Matching volumes to claims (pvbinder-match.ts) as tables: the controller's best match (class,
 * size, access-mode groups, selector, volumeMode, pre-binding in both directions, WaitForFirstConsumer),
 * the scheduler's node-aware match, the reasons a named volume is refused, and the binding copy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/index.ts';
import { bindVolumeToClaim, claimClass, defaultClass, findBestMatch, findMatchingVolume, isVolumeBoundToClaim, volumeMismatchReason } from './pvbinder-match.ts';

interface PvOpts {
  size?: string;
  modes?: string[];
  cls?: string;
  phase?: string;
  labels?: Record<string, string>;
  claimRef?: { namespace: string; name: string; uid?: string };
  mode?: string;
  deleting?: boolean;
  zone?: string;
}
const pv = (name: string, o: PvOpts = {}): PersistentVolume => ({
  metadata: { name, labels: o.labels, ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: {
    capacity: { storage: o.size ?? '1Gi' },
    accessModes: o.modes ?? ['ReadWriteOnce'],
    storageClassName: o.cls ?? '',
    volumeMode: o.mode ?? 'Filesystem',
    hostPath: { path: `/data/${name}` },
    ...(o.claimRef ? { claimRef: o.claimRef } : {}),
    ...(o.zone ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: [o.zone] }] }] } } } : {}),
  },
  status: { phase: o.phase ?? 'Available' },
});

interface ClaimOpts {
  size?: string;
  modes?: string[];
  cls?: string;
  selector?: Record<string, string>;
  mode?: string;
  volumeName?: string;
  betaClass?: string;
}
const claim = (name: string, o: ClaimOpts = {}): PersistentVolumeClaim => ({
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...(o.betaClass !== undefined ? { annotations: { 'volume.beta.kubernetes.io/storage-class': o.betaClass } } : {}) },
  spec: {
    accessModes: o.modes ?? ['ReadWriteOnce'],
    resources: { requests: { storage: o.size ?? '1Gi' } },
    ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
    volumeMode: o.mode ?? 'Filesystem',
    ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
    ...(o.volumeName ? { volumeName: o.volumeName } : {}),
  },
});

const bestCases: { name: string; claim: PersistentVolumeClaim; volumes: PersistentVolume[]; delay?: boolean; want: string | undefined }[] = [
  { name: 'the smallest volume that is big enough', claim: claim('c', { size: '2Gi' }), volumes: [pv('a', { size: '1Gi' }), pv('b', { size: '10Gi' }), pv('c', { size: '3Gi' })], want: 'c' },
  { name: 'a volume exactly the size asked for', claim: claim('c', { size: '1Gi' }), volumes: [pv('a', { size: '1024Mi' })], want: 'a' },
  { name: 'nothing big enough', claim: claim('c', { size: '5Gi' }), volumes: [pv('a', { size: '1Gi' })], want: undefined },
  { name: 'only volumes of the claim class', claim: claim('c', { cls: 'fast' }), volumes: [pv('slow', { cls: 'slow' }), pv('fast', { cls: 'fast', size: '5Gi' })], want: 'fast' },
  { name: 'class "" matches only volumes without a class', claim: claim('c', { cls: '' }), volumes: [pv('fast', { cls: 'fast' })], want: undefined },
  { name: 'the beta class annotation wins over the field', claim: claim('c', { cls: 'x', betaClass: 'fast' }), volumes: [pv('fast', { cls: 'fast' })], want: 'fast' },
  { name: 'every asked access mode must be offered', claim: claim('c', { modes: ['ReadWriteMany'] }), volumes: [pv('rwo', { modes: ['ReadWriteOnce'] }), pv('rwx', { modes: ['ReadWriteMany', 'ReadOnlyMany'] })], want: 'rwx' },
  {
    name: 'the group with the fewest modes first, even when bigger',
    claim: claim('c', { modes: ['ReadWriteOnce'] }),
    volumes: [pv('many', { modes: ['ReadWriteOnce', 'ReadWriteMany'], size: '1Gi' }), pv('one', { modes: ['ReadWriteOnce'], size: '8Gi' })],
    want: 'one',
  },
  { name: 'the selector filters volumes by label', claim: claim('c', { selector: { tier: 'gold' } }), volumes: [pv('a'), pv('b', { labels: { tier: 'gold' }, size: '4Gi' })], want: 'b' },
  { name: 'volumeMode must be the same', claim: claim('c', { mode: 'Block' }), volumes: [pv('fs'), pv('blk', { mode: 'Block', size: '2Gi' })], want: 'blk' },
  { name: 'volumes not Available are skipped', claim: claim('c'), volumes: [pv('released', { phase: 'Released' }), pv('pending', { phase: 'Pending' })], want: undefined },
  { name: 'volumes being deleted are skipped', claim: claim('c'), volumes: [pv('going', { deleting: true })], want: undefined },
  { name: 'a volume claimed by another claim is skipped', claim: claim('c'), volumes: [pv('taken', { claimRef: { namespace: 'ns', name: 'other', uid: 'u' } })], want: undefined },
  {
    name: 'a volume pre-bound to the claim wins over a smaller free one, whatever its class',
    claim: claim('c', { cls: 'fast' }),
    volumes: [pv('free', { cls: 'fast', size: '1Gi' }), pv('mine', { cls: 'other', size: '9Gi', phase: 'Bound', claimRef: { namespace: 'ns', name: 'c' } })],
    want: 'mine',
  },
  { name: 'a pre-bound volume too small is not taken', claim: claim('c', { size: '5Gi' }), volumes: [pv('mine', { size: '1Gi', claimRef: { namespace: 'ns', name: 'c' } })], want: undefined },
  { name: 'a claimRef with another uid is not this claim', claim: claim('c'), volumes: [pv('old', { claimRef: { namespace: 'ns', name: 'c', uid: 'stale' } })], want: undefined },
  { name: 'WaitForFirstConsumer: the controller takes only pre-bound volumes', claim: claim('c'), volumes: [pv('free')], delay: true, want: undefined },
  { name: 'WaitForFirstConsumer: a volume a provisioner made for the claim is taken', claim: claim('c'), volumes: [pv('made', { claimRef: { namespace: 'ns', name: 'c', uid: 'uid-c' } })], delay: true, want: 'made' },
];
for (const c of bestCases) test(`best match: ${c.name}`, () => assert.equal(findBestMatch(c.claim, c.volumes, c.delay ?? false)?.metadata.name, c.want));

test('scheduler match: node affinity and access modes are checked, chosen volumes excluded', () => {
  const vols = [pv('a', { zone: 'a', size: '1Gi' }), pv('b', { zone: 'b', size: '1Gi' }), pv('a2', { zone: 'a', size: '2Gi' })];
  const inZone = (z: string) => (v: PersistentVolume) => !v.spec?.nodeAffinity || v.spec.nodeAffinity.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values?.includes(z) === true;
  assert.equal(findMatchingVolume(claim('c'), vols, { nodeFits: inZone('b') })?.metadata.name, 'b');
  assert.equal(findMatchingVolume(claim('c'), vols, { nodeFits: inZone('a'), excluded: new Set(['a']) })?.metadata.name, 'a2');
  assert.equal(findMatchingVolume(claim('c', { modes: ['ReadWriteMany'] }), vols, { nodeFits: () => true }), undefined);
  // A pre-bound volume that does not fit the node means no match at all on that node.
  const mine = pv('mine', { zone: 'a', claimRef: { namespace: 'ns', name: 'c' } });
  assert.equal(findMatchingVolume(claim('c'), [mine, pv('other', { size: '1Gi' })], { nodeFits: inZone('b') }), undefined);
});

const mismatchCases: { name: string; pv: PersistentVolume; claim: PersistentVolumeClaim; want: string | null }[] = [
  { name: 'a fitting volume', pv: pv('v', { size: '2Gi' }), claim: claim('c'), want: null },
  { name: 'too small', pv: pv('v', { size: '1Gi' }), claim: claim('c', { size: '2Gi' }), want: 'requested PV is too small' },
  { name: 'another class', pv: pv('v', { cls: 'a' }), claim: claim('c', { cls: 'b' }), want: 'storageClassName does not match' },
  { name: 'another volumeMode', pv: pv('v', { mode: 'Block' }), claim: claim('c'), want: 'incompatible volumeMode' },
  { name: 'a missing access mode', pv: pv('v'), claim: claim('c', { modes: ['ReadOnlyMany'] }), want: 'incompatible accessMode' },
  { name: 'being deleted', pv: pv('v', { deleting: true }), claim: claim('c'), want: 'the volume is marked for deletion "v"' },
];
for (const c of mismatchCases) test(`named volume: ${c.name}`, () => assert.equal(volumeMismatchReason(c.pv, c.claim), c.want));

test('binding a volume: claimRef with the uid, and bound-by-controller only for the controller’s own choice', () => {
  const c = { ...claim('c'), metadata: { ...claim('c').metadata, resourceVersion: '7' } };
  const free = bindVolumeToClaim(pv('v'), c);
  assert.equal(free.changed, true);
  assert.deepEqual(free.volume.spec?.claimRef, { kind: 'PersistentVolumeClaim', namespace: 'ns', name: 'c', uid: 'uid-c', apiVersion: 'v1', resourceVersion: '7' });
  assert.equal(free.volume.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
  const preBound = bindVolumeToClaim(pv('v', { claimRef: { namespace: 'ns', name: 'c' } }), c);
  assert.equal(preBound.changed, true, 'the uid is filled in');
  assert.equal(preBound.volume.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], undefined, 'the user bound it');
  const again = bindVolumeToClaim(free.volume, c);
  assert.equal(again.changed, false);
  assert.equal(isVolumeBoundToClaim(free.volume, c), true);
});

test('the default class is the newest default one, ties by name', () => {
  const sc = (name: string, created: string, def = true): StorageClass => ({ metadata: { name, creationTimestamp: created, annotations: def ? { 'storageclass.kubernetes.io/is-default-class': 'true' } : {} }, provisioner: 'p' });
  assert.equal(defaultClass([sc('old', '2026-01-01T00:00:00Z'), sc('new', '2026-02-01T00:00:00Z'), sc('newest', '2026-03-01T00:00:00Z', false)])?.metadata.name, 'new');
  assert.equal(defaultClass([sc('b', '2026-01-01T00:00:00Z'), sc('a', '2026-01-01T00:00:00Z')])?.metadata.name, 'a');
  assert.equal(defaultClass([sc('x', '2026-01-01T00:00:00Z', false)]), undefined);
  assert.equal(claimClass(claim('c')), '');
});
