/**
 * Canonical JSON form of API objects: the bytes Go's encoding/json writes for the typed object,
 * so that bodies read (and compare) as upstream's. Applied where objects are stored (so cached
 * JSON is already canonical and lists stay a splice) and where objects are written.
 *
 * The rules, per the schema (./notation.ts):
 *  - an object of a declared type has `kind` then `apiVersion` first (Go's embedded TypeMeta),
 *    then its fields in declaration order (inline members flattened), then any key the schema
 *    does not know, in the order given (such keys are normally pruned on input already);
 *  - an `omitempty` field is dropped when Go would omit it: a nil pointer (null); for non-pointer
 *    strings, numbers, booleans, lists and maps their zero value ('', 0, false, null, [], {});
 *  - struct-valued fields (messages and the well-known types Time, Quantity, IntOrString, ...)
 *    are never dropped by omitempty in Go, so they are kept as given — except null in a
 *    non-pointer message field, which is Go's zero struct and is left out (absent and `{}`
 *    decode alike). Nothing absent is ever synthesized (Go would print zero structs);
 *  - map keys are sorted, as Go sorts them (by code unit, which equals Go's byte order for the
 *    ASCII keys the API allows; JavaScript always lists integer-like keys such as "10" first in
 *    numeric order, a difference JSON.stringify cannot avoid);
 *  - a kind the schema does not declare (custom resources) is unstructured: every object's keys
 *    are sorted at every depth, as Go encodes map[string]interface{};
 *  - raw values (RawExtension, JSON, FieldsV1) and `oneof` types are left exactly as given.
 *
 * Go's string escaping (\u003c for <, ...) and the final newline are the writer's part
 * (apiserver/respond.ts). Checked during development against upstream's round-trip fixtures
 * (k8s.io/api v0.33.0 testdata): every fixture of a group-version Bosun serves comes out byte
 * for byte, from any key order.
 *
 * `canonical` returns its argument itself when it is already canonical (no allocation: the
 * common case for stored objects), otherwise a new object that shares unchanged subtrees with
 * the input. It never mutates its input. Cost (2-core EPYC, loaded): ~0.3-0.5 µs a ConfigMap,
 * 1-3 µs a Pod or Deployment.
 */
import type { KubeObject } from '../types.ts';
import { getMessage, getType, jsonProperties, typeForKind } from './index.ts';
import type { FieldDef, MessageDef, TypeRef } from './notation.ts';
import { isJsonObject } from '../../util/json.ts';
import { compareStrings } from '../../util/compare.ts';

/** How to canonicalize one value of a declared type. */
type Plan =
  | { readonly t: 'keep' } // scalars, well-known and raw types, oneofs
  | { readonly t: 'message'; readonly msg: MessagePlan }
  | { readonly t: 'list'; readonly elem: Plan }
  | { readonly t: 'map'; readonly value: Plan }
  | { readonly t: 'any' }; // unstructured content

/** When a field is left out: 0 never (but undefined); 1 null; 2 null, '', 0, false; 3 null, [], {}. */
type Omit = 0 | 1 | 2 | 3;

interface FieldPlan {
  readonly name: string;
  readonly omit: Omit;
  readonly plan: Plan;
}

interface MessagePlan {
  readonly fields: readonly FieldPlan[];
  readonly index: ReadonlyMap<string, number>;
}

const keep: Plan = { t: 'keep' };
const any: Plan = { t: 'any' };
const messagePlans = new Map<string, MessagePlan>();

function planFor(ref: TypeRef): Plan {
  switch (ref.kind) {
    case 'scalar':
    case 'special':
      return keep;
    case 'list': {
      const elem = planFor(ref.elem);
      return elem.t === 'keep' ? keep : { t: 'list', elem };
    }
    case 'map': {
      // Map keys are sorted whatever the values are.
      return { t: 'map', value: planFor(ref.value) };
    }
    case 'message': {
      const def = getType(ref.name);
      if (!def) return keep;
      if (def.kind === 'list') return planFor({ kind: 'list', elem: def.elem }); // a named list ('Verbs')
      return def.oneof ? keep : { t: 'message', msg: messagePlan(def) };
    }
  }
}

function omitOf(f: FieldDef): Omit {
  if (!f.omitEmpty) return 0;
  if (f.pointer) return 1;
  switch (f.type.kind) {
    case 'scalar':
      return 2;
    case 'list':
    case 'map':
      return 3;
    case 'message':
      if (getType(f.type.name)?.kind === 'list') return 3;
      return 1; // Go's zero struct: left out rather than synthesized
    case 'special':
      return 0; // structs with their own zero form (null Time, "0" Quantity): kept as given
  }
}

function messagePlan(def: MessageDef): MessagePlan {
  const cached = messagePlans.get(def.name);
  if (cached) return cached;
  const fields: FieldPlan[] = [];
  const index = new Map<string, number>();
  const plan: MessagePlan = { fields, index };
  // Registered before its fields are planned: recursive types (JSONSchemaProps) refer to it.
  messagePlans.set(def.name, plan);
  for (const [name, prop] of jsonProperties(def)) {
    index.set(name, fields.length);
    // ObjectMeta.managedFields: [] is kept: in Go it decodes as a non-nil empty slice, which asks
    // the field manager to reset them (upstream isResetManagedFields); nothing stores it.
    const omit = def.name.endsWith('.ObjectMeta') && name === 'managedFields' ? 1 : omitOf(prop.field);
    fields.push({ name, omit, plan: planFor(prop.field.type) });
  }
  return plan;
}

function dropped(v: unknown, omit: Omit): boolean {
  if (v === undefined) return true;
  switch (omit) {
    case 0:
      return false;
    case 1:
      return v === null;
    case 2:
      return v === null || v === '' || v === 0 || v === false;
    case 3:
      if (v === null) return true;
      if (Array.isArray(v)) return v.length === 0;
      if (isJsonObject(v)) {
        for (const _ in v) return false;
        return true;
      }
      return false;
  }
}

function canonValue(v: unknown, plan: Plan): unknown {
  if (plan.t === 'keep' || v === null || typeof v !== 'object') return v;
  switch (plan.t) {
    case 'message':
      return isJsonObject(v) ? canonMessage(v, plan.msg) : v;
    case 'list':
      return Array.isArray(v) ? canonList(v, plan.elem) : v;
    case 'map':
      return isJsonObject(v) ? canonMap(v, plan.value) : v;
    case 'any':
      return Array.isArray(v) ? canonList(v, any) : canonMap(v as Record<string, unknown>, any);
  }
}

function canonList(v: readonly unknown[], elem: Plan): readonly unknown[] {
  let out: unknown[] | null = null;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    const c = canonValue(x, elem);
    if (c !== x && !out) out = v.slice(0, i);
    if (out) out.push(c);
  }
  return out ?? v;
}

/**
 * Where a key goes: TypeMeta (kind 0, apiVersion 1) first, then declared fields (2 + their
 * index), then unknown keys (Infinity, in their given order).
 */
function rank(k: string, index: ReadonlyMap<string, number>): number {
  const i = index.get(k);
  if (i !== undefined) return i + 2;
  if (k === 'kind') return 0;
  if (k === 'apiVersion') return 1;
  return Infinity;
}

function canonMessage(obj: Record<string, unknown>, plan: MessagePlan): Record<string, unknown> {
  const { fields, index } = plan;
  // Pass 1: is it canonical as it stands (in order, nothing to drop, children canonical)?
  let last = -1;
  let same = true;
  let changed: Map<string, unknown> | null = null;
  for (const k in obj) {
    const r = rank(k, index);
    if (r < last) same = false;
    last = r;
    const v = obj[k];
    if (r < 2 || r === Infinity) {
      if (v === undefined) same = false;
      continue;
    }
    const f = fields[r - 2]!;
    if (dropped(v, f.omit)) {
      same = false;
      continue;
    }
    const c = canonValue(v, f.plan);
    if (c !== v) (changed ??= new Map()).set(k, c);
  }
  if (same) {
    if (!changed) return obj;
    // In order with nothing to drop: a copy with the changed children (keys keep their place).
    const out = { ...obj };
    for (const [k, c] of changed) put(out, k, c);
    return out;
  }
  // Pass 2: rebuild in order (a stable insertion sort: keys are few and nearly in order, and
  // unknown keys, all ranked Infinity, keep their given order).
  const keys = Object.keys(obj);
  const n = keys.length;
  const ranks = new Array<number>(n);
  for (let i = 0; i < n; i++) ranks[i] = rank(keys[i]!, index);
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    const r = ranks[i]!;
    let j = i - 1;
    while (j >= 0 && ranks[j]! > r) {
      keys[j + 1] = keys[j]!;
      ranks[j + 1] = ranks[j]!;
      j--;
    }
    keys[j + 1] = k;
    ranks[j + 1] = r;
  }
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    const v = obj[k];
    if (v === undefined) continue;
    const r = ranks[i]!;
    if (r >= 2 && r !== Infinity && dropped(v, fields[r - 2]!.omit)) continue;
    put(out, k, changed?.has(k) ? changed.get(k) : v);
  }
  return out;
}

function canonMap(m: Record<string, unknown>, value: Plan): Record<string, unknown> {
  let prev: string | undefined;
  let same = true;
  let changed: Map<string, unknown> | null = null;
  for (const k in m) {
    if (prev !== undefined && k < prev) same = false;
    prev = k;
    const v = m[k];
    if (v === undefined) same = false;
    else if (value.t !== 'keep') {
      const c = canonValue(v, value);
      if (c !== v) (changed ??= new Map()).set(k, c);
    }
  }
  if (same) {
    if (!changed) return m;
    const out = { ...m };
    for (const [k, c] of changed) put(out, k, c);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(m).sort(compareStrings)) {
    const v = m[k];
    if (v === undefined) continue;
    put(out, k, changed?.has(k) ? changed.get(k) : v);
  }
  return out;
}

/** Sets an own property, also for the key "__proto__" (which plain assignment would not). */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * The canonical form of a value of the named type (full or short schema name). Unknown type
 * names return the value unchanged.
 */
export function canonicalOf(typeName: string, value: unknown): unknown {
  if (!isJsonObject(value)) return value;
  let def: MessageDef;
  try {
    def = getMessage(typeName);
  } catch {
    return value;
  }
  return canonMessage(value, messagePlan(def));
}

/**
 * Objects made canonical by `canonical` itself and frozen since (the watch cache's): nothing can
 * have changed them, so they are not walked again (every watcher's event, every read).
 */
const knownCanonical = new WeakSet<object>();

/** `canonical(obj)`, remembered: once the result is frozen, canonical() answers it without a walk. */
export function canonicalOnce<T extends KubeObject | Record<string, unknown>>(obj: T): T {
  const out = canonical(obj);
  knownCanonical.add(out);
  return out;
}

/** ObjectMeta's fields that Go writes before resourceVersion. */
const beforeResourceVersion = new Set(['name', 'generateName', 'namespace', 'selfLink', 'uid']);

/**
 * Gives a canonical object of a declared kind — stored without a resourceVersion, as a write
 * encodes it — its resourceVersion in Go's place (after uid), without walking the rest, and
 * remembers the result as canonical (see canonicalOnce). Changes `obj`'s metadata property
 * (a new metadata object). Returns false, changing nothing, for a kind without a schema.
 */
export function setCanonicalResourceVersion(obj: KubeObject, rv: string): boolean {
  const { apiVersion, kind } = obj as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !planForKind(apiVersion, kind)) return false;
  const meta = obj.metadata as unknown as Record<string, unknown>;
  const m: Record<string, unknown> = {};
  let placed = false;
  for (const k in meta) {
    if (k === 'resourceVersion') continue;
    if (!placed && !beforeResourceVersion.has(k)) {
      m['resourceVersion'] = rv;
      placed = true;
    }
    put(m, k, meta[k]);
  }
  if (!placed) m['resourceVersion'] = rv;
  (obj as { metadata: unknown }).metadata = m;
  knownCanonical.add(obj);
  return true;
}

const kindTypes = new Map<string, MessagePlan | null>();

function planForKind(apiVersion: string, kind: string): MessagePlan | null {
  const key = `${apiVersion}\u0000${kind}`;
  let p = kindTypes.get(key);
  if (p === undefined) {
    const slash = apiVersion.lastIndexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = apiVersion.slice(slash + 1);
    // The discovery kinds (APIGroup, APIVersions, ...) are meta/v1 types written as "v1".
    const def = typeForKind(group, version, kind) ?? (apiVersion === 'v1' ? typeForKind('meta.k8s.io', 'v1', kind) : undefined);
    p = def ? messagePlan(def) : null;
    kindTypes.set(key, p);
  }
  return p;
}

/**
 * The canonical form of an API object, typed by its own `apiVersion` and `kind`: declared kinds
 * per the schema, anything else (custom resources) as unstructured. An object without both is
 * returned unchanged.
 */
export function canonical<T extends KubeObject | Record<string, unknown>>(obj: T): T {
  if (knownCanonical.has(obj) && Object.isFrozen(obj)) return obj;
  const apiVersion = obj['apiVersion'];
  const kind = obj['kind'];
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return obj;
  const plan = planForKind(apiVersion, kind);
  if (plan) return canonMessage(obj as Record<string, unknown>, plan) as T;
  return canonMap(obj as Record<string, unknown>, any) as T;
}
