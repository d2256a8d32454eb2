/**
 * SPDY/3.1 framing and connections: every frame type round trips; header blocks interoperate
 * with a continuous zlib stream (as Go's compress/zlib writes and reads them); each bound is
 * tested at its edge; streams carry data both ways, half-close, reset and refuse as spdystream
 * peers expect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import {
  FrameReader,
  FrameWriter,
  SpdyConnection,
  SpdyError,
  RstStatus,
  headerDictionary,
  initialWindowBytes,
  maxDataFrameBytes,
  maxFrameBytes,
  type SpdyFrame,
  type SpdyStream,
} from './spdy.ts';

test('the header dictionary is the SPDY/3 one', () => {
  assert.equal(headerDictionary.length, 1423);
  assert.equal(createHash('sha256').update(headerDictionary).digest('hex'), '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02');
});

const frames: { name: string; frame: SpdyFrame }[] = [
  { name: 'DATA', frame: { type: 'data', streamId: 7, fin: false, data: Buffer.from('hello') } },
  { name: 'DATA with FIN and no payload', frame: { type: 'data', streamId: 0x7fffffff, fin: true, data: Buffer.alloc(0) } },
  {
    name: 'SYN_STREAM',
    frame: { type: 'syn_stream', streamId: 1, associatedTo: 0, priority: 3, fin: false, unidirectional: true, headers: { streamtype: ['error'], port: ['80'] } },
  },
  { name: 'SYN_REPLY', frame: { type: 'syn_reply', streamId: 1, fin: true, headers: {} } },
  { name: 'RST_STREAM', frame: { type: 'rst_stream', streamId: 3, status: RstStatus.cancel } },
  { name: 'SETTINGS', frame: { type: 'settings', clear: true, entries: [{ flags: 1, id: 7, value: 65536 }, { flags: 0, id: 4, value: 100 }] } },
  { name: 'PING', frame: { type: 'ping', id: 0xfffffffe } },
  { name: 'GOAWAY', frame: { type: 'goaway', lastGoodStreamId: 5, status: 1 } },
  { name: 'HEADERS', frame: { type: 'headers', streamId: 9, fin: true, headers: { a: ['1', '2'] } } },
  { name: 'WINDOW_UPDATE', frame: { type: 'window_update', streamId: 9, delta: 32768 } },
];
for (const c of frames) {
  test(`a ${c.name} frame round trips, whole and byte by byte`, () => {
    const w = new FrameWriter();
    const bytes = Buffer.concat([w.encode(c.frame), w.encode(c.frame)]);
    assert.deepEqual(new FrameReader().push(bytes), [c.frame, c.frame]);
    const r = new FrameReader();
    const got: SpdyFrame[] = [];
    for (const b of bytes) got.push(...r.push(Buffer.from([b])));
    assert.deepEqual(got, [c.frame, c.frame]);
    assert.equal(r.bufferedBytes, 0);
  });
}

test('an unknown control frame type is skipped, not an error', () => {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0x8003, 0);
  b.writeUInt16BE(0x0a, 2);
  b.writeUInt32BE(4, 4);
  assert.deepEqual(new FrameReader().push(b), [{ type: 'unknown', frameType: 10 }]);
});

/** Header blocks as a continuous zlib stream (Go's compress/zlib with the dictionary) writes them. */
async function continuousDeflate(blocks: Buffer[]): Promise<Buffer[]> {
  const d = zlib.createDeflate({ level: 9, dictionary: headerDictionary });
  const chunks: Buffer[] = [];
  d.on('data', (c: Buffer) => chunks.push(c));
  const out: Buffer[] = [];
  for (const b of blocks) {
    d.write(b);
    await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    await new Promise((r) => setImmediate(r));
    out.push(Buffer.concat(chunks.splice(0)));
  }
  d.destroy();
  return out;
}

function headerBlock(pairs: [string, string][]): Buffer {
  const parts = [Buffer.from([0, 0, 0, pairs.length])];
  for (const [n, v] of pairs) {
    for (const s of [n, v]) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(Buffer.byteLength(s), 0);
      parts.push(len, Buffer.from(s));
    }
  }
  return Buffer.concat(parts);
}

function synReplyFrame(id: number, compressed: Buffer): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0x8003, 0);
  b.writeUInt16BE(2, 2);
  b.writeUInt32BE(4 + compressed.length, 4);
  b.writeUInt32BE(id, 8);
  return Buffer.concat([b, compressed]);
}

test('header blocks from a continuous zlib stream decode, each referring back to the ones before', async () => {
  const pairs = Array.from({ length: 40 }, (_, i): [string, string][] => [
    ['streamtype', ['error', 'stdin', 'stdout', 'data'][i % 4]!],
    ['port', String(8000 + i)],
    ['requestid', String(i)],
    ['x-filler', 'y'.repeat(i * 50)],
  ]);
  const compressed = await continuousDeflate(pairs.map(headerBlock));
  const r = new FrameReader();
  pairs.forEach((p, i) => {
    const [f] = r.push(synReplyFrame(2 * i + 1, compressed[i]!));
    assert.deepEqual(f, { type: 'syn_reply', streamId: 2 * i + 1, fin: false, headers: Object.fromEntries(p.map(([n, v]) => [n, [v]])) });
  });
});

test('header blocks written here decode with a continuous zlib stream (as Go reads them)', async () => {
  const w = new FrameWriter();
  const inflate = zlib.createInflate({ dictionary: headerDictionary });
  const out: Buffer[] = [];
  inflate.on('data', (c: Buffer) => out.push(c));
  for (let i = 0; i < 30; i++) {
    const headers = { streamtype: [i % 2 ? 'stdout' : 'error'], port: [String(i)], filler: ['z'.repeat(i * 40)] };
    const frame = w.encode({ type: 'syn_stream', streamId: 2 * i + 1, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headers });
    inflate.write(frame.subarray(18));
    await new Promise<void>((r) => inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(Buffer.concat(out.splice(0)), headerBlock(Object.entries(headers).map(([n, v]) => [n, v[0]!])));
  }
  inflate.destroy();
});

const readerErrors: { name: string; opts?: { maxFrameBytes?: number; maxHeaderBlockBytes?: number }; bytes: () => Buffer; code: string }[] = [
  {
    name: 'a frame longer than maxFrameBytes is refused as soon as its header arrives',
    bytes: () => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(1, 0);
      b.writeUInt32BE(maxFrameBytes + 1, 4);
      return b;
    },
    code: 'ERR_SPDY_FRAME_TOO_LARGE',
  },
  {
    name: 'a frame of exactly maxFrameBytes is not refused (edge)',
    opts: { maxFrameBytes: 16 },
    bytes: () => new FrameWriter().encode({ type: 'data', streamId: 1, fin: false, data: Buffer.alloc(16) }),
    code: '',
  },
  {
    name: 'a frame one byte over a small maxFrameBytes is refused (edge)',
    opts: { maxFrameBytes: 16 },
    bytes: () => new FrameWriter().encode({ type: 'data', streamId: 1, fin: false, data: Buffer.alloc(17) }),
    code: 'ERR_SPDY_FRAME_TOO_LARGE',
  },
  {
    name: 'a header block that inflates beyond maxHeaderBlockBytes is refused',
    opts: { maxHeaderBlockBytes: 1000 },
    bytes: () => new FrameWriter().encode({ type: 'syn_reply', streamId: 1, fin: false, headers: { big: ['a'.repeat(1000)] } }),
    code: 'ERR_SPDY_FRAME_TOO_LARGE',
  },
  {
    name: 'a header block without a zlib header is a protocol error',
    bytes: () => synReplyFrame(1, Buffer.from([1, 2, 3, 4])),
    code: 'ERR_SPDY_PROTOCOL',
  },
  {
    name: 'a DATA frame for stream 0 is a protocol error',
    bytes: () => Buffer.alloc(8),
    code: 'ERR_SPDY_PROTOCOL',
  },
];
for (const c of readerErrors) {
  test(c.name, () => {
    const r = new FrameReader(c.opts);
    if (!c.code) return void assert.equal(r.push(c.bytes()).length, 1);
    assert.throws(() => r.push(c.bytes()), (err: unknown) => err instanceof SpdyError && err.code === c.code);
  });
}

// ---- connections -------------------------------------------------------------------------------

interface Pair {
  client: SpdyConnection;
  server: SpdyConnection;
  serverStreams: SpdyStream[];
  close(): void;
}

async function pair(opts: { client?: Partial<ConstructorParameters<typeof SpdyConnection>[1]>; server?: Partial<ConstructorParameters<typeof SpdyConnection>[1]>; onStream?: (s: SpdyStream) => void } = {}): Promise<Pair> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const sock = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const ssock = await accepted;
  srv.close();
  const serverStreams: SpdyStream[] = [];
  const server = new SpdyConnection(ssock, {
    role: 'server',
    onStream: (s) => {
      serverStreams.push(s);
      if (opts.onStream) opts.onStream(s);
      else s.reply();
    },
    ...opts.server,
  });
  const client = new SpdyConnection(sock, { role: 'client', ...opts.client });
  return {
    client,
    server,
    serverStreams,
    close() {
      client.destroy();
      server.destroy();
    },
  };
}

function readAll(s: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

test('a client stream carries data both ways, each side ending with FIN', async () => {
  const p = await pair({
    onStream: (s) => {
      s.reply();
      s.pipe(s); // echo, ending when the client ends
    },
  });
  try {
    const s = await p.client.createStream({ streamtype: ['stdin'] });
    assert.deepEqual(p.serverStreams[0]!.headers, { streamtype: ['stdin'] });
    const got = readAll(s);
    s.write('hello ');
    s.end('world');
    assert.equal(await got, 'hello world');
  } finally {
    p.close();
  }
});

test('large writes arrive whole, split into frames of at most maxDataFrameBytes', async () => {
  const big = Buffer.alloc(5 * maxDataFrameBytes + 123, 7);
  const p = await pair({
    onStream: (s) => {
      s.reply();
      s.end(big);
    },
  });
  try {
    const s = await p.client.createStream({});
    s.end();
    assert.equal((await readAll(s)).length, big.length);
  } finally {
    p.close();
  }
});

test('a stream the server resets is refused: createStream rejects', async () => {
  const p = await pair({ onStream: (s) => s.reset(RstStatus.refusedStream) });
  try {
    await assert.rejects(p.client.createStream({}), (err: unknown) => err instanceof SpdyError && err.code === 'ERR_SPDY_STREAM_RESET');
  } finally {
    p.close();
  }
});

test('a reset after acceptance ends the stream without an error event, and tells the status', async () => {
  const p = await pair();
  try {
    const s = await p.client.createStream({});
    s.on('error', () => assert.fail('no error event expected'));
    const ended = readAll(s);
    const closed = new Promise((r) => s.once('close', r));
    p.serverStreams[0]!.reset(RstStatus.internalError);
    assert.equal(await ended, '');
    await closed;
    assert.equal(s.resetStatus, RstStatus.internalError);
  } finally {
    p.close();
  }
});

test('PING is answered by the peer', async () => {
  const p = await pair();
  try {
    assert.ok((await p.client.ping()) >= 0);
    assert.ok((await p.server.ping()) >= 0);
  } finally {
    p.close();
  }
});

test('a stream not answered within createStreamTimeoutMs is reset and rejected (bound)', async () => {
  const p = await pair({ onStream: () => {}, client: { createStreamTimeoutMs: 100 } });
  try {
    await assert.rejects(p.client.createStream({}), (err: unknown) => err instanceof SpdyError && err.code === 'ERR_SPDY_TIMEOUT');
  } finally {
    p.close();
  }
});

test('streams beyond maxConcurrentStreams are refused; at the bound they are accepted (bound)', async () => {
  const p = await pair({ server: { maxConcurrentStreams: 2 } });
  try {
    await p.client.createStream({});
    await p.client.createStream({});
    await assert.rejects(p.client.createStream({}), (err: unknown) => err instanceof SpdyError && err.code === 'ERR_SPDY_STREAM_RESET');
  } finally {
    p.close();
  }
});

test('an idle connection is closed after idleTimeoutMs; activity keeps it open (bound)', async () => {
  const p = await pair({ client: { idleTimeoutMs: 300 }, server: { idleTimeoutMs: 0 } });
  try {
    const closed = new Promise<Error | null>((r) => p.client.once('close', r));
    const start = Date.now();
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 150));
      await p.client.ping();
    }
    assert.equal(p.client.closed, false);
    const err = await closed;
    assert.ok(Date.now() - start >= 900);
    assert.ok(err instanceof SpdyError && err.code === 'ERR_SPDY_IDLE');
  } finally {
    p.close();
  }
});

test('a stream whose reader lags pauses the socket: what it holds stays bounded, and nothing is lost (bound)', async () => {
  const total = 4 * 1024 * 1024;
  let serverStream: SpdyStream | undefined;
  const p = await pair({
    onStream: (s) => {
      s.reply();
      serverStream = s;
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    },
  });
  try {
    const s = await p.client.createStream({});
    s.end();
    s.pause();
    await new Promise((r) => setTimeout(r, 300));
    // The reader holds at most its buffer plus what one socket read delivered.
    assert.ok(s.readableLength <= initialWindowBytes + 128 * 1024, `held ${s.readableLength}`);
    // The writer is held back by the socket, not buffering everything.
    assert.ok(serverStream!.writableLength + s.readableLength < total / 2);
    s.resume();
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    await new Promise((r) => s.once('end', r));
    assert.equal(n, total);
  } finally {
    p.close();
  }
});

test('the receiver grants window (WINDOW_UPDATE) once half the initial window was delivered', async () => {
  // A raw peer that answers the stream and sends 64 KiB, recording the frames it receives.
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const seen: SpdyFrame[] = [];
  srv.on('connection', (sock) => {
    const r = new FrameReader();
    const w = new FrameWriter();
    sock.on('data', (c: Buffer) => {
      for (const f of r.push(c)) {
        seen.push(f);
        if (f.type === 'syn_stream') {
          sock.write(w.encode({ type: 'syn_reply', streamId: f.streamId, fin: false, headers: {} }));
          for (let i = 0; i < 4; i++) sock.write(w.encode({ type: 'data', streamId: f.streamId, fin: i === 3, data: Buffer.alloc(initialWindowBytes / 4) }));
        }
      }
    });
  });
  const sock = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const client = new SpdyConnection(sock, { role: 'client' });
  try {
    const s = await client.createStream({});
    await readAll(s);
    const deadline = Date.now() + 5000;
    while (!seen.some((f) => f.type === 'window_update') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const updates = seen.filter((f) => f.type === 'window_update');
    assert.deepEqual(updates, [{ type: 'window_update', streamId: s.id, delta: initialWindowBytes / 2 }]);
  } finally {
    client.destroy();
    srv.close();
  }
});

test('GOAWAY: no new streams; the connection closes once open streams are done', async () => {
  const p = await pair();
  try {
    const s = await p.client.createStream({});
    const closed = new Promise((r) => p.client.once('close', r));
    p.server.close();
    await closed;
    assert.equal(await readAll(s), '');
    await assert.rejects(p.client.createStream({}), (err: unknown) => err instanceof SpdyError && err.code === 'ERR_SPDY_CLOSED');
  } finally {
    p.close();
  }
});
