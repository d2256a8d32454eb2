/**
 * Watch streams: newline-delimited watch events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR)
 * served from the resource's watch cache, with upstream's resourceVersion semantics,
 * selectors (an object leaving the selection is reported as DELETED, entering as ADDED),
 * bookmarks, sendInitialEvents, and timeoutSeconds. Table output gives one Table per event.
 *
 * Contract:
 * - Once the resourceVersion parses, a watch that cannot start (a version older than the
 *   cache's window, a version the cache does not reach in time) answers 200 with one ERROR
 *   event carrying the Status, then ends — as upstream's cacher (`newErrWatcher`).
 * - `timeoutSeconds` absent or 0 means the server's default, `minRequestTimeoutSeconds` times
 *   a random factor in [1, 2) as upstream; any positive value is honoured however long
 *   (timers are chained past setTimeout's 2^31-1 ms); a negative one ends the watch at once.
 * - Backpressure: events are written in chunks of at most `writeChunkChars`; when the response
 *   does not take a chunk (`write()` is false) nothing more is rendered until it drains. While
 *   waiting, the watcher's bounded queue in the cache fills; when the cache ends the watcher as
 *   unresponsive (or the watch times out) the response is destroyed, releasing what it
 *   buffered. Bookmarks are skipped, never queued, while the response is blocked (upstream
 *   drops them when a watcher's channel is full).
 */
import type { HandlerContext } from './handlers.ts';
import type { OutputFormat } from './respond.ts';
import type { KubeObject, Status } from '../api/types.ts';
import { badRequest, isStatusError } from '../api/errors.ts';
import { parseRv } from './rest.ts';
import { boolParam, flag, int64Param } from './params.ts';
import { buildTable, partialObjectMetadata, tableOf, type IncludeObject } from './tables.ts';
import { renderJson, type CacheEvent, type CachedObject } from './watchcache.ts';
import { stringify as toYaml } from 'yaml';
import { objectSink, type LocalEvent } from './local.ts';

/** Upstream's defaultBookmarkFrequency: a bookmark about every minute. */
export const bookmarkIntervalMs = 60_000;
/** Upstream sends a last bookmark this long before the watch's deadline, so the client can resume. */
export const preTimeoutBookmarkMs = 2_000;
/** Upstream's default --min-request-timeout (seconds): the base of a watch's default timeout. */
export const minRequestTimeoutSeconds = 1800;
/**
 * Rendered events are handed to the response in chunks of at most this many characters (a
 * single larger event is one chunk), so a watch never holds more than one chunk beyond what
 * the client has taken. No upstream equivalent: Go's writer blocks on every write instead.
 */
export const writeChunkChars = 64 * 1024;
/**
 * What a watch may have handed to the response beyond what the client has taken before it
 * waits for 'drain': Go's HTTP/2 transport lets a server have 4 MiB in flight on one stream
 * (its default stream receive window), which is the slack a reading but momentarily busy
 * client — often one in this very process, sharing its event loop — has upstream. Past it the
 * watcher's bounded queue in the cache takes over.
 */
export const maxUnackedChars = 4 * 1024 * 1024;
/** The longest delay setTimeout accepts (2^31-1 ms); longer ones fire after 1 ms. */
export const maxTimerMs = 2 ** 31 - 1;

/**
 * The watch's timeout in ms from `timeoutSeconds` (upstream handleWatch): absent or 0 is the
 * default, `minRequestTimeoutSeconds * (1 + random())`; otherwise the value itself (negative
 * means already expired). Not an int64 is a 400.
 */
export function watchTimeoutMs(q: URLSearchParams, random: () => number = Math.random): number {
  const s = int64Param(q, 'timeoutSeconds') ?? 0;
  if (s === 0) return minRequestTimeoutSeconds * 1000 * (1 + random());
  return s * 1000;
}

/** Calls `fn` after `ms`, however long (chained timers); returns the cancel function. */
export function longTimeout(fn: () => void, ms: number, timers: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout } = globalThis): () => void {
  const end = Date.now() + ms;
  let handle: ReturnType<typeof setTimeout>;
  const arm = (left: number) => {
    if (left > maxTimerMs) handle = timers.setTimeout(() => arm(end - Date.now()), maxTimerMs);
    else handle = timers.setTimeout(fn, Math.max(0, left));
  };
  arm(ms);
  return () => timers.clearTimeout(handle);
}

/**
 * What the writer needs of a Node HTTP/1 or HTTP/2 compatibility response (or a wrapper that
 * forwards `on` to one, as the gzip wrapper does): one 'drain' listener is added, for good.
 */
export interface StreamSink {
  write(chunk: string): boolean;
  on(event: 'drain', fn: () => void): unknown;
}

/**
 * Buffers rendered watch events (of type T) into bounded batches and honours backpressure: a
 * batch is handed over once it reaches `batchSize` (measured by `size`), or on `flush`; when the
 * consumer does not take a batch (`send` is false), more are handed over only up to `maxUnacked`
 * before waiting for 'drain'. `add` and `flush` return `true` when the caller may go on at once,
 * or a promise that resolves `true` once the consumer drained and `false` if the batcher was
 * closed while waiting.
 */
export class EventBatcher<T> {
  #send: (parts: T[], size: number) => boolean;
  #measure: (part: T) => number;
  #batchSize: number;
  #parts: T[] = [];
  #size = 0;
  #waiting: Promise<boolean> | null = null;
  #resolve: ((ok: boolean) => void) | null = null;
  #closed = false;
  /** Size handed over since the consumer last took everything (or drained). */
  #unacked = 0;
  #maxUnacked: number;

  constructor(
    consumer: { send(parts: T[], size: number): boolean; onDrain(fn: () => void): void },
    opts: { size(part: T): number; batchSize: number; maxUnacked: number },
  ) {
    this.#send = consumer.send;
    this.#measure = opts.size;
    this.#batchSize = opts.batchSize;
    this.#maxUnacked = opts.maxUnacked;
    consumer.onDrain(() => {
      this.#unacked = 0;
      this.#wake(true);
    });
  }

  #wake(ok: boolean): void {
    const resolve = this.#resolve;
    this.#resolve = null;
    this.#waiting = null;
    resolve?.(ok);
  }

  /** True while the consumer has not taken the last batch. */
  get blocked(): boolean {
    return this.#waiting !== null;
  }

  /** Size added and not yet handed over. */
  get buffered(): number {
    return this.#size;
  }

  add(part: T): true | Promise<boolean> {
    this.#parts.push(part);
    this.#size += this.#measure(part);
    return this.#size >= this.#batchSize ? this.flush() : true;
  }

  flush(): true | Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#waiting) return this.#waiting.then((ok) => (ok ? this.flush() : false));
    if (this.#parts.length === 0) return true;
    const parts = this.#parts;
    const size = this.#size;
    this.#parts = [];
    this.#size = 0;
    if (this.#send(parts, size)) {
      this.#unacked = 0;
      return true;
    }
    this.#unacked += size;
    if (this.#unacked < this.#maxUnacked) return true;
    const waiting = new Promise<boolean>((resolve) => (this.#resolve = resolve));
    this.#waiting = waiting;
    return waiting;
  }

  /** Drops what is buffered and wakes a waiting flush with `false`. */
  close(): void {
    this.#closed = true;
    this.#parts = [];
    this.#size = 0;
    this.#wake(false);
  }
}

/**
 * Rendered watch events as text into a response, in chunks of at most `writeChunkChars`, with
 * up to `maxUnackedChars` handed over beyond what the client has taken.
 */
export class WatchWriter extends EventBatcher<string> {
  constructor(sink: StreamSink, opts: { maxUnackedChars?: number } = {}) {
    super(
      { send: (parts) => sink.write(parts.length === 1 ? parts[0]! : parts.join('')), onDrain: (fn) => void sink.on('drain', fn) },
      { size: (line) => line.length, batchSize: writeChunkChars, maxUnacked: opts.maxUnackedChars ?? maxUnackedChars },
    );
  }
}

type WatchResponse = HandlerContext['res'] & { destroy?: () => void };

/**
 * `prepare`, when given, is awaited with the objects of the initial list and of each batch of
 * events before they are converted (a CRD's conversion webhook converts them in one call).
 */
export async function watchResponse(
  ctx: HandlerContext,
  format: OutputFormat,
  convert: (o: KubeObject) => KubeObject,
  prepare?: (objs: readonly KubeObject[]) => Promise<void>,
): Promise<void> {
  const q = ctx.query;
  const rvParam = q.get('resourceVersion') ?? '';
  const match = q.get('resourceVersionMatch') ?? '';
  const sendInitialParam = boolParam(q, 'sendInitialEvents');
  const bookmarks = flag(q, 'allowWatchBookmarks');
  if (sendInitialParam !== undefined) {
    if (match !== 'NotOlderThan') throw badRequest('sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan');
    if (sendInitialParam && !bookmarks) throw badRequest('allowWatchBookmarks must be true when sendInitialEvents is true');
  } else if (match) {
    throw badRequest('resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
  }
  const sendInitial = sendInitialParam ?? (rvParam === '' || rvParam === '0');
  const fromRv = rvParam === '' || rvParam === '0' ? 0 : parseRv(rvParam);
  const filter = ctx.storage.filter(q.get('labelSelector') ?? undefined, q.get('fieldSelector') ?? undefined);
  const timeoutMs = watchTimeoutMs(q);
  const ns = ctx.info.namespace;
  const nsPrefix = ns && ctx.served.def.namespaced ? `${ctx.storage.prefix}${ns}/` : '';
  const res = ctx.res as WatchResponse;
  const contentType = format.kind === 'yaml' ? 'application/yaml' : 'application/json';
  const raw = (type: string, obj: unknown): string =>
    format.kind === 'yaml' ? `---\n${toYaml({ type, object: obj })}` : `{"type":"${type}","object":${JSON.stringify(obj)}}\n`;

  let opened: Awaited<ReturnType<HandlerContext['storage']['watch']>>;
  try {
    opened = await ctx.storage.watch({
      fromRv: sendInitial && sendInitialParam !== undefined && fromRv > 0 ? fromRv : sendInitial ? 0 : fromRv,
      initial: sendInitial,
      consistent: sendInitial && rvParam === '',
    });
  } catch (err) {
    if (!isStatusError(err)) throw err;
    // Past parameter checks, a watch that cannot start is an ERROR event in a 200 stream.
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' });
    res.end(raw('ERROR', err.status satisfies Status));
    return;
  }
  const { initial, watch, rv } = opened;

  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' });
  if ('flushHeaders' in res && typeof res.flushHeaders === 'function') res.flushHeaders();

  const include: IncludeObject = (q.get('includeObject') as IncludeObject | null) ?? 'Metadata';
  const table = format.kind === 'table' ? tableOf(ctx.served.table) : null;
  let firstTable = true;
  const render = (type: string, c: CachedObject, live: boolean): string => {
    const obj = c.obj;
    const out0 = convert(obj);
    // JSON fast path: a live event's serialization is shared by every watcher (the cache keeps it
    // while the event is in its window); an initial event's is rendered for this watcher alone.
    if (format.kind === 'json' && out0 === obj) return `{"type":"${type}","object":${live ? c.json : renderJson(c)}}\n`;
    let out: unknown = out0;
    if (format.kind === 'table' && table) {
      out = buildTable(table, [out0], { resourceVersion: obj.metadata.resourceVersion }, {
        include,
        version: format.version,
        now: Date.now(),
        noHeaders: !firstTable,
      });
      firstTable = false;
    } else if (format.kind === 'partial') {
      out = partialObjectMetadata(out0, format.version);
    }
    return raw(type, out);
  };
  const bookmark = (rv: number, initialEnd = false): unknown => {
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (initialEnd) metadata['annotations'] = { 'k8s.io/initial-events-end': 'true' };
    return { kind: ctx.served.def.kind, apiVersion: ctx.served.apiVersion, metadata };
  };

  // An in-process client asking for JSON takes the cached (frozen) objects themselves.
  const sink = format.kind === 'json' ? objectSink(res) : null;
  const writer: EventOut = sink
    ? eventOut(new EventBatcher<LocalEvent>({ send: (evs) => sink.sendEvents(evs), onDrain: (fn) => void sink.on('drain', fn) }, { size: () => 1, batchSize: objectBatch, maxUnacked: 0 }), (type, c) => ({ type, object: convert(c.obj) }), (type, object) => ({ type, object }))
    : eventOut(new WatchWriter(res as WatchResponse & StreamSink), render, raw);
  let closed = false;
  let bmTimer: ReturnType<typeof setTimeout> | undefined;
  let cancelTimeout = () => {};
  const close = () => {
    if (closed) return;
    closed = true;
    // A response the client is not reading is destroyed: ending it would keep its buffer (a
    // wrapper without destroy is ended; it holds at most one chunk).
    const abandon = writer.blocked || watch.endReason === 'unresponsive';
    watch.stop();
    cancelTimeout();
    clearTimeout(bmTimer);
    writer.close();
    if (abandon && typeof res.destroy === 'function') res.destroy();
    else if (!res.writableEnded) res.end();
  };
  res.on('close', close);
  void watch.ended.then(close);
  cancelTimeout = longTimeout(close, timeoutMs);

  let lastSentRv = rv;
  if (bookmarks) {
    const deadline = Date.now() + timeoutMs;
    const schedule = () => {
      const now = Date.now();
      const at = Math.min(now + bookmarkIntervalMs, deadline - preTimeoutBookmarkMs);
      if (at < now) return;
      bmTimer = setTimeout(() => {
        if (closed) return;
        if (!writer.blocked && watch.rv > lastSentRv) {
          lastSentRv = watch.rv;
          writer.other('BOOKMARK', bookmark(watch.rv));
          void writer.flush();
        }
        schedule();
      }, at - now);
    };
    schedule();
  }

  const inScope = (key: string) => !nsPrefix || key.startsWith(nsPrefix);
  try {
    if (prepare && initial.length) await prepare(initial.map((c) => c.obj));
    for (const c of initial) {
      if (closed) break;
      if (!inScope(c.key)) continue;
      if (filter && !filter(c.obj)) continue;
      const r = writer.event('ADDED', c, false);
      if (r !== true && !(await r)) break;
    }
    if (!closed) {
      if (sendInitialParam === true) writer.other('BOOKMARK', bookmark(rv, true));
      const r = writer.flush();
      if (r !== true) await r;
    }
    stream: for await (const batch of watch) {
      if (closed) break;
      if (prepare && batch.length) await prepare(batch.map((ev) => ev.object.obj));
      for (const ev of batch) {
        if (!inScope(ev.object.key)) continue;
        const type = eventType(ev, filter);
        if (type === null) continue;
        const r = writer.event(type, ev.object, true);
        if (r !== true && !(await r)) break stream;
      }
      const r = writer.flush();
      if (r !== true && !(await r)) break;
      if (batch.length) lastSentRv = Math.max(lastSentRv, batch[batch.length - 1]!.rv);
    }
  } catch (err) {
    if (!closed && isStatusError(err)) {
      writer.other('ERROR', err.status);
      void writer.flush();
    }
  } finally {
    close();
  }
}

/** The event a watcher with `filter` sees for `ev` (an object leaving the selection is DELETED, entering ADDED), or null. */
function eventType(ev: CacheEvent, filter: ((o: KubeObject) => boolean) | null): string | null {
  if (!filter) return ev.type;
  const cur = filter(ev.object.obj);
  if (ev.type === 'ADDED') return cur ? 'ADDED' : null;
  if (ev.type === 'DELETED') return ev.prev && filter(ev.prev.obj) ? 'DELETED' : null;
  const was = ev.prev ? filter(ev.prev.obj) : false;
  if (cur && was) return 'MODIFIED';
  if (cur && !was) return 'ADDED';
  if (!cur && was) return 'DELETED';
  return null;
}

/**
 * Where a watch's events go: `event` and `flush` return `true` when the watch may go on at once,
 * or a promise of `true` once the consumer took what was handed over (`false`: closed meanwhile).
 */
interface EventOut {
  /** `live`: an event from the cache's window (not the initial list). */
  event(type: string, c: CachedObject, live: boolean): true | Promise<boolean>;
  /** A BOOKMARK or ERROR event, sent with the next flush. */
  other(type: 'BOOKMARK' | 'ERROR', obj: unknown): void;
  flush(): true | Promise<boolean>;
  readonly blocked: boolean;
  close(): void;
}

/**
 * Events rendered by `render` (live and initial events) and `raw` (bookmarks, errors) into a
 * batcher: text lines into the response, or objects to an in-process client (the batcher
 * waits for 'drain' as soon as its queue is full).
 */
function eventOut<T>(w: EventBatcher<T>, render: (type: string, c: CachedObject, live: boolean) => T, raw: (type: string, obj: unknown) => T): EventOut {
  return {
    event: (type, c, live) => w.add(render(type, c, live)),
    other: (type, obj) => void w.add(raw(type, obj)),
    flush: () => w.flush(),
    get blocked() {
      return w.blocked;
    },
    close: () => w.close(),
  };
}

/** Events handed to an in-process consumer at a time, at most (the initial list is cut into batches of it). */
const objectBatch = 256;
