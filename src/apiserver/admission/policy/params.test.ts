import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceDef } from '../../../api/resource.ts';
import { collectParams, gvkString, paramsFromRegistry } from './params.ts';
import { configMap, defs } from './testing.ts';

const maps = [configMap('limits', 'default', { max: '5' }, { tier: 'a' }), configMap('other', 'default', { max: '3' }, { tier: 'a' }), configMap('limits', 'prod', { max: '1' })];
const nodesList = [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'x' } } }];
const registry = {
  byKind: (group: string, kind: string) => (Object.values(defs) as ResourceDef[]).find((d) => d.group === group && d.kind === kind),
  list: (def: ResourceDef, ns: string | undefined) => (def.kind === 'Node' ? nodesList : maps.filter((m) => ns === undefined || m.metadata.namespace === ns)),
};
const lookup = paramsFromRegistry(registry);
const cm = { apiVersion: 'v1', kind: 'ConfigMap' };
const names = (r: ReturnType<typeof collectParams>) => r.params?.map((p) => (p ? `${p.metadata.namespace}/${p.metadata.name}` : null));

test('no paramKind or no paramRef: one evaluation with null params', () => {
  assert.deepEqual(collectParams(undefined, { name: 'x' }, { requestNamespace: 'default', lookup }), { params: [null] });
  assert.deepEqual(collectParams(cm, undefined, { requestNamespace: 'default', lookup }), { params: [null] });
});

test('a name picks the object in the request namespace', () => {
  assert.deepEqual(names(collectParams(cm, { name: 'limits' }, { requestNamespace: 'default', lookup })), ['default/limits']);
});

test('paramRef.namespace wins over the request namespace', () => {
  assert.deepEqual(names(collectParams(cm, { name: 'limits', namespace: 'prod' }, { requestNamespace: 'default', lookup })), ['prod/limits']);
});

test('a selector picks every object it selects', () => {
  assert.deepEqual(names(collectParams(cm, { selector: { matchLabels: { tier: 'a' } } }, { requestNamespace: 'default', lookup })), ['default/limits', 'default/other']);
});

test('no param found denies by default and is skipped with Allow', () => {
  assert.deepEqual(collectParams(cm, { name: 'nope' }, { requestNamespace: 'default', lookup }), { error: 'no params found for policy binding with `Deny` parameterNotFoundAction' });
  assert.deepEqual(collectParams(cm, { name: 'nope', parameterNotFoundAction: 'Allow' }, { requestNamespace: 'default', lookup }), { params: [] });
});

test('a kind nobody serves is the policy’s configuration error', () => {
  assert.deepEqual(collectParams({ apiVersion: 'example.com/v1', kind: 'ReplicaLimit' }, { name: 'x' }, { requestNamespace: 'default', lookup }), {
    policyError: "failed to find resource referenced by paramKind: 'example.com/v1, Kind=ReplicaLimit'",
  });
  assert.equal(collectParams({ apiVersion: 'v2', kind: 'ConfigMap' }, { name: 'x' }, { requestNamespace: 'default', lookup }).policyError, "failed to find resource referenced by paramKind: '/v2, Kind=ConfigMap'");
});

test('scope mismatches are the binding’s configuration errors', () => {
  assert.deepEqual(collectParams(cm, { name: 'limits' }, { requestNamespace: '', lookup }), { error: 'cannot use namespaced paramRef in policy binding that matches cluster-scoped resources' });
  assert.deepEqual(collectParams({ apiVersion: 'v1', kind: 'Node' }, { name: 'n1', namespace: 'x' }, { requestNamespace: 'default', lookup }), { error: 'paramRef.namespace must not be provided for a cluster-scoped `paramKind`' });
  assert.deepEqual(collectParams(cm, { parameterNotFoundAction: 'Deny' }, { requestNamespace: 'default', lookup }), { error: 'one of name or selector must be provided' });
});

test('a cluster-scoped param kind is looked up without a namespace', () => {
  assert.deepEqual(collectParams({ apiVersion: 'v1', kind: 'Node' }, { selector: {} }, { requestNamespace: 'default', lookup }).params?.map((p) => p?.metadata.name), ['n1']);
});

test('a param of another served version is converted', () => {
  const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h', namespace: 'default' }, spec: {} };
  const l = paramsFromRegistry({ byKind: registry.byKind, list: () => [hpa] });
  const r = collectParams({ apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler' }, { name: 'h' }, { requestNamespace: 'default', lookup: l });
  assert.equal(r.params?.[0]?.apiVersion, 'autoscaling/v1');
});

test('gvkString is Go’s GroupVersionKind String', () => {
  assert.equal(gvkString({ apiVersion: 'apps/v1', kind: 'Deployment' }), 'apps/v1, Kind=Deployment');
});
