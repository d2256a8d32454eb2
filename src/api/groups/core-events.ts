/**
 * Events, in both shapes upstream serves them from one storage: core/v1 Event (the stored form)
 * and events.k8s.io/v1 Event. This file holds what both declarations share: the conversions
 * between the two shapes (regarding/involvedObject, note/message, reportingController/
 * reportingComponent, deprecatedSource/source, deprecatedFirstTimestamp/firstTimestamp,
 * deprecatedLastTimestamp/lastTimestamp, deprecatedCount/count), upstream's event validation
 * (legacy rules for core/v1 writes, strict rules for events.k8s.io/v1 writes, both checked on the
 * core shape with core field paths as upstream reports them), the printer and field selectors.
 * Conversions return new objects and never mutate their input.
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { TableDef } from '../resource.ts';
import { age } from '../printers.ts';
import { immutable, invalidValue, isDNS1123Subdomain, isQualifiedName, jsonEqual, required } from '../validation.ts';
import { clone, col, isObj, nameColumn, obj, str } from './core-common.ts';

const reportingInstanceLimit = 128;
const actionLimit = 128;
const reasonLimit = 128;
const noteLimit = 1024;

function isZeroTime(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

/** Zero values as upstream serializes a core/v1 Event (null times, empty reporting strings). */
export function defaultCoreEvent(ev: KubeObject): void {
  if (!isObj(ev['involvedObject'])) ev['involvedObject'] = {};
  if (!isObj(ev['source'])) ev['source'] = {};
  if (ev['firstTimestamp'] === undefined) ev['firstTimestamp'] = null;
  if (ev['lastTimestamp'] === undefined) ev['lastTimestamp'] = null;
  if (ev['eventTime'] === undefined) ev['eventTime'] = null;
  if (ev['reportingComponent'] === undefined || ev['reportingComponent'] === null) ev['reportingComponent'] = '';
  if (ev['reportingInstance'] === undefined || ev['reportingInstance'] === null) ev['reportingInstance'] = '';
}

/** Zero values as upstream serializes an events.k8s.io/v1 Event. */
export function defaultEventsV1Event(ev: KubeObject): void {
  if (ev['eventTime'] === undefined) ev['eventTime'] = null;
  if (!isObj(ev['regarding'])) ev['regarding'] = {};
  if (!isObj(ev['deprecatedSource'])) ev['deprecatedSource'] = {};
  if (ev['deprecatedFirstTimestamp'] === undefined) ev['deprecatedFirstTimestamp'] = null;
  if (ev['deprecatedLastTimestamp'] === undefined) ev['deprecatedLastTimestamp'] = null;
}

/** core/v1 Event → events.k8s.io/v1 Event. */
export function coreEventToEventsV1(c: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: clone(c.metadata ?? {}) };
  out['eventTime'] = c['eventTime'] ?? null;
  if (c['series'] !== undefined && c['series'] !== null) out['series'] = clone(c['series']);
  if (c['reportingComponent']) out['reportingController'] = c['reportingComponent'];
  if (c['reportingInstance']) out['reportingInstance'] = c['reportingInstance'];
  if (c['action']) out['action'] = c['action'];
  if (c['reason']) out['reason'] = c['reason'];
  out['regarding'] = clone(obj(c['involvedObject']));
  if (c['related'] !== undefined && c['related'] !== null) out['related'] = clone(c['related']);
  if (c['message']) out['note'] = c['message'];
  if (c['type']) out['type'] = c['type'];
  out['deprecatedSource'] = clone(obj(c['source']));
  out['deprecatedFirstTimestamp'] = c['firstTimestamp'] ?? null;
  out['deprecatedLastTimestamp'] = c['lastTimestamp'] ?? null;
  if (c['count']) out['deprecatedCount'] = c['count'];
  return out;
}

/** events.k8s.io/v1 Event → core/v1 Event (the stored form). */
export function eventsV1ToCoreEvent(e: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: 'v1', kind: 'Event', metadata: clone(e.metadata ?? {}) };
  out['involvedObject'] = clone(obj(e['regarding']));
  if (e['reason']) out['reason'] = e['reason'];
  if (e['note']) out['message'] = e['note'];
  out['source'] = clone(obj(e['deprecatedSource']));
  out['firstTimestamp'] = e['deprecatedFirstTimestamp'] ?? null;
  out['lastTimestamp'] = e['deprecatedLastTimestamp'] ?? null;
  if (e['deprecatedCount']) out['count'] = e['deprecatedCount'];
  if (e['type']) out['type'] = e['type'];
  out['eventTime'] = e['eventTime'] ?? null;
  if (e['series'] !== undefined && e['series'] !== null) out['series'] = clone(e['series']);
  if (e['action']) out['action'] = e['action'];
  if (e['related'] !== undefined && e['related'] !== null) out['related'] = clone(e['related']);
  out['reportingComponent'] = str(e['reportingController']);
  out['reportingInstance'] = str(e['reportingInstance']);
  return out;
}

// ---- validation --------------------------------------------------------------------------------

export type EventAPI = 'v1' | 'events.k8s.io/v1';

/** Upstream legacyValidateEvent, on the core shape. */
function legacyValidate(ev: KubeObject, api: EventAPI): StatusCause[] {
  const errs: StatusCause[] = [];
  const ns = ev.metadata.namespace ?? '';
  const involved = obj(ev['involvedObject']);
  const involvedNs = str(involved['namespace']);
  const reportingField = api === 'v1' ? 'reportingComponent' : 'reportingController';
  if (isZeroTime(ev['eventTime'])) {
    if (!involvedNs) {
      if (ns !== '' && ns !== 'default') errs.push(invalidValue('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    } else if (ns !== involvedNs) {
      errs.push(invalidValue('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    }
  } else {
    if (!involvedNs && ns !== 'default' && ns !== 'kube-system') {
      errs.push(invalidValue('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    }
    const rc = str(ev['reportingComponent']);
    if (!rc) errs.push(required(reportingField));
    for (const m of isQualifiedName(rc)) errs.push(invalidValue(reportingField, rc, m));
    const ri = str(ev['reportingInstance']);
    if (!ri) errs.push(required('reportingInstance'));
    if (ri.length > reportingInstanceLimit) errs.push(invalidValue('reportingInstance', '', `can have at most ${reportingInstanceLimit} characters`));
    const action = str(ev['action']);
    if (!action) errs.push(required('action'));
    if (action.length > actionLimit) errs.push(invalidValue('action', '', `can have at most ${actionLimit} characters`));
    const reason = str(ev['reason']);
    if (!reason) errs.push(required('reason'));
    if (reason.length > reasonLimit) errs.push(invalidValue('reason', '', `can have at most ${reasonLimit} characters`));
    if (str(ev['message']).length > noteLimit) errs.push(invalidValue('message', '', `can have at most ${noteLimit} characters`));
  }
  for (const m of isDNS1123Subdomain(ns)) errs.push(invalidValue('namespace', ns, m));
  return errs;
}

function validateSeries(ev: KubeObject): StatusCause[] {
  const s = ev['series'];
  if (s === undefined || s === null) return [];
  const o = obj(s);
  const errs: StatusCause[] = [];
  if (!(typeof o['count'] === 'number' && o['count'] >= 2)) errs.push(invalidValue('series.count', '', 'should be at least 2'));
  if (isZeroTime(o['lastObservedTime'])) errs.push(required('series.lastObservedTime'));
  return errs;
}

/** Upstream ValidateEventCreate / ValidateEventUpdate on the core shape, for a write through `api`. */
export function validateCoreShapeEvent(ev: KubeObject, api: EventAPI, old?: KubeObject): StatusCause[] {
  const errs = legacyValidate(ev, api);
  if (api === 'v1') return errs;
  if (!old) {
    errs.push(...validateSeries(ev));
    if (isZeroTime(ev['eventTime'])) errs.push(required('eventTime'));
    if (ev['type'] !== 'Normal' && ev['type'] !== 'Warning') errs.push(invalidValue('type', '', `has invalid value: ${str(ev['type'])}`));
    if (!isZeroTime(ev['firstTimestamp'])) errs.push(invalidValue('firstTimestamp', '', 'needs to be unset'));
    if (!isZeroTime(ev['lastTimestamp'])) errs.push(invalidValue('lastTimestamp', '', 'needs to be unset'));
    if (ev['count']) errs.push(invalidValue('count', '', 'needs to be unset'));
    const src = obj(ev['source']);
    if (src['component'] || src['host']) errs.push(invalidValue('source', '', 'needs to be unset'));
    return errs;
  }
  if (!jsonEqual(ev['series'] ?? null, old['series'] ?? null)) errs.push(...validateSeries(ev));
  const same = (k: string, zero: unknown = null) => immutable(k, ev[k] ?? zero, old[k] ?? zero);
  errs.push(
    ...same('involvedObject', {}),
    ...same('reason', ''),
    ...same('message', ''),
    ...same('source', {}),
    ...same('firstTimestamp'),
    ...same('lastTimestamp'),
    ...same('count', 0),
    ...same('type', ''),
  );
  if (microTruncate(ev['eventTime']) !== microTruncate(old['eventTime'])) errs.push(...same('eventTime'));
  errs.push(...same('action', ''), ...same('related'));
  errs.push(...immutable('reportingController', str(ev['reportingComponent']), str(old['reportingComponent'])));
  errs.push(...same('reportingInstance', ''));
  return errs;
}

/** A MicroTime compared at microsecond precision (upstream tolerates sub-microsecond changes). */
function microTruncate(v: unknown): string {
  if (isZeroTime(v)) return '';
  const s = String(v);
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(s);
  if (!m) return s;
  const t = Date.parse(`${m[1]}${m[3]}`);
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return Number.isNaN(t) ? s : `${t}.${frac}`;
}

// ---- table and field selectors -----------------------------------------------------------------

export const eventTableColumns = [
  col('Last Seen', 'Time since the event was last observed.'),
  col('Type', 'The event type (Normal, Warning).'),
  col('Reason', 'Why the event was recorded.'),
  col('Object', 'The object the event is about (kind/name).'),
  col('Subobject', 'The part of the object the event is about (involvedObject.fieldPath).', 1),
  col('Source', 'The component (and host) that reported the event.', 1),
  col('Message', 'A human-readable description of the event.'),
  col('First Seen', 'Time since the event was first observed.', 1),
  col('Count', 'How many times the event was observed.', 1),
  { ...nameColumn, priority: 1 as const },
];

function since(t: unknown, now: number): string {
  return age(isZeroTime(t) ? undefined : String(t), now);
}

/** One row of upstream's event printer, from the core shape. */
export function coreEventRow(ev: KubeObject, now: number): unknown[] {
  let first = since(ev['firstTimestamp'], now);
  if (isZeroTime(ev['firstTimestamp'])) first = since(ev['eventTime'], now);
  let last = isZeroTime(ev['lastTimestamp']) ? first : since(ev['lastTimestamp'], now);
  let count = typeof ev['count'] === 'number' ? ev['count'] : 0;
  if (isObj(ev['series'])) {
    last = since(ev['series']['lastObservedTime'], now);
    count = typeof ev['series']['count'] === 'number' ? ev['series']['count'] : 0;
  } else if (count === 0) {
    count = 1;
  }
  const inv = obj(ev['involvedObject']);
  const kind = str(inv['kind']).toLowerCase();
  const target = inv['name'] ? `${kind}/${str(inv['name'])}` : kind;
  return [
    last,
    str(ev['type']),
    str(ev['reason']),
    target,
    str(inv['fieldPath']),
    eventSource(ev),
    str(ev['message']).trim(),
    first,
    count,
    ev.metadata.name ?? '',
  ];
}

function eventSource(ev: KubeObject): string {
  const src = obj(ev['source']);
  const component = str(src['component']) || str(ev['reportingComponent']);
  const instance = str(src['host']) || str(ev['reportingInstance']);
  return instance ? `${component}, ${instance}` : component;
}

export const coreEventTable: TableDef = { columns: eventTableColumns, row: coreEventRow };

/** Upstream event ToSelectableFields, reading the core shape. */
export const coreEventFieldSelectors: Record<string, (o: KubeObject) => string> = {
  'involvedObject.kind': (o) => str(obj(o['involvedObject'])['kind']),
  'involvedObject.namespace': (o) => str(obj(o['involvedObject'])['namespace']),
  'involvedObject.name': (o) => str(obj(o['involvedObject'])['name']),
  'involvedObject.uid': (o) => str(obj(o['involvedObject'])['uid']),
  'involvedObject.apiVersion': (o) => str(obj(o['involvedObject'])['apiVersion']),
  'involvedObject.resourceVersion': (o) => str(obj(o['involvedObject'])['resourceVersion']),
  'involvedObject.fieldPath': (o) => str(obj(o['involvedObject'])['fieldPath']),
  reason: (o) => str(o['reason']),
  reportingComponent: (o) => str(o['reportingComponent']),
  source: (o) => str(obj(o['source'])['component']) || str(o['reportingComponent']),
  type: (o) => str(o['type']),
};

/** events.k8s.io/v1 field labels, mapped onto the same values. */
export const eventsV1FieldSelectors: Record<string, (o: KubeObject) => string> = {
  'regarding.kind': (o) => str(obj(o['regarding'])['kind']),
  'regarding.namespace': (o) => str(obj(o['regarding'])['namespace']),
  'regarding.name': (o) => str(obj(o['regarding'])['name']),
  'regarding.uid': (o) => str(obj(o['regarding'])['uid']),
  'regarding.apiVersion': (o) => str(obj(o['regarding'])['apiVersion']),
  'regarding.resourceVersion': (o) => str(obj(o['regarding'])['resourceVersion']),
  'regarding.fieldPath': (o) => str(obj(o['regarding'])['fieldPath']),
  reason: (o) => str(o['reason']),
  reportingController: (o) => str(o['reportingController']),
  type: (o) => str(o['type']),
};
