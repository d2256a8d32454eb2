/**
 * The clock every timer-driven part of the client takes (work queue delays, rate limiters,
 * informer resync, leader election, event timestamps), so tests can step time instead of
 * sleeping. `realClock` is the system clock; `FakeClock` only moves when `step` is called and
 * fires due timers in time order, synchronously, inside `step`.
 */

export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms` (clamped to ≥ 0). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/** A manual clock for tests. Timers scheduled with 0 ms fire on the next `step` (even `step(0)`). */
export class FakeClock implements Clock {
  #now: number;
  #timers: FakeTimer[] = [];
  #nextId = 1;

  constructor(startMs = Date.UTC(2025, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: FakeTimer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(t);
    return { id: t.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { id?: number }).id;
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Advances time by `ms`, firing every timer that falls due, earliest first (ties in creation order). */
  step(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.#timers) if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = target;
  }
}

/**
 * Resolves after `ms` on `clock`; rejects with the signal's reason when `signal` aborts first.
 */
export function sleep(ms: number, opts: { clock?: Clock; signal?: AbortSignal } = {}): Promise<void> {
  const clock = opts.clock ?? realClock;
  const signal = opts.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0 && clock === realClock) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(h);
      reject(signal!.reason);
    };
    const h = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Like `sleep` but resolves (to false) instead of rejecting when `signal` aborts; true when the time passed. */
export async function sleepUnlessAborted(ms: number, opts: { clock?: Clock; signal?: AbortSignal } = {}): Promise<boolean> {
  try {
    await sleep(ms, opts);
    return true;
  } catch {
    return false;
  }
}
