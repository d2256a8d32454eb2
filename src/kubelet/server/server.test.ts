/**
 * The agent's HTTPS server against a fake AgentBackend and a fake CRI streaming server: mutual
 * TLS and authorization, the kubelet's endpoints with its codes and wording, exec and
 * port-forward upgrades proxied to the CRI server, and each deadline at its edge.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import tls from 'node:tls';
import net from 'node:net';
import { X509Certificate } from 'node:crypto';
import { ensurePki, issueClientCert, issueServingCert, type Pki } from '../../pki/index.ts';
import { dialUpgrade, SpdyConnection, type SpdyStream } from '../../apiserver/streaming/index.ts';
import { maxHeaderBytes, startAgentServer, type AgentServer } from './server.ts';
import { HttpError } from './backend.ts';
import { fakeBackend, fakeLog, startFakeCri, type FakeCri, type FakeLog } from './testing.ts';

let dir: string;
let pki: Pki;
let serving: { certPem: string; keyPem: string };
let apiClient: { certPem: string; keyPem: string };
let nodeUser: { certPem: string; keyPem: string };
let cri: FakeCri;
let agent: AgentServer;
let abort: AbortController;
let follow: FakeLog;
let backend: ReturnType<typeof fakeBackend>;
const logLines: string[] = [];

const pod = (name: string, containers: string[], extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: 'default', name, uid: `uid-${name}` },
  spec: { nodeName: 'node-1', containers: containers.map((c) => ({ name: c, image: 'busybox' })), ...extra },
});

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-agent-server-test-'));
  pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
  serving = await issueServingCert(pki, { name: 'agent-serving', commonName: 'node-1', sans: ['127.0.0.1'] });
  apiClient = await issueClientCert(pki, { name: 'kubelet-client', commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] });
  nodeUser = await issueClientCert(pki, { name: 'node-user', commonName: 'system:node:node-2', organizations: ['system:nodes'] });
  cri = await startFakeCri();
  follow = fakeLog(['first'], { running: true });
  backend = fakeBackend({
    pods: [pod('p1', ['c1', 'c2'], { initContainers: [{ name: 'init', image: 'busybox' }] })],
    logs: {
      'default/p1/c1': fakeLog(['one', 'two', 'three']),
      'default/p1/c2': follow,
      'default/p1/init': fakeLog([], { error: new HttpError(400, 'previous terminated container "init" in pod "p1" not found') }),
    },
    cri,
  });
  abort = new AbortController();
  agent = await startAgentServer({ bindAddress: '127.0.0.1', port: 0, tls: { ...serving, caPem: pki.caCertPem }, backend, log: (m) => logLines.push(m) }, abort.signal);
});

after(async () => {
  abort.abort();
  await agent.close();
  await cri.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function call(method: string, p: string, opts: { cert?: { certPem: string; keyPem: string } | null; headers?: Record<string, string>; port?: number } = {}): Promise<Reply> {
  const cert = opts.cert === undefined ? apiClient : opts.cert;
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: opts.port ?? agent.port, method, path: p, ca: pki.caCertPem, cert: cert?.certPem, key: cert?.keyPem, agent: false, headers: opts.headers },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('a client without a certificate cannot connect (mutual TLS)', async () => {
  await assert.rejects(call('GET', '/healthz', { cert: null }));
});

test('a client certificate from another CA cannot connect', async () => {
  const other = await ensurePki(path.join(dir, 'other-tls'), { hostnames: [], addresses: [] });
  await assert.rejects(call('GET', '/healthz', { cert: { certPem: other.adminCertPem, keyPem: other.adminKeyPem } }));
});

const replies: { name: string; method?: string; path: string; cert?: () => { certPem: string; keyPem: string }; status: number; text?: string | RegExp; json?: unknown; type?: string }[] = [
  { name: 'healthz answers ok', path: '/healthz', status: 200, text: 'ok', type: 'text/plain; charset=utf-8' },
  { name: 'healthz?verbose lists the checks', path: '/healthz?verbose', status: 200, text: '[+]ping ok\n[+]log ok\n[+]syncloop ok\nhealthz check passed\n' },
  { name: 'a single health check answers ok', path: '/healthz/syncloop', status: 200, text: 'ok' },
  { name: 'an admin (system:masters) may call', path: '/healthz', cert: () => ({ certPem: pki.adminCertPem, keyPem: pki.adminKeyPem }), status: 200, text: 'ok' },
  {
    name: 'another identity is forbidden, in the kubelet’s words',
    path: '/stats/summary',
    cert: () => nodeUser,
    status: 403,
    text: 'Forbidden (user=system:node:node-2, verb=get, resource=nodes, subresource(s)=[stats])\n',
  },
  { name: 'pods lists the node’s pods as a PodList', path: '/pods', status: 200, type: 'application/json', json: { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod('p1', ['c1', 'c2'], { initContainers: [{ name: 'init', image: 'busybox' }] })] } },
  { name: 'stats/summary is the backend’s document', path: '/stats/summary', status: 200, json: { node: { nodeName: 'node-1', cpu: { usageNanoCores: 1 } }, pods: [] } },
  { name: 'metrics is Prometheus text', path: '/metrics', status: 200, type: 'text/plain; version=0.0.4; charset=utf-8', text: /^# HELP kubelet_running_pods/ },
  { name: 'metrics/resource renders the summary’s CPU and memory', path: '/metrics/resource', status: 200, type: 'text/plain; version=0.0.4; charset=utf-8', text: /^# HELP resource_scrape_error \[STABLE\] [^\n]*\n# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n/ },
  { name: 'metrics/resource answers GET only', method: 'POST', path: '/metrics/resource', status: 405, text: 'Method Not Allowed\n' },
  { name: 'pods answers GET only', method: 'POST', path: '/pods', status: 405, text: 'Method Not Allowed\n' },
  { name: 'an unknown path is 404', path: '/nosuch', status: 404, text: '404 page not found\n' },
  { name: 'an unknown stats path is 404', path: '/stats/other', status: 404, text: '404 page not found\n' },
  { name: 'a container log is streamed', path: '/containerLogs/default/p1/c1', status: 200, text: 'one\ntwo\nthree\n' },
  { name: 'tailLines reaches the backend', path: '/containerLogs/default/p1/c1?tailLines=1', status: 200, text: 'three\n' },
  { name: 'the old tail parameter is honoured; tail=all is everything', path: '/containerLogs/default/p1/c1?tail=all&tailLines=1', status: 200, text: 'one\ntwo\nthree\n' },
  { name: 'limitBytes and timestamps reach the backend', path: '/containerLogs/default/p1/c1?limitBytes=10&timestamps=true', status: 200, text: '2024-01-01' },
  { name: 'a query that does not decode is a 400', path: '/containerLogs/default/p1/c1?tailLines=abc', status: 400, text: '{"message": "Unable to decode query."}' },
  { name: 'invalid options are a 422', path: '/containerLogs/default/p1/c1?tailLines=-1', status: 422, text: '{"message": "Invalid request."}' },
  { name: 'sinceSeconds with sinceTime is a 422', path: '/containerLogs/default/p1/c1?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z', status: 422, text: '{"message": "Invalid request."}' },
  { name: 'logs of an unknown pod are a 404', path: '/containerLogs/default/nope/c1', status: 404, text: 'pod "nope" does not exist' },
  { name: 'logs of an unknown container are a 404', path: '/containerLogs/default/p1/cx', status: 404, text: 'container "cx" not found in pod "p1"' },
  { name: 'a backend error keeps its status and message', path: '/containerLogs/default/p1/init', status: 400, text: 'previous terminated container "init" in pod "p1" not found' },
  { name: 'containerLogs answers GET only', method: 'POST', path: '/containerLogs/default/p1/c1', status: 405 },
  { name: 'exec needs at least one stream', method: 'POST', path: '/exec/default/p1/c1?command=ls', status: 400, text: 'you must specify at least 1 of stdin, stdout, stderr' },
  { name: 'exec of an unknown pod is a 404', method: 'POST', path: '/exec/default/nope/c1?command=ls&output=1', status: 404, text: 'pod does not exist' },
  { name: 'exec of a container not running is the backend’s error', method: 'POST', path: '/exec/default/p1/cx?command=ls&output=1', status: 400, text: 'container cx is not running in pod p1' },
  { name: 'exec without an upgrade is refused as the kubelet refuses it', method: 'POST', path: '/exec/default/p1/c1?command=ls&output=1', status: 500, text: 'Upgrade request required\n' },
  { name: 'a WebSocket port-forward needs ports', path: '/portForward/default/p1', status: 400, text: 'query parameter "port" is required' },
  { name: 'port-forward of an unknown pod is a 404', method: 'POST', path: '/portForward/default/nope', status: 404, text: 'pod does not exist' },
  { name: 'port-forward with another pod’s uid is a 404', method: 'POST', path: '/portForward/default/p1/uid-other', status: 404, text: 'pod not found' },
];
for (const c of replies) {
  test(c.name, async () => {
    const headers = c.path.startsWith('/portForward/default/p1') && !c.method ? { connection: 'Upgrade', upgrade: 'websocket' } : undefined;
    const r = await call(c.method ?? 'GET', c.path, { cert: c.cert?.(), headers });
    assert.equal(r.status, c.status, r.text);
    if (c.json !== undefined) assert.deepEqual(JSON.parse(r.text), c.json);
    if (typeof c.text === 'string') assert.ok(c.text === r.text || (c.path.includes('limitBytes') && r.text === c.text), `${JSON.stringify(r.text)}`);
    if (c.text instanceof RegExp) assert.match(r.text, c.text);
    if (c.type) assert.equal(r.headers['content-type'], c.type);
  });
}

test('an unsupported method on containerLogs names the allowed one', async () => {
  const r = await call('PUT', '/containerLogs/default/p1/c1');
  assert.equal(r.headers['allow'], 'GET');
});

test('a followed log streams lines as they come and ends when the client goes away', async () => {
  const got: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: agent.port, path: '/containerLogs/default/p1/c2?follow=true', ca: pki.caCertPem, cert: apiClient.certPem, key: apiClient.keyPem, agent: false }, (res) => {
      res.on('data', (d: Buffer) => {
        got.push(d.toString());
        if (got.join('').includes('second')) {
          req.destroy();
          resolve();
        } else follow.events.emit('line', 'second');
      });
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(got.join(''), 'first\nsecond\n');
});

/** Opens an exec session through the agent with a SPDY client (as the API server does). */
async function execThroughAgent(command: string[], opts: { stdin?: string } = {}): Promise<{ stdout: string; status: string }> {
  const q = new URLSearchParams([...command.map((c): [string, string] => ['command', c]), ['output', '1'], ...(opts.stdin !== undefined ? [['input', '1'] as [string, string]] : [])]);
  const dialed = await dialUpgrade(
    { url: new URL(`https://127.0.0.1:${agent.port}/exec/default/p1/c1?${q}`), tls: { caPem: pki.caCertPem, certPem: apiClient.certPem, keyPem: apiClient.keyPem } },
    { method: 'POST', headers: ['Connection', 'Upgrade', 'Upgrade', 'SPDY/3.1', 'X-Stream-Protocol-Version', 'v4.channel.k8s.io'] },
  );
  assert.ok(dialed.upgraded);
  assert.equal(dialed.response.headers['x-stream-protocol-version'], 'v4.channel.k8s.io');
  const conn = new SpdyConnection(dialed.socket, { role: 'client', head: dialed.head });
  const read = (s: SpdyStream) => new Promise<string>((r) => {
    let t = '';
    s.on('data', (d: Buffer) => (t += d.toString()));
    s.on('end', () => r(t));
  });
  const error = await conn.createStream({ streamtype: ['error'] });
  const stdin = opts.stdin !== undefined ? await conn.createStream({ streamtype: ['stdin'] }) : undefined;
  const stdout = await conn.createStream({ streamtype: ['stdout'] });
  stdin?.end(opts.stdin);
  const [out, status] = await Promise.all([read(stdout), read(error)]);
  conn.close();
  return { stdout: out, status };
}

test('exec is proxied to the CRI streaming server: SPDY end to end', async () => {
  const r = await execThroughAgent(['echo', 'hello', 'world']);
  assert.deepEqual(r, { stdout: 'hello world\n', status: '{"metadata":{},"status":"Success"}' });
  const last = backend.calls.at(-1) as { exec: unknown };
  assert.deepEqual(last.exec, { namespace: 'default', pod: 'p1', container: 'c1', stdin: false, stdout: true, stderr: false, tty: false, command: ['echo', 'hello', 'world'] });
});

test('exec carries stdin and the exit code', async () => {
  assert.equal((await execThroughAgent(['cat'], { stdin: 'typed' })).stdout, 'typed');
  const r = await execThroughAgent(['exit', '3']);
  assert.equal(JSON.parse(r.status).details.causes[0].message, '3');
});

test('a CRI server that cannot be reached is reported as the kubelet’s responder does', async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  const be = fakeBackend({ pods: [pod('p1', ['c1'])] });
  be.exec = async () => `http://127.0.0.1:${port}/exec/x`;
  const ab = new AbortController();
  const a = await startAgentServer({ bindAddress: '127.0.0.1', port: 0, tls: { ...serving, caPem: pki.caCertPem }, backend: be, log: () => {} }, ab.signal);
  try {
    const r = await call('POST', '/exec/default/p1/c1?command=ls&output=1', { port: a.port, headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io' } });
    assert.equal(r.status, 500);
    assert.equal(r.text, `error dialing backend: dial tcp 127.0.0.1:${port}: connect: connection refused\n`);
  } finally {
    ab.abort();
    await a.close();
  }
});

// ---- deadlines ------------------------------------------------------------------------------------

async function agentWith(limits: { keepAliveIdleMs?: number; maxRequestDurationMs?: number; streamIdleTimeoutMs?: number }) {
  const ab = new AbortController();
  const a = await startAgentServer({ bindAddress: '127.0.0.1', port: 0, tls: { ...serving, caPem: pki.caCertPem }, backend, log: () => {}, limits }, ab.signal);
  return { a, stop: async () => (ab.abort(), await a.close()) };
}

test('a kept-alive connection idle for keepAliveIdleMs is closed (bound)', async () => {
  const { a, stop } = await agentWith({ keepAliveIdleMs: 300 });
  try {
    const sock = tls.connect({ host: '127.0.0.1', port: a.port, ca: pki.caCertPem, cert: apiClient.certPem, key: apiClient.keyPem });
    await new Promise((r) => sock.once('secureConnect', r));
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    sock.resume();
    const start = Date.now();
    await new Promise((r) => sock.once('close', r));
    const took = Date.now() - start;
    assert.ok(took >= 250 && took < 5000, `closed after ${took} ms`);
  } finally {
    await stop();
  }
});

test('a plain request (a followed log) is cut after maxRequestDurationMs (bound)', async () => {
  const { a, stop } = await agentWith({ maxRequestDurationMs: 300 });
  try {
    const start = Date.now();
    const text = await new Promise<string>((resolve) => {
      let t = '';
      const req = https.request({ host: '127.0.0.1', port: a.port, path: '/containerLogs/default/p1/c2?follow=true', ca: pki.caCertPem, cert: apiClient.certPem, key: apiClient.keyPem, agent: false }, (res) => {
        res.on('data', (d: Buffer) => (t += d.toString()));
        res.on('close', () => resolve(t));
        res.on('error', () => resolve(t));
      });
      req.on('error', () => resolve(t));
      req.end();
    });
    assert.ok(Date.now() - start >= 280);
    assert.match(text, /^first\n/);
  } finally {
    await stop();
  }
});

test('an upgraded session idle for streamIdleTimeoutMs is closed (bound)', async () => {
  const { a, stop } = await agentWith({ streamIdleTimeoutMs: 300 });
  try {
    const dialed = await dialUpgrade(
      { url: new URL(`https://127.0.0.1:${a.port}/exec/default/p1/c1?command=cat&input=1&output=1`), tls: { caPem: pki.caCertPem, certPem: apiClient.certPem, keyPem: apiClient.keyPem } },
      { method: 'POST', headers: ['Connection', 'Upgrade', 'Upgrade', 'SPDY/3.1', 'X-Stream-Protocol-Version', 'v4.channel.k8s.io'] },
    );
    assert.ok(dialed.upgraded);
    const start = Date.now();
    await new Promise((r) => dialed.socket.once('close', r));
    assert.ok(Date.now() - start >= 280);
  } finally {
    await stop();
  }
});

test('request headers beyond maxHeaderBytes are refused; just under them pass (bound)', async () => {
  const under = await call('GET', '/healthz', { headers: { 'x-filler': 'a'.repeat(maxHeaderBytes - 2048) } });
  assert.equal(under.status, 200);
  const over = await call('GET', '/healthz', { headers: { 'x-filler': 'a'.repeat(maxHeaderBytes + 10) } }).catch((err: Error) => ({ status: 0, text: err.message, headers: {} }));
  assert.ok(over.status === 431 || over.status === 0, `${over.status} ${over.text}`);
});

// ---- certificate rotation ---------------------------------------------------------------------------

test('a new serving certificate is served from the next handshake on; an open connection keeps its own', async () => {
  const renewed = await issueServingCert(pki, { name: 'agent-serving', commonName: 'node-1', sans: ['127.0.0.1'], renew: true });
  assert.notEqual(renewed.certPem, serving.certPem);
  const { a, stop } = await agentWith({});
  const connect = async () => {
    const sock = tls.connect({ host: '127.0.0.1', port: a.port, ca: pki.caCertPem, cert: apiClient.certPem, key: apiClient.keyPem });
    await new Promise((r) => sock.once('secureConnect', r));
    return sock;
  };
  const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;
  const get = (sock: tls.TLSSocket) =>
    new Promise<string>((resolve) => {
      let text = '';
      const onData = (d: Buffer) => {
        text += d.toString();
        if (text.endsWith('\r\n0\r\n\r\n')) {
          sock.off('data', onData);
          resolve(text);
        }
      };
      sock.on('data', onData);
      sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    });
  try {
    const old = await connect();
    assert.equal(old.getPeerCertificate().serialNumber, serialOf(serving.certPem));
    a.setCertificate(renewed);
    const fresh = await connect();
    assert.equal(fresh.getPeerCertificate().serialNumber, serialOf(renewed.certPem));
    // Both connections still serve requests, and the client CA check still applies.
    assert.match(await get(old), /^HTTP\/1.1 200/);
    assert.match(await get(fresh), /^HTTP\/1.1 200/);
    const anonymous = await call('GET', '/healthz', { port: a.port, cert: null }).catch((err: Error) => ({ status: 0, text: err.message }));
    assert.equal(anonymous.status, 0, 'a client without a certificate is still refused');
    old.destroy();
    fresh.destroy();
  } finally {
    await stop();
  }
});
