import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../storage/sqlite.ts';
import { WatchCache } from './watchcache.ts';
import { isGone } from '../api/errors.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function setup() {
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
