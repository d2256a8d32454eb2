/**
 * SqliteStore: the Store contract suite, plus what only a file-backed store can show — crash
 * safety under kill -9, persistence across reopen, compaction that bounds the file and the WAL,
 * exclusive opening, the automatic compaction timer (driven by a fake clock) and slow watchers.
 */
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { runStoreSuite } from './contract.ts';
import { openSqliteStore, type StoreClock } from './sqlite.ts';
import { openStore } from './index.ts';
import { isCode } from '../util/errors.ts';
import type { WatchBatch } from './types.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-store-test-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const tmpDb = (): string => path.join(root, `s${n++}`, 'state.db');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

runStoreSuite({ name: 'sqlite', newStore: async () => openSqliteStore(tmpDb(), { compactIntervalMs: 0 }) });

/** A clock whose timers fire only when the test says so. */
function fakeClock(): StoreClock & { pending: { fn: () => unknown; ms: number }[]; fire(): Promise<void> } {
  const pending: { fn: () => unknown; ms: number }[] = [];
  return {
    pending,
    setTimeout(fn, ms) {
      const t = { fn, ms };
      pending.push(t);
      return t;
    },
    clearTimeout(h) {
      const i = pending.indexOf(h as (typeof pending)[number]);
      if (i >= 0) pending.splice(i, 1);
    },
    async fire() {
      const t = pending.shift();
      assert.ok(t, 'no timer is pending');
      await t.fn();
    },
  };
}

describe('SqliteStore', () => {
  test('every acknowledged write survives kill -9 of the writing process', async () => {
    const file = tmpDb();
    const mod = pathToFileURL(path.join(import.meta.dirname, 'sqlite.ts')).href;
    const child = `
      import { openSqliteStore } from ${JSON.stringify(mod)};
      const store = openSqliteStore(process.argv[1], { compactIntervalMs: 0 });
      let i = 0;
      process.stdout.write('ready\\n');
      await Promise.all(Array.from({ length: 32 }, async (_, w) => {
        for (;;) {
          const key = '/registry/crash/w' + w + '-' + (i++);
          const r = await store.create(key, new TextEncoder().encode('value of ' + key));
          if (!r.ok) throw new Error('create failed');
          process.stdout.write(key + ' ' + r.kv.modRevision + '\\n');
        }
      }));
    `;
    const proc = spawn(process.execPath, ['--input-type=module', '-e', child, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let killTimer: NodeJS.Timeout | undefined;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => {
      out += d;
      // Kill mid-stream once plenty of writes were acknowledged (a count, so slow machines still cover it).
      if (out.length > 40_000) killTimer ??= setTimeout(() => proc.kill('SIGKILL'), 300);
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => proc.on('exit', (c, s) => resolve([c, s])));
    clearTimeout(killTimer);
    assert.equal(signal, 'SIGKILL', `the writer exited by itself (code ${code})`);
    const acked = out.split('\n').slice(1, -1).map((l) => l.split(' ') as [string, string]); // complete lines only
    assert.ok(acked.length > 500, `only ${acked.length} writes were acknowledged`);
    const store = openSqliteStore(file, { compactIntervalMs: 0 });
    try {
      let maxRev = 0;
      for (const [key, rev] of acked) {
        const kv = await store.get(key);
        assert.ok(kv, `acknowledged key ${key} is missing`);
        assert.equal(dec(kv.value), `value of ${key}`);
        assert.equal(kv.modRevision, Number(rev));
        maxRev = Math.max(maxRev, Number(rev));
      }
      assert.ok((await store.currentRevision()) >= maxRev);
      const next = await store.create('/registry/crash/after', enc('x'));
      assert.equal(next.ok && next.kv.modRevision, (await store.currentRevision()));
    } finally {
      await store.close();
    }
  });

  test('a reopened store continues its revisions and keeps values and the compacted revision', async () => {
    const file = tmpDb();
    let s = openSqliteStore(file, { compactIntervalMs: 0 });
    for (let i = 0; i < 10; i++) await s.create(`/registry/p/k${i}`, enc(`v${i}`));
    await s.delete('/registry/p/k9');
    const rev = await s.currentRevision();
    await s.compact(rev); // the newest row (a tombstone) is compacted away: the revision must not go back
    await s.close();
    s = openSqliteStore(file, { compactIntervalMs: 0 });
    try {
      assert.equal(await s.currentRevision(), rev);
      assert.equal(await s.compactedRevision(), rev);
      assert.equal(dec((await s.get('/registry/p/k3'))!.value), 'v3');
      assert.equal(await s.get('/registry/p/k9'), null);
      const r = await s.create('/registry/p/k10', enc('v10'));
      assert.equal(r.ok && r.kv.modRevision, rev + 1);
    } finally {
      await s.close();
    }
  });

  test('writes queued before close are committed', async () => {
    const file = tmpDb();
    let s = openSqliteStore(file, { compactIntervalMs: 0 });
    const writes = Array.from({ length: 20 }, (_, i) => s.create(`/registry/q/k${i}`, enc('v')));
    await s.close();
    assert.equal((await Promise.all(writes)).filter((r) => r.ok).length, 20);
    s = openSqliteStore(file, { compactIntervalMs: 0 });
    assert.equal((await s.list('/registry/q/')).count, 20);
    await s.close();
  });

  test('a second open of the same file fails with ERR_INVALID_CONFIG', async () => {
    const file = tmpDb();
    const s = openSqliteStore(file, { compactIntervalMs: 0 });
    try {
      await s.create('/registry/x/a', enc('1'));
      assert.throws(() => openSqliteStore(file, { compactIntervalMs: 0, lockTimeoutMs: 0 }), (err) => isCode(err, 'ERR_INVALID_CONFIG'));
    } finally {
      await s.close();
    }
  });

  test('compaction removes history and tombstones, reclaims pages and truncates the WAL', async () => {
    const file = tmpDb();
    const s = openSqliteStore(file, { compactIntervalMs: 0, compactBatchRevisions: 500 });
    try {
      const big = new Uint8Array(2000).fill(7);
      for (let i = 0; i < 100; i++) await s.create(`/registry/big/k${i}`, big);
      for (let round = 0; round < 30; round++) {
        await Promise.all(Array.from({ length: 100 }, async (_, i) => {
          const cur = (await s.get(`/registry/big/k${i}`))!;
          await s.update(cur.key, big, cur.modRevision);
        }));
      }
      for (let i = 50; i < 100; i++) await s.delete(`/registry/big/k${i}`);
      const before = s.stats();
      assert.equal(before.rows, 100 + 3000 + 50);
      await s.compact(await s.currentRevision());
      const afterStats = s.stats();
      assert.equal(afterStats.rows, 50, 'only the live rows remain');
      assert.equal(afterStats.freelistCount, 0);
      assert.ok(afterStats.pageCount * 5 < before.pageCount, `pages ${before.pageCount} → ${afterStats.pageCount}`);
      assert.equal(afterStats.walBytes, 0, 'the WAL is truncated');
      assert.equal(fs.statSync(file).size, afterStats.pageCount * afterStats.pageSize);
      assert.equal((await s.list('/registry/big/')).count, 50);
      assert.equal(await s.get('/registry/big/k70'), null, 'deleted keys stay deleted');
      const again = await s.create('/registry/big/k70', enc('new'));
      assert.equal(again.ok, true, 'a compacted-away key can be created again');
    } finally {
      await s.close();
    }
  });

  test('automatic compaction runs on its timer and keeps one interval of history', async () => {
    const clock = fakeClock();
    const s = openSqliteStore(tmpDb(), { compactIntervalMs: 60_000, retainRevisions: 5, clock });
    try {
      assert.deepEqual(clock.pending.map((t) => t.ms), [60_000]);
      for (let i = 0; i < 20; i++) await s.create(`/registry/auto/k${i}`, enc('v'));
      const atOpen = 1;
      await clock.fire(); // compacts to the revision of the previous tick (the open), records the current one
      assert.equal(await s.compactedRevision(), atOpen);
      const mark = await s.currentRevision();
      for (let i = 0; i < 20; i++) await s.create(`/registry/auto/j${i}`, enc('v'));
      await clock.fire();
      assert.equal(await s.compactedRevision(), mark, 'history since the previous tick is kept');
      await clock.fire(); // nothing new: retainRevisions bounds the target
      assert.equal(await s.compactedRevision(), (await s.currentRevision()) - 5);
      assert.equal(clock.pending.length, 1, 'the timer is rescheduled');
    } finally {
      await s.close();
    }
    assert.equal(clock.pending.length, 0, 'close stops the timer');
  });

  test('a watch whose catch-up range is compacted meanwhile fails with ERR_STORE_COMPACTED', async () => {
    const s = openSqliteStore(tmpDb(), { compactIntervalMs: 0 });
    try {
      await Promise.all(Array.from({ length: 2500 }, (_, i) => s.create(`/registry/c/k${i % 10}x${i}`, enc('v'))));
      const it = s.watch('/registry/c/', 0)[Symbol.asyncIterator]();
      const first = await it.next(); // one page of the catch-up
      assert.equal(first.done, false);
      await s.compact(await s.currentRevision());
      await assert.rejects(it.next(), (err) => isCode(err, 'ERR_STORE_COMPACTED'));
    } finally {
      await s.close();
    }
  });

  test('a watcher that falls too far behind is ended with ERR_STORE_COMPACTED; writers never wait', async () => {
    const s = openSqliteStore(tmpDb(), { compactIntervalMs: 0, maxWatchPending: 10 });
    try {
      const it = s.watch('/registry/slow/', await s.currentRevision())[Symbol.asyncIterator]();
      const pending = it.next(); // subscribes; the consumer then stops reading
      await s.create('/registry/slow/first', enc('v'));
      const firstBatch = (await pending).value as WatchBatch;
      assert.equal(firstBatch.events.length, 1);
      for (let i = 0; i < 11; i++) await s.create(`/registry/slow/k${i}`, enc('v'));
      await assert.rejects(it.next(), (err) => isCode(err, 'ERR_STORE_COMPACTED'));
    } finally {
      await s.close();
    }
  });
});

/**
 * Holds the store's fdatasync calls until the test releases them (the store calls `fs.fdatasync`
 * on the default export at call time). `fail` makes the next release answer an I/O error.
 */
function holdSyncs(): { held: (() => void)[]; failNext(): void; restore(): void } {
  const real = fs.fdatasync;
  const held: (() => void)[] = [];
  let fail = false;
  fs.fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    held.push(() => {
      if (!fail) return real(fd, cb);
      fail = false;
      cb(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    });
  }) as typeof fs.fdatasync;
  return { held, failNext: () => void (fail = true), restore: () => void (fs.fdatasync = real) };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('SqliteStore WAL sync off the event loop', () => {
  test('a write resolves only after its WAL is synced; until then readers and watchers see the store without it; syncs overlap and settle in order', async () => {
    const s = openSqliteStore(tmpDb(), { compactIntervalMs: 0 });
    const syncs = holdSyncs();
    try {
      const first = s.create('/registry/a/x', enc('v1'));
      await until(() => syncs.held.length === 1, 'the first sync');
      syncs.held.shift()!();
      const created = await first;
      assert.ok(created.ok);
      const rev = created.kv.modRevision;
      const it = s.watch('/registry/a/', rev)[Symbol.asyncIterator]();
      const event = it.next();

      let acknowledged = false;
      const update = s.update('/registry/a/x', enc('v2'), rev).then((r) => ((acknowledged = true), r));
      await until(() => syncs.held.length === 1, "the update's sync");
      // Committed to SQLite, not yet synced: nobody sees it.
      assert.equal(acknowledged, false);
      assert.equal(await s.currentRevision(), rev);
      // A get of the key answers its newest version once durable; a list answers at the revision.
      let got = '';
      const get = s.get('/registry/a/x').then((kv) => (got = dec(kv!.value)));
      const l = await s.list('/registry/a/');
      assert.equal(l.revision, rev);
      assert.deepEqual(l.items.map((kv) => dec(kv.value)), ['v1']);
      // Writes meanwhile commit as the next batch, with a sync of their own (two at most at once).
      let secondDone = false;
      const second = s.create('/registry/a/y', enc('v3')).then((r) => ((secondDone = true), r));
      await until(() => syncs.held.length === 2, "the second batch's sync");
      const third = s.create('/registry/a/z', enc('v4'));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      assert.equal(syncs.held.length, 2, 'a third batch waits while two syncs run');
      assert.equal(acknowledged || secondDone, false);
      assert.deepEqual((await s.list('/registry/a/')).items.map((kv) => dec(kv.value)), ['v1']);

      // The second sync ends first: it made the first batch durable too; both settle, in order.
      syncs.held.pop()!();
      assert.equal(got, '', 'the get waits for the batch that wrote the key');
      const [updated, made] = await Promise.all([update, second]);
      await get;
      assert.equal(got, 'v2');
      assert.ok(updated.ok && updated.kv.modRevision === rev + 1);
      assert.ok(made.ok && made.kv.modRevision === rev + 2);
      assert.equal(await s.currentRevision(), rev + 2);
      const e = (await event).value as WatchBatch;
      assert.deepEqual(e.events.map((x) => dec(x.kv.value)), ['v2', 'v3'].slice(0, e.events.length), 'events in commit order');
      assert.deepEqual((await s.list('/registry/a/')).items.map((kv) => dec(kv.value)), ['v2', 'v3']);
      syncs.held.shift()!(); // the first batch's own sync, now moot
      await until(() => syncs.held.length === 1, "the third batch's sync");
      syncs.held.shift()!();
      assert.ok((await third).ok);
      assert.equal(await s.currentRevision(), rev + 3);
      await it.return?.();
    } finally {
      syncs.restore();
      await s.close();
    }
  });

  test('a failed sync fails the batches waiting for theirs, reports the error and closes the store', async () => {
    const errors: unknown[] = [];
    const s = openSqliteStore(tmpDb(), { compactIntervalMs: 0, onError: (e) => errors.push(e) });
    const syncs = holdSyncs();
    try {
      const w = s.create('/registry/b/x', enc('v'));
      await until(() => syncs.held.length === 1, 'the sync');
      const next = s.create('/registry/b/y', enc('v'));
      await until(() => syncs.held.length === 2, "the next batch's sync");
      syncs.failNext();
      syncs.held.shift()!();
      for (const p of [w, next]) await assert.rejects(p, (err) => isCode(err, 'ERR_STORE_CLOSED') && /syncing its log failed: EIO/.test((err as Error).message));
      assert.equal(errors.length, 1);
      await assert.rejects(s.get('/registry/b/x'), (err) => isCode(err, 'ERR_STORE_CLOSED'));
      await assert.rejects(s.create('/registry/b/z', enc('v')), (err) => isCode(err, 'ERR_STORE_CLOSED'));
    } finally {
      syncs.restore();
      await s.close();
    }
  });

  test('a checkpoint copies the WAL into the database file and syncs it before the next write commits', async () => {
    const file = tmpDb();
    const s = openSqliteStore(file, { compactIntervalMs: 0, checkpointBytes: 1 });
    const syncs = holdSyncs();
    try {
      const dbBefore = fs.statSync(file).size;
      const big = enc('x'.repeat(64 * 1024));
      const first = s.create('/registry/d/a', big);
      await until(() => syncs.held.length === 1, 'the WAL sync');
      syncs.held.shift()!();
      assert.ok((await first).ok, 'acknowledged once the WAL is synced');
      await until(() => syncs.held.length === 1, "the database file's sync");
      assert.ok(fs.statSync(file).size >= dbBefore + big.length, 'the checkpoint wrote the value into the database file');
      let acknowledged = false;
      const second = s.create('/registry/d/b', enc('v')).then((r) => ((acknowledged = true), r));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      assert.equal(syncs.held.length, 1, 'the next batch waits for the checkpoint to be durable');
      assert.equal(acknowledged, false);
      syncs.held.shift()!(); // the database file
      await until(() => syncs.held.length === 1, 'the next batch');
      syncs.held.shift()!();
      assert.ok((await second).ok);
      await until(() => syncs.held.length === 1, 'the second checkpoint');
      syncs.held.shift()!();
    } finally {
      syncs.restore();
      await s.close();
    }
    const again = openSqliteStore(file, { compactIntervalMs: 0 });
    try {
      assert.equal((await again.get('/registry/d/a'))!.value.length, 64 * 1024);
      assert.equal(dec((await again.get('/registry/d/b'))!.value), 'v');
    } finally {
      await again.close();
    }
  });

  test("synchronous 'normal' never syncs the WAL itself", async () => {
    const s = openSqliteStore(tmpDb(), { compactIntervalMs: 0, synchronous: 'normal' });
    const syncs = holdSyncs();
    try {
      assert.ok((await s.create('/registry/c/x', enc('v'))).ok);
      assert.equal(syncs.held.length, 0);
    } finally {
      syncs.restore();
      await s.close();
    }
  });
});

describe('openStore', () => {
  const cases: { name: string; endpoint: (dir: string) => string | undefined; want: string | ((dir: string) => string) }[] = [
    { name: 'no endpoint opens DATA_DIR/db/state.db', endpoint: () => undefined, want: (d) => path.join(d, 'db', 'state.db') },
    { name: 'an empty endpoint opens DATA_DIR/db/state.db', endpoint: () => '', want: (d) => path.join(d, 'db', 'state.db') },
    { name: 'sqlite://PATH opens PATH', endpoint: (d) => `sqlite://${d}/elsewhere/my.db`, want: (d) => path.join(d, 'elsewhere', 'my.db') },
    { name: 'sqlite:// with a DSN query ignores the query', endpoint: (d) => `sqlite://${d}/q.db?_journal=WAL`, want: (d) => path.join(d, 'q.db') },
    // Opening a reachable etcd is tested in etcd.test.ts.
    { name: 'an etcd list mixing http:// and https:// is rejected', endpoint: () => 'http://127.0.0.1:1,https://127.0.0.1:2', want: 'ERR_INVALID_CONFIG' },
    { name: 'an etcd endpoint without a host is rejected', endpoint: () => 'etcd://', want: 'ERR_INVALID_CONFIG' },
    { name: 'an unknown scheme is rejected', endpoint: () => 'mysql://db', want: 'ERR_INVALID_CONFIG' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const dir = path.join(root, `open${n++}`);
      if (typeof c.want === 'string') {
        const code = c.want;
        await assert.rejects(openStore(c.endpoint(dir), dir), (err) => isCode(err, code as 'ERR_INVALID_CONFIG'));
        return;
      }
      const store = await openStore(c.endpoint(dir), dir);
      try {
        await store.create('/registry/x/a', enc('1'));
        assert.ok(fs.existsSync(c.want(dir)));
      } finally {
        await store.close();
      }
    });
  }
});

describe('file modes', () => {
  const modeOf = (f: string): number => fs.statSync(f).mode & 0o777;
  /** Runs `fn` with a permissive umask, so only an explicit mode can give 0600. */
  async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
    const old = process.umask(mask);
    try {
      return await fn();
    } finally {
      process.umask(old);
    }
  }

  const cases = [
    { name: 'a sqlite:// endpoint', endpoint: (dir: string) => `sqlite://${path.join(dir, 'elsewhere', 'my.db')}`, file: (dir: string) => path.join(dir, 'elsewhere', 'my.db') },
    { name: 'the default location', endpoint: () => undefined, file: (dir: string) => path.join(dir, 'db', 'state.db') },
  ];
  for (const c of cases) {
    test(`the database and its WAL are created 0600 at ${c.name}, whatever the umask`, async () => {
      const dir = path.join(root, `modes${n++}`);
      const store = await withUmask(0, () => openStore(c.endpoint(dir), dir));
      try {
        await store.create('/registry/x', enc('v'));
        const file = c.file(dir);
        assert.equal(modeOf(file), 0o600);
        assert.ok(fs.existsSync(`${file}-wal`), 'the WAL exists while the store is open');
        assert.equal(modeOf(`${file}-wal`), 0o600);
        if (fs.existsSync(`${file}-shm`)) assert.equal(modeOf(`${file}-shm`), 0o600);
        assert.equal(modeOf(path.dirname(file)), 0o700);
      } finally {
        await store.close();
      }
    });
  }

  test('an existing database file readable by others is made 0600 on open', async () => {
    const file = tmpDb();
    const first = openSqliteStore(file, { compactIntervalMs: 0 });
    await first.create('/registry/x', enc('v'));
    await first.close();
    fs.chmodSync(file, 0o644);
    const again = openSqliteStore(file, { compactIntervalMs: 0 });
    try {
      assert.equal(modeOf(file), 0o600);
      if (fs.existsSync(`${file}-wal`)) assert.equal(modeOf(`${file}-wal`), 0o600);
    } finally {
      await again.close();
    }
  });
});

describe('SqliteStore snapshots and TTL', () => {
  test('a snapshot is a consistent copy that opens as a store with every key', async () => {
    const s = openSqliteStore(tmpDb(), { compactIntervalMs: 0 });
    const copy = path.join(root, `snap${n++}`, 'copy.db');
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    try {
      for (let i = 0; i < 50; i++) await s.create(`/registry/snap/k${i}`, enc(`v${i}`));
      await s.delete('/registry/snap/k7');
      const pending = s.create('/registry/snap/queued', enc('q')); // queued in this turn: committed first
      const r = await s.snapshot(copy);
      await pending;
      assert.equal(r.revision, 53);
      assert.equal(r.size, fs.statSync(copy).size);
      await s.create('/registry/snap/later', enc('x'));
      const c = openSqliteStore(copy, { compactIntervalMs: 0 });
      try {
        assert.equal(await c.currentRevision(), r.revision);
        const l = await c.list('/registry/snap/');
        assert.equal(l.count, 50);
        assert.equal(await c.get('/registry/snap/k7'), null);
        assert.equal(dec((await c.get('/registry/snap/queued'))!.value), 'q');
        assert.equal(await c.get('/registry/snap/later'), null);
        assert.equal(dec((await c.get('/registry/snap/k3', { revision: 10 }))!.value), 'v3', 'history is kept');
      } finally {
        await c.close();
      }
    } finally {
      await s.close();
    }
  });

  test('expired keys are deleted by the sweeper on the store clock, through the write path', async () => {
    let now = 1_000_000;
    const clock = { ...fakeClock(), now: () => now };
    const s = openSqliteStore(tmpDb(), { compactIntervalMs: 0, clock });
    try {
      const a = await s.create('/registry/ttl/a', enc('1'), { ttlSeconds: 10 });
      await s.create('/registry/ttl/b', enc('1'), { ttlSeconds: 30 });
      const c = await s.create('/registry/ttl/c', enc('1'), { ttlSeconds: 10 });
      await s.update('/registry/ttl/c', enc('2'), c.ok ? c.kv.modRevision : 0); // no TTL any more
      assert.equal(clock.pending.length, 1, 'one sweeper timer, for the earliest expiry');
      assert.equal(clock.pending[0]!.ms, 10_000);
      now += 10_000;
      await clock.fire();
      assert.equal(await s.get('/registry/ttl/a'), null);
      assert.notEqual(await s.get('/registry/ttl/b'), null);
      assert.equal(dec((await s.get('/registry/ttl/c'))!.value), '2');
      assert.equal(clock.pending.length, 1);
      assert.equal(clock.pending[0]!.ms, 20_000, 're-armed for the next expiry');
      const { events } = await (async () => {
        const out = [];
        for await (const b of s.watch('/registry/ttl/', a.ok ? a.kv.modRevision : 0)) {
          out.push(...b.events);
          if (out.some((e) => e.type === 'delete')) break;
        }
        return { events: out };
      })();
      const del = events.find((e) => e.type === 'delete')!;
      assert.equal(del.kv.key, '/registry/ttl/a');
      now += 20_000;
      assert.equal(await s.sweepExpired(), 1);
      assert.equal(await s.get('/registry/ttl/b'), null);
      assert.equal(clock.pending.length, 0, 'nothing left to expire');
    } finally {
      await s.close();
    }
  });
});
