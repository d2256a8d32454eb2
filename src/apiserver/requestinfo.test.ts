import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestInfo } from './requestinfo.ts';

const cases: { name: string; method: string; path: string; query?: string; want: Partial<ReturnType<typeof parseRequestInfo>> }[] = [
  { name: 'core list of a namespaced resource', method: 'GET', path: '/api/v1/namespaces/ns1/pods', want: { isResourceRequest: true, verb: 'list', apiGroup: '', apiVersion: 'v1', namespace: 'ns1', resource: 'pods', name: '' } },
  { name: 'watch through the query parameter', method: 'GET', path: '/api/v1/namespaces/ns1/pods', query: 'watch=true', want: { verb: 'watch', resource: 'pods' } },
  { name: 'watch through the legacy path prefix', method: 'GET', path: '/api/v1/watch/namespaces/ns1/pods', want: { verb: 'watch', namespace: 'ns1', resource: 'pods' } },
  { name: 'get of one object', method: 'GET', path: '/apis/apps/v1/namespaces/x/deployments/web', want: { verb: 'get', apiGroup: 'apps', namespace: 'x', resource: 'deployments', name: 'web' } },
  { name: 'a subresource', method: 'PUT', path: '/apis/apps/v1/namespaces/x/deployments/web/scale', want: { verb: 'update', name: 'web', subresource: 'scale' } },
  { name: 'a namespace itself is cluster-scoped', method: 'GET', path: '/api/v1/namespaces/x', want: { resource: 'namespaces', name: 'x', namespace: '' } },
  { name: 'a namespace status', method: 'PUT', path: '/api/v1/namespaces/x/status', want: { resource: 'namespaces', name: 'x', subresource: 'status' } },
  { name: 'a namespace finalize', method: 'PUT', path: '/api/v1/namespaces/x/finalize', want: { resource: 'namespaces', name: 'x', subresource: 'finalize' } },
  { name: 'delete without a name is deletecollection', method: 'DELETE', path: '/api/v1/namespaces/x/configmaps', want: { verb: 'deletecollection' } },
  { name: 'cluster-scoped list across all', method: 'GET', path: '/api/v1/nodes', want: { verb: 'list', resource: 'nodes', namespace: '' } },
  { name: 'discovery is not a resource request', method: 'GET', path: '/apis/apps/v1', want: { isResourceRequest: false } },
  { name: 'non-API paths are not resource requests', method: 'GET', path: '/healthz', want: { isResourceRequest: false, verb: 'get' } },
  { name: 'POST is create', method: 'POST', path: '/api/v1/namespaces/x/configmaps', want: { verb: 'create' } },
  { name: 'PATCH is patch', method: 'PATCH', path: '/api/v1/namespaces/x/configmaps/c', want: { verb: 'patch', name: 'c' } },
];

for (const c of cases) {
  test(c.name, () => {
    const got = parseRequestInfo(c.method, c.path, new URLSearchParams(c.query ?? ''));
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `${k} of ${c.path}`);
  });
}

// Upstream decodes `watch` with the parameter codec: anything but `0` or `false` (any case) is true.
const watchValues: { value: string; want: string }[] = [
  { value: 'true', want: 'watch' },
  { value: 'True', want: 'watch' },
  { value: 'TRUE', want: 'watch' },
  { value: '1', want: 'watch' },
  { value: 'yes', want: 'watch' },
  { value: '', want: 'watch' },
  { value: 'false', want: 'list' },
  { value: 'False', want: 'list' },
  { value: '0', want: 'list' },
];
for (const c of watchValues) {
  test(`watch=${c.value} is a ${c.want}`, () => {
    const got = parseRequestInfo('GET', '/api/v1/namespaces/ns1/pods', new URLSearchParams({ watch: c.value }));
    assert.equal(got.verb, c.want);
  });
}
