/**
 * The event recorder's rules, one table or test per rule of client-go's tools/record, against a
 * fake sink (an in-memory Event store) and a fake clock: counting repeats, aggregation (threshold,
 * interval, bounded message set), the spam filter (burst, refill, per object), the bounded queue
 * (drops, never blocking the caller, coalescing queued repeats), LRU-bounded caches, and the
 * sink's retries. A last test writes through a real `bosun server` to check the wire shapes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import { alreadyExists, invalid, notFound, statusError } from '../api/errors.ts';
import { FakeClock } from './clock.ts';
import {
  aggregateMessagePrefix,
  defaultSpamBurst,
  EventRecorder,
  Lru,
  maxLruCacheEntries,
  referenceTo,
  rfc3339,
  type EventRecorderOptions,
} from './events.ts';
import type { ResourceDescriptor } from './rest.ts';

const t0 = Date.UTC(2025, 5, 1, 12, 0, 0);

interface Call {
  op: 'create' | 'patch';
  name: string;
  namespace?: string;
  body: Record<string, unknown>;
}

/** An in-memory Event store with the two calls the recorder makes; `fail` queues errors, `hold` parks calls. */
class FakeSink {
  calls: Call[] = [];
  events = new Map<string, Event>();
  fail: unknown[] = [];
  #held: (() => void)[] = [];
  holding = false;
  #rv = 0;

  async #gate(): Promise<void> {
    if (this.holding) await new Promise<void>((r) => this.#held.push(r));
    const err = this.fail.shift();
    if (err) throw err;
  }
  release(): void {
    this.holding = false;
    for (const r of this.#held.splice(0)) r();
  }
  async create<T>(_res: ResourceDescriptor, obj: T, opts?: { namespace?: string }): Promise<T> {
    const ev = obj as Event;
    this.calls.push({ op: 'create', name: ev.metadata.name!, namespace: opts?.namespace, body: structuredClone(ev) as Record<string, unknown> });
    await this.#gate();
    if (this.events.has(ev.metadata.name!)) throw alreadyExists({ group: '', resource: 'events' }, ev.metadata.name!);
    const stored = { ...structuredClone(ev), metadata: { ...ev.metadata, resourceVersion: String(++this.#rv) } };
    this.events.set(ev.metadata.name!, stored);
    return stored as T;
  }
  async patch<T>(_res: ResourceDescriptor, name: string, patch: unknown, opts: { namespace?: string }): Promise<T> {
    this.calls.push({ op: 'patch', name, namespace: opts.namespace, body: structuredClone(patch) as Record<string, unknown> });
    await this.#gate();
    const cur = this.events.get(name);
    if (!cur) throw notFound({ group: '', resource: 'events' }, name);
    const next = { ...cur, ...(patch as object), metadata: { ...cur.metadata, resourceVersion: String(++this.#rv) } } as Event;
    this.events.set(name, next);
    return next as T;
  }
  messages(): string[] {
    return [...this.events.values()].map((e) => `${e.message} x${e.count}`);
  }
}

function setup(extra: Partial<EventRecorderOptions> = {}) {
  const logs: string[] = [];
  const clock = new FakeClock(t0);
  const sink = new FakeSink();
  const rec = new EventRecorder(sink as never, { component: 'test-controller', clock, log: (m) => logs.push(m), random: () => 0.5, ...extra });
  return { rec, clock, sink, logs };
}

/** Lets pending promise callbacks (the recorder's background writes) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

function pod(name: string, uid = `uid-${name}`): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', uid, resourceVersion: '7' } };
}

const nanosHex = (ms: number, plus = 0) => (BigInt(ms) * 1_000_000n + BigInt(plus)).toString(16);

test('an event is created with upstream fields; a repeat patches count, lastTimestamp and message', async () => {
  const { rec, clock, sink } = setup({ host: 'node-1' });
  rec.event(pod('p'), 'Normal', 'Pulled', 'image present');
  await rec.flush();
  clock.step(3000);
  rec.event(pod('p'), 'Normal', 'Pulled', 'image present');
  await rec.flush();
  assert.deepEqual(
    sink.calls.map((c) => [c.op, c.name, c.namespace]),
    [
      ['create', `p.${nanosHex(t0)}`, 'ns'],
      ['patch', `p.${nanosHex(t0)}`, 'ns'],
    ],
  );
  assert.deepEqual(sink.calls[0]!.body, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `p.${nanosHex(t0)}`, namespace: 'ns' },
    involvedObject: { kind: 'Pod', namespace: 'ns', name: 'p', uid: 'uid-p', apiVersion: 'v1', resourceVersion: '7' },
    reason: 'Pulled',
    message: 'image present',
    source: { component: 'test-controller', host: 'node-1' },
    firstTimestamp: rfc3339(t0),
    lastTimestamp: rfc3339(t0),
    count: 1,
    type: 'Normal',
    eventTime: null,
    reportingComponent: 'test-controller',
    reportingInstance: 'node-1',
  });
  assert.deepEqual(sink.calls[1]!.body, { count: 2, lastTimestamp: rfc3339(t0 + 3000), message: 'image present' });
  const [stored] = sink.events.values();
  assert.equal(stored!.count, 2);
  assert.equal(stored!.firstTimestamp, rfc3339(t0));
});

test('events about cluster-scoped objects go to default; names stay unique within one instant', async () => {
  const { rec, sink } = setup();
  rec.event({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }, 'Normal', 'A', 'a');
  rec.event({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }, 'Normal', 'B', 'b');
  await rec.flush();
  assert.deepEqual(
    sink.calls.map((c) => [c.name, c.namespace]),
    [
      [`n1.${nanosHex(t0)}`, 'default'],
      [`n1.${nanosHex(t0, 1)}`, 'default'],
    ],
  );
});

test('a patch of an Event that is gone creates it again, with its count', async () => {
  const { rec, sink } = setup();
  rec.event(pod('p'), 'Warning', 'BackOff', 'again');
  await rec.flush();
  sink.events.clear();
  rec.event(pod('p'), 'Warning', 'BackOff', 'again');
  await rec.flush();
  assert.deepEqual(
    sink.calls.map((c) => c.op),
    ['create', 'patch', 'create'],
  );
  assert.equal(sink.calls[2]!.body['count'], 2);
  assert.equal(sink.calls[2]!.name, sink.calls[0]!.name);
  assert.equal((sink.calls[2]!.body['metadata'] as { resourceVersion?: string }).resourceVersion, undefined);
});

test('aggregation: the tenth distinct message for one object and reason becomes a combined Event', async () => {
  const { rec, clock, sink } = setup();
  for (let i = 0; i < 9; i++) rec.event(pod('rs'), 'Normal', 'SuccessfulCreate', `Created pod: p${i}`);
  await rec.flush();
  assert.equal(sink.calls.length, 9);
  assert.ok(sink.calls.every((c) => c.op === 'create' && !String(c.body['message']).startsWith(aggregateMessagePrefix)));
  clock.step(1000);
  rec.event(pod('rs'), 'Normal', 'SuccessfulCreate', 'Created pod: p9');
  await rec.flush();
  const combined = sink.calls[9]!;
  assert.equal(combined.op, 'create');
  assert.equal(combined.name, `rs.${nanosHex(t0 + 1000)}`, 'a fresh name');
  assert.equal(combined.body['message'], '(combined from similar events): Created pod: p9');
  assert.equal(combined.body['count'], 1);
  assert.equal(combined.body['reportingComponent'], undefined, 'as upstream, the combined event has no reporting component');
  assert.deepEqual(combined.body['source'], { component: 'test-controller' });
  clock.step(1000);
  rec.event(pod('rs'), 'Normal', 'SuccessfulCreate', 'Created pod: p10');
  await rec.flush();
  assert.deepEqual(sink.calls[10], { op: 'patch', name: combined.name, namespace: 'ns', body: { count: 2, lastTimestamp: rfc3339(t0 + 2000), message: '(combined from similar events): Created pod: p10' } });
});

test('aggregation groups by type and reason, not by fieldPath, and counts each object apart', async () => {
  const { rec, sink } = setup({ aggregateMaxEvents: 3 });
  const ref = (fieldPath: string) => ({ ...referenceTo(pod('p')), fieldPath });
  rec.event(ref('spec.containers{a}'), 'Warning', 'Failed', 'one');
  rec.event(ref('spec.containers{b}'), 'Warning', 'Failed', 'two');
  rec.event(pod('q'), 'Warning', 'Failed', 'three');
  rec.event(pod('p'), 'Normal', 'Failed', 'four');
  rec.event(pod('p'), 'Warning', 'Other', 'five');
  await rec.flush();
  assert.ok(sink.calls.every((c) => !String(c.body['message']).startsWith(aggregateMessagePrefix)));
  rec.event(ref('spec.containers{c}'), 'Warning', 'Failed', 'six');
  await rec.flush();
  assert.equal(sink.calls.at(-1)!.body['message'], '(combined from similar events): six');
});

const intervalCases = [
  { name: 'exactly ten minutes after the last similar event, the group still aggregates', quietMs: 600_000, combined: true },
  { name: 'more than ten minutes after the last similar event, the group starts afresh', quietMs: 600_001, combined: false },
];
for (const c of intervalCases) {
  test(`aggregation interval: ${c.name}`, async () => {
    const { rec, clock, sink } = setup({ spamBurst: 100 });
    for (let i = 0; i < 9; i++) rec.event(pod('p'), 'Warning', 'Unhealthy', `probe ${i}`);
    clock.step(c.quietMs);
    rec.event(pod('p'), 'Warning', 'Unhealthy', 'probe 9');
    await rec.flush();
    assert.equal(String(sink.calls.at(-1)!.body['message']).startsWith(aggregateMessagePrefix), c.combined);
  });
}

test('aggregation keeps at most aggregateMaxEvents messages per group, forgetting the oldest', async () => {
  const { rec, sink } = setup({ aggregateMaxEvents: 3 });
  rec.event(pod('p'), 'Warning', 'R', 'm0');
  rec.event(pod('p'), 'Warning', 'R', 'm1');
  rec.event(pod('p'), 'Warning', 'R', 'm2'); // third: combined; m0 forgotten, {m1, m2} kept
  await rec.flush();
  rec.event(pod('p'), 'Warning', 'R', 'm1'); // still known: counted on its own Event
  await rec.flush();
  assert.deepEqual(sink.calls.at(-1)!.body, { count: 2, lastTimestamp: rfc3339(t0), message: 'm1' });
  rec.event(pod('p'), 'Warning', 'R', 'm0'); // forgotten: a new message, so combined
  await rec.flush();
  assert.deepEqual(sink.messages().sort(), ['(combined from similar events): m0 x2', 'm0 x1', 'm1 x2']);
});

test('spam filter: a source may write 25 events about an object, then one per 5 minutes', async () => {
  const { rec, clock, sink } = setup();
  assert.equal(defaultSpamBurst, 25);
  for (let i = 0; i < 30; i++) rec.event(pod('p'), 'Normal', `Reason${i}`, 'x');
  await rec.flush();
  assert.equal(sink.calls.length, 25);
  rec.event(pod('other'), 'Normal', 'Reason0', 'x');
  await rec.flush();
  assert.equal(sink.calls.length, 26, 'each object has its own bucket');
  clock.step(299_999);
  rec.event(pod('p'), 'Normal', 'Later', 'x');
  await rec.flush();
  assert.equal(sink.calls.length, 26, 'no token yet');
  clock.step(1);
  rec.event(pod('p'), 'Normal', 'Later2', 'x');
  rec.event(pod('p'), 'Normal', 'Later3', 'x');
  await rec.flush();
  assert.equal(sink.calls.length, 27, 'one token after five minutes');
  assert.equal(sink.calls.at(-1)!.body['reason'], 'Later2');
});

test('spam filter: a filtered repeat still counts in the next write', async () => {
  const { rec, clock, sink } = setup({ spamBurst: 1 });
  rec.event(pod('p'), 'Normal', 'R', 'same');
  rec.event(pod('p'), 'Normal', 'R', 'same');
  await rec.flush();
  clock.step(300_000);
  rec.event(pod('p'), 'Normal', 'R', 'same');
  await rec.flush();
  assert.deepEqual(
    sink.calls.map((c) => [c.op, c.body['count']]),
    [
      ['create', 1],
      ['patch', 3],
    ],
  );
});

test('the queue holds queueSize events; more are dropped, logged once, and the caller never waits', async () => {
  const { rec, sink, logs } = setup({ queueSize: 3 });
  sink.holding = true;
  for (let i = 0; i < 10; i++) rec.event(pod(`p${i}`), 'Normal', 'R', 'm');
  await settle();
  assert.equal(sink.calls.length, 1, 'one write in flight');
  assert.equal(rec.sizes.queued, 2, 'in flight + queued = queueSize');
  assert.equal(logs.filter((l) => /too many queued events/.test(l)).length, 1);
  sink.release();
  await rec.flush();
  assert.deepEqual(
    sink.calls.map((c) => c.name.split('.')[0]),
    ['p0', 'p1', 'p2'],
  );
  assert.ok(logs.some((l) => /dropped 7 events in all/.test(l)), logs.join('\n'));
  rec.event(pod('p10'), 'Normal', 'R', 'm');
  await rec.flush();
  assert.equal(sink.calls.length, 4, 'room again once drained');
});

test('repeats of an event still queued are written once, with the latest count', async () => {
  const { rec, clock, sink } = setup();
  sink.holding = true;
  rec.event(pod('a'), 'Normal', 'R', 'm'); // in flight
  rec.event(pod('b'), 'Normal', 'R', 'm'); // queued create
  clock.step(1000);
  rec.event(pod('b'), 'Normal', 'R', 'm');
  rec.event(pod('a'), 'Normal', 'R', 'm'); // queued patch
  clock.step(1000);
  rec.event(pod('b'), 'Normal', 'R', 'm');
  rec.event(pod('a'), 'Normal', 'R', 'm');
  assert.equal(rec.sizes.queued, 2);
  sink.release();
  await rec.flush();
  assert.deepEqual(
    sink.calls.map((c) => [c.op, c.name.split('.')[0], c.body['count'], c.body['lastTimestamp']]),
    [
      ['create', 'a', 1, rfc3339(t0)],
      ['create', 'b', 3, rfc3339(t0 + 2000)],
      ['patch', 'a', 3, rfc3339(t0 + 2000)],
    ],
  );
  assert.equal(sink.calls[1]!.body['firstTimestamp'], rfc3339(t0));
});

test("the server's answer to an earlier write never lowers the count", async () => {
  const { rec, sink } = setup();
  sink.holding = true;
  rec.event(pod('a'), 'Normal', 'R', 'm'); // create (count 1) in flight
  rec.event(pod('a'), 'Normal', 'R', 'm'); // patch, count 2
  rec.event(pod('a'), 'Normal', 'R', 'm'); // same queued patch, count 3
  sink.release();
  await rec.flush();
  rec.event(pod('a'), 'Normal', 'R', 'm');
  await rec.flush();
  assert.deepEqual(
    sink.calls.map((c) => [c.op, c.body['count']]),
    [
      ['create', 1],
      ['patch', 3],
      ['patch', 4],
    ],
  );
});

test('Lru keeps the most recently used entries', () => {
  const lru = new Lru<number>(2);
  lru.set('a', 1);
  lru.set('b', 2);
  assert.equal(lru.get('a'), 1);
  lru.set('c', 3);
  assert.equal(lru.size, 2);
  assert.equal(lru.get('b'), undefined, 'least recently used goes first');
  assert.equal(lru.get('a'), 1);
  assert.equal(lru.get('c'), 3);
});

test('caches are bounded: a forgotten event is created anew, and 5,000 objects keep 4,096 entries', async () => {
  const small = setup({ cacheSize: 2 });
  for (const n of ['o1', 'o2', 'o3']) small.rec.event(pod(n), 'Normal', 'R', 'm');
  await small.rec.flush();
  assert.deepEqual(small.rec.sizes, { queued: 0, logged: 2, aggregates: 2, spam: 2 });
  small.rec.event(pod('o3'), 'Normal', 'R', 'm');
  small.rec.event(pod('o1'), 'Normal', 'R', 'm');
  await small.rec.flush();
  assert.deepEqual(
    small.sink.calls.slice(3).map((c) => [c.op, c.name.split('.')[0]]),
    [
      ['patch', 'o3'],
      ['create', 'o1'],
    ],
  );

  const big = setup();
  for (let i = 0; i < 5000; i++) {
    big.rec.event(pod(`p${i}`), 'Normal', 'Scheduled', `Successfully assigned ns/p${i} to n${i % 7}`);
    if (i % 500 === 499) await big.rec.flush();
  }
  await big.rec.flush();
  assert.equal(big.sink.calls.length, 5000);
  assert.deepEqual(big.rec.sizes, { queued: 0, logged: maxLruCacheEntries, aggregates: maxLruCacheEntries, spam: maxLruCacheEntries });
});

test('retries: network errors are retried after a random first wait, then every 10 s', async () => {
  const { rec, clock, sink, logs } = setup();
  sink.fail = [new Error('connect ECONNREFUSED'), new Error('socket hang up')];
  rec.event(pod('p'), 'Normal', 'R', 'm');
  await settle();
  assert.equal(sink.calls.length, 1);
  clock.step(4999); // the first wait is random() × 10 s = 5 s
  await settle();
  assert.equal(sink.calls.length, 1);
  clock.step(1);
  await settle();
  assert.equal(sink.calls.length, 2);
  clock.step(9999);
  await settle();
  assert.equal(sink.calls.length, 2);
  clock.step(1);
  await rec.flush();
  assert.equal(sink.calls.length, 3);
  assert.equal(sink.events.size, 1);
  assert.deepEqual(logs, []);
});

test('retries: after 12 tries the event is dropped and the queue moves on', async () => {
  const { rec, clock, sink, logs } = setup();
  sink.fail = Array.from({ length: 12 }, () => new Error('unreachable'));
  rec.event(pod('p'), 'Normal', 'R', 'first');
  rec.event(pod('q'), 'Normal', 'R', 'second');
  for (let i = 0; i < 12; i++) {
    await settle();
    clock.step(10_000);
  }
  await rec.flush();
  assert.equal(sink.calls.filter((c) => c.name.startsWith('p.')).length, 12);
  assert.ok(logs.some((l) => /retry limit exceeded/.test(l)), logs.join('\n'));
  assert.deepEqual([...sink.events.values()].map((e) => e.message), ['second']);
});

const refusalCases = [
  { name: 'an invalid event is dropped and logged', err: invalid({ group: '', kind: 'Event' }, 'x', [{ reason: 'FieldValueRequired', message: 'Required value', field: 'involvedObject.namespace' }]), logged: true },
  { name: 'an event that already exists is dropped quietly', err: alreadyExists({ group: '', resource: 'events' }, 'x'), logged: false },
  { name: 'an event in a terminating namespace is dropped quietly', err: statusError('Forbidden', 'unable to create new content in namespace ns because it is being terminated', { causes: [{ reason: 'NamespaceTerminating', message: 'namespace ns is being terminated', field: 'metadata.namespace' }] }), logged: false },
];
for (const c of refusalCases) {
  test(`server refusals are not retried: ${c.name}`, async () => {
    const { rec, sink, logs } = setup();
    sink.fail = [c.err];
    rec.event(pod('p'), 'Normal', 'R', 'm');
    await rec.flush();
    assert.equal(sink.calls.length, 1);
    assert.equal(logs.some((l) => /server rejected event p\./.test(l)), c.logged, logs.join('\n'));
  });
}

test('bad input is logged and never thrown; after close nothing is recorded, and close cuts retries short', async () => {
  const { rec, clock, sink, logs } = setup();
  rec.event(pod('p'), 'Bogus' as 'Normal', 'R', 'm');
  rec.event({ metadata: {} }, 'Normal', 'R', 'm');
  rec.event({ name: 'x' }, 'Normal', 'R', 'm');
  assert.ok(logs.some((l) => /unsupported event type "Bogus"/.test(l)));
  assert.equal(logs.filter((l) => /cannot refer to the object/.test(l)).length, 2);
  sink.fail = Array.from({ length: 5 }, () => new Error('down'));
  rec.event(pod('p'), 'Normal', 'R', 'm');
  await settle();
  const closing = rec.close(); // waits at most one retry delay (10 s) for the queue to drain
  clock.step(5_000);
  await settle();
  assert.equal(sink.calls.length, 2, 'the first retry, after 5 s');
  clock.step(5_000);
  await closing;
  assert.ok(logs.some((l) => /cannot write event p\.[0-9a-f]+: down; recorder closed, dropped/.test(l)), logs.join('\n'));
  rec.event(pod('q'), 'Normal', 'R', 'after close');
  await rec.flush();
  assert.equal(sink.events.size, 0);
  assert.equal(sink.calls.length, 2);
});

test('referenceTo copies identifying fields and leaves empty ones out', () => {
  assert.deepEqual(referenceTo({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'ns', uid: 'u', resourceVersion: '' } }), { kind: 'Deployment', namespace: 'ns', name: 'd', uid: 'u', apiVersion: 'apps/v1' });
  const ref = { kind: 'Pod', name: 'p', fieldPath: 'spec.containers{c}' };
  assert.deepEqual(referenceTo(ref), ref);
  assert.notEqual(referenceTo(ref), ref);
});

// The wire shapes against a real server: a create, a merge patch, and a combined Event.
let stop: (() => Promise<void>) | undefined;
after(async () => stop?.());

test('against a real server: repeats fold into one Event and aggregation writes a combined one', async () => {
  const { startServer } = await import('../../test/e2e/harness.ts');
  const { createClient } = await import('./index.ts');
  const { resources } = await import('./resources.ts');
  const server = await startServer();
  const client = await createClient({ kubeconfig: server.kubeconfig, component: 'events-test' });
  stop = async () => {
    await client.transport.close();
    await server.stop();
  };
  await client.create(resources.namespaces, { metadata: { name: 'ev' } });
  const cm = await client.create(resources.configMaps, { metadata: { name: 'cm', namespace: 'ev' } });
  const clock = new FakeClock(t0);
  const logs: string[] = [];
  const rec = new EventRecorder(client, { component: 'test-controller', clock, log: (m) => logs.push(m), aggregateMaxEvents: 3 });
  rec.event(cm, 'Normal', 'Synced', 'all good');
  await rec.flush();
  clock.step(3000);
  rec.event(cm, 'Normal', 'Synced', 'all good');
  for (let i = 0; i < 4; i++) rec.event(cm, 'Warning', 'BackOff', `attempt ${i}`);
  await rec.flush();
  const list = await client.list<Event>(resources.events, { namespace: 'ev' });
  const got = list.items.map((e) => `${e.reason} ${e.message} x${e.count}`).sort();
  assert.deepEqual(got, ['BackOff (combined from similar events): attempt 3 x2', 'BackOff attempt 0 x1', 'BackOff attempt 1 x1', 'Synced all good x2']);
  const synced = list.items.find((e) => e.reason === 'Synced')!;
  assert.equal(synced.firstTimestamp, rfc3339(t0));
  assert.equal(synced.lastTimestamp, rfc3339(t0 + 3000));
  assert.deepEqual(logs, []);
  await rec.close();
});
