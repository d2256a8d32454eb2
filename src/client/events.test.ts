/**
 * The event recorder against a real `bosun server`: repeats folded into one Event, aggregation
 * of many messages, the spam filter, and failures that never reach the caller.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type ServerHandle } from '../../test/e2e/harness.ts';
import type { KubeObject } from '../api/types.ts';
import { FakeClock } from './clock.ts';
import { EventRecorder, rfc3339, type EventRecorderOptions } from './events.ts';
import { createClient } from './index.ts';
import type { RestClient } from './rest.ts';
import { resources } from './resources.ts';

let server: ServerHandle;
let client: RestClient;

before(async () => {
  server = await startServer();
  client = await createClient({ kubeconfig: server.kubeconfig, component: 'events-test' });
  await client.create(resources.namespaces, { metadata: { name: 'ev' } });
});

after(async () => {
  await client?.transport.close();
  await server?.stop();
});

let seq = 0;
async function makeConfigMap(): Promise<KubeObject> {
  return client.create(resources.configMaps, { metadata: { name: `cm-${++seq}`, namespace: 'ev' } });
}

async function eventsAbout(name: string, namespace = 'ev'): Promise<KubeObject[]> {
  const list = await client.list(resources.events, { namespace });
  return list.items.filter((e) => (e['involvedObject'] as { name?: string }).name === name);
}

function recorder(extra: Partial<EventRecorderOptions> = {}) {
  const logs: string[] = [];
  const clock = new FakeClock(Date.UTC(2025, 5, 1, 12, 0, 0));
  const rec = new EventRecorder(client, { component: 'test-controller', clock, log: (m) => logs.push(m), ...extra });
  return { rec, clock, logs };
}

test('the same event twice is one Event with count 2', async () => {
  const obj = await makeConfigMap();
  const { rec, clock } = recorder();
  rec.event(obj, 'Normal', 'Synced', 'all good');
  await rec.flush();
  const t0 = clock.now();
  clock.step(3000);
  rec.event(obj, 'Normal', 'Synced', 'all good');
  await rec.flush();
  const evs = await eventsAbout(obj.metadata.name!);
  assert.equal(evs.length, 1);
  const ev = evs[0]!;
  assert.equal(ev['count'], 2);
  assert.equal(ev['firstTimestamp'], rfc3339(t0));
  assert.equal(ev['lastTimestamp'], rfc3339(t0 + 3000));
  assert.match(ev.metadata.name!, new RegExp(`^${obj.metadata.name}\\.[0-9a-f]+$`));
  assert.equal(ev.metadata.name, `${obj.metadata.name}.${(BigInt(t0) * 1_000_000n).toString(16)}`);
  assert.equal(ev.metadata.namespace, 'ev');
  assert.deepEqual(ev['involvedObject'], {
    kind: 'ConfigMap',
    namespace: 'ev',
    name: obj.metadata.name,
    uid: obj.metadata.uid,
    apiVersion: 'v1',
    resourceVersion: obj.metadata.resourceVersion,
  });
  assert.deepEqual(ev['source'], { component: 'test-controller' });
  assert.equal(ev['reportingComponent'], 'test-controller');
  assert.equal(ev['type'], 'Normal');
  assert.equal(ev['reason'], 'Synced');
  assert.equal(ev['message'], 'all good');
  await rec.close();
});

test('different messages are different Events; a cluster-scoped object gets its events in default', async () => {
  const obj = await makeConfigMap();
  const { rec } = recorder({ host: 'node-1' });
  rec.event(obj, 'Warning', 'Failed', 'one');
  rec.event(obj, 'Warning', 'Failed', 'two');
  const ns = await client.get(resources.namespaces, 'ev');
  rec.event(ns, 'Normal', 'Seen', 'namespace event');
  await rec.flush();
  const evs = await eventsAbout(obj.metadata.name!);
  assert.deepEqual(evs.map((e) => e['message']).sort(), ['one', 'two']);
  assert.deepEqual(evs[0]!['source'], { component: 'test-controller', host: 'node-1' });
  assert.equal(evs[0]!['reportingInstance'], 'node-1');
  const nsEvents = await eventsAbout('ev', 'default');
  assert.equal(nsEvents.length, 1);
  assert.equal((nsEvents[0]!['involvedObject'] as { kind: string }).kind, 'Namespace');
  await rec.close();
});

test('past the aggregation limit, new messages for one reason are folded into a combined Event', async () => {
  const obj = await makeConfigMap();
  const { rec } = recorder({ aggregateMaxEvents: 3 });
  for (let i = 0; i < 6; i++) rec.event(obj, 'Warning', 'BackOff', `attempt ${i}`);
  await rec.flush();
  const evs = await eventsAbout(obj.metadata.name!);
  const combined = evs.filter((e) => String(e['message']).startsWith('(combined from similar events): '));
  assert.equal(evs.length - combined.length, 2, 'the first distinct messages stand alone');
  assert.equal(combined.length, 1);
  assert.equal(combined[0]!['count'], 4);
  assert.equal(combined[0]!['message'], '(combined from similar events): attempt 5');
  await rec.close();
});

test('the spam filter drops events about one object beyond its burst', async () => {
  const obj = await makeConfigMap();
  const { rec, clock } = recorder({ spamBurst: 2 });
  for (let i = 0; i < 5; i++) rec.event(obj, 'Normal', `Reason${i}`, 'x');
  await rec.flush();
  assert.equal((await eventsAbout(obj.metadata.name!)).length, 2);
  clock.step(300_000);
  rec.event(obj, 'Normal', 'Later', 'x');
  await rec.flush();
  assert.equal((await eventsAbout(obj.metadata.name!)).length, 3, 'a token comes back after five minutes');
  await rec.close();
});

test('a deleted Event is created again on the next repeat', async () => {
  const obj = await makeConfigMap();
  const { rec } = recorder();
  rec.event(obj, 'Normal', 'Again', 'same');
  await rec.flush();
  const [first] = await eventsAbout(obj.metadata.name!);
  await client.delete(resources.events, first!.metadata.name!, { namespace: 'ev' });
  rec.event(obj, 'Normal', 'Again', 'same');
  await rec.flush();
  const evs = await eventsAbout(obj.metadata.name!);
  assert.equal(evs.length, 1);
  assert.equal(evs[0]!['count'], 2);
  await rec.close();
});

test('bad input and server refusals are logged, never thrown, and never block', async () => {
  const { rec, logs } = recorder({ queueSize: 1 });
  rec.event({ metadata: { name: 'x', namespace: 'ev' }, kind: 'ConfigMap', apiVersion: 'v1' }, 'Bogus' as 'Normal', 'R', 'm');
  rec.event({ metadata: {} }, 'Normal', 'R', 'm');
  rec.event({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x', namespace: 'no-such-namespace' } }, 'Normal', 'R', 'first');
  rec.event({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'y', namespace: 'ev' } }, 'Normal', 'R', 'queue full');
  await rec.flush();
  assert.ok(logs.some((l) => /unsupported event type/.test(l)));
  assert.ok(logs.some((l) => /cannot refer to the object/.test(l)));
  assert.ok(logs.some((l) => /server rejected event x\./.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /too many queued events/.test(l)));
  await rec.close();
  rec.event({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'z', namespace: 'ev' } }, 'Normal', 'R', 'after close');
  await rec.flush();
  assert.equal((await eventsAbout('z')).length, 0);
});
