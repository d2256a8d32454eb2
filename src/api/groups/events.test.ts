import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { eventsV1Event } from './events.ts';
import { events as coreEvents } from './core.ts';
import { coreEventToEventsV1, eventsV1ToCoreEvent } from './core-events.ts';
import { create, make, oneHourLater, summary, update } from './core-testing.ts';

const regarding = { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u1', apiVersion: 'v1' };

/** A new-style event as a controller writes it through events.k8s.io/v1. */
const v1Event = (fields: Record<string, unknown> = {}): KubeObject =>
  make(eventsV1Event, {
    eventTime: '2024-01-01T00:30:00.000000Z',
    reportingController: 'example.com/controller',
    reportingInstance: 'controller-1',
    action: 'Scaling',
    reason: 'Scaled',
    regarding,
    note: 'scaled to 3',
    type: 'Normal',
    ...fields,
  });

// ---- conversion --------------------------------------------------------------------------------

test('an events.k8s.io event is stored as the matching core event', () => {
  const stored = eventsV1ToCoreEvent(create(eventsV1Event, v1Event({ related: { kind: 'Node', name: 'n1' }, series: { count: 2, lastObservedTime: '2024-01-01T00:40:00.000000Z' } })).obj);
  assert.deepEqual(stored, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'x', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' },
    involvedObject: regarding,
    reason: 'Scaled',
    message: 'scaled to 3',
    source: {},
    firstTimestamp: null,
    lastTimestamp: null,
    type: 'Normal',
    eventTime: '2024-01-01T00:30:00.000000Z',
    series: { count: 2, lastObservedTime: '2024-01-01T00:40:00.000000Z' },
    action: 'Scaling',
    related: { kind: 'Node', name: 'n1' },
    reportingComponent: 'example.com/controller',
    reportingInstance: 'controller-1',
  });
});

test('a legacy core event reads through events.k8s.io with its deprecated fields', () => {
  const core = create(coreEvents, make(coreEvents, {
    involvedObject: regarding,
    reason: 'Pulled',
    message: 'pulled',
    source: { component: 'kubelet', host: 'node-1' },
    firstTimestamp: '2024-01-01T00:10:00Z',
    lastTimestamp: '2024-01-01T00:20:00Z',
    count: 5,
    type: 'Normal',
  })).obj;
  assert.deepEqual(coreEventToEventsV1(core), {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: core.metadata,
    eventTime: null,
    reason: 'Pulled',
    regarding,
    note: 'pulled',
    type: 'Normal',
    deprecatedSource: { component: 'kubelet', host: 'node-1' },
    deprecatedFirstTimestamp: '2024-01-01T00:10:00Z',
    deprecatedLastTimestamp: '2024-01-01T00:20:00Z',
    deprecatedCount: 5,
  });
});

const roundTrips: { name: string; event: () => KubeObject; def: typeof eventsV1Event; via: [(o: KubeObject) => KubeObject, (o: KubeObject) => KubeObject] }[] = [
  { name: 'events.k8s.io → core → events.k8s.io loses nothing', event: () => v1Event({ series: { count: 3, lastObservedTime: '2024-01-01T00:50:00.000000Z' }, related: { kind: 'Node', name: 'n' } }), def: eventsV1Event, via: [eventsV1ToCoreEvent, coreEventToEventsV1] },
  {
    name: 'core → events.k8s.io → core loses nothing',
    event: () => make(coreEvents, { involvedObject: regarding, reason: 'R', message: 'm', source: { component: 'c' }, firstTimestamp: '2024-01-01T00:10:00Z', lastTimestamp: '2024-01-01T00:10:00Z', count: 1, type: 'Warning', reportingComponent: 'c', reportingInstance: 'h' }),
    def: coreEvents,
    via: [coreEventToEventsV1, eventsV1ToCoreEvent],
  },
];
for (const c of roundTrips) {
  test(c.name, () => {
    const normalized = create(c.def, c.event()).obj;
    const input = structuredClone(normalized);
    assert.deepEqual(c.via[1](c.via[0](input)), normalized);
    assert.deepEqual(input, normalized, 'the conversions do not mutate their input');
  });
}

test('the declaration stores through the conversions under the core prefix', () => {
  assert.equal(eventsV1Event.storagePrefix, 'events');
  assert.equal(eventsV1Event.storedAs!.toStorage, eventsV1ToCoreEvent);
  assert.equal(eventsV1Event.storedAs!.fromStorage, coreEventToEventsV1);
  assert.deepEqual([eventsV1Event.group, eventsV1Event.version, eventsV1Event.plural, eventsV1Event.shortNames, eventsV1Event.nameRule], ['events.k8s.io', 'v1', 'events', ['ev'], 'subdomain']);
});

// ---- validation --------------------------------------------------------------------------------

const createCases: { name: string; fields: Record<string, unknown>; want: string[] }[] = [
  { name: 'a complete events.k8s.io event is valid', fields: {}, want: [] },
  { name: 'an events.k8s.io event needs an eventTime', fields: { eventTime: null }, want: ['eventTime: FieldValueRequired'] },
  { name: 'an events.k8s.io event needs a reporting controller', fields: { reportingController: undefined }, want: ['reportingController: FieldValueRequired', 'reportingController: FieldValueInvalid'] },
  { name: 'an events.k8s.io event needs an action and a reason', fields: { action: '', reason: '' }, want: ['action: FieldValueRequired', 'reason: FieldValueRequired'] },
  { name: 'an events.k8s.io event type is Normal or Warning', fields: { type: 'Info' }, want: ['type: FieldValueInvalid'] },
  {
    name: 'deprecated fields must stay unset on create',
    fields: { deprecatedCount: 2, deprecatedFirstTimestamp: '2024-01-01T00:00:00Z', deprecatedSource: { component: 'x' } },
    want: ['firstTimestamp: FieldValueInvalid', 'count: FieldValueInvalid', 'source: FieldValueInvalid'],
  },
  { name: 'a series counts at least two', fields: { series: { count: 1 } }, want: ['series.count: FieldValueInvalid', 'series.lastObservedTime: FieldValueRequired'] },
  { name: 'a note is at most 1024 characters', fields: { note: 'n'.repeat(1025) }, want: ['message: FieldValueInvalid'] },
];
for (const c of createCases) test(c.name, () => assert.deepEqual(summary(create(eventsV1Event, v1Event(c.fields)).causes), c.want));

test('an events.k8s.io update may change the series but not the note', () => {
  const old = create(eventsV1Event, v1Event()).obj;
  const series = structuredClone(old);
  series['series'] = { count: 2, lastObservedTime: '2024-01-01T00:45:00.000000Z' };
  assert.deepEqual(summary(update(eventsV1Event, series, old).causes), []);
  const note = structuredClone(old);
  note['note'] = 'changed';
  assert.deepEqual(summary(update(eventsV1Event, note, old).causes), ['message: FieldValueInvalid']);
});

test('a core/v1 update of the same event is not held to the strict rules', () => {
  const old = eventsV1ToCoreEvent(create(eventsV1Event, v1Event()).obj);
  const next = structuredClone(old);
  next['message'] = 'changed';
  next['count'] = 2;
  assert.deepEqual(summary(update(coreEvents, next, old).causes), []);
});

// ---- table and field selectors -----------------------------------------------------------------

test('the events.k8s.io table is the core event printer', () => {
  assert.deepEqual(eventsV1Event.table!.columns, coreEvents.table!.columns);
  const e = create(eventsV1Event, v1Event()).obj;
  assert.deepEqual(eventsV1Event.table!.row(e, oneHourLater), ['30m', 'Normal', 'Scaled', 'pod/web-1', '', 'example.com/controller, controller-1', 'scaled to 3', '30m', 1, 'x']);
});

test('events.k8s.io field labels map onto regarding and reportingController', () => {
  const e = v1Event();
  const f = eventsV1Event.fieldSelectors!;
  assert.deepEqual(Object.keys(f).sort(), [
    'reason',
    'regarding.apiVersion',
    'regarding.fieldPath',
    'regarding.kind',
    'regarding.name',
    'regarding.namespace',
    'regarding.resourceVersion',
    'regarding.uid',
    'reportingController',
    'type',
  ]);
  assert.deepEqual(['regarding.kind', 'regarding.name', 'reportingController', 'type', 'reason'].map((k) => f[k]!(e)), ['Pod', 'web-1', 'example.com/controller', 'Normal', 'Scaled']);
});
