/**
 * The ServiceProxy's sync loop against the in-process API server (temporary SQLite store), with
 * a fake clock and the host side replaced by recorders: the first sync is full, a lone change
 * is applied at once, a burst within the minimum interval becomes one partial sync, a failed
 * restore makes the next sync full, and a vanished UDP endpoint has its conntrack flows deleted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EndpointSlice, Service } from '../api/index.ts';
import { ensurePki } from '../pki/index.ts';
import { openStore } from '../storage/index.ts';
import type { Store } from '../storage/types.ts';
import { builtinResources } from '../api/groups/index.ts';
import { ApiServer } from '../apiserver/server.ts';
import { bootstrap } from '../apiserver/bootstrap.ts';
import { clientset, createClient, FakeClock, type Clientset, type RestClient } from '../client/index.ts';
import { chainHash, ServiceProxy, type JumpRule } from './index.ts';

let dir = '';
let store: Store;
let api: ApiServer;
let client: RestClient;
let cs: Clientset;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-proxy-test-'));
  const pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
  store = await openStore(undefined, dir);
  api = new ApiServer({ store, resources: builtinResources, tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem }, port: 0 });
  const port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
  client = await createClient({ component: 'proxy-test', connection: { server: `https://127.0.0.1:${port}`, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem } });
  cs = clientset(client);
});
after(async () => {
  await client?.transport.close();
  await api?.close();
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const ns = 'default';
const svc = (name: string, ip: string, protocol = 'TCP'): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'p', port: 80, protocol }] } });
const slice = (service: string, ips: string[], protocol = 'TCP'): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${service}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  ports: [{ name: 'p', port: 8080, protocol }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
});

/** Steps the fake clock by 0 (firing due timers) until `cond` holds; real time bounds the wait. */
async function settle(clock: FakeClock, cond: () => boolean, what: string, detail?: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    clock.step(0);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('syncs: full first, a lone change at once, a burst coalesced, a failure followed by a full sync, UDP conntrack clean-up', async () => {
  const clock = new FakeClock();
  const applied: string[] = [];
  const inspected: number[] = [];
  const conntrack: string[][] = [];
  let failNext = false;
  const ac = new AbortController();
  const missing: JumpRule[] = [{ table: 'nat', hook: 'PREROUTING', rule: ['-j', 'KUBE-SERVICES'], position: 'first' }];
  const proxy = new ServiceProxy(
    {
      client,
      nodeName: 'n1',
      nodeIPs: ['10.42.0.1'],
      clusterCidr: '10.42.0.0/16',
      rewriteTopLevelChains: true, // upstream's top-level rewrites; the default shape has upstream's KUBE-SEP chains
      clock,
      minSyncIntervalMs: 1000,
      apply: async (text) => {
        if (failNext) {
          failNext = false;
          throw new Error('iptables-restore: line 3 failed');
        }
        applied.push(text);
      },
      inspect: async () => {
        inspected.push(applied.length);
        return { existing: { filter: [], nat: ['KUBE-SEP-STALESTALESTALE'] }, missingJumps: missing };
      },
      conntrack: async (calls) => void conntrack.push(...calls),
    },
    ac.signal,
  );
  try {
    await cs.services.create(svc('a', '10.43.1.10'), { namespace: ns });
    await cs.endpointSlices.create(slice('a', ['10.42.0.5']), { namespace: ns });
    await settle(clock, () => applied.some((t) => t.includes('10.42.0.5:8080')), 'the first sync with service a');
    await proxy.firstSync();
    assert.ok(inspected.length >= 1 && inspected[0] === 0, 'the first sync inspects the host');
    const first = applied.at(-1)!;
    assert.match(first, /^-I PREROUTING 1 -j KUBE-SERVICES$/m);
    assert.match(first, /^-X KUBE-SEP-STALESTALESTALE$/m);
    const syncsAfterFirst = applied.length;

    // A lone change after the interval has passed is applied without waiting, as a partial sync.
    clock.step(1000);
    await cs.services.create(svc('b', '10.43.1.11'), { namespace: ns });
    await settle(clock, () => applied.length > syncsAfterFirst, 'the sync for service b');
    const partial = applied.at(-1)!;
    assert.match(partial, /"default\/b:p has no endpoints"/);
    assert.ok(!partial.includes(`:KUBE-SVC-${chainHash('default/a:ptcp')}`), 'service a chains are not rewritten');
    assert.ok(partial.includes(`-j KUBE-SVC-${chainHash('default/a:ptcp')}`), 'KUBE-SERVICES keeps service a');
    assert.equal(inspected.length, 1, 'no host inspection on a partial sync');

    // A burst within the minimum interval: one sync when it ends.
    const before = applied.length;
    const events = proxy.stats.events;
    await cs.endpointSlices.create(slice('b', ['10.42.0.6']), { namespace: ns });
    await cs.services.create(svc('c', '10.43.1.12'), { namespace: ns });
    await cs.endpointSlices.create(slice('c', ['10.42.0.7']), { namespace: ns });
    await settle(clock, () => proxy.stats.events >= events + 3, 'three events');
    clock.step(990);
    assert.equal(applied.length, before, 'nothing applied inside the interval');
    clock.step(10);
    await settle(clock, () => applied.length === before + 1, 'one coalesced sync');
    assert.ok(applied.at(-1)!.includes('10.42.0.6:8080') && applied.at(-1)!.includes('10.42.0.7:8080'));

    // A failed restore: retried later as a full sync.
    failNext = true;
    clock.step(1000);
    await cs.services.delete('c', { namespace: ns });
    await settle(clock, () => proxy.stats.failures === 1, 'the failed sync', () => `${JSON.stringify(proxy.stats)} ${applied.length} ${failNext}`);
    clock.step(5000);
    await settle(clock, () => inspected.length === 2, 'a full sync after the failure');
    await settle(clock, () => !applied.at(-1)!.includes('10.42.0.7'), 'service c gone');
    assert.match(applied.at(-1)!, new RegExp(`^-X KUBE-SEP-${chainHash('default/c:ptcp10.42.0.7:8080')}$`, 'm'));

    // UDP: an endpoint that goes away has its flows deleted.
    clock.step(1000);
    await cs.services.create(svc('dns', '10.43.1.53', 'UDP'), { namespace: ns });
    await cs.endpointSlices.create(slice('dns', ['10.42.0.8', '10.42.0.9'], 'UDP'), { namespace: ns });
    clock.step(1000);
    await settle(clock, () => applied.at(-1)!.includes('10.42.0.9:8080'), 'the UDP service');
    clock.step(1000);
    const s = await cs.endpointSlices.get('dns-x', { namespace: ns });
    await cs.endpointSlices.update({ ...s, endpoints: s.endpoints.slice(0, 1) }, { namespace: ns });
    await settle(clock, () => conntrack.some((c) => c.includes('10.42.0.9')), 'conntrack clean-up');
    assert.deepEqual(conntrack.at(-1), ['-D', '-p', 'udp', '--orig-dst', '10.43.1.53', '--dst-nat', '10.42.0.9']);
  } finally {
    ac.abort();
    await proxy.done;
  }
});

test('the compact shape has no KUBE-SEP chains, and an endpoint change rewrites only its service chain', async () => {
  const clock = new FakeClock();
  const applied: string[] = [];
  const ac = new AbortController();
  const proxy = new ServiceProxy(
    {
      client,
      nodeName: 'n1',
      nodeIPs: ['10.42.0.1'],
      clusterCidr: '10.42.0.0/16',
      endpointChains: false,
      clock,
      minSyncIntervalMs: 1000,
      apply: async (text) => void applied.push(text),
      inspect: async () => ({ existing: { filter: [], nat: [] }, missingJumps: [] }),
      conntrack: async () => {},
    },
    ac.signal,
  );
  try {
    await cs.services.create(svc('compact', '10.43.1.20'), { namespace: ns });
    await cs.endpointSlices.create(slice('compact', ['10.42.0.20']), { namespace: ns });
    await settle(clock, () => applied.some((t) => t.includes('10.42.0.20:8080')), 'the compact service');
    assert.ok(!applied.at(-1)!.includes('KUBE-SEP-'), 'no endpoint chains');
    assert.match(applied.at(-1)!, /^-A KUBE-SVC-\S+ .*-j DNAT --to-destination 10\.42\.0\.20:8080$/m);
    const before = applied.length;
    clock.step(1000);
    const s = await cs.endpointSlices.get('compact-x', { namespace: ns });
    await cs.endpointSlices.update({ ...s, endpoints: [{ addresses: ['10.42.0.21'], conditions: { ready: true } }] }, { namespace: ns });
    await settle(clock, () => applied.length > before && applied.at(-1)!.includes('10.42.0.21:8080'), 'the endpoint change');
    const declared = applied.at(-1)!.split('\n').filter((l) => l.startsWith(':'));
    assert.deepEqual(declared, [`:KUBE-SVC-${chainHash('default/compact:ptcp')} - [0:0]`]);
  } finally {
    ac.abort();
    await proxy.done;
  }
});
