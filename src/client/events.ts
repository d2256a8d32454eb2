/**
 * Recording core/v1 Events about objects, as client-go's event recorder and EventCorrelator do
 * (simplified):
 *
 * - `event(obj, type, reason, message)` never blocks and never throws: the event is queued
 *   (at most `queueSize`; beyond that it is dropped and logged) and written in the background,
 *   one at a time, in order.
 * - Repeats of the same event (same source, object, type, reason and message) within the cache
 *   are folded into the first one: its `count` and `lastTimestamp` (and message) are patched
 *   instead of a new Event being created; if that Event is gone, a new one is created.
 * - Once more than `aggregateMaxEvents` distinct messages for the same (source, object, type,
 *   reason) arrive within `aggregateIntervalMs`, further ones are folded into one event whose
 *   message is prefixed "(combined from similar events): ".
 * - A token bucket per (source, object) — burst 25, one token per 5 minutes, as upstream's spam
 *   filter — drops events beyond it.
 * - The server rejecting an event (a StatusError) is logged and the event dropped; network
 *   errors are retried (`maxTries`, `retryDelayMs` apart).
 * Events are named `<object name>.<hex nanoseconds>` in the object's namespace (`default` for
 * cluster-scoped objects), with `source.component` and `reportingComponent` set to the component.
 */
import type { ApiObject, ObjectReference } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import { isAlreadyExists, isNotFound, StatusError } from '../api/errors.ts';
import { realClock, sleepUnlessAborted, type Clock } from './clock.ts';
import { TokenBucket } from './ratelimit.ts';
import type { Writer } from './rest.ts';
import { resources } from './resources.ts';

export type EventType = 'Normal' | 'Warning';

export type { ObjectReference };

/** What components depend on. */
export interface Recorder {
  /** Records an event about `obj` (an API object, or a reference to one). Never throws. */
  event(obj: ApiObject | ObjectReference, type: EventType, reason: string, message: string): void;
}

export interface EventRecorderOptions {
  /** source.component and reportingComponent, e.g. 'deployment-controller', 'kubelet'. */
  component: string;
  /** source.host and reportingInstance (a kubelet's node name); default none. */
  host?: string;
  /** Events waiting to be written before new ones are dropped. Default 1000. */
  queueSize?: number;
  /** Attempts per event on network errors. Default 12. */
  maxTries?: number;
  /** Delay between attempts (ms). Default 10 000. */
  retryDelayMs?: number;
  /** Spam filter per (source, object): bucket size and refill rate. Default 25 and 1/300 per s. */
  spamBurst?: number;
  spamQps?: number;
  /** Distinct messages per (source, object, type, reason) before aggregation. Default 10. */
  aggregateMaxEvents?: number;
  /** Default 600 000. */
  aggregateIntervalMs?: number;
  /** Entries kept in each correlation cache. Default 4096. */
  cacheSize?: number;
  clock?: Clock;
  log?: (msg: string) => void;
}

interface Seen {
  count: number;
  firstTimestamp: string;
  name: string;
  resourceVersion?: string;
}

interface Job {
  event: KubeObject;
  /** Set when the event repeats an earlier one: patch that one. */
  patch?: Record<string, unknown>;
  key: string;
}

const aggregatePrefix = '(combined from similar events):';

/** metav1.Time: RFC 3339, seconds precision, UTC. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** An ObjectReference for an API object (or the reference itself). */
export function referenceTo(obj: ApiObject | ObjectReference): ObjectReference {
  if (!('metadata' in obj) || !obj.metadata) return { ...(obj as ObjectReference) };
  const o = obj as ApiObject;
  const ref: ObjectReference = { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, uid: o.metadata.uid, apiVersion: o.apiVersion, resourceVersion: o.metadata.resourceVersion };
  for (const k of Object.keys(ref) as (keyof ObjectReference)[]) if (!ref[k]) delete ref[k];
  return ref;
}

/** Insertion-ordered map trimmed to `max` entries (oldest first out); `touch` moves an entry last. */
class Lru<V> {
  #m = new Map<string, V>();
  #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  get(k: string): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.#m.delete(k);
    this.#m.set(k, v);
    if (this.#m.size > this.#max) this.#m.delete(this.#m.keys().next().value!);
  }
}

export class EventRecorder implements Recorder {
  #client: Pick<Writer, 'create' | 'patch'>;
  #o: EventRecorderOptions;
  #clock: Clock;
  #log: (msg: string) => void;
  #pending: KubeObject[] = [];
  #busy = false;
  #idle: (() => void)[] = [];
  #closed = new AbortController();
  #lastNanos = 0n;
  #seen: Lru<Seen>;
  #aggregates: Lru<{ messages: Set<string>; last: number }>;
  #spam: Lru<TokenBucket>;

  constructor(client: Pick<Writer, 'create' | 'patch'>, opts: EventRecorderOptions) {
    if (!opts.component) throw new RangeError('an event recorder needs a component');
    this.#client = client;
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
    const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
    this.#log = (msg) => log(`events (${opts.component}): ${msg}`);
    const size = opts.cacheSize ?? 4096;
    this.#seen = new Lru(size);
    this.#aggregates = new Lru(size);
    this.#spam = new Lru(size);
  }

  event(obj: ApiObject | ObjectReference, type: EventType, reason: string, message: string): void {
    try {
      if (this.#closed.signal.aborted) return;
      if (type !== 'Normal' && type !== 'Warning') {
        this.#log(`unsupported event type ${JSON.stringify(type)}; dropped`);
        return;
      }
      const ref = referenceTo(obj);
      if (!ref.name || !ref.kind) {
        this.#log(`cannot refer to the object (kind ${ref.kind ?? '?'}, name ${ref.name ?? '?'}); event ${reason} dropped`);
        return;
      }
      if (this.#pending.length + (this.#busy ? 1 : 0) >= (this.#o.queueSize ?? 1000)) {
        this.#log(`too many queued events; dropped ${reason} for ${ref.kind}/${ref.name}`);
        return;
      }
      this.#pending.push(this.#make(ref, type, reason, message));
      if (!this.#busy) void this.#pump();
    } catch (err) {
      this.#log(`cannot record event: ${(err as Error)?.message ?? err}`);
    }
  }

  /** Resolves once every event recorded so far has been written (or dropped). */
  flush(): Promise<void> {
    if (!this.#busy && !this.#pending.length) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Writes what is queued (bounded by the retry policy), then stops accepting events. */
  async close(): Promise<void> {
    const grace = new AbortController();
    await Promise.race([this.flush(), sleepUnlessAborted(this.#o.retryDelayMs ?? 10_000, { clock: this.#clock, signal: grace.signal })]);
    grace.abort();
    this.#closed.abort();
    await this.flush();
  }

  #make(ref: ObjectReference, type: EventType, reason: string, message: string): KubeObject {
    const now = this.#clock.now();
    let nanos = BigInt(Math.floor(now)) * 1_000_000n;
    if (nanos <= this.#lastNanos) nanos = this.#lastNanos + 1n;
    this.#lastNanos = nanos;
    const t = rfc3339(now);
    const source: Record<string, string> = { component: this.#o.component };
    if (this.#o.host) source['host'] = this.#o.host;
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${ref.name}.${nanos.toString(16)}`, namespace: ref.namespace || 'default' },
      involvedObject: ref,
      reason,
      message,
      source,
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: this.#o.component,
      reportingInstance: this.#o.host ?? '',
    };
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    try {
      for (;;) {
        const ev = this.#pending.shift();
        if (!ev) break;
        const job = this.#correlate(ev);
        if (job) await this.#write(job);
      }
    } finally {
      this.#busy = false;
      for (const r of this.#idle.splice(0)) r();
    }
  }

  /** Aggregation, de-duplication and the spam filter. Null: drop the event. */
  #correlate(input: KubeObject): Job | null {
    const now = this.#clock.now();
    let ev = input;
    const ref = ev['involvedObject'] as ObjectReference;
    const src = ev['source'] as { component?: string; host?: string };
    const objectKey = [src.component, src.host, ref.kind, ref.namespace, ref.name, ref.uid, ref.apiVersion].join('\u0000');
    const groupKey = [objectKey, ref.fieldPath, ev['type'], ev['reason'], ev['reportingComponent'], ev['reportingInstance']].join('\u0000');

    // Aggregate: too many different messages for one (object, reason) become one event.
    const interval = this.#o.aggregateIntervalMs ?? 600_000;
    let agg = this.#aggregates.get(groupKey);
    if (!agg || now - agg.last > interval) agg = { messages: new Set(), last: now };
    agg.messages.add(String(ev['message']));
    agg.last = now;
    this.#aggregates.set(groupKey, agg);
    let key: string;
    if (agg.messages.size < (this.#o.aggregateMaxEvents ?? 10)) {
      key = `${groupKey}\u0000${String(ev['message'])}`;
    } else {
      ev = { ...ev, message: `${aggregatePrefix} ${String(ev['message'])}` };
      key = groupKey;
    }

    // De-duplicate: a repeat patches the first occurrence.
    const prev = this.#seen.get(key);
    let patch: Record<string, unknown> | undefined;
    if (prev) {
      ev = {
        ...ev,
        metadata: { ...ev.metadata, name: prev.name, resourceVersion: prev.resourceVersion },
        count: prev.count + 1,
        firstTimestamp: prev.firstTimestamp,
      };
      patch = { count: ev['count'], lastTimestamp: ev['lastTimestamp'], message: ev['message'] };
    }
    this.#seen.set(key, {
      count: ev['count'] as number,
      firstTimestamp: ev['firstTimestamp'] as string,
      name: ev.metadata.name!,
      resourceVersion: ev.metadata.resourceVersion,
    });

    // Spam filter per (source, object).
    let bucket = this.#spam.get(objectKey);
    if (!bucket) bucket = new TokenBucket({ qps: this.#o.spamQps ?? 1 / 300, burst: this.#o.spamBurst ?? 25, clock: this.#clock });
    this.#spam.set(objectKey, bucket);
    if (!bucket.tryTake()) return null;
    return { event: ev, patch, key };
  }

  async #write(job: Job): Promise<void> {
    const maxTries = this.#o.maxTries ?? 12;
    const delay = this.#o.retryDelayMs ?? 10_000;
    const ev = job.event;
    const namespace = ev.metadata.namespace!;
    for (let tries = 1; ; tries++) {
      try {
        let written: KubeObject | undefined;
        if (job.patch) {
          try {
            written = await this.#client.patch<KubeObject>(resources.events, ev.metadata.name!, job.patch, { namespace, type: 'merge' });
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }
        if (!written) {
          const { resourceVersion: _rv, ...metadata } = ev.metadata;
          written = await this.#client.create<KubeObject>(resources.events, { ...ev, metadata }, { namespace });
        }
        this.#seen.set(job.key, {
          count: (written['count'] as number | undefined) ?? (ev['count'] as number),
          firstTimestamp: (written['firstTimestamp'] as string | undefined) ?? (ev['firstTimestamp'] as string),
          name: written.metadata.name ?? ev.metadata.name!,
          resourceVersion: written.metadata.resourceVersion,
        });
        return;
      } catch (err) {
        if (err instanceof StatusError) {
          if (!isAlreadyExists(err)) this.#log(`server rejected event ${ev.metadata.name} (${err.reason}): ${err.message}; dropped`);
          return;
        }
        if (tries >= maxTries || this.#closed.signal.aborted) {
          this.#log(`cannot write event ${ev.metadata.name}: ${(err as Error)?.message ?? err}; giving up`);
          return;
        }
        const wait = tries === 1 ? delay * Math.random() : delay;
        if (!(await sleepUnlessAborted(wait, { clock: this.#clock, signal: this.#closed.signal }))) return;
      }
    }
  }
}
