/**
 * The API server's HTTP layer, in process on a temporary store: connection deadlines (with small
 * values, tested at the edge), HTTP/1.1 keep-alive and pipelining, gzip, health endpoints,
 * impersonation, unknown paths and every verb × path shape against upstream's routes.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import https from 'node:https';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import { ensurePki, type Pki } from '../pki/index.ts';
import { openStore } from '../storage/index.ts';
import type { Store } from '../storage/types.ts';
import { builtinResources } from '../api/groups/index.ts';
import { ApiServer } from './server.ts';
import { bootstrap } from './bootstrap.ts';
import { gzipThresholdBytes } from './compress.ts';
import { connectionTimeouts } from './connections.ts';

/** Small deadlines: a connection is checked open at half of one and closed some time after it. */
const limits = { tlsHandshakeMs: 1500, readHeaderMs: 1500, idleMs: 1500, http2PrefaceMs: 1500 };

let pki: Pki;
let store: Store;
let api: ApiServer;
let port: number;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-server-test-'));
  pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
  store = await openStore(undefined, dir);
  api = new ApiServer({
    store,
    resources: builtinResources,
    tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem },
    port: 0,
    connectionTimeouts: limits,
  });
  port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
});

after(async () => {
  await api.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const creds = () => ({ ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem });

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

function call(method: string, p: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: p, method, servername: 'localhost', agent: false, ...creds(), headers: { accept: 'application/json', ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tracks a socket's close; `closed()` says whether it has happened. */
function closeWatch(sock: net.Socket) {
  let closed = false;
  const done = new Promise<void>((resolve) => sock.on('close', () => ((closed = true), resolve())));
  sock.on('error', () => {});
  sock.resume();
  return { closed: () => closed, done };
}

/** Waits for the close, failing after a generous deadline (the server never closed it). */
async function closesEventually(w: { done: Promise<void> }, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([w.done, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} was never closed`)), 20_000)))]);
  clearTimeout(timer);
}

function tlsConnect(alpn?: string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ALPNProtocols: alpn, ...creds() }, () => resolve(s));
    s.once('error', reject);
  });
}

// ---- connection deadlines --------------------------------------------------------------------

test("the default deadlines are upstream's: header 32 s, idle 90 s, HTTP/2 preface 10 s, TLS handshake as the header", () => {
  assert.deepEqual(connectionTimeouts(), { tlsHandshakeMs: 32_000, readHeaderMs: 32_000, idleMs: 90_000, http2PrefaceMs: 10_000 });
  assert.deepEqual(connectionTimeouts({ readHeaderMs: 5 }), { tlsHandshakeMs: 5, readHeaderMs: 5, idleMs: 90_000, http2PrefaceMs: 10_000 });
});

test('a TCP connection that never starts the TLS handshake is closed after the handshake deadline, not before', async () => {
  const sock = net.connect(port, '127.0.0.1');
  const w = closeWatch(sock);
  await sleep(limits.tlsHandshakeMs / 2);
  assert.equal(w.closed(), false, 'closed before the deadline');
  await closesEventually(w, 'a connection without a handshake');
});

test('an HTTP/1.1 connection that sends no request is closed after the header deadline, not before', async () => {
  const sock = await tlsConnect(['http/1.1']);
  const w = closeWatch(sock);
  await sleep(limits.readHeaderMs / 2);
  assert.equal(w.closed(), false);
  await closesEventually(w, 'an HTTP/1.1 connection without a request');
});

test('a TLS connection without ALPN is HTTP/1.1 and gets the same header deadline', async () => {
  const sock = await tlsConnect();
  const w = closeWatch(sock);
  await sleep(limits.readHeaderMs / 2);
  assert.equal(w.closed(), false);
  await closesEventually(w, 'a connection without ALPN');
});

test('headers sent a byte at a time (slowloris) are cut off at the header deadline', async () => {
  const sock = await tlsConnect(['http/1.1']);
  const w = closeWatch(sock);
  const line = 'GET /version HTTP/1.1\r\nHost: localhost\r\nX-Slow: ';
  let i = 0;
  const drip = setInterval(() => {
    if (!sock.destroyed) sock.write(line[i++ % line.length]!);
  }, 50);
  try {
    await sleep(limits.readHeaderMs / 2);
    assert.equal(w.closed(), false);
    await closesEventually(w, 'a slowloris connection');
  } finally {
    clearInterval(drip);
  }
});

test('an idle HTTP/1.1 keep-alive connection is closed after the idle deadline, not before', async () => {
  const sock = await tlsConnect(['http/1.1']);
  const w = closeWatch(sock);
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString()));
  sock.write('GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n');
  while (!got.includes('gitVersion')) await sleep(10);
  // The deadline the server announces is its own, in whole seconds.
  assert.match(got, new RegExp(`\r\nKeep-Alive: timeout=${Math.floor(limits.idleMs / 1000)}\r\n`, 'i'));
  await sleep(limits.idleMs / 2);
  assert.equal(w.closed(), false);
  sock.write('GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n');
  while (got.split('gitVersion').length < 3) await sleep(10);
  await closesEventually(w, 'an idle keep-alive connection');
});

test('an HTTP/2 connection that never sends the preface is closed after the preface deadline, not before', async () => {
  const sock = await tlsConnect(['h2']);
  assert.equal(sock.alpnProtocol, 'h2');
  const w = closeWatch(sock);
  await sleep(limits.http2PrefaceMs / 2);
  assert.equal(w.closed(), false);
  await closesEventually(w, 'an HTTP/2 connection without a preface');
});

function h2connect(): http2.ClientHttp2Session {
  const c = http2.connect(`https://127.0.0.1:${port}`, { servername: 'localhost', ...creds() });
  c.on('error', () => {});
  return c;
}

test('an HTTP/2 session with no open stream is closed after the idle deadline, not before', async () => {
  const c = h2connect();
  let closed = false;
  const done = new Promise<void>((r) => c.once('close', () => ((closed = true), r())));
  await new Promise<void>((resolve, reject) => {
    const s = c.request({ ':path': '/version' });
    s.resume();
    s.on('end', resolve);
    s.on('error', reject);
  });
  await sleep(limits.idleMs / 2);
  assert.equal(closed, false);
  await closesEventually({ done }, 'an idle HTTP/2 session');
});

test('a watch stream quieter than the idle deadline is not cut', async () => {
  const c = h2connect();
  try {
    const s = c.request({ ':path': '/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0&timeoutSeconds=30', accept: 'application/json' });
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    await sleep(limits.idleMs * 2.5);
    assert.equal(s.closed, false, 'the watch was cut');
    await call('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify({ metadata: { name: 'quiet-watch' } }) });
    for (let i = 0; i < 500 && !got.includes('quiet-watch'); i++) await sleep(20);
    assert.match(got, /"type":"ADDED".*quiet-watch/);
    s.close();
  } finally {
    c.close();
  }
});

test('an HTTP/1.1 response that takes longer than the idle deadline is not cut', async () => {
  const sock = await tlsConnect(['http/1.1']);
  const w = closeWatch(sock);
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString()));
  sock.write('GET /api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=30 HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n');
  await sleep(limits.idleMs * 2.5);
  assert.equal(w.closed(), false, 'the HTTP/1.1 watch was cut');
  assert.match(got, /^HTTP\/1\.1 200/);
  sock.destroy();
});

// ---- HTTP/1.1 keep-alive and pipelining ------------------------------------------------------

/** Enough ConfigMaps in `big` that their list is over 128 KiB. */
async function fillBigNamespace(): Promise<void> {
  const r = await call('GET', '/api/v1/namespaces/big/configmaps');
  if (r.status === 200 && r.body.length > gzipThresholdBytes) return;
  await call('POST', '/api/v1/namespaces', { body: JSON.stringify({ metadata: { name: 'big' } }) });
  const data = 'x'.repeat(1024);
  for (let batch = 0; batch < 4; batch++) {
    await Promise.all(Array.from({ length: 50 }, (_, i) => call('POST', '/api/v1/namespaces/big/configmaps', { body: JSON.stringify({ metadata: { name: `cm-${batch}-${i}` }, data: { d: data } }) })));
  }
}

/** Reads HTTP/1.1 responses off a socket: status and body of each, in order (chunked or sized). */
function responses(sock: tls.TLSSocket): { next(): Promise<{ status: number; body: string }> } {
  let buf = Buffer.alloc(0);
  let waiting: { resolve: () => void; reject: (e: Error) => void } | undefined;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    waiting?.resolve();
  });
  sock.on('close', () => waiting?.reject(new Error(`connection closed; unread: ${buf.subarray(0, 200).toString()}`)));
  const more = () => new Promise<void>((resolve, reject) => (waiting = { resolve, reject }));
  return {
    async next() {
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) < 0) await more();
      const head = buf.subarray(0, end).toString();
      buf = buf.subarray(end + 4);
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
      const len = /content-length: (\d+)/i.exec(head);
      if (len) {
        while (buf.length < Number(len[1])) await more();
        const body = buf.subarray(0, Number(len[1])).toString();
        buf = buf.subarray(Number(len[1]));
        return { status, body };
      }
      let body = '';
      for (;;) {
        let nl: number;
        while ((nl = buf.indexOf('\r\n')) < 0) await more();
        const size = parseInt(buf.subarray(0, nl).toString(), 16);
        while (buf.length < nl + 2 + size + 2) await more();
        body += buf.subarray(nl + 2, nl + 2 + size).toString();
        buf = buf.subarray(nl + 2 + size + 2);
        if (size === 0) return { status, body };
      }
    },
  };
}

const get = (p: string) => `GET ${p} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n`;

test('pipelined HTTP/1.1 requests after a large response are all answered, in order', async () => {
  await fillBigNamespace();
  for (let i = 0; i < 25; i++) {
    const sock = await tlsConnect(['http/1.1']);
    const r = responses(sock);
    sock.write(get('/api/v1/namespaces/big/configmaps') + get('/version') + get('/api/v1/namespaces/big/configmaps?limit=1') + get('/api/v1/namespaces/default'));
    const a = await r.next();
    assert.equal(a.status, 200);
    assert.ok(a.body.length > gzipThresholdBytes);
    assert.match((await r.next()).body, /gitVersion/);
    assert.match((await r.next()).body, /"ConfigMapList"/);
    assert.match((await r.next()).body, /"kind":"Namespace"/);
    sock.destroy();
  }
});

test('a keep-alive request sent while a large response is still being read is answered', async () => {
  await fillBigNamespace();
  for (let i = 0; i < 25; i++) {
    const sock = await tlsConnect(['http/1.1']);
    const r = responses(sock);
    sock.write(get('/api/v1/namespaces/big/configmaps'));
    // The next request goes out as the first bytes of the large response arrive.
    await new Promise((resolve) => sock.once('data', resolve));
    sock.write(`POST /api/v1/namespaces/default/configmaps?dryRun=All HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 33\r\n\r\n{"metadata":{"name":"keep-alive"}}`.replace('Content-Length: 33', `Content-Length: ${'{"metadata":{"name":"keep-alive"}}'.length}`));
    assert.equal((await r.next()).status, 200);
    assert.equal((await r.next()).status, 201);
    sock.destroy();
  }
});

// ---- compression -----------------------------------------------------------------------------

test('a response over 128 KiB is gzipped for a client that accepts gzip, with Vary', async () => {
  await fillBigNamespace();
  const plain = await call('GET', '/api/v1/namespaces/big/configmaps');
  assert.equal(plain.headers['content-encoding'], undefined);
  const r = await call('GET', '/api/v1/namespaces/big/configmaps', { headers: { 'accept-encoding': 'gzip, deflate' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.match(String(r.headers['vary']), /Accept-Encoding/);
  assert.ok(r.body.length < plain.body.length / 5, `compressed ${r.body.length} of ${plain.body.length}`);
  const items = JSON.parse(zlib.gunzipSync(r.body).toString()).items;
  assert.deepEqual(items, JSON.parse(plain.text).items);
});

test('small bodies, clients without gzip, and watches are not compressed', async () => {
  const small = await call('GET', '/api/v1/namespaces/default', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(small.headers['content-encoding'], undefined);
  assert.equal(JSON.parse(small.text).kind, 'Namespace');
  const other = await call('GET', '/api/v1/namespaces/big/configmaps', { headers: { 'accept-encoding': 'br' } });
  assert.equal(other.headers['content-encoding'], undefined);
  const watch = await call('GET', '/api/v1/namespaces/big/configmaps?watch=1&timeoutSeconds=1', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(watch.headers['content-encoding'], undefined);
  assert.ok(watch.body.length > gzipThresholdBytes);
  assert.match(watch.text.split('\n')[0]!, /^\{"type":"ADDED"/);
});

// ---- health endpoints --------------------------------------------------------------------------

const healthCases: { path: string; status: number; body: string | RegExp }[] = [
  { path: '/healthz', status: 200, body: 'ok' },
  { path: '/livez', status: 200, body: 'ok' },
  { path: '/readyz', status: 200, body: 'ok' },
  { path: '/healthz/ping', status: 200, body: 'ok' },
  { path: '/healthz/log', status: 200, body: 'ok' },
  { path: '/healthz/etcd', status: 200, body: 'ok' },
  { path: '/livez/etcd', status: 200, body: 'ok' },
  { path: '/readyz/informer-sync', status: 200, body: 'ok' },
  { path: '/readyz/shutdown', status: 200, body: 'ok' },
  { path: '/healthz/poststarthook/bootstrap-controller', status: 200, body: 'ok' },
  { path: '/healthz?verbose', status: 200, body: '[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]poststarthook/bootstrap-controller ok\nhealthz check passed\n' },
  { path: '/readyz?verbose&exclude=etcd&exclude=nosuch', status: 200, body: /\[\+\]etcd excluded: ok\n[\s\S]*warn: some health checks cannot be excluded: no matches for "nosuch"\nreadyz check passed\n$/ },
  { path: '/healthz/anything', status: 404, body: '404 page not found\n' },
  { path: '/livez/nosuch', status: 404, body: '404 page not found\n' },
  { path: '/readyz/', status: 404, body: '404 page not found\n' },
  { path: '/healthz/ping/extra', status: 404, body: '404 page not found\n' },
];
for (const c of healthCases) {
  test(`health: ${c.path} answers ${c.status}`, async () => {
    const r = await call('GET', c.path);
    assert.equal(r.status, c.status);
    if (typeof c.body === 'string') assert.equal(r.text, c.body);
    else assert.match(r.text, c.body);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  });
}

// ---- impersonation ---------------------------------------------------------------------------

test('impersonation: a user allowed to impersonate (system:masters) runs the request as the user, groups and extras asked for', async () => {
  const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
  const r = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: review, headers: { 'Impersonate-User': 'jane', 'Impersonate-Group': 'developers', 'Impersonate-Extra-Scopes': 'view' } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(JSON.parse(r.text).status.userInfo, { username: 'jane', groups: ['developers', 'system:authenticated'], extra: { scopes: ['view'] } });
});

test('impersonation: a group without a user is refused as upstream (500, never ignored)', async () => {
  const r = await call('GET', '/api/v1/namespaces', { headers: { 'Impersonate-Group': 'developers' } });
  assert.equal(r.status, 500);
  assert.match(r.text, /without impersonating a user/);
});

// ---- unknown paths and verb × path shapes ----------------------------------------------------

const genericNotFound = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', details: {}, code: 404 };
const genericMethodNotAllowed = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server does not allow this method on the requested resource', reason: 'MethodNotAllowed', details: {}, code: 405 };

const unknownPaths: { name: string; path: string; want: 'status' | 'text' }[] = [
  { name: 'an unknown group', path: '/apis/nosuch.example.com/v1/things', want: 'text' },
  { name: 'an unknown group, namespaced', path: '/apis/nosuch.example.com/v1/namespaces/default/things/x', want: 'text' },
  { name: 'an unknown group discovery', path: '/apis/nosuch.example.com/v1', want: 'text' },
  { name: 'an unknown core version', path: '/api/v2/pods', want: 'status' },
  { name: 'an unknown core version discovery', path: '/api/v2', want: 'status' },
  { name: 'an unknown version of a known group', path: '/apis/apps/v9/deployments', want: 'status' },
  { name: 'an unknown resource in a known group-version', path: '/apis/apps/v1/nosuch', want: 'status' },
  { name: 'an unknown core resource', path: '/api/v1/namespaces/default/nosuch', want: 'status' },
  { name: 'an unserved subresource', path: '/api/v1/namespaces/default/pods/p2/nosuch', want: 'status' },
  { name: 'an unknown top-level path', path: '/nosuch', want: 'text' },
];
for (const c of unknownPaths) {
  test(`unknown path: ${c.name} (${c.path}) is 404 as upstream`, async () => {
    const r = await call('GET', c.path);
    assert.equal(r.status, 404);
    if (c.want === 'status') assert.deepEqual(JSON.parse(r.text), genericNotFound);
    else assert.equal(r.text, '404 page not found\n');
  });
}

/** Every verb × path shape: the status a route check gives (other codes come from the handlers). */
const shapes: { path: string; allowed: string[] }[] = [
  // a namespaced resource
  { path: '/api/v1/configmaps', allowed: ['GET'] },
  { path: '/api/v1/namespaces/default/configmaps', allowed: ['GET', 'POST', 'DELETE'] },
  { path: '/api/v1/namespaces/default/configmaps/x', allowed: ['GET', 'PUT', 'PATCH', 'DELETE'] },
  { path: '/api/v1/watch/configmaps', allowed: ['GET'] },
  { path: '/api/v1/watch/namespaces/default/configmaps', allowed: ['GET'] },
  { path: '/api/v1/watch/namespaces/default/configmaps/x', allowed: ['GET'] },
  { path: '/api/v1/configmaps/x', allowed: [] },
  { path: '/api/v1/watch/configmaps/x', allowed: [] },
  { path: '/api/v1/namespaces/default/configmaps/x/status', allowed: [] },
  { path: '/api/v1/namespaces/default/configmaps/x/status/more', allowed: [] },
  // subresources
  { path: '/api/v1/namespaces/default/pods/p/status', allowed: ['GET', 'PUT', 'PATCH'] },
  { path: '/api/v1/namespaces/default/pods/p/binding', allowed: ['POST'] },
  { path: '/api/v1/namespaces/default/pods/p/eviction', allowed: ['POST'] },
  { path: '/apis/apps/v1/namespaces/default/deployments/d/scale', allowed: ['GET', 'PUT', 'PATCH'] },
  { path: '/api/v1/namespaces/default/pods/p/log', allowed: ['GET'] },
  { path: '/api/v1/namespaces/default/pods/p/exec', allowed: ['GET', 'POST'] },
  { path: '/api/v1/namespaces/default/pods/p/portforward', allowed: ['GET', 'POST'] },
  { path: '/api/v1/namespaces/default/pods/p/log/more', allowed: [] },
  { path: '/api/v1/nodes/n/proxy', allowed: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] },
  { path: '/api/v1/nodes/n/proxy/stats/summary', allowed: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] },
  { path: '/api/v1/watch/namespaces/default/pods/p/status', allowed: [] },
  { path: '/api/v1/pods/p/status', allowed: [] },
  // a cluster-scoped resource
  { path: '/api/v1/nodes', allowed: ['GET', 'POST', 'DELETE'] },
  { path: '/api/v1/nodes/n', allowed: ['GET', 'PUT', 'PATCH', 'DELETE'] },
  { path: '/api/v1/nodes/n/status', allowed: ['GET', 'PUT', 'PATCH'] },
  { path: '/api/v1/watch/nodes', allowed: ['GET'] },
  { path: '/api/v1/watch/nodes/n', allowed: ['GET'] },
  { path: '/api/v1/namespaces/default/nodes', allowed: [] },
  { path: '/api/v1/namespaces/default/nodes/n', allowed: [] },
  // namespaces themselves
  { path: '/api/v1/namespaces/zz', allowed: ['GET', 'PUT', 'PATCH', 'DELETE'] },
  { path: '/api/v1/namespaces/zz/status', allowed: ['GET', 'PUT', 'PATCH'] },
  { path: '/api/v1/namespaces/zz/finalize', allowed: ['PUT'] },
  { path: '/api/v1/namespaces/zz/namespaces', allowed: [] },
  // a create-only kind
  { path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', allowed: ['POST'] },
  { path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/x', allowed: [] },
];
const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
for (const s of shapes) {
  test(`route: ${s.path} serves ${s.allowed.join(', ') || 'nothing'}`, async () => {
    for (const m of methods) {
      // A body the handlers reject (or dry-run) so that no allowed method changes anything.
      // timeoutSeconds ends the watches the GETs on watch paths open.
      const r = await call(m, `${s.path}?dryRun=All&timeoutSeconds=1`, { body: m === 'GET' || m === 'DELETE' ? undefined : '{', headers: m === 'PATCH' ? { 'content-type': 'application/merge-patch+json' } : {} });
      if (!s.allowed.length) {
        assert.deepEqual({ m, status: r.status, body: JSON.parse(r.text) }, { m, status: 404, body: genericNotFound });
      } else if (!s.allowed.includes(m)) {
        assert.deepEqual({ m, status: r.status, body: JSON.parse(r.text) }, { m, status: 405, body: genericMethodNotAllowed });
      } else {
        assert.ok(r.status !== 405 && !(r.status === 404 && JSON.parse(r.text).message === genericNotFound.message), `${m} ${s.path}: ${r.status} ${r.text}`);
      }
    }
  });
}

test('DELETE on the all-namespaces path of a namespaced resource deletes nothing', async () => {
  await call('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify({ metadata: { name: 'survivor' } }) });
  const r = await call('DELETE', '/api/v1/configmaps');
  assert.equal(r.status, 405);
  assert.deepEqual(JSON.parse(r.text), genericMethodNotAllowed);
  assert.equal((await call('GET', '/api/v1/namespaces/default/configmaps/survivor')).status, 200);
});
