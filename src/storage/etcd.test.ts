/**
 * EtcdStore against real etcd processes (see etcdtest.ts): the Store contract suite on one member
 * and on a three-member TLS cluster, and what only etcd shows — failover under kill -9 with no
 * acknowledged write lost, upstream's compactor coordinating several API servers through
 * compact_rev_key, a watch cancelled by etcd for compaction, snapshots `etcdctl` can read, and
 * openStore with k3s-style endpoint lists.
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runStoreSuite } from './contract.ts';
import { openEtcdStore, compactRevKey, type EtcdStore } from './etcd.ts';
import { startEtcdCluster, etcdctlBin, type EtcdCluster } from './etcdtest.ts';
import { openStore } from './index.ts';
import { isCode } from '../util/errors.ts';
import type { Store } from './types.ts';

const run = promisify(execFile);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

let single: EtcdCluster;
let triple: EtcdCluster;
before(async () => {
  [single, triple] = await Promise.all([
    startEtcdCluster({ members: 1, name: 'bosun-store-test' }),
    startEtcdCluster({ members: 3, tls: true, name: 'bosun-store-test-tls' }),
  ]);
});
after(async () => {
  await Promise.all([single?.stop(), triple?.stop()]);
});

runStoreSuite({ name: 'etcd (1 member)', newStore: () => openEtcdStore({ endpoints: single.endpoints, compactIntervalMs: 0 }) });
runStoreSuite({ name: 'etcd (3 members, TLS)', newStore: () => openEtcdStore({ endpoints: triple.endpoints, tls: triple.tls, compactIntervalMs: 0 }) });

/** Opens stores and closes them all at the end of a test. */
async function withStores(n: number, open: () => Promise<EtcdStore>, fn: (stores: EtcdStore[]) => Promise<void>): Promise<void> {
  const stores: EtcdStore[] = [];
  try {
    for (let i = 0; i < n; i++) stores.push(await open());
    await fn(stores);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}

describe('EtcdStore', () => {
  test('kill -9 of one member of three under continuous writes: writes go on, no acknowledged write is lost', async () => {
    const c = await startEtcdCluster({ members: 3, name: 'bosun-store-failover' });
    try {
      await withStores(1, () => openEtcdStore({ endpoints: c.endpoints, compactIntervalMs: 0 }), async ([s]) => {
        const acked = new Map<string, { value: string; rev: number }>();
        let killedAt = 0;
        let afterKill = 0;
        let stop = false;
        const writers = Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; !stop; i++) {
            const key = `/registry/failover/w${w}/k${i}`;
            const value = `${w}-${i}-${'x'.repeat(100)}`;
            const r = await s!.create(key, enc(value));
            assert.ok(r.ok, `create ${key} lost: ${JSON.stringify(r)}`);
            if (r.ok) acked.set(key, { value, rev: r.kv.modRevision });
            if (killedAt) afterKill++;
            if (i % 3 === 2) {
              const u = await s!.update(key, enc(`${value}-u`), r.ok ? r.kv.modRevision : 0);
              assert.ok(u.ok, `update ${key} lost: ${JSON.stringify(u)}`);
              if (u.ok) acked.set(key, { value: `${value}-u`, rev: u.kv.modRevision });
            }
          }
        });
        await new Promise((r) => setTimeout(r, 700));
        await c.kill(0, 'SIGKILL');
        killedAt = acked.size;
        await new Promise((r) => setTimeout(r, 1500));
        stop = true;
        await Promise.all(writers);
        assert.ok(killedAt > 0 && afterKill > 0, `writes before (${killedAt}) and after (${afterKill}) the kill`);
        const all = new Map<string, { value: string; rev: number }>();
        let after: string | undefined;
        for (;;) {
          const page = await s!.list('/registry/failover/', { limit: 1000, after });
          for (const kv of page.items) all.set(kv.key, { value: dec(kv.value), rev: kv.modRevision });
          if (!page.more) break;
          after = page.items.at(-1)!.key;
        }
        for (const [k, v] of acked) assert.deepEqual(all.get(k), v, `acknowledged write of ${k}`);
        assert.equal(all.size, acked.size, 'no write applied that was not acknowledged');
        await c.start(0);
        const back = await openEtcdStore({ endpoints: [c.endpoints[0]!], compactIntervalMs: 0 });
        try {
          const one = [...acked].at(-1)!;
          assert.equal(dec((await back.get(one[0]))!.value), one[1].value, 'the restarted member has caught up');
        } finally {
          await back.close();
        }
      });
    } finally {
      await c.stop();
    }
  });

  test('the compactor: in each round exactly one of several API servers compacts, to the revision of the round before', async () => {
    await withStores(2, () => openEtcdStore({ endpoints: single.endpoints, compactIntervalMs: 0 }), async ([a, b]) => {
      const fresh = await run(etcdctlBin, [...single.etcdctlArgs(), 'del', compactRevKey]);
      assert.ok(fresh);
      const compactions: number[] = [];
      const revs: number[] = [];
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 3; i++) await a!.create(`/registry/compactor/r${round}k${i}`, enc('v'));
        revs.push(await a!.currentRevision());
        const beforeA = await a!.compactedRevision();
        const beforeB = await b!.compactedRevision();
        const ra = await a!.runCompaction();
        const rb = await b!.runCompaction();
        if (ra > beforeA) compactions.push(ra);
        if (rb > beforeB && rb !== ra) compactions.push(rb);
      }
      // Round 1 only records the revision; each later round compacts once to the previous round's.
      assert.equal(compactions.length, 3, `compactions: ${compactions}`);
      for (let i = 1; i < compactions.length; i++) assert.ok(compactions[i]! > compactions[i - 1]!);
      assert.ok(compactions.at(-1)! <= revs.at(-1)!);
      const known = await b!.compactedRevision();
      assert.equal(known, await a!.compactedRevision(), 'the server that lost the round learns the compacted revision');
      await assert.rejects(a!.get('/registry/compactor/r0k0', { revision: compactions.at(-1)! - 1 }), (err) => isCode(err, 'ERR_STORE_COMPACTED'));
    });
  });

  test('the compaction timer compacts on its own', async () => {
    await withStores(1, () => openEtcdStore({ endpoints: single.endpoints, compactIntervalMs: 100 }), async ([s]) => {
      await run(etcdctlBin, [...single.etcdctlArgs(), 'del', compactRevKey]);
      const start = await s!.compactedRevision();
      const deadline = Date.now() + 15_000;
      let i = 0;
      while ((await s!.compactedRevision()) <= start) {
        assert.ok(Date.now() < deadline, 'no automatic compaction in 15 s');
        await s!.create(`/registry/timer/k${i++}`, enc('v'));
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  });

  test('a watch below a compaction made by another server ends with ERR_STORE_COMPACTED from etcd', async () => {
    await withStores(2, () => openEtcdStore({ endpoints: single.endpoints, compactIntervalMs: 0 }), async ([a, b]) => {
      const from = await b!.currentRevision();
      for (let i = 0; i < 5; i++) await a!.create(`/registry/wcompact/k${i}`, enc('v'));
      const at = await a!.currentRevision();
      await a!.compact(at);
      assert.ok((await b!.compactedRevision()) < at, 'b has not heard of the compaction');
      const it = b!.watch('/registry/wcompact/', from)[Symbol.asyncIterator]();
      await assert.rejects(it.next(), (err) => isCode(err, 'ERR_STORE_COMPACTED'));
      assert.equal(await b!.compactedRevision(), at, 'the cancel carried the compacted revision');
    });
  });

  test('a watch survives the death of the member it streams from', async () => {
    const c = await startEtcdCluster({ members: 3, name: 'bosun-store-watchfail' });
    try {
      await withStores(1, () => openEtcdStore({ endpoints: c.endpoints, compactIntervalMs: 0 }), async ([s]) => {
        const from = await s!.currentRevision();
        const seen: number[] = [];
        const ac = new AbortController();
        const reader = (async () => {
          for await (const b of s!.watch('/registry/wfail/', from, { signal: ac.signal })) for (const e of b.events) seen.push(e.kv.modRevision);
        })();
        const written: number[] = [];
        for (let i = 0; i < 60; i++) {
          if (i === 20) await c.kill(i % 3 === 0 ? 1 : 2, 'SIGKILL');
          if (i === 40) await c.kill(0, 'SIGKILL').then(() => c.start(0)).then(() => undefined);
          const r = await s!.create(`/registry/wfail/k${i}`, enc('v'));
          if (r.ok) written.push(r.kv.modRevision);
        }
        const deadline = Date.now() + 15_000;
        while (seen.length < written.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        ac.abort();
        await reader;
        assert.deepEqual(seen, written, 'every event once, in order');
      });
    } finally {
      await c.stop();
    }
  });

  test('snapshot streams the backend to a file etcdctl reads, with every key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-etcd-snap-'));
    try {
      await withStores(1, () => openEtcdStore({ endpoints: triple.endpoints, tls: triple.tls, compactIntervalMs: 0 }), async ([s]) => {
        for (let i = 0; i < 20; i++) await s!.create(`/registry/snap/k${i}`, enc(`v${i}`));
        const rev = await s!.currentRevision();
        const file = path.join(dir, 'etcd.snap');
        const r = await s!.snapshot(file);
        assert.equal(r.size, fs.statSync(file).size);
        const status = JSON.parse((await run(etcdctlBin, ['snapshot', 'status', file, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } })).stdout);
        assert.ok(status.revision >= rev, `snapshot revision ${status.revision} < ${rev}`);
        assert.ok(r.revision >= rev);
        assert.ok(status.totalKey >= 20, `snapshot holds ${status.totalKey} keys`);
        // Restore it into a fresh member and read the keys back.
        const restored = path.join(dir, 'restored');
        await run(etcdctlBin, ['snapshot', 'restore', file, `--data-dir=${restored}`, '--skip-hash-check=false'], { env: { ...process.env, ETCDCTL_API: '3' } });
        assert.ok(fs.existsSync(path.join(restored, 'member')));
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('openStore opens etcd from a k3s-style endpoint list with TLS files', async () => {
    const s: Store = await openStore(triple.endpoints.join(','), os.tmpdir(), triple.tls, { compactIntervalMs: 0 });
    try {
      const r = await s.create(`/registry/open/${process.pid}-${Date.now()}`, enc('x'));
      assert.equal(r.ok, true);
    } finally {
      await s.close();
    }
    const plain = await openStore(single.endpoints[0]!.replace('http://', 'etcd://'), os.tmpdir(), undefined, { compactIntervalMs: 0 });
    try {
      assert.ok((await plain.currentRevision()) > 0);
    } finally {
      await plain.close();
    }
  });
});
