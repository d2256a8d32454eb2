import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { controllerRevisions, daemonSets, deployments, replicaSets, statefulSets, templateGenerationAnnotation } from './apps.ts';
import { create, make, oneHourLater, summary, update, type TestObject } from './core-testing.ts';
import type { ResourceDef } from '../resource.ts';

const web = { name: 'web', image: 'nginx:1.27' };
const selector = { matchLabels: { app: 'web' } };
const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [web] } };
const defaultedTemplate = {
  metadata: { labels: { app: 'web' } },
  spec: {
    containers: [{ ...web, imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', resources: {} }],
    dnsPolicy: 'ClusterFirst',
    restartPolicy: 'Always',
    securityContext: {},
    terminationGracePeriodSeconds: 30,
    schedulerName: 'default-scheduler',
  },
};

const of = (def: ResourceDef, spec: Record<string, unknown>, meta: KubeObject['metadata'] = {}): TestObject => make(def, { spec }, meta);

// ---- defaulting ----------------------------------------------------------------------------------------

const defaultCases: { name: string; def: ResourceDef; spec: Record<string, unknown>; want: Record<string, unknown>; status: Record<string, unknown> }[] = [
  {
    name: 'a minimal deployment gets one replica, a 25% rolling update, history 10 and a 600s deadline',
    def: deployments,
    spec: { selector, template },
    want: {
      selector,
      template: defaultedTemplate,
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {},
  },
  {
    name: 'a Recreate deployment gets no rolling update parameters',
    def: deployments,
    spec: { selector, template, strategy: { type: 'Recreate' } },
    want: { selector, template: defaultedTemplate, replicas: 1, strategy: { type: 'Recreate' }, revisionHistoryLimit: 10, progressDeadlineSeconds: 600 },
    status: {},
  },
  {
    name: 'a minimal replica set gets one replica',
    def: replicaSets,
    spec: { selector, template },
    want: { selector, template: defaultedTemplate, replicas: 1 },
    status: { replicas: 0 },
  },
  {
    name: 'a minimal stateful set gets ordered pods, partition 0, retained claims and history 10',
    def: statefulSets,
    spec: { selector, template, serviceName: 'web' },
    want: {
      selector,
      template: defaultedTemplate,
      serviceName: 'web',
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      replicas: 1,
      revisionHistoryLimit: 10,
    },
    status: { replicas: 0, availableReplicas: 0 },
  },
  {
    name: 'a minimal daemon set rolls one node at a time without surge',
    def: daemonSets,
    spec: { selector, template },
    want: { selector, template: defaultedTemplate, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 10 },
    status: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 },
  },
];
for (const c of defaultCases) {
  test(c.name, () => {
    const { obj, causes } = create(c.def, of(c.def, c.spec));
    assert.deepEqual(obj.spec, c.want);
    assert.deepEqual(obj.status, c.status);
    assert.deepEqual(summary(causes), []);
  });
}

test('apps/v1 defaults neither the selector nor the labels', () => {
  const { obj, causes } = create(deployments, of(deployments, { template }));
  assert.equal(obj.spec.selector, undefined);
  assert.equal(obj.metadata.labels, undefined);
  assert.deepEqual(summary(causes), ['spec.selector: FieldValueRequired', 'spec.template.metadata.labels: FieldValueInvalid']);
});

test('stateful set claim templates print as v1 PersistentVolumeClaims with their defaults', () => {
  const claim = { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1024Mi' } } } };
  const { obj } = create(statefulSets, of(statefulSets, { selector, template, serviceName: 'web', volumeClaimTemplates: [claim] }));
  assert.deepEqual(obj.spec.volumeClaimTemplates, [
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
      status: { phase: 'Pending' },
    },
  ]);
});

test('defaulting each apps kind twice changes nothing more', () => {
  for (const def of [deployments, replicaSets, statefulSets, daemonSets]) {
    const { obj } = create(def, of(def, { selector, template }));
    const again = structuredClone(obj);
    def.default!(again);
    assert.deepEqual(again, obj, def.kind);
  }
});

// ---- validation ----------------------------------------------------------------------------------------

const validationCases: { name: string; def: ResourceDef; spec: Record<string, unknown>; want: string[] }[] = [
  { name: 'a deployment selector must match the template labels', def: deployments, spec: { selector: { matchLabels: { app: 'db' } }, template }, want: ['spec.template.metadata.labels: FieldValueInvalid'] },
  { name: 'a deployment selector may not be empty', def: deployments, spec: { selector: {}, template }, want: ['spec.selector: FieldValueInvalid'] },
  {
    name: 'a selector operator must be known',
    def: deployments,
    spec: { selector: { matchExpressions: [{ key: 'app', operator: 'Has' }] }, template },
    want: ['spec.selector.matchExpressions[0].operator: FieldValueInvalid', 'spec.selector: FieldValueInvalid'],
  },
  {
    name: 'a deployment template must restart always',
    def: deployments,
    spec: { selector, template: { ...template, spec: { containers: [web], restartPolicy: 'Never' } } },
    want: ['spec.template.spec.restartPolicy: FieldValueNotSupported'],
  },
  { name: 'deployment replicas may not be negative', def: deployments, spec: { selector, template, replicas: -1 }, want: ['spec.replicas: FieldValueInvalid'] },
  {
    name: 'maxSurge and maxUnavailable may not both be zero',
    def: deployments,
    spec: { selector, template, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } } },
    want: ['spec.strategy.rollingUpdate.maxUnavailable: FieldValueInvalid'],
  },
  {
    name: 'maxUnavailable may not exceed 100%',
    def: deployments,
    spec: { selector, template, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '150%' } } },
    want: ['spec.strategy.rollingUpdate.maxUnavailable: FieldValueInvalid'],
  },
  { name: 'a strategy type must be known', def: deployments, spec: { selector, template, strategy: { type: 'BlueGreen' } }, want: ['spec.strategy: FieldValueNotSupported'] },
  {
    name: 'the progress deadline must exceed minReadySeconds',
    def: deployments,
    spec: { selector, template, minReadySeconds: 700 },
    want: ['spec.progressDeadlineSeconds: FieldValueInvalid'],
  },
  { name: 'a deployment template is validated as a pod template', def: deployments, spec: { selector, template: { ...template, spec: { containers: [{ name: 'web' }] } } }, want: ['spec.template.spec.containers[0].image: FieldValueRequired'] },
  { name: 'a replica set selector must match', def: replicaSets, spec: { selector: { matchLabels: { app: 'db' } }, template }, want: ['spec.template.metadata.labels: FieldValueInvalid'] },
  { name: 'a stateful set service name must be a DNS label', def: statefulSets, spec: { selector, template, serviceName: 'Web_Svc' }, want: ['spec.serviceName: FieldValueInvalid'] },
  { name: 'a stateful set selector may not be empty', def: statefulSets, spec: { selector: {}, template }, want: ['spec.selector: FieldValueInvalid'] },
  {
    name: 'a stateful set pod management policy must be known',
    def: statefulSets,
    spec: { selector, template, podManagementPolicy: 'Random' },
    want: ['spec.podManagementPolicy: FieldValueInvalid'],
  },
  {
    name: 'a daemon set may not surge and be unavailable at once',
    def: daemonSets,
    spec: { selector, template, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } } },
    want: ['spec.updateStrategy.rollingUpdate.maxSurge: FieldValueInvalid'],
  },
  { name: 'a daemon set without a selector matches no template', def: daemonSets, spec: { template }, want: ['spec.template.metadata.labels: FieldValueInvalid'] },
  {
    name: 'a daemon set template may not set activeDeadlineSeconds',
    def: daemonSets,
    spec: { selector, template: { ...template, spec: { containers: [web], activeDeadlineSeconds: 10 } } },
    want: ['spec.template.spec.activeDeadlineSeconds: FieldValueForbidden'],
  },
];
for (const c of validationCases) {
  test(c.name, () => assert.deepEqual(summary(create(c.def, of(c.def, c.spec)).causes), c.want));
}

test('validation messages follow upstream wording', () => {
  const { causes } = create(deployments, of(deployments, { selector: { matchLabels: { app: 'db' } }, template }));
  assert.equal(causes[0]!.message, 'Invalid value: {"app":"web"}: `selector` does not match template `labels`');
});

// ---- updates ---------------------------------------------------------------------------------------------

function stored(def: ResourceDef, spec: Record<string, unknown> = { selector, template }): TestObject {
  const { obj } = create(def, of(def, spec, { uid: 'u1' }));
  obj.metadata.generation = 1;
  return obj;
}

test('the selector of every apps/v1 controller is immutable', () => {
  for (const def of [deployments, replicaSets, daemonSets]) {
    const old = stored(def);
    const next = structuredClone(old);
    next.spec.selector = { matchLabels: { app: 'web', tier: 'front' } };
    next.spec.template.metadata.labels.tier = 'front';
    assert.deepEqual(summary(update(def, next, old).causes), ['spec.selector: FieldValueInvalid'], def.kind);
  }
});

const statefulSetUpdateCases: { name: string; change: (s: TestObject) => void; want: string[] }[] = [
  { name: 'a stateful set may scale', change: (s) => (s.spec.replicas = 5), want: [] },
  { name: 'a stateful set template may change', change: (s) => (s.spec.template.spec.containers[0].image = 'nginx:1.28'), want: [] },
  { name: 'a stateful set update strategy may change', change: (s) => (s.spec.updateStrategy = { type: 'OnDelete' }), want: [] },
  { name: 'a stateful set service name may not change', change: (s) => (s.spec.serviceName = 'other'), want: ['spec: FieldValueForbidden'] },
  { name: 'a stateful set pod management policy may not change', change: (s) => (s.spec.podManagementPolicy = 'Parallel'), want: ['spec: FieldValueForbidden'] },
];
for (const c of statefulSetUpdateCases) {
  test(c.name, () => {
    const old = stored(statefulSets, { selector, template, serviceName: 'web' });
    const next = structuredClone(old);
    c.change(next);
    assert.deepEqual(summary(update(statefulSets, next, old).causes), c.want);
  });
}

test('a main update keeps the stored status; a status update keeps the stored spec', () => {
  const old = stored(deployments);
  old.status = { replicas: 3, readyReplicas: 3, availableReplicas: 3 };
  const main = structuredClone(old);
  main.status = {};
  main.spec.replicas = 4;
  const m = update(deployments, main, old);
  assert.deepEqual(m.obj.status, old.status);
  assert.equal(m.obj.spec.replicas, 4);
  const st = structuredClone(old);
  st.spec.replicas = 9;
  st.metadata.labels = { changed: 'yes' };
  st.status = { replicas: 4, readyReplicas: 2 };
  const s = update(deployments, st, old, 'status');
  assert.equal(s.obj.spec.replicas, 1);
  assert.equal(s.obj.metadata.labels, undefined);
  assert.deepEqual(s.obj.status, { replicas: 4, readyReplicas: 2 });
});

test('status counters may not exceed replicas', () => {
  const old = stored(replicaSets);
  const st = structuredClone(old);
  st.status = { replicas: 1, readyReplicas: 2 };
  assert.deepEqual(summary(update(replicaSets, st, old, 'status').causes), ['status.readyReplicas: FieldValueInvalid']);
});

test('a daemon set template change bumps the template generation annotation', () => {
  const created = create(daemonSets, of(daemonSets, { selector, template })).obj;
  assert.equal(created.metadata.annotations![templateGenerationAnnotation], '1');
  const scaled = structuredClone(created);
  scaled.spec.minReadySeconds = 5;
  assert.equal(update(daemonSets, scaled, created).obj.metadata.annotations![templateGenerationAnnotation], '1');
  const changed = structuredClone(created);
  changed.spec.template.spec.containers[0].image = 'nginx:1.28';
  assert.equal(update(daemonSets, changed, created).obj.metadata.annotations![templateGenerationAnnotation], '2');
});

test('controller kinds carry a generation and scale where upstream scales', () => {
  for (const def of [replicaSets, statefulSets, daemonSets]) assert.equal(def.generation, true, def.kind);
  const gen = deployments.generation as (o: unknown, old: unknown) => boolean;
  const d = (annotations: Record<string, string>) => ({ metadata: { annotations } });
  assert.equal(gen(d({ a: '1' }), d({ a: '1' })), false, 'same annotations');
  assert.equal(gen(d({ a: '2' }), d({ a: '1' })), true, 'changed annotations bump a Deployment');
  assert.equal(controllerRevisions.generation, undefined);
  const scale = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' };
  for (const def of [deployments, replicaSets, statefulSets]) assert.deepEqual(def.subresources, { status: true, scale }, def.kind);
  assert.deepEqual(daemonSets.subresources, { status: true });
  assert.equal(statefulSets.nameRule, 'label');
});

// ---- ControllerRevisions -----------------------------------------------------------------------------------

test('a controller revision needs an object of data and keeps it', () => {
  assert.deepEqual(summary(create(controllerRevisions, make(controllerRevisions, { revision: 1 })).causes), ['data: FieldValueRequired']);
  const { obj, causes } = create(controllerRevisions, make(controllerRevisions, { revision: 1, data: { spec: {} } }));
  assert.deepEqual(summary(causes), []);
  const next = structuredClone(obj);
  next.data = { spec: { x: 1 } };
  assert.deepEqual(summary(update(controllerRevisions, next, obj).causes), ['data: FieldValueInvalid']);
});

// ---- tables --------------------------------------------------------------------------------------------------

test('deployment rows show READY as ready/desired', () => {
  const d = make(deployments, { spec: { replicas: 3, selector: { matchLabels: { app: 'web', tier: 'a' } }, template }, status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 } });
  assert.deepEqual(deployments.table!.row(d, oneHourLater), ['x', '2/3', 3, 2, '60m', 'web', 'nginx:1.27', 'app=web,tier=a']);
  assert.deepEqual(
    deployments.table!.columns.map((c) => `${c.name}:${c.priority}`),
    ['Name:0', 'Ready:0', 'Up-to-date:0', 'Available:0', 'Age:0', 'Containers:1', 'Images:1', 'Selector:1'],
  );
});

const rowCases: { name: string; def: ResourceDef; obj: TestObject; want: unknown[] }[] = [
  {
    name: 'replica set rows count desired, current and ready',
    def: replicaSets,
    obj: make(replicaSets, { spec: { replicas: 2, selector, template }, status: { replicas: 2, readyReplicas: 1 } }),
    want: ['x', 2, 2, 1, '60m', 'web', 'nginx:1.27', 'app=web'],
  },
  {
    name: 'stateful set rows show READY as ready/desired',
    def: statefulSets,
    obj: make(statefulSets, { spec: { replicas: 3, selector, template }, status: { readyReplicas: 1 } }),
    want: ['x', '1/3', '60m', 'web', 'nginx:1.27'],
  },
  {
    name: 'daemon set rows count nodes and show the node selector',
    def: daemonSets,
    obj: make(daemonSets, {
      spec: { selector, template: { ...template, spec: { containers: [web], nodeSelector: { 'kubernetes.io/os': 'linux' } } } },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2 },
    }),
    want: ['x', 3, 3, 2, 3, 2, 'kubernetes.io/os=linux', '60m', 'web', 'nginx:1.27', 'app=web'],
  },
  {
    name: 'controller revision rows name their controller by kind and group',
    def: controllerRevisions,
    obj: make(controllerRevisions, { revision: 4, data: {} }, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u', controller: true }] }),
    want: ['x', 'statefulset.apps/db', 4, '60m'],
  },
  { name: 'a controller revision without a controller shows <none>', def: controllerRevisions, obj: make(controllerRevisions, { revision: 1, data: {} }), want: ['x', '<none>', 1, '60m'] },
];
for (const c of rowCases) {
  test(c.name, () => assert.deepEqual(c.def.table!.row(c.obj, oneHourLater), c.want));
}

test('replica sets select on status.replicas; the others only on metadata', () => {
  assert.equal(replicaSets.fieldSelectors!['status.replicas']!(make(replicaSets, { status: { replicas: 4 } })), '4');
  assert.equal(replicaSets.fieldSelectors!['status.replicas']!(make(replicaSets, {})), '0');
  for (const def of [deployments, statefulSets, daemonSets, controllerRevisions]) assert.equal(def.fieldSelectors, undefined, def.kind);
});

test('names, short names and categories are upstream’s', () => {
  assert.deepEqual(
    [deployments, replicaSets, statefulSets, daemonSets, controllerRevisions].map((d) => [d.plural, d.singular, d.shortNames ?? [], d.categories ?? []]),
    [
      ['deployments', 'deployment', ['deploy'], ['all']],
      ['replicasets', 'replicaset', ['rs'], ['all']],
      ['statefulsets', 'statefulset', ['sts'], ['all']],
      ['daemonsets', 'daemonset', ['ds'], ['all']],
      ['controllerrevisions', 'controllerrevision', [], []],
    ],
  );
});
