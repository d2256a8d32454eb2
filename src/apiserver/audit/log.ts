/**
 * The audit log file backend (upstream plugin/pkg/audit/log over lumberjack, --audit-log-path,
 * --audit-log-maxsize, --audit-log-maxbackup, --audit-log-maxage): one line per event appended to
 * the file, rotated by size as lumberjack does — a write that would take the file past maxsize
 * MB (default 100) first renames it to `<name>-<UTC 2006-01-02T15-04-05.000><ext>` (e.g.
 * `audit-2026-12-05T10-00-00.000.log`) and starts a new file (mode 0600, or the old file's);
 * then backups beyond maxbackup (0: keep all) and older than maxage days by the time in their
 * name (0: no limit) are removed. A line longer than maxsize is not written (lumberjack's error).
 * Path `-` writes to standard output without rotation.
 *
 * Buffering (where Bosun departs from upstream's default `blocking` mode, which makes the request
 * wait for the write): `write` only queues the line and returns at once; one writer drains the
 * queue in batches with async file I/O, so a slow disk never holds a request. The queue is
 * bounded by events (default 10000, upstream's audit batch buffer size) and by characters
 * (default 64 Mi); a line that does not fit is dropped and counted, as upstream's `batch` mode
 * drops when its buffer is full. A batch being written is no longer in the queue, so at most
 * twice the bound is held. Write errors drop the batch's lines (counted, reported to `onError`)
 * and the file is reopened for the next batch. `close` writes out what is queued.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** lumberjack's unit and default for MaxSize. */
export const megabyte = 1024 * 1024;
export const defaultMaxSizeMb = 100;
/** Events queued before new ones are dropped (upstream defaultBatchBufferSize). */
export const defaultBufferSize = 10000;
/** Characters queued before new lines are dropped (Bosun's bound: RequestResponse events can be large). */
export const defaultMaxBufferedChars = 64 * megabyte;

export interface AuditLogOptions {
  /** The file; `-` is standard output. */
  path: string;
  /** Rotate before the file would pass this many megabytes; 0 or absent: 100. Fractions allowed (tests). */
  maxSizeMb?: number;
  /** Rotated files kept; 0 or absent: all. */
  maxBackups?: number;
  /** Days a rotated file is kept, by the time in its name; 0 or absent: no limit. */
  maxAgeDays?: number;
  /** Queue bound in lines; default `defaultBufferSize`. */
  bufferSize?: number;
  /** Queue bound in characters; default `defaultMaxBufferedChars`. */
  maxBufferedChars?: number;
  /** Epoch milliseconds, for backup names and maxage; default Date.now. */
  clock?: () => number;
  /** Told of every write, rotation or cleanup failure. */
  onError?: (err: Error) => void;
  /** Where `-` writes; default process.stdout. */
  stdout?: { write(chunk: string): unknown };
}

export interface AuditLogStats {
  /** Lines written to the file. */
  written: number;
  /** Lines refused because the queue was full or the writer closed. */
  dropped: number;
  /** Lines lost to write errors (including lines longer than maxsize). */
  failed: number;
  /** Lines queued now. */
  queued: number;
  /** Rotations done. */
  rotations: number;
}

/** Upstream's option checks (AuditLogOptions.Validate), as messages; empty when valid. */
export function validateAuditLogOptions(o: { maxAgeDays?: number; maxBackups?: number; maxSizeMb?: number }): string[] {
  const errs: string[] = [];
  if ((o.maxAgeDays ?? 0) < 0) errs.push(`--audit-log-maxage ${o.maxAgeDays} can't be a negative number`);
  if ((o.maxBackups ?? 0) < 0) errs.push(`--audit-log-maxbackup ${o.maxBackups} can't be a negative number`);
  if ((o.maxSizeMb ?? 0) < 0) errs.push(`--audit-log-maxsize ${o.maxSizeMb} can't be a negative number`);
  return errs;
}

/** lumberjack's backup time layout, 2006-01-02T15-04-05.000, in UTC. */
export function backupTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23).replace(/:/g, '-');
}

function parseBackupTimestamp(ts: string): number | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})$/.exec(ts);
  if (!m) return null;
  const t = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`);
  return Number.isNaN(t) ? null : t;
}

const dayMs = 24 * 60 * 60 * 1000;

/** A size-rotated, buffered JSON-lines (or legacy-lines) file. One instance per file. */
export class AuditLogWriter {
  readonly path: string;
  readonly maxBytes: number;
  #opts: AuditLogOptions;
  #clock: () => number;
  #bufferSize: number;
  #maxChars: number;
  #queue: string[] = [];
  #queuedChars = 0;
  #pump: Promise<void> | null = null;
  #closed = false;
  #fh: fs.FileHandle | null = null;
  #size = 0;
  #stats: AuditLogStats = { written: 0, dropped: 0, failed: 0, queued: 0, rotations: 0 };
  #dir: string;
  #prefix: string;
  #ext: string;

  constructor(opts: AuditLogOptions) {
    this.#opts = opts;
    this.path = opts.path;
    this.maxBytes = Math.max(1, Math.floor((opts.maxSizeMb || defaultMaxSizeMb) * megabyte));
    this.#clock = opts.clock ?? Date.now;
    this.#bufferSize = opts.bufferSize ?? defaultBufferSize;
    this.#maxChars = opts.maxBufferedChars ?? defaultMaxBufferedChars;
    this.#dir = path.dirname(opts.path);
    this.#ext = path.extname(opts.path);
    this.#prefix = path.basename(opts.path, this.#ext) + '-';
  }

  get stats(): AuditLogStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  /**
   * Queues one line (without its newline). Never waits; returns false, counting a drop, when the
   * queue is full or the writer is closed. Lines are written in the order they were queued.
   */
  write(line: string): boolean {
    const chars = line.length + 1;
    if (this.#closed || this.#queue.length >= this.#bufferSize || this.#queuedChars + chars > this.#maxChars) {
      this.#stats.dropped++;
      return false;
    }
    this.#queue.push(line + '\n');
    this.#queuedChars += chars;
    this.#pump ??= this.#drain();
    return true;
  }

  /** Resolves once every line queued before the call is written (or has failed). */
  async flush(): Promise<void> {
    while (this.#pump) await this.#pump;
  }

  /** Stops accepting lines, writes out the queue and closes the file. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    const fh = this.#fh;
    this.#fh = null;
    await fh?.close().catch(() => {});
  }

  async #drain(): Promise<void> {
    try {
      // Let the writes of this turn of the event loop join the first batch.
      await new Promise<void>((r) => setImmediate(r));
      while (this.#queue.length) {
        const batch = this.#queue;
        this.#queue = [];
        this.#queuedChars = 0;
        await this.#writeBatch(batch);
      }
    } finally {
      this.#pump = null;
    }
  }

  async #writeBatch(lines: string[]): Promise<void> {
    if (this.path === '-') {
      (this.#opts.stdout ?? process.stdout).write(lines.join(''));
      this.#stats.written += lines.length;
      return;
    }
    let chunk: string[] = [];
    let chunkBytes = 0;
    const writeChunk = async () => {
      if (!chunk.length) return;
      await this.#fh!.write(chunk.join(''));
      this.#size += chunkBytes;
      this.#stats.written += chunk.length;
      chunk = [];
      chunkBytes = 0;
    };
    let i = 0;
    try {
      for (; i < lines.length; i++) {
        const line = lines[i]!;
        const len = Buffer.byteLength(line);
        if (len > this.maxBytes) {
          this.#stats.failed++;
          this.#report(new Error(`write length ${len} exceeds maximum file size ${this.maxBytes}`));
          continue;
        }
        if (!this.#fh) await this.#openExistingOrNew(len);
        if (this.#size + chunkBytes + len > this.maxBytes) {
          await writeChunk();
          await this.#rotate();
        }
        chunk.push(line);
        chunkBytes += len;
      }
      await writeChunk();
    } catch (err) {
      // The unwritten chunk and the lines not reached are lost; the file is reopened for the next batch.
      this.#stats.failed += chunk.length + (lines.length - i);
      this.#report(err as Error);
      const fh = this.#fh;
      this.#fh = null;
      await fh?.close().catch(() => {});
    }
  }

  async #openExistingOrNew(writeLen: number): Promise<void> {
    await this.#mill();
    let size: number;
    try {
      size = (await fs.stat(this.path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.#openNew();
      throw err;
    }
    if (size + writeLen >= this.maxBytes) return this.#rotate();
    this.#fh = await fs.open(this.path, 'a');
    this.#size = size;
  }

  async #rotate(): Promise<void> {
    const fh = this.#fh;
    this.#fh = null;
    await fh?.close();
    await this.#openNew();
    this.#stats.rotations++;
    await this.#mill();
  }

  /** Moves the current file (if any) to its backup name and creates a new one. */
  async #openNew(): Promise<void> {
    await fs.mkdir(this.#dir, { recursive: true, mode: 0o755 });
    let mode = 0o600;
    try {
      const st = await fs.stat(this.path);
      mode = st.mode & 0o777;
      await fs.rename(this.path, await this.#backupName());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.#fh = await fs.open(this.path, 'w', mode);
    await this.#fh.chmod(mode); // whatever the umask
    this.#size = 0;
  }

  /** The backup name for now; a name already taken (two rotations in one millisecond) moves on a millisecond rather than overwrite it. */
  async #backupName(): Promise<string> {
    for (let t = this.#clock(); ; t++) {
      const name = path.join(this.#dir, `${this.#prefix}${backupTimestamp(t)}${this.#ext}`);
      try {
        await fs.access(name);
      } catch {
        return name;
      }
    }
  }

  /** lumberjack's millRunOnce without compression: drop backups past maxbackup, then past maxage. */
  async #mill(): Promise<void> {
    const maxBackups = this.#opts.maxBackups ?? 0;
    const maxAge = this.#opts.maxAgeDays ?? 0;
    if (!maxBackups && !maxAge) return;
    try {
      const backups: Array<{ name: string; t: number }> = [];
      for (const e of await fs.readdir(this.#dir, { withFileTypes: true })) {
        if (!e.isFile() || !e.name.startsWith(this.#prefix)) continue;
        const ext = e.name.endsWith(this.#ext + '.gz') ? this.#ext + '.gz' : this.#ext;
        if (!e.name.endsWith(ext)) continue;
        const t = parseBackupTimestamp(e.name.slice(this.#prefix.length, e.name.length - ext.length));
        if (t !== null) backups.push({ name: e.name, t });
      }
      backups.sort((a, b) => b.t - a.t);
      let keep = backups;
      const remove: string[] = [];
      if (maxBackups > 0 && maxBackups < backups.length) {
        // A file and its compressed twin count once.
        keep = [];
        const preserved = new Set<string>();
        for (const b of backups) {
          preserved.add(b.name.endsWith('.gz') ? b.name.slice(0, -3) : b.name);
          if (preserved.size > maxBackups) remove.push(b.name);
          else keep.push(b);
        }
      }
      if (maxAge > 0) {
        const cutoff = this.#clock() - maxAge * dayMs;
        for (const b of keep) if (b.t < cutoff) remove.push(b.name);
      }
      for (const name of remove) await fs.rm(path.join(this.#dir, name), { force: true });
    } catch (err) {
      this.#report(err as Error);
    }
  }

  #report(err: Error): void {
    this.#opts.onError?.(err);
  }
}
