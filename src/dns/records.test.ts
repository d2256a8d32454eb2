import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer, RecordType } from 'dns-packet';
import type { EndpointSlice, Service } from '../api/index.ts';
import { answer, ClusterView, type AnswerResult, type ZoneOptions } from './records.ts';

function svc(ns: string, name: string, spec: Service['spec']): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec };
}

function slice(ns: string, svcName: string, name: string, eps: Array<{ ip: string; hostname?: string; ready?: boolean }>, ports: EndpointSlice['ports']): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': svcName } },
    addressType: 'IPv4',
    endpoints: eps.map((e) => ({ addresses: [e.ip], hostname: e.hostname, conditions: { ready: e.ready ?? true } })),
    ports,
  };
}

function cluster(): ClusterView {
  const v = new ClusterView();
  for (const ns of ['default', 'kube-system', 'apps']) v.upsertNamespace(ns);
  v.upsertService(svc('default', 'web', { clusterIP: '10.43.0.20', clusterIPs: ['10.43.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
  v.upsertService(svc('default', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }));
  v.upsertSlice(
    slice('default', 'db', 'db-abc', [{ ip: '10.42.0.7', hostname: 'db-0' }, { ip: '10.42.0.8', hostname: 'db-1' }, { ip: '10.42.0.9' }, { ip: '10.42.0.10', ready: false }], [{ name: 'pg', port: 5432, protocol: 'TCP' }]),
  );
  v.upsertService(svc('default', 'empty', { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] }));
  v.upsertService(svc('default', 'ext', { type: 'ExternalName', externalName: 'example.test' }));
  v.upsertService(svc('apps', 'big', { clusterIP: 'None' }));
  v.upsertSlice(
    slice(
      'apps',
      'big',
      'big-1',
      Array.from({ length: 60 }, (_, i) => ({ ip: `10.42.1.${i + 1}` })),
      [],
    ),
  );
  return v;
}

const zone: ZoneOptions = { domain: 'cluster.local', dnsIP: '10.43.0.10', reverseCidrs: ['10.43.0.0/16', '10.42.0.0/16'] };

function ask(name: string, type: RecordType, view = cluster(), opts = zone): AnswerResult {
  const r = answer({ name, type, class: 'IN' }, view, opts);
  assert.equal(r.kind, 'answer', `${name} should be answered locally`);
  return r as AnswerResult;
}

const data = (rs: Answer[]) => rs.map((r) => (r as { data: unknown }).data);

const cases: Array<{ name: string; q: [string, RecordType]; rcode: string; want?: unknown[]; soa?: boolean }> = [
  { name: 'a ClusterIP Service answers its address', q: ['web.default.svc.cluster.local', 'A'], rcode: 'NOERROR', want: ['10.43.0.20'] },
  { name: 'names are case-insensitive and may end in a dot', q: ['WEB.Default.svc.cluster.local.', 'A'], rcode: 'NOERROR', want: ['10.43.0.20'] },
  { name: 'AAAA of an IPv4-only Service is NODATA with the SOA', q: ['web.default.svc.cluster.local', 'AAAA'], rcode: 'NOERROR', want: [], soa: true },
  { name: 'TXT of a Service is NODATA', q: ['web.default.svc.cluster.local', 'TXT'], rcode: 'NOERROR', want: [], soa: true },
  { name: 'an unknown Service is NXDOMAIN with the SOA', q: ['nope.default.svc.cluster.local', 'A'], rcode: 'NXDOMAIN', want: [], soa: true },
  { name: 'a Service in another namespace is not found by the wrong namespace', q: ['web.apps.svc.cluster.local', 'A'], rcode: 'NXDOMAIN', soa: true },
  { name: 'a headless Service answers its ready endpoints', q: ['db.default.svc.cluster.local', 'A'], rcode: 'NOERROR', want: ['10.42.0.7', '10.42.0.8', '10.42.0.9'] },
  { name: 'an endpoint hostname answers its address', q: ['db-0.db.default.svc.cluster.local', 'A'], rcode: 'NOERROR', want: ['10.42.0.7'] },
  { name: 'an endpoint without hostname is named by its dashed address', q: ['10-42-0-9.db.default.svc.cluster.local', 'A'], rcode: 'NOERROR', want: ['10.42.0.9'] },
  { name: 'a not-ready endpoint is not published', q: ['10-42-0-10.db.default.svc.cluster.local', 'A'], rcode: 'NXDOMAIN' },
  { name: 'a headless Service without endpoints is NXDOMAIN (as CoreDNS)', q: ['empty.default.svc.cluster.local', 'A'], rcode: 'NXDOMAIN' },
  { name: 'SRV of a named port', q: ['_http._tcp.web.default.svc.cluster.local', 'SRV'], rcode: 'NOERROR', want: [{ priority: 0, weight: 100, port: 80, target: 'web.default.svc.cluster.local' }] },
  { name: 'SRV with a wrong protocol is NXDOMAIN', q: ['_http._udp.web.default.svc.cluster.local', 'SRV'], rcode: 'NXDOMAIN' },
  { name: 'SRV of an unknown port is NXDOMAIN', q: ['_nope._tcp.web.default.svc.cluster.local', 'SRV'], rcode: 'NXDOMAIN' },
  { name: 'SRV of the Service name lists every port', q: ['web.default.svc.cluster.local', 'SRV'], rcode: 'NOERROR', want: [{ priority: 0, weight: 50, port: 80, target: 'web.default.svc.cluster.local' }, { priority: 0, weight: 50, port: 53, target: 'web.default.svc.cluster.local' }] },
  {
    name: 'SRV of a headless Service names each endpoint',
    q: ['_pg._tcp.db.default.svc.cluster.local', 'SRV'],
    rcode: 'NOERROR',
    want: [
      { priority: 0, weight: 33, port: 5432, target: 'db-0.db.default.svc.cluster.local' },
      { priority: 0, weight: 33, port: 5432, target: 'db-1.db.default.svc.cluster.local' },
      { priority: 0, weight: 33, port: 5432, target: '10-42-0-9.db.default.svc.cluster.local' },
    ],
  },
  { name: 'A of an SRV-style name answers the Service address', q: ['_http._tcp.web.default.svc.cluster.local', 'A'], rcode: 'NOERROR', want: ['10.43.0.20'] },
  { name: 'an ExternalName Service is a CNAME', q: ['ext.default.svc.cluster.local', 'A'], rcode: 'NOERROR', want: ['example.test'] },
  { name: 'a pod name answers the dashed address', q: ['10-42-0-5.default.pod.cluster.local', 'A'], rcode: 'NOERROR', want: ['10.42.0.5'] },
  { name: 'a malformed pod name is NXDOMAIN', q: ['10-42-0-300.default.pod.cluster.local', 'A'], rcode: 'NXDOMAIN' },
  { name: 'AAAA of a pod name is NODATA', q: ['10-42-0-5.default.pod.cluster.local', 'AAAA'], rcode: 'NOERROR', want: [], soa: true },
  { name: 'an existing namespace is NODATA', q: ['default.svc.cluster.local', 'A'], rcode: 'NOERROR', want: [], soa: true },
  { name: 'an unknown namespace is NXDOMAIN', q: ['ghost.svc.cluster.local', 'A'], rcode: 'NXDOMAIN', soa: true },
  { name: 'svc.<zone> itself exists (NODATA)', q: ['svc.cluster.local', 'A'], rcode: 'NOERROR', want: [], soa: true },
  { name: 'the zone apex answers its SOA', q: ['cluster.local', 'SOA'], rcode: 'NOERROR' },
  { name: 'the zone apex has no A (NODATA)', q: ['cluster.local', 'A'], rcode: 'NOERROR', want: [], soa: true },
  { name: 'dns-version answers the schema version', q: ['dns-version.cluster.local', 'TXT'], rcode: 'NOERROR', want: [['1.1.0']] },
  { name: 'ns.dns answers the DNS Service address', q: ['ns.dns.cluster.local', 'A'], rcode: 'NOERROR', want: ['10.43.0.10'] },
  // What a pod's resolver asks while walking its search path (ndots:5).
  { name: 'search path: a name with the namespace search domain appended twice is NXDOMAIN', q: ['web.default.svc.cluster.local.default.svc.cluster.local', 'A'], rcode: 'NXDOMAIN' },
  { name: 'search path: <svc>.<ns> + <ns>.svc.<zone> is NXDOMAIN (no Service named after the namespace)', q: ['web.default.default.svc.cluster.local', 'A'], rcode: 'NXDOMAIN' },
  { name: 'search path: <svc>.<ns> + svc.<zone> resolves', q: ['web.default.svc.cluster.local', 'A'], rcode: 'NOERROR', want: ['10.43.0.20'] },
  { name: 'search path: an outside name + svc.<zone> is NXDOMAIN', q: ['example.com.svc.cluster.local', 'A'], rcode: 'NXDOMAIN' },
  { name: 'search path: an outside name + <zone> is NXDOMAIN', q: ['example.com.cluster.local', 'A'], rcode: 'NXDOMAIN' },
  { name: 'PTR of a Service address', q: ['20.0.43.10.in-addr.arpa', 'PTR'], rcode: 'NOERROR', want: ['web.default.svc.cluster.local'] },
  { name: 'PTR of an endpoint address', q: ['7.0.42.10.in-addr.arpa', 'PTR'], rcode: 'NOERROR', want: ['db-0.db.default.svc.cluster.local'] },
  { name: 'PTR of an unknown address in the service range is NXDOMAIN', q: ['99.0.43.10.in-addr.arpa', 'PTR'], rcode: 'NXDOMAIN', soa: true },
];

for (const c of cases) {
  test(c.name, () => {
    const r = ask(...c.q);
    assert.equal(r.rcode, c.rcode);
    if (c.want) assert.deepEqual(data(r.answers), c.want);
    if (c.soa !== undefined) assert.equal(r.authorities.some((a) => a.type === 'SOA'), c.soa);
    if (r.rcode === 'NXDOMAIN') assert.equal(r.answers.length, 0);
    assert.ok(r.answers.every((a) => (a as { ttl?: number }).ttl === 5), 'cluster records have a TTL of 5 s');
  });
}

test('owner names echo the question as asked', () => {
  const r = ask('Web.Default.svc.cluster.local', 'A');
  assert.equal(r.answers[0]!.name, 'Web.Default.svc.cluster.local');
});

test('names outside the zone are forwarded, also reverse names outside the cluster ranges', () => {
  assert.deepEqual(answer({ name: 'example.com', type: 'A' }, cluster(), zone), { kind: 'forward' });
  assert.deepEqual(answer({ name: '1.1.168.192.in-addr.arpa', type: 'PTR' }, cluster(), zone), { kind: 'forward' });
});

test('the cluster domain is configurable', () => {
  const opts = { ...zone, domain: 'corp.internal' };
  assert.deepEqual(data(ask('web.default.svc.corp.internal', 'A', cluster(), opts).answers), ['10.43.0.20']);
  assert.deepEqual(answer({ name: 'web.default.svc.cluster.local', type: 'A' }, cluster(), opts), { kind: 'forward' });
});

test('SRV answers carry the targets’ addresses as additional records', () => {
  const r = ask('_pg._tcp.db.default.svc.cluster.local', 'SRV');
  assert.deepEqual(
    r.additionals.map((a) => [a.name, (a as { data: string }).data]),
    [
      ['db-0.db.default.svc.cluster.local', '10.42.0.7'],
      ['db-1.db.default.svc.cluster.local', '10.42.0.8'],
      ['10-42-0-9.db.default.svc.cluster.local', '10.42.0.9'],
    ],
  );
});

test('an ExternalName answer asks for its target to be resolved, except for CNAME queries', () => {
  assert.equal(ask('ext.default.svc.cluster.local', 'A').chase, 'example.test');
  assert.equal(ask('ext.default.svc.cluster.local', 'CNAME').chase, undefined);
  assert.equal(ask('x.ext.default.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
});

test('changes to Services and slices show in the next answer', () => {
  const v = cluster();
  v.deleteService(svc('default', 'web', {}));
  assert.equal(ask('web.default.svc.cluster.local', 'A', v).rcode, 'NXDOMAIN');
  assert.equal(ask('20.0.43.10.in-addr.arpa', 'PTR', v).rcode, 'NXDOMAIN');
  v.upsertSlice(slice('default', 'db', 'db-abc', [{ ip: '10.42.0.50', hostname: 'db-0' }], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
  assert.deepEqual(data(ask('db.default.svc.cluster.local', 'A', v).answers), ['10.42.0.50']);
  v.deleteSlice(slice('default', 'db', 'db-abc', [], []));
  assert.equal(ask('db.default.svc.cluster.local', 'A', v).rcode, 'NXDOMAIN');
});

test('verified pod records need a pod with that address in the namespace', () => {
  const v = cluster();
  const opts: ZoneOptions = { ...zone, pods: 'verified' };
  assert.equal(ask('10-42-0-5.default.pod.cluster.local', 'A', v, opts).rcode, 'NXDOMAIN');
  v.upsertPod({ metadata: { namespace: 'default', name: 'p' }, status: { podIP: '10.42.0.5' } });
  assert.equal(ask('10-42-0-5.default.pod.cluster.local', 'A', v, opts).rcode, 'NOERROR');
  assert.equal(ask('10-42-0-5.apps.pod.cluster.local', 'A', v, opts).rcode, 'NXDOMAIN');
  v.deletePod({ metadata: { namespace: 'default', name: 'p' } });
  assert.equal(ask('10-42-0-5.default.pod.cluster.local', 'A', v, opts).rcode, 'NXDOMAIN');
});

test('a large headless Service answers every ready endpoint', () => {
  assert.equal(ask('big.apps.svc.cluster.local', 'A').answers.length, 60);
});

test('publishNotReadyAddresses publishes not-ready endpoints too, as soon as the Service says so', () => {
  const v = cluster();
  assert.equal(ask('10-42-0-10.db.default.svc.cluster.local', 'A', v).rcode, 'NXDOMAIN');
  v.upsertService(svc('default', 'db', { clusterIP: 'None', publishNotReadyAddresses: true, ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }));
  assert.deepEqual(data(ask('10-42-0-10.db.default.svc.cluster.local', 'A', v).answers), ['10.42.0.10']);
});
