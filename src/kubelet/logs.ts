/**
 * Container logs as the kubelet serves them (`GET /containerLogs/...`, `kubectl logs`): reads
 * the CRI log file containerd writes (`<RFC3339Nano> <stdout|stderr> <F|P> <message>\n`, P a
 * partial line continued by the following ones) and renders the messages.
 *
 * Upstream's behaviour (kuberuntime/logs) is kept: the timestamp prefix is upstream's
 * RFC3339NanoFixed re-formatting of the line's time (nine fraction digits, `Z` for a zero
 * offset, other offsets kept) and is written once per logical line, not per P segment;
 * `sinceTime` drops each segment older than it; `limitBytes` cuts the output at exactly N
 * bytes, prefixes included, even mid-line; the first line read picks the format (CRI, or Docker
 * JSON) and an error is thrown if it is neither; later lines that do not parse are skipped;
 * without follow, a tail read stops after the tail's lines (lines appended meanwhile are not
 * shown) and an unterminated last line is written as it is; with follow, an unterminated line
 * waits for its end.
 *
 * Departures, on purpose: `tailLines` counts logical lines (a P…P F group is one line, where
 * upstream counts file lines, so it could cut a long line in half); rotated files beside the
 * current one (`<file>.<N>`, logrotate's order, and upstream's `<file>.<YYYYMMDD-HHMMSS>`;
 * compressed `.gz` ones are not read) are read before it, oldest first, where upstream reads
 * the current file only; follow polls the file (every 200 ms) instead of inotify, drains a
 * file that was rotated away before switching to the new one, and restarts from 0 when the file
 * shrinks (copytruncate). A file line longer than MAX_LINE_BYTES is skipped as malformed.
 */
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LogOptions {
  /** Keep reading appended lines until `ctx.stopped()` answers true or `ctx.signal` aborts. */
  follow?: boolean;
  /** Only the last N logical lines (negative or absent: all). */
  tailLines?: number;
  /** Only lines stamped at or after this instant. */
  sinceTime?: Date;
  /** Prefix each line with its time (RFC3339Nano, fixed nine digits) and a space. */
  timestamps?: boolean;
  /** Stop after exactly this many bytes of output. */
  limitBytes?: number;
  // Both streams are always written, interleaved as in the file (upstream's default).
}

export interface LogContext {
  signal: AbortSignal;
  /** Follow only: resolves true once the container has stopped (polled every STOPPED_POLL_MS). */
  stopped?: () => Promise<boolean>;
}

/** Bytes read per forward read. */
export const READ_CHUNK_BYTES = 64 * 1024;
/** Bytes read per step when searching the tail backwards. */
export const TAIL_BLOCK_BYTES = 64 * 1024;
/** A file line longer than this (containerd splits at 16 KiB by default) is skipped. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Output is handed to the stream in batches of about this size. */
export const WRITE_BATCH_BYTES = 64 * 1024;
/** Follow: how often the file is checked for growth, rotation and truncation. */
export const FOLLOW_POLL_MS = 200;
/** Follow: how often `stopped()` is asked (upstream's logForceCheckPeriod). */
export const STOPPED_POLL_MS = 1000;
/** Bytes of a line's head read to find its tag during the tail search. */
const HEADER_PEEK_BYTES = 128;

const NL = 0x0a;
const SP = 0x20;

/**
 * Writes the log at `file` (and its rotated predecessors) to `out` per `opts`. Resolves when
 * done, when `ctx.signal` aborts, or when `out` closes or errors; rejects when the file cannot
 * be read or its first line is in no known format. Waits for 'drain' whenever `out.write`
 * answers false. Memory use is bounded by a few read chunks whatever the file size; the tail is
 * found by reading backwards.
 */
export async function writeContainerLogs(
  file: string,
  opts: LogOptions,
  out: NodeJS.WritableStream,
  ctx: LogContext,
): Promise<void> {
  const current = await realpath(file);
  const files = await logFiles(current);
  const tail = opts.tailLines !== undefined && opts.tailLines >= 0 ? Math.floor(opts.tailLines) : -1;
  const follow = opts.follow ?? false;
  const sink = new Sink(out, ctx.signal);
  const render = new Renderer(opts, sink, tail >= 0 && !follow ? tail : Infinity);
  try {
    let start = { index: 0, offset: 0 };
    if (tail >= 0) start = await findTailStart(files, tail);
    // Rotated files are complete: read each to its end.
    for (let i = start.index; i < files.length - 1 && !render.done && !sink.closed; i++) {
      const fh = await openIfExists(files[i]!);
      if (!fh) continue;
      try {
        const r = await pump(fh, i === start.index ? start.offset : 0, render, sink);
        if (r.rest.length > 0 && !render.done) render.line(r.rest);
      } finally {
        await fh.close();
      }
    }
    if (render.done || sink.closed) return;
    await readCurrent(current, start.index === files.length - 1 ? start.offset : 0, follow, render, sink, ctx);
  } finally {
    if (!sink.closed && !ctx.signal.aborted) await sink.flush(true).catch(() => {});
    sink.dispose();
  }
}

/** Reads the live file: to its end, or (follow) on and on until stopped or aborted. */
async function readCurrent(
  file: string,
  offset: number,
  follow: boolean,
  render: Renderer,
  sink: Sink,
  ctx: LogContext,
): Promise<void> {
  let fh = await open(file, 'r');
  try {
    let ino = (await fh.stat()).ino;
    let pos = offset;
    let stopping = false;
    let lastStoppedCheck = -Infinity;
    for (;;) {
      if (ctx.signal.aborted || sink.closed) return;
      const r = await pump(fh, pos, render, sink);
      pos = r.next;
      if (render.done || sink.closed || ctx.signal.aborted) return;
      if (!follow) {
        // An unterminated last line is written as it is (upstream: "incomplete line").
        if (r.rest.length > 0) render.line(r.rest);
        return;
      }
      // Follow: has the file been rotated away (a new file at the path) or truncated?
      const now = await stat(file).catch(() => undefined);
      if (now && now.ino !== ino) {
        // Drain what the old file still holds, then move to the new one.
        const rest = await pump(fh, pos, render, sink);
        if (rest.rest.length > 0 && !render.done) render.line(rest.rest);
        if (render.done || sink.closed) return;
        await fh.close();
        fh = await open(file, 'r');
        ino = (await fh.stat()).ino;
        pos = 0;
        continue;
      }
      if ((await fh.stat()).size < pos) {
        pos = 0;
        continue;
      }
      if (stopping) return;
      await sink.flush(true);
      if (ctx.stopped && Date.now() - lastStoppedCheck >= STOPPED_POLL_MS) {
        lastStoppedCheck = Date.now();
        if (await ctx.stopped()) {
          // One more pass drains what was written before the container stopped.
          stopping = true;
          continue;
        }
      }
      try {
        await sleep(FOLLOW_POLL_MS, undefined, { signal: ctx.signal });
      } catch {
        return;
      }
    }
  } finally {
    await fh.close();
  }
}

/**
 * Reads `fh` from `start` to its current end, handing each complete line (with its '\n') to
 * `render`. Answers the offset after the last complete line and the unterminated rest.
 */
async function pump(
  fh: FileHandle,
  start: number,
  render: Renderer,
  sink: Sink,
): Promise<{ next: number; rest: Buffer }> {
  let pos = start; // file offset of the next byte to read
  let lineStart = start; // file offset of the first byte of `carry`
  let carry: Buffer | undefined;
  let skipping = false; // inside an over-long line, dropping bytes up to its end
  for (;;) {
    const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, from);
      if (nl < 0) break;
      if (skipping) {
        skipping = false;
      } else {
        const piece = chunk.subarray(from, nl + 1);
        const line = carry ? Buffer.concat([carry, piece]) : piece;
        carry = undefined;
        if (line.length <= MAX_LINE_BYTES + 1) render.line(line);
        if (render.done) return { next: pos + nl + 1, rest: Buffer.alloc(0) };
      }
      from = nl + 1;
      lineStart = pos + from;
    }
    if (from < bytesRead) {
      if (skipping) {
        lineStart = pos + bytesRead;
      } else {
        const piece = chunk.subarray(from);
        carry = carry ? Buffer.concat([carry, piece]) : Buffer.from(piece);
        if (carry.length > MAX_LINE_BYTES) {
          carry = undefined;
          skipping = true;
          lineStart = pos + bytesRead;
        }
      }
    }
    pos += bytesRead;
    await sink.flush(false);
    if (sink.closed) break;
  }
  return { next: lineStart, rest: carry ?? Buffer.alloc(0) };
}

/** Log files to read, oldest first: rotated predecessors, then the live file. */
async function logFiles(current: string): Promise<string[]> {
  const dir = path.dirname(current);
  const base = path.basename(current);
  const numbered: Array<{ n: number; name: string }> = [];
  const stamped: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(base + '.')) continue;
    const suffix = name.slice(base.length + 1);
    if (/^\d{1,9}$/.test(suffix)) numbered.push({ n: Number(suffix), name });
    else if (/^\d{8}-\d{6}$/.test(suffix)) stamped.push(name);
  }
  numbered.sort((a, b) => b.n - a.n); // logrotate: the highest number is the oldest
  stamped.sort();
  return [...numbered.map((x) => path.join(dir, x.name)), ...stamped.map((s) => path.join(dir, s)), current];
}

async function openIfExists(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // removed by rotation meanwhile
    throw err;
  }
}

/**
 * Where the last `n` logical lines begin: just after the (n+1)-th line end counted from the end,
 * where a line end is the '\n' of a file line that is not a P segment. An unterminated last
 * line, or trailing P segments without their F, are not counted. Reads backwards in blocks.
 */
async function findTailStart(files: string[], n: number): Promise<{ index: number; offset: number }> {
  let count = 0;
  for (let i = files.length - 1; i >= 0; i--) {
    const fh = await openIfExists(files[i]!);
    if (!fh) continue;
    try {
      const size = (await fh.stat()).size;
      let nextNl = -1; // offset of the '\n' ending the line whose start is being looked for
      let right = size;
      while (right > 0) {
        const left = Math.max(0, right - TAIL_BLOCK_BYTES);
        // Read a little past `right` so that the head of a line starting near it is at hand.
        const want = Math.min(size, right + HEADER_PEEK_BYTES) - left;
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, left);
        const block = buf.subarray(0, bytesRead);
        let end = Math.min(right - left, bytesRead); // scan [0, end) of block
        for (;;) {
          const q = end > 0 ? block.lastIndexOf(NL, end - 1) : -1;
          if (q < 0) break;
          if (nextNl >= 0 && !isPartial(block.subarray(q + 1, Math.min(q + 1 + HEADER_PEEK_BYTES, bytesRead)))) {
            if (++count === n + 1) return { index: i, offset: nextNl + 1 };
          }
          nextNl = left + q;
          end = q;
        }
        right = left;
      }
      // The file's first line.
      if (nextNl >= 0) {
        const head = Buffer.allocUnsafe(HEADER_PEEK_BYTES);
        const { bytesRead } = await fh.read(head, 0, head.length, 0);
        if (!isPartial(head.subarray(0, bytesRead)) && ++count === n + 1) return { index: i, offset: nextNl + 1 };
      }
    } finally {
      await fh.close();
    }
  }
  return { index: 0, offset: 0 };
}

/** Whether a file line (from its head) is a CRI P segment. Anything unparsable is not. */
function isPartial(head: Buffer): boolean {
  const a = head.indexOf(SP);
  if (a < 0) return false;
  const b = head.indexOf(SP, a + 1);
  if (b < 0) return false;
  const c = head.indexOf(SP, b + 1);
  if (c < 0) return false;
  const stream = head.toString('latin1', a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return false;
  const tag = head.toString('latin1', b + 1, c);
  return tag === 'P' || tag.startsWith('P:');
}

// ---- parsing ----

interface LogMessage {
  /** The time as written, re-formatted the upstream way (RFC3339NanoFixed). */
  stamp: string;
  /** Milliseconds since the epoch, rounded down. */
  ms: number;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  log: Buffer;
}

type Parser = (line: Buffer) => LogMessage | undefined;

/** CRI format: `<time> <stream> <tag>[:<tag>...] <message>`; a P line loses its '\n'. */
export function parseCRILine(line: Buffer): LogMessage | undefined {
  const a = line.indexOf(SP);
  if (a < 0) return undefined;
  const t = parseLogTime(line.toString('latin1', 0, a));
  if (!t) return undefined;
  const b = line.indexOf(SP, a + 1);
  if (b < 0) return undefined;
  const stream = line.toString('latin1', a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const c = line.indexOf(SP, b + 1);
  if (c < 0) return undefined;
  const tag = line.toString('latin1', b + 1, c);
  const partial = tag.split(':')[0] === 'P';
  let end = line.length;
  if (partial && end > c + 1 && line[end - 1] === NL) end--;
  return { stamp: t.stamp, ms: t.ms, stream, partial, log: line.subarray(c + 1, end) };
}

/** Docker's json-file format: `{"log":"...","stream":"stdout","time":"..."}`. */
function parseDockerJSONLine(line: Buffer): LogMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (o.stream !== 'stdout' && o.stream !== 'stderr') return undefined;
  const t = typeof o.time === 'string' ? parseLogTime(o.time) : undefined;
  if (!t) return undefined;
  const log = Buffer.from(typeof o.log === 'string' ? o.log : '', 'utf8');
  return { stamp: t.stamp, ms: t.ms, stream: o.stream, partial: false, log };
}

const PARSERS: Parser[] = [parseCRILine, parseDockerJSONLine];

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses a log line's time as Go's time.Parse with layout RFC3339NanoLenient does, and answers
 * it re-formatted with upstream's RFC3339NanoFixed layout (wall clock and offset as written,
 * exactly nine fraction digits, `Z` for a zero offset) and as epoch milliseconds.
 */
export function parseLogTime(s: string): { stamp: string; ms: number } | undefined {
  const m = TIME_RE.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac = '', zone = 'Z'] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let offsetMin = 0;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3)), om = Number(zone.slice(4, 6));
    if (oh > 24 || om > 59) return undefined;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const when = new Date(0);
  when.setUTCFullYear(year, month - 1, day);
  when.setUTCHours(hour, minute, second, 0);
  const nine = (frac + '000000000').slice(0, 9);
  const ms = when.getTime() - offsetMin * 60_000 + Number(nine.slice(0, 3));
  const outZone = offsetMin === 0 ? 'Z' : zone;
  return { stamp: `${y}-${mo}-${d}T${h}:${mi}:${sec}.${nine}${outZone}`, ms };
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// ---- rendering ----

/** Turns file lines into output bytes per the options (upstream's logWriter plus the loop's state). */
class Renderer {
  done = false;
  #opts: LogOptions;
  #sink: Sink;
  #parse: Parser | undefined;
  #newLine = true;
  #linesLeft: number;
  #bytesLeft: number;
  #sinceMs: number;

  constructor(opts: LogOptions, sink: Sink, lines: number) {
    this.#opts = opts;
    this.#sink = sink;
    this.#linesLeft = lines;
    this.#bytesLeft = opts.limitBytes !== undefined && opts.limitBytes >= 0 ? Math.floor(opts.limitBytes) : Infinity;
    this.#sinceMs = opts.sinceTime ? opts.sinceTime.getTime() : -Infinity;
    if (this.#linesLeft <= 0) this.done = true;
  }

  /** Handles one file line (with its '\n' unless it is an unterminated last line). */
  line(raw: Buffer): void {
    if (this.done) return;
    if (!this.#parse) {
      this.#parse = PARSERS.find((p) => p(raw) !== undefined);
      if (!this.#parse) throw new Error(`unsupported log format: ${JSON.stringify(raw.toString('utf8', 0, 200))}`);
    }
    const msg = this.#parse(raw);
    if (!msg) return; // upstream logs and skips a line it cannot parse
    if (msg.ms >= this.#sinceMs) {
      let out = msg.log;
      if (this.#opts.timestamps && this.#newLine) out = Buffer.concat([Buffer.from(msg.stamp + ' ', 'latin1'), out]);
      if (out.length > this.#bytesLeft) out = out.subarray(0, this.#bytesLeft);
      this.#sink.push(out);
      this.#bytesLeft -= out.length;
      if (this.#bytesLeft <= 0) {
        this.done = true;
        return;
      }
    }
    this.#newLine = msg.log.length === 0 || msg.log[msg.log.length - 1] === NL;
    if (!msg.partial && --this.#linesLeft <= 0) this.done = true;
  }
}

/** Batches output and honours backpressure; notices when the stream goes away. */
class Sink {
  closed = false;
  #out: NodeJS.WritableStream;
  #signal: AbortSignal;
  #parts: Buffer[] = [];
  #size = 0;
  #onGone = () => {
    this.closed = true;
  };

  constructor(out: NodeJS.WritableStream, signal: AbortSignal) {
    this.#out = out;
    this.#signal = signal;
    out.on('close', this.#onGone);
    out.on('error', this.#onGone);
  }

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.#parts.push(b);
    this.#size += b.length;
  }

  /** Writes the batch when it is big enough (or `force`), then waits for 'drain' if asked to. */
  async flush(force: boolean): Promise<void> {
    if (this.#size === 0 || (!force && this.#size < WRITE_BATCH_BYTES) || this.closed) return;
    const data = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#size);
    this.#parts = [];
    this.#size = 0;
    if (this.#out.write(data)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#out.removeListener('drain', done);
        this.#out.removeListener('close', done);
        this.#out.removeListener('error', done);
        this.#signal.removeEventListener('abort', done);
        resolve();
      };
      this.#out.on('drain', done);
      this.#out.on('close', done);
      this.#out.on('error', done);
      this.#signal.addEventListener('abort', done);
    });
  }

  dispose(): void {
    this.#out.removeListener('close', this.#onGone);
    this.#out.removeListener('error', this.#onGone);
  }
}
