/**
 * SqliteStore: the embedded Store backend, etcd semantics on one SQLite file (`node:sqlite`, WAL).
 *
 * Layout, the kine way (an append-only log is the source of truth):
 * - `log(rev PRIMARY KEY, key, created, prev, deleted, value)`: one row per successful write, `rev` the
 *   global revision. `prev` is the revision of the key's previous row (0 for its first row), and
 *   `UNIQUE(key, prev)` guards against two successors of one version. A delete is a tombstone row
 *   (`deleted = 1`, no value); its previous value is found through `prev`.
 * - `live(key PRIMARY KEY, rev, created)`: the current revision of every existing key, so a get or
 *   list at the current revision walks only live keys instead of grouping the history.
 * - `meta`: the compacted revision, and the current revision when compaction removed the newest row.
 *
 * Promises:
 * - Writes are group-committed: those queued in one event-loop turn run in one transaction, each
 *   with its own revision and compare-and-swap outcome, and their promises resolve only after
 *   the WAL is on disk (with `synchronous: 'full'`, the default: an acknowledged write survives
 *   `kill -9` and power loss; `'normal'` survives process crashes only). The fsync runs off the
 *   event loop: COMMIT writes the WAL without syncing it (SQLite's `synchronous = NORMAL`, which
 *   keeps the file consistent), then `fdatasync` of the WAL runs in libuv's thread pool while the
 *   thread goes on serving requests; writes queued meanwhile commit as the next batch with a sync
 *   of their own (two at once at most), and batches settle in commit order. Until its sync ends,
 *   readers see the store as it was before the batch (the store's revision, watch events, and
 *   reads at the current revision, which read at that revision), so nothing a reader sees can be
 *   lost to a power cut. A failed sync fails the waiting batches and closes the store.
 *   A failed compare-and-swap resolves `{ ok: false, current }`, never throws. If a batch fails
 *   unexpectedly (I/O error), each of its writes is retried in a transaction of its own, so one
 *   bad write does not fail its neighbours.
 * - Reads see committed writes only. A new store is at revision 1 (as etcd is), so 0 is never a
 *   revision a caller sees; the first write gets revision 2.
 * - Watches subscribe to commits first, then catch up from the log, then stream live: ordered, no
 *   gaps, no duplicates. Live events are buffered per watcher, so a slow consumer never blocks
 *   writers; a watcher more than `maxWatchPending` events behind is ended with
 *   ERR_STORE_COMPACTED (its history is as good as lost to it: the consumer must re-list).
 *   Event objects are shared between watchers: never mutate them. The store keeps references to
 *   written values for events and results: never mutate a value after writing it.
 * - Compaction (`compact(rev)`, and automatically every `compactIntervalMs` to the revision seen
 *   one interval earlier, always keeping `retainRevisions`) deletes superseded rows and compacted
 *   tombstones together with everything before them (a deleted key never comes back), in short
 *   transactions of `compactBatchRevisions` revisions with the event loop free in between; then it
 *   returns free pages to the file system (`auto_vacuum = INCREMENTAL`, in steps) and truncates the
 *   WAL. Each step runs on the one connection, so it never meets "database is locked".
 * - TTL writes (`{ ttlSeconds }`) record an expiry time in `expiry(key, at, rev)`; a timer on the
 *   store's clock deletes each expired key with a compare-and-swap delete through the normal write
 *   path (a delete event; a key updated meanwhile is not deleted: its update replaced or cleared
 *   the expiry). An update without a TTL clears the key's expiry.
 * - `snapshot(file)` writes a consistent copy with `VACUUM INTO` (a valid store file).
 * - The file is opened in exclusive locking mode: a second process (or store) on the same file
 *   fails to open with ERR_INVALID_CONFIG instead of corrupting the revision sequence.
 *
 * All SQLite calls are synchronous and short; the store runs on the caller's thread.
 */
import { DatabaseSync, type StatementSync, type SQLOutputValue } from 'node:sqlite';
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { BosunError } from '../util/errors.ts';
import type {
  DeleteResult,
  GetOptions,
  KeyValue,
  ListOptions,
  ListResult,
  Store,
  WatchBatch,
  WatchEvent,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from './types.ts';

/** The timers the store uses; tests pass a fake one and fire callbacks themselves. */
export interface StoreClock {
  /** `fn` may return a promise (the automatic compaction does); a fake clock can await it. */
  setTimeout(fn: () => unknown, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Wall-clock milliseconds for TTL expiry. Default Date.now. */
  now?(): number;
}

export interface SqliteStoreOptions {
  /** Automatic compaction period; 0 disables it. Default 5 minutes. */
  compactIntervalMs?: number;
  /** Automatic compaction always keeps at least this many recent revisions. Default 1000. */
  retainRevisions?: number;
  /** Revisions compacted per transaction (each a short stall of the event loop). Default 500. */
  compactBatchRevisions?: number;
  /** 'full' (default): fsync every commit. 'normal': survive process crashes, not power loss. */
  synchronous?: 'full' | 'normal';
  /** With synchronous 'full': checkpoint the WAL after about this many bytes of writes. Default 8 MiB. */
  checkpointBytes?: number;
  /** A watcher with more undelivered events than this is ended with ERR_STORE_COMPACTED. Default 20,000. */
  maxWatchPending?: number;
  /** How long opening waits for another holder of the file to let go. Default 2000 ms. */
  lockTimeoutMs?: number;
  /** Timers for automatic compaction and progress notifications. Default: the global ones. */
  clock?: StoreClock;
  /** Called with errors of the automatic compaction (it retries next interval). Default: a process warning. */
  onError?: (err: unknown) => void;
}

/** Figures about the database file, for tests and metrics. */
export interface SqliteStoreStats {
  revision: number;
  compactedRevision: number;
  /** Rows in the log (history included). */
  rows: number;
  pageSize: number;
  pageCount: number;
  freelistCount: number;
  /** Size of the -wal file in bytes (0 when absent). */
  walBytes: number;
}

/** Published on `bosun.store.compact` after each compaction: `{ from, to, rows, ms }`. */
export const compactChannel = diagnostics.channel('bosun.store.compact');

const realClock: StoreClock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

const CATCHUP_PAGE = 1000;
/** Up to this many revisions behind, an old-revision count is derived from the live count. */
const COUNT_DELTA_MAX = 20_000;
const VACUUM_STEP_PAGES = 512;
/** Checkpoint the WAL after about this many bytes of writes (SQLite's own default is ~4 MB). */
const CHECKPOINT_BYTES = 8 * 1024 * 1024;
/** WAL pages a write takes besides its value (the live row, index entries), for that estimate. */
const PAGES_PER_WRITE = 2;
/** Batches whose WAL sync may run at once (libuv's thread pool has four threads). */
const MAX_SYNCS_IN_FLIGHT = 2;
/** Expired keys deleted per sweep step. */
const SWEEP_BATCH = 500;
const MAX_KEY = '\u{10FFFF}';

/** Opens (creating if needed) the store at `file`. Throws ERR_INVALID_CONFIG if another process holds it. */
export function openSqliteStore(file: string, opts: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(file, opts);
}

type Arr = SQLOutputValue[];

interface Op {
  kind: 'create' | 'update' | 'delete';
  key: string;
  value: Uint8Array | null;
  expected: number | undefined;
  /** create/update: expire the key this many seconds after the write (0: never). */
  ttl: number;
  resolve(v: WriteResult | DeleteResult): void;
  reject(e: unknown): void;
}

/** A committed batch waiting for its WAL sync. */
interface Batch {
  ops: Op[];
  outcomes: Outcome[];
  /** The store's revision once it is durable. */
  head: number;
  synced: boolean;
}

interface Applied {
  result: WriteResult | DeleteResult;
  event: WatchEvent | null;
}

/** A write's outcome in a batch: applied, or failed on its own. */
type Outcome = Applied | { error: unknown };

export class SqliteStore implements Store {
  readonly path: string;
  #db: DatabaseSync;
  #s: ReturnType<typeof prepareAll>;
  #stmts = new Map<string, StatementSync>();
  /** The newest durable revision: what readers and watchers see. */
  #rev = 1;
  /** The newest committed revision (ahead of #rev while the WAL's sync runs). */
  #head = 1;
  /** The WAL, for our own fdatasync (synchronous 'full' on a file); null: SQLite syncs on COMMIT. */
  #walFd: number | null = null;
  /** The database file, for our own fdatasync after a checkpoint (with #walFd). */
  #dbFd: number | null = null;
  /** About how many bytes the WAL took since the last checkpoint (values and their pages). */
  #walGrowth = 0;
  /** Committed batches waiting for their WAL sync, in commit order (at most MAX_SYNCS_IN_FLIGHT). */
  #batches: Batch[] = [];
  /** A checkpoint's database-file sync runs: nothing commits. */
  #checkpointing = false;
  /** The WAL has grown enough: commit nothing more until it is checkpointed. */
  #wantCheckpoint = false;
  /** Readers waiting for a revision to become durable. */
  #revWaiters: { rev: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** Callers waiting for a quiet store (no batch or checkpoint syncing); while any wait, nothing commits. */
  #quietWaiters: (() => void)[] = [];
  /** Why the store failed (a sync error); every later call fails with it. */
  #failed: unknown = null;
  #compacted = 0;
  #closed = false;
  #closing: Promise<void> | null = null;
  #queue: Op[] = [];
  #flushScheduled = false;
  #subs = new Set<Subscription>();
  #compaction: Promise<void> = Promise.resolve();
  #timer: unknown = null;
  #lastTickRev: number;
  /** Whether expiry rows may exist (skips expiry maintenance on the write path when not). */
  #expiring = false;
  #sweepTimer: unknown = null;
  #sweepAt = 0;
  #pendingSweepAt = 0;
  #opts: Required<Omit<SqliteStoreOptions, 'clock' | 'onError'>> & { clock: StoreClock; onError: (err: unknown) => void };

  constructor(file: string, opts: SqliteStoreOptions = {}) {
    this.path = file;
    this.#opts = {
      compactIntervalMs: opts.compactIntervalMs ?? 5 * 60_000,
      retainRevisions: opts.retainRevisions ?? 1000,
      compactBatchRevisions: Math.max(1, opts.compactBatchRevisions ?? 500),
      synchronous: opts.synchronous ?? 'full',
      checkpointBytes: opts.checkpointBytes ?? CHECKPOINT_BYTES,
      maxWatchPending: opts.maxWatchPending ?? 20_000,
      lockTimeoutMs: opts.lockTimeoutMs ?? 2000,
      clock: opts.clock ?? realClock,
      onError: opts.onError ?? ((err) => process.emitWarning(`bosun store: automatic compaction failed: ${String(err)}`)),
    };
    if (file !== ':memory:') {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
      createPrivate(file);
    }
    this.#db = new DatabaseSync(file, { timeout: this.#opts.lockTimeoutMs });
    try {
      this.#init();
      if (file !== ':memory:') for (const side of sideFiles) restrictMode(`${file}${side}`);
      this.#s = prepareAll(this.#db);
    } catch (err) {
      try {
        this.#db.close();
      } catch {}
      if (/locked|busy/i.test(String((err as Error)?.message))) {
        throw new BosunError('ERR_INVALID_CONFIG', `the database ${file} is in use by another process`, { cause: err });
      }
      throw err;
    }
    const meta = this.#meta();
    const maxRow = this.#db.prepare('SELECT max(rev) AS r FROM log').get()!.r as number | null;
    this.#rev = Math.max(meta.get('rev') ?? 1, maxRow ?? 0);
    this.#head = this.#rev;
    if (file !== ':memory:' && this.#opts.synchronous === 'full') this.#openWal(file);
    this.#compacted = meta.get('compacted') ?? 0;
    this.#lastTickRev = this.#rev;
    this.#schedule();
    const firstExpiry = this.#s.expiryNext.get() as unknown as Arr | undefined;
    if (firstExpiry && firstExpiry[0] !== null) {
      this.#expiring = true;
      this.#armSweep(firstExpiry[0] as number);
    }
  }

  #init(): void {
    const db = this.#db;
    // Exclusive locking: no other process may open the file; the WAL index lives in heap memory.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    const hasTables = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()!.n as number) > 0;
    const autoVacuum = db.prepare('PRAGMA auto_vacuum').get()!.auto_vacuum as number;
    if (autoVacuum !== 2) {
      // Must precede the first table; an existing file is converted once by VACUUM.
      db.exec('PRAGMA auto_vacuum = INCREMENTAL');
      if (hasTables) db.exec('VACUUM');
    }
    db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${this.#opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.exec('PRAGMA journal_size_limit = 67108864');
    db.exec('PRAGMA cache_size = -16384');
    db.exec('PRAGMA temp_store = MEMORY');
    db.exec(`
      CREATE TABLE IF NOT EXISTS log (
        rev INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        created INTEGER NOT NULL,
        prev INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        value BLOB
      );
      CREATE UNIQUE INDEX IF NOT EXISTS log_key_prev ON log (key, prev);
      CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);
      CREATE TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY, rev INTEGER NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT OR IGNORE INTO meta (name, value) VALUES ('rev', 1), ('compacted', 0);
      CREATE TABLE IF NOT EXISTS expiry (key TEXT PRIMARY KEY, at INTEGER NOT NULL, rev INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS expiry_at ON expiry (at);
    `);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  }

  /**
   * Takes over the WAL's durability: opens it for fdatasync and lets COMMIT skip its own sync. The
   * WAL stays the same file while the connection is open (exclusive locking mode; checkpoints
   * truncate it in place). Its directory entry is synced once, so the file itself survives a power
   * cut. If the WAL cannot be opened, SQLite keeps syncing on COMMIT.
   */
  #openWal(file: string): void {
    let fd: number;
    let dbFd: number;
    try {
      fd = fs.openSync(`${file}-wal`, 'r+');
    } catch {
      return;
    }
    try {
      dbFd = fs.openSync(file, 'r+');
    } catch {
      fs.closeSync(fd);
      return;
    }
    try {
      fs.fsyncSync(fd);
      const dir = fs.openSync(path.dirname(path.resolve(file)), 'r');
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
      this.#db.exec('PRAGMA synchronous = NORMAL');
      // Checkpoints are ours too (#checkpoint): SQLite's would sync twice inside a COMMIT.
      this.#db.exec('PRAGMA wal_autocheckpoint = 0');
      this.#walFd = fd;
      this.#dbFd = dbFd;
    } catch {
      fs.closeSync(fd);
      fs.closeSync(dbFd);
    }
  }

  #meta(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.#db.prepare('SELECT name, value FROM meta').all()) m.set(r.name as string, r.value as number);
    return m;
  }

  // ---- reads ---------------------------------------------------------------------------------

  async currentRevision(): Promise<number> {
    this.#assertOpen();
    return this.#rev;
  }

  async compactedRevision(): Promise<number> {
    this.#assertOpen();
    return this.#compacted;
  }

  async get(key: string, opts: GetOptions = {}): Promise<KeyValue | null> {
    this.#assertOpen();
    const at = this.#readRevision(opts.revision);
    if (at === 0) {
      const r = this.#s.getLive.get(key) as unknown as Arr | undefined;
      const kv = r ? { key, value: blob(r[2]), createRevision: r[1] as number, modRevision: r[0] as number } : null;
      // The newest version, once durable: a key written by a batch still syncing is answered when
      // that batch settles (a read-modify-write then compares against the newest version instead
      // of retrying on an older one), one deleted by such a batch likewise.
      if (kv && kv.modRevision > this.#rev) await this.#durable(kv.modRevision);
      else if (!kv && this.#busy()) {
        const then = this.#s.getAt.get(key, this.#rev) as unknown as Arr | undefined;
        if (then && !then[2]) await this.#durable(this.#head);
      }
      return kv;
    }
    const r = this.#s.getAt.get(key, at) as unknown as Arr | undefined;
    if (!r || r[2]) return null;
    return { key, value: blob(r[3]), createRevision: r[1] as number, modRevision: r[0] as number };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.#assertOpen();
    let at = this.#readRevision(opts.revision);
    // While batches sync, the live table is ahead of the store's revision: read at it (through
    // the history; lists at the current revision come from the watch cache, this is rare).
    if (at === 0 && this.#busy()) at = this.#rev;
    const revision = at || this.#rev;
    const upper = prefixEnd(prefix);
    const after = opts.after !== undefined && opts.after >= prefix ? opts.after : undefined;
    if (after !== undefined && after >= upper) return { items: [], revision, more: false, count: 0 };
    const lower = after ?? prefix;
    const op = after !== undefined ? '>' : '>=';
    const count = (): number => this.#count(op, lower, upper, at);
    if (opts.countOnly) return { items: [], revision, more: false, count: count() };
    const limit = opts.limit && opts.limit > 0 ? Math.floor(opts.limit) : -1;
    // At an older revision: walk the history index in key order, keeping each key's newest row at
    // `at`; this streams (no sort), so a page costs its own size, not the rest of the range.
    const sql = at
      ? `SELECT l.key, l.created, l.rev, l.value FROM log l
           WHERE l.key ${op} ?1 AND l.key < ?2 AND l.deleted = 0
             AND l.rev = (SELECT max(x.rev) FROM log x WHERE x.key = l.key AND x.rev <= ?3)
           ORDER BY l.key LIMIT ?4`
      : `SELECT c.key, c.created, c.rev, l.value FROM live c JOIN log l ON l.rev = c.rev
           WHERE c.key ${op} ?1 AND c.key < ?2 ORDER BY c.key LIMIT ?3`;
    const rows = (at ? this.#stmt(sql).all(lower, upper, at, limit) : this.#stmt(sql).all(lower, upper, limit)) as unknown as Arr[];
    const items: KeyValue[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      items[i] = { key: r[0] as string, value: blob(r[3]), createRevision: r[1] as number, modRevision: r[2] as number };
    }
    const n = limit > 0 && items.length === limit ? count() : items.length;
    return { items, revision, more: n > items.length, count: n };
  }

  /**
   * Keys in the range at `at` (0: now). For a recent `at`, the live count corrected by the keys
   * changed since (cheap: only the newer log rows are read); otherwise a count over the history.
   */
  #count(op: '>' | '>=', lower: string, upper: string, at: number): number {
    const live = (this.#stmt(`SELECT count(*) FROM live WHERE key ${op} ?1 AND key < ?2`).get(lower, upper) as unknown as Arr)[0] as number;
    if (!at) return live;
    if (this.#rev - at > COUNT_DELTA_MAX) {
      const sql = `SELECT count(*) FROM (SELECT max(rev) AS r FROM log WHERE key ${op} ?1 AND key < ?2 AND rev <= ?3 GROUP BY key) m
                   JOIN log l ON l.rev = m.r WHERE l.deleted = 0`;
      return (this.#stmt(sql).get(lower, upper, at) as unknown as Arr)[0] as number;
    }
    const changed = this.#stmt(`SELECT DISTINCT key FROM log WHERE rev > ?1 AND +key ${op} ?2 AND +key < ?3`).all(at, lower, upper) as unknown as Arr[];
    let n = live;
    for (const [key] of changed) {
      const then = this.#s.getAt.get(key as string, at) as unknown as Arr | undefined;
      if (then && !then[2]) n++;
      if (this.#s.liveGet.get(key as string)) n--;
    }
    return n;
  }

  /** Validates a read revision; answers 0 for "current". */
  #readRevision(rev: number | undefined): number {
    if (!rev || rev === this.#rev) return 0;
    if (rev > this.#rev) throw new BosunError('ERR_STORE_FUTURE_REVISION', `revision ${rev} is newer than the store (${this.#rev})`);
    if (rev < this.#compacted) throw compactedError(rev, this.#compacted);
    return rev;
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      s.setReturnArrays(true);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  // ---- writes --------------------------------------------------------------------------------

  create(key: string, value: Uint8Array, opts?: WriteOptions): Promise<WriteResult> {
    return this.#enqueue('create', key, value, undefined, opts?.ttlSeconds) as Promise<WriteResult>;
  }

  update(key: string, value: Uint8Array, expectedModRevision: number, opts?: WriteOptions): Promise<WriteResult> {
    return this.#enqueue('update', key, value, expectedModRevision, opts?.ttlSeconds) as Promise<WriteResult>;
  }

  delete(key: string, expectedModRevision?: number): Promise<DeleteResult> {
    return this.#enqueue('delete', key, null, expectedModRevision) as Promise<DeleteResult>;
  }

  #enqueue(kind: Op['kind'], key: string, value: Uint8Array | null, expected: number | undefined, ttlSeconds?: number): Promise<WriteResult | DeleteResult> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (typeof key !== 'string' || key === '') return Promise.reject(new TypeError('a store key must be a non-empty string'));
    if (value !== null && !(value instanceof Uint8Array)) return Promise.reject(new TypeError('a store value must be a Uint8Array'));
    const { promise, resolve, reject } = Promise.withResolvers<WriteResult | DeleteResult>();
    const ttl = ttlSeconds && ttlSeconds > 0 ? ttlSeconds : 0;
    this.#queue.push({ kind, key, value, expected, ttl, resolve, reject });
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    return promise;
  }

  /**
   * Commits every queued write in one transaction and starts the WAL's sync in the thread pool;
   * once it ends, the batch becomes visible (the store's revision, watch events) and its promises
   * settle. Syncs overlap (up to MAX_SYNCS_IN_FLIGHT batches): a sync makes every batch committed
   * before it durable too, and batches settle in commit order. Nothing commits while a checkpoint
   * is due or runs, or while someone waits for a quiet store.
   */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#checkpointing || this.#wantCheckpoint || this.#quietWaiters.length > 0 || this.#batches.length >= MAX_SYNCS_IN_FLIGHT) return;
    const ops = this.#queue;
    if (ops.length === 0) return;
    this.#queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.#commit(ops);
    } catch (err) {
      // One bad write must not fail its neighbours: each alone, in a transaction of its own.
      outcomes =
        ops.length === 1
          ? [{ error: err }]
          : ops.map((op) => {
              try {
                return this.#commit([op])[0]!;
              } catch (e) {
                return { error: e };
              }
            });
    }
    const fd = this.#walFd;
    if (fd === null || (this.#head === this.#rev && this.#batches.length === 0)) {
      this.#settle(ops, outcomes, this.#head);
      return;
    }
    for (const op of ops) this.#walGrowth += (op.value?.length ?? 0) + PAGES_PER_WRITE * 4096;
    const batch: Batch = { ops, outcomes, head: this.#head, synced: false };
    this.#batches.push(batch);
    fs.fdatasync(fd, (err) => this.#batchSynced(batch, err));
  }

  /** True while the live table may be ahead of the store's revision, or a checkpoint syncs. */
  #busy(): boolean {
    return this.#batches.length > 0 || this.#checkpointing;
  }

  #batchSynced(batch: Batch, err: Error | null): void {
    if (this.#failed) return;
    if (err) return this.#fail(err);
    batch.synced = true;
    let last = -1;
    for (let i = 0; i < this.#batches.length; i++) if (this.#batches[i]!.synced) last = i;
    for (const b of this.#batches.splice(0, last + 1)) this.#settle(b.ops, b.outcomes, b.head);
    if (this.#walGrowth >= this.#opts.checkpointBytes && !this.#closed) this.#wantCheckpoint = true;
    this.#afterSync();
  }

  /** A sync ended: checkpoint when due and quiet, wake those waiting for quiet, go on with the queue. */
  #afterSync(): void {
    if (this.#busy()) {
      this.#scheduleFlush();
      return;
    }
    if (this.#wantCheckpoint && !this.#closed) return this.#checkpoint();
    this.#wantCheckpoint = false;
    const waiters = this.#quietWaiters;
    this.#quietWaiters = [];
    for (const w of waiters) w();
    // After the waiters' steps (they run as microtasks first).
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#queue.length > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /**
   * Copies the WAL into the database file, as SQLite's checkpoint does, with its two syncs kept off
   * the event loop. Runs when every batch's sync has ended, so every frame in the WAL is on disk
   * (nothing commits while a sync runs or a checkpoint is due: writes queue, maintenance waits);
   * the copy itself skips SQLite's syncs, and the database file's fdatasync runs in the thread
   * pool while nothing commits, so no write can restart the WAL over frames whose pages are not
   * yet durable in the database file.
   */
  #checkpoint(): void {
    this.#walGrowth = 0;
    this.#wantCheckpoint = false;
    try {
      this.#db.exec('PRAGMA synchronous = OFF');
      try {
        this.#db.exec('PRAGMA wal_checkpoint(PASSIVE)');
      } finally {
        this.#db.exec('PRAGMA synchronous = NORMAL');
      }
    } catch (err) {
      return this.#fail(err);
    }
    this.#checkpointing = true;
    fs.fdatasync(this.#dbFd!, (err) => {
      this.#checkpointing = false;
      if (this.#failed) return;
      if (err) return this.#fail(err);
      this.#afterSync();
    });
  }

  /** Makes a durable batch visible: the revision, then watch events, then the writers' promises. */
  #settle(ops: Op[], outcomes: Outcome[], head: number): void {
    this.#rev = head;
    if (this.#revWaiters.length > 0) {
      const ready = this.#revWaiters.filter((w) => w.rev <= head);
      if (ready.length > 0) {
        this.#revWaiters = this.#revWaiters.filter((w) => w.rev > head);
        for (const w of ready) w.resolve();
      }
    }
    if (this.#subs.size > 0) {
      const events: WatchEvent[] = [];
      for (const o of outcomes) if (!('error' in o) && o.event) events.push(o.event);
      if (events.length > 0) for (const sub of this.#subs) sub.push(events);
    }
    if (this.#pendingSweepAt) {
      this.#armSweep(this.#pendingSweepAt);
      this.#pendingSweepAt = 0;
    }
    for (let i = 0; i < ops.length; i++) {
      const o = outcomes[i]!;
      if ('error' in o) ops[i]!.reject(o.error);
      else ops[i]!.resolve(o.result);
    }
  }

  /**
   * The WAL could not be synced: whether the batch is on disk is unknown, and SQLite already shows
   * it, so nothing may be answered from this file any more (as databases do after a failed fsync).
   * The batch and the queue fail, the store closes, and the error is reported.
   */
  #fail(err: unknown): void {
    this.#failed = err;
    const error = this.#closedError();
    for (const w of this.#revWaiters.splice(0)) w.reject(error);
    for (const b of this.#batches.splice(0)) for (const op of b.ops) op.reject(error);
    for (const op of this.#queue.splice(0)) op.reject(error);
    this.#opts.onError(error);
    void this.close();
    const waiters = this.#quietWaiters;
    this.#quietWaiters = [];
    for (const w of waiters) w();
  }

  #closedError(): BosunError {
    return this.#failed
      ? new BosunError('ERR_STORE_CLOSED', `the store is closed: syncing its log failed: ${String((this.#failed as Error)?.message ?? this.#failed)}`, { cause: this.#failed })
      : new BosunError('ERR_STORE_CLOSED');
  }

  /**
   * Resolves when no batch or checkpoint is syncing (at once if none is); until then nothing new
   * commits, so it comes under any load. The caller's synchronous step right after it runs before
   * the next commit.
   */
  #quiet(): Promise<void> {
    if (!this.#busy() || this.#failed) return Promise.resolve();
    return new Promise((r) => this.#quietWaiters.push(r));
  }

  /** Resolves when `rev` is durable (the store's revision reaches it). */
  #durable(rev: number): Promise<void> {
    if (rev <= this.#rev) return Promise.resolve();
    if (this.#failed) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#revWaiters.push({ rev, resolve, reject }));
  }

  /** Commits and syncs everything queued (snapshot, close). */
  async #drain(): Promise<void> {
    while ((this.#queue.length > 0 || this.#busy()) && !this.#failed) {
      await this.#quiet();
      this.#flush();
    }
  }

  #commit(ops: Op[]): Applied[] {
    const s = this.#s;
    const start = this.#head;
    let next = start;
    const out: Applied[] = new Array(ops.length);
    s.begin.run();
    try {
      for (let i = 0; i < ops.length; i++) {
        const a = this.#apply(ops[i]!, next + 1);
        if (a.event) next++;
        out[i] = a;
      }
      s.commit.run();
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
    this.#head = next;
    return out;
  }

  #apply(op: Op, rev: number): Applied {
    const s = this.#s;
    const key = op.key;
    const cur = s.liveGet.get(key) as unknown as Arr | undefined; // [rev, created]
    if (op.kind === 'create') {
      if (cur) return { result: { ok: false, current: this.#kvAt(key, cur[0] as number, cur[1] as number) }, event: null };
      const last = s.lastRow.get(key) as unknown as Arr | undefined;
      s.insertLog.run(rev, key, rev, last ? (last[0] as number) : 0, 0, op.value);
      s.liveInsert.run(key, rev, rev);
      if (op.ttl) this.#setExpiry(key, op.ttl, rev);
      else if (this.#expiring) s.expiryDelete.run(key);
      const kv: KeyValue = { key, value: op.value!, createRevision: rev, modRevision: rev };
      return { result: { ok: true, kv }, event: { type: 'put', kv } };
    }
    if (!cur) {
      const result = op.kind === 'update' ? { ok: false as const, current: null } : { ok: false, current: null, revision: 0 };
      return { result, event: null };
    }
    const curRev = cur[0] as number;
    const created = cur[1] as number;
    if (op.kind === 'update') {
      if (curRev !== op.expected) return { result: { ok: false, current: this.#kvAt(key, curRev, created) }, event: null };
      s.insertLog.run(rev, key, created, curRev, 0, op.value);
      s.liveUpdate.run(rev, key);
      if (op.ttl) this.#setExpiry(key, op.ttl, rev);
      else if (this.#expiring) s.expiryDelete.run(key);
      const kv: KeyValue = { key, value: op.value!, createRevision: created, modRevision: rev };
      const event: WatchEvent = { type: 'put', kv };
      if (this.#watched(key)) event.prevKv = this.#kvAt(key, curRev, created);
      return { result: { ok: true, kv }, event };
    }
    const prevKv = this.#kvAt(key, curRev, created);
    if (op.expected !== undefined && curRev !== op.expected) return { result: { ok: false, current: prevKv, revision: 0 }, event: null };
    s.insertLog.run(rev, key, created, curRev, 1, null);
    s.liveDelete.run(key);
    if (this.#expiring) s.expiryDelete.run(key);
    const event: WatchEvent = { type: 'delete', kv: { key, value: prevKv.value, createRevision: created, modRevision: rev }, prevKv };
    return { result: { ok: true, current: prevKv, revision: rev }, event };
  }

  /** Records the key's expiry and makes sure the sweeper wakes by then. */
  #setExpiry(key: string, ttlSeconds: number, rev: number): void {
    const at = this.#now() + Math.round(ttlSeconds * 1000);
    this.#s.expiryUpsert.run(key, at, rev);
    this.#expiring = true;
    if (this.#sweepAt === 0 || at < this.#sweepAt) this.#pendingSweepAt = Math.min(this.#pendingSweepAt || at, at);
  }

  #now(): number {
    return this.#opts.clock.now ? this.#opts.clock.now() : Date.now();
  }

  /** Arms the sweeper for the earliest expiry (after a commit that added expiries, and after each sweep). */
  #armSweep(at: number): void {
    if (this.#closed || at <= 0) return;
    if (this.#sweepTimer !== null) {
      if (this.#sweepAt <= at) return;
      this.#opts.clock.clearTimeout(this.#sweepTimer);
    }
    this.#sweepAt = at;
    const h = this.#opts.clock.setTimeout(() => this.sweepExpired(), Math.max(0, at - this.#now()));
    (h as { unref?: () => void } | null)?.unref?.();
    this.#sweepTimer = h;
  }

  /**
   * Deletes every key whose expiry has passed (compare-and-swap deletes through the write path,
   * so watchers see delete events), then re-arms the timer for the next expiry. Answers how many
   * keys it deleted. The timer calls it; tests with a fake clock may call it directly.
   */
  async sweepExpired(): Promise<number> {
    if (this.#sweepTimer !== null) this.#opts.clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = null;
    this.#sweepAt = 0;
    if (this.#closed) return 0;
    let deleted = 0;
    for (;;) {
      const due = this.#s.expiryDue.all(this.#now(), SWEEP_BATCH) as unknown as Arr[];
      if (due.length === 0) break;
      const results = await Promise.all(due.map((r) => this.delete(r[0] as string, r[1] as number).catch(() => null)));
      for (let i = 0; i < due.length; i++) {
        if (results[i]?.ok) deleted++;
        // A key that changed or vanished meanwhile: its row, if still this version's, is stale.
        else this.#s.expiryDeleteAt.run(due[i]![0] as string, due[i]![1] as number);
      }
      if (this.#closed || due.length < SWEEP_BATCH) break;
    }
    if (this.#closed) return deleted;
    const next = this.#s.expiryNext.get() as unknown as Arr | undefined;
    if (next && next[0] !== null) this.#armSweep(next[0] as number);
    else this.#expiring = false;
    return deleted;
  }

  #kvAt(key: string, rev: number, created: number): KeyValue {
    const r = this.#s.valueAt.get(rev) as unknown as Arr | undefined;
    return { key, value: blob(r?.[0]), createRevision: created, modRevision: rev };
  }

  #watched(key: string): boolean {
    for (const sub of this.#subs) if (key.startsWith(sub.prefix)) return true;
    return false;
  }

  // ---- watch ---------------------------------------------------------------------------------

  watch(prefix: string, fromRevision: number, opts: WatchOptions = {}): AsyncIterable<WatchBatch> {
    return this.#watch(prefix, fromRevision, opts);
  }

  async *#watch(prefix: string, from: number, opts: WatchOptions): AsyncGenerator<WatchBatch> {
    const signal = opts.signal;
    if (signal?.aborted) return;
    this.#assertOpen();
    if (from < this.#compacted) throw compactedError(from, this.#compacted);
    // Subscribe first (synchronously with reading the revision), then catch up to it from the log.
    const target = this.#rev;
    const sub = new Subscription(prefix, Math.max(from, target), this.#opts.maxWatchPending);
    this.#subs.add(sub);
    const onAbort = (): void => sub.end();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.progress) opts.progress.request = () => sub.requestProgress();
    try {
      const upper = prefixEnd(prefix);
      let pos = from;
      while (pos < target) {
        if (sub.ended || this.#closed) return;
        if (this.#compacted > pos) throw compactedError(pos, this.#compacted);
        const rows = this.#s.catchUp.all(pos, target, prefix, upper, CATCHUP_PAGE) as unknown as Arr[];
        if (rows.length === 0) break;
        const events = rows.map(rowEvent);
        pos = rows.length < CATCHUP_PAGE ? target : (rows[rows.length - 1]![0] as number);
        yield { events, revision: pos };
      }
      for (;;) {
        const batch = await sub.next(opts.progressIntervalMs ?? 0, this.#opts.clock, () => this.#rev);
        if (!batch) return;
        yield batch;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#subs.delete(sub);
    }
  }

  // ---- compaction ----------------------------------------------------------------------------

  /**
   * Drops history older than `revision` (reads at `revision` and later keep working), then returns
   * free pages to the file system and truncates the WAL. Idempotent; compactions run one at a time.
   */
  compact(revision: number): Promise<void> {
    if (this.#closed) return Promise.reject(new BosunError('ERR_STORE_CLOSED'));
    if (revision > this.#rev) {
      return Promise.reject(new BosunError('ERR_STORE_FUTURE_REVISION', `cannot compact to ${revision}: the store is at ${this.#rev}`));
    }
    const run = this.#compaction.then(() => this.#compactTo(revision));
    this.#compaction = run.catch(() => {});
    return run;
  }

  /**
   * One automatic compaction step, as the timer runs it: compacts to the revision current at the
   * previous step (but keeps at least `retainRevisions`), then reclaims space. Answers the
   * compacted revision.
   */
  async runCompaction(): Promise<number> {
    this.#assertOpen();
    const current = this.#rev;
    const target = Math.min(this.#lastTickRev, current - this.#opts.retainRevisions);
    this.#lastTickRev = current;
    if (target > this.#compacted) await this.compact(target);
    else {
      const run = this.#compaction.then(() => this.#reclaim());
      this.#compaction = run.catch(() => {});
      await run;
    }
    return this.#compacted;
  }

  async #compactTo(target: number): Promise<void> {
    if (this.#closed || target <= this.#compacted) return;
    const t0 = performance.now();
    const from = this.#compacted;
    let rows = 0;
    const s = this.#s;
    while (this.#compacted < target && !this.#closed) {
      // Maintenance commits never overlap a sync (see #checkpoint).
      await this.#quiet();
      if (this.#closed) break;
      const lo = this.#compacted;
      const hi = Math.min(target, lo + this.#opts.compactBatchRevisions);
      this.#relaxed(() => {
        s.begin.run();
        try {
          rows += Number(s.compactBatch.run(lo, hi).changes);
          s.setMeta.run('compacted', hi);
          s.setMeta.run('rev', this.#rev);
          s.commit.run();
        } catch (err) {
          if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
          throw err;
        }
      });
      this.#compacted = hi;
      await yieldToLoop();
    }
    await this.#reclaim();
    if (compactChannel.hasSubscribers) compactChannel.publish({ from, to: this.#compacted, rows, ms: performance.now() - t0 });
  }

  /** Returns free pages to the file system in small steps, then truncates the WAL. */
  async #reclaim(): Promise<void> {
    let free = this.#freelist();
    while (free > 0 && !this.#closed) {
      await this.#quiet();
      if (this.#closed) break;
      this.#relaxed(() => this.#db.exec(`PRAGMA incremental_vacuum(${VACUUM_STEP_PAGES})`));
      const now = this.#freelist();
      if (now >= free) break;
      free = now;
      await yieldToLoop();
    }
    await this.#quiet();
    if (!this.#closed) {
      this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      this.#walGrowth = 0;
    }
  }

  /**
   * Runs maintenance without an fsync per commit: losing it to a power cut loses nothing (it is
   * redone), and the next acknowledged write's fsync makes it durable anyway (the WAL is ordered).
   * Only SQLite's own FULL mode (the fallback when the WAL cannot be opened for our own sync)
   * syncs on COMMIT; with our WAL sync, or 'normal', COMMIT never syncs and this just runs `fn`.
   */
  #relaxed(fn: () => void): void {
    if (this.#opts.synchronous === 'normal' || this.#walFd !== null) return fn();
    this.#db.exec('PRAGMA synchronous = NORMAL');
    try {
      fn();
    } finally {
      this.#db.exec('PRAGMA synchronous = FULL');
    }
  }

  #freelist(): number {
    return this.#db.prepare('PRAGMA freelist_count').get()!.freelist_count as number;
  }

  #schedule(): void {
    if (this.#opts.compactIntervalMs <= 0 || this.#closed) return;
    const h = this.#opts.clock.setTimeout(() => this.#tick(), this.#opts.compactIntervalMs);
    (h as { unref?: () => void } | null)?.unref?.();
    this.#timer = h;
  }

  async #tick(): Promise<void> {
    this.#timer = null;
    if (this.#closed) return;
    try {
      await this.runCompaction();
    } catch (err) {
      if (!this.#closed) this.#opts.onError(err);
    }
    this.#schedule();
  }

  /**
   * Writes a consistent copy of the database to `file` (`VACUUM INTO` a temporary name, then a
   * rename): committed writes only, compacted history left out; it opens as a store. Runs on the
   * store's connection (the file is locked exclusively), so it stalls the event loop for its duration.
   */
  async snapshot(file: string): Promise<{ size: number; revision: number }> {
    this.#assertOpen();
    await this.#drain();
    this.#assertOpen();
    const target = path.resolve(file);
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.part-${process.pid}`);
    fs.rmSync(tmp, { force: true });
    const revision = this.#rev;
    try {
      this.#db.prepare('VACUUM INTO ?').run(tmp);
      fs.chmodSync(tmp, databaseFileMode);
      fs.renameSync(tmp, target);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    return { size: fs.statSync(target).size, revision };
  }

  /** Figures about the file (runs a few PRAGMAs and a row count: not for hot paths). */
  stats(): SqliteStoreStats {
    this.#assertOpen();
    const db = this.#db;
    let walBytes = 0;
    try {
      walBytes = fs.statSync(`${this.path}-wal`).size;
    } catch {}
    return {
      revision: this.#rev,
      compactedRevision: this.#compacted,
      rows: db.prepare('SELECT count(*) AS n FROM log').get()!.n as number,
      pageSize: db.prepare('PRAGMA page_size').get()!.page_size as number,
      pageCount: db.prepare('PRAGMA page_count').get()!.page_count as number,
      freelistCount: this.#freelist(),
      walBytes,
    };
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Commits queued writes, stops timers and compaction, ends watches (they finish normally), closes the file. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await this.#drain();
    if (this.#timer !== null) this.#opts.clock.clearTimeout(this.#timer);
    if (this.#sweepTimer !== null) this.#opts.clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = null;
    this.#timer = null;
    for (const sub of this.#subs) sub.end();
    this.#subs.clear();
    await this.#compaction;
    if (!this.#failed) {
      try {
        this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } catch {}
    }
    this.#db.close();
    if (this.#walFd !== null) fs.closeSync(this.#walFd);
    if (this.#dbFd !== null) fs.closeSync(this.#dbFd);
    this.#walFd = this.#dbFd = null;
  }

  #assertOpen(): void {
    if (this.#closed) throw this.#closedError();
  }
}

/** The per-watcher buffer of live events: filled synchronously on commit, drained by the iterator. */
class Subscription {
  readonly prefix: string;
  /** Only events with a revision above this are delivered. */
  readonly #after: number;
  readonly #max: number;
  #events: WatchEvent[] = [];
  #wake: (() => void) | null = null;
  #ended = false;
  #error: unknown = null;

  constructor(prefix: string, after: number, max: number) {
    this.prefix = prefix;
    this.#after = after;
    this.#max = max;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(events: readonly WatchEvent[]): void {
    if (this.#ended) return;
    let added = false;
    for (const e of events) {
      if (e.kv.modRevision > this.#after && e.kv.key.startsWith(this.prefix)) {
        this.#events.push(e);
        added = true;
      }
    }
    if (!added) return;
    if (this.#events.length > this.#max) {
      this.end(new BosunError('ERR_STORE_COMPACTED', `the watch on ${this.prefix} fell more than ${this.#max} events behind; re-list`));
      return;
    }
    this.#wake?.();
  }

  #progressWanted = false;

  /** Asks for a progress batch (the current revision) as soon as no events are pending. */
  requestProgress(): void {
    this.#progressWanted = true;
    this.#wake?.();
  }

  /** Ends the watch: the iterator finishes, or throws `err`. Undelivered events are dropped. */
  end(err?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err ?? null;
    this.#events = [];
    this.#wake?.();
  }

  /**
   * The next batch, or an empty one after `progressMs` idle; null once ended. A batch carries the
   * store's current revision: commits are pushed synchronously, so every matching event up to it
   * is in the batch or was delivered before.
   */
  async next(progressMs: number, clock: StoreClock, currentRev: () => number): Promise<WatchBatch | null> {
    for (;;) {
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return null;
      }
      if (this.#events.length) {
        const batch = { events: this.#events, revision: currentRev() };
        this.#events = [];
        return batch;
      }
      let timer: unknown = null;
      const idle = this.#progressWanted || await new Promise<boolean>((resolve) => {
        this.#wake = () => resolve(this.#progressWanted);
        if (progressMs > 0) timer = clock.setTimeout(() => resolve(true), progressMs);
      });
      this.#wake = null;
      this.#progressWanted = false;
      if (timer !== null) clock.clearTimeout(timer);
      if (idle && !this.#ended && this.#events.length === 0) {
        const rev = currentRev();
        if (rev >= this.#after) return { events: [], revision: rev };
      }
    }
  }
}

/** Mode of the database file and its side files: they hold every Secret (upstream etcd: 0600 in a 0700 dir). */
export const databaseFileMode = 0o600;

/** The files SQLite keeps beside the database (it creates them with the database file's mode). */
const sideFiles = ['-wal', '-shm', '-journal'] as const;

/**
 * Creates the database file (or opens an existing one) and sets its mode to 0600 with fchmod,
 * so the umask does not matter; SQLite then creates the WAL with the same mode.
 */
function createPrivate(file: string): void {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, databaseFileMode);
  try {
    fs.fchmodSync(fd, databaseFileMode);
  } finally {
    fs.closeSync(fd);
  }
}

/** Sets a side file's mode to 0600 when it exists. */
function restrictMode(file: string): void {
  try {
    fs.chmodSync(file, databaseFileMode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function prepareAll(db: DatabaseSync) {
  const p = (sql: string): StatementSync => {
    const s = db.prepare(sql);
    s.setReturnArrays(true);
    return s;
  };
  return {
    begin: p('BEGIN'),
    commit: p('COMMIT'),
    liveGet: p('SELECT rev, created FROM live WHERE key = ?'),
    getLive: p('SELECT c.rev, c.created, l.value FROM live c JOIN log l ON l.rev = c.rev WHERE c.key = ?'),
    getAt: p('SELECT rev, created, deleted, value FROM log WHERE key = ? AND rev <= ? ORDER BY rev DESC LIMIT 1'),
    lastRow: p('SELECT rev FROM log WHERE key = ? ORDER BY rev DESC LIMIT 1'),
    valueAt: p('SELECT value FROM log WHERE rev = ?'),
    insertLog: p('INSERT INTO log (rev, key, created, prev, deleted, value) VALUES (?, ?, ?, ?, ?, ?)'),
    liveInsert: p('INSERT INTO live (key, rev, created) VALUES (?, ?, ?)'),
    liveUpdate: p('UPDATE live SET rev = ? WHERE key = ?'),
    liveDelete: p('DELETE FROM live WHERE key = ?'),
    // Rows of (from, to] under [lo, hi), with the previous row for prevKv; `+` keeps the scan on rev order.
    catchUp: p(`SELECT l.rev, l.key, l.created, l.deleted, l.value, p.rev, p.created, p.deleted, p.value
                FROM log l LEFT JOIN log p ON p.rev = l.prev
                WHERE l.rev > ?1 AND l.rev <= ?2 AND +l.key >= ?3 AND +l.key < ?4 ORDER BY l.rev LIMIT ?5`),
    // Superseded rows (the predecessor of every row in the batch) and the batch's tombstones.
    compactBatch: p(`DELETE FROM log WHERE rev IN (
                       SELECT prev FROM log WHERE rev > ?1 AND rev <= ?2 AND prev > 0
                       UNION ALL SELECT rev FROM log WHERE rev > ?1 AND rev <= ?2 AND deleted = 1)`),
    expiryUpsert: p('INSERT INTO expiry (key, at, rev) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET at = excluded.at, rev = excluded.rev'),
    expiryDelete: p('DELETE FROM expiry WHERE key = ?'),
    expiryDeleteAt: p('DELETE FROM expiry WHERE key = ? AND rev = ?'),
    expiryDue: p('SELECT key, rev FROM expiry WHERE at <= ? ORDER BY at LIMIT ?'),
    expiryNext: p('SELECT min(at) FROM expiry'),
    setMeta: p('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
  };
}

/** A catch-up row → event. */
function rowEvent(r: Arr): WatchEvent {
  const key = r[1] as string;
  const rev = r[0] as number;
  const created = r[2] as number;
  const prevKv: KeyValue | undefined =
    r[5] !== null && !r[7] ? { key, value: blob(r[8]), createRevision: r[6] as number, modRevision: r[5] as number } : undefined;
  if (r[3]) {
    const kv: KeyValue = { key, value: prevKv?.value ?? new Uint8Array(0), createRevision: created, modRevision: rev };
    return prevKv ? { type: 'delete', kv, prevKv } : { type: 'delete', kv };
  }
  const kv: KeyValue = { key, value: blob(r[4]), createRevision: created, modRevision: rev };
  return prevKv && prevKv.createRevision === created ? { type: 'put', kv, prevKv } : { type: 'put', kv };
}

function blob(v: SQLOutputValue | undefined): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

/** The smallest string greater than every string starting with `prefix` (MAX_KEY for ''). */
function prefixEnd(prefix: string): string {
  let p = prefix;
  while (p.length && p.charCodeAt(p.length - 1) === 0xffff) p = p.slice(0, -1);
  if (!p) return MAX_KEY;
  return p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1);
}

function compactedError(rev: number, compacted: number): BosunError {
  return new BosunError('ERR_STORE_COMPACTED', `revision ${rev} has been compacted (oldest readable: ${compacted})`);
}

function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

