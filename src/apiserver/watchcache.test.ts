import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../storage/sqlite.ts';
import { WatchCache, watchChanSize, type WatchCacheOptions } from './watchcache.ts';
import { isGone } from '../api/errors.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function setup(opts: Partial<WatchCacheOptions> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-wc-'));
  const store = openSqliteStore(path.join(dir, 'db'), { compactIntervalMs: 0 });
  const cache = new WatchCache(store, '/registry/things/', {
    decode: (v, rv) => {
      const o = JSON.parse(dec.decode(v));
      o.metadata.resourceVersion = String(rv);
      return o;
    },
    window: 3,
    progressIntervalMs: 50,
    ...opts,
  });
  const put = (name: string, data = 'x') => store.create(`/registry/things/ns/${name}`, enc.encode(JSON.stringify({ metadata: { name }, data })));
  return { store, cache, put, close: async () => { cache.stop(); await store.close(); } };
}

test('the cache lists what the store holds, in key order, after it is ready', async () => {
  const { cache, put, close } = setup();
  await put('b');
  await put('a');
  cache.start();
  await cache.ready();
  assert.deepEqual(cache.list().map((c) => c.obj.metadata.name), ['a', 'b']);
  await close();
});

test('waitFor resolves once a write is reflected', async () => {
  const { cache, put, close } = setup();
  cache.start();
  await cache.ready();
  const r = await put('c');
  assert.ok(r.ok);
  await cache.waitFor(r.ok ? r.kv.modRevision : 0);
  assert.equal(cache.get('/registry/things/ns/c')?.obj.metadata.resourceVersion, String(r.ok ? r.kv.modRevision : 0));
  await close();
});

test('a watch from a revision replays later events in order', async () => {
  const { cache, put, close } = setup();
  cache.start();
  await cache.ready();
  const first = await put('a');
  await put('b');
  const last = await put('c');
  await cache.waitFor(last.ok ? last.kv.modRevision : 0);
  const w = cache.watch(first.ok ? first.kv.modRevision : 0);
  const it = w[Symbol.asyncIterator]();
  const got: string[] = [];
  while (got.length < 2) {
    const { value } = await it.next();
    for (const e of value) got.push(`${e.type}:${e.object.obj.metadata.name}`);
  }
  assert.deepEqual(got, ['ADDED:b', 'ADDED:c']);
  w.stop();
  await close();
});

test('a watch from before the event window is Gone', async () => {
  const { cache, put, close } = setup();
  cache.start();
  await cache.ready();
  const first = await put('a');
  for (const n of ['b', 'c', 'd', 'e']) await put(n);
  const last = await put('f');
  await cache.waitFor(last.ok ? last.kv.modRevision : 0);
  assert.throws(() => cache.watch(first.ok ? first.kv.modRevision - 1 : 0), (e) => isGone(e));
  await close();
});

test('deletes are delivered with the delete revision and the last state', async () => {
  const { store, cache, put, close } = setup();
  cache.start();
  await cache.ready();
  await put('a', 'last');
  const w = cache.watch(cache.rv);
  const d = await store.delete('/registry/things/ns/a');
  const it = w[Symbol.asyncIterator]();
  let ev;
  while (!ev) {
    const { value } = await it.next();
    ev = value.find((e: { type: string }) => e.type === 'DELETED');
  }
  assert.equal(ev.object.obj.metadata.resourceVersion, String(d.revision));
  assert.equal(ev.object.obj['data'], 'last');
  w.stop();
  await close();
});

const chanSizeCases: { name: string; window: number; want: number }[] = [
  { name: 'the default window of 2000 events gives a channel of 27 (one second of 75)', window: 2000, want: 27 },
  { name: 'a small window gets the minimum of 10', window: 100, want: 10 },
  { name: 'exactly 750 events is 10', window: 750, want: 10 },
  { name: 'one more event rounds up to 11', window: 751, want: 11 },
  { name: 'a huge window is capped at 100 (no index)', window: 100 * 1024, want: 100 },
];
for (const c of chanSizeCases) test(c.name, () => assert.equal(watchChanSize(c.window), c.want));

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a watcher that does not take its events is closed past its channel size; a reading one gets all', async () => {
  const logs: string[] = [];
  const { cache, put, close } = setup({ window: 100, chanSize: 3, maxPending: 50, dispatchTimeoutMs: 20, log: (m) => logs.push(m) });
  cache.start();
  await cache.ready();
  const stalled = cache.watch(cache.rv, { identifier: 'stalled-one' });
  const reader = cache.watch(cache.rv);
  const seen: string[] = [];
  const reading = (async () => {
    for await (const batch of reader) for (const e of batch) seen.push(e.object.obj.metadata.name!);
  })();
  const names = Array.from({ length: 8 }, (_, i) => `n${i}`);
  let maxPending = 0;
  for (const n of names) {
    await put(n);
    maxPending = Math.max(maxPending, stalled.pending);
  }
  await until('the stalled watcher to end', () => stalled.endReason !== undefined);
  assert.equal(stalled.endReason, 'unresponsive');
  assert.equal(stalled.pending, 0, 'its queue is released');
  assert.ok(maxPending <= 8);
  assert.match(logs.join('\n'), /Forcing \/registry\/things\/ watcher close due to unresponsiveness: stalled-one/);
  await until('the reader to see every event', () => seen.length === names.length);
  assert.deepEqual(seen, names);
  assert.equal(reader.endReason, undefined);
  assert.equal(cache.watcherCount, 1);
  reader.stop();
  await reading;
  await close();
});

test('a watcher with exactly its channel size queued is not closed', async () => {
  const { cache, put, close } = setup({ window: 100, chanSize: 3, dispatchTimeoutMs: 10, log: () => {} });
  cache.start();
  await cache.ready();
  const w = cache.watch(cache.rv);
  for (const n of ['a', 'b', 'c']) await put(n);
  await until('three queued', () => w.pending === 3);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(w.endReason, undefined);
  await put('d');
  await until('the watcher to end', () => w.endReason !== undefined);
  assert.equal(w.endReason, 'unresponsive');
  await close();
});

test('a watcher past maxPending is closed at once, without waiting for the deadline', async () => {
  const { cache, put, close } = setup({ window: 100, chanSize: 2, maxPending: 4, dispatchTimeoutMs: 60_000, log: () => {} });
  cache.start();
  await cache.ready();
  const w = cache.watch(cache.rv);
  for (const n of ['a', 'b', 'c', 'd', 'e']) await put(n);
  await until('the watcher to end', () => w.endReason !== undefined);
  assert.equal(w.endReason, 'unresponsive');
  await w.ended;
  await close();
});

test('progress notifications never grow a stalled watcher\'s queue', async () => {
  const { cache, put, close } = setup({ window: 100, chanSize: 5, dispatchTimeoutMs: 60_000 });
  cache.start();
  await cache.ready();
  const w = cache.watch(cache.rv);
  await put('a');
  await until('one queued', () => w.pending === 1);
  // progressIntervalMs is 50: several quiet-period notifications arrive meanwhile.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(w.pending, 1);
  const it = w[Symbol.asyncIterator]();
  const { value } = await it.next();
  assert.deepEqual(value.map((e: { object: { obj: { metadata: { name: string } } } }) => e.object.obj.metadata.name), ['a']);
  w.stop();
  await close();
});

test('a batch handed to a waiting consumer does not count against its channel', async () => {
  const { store, cache, close } = setup({ window: 100, chanSize: 2, maxPending: 2, dispatchTimeoutMs: 10 });
  cache.start();
  await cache.ready();
  const w = cache.watch(cache.rv);
  const it = w[Symbol.asyncIterator]();
  const next = it.next();
  // One store transaction of five puts arrives as one batch of five events.
  const ops = ['a', 'b', 'c', 'd', 'e'].map((name) => store.create(`/registry/things/ns/${name}`, enc.encode(JSON.stringify({ metadata: { name } }))));
  await Promise.all(ops);
  let got = (await next).value.length;
  while (got < 5) got += (await it.next()).value.length;
  assert.equal(got, 5);
  assert.equal(w.endReason, undefined);
  w.stop();
  await close();
});

test('time the event loop spends blocked elsewhere does not count against a watcher', async () => {
  const { cache, put, close } = setup({ window: 100, chanSize: 1, dispatchTimeoutMs: 20, log: () => {} });
  cache.start();
  await cache.ready();
  const w = cache.watch(cache.rv);
  const it = w[Symbol.asyncIterator]();
  for (const n of ['a', 'b']) await put(n);
  await until('two queued', () => w.pending === 2);
  // The loop is blocked past the deadline; the consumer gets to run a few ms after it unblocks.
  const end = performance.now() + 100;
  while (performance.now() < end);
  const taken = new Promise((r) => setTimeout(() => r(it.next()), 5));
  const { value } = (await taken) as { value: unknown[] };
  assert.equal(value.length, 2);
  assert.equal(w.endReason, undefined);
  w.stop();
  await close();
});
