import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allTypes,
  fieldByJson,
  fieldByNumber,
  getMessage,
  getType,
  groupVersionInfo,
  groupVersions,
  jsonProperties,
  schemaFile,
  typeForKind,
} from './index.ts';
import type { TypeRef } from './index.ts';
import { parseType } from './notation.ts';

test('every data file parses and declares several hundred types', () => {
  assert.ok(allTypes().length >= 530, `only ${allTypes().length} types`);
});

function referenced(ref: TypeRef): string[] {
  switch (ref.kind) {
    case 'message':
      return [ref.name];
    case 'list':
      return referenced(ref.elem);
    case 'map':
      return referenced(ref.value);
    default:
      return [];
  }
}

test('every type a field refers to exists', () => {
  const missing: string[] = [];
  for (const def of allTypes()) {
    const refs = def.kind === 'list' ? referenced(def.elem) : def.fields.flatMap((f) => referenced(f.type));
    for (const name of refs) if (!getType(name)) missing.push(`${def.shortName} → ${name}`);
  }
  assert.deepStrictEqual(missing, []);
});

test('protobuf numbers and JSON names are unique within each type', () => {
  for (const def of allTypes()) {
    if (def.kind !== 'message') continue;
    const numbers = def.fields.map((f) => f.number);
    assert.equal(new Set(numbers).size, numbers.length, def.shortName);
    assert.equal(def.byJson.size, def.fields.length, def.shortName);
    for (const f of def.fields) assert.equal(fieldByNumber(def, f.number), f);
  }
});

test('inline members never hide or duplicate a JSON property', () => {
  for (const def of allTypes()) {
    if (def.kind !== 'message' || !def.fields.some((f) => f.inline)) continue;
    const direct = def.fields.filter((f) => !f.inline).length;
    const inlined = def.fields
      .filter((f) => f.inline)
      .reduce((n, f) => n + jsonProperties(getMessage((f.type as { name: string }).name)).size, 0);
    assert.equal(jsonProperties(def).size, direct + inlined, def.shortName);
  }
});

test('list map keys are declared only on list=map fields of messages that have those fields', () => {
  for (const def of allTypes()) {
    if (def.kind !== 'message') continue;
    for (const f of def.fields) {
      if (!f.listMapKeys) continue;
      assert.equal(f.listType, 'map', `${def.shortName}.${f.name}`);
      assert.equal(f.type.kind, 'list', `${def.shortName}.${f.name}`);
      const elem = (f.type as { elem: TypeRef }).elem;
      assert.equal(elem.kind, 'message', `${def.shortName}.${f.name}`);
      const props = jsonProperties(getMessage((elem as { name: string }).name));
      for (const key of f.listMapKeys) assert.ok(props.has(key), `${def.shortName}.${f.name} key ${key}`);
    }
  }
});

/** The resource and subresource kinds of each group-version at Kubernetes 1.33. */
const expectedKinds: Record<string, string[]> = {
  '/v1': [
    'Pod', 'PodTemplate', 'ReplicationController', 'Service', 'Endpoints', 'Node', 'Binding', 'Event', 'LimitRange',
    'ResourceQuota', 'Namespace', 'Secret', 'ServiceAccount', 'PersistentVolume', 'PersistentVolumeClaim', 'ConfigMap',
    'ComponentStatus',
  ],
  'apps/v1': ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ControllerRevision'],
  'batch/v1': ['Job', 'CronJob'],
  'autoscaling/v1': ['HorizontalPodAutoscaler', 'Scale'],
  'autoscaling/v2': ['HorizontalPodAutoscaler'],
  'networking.k8s.io/v1': ['Ingress', 'IngressClass', 'NetworkPolicy', 'IPAddress', 'ServiceCIDR'],
  'rbac.authorization.k8s.io/v1': ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'],
  'storage.k8s.io/v1': ['StorageClass', 'VolumeAttachment', 'CSIDriver', 'CSINode', 'CSIStorageCapacity'],
  'coordination.k8s.io/v1': ['Lease'],
  'discovery.k8s.io/v1': ['EndpointSlice'],
  'policy/v1': ['PodDisruptionBudget', 'Eviction'],
  'scheduling.k8s.io/v1': ['PriorityClass'],
  'node.k8s.io/v1': ['RuntimeClass'],
  'admissionregistration.k8s.io/v1': [
    'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
  ],
  'apiextensions.k8s.io/v1': ['CustomResourceDefinition', 'ConversionReview'],
  'events.k8s.io/v1': ['Event'],
  'certificates.k8s.io/v1': ['CertificateSigningRequest'],
  'authentication.k8s.io/v1': ['TokenReview', 'TokenRequest', 'SelfSubjectReview'],
  'authorization.k8s.io/v1': ['SubjectAccessReview', 'SelfSubjectAccessReview', 'LocalSubjectAccessReview', 'SelfSubjectRulesReview'],
};
const reviewKinds = new Set(['Binding', 'Eviction', 'Scale', 'ConversionReview', 'TokenReview', 'TokenRequest', 'SelfSubjectReview',
  'SubjectAccessReview', 'SelfSubjectAccessReview', 'LocalSubjectAccessReview', 'SelfSubjectRulesReview']);

for (const [gv, kinds] of Object.entries(expectedKinds)) {
  test(`every kind of ${gv} and its list has a type`, () => {
    const [group, version] = gv.split('/') as [string, string];
    for (const kind of kinds) {
      const def = typeForKind(group, version, kind);
      assert.ok(def, kind);
      assert.equal(def.name.split('.').at(-1), kind);
      if (!reviewKinds.has(kind)) assert.ok(typeForKind(group, version, `${kind}List`), `${kind}List`);
    }
  });
}

test('every kind a data file registers names one of its message types', () => {
  for (const gv of groupVersions) {
    for (const kind of schemaFile(gv).kinds) assert.equal(getType(`${gv.ref}.${kind}`)?.kind, 'message', `${gv.ref}.${kind}`);
  }
});

const kindLookups: { name: string; args: [string, string, string]; want: string | undefined }[] = [
  { name: 'a core kind', args: ['', 'v1', 'ConfigMap'], want: 'io.k8s.api.core.v1.ConfigMap' },
  { name: 'a kind of a named group', args: ['apps', 'v1', 'Deployment'], want: 'io.k8s.api.apps.v1.Deployment' },
  { name: 'the same kind in two versions', args: ['autoscaling', 'v2', 'HorizontalPodAutoscaler'], want: 'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler' },
  { name: 'DeleteOptions in any group-version', args: ['batch', 'v1', 'DeleteOptions'], want: 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions' },
  { name: 'Status in core', args: ['', 'v1', 'Status'], want: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status' },
  { name: 'a CRD', args: ['apiextensions.k8s.io', 'v1', 'CustomResourceDefinition'], want: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition' },
  { name: 'a type that is not a kind', args: ['', 'v1', 'PodSpec'], want: undefined },
  { name: 'an unknown kind', args: ['', 'v1', 'Gizmo'], want: undefined },
  { name: 'an unknown version', args: ['apps', 'v1beta1', 'Deployment'], want: undefined },
  { name: 'a custom group', args: ['example.com', 'v1', 'Widget'], want: undefined },
];

for (const c of kindLookups) {
  test(`typeForKind finds ${c.name}`, () => assert.equal(typeForKind(...c.args)?.name, c.want));
}

test('types are found by their OpenAPI name and by their short name', () => {
  assert.equal(getType('io.k8s.api.core.v1.Pod'), getType('core.v1.Pod'));
  assert.equal(getType('core.v1.Pod')?.name, 'io.k8s.api.core.v1.Pod');
  assert.equal(getType('core.v1.Nope'), undefined);
  assert.equal(getType('nope.v1.Pod'), undefined);
  assert.equal(getType('Pod'), undefined);
  assert.equal(groupVersionInfo('', 'v1')?.ref, 'core.v1');
});

test('the facts of ConfigMap are as upstream declares them', () => {
  const cm = getMessage('core.v1.ConfigMap');
  assert.deepStrictEqual(
    cm.fields.map((f) => [f.name, f.number]),
    [['metadata', 1], ['immutable', 4], ['data', 2], ['binaryData', 3]],
  );
  assert.deepStrictEqual(fieldByJson(cm, 'binaryData')?.type, { kind: 'map', value: { kind: 'scalar', scalar: 'bytes' } });
  assert.equal(fieldByJson(cm, 'immutable')?.pointer, true);
  assert.deepStrictEqual(fieldByJson(cm, 'metadata')?.type, { kind: 'message', name: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' });
});

const facts: { name: string; type: string; field: string; want: Record<string, unknown> }[] = [
  { name: 'containers merge by name as a list map', type: 'core.v1.PodSpec', field: 'containers', want: { patchStrategy: 'merge', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'], required: true, omitEmpty: false } },
  { name: 'volumes merge with retainKeys', type: 'core.v1.PodSpec', field: 'volumes', want: { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name' } },
  { name: 'container ports are a list map keyed by port and protocol', type: 'core.v1.Container', field: 'ports', want: { patchMergeKey: 'containerPort', listMapKeys: ['containerPort', 'protocol'] } },
  { name: 'finalizers are a merged set', type: 'meta.v1.ObjectMeta', field: 'finalizers', want: { patchStrategy: 'merge', listType: 'set' } },
  { name: 'containerPort is required and never omitted', type: 'core.v1.ContainerPort', field: 'containerPort', want: { required: true, omitEmpty: false, pointer: false } },
  { name: 'a deployment strategy retains keys', type: 'apps.v1.DeploymentSpec', field: 'strategy', want: { patchStrategy: 'retainKeys', pointer: false } },
  { name: 'the volume source is inline', type: 'core.v1.Volume', field: 'volumeSource', want: { inline: true, number: 2 } },
  { name: 'labels are a map of strings', type: 'meta.v1.ObjectMeta', field: 'labels', want: { type: { kind: 'map', value: { kind: 'scalar', scalar: 'string' } } } },
  { name: 'the creation timestamp is a Time', type: 'meta.v1.ObjectMeta', field: 'creationTimestamp', want: { type: { kind: 'special', special: 'Time' }, number: 8 } },
  { name: 'maxSurge is a pointer IntOrString', type: 'apps.v1.RollingUpdateDeployment', field: 'maxSurge', want: { pointer: true, type: { kind: 'special', special: 'IntOrString' } } },
  { name: 'x-kubernetes names keep their JSON spelling', type: 'apiextensions.v1.JSONSchemaProps', field: 'x-kubernetes-preserve-unknown-fields', want: { number: 38, pointer: true } },
];

for (const c of facts) {
  test(`schema fact: ${c.name}`, () => {
    const f = fieldByJson(getMessage(c.type), c.field);
    assert.ok(f, `${c.type}.${c.field}`);
    for (const [k, v] of Object.entries(c.want)) assert.deepStrictEqual((f as unknown as Record<string, unknown>)[k], v, k);
  });
}

test('type-level facts: atomic structs, or-types and named lists', () => {
  assert.equal(getMessage('meta.v1.LabelSelector').structType, 'atomic');
  assert.equal(getMessage('core.v1.PodSpec').structType, undefined);
  assert.equal(getMessage('apiextensions.v1.JSONSchemaPropsOrBool').oneof, true);
  assert.deepStrictEqual(getType('authentication.v1.ExtraValue'), {
    kind: 'list',
    name: 'io.k8s.api.authentication.v1.ExtraValue',
    shortName: 'authentication.v1.ExtraValue',
    elem: { kind: 'scalar', scalar: 'string' },
  });
});

test('a JSON property of an inline member is found through it', () => {
  const prop = jsonProperties(getMessage('core.v1.Volume')).get('emptyDir');
  assert.equal(prop?.field.number, 2);
  assert.deepStrictEqual(prop?.via.map((f) => f.name), ['volumeSource']);
  assert.equal(fieldByJson(getMessage('core.v1.Volume'), 'emptyDir'), undefined, 'not a direct field');
});

const gv = { ref: 'test.v1', group: 'test', version: 'v1', openapi: 'io.test.v1' };
const resolve = (ref: string) => (ref === 'meta.v1' ? 'io.k8s.apimachinery.pkg.apis.meta.v1' : undefined);
const badDecls: { name: string; decl: Record<string, string> | string }[] = [
  { name: 'an unknown flag', decl: { a: '1 string bogus' } },
  { name: 'a duplicate number', decl: { a: '1 string', b: '1 int32' } },
  { name: 'a missing type', decl: { a: '1' } },
  { name: 'a bad number', decl: { a: 'x string' } },
  { name: 'an unknown group-version', decl: { a: '1 nope.v1.Thing' } },
  { name: 'a pointer to a list', decl: { a: '1 *[]string' } },
  { name: 'an inline scalar', decl: { a: '1 string inline' } },
  { name: 'a bad list type', decl: { a: '1 []string list=bag' } },
  { name: 'a default that is not JSON', decl: { a: '1 string default=TCP' } },
  { name: 'a string declaration that is not a list', decl: 'string' },
];

for (const c of badDecls) {
  test(`the notation rejects ${c.name}`, () => assert.throws(() => parseType('T', c.decl, gv, resolve), /^Error: schema /));
}

test('the notation parses every flag', () => {
  const def = parseType('T', { '@': 'struct=atomic', a: '3 []meta.v1.OwnerReference ! req merge=uid patch=merge,retainKeys list=map keys=uid,name', b: '1 map[string]Other map=atomic struct=granular', c: '2 *string default="TCP"' }, gv, resolve);
  assert.equal(def.kind, 'message');
  if (def.kind !== 'message') return;
  assert.equal(def.structType, 'atomic');
  assert.deepStrictEqual(def.byNumberOrder.map((f) => f.name), ['b', 'c', 'a']);
  assert.deepStrictEqual(def.fields[0], {
    name: 'a',
    number: 3,
    type: { kind: 'list', elem: { kind: 'message', name: 'io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference' } },
    pointer: false,
    omitEmpty: false,
    required: true,
    inline: false,
    patchMergeKey: 'uid',
    patchStrategy: 'merge,retainKeys',
    listType: 'map',
    listMapKeys: ['uid', 'name'],
  });
  assert.deepStrictEqual(def.fields[1]?.type, { kind: 'map', value: { kind: 'message', name: 'io.test.v1.Other' } });
  assert.equal(def.fields[1]?.mapType, 'atomic');
  assert.equal(def.fields[1]?.structType, 'granular');
  assert.equal(def.fields[2]?.default, 'TCP');
});
