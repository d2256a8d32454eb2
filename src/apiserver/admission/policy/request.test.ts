import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNotFound } from '../../../api/errors.ts';
import { requestView } from '../webhook/rules.ts';
import { namespaceObjectFor, RequestState } from './request.ts';
import { defs, deployment, makeAttrs, namespace } from './testing.ts';

const ns = { default: namespace('default', { env: 'test' }) } as Record<string, ReturnType<typeof namespace>>;
const state = (attrs = makeAttrs()) => new RequestState(requestView(attrs), { namespace: (n) => ns[n] });

test('objects are in CEL form: integers as ints, absent as null', () => {
  const s = state(makeAttrs({ object: deployment('web', 3) }));
  const { object, oldObject } = s.objects({ group: 'apps', version: 'v1', kind: 'Deployment' }) as { object: { spec: { replicas: unknown } }; oldObject: unknown };
  assert.equal(object.spec.replicas, 3n);
  assert.equal(oldObject, null);
});

test('objects of another served version are converted', () => {
  const s = state(makeAttrs({ def: defs.hpa, object: { apiVersion: 'autoscaling/v2', metadata: { name: 'h', namespace: 'default' }, spec: {} } }));
  const { object } = s.objects({ group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' }) as { object: { apiVersion: string; spec: { served: string } } };
  assert.equal(object.apiVersion, 'autoscaling/v1');
  assert.equal(object.spec.served, 'v1');
});

test('request carries the matched resource and the request’s own', () => {
  const s = state();
  const r = s.request({ resource: { group: 'apps', version: 'v1', resource: 'deployments' }, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }) as Record<string, unknown>;
  assert.deepEqual(r['requestResource'], { group: 'apps', version: 'v1', resource: 'deployments' });
  assert.equal(r['operation'], 'CREATE');
  assert.equal(r['namespace'], 'default');
  assert.deepEqual(r['userInfo'], { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'] });
});

test('namespaceObject keeps upstream’s fields only', () => {
  const full = { ...namespace('x', { a: 'b' }), metadata: { name: 'x', labels: { a: 'b' }, managedFields: [{}], ownerReferences: [] } };
  assert.deepEqual(namespaceObjectFor(full), { metadata: { name: 'x', labels: { a: 'b' } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
});

test('namespaceObject is null for cluster-scoped requests and for a Namespace itself', () => {
  assert.equal(state(makeAttrs({ def: defs.nodes, object: { metadata: { name: 'n' } } })).namespaceObject(), null);
  assert.equal(state(makeAttrs({ def: defs.namespaces, operation: 'UPDATE', object: namespace('default'), oldObject: namespace('default') })).namespaceObject(), null);
});

test('an unknown namespace is NotFound', () => {
  assert.throws(() => state(makeAttrs({ object: deployment('web', 1, { namespace: 'gone' }) })).namespaceObject(), (e) => isNotFound(e));
});
