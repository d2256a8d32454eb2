/**
 * A controller: a work queue of requests fed by informer events (through predicates and event
 * handlers) and drained by workers that call the reconciler, as controller-runtime's
 * `pkg/internal/controller`.
 *
 * Contract:
 * - Events reach the queue only after every predicate of their watch passed; handlers only
 *   enqueue. Workers start once every watched informer has synced (or `start` rejects after
 *   `cacheSyncTimeoutMs`, upstream's "timed out waiting for cache to be synced").
 * - The queue owns retries (src/client/queue.ts): a request is never reconciled by two workers
 *   at once; success forgets its backoff; `{requeueAfter}` queues it after that delay;
 *   `{requeue: true}` and errors queue it rate-limited (5 ms doubling to 1000 s per item, and
 *   10 qps / burst 100 overall); a `TerminalError` is logged and dropped.
 * - Stopping (the start signal aborts): no new request is taken; `start` resolves once the
 *   in-flight reconciles have returned. Their `ctx.signal` aborts only with `hardSignal` (the
 *   manager's graceful-shutdown deadline), so they may finish their writes.
 */
import type { ApiObject } from '../api/index.ts';
import { WorkQueue, realClock, type Clock, type HandlerRegistration, type RateLimiter, type SharedInformer } from '../client/index.ts';
import type { EventHandler } from './handler.ts';
import { passesCreate, passesDelete, passesUpdate, type Predicate } from './predicate.ts';
import { isTerminalError, requestKey, requestOf, type ReconcileContext, type ReconcileFunc, type Reconciler, type Request } from './reconcile.ts';
import type { Runnable, RunnableContext } from './runnable.ts';

/** Upstream's default CacheSyncTimeout: two minutes. */
export const defaultCacheSyncTimeoutMs = 120_000;

export interface ControllerOptions {
  /** Unique per manager; used in logs and as the queue's name. */
  name: string;
  reconciler: Reconciler;
  /** Workers. Default 1. */
  maxConcurrentReconciles?: number;
  /** Default: client-go's controller rate limiter. */
  rateLimiter?: RateLimiter<string>;
  /** Default 120 000. */
  cacheSyncTimeoutMs?: number;
  /** Run only while the manager leads (when it elects). Default true. */
  needLeaderElection?: boolean;
  clock?: Clock;
  log?: (msg: string) => void;
}

interface Watch {
  informer: SharedInformer<ApiObject>;
  handler: EventHandler<ApiObject>;
  predicates: Predicate<ApiObject>[];
  registration?: HandlerRegistration;
}

export class Controller implements Runnable {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  readonly needLeaderElection: boolean;
  #o: ControllerOptions;
  #reconcile: ReconcileFunc;
  #watches: Watch[] = [];
  #started = false;
  #log: (msg: string) => void;
  #clock: Clock;

  constructor(opts: ControllerOptions) {
    if (!opts.name) throw new TypeError('a controller needs a name');
    this.#o = opts;
    this.name = opts.name;
    this.needLeaderElection = opts.needLeaderElection ?? true;
    this.#clock = opts.clock ?? realClock;
    this.queue = new WorkQueue<string>({ name: opts.name, clock: this.#clock, rateLimiter: opts.rateLimiter });
    const r = opts.reconciler;
    this.#reconcile = typeof r === 'function' ? r : (req, ctx) => r.reconcile(req, ctx);
    const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
    this.#log = (msg) => log(`controller ${opts.name}: ${msg}`);
  }

  /** Feeds the queue from `informer`'s events that pass `predicates`, through `handler`. */
  watch<T extends ApiObject>(informer: SharedInformer<T>, handler: EventHandler<T>, ...predicates: Predicate<T>[]): void {
    const w = { informer, handler, predicates } as unknown as Watch;
    this.#watches.push(w);
    if (this.#started) this.#register(w);
  }

  /** Adds a request directly (e.g. from a channel of external events). */
  enqueue(req: Request): void {
    this.queue.add(requestKey(req));
  }

  #register(w: Watch): void {
    const enqueue = (req: Request) => {
      if (req.name) this.queue.add(requestKey(req));
    };
    const { handler, predicates: p } = w;
    w.registration = w.informer.addEventHandler({
      onAdd: (obj) => passesCreate(p, obj) && handler.create(obj, enqueue),
      onUpdate: (o, n) => passesUpdate(p, o, n) && handler.update(o, n, enqueue),
      onDelete: (obj) => passesDelete(p, obj) && handler.delete(obj, enqueue),
    });
  }

  /** Runs until `signal` aborts, then drains (see the file's contract). Call once. */
  async start(signal: AbortSignal, ctx: RunnableContext = {}): Promise<void> {
    if (this.#started) throw new Error(`controller ${this.name} was already started`);
    this.#started = true;
    for (const w of this.#watches) this.#register(w);
    try {
      if (!(await this.#waitForSync(signal))) return;
      const hard = ctx.hardSignal ?? signal;
      const onAbort = () => this.queue.shutDown();
      if (signal.aborted) return;
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const n = Math.max(1, this.#o.maxConcurrentReconciles ?? 1);
        await Promise.all(Array.from({ length: n }, () => this.#worker(hard)));
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    } finally {
      this.queue.shutDown();
      for (const w of this.#watches) w.registration?.remove();
    }
  }

  async #waitForSync(signal: AbortSignal): Promise<boolean> {
    const timeoutMs = this.#o.cacheSyncTimeoutMs ?? defaultCacheSyncTimeoutMs;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = this.#clock.setTimeout(() => ctl.abort(new Error('timeout')), timeoutMs);
    try {
      const ok = (await Promise.all(this.#watches.map((w) => w.informer.waitForSync(ctl.signal)))).every(Boolean);
      if (ok) return true;
      if (signal.aborted) return false;
      throw new Error(`controller ${this.name}: timed out waiting for cache to be synced`);
    } finally {
      this.#clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async #worker(hard: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const req = requestOf(key);
      const ctx: ReconcileContext = { signal: hard, controller: this.name, log: (msg) => this.#log(`${key}: ${msg}`) };
      try {
        const r = await this.#reconcile(req, ctx);
        if (r && typeof r.requeueAfter === 'number' && r.requeueAfter > 0) {
          this.queue.forget(key);
          this.queue.addAfter(key, r.requeueAfter);
        } else if (r && r.requeue) {
          this.queue.addRateLimited(key);
        } else {
          this.queue.forget(key);
        }
      } catch (err) {
        if (isTerminalError(err)) {
          this.queue.forget(key);
          this.#log(`reconcile ${key}: ${(err as Error).message} (terminal, not retried)`);
        } else {
          this.queue.addRateLimited(key);
          this.#log(`reconcile ${key}: ${err instanceof Error ? err.message : String(err)} (retry ${this.queue.numRequeues(key)})`);
        }
      } finally {
        this.queue.done(key);
      }
    }
  }
}
