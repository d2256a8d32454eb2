import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonical, canonicalOf, canonicalOnce, setCanonicalResourceVersion } from './canonical.ts';
import { typeForKind } from './index.ts';
import { builtinResources } from '../groups/index.ts';
import { conflict, notFound } from '../errors.ts';

/** The same object with every object's keys in reverse order (what a client might send). */
function reversed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reversed);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).reverse()) o[k] = reversed((v as Record<string, unknown>)[k]);
    return o;
  }
  return v;
}

// Expected bodies are written in the order of the Go structs (k8s.io/api, apimachinery meta/v1).
// `given`: the case keeps some given order (unknown keys, raw values), so a reversed input differs.
const cases: { name: string; input: Record<string, unknown>; want: string; given?: true }[] = [
  {
    name: 'a Status reads in Go order, details without the empty core group',
    input: { code: 409, details: { kind: 'configmaps', group: '', name: 'c1' }, reason: 'AlreadyExists', message: 'configmaps "c1" already exists', status: 'Failure', metadata: {}, apiVersion: 'v1', kind: 'Status' },
    want: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"c1\\" already exists","reason":"AlreadyExists","details":{"name":"c1","kind":"configmaps"},"code":409}',
  },
  {
    name: 'Status causes are reason, message, field; empty details stay {}',
    input: { kind: 'Status', apiVersion: 'v1', code: 422, details: { causes: [{ field: 'data', message: 'Invalid value', reason: 'FieldValueInvalid' }], kind: 'ConfigMap', name: 'x', uid: '' }, status: 'Failure', metadata: {} },
    want: '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","details":{"name":"x","kind":"ConfigMap","causes":[{"reason":"FieldValueInvalid","message":"Invalid value","field":"data"}]},"code":422}',
  },
  {
    name: 'a Pod: TypeMeta first, fields in declaration order, omitempty zero values gone, labels sorted',
    input: {
      status: { phase: 'Pending', qosClass: 'BestEffort', hostIP: '', conditions: [] },
      spec: {
        schedulerName: 'default-scheduler',
        nodeName: '',
        hostNetwork: false,
        containers: [{ resources: {}, image: 'nginx', name: 'c', ports: [{ protocol: 'TCP', containerPort: 80, hostPort: 0 }], args: [] }],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        securityContext: {},
      },
      metadata: { uid: 'u1', namespace: 'default', name: 'p', labels: { z: '1', a: '2' }, annotations: {}, creationTimestamp: '2026-01-01T00:00:00Z', resourceVersion: '7', generation: 0 },
      kind: 'Pod',
      apiVersion: 'v1',
    },
    want:
      '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"default","uid":"u1","resourceVersion":"7","creationTimestamp":"2026-01-01T00:00:00Z","labels":{"a":"2","z":"1"}},' +
      '"spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,' +
      '"securityContext":{},"schedulerName":"default-scheduler"},"status":{"phase":"Pending","qosClass":"BestEffort"}}',
  },
  {
    name: 'a Deployment: pointers kept even when zero, non-pointer zero values dropped',
    input: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      status: { replicas: 0, observedGeneration: 1 },
      spec: {
        strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' }, type: 'RollingUpdate' },
        template: { spec: { containers: [{ name: 'c', image: 'nginx' }] }, metadata: { labels: { app: 'web' } } },
        selector: { matchLabels: { app: 'web' } },
        paused: false,
        replicas: 0,
        minReadySeconds: 0,
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
      },
    },
    want:
      '{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},' +
      '"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},' +
      '"revisionHistoryLimit":10,"progressDeadlineSeconds":600},"status":{"observedGeneration":1}}',
  },
  {
    name: 'a Service: ports in order, zero nodePort and empty strings gone, IntOrString kept',
    input: {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { name: 's', namespace: 'default' },
      spec: {
        type: 'ClusterIP',
        sessionAffinity: 'None',
        selector: { app: 'web' },
        clusterIPs: ['10.96.0.10'],
        clusterIP: '10.96.0.10',
        ports: [{ targetPort: 8080, port: 80, protocol: 'TCP', name: '', nodePort: 0 }],
        externalName: '',
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
        internalTrafficPolicy: 'Cluster',
      },
      status: { loadBalancer: {} },
    },
    want:
      '{"kind":"Service","apiVersion":"v1","metadata":{"name":"s","namespace":"default"},"spec":{"ports":[{"protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"web"},' +
      '"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"type":"ClusterIP","sessionAffinity":"None","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster"},"status":{"loadBalancer":{}}}',
  },
  {
    name: 'keys the schema does not know follow the known ones, in their order',
    input: { metadata: { name: 'c' }, zeta: 1, data: { b: '1', a: '2' }, alpha: 2, apiVersion: 'v1', kind: 'ConfigMap' },
    want: '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c"},"data":{"a":"2","b":"1"},"zeta":1,"alpha":2}',
    given: true,
  },
  {
    name: 'a custom resource is unstructured: keys sorted at every depth, as Go encodes maps',
    input: { kind: 'Widget', apiVersion: 'example.com/v1', metadata: { name: 'w', namespace: 'd' }, spec: { size: 3, color: 'red', parts: [{ z: 1, a: 2 }] } },
    want: '{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"d"},"spec":{"color":"red","parts":[{"a":2,"z":1}],"size":3}}',
  },
  {
    name: 'raw values (managedFields fieldsV1) are left exactly as given',
    input: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c', managedFields: [{ fieldsV1: { 'f:data': { 'f:z': {}, 'f:a': {} } }, fieldsType: 'FieldsV1', manager: 'm' }] } },
    want: '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","managedFields":[{"manager":"m","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:z":{},"f:a":{}}}}]}}',
    given: true,
  },
  {
    name: 'a null pointer is dropped, a null Time (Go zero) is kept',
    input: { kind: 'ConfigMap', apiVersion: 'v1', immutable: null, metadata: { name: 'c', creationTimestamp: null, deletionTimestamp: null } },
    want: '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","creationTimestamp":null}}',
  },
];

for (const c of cases) {
  test(c.name, () => {
    const before = JSON.stringify(c.input);
    assert.equal(JSON.stringify(canonical(c.input)), c.want);
    if (!c.given) assert.equal(JSON.stringify(canonical(reversed(c.input) as Record<string, unknown>)), c.want, 'from reversed key order');
    assert.equal(JSON.stringify(c.input), before, 'the input is not mutated');
  });
}

test('a canonical object is returned as it is (no copy)', () => {
  for (const c of cases) {
    const once = canonical(c.input);
    assert.equal(canonical(once), once, c.name);
  }
});

test('a changed object shares its unchanged subtrees with the input', () => {
  const spec = { containers: [{ name: 'c', image: 'nginx' }] };
  const pod = { metadata: { name: 'p' }, spec, kind: 'Pod', apiVersion: 'v1' };
  const out = canonical(pod);
  assert.notEqual(out, pod);
  assert.equal(out['spec'], spec);
});

test('the key __proto__ is kept as data, never as a prototype', () => {
  const cr = JSON.parse('{"kind":"W","apiVersion":"x.io/v1","metadata":{"name":"w"},"spec":{"__proto__":{"polluted":true},"b":1}}') as Record<string, unknown>;
  const out = canonical(cr) as { spec: Record<string, unknown> };
  assert.equal(JSON.stringify(out.spec), '{"__proto__":{"polluted":true},"b":1}');
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.equal(Object.getPrototypeOf(out.spec), Object.prototype);
});

test('an object without apiVersion and kind is left alone', () => {
  const o = { metadata: { name: 'x' }, b: 1, a: 2 };
  assert.equal(canonical(o), o);
});

test('canonicalOf orders a value of a named type', () => {
  const r = canonicalOf('meta.v1.APIResource', { verbs: ['get'], kind: 'Scale', version: 'v1', group: 'autoscaling', namespaced: true, singularName: '', name: 'deployments/scale' });
  assert.equal(JSON.stringify(r), '{"name":"deployments/scale","singularName":"","namespaced":true,"group":"autoscaling","version":"v1","kind":"Scale","verbs":["get"]}');
});

test('error constructors build Status in Go order', () => {
  assert.equal(
    JSON.stringify(conflict({ group: '', resource: 'configmaps' }, 'c', 'the object has been modified').status),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on configmaps \\"c\\": the object has been modified","reason":"Conflict","details":{"name":"c","kind":"configmaps"},"code":409}',
  );
  assert.equal(
    JSON.stringify(notFound({ group: 'apps', resource: 'deployments' }, 'd').status),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \\"d\\" not found","reason":"NotFound","details":{"name":"d","group":"apps","kind":"deployments"},"code":404}',
  );
});

test('every built-in kind has a schema type (only custom resources are unstructured)', () => {
  const missing = builtinResources.filter((d) => !typeForKind(d.group, d.version, d.kind)).map((d) => `${d.group}/${d.version} ${d.kind}`);
  assert.deepEqual(missing, []);
});

test('metadata.managedFields: [] is kept (it asks the field manager for a reset), other empty lists go', () => {
  const out = canonical({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', managedFields: [], finalizers: [] } });
  assert.equal(JSON.stringify(out), '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","managedFields":[]}}');
});

test('an object made canonical once and frozen is answered as is; a mutable one is walked', () => {
  const once = canonicalOnce({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'a' }, data: { k: 'v' } });
  assert.deepEqual(Object.keys(once), ['kind', 'apiVersion', 'metadata', 'data']);
  // Still mutable: changed out of Go's order, it is walked and put back in order.
  const moved = once as Record<string, unknown>;
  const data = moved['data'];
  delete moved['data'];
  moved['immutable'] = true;
  moved['data'] = data;
  assert.deepEqual(Object.keys(canonical(moved)), ['kind', 'apiVersion', 'metadata', 'immutable', 'data']);
  const frozen = Object.freeze(canonicalOnce({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' } }));
  assert.equal(canonical(frozen), frozen);
});

test('setCanonicalResourceVersion puts resourceVersion where Go writes it, and leaves unknown kinds alone', () => {
  const obj = canonical({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'n', uid: 'u', creationTimestamp: '2026-12-06T00:00:00Z', labels: { x: 'y' } }, data: { k: 'v' } });
  const viaParse = JSON.parse(JSON.stringify(obj));
  viaParse.metadata.resourceVersion = '7';
  assert.equal(setCanonicalResourceVersion(obj, '7'), true);
  assert.equal(JSON.stringify(obj), JSON.stringify(canonical(viaParse)));
  const minimal = canonical({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} });
  setCanonicalResourceVersion(minimal, '8');
  assert.deepEqual(minimal.metadata, { resourceVersion: '8' });
  const custom = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
  assert.equal(setCanonicalResourceVersion(custom, '9'), false);
  assert.deepEqual(custom.metadata, { name: 'w' });
});
