/**
 * Tests of etcdconn.ts against a real etcd (etcdtest.ts): unary calls over h2c and TLS, etcd's
 * error statuses surfacing as grpc-js-shaped errors (code, details, message), a refused connection
 * as UNAVAILABLE with `connection:` details, a passed deadline as DEADLINE_EXCEEDED, a bidirectional
 * Watch stream, reconnection after the member restarts, and that an idle connection does not keep
 * the process alive.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { EtcdConn, GrpcCallError } from './etcdconn.ts';
import * as wire from './etcdwire.ts';
import { startEtcdCluster, freePort, type EtcdCluster } from './etcdtest.ts';

let plain: EtcdCluster;
let tls: EtcdCluster;
const conns: EtcdConn[] = [];
before(async () => {
  [plain, tls] = await Promise.all([startEtcdCluster({ members: 1, name: 'bosun-conn-test' }), startEtcdCluster({ members: 1, tls: true, name: 'bosun-conn-tls' })]);
});
after(async () => {
  for (const c of conns) c.close();
  await Promise.all([plain?.stop(), tls?.stop()]);
});

function conn(url: string, t?: { caFile: string; certFile: string; keyFile: string }): EtcdConn {
  const c = new EtcdConn(url, t && { ca: fs.readFileSync(t.caFile), cert: fs.readFileSync(t.certFile), key: fs.readFileSync(t.keyFile) });
  conns.push(c);
  return c;
}

const put = (c: EtcdConn, k: string, v: string) =>
  c.unary('/etcdserverpb.KV/Txn', wire.encodeTxn({ compare: [], success: [{ put: { key: Buffer.from(k), value: Buffer.from(v) } }], failure: [] }), 5000).then(wire.decodeTxn);

test('unary Txn and Range over h2c and over TLS with client certificates', async () => {
  for (const c of [conn(plain.endpoints[0]!), conn(tls.endpoints[0]!, tls.tls)]) {
    const t = await put(c, '/conn/a', 'hello');
    assert.ok(t.succeeded && t.revision > 0);
    const r = wire.decodeRange(await c.unary('/etcdserverpb.KV/Range', wire.encodeRange({ key: Buffer.from('/conn/a') }), 5000));
    assert.deepEqual([r.kvs[0]!.value.toString(), r.kvs[0]!.modRevision, r.revision], ['hello', t.revision, t.revision]);
    // Many calls at once share the session.
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => put(c, `/conn/many/${i}`, String(i))));
    assert.equal(new Set(all.map((x) => x.revision)).size, 200);
  }
});

test("etcd's errors keep their gRPC code and message", async () => {
  const c = conn(plain.endpoints[0]!);
  const t = await put(c, '/conn/b', 'x');
  await c.unary('/etcdserverpb.KV/Compact', wire.encodeCompaction(t.revision), 5000);
  const err = await c.unary('/etcdserverpb.KV/Range', wire.encodeRange({ key: Buffer.from('/conn/b'), revision: t.revision - 1 }), 5000).catch((e) => e);
  assert.ok(err instanceof GrpcCallError);
  assert.equal(err.code, 11); // OUT_OF_RANGE
  assert.equal(err.details, 'etcdserver: mvcc: required revision has been compacted');
  assert.equal(err.message, '11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted');
  const fut = await c.unary('/etcdserverpb.KV/Range', wire.encodeRange({ key: Buffer.from('x'), revision: t.revision + 1000 }), 5000).catch((e) => e);
  assert.match(fut.message, /required revision is a future revision/);
  const unimpl = await c.unary('/etcdserverpb.KV/Nope', wire.encodeCompaction(1), 5000).catch((e) => e);
  assert.equal(unimpl.code, 12);
});

test('a refused connection is UNAVAILABLE (connection details); a passed deadline is DEADLINE_EXCEEDED', async () => {
  const c = conn(`http://127.0.0.1:${await freePort()}`);
  const err = await c.unary('/etcdserverpb.KV/Range', wire.encodeRange({ key: Buffer.from('a') }), 2000).catch((e) => e);
  assert.equal(err.code, 14);
  assert.match(err.details, /^connection: .*ECONNREFUSED/);
  // A server that accepts but never answers.
  const net = await import('node:net');
  const sockets: import('node:net').Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const c2 = conn(`http://127.0.0.1:${(silent.address() as import('node:net').AddressInfo).port}`);
    const t0 = Date.now();
    const e2 = await c2.unary('/etcdserverpb.KV/Range', wire.encodeRange({ key: Buffer.from('a') }), 150).catch((e) => e);
    assert.equal(e2.code, 4);
    assert.ok(Date.now() - t0 < 1000);
    c2.close();
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('a Watch stream gets created, events and progress; the connection comes back after a restart', async () => {
  const c = conn(plain.endpoints[0]!);
  const start = (await put(c, '/conn/w/0', 'zero')).revision;
  const msgs: wire.WatchRes[] = [];
  let ended: unknown = undefined;
  const s = c.stream('/etcdserverpb.Watch/Watch', (m) => msgs.push(wire.decodeWatch(m)), (e) => (ended = e));
  s.write(wire.encodeWatchCreate({ key: Buffer.from('/conn/w/'), rangeEnd: Buffer.from('/conn/w0'), startRevision: start, prevKv: true }));
  await put(c, '/conn/w/1', 'one');
  const until = async (f: () => boolean) => {
    for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(f());
  };
  await until(() => msgs.flatMap((m) => m.events).length === 2);
  assert.ok(msgs[0]!.created);
  assert.deepEqual(msgs.flatMap((m) => m.events.map((e) => e.kv.value.toString())), ['zero', 'one']);
  s.write(wire.encodeWatchProgress());
  await until(() => msgs.some((m) => !m.created && !m.events.length));
  // The member dies: the stream ends UNAVAILABLE; after its restart new calls succeed.
  await plain.kill(0);
  await until(() => ended !== undefined);
  assert.equal((ended as GrpcCallError).code, 14);
  await plain.start(0);
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) ok = await put(c, '/conn/w/2', 'two').then(() => true, () => new Promise((r) => setTimeout(() => r(false), 100)));
  assert.ok(ok);
  s.cancel();
});

test('an idle connection does not keep the process alive; one with a call in flight does until it ends', async () => {
  const { execFile } = await import('node:child_process');
  const url = new URL('./etcdconn.ts', import.meta.url).href;
  const wireUrl = new URL('./etcdwire.ts', import.meta.url).href;
  const script = `const { EtcdConn } = await import(${JSON.stringify(url)}); const wire = await import(${JSON.stringify(wireUrl)});
    const c = new EtcdConn(${JSON.stringify(plain.endpoints[0])});
    c.unary('/etcdserverpb.KV/Range', wire.encodeRange({ key: Buffer.from('a') }), 5000).then(() => console.log('answered'));`;
  const t0 = Date.now();
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  assert.equal(out.trim(), 'answered');
  assert.ok(Date.now() - t0 < 5000);
});
