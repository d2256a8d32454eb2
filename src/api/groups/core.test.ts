import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceDef } from '../resource.ts';
import type { KubeObject } from '../types.ts';
import {
  configMaps,
  endpoints,
  events,
  limitRanges,
  namespaces,
  nodes,
  persistentVolumeClaims,
  persistentVolumes,
  resourceQuotas,
  resources,
  secrets,
  serviceAccounts,
} from './core.ts';
import { create, make, oneHourLater, summary, update, type TestObject } from './core-testing.ts';

// ---- declarations ------------------------------------------------------------------------------

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('the declared kinds, names and storage keys match upstream', () => {
  const got = resources.map((d) => ({
    plural: d.plural,
    singular: d.singular,
    kind: d.kind,
    namespaced: d.namespaced,
    shortNames: d.shortNames ?? [],
    categories: d.categories ?? [],
    nameRule: d.nameRule ?? 'subdomain',
    storagePrefix: d.storagePrefix ?? d.plural,
    status: d.subresources?.status === true,
    createOnUpdate: d.createOnUpdate === true,
  }));
  const row = (plural: string, singular: string, kind: string, namespaced: boolean, shortNames: string[], extra: Partial<(typeof got)[number]> = {}) => ({
    plural,
    singular,
    kind,
    namespaced,
    shortNames,
    categories: [],
    nameRule: 'subdomain',
    storagePrefix: plural,
    status: false,
    createOnUpdate: false,
    ...extra,
  });
  assert.deepEqual(got, [
    row('namespaces', 'namespace', 'Namespace', false, ['ns'], { nameRule: 'label', status: true }),
    row('services', 'service', 'Service', true, ['svc'], { categories: ['all'], nameRule: 'dns1035', storagePrefix: 'services/specs', status: true, createOnUpdate: true }),
    row('endpoints', 'endpoints', 'Endpoints', true, ['ep'], { storagePrefix: 'services/endpoints', createOnUpdate: true }),
    row('configmaps', 'configmap', 'ConfigMap', true, ['cm']),
    row('secrets', 'secret', 'Secret', true, []),
    row('nodes', 'node', 'Node', false, ['no'], { storagePrefix: 'minions', status: true }),
    row('events', 'event', 'Event', true, ['ev'], { nameRule: 'path', createOnUpdate: true }),
    row('serviceaccounts', 'serviceaccount', 'ServiceAccount', true, ['sa']),
    row('persistentvolumes', 'persistentvolume', 'PersistentVolume', false, ['pv'], { status: true }),
    row('persistentvolumeclaims', 'persistentvolumeclaim', 'PersistentVolumeClaim', true, ['pvc'], { status: true }),
    row('resourcequotas', 'resourcequota', 'ResourceQuota', true, ['quota'], { status: true }),
    row('limitranges', 'limitrange', 'LimitRange', true, ['limits'], { createOnUpdate: true }),
  ]);
  for (const d of resources) assert.deepEqual([d.group, d.version], ['', 'v1']);
});

const columnCases: { def: ResourceDef; want: [string, number][] }[] = [
  { def: namespaces, want: [['Name', 0], ['Status', 0], ['Age', 0]] },
  { def: endpoints, want: [['Name', 0], ['Endpoints', 0], ['Age', 0]] },
  { def: configMaps, want: [['Name', 0], ['Data', 0], ['Age', 0]] },
  { def: secrets, want: [['Name', 0], ['Type', 0], ['Data', 0], ['Age', 0]] },
  {
    def: nodes,
    want: [['Name', 0], ['Status', 0], ['Roles', 0], ['Age', 0], ['Version', 0], ['Internal-IP', 1], ['External-IP', 1], ['OS-Image', 1], ['Kernel-Version', 1], ['Container-Runtime', 1]],
  },
  {
    def: events,
    want: [['Last Seen', 0], ['Type', 0], ['Reason', 0], ['Object', 0], ['Subobject', 1], ['Source', 1], ['Message', 0], ['First Seen', 1], ['Count', 1], ['Name', 1]],
  },
  { def: serviceAccounts, want: [['Name', 0], ['Secrets', 0], ['Age', 0]] },
  {
    def: persistentVolumes,
    want: [['Name', 0], ['Capacity', 0], ['Access Modes', 0], ['Reclaim Policy', 0], ['Status', 0], ['Claim', 0], ['StorageClass', 0], ['VolumeAttributesClass', 0], ['Reason', 0], ['Age', 0], ['VolumeMode', 1]],
  },
  {
    def: persistentVolumeClaims,
    want: [['Name', 0], ['Status', 0], ['Volume', 0], ['Capacity', 0], ['Access Modes', 0], ['StorageClass', 0], ['VolumeAttributesClass', 0], ['Age', 0], ['VolumeMode', 1]],
  },
  { def: resourceQuotas, want: [['Name', 0], ['Request', 0], ['Limit', 0], ['Age', 0]] },
  { def: limitRanges, want: [['Name', 0], ['Created At', 0]] },
];
for (const c of columnCases) {
  test(`the ${c.def.plural} table has upstream's columns`, () => {
    assert.deepEqual(c.def.table!.columns.map((col) => [col.name, col.priority]), c.want);
    const name = c.def.table!.columns.find((col) => col.name === 'Name')!;
    assert.deepEqual([name.type, name.format], ['string', 'name']);
  });
}

test('field selectors are exactly upstream field labels', () => {
  assert.deepEqual(
    Object.fromEntries(resources.map((d) => [d.plural, Object.keys(d.fieldSelectors ?? {}).sort()])),
    {
      namespaces: ['status.phase'],
      services: ['spec.clusterIP', 'spec.type'],
      endpoints: [],
      configmaps: [],
      secrets: ['type'],
      nodes: ['spec.unschedulable'],
      events: [
        'involvedObject.apiVersion',
        'involvedObject.fieldPath',
        'involvedObject.kind',
        'involvedObject.name',
        'involvedObject.namespace',
        'involvedObject.resourceVersion',
        'involvedObject.uid',
        'reason',
        'reportingComponent',
        'source',
        'type',
      ],
      serviceaccounts: [],
      persistentvolumes: [],
      persistentvolumeclaims: [],
      resourcequotas: [],
      limitranges: [],
    },
  );
});

// ---- namespaces --------------------------------------------------------------------------------

test('a new namespace gets the kubernetes finalizer, phase Active and its name label', () => {
  const { obj, causes } = create(namespaces, make(namespaces, { status: { phase: 'Terminating' } }, { name: 'team-a' }));
  assert.deepEqual(summary(causes), []);
  assert.deepEqual(obj['spec'], { finalizers: ['kubernetes'] });
  assert.deepEqual(obj['status'], { phase: 'Active' });
  assert.deepEqual(obj.metadata.labels, { 'kubernetes.io/metadata.name': 'team-a' });
});

test('a namespace update keeps its finalizers and status', () => {
  const old = create(namespaces, make(namespaces, {}, { name: 'team-a' })).obj;
  const { obj } = update(namespaces, make(namespaces, { spec: { finalizers: [] }, status: { phase: 'Terminating' } }, { name: 'team-a' }), old);
  assert.deepEqual(obj['spec'], { finalizers: ['kubernetes'] });
  assert.deepEqual(obj['status'], { phase: 'Active' });
});

const namespaceCases: { name: string; finalizers: string[]; want: string[] }[] = [
  { name: 'a fully qualified namespace finalizer is valid', finalizers: ['example.com/cleanup'], want: [] },
  { name: 'an unqualified non-standard finalizer is invalid', finalizers: ['cleanup'], want: ['spec.finalizers: FieldValueInvalid'] },
  { name: 'a finalizer with spaces is invalid', finalizers: ['a b'], want: ['spec.finalizers: FieldValueInvalid', 'spec.finalizers: FieldValueInvalid'] },
];
for (const c of namespaceCases) {
  test(c.name, () => assert.deepEqual(summary(create(namespaces, make(namespaces, { spec: { finalizers: c.finalizers } })).causes), c.want));
}

test('a namespace status may only say Terminating once deletion started', () => {
  const old = create(namespaces, make(namespaces)).obj;
  const next = structuredClone(old);
  next['status'] = { phase: 'Terminating' };
  assert.deepEqual(summary(update(namespaces, next, old, 'status').causes), ['status.Phase: FieldValueInvalid']);
  next.metadata.deletionTimestamp = '2024-01-01T00:30:00Z';
  assert.deepEqual(summary(update(namespaces, next, old, 'status').causes), []);
});

test('a namespace row shows its phase and age; status.phase is selectable', () => {
  const ns = create(namespaces, make(namespaces)).obj;
  assert.deepEqual(namespaces.table!.row(ns, oneHourLater), ['x', 'Active', '60m']);
  assert.equal(namespaces.fieldSelectors!['status.phase']!(ns), 'Active');
});

// ---- configmaps --------------------------------------------------------------------------------

const configMapCases: { name: string; fields: Record<string, unknown>; want: string[] }[] = [
  { name: 'a configmap with valid keys is valid', fields: { data: { 'app.properties': 'a=b', KEY_1: 'x' }, binaryData: { 'logo.png': b64('png') } }, want: [] },
  { name: 'a configmap key with a slash is invalid', fields: { data: { 'a/b': 'x' } }, want: ['data[a/b]: FieldValueInvalid'] },
  { name: 'a configmap key may not be ..', fields: { data: { '..': 'x' } }, want: ['data[..]: FieldValueInvalid'] },
  { name: 'a key in both data and binaryData is invalid', fields: { data: { k: 'x' }, binaryData: { k: b64('y') } }, want: ['data[k]: FieldValueInvalid'] },
  { name: 'a configmap over 1 MiB is too long', fields: { data: { big: 'x'.repeat(1024 * 1024 + 1) } }, want: [': FieldValueTooLong'] },
];
for (const c of configMapCases) test(c.name, () => assert.deepEqual(summary(create(configMaps, make(configMaps, c.fields)).causes), c.want));

const immutableConfigCases: { name: string; next: Record<string, unknown>; want: string[] }[] = [
  { name: 'an immutable configmap may not change its data', next: { immutable: true, data: { a: '2' } }, want: ['data: FieldValueForbidden'] },
  { name: 'an immutable configmap may not become mutable', next: { data: { a: '1' } }, want: ['immutable: FieldValueForbidden'] },
  { name: 'an immutable configmap may change its labels only', next: { immutable: true, data: { a: '1' } }, want: [] },
];
for (const c of immutableConfigCases) {
  test(c.name, () => {
    const old = create(configMaps, make(configMaps, { immutable: true, data: { a: '1' } })).obj;
    assert.deepEqual(summary(update(configMaps, make(configMaps, c.next, { labels: { x: 'y' } }), old).causes), c.want);
  });
}

test('a configmap row counts data and binaryData keys', () => {
  assert.deepEqual(configMaps.table!.row(make(configMaps, { data: { a: '1', b: '2' }, binaryData: { c: b64('3') } }), oneHourLater), ['x', 3, '60m']);
});

// ---- secrets -----------------------------------------------------------------------------------

test('a secret defaults to Opaque and merges stringData into data', () => {
  const { obj, causes } = create(secrets, make(secrets, { data: { a: b64('old'), b: b64('keep') }, stringData: { a: 'new' } }));
  assert.deepEqual(summary(causes), []);
  assert.deepEqual(obj['data'], { a: b64('new'), b: b64('keep') });
  assert.equal(obj['stringData'], undefined);
  assert.equal(obj['type'], 'Opaque');
});

const secretCases: { name: string; fields: Record<string, unknown>; meta?: KubeObject['metadata']; want: string[] }[] = [
  { name: 'a TLS secret needs tls.crt and tls.key', fields: { type: 'kubernetes.io/tls', data: {} }, want: ['data[tls.crt]: FieldValueRequired', 'data[tls.key]: FieldValueRequired'] },
  { name: 'a TLS secret with both keys is valid', fields: { type: 'kubernetes.io/tls', data: { 'tls.crt': b64('c'), 'tls.key': b64('k') } }, want: [] },
  { name: 'a dockerconfigjson secret needs its key', fields: { type: 'kubernetes.io/dockerconfigjson' }, want: ['data[.dockerconfigjson]: FieldValueRequired'] },
  {
    name: 'a dockerconfigjson secret must hold JSON',
    fields: { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{nope') } },
    want: ['data[.dockerconfigjson]: FieldValueInvalid'],
  },
  { name: 'a basic-auth secret needs a username or password', fields: { type: 'kubernetes.io/basic-auth' }, want: ['data[username]: FieldValueRequired', 'data[password]: FieldValueRequired'] },
  { name: 'a basic-auth secret with an empty password is valid', fields: { type: 'kubernetes.io/basic-auth', stringData: { password: '' } }, want: [] },
  { name: 'an ssh-auth secret needs a private key', fields: { type: 'kubernetes.io/ssh-auth' }, want: ['data[ssh-privatekey]: FieldValueRequired'] },
  {
    name: 'a service-account-token secret names its service account',
    fields: { type: 'kubernetes.io/service-account-token' },
    want: ['metadata.annotations[kubernetes.io/service-account.name]: FieldValueRequired'],
  },
  {
    name: 'a service-account-token secret with the annotation is valid',
    fields: { type: 'kubernetes.io/service-account-token' },
    meta: { annotations: { 'kubernetes.io/service-account.name': 'default' } },
    want: [],
  },
  { name: 'a secret key must be a config key', fields: { data: { 'a b': b64('x') } }, want: ['data[a b]: FieldValueInvalid'] },
  { name: 'secret data must be base64', fields: { data: { a: 'not base64!' } }, want: ['data[a]: FieldValueInvalid'] },
  { name: 'a custom secret type needs nothing', fields: { type: 'example.com/thing' }, want: [] },
];
for (const c of secretCases) test(c.name, () => assert.deepEqual(summary(create(secrets, make(secrets, c.fields, c.meta)).causes), c.want));

test('a secret type may not change', () => {
  const old = create(secrets, make(secrets, { data: { 'tls.crt': b64('c'), 'tls.key': b64('k') }, type: 'kubernetes.io/tls' })).obj;
  const { causes } = update(secrets, make(secrets, { data: old['data'] }), old);
  assert.deepEqual(causes, [{ reason: 'FieldValueInvalid', field: 'type', message: 'Invalid value: "Opaque": field is immutable' }]);
});

test('an immutable secret may not change its data', () => {
  const old = create(secrets, make(secrets, { immutable: true, data: { a: b64('1') } })).obj;
  assert.deepEqual(summary(update(secrets, make(secrets, { immutable: true, data: { a: b64('2') } }), old).causes), ['data: FieldValueForbidden']);
});

test('a secret row shows type and key count; type is selectable', () => {
  const s = create(secrets, make(secrets, { stringData: { a: '1', b: '2' } })).obj;
  assert.deepEqual(secrets.table!.row(s, oneHourLater), ['x', 'Opaque', 2, '60m']);
  assert.equal(secrets.fieldSelectors!['type']!(s), 'Opaque');
});

// ---- service accounts --------------------------------------------------------------------------

test('service account secret references keep only their names', () => {
  const { obj } = create(serviceAccounts, make(serviceAccounts, { secrets: [{ name: 'tok', namespace: 'x', uid: 'u' }] }));
  assert.deepEqual(obj['secrets'], [{ name: 'tok' }]);
  assert.deepEqual(serviceAccounts.table!.row(obj, oneHourLater), ['x', 1, '60m']);
});

// ---- nodes -------------------------------------------------------------------------------------

test('a node gets allocatable from capacity and podCIDRs from podCIDR', () => {
  const { obj, causes } = create(nodes, make(nodes, { spec: { podCIDR: '10.42.0.0/24' }, status: { capacity: { cpu: '4', pods: '110' } } }));
  assert.deepEqual(summary(causes), []);
  assert.deepEqual(obj['spec'], { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'] });
  assert.deepEqual(obj['status'].allocatable, { cpu: '4', pods: '110' });
});

const nodeCases: { name: string; fields: Record<string, unknown>; want: string[] }[] = [
  {
    name: 'a taint effect must be known (reported under metadata.taints, as upstream)',
    fields: { spec: { taints: [{ key: 'a', effect: 'Sometimes' }] } },
    want: ['metadata.taints[0].effect: FieldValueNotSupported'],
  },
  { name: 'a taint needs an effect', fields: { spec: { taints: [{ key: 'a' }] } }, want: ['metadata.taints[0].effect: FieldValueRequired'] },
  {
    name: 'taints are unique by key and effect',
    fields: { spec: { taints: [{ key: 'a', effect: 'NoSchedule' }, { key: 'a', value: 'b', effect: 'NoSchedule' }] } },
    want: ['metadata.taints[1]: FieldValueDuplicate'],
  },
  { name: 'a pod CIDR must be a CIDR', fields: { spec: { podCIDRs: ['10.42.0.0'] } }, want: ['spec.podCIDRs[0]: FieldValueInvalid'] },
  { name: 'two pod CIDRs must be of two families', fields: { spec: { podCIDRs: ['10.42.0.0/24', '10.43.0.0/24'] } }, want: ['spec.podCIDRs: FieldValueInvalid'] },
  { name: 'capacity may not be negative', fields: { status: { capacity: { cpu: '-1' } } }, want: ['status.capacity.cpu: FieldValueInvalid', 'status.allocatable.cpu: FieldValueInvalid'] },
  { name: 'pod capacity must be whole', fields: { status: { capacity: { pods: '1500m' }, allocatable: { pods: '1' } } }, want: ['status.capacity.pods: FieldValueInvalid'] },
];
for (const c of nodeCases) test(c.name, () => assert.deepEqual(summary(create(nodes, make(nodes, c.fields)).causes), c.want));

test('a node pod CIDR may be set once, then not changed', () => {
  const bare = create(nodes, make(nodes, { spec: {} })).obj;
  assert.deepEqual(summary(update(nodes, make(nodes, { spec: { podCIDRs: ['10.42.1.0/24'] } }), bare).causes), []);
  const set = create(nodes, make(nodes, { spec: { podCIDRs: ['10.42.1.0/24'] } })).obj;
  assert.deepEqual(summary(update(nodes, make(nodes, { spec: { podCIDRs: ['10.42.2.0/24'] } }), set).causes), ['spec.podCIDRs: FieldValueForbidden']);
});

test('a node main update keeps its status; a status update keeps its spec', () => {
  const old = create(nodes, make(nodes, { spec: { unschedulable: true }, status: { nodeInfo: { kubeletVersion: 'v1.33.0' } } })).obj;
  const main = update(nodes, make(nodes, { spec: {}, status: {} }), old).obj;
  assert.deepEqual([main['spec'], main['status']], [{}, old['status']]);
  const status = update(nodes, make(nodes, { spec: {}, status: { phase: 'Running' } }), old, 'status').obj;
  assert.deepEqual([status['spec'], status['status']], [old['spec'], { phase: 'Running' }]);
});

const nodeRowCases: { name: string; fields: Record<string, unknown>; labels?: Record<string, string>; want: unknown[] }[] = [
  {
    name: 'a ready control-plane node row shows its roles, version and addresses',
    labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/master': 'true', 'kubernetes.io/role': 'etcd' },
    fields: {
      status: {
        conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }],
        addresses: [{ type: 'Hostname', address: 'x' }, { type: 'InternalIP', address: '192.168.1.10' }],
        nodeInfo: { kubeletVersion: 'v1.33.1+bosun', osImage: 'Debian GNU/Linux 12', kernelVersion: '6.1.0', containerRuntimeVersion: 'containerd://2.0.5' },
      },
    },
    want: ['x', 'Ready', 'control-plane,etcd,master', '60m', 'v1.33.1+bosun', '192.168.1.10', '<none>', 'Debian GNU/Linux 12', '6.1.0', 'containerd://2.0.5'],
  },
  {
    name: 'a cordoned node that is not ready says so',
    fields: { spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } },
    want: ['x', 'NotReady,SchedulingDisabled', '<none>', '60m', '', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>'],
  },
  {
    name: 'a node without a Ready condition is Unknown',
    fields: { spec: { unschedulable: true } },
    want: ['x', 'Unknown,SchedulingDisabled', '<none>', '60m', '', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>'],
  },
];
for (const c of nodeRowCases) test(c.name, () => assert.deepEqual(nodes.table!.row(make(nodes, c.fields, { labels: c.labels }), oneHourLater), c.want));

test('nodes are selectable by spec.unschedulable', () => {
  assert.equal(nodes.fieldSelectors!['spec.unschedulable']!(make(nodes, { spec: { unschedulable: true } })), 'true');
  assert.equal(nodes.fieldSelectors!['spec.unschedulable']!(make(nodes, {})), 'false');
});

// ---- events (core/v1) --------------------------------------------------------------------------

const podRef = { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u1', apiVersion: 'v1', fieldPath: 'spec.containers{web}' };

test('a core event shows upstream zero values', () => {
  const { obj, causes } = create(events, make(events, { involvedObject: podRef, reason: 'Pulled', message: 'ok', type: 'Normal' }));
  assert.deepEqual(summary(causes), []);
  assert.deepEqual(
    [obj['eventTime'], obj['firstTimestamp'], obj['lastTimestamp'], obj['reportingComponent'], obj['reportingInstance'], obj['source']],
    [null, null, null, '', '', {}],
  );
});

const eventCases: { name: string; fields: Record<string, unknown>; meta?: KubeObject['metadata']; want: string[] }[] = [
  {
    name: 'an event must live in its object’s namespace',
    fields: { involvedObject: { ...podRef, namespace: 'other' }, reason: 'X' },
    want: ['involvedObject.namespace: FieldValueInvalid'],
  },
  { name: 'an event about a cluster object may live in default', fields: { involvedObject: { kind: 'Node', name: 'n1' }, reason: 'X' }, want: [] },
  {
    name: 'an event about a cluster object may not live elsewhere',
    fields: { involvedObject: { kind: 'Node', name: 'n1' } },
    meta: { namespace: 'kube-system' },
    want: ['involvedObject.namespace: FieldValueInvalid'],
  },
  {
    name: 'a new-style core event needs its reporting fields, action and reason',
    fields: { involvedObject: podRef, eventTime: '2024-01-01T00:00:00.000000Z' },
    want: [
      'reportingComponent: FieldValueRequired',
      'reportingComponent: FieldValueInvalid',
      'reportingInstance: FieldValueRequired',
      'action: FieldValueRequired',
      'reason: FieldValueRequired',
    ],
  },
  {
    name: 'a new-style core event with everything is valid',
    fields: { involvedObject: podRef, eventTime: '2024-01-01T00:00:00.000000Z', reportingComponent: 'kubelet', reportingInstance: 'node-1', action: 'Pulling', reason: 'Pulling' },
    want: [],
  },
];
for (const c of eventCases) test(c.name, () => assert.deepEqual(summary(create(events, make(events, c.fields, c.meta)).causes), c.want));

const eventRowCases: { name: string; fields: Record<string, unknown>; want: unknown[] }[] = [
  {
    name: 'a legacy event row uses its timestamps, count and source',
    fields: {
      involvedObject: podRef,
      reason: 'Pulled',
      message: ' Pulled image \n',
      type: 'Normal',
      source: { component: 'kubelet', host: 'node-1' },
      firstTimestamp: '2024-01-01T00:10:00Z',
      lastTimestamp: '2024-01-01T00:50:00Z',
      count: 3,
    },
    want: ['10m', 'Normal', 'Pulled', 'pod/web-1', 'spec.containers{web}', 'kubelet, node-1', 'Pulled image', '50m', 3, 'x'],
  },
  {
    name: 'a new-style event row uses eventTime, the series and the reporting controller',
    fields: {
      involvedObject: { kind: 'Node', name: 'n1' },
      reason: 'Starting',
      type: 'Warning',
      eventTime: '2024-01-01T00:20:00.123456Z',
      series: { count: 4, lastObservedTime: '2024-01-01T00:55:00.000000Z' },
      reportingComponent: 'kube-proxy',
      reportingInstance: '',
    },
    want: ['5m', 'Warning', 'Starting', 'node/n1', '', 'kube-proxy', '', '39m', 4, 'x'],
  },
  {
    name: 'a singleton event without a count counts once',
    fields: { involvedObject: { kind: 'Namespace' }, firstTimestamp: '2024-01-01T00:30:00Z' },
    want: ['30m', '', '', 'namespace', '', '', '', '30m', 1, 'x'],
  },
];
for (const c of eventRowCases) test(c.name, () => assert.deepEqual(events.table!.row(make(events, c.fields), oneHourLater), c.want));

test('core event field selectors read the involved object, source and reporting component', () => {
  const ev = make(events, { involvedObject: podRef, reason: 'Pulled', type: 'Normal', reportingComponent: 'kubelet', source: {} });
  const f = events.fieldSelectors!;
  assert.deepEqual(
    ['involvedObject.kind', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.fieldPath', 'reason', 'type', 'source', 'reportingComponent'].map((k) => f[k]!(ev)),
    ['Pod', 'web-1', 'u1', 'spec.containers{web}', 'Pulled', 'Normal', 'kubelet', 'kubelet'],
  );
});

// ---- persistent volumes ------------------------------------------------------------------------

const pvSpec = { accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' }, hostPath: { path: '/data/pv1' } };

test('a new PV defaults to Retain, Filesystem and Pending', () => {
  const { obj, causes } = create(persistentVolumes, make(persistentVolumes, { spec: pvSpec, status: { phase: 'Bound' } }));
  assert.deepEqual(summary(causes), []);
  assert.equal(obj['spec'].persistentVolumeReclaimPolicy, 'Retain');
  assert.equal(obj['spec'].volumeMode, 'Filesystem');
  assert.equal(obj['status'].phase, 'Pending');
  assert.match(obj['status'].lastPhaseTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

const pvCases: { name: string; spec: Record<string, unknown>; want: string[] }[] = [
  { name: 'a PV needs access modes', spec: { ...pvSpec, accessModes: [] }, want: ['spec.accessModes: FieldValueRequired'] },
  { name: 'a PV access mode must be known', spec: { ...pvSpec, accessModes: ['ReadSometimes'] }, want: ['spec.accessModes: FieldValueNotSupported'] },
  { name: 'ReadWriteOncePod may not be mixed', spec: { ...pvSpec, accessModes: ['ReadWriteOncePod', 'ReadOnlyMany'] }, want: ['spec.accessModes: FieldValueForbidden'] },
  { name: 'a PV needs a capacity', spec: { ...pvSpec, capacity: undefined }, want: ['spec.capacity: FieldValueRequired', 'spec.capacity: FieldValueNotSupported'] },
  { name: 'a PV capacity is storage only', spec: { ...pvSpec, capacity: { storage: '1Gi', cpu: '1' } }, want: ['spec.capacity: FieldValueNotSupported'] },
  { name: 'a PV capacity must be positive', spec: { ...pvSpec, capacity: { storage: '0' } }, want: ['spec.capacity[storage]: FieldValueInvalid'] },
  { name: 'a PV capacity must be a quantity', spec: { ...pvSpec, capacity: { storage: 'lots' } }, want: ['spec.capacity[storage]: FieldValueInvalid'] },
  { name: 'a PV needs a volume source', spec: { ...pvSpec, hostPath: undefined }, want: ['spec: FieldValueRequired'] },
  { name: 'a PV has one volume source', spec: { ...pvSpec, nfs: { server: 'nfs', path: '/x' } }, want: ['spec.nfs: FieldValueForbidden'] },
  { name: 'a hostPath may not step back', spec: { ...pvSpec, hostPath: { path: '/data/../etc' } }, want: ['spec.hostPath.path: FieldValueInvalid'] },
  {
    name: 'a local PV needs node affinity',
    spec: { ...pvSpec, hostPath: undefined, local: { path: '/mnt/disk' } },
    want: ['spec.nodeAffinity: FieldValueRequired'],
  },
  { name: 'a reclaim policy must be known', spec: { ...pvSpec, persistentVolumeReclaimPolicy: 'Keep' }, want: ['spec.persistentVolumeReclaimPolicy: FieldValueNotSupported'] },
  { name: 'a csi PV needs a driver and a handle', spec: { ...pvSpec, hostPath: undefined, csi: {} }, want: ['spec.csi.driver: FieldValueRequired', 'spec.csi.volumeHandle: FieldValueRequired'] },
];
for (const c of pvCases) test(c.name, () => assert.deepEqual(summary(create(persistentVolumes, make(persistentVolumes, { spec: c.spec })).causes), c.want));

test('a PV volume source may not change', () => {
  const old = create(persistentVolumes, make(persistentVolumes, { spec: pvSpec })).obj;
  const next = structuredClone(old);
  next['spec'].hostPath.path = '/data/other';
  assert.deepEqual(summary(update(persistentVolumes, next, old).causes), ['spec.persistentvolumesource: FieldValueForbidden']);
  next['spec'].hostPath.path = '/data/pv1';
  next['spec'].claimRef = { namespace: 'default', name: 'claim' };
  assert.deepEqual(summary(update(persistentVolumes, next, old).causes), []);
});

test('a PV status update moves lastPhaseTransitionTime with the phase', () => {
  const old = create(persistentVolumes, make(persistentVolumes, { spec: pvSpec })).obj;
  old['status'].lastPhaseTransitionTime = '2024-01-01T00:00:00Z';
  const same = update(persistentVolumes, make(persistentVolumes, { status: { phase: 'Pending' } }), old, 'status').obj;
  assert.equal(same['status'].lastPhaseTransitionTime, '2024-01-01T00:00:00Z');
  assert.deepEqual(same['spec'], old['spec']);
  const moved = update(persistentVolumes, make(persistentVolumes, { status: { phase: 'Available' } }), old, 'status').obj;
  assert.notEqual(moved['status'].lastPhaseTransitionTime, '2024-01-01T00:00:00Z');
});

test('a PV row shows capacity, modes, claim and class', () => {
  const pv = make(persistentVolumes, {
    spec: { ...pvSpec, accessModes: ['ReadWriteMany', 'ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Delete', claimRef: { namespace: 'default', name: 'data' }, storageClassName: 'local-path', volumeMode: 'Filesystem' },
    status: { phase: 'Bound' },
  });
  assert.deepEqual(persistentVolumes.table!.row(pv, oneHourLater), ['x', '1Gi', 'RWO,RWX', 'Delete', 'Bound', 'default/data', 'local-path', '<unset>', '', '60m', 'Filesystem']);
  pv.metadata.deletionTimestamp = '2024-01-01T00:59:00Z';
  assert.equal(persistentVolumes.table!.row(pv, oneHourLater)[4], 'Terminating');
});

// ---- persistent volume claims ------------------------------------------------------------------

const pvcSpec = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } };

test('a new PVC defaults to Filesystem and Pending', () => {
  const { obj, causes } = create(persistentVolumeClaims, make(persistentVolumeClaims, { spec: pvcSpec, status: { phase: 'Bound' } }));
  assert.deepEqual(summary(causes), []);
  assert.equal(obj['spec'].volumeMode, 'Filesystem');
  assert.deepEqual(obj['status'], { phase: 'Pending' });
});

const pvcCases: { name: string; spec: Record<string, unknown>; want: string[] }[] = [
  { name: 'a PVC needs access modes', spec: { ...pvcSpec, accessModes: [] }, want: ['spec.accessModes: FieldValueRequired'] },
  { name: 'a PVC needs a storage request', spec: { ...pvcSpec, resources: {} }, want: ['spec.resources[storage]: FieldValueRequired'] },
  { name: 'a PVC storage request must be positive', spec: { ...pvcSpec, resources: { requests: { storage: '0' } } }, want: ['spec.resources[storage]: FieldValueInvalid'] },
  { name: 'a PVC volume mode must be known', spec: { ...pvcSpec, volumeMode: 'Tape' }, want: ['spec.volumeMode: FieldValueNotSupported'] },
  { name: 'a PVC storage class must be a subdomain', spec: { ...pvcSpec, storageClassName: 'Fast_SSD' }, want: ['spec.storageClassName: FieldValueInvalid'] },
  {
    name: 'a PVC data source in the core group must be a PVC',
    spec: { ...pvcSpec, dataSource: { kind: 'Secret', name: 's' } },
    want: ['spec.dataSource: FieldValueInvalid', 'spec.dataSourceRef: FieldValueInvalid'],
  },
];
for (const c of pvcCases) test(c.name, () => assert.deepEqual(summary(create(persistentVolumeClaims, make(persistentVolumeClaims, { spec: c.spec })).causes), c.want));

test('a PVC data source is mirrored into dataSourceRef', () => {
  const { obj } = create(persistentVolumeClaims, make(persistentVolumeClaims, { spec: { ...pvcSpec, dataSource: { kind: 'PersistentVolumeClaim', name: 'src' } } }));
  assert.deepEqual(obj['spec'].dataSourceRef, { kind: 'PersistentVolumeClaim', name: 'src' });
});

function boundClaim(): TestObject {
  const old = create(persistentVolumeClaims, make(persistentVolumeClaims, { spec: { ...pvcSpec, volumeName: 'pv-1' } })).obj;
  old['status'] = { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] };
  return old;
}

const pvcUpdateCases: { name: string; change: (spec: Record<string, unknown> & { resources: { requests: Record<string, string> } }) => void; want: string[] }[] = [
  { name: 'a bound claim may grow its storage request', change: (s) => (s.resources.requests['storage'] = '2Gi'), want: [] },
  { name: 'a bound claim may not shrink below its capacity', change: (s) => (s.resources.requests['storage'] = '512Mi'), want: ['spec.resources.requests.storage: FieldValueForbidden'] },
  { name: 'a claim may not change its access modes', change: (s) => (s['accessModes'] = ['ReadWriteMany']), want: ['spec: FieldValueForbidden'] },
  { name: 'a claim may not change its volume mode', change: (s) => (s['volumeMode'] = 'Block'), want: ['spec: FieldValueForbidden', 'volumeMode: FieldValueInvalid'] },
  { name: 'a bound claim may set a volume attributes class', change: (s) => (s['volumeAttributesClassName'] = 'gold'), want: [] },
];
for (const c of pvcUpdateCases) {
  test(c.name, () => {
    const old = boundClaim();
    const next = structuredClone(old);
    c.change(next['spec']);
    assert.deepEqual(summary(update(persistentVolumeClaims, next, old).causes), c.want);
  });
}

test('an unbound claim may have its volume name set once', () => {
  const old = create(persistentVolumeClaims, make(persistentVolumeClaims, { spec: pvcSpec })).obj;
  const next = structuredClone(old);
  next['spec'].volumeName = 'pv-9';
  assert.deepEqual(summary(update(persistentVolumeClaims, next, old).causes), []);
});

test('a PVC row shows the bound volume capacity and modes only once bound', () => {
  const pending = create(persistentVolumeClaims, make(persistentVolumeClaims, { spec: { ...pvcSpec, storageClassName: 'local-path' } })).obj;
  assert.deepEqual(persistentVolumeClaims.table!.row(pending, oneHourLater), ['x', 'Pending', '', '', '', 'local-path', '<unset>', '60m', 'Filesystem']);
  assert.deepEqual(persistentVolumeClaims.table!.row(boundClaim(), oneHourLater), ['x', 'Bound', 'pv-1', '1Gi', 'RWO', '', '<unset>', '60m', 'Filesystem']);
});

// ---- resource quotas ---------------------------------------------------------------------------

const quotaCases: { name: string; spec: Record<string, unknown>; want: string[] }[] = [
  { name: 'a quota with standard resources is valid', spec: { hard: { pods: '10', 'requests.cpu': '2', 'limits.memory': '4Gi', 'count/deployments.apps': '3' } }, want: [] },
  { name: 'an unknown unqualified quota resource is invalid', spec: { hard: { gpus: '1' } }, want: ['spec.hard[gpus]: FieldValueInvalid', 'spec.hard[gpus]: FieldValueInvalid'] },
  { name: 'a pod count must be whole', spec: { hard: { pods: '1.5' } }, want: ['spec.hard[pods]: FieldValueInvalid'] },
  { name: 'a quota may not be negative', spec: { hard: { cpu: '-1' } }, want: ['spec.hard[cpu]: FieldValueInvalid'] },
  { name: 'a quota scope must be known', spec: { hard: { pods: '1' }, scopes: ['Sometimes'] }, want: ['spec.scopes: FieldValueInvalid'] },
  { name: 'BestEffort and NotBestEffort conflict', spec: { hard: { pods: '1' }, scopes: ['BestEffort', 'NotBestEffort'] }, want: ['spec.scopes: FieldValueInvalid'] },
  { name: 'a BestEffort scope only covers pods', spec: { hard: { 'requests.cpu': '1' }, scopes: ['BestEffort'] }, want: ['spec.scopes: FieldValueInvalid'] },
];
for (const c of quotaCases) test(c.name, () => assert.deepEqual(summary(create(resourceQuotas, make(resourceQuotas, { spec: c.spec })).causes), c.want));

test('a new quota has an empty status; its scopes may not change', () => {
  const old = create(resourceQuotas, make(resourceQuotas, { spec: { hard: { pods: '1' }, scopes: ['NotTerminating'] }, status: { used: { pods: '9' } } })).obj;
  assert.deepEqual(old['status'], {});
  const next = structuredClone(old);
  next['spec'].scopes = ['Terminating'];
  assert.deepEqual(summary(update(resourceQuotas, next, old).causes), ['spec.scopes: FieldValueInvalid']);
});

test('a quota row splits requests and limits', () => {
  const rq = make(resourceQuotas, {
    status: { hard: { pods: '10', 'limits.cpu': '4', 'requests.cpu': '2', 'limits.memory': '8Gi' }, used: { pods: '3', 'limits.cpu': '1', 'requests.cpu': '500m' } },
  });
  assert.deepEqual(resourceQuotas.table!.row(rq, oneHourLater), ['x', 'pods: 3/10, requests.cpu: 500m/2', 'limits.cpu: 1/4, limits.memory: 0/8Gi', '60m']);
});

// ---- limit ranges ------------------------------------------------------------------------------

test('container limit ranges default the default limit to max and the default request to the default', () => {
  const { obj, causes } = create(limitRanges, make(limitRanges, { spec: { limits: [{ type: 'Container', max: { cpu: '2' }, min: { memory: '64Mi' } }] } }));
  assert.deepEqual(summary(causes), []);
  assert.deepEqual(obj['spec'].limits[0], { type: 'Container', max: { cpu: '2' }, min: { memory: '64Mi' }, default: { cpu: '2' }, defaultRequest: { cpu: '2', memory: '64Mi' } });
});

const limitCases: { name: string; limits: unknown[]; want: string[] }[] = [
  { name: 'a limit type must be known', limits: [{ type: 'Cluster', max: { cpu: '1' } }], want: ['spec.limits[0].type: FieldValueInvalid'] },
  {
    name: 'min may not exceed max (nor the defaults taken from max)',
    limits: [{ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }],
    want: ['spec.limits[0].min[cpu]: FieldValueInvalid', 'spec.limits[0].defaultRequest[cpu]: FieldValueInvalid', 'spec.limits[0].default[cpu]: FieldValueInvalid'],
  },
  {
    name: 'a default above max is invalid',
    limits: [{ type: 'Container', max: { memory: '1Gi' }, default: { memory: '2Gi' }, defaultRequest: { memory: '512Mi' } }],
    want: ['spec.limits[0].default[memory]: FieldValueInvalid'],
  },
  { name: 'a pod limit may not have defaults', limits: [{ type: 'Pod', default: { cpu: '1' } }], want: ['spec.limits[0].default: FieldValueForbidden'] },
  { name: 'a claim limit needs a storage bound', limits: [{ type: 'PersistentVolumeClaim', max: { cpu: '1' } }], want: ['spec.limits[0].limits: FieldValueRequired'] },
  { name: 'a limit type appears once', limits: [{ type: 'Pod' }, { type: 'Pod' }], want: ['spec.limits[1].type: FieldValueDuplicate'] },
  { name: 'a ratio below one is invalid', limits: [{ type: 'Pod', maxLimitRequestRatio: { cpu: '500m' } }], want: ['spec.limits[0].maxLimitRequestRatio[cpu]: FieldValueInvalid'] },
];
for (const c of limitCases) test(c.name, () => assert.deepEqual(summary(create(limitRanges, make(limitRanges, { spec: { limits: c.limits } })).causes), c.want));

test('a limit range row shows its creation time', () => {
  assert.deepEqual(limitRanges.table!.row(make(limitRanges), oneHourLater), ['x', '2024-01-01T00:00:00Z']);
});

// ---- endpoints ---------------------------------------------------------------------------------

test('endpoint ports default to TCP', () => {
  const { obj, causes } = create(endpoints, make(endpoints, { subsets: [{ addresses: [{ ip: '10.42.0.5' }], ports: [{ port: 80 }] }] }));
  assert.deepEqual(summary(causes), []);
  assert.equal(obj['subsets'][0].ports[0].protocol, 'TCP');
});

const endpointCases: { name: string; subsets: unknown[]; want: string[] }[] = [
  { name: 'a subset needs addresses', subsets: [{ ports: [{ port: 80 }] }], want: ['subsets[0]: FieldValueRequired'] },
  {
    name: 'an endpoint address must be an IP',
    subsets: [{ addresses: [{ ip: 'web' }] }],
    want: ['subsets[0].addresses[0].ip: FieldValueInvalid', 'subsets[0].addresses[0].ip: FieldValueInvalid'],
  },
  { name: 'an endpoint address may not be loopback', subsets: [{ addresses: [{ ip: '127.0.0.1' }] }], want: ['subsets[0].addresses[0].ip: FieldValueInvalid'] },
  { name: 'several endpoint ports must be named', subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }, { port: 81, name: 'b' }] }], want: ['subsets[0].ports[0].name: FieldValueRequired'] },
  { name: 'an endpoint hostname must be a label', subsets: [{ notReadyAddresses: [{ ip: '10.0.0.1', hostname: 'a.b' }] }], want: ['subsets[0].notReadyAddresses[0].hostname: FieldValueInvalid'] },
];
for (const c of endpointCases) test(c.name, () => assert.deepEqual(summary(create(endpoints, make(endpoints, { subsets: c.subsets })).causes), c.want));

const endpointRowCases: { name: string; subsets?: unknown[]; want: string }[] = [
  { name: 'endpoints without subsets show <none>', want: '<none>' },
  { name: 'endpoints without ports show bare addresses', subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }] }], want: '10.0.0.1,10.0.0.2' },
  {
    name: 'endpoints list three address:port pairs, then how many more',
    subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: 'fd00::2' }], ports: [{ port: 80 }, { port: 443 }] }],
    want: '10.0.0.1:80,[fd00::2]:80,10.0.0.1:443 + 1 more...',
  },
];
for (const c of endpointRowCases) {
  test(c.name, () => assert.deepEqual(endpoints.table!.row(make(endpoints, c.subsets ? { subsets: c.subsets } : {}), oneHourLater), ['x', c.want, '60m']));
}
