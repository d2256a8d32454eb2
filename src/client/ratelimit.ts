/**
 * Rate limiting, as client-go does it:
 * - `TokenBucket`: `qps` tokens per second, at most `burst` banked, starting full. `reserve()`
 *   takes a token now and says how long the caller must wait for it (reservations queue up, so
 *   N callers get evenly spaced delays); `tryTake()` takes one only when available at once.
 * - `RateLimiter<T>`: per-item delays for a work queue (`when` counts a failure and returns the
 *   delay; `forget` clears the item's history). `itemExponentialRateLimiter` (5 ms doubling to
 *   1000 s), `bucketRateLimiter` (10 qps, burst 100, shared by all items), `maxOfRateLimiters`,
 *   and `defaultControllerRateLimiter` = the max of the first two, client-go's default.
 * All take an injected clock; none keeps timers.
 */
import { realClock, sleep, type Clock } from './clock.ts';

export interface TokenBucketOptions {
  /** Tokens per second; `Infinity` or ≤ 0 disables limiting. */
  qps: number;
  /** Bucket size (≥ 1). */
  burst: number;
  clock?: Clock;
}

export class TokenBucket {
  #qps: number;
  #burst: number;
  #tokens: number;
  #last: number;
  #clock: Clock;

  constructor(opts: TokenBucketOptions) {
    this.#qps = opts.qps;
    this.#burst = Math.max(1, opts.burst);
    this.#tokens = this.#burst;
    this.#clock = opts.clock ?? realClock;
    this.#last = this.#clock.now();
  }

  get unlimited(): boolean {
    return !(this.#qps > 0) || this.#qps === Infinity;
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = now - this.#last;
    this.#last = now;
    if (elapsed > 0) this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#qps) / 1000);
  }

  /** Takes a token (possibly one not yet earned) and returns the wait in ms before using it. */
  reserve(): number {
    if (this.unlimited) return 0;
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.#qps;
  }

  /** Takes a token only if one is available now. */
  tryTake(): boolean {
    if (this.unlimited) return true;
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Waits for a token; rejects with the signal's reason when aborted (the token is not returned). */
  async wait(signal?: AbortSignal): Promise<void> {
    const ms = this.reserve();
    if (ms > 0) await sleep(ms, { clock: this.#clock, signal });
  }
}

/** Per-item delays for a rate-limited work queue. */
export interface RateLimiter<T> {
  /** Records one more failure of `item` and returns how long to wait (ms) before retrying it. */
  when(item: T): number;
  /** Clears `item`'s failure history (call on success). */
  forget(item: T): void;
  /** Failures recorded for `item` since it was last forgotten. */
  numRequeues(item: T): number;
}

/** `baseMs · 2^failures`, capped at `maxMs`, per item. */
export function itemExponentialRateLimiter<T>(baseMs = 5, maxMs = 1000_000): RateLimiter<T> {
  const failures = new Map<T, number>();
  return {
    when(item) {
      const n = failures.get(item) ?? 0;
      failures.set(item, n + 1);
      const d = baseMs * 2 ** n;
      return Number.isFinite(d) && d < maxMs ? d : maxMs;
    },
    forget(item) {
      failures.delete(item);
    },
    numRequeues(item) {
      return failures.get(item) ?? 0;
    },
  };
}

/** One token bucket shared by all items: bounds the overall retry rate. */
export function bucketRateLimiter<T>(qps = 10, burst = 100, clock: Clock = realClock): RateLimiter<T> {
  const bucket = new TokenBucket({ qps, burst, clock });
  return {
    when: () => bucket.reserve(),
    forget: () => {},
    numRequeues: () => 0,
  };
}

/** The largest delay of several limiters (every limiter records the failure). */
export function maxOfRateLimiters<T>(...limiters: RateLimiter<T>[]): RateLimiter<T> {
  return {
    when(item) {
      let d = 0;
      for (const l of limiters) d = Math.max(d, l.when(item));
      return d;
    },
    forget(item) {
      for (const l of limiters) l.forget(item);
    },
    numRequeues(item) {
      let n = 0;
      for (const l of limiters) n = Math.max(n, l.numRequeues(item));
      return n;
    },
  };
}

/** client-go's default controller limiter: per-item 5 ms → 1000 s, overall 10 qps with burst 100. */
export function defaultControllerRateLimiter<T>(clock: Clock = realClock): RateLimiter<T> {
  return maxOfRateLimiters<T>(itemExponentialRateLimiter<T>(5, 1000_000), bucketRateLimiter<T>(10, 100, clock));
}
