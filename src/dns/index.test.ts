/**
 * startClusterDns against the in-process API server (on a temporary SQLite store): the bootstrap
 * kube-dns Service, this node's EndpointSlice (kept, re-created when deleted, removed on a clean
 * stop) and records that follow the informers. Served on 127.0.0.1 (the slice names a TEST-NET
 * address: the API refuses loopback endpoints) with no upstream resolver.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EndpointSlice } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import { ensurePki } from '../pki/index.ts';
import { openStore } from '../storage/index.ts';
import type { Store } from '../storage/types.ts';
import { builtinResources } from '../api/groups/index.ts';
import { ApiServer } from '../apiserver/server.ts';
import { bootstrap } from '../apiserver/bootstrap.ts';
import { clientset, createClient, type Clientset, type RestClient } from '../client/index.ts';
import { startClusterDns, type ClusterDns } from './index.ts';
import { queryPacket, queryUdp, rcodeOf } from './client.ts';

let dir = '';
let store: Store;
let api: ApiServer;
let client: RestClient;
let cs: Clientset;
let dns: ClusterDns;
const stop = new AbortController();

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const getSlice = () =>
  cs.endpointSlices.get('kube-dns-n1', { namespace: 'kube-system' }).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-dns-test-'));
  const pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
  store = await openStore(undefined, dir);
  api = new ApiServer({ store, resources: builtinResources, tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem }, port: 0 });
  const port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
  client = await createClient({ component: 'dns-test', connection: { server: `https://127.0.0.1:${port}`, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem } });
  cs = clientset(client);
  dns = await startClusterDns({ client, nodeName: 'n1', nodeIP: '127.0.0.1', port: 0, advertiseIP: '192.0.2.10', upstreams: [] }, stop.signal);
});

after(async () => {
  stop.abort();
  await dns?.stopped;
  await client?.transport.close();
  await api?.close();
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const at = () => ({ host: '127.0.0.1', port: dns.port });

test('the API server bootstraps the kube-dns Service: 10.43.0.10, no selector, node-local', async () => {
  const svc = await cs.services.get('kube-dns', { namespace: 'kube-system' });
  assert.equal(svc.spec?.clusterIP, '10.43.0.10');
  assert.equal(svc.spec?.selector, undefined);
  assert.equal(svc.spec?.internalTrafficPolicy, 'Local');
  assert.deepEqual(svc.metadata.labels, { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' });
  // Bootstrap again (a restart): nothing changes, nothing fails.
  await bootstrap(api, { port: 1 });
  assert.equal((await cs.services.get('kube-dns', { namespace: 'kube-system' })).metadata.resourceVersion, svc.metadata.resourceVersion);
});

test('the node publishes its EndpointSlice for kube-dns, and re-creates it when deleted', async () => {
  const slice: EndpointSlice = await until('the slice', getSlice);
  assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'kube-dns');
  assert.equal(slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'bosun-agent');
  assert.deepEqual(slice.endpoints, [{ addresses: ['192.0.2.10'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'n1' }]);
  assert.deepEqual(slice.ports?.map((p) => `${p.name}/${p.protocol}/${p.port}`), [`dns/UDP/${dns.port}`, `dns-tcp/TCP/${dns.port}`]);
  await cs.endpointSlices.delete('kube-dns-n1', { namespace: 'kube-system' });
  const again = await until('the slice again', async () => {
    const s = await getSlice();
    return s && s.metadata.uid !== slice.metadata.uid ? s : undefined;
  });
  assert.equal(again.endpoints[0]?.addresses[0], '192.0.2.10');
});

test('records follow the API: a new Service resolves, a deleted one is NXDOMAIN', async () => {
  const ns = 'default';
  const svc = await cs.services.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'later' }, spec: { ports: [{ port: 80 }] } }, { namespace: ns });
  const r = await until('later resolves', async () => {
    const reply = await queryUdp(queryPacket('later.default.svc.cluster.local', 'A'), at());
    return reply.answers?.length ? reply : undefined;
  });
  assert.equal((r.answers![0] as { data: string }).data, svc.spec?.clusterIP);
  assert.equal(rcodeOf(await queryUdp(queryPacket('kube-dns.kube-system.svc.cluster.local', 'A'), at())), 'NOERROR');
  await cs.services.delete('later', { namespace: ns });
  await until('later is gone', async () => rcodeOf(await queryUdp(queryPacket('later.default.svc.cluster.local', 'A'), at())) === 'NXDOMAIN');
  // Without upstream resolvers other names fail rather than leak anywhere.
  assert.equal(rcodeOf(await queryUdp(queryPacket('example.test', 'A'), at())), 'SERVFAIL');
});

test('a clean stop deletes the node’s slice and closes the server', async () => {
  stop.abort();
  await dns.stopped;
  assert.equal(await getSlice(), undefined);
  await assert.rejects(queryUdp(queryPacket('kube-dns.kube-system.svc.cluster.local', 'A'), { ...at(), timeoutMs: 300 }), /no DNS reply|ECONNREFUSED/);
});
