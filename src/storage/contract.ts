/**
 * The Store contract suite (node:test): every backend runs it through `runStoreSuite`, so the
 * SQLite and etcd backends answer the same way. Each test opens a fresh store with `newStore()`,
 * works under its own key prefix and closes the store at the end. No test passes or fails on
 * timing: waits have generous safety limits that only turn a hang into a failure.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isCode } from '../util/errors.ts';
import type { KeyValue, Store, WatchBatch, WatchEvent } from './types.ts';

export interface StoreSuiteOptions {
  name: string;
  newStore(): Promise<Store>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const SAFETY_MS = 15_000;

let seq = 0;
/** A prefix no other test uses: `/registry/<unique>/`. */
function uniquePrefix(): string {
  return `/registry/suite${process.pid}x${Date.now().toString(36)}x${seq++}/`;
}

function must<T extends { ok: boolean }>(r: T): T {
  assert.equal(r.ok, true, `write failed: ${JSON.stringify(r)}`);
  return r;
}

function kvText(kv: KeyValue | null | undefined): [string, string, number, number] | null {
  return kv ? [kv.key, dec(kv.value), kv.createRevision, kv.modRevision] : null;
}

async function rejectsWith(p: Promise<unknown>, code: 'ERR_STORE_COMPACTED' | 'ERR_STORE_FUTURE_REVISION' | 'ERR_STORE_CLOSED'): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isCode(err, code), `want ${code}, got ${String(err)}`);
    return true;
  });
}

/**
 * Consumes `iterable` until `done(all events, last batch)` holds, then stops it.
 * Fails if that takes longer than the safety limit.
 */
async function consume(
  iterable: AsyncIterable<WatchBatch>,
  done: (events: WatchEvent[], last: WatchBatch) => boolean,
): Promise<{ events: WatchEvent[]; batches: WatchBatch[] }> {
  const events: WatchEvent[] = [];
  const batches: WatchBatch[] = [];
  const it = iterable[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watch did not deliver in ${SAFETY_MS} ms; got ${events.length} events`)), SAFETY_MS);
  });
  try {
    for (;;) {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) throw new Error(`watch ended early after ${events.length} events`);
      batches.push(r.value);
      events.push(...r.value.events);
      if (done(events, r.value)) return { events, batches };
    }
  } finally {
    clearTimeout(timer);
    await it.return?.();
  }
}

/** Runs the first `next()` of a watch and returns its outcome (for errors thrown by the iterator). */
async function firstNext(iterable: AsyncIterable<WatchBatch>): Promise<IteratorResult<WatchBatch>> {
  const it = iterable[Symbol.asyncIterator]();
  try {
    return await it.next();
  } finally {
    await it.return?.().catch(() => {});
  }
}

export function runStoreSuite(opts: StoreSuiteOptions): void {
  /** Opens a store, runs `fn`, always closes it. */
  const withStore = (fn: (store: Store, p: string) => Promise<void>) => async () => {
    const store = await opts.newStore();
    try {
      await fn(store, uniquePrefix());
    } finally {
      await store.close();
    }
  };

  describe(`Store contract: ${opts.name}`, () => {
    test('every successful write gets the next global revision, and a failed one gets none', withStore(async (s, p) => {
      const r0 = await s.currentRevision();
      assert.ok(r0 > 0, 'revision 0 is never reported');
      const a = must(await s.create(`${p}a`, enc('1')));
      const b = must(await s.create(`${p}other/b`, enc('1')));
      const stale = await s.update(`${p}a`, enc('x'), r0);
      const a2 = must(await s.update(`${p}a`, enc('2'), a.ok ? a.kv.modRevision : 0));
      const d = must(await s.delete(`${p}other/b`));
      assert.equal(stale.ok, false);
      assert.deepEqual(
        [a.ok && a.kv.modRevision, b.ok && b.kv.modRevision, a2.ok && a2.kv.modRevision, d.revision],
        [r0 + 1, r0 + 2, r0 + 3, r0 + 4],
      );
      assert.equal(a2.ok && a2.kv.createRevision, r0 + 1, 'an update keeps the create revision');
      assert.equal(await s.currentRevision(), r0 + 4);
    }));

    test('concurrent writes get distinct, consecutive revisions', withStore(async (s, p) => {
      const r0 = await s.currentRevision();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => s.create(`${p}k${i}`, enc(String(i)))));
      const revs = results.map((r) => (must(r).ok && r.ok ? r.kv.modRevision : 0)).sort((x, y) => x - y);
      assert.deepEqual(revs, Array.from({ length: 50 }, (_, i) => r0 + 1 + i));
    }));

    test('create fails when the key exists, reporting the current value', withStore(async (s, p) => {
      const first = must(await s.create(`${p}a`, enc('v1')));
      const again = await s.create(`${p}a`, enc('v2'));
      assert.equal(again.ok, false);
      assert.deepEqual(kvText(again.ok ? null : again.current), kvText(first.ok ? first.kv : null));
      assert.equal(dec((await s.get(`${p}a`))!.value), 'v1');
    }));

    test('concurrent creates of one key: exactly one wins', withStore(async (s, p) => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.create(`${p}race`, enc(String(i)))));
      assert.equal(results.filter((r) => r.ok).length, 1);
    }));

    describe('update is a compare-and-swap on modRevision', () => {
      const cases: { name: string; expected: (modRevision: number) => number; key: string; want: 'ok' | 'current' | 'absent' }[] = [
        { name: 'the expected modRevision replaces the value', key: 'a', expected: (m) => m, want: 'ok' },
        { name: 'a stale modRevision fails with the current value', key: 'a', expected: (m) => m - 1, want: 'current' },
        { name: 'a newer modRevision fails with the current value', key: 'a', expected: (m) => m + 100, want: 'current' },
        { name: 'a missing key fails with current null', key: 'missing', expected: (m) => m, want: 'absent' },
      ];
      for (const c of cases) {
        test(c.name, withStore(async (s, p) => {
          const created = must(await s.create(`${p}a`, enc('v1')));
          const mod = created.ok ? created.kv.modRevision : 0;
          const r = await s.update(`${p}${c.key}`, enc('v2'), c.expected(mod));
          if (c.want === 'ok') {
            assert.equal(r.ok, true);
            assert.deepEqual(kvText(r.ok ? r.kv : null), [`${p}a`, 'v2', mod, mod + 1]);
            assert.equal(dec((await s.get(`${p}a`))!.value), 'v2');
          } else if (c.want === 'current') {
            assert.equal(r.ok, false);
            assert.deepEqual(kvText(r.ok ? null : r.current), [`${p}a`, 'v1', mod, mod]);
          } else {
            assert.deepEqual(r, { ok: false, current: null });
          }
        }));
      }
    });

    test('concurrent updates from one modRevision: exactly one wins', withStore(async (s, p) => {
      const c = must(await s.create(`${p}a`, enc('0')));
      const mod = c.ok ? c.kv.modRevision : 0;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.update(`${p}a`, enc(String(i)), mod)));
      assert.equal(results.filter((r) => r.ok).length, 1);
      for (const r of results) if (!r.ok) assert.equal(r.current?.modRevision, mod + 1);
    }));

    describe('delete, optionally a compare-and-swap', () => {
      const cases: { name: string; key: string; expected: (m: number) => number | undefined; want: 'ok' | 'current' | 'absent' }[] = [
        { name: 'an unconditional delete removes the key and returns its last value', key: 'a', expected: () => undefined, want: 'ok' },
        { name: 'a delete at the expected modRevision succeeds', key: 'a', expected: (m) => m, want: 'ok' },
        { name: 'a delete at a stale modRevision fails with the current value', key: 'a', expected: (m) => m - 1, want: 'current' },
        { name: 'deleting a missing key fails with current null', key: 'missing', expected: () => undefined, want: 'absent' },
      ];
      for (const c of cases) {
        test(c.name, withStore(async (s, p) => {
          must(await s.create(`${p}a`, enc('v1')));
          const u = must(await s.update(`${p}a`, enc('v2'), (await s.get(`${p}a`))!.modRevision));
          const kv = u.ok ? u.kv : null;
          const r = await s.delete(`${p}${c.key}`, c.expected(kv!.modRevision));
          if (c.want === 'ok') {
            assert.equal(r.ok, true);
            assert.deepEqual(kvText(r.current), kvText(kv));
            assert.equal(r.revision, kv!.modRevision + 1);
            assert.equal(await s.get(`${p}a`), null);
            assert.equal(await s.currentRevision(), r.revision);
          } else if (c.want === 'current') {
            assert.equal(r.ok, false);
            assert.deepEqual(kvText(r.current), kvText(kv));
            assert.notEqual(await s.get(`${p}a`), null);
          } else {
            assert.equal(r.ok, false);
            assert.equal(r.current, null);
          }
        }));
      }
    });

    test('a deleted key can be created again with a new create revision', withStore(async (s, p) => {
      must(await s.create(`${p}a`, enc('1')));
      must(await s.delete(`${p}a`));
      const again = must(await s.create(`${p}a`, enc('2')));
      const kv = again.ok ? again.kv : null;
      assert.equal(kv!.createRevision, kv!.modRevision);
      assert.equal(dec((await s.get(`${p}a`))!.value), '2');
    }));

    test('values are opaque bytes, empty ones included', withStore(async (s, p) => {
      const bin = new Uint8Array([0, 255, 1, 0, 128, 10, 13]);
      must(await s.create(`${p}bin`, bin));
      must(await s.create(`${p}empty`, new Uint8Array(0)));
      assert.deepEqual([...(await s.get(`${p}bin`))!.value], [...bin]);
      assert.equal((await s.get(`${p}empty`))!.value.length, 0);
      const l = await s.list(p);
      assert.deepEqual(l.items.map((kv) => kv.value.length), [7, 0]);
    }));

    test('get at a revision returns the key as it was then', withStore(async (s, p) => {
      const v1 = must(await s.create(`${p}a`, enc('v1')));
      const r1 = v1.ok ? v1.kv.modRevision : 0;
      must(await s.update(`${p}a`, enc('v2'), r1));
      must(await s.create(`${p}b`, enc('b')));
      const d = must(await s.delete(`${p}a`));
      assert.equal(await s.get(`${p}a`), null);
      assert.equal(dec((await s.get(`${p}a`, { revision: r1 }))!.value), 'v1');
      assert.equal(dec((await s.get(`${p}a`, { revision: r1 + 2 }))!.value), 'v2');
      assert.equal(await s.get(`${p}a`, { revision: d.revision }), null);
      assert.equal(await s.get(`${p}b`, { revision: r1 }), null, 'a key created later does not exist at an earlier revision');
      await rejectsWith(s.get(`${p}a`, { revision: (await s.currentRevision()) + 1 }), 'ERR_STORE_FUTURE_REVISION');
    }));

    test('list reads a consistent snapshot at a revision', withStore(async (s, p) => {
      for (const k of ['a', 'b', 'c']) must(await s.create(`${p}${k}`, enc(`${k}1`)));
      const at = await s.currentRevision();
      must(await s.update(`${p}a`, enc('a2'), (await s.get(`${p}a`))!.modRevision));
      must(await s.delete(`${p}b`));
      must(await s.create(`${p}d`, enc('d1')));
      const then = await s.list(p, { revision: at });
      assert.equal(then.revision, at);
      assert.deepEqual(then.items.map((kv) => [kv.key.slice(p.length), dec(kv.value)]), [['a', 'a1'], ['b', 'b1'], ['c', 'c1']]);
      const now = await s.list(p);
      assert.equal(now.revision, await s.currentRevision());
      assert.deepEqual(now.items.map((kv) => [kv.key.slice(p.length), dec(kv.value)]), [['a', 'a2'], ['c', 'c1'], ['d', 'd1']]);
      await rejectsWith(s.list(p, { revision: now.revision + 1 }), 'ERR_STORE_FUTURE_REVISION');
    }));

    test('list pages with after and limit, reporting more and count', withStore(async (s, p) => {
      const keys = Array.from({ length: 25 }, (_, i) => `${p}k${String(i).padStart(2, '0')}`);
      for (const k of keys) must(await s.create(k, enc(k)));
      const rev = await s.currentRevision();
      const pages: [number, boolean, number][] = [];
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await s.list(p, { limit: 10, after, revision: rev });
        pages.push([page.items.length, page.more, page.count]);
        seen.push(...page.items.map((kv) => kv.key));
        assert.equal(page.revision, rev);
        if (!page.more) break;
        after = page.items.at(-1)!.key;
        must(await s.create(`${p}k${seen.length}x`, enc('late'))); // later writes stay invisible at `rev`
      }
      assert.deepEqual(pages, [[10, true, 25], [10, true, 15], [5, false, 5]]);
      assert.deepEqual(seen, keys);
      const counted = await s.list(p, { countOnly: true, revision: rev });
      assert.deepEqual([counted.items.length, counted.count], [0, 25]);
      const exact = await s.list(p, { limit: 25, revision: rev });
      assert.deepEqual([exact.items.length, exact.more, exact.count], [25, false, 25]);
    }));

    test('get, list, pages and counts at every past revision agree with a model of the history', withStore(async (s, p) => {
      // A deterministic mix of creates, updates and deletes over 12 keys; the model keeps each state.
      const model = new Map<number, Map<string, string>>();
      let state = new Map<string, string>();
      const r0 = await s.currentRevision();
      model.set(r0, state);
      let x = 7;
      for (let i = 0; i < 150; i++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        const h = Math.floor(x / 65536);
        const key = `${p}k${h % 12}`;
        const cur = await s.get(key);
        const r = !cur
          ? await s.create(key, enc(`v${i}`))
          : h % 5 === 0
            ? await s.delete(key, cur.modRevision)
            : await s.update(key, enc(`v${i}`), cur.modRevision);
        assert.equal(r.ok, true);
        state = new Map(state);
        if (!cur || h % 5 !== 0) state.set(key, `v${i}`);
        else state.delete(key);
        model.set(await s.currentRevision(), state);
      }
      for (const [rev, want] of model) {
        const sorted = [...want].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        const all = await s.list(p, { revision: rev });
        assert.deepEqual(all.items.map((kv) => [kv.key, dec(kv.value)]), sorted, `list at ${rev}`);
        assert.equal(all.count, sorted.length);
        assert.equal((await s.list(p, { revision: rev, countOnly: true })).count, sorted.length, `count at ${rev}`);
        const page = await s.list(p, { revision: rev, limit: 3, after: `${p}k3` });
        const rest = sorted.filter(([k]) => k > `${p}k3`);
        assert.deepEqual(page.items.map((kv) => kv.key), rest.slice(0, 3).map(([k]) => k), `page at ${rev}`);
        assert.deepEqual([page.count, page.more], [rest.length, rest.length > 3], `page count at ${rev}`);
        for (const k of [`${p}k1`, `${p}k6`]) {
          const kv = await s.get(k, { revision: rev });
          assert.equal(kv ? dec(kv.value) : undefined, want.get(k), `get ${k} at ${rev}`);
        }
      }
    }));

    test('prefixes are isolated: /x/pods/ does not match /x/podsx/', withStore(async (s, p) => {
      must(await s.create(`${p}pods/ns/a`, enc('a')));
      must(await s.create(`${p}podsx/ns/b`, enc('b')));
      must(await s.create(`${p}pods`, enc('bare')));
      must(await s.create(`${p}pods0`, enc('next')));
      const l = await s.list(`${p}pods/`);
      assert.deepEqual(l.items.map((kv) => kv.key), [`${p}pods/ns/a`]);
      assert.equal(l.count, 1);
      const from = await s.currentRevision();
      must(await s.create(`${p}podsx/ns/c`, enc('c')));
      must(await s.create(`${p}pods/ns/d`, enc('d')));
      const { events } = await consume(s.watch(`${p}pods/`, from - 4), (ev) => ev.some((e) => e.kv.key.endsWith('/d')));
      assert.deepEqual(events.map((e) => e.kv.key), [`${p}pods/ns/a`, `${p}pods/ns/d`]);
    }));

    test('watch catches up from a revision, then streams live: ordered, no gaps, no duplicates', withStore(async (s, p) => {
      const mine: number[] = [];
      const track = (key: string, rev: number): void => {
        if (key.startsWith(p)) mine.push(rev);
      };
      for (let i = 0; i < 30; i++) {
        const r = must(await s.create(`${p}k${i}`, enc(String(i))));
        if (r.ok) track(r.kv.key, r.kv.modRevision);
        must(await s.create(`${p.slice(0, -1)}-noise/k${i}`, enc('n')));
      }
      const from = mine[9]!;
      let finalRev = Infinity;
      const writers = (async () => {
        await Promise.all(
          Array.from({ length: 8 }, async (_, w) => {
            for (let i = 0; i < 30; i++) {
              const key = `${p}w${w}/k${i % 5}`;
              const cur = await s.get(key);
              if (!cur) {
                const r = await s.create(key, enc(`${w}-${i}`));
                if (r.ok) track(key, r.kv.modRevision);
              } else if (i % 7 === 0) {
                const r = await s.delete(key, cur.modRevision);
                if (r.ok) track(key, r.revision);
              } else {
                const r = await s.update(key, enc(`${w}-${i}`), cur.modRevision);
                if (r.ok) track(key, r.kv.modRevision);
              }
              await s.create(`${p.slice(0, -1)}-noise/w${w}-${i}`, enc('n'));
            }
          }),
        );
        const last = must(await s.create(`${p}last`, enc('end')));
        if (last.ok) track(last.kv.key, last.kv.modRevision);
        finalRev = last.ok ? last.kv.modRevision : 0;
      })();
      // Progress batches re-check the end condition: with a remote store the last event can arrive
      // before the write's acknowledgement sets finalRev.
      const { events, batches } = await consume(s.watch(p, from, { progressIntervalMs: 50 }), (ev) => ev.length > 0 && ev.at(-1)!.kv.modRevision >= finalRev);
      await writers;
      const got = events.map((e) => e.kv.modRevision);
      assert.deepEqual(got, mine.filter((r) => r > from).sort((a, b) => a - b));
      for (const e of events) assert.ok(e.kv.key.startsWith(p));
      for (let i = 1; i < batches.length; i++) assert.ok(batches[i]!.revision >= batches[i - 1]!.revision, 'batch revisions never go back');
      for (const b of batches) if (b.events.length) assert.ok(b.revision >= b.events.at(-1)!.kv.modRevision);
    }));

    test('watch from the current revision sees only later changes', withStore(async (s, p) => {
      must(await s.create(`${p}old`, enc('1')));
      const from = await s.currentRevision();
      const w = consume(s.watch(p, from), (ev) => ev.length >= 2);
      must(await s.create(`${p}new1`, enc('1')));
      must(await s.create(`${p}new2`, enc('1')));
      const { events } = await w;
      assert.deepEqual(events.map((e) => e.kv.key), [`${p}new1`, `${p}new2`]);
    }));

    test('watch events carry the previous value; delete events carry the last value', withStore(async (s, p) => {
      const from = await s.currentRevision();
      const c = must(await s.create(`${p}a`, enc('v1')));
      const u = must(await s.update(`${p}a`, enc('v2'), c.ok ? c.kv.modRevision : 0));
      const d = must(await s.delete(`${p}a`));
      const check = (events: WatchEvent[]): void => {
        const created = c.ok ? c.kv.modRevision : 0;
        const updated = u.ok ? u.kv.modRevision : 0;
        assert.deepEqual(
          events.map((e) => [e.type, kvText(e.kv), kvText(e.prevKv)]),
          [
            ['put', [`${p}a`, 'v1', created, created], null],
            ['put', [`${p}a`, 'v2', created, updated], [`${p}a`, 'v1', created, created]],
            ['delete', [`${p}a`, 'v2', created, d.revision], [`${p}a`, 'v2', created, updated]],
          ],
        );
      };
      // From the log (catch-up) ...
      check((await consume(s.watch(p, from), (ev) => ev.length >= 3)).events);
      // ... and live.
      const live = consume(s.watch(p, await s.currentRevision()), (ev) => ev.length >= 3);
      const c2 = must(await s.create(`${p}b`, enc('v1')));
      const u2 = must(await s.update(`${p}b`, enc('v2'), c2.ok ? c2.kv.modRevision : 0));
      const d2 = must(await s.delete(`${p}b`, u2.ok ? u2.kv.modRevision : 0));
      const { events } = await live;
      assert.deepEqual(events.map((e) => [e.type, e.kv.modRevision, e.kv.value.length ? dec(e.kv.value) : '', e.prevKv ? dec(e.prevKv.value) : null]), [
        ['put', c2.ok ? c2.kv.modRevision : 0, 'v1', null],
        ['put', u2.ok ? u2.kv.modRevision : 0, 'v2', 'v1'],
        ['delete', d2.revision, 'v2', 'v2'],
      ]);
    }));

    test('aborting the signal ends a watch without an error', withStore(async (s, p) => {
      const ac = new AbortController();
      const batches: WatchBatch[] = [];
      const from = await s.currentRevision(); // before the write below (a remote store answers later)
      const run = (async () => {
        for await (const b of s.watch(p, from, { signal: ac.signal })) {
          batches.push(b);
          ac.abort();
        }
      })();
      must(await s.create(`${p}a`, enc('1')));
      await run;
      assert.equal(batches.length, 1);
      const pre = new AbortController();
      pre.abort();
      assert.equal((await firstNext(s.watch(p, 0, { signal: pre.signal }))).done, true, 'an aborted signal ends the watch at once');
    }));

    test('idle watches get progress notifications with the current revision', withStore(async (s, p) => {
      must(await s.create(`${p.slice(0, -1)}-elsewhere`, enc('1')));
      const rev = await s.currentRevision();
      const { batches } = await consume(s.watch(p, rev, { progressIntervalMs: 10 }), (_ev, last) => last.events.length === 0);
      assert.deepEqual(batches.at(-1), { events: [], revision: rev });
    }));

    test('a quiet watch answers a progress request with the current revision', withStore(async (s, p) => {
      const from = await s.currentRevision();
      const progress: { request?: () => void } = {};
      const ac = new AbortController();
      const it = s.watch(p, from, { signal: ac.signal, progress })[Symbol.asyncIterator]();
      let next = it.next();
      await new Promise((r) => setTimeout(r, 20));
      must(await s.create(`${p.slice(0, -1)}-elsewhere`, enc('1')));
      const rev = await s.currentRevision();
      assert.ok(progress.request, 'the store sets the progress hook');
      // The answer is the revision the watch has reached: on a cluster, the watch's member may
      // not have applied the leader's newest write yet (etcd answers with its own revision), so
      // ask again until it has — each answer without events, never going back, the last `rev`.
      const deadline = Date.now() + 10_000;
      let seen = 0;
      for (;;) {
        progress.request!();
        const b = (await next).value as WatchBatch;
        assert.deepEqual(b.events, []);
        assert.ok(b.revision >= seen && b.revision <= rev, `progress revision ${b.revision} within [${seen}, ${rev}]`);
        seen = b.revision;
        if (seen === rev) break;
        assert.ok(Date.now() < deadline, `progress stayed at ${seen}, the store is at ${rev}`);
        await new Promise((r) => setTimeout(r, 20));
        next = it.next();
      }
      ac.abort();
      await it.return?.();
    }));

    test('compaction makes older revisions unreadable and keeps the current values', withStore(async (s, p) => {
      const a1 = must(await s.create(`${p}a`, enc('a1')));
      must(await s.create(`${p}gone`, enc('x')));
      must(await s.update(`${p}a`, enc('a2'), a1.ok ? a1.kv.modRevision : 0));
      must(await s.delete(`${p}gone`));
      must(await s.create(`${p}b`, enc('b1')));
      const at = await s.currentRevision();
      must(await s.update(`${p}b`, enc('b2'), (await s.get(`${p}b`))!.modRevision));
      must(await s.create(`${p}c`, enc('c1')));
      await s.compact(at);
      assert.equal(await s.compactedRevision(), at);
      await rejectsWith(s.get(`${p}a`, { revision: at - 1 }), 'ERR_STORE_COMPACTED');
      await rejectsWith(s.list(p, { revision: at - 1 }), 'ERR_STORE_COMPACTED');
      await assert.rejects(firstNext(s.watch(p, at - 1)), (err) => isCode(err, 'ERR_STORE_COMPACTED'));
      assert.deepEqual((await s.list(p, { revision: at })).items.map((kv) => dec(kv.value)), ['a2', 'b1']);
      assert.equal(await s.get(`${p}gone`, { revision: at }), null, 'a key deleted before the compaction stays deleted');
      assert.deepEqual((await s.list(p)).items.map((kv) => dec(kv.value)), ['a2', 'b2', 'c1']);
      const { events } = await consume(s.watch(p, at), (ev) => ev.length >= 2);
      assert.deepEqual(events.map((e) => [e.type, dec(e.kv.value), e.prevKv ? dec(e.prevKv.value) : null]), [['put', 'b2', 'b1'], ['put', 'c1', null]]);
      await s.compact(at - 1); // compacting to an older revision changes nothing
      assert.equal(await s.compactedRevision(), at);
      await rejectsWith(s.compact((await s.currentRevision()) + 1), 'ERR_STORE_FUTURE_REVISION');
      const again = must(await s.create(`${p}gone`, enc('back')));
      assert.equal(again.ok && dec(again.kv.value), 'back');
    }));

    describe('TTL writes: the key is deleted about ttlSeconds later, with a delete event', () => {
      /** Polls `fn` until it holds; fails after the safety limit. */
      const eventually = async (what: string, fn: () => Promise<boolean>): Promise<void> => {
        const deadline = Date.now() + SAFETY_MS;
        while (!(await fn())) {
          if (Date.now() > deadline) assert.fail(`${what} did not happen in ${SAFETY_MS} ms`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };

      test('a created key with a TTL expires and watchers see its delete', withStore(async (s, p) => {
        const from = await s.currentRevision();
        const c = must(await s.create(`${p}short`, enc('v1'), { ttlSeconds: 1 }));
        must(await s.create(`${p}kept`, enc('k')));
        const w = consume(s.watch(p, from), (ev) => ev.some((e) => e.type === 'delete'));
        await eventually('expiry', async () => (await s.get(`${p}short`)) === null);
        const { events } = await w;
        const del = events.find((e) => e.type === 'delete')!;
        assert.equal(del.kv.key, `${p}short`);
        assert.equal(dec(del.prevKv!.value), 'v1');
        assert.equal(del.prevKv!.modRevision, c.ok ? c.kv.modRevision : 0);
        assert.equal(dec((await s.get(`${p}kept`))!.value), 'k', 'a key without a TTL stays');
        const again = must(await s.create(`${p}short`, enc('v2')));
        assert.equal(again.ok && again.kv.createRevision, again.ok && again.kv.modRevision, 'the name is free again');
      }));

      test('an update with a TTL sets one; an update without clears it', withStore(async (s, p) => {
        const a = must(await s.create(`${p}a`, enc('1')));
        must(await s.update(`${p}a`, enc('2'), a.ok ? a.kv.modRevision : 0, { ttlSeconds: 1 }));
        const b = must(await s.create(`${p}b`, enc('1'), { ttlSeconds: 1 }));
        const b2 = must(await s.update(`${p}b`, enc('2'), b.ok ? b.kv.modRevision : 0));
        const marker = must(await s.create(`${p}marker`, enc('m'), { ttlSeconds: 1 }));
        assert.ok(marker.ok);
        await eventually('expiry of a', async () => (await s.get(`${p}a`)) === null);
        await eventually('expiry of the marker', async () => (await s.get(`${p}marker`)) === null);
        await new Promise((r) => setTimeout(r, 1500));
        const kept = await s.get(`${p}b`);
        assert.equal(kept && dec(kept.value), '2', 'an update without a TTL keeps the key');
        assert.equal(kept!.modRevision, b2.ok ? b2.kv.modRevision : 0);
      }));
    });

    test('snapshot (when the backend has it) writes a file and reports the revision', withStore(async (s, p) => {
      if (!s.snapshot) return;
      for (let i = 0; i < 5; i++) must(await s.create(`${p}k${i}`, enc(String(i))));
      const rev = await s.currentRevision();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-snap-'));
      try {
        const r = await s.snapshot(`${dir}/snap.db`);
        assert.ok(r.revision >= rev, `snapshot revision ${r.revision} < ${rev}`);
        assert.equal(r.size, fs.statSync(`${dir}/snap.db`).size);
        assert.ok(r.size > 0);
        assert.deepEqual(fs.readdirSync(dir), ['snap.db'], 'no temporary file is left');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));

    test('close ends watches and later calls fail with ERR_STORE_CLOSED', async () => {
      const s = await opts.newStore();
      const p = uniquePrefix();
      const from = await s.currentRevision();
      const ended = (async () => {
        let n = 0;
        for await (const b of s.watch(p, from)) n += b.events.length;
        return n;
      })();
      await new Promise((r) => setImmediate(r));
      await s.close();
      assert.equal(typeof (await ended), 'number');
      await rejectsWith(s.get(`${p}a`), 'ERR_STORE_CLOSED');
      await rejectsWith(s.create(`${p}a`, enc('1')), 'ERR_STORE_CLOSED');
    });
  });
}
