/**
 * The WebSocket side of exec/attach and port-forward, straight against the fake CRI streaming
 * server (no agent in between): the error stream read as upstream's client reads it, refused
 * upgrades, and each bound of the translator and the tunnel at its edge.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { WebSocket } from 'ws';
import { decodeErrorStream, translateRemoteCommand, upgradeRefusal, type Outcome, type TranslateOptions } from './remotecommand.ts';
import { tunnelPortForward, tunnelRequestHeaders, tunneledProtocols } from './tunnel.ts';
import { dialUpgrade, type DialResult } from '../../util/upgrade.ts';
import { startFakeCri, type FakeCri } from '../../kubelet/server/testing.ts';

const decodeCases: { name: string; protocol?: string; message: string; want: Outcome }[] = [
  { name: 'an empty error stream is success', message: '', want: { kind: 'success' } },
  { name: 'a Success status is success', message: '{"metadata":{},"status":"Success"}', want: { kind: 'success' } },
  {
    name: 'NonZeroExitCode carries the exit code',
    message: '{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"42"}]}}',
    want: { kind: 'exit', code: 42 },
  },
  {
    name: 'an exit code over 255 is a protocol error',
    message: '{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"256"}]}}',
    want: { kind: 'error', message: 'error stream protocol error: invalid exit code value "256"' },
  },
  { name: 'NonZeroExitCode without details is a protocol error', message: '{"status":"Failure","reason":"NonZeroExitCode"}', want: { kind: 'error', message: 'error stream protocol error: details must be set' } },
  { name: 'NonZeroExitCode without an ExitCode cause is a protocol error', message: '{"status":"Failure","reason":"NonZeroExitCode","details":{}}', want: { kind: 'error', message: 'error stream protocol error: no ExitCode cause given' } },
  { name: 'another failure is its message', message: '{"status":"Failure","message":"boom","reason":"InternalError"}', want: { kind: 'error', message: 'boom' } },
  { name: 'a status neither Success nor Failure is unknown', message: '{"status":"Maybe"}', want: { kind: 'error', message: 'error stream protocol error: unknown error' } },
  { name: 'v3 and v2 error streams are text', protocol: 'v3.channel.k8s.io', message: 'it broke', want: { kind: 'error', message: 'error executing remote command: it broke' } },
];
for (const c of decodeCases) test(`error stream: ${c.name}`, () => assert.deepEqual(decodeErrorStream(c.protocol ?? 'v4.channel.k8s.io', Buffer.from(c.message)), c.want));

test('error stream: text that is not JSON is a protocol error quoting it', () => {
  const o = decodeErrorStream('v4.channel.k8s.io', Buffer.from('nope'));
  assert.equal(o.kind, 'error');
  assert.match((o as { message: string }).message, /^error stream protocol error: .* in "nope"$/);
});

function fakeResponse(body: string): DialResult & { upgraded: false } {
  const s = new PassThrough();
  s.end(body);
  return { upgraded: false, response: s as unknown as http.IncomingMessage };
}

test('a refused upgrade with a Status body is that Status; otherwise "unable to upgrade connection"', async () => {
  const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'nope', reason: 'Forbidden', code: 403 };
  assert.deepEqual(await upgradeRefusal(fakeResponse(JSON.stringify(status))), { kind: 'status', status });
  assert.deepEqual(await upgradeRefusal(fakeResponse('pod does not exist\n')), { kind: 'error', message: 'unable to upgrade connection: pod does not exist' });
});

// ---- sessions against the fake CRI ------------------------------------------------------------------

let cri: FakeCri;
let front: http.Server;
let frontPort: number;
let echo: net.Server;
/** Per-test translator options. */
let limits: Partial<TranslateOptions> = {};
let tunnelIdleMs = 0;

before(async () => {
  cri = await startFakeCri();
  echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  front = http.createServer();
  front.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://x');
    const client = { req, socket, head };
    if (url.pathname === '/portforward') {
      const protocols = tunneledProtocols(req.headers);
      const target = { url: new URL(cri.register({ kind: 'portforward', ports: { 80: (echo.address() as AddressInfo).port } })) };
      void tunnelPortForward(client, { protocols, dial: () => dialUpgrade(target, { method: 'POST', headers: tunnelRequestHeaders(client, target, protocols) }), idleTimeoutMs: tunnelIdleMs });
      return;
    }
    const q = url.searchParams;
    const streams = { stdin: q.has('stdin'), stdout: true, stderr: false, tty: q.has('tty') };
    void translateRemoteCommand(client, {
      streams,
      dial: (protocols) => {
        const target = { url: new URL(cri.register({ kind: 'exec', command: q.getAll('command'), ...streams })) };
        const h = ['Connection', 'Upgrade', 'Upgrade', 'SPDY/3.1'];
        for (const p of protocols) h.push('X-Stream-Protocol-Version', p);
        return dialUpgrade(target, { method: 'POST', headers: h });
      },
      ...limits,
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontPort = (front.address() as AddressInfo).port;
});

after(async () => {
  front.closeAllConnections();
  front.close();
  echo.close();
  await cri.close();
});

interface Session {
  ws: WebSocket;
  messages: { ch: number; data: Buffer }[];
  opened: Promise<void>;
  closed: Promise<number>;
}

function open(query: string, protocol = 'v5.channel.k8s.io'): Session {
  const ws = new WebSocket(`ws://127.0.0.1:${frontPort}/exec?${query}`, [protocol]);
  const messages: { ch: number; data: Buffer }[] = [];
  ws.on('message', (d: Buffer) => messages.push({ ch: d[0]!, data: d.subarray(1) }));
  ws.on('error', () => {});
  return { ws, messages, opened: new Promise((r) => ws.once('open', () => r())), closed: new Promise((r) => ws.once('close', (code) => r(code))) };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a session with no data either way for idleTimeoutMs is closed; data keeps it open (bound)', async () => {
  limits = { idleTimeoutMs: 300 };
  const s = open('command=cat&stdin');
  await s.opened;
  const start = Date.now();
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 150));
    s.ws.send(Buffer.from([0, 0x61]));
  }
  assert.equal(s.ws.readyState, WebSocket.OPEN);
  await s.closed;
  assert.ok(Date.now() - start >= 800);
});

test('a message longer than maxMessageBytes ends the session; one at the bound passes (bound)', async () => {
  limits = { maxMessageBytes: 1024 };
  const ok = open('command=cat&stdin');
  await ok.opened;
  ok.ws.send(Buffer.concat([Buffer.from([0]), Buffer.alloc(1023, 0x61)]));
  ok.ws.send(Buffer.from([255, 0]));
  assert.equal(await ok.closed, 1000);
  assert.equal(ok.messages.filter((m) => m.ch === 1).reduce((n, m) => n + m.data.length, 0), 1023);
  const big = open('command=cat&stdin');
  await big.opened;
  big.ws.send(Buffer.concat([Buffer.from([0]), Buffer.alloc(1024, 0x61)]));
  assert.equal(await big.closed, 1009);
});

test('a client that does not read holds the command back: output waiting stays bounded (bound)', async () => {
  limits = { maxBufferedBytes: 256 * 1024 };
  const total = 256 * 1024 * 1024;
  cri.produced = 0;
  const s = open(`command=flood&command=${total}`);
  await s.opened;
  // Stop reading: the kernel buffers fill, then the translator's WebSocket buffer, then the SPDY stream.
  (s.ws as unknown as { _socket: net.Socket })._socket.pause();
  await new Promise((r) => setTimeout(r, 1000));
  const held = cri.produced;
  assert.ok(held < total / 4, `the command produced ${held} bytes while nobody read`);
  (s.ws as unknown as { _socket: net.Socket })._socket.resume();
  await s.closed;
  assert.equal(s.messages.filter((m) => m.ch === 1).reduce((n, m) => n + m.data.length, 0), total);
});

test('the error stream is read up to maxErrorStreamBytes (bound)', async () => {
  limits = {};
  const s = open('command=bigerror&command=200000');
  await s.closed;
  const status = JSON.parse(s.messages.find((m) => m.ch === 3)!.data.toString());
  assert.equal(status.reason, 'InternalError');
  assert.match(status.details.causes[0].message, /^error stream protocol error: /);
  assert.ok(status.details.causes[0].message.length < 70_000);
});

test('an oversized resize message is dropped; the next one gets through (bound)', async () => {
  limits = {};
  const s = open('command=size&stdin&tty');
  await s.opened;
  s.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(`{"Width":1,${' '.repeat(5000)}`)]));
  s.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":7,"Height":9}')]));
  await s.closed;
  assert.deepEqual(s.messages.filter((m) => m.ch === 1 && m.data.length).map((m) => m.data.toString()), ['7x9\n']);
});

test('a v5 close signal naming no single channel is a protocol error', async () => {
  limits = {};
  const s = open('command=cat&stdin');
  await s.opened;
  s.ws.send(Buffer.from([255, 0, 1]));
  assert.equal(await s.closed, 1002);
});

test('a tunneled port-forward with no traffic for idleTimeoutMs is closed (bound)', async () => {
  tunnelIdleMs = 300;
  // By hand: kubectl's tunneling subprotocol is not an RFC 7230 token, which the ws client refuses.
  const sock = net.connect(frontPort, '127.0.0.1');
  let text = '';
  sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
  sock.write(
    'GET /portforward HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n',
  );
  await until(() => text.includes('\r\n\r\n'));
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(text, /\r\nSec-WebSocket-Protocol: SPDY\/3\.1\+portforward\.k8s\.io\r\n/);
  const start = Date.now();
  await new Promise((r) => sock.once('close', r));
  assert.ok(Date.now() - start >= 280);
});
