/**
 * The watch cache (kube-apiserver's cacher): one store watch per resource feeds an in-memory
 * copy of every object under the resource's prefix plus a window of recent events. Lists with
 * resourceVersion semantics that allow it, and all watches, are served from here.
 *
 * Contract:
 * - `rv` only grows; after `waitFor(r)` resolves, the cache reflects every store change ≤ r.
 * - Cached objects are shared and frozen by convention: callers never mutate them (clone first).
 * - A watch from a revision older than the event window fails with `gone()` (410 Expired).
 * - Each watcher's queue is bounded as the upstream cacher's watcher channel: a watcher whose
 *   consumer has not taken its events while more than `chanSize` are queued for
 *   `dispatchTimeoutMs` (or at once, past `maxPending`) is ended as unresponsive, logging
 *   "Forcing watcher close due to unresponsiveness"; its events are released and the client
 *   re-watches (and relists if it is too far behind). Queued events are shared with the cache,
 *   never copied, so a watcher pins at most its bounded queue.
 * - If the store watch breaks (compaction, store error), the cache re-lists and ends all
 *   watchers, as the upstream cacher does.
 */
import type { Store, WatchEvent as StoreEvent } from '../storage/types.ts';
import type { KubeObject } from '../api/types.ts';
import { gone, timeout } from '../api/errors.ts';
import { deepFreeze } from '../util/freeze.ts';
import type { Interner } from './intern.ts';

export interface CachedObject {
  /** The store key. */
  readonly key: string;
  readonly obj: KubeObject;
  /** `obj` serialized as JSON (the cache renders it when first asked and keeps it while the object's event is in the window). */
  readonly json: string;
  readonly rv: number;
}

/**
 * A cached object of the watch cache. Its JSON is rendered on first use and kept only while its
 * event is in the event window, where several HTTP watchers may ask for it within moments; an
 * object older than the window holds no serialization (in-process readers take the object
 * itself), so a quiet cache keeps one form of each object.
 */
class Entry implements CachedObject {
  readonly key: string;
  readonly obj: KubeObject;
  readonly rv: number;
  #json: string | undefined;

  constructor(key: string, obj: KubeObject, rv: number) {
    this.key = key;
    this.obj = obj;
    this.rv = rv;
  }

  get json(): string {
    return (this.#json ??= JSON.stringify(this.obj));
  }

  /** The JSON, without keeping it when it was not kept already. */
  render(): string {
    return this.#json ?? JSON.stringify(this.obj);
  }

  forget(): void {
    this.#json = undefined;
  }
}

/** `c`'s JSON for a one-off answer (a list): a kept serialization is reused, a new one is not kept. */
export function renderJson(c: CachedObject): string {
  return c instanceof Entry ? c.render() : c.json;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent {
  type: EventType;
  rv: number;
  object: CachedObject;
  prev?: CachedObject;
}

/** Why the cache ended a watch. */
export type EndReason = 'cache stopped' | 'cache relisted' | 'unresponsive';

export interface CacheWatch extends AsyncIterable<CacheEvent[]> {
  /** Ends the watch; the iterator finishes. */
  stop(): void;
  /** Why the watch ended, when the cache ended it (undefined after `stop()`). */
  readonly endReason: EndReason | undefined;
  /** Resolves when the watch ends, for whatever reason (a consumer blocked on I/O races it). */
  readonly ended: Promise<void>;
  /** The cache revision the consumer has seen everything up to (for bookmarks). */
  readonly rv: number;
  /** Live events queued and not yet taken by the consumer. */
  readonly pending: number;
}

/**
 * Upstream's DefaultEventFreshDuration in seconds (the bookmark frequency, 60 s, plus 15 s): the
 * span the event window is meant to cover, from which the watcher channel size is derived.
 */
export const eventFreshSeconds = 75;
/** Upstream's minWatchChanSize. */
export const minWatchChanSize = 10;
/** Upstream's maxWatchChanSizeWithoutIndex (the cache keeps no field indexes). */
export const maxWatchChanSize = 100;
/**
 * How long a watcher with a full queue gets to take its events before it is closed: upstream's
 * dispatch time budget (maxBudget, 100 ms). Upstream shares one refilling budget among the
 * watchers blocked on one event; here each blocked watcher gets its own deadline, because
 * delivery is asynchronous and one stalled watcher never holds up the others.
 */
export const dispatchTimeoutMs = 100;

/**
 * A watcher's queue bound in events, as upstream's suggestedWatchChannelSize: room for about
 * one second of the event window (`window / eventFreshSeconds`), clamped to [10, 100]. The
 * default window of 2000 events gives 27.
 */
export function watchChanSize(window: number): number {
  return Math.min(Math.max(Math.ceil(window / eventFreshSeconds), minWatchChanSize), maxWatchChanSize);
}

export interface WatchOptions {
  /** Names the watch in logs (upstream: key, labels and fields). */
  identifier?: string;
}

export interface WatchCacheOptions {
  /** Turns the bytes stored at `key` into the served object; must set metadata.resourceVersion to `rv`. */
  decode(value: Uint8Array, rv: number, key: string): KubeObject;
  /** Shares the parts decoded objects repeat (intern.ts) before they are frozen. */
  interner?: Interner;
  /** Events kept for resuming watches. */
  window?: number;
  /** A watcher's queue bound in events; default `watchChanSize(window)`. */
  chanSize?: number;
  /** A blocked watcher with this many events queued is ended at once; default `window` (a watcher never pins more than the cache keeps). */
  maxPending?: number;
  /** How long a watcher may stay over `chanSize`; default `dispatchTimeoutMs`. */
  dispatchTimeoutMs?: number;
  /** Store progress notifications, so `rv` advances while the resource is quiet. */
  progressIntervalMs?: number;
  /** Where the cache logs (a closed unresponsive watcher); default stderr. */
  log?: (msg: string) => void;
}

interface WatcherLimits {
  chanSize: number;
  maxPending: number;
  dispatchTimeoutMs: number;
  onUnresponsive: (w: Watcher) => void;
}

interface Waiter {
  rv: number;
  resolve: () => void;
  cancel: () => void;
}

export class WatchCache {
  readonly prefix: string;
  #store: Store;
  #opts: Required<Pick<WatchCacheOptions, 'window' | 'progressIntervalMs'>> & WatchCacheOptions;
  #limits: WatcherLimits;
  #objects = new Map<string, CachedObject>();
  /** Bumped on every change of #objects (see `generation`). */
  #generation = 0;
  #sorted: CachedObject[] | null = null;
  #events: CacheEvent[] = [];
  #eventsStart = 0; // index of the oldest retained event in the ring (we use a plain array with periodic trimming)
  /** Events with rv > #oldestRv can be replayed. */
  #oldestRv = 0;
  #rv = 0;
  #watchers = new Set<Watcher>();
  #waiters: Waiter[] = [];
  #abort = new AbortController();
  #ready: Promise<void>;
  #readyResolve!: () => void;
  #readyReject!: (e: unknown) => void;
  #running = false;

  constructor(store: Store, prefix: string, opts: WatchCacheOptions) {
    this.#store = store;
    this.prefix = prefix;
    this.#opts = { window: 2000, progressIntervalMs: 5000, ...opts };
    const chanSize = opts.chanSize ?? watchChanSize(this.#opts.window);
    const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
    this.#limits = {
      chanSize,
      maxPending: Math.max(opts.maxPending ?? this.#opts.window, chanSize),
      dispatchTimeoutMs: opts.dispatchTimeoutMs ?? dispatchTimeoutMs,
      onUnresponsive: (w) => log(`Forcing ${prefix} watcher close due to unresponsiveness: ${w.identifier}. ${w.pending} events queued`),
    };
    this.#ready = new Promise((res, rej) => {
      this.#readyResolve = res;
      this.#readyReject = rej;
    });
    this.#ready.catch(() => {});
  }

  get rv(): number {
    return this.#rv;
  }

  /** Changes whenever the cached objects change (not on progress): a cheap key for indexes built over list(). */
  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#objects.size;
  }

  /** Resolves once the initial list is loaded. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Starts the list-then-watch loop; runs until `stop()`. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  stop(): void {
    this.#abort.abort();
    for (const w of this.#watchers) w.end('cache stopped');
    this.#watchers.clear();
    for (const w of this.#waiters) w.cancel();
    this.#waiters = [];
  }

  /** The store watch's on-demand progress hook (set by the store). */
  #progress: { request?: () => void } = {};

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    let first = true;
    while (!signal.aborted) {
      try {
        const from = await this.#relist();
        if (first) {
          first = false;
          this.#readyResolve();
        }
        for await (const batch of this.#store.watch(this.prefix, from, {
          signal,
          progressIntervalMs: this.#opts.progressIntervalMs,
          progress: this.#progress,
        })) {
          this.#apply(batch.events, batch.revision);
        }
        if (signal.aborted) return;
      } catch (err) {
        if (signal.aborted) return;
        if (first) {
          this.#readyReject(err);
          return;
        }
        // fall through: relist
      }
      for (const w of this.#watchers) w.end('cache relisted');
      this.#watchers.clear();
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #relist(): Promise<number> {
    const res = await this.#store.list(this.prefix);
    const objects = new Map<string, CachedObject>();
    for (const kv of res.items) objects.set(kv.key, this.#make(kv.key, kv.value, kv.modRevision));
    this.#objects = objects;
    this.#generation++;
    this.#sorted = null;
    this.#events = [];
    this.#eventsStart = 0;
    this.#oldestRv = res.revision;
    this.#setRv(res.revision);
    return res.revision;
  }

  #make(key: string, value: Uint8Array, rv: number): CachedObject {
    const obj = this.#opts.decode(value, rv, key);
    const interner = this.#opts.interner;
    return new Entry(key, interner ? interner.freeze(obj) : deepFreeze(obj), rv);
  }

  #apply(events: readonly StoreEvent[], revision: number): void {
    const out: CacheEvent[] = [];
    for (const ev of events) {
      const key = ev.kv.key;
      const prev = this.#objects.get(key);
      if (ev.type === 'put') {
        let cur: CachedObject;
        try {
          cur = this.#make(key, ev.kv.value, ev.kv.modRevision);
        } catch {
          continue; // undecodable value: skip, as the cacher does
        }
        this.#objects.set(key, cur);
        this.#generation++;
        if (!prev) this.#sorted = null;
        else if (this.#sorted) this.#replaceSorted(prev, cur);
        out.push({ type: prev ? 'MODIFIED' : 'ADDED', rv: cur.rv, object: cur, prev });
      } else {
        if (!prev) continue;
        this.#objects.delete(key);
        this.#generation++;
        this.#sorted = null;
        // A deleted object is reported with the delete's revision, as the upstream cacher does.
        const rv = ev.kv.modRevision;
        const obj = deepFreeze({ ...prev.obj, metadata: { ...prev.obj.metadata, resourceVersion: String(rv) } });
        const gone: CachedObject = new Entry(key, obj, rv);
        out.push({ type: 'DELETED', rv, object: gone, prev });
      }
    }
    for (const e of out) this.#events.push(e);
    this.#trim();
    this.#setRv(Math.max(revision, out.length ? out[out.length - 1]!.rv : 0));
    if (out.length) for (const w of this.#watchers) w.push(out);
    else for (const w of this.#watchers) w.progress(this.#rv);
  }

  #replaceSorted(prev: CachedObject, cur: CachedObject): void {
    const arr = this.#sorted!;
    let lo = 0;
    let hi = arr.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const k = arr[mid]!.key;
      if (k === prev.key) {
        arr[mid] = cur;
        return;
      }
      if (k < prev.key) lo = mid + 1;
      else hi = mid - 1;
    }
    this.#sorted = null;
  }

  #trim(): void {
    const live = this.#events.length - this.#eventsStart;
    if (live <= this.#opts.window) return;
    const drop = live - this.#opts.window;
    // Events leaving the window release their objects' serializations.
    for (let i = this.#eventsStart; i < this.#eventsStart + drop; i++) {
      const o = this.#events[i]!.object;
      if (o instanceof Entry) o.forget();
    }
    this.#oldestRv = this.#events[this.#eventsStart + drop - 1]!.rv;
    this.#eventsStart += drop;
    if (this.#eventsStart > this.#opts.window) {
      this.#events = this.#events.slice(this.#eventsStart);
      this.#eventsStart = 0;
    }
  }

  #setRv(rv: number): void {
    if (rv <= this.#rv) return;
    this.#rv = rv;
    if (this.#waiters.length) {
      const keep: Waiter[] = [];
      for (const w of this.#waiters) (w.rv <= rv ? w.resolve() : keep.push(w));
      this.#waiters = keep;
    }
  }

  /** Resolves once the cache has seen revision `rv`; rejects with a Timeout status after `timeoutMs`. */
  async waitFor(rv: number, timeoutMs = 3000): Promise<void> {
    await this.#ready;
    if (this.#rv >= rv) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(timeout(`Too large resource version: ${rv}, current: ${this.#rv}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      const cancel = () => {
        clearTimeout(t);
        reject(timeout('the watch cache stopped'));
      };
      this.#waiters.push({ rv, resolve: done, cancel });
      // A quiet resource may already be at `rv` in the store: ask the watch how far it is.
      this.#progress.request?.();
    });
  }

  get(key: string): CachedObject | undefined {
    return this.#objects.get(key);
  }

  /** All objects in key order (a shared snapshot array: do not modify). */
  list(): readonly CachedObject[] {
    if (!this.#sorted) {
      this.#sorted = [...this.#objects.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    return this.#sorted;
  }

  /** Objects whose key starts with `prefix` (e.g. one namespace), in key order. */
  listPrefix(prefix: string): readonly CachedObject[] {
    const all = this.list();
    if (prefix === this.prefix) return all;
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (all[mid]!.key < prefix) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < all.length && all[end]!.key.startsWith(prefix)) end++;
    return all.slice(lo, end);
  }

  /**
   * Watches changes with rv > `fromRv`. Throws a 410 Expired status when `fromRv` is older than
   * the event window. The caller sends initial state itself when it wants it.
   */
  watch(fromRv: number, opts: WatchOptions = {}): CacheWatch {
    if (fromRv < this.#oldestRv) {
      throw gone(`too old resource version: ${fromRv} (${this.#oldestRv})`);
    }
    const w = new Watcher(this.#limits, () => this.#watchers.delete(w), Math.max(fromRv, 0), opts.identifier ?? `key: ${JSON.stringify(this.prefix)}`);
    const backlog: CacheEvent[] = [];
    for (let i = this.#eventsStart; i < this.#events.length; i++) {
      const e = this.#events[i]!;
      if (e.rv > fromRv) backlog.push(e);
    }
    // The replay is the cache's own window (upstream's interval), not counted against the queue bound.
    if (backlog.length) w.replay(backlog);
    if (this.#rv > fromRv) w.progress(this.#rv);
    this.#watchers.add(w);
    return w;
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }
}

/**
 * One watcher's queue. `push` never blocks: while the consumer waits for events the batch is
 * handed over whole; while it is busy (writing to a client that does not read) events queue,
 * and a queue over `chanSize` starts the dispatch deadline, past which — or past `maxPending`
 * at once — the watcher is ended as unresponsive.
 */
class Watcher implements CacheWatch {
  #queue: CacheEvent[][] = [];
  /** Events queued while the consumer was busy (the replay backlog and hand-overs are not counted). */
  #pending = 0;
  #wake: (() => void) | null = null;
  #ended = false;
  #endedPromise: Promise<void> | null = null;
  #resolveEnded: (() => void) | null = null;
  #limits: WatcherLimits;
  #onEnd: () => void;
  #rv: number;
  #progressRv = 0;
  #deadline: ReturnType<typeof setTimeout> | null = null;
  readonly identifier: string;
  endReason: EndReason | undefined;

  constructor(limits: WatcherLimits, onEnd: () => void, rv: number, identifier: string) {
    this.#limits = limits;
    this.#onEnd = onEnd;
    this.#rv = rv;
    this.identifier = identifier;
  }

  get rv(): number {
    return this.#rv;
  }

  get pending(): number {
    return this.#pending;
  }

  get ended(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#endedPromise ??= new Promise<void>((r) => (this.#resolveEnded = r));
    return this.#endedPromise;
  }

  replay(events: CacheEvent[]): void {
    this.#queue.push(events);
  }

  push(events: CacheEvent[]): void {
    if (this.#ended) return;
    this.#queue.push(events);
    // A consumer waiting for events takes this batch whole: only what arrives while it is busy counts.
    if (this.#wake !== null) {
      this.#notify();
      return;
    }
    this.#pending += events.length;
    if (this.#pending > this.#limits.chanSize) {
      if (this.#pending > this.#limits.maxPending) {
        this.#unresponsive();
        return;
      }
      if (!this.#deadline) this.#arm();
    }
    this.#notify();
  }

  /**
   * Starts the dispatch deadline. Time the event loop spent busy elsewhere does not count: a
   * deadline that fires late (the loop was blocked, so the consumer's I/O could not run) is
   * re-armed instead of closing the watcher; `maxPending` still bounds what it queues meanwhile.
   */
  #arm(): void {
    const budget = this.#limits.dispatchTimeoutMs;
    const armedAt = performance.now();
    this.#deadline = setTimeout(() => {
      const late = performance.now() - armedAt > 2 * budget;
      // Let pending I/O (a 'drain') run first: timers come before the poll phase.
      setImmediate(() => {
        this.#deadline = null;
        if (this.#ended || this.#pending <= this.#limits.chanSize) return;
        if (late) this.#arm();
        else this.#unresponsive();
      });
    }, budget);
  }

  progress(rv: number): void {
    if (this.#ended) return;
    // Never queue for progress: a stalled consumer must not grow its queue on quiet resources.
    if (this.#queue.length === 0) {
      if (rv > this.#rv) this.#rv = rv;
    } else if (rv > this.#progressRv) this.#progressRv = rv;
  }

  #unresponsive(): void {
    this.#limits.onUnresponsive(this);
    this.end('unresponsive');
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  end(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.endReason = reason;
    // Release what the consumer never took.
    this.#queue = [];
    this.#pending = 0;
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#deadline = null;
    this.#onEnd();
    this.#notify();
    this.#resolveEnded?.();
  }

  stop(): void {
    if (this.#ended) return;
    this.end('cache stopped');
    this.endReason = undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<CacheEvent[]> {
    try {
      while (true) {
        if (this.#ended) return;
        if (this.#queue.length) {
          const queue = this.#queue;
          this.#queue = [];
          this.#pending = 0;
          if (this.#deadline) {
            clearTimeout(this.#deadline);
            this.#deadline = null;
          }
          const batch = queue.length === 1 ? queue[0]! : queue.flat();
          if (batch.length) this.#rv = Math.max(this.#rv, batch[batch.length - 1]!.rv);
          if (this.#progressRv > this.#rv) this.#rv = this.#progressRv;
          yield batch;
          continue;
        }
        await new Promise<void>((r) => (this.#wake = r));
      }
    } finally {
      if (!this.#ended) this.stop();
    }
  }
}
