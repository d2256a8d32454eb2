/**
 * The work queue controllers drive reconciles with (client-go's workqueue, one class):
 *
 * - De-duplicating: an item is queued at most once. An item added while a worker holds it
 *   (between `get` and `done`) is queued again only after `done`, so the same item is never
 *   processed by two workers at once and no add is lost.
 * - FIFO among ready items; `get()` waits for one and resolves `undefined` once the queue is
 *   shut down and empty (items queued before `shutDown` are still handed out).
 * - Delays: `addAfter(item, ms)` queues the item later; a pending delay is only ever shortened.
 * - Retries: `addRateLimited(item)` = `addAfter(item, limiter.when(item))`; `forget` resets the
 *   item's backoff; `numRequeues` reports it. The default limiter is client-go's (per item
 *   5 ms → 1000 s exponential, and 10 qps / burst 100 overall).
 *
 * `runWorkers` is the usual loop around it: get → reconcile → done, success forgets, an error
 * requeues rate-limited (a `TerminalError` is logged and dropped), `{requeueAfter}` requeues
 * after that delay.
 */
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimit.ts';

export interface Queue<T> {
  add(item: T): void;
  /** Waits for the next item; `undefined` once shut down and drained of queued items. */
  get(): Promise<T | undefined>;
  /** Marks the item from `get` as finished; re-queues it if it was added meanwhile. */
  done(item: T): void;
  /** Items ready to be handed out (not counting delayed or in-flight ones). */
  len(): number;
  /** Stops accepting items and wakes waiting `get`s. */
  shutDown(): void;
  /** `shutDown`, then waits until every item handed out has been marked done. */
  shutDownWithDrain(): Promise<void>;
  shuttingDown(): boolean;
}

export interface DelayingQueue<T> extends Queue<T> {
  addAfter(item: T, ms: number): void;
}

export interface RateLimitingQueue<T> extends DelayingQueue<T> {
  addRateLimited(item: T): void;
  forget(item: T): void;
  numRequeues(item: T): number;
}

export interface WorkQueueOptions<T> {
  clock?: Clock;
  rateLimiter?: RateLimiter<T>;
  /** For logs and (later) metrics. */
  name?: string;
}

interface Waiting<T> {
  item: T;
  at: number;
}

export class WorkQueue<T> implements RateLimitingQueue<T> {
  readonly name: string;
  #queue: T[] = [];
  #head = 0;
  #dirty = new Set<T>();
  #processing = new Set<T>();
  #getters: ((item: T | undefined) => void)[] = [];
  #shuttingDown = false;
  #drainers: (() => void)[] = [];
  #clock: Clock;
  #limiter: RateLimiter<T>;
  // Delayed items: earliest time per item, and a min-heap with lazy deletion.
  #waiting = new Map<T, number>();
  #heap: Waiting<T>[] = [];
  #timer: TimerHandle | null = null;
  #timerAt = Infinity;

  constructor(opts: WorkQueueOptions<T> = {}) {
    this.#clock = opts.clock ?? realClock;
    this.#limiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>(this.#clock);
    this.name = opts.name ?? '';
  }

  add(item: T): void {
    if (this.#shuttingDown || this.#dirty.has(item)) return;
    this.#dirty.add(item);
    if (this.#processing.has(item)) return;
    this.#queue.push(item);
    this.#hand();
  }

  get(): Promise<T | undefined> {
    const item = this.#take();
    if (item !== undefined) return Promise.resolve(item.v);
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  done(item: T): void {
    this.#processing.delete(item);
    if (this.#dirty.has(item)) {
      this.#queue.push(item);
      this.#hand();
    }
    if (this.#processing.size === 0 && this.#drainers.length) {
      for (const d of this.#drainers.splice(0)) d();
    }
  }

  len(): number {
    return this.#queue.length - this.#head;
  }

  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#waiting.clear();
    this.#heap = [];
    for (const g of this.#getters.splice(0)) g(undefined);
  }

  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return;
    await new Promise<void>((resolve) => this.#drainers.push(resolve));
  }

  shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  addAfter(item: T, ms: number): void {
    if (this.#shuttingDown) return;
    if (!(ms > 0)) return this.add(item);
    const at = this.#clock.now() + ms;
    const cur = this.#waiting.get(item);
    if (cur !== undefined && cur <= at) return;
    this.#waiting.set(item, at);
    this.#heapPush({ item, at });
    this.#arm();
  }

  addRateLimited(item: T): void {
    this.addAfter(item, this.#limiter.when(item));
  }

  forget(item: T): void {
    this.#limiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.#limiter.numRequeues(item);
  }

  /** Items waiting for their delay to pass. */
  delayedLen(): number {
    return this.#waiting.size;
  }

  // ---- internals ----

  #take(): { v: T } | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const item = this.#queue[this.#head]!;
    this.#queue[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#dirty.delete(item);
    this.#processing.add(item);
    return { v: item };
  }

  #hand(): void {
    while (this.#getters.length && this.len()) {
      const got = this.#take()!;
      this.#getters.shift()!(got.v);
    }
  }

  #arm(): void {
    const top = this.#peekValid();
    if (!top) return;
    if (this.#timer !== null && this.#timerAt <= top.at) return;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = top.at;
    // Capped at setTimeout's limit (2^31-1 ms): a longer delay fires at once; #fire re-arms.
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.min(top.at - this.#clock.now(), 2 ** 31 - 1));
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    for (;;) {
      const top = this.#peekValid();
      if (!top || top.at > now) break;
      this.#heapPop();
      this.#waiting.delete(top.item);
      this.add(top.item);
    }
    this.#arm();
  }

  /** The heap's top after discarding entries superseded by an earlier `addAfter`. */
  #peekValid(): Waiting<T> | undefined {
    while (this.#heap.length) {
      const top = this.#heap[0]!;
      if (this.#waiting.get(top.item) === top.at) return top;
      this.#heapPop();
    }
    return undefined;
  }

  #heapPush(e: Waiting<T>): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  #heapPop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (!h.length) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.at < h[m]!.at) m = l;
      if (r < h.length && h[r]!.at < h[m]!.at) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
}

/** What a reconcile may ask for: requeue after a delay (ms) even though it succeeded. */
export interface ReconcileResult {
  requeueAfter?: number;
}

/** An error a reconcile throws when retrying cannot help: logged, the item forgotten, no requeue. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export function isTerminalError(err: unknown): boolean {
  return err instanceof TerminalError;
}

export interface RunWorkersOptions {
  /** Aborting shuts the queue down; `runWorkers` resolves once in-flight reconciles finish. */
  signal?: AbortSignal;
  log?: (msg: string) => void;
}

/**
 * Runs `n` concurrent workers over `queue` until it is shut down (or `signal` aborts) and every
 * worker has returned. Per item: success → `forget`; `{requeueAfter}` → `forget` + `addAfter`;
 * an error → `addRateLimited` (a `TerminalError` → `forget`, no retry); always `done`.
 */
export async function runWorkers<T>(
  queue: RateLimitingQueue<T>,
  n: number,
  reconcile: (item: T) => Promise<ReconcileResult | void> | ReconcileResult | void,
  opts: RunWorkersOptions = {},
): Promise<void> {
  const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
  const signal = opts.signal;
  const onAbort = () => queue.shutDown();
  if (signal?.aborted) queue.shutDown();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const worker = async () => {
    for (;;) {
      const item = await queue.get();
      if (item === undefined) return;
      try {
        const r = await reconcile(item);
        queue.forget(item);
        if (r && typeof r.requeueAfter === 'number' && r.requeueAfter > 0) queue.addAfter(item, r.requeueAfter);
      } catch (err) {
        if (isTerminalError(err)) {
          queue.forget(item);
          log(`reconcile ${String(item)}: ${(err as Error).message} (terminal, not retried)`);
        } else {
          queue.addRateLimited(item);
          log(`reconcile ${String(item)}: ${err instanceof Error ? err.message : String(err)} (retry ${queue.numRequeues(item)})`);
        }
      } finally {
        queue.done(item);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
