/**
 * The raw upgrade proxy against a tiny local upgrade echo server: a 101 is relayed as written
 * and bytes flow both ways; a 4xx/5xx answer is relayed; other answers and unreachable
 * backends are errors for the caller; the idle and response deadlines are kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { BackendError, dialUpgrade, maxRelayedErrorBytes, proxyUpgrade, type UpgradeRequest } from './upgrade.ts';

/** A backend: answers upgrades per `mode`, echoing bytes after a 101. */
async function backend(mode: '101' | '404' | '200' | 'silent' | 'big404' | 'stalled404'): Promise<{ url: URL; seen: http.IncomingMessage[]; close(): void }> {
  const seen: http.IncomingMessage[] = [];
  const srv = http.createServer((req, res) => {
    seen.push(req);
    res.writeHead(200).end('not an upgrade');
  });
  srv.on('upgrade', (req, socket, head) => {
    seen.push(req);
    if (mode === 'silent') return;
    if (mode === '404') return void socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 18\r\n\r\npod does not exist');
    if (mode === '200') return void socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    if (mode === 'big404') return void socket.end(`HTTP/1.1 404 Not Found\r\nContent-Length: ${maxRelayedErrorBytes + 100}\r\n\r\n${'x'.repeat(maxRelayedErrorBytes + 100)}`);
    if (mode === 'stalled404') return void socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 100\r\n\r\npartial');
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\nhello');
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: new URL(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/exec/token`),
    seen,
    close() {
      srv.closeAllConnections();
      srv.close();
    },
  };
}

/** A front server whose upgrade requests go through proxyUpgrade to `target`. */
async function front(target: URL, onError: (err: unknown) => void, idleTimeoutMs?: number, errorRelayTimeoutMs?: number): Promise<{ port: number; close(): void }> {
  const srv = http.createServer();
  srv.on('upgrade', (req, socket, head) => {
    const client: UpgradeRequest = { req, socket, head };
    proxyUpgrade(client, { url: target }, { idleTimeoutMs, errorRelayTimeoutMs }).catch((err) => {
      onError(err);
      socket.end(`HTTP/1.1 500 Internal Server Error\r\nContent-Length: ${Buffer.byteLength(String(err.message))}\r\n\r\n${err.message}`);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as AddressInfo).port,
    close() {
      srv.closeAllConnections();
      srv.close();
    },
  };
}

function rawClient(port: number, request: string): { sock: net.Socket; text: () => string; closed: Promise<void> } {
  const sock = net.connect(port, '127.0.0.1');
  let text = '';
  sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
  sock.write(request);
  return { sock, text: () => text, closed: new Promise((r) => sock.on('close', () => r())) };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const upgradeRequest = 'POST /api/x HTTP/1.1\r\nHost: front\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io\r\nAuthorization: Bearer secret\r\n\r\nearly';

test('a 101 is relayed as the backend wrote it, then bytes flow both ways', async () => {
  const b = await backend('101');
  const f = await front(b.url, (e) => assert.fail(String(e)));
  try {
    const c = rawClient(f.port, upgradeRequest);
    await until(() => c.text().includes('helloearly'));
    assert.match(c.text(), /^HTTP\/1\.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY\/3\.1\r\nX-Stream-Protocol-Version: v4\.channel\.k8s\.io\r\n\r\nhelloearly/);
    c.sock.write('ping');
    await until(() => c.text().endsWith('ping'));
    // The backend saw the client's headers (both protocol versions), not its credentials.
    const seen = b.seen[0]!;
    assert.equal(seen.url, '/exec/token');
    assert.equal(seen.method, 'POST');
    assert.deepEqual(seen.headers['x-stream-protocol-version'], 'v4.channel.k8s.io, v3.channel.k8s.io');
    assert.equal(seen.headers['authorization'], undefined);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    c.sock.end();
    await c.closed;
  } finally {
    f.close();
    b.close();
  }
});

test('a 4xx answer is relayed to the client and the connection closed', async () => {
  const b = await backend('404');
  const f = await front(b.url, (e) => assert.fail(String(e)));
  try {
    const c = rawClient(f.port, upgradeRequest);
    await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 404 Not Found\r\nContent-Type: text\/plain\r\nContent-Length: 18\r\nConnection: close\r\n\r\npod does not exist$/);
  } finally {
    f.close();
    b.close();
  }
});

const failures: { name: string; target: () => Promise<{ url: URL; close(): void }>; want: RegExp }[] = [
  { name: 'a 2xx answer to an upgrade is an error for the caller', target: () => backend('200'), want: /^invalid upgrade response: status code 200$/ },
  {
    name: 'an unreachable backend is an error in Go’s words',
    target: async () => {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const port = (s.address() as AddressInfo).port;
      await new Promise((r) => s.close(r));
      return { url: new URL(`http://127.0.0.1:${port}/x`), close() {} };
    },
    want: /^dial tcp 127\.0\.0\.1:\d+: connect: connection refused$/,
  },
];
for (const c of failures) {
  test(c.name, async () => {
    const b = await c.target();
    let err: unknown;
    const f = await front(b.url, (e) => (err = e));
    try {
      const cl = rawClient(f.port, upgradeRequest);
      await cl.closed;
      assert.ok(err instanceof BackendError);
      assert.match((err as Error).message, c.want);
    } finally {
      f.close();
      b.close();
    }
  });
}

test('a backend that does not answer in time is a timeout (bound)', async () => {
  const b = await backend('silent');
  try {
    const started = Date.now();
    await assert.rejects(dialUpgrade({ url: b.url }, { method: 'POST', headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1' }, timeoutMs: 200 }), /i\/o timeout/);
    assert.ok(Date.now() - started >= 190);
  } finally {
    b.close();
  }
});

test('a proxied connection idle for idleTimeoutMs is closed; traffic keeps it open (bound)', async () => {
  const b = await backend('101');
  const f = await front(b.url, (e) => assert.fail(String(e)), 300);
  try {
    const c = rawClient(f.port, upgradeRequest);
    await until(() => c.text().includes('helloearly'));
    const start = Date.now();
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 150));
      c.sock.write('x');
    }
    assert.equal(c.sock.destroyed, false);
    await c.closed;
    assert.ok(Date.now() - start >= 800);
  } finally {
    f.close();
    b.close();
  }
});

test('a failed upgrade’s body is relayed up to maxRelayedErrorBytes (bound)', async () => {
  const b = await backend('big404');
  const f = await front(b.url, (e) => assert.fail(String(e)));
  try {
    const c = rawClient(f.port, upgradeRequest);
    await c.closed;
    const [head, body] = c.text().split('\r\n\r\n');
    assert.match(head!, new RegExp(`Content-Length: ${maxRelayedErrorBytes}\r\nConnection: close$`));
    assert.equal(body!.length, maxRelayedErrorBytes);
  } finally {
    f.close();
    b.close();
  }
});

test('a failed upgrade’s body that stalls is relayed as far as it came after errorRelayTimeoutMs (bound)', async () => {
  const b = await backend('stalled404');
  const f = await front(b.url, (e) => assert.fail(String(e)), undefined, 300);
  try {
    const start = Date.now();
    const c = rawClient(f.port, upgradeRequest);
    await c.closed;
    assert.ok(Date.now() - start >= 280);
    assert.match(c.text(), /^HTTP\/1\.1 404 Not Found\r\nContent-Length: 7\r\nConnection: close\r\n\r\npartial$/);
  } finally {
    f.close();
    b.close();
  }
});
