/**
 * The load balancer in front of HTTPS (HTTP/2) servers with the project's client: health checks
 * over TLS against the cluster CA, a killed or stalled server, the client's next request going
 * to the other one, and the server list following the `kubernetes` Endpoints watched through
 * the balancer (the informer re-watching through it when its server dies).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import type { Endpoints } from '../api/index.ts';
import { createClient, resources, type RestClient } from '../client/index.ts';
import { ensurePki, type Pki } from '../pki/index.ts';
import { LoadBalancer, apiServerAddresses, httpsHealthCheck, watchApiServerEndpoints } from './index.ts';
import { deadPort, until } from './testutil.ts';

type Ctx = { after(fn: () => unknown): void };

let pkiOnce: Promise<Pki> | undefined;
function pki(): Promise<Pki> {
  pkiOnce ??= (async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-lb-'));
    try {
      return await ensurePki(dir, { hostnames: ['localhost'], addresses: [] });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  })();
  return pkiOnce;
}

/** What the fake API servers share: the `kubernetes` Endpoints and its watchers. */
class Cluster {
  rv = 1;
  endpoints: Endpoints = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', namespace: 'default', resourceVersion: '1' }, subsets: [] };
  watchers = new Set<http2.Http2ServerResponse>();
  setAddresses(addrs: { ip: string; port: number }[]): void {
    this.rv++;
    const ports = [...new Set(addrs.map((a) => a.port))];
    // One subset per port, as when servers listen on different ports of one host.
    this.endpoints = { ...this.endpoints, metadata: { ...this.endpoints.metadata, resourceVersion: String(this.rv) }, subsets: ports.map((p) => ({ addresses: addrs.filter((a) => a.port === p).map((a) => ({ ip: a.ip })), ports: [{ name: 'https', port: p, protocol: 'TCP' }] })) };
    for (const w of this.watchers) w.write(JSON.stringify({ type: 'MODIFIED', object: this.endpoints }) + '\n');
  }
}

interface FakeServer {
  name: string;
  port: number;
  address: string;
  stalled: boolean;
  requests: number;
  kill(): Promise<void>;
}

async function fakeApiServer(t: Ctx, name: string, cluster: Cluster): Promise<FakeServer> {
  const p = await pki();
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createSecureServer({ cert: p.servingCertPem, key: p.servingKeyPem, allowHTTP1: true });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const fake: FakeServer = { name, port: 0, address: '', stalled: false, requests: 0, kill: async () => {} };
  server.on('request', (req, res) => {
    if (fake.stalled) return; // accepts, never answers
    fake.requests++;
    const url = new URL(req.url ?? '/', 'https://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end('ok');
    }
    if (url.pathname === '/api/v1/namespaces/default/configmaps/who') {
      return json(200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'who', namespace: 'default', resourceVersion: '1' }, data: { server: name } });
    }
    if (url.pathname === '/api/v1/namespaces/default/endpoints') {
      assert.equal(url.searchParams.get('fieldSelector'), 'metadata.name=kubernetes');
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' });
        cluster.watchers.add(res);
        res.on('close', () => cluster.watchers.delete(res));
        // Catch up from the version asked for, as a real server does.
        if (Number(url.searchParams.get('resourceVersion')) < cluster.rv) res.write(JSON.stringify({ type: 'MODIFIED', object: cluster.endpoints }) + '\n');
        return;
      }
      return json(200, { apiVersion: 'v1', kind: 'EndpointsList', metadata: { resourceVersion: String(cluster.rv) }, items: [cluster.endpoints] });
    }
    json(404, { apiVersion: 'v1', kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  fake.port = (server.address() as { port: number }).port;
  fake.address = `127.0.0.1:${fake.port}`;
  let dead = false;
  fake.kill = async () => {
    if (dead) return;
    dead = true;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sessions) s.destroy();
    await closed;
  };
  t.after(() => fake.kill());
  return fake;
}

async function setup(t: Ctx, n: number, lbOpts: { healthIntervalMs?: number } = {}): Promise<{ cluster: Cluster; servers: FakeServer[]; lb: LoadBalancer; client: RestClient; logs: string[] }> {
  const p = await pki();
  const cluster = new Cluster();
  const servers = await Promise.all(Array.from({ length: n }, (_, i) => fakeApiServer(t, String.fromCharCode(65 + i), cluster)));
  const logs: string[] = [];
  const lb = new LoadBalancer({
    name: 'test-agent-load-balancer',
    listen: { host: '127.0.0.1', port: 0 },
    servers: servers.map((s) => s.address),
    defaultServer: servers[0]!.address,
    healthCheck: httpsHealthCheck({ ca: p.caCertPem }),
    healthIntervalMs: lbOpts.healthIntervalMs ?? 0,
    healthTimeoutMs: 300,
    log: (m) => logs.push(m),
  });
  t.after(() => lb.close());
  await lb.start();
  await lb.checkNow();
  const client = await createClient({ component: 'test', connection: { server: lb.url(), ca: p.caCertPem, cert: p.adminCertPem, key: p.adminKeyPem }, timeoutMs: 10_000 });
  t.after(() => client.transport.close());
  return { cluster, servers, lb, client, logs };
}

async function who(client: RestClient): Promise<string> {
  const cm = await client.get(resources.configMaps, 'who', { namespace: 'default' });
  return (cm as unknown as { data: { server: string } }).data.server;
}

test('httpsHealthCheck: 200 from a server whose certificate the CA vouches for; false otherwise', async (t) => {
  const p = await pki();
  const other = await ensurePki(await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-lb-other-')), { hostnames: ['localhost'], addresses: [] });
  t.after(() => fs.rm(other.dir, { recursive: true, force: true }));
  const cluster = new Cluster();
  const a = await fakeApiServer(t, 'A', cluster);
  const check = httpsHealthCheck({ ca: p.caCertPem });
  assert.equal(await check(a.address, AbortSignal.timeout(2000)), true);
  assert.equal(await check(`localhost:${a.port}`, AbortSignal.timeout(2000)), true);
  assert.equal(await httpsHealthCheck({ ca: other.caCertPem })(a.address, AbortSignal.timeout(2000)), false, 'another CA');
  assert.equal(await httpsHealthCheck({ ca: p.caCertPem, path: '/nope' })(a.address, AbortSignal.timeout(2000)), false, 'a 404');
  assert.equal(await check(`127.0.0.1:${await deadPort()}`, AbortSignal.timeout(2000)), false, 'refused');
  a.stalled = true;
  assert.equal(await check(a.address, AbortSignal.timeout(200)), false, 'stalled');
  assert.equal(await check('not an address', AbortSignal.timeout(200)), false);
});

test('the client reaches the default server through the balancer, with the server name verified', async (t) => {
  const { client, lb } = await setup(t, 2);
  assert.equal(await who(client), 'A');
  assert.equal(await who(client), 'A');
  assert.equal(lb.servers()[0]!.connections, 1, 'one HTTP/2 session');
});

test('a killed server: the client’s next request succeeds through the other', async (t) => {
  const { client, servers, lb } = await setup(t, 2);
  assert.equal(await who(client), 'A');
  await servers[0]!.kill();
  assert.equal(await who(client), 'B');
  assert.equal(lb.servers()[0]!.healthy, false);
  assert.equal(await who(client), 'B');
});

test('a stalled server: its health check fails, its sessions are closed and a request in flight is retried on the other', async (t) => {
  const { client, servers, lb } = await setup(t, 2, { healthIntervalMs: 100 });
  assert.equal(await who(client), 'A');
  servers[0]!.stalled = true;
  // In flight on the stalled server: the balancer closes the session, the client retries the GET.
  assert.equal(await who(client), 'B');
  assert.equal(lb.servers()[0]!.healthy, false);
  servers[0]!.stalled = false;
  await until(() => lb.servers()[0]!.healthy, 'A healthy again');
  // Open sessions stay where they are; a new session prefers the default again.
  const p = await pki();
  const fresh = await createClient({ component: 'test', connection: { server: lb.url(), ca: p.caCertPem }, timeoutMs: 10_000 });
  t.after(() => fresh.transport.close());
  assert.equal(await who(fresh), 'A');
});

test('apiServerAddresses: ready addresses with the https port (else the first, else 443)', () => {
  const ep: Endpoints = {
    metadata: { name: 'kubernetes', namespace: 'default' },
    subsets: [
      { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], notReadyAddresses: [{ ip: '10.0.0.9' }], ports: [{ name: 'metrics', port: 9 }, { name: 'https', port: 6443 }] },
      { addresses: [{ ip: 'fd00::1' }], ports: [{ port: 7443 }] },
      { addresses: [{ ip: '10.0.0.3' }, { ip: '10.0.0.1' }] },
      { addresses: [{ ip: '10.0.0.1' }], ports: [{ name: 'https', port: 6443 }] },
    ],
  };
  assert.deepEqual(apiServerAddresses(ep), ['10.0.0.1:6443', '10.0.0.2:6443', '[fd00::1]:7443', '10.0.0.3:443', '10.0.0.1:443']);
  assert.deepEqual(apiServerAddresses({ metadata: { name: 'kubernetes' } }), []);
});

test('the server list follows the kubernetes Endpoints, watched through the balancer, across a server’s death', async (t) => {
  const { cluster, servers, lb, client, logs } = await setup(t, 3);
  const [a, b, c] = servers as [FakeServer, FakeServer, FakeServer];
  lb.setServers([a.address]);
  cluster.setAddresses([{ ip: '127.0.0.1', port: a.port }, { ip: '127.0.0.1', port: b.port }]);
  const stop = new AbortController();
  const watching = watchApiServerEndpoints(client, lb, stop.signal, { backoff: { initialMs: 20, maxMs: 100 }, log: (m) => logs.push(m) });
  t.after(async () => {
    stop.abort();
    await watching;
  });
  const listed = () => lb.servers().filter((s) => s.listed).map((s) => s.address).sort();
  await until(() => listed().join() === [a.address, b.address].sort().join(), 'A and B listed');
  assert.ok(logs.some((l) => l.startsWith('Updated load balancer test-agent-load-balancer server addresses -> [')), logs.join('\n'));
  // A dies: the watch moves to B through the balancer and keeps following.
  await a.kill();
  await until(() => cluster.watchers.size === 1 && b.requests > 0, 'the watch re-established on B');
  cluster.setAddresses([{ ip: '127.0.0.1', port: b.port }, { ip: '127.0.0.1', port: c.port }]);
  await until(() => listed().join() === [b.address, c.address].sort().join(), 'B and C listed');
  // The default (A) is kept, unlisted, as a last resort.
  assert.deepEqual(lb.servers().find((s) => s.address === a.address), { address: a.address, healthy: false, connections: 0, default: true, listed: false });
  // An empty Endpoints changes nothing.
  cluster.setAddresses([]);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(listed(), [b.address, c.address].sort());
});
