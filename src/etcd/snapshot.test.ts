/**
 * Snapshot files (k3s's naming and retention) and the SQLite restore round trip on real stores.
 * When the SQLite store has no `snapshot()` yet, the copy is made with `VACUUM INTO` through
 * node:sqlite from the closed store's file (what the store's own snapshot does).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { checkSnapshotName, deleteSnapshots, listSnapshots, pruneSnapshots, restoreSqliteSnapshot, saveSnapshot, snapshotDir, sqliteInUse, type SnapshottableStore } from './snapshot.ts';
import { openSqliteStore } from '../storage/sqlite.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-snapshot-test-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => path.join(root, `d${n++}`);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A store whose snapshot writes `content` (a pure unit for naming and listing). */
function fakeStore(content = 'snapshot-bytes'): SnapshottableStore {
  return { snapshot: async (file: string) => (fs.writeFileSync(file, content), { size: content.length, revision: 1 }) } as unknown as SnapshottableStore;
}
const at = (unix: number) => () => new Date(unix * 1000);

test('saveSnapshot names files <name>-<node>-<unix time> in server/db/snapshots, 0600', async () => {
  const d = dir();
  const s = await saveSnapshot(fakeStore(), { dataDir: d, nodeName: 'node1', now: at(1_700_000_000) });
  const file = path.join(d, 'server', 'db', 'snapshots', 'on-demand-node1-1700000000');
  assert.deepEqual(s, { name: 'on-demand-node1-1700000000', location: `file://${file}`, nodeName: 'node1', createdAt: '2023-11-14T22:13:20Z', size: 14 });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(snapshotDir(d)).mode & 0o777, 0o700);
  assert.deepEqual(fs.readdirSync(snapshotDir(d)), ['on-demand-node1-1700000000']);
  const named = await saveSnapshot(fakeStore(), { dataDir: d, nodeName: 'node1', name: 'before-upgrade', now: at(1_700_000_001) });
  assert.equal(named.name, 'before-upgrade-node1-1700000001');
});

test('saveSnapshot never overwrites a snapshot and leaves no temporary file', async () => {
  const d = dir();
  await saveSnapshot(fakeStore('one'), { dataDir: d, nodeName: 'n', now: at(1_700_000_000) });
  await assert.rejects(saveSnapshot(fakeStore('two'), { dataDir: d, nodeName: 'n', now: at(1_700_000_000) }), /already exists/);
  assert.equal(fs.readFileSync(path.join(snapshotDir(d), 'on-demand-n-1700000000'), 'utf8'), 'one');
  const failing = { snapshot: async (f: string) => (fs.writeFileSync(f, 'partial'), Promise.reject(new Error('disk full'))) } as unknown as SnapshottableStore;
  await assert.rejects(saveSnapshot(failing, { dataDir: d, nodeName: 'n', now: at(1_700_000_005) }), /disk full/);
  assert.deepEqual(fs.readdirSync(snapshotDir(d)), ['on-demand-n-1700000000']);
});

test('saveSnapshot: one at a time, and a store without snapshots is refused', async () => {
  const d = dir();
  let release!: () => void;
  const slow = { snapshot: (f: string) => new Promise<{ size: number; revision: number }>((r) => (release = () => (fs.writeFileSync(f, 'x'), r({ size: 1, revision: 1 })))) } as unknown as SnapshottableStore;
  const first = saveSnapshot(slow, { dataDir: d, nodeName: 'n', now: at(1_700_000_000) });
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(saveSnapshot(fakeStore(), { dataDir: d, nodeName: 'n', now: at(1_700_000_001) }), /snapshot save already in progress/);
  release();
  await first;
  await assert.rejects(saveSnapshot({} as SnapshottableStore, { dataDir: d, nodeName: 'n' }), /does not support snapshots/);
});

const names: { name: string; ok: boolean }[] = [
  { name: 'on-demand-n-1', ok: true },
  { name: '../state.db', ok: false },
  { name: 'a/b', ok: false },
  { name: '.hidden', ok: false },
  { name: '', ok: false },
];
for (const c of names) test(`checkSnapshotName ${c.ok ? 'accepts' : 'refuses'} ${JSON.stringify(c.name)}`, () => (c.ok ? assert.doesNotThrow(() => checkSnapshotName(c.name)) : assert.throws(() => checkSnapshotName(c.name), /path traversal not allowed/)));

test('listSnapshots, deleteSnapshots and pruneSnapshots (newest N of one prefix kept)', async () => {
  const d = dir();
  assert.deepEqual(await listSnapshots(d), []);
  for (const t of [1_700_000_003, 1_700_000_001, 1_700_000_002, 1_700_000_004]) await saveSnapshot(fakeStore(), { dataDir: d, nodeName: 'n', now: at(t) });
  await saveSnapshot(fakeStore(), { dataDir: d, nodeName: 'n', name: 'etcd-snapshot', now: at(1_600_000_000) });
  fs.writeFileSync(path.join(snapshotDir(d), '.tmp-in-progress'), 'x');
  const list = await listSnapshots(d, { nodeName: 'n' });
  assert.deepEqual(list.map((s) => s.name), ['etcd-snapshot-n-1600000000', 'on-demand-n-1700000001', 'on-demand-n-1700000002', 'on-demand-n-1700000003', 'on-demand-n-1700000004']);
  assert.equal(list[1]!.createdAt, '2023-11-14T22:13:21Z');
  assert.deepEqual(await pruneSnapshots(d, 0), []);
  assert.deepEqual(await pruneSnapshots(d, 2), ['on-demand-n-1700000001', 'on-demand-n-1700000002']);
  assert.deepEqual((await listSnapshots(d)).map((s) => s.name), ['etcd-snapshot-n-1600000000', 'on-demand-n-1700000003', 'on-demand-n-1700000004']);
  assert.deepEqual(await deleteSnapshots(d, ['on-demand-n-1700000003', 'missing']), ['on-demand-n-1700000003']);
  await assert.rejects(deleteSnapshots(d, ['../../db/state.db']), /path traversal/);
});

/** A consistent copy of the store's file: the store's own snapshot() when it has one, else VACUUM INTO on the closed file. */
async function snapshotOf(dbFile: string, dataDir: string): Promise<string> {
  const store = openSqliteStore(dbFile, { compactIntervalMs: 0 }) as SnapshottableStore;
  try {
    if (typeof store.snapshot === 'function') return (await saveSnapshot(store, { dataDir, nodeName: 'n' })).location.slice('file://'.length);
  } finally {
    await store.close();
  }
  const out = path.join(snapshotDir(dataDir), 'on-demand-n-1700000000');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const db = new DatabaseSync(dbFile);
  try {
    db.exec(`VACUUM INTO '${out.replaceAll("'", "''")}'`);
  } finally {
    db.close();
  }
  return out;
}

test('SQLite round trip: a restored snapshot brings back the data as it was', async () => {
  const d = dir();
  const dbFile = path.join(d, 'db', 'state.db');
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  let store = openSqliteStore(dbFile, { compactIntervalMs: 0 });
  const a = await store.create('/registry/a', enc('one'));
  assert.ok(a.ok);
  await store.close();
  const snap = await snapshotOf(dbFile, d);

  store = openSqliteStore(dbFile, { compactIntervalMs: 0 });
  const cur = await store.get('/registry/a');
  await store.update('/registry/a', enc('two'), cur!.modRevision);
  await store.create('/registry/b', enc('new'));
  // Refused while a server holds the database.
  assert.equal(sqliteInUse(dbFile), true);
  await assert.rejects(restoreSqliteSnapshot(d, snap), /in use: stop the server/);
  await store.close();
  assert.equal(sqliteInUse(dbFile), false);

  const r = await restoreSqliteSnapshot(d, snap, { now: at(1_700_000_100) });
  assert.equal(r.dbFile, dbFile);
  assert.equal(r.previous, `${dbFile}.old-1700000100`);
  assert.equal(fs.statSync(dbFile).mode & 0o777, 0o600);
  assert.equal(fs.existsSync(`${dbFile}-wal`), false);
  store = openSqliteStore(dbFile, { compactIntervalMs: 0 });
  try {
    assert.equal(dec((await store.get('/registry/a'))!.value), 'one');
    assert.equal(await store.get('/registry/b'), null);
    // Revisions go on from the snapshot's.
    const w = await store.create('/registry/c', enc('after'));
    assert.ok(w.ok && w.kv.modRevision > a.kv.modRevision);
  } finally {
    await store.close();
  }
  // The snapshot itself is untouched.
  assert.ok(fs.existsSync(snap));
});

test('restoreSqliteSnapshot refuses an etcd snapshot (with the cluster-reset hint) and a missing file', async () => {
  const d = dir();
  const f = path.join(d, 'etcd.db');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(f, Buffer.alloc(4096, 1));
  await assert.rejects(restoreSqliteSnapshot(d, f), /--cluster-reset --cluster-reset-restore-path/);
  await assert.rejects(restoreSqliteSnapshot(d, path.join(d, 'nope')), /no such file/);
  assert.equal(fs.existsSync(path.join(d, 'db')), false);
  // A SQLite header over garbage: refused, nothing left behind.
  const bad = path.join(d, 'bad.db');
  fs.writeFileSync(bad, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(8192, 0xff)]));
  await assert.rejects(restoreSqliteSnapshot(d, bad), /not a usable SQLite database/);
  assert.deepEqual(fs.readdirSync(path.join(d, 'db')), []);
});

test('restoreSqliteSnapshot takes a WAL-mode database file and leaves no side files', async () => {
  const d = dir();
  fs.mkdirSync(d, { recursive: true });
  const snap = path.join(d, 'wal-snap');
  const db = new DatabaseSync(snap);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES ('kept');");
  db.close();
  const r = await restoreSqliteSnapshot(d, snap);
  assert.deepEqual(fs.readdirSync(path.dirname(r.dbFile)), ['state.db']);
  const back = new DatabaseSync(r.dbFile, { readOnly: true });
  try {
    assert.deepEqual({ ...(back.prepare('SELECT x FROM t').get() as object) }, { x: 'kept' });
  } finally {
    back.close();
  }
});
