/**
 * Datastore snapshots kept as k3s keeps etcd snapshots (pkg/etcd/snapshot.go): files in
 * `DATA_DIR/server/db/snapshots` (0700) named `<name>-<node name>-<unix seconds>`, where the name
 * is `on-demand` for `bosun etcd-snapshot save` (k3s's CLI default) and `etcd-snapshot` for
 * scheduled ones. The timestamp at the end of the name is the creation time (the file's mtime
 * when it has none). Retention (prune) keeps the newest N files of one name prefix, as k3s's
 * snapshotRetention does; a retention below 1 prunes nothing.
 *
 * The same files serve both backends: the Store's `snapshot(file)` writes a consistent copy
 * (SQLite: `VACUUM INTO`; etcd: the maintenance snapshot stream). SQLite restores here
 * (`restoreSqliteSnapshot`, server stopped); an etcd snapshot is restored by
 * `bosun server --cluster-reset --cluster-reset-restore-path FILE` (src/etcd/cluster.ts).
 *
 * One save runs at a time per snapshot directory in this process (k3s: "snapshot save already
 * in progress").
 */
import fs from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Store } from '../storage/types.ts';
import { compareStrings } from '../util/compare.ts';

export interface SnapshotInfo {
  /** File name, `<name>-<node>-<unix time>`. */
  name: string;
  /** `file://` + absolute path. */
  location: string;
  nodeName: string;
  /** RFC 3339, seconds. */
  createdAt: string;
  /** Bytes. */
  size: number;
}

/** A Store that can write a consistent copy of itself to a file. */
export type SnapshottableStore = Store & { snapshot?(file: string): Promise<{ size: number; revision: number }> };

/** k3s's names: on demand (the CLI) and scheduled. */
export const onDemandSnapshotName = 'on-demand';
export const scheduledSnapshotName = 'etcd-snapshot';
/** k3s's default --etcd-snapshot-retention. */
export const defaultSnapshotRetention = 5;

/** The snapshot directory of a data dir. */
export function snapshotDir(dataDir: string): string {
  return path.join(dataDir, 'server', 'db', 'snapshots');
}

/** Throws unless `name` is a plain file name (no path traversal). */
export function checkSnapshotName(name: string): void {
  if (!name || name !== path.basename(name) || name === '.' || name === '..' || name.startsWith('.') || name.includes('\0')) {
    throw new Error(`invalid snapshot name ${JSON.stringify(name)}: path traversal not allowed`);
  }
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The unix time at the end of a snapshot name, or undefined. */
function timestampOf(name: string): number | undefined {
  const m = /-(\d{9,12})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

const saving = new Set<string>();

export interface SaveSnapshotOptions {
  dataDir: string;
  nodeName: string;
  /** Name prefix; default `on-demand`. */
  name?: string;
  now?: () => Date;
}

/**
 * Saves a snapshot of `store` into the snapshot directory: `store.snapshot` writes a temporary
 * file beside the target, which is renamed into place (0600) only when complete. Throws when the
 * store cannot snapshot, a save is already running, or the name is taken.
 */
export async function saveSnapshot(store: SnapshottableStore, opts: SaveSnapshotOptions): Promise<SnapshotInfo> {
  if (typeof store.snapshot !== 'function') throw new Error('the datastore does not support snapshots');
  const prefix = opts.name ?? onDemandSnapshotName;
  checkSnapshotName(prefix);
  checkSnapshotName(opts.nodeName);
  const dir = snapshotDir(opts.dataDir);
  if (saving.has(dir)) throw new Error('snapshot save already in progress');
  saving.add(dir);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const now = opts.now?.() ?? new Date();
    const unix = Math.round(now.getTime() / 1000);
    const name = `${prefix}-${opts.nodeName}-${unix}`;
    const file = path.join(dir, name);
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    try {
      await fs.access(file);
      throw new Error(`snapshot ${name} already exists`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await fs.rm(tmp, { force: true });
    try {
      await store.snapshot(tmp);
      await fs.chmod(tmp, 0o600);
      await fs.link(tmp, file); // fails if the name appeared meanwhile: never overwrite a snapshot
    } finally {
      await fs.rm(tmp, { force: true });
    }
    const st = await fs.stat(file);
    return { name, location: `file://${file}`, nodeName: opts.nodeName, createdAt: rfc3339(new Date(unix * 1000)), size: st.size };
  } finally {
    saving.delete(dir);
  }
}

/** The snapshots in the data dir's snapshot directory, oldest first (empty when none). */
export async function listSnapshots(dataDir: string, opts: { nodeName?: string } = {}): Promise<SnapshotInfo[]> {
  const dir = snapshotDir(dataDir);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const nodeName = opts.nodeName ?? os.hostname();
  const out: SnapshotInfo[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const file = path.join(dir, name);
    let st;
    try {
      st = await fs.stat(file);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    const ts = timestampOf(name) ?? Math.floor(st.mtimeMs / 1000);
    out.push({ name, location: `file://${file}`, nodeName, createdAt: rfc3339(new Date(ts * 1000)), size: st.size });
  }
  return out.sort((a, b) => compareStrings(a.createdAt, b.createdAt) || compareStrings(a.name, b.name));
}

/** Deletes the named snapshots; answers those deleted (missing ones are skipped, as k3s). */
export async function deleteSnapshots(dataDir: string, names: readonly string[]): Promise<string[]> {
  for (const n of names) checkSnapshotName(n);
  const deleted: string[] = [];
  for (const n of names) {
    try {
      await fs.unlink(path.join(snapshotDir(dataDir), n));
      deleted.push(n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return deleted;
}

/**
 * Keeps the newest `retention` snapshots whose name starts with `<name>-` (default on-demand)
 * and deletes the older ones; answers the names deleted. retention < 1 deletes nothing.
 */
export async function pruneSnapshots(dataDir: string, retention: number, opts: { name?: string } = {}): Promise<string[]> {
  if (!Number.isInteger(retention) || retention < 1) return [];
  const prefix = `${opts.name ?? onDemandSnapshotName}-`;
  const mine = (await listSnapshots(dataDir)).filter((s) => s.name.startsWith(prefix));
  if (mine.length <= retention) return [];
  return deleteSnapshots(dataDir, mine.slice(0, mine.length - retention).map((s) => s.name));
}

/** The SQLite file header every database starts with. */
const sqliteHeader = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Whether another process holds the SQLite database (a running server keeps it in exclusive
 * locking mode). False when the file does not exist.
 */
export function sqliteInUse(dbFile: string): boolean {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(dbFile, { open: true, readOnly: true, timeout: 0 });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SQLITE_ERROR' && /unable to open/i.test(String((err as Error).message))) return false;
    return /locked|busy/i.test(String((err as Error).message));
  }
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (err) {
    return /locked|busy/i.test(String((err as Error).message));
  } finally {
    db.close();
  }
}

export interface RestoreSqliteOptions {
  /** The database file; default DATA_DIR/db/state.db. */
  dbFile?: string;
  now?: () => Date;
}

/**
 * Restores a SQLite snapshot over the server's database, the server being stopped: checks the
 * snapshot is a readable SQLite database, refuses when the database is in use, moves the current
 * database (and its -wal/-shm) aside as `state.db.old-<unix>`, then puts a copy of the snapshot
 * in place (0600). Answers the path of the set-aside database, if there was one.
 */
export async function restoreSqliteSnapshot(dataDir: string, file: string, opts: RestoreSqliteOptions = {}): Promise<{ dbFile: string; previous?: string }> {
  const dbFile = opts.dbFile ?? path.join(dataDir, 'db', 'state.db');
  const fh = await fs.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read snapshot ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  try {
    const head = Buffer.alloc(sqliteHeader.length);
    await fh.read(head, 0, head.length, 0);
    if (!head.equals(sqliteHeader)) throw new Error(`${file} is not a SQLite snapshot (an etcd snapshot is restored with bosun server --cluster-reset --cluster-reset-restore-path ${file})`);
  } finally {
    await fh.close();
  }
  if (sqliteInUse(dbFile)) throw new Error(`the database ${dbFile} is in use: stop the server before restoring a snapshot`);
  await fs.mkdir(path.dirname(dbFile), { recursive: true, mode: 0o700 });
  const tmp = path.join(path.dirname(dbFile), `.${path.basename(dbFile)}.restore.${process.pid}.tmp`);
  await fs.rm(tmp, { force: true });
  try {
    await fs.copyFile(file, tmp, fsc.COPYFILE_EXCL);
    await fs.chmod(tmp, 0o600);
    // Checked on the copy: opening a database may leave -wal/-shm files beside it.
    const check = new DatabaseSync(tmp);
    try {
      const r = check.prepare('PRAGMA quick_check').get() as Record<string, unknown> | undefined;
      if (r && Object.values(r)[0] !== 'ok') throw new Error(`snapshot ${file} is damaged: ${String(Object.values(r)[0])}`);
    } catch (err) {
      throw new Error(`snapshot ${file} is not a usable SQLite database: ${(err as Error).message}`, { cause: err });
    } finally {
      check.close();
    }
    if (sqliteInUse(dbFile)) throw new Error(`the database ${dbFile} is in use: stop the server before restoring a snapshot`);
    const h = await fs.open(tmp, 'r+');
    await h.sync();
    await h.close();
    let previous: string | undefined;
    const unix = Math.floor((opts.now?.() ?? new Date()).getTime() / 1000);
    for (const suffix of ['', '-wal', '-shm']) {
      const from = `${dbFile}${suffix}`;
      const to = `${dbFile}.old-${unix}${suffix}`;
      try {
        await fs.rename(from, to);
        if (suffix === '') previous = to;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    await fs.rename(tmp, dbFile);
    return previous ? { dbFile, previous } : { dbFile };
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) await fs.rm(`${tmp}${suffix}`, { force: true });
  }
}
