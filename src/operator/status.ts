/**
 * Status writes that survive concurrent writers: `retryOnConflict` as client-go's
 * `retry.RetryOnConflict` with `retry.DefaultRetry` (5 tries, 10 ms apart, jitter 0.1), and
 * `updateStatus`, which reads the object fresh from the API server, applies `mutate` to a copy
 * and writes it to the status subresource, again from a fresh read when the write conflicts.
 *
 * Contract: `mutate` must be idempotent (it may run several times); when it leaves the status as
 * it was, nothing is written. Errors other than a Conflict are thrown at once; the last Conflict
 * after the last try is thrown. A NotFound object is thrown as NotFound (the caller decides).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ApiObject } from '../api/index.ts';
import { isConflict } from '../api/errors.ts';
import { realClock, sleep, type Clock, type Client, type ResourceDescriptor } from '../client/index.ts';

export interface Backoff {
  /** Attempts in all. Default 5. */
  steps?: number;
  /** Delay before the second attempt (ms). Default 10. */
  durationMs?: number;
  /** Each delay is the previous one times this. Default 1. */
  factor?: number;
  /** Up to this fraction added at random to each delay. Default 0.1. */
  jitter?: number;
  /** Cap on a delay (ms). Default none. */
  capMs?: number;
}

/** client-go's retry.DefaultRetry. */
export const defaultRetry: Required<Omit<Backoff, 'capMs'>> = { steps: 5, durationMs: 10, factor: 1, jitter: 0.1 };

/**
 * Runs `fn` until it succeeds, throws something other than a Conflict, or `backoff.steps`
 * attempts have conflicted (the last Conflict is thrown).
 */
export async function retryOnConflict<R>(fn: () => Promise<R>, opts: { backoff?: Backoff; clock?: Clock; signal?: AbortSignal; retriable?: (err: unknown) => boolean } = {}): Promise<R> {
  const b = { ...defaultRetry, ...opts.backoff };
  const retriable = opts.retriable ?? isConflict;
  let delay = b.durationMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!retriable(err) || attempt >= b.steps) throw err;
    }
    let d = delay * (1 + Math.random() * b.jitter);
    if (b.capMs !== undefined) d = Math.min(d, b.capMs);
    await sleep(d, { clock: opts.clock ?? realClock, signal: opts.signal });
    delay *= b.factor;
  }
}

/**
 * Reads `key` fresh, lets `mutate` change a copy's status (or anything; only status is written),
 * and writes it to the status subresource when it changed, retrying on conflict. Resolves to the
 * object as written (or as read, when unchanged).
 */
export async function updateStatus<T extends ApiObject>(
  client: Pick<Client, 'get' | 'updateStatus'>,
  res: ResourceDescriptor,
  key: { namespace?: string; name: string },
  mutate: (obj: T) => void | Promise<void>,
  opts: { backoff?: Backoff; clock?: Clock; signal?: AbortSignal } = {},
): Promise<T> {
  return retryOnConflict(async () => {
    const current = await client.get<T>(res, key.name, { namespace: key.namespace || undefined, signal: opts.signal });
    const next = structuredClone(current);
    await mutate(next);
    if (isDeepStrictEqual((current as { status?: unknown }).status, (next as { status?: unknown }).status)) return current;
    return client.updateStatus<T>(res, next, { signal: opts.signal });
  }, opts);
}
