/** DefaultStorageClass and DefaultIngressClass: which claims and ingresses get which default class. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ingress, IngressClass, PersistentVolumeClaim, StorageClass } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import type { Operation, ResourceDef } from '../../api/resource.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { defaultIngressClassPlugin, defaultStorageClassPlugin, newestDefault } from './defaultclass.ts';
import type { AdmissionAttributes } from './types.ts';

const def = (group: string, plural: string): ResourceDef => builtinResources.find((r) => r.group === group && r.plural === plural)!;
const user = { username: 'alice', groups: ['system:authenticated'] };

function attrs(group: string, plural: string, o: PersistentVolumeClaim | Ingress, x: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: 'CREATE' as Operation, def: def(group, plural), version: 'v1', namespace: 'ns', name: o.metadata.name ?? '', subresource: '', object: o as unknown as KubeObject, user, dryRun: false, ...x };
}

const sc = (name: string, opts: { annotations?: Record<string, string>; created?: string } = {}): StorageClass => ({
  metadata: { name, ...(opts.annotations ? { annotations: opts.annotations } : {}), ...(opts.created ? { creationTimestamp: opts.created } : {}) },
  provisioner: 'example.com/p',
});
const isDefault = { 'storageclass.kubernetes.io/is-default-class': 'true' };
const claim = (spec: PersistentVolumeClaim['spec'] = {}, annotations?: Record<string, string>): PersistentVolumeClaim => ({
  metadata: { name: 'data', namespace: 'ns', ...(annotations ? { annotations } : {}) },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
});

function defaultedClass(classes: StorageClass[], pvc: PersistentVolumeClaim, x: Partial<AdmissionAttributes> = {}): string | undefined {
  defaultStorageClassPlugin({ storageClasses: () => classes }).admit!(attrs('', 'persistentvolumeclaims', pvc, x));
  return pvc.spec?.storageClassName;
}

const storageCases: { name: string; classes: StorageClass[]; pvc: () => PersistentVolumeClaim; x?: Partial<AdmissionAttributes>; want: string | undefined }[] = [
  { name: 'a claim without a class gets the default', classes: [sc('slow'), sc('fast', { annotations: isDefault })], pvc: () => claim(), want: 'fast' },
  { name: 'the beta default annotation counts too', classes: [sc('old', { annotations: { 'storageclass.beta.kubernetes.io/is-default-class': 'true' } })], pvc: () => claim(), want: 'old' },
  { name: 'no default: the claim keeps no class', classes: [sc('slow'), sc('off', { annotations: { 'storageclass.kubernetes.io/is-default-class': 'false' } })], pvc: () => claim(), want: undefined },
  { name: 'an annotation other than "true" is not a default', classes: [sc('odd', { annotations: { 'storageclass.kubernetes.io/is-default-class': 'True' } })], pvc: () => claim(), want: undefined },
  { name: 'a named class is kept', classes: [sc('fast', { annotations: isDefault })], pvc: () => claim({ storageClassName: 'slow' }), want: 'slow' },
  { name: 'an empty class ("no class") is kept', classes: [sc('fast', { annotations: isDefault })], pvc: () => claim({ storageClassName: '' }), want: '' },
  { name: 'the beta class annotation counts as a class', classes: [sc('fast', { annotations: isDefault })], pvc: () => claim({}, { 'volume.beta.kubernetes.io/storage-class': 'slow' }), want: undefined },
  {
    name: 'several defaults: the newest wins',
    classes: [sc('a-old', { annotations: isDefault, created: '2024-01-01T00:00:00Z' }), sc('z-new', { annotations: isDefault, created: '2024-06-01T00:00:00Z' }), sc('m-mid', { annotations: isDefault, created: '2024-03-01T00:00:00Z' })],
    pvc: () => claim(),
    want: 'z-new',
  },
  {
    name: 'several defaults created at once: the lower name wins',
    classes: [sc('beta', { annotations: isDefault, created: '2024-01-01T00:00:00Z' }), sc('alpha', { annotations: isDefault, created: '2024-01-01T00:00:00Z' })],
    pvc: () => claim(),
    want: 'alpha',
  },
  { name: 'updates are not defaulted', classes: [sc('fast', { annotations: isDefault })], pvc: () => claim(), x: { operation: 'UPDATE' }, want: undefined },
  { name: 'subresources are not defaulted', classes: [sc('fast', { annotations: isDefault })], pvc: () => claim(), x: { subresource: 'status' }, want: undefined },
];
for (const c of storageCases) test(`DefaultStorageClass: ${c.name}`, () => assert.equal(defaultedClass(c.classes, c.pvc(), c.x), c.want));

test('DefaultStorageClass: other kinds are left alone', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [] } };
  const before = structuredClone(pod);
  defaultStorageClassPlugin({ storageClasses: () => [sc('fast', { annotations: isDefault })] }).admit!({ ...attrs('', 'persistentvolumeclaims', claim()), def: def('', 'pods'), object: pod as unknown as KubeObject });
  assert.deepEqual(pod, before);
});

test('the default lookup never touches the classes it is given', () => {
  const classes = Object.freeze([Object.freeze(sc('b', { annotations: isDefault })), Object.freeze(sc('a', { annotations: isDefault }))]);
  assert.equal(newestDefault(classes, () => true)?.metadata.name, 'a');
  assert.equal(newestDefault([], () => true), undefined);
});

// ---- ingress ----------------------------------------------------------------------------------

const ic = (name: string, annotation?: string, created?: string): IngressClass => ({
  metadata: { name, ...(annotation !== undefined ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': annotation } } : {}), ...(created ? { creationTimestamp: created } : {}) },
  spec: { controller: 'example.com/ingress' },
});
const ingress = (spec: Ingress['spec'] = {}, annotations?: Record<string, string>): Ingress => ({
  metadata: { name: 'web', namespace: 'ns', ...(annotations ? { annotations } : {}) },
  spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } }, ...spec },
});

function defaultedIngress(classes: IngressClass[], ing: Ingress): string | undefined {
  defaultIngressClassPlugin({ ingressClasses: () => classes }).admit!(attrs('networking.k8s.io', 'ingresses', ing));
  return ing.spec?.ingressClassName;
}

const nonDefaults = [ic('nondefault1', 'false'), ic('nondefault2'), ic('nondefault3', '')];
const ingressCases: { name: string; classes: IngressClass[]; ing: () => Ingress; want: string | undefined }[] = [
  { name: 'no default, no change', classes: nonDefaults, ing: () => ingress(), want: undefined },
  { name: 'one default: an ingress without a class gets it', classes: [ic('default1', 'true'), ...nonDefaults], ing: () => ingress(), want: 'default1' },
  { name: 'an empty class name is kept', classes: [ic('default1', 'true')], ing: () => ingress({ ingressClassName: '' }), want: '' },
  { name: 'a named class is kept', classes: [ic('default1', 'true')], ing: () => ingress({ ingressClassName: 'foo' }), want: 'foo' },
  { name: 'the kubernetes.io/ingress.class annotation counts as a class', classes: [ic('default1', 'true')], ing: () => ingress({}, { 'kubernetes.io/ingress.class': 'foo' }), want: undefined },
  { name: 'two defaults created at once: the lower name', classes: [ic('default2', 'true'), ic('default1', 'true'), ...nonDefaults], ing: () => ingress(), want: 'default1' },
  {
    name: 'two defaults: the newer one',
    classes: [ic('default1', 'true', '2022-01-01T00:00:01Z'), ic('default2', 'true', '2022-01-01T00:00:00Z')],
    ing: () => ingress(),
    want: 'default1',
  },
];
for (const c of ingressCases) test(`DefaultIngressClass: ${c.name}`, () => assert.equal(defaultedIngress(c.classes, c.ing()), c.want));

test('DefaultIngressClass: an ingress without a spec gets one', () => {
  const ing: Ingress = { metadata: { name: 'bare', namespace: 'ns' } };
  assert.equal(defaultedIngress([ic('only', 'true')], ing), 'only');
});
