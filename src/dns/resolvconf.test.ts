import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../api/index.ts';
import { parseResolvConf, podDnsConfig, type PodDnsOptions } from './resolvconf.ts';

const host = { servers: ['192.0.2.53'], searches: ['corp.example'], options: ['timeout:2'] };
const opts: PodDnsOptions = { host, clusterDns: ['10.43.0.10'], clusterDomain: 'cluster.local' };

function pod(spec: Partial<NonNullable<Pod['spec']>> = {}, ns = 'team'): Pod {
  return { metadata: { name: 'p', namespace: ns, uid: 'u1' }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec } };
}

const cases: Array<{ name: string; pod: Pod; opts?: PodDnsOptions; want: { servers: string[]; searches: string[]; options: string[] }; events?: string[] }> = [
  {
    name: 'ClusterFirst (the default) uses the cluster DNS and the cluster search path',
    pod: pod(),
    want: { servers: ['10.43.0.10'], searches: ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'], options: ['ndots:5'] },
  },
  { name: 'ClusterFirst on the host network falls back to Default', pod: pod({ dnsPolicy: 'ClusterFirst', hostNetwork: true }), want: host },
  {
    name: 'ClusterFirstWithHostNet uses the cluster DNS on the host network',
    pod: pod({ dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true }),
    want: { servers: ['10.43.0.10'], searches: ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'], options: ['ndots:5'] },
  },
  { name: 'Default uses the host resolver', pod: pod({ dnsPolicy: 'Default' }), want: host },
  {
    name: 'None uses only dnsConfig',
    pod: pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.2.3.4'], searches: ['a.example'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }),
    want: { servers: ['1.2.3.4'], searches: ['a.example'], options: ['ndots:2', 'edns0'] },
  },
  {
    name: 'dnsConfig is merged: duplicates dropped, options overridden by name',
    pod: pod({ dnsConfig: { nameservers: ['10.43.0.10', '1.2.3.4'], searches: ['cluster.local', 'x.example'], options: [{ name: 'ndots', value: '1' }] } }),
    want: { servers: ['10.43.0.10', '1.2.3.4'], searches: ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'x.example'], options: ['ndots:1'] },
  },
  {
    name: 'at most three nameservers, with a DNSConfigForming warning',
    pod: pod({ dnsPolicy: 'Default', dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3'] } }),
    want: { servers: ['192.0.2.53', '1.1.1.1', '2.2.2.2'], searches: ['corp.example'], options: ['timeout:2'] },
    events: ['DNSConfigForming: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 192.0.2.53 1.1.1.1 2.2.2.2'],
  },
  {
    name: 'without a cluster DNS address ClusterFirst falls back to Default with a MissingClusterDNS warning',
    pod: pod(),
    opts: { ...opts, clusterDns: [] },
    want: host,
    events: ['MissingClusterDNS: pod: "p_team(u1)". kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.'],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const got = podDnsConfig(c.pod, c.opts ?? opts);
    assert.deepEqual({ servers: got.servers, searches: got.searches, options: got.options }, c.want);
    assert.deepEqual(
      got.events.map((e) => `${e.reason}: ${e.message}`),
      c.events ?? [],
    );
  });
}

test('at most 32 search domains', () => {
  const searches = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
  const got = podDnsConfig(pod({ dnsPolicy: 'None', dnsConfig: { searches } }), opts);
  assert.equal(got.searches.length, 32);
  assert.deepEqual(got.searches, searches.slice(0, 32));
  assert.match(got.events[0]!.message, /^Search Line limits were exceeded/);
});

test('32 search domains are kept without a warning (the edge)', () => {
  const searches = Array.from({ length: 32 }, (_, i) => `d${i}.example`);
  const got = podDnsConfig(pod({ dnsPolicy: 'None', dnsConfig: { searches } }), opts);
  assert.equal(got.searches.length, 32);
  assert.deepEqual(got.events, []);
});

test('the search line is cut to 2048 characters, and domains over 253 characters dropped', () => {
  const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(20)}`; // 264 chars
  const d = (i: number) => `${String(i).padStart(2, '0')}${'x'.repeat(97)}.example`; // 107 chars
  const searches = [long, ...Array.from({ length: 25 }, (_, i) => d(i))];
  const got = podDnsConfig(pod({ dnsPolicy: 'None', dnsConfig: { searches } }), opts);
  assert.ok(!got.searches.includes(long));
  assert.ok(got.searches.join(' ').length <= 2048);
  // 19 domains of 107 characters make 2051 characters with their spaces: one more goes.
  assert.equal(got.searches.length, 18);
  assert.equal(got.events.length, 1);
});

test('resolv.conf parsing: nameservers accumulate, the last search and options win, comments skipped', () => {
  const cfg = parseResolvConf('# c\nnameserver 1.1.1.1\nsearch a.example b.example.\nnameserver 8.8.8.8\nsearch c.example\noptions ndots:2 rotate\n; x\n');
  assert.deepEqual(cfg, { servers: ['1.1.1.1', '8.8.8.8'], searches: ['c.example'], options: ['ndots:2', 'rotate'] });
});
