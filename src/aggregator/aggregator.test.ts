import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendHeaders, escapeExtraKey } from './proxy.ts';
import { legacyToAggregated } from './backend.ts';
import { serviceCondition, withCondition } from './available.ts';
import { localGroupPriority } from './priorities.ts';
import { buildDiscovery } from '../apiserver/discovery.ts';
import { ResourceRegistry } from '../apiserver/registry.ts';
import { builtinResources } from '../api/groups/index.ts';
import type { APIService, EndpointSlice, Service } from '../api/index.ts';

test('backend headers drop the caller credentials and carry the identity as X-Remote-*', () => {
  const h = backendHeaders(
    { ':path': '/x', authorization: 'Bearer t', 'impersonate-user': 'u', 'x-remote-user': 'forged', 'accept-encoding': 'gzip', accept: 'application/json', connection: 'keep-alive' },
    { username: 'alice', groups: ['dev', 'system:authenticated'], extra: { 'scopes.example.com/a b': ['x', 'y'] } },
    { clientIP: '10.0.0.1' },
  );
  assert.deepEqual(h, {
    accept: 'application/json',
    'x-forwarded-for': '10.0.0.1',
    'x-remote-user': 'alice',
    'x-remote-group': ['dev', 'system:authenticated'],
    'x-remote-extra-scopes.example.com%2Fa%20b': ['x', 'y'],
  });
  assert.equal(escapeExtraKey("it's"), 'it%27s');
});

test('a legacy APIResourceList converts to aggregated entries with subresources', () => {
  assert.deepEqual(
    legacyToAggregated([
      { name: 'flunders', singularName: 'flunder', namespaced: true, kind: 'Flunder', verbs: ['get'] },
      { name: 'flunders/status', namespaced: true, kind: 'Flunder', verbs: ['get', 'patch'] },
    ]),
    [{ resource: 'flunders', responseKind: { group: '', version: '', kind: 'Flunder' }, scope: 'Namespaced', singularResource: 'flunder', verbs: ['get'], subresources: [{ subresource: 'status', responseKind: { group: '', version: '', kind: 'Flunder' }, verbs: ['get', 'patch'] }] }],
  );
});

const api = (port = 443): APIService => ({ metadata: { name: 'v1.x.io' }, spec: { group: 'x.io', version: 'v1', service: { namespace: 'ns', name: 'api', port }, groupPriorityMinimum: 100, versionPriority: 10 } });
const service: Service = { metadata: { name: 'api', namespace: 'ns' }, spec: { ports: [{ name: 'https', port: 443 }] } };
const slice = (ready: boolean): EndpointSlice => ({ metadata: { name: 'api-1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'api' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.42.0.5'], conditions: { ready } }], ports: [{ name: 'https', port: 8443 }] });

const condCases = [
  { name: 'no Service: ServiceNotFound', svc: undefined, slices: [], port: 443, want: ['ServiceNotFound', 'service/api in "ns" is not present'] },
  { name: 'a port the Service lacks: ServicePortError', svc: service, slices: [], port: 444, want: ['ServicePortError', 'service/api in "ns" is not listening on port 444'] },
  { name: 'no EndpointSlices: EndpointsNotFound', svc: service, slices: [], port: 443, want: ['EndpointsNotFound', 'cannot find endpointslices for service/api in "ns"'] },
  { name: 'no ready endpoint: MissingEndpoints', svc: service, slices: [slice(false)], port: 443, want: ['MissingEndpoints', 'endpointslices for service/api in "ns" have no addresses with port name "https"'] },
  { name: 'a ready endpoint: on to the discovery check', svc: service, slices: [slice(true)], port: 443, want: undefined },
];
for (const c of condCases) {
  test(c.name, () => {
    const got = serviceCondition(api(c.port), { service: () => c.svc, endpointSlices: () => c.slices });
    assert.deepEqual(got && [got.reason, got.message], c.want);
  });
}

test('a condition keeps its transition time while its status stays', () => {
  const s = api();
  s.status = withCondition(s, { type: 'Available', status: 'False', reason: 'A', message: 'a' }, 't1');
  assert.equal(withCondition(s, { type: 'Available', status: 'False', reason: 'A', message: 'a' }, 't2'), undefined);
  assert.equal(withCondition(s, { type: 'Available', status: 'False', reason: 'B', message: 'b' }, 't2')!.conditions![0]!.lastTransitionTime, 't1');
  assert.equal(withCondition(s, { type: 'Available', status: 'True', reason: 'Passed', message: 'all checks passed' }, 't3')!.conditions![0]!.lastTransitionTime, 't3');
});

test('discovery: without remote groups the documents are the registry\'s; a remote group is placed by priority', () => {
  const registry = new ResourceRegistry(builtinResources);
  const plain = buildDiscovery(registry);
  let groups = [{ group: 'x.io', priority: 17900, versions: [{ version: 'v1', resources: [{ resource: 'things' }], freshness: 'Current' as const }] }];
  const remote = { generation: 1, groups: () => groups, localPriority: localGroupPriority };
  const merged = buildDiscovery(registry, { ...remote, groups: () => [] });
  assert.deepEqual(merged.apiGroupList(), plain.apiGroupList());
  assert.equal(merged.aggregated(false, 'v2').body, plain.aggregated(false, 'v2').body);
  const withRemote = buildDiscovery(registry, remote);
  const names = (withRemote.apiGroupList() as { groups: { name: string }[] }).groups.map((g) => g.name);
  // Before the first local group of lower priority (apps, 17800, comes first in the registry).
  const local = names.filter((n) => n !== 'x.io');
  assert.equal(names.indexOf('x.io'), local.findIndex((n) => localGroupPriority(n) < 17900));
  assert.deepEqual(withRemote.apiGroup('x.io'), { kind: 'APIGroup', apiVersion: 'v1', name: 'x.io', versions: [{ groupVersion: 'x.io/v1', version: 'v1' }], preferredVersion: { groupVersion: 'x.io/v1', version: 'v1' } });
  const agg = JSON.parse(withRemote.aggregated(false, 'v2').body) as { items: { metadata: { name: string }; versions: unknown[] }[] };
  assert.deepEqual(agg.items.find((i) => i.metadata.name === 'x.io')!.versions, [{ version: 'v1', resources: [{ resource: 'things' }], freshness: 'Current' }]);
  // A new generation is seen by the aggregated document.
  groups = [];
  (remote as { generation: number }).generation = 2;
  assert.ok(!JSON.parse(withRemote.aggregated(false, 'v2').body).items.some((i: { metadata: { name: string } }) => i.metadata.name === 'x.io'));
});

test('a backend that never answers is a 503 i/o timeout after the headers bound', async () => {
  const { makeTls } = await import('../apiserver/admission/webhook/testing.ts');
  const { proxyRequest } = await import('./proxy.ts');
  const net = await import('node:net');
  const http = await import('node:http');
  const tls = await makeTls();
  // Accepts connections and says nothing: no TLS handshake, no response.
  const held: import('node:net').Socket[] = [];
  const silent = net.createServer((s) => held.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as import('node:net').AddressInfo).port;
  const front = http.createServer((req, res) => {
    void proxyRequest({
      req: req as never,
      res: res as never,
      target: { host: '127.0.0.1', port, serverName: 'api.ns.svc', ca: tls.caPem, insecureSkipTLSVerify: false, clientCert: { certPem: tls.certPem, keyPem: tls.keyPem } },
      user: { username: 'u', groups: [] },
      headersTimeoutMs: 200,
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  try {
    const started = Date.now();
    const got = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: (front.address() as import('node:net').AddressInfo).port, path: '/apis/x/v1' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    assert.equal(got.status, 503);
    assert.match(got.body, /error trying to reach service: dial tcp 127\.0\.0\.1:\d+: i\/o timeout/);
    assert.ok(Date.now() - started < 5000);
  } finally {
    for (const s of held) s.destroy();
    silent.close();
    front.close();
  }
});
