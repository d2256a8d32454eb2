/**
 * Recording core/v1 Events about objects, as client-go's tools/record does (EventRecorder →
 * EventBroadcaster → EventCorrelator → EventSink), with upstream's rules and bounds:
 *
 * - `event(obj, type, reason, message)` never blocks and never throws. At most `queueSize`
 *   (upstream's maxQueuedEvents, 1000) events wait to be written; beyond that an event is dropped
 *   ("too many queued events"). Events are written in the background, one at a time, in order.
 * - Correlation (upstream's EventCorrelate), in order:
 *   1. Aggregation (EventAggregator): events that differ only by message — same source, object
 *      (without fieldPath), type, reason, reporting component and instance — are counted per
 *      group; once `aggregateMaxEvents` (10) distinct messages were seen within
 *      `aggregateIntervalMs` (10 minutes) of each other, the event becomes one about the group,
 *      with the message "(combined from similar events): <message>", a fresh name, and (as
 *      upstream) no reporting component/instance. A group keeps at most that many messages.
 *   2. Counting (eventLogger): a repeat of an event seen before (same source, object, type,
 *      reason, message — or the same aggregate group) is written as a patch of the first
 *      occurrence: `count` + 1, `lastTimestamp` and `message`, under the first one's name and
 *      firstTimestamp. If that Event is gone (404) it is created again.
 *   3. The spam filter (EventSourceObjectSpamFilter): a token bucket per (source, object), burst
 *      25 and one token per 5 minutes; an event without a token is dropped (it still counts).
 *   Each of the three caches is an LRU of `cacheSize` (4096) entries, so memory is bounded
 *   whatever the number of objects.
 * - The sink: a StatusError from the server (invalid, forbidden, already exists, namespace
 *   terminating) drops the event; other errors are retried up to `maxTries` (12) times, the first
 *   wait a random fraction of `retryDelayMs` (10 s), then `retryDelayMs`.
 *
 * Departures from upstream, each to save work or memory at scale, none visible in the stored
 * Events' final state: correlation runs when the event is recorded (upstream: when the sink
 * takes it from the queue), so filtered events never take a queue slot; a repeat of an event
 * still waiting in the queue updates that queued write instead of adding one; a full queue logs
 * the first drop and then a count, not one line per event; aggregation forgets its oldest
 * message (upstream: an arbitrary one); the server's answer to a write updates the remembered
 * name and resourceVersion but never lowers a count that later repeats already raised.
 *
 * Events are named `<object name>.<hex nanoseconds>` in the object's namespace (`default` for
 * cluster-scoped objects), with `source.component` and `reportingComponent` set to the component.
 */
import type { ApiObject, Event, ObjectReference } from '../api/index.ts';
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

/** Upstream's bounds (client-go tools/record event.go and events_cache.go). */
export const maxQueuedEvents = 1000;
export const maxTriesPerEvent = 12;
export const defaultSleepDurationMs = 10_000;
export const maxLruCacheEntries = 4096;
export const defaultAggregateMaxEvents = 10;
export const defaultAggregateIntervalMs = 600_000;
export const defaultSpamBurst = 25;
export const defaultSpamQps = 1 / 300;
export const aggregateMessagePrefix = '(combined from similar events): ';

export interface EventRecorderOptions {
  /** source.component and reportingComponent, e.g. 'deployment-controller', 'kubelet'. */
  component: string;
  /** source.host and reportingInstance (a kubelet's node name); default none. */
  host?: string;
  /** Events waiting to be written before new ones are dropped. Default 1000. */
  queueSize?: number;
  /** Attempts per event on errors other than a StatusError. Default 12. */
  maxTries?: number;
  /** Delay between attempts (ms); the first is a random fraction of it. Default 10 000. */
  retryDelayMs?: number;
  /** Spam filter per (source, object): bucket size and refill rate. Default 25 and 1/300 per s. */
  spamBurst?: number;
  spamQps?: number;
  /** Distinct messages per (source, object, type, reason) before aggregation. Default 10. */
  aggregateMaxEvents?: number;
  /** Quiet time after which an aggregation group starts afresh. Default 600 000. */
  aggregateIntervalMs?: number;
  /** Entries kept in each correlation cache (LRU). Default 4096. */
  cacheSize?: number;
  clock?: Clock;
  log?: (msg: string) => void;
  /** Returns a number in [0, 1) for the first retry's jitter; default Math.random. */
  random?: () => number;
}

/** The event logger's memory of one event (upstream's eventLog). */
interface Seen {
  count: number;
  firstTimestamp: string;
  name: string;
  resourceVersion?: string;
}

interface AggregateRecord {
  /** Distinct messages seen in the group, oldest first; fewer than aggregateMaxEvents. */
  messages: string[];
  last: number;
}

/** One write to the server: a create, or (`patch` set) a patch of an earlier occurrence. */
interface Job {
  event: Event;
  patch?: { count: number; lastTimestamp: string; message: string };
  /** The event logger's key, to update with the server's answer. */
  key: string;
}

let lastSecond = NaN;
let lastSecondText = '';

/** metav1.Time: RFC 3339, seconds precision, UTC. */
export function rfc3339(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecondText = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
    lastSecond = second;
  }
  return lastSecondText;
}

/** An ObjectReference for an API object (or a copy of the reference itself); empty fields left out. */
export function referenceTo(obj: ApiObject | ObjectReference): ObjectReference {
  if (!('metadata' in obj) || !obj.metadata) return { ...(obj as ObjectReference) };
  const o = obj as ApiObject;
  const m = o.metadata;
  const ref: ObjectReference = {};
  if (o.kind) ref.kind = o.kind;
  if (m.namespace) ref.namespace = m.namespace;
  if (m.name) ref.name = m.name;
  if (m.uid) ref.uid = m.uid;
  if (o.apiVersion) ref.apiVersion = o.apiVersion;
  if (m.resourceVersion) ref.resourceVersion = m.resourceVersion;
  return ref;
}

/**
 * A Map trimmed to `max` entries, least recently used first out (groupcache's lru.Cache). `get`
 * counts as a use; values are meant to be updated in place after it.
 */
export class Lru<V> {
  #m = new Map<string, V>();
  #max: number;
  constructor(max: number) {
    this.#max = Math.max(1, max);
  }
  get size(): number {
    return this.#m.size;
  }
  get(k: string): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }
  /** Like `get`, without counting as a use. */
  peek(k: string): V | undefined {
    return this.#m.get(k);
  }
  set(k: string, v: V): void {
    this.#m.delete(k);
    this.add(k, v);
  }
  /** `set` for a key known to be absent (one lookup fewer). */
  add(k: string, v: V): void {
    this.#m.set(k, v);
    if (this.#m.size > this.#max) this.#m.delete(this.#m.keys().next().value!);
  }
}

const sep = '\u0000';

export class EventRecorder implements Recorder {
  #client: Pick<Writer, 'create' | 'patch'>;
  #component: string;
  #host: string | undefined;
  #source: { component: string; host?: string };
  #queueSize: number;
  #maxTries: number;
  #retryDelayMs: number;
  #spamBurst: number;
  #spamQps: number;
  #aggregateMaxEvents: number;
  #aggregateIntervalMs: number;
  #random: () => number;
  #clock: Clock;
  #log: (msg: string) => void;
  #pending: Job[] = [];
  /** Queued jobs not yet started, by event logger key (a repeat updates them in place). */
  #queuedByKey = new Map<string, Job>();
  #busy = false;
  #idle: (() => void)[] = [];
  #closed = new AbortController();
  #lastNanos = 0n;
  #dropped = 0;
  #seen: Lru<Seen>;
  #aggregates: Lru<AggregateRecord>;
  #spam: Lru<TokenBucket>;

  constructor(client: Pick<Writer, 'create' | 'patch'>, opts: EventRecorderOptions) {
    if (!opts.component) throw new RangeError('an event recorder needs a component');
    this.#client = client;
    this.#component = opts.component;
    this.#host = opts.host || undefined;
    this.#source = this.#host ? { component: opts.component, host: this.#host } : { component: opts.component };
    this.#queueSize = opts.queueSize ?? maxQueuedEvents;
    this.#maxTries = opts.maxTries ?? maxTriesPerEvent;
    this.#retryDelayMs = opts.retryDelayMs ?? defaultSleepDurationMs;
    this.#spamBurst = opts.spamBurst ?? defaultSpamBurst;
    this.#spamQps = opts.spamQps ?? defaultSpamQps;
    this.#aggregateMaxEvents = opts.aggregateMaxEvents ?? defaultAggregateMaxEvents;
    this.#aggregateIntervalMs = opts.aggregateIntervalMs ?? defaultAggregateIntervalMs;
    this.#random = opts.random ?? Math.random;
    this.#clock = opts.clock ?? realClock;
    const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
    this.#log = (msg) => log(`events (${opts.component}): ${msg}`);
    const size = opts.cacheSize ?? maxLruCacheEntries;
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
      if (this.#pending.length + (this.#busy ? 1 : 0) >= this.#queueSize) {
        if (this.#dropped++ === 0) this.#log(`too many queued events; dropped ${reason} for ${ref.kind}/${ref.name} (and any more until the queue drains)`);
        return;
      }
      if (this.#dropped) this.#reportDropped();
      const job = this.#correlate(this.#make(ref, type, reason, message));
      if (!job) return;
      const queued = job.patch && this.#queuedByKey.get(job.key);
      if (queued) {
        // A repeat of an event still waiting: write its latest state once.
        if (queued.patch) queued.patch = job.patch;
        else queued.event = { ...job.event, metadata: queued.event.metadata };
        return;
      }
      this.#queuedByKey.set(job.key, job);
      this.#pending.push(job);
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

  /** Writes what is queued (bounded by one retry delay), then stops accepting events. */
  async close(): Promise<void> {
    const grace = new AbortController();
    await Promise.race([this.flush(), sleepUnlessAborted(this.#retryDelayMs, { clock: this.#clock, signal: grace.signal })]);
    grace.abort();
    this.#closed.abort();
    await this.flush();
  }

  /** Entries in the correlation caches and the queue (each bounded). */
  get sizes(): { queued: number; logged: number; aggregates: number; spam: number } {
    return { queued: this.#pending.length, logged: this.#seen.size, aggregates: this.#aggregates.size, spam: this.#spam.size };
  }

  /** A unique `<name>.<hex nanoseconds>` for now (strictly increasing within this recorder). */
  #name(objectName: string, now: number): string {
    let nanos = BigInt(Math.floor(now)) * 1_000_000n;
    if (nanos <= this.#lastNanos) nanos = this.#lastNanos + 1n;
    this.#lastNanos = nanos;
    return `${objectName}.${nanos.toString(16)}`;
  }

  #make(ref: ObjectReference, type: EventType, reason: string, message: string): Event {
    const now = this.#clock.now();
    const t = rfc3339(now);
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: this.#name(ref.name!, now), namespace: ref.namespace || 'default' },
      involvedObject: ref,
      reason,
      message,
      source: this.#source,
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: this.#component,
      reportingInstance: this.#host ?? '',
    };
  }

  /** Aggregation, counting and the spam filter (upstream's EventCorrelate). Null: drop the event. */
  #correlate(input: Event): Job | null {
    const now = this.#clock.now();
    let ev = input;
    const ref = ev.involvedObject;
    const spamKey = `${this.#component}${sep}${this.#host ?? ''}${sep}${ref.kind}${sep}${ref.namespace ?? ''}${sep}${ref.name}${sep}${ref.uid ?? ''}${sep}${ref.apiVersion ?? ''}`;
    const aggregateKey = `${spamKey}${sep}${ev.type}${sep}${ev.reason}${sep}${ev.reportingComponent}${sep}${ev.reportingInstance}`;
    let key = `${spamKey}${sep}${ref.fieldPath ?? ''}${sep}${ev.type}${sep}${ev.reason}${sep}${ev.message}`;

    // 1. Aggregation: many messages for one (object, reason) become one event.
    let agg = this.#aggregates.get(aggregateKey);
    if (!agg) this.#aggregates.add(aggregateKey, (agg = { messages: [], last: now }));
    else if (now - agg.last > this.#aggregateIntervalMs) agg.messages.length = 0;
    const known = agg.messages.indexOf(ev.message!);
    if (known >= 0) agg.messages.splice(known, 1);
    agg.messages.push(ev.message!);
    agg.last = now;
    if (agg.messages.length >= this.#aggregateMaxEvents) {
      agg.messages.shift();
      const t = rfc3339(now);
      ev = {
        apiVersion: 'v1',
        kind: 'Event',
        // Upstream names the combined event afresh from the time now, which is when this one was made.
        metadata: { name: ev.metadata.name, namespace: ev.metadata.namespace },
        involvedObject: ref,
        reason: ev.reason,
        message: aggregateMessagePrefix + ev.message,
        source: ev.source,
        firstTimestamp: t,
        lastTimestamp: t,
        count: 1,
        type: ev.type,
        eventTime: null,
      };
      key = aggregateKey;
    }

    // 2. Counting: a repeat patches the first occurrence.
    const prev = this.#seen.get(key);
    let patch: Job['patch'];
    if (prev) {
      prev.count++;
      ev = { ...ev, metadata: { name: prev.name, namespace: ev.metadata.namespace, resourceVersion: prev.resourceVersion }, count: prev.count, firstTimestamp: prev.firstTimestamp };
      patch = { count: prev.count, lastTimestamp: ev.lastTimestamp!, message: ev.message! };
    } else {
      this.#seen.add(key, { count: 1, firstTimestamp: ev.firstTimestamp!, name: ev.metadata.name! });
    }

    // 3. The spam filter per (source, object).
    let bucket = this.#spam.get(spamKey);
    if (!bucket) this.#spam.add(spamKey, (bucket = new TokenBucket({ qps: this.#spamQps, burst: this.#spamBurst, clock: this.#clock })));
    if (!bucket.tryTake()) return null;
    return { event: ev, patch, key };
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    try {
      for (;;) {
        const job = this.#pending.shift();
        if (!job) break;
        if (this.#queuedByKey.get(job.key) === job) this.#queuedByKey.delete(job.key);
        await this.#write(job);
      }
    } finally {
      this.#busy = false;
      if (this.#dropped) this.#reportDropped();
      for (const r of this.#idle.splice(0)) r();
    }
  }

  /** Ends a run of drops: one line with their number (the first was logged when it happened). */
  #reportDropped(): void {
    if (this.#dropped > 1) this.#log(`too many queued events; dropped ${this.#dropped} events in all`);
    this.#dropped = 0;
  }

  /** The sink (upstream's recordToSink and recordEvent). */
  async #write(job: Job): Promise<void> {
    const ev = job.event;
    const namespace = ev.metadata.namespace!;
    for (let tries = 1; ; tries++) {
      try {
        let written: Event | undefined;
        if (job.patch) {
          try {
            written = await this.#client.patch<Event>(resources.events, ev.metadata.name!, job.patch, { namespace, type: 'merge' });
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        }
        if (!written) {
          const { resourceVersion: _rv, ...metadata } = ev.metadata;
          const body = job.patch ? { ...ev, ...job.patch, metadata } : { ...ev, metadata };
          written = await this.#client.create<Event>(resources.events, body, { namespace });
        }
        this.#updateState(job.key, written, ev);
        return;
      } catch (err) {
        if (err instanceof StatusError) {
          if (!isAlreadyExists(err) && !isNamespaceTerminating(err)) this.#log(`server rejected event ${ev.metadata.name} (${err.reason}): ${err.message}; dropped`);
          return;
        }
        if (tries >= this.#maxTries) {
          this.#log(`cannot write event ${ev.metadata.name}: ${(err as Error)?.message ?? err}; retry limit exceeded, dropped`);
          return;
        }
        // The first wait is random so that clients do not retry in step after an outage.
        const wait = tries === 1 ? this.#retryDelayMs * this.#random() : this.#retryDelayMs;
        if (this.#closed.signal.aborted || !(await sleepUnlessAborted(wait, { clock: this.#clock, signal: this.#closed.signal }))) {
          this.#log(`cannot write event ${ev.metadata.name}: ${(err as Error)?.message ?? err}; recorder closed, dropped`);
          return;
        }
      }
    }
  }

  /** Remembers the server's name and resourceVersion for the next repeat; never lowers the count. */
  #updateState(key: string, written: Event | undefined, ev: Event): void {
    const name = written?.metadata?.name ?? ev.metadata.name!;
    const count = written?.count ?? ev.count ?? 1;
    const resourceVersion = written?.metadata?.resourceVersion;
    const cur = this.#seen.peek(key);
    if (!cur) {
      this.#seen.add(key, { count, firstTimestamp: written?.firstTimestamp ?? ev.firstTimestamp!, name, resourceVersion });
      return;
    }
    cur.name = name;
    cur.resourceVersion = resourceVersion;
    if (cur.count < count) cur.count = count;
  }
}

/** A StatusError with the NamespaceTerminating cause (upstream drops those quietly). */
function isNamespaceTerminating(err: StatusError): boolean {
  return (err.status.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating');
}
