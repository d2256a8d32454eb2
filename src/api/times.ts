/**
 * Timestamps as upstream's metav1.Time and metav1.MicroTime read and write them.
 *
 * Reading accepts RFC 3339 with any offset and an optional fraction of a second (what a
 * JavaScript `Date` or a Python client sends: `2026-12-05T06:04:24.000Z`, `...+02:00`).
 * Writing is upstream's form: Time in UTC with second precision (`2026-12-05T06:04:24Z`, the
 * fraction dropped, not rounded), MicroTime in UTC with exactly six fractional digits.
 * `normalizeTimes` rewrites every Time and MicroTime field of an object, found through the
 * schema, so that what is stored and compared is what upstream's typed round trip would keep.
 * Strings that are not RFC 3339 are left alone (decoding errors are reported elsewhere).
 */
import { getType, jsonProperties, typeForKind, type MessageDef, type TypeRef } from './schema/index.ts';
import type { KubeObject } from './types.ts';

/** An instant: whole seconds since the epoch, and the fraction as written (digits only). */
export interface Instant {
  seconds: number;
  fraction: string;
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp as Go's time.Parse(time.RFC3339) does; undefined when it is not one. */
export function parseTime(s: string): Instant | undefined {
  const m = rfc3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, dd, h, mi, sec, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(dd);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (zone !== 'Z') {
    const oh = Number(zone!.slice(1, 3));
    const om = Number(zone!.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offset = (zone![0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // (Date.UTC would read years 0-99 as 19xx)
  d.setUTCHours(hour, minute, second, 0);
  return { seconds: d.getTime() / 1000 - offset, fraction: frac ?? '' };
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function utcString(seconds: number): string {
  const d = new Date(seconds * 1000);
  const y = d.getUTCFullYear();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(y, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** metav1.Time's JSON form of an instant: UTC, whole seconds. */
export function formatTime(t: Instant): string {
  return `${utcString(t.seconds)}Z`;
}

/** metav1.MicroTime's JSON form of an instant: UTC, six fractional digits (truncated). */
export function formatMicroTime(t: Instant): string {
  return `${utcString(t.seconds)}.${t.fraction.slice(0, 6).padEnd(6, '0')}Z`;
}

/** A Time string in upstream's form, or the input unchanged when it is not RFC 3339. */
export function canonicalTime(s: string): string {
  const t = parseTime(s);
  return t ? formatTime(t) : s;
}

/** A MicroTime string in upstream's form, or the input unchanged when it is not RFC 3339. */
export function canonicalMicroTime(s: string): string {
  const t = parseTime(s);
  return t ? formatMicroTime(t) : s;
}

/** Whether two Time strings name the same instant at second precision (textually equal otherwise). */
export function sameTime(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    const ta = parseTime(a);
    const tb = parseTime(b);
    if (ta && tb) return ta.seconds === tb.seconds;
  }
  return (a ?? null) === (b ?? null);
}

// ---- walking objects ---------------------------------------------------------------------------

type TimeKind = 'Time' | 'MicroTime';

/** How to reach the time fields below a type: null when there are none. */
type Plan =
  | { kind: 'time'; time: TimeKind }
  | { kind: 'message'; fields: ReadonlyMap<string, Plan> }
  | { kind: 'list'; elem: Plan }
  | { kind: 'map'; value: Plan };

const messagePlans = new Map<string, Plan | null>();
const inProgress = new Set<string>();

function planOfType(t: TypeRef): Plan | null {
  switch (t.kind) {
    case 'special':
      return t.special === 'Time' || t.special === 'MicroTime' ? { kind: 'time', time: t.special } : null;
    case 'scalar':
      return null;
    case 'message':
      return planOfMessage(t.name);
    case 'list': {
      const elem = planOfType(t.elem);
      return elem ? { kind: 'list', elem } : null;
    }
    case 'map': {
      const value = planOfType(t.value);
      return value ? { kind: 'map', value } : null;
    }
  }
}

function planOfMessage(name: string): Plan | null {
  if (messagePlans.has(name)) return messagePlans.get(name)!;
  // Recursive types (JSONSchemaProps) hold no timestamps; a cycle contributes nothing.
  if (inProgress.has(name)) return null;
  const t = getType(name);
  if (t?.kind === 'list') return planOfType(t.elem); // a named list (ExtraValue: []string)
  if (t?.kind !== 'message') return null;
  inProgress.add(name);
  const def: MessageDef = t;
  const fields = new Map<string, Plan>();
  for (const [json, prop] of jsonProperties(def)) {
    const p = planOfType(prop.field.type);
    if (p) fields.set(json, p);
  }
  inProgress.delete(name);
  const plan: Plan | null = fields.size ? { kind: 'message', fields } : null;
  messagePlans.set(name, plan);
  return plan;
}

function walk(v: unknown, plan: Plan): unknown {
  switch (plan.kind) {
    case 'time':
      if (typeof v !== 'string') return v;
      return plan.time === 'Time' ? canonicalTime(v) : canonicalMicroTime(v);
    case 'message':
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        for (const [k, p] of plan.fields) if (o[k] !== undefined && o[k] !== null) o[k] = walk(o[k], p);
      }
      return v;
    case 'list':
      if (Array.isArray(v)) for (let i = 0; i < v.length; i++) v[i] = walk(v[i], plan.elem);
      return v;
    case 'map':
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        for (const k of Object.keys(o)) o[k] = walk(o[k], plan.value);
      }
      return v;
  }
}

/**
 * Rewrites, in place, every Time and MicroTime field of `obj` (a message of type `typeName`) in
 * upstream's form. Returns `obj`.
 */
export function normalizeTimes<T>(obj: T, typeName: string): T {
  const plan = planOfMessage(typeName);
  if (plan) walk(obj, plan);
  return obj;
}

/**
 * Rewrites the timestamps of an object of a kind: through its schema type when the kind has one,
 * else (custom resources) through ObjectMeta only.
 */
export function normalizeObjectTimes(obj: KubeObject, kind: { group: string; version: string; kind: string }): KubeObject {
  const t = typeForKind(kind.group, kind.version, kind.kind);
  if (t) return normalizeTimes(obj, t.name);
  if (obj.metadata) normalizeTimes(obj.metadata, 'meta.v1.ObjectMeta');
  return obj;
}
