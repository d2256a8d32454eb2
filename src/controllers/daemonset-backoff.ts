/**
 * Per-key exponential backoff, as client-go's flowcontrol.Backoff, for the DaemonSet controller's
 * failed pods (upstream failedPodsBackoff: 1 s doubling to 15 min, keyed by DaemonSet uid,
 * observed generation and node): a failed daemon pod is deleted (and so recreated) at once the
 * first time, then only when the node's delay has passed since the last deletion.
 *
 * Bounded: an entry untouched for twice the maximum delay has expired (it starts over at the
 * initial delay) and `gc` drops it; past `maxEntries` the least recently updated entries are
 * dropped first, which only ever makes a delay start over.
 */
import { realClock, type Clock } from '../client/index.ts';

/** Upstream's flowcontrol.NewBackOff(1*time.Second, 15*time.Minute) for failed daemon pods. */
export const failedPodsBackoffInitialMs = 1_000;
export const failedPodsBackoffMaxMs = 15 * 60_000;
/** Upstream BackoffGCInterval. */
export const backoffGcIntervalMs = 60_000;
/** Entries kept at most (Bosun's bound; upstream relies on gc alone). */
export const backoffMaxEntries = 10_000;

interface Entry {
  delay: number;
  lastUpdate: number;
}

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  maxEntries?: number;
  clock?: Clock;
}

export class Backoff {
  /** In insertion order = least recently updated first (entries are re-inserted on update). */
  #entries = new Map<string, Entry>();
  #initial: number;
  #max: number;
  #maxEntries: number;
  readonly clock: Clock;

  constructor(opts: BackoffOptions = {}) {
    this.#initial = opts.initialMs ?? failedPodsBackoffInitialMs;
    this.#max = opts.maxMs ?? failedPodsBackoffMaxMs;
    this.#maxEntries = opts.maxEntries ?? backoffMaxEntries;
    this.clock = opts.clock ?? realClock;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The key's current delay (0 without an entry). */
  get(key: string): number {
    return this.#entries.get(key)?.delay ?? 0;
  }

  #expired(e: Entry, now: number): boolean {
    return now - e.lastUpdate > 2 * this.#max;
  }

  /** Upstream IsInBackOffSinceUpdate: the key's delay has not yet passed since its last update. */
  inBackoffSinceUpdate(key: string, now = this.clock.now()): boolean {
    const e = this.#entries.get(key);
    if (!e || this.#expired(e, now)) return false;
    return now - e.lastUpdate < e.delay;
  }

  /** Upstream Next: starts the key at the initial delay (or after expiry), else doubles it up to the maximum. */
  next(key: string, now = this.clock.now()): void {
    const e = this.#entries.get(key);
    const delay = !e || this.#expired(e, now) ? this.#initial : Math.min(e.delay * 2, this.#max);
    this.#entries.delete(key);
    this.#entries.set(key, { delay, lastUpdate: now });
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Upstream GC: drops expired entries. */
  gc(now = this.clock.now()): void {
    for (const [k, e] of this.#entries) if (this.#expired(e, now)) this.#entries.delete(k);
  }
}
