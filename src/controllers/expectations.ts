/**
 * Controller expectations, as upstream's ControllerExpectations and
 * UIDTrackingControllerExpectations (pkg/controller/controller_utils.go): what a controller is
 * still waiting to see in its informer cache after its own creates and deletes, per controller
 * key. While expectations are pending (and younger than `expectationsTimeoutMs`) the controller
 * must not act on counts from its cache, which may not yet show its own writes.
 *
 * Contract (the bookkeeping must balance exactly, or a controller stalls until the timeout):
 * - `expectCreations(key, n)` / `expectDeletions(key, podKeys)` replace the key's record; call
 *   them before the writes, so a watch event that arrives before the write call returns is
 *   counted against the new record (once).
 * - Every expected create ends as exactly one `creationObserved`: from the watch when the object
 *   shows up, or from the controller when the create failed or was never attempted.
 * - Deletions are tracked by pod key: `deletionObserved(key, podKey)` lowers the count only the
 *   first time that pod is reported (a pod seen terminating and later gone counts once), and
 *   only for pods this controller asked to delete.
 * - Lowering a key without a record is a no-op; counts may go below zero and still count as
 *   fulfilled. A record older than the timeout counts as satisfied (upstream's safety net).
 */
import { realClock, type Clock } from '../client/index.ts';

/** Upstream ExpectationsTimeout: pending expectations older than this are ignored. */
export const expectationsTimeoutMs = 5 * 60_000;

interface Counts {
  add: number;
  del: number;
  at: number;
}

export interface ExpectationsOptions {
  clock?: Clock;
  /** Default `expectationsTimeoutMs`. */
  timeoutMs?: number;
}

export class ControllerExpectations {
  #records = new Map<string, Counts>();
  #clock: Clock;
  #timeoutMs: number;

  constructor(opts: ExpectationsOptions = {}) {
    this.#clock = opts.clock ?? realClock;
    this.#timeoutMs = opts.timeoutMs ?? expectationsTimeoutMs;
  }

  /** True when the controller may act on its cache: no record, all observed, or the record expired. */
  satisfied(key: string): boolean {
    const e = this.#records.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del <= 0) return true;
    return this.#clock.now() - e.at > this.#timeoutMs;
  }

  /** The pending counts (for tests and logs); undefined without a record. */
  get(key: string): { add: number; del: number } | undefined {
    const e = this.#records.get(key);
    return e && { add: e.add, del: e.del };
  }

  /** Replaces the key's record. */
  set(key: string, add: number, del: number): void {
    this.#records.set(key, { add, del, at: this.#clock.now() });
  }

  expectCreations(key: string, n: number): void {
    this.set(key, n, 0);
  }

  lower(key: string, add: number, del: number): void {
    const e = this.#records.get(key);
    if (!e) return;
    e.add -= add;
    e.del -= del;
  }

  raise(key: string, add: number, del: number): void {
    const e = this.#records.get(key);
    if (!e) return;
    e.add += add;
    e.del += del;
  }

  creationObserved(key: string): void {
    this.lower(key, 1, 0);
  }

  delete(key: string): void {
    this.#records.delete(key);
  }
}

/** ControllerExpectations whose deletions are tracked per pod key, so each counts once. */
export class UIDTrackingExpectations extends ControllerExpectations {
  #pending = new Map<string, Set<string>>();

  /** Expects exactly these pods (by `namespace/name`) to be deleted; replaces the key's record. */
  expectDeletions(key: string, podKeys: readonly string[]): void {
    this.#pending.set(key, new Set(podKeys));
    this.set(key, 0, podKeys.length);
  }

  /** A pod this controller expected to delete is gone or terminating (or its delete failed). */
  deletionObserved(key: string, podKey: string): void {
    const s = this.#pending.get(key);
    if (!s?.delete(podKey)) return;
    this.lower(key, 0, 1);
  }

  /** Pod keys still expected to be deleted. */
  pendingDeletions(key: string): ReadonlySet<string> {
    return this.#pending.get(key) ?? new Set();
  }

  override delete(key: string): void {
    super.delete(key);
    this.#pending.delete(key);
  }
}

/** Upstream SlowStartInitialBatchSize. */
export const slowStartInitialBatchSize = 1;

/**
 * Upstream slowStartBatch: calls `fn` `count` times in batches of 1, 2, 4, ... (each batch
 * concurrently), stopping after the first batch with a failure. Returns how many calls succeeded
 * and the first error; calls never attempted count as neither.
 */
export async function slowStartBatch(count: number, initialBatchSize: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initialBatchSize); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += batch - failed.length;
    if (failed.length) return { successes, error: failed[0]!.reason };
    remaining -= batch;
  }
  return { successes };
}
