/** StorageObjectInUseProtection's finalizers and PersistentVolumeClaimResize's refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import type { Operation, ResourceDef } from '../../api/resource.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { isForbidden, StatusError } from '../../api/errors.ts';
import { persistentVolumeClaimResizePlugin, storageObjectInUseProtectionPlugin } from './storage.ts';
import type { AdmissionAttributes } from './types.ts';

const def = (plural: string): ResourceDef => builtinResources.find((r) => r.group === '' && r.plural === plural)!;
const user = { username: 'alice', groups: ['system:authenticated'] };
const obj = (o: unknown) => o as KubeObject;

function attrs(plural: string, o: PersistentVolumeClaim | PersistentVolume, x: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: 'CREATE' as Operation, def: def(plural), version: 'v1', namespace: plural === 'persistentvolumes' ? '' : 'ns', name: o.metadata.name ?? '', subresource: '', object: obj(o), user, dryRun: false, ...x };
}

// ---- StorageObjectInUseProtection --------------------------------------------------------------

const pvc = (finalizers?: string[]): PersistentVolumeClaim => ({ metadata: { name: 'data', namespace: 'ns', ...(finalizers ? { finalizers } : {}) }, spec: { accessModes: ['ReadWriteOnce'] } });
const pv = (finalizers?: string[]): PersistentVolume => ({ metadata: { name: 'vol', ...(finalizers ? { finalizers } : {}) }, spec: { capacity: { storage: '1Gi' }, hostPath: { path: '/tmp/x' } } });

const protectionCases: { name: string; plural: string; o: () => PersistentVolumeClaim | PersistentVolume; x?: Partial<AdmissionAttributes>; want: string[] | undefined }[] = [
  { name: 'a new claim gets kubernetes.io/pvc-protection', plural: 'persistentvolumeclaims', o: () => pvc(), want: ['kubernetes.io/pvc-protection'] },
  { name: 'a new volume gets kubernetes.io/pv-protection', plural: 'persistentvolumes', o: () => pv(), want: ['kubernetes.io/pv-protection'] },
  { name: 'other finalizers stay, the new one goes last', plural: 'persistentvolumeclaims', o: () => pvc(['example.com/keep']), want: ['example.com/keep', 'kubernetes.io/pvc-protection'] },
  { name: 'a finalizer already there is not added twice', plural: 'persistentvolumes', o: () => pv(['kubernetes.io/pv-protection', 'x/y']), want: ['kubernetes.io/pv-protection', 'x/y'] },
  { name: 'updates are left alone', plural: 'persistentvolumeclaims', o: () => pvc(), x: { operation: 'UPDATE' }, want: undefined },
  { name: 'subresources are left alone', plural: 'persistentvolumeclaims', o: () => pvc(), x: { subresource: 'status' }, want: undefined },
];
for (const c of protectionCases) {
  test(`StorageObjectInUseProtection: ${c.name}`, () => {
    const o = c.o();
    storageObjectInUseProtectionPlugin().admit!(attrs(c.plural, o, c.x));
    assert.deepEqual(o.metadata.finalizers, c.want);
  });
}

test('StorageObjectInUseProtection: other kinds get nothing', () => {
  const cm = { metadata: { name: 'c', namespace: 'ns' } };
  storageObjectInUseProtectionPlugin().admit!({ ...attrs('persistentvolumeclaims', pvc()), def: def('configmaps'), object: obj(cm) });
  assert.equal((cm.metadata as { finalizers?: string[] }).finalizers, undefined);
});

// ---- PersistentVolumeClaimResize --------------------------------------------------------------

const classes: Record<string, StorageClass> = {
  gold: { metadata: { name: 'gold' }, provisioner: 'example.com/p', allowVolumeExpansion: true },
  silver: { metadata: { name: 'silver' }, provisioner: 'example.com/p', allowVolumeExpansion: false },
  bronze: { metadata: { name: 'bronze' }, provisioner: 'example.com/p' },
};
const claim = (size: string | undefined, opts: { cls?: string; phase?: string; annotations?: Record<string, string> } = {}): PersistentVolumeClaim => ({
  metadata: { name: 'data', namespace: 'ns', ...(opts.annotations ? { annotations: opts.annotations } : {}) },
  spec: { accessModes: ['ReadWriteOnce'], volumeName: 'vol', ...(size ? { resources: { requests: { storage: size } } } : {}), ...(opts.cls !== undefined ? { storageClassName: opts.cls } : {}) },
  status: { phase: opts.phase ?? 'Bound' },
});

function resizeRefusal(old: PersistentVolumeClaim, next: PersistentVolumeClaim, x: Partial<AdmissionAttributes> = {}): string | undefined {
  try {
    persistentVolumeClaimResizePlugin({ storageClass: (n) => classes[n] }).validate!(attrs('persistentvolumeclaims', next, { operation: 'UPDATE', oldObject: obj(old), ...x }));
  } catch (err) {
    assert.ok(err instanceof StatusError && isForbidden(err), String(err));
    return err.message;
  }
  return undefined;
}

const refused = 'persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize';
const resizeCases: { name: string; old: PersistentVolumeClaim; next: PersistentVolumeClaim; x?: Partial<AdmissionAttributes>; want: string | undefined }[] = [
  { name: 'growing a bound claim of an expandable class is allowed', old: claim('1Gi', { cls: 'gold' }), next: claim('2Gi', { cls: 'gold' }), want: undefined },
  { name: 'growing without a class is refused', old: claim('1Gi'), next: claim('2Gi'), want: refused },
  { name: 'growing with allowVolumeExpansion false is refused', old: claim('1Gi', { cls: 'silver' }), next: claim('2Gi', { cls: 'silver' }), want: refused },
  { name: 'growing with allowVolumeExpansion unset is refused', old: claim('1Gi', { cls: 'bronze' }), next: claim('2Gi', { cls: 'bronze' }), want: refused },
  { name: 'growing with an unknown class is refused', old: claim('1Gi', { cls: 'missing' }), next: claim('2Gi', { cls: 'missing' }), want: refused },
  { name: 'the beta class annotation decides before the field', old: claim('1Gi', { cls: 'silver', annotations: { 'volume.beta.kubernetes.io/storage-class': 'gold' } }), next: claim('2Gi', { cls: 'silver', annotations: { 'volume.beta.kubernetes.io/storage-class': 'gold' } }), want: undefined },
  { name: 'the class must be the same before and after', old: claim('1Gi', { cls: 'gold', annotations: { 'volume.beta.kubernetes.io/storage-class': 'silver' } }), next: claim('2Gi', { cls: 'gold' }), want: refused },
  { name: 'a pending claim cannot grow', old: claim('1Gi', { cls: 'gold', phase: 'Pending' }), next: claim('2Gi', { cls: 'gold', phase: 'Pending' }), want: 'persistentvolumeclaims "data" is forbidden: Only bound persistent volume claims can be expanded' },
  { name: 'the same size in other words is no growth', old: claim('1Gi', { cls: 'silver', phase: 'Pending' }), next: claim('1024Mi', { cls: 'silver', phase: 'Pending' }), want: undefined },
  { name: 'shrinking is not this plugin\'s business', old: claim('2Gi', { cls: 'silver' }), next: claim('1Gi', { cls: 'silver' }), want: undefined },
  { name: 'a request appearing where there was none is growth', old: claim(undefined, { cls: 'silver' }), next: claim('1Gi', { cls: 'silver' }), want: refused },
  { name: 'status updates are not checked', old: claim('1Gi'), next: claim('2Gi'), x: { subresource: 'status' }, want: undefined },
  { name: 'growth compares exactly (1Gi + 1 byte)', old: claim('1Gi'), next: claim('1073741825'), want: refused },
];
for (const c of resizeCases) test(`PersistentVolumeClaimResize: ${c.name}`, () => assert.equal(resizeRefusal(c.old, c.next, c.x), c.want));

test('PersistentVolumeClaimResize: creates are not checked', () => {
  persistentVolumeClaimResizePlugin({ storageClass: () => undefined }).validate!(attrs('persistentvolumeclaims', claim('5Gi')));
});
