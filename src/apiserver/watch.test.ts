/**
 * The watch stream's bounds, in process: the timeout computation, timers past setTimeout's
 * range, the backpressure-honouring writer, and a whole watch over a real cache whose client
 * never reads (closed, its memory bounded) next to one that reads (gets every event).
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../storage/sqlite.ts';
import { WatchCache } from './watchcache.ts';
import { WatchWriter, longTimeout, maxTimerMs, maxUnackedChars, minRequestTimeoutSeconds, watchResponse, watchTimeoutMs, writeChunkChars } from './watch.ts';
import { isStatusError } from '../api/errors.ts';
import type { HandlerContext } from './handlers.ts';
import type { KubeObject } from '../api/types.ts';

const timeoutCases: { name: string; query: string; random?: number; want: number | 'bad request' }[] = [
  { name: 'no timeoutSeconds is the default minimum request timeout', query: '', random: 0, want: minRequestTimeoutSeconds * 1000 },
  { name: 'the default is randomized up to twice the minimum', query: '', random: 0.5, want: minRequestTimeoutSeconds * 1500 },
  { name: 'timeoutSeconds=0 is the default, not an immediate close', query: 'timeoutSeconds=0', random: 0, want: minRequestTimeoutSeconds * 1000 },
  { name: 'an empty timeoutSeconds is the default', query: 'timeoutSeconds=', random: 0, want: minRequestTimeoutSeconds * 1000 },
  { name: 'a small value is honoured', query: 'timeoutSeconds=5', want: 5000 },
  { name: 'a value past setTimeout\'s range is honoured', query: 'timeoutSeconds=2147484', want: 2147484000 },
  { name: 'the largest int64 is accepted', query: 'timeoutSeconds=9223372036854775807', want: 9223372036854775807 * 1000 },
  { name: 'a negative value has already expired', query: 'timeoutSeconds=-1', want: -1000 },
  { name: 'a non-integer is a bad request', query: 'timeoutSeconds=abc', want: 'bad request' },
  { name: 'a fraction is a bad request', query: 'timeoutSeconds=1.5', want: 'bad request' },
  { name: 'a value beyond int64 is a bad request', query: 'timeoutSeconds=9223372036854775808', want: 'bad request' },
];
for (const c of timeoutCases) {
  test(c.name, () => {
    const q = new URLSearchParams(c.query);
    if (c.want === 'bad request') assert.throws(() => watchTimeoutMs(q), (e) => isStatusError(e) && e.code === 400);
    else assert.equal(watchTimeoutMs(q, () => c.random ?? 0), c.want);
  });
}

test('a timeout longer than setTimeout allows fires at its time, not after 1 ms', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  try {
    let fired = false;
    longTimeout(() => (fired = true), 2147484 * 1000);
    mock.timers.tick(1);
    assert.equal(fired, false);
    mock.timers.tick(maxTimerMs);
    assert.equal(fired, false);
    mock.timers.tick(2147484 * 1000 - maxTimerMs - 2);
    assert.equal(fired, false);
    mock.timers.tick(1);
    assert.equal(fired, true);
  } finally {
    mock.timers.reset();
  }
});

test('a cancelled long timeout never fires', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  try {
    let fired = false;
    const cancel = longTimeout(() => (fired = true), 3 * maxTimerMs);
    mock.timers.tick(maxTimerMs + 5);
    cancel();
    mock.timers.tick(3 * maxTimerMs);
    assert.equal(fired, false);
  } finally {
    mock.timers.reset();
  }
});

/** A response whose client stops reading after `acceptChars`; `drain()` lets it read again. */
class FakeSink extends EventEmitter {
  written = 0;
  writes = 0;
  chunks: string[] = [];
  full = false;
  destroyed = false;
  writableEnded = false;
  headersSent = false;
  keep: boolean;
  #accept: number;
  constructor(acceptChars: number, keep = false) {
    super();
    this.#accept = acceptChars;
    this.keep = keep;
  }
  writeHead(): this {
    this.headersSent = true;
    return this;
  }
  write(chunk: string): boolean {
    this.written += chunk.length;
    this.writes++;
    if (this.keep) this.chunks.push(chunk);
    this.full = this.written > this.#accept;
    return !this.full;
  }
  drain(): void {
    this.#accept = Infinity;
    this.full = false;
    this.emit('drain');
  }
  end(chunk?: string): void {
    if (chunk) this.write(chunk);
    this.writableEnded = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

test('the writer stops handing chunks to a response that does not drain, and resumes on drain', async () => {
  const sink = new FakeSink(0);
  const w = new WatchWriter(sink, { maxUnackedChars: 0 });
  const line = `${'x'.repeat(1000)}\n`;
  let r: true | Promise<boolean> = true;
  let added = 0;
  while (r === true) {
    r = w.add(line);
    added++;
  }
  assert.equal(sink.writes, 1);
  assert.ok(sink.written <= writeChunkChars + line.length);
  assert.ok(w.blocked);
  // Further output waits: nothing is written while blocked.
  const more = w.flush();
  assert.notEqual(more, true);
  assert.equal(sink.writes, 1);
  sink.drain();
  assert.equal(await r, true);
  assert.equal(await more, true);
  assert.equal(w.blocked, false);
  assert.ok(added > 1);
});

test('the writer keeps handing chunks to a response that has not drained up to maxUnackedChars, then waits', async () => {
  const sink = new FakeSink(0);
  const budget = 4 * writeChunkChars;
  const w = new WatchWriter(sink, { maxUnackedChars: budget });
  const line = `${'x'.repeat(1000)}\n`;
  let r: true | Promise<boolean> = true;
  while (r === true) r = w.add(line);
  assert.ok(sink.written >= budget, `${sink.written} written`);
  assert.ok(sink.written < budget + writeChunkChars + line.length, `${sink.written} written`);
  assert.ok(w.blocked);
  sink.drain();
  assert.equal(await r, true);
  assert.equal(w.blocked, false);
});

test('closing a blocked writer wakes its waiter with false and drops its buffer', async () => {
  const sink = new FakeSink(0);
  const w = new WatchWriter(sink, { maxUnackedChars: 0 });
  w.add('a\n');
  const r = w.flush();
  assert.notEqual(r, true);
  w.add('b\n');
  w.close();
  assert.equal(await r, false);
  assert.equal(w.buffered, 0);
  assert.equal(sink.listenerCount('drain'), 1);
});

const dec = new TextDecoder();
const enc = new TextEncoder();

function setupCache() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-watch-'));
  const store = openSqliteStore(path.join(dir, 'db'), { compactIntervalMs: 0 });
  const logs: string[] = [];
  const cache = new WatchCache(store, '/registry/things/', {
    decode: (v, rv) => {
      const o = JSON.parse(dec.decode(v));
      o.metadata.resourceVersion = String(rv);
      return o;
    },
    window: 1000,
    chanSize: 5,
    dispatchTimeoutMs: 20,
    log: (m) => logs.push(m),
  });
  return { store, cache, logs, close: async () => { cache.stop(); await store.close(); } };
}

function watchCtx(cache: WatchCache, res: FakeSink, query: string): HandlerContext {
  const storage = {
    prefix: cache.prefix,
    filter: () => null,
    async watch(opts: { fromRv: number }) {
      await cache.ready();
      const rv = opts.fromRv || cache.rv;
      return { initial: [], watch: cache.watch(rv), rv };
    },
  };
  return {
    req: { headers: {} },
    res,
    info: { namespace: '' },
    query: new URLSearchParams(query),
    served: { def: { kind: 'Thing', namespaced: true }, apiVersion: 'v1' },
    storage,
  } as unknown as HandlerContext;
}

test('a watch whose client never reads is closed and holds at most maxUnackedChars and a chunk; a reading watch gets every event', { timeout: 60_000 }, async () => {
  const { store, cache, logs, close } = setupCache();
  cache.start();
  await cache.ready();
  const stalled = new FakeSink(0);
  const reader = new FakeSink(Infinity, true);
  const stalledDone = watchResponse(watchCtx(cache, stalled, ''), { kind: 'json' }, (o: KubeObject) => o);
  const readerDone = watchResponse(watchCtx(cache, reader, ''), { kind: 'json' }, (o: KubeObject) => o);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(cache.watcherCount, 2);
  const big = 'y'.repeat(200 * 1024);
  const count = 60; // 12 MB: well past maxUnackedChars
  for (let i = 0; i < count; i++) {
    const key = `/registry/things/ns/obj${i % 3}`;
    const cur = await store.get(key);
    const value = enc.encode(JSON.stringify({ metadata: { name: `obj${i % 3}` }, data: { i: String(i), big } }));
    if (cur) await store.update(key, value, cur.modRevision);
    else await store.create(key, value);
  }
  await stalledDone;
  assert.equal(stalled.destroyed, true, 'the stalled response is destroyed, releasing its buffer');
  // It was handed what a client may have in flight and one chunk more: the rest never rendered.
  assert.ok(stalled.written < maxUnackedChars + 2 * (big.length + 1000), `stalled watcher was handed ${stalled.written} chars`);
  assert.match(logs.join('\n'), /watcher close due to unresponsiveness/);
  const lines = () => reader.chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const deadline = Date.now() + 10_000;
  while (lines().length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(lines().map((e) => e.object.data.i), Array.from({ length: count }, (_, i) => String(i)));
  assert.equal(reader.destroyed, false);
  assert.equal(cache.watcherCount, 1);
  reader.emit('close');
  await readerDone;
  assert.equal(cache.watcherCount, 0);
  await close();
});

test('a watch from before the window is a 200 with one ERROR event carrying the 410', { timeout: 60_000 }, async () => {
  const { store, cache, close } = setupCache();
  // The cache's window starts after its initial list: revision 1 is before it.
  await store.create('/registry/things/ns/a', enc.encode(JSON.stringify({ metadata: { name: 'a' } })));
  await store.create('/registry/things/ns/b', enc.encode(JSON.stringify({ metadata: { name: 'b' } })));
  cache.start();
  await cache.ready();
  const res = new FakeSink(Infinity, true);
  const ctx = watchCtx(cache, res, 'resourceVersion=1');
  await watchResponse(ctx, { kind: 'json' }, (o: KubeObject) => o);
  const events = res.chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(events.length, 1);
  assert.equal(events[0].type, 'ERROR');
  assert.deepEqual({ ...events[0].object, message: undefined }, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message: undefined });
  assert.match(events[0].object.message, /^too old resource version: 1 \(\d+\)$/);
  assert.equal(res.writableEnded, true);
  await close();
});
