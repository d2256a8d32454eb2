/**
 * Cluster DNS served by the node agent on its node IP (10.42.0.1:53, UDP and TCP): the kube-dns
 * Service and this node's EndpointSlice for it, Service, headless and ExternalName records
 * queried from the test process (dns-packet) and from a pod (busybox nslookup), NXDOMAIN for
 * unknown names, and the pods' /etc/resolv.conf per dnsPolicy.
 *
 * Names outside the cluster go to a fake resolver on 127.0.0.153:53 that this test runs and
 * names in the server's --resolv-conf: no query leaves the machine.
 * Run under the agent lock: `flock /tmp/bosun-agent.lock node --test test/e2e/dns.test.ts`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DecodedPacket } from 'dns-packet';
import type { EndpointSlice, Pod, Service } from '../../src/api/index.ts';
import { queryPacket, queryTcp, queryUdp, rcodeOf } from '../../src/dns/client.ts';
import { kubectl, kubectlOk, kubectlVersions, until, waitForServiceAccount, useServer, type ServerHandle, getPod, isPodReady } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';
import { startFakeResolver, type FakeResolver } from './network.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const nodeIP = '10.42.0.1';
const fakeResolver = '127.0.0.153';
const newest = kubectlVersions.at(-1)!;
const dnsAt = { host: nodeIP, port: 53, timeoutMs: 3000 };

/** The fake upstream: `a.example.test` A 192.0.2.1, NXDOMAIN for anything else. */
let upstream: FakeResolver | undefined;
let resolvConf = '';
if (!skip) {
  upstream = await startFakeResolver(fakeResolver);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-dns-'));
  resolvConf = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConf, `nameserver ${fakeResolver}\nsearch corp.test\n`);
  after(() => {
    upstream?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

let server!: ServerHandle;
if (!skip) useServer({ agent: true, args: ['--resolv-conf', resolvConf] }, (s) => (server = s));

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk(server, newest, [...args, '-o', 'json'])) as T;
}

async function apply(manifest: unknown): Promise<string> {
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  return kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
}

async function waitReady(name: string): Promise<Pod> {
  return until(`pod ${name} Ready`, async () => {
    const p = await getPod(server, name);
    return isPodReady(p) ? p : undefined;
  }, { timeoutMs: 60_000, detail: () => server.output().slice(-3000) });
}

const addresses = (p: DecodedPacket) => (p.answers ?? []).filter((a) => a.type === 'A').map((a) => (a as { data: string }).data);

const sleeper = (name: string, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: busyboxImage, command: ['sleep', '3600'] }], ...extra },
});

let webIP = '';
let dbPodIP = '';

test('the kube-dns Service exists and this node publishes its EndpointSlice', { skip }, async () => {
  const svc = await getJson<Service>(['get', 'service', 'kube-dns', '-n', 'kube-system']);
  assert.equal(svc.spec?.clusterIP, '10.43.0.10');
  assert.equal(svc.spec?.internalTrafficPolicy, 'Local');
  assert.equal(svc.spec?.selector, undefined);
  assert.deepEqual(svc.spec?.ports?.map((p) => `${p.name}/${p.port}/${p.protocol}`), ['dns/53/UDP', 'dns-tcp/53/TCP', 'metrics/9153/TCP']);
  assert.equal(svc.metadata.labels?.['k8s-app'], 'kube-dns');
  const slice = await until('the kube-dns EndpointSlice', async () => {
    const list = await getJson<{ items: EndpointSlice[] }>(['get', 'endpointslices', '-n', 'kube-system', '-l', 'kubernetes.io/service-name=kube-dns']);
    return list.items[0];
  });
  assert.match(slice.metadata.name!, /^kube-dns-/);
  assert.equal(slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'bosun-agent');
  assert.deepEqual(slice.endpoints.map((e) => [e.addresses[0], e.conditions?.ready]), [[nodeIP, true]]);
});

test('Services, a headless Service with a pod and an ExternalName Service', { skip }, async () => {
  await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'pg', port: 5432 }] } });
  await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'a.example.test' } });
  await apply(sleeper('db-0', { hostname: 'db-0', subdomain: 'db', containers: [{ name: 'main', image: busyboxImage, command: ['sleep', '3600'], ports: [{ name: 'pg', containerPort: 5432 }] }] }, { app: 'db' }));
  await apply(sleeper('client'));
  await apply(sleeper('custom', { dnsPolicy: 'None', dnsConfig: { nameservers: [nodeIP], searches: ['default.svc.cluster.local'], options: [{ name: 'ndots', value: '2' }] } }));
  await apply(sleeper('many', { dnsConfig: { nameservers: ['192.0.2.1', '192.0.2.2', '192.0.2.3'] } }));
  webIP = (await getJson<Service>(['get', 'service', 'web'])).spec!.clusterIP!;
  dbPodIP = (await waitReady('db-0')).status!.podIP!;
  await waitReady('client');
  await waitReady('custom');
  await waitReady('many');
});

test('names resolve over UDP and TCP at the node IP', { skip }, async () => {
  for (const query of [queryUdp, queryTcp]) {
    const web = await query(queryPacket('web.default.svc.cluster.local', 'A'), dnsAt);
    assert.deepEqual(addresses(web), [webIP]);
    assert.ok(web.flag_aa);
    assert.equal((web.answers?.[0] as { ttl?: number } | undefined)?.ttl, 5);
    const db = await until('the headless Service answers its pod', async () => {
      const r = await query(queryPacket('db.default.svc.cluster.local', 'A'), dnsAt);
      return addresses(r).length ? r : undefined;
    });
    assert.deepEqual(addresses(db), [dbPodIP]);
    assert.deepEqual(addresses(await query(queryPacket('db-0.db.default.svc.cluster.local', 'A'), dnsAt)), [dbPodIP]);
    const srv = await query(queryPacket('_pg._tcp.db.default.svc.cluster.local', 'SRV'), dnsAt);
    assert.deepEqual(
      (srv.answers ?? []).map((a) => (a as { data: { port: number; target: string } }).data).map((d) => `${d.port} ${d.target}`),
      ['5432 db-0.db.default.svc.cluster.local'],
    );
  }
});

test('unknown names are NXDOMAIN, IPv6 questions for IPv4 names NODATA', { skip }, async () => {
  const nx = await queryUdp(queryPacket('nope.default.svc.cluster.local', 'A'), dnsAt);
  assert.equal(rcodeOf(nx), 'NXDOMAIN');
  assert.equal(nx.authorities?.[0]?.type, 'SOA');
  const aaaa = await queryUdp(queryPacket('web.default.svc.cluster.local', 'AAAA'), dnsAt);
  assert.equal(rcodeOf(aaaa), 'NOERROR');
  assert.equal(aaaa.answers?.length, 0);
});

test('an ExternalName Service answers a CNAME resolved through the upstream resolver; PTR names a Service', { skip }, async () => {
  const ext = await queryUdp(queryPacket('ext.default.svc.cluster.local', 'A'), dnsAt);
  assert.deepEqual(
    (ext.answers ?? []).map((a) => `${a.type} ${(a as { data: string }).data}`),
    ['CNAME a.example.test', 'A 192.0.2.1'],
  );
  assert.ok(upstream!.asked.includes('a.example.test A'), 'the fake upstream was asked');
  const ptr = await queryUdp(queryPacket(`${webIP.split('.').reverse().join('.')}.in-addr.arpa`, 'PTR'), dnsAt);
  assert.deepEqual(ptr.answers?.map((a) => (a as { data: string }).data), ['web.default.svc.cluster.local']);
});

test('a pod resolves cluster names with nslookup against the node', { skip }, async () => {
  const ok = await kubectlOk(server, newest, ['exec', 'client', '--', 'nslookup', 'web.default.svc.cluster.local', nodeIP]);
  assert.match(ok, new RegExp(`Address:\\s+${webIP.replace(/\./g, '\\.')}`));
  const db = await kubectlOk(server, newest, ['exec', 'client', '--', 'nslookup', 'db-0.db.default.svc.cluster.local', nodeIP]);
  assert.match(db, new RegExp(`Address:\\s+${dbPodIP.replace(/\./g, '\\.')}`));
  const nx = await kubectl(server, newest, ['exec', 'client', '--', 'nslookup', 'nope.default.svc.cluster.local', nodeIP]);
  assert.notEqual(nx.code, 0);
  assert.match(nx.stdout + nx.stderr, /NXDOMAIN/);
});

test('pods get /etc/resolv.conf per dnsPolicy', { skip }, async () => {
  const lines = async (pod: string) => (await kubectlOk(server, newest, ['exec', pod, '--', 'cat', '/etc/resolv.conf'])).split('\n').map((l) => l.trim()).filter(Boolean).sort();
  assert.deepEqual(await lines('client'), ['nameserver 10.43.0.10', 'options ndots:5', 'search default.svc.cluster.local svc.cluster.local cluster.local corp.test']);
  assert.deepEqual(await lines('custom'), [`nameserver ${nodeIP}`, 'options ndots:2', 'search default.svc.cluster.local']);
});

test('through the kube-dns Service address (the service proxy), a pod resolves a short name with its search path', { skip }, async () => {
  // busybox nslookup asks every search domain and exits 1 when any of them is NXDOMAIN (as the
  // later ones are), so the answer for the first one is what counts.
  const r = await until('nslookup web via 10.43.0.10', async () => {
    const res = await kubectl(server, newest, ['exec', 'client', '--', 'timeout', '5', 'nslookup', 'web']);
    const out = `${res.stdout}\n${res.stderr}`;
    return /Name:\s+web\.default\.svc\.cluster\.local/.test(out) ? out : undefined;
  }, { timeoutMs: 20_000, detail: () => server.output().slice(-2000) });
  assert.match(r, /Server:\s+10\.43\.0\.10/);
  assert.match(r, new RegExp(`Name:\\s+web\\.default\\.svc\\.cluster\\.local\\s+Address:\\s+${webIP.replace(/\./g, '\\.')}`));
  assert.match(r, /can't find web\.svc\.cluster\.local: NXDOMAIN/);
});

test('a pod over the nameserver limit gets the first three and a DNSConfigForming warning', { skip }, async () => {
  const lines = (await kubectlOk(server, newest, ['exec', 'many', '--', 'cat', '/etc/resolv.conf'])).split('\n').filter((l) => l.startsWith('nameserver'));
  // ClusterFirst: the cluster DNS first, then dnsConfig's; the API allows three of those, the kubelet three in all.
  assert.deepEqual(lines, ['nameserver 10.43.0.10', 'nameserver 192.0.2.1', 'nameserver 192.0.2.2']);
  const ev = await until('the DNSConfigForming event', async () => {
    const list = await getJson<{ items: { reason?: string; type?: string; message?: string }[] }>(['get', 'events', '--field-selector', 'involvedObject.name=many']);
    return list.items.find((e) => e.reason === 'DNSConfigForming');
  });
  assert.equal(ev.type, 'Warning');
  assert.match(ev.message ?? '', /^Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: /);
});
