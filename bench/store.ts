/**
 * Raw store figures (the SQLite backend, in-process, no API server): creates/s with 1 and 64
 * concurrent writers, updates/s, LIST of 10,000 keys (whole and in pages of 500, current and
 * older revision), watch catch-up and compaction. Small values (~200 bytes, a ConfigMap's JSON).
 * Every phase is bounded in count and time (well under 30 s in total); nothing is asserted.
 * `node bench/store.ts` prints the figures; `benchStore()` returns them for bench/run.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore, type SqliteStore } from '../src/storage/sqlite.ts';

const value = new TextEncoder().encode(
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'bench', namespace: 'default', uid: '6f1c1c1e-8a3e-4a53-9d55-0b1b2b3c4d5e', resourceVersion: '' },
    data: { key: 'value', other: 'some more text to make the value about two hundred bytes' },
  }),
);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs `op(i)` for i < n with `concurrency` workers, stopping early at `maxMs`; answers ops/s. */
async function rate(n: number, concurrency: number, maxMs: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n || performance.now() > deadline) return;
        await op(i);
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

async function timeMs(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function listAll(s: SqliteStore, prefix: string, revision?: number): Promise<number> {
  let after: string | undefined;
  let n = 0;
  for (;;) {
    const page = await s.list(prefix, { limit: 500, after, revision });
    n += page.items.length;
    if (!page.more) return n;
    after = page.items.at(-1)!.key;
  }
}

export async function benchStore(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-bench-store-'));
  try {
    const s = openSqliteStore(path.join(dir, 'state.db'), { compactIntervalMs: 0 });
    try {
      const c1 = await rate(3000, 1, 4000, (i) => s.create(`/registry/configmaps/one/cm-${i}`, value));
      out['creates/s, 1 writer (fsync per commit)'] = c1.toFixed(0);
      const c64 = await rate(30_000, 64, 5000, (i) => s.create(`/registry/configmaps/many/cm-${i}`, value));
      out['creates/s, 64 concurrent writers'] = c64.toFixed(0);
      // Updates over 1,000 keys; the 64 writers in flight always hold distinct keys, so no CAS fails.
      const keys = 1000;
      const revs = new Map<string, number>();
      let lost = 0;
      for (let k = 0; k < keys; k++) revs.set(`/registry/configmaps/many/cm-${k}`, (await s.get(`/registry/configmaps/many/cm-${k}`))!.modRevision);
      const upd = await rate(30_000, 64, 5000, async (i) => {
        const key = `/registry/configmaps/many/cm-${i % keys}`;
        const r = await s.update(key, value, revs.get(key)!);
        if (r.ok) revs.set(key, r.kv.modRevision);
        else {
          lost++;
          revs.set(key, r.current!.modRevision);
        }
      });
      if (lost) out['updates that lost a CAS (unexpected)'] = String(lost);
      out['updates/s, 64 concurrent writers'] = upd.toFixed(0);

      // 10,000 keys under one prefix.
      await rate(10_000, 64, 10_000, (i) => s.create(`/registry/configmaps/list/cm-${String(i).padStart(5, '0')}`, value));
      const listed = (await s.list('/registry/configmaps/list/')).items.length;
      const full = await timeMs(5, () => s.list('/registry/configmaps/list/'));
      out[`LIST ${listed} keys, current revision (median of 5)`] = `${full.toFixed(1)} ms`;
      const paged = await timeMs(3, () => listAll(s, '/registry/configmaps/list/'));
      out[`LIST ${listed} keys in pages of 500 (median of 3)`] = `${paged.toFixed(1)} ms`;
      const older = (await s.currentRevision()) - 1;
      await s.update('/registry/configmaps/list/cm-00000', value, (await s.get('/registry/configmaps/list/cm-00000'))!.modRevision);
      const pagedOld = await timeMs(3, () => listAll(s, '/registry/configmaps/list/', older));
      out[`LIST ${listed} keys in pages of 500 at an older revision (median of 3)`] = `${pagedOld.toFixed(1)} ms`;

      const from = (await s.currentRevision()) - 10_000;
      const catchUp = await timeMs(3, async () => {
        const ac = new AbortController();
        let n = 0;
        for await (const b of s.watch('/registry/configmaps/', from, { signal: ac.signal })) {
          n += b.events.length;
          if (n >= 10_000) ac.abort();
        }
      });
      out['watch catch-up of 10,000 events from the log (median of 3)'] = `${catchUp.toFixed(1)} ms`;

      const before = s.stats();
      const t0 = performance.now();
      await s.compact(await s.currentRevision());
      const after = s.stats();
      out[`compact ${before.rows - after.rows} superseded rows and reclaim`] = `${(performance.now() - t0).toFixed(0)} ms, ${((before.pageCount * before.pageSize) / 2 ** 20).toFixed(1)} → ${((after.pageCount * after.pageSize) / 2 ** 20).toFixed(1)} MiB`;
    } finally {
      await s.close();
    }
    const normal = openSqliteStore(path.join(dir, 'normal.db'), { compactIntervalMs: 0, synchronous: 'normal' });
    try {
      const n1 = await rate(5000, 1, 3000, (i) => normal.create(`/registry/configmaps/one/cm-${i}`, value));
      out["creates/s, 1 writer, synchronous 'normal' (no fsync per commit)"] = n1.toFixed(0);
    } finally {
      await normal.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.main) {
  process.stdout.write(`Store benchmarks on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n\n`);
  for (const [k, v] of Object.entries(await benchStore())) process.stdout.write(`${k.padEnd(70)} ${v}\n`);
}
