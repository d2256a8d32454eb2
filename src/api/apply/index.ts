/**
 * Server-side apply and managedFields, driven by the schema (structured-merge-diff semantics):
 *
 * - A field set is a tree of path elements, in the FieldsV1 wire form's keys: `f:<field>`,
 *   `k:<json of the key fields>` (associative list items), `v:<json value>` (set members),
 *   `i:<index>`. A node is a member itself (`.`), has children, or both.
 * - `fieldSetOf(obj)`: what an applied configuration sets (leaves, list items, map entries,
 *   empty or atomic values).
 * - `applyConfig(live, config, opts)`: merges the configuration into the live object (granular
 *   structs and maps recursively, associative lists by key, sets by value, atomic values
 *   replaced), removes what this manager applied before and applies no more (unless another
 *   manager owns it), reports conflicts with other managers (409) unless forced, and records the
 *   manager's Apply entry.
 * - `updateManagedFields(old, next, opts)`: for every other write, gives the fields the write
 *   added or changed to the writer (operation Update), taking them from everyone else.
 * Fields upstream never tracks (apiVersion, kind, metadata name/namespace/uid/... and, for the
 * main resource, status; for the status subresource, everything but status) are left out.
 */
import type { KubeObject, ManagedFieldsEntry } from '../types.ts';
import { badRequest, statusError, invalid } from '../errors.ts';
import { getMessage, getType, jsonProperties, type FieldDef, type MessageDef, type TypeRef } from '../schema/index.ts';
import { isJsonObject } from '../../util/json.ts';
import { compareStrings } from '../../util/compare.ts';

// ---- field sets --------------------------------------------------------------------------------

/** A node of a field set: whether the path itself is a member, and its children by path element. */
export interface FieldNode {
  member: boolean;
  children: Map<string, FieldNode> | null;
}

export function emptySet(): FieldNode {
  return { member: false, children: null };
}

function child(n: FieldNode, key: string): FieldNode {
  n.children ??= new Map();
  let c = n.children.get(key);
  if (!c) n.children.set(key, (c = emptySet()));
  return c;
}

export function isEmpty(n: FieldNode | undefined): boolean {
  if (!n) return true;
  if (n.member) return false;
  if (!n.children) return true;
  for (const c of n.children.values()) if (!isEmpty(c)) return false;
  return true;
}

export function union(a: FieldNode, b: FieldNode): FieldNode {
  const out: FieldNode = { member: a.member || b.member, children: null };
  for (const src of [a, b]) {
    if (!src.children) continue;
    for (const [k, c] of src.children) {
      const cur = out.children?.get(k);
      (out.children ??= new Map()).set(k, cur ? union(cur, c) : clone(c));
    }
  }
  return out;
}

export function difference(a: FieldNode, b: FieldNode | undefined): FieldNode {
  if (!b) return clone(a);
  const out: FieldNode = { member: a.member && !b.member, children: null };
  if (a.children) {
    for (const [k, c] of a.children) {
      const d = difference(c, b.children?.get(k));
      if (!isEmpty(d)) (out.children ??= new Map()).set(k, d);
    }
  }
  return out;
}

/** Whether some path is a member of both sets (else difference(a, b) is a as it is). */
export function overlaps(a: FieldNode, b: FieldNode): boolean {
  if (a.member && b.member) return true;
  if (!a.children || !b.children) return false;
  const [few, many] = a.children.size <= b.children.size ? [a.children, b.children] : [b.children, a.children];
  for (const [k, c] of few) {
    const o = many.get(k);
    if (o && overlaps(c, o)) return true;
  }
  return false;
}

export function intersection(a: FieldNode, b: FieldNode): FieldNode {
  const out: FieldNode = { member: a.member && b.member, children: null };
  if (a.children && b.children) {
    for (const [k, c] of a.children) {
      const o = b.children.get(k);
      if (!o) continue;
      const i = intersection(c, o);
      if (!isEmpty(i)) (out.children ??= new Map()).set(k, i);
    }
  }
  return out;
}

function clone(n: FieldNode): FieldNode {
  return { member: n.member, children: n.children ? new Map([...n.children].map(([k, c]) => [k, clone(c)])) : null };
}

/** The FieldsV1 JSON of a set. */
export function encodeFieldsV1(n: FieldNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const kids = n.children ? [...n.children].filter(([, c]) => !isEmpty(c)) : [];
  if (n.member && kids.length) out['.'] = {};
  kids.sort(([a], [b]) => compareStrings(a, b));
  for (const [k, c] of kids) out[k] = encodeFieldsV1(c);
  return out;
}

/** A set from FieldsV1 JSON; throws BadRequest for a malformed one. */
export function decodeFieldsV1(v: unknown): FieldNode {
  return decodeNode(v, { normal: true });
}

/**
 * A set from FieldsV1 JSON, and whether the JSON is in encodeFieldsV1's own form (keys in
 * order, "." as {} and only beside children), so that encoding the set gives it back.
 */
export function decodeFieldsV1Form(v: unknown): { set: FieldNode; normal: boolean } {
  const form = { normal: true };
  const set = decodeNode(v, form);
  return { set, normal: form.normal };
}

function decodeNode(v: unknown, form: { normal: boolean }): FieldNode {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('error decoding FieldsV1: expected an object');
  const n: FieldNode = { member: true, children: null };
  let prev: string | undefined;
  let dot = false;
  for (const k in v) {
    const c = (v as Record<string, unknown>)[k];
    if (prev !== undefined && !(prev < k)) form.normal = false;
    prev = k;
    if (k === '.') {
      dot = true;
      if (!isJsonObject(c) || Object.keys(c).length !== 0) form.normal = false;
      continue;
    }
    if (!/^[fkvi]:/.test(k)) throw badRequest(`error decoding FieldsV1: unexpected path element ${JSON.stringify(k)}`);
    (n.children ??= new Map()).set(k, decodeNode(c, form));
  }
  // {} is a member leaf; with children, only "." makes the path itself a member.
  if (n.children) n.member = dot;
  else if (dot) form.normal = false;
  return n;
}

/** Member paths of a set (each a list of path elements), in sorted order. */
export function memberPaths(n: FieldNode, prefix: string[] = [], out: string[][] = []): string[][] {
  if (n.member) out.push(prefix);
  if (n.children) for (const [k, c] of [...n.children].sort(([a], [b]) => (a < b ? -1 : 1))) memberPaths(c, [...prefix, k], out);
  return out;
}

/** A path as upstream prints it in conflicts: `.spec.containers[name="web"].image`. */
export function formatPath(path: readonly string[]): string {
  let s = '';
  for (const pe of path) {
    const kind = pe[0];
    const rest = pe.slice(2);
    if (kind === 'f') s += `.${rest}`;
    else if (kind === 'i') s += `[${rest}]`;
    else if (kind === 'v') s += `[=${rest}]`;
    else if (kind === 'k') {
      const keys = JSON.parse(rest) as Record<string, unknown>;
      s += `[${Object.entries(keys).map(([k, x]) => `${k}=${JSON.stringify(x)}`).join(',')}]`;
    }
  }
  return s;
}

// ---- schema ------------------------------------------------------------------------------------

/** How a value is treated, from its type in the schema. */
type Shape =
  | { kind: 'struct'; def: MessageDef; atomic: boolean }
  | { kind: 'map'; value: TypeRef | undefined; atomic: boolean }
  | { kind: 'list'; elem: TypeRef | undefined; rel: 'atomic' | 'set' | 'map'; /** sorted */ keys: readonly string[] }
  | { kind: 'scalar' };

/** Unknown types (RawExtension, JSON, untyped) are "deduced": maps granular, lists atomic. */
const deduced: Shape = { kind: 'map', value: undefined, atomic: false };

/** Shapes are pure functions of the (shared, immutable) type and field: computed once each. */
const shapeCache = new WeakMap<object, Shape>();

function shapeOfType(t: TypeRef | undefined, f?: FieldDef): Shape {
  if (!t) return deduced;
  const cacheKey: object = f ?? t;
  const hit = shapeCache.get(cacheKey);
  if (hit) return hit;
  const shape = computeShape(t, f);
  shapeCache.set(cacheKey, shape);
  return shape;
}

function computeShape(t: TypeRef, f?: FieldDef): Shape {
  switch (t.kind) {
    case 'scalar':
    case 'special':
      return t.kind === 'special' && (t.special === 'RawExtension' || t.special === 'JSON') ? { kind: 'scalar' } : { kind: 'scalar' };
    case 'message': {
      const def = getMessage(t.name);
      return { kind: 'struct', def, atomic: (f?.structType ?? def.structType) === 'atomic' };
    }
    case 'map':
      return { kind: 'map', value: t.value, atomic: f?.mapType === 'atomic' };
    case 'list': {
      const strategy = (f?.patchStrategy ?? '').split(',');
      let rel: 'atomic' | 'set' | 'map' = f?.listType ?? 'atomic';
      let keys: readonly string[] = f?.listMapKeys ?? [];
      if (!f?.listType && strategy.includes('merge')) {
        if (f?.patchMergeKey) {
          rel = 'map';
          keys = [f.patchMergeKey];
        } else rel = 'set';
      }
      if (rel === 'map' && !keys.length && f?.patchMergeKey) keys = [f.patchMergeKey];
      return { kind: 'list', elem: t.elem, rel, keys: [...keys].sort() };
    }
  }
}

function fieldOfStruct(def: MessageDef, key: string): FieldDef | undefined {
  return jsonProperties(def).get(key)?.field;
}

/** The path element of a list item. */
function itemElement(shape: Extract<Shape, { kind: 'list' }>, item: unknown, index: number): string {
  if (shape.rel === 'map' && isJsonObject(item)) {
    // The JSON of an object of the key fields, in sorted key order, written directly.
    let out = 'k:{';
    let first = true;
    for (const k of shape.keys) {
      const v = item[k];
      if (v === undefined) continue;
      out += `${first ? '' : ','}${JSON.stringify(k)}:${JSON.stringify(v)}`;
      first = false;
    }
    return `${out}}`;
  }
  if (shape.rel === 'set') return `v:${JSON.stringify(item)}`;
  return `i:${index}`;
}

// ---- the set of an applied configuration --------------------------------------------------------

/** The fields `obj` (of message type `typeName`) sets, as structured-merge-diff's ToFieldSet. */
export function fieldSetOf(obj: unknown, typeName: string): FieldNode {
  const root = emptySet();
  walkSet(obj, { kind: 'struct', def: mustMessage(typeName), atomic: false }, root);
  return root;
}

function mustMessage(typeName: string): MessageDef {
  const t = getType(typeName);
  if (t?.kind !== 'message') throw new Error(`apply: no message type ${typeName}`);
  return t;
}

function walkSet(v: unknown, shape: Shape, node: FieldNode): void {
  if (v === null || v === undefined) {
    node.member = true;
    return;
  }
  switch (shape.kind) {
    case 'scalar':
      node.member = true;
      return;
    case 'struct':
    case 'map': {
      if (shape.atomic || !isJsonObject(v)) {
        node.member = true;
        return;
      }
      const entries = Object.entries(v);
      if (!entries.length) {
        node.member = true;
        return;
      }
      for (const [k, x] of entries) {
        let childShape: Shape;
        let isField = true;
        if (shape.kind === 'struct') {
          const f = fieldOfStruct(shape.def, k);
          if (!f && !shape.def.preserveUnknownFields) continue; // unknown fields were pruned or are not tracked
          childShape = f ? shapeOfType(f.type, f) : deduced;
        } else {
          childShape = shapeOfType(shape.value);
          isField = false;
        }
        const c = child(node, `f:${k}`);
        walkSet(x, childShape, c);
        if (!isField || x === null || (isJsonObject(x) && Object.keys(x).length === 0)) c.member = true;
      }
      return;
    }
    case 'list': {
      if (shape.rel === 'atomic' || !Array.isArray(v)) {
        node.member = true;
        return;
      }
      v.forEach((item, i) => {
        const c = child(node, itemElement(shape, item, i));
        if (shape.rel === 'map') walkSet(item, shapeOfType(shape.elem), c);
        c.member = true;
      });
      return;
    }
  }
}

// ---- comparing two objects (for Update operations) ---------------------------------------------

interface Comparison {
  /** Added or changed paths (the writer's). */
  changed: FieldNode;
  /** Paths that disappeared. */
  removed: FieldNode;
}

function compare(old: unknown, next: unknown, typeName: string): Comparison {
  const out: Comparison = { changed: emptySet(), removed: emptySet() };
  cmp(old, next, { kind: 'struct', def: mustMessage(typeName), atomic: false }, out.changed, out.removed, true);
  return out;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** Every path of a value (as a newly added subtree: each node is a member). */
function addAll(v: unknown, shape: Shape, node: FieldNode): void {
  node.member = true;
  if (v === null || v === undefined) return;
  if ((shape.kind === 'struct' || shape.kind === 'map') && !shape.atomic && isJsonObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      let s: Shape;
      if (shape.kind === 'struct') {
        const f = fieldOfStruct(shape.def, k);
        if (!f && !shape.def.preserveUnknownFields) continue;
        s = f ? shapeOfType(f.type, f) : deduced;
      } else s = shapeOfType(shape.value);
      addAll(x, s, child(node, `f:${k}`));
    }
  } else if (shape.kind === 'list' && shape.rel !== 'atomic' && Array.isArray(v)) {
    v.forEach((item, i) => {
      const c = child(node, itemElement(shape, item, i));
      if (shape.rel === 'map') addAll(item, shapeOfType(shape.elem), c);
      else c.member = true;
    });
  }
}

/**
 * Compares `a` (old) and `b` (new) below one node. A struct field that Go always serializes
 * (a non-pointer struct) counts as present in both, so only its contents can be added.
 */
function cmp(a: unknown, b: unknown, shape: Shape, changed: FieldNode, removed: FieldNode, alwaysPresent = false): void {
  const aAbsent = a === undefined;
  const bAbsent = b === undefined;
  if (aAbsent && bAbsent) return;
  const granular = (shape.kind === 'struct' || shape.kind === 'map') && !shape.atomic;
  if (bAbsent) {
    removed.member = true;
    return;
  }
  if (aAbsent && !alwaysPresent) {
    addAll(b, shape, changed);
    return;
  }
  if (granular && (isJsonObject(a) || aAbsent) && isJsonObject(b)) {
    const ao = (a ?? {}) as Record<string, unknown>;
    const keys = new Set([...Object.keys(ao), ...Object.keys(b)]);
    for (const k of keys) {
      let s: Shape;
      let always = false;
      if (shape.kind === 'struct') {
        const f = fieldOfStruct(shape.def, k);
        if (!f && !shape.def.preserveUnknownFields) continue;
        s = f ? shapeOfType(f.type, f) : deduced;
        // Go serializes non-pointer structs and fields without omitempty even when zero.
        always = !!f && ((f.type.kind === 'message' && !f.pointer && s.kind === 'struct') || !f.omitEmpty);
      } else s = shapeOfType(shape.value);
      const pe = `f:${k}`;
      const av = ao[k];
      const bv = b[k];
      if (av === undefined && bv === undefined) continue;
      // An equal value adds and removes nothing: no nodes are made for it (most of an update's
      // object is unchanged, and every empty node would be carried to the union and the encoding).
      if (av !== undefined && bv !== undefined && jsonEqual(av, bv)) continue;
      cmp(av, bv, s, child(changed, pe), child(removed, pe), always);
    }
    return;
  }
  if (shape.kind === 'list' && shape.rel !== 'atomic' && (Array.isArray(a) || aAbsent) && Array.isArray(b)) {
    const before = new Map<string, unknown>();
    ((a ?? []) as unknown[]).forEach((x, i) => before.set(itemElement(shape, x, i), x));
    const after = new Map<string, unknown>();
    b.forEach((x, i) => after.set(itemElement(shape, x, i), x));
    for (const [pe, x] of after) {
      const elemShape = shape.rel === 'map' ? shapeOfType(shape.elem) : ({ kind: 'scalar' } as Shape);
      if (!before.has(pe)) addAll(x, elemShape, child(changed, pe));
      else if (shape.rel === 'map' && !jsonEqual(before.get(pe), x)) cmp(before.get(pe), x, elemShape, child(changed, pe), child(removed, pe));
    }
    for (const pe of before.keys()) if (!after.has(pe)) child(removed, pe).member = true;
    return;
  }
  if (!jsonEqual(a, b)) changed.member = true;
}

// ---- untracked fields --------------------------------------------------------------------------

const metaUntracked = ['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'generation', 'managedFields', 'resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds'];

/** Removes what upstream never tracks, and what the other half of a status-split kind owns. */
function stripUntracked(set: FieldNode, scope: Scope): FieldNode {
  const c = set.children;
  if (!c) return set;
  c.delete('f:apiVersion');
  c.delete('f:kind');
  const meta = c.get('f:metadata');
  if (meta) {
    meta.member = false;
    for (const k of metaUntracked) meta.children?.delete(`f:${k}`);
  }
  if (scope.statusSplit) {
    if (scope.subresource === 'status') {
      for (const k of [...c.keys()]) if (k !== 'f:status' && k !== 'f:metadata') c.delete(k);
    } else if (!scope.subresource) c.delete('f:status');
  }
  return set;
}

interface Scope {
  subresource?: string;
  /** The kind has a status subresource: status and the rest are written separately. */
  statusSplit: boolean;
}

// ---- managedFields entries ---------------------------------------------------------------------

interface Entry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  subresource?: string;
  set: FieldNode;
  /**
   * The FieldsV1 JSON `set` was read from, when in the encoder's own form: written back as it
   * is while the entry's set is still that same object (a write leaves most entries alone, and
   * encoding each again was most of the field manager's cost).
   */
  stored?: { set: FieldNode; json: unknown };
}

const entryKey = (e: { manager?: string; operation?: string; subresource?: string }) => `${e.manager ?? ''}\u0000${e.operation ?? ''}\u0000${e.subresource ?? ''}`;

function decodeEntries(list: unknown, gk: { group: string; kind: string }, name: string): Entry[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalid(gk, name, [{ reason: 'FieldValueInvalid', field: 'metadata.managedFields', message: 'Invalid value: must be a list' }]);
  return list.map((raw: unknown, i) => {
    const where = `metadata.managedFields[${i}]`;
    const e = raw as ManagedFieldsEntry;
    if (!isJsonObject(raw)) throw invalid(gk, name, [{ reason: 'FieldValueInvalid', field: where, message: 'Invalid value: must be an object' }]);
    if (e.operation !== 'Apply' && e.operation !== 'Update') {
      throw invalid(gk, name, [{ reason: 'FieldValueNotSupported', field: `${where}.operation`, message: `Unsupported value: ${JSON.stringify(e.operation ?? '')}: supported values: "Apply", "Update"` }]);
    }
    if (e.fieldsType !== undefined && e.fieldsType !== 'FieldsV1') {
      throw invalid(gk, name, [{ reason: 'FieldValueNotSupported', field: `${where}.fieldsType`, message: `Unsupported value: ${JSON.stringify(e.fieldsType)}: supported values: "FieldsV1"` }]);
    }
    const entry: Entry = { manager: e.manager ?? '', operation: e.operation, apiVersion: e.apiVersion ?? '', time: e.time, subresource: e.subresource || undefined, set: emptySet() };
    if (e.fieldsV1 !== undefined) {
      const { set, normal } = decodeFieldsV1Form(e.fieldsV1);
      entry.set = set;
      if (normal) entry.stored = { set, json: e.fieldsV1 };
    }
    return entry;
  });
}

function encodeEntries(entries: Entry[]): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (isEmpty(e.set)) continue;
    const m: ManagedFieldsEntry = { manager: e.manager, operation: e.operation, apiVersion: e.apiVersion };
    if (e.time) m.time = e.time;
    m.fieldsType = 'FieldsV1';
    m.fieldsV1 = e.stored?.set === e.set ? e.stored.json : encodeFieldsV1(e.set);
    if (e.subresource) m.subresource = e.subresource;
    out.push(m);
  }
  return out;
}

/** At most this many Update entries; the oldest are merged into `ancient-changes`. */
const maxUpdateManagers = 10;

function capUpdateManagers(entries: Entry[]): Entry[] {
  const updates = entries.filter((e) => e.operation === 'Update');
  if (updates.length <= maxUpdateManagers) return entries;
  const byAge = [...updates].sort((a, b) => compareStrings(a.time ?? '', b.time ?? ''));
  const excess = byAge.slice(0, updates.length - maxUpdateManagers + 1);
  let ancient = entries.find((e) => e.manager === 'ancient-changes' && e.operation === 'Update');
  const drop = new Set(excess);
  if (!ancient) ancient = { manager: 'ancient-changes', operation: 'Update', apiVersion: excess[0]!.apiVersion, set: emptySet() };
  for (const e of excess) if (e !== ancient) ancient.set = union(ancient.set, e.set);
  const kept = entries.filter((e) => !drop.has(e) || e === ancient);
  if (!kept.includes(ancient)) kept.push(ancient);
  return kept;
}

export interface ManagedOptions {
  manager: string;
  /** apiVersion of the request ('apps/v1'). */
  apiVersion: string;
  /** The message type of the object ('apps.v1.Deployment'). */
  typeName: string;
  subresource?: string;
  /** The kind has a status subresource. */
  statusSplit: boolean;
  /** RFC 3339 time for changed entries. */
  now: string;
  gk: { group: string; kind: string };
}

/**
 * Records a non-apply write from `old` (undefined on create) to `next` (changed in place and
 * returned): the changed fields go to `opts.manager` (operation Update) and leave every other
 * manager. As upstream's field manager:
 * - managedFields the request sets are the starting point (kubectl moving client-side apply
 *   ownership), unless they are not a valid list (then the stored ones are) or the write is to a
 *   subresource (always the stored ones);
 * - `[]` or `[{}]` resets them: the object is no longer tracked;
 * - an update of an object without managedFields records nothing (tracking starts at creation
 *   or at the next apply, as before-first-apply).
 */
export function updateManagedFields(old: KubeObject | undefined, next: KubeObject, opts: ManagedOptions): KubeObject {
  let entries = startingEntries(old, next, opts);
  if (old && entries.length === 0) {
    delete next.metadata.managedFields;
    return next;
  }
  const scope: Scope = { subresource: opts.subresource, statusSplit: opts.statusSplit };
  const strippedOld = old ? withoutManaged(old) : undefined;
  const { changed, removed } = compare(strippedOld, withoutManaged(next), opts.typeName);
  const mine = stripUntracked(changed, scope);
  const gone = stripUntracked(removed, scope);
  if (!isEmpty(mine) || !isEmpty(gone)) {
    for (const e of entries) if (overlaps(e.set, mine) || overlaps(e.set, gone)) e.set = difference(difference(e.set, mine), gone);
    const key = entryKey({ manager: opts.manager, operation: 'Update', subresource: opts.subresource });
    let own = entries.find((e) => entryKey(e) === key);
    if (!own && !isEmpty(mine)) {
      own = { manager: opts.manager, operation: 'Update', apiVersion: opts.apiVersion, subresource: opts.subresource, set: emptySet() };
      entries.push(own);
    }
    if (own && !isEmpty(mine)) {
      own.set = union(own.set, mine);
      own.time = opts.now;
      own.apiVersion = opts.apiVersion;
    }
    entries = capUpdateManagers(entries);
  }
  setManagedFields(next, entries);
  return next;
}

/** The entries a write starts from (see updateManagedFields). */
function startingEntries(old: KubeObject | undefined, next: KubeObject, opts: { subresource?: string; gk: { group: string; kind: string } }): Entry[] {
  const given = next.metadata.managedFields;
  const name = next.metadata.name ?? '';
  if (old && opts.subresource) return decodeEntries(old.metadata.managedFields, opts.gk, name);
  if (isResetManagedFields(given)) return [];
  const fromRequest = tryDecodeEntries(given);
  if (fromRequest?.length) return fromRequest;
  return old ? decodeEntries(old.metadata.managedFields, opts.gk, name) : [];
}

/**
 * For a write recorded under no manager: the managedFields it leaves, without tracking it
 * (a reset clears them, malformed ones or a subresource's are replaced by the stored ones).
 */
export function keepManagedFields(old: KubeObject | undefined, next: KubeObject, opts: { subresource?: string; gk: { group: string; kind: string } }): KubeObject {
  setManagedFields(next, startingEntries(old, next, opts));
  return next;
}

/** Upstream isResetManagedFields: an empty list, or a list of one empty entry. */
export function isResetManagedFields(list: unknown): boolean {
  if (!Array.isArray(list)) return false;
  if (list.length === 0) return true;
  if (list.length !== 1) return false;
  const e = list[0] as unknown;
  return isJsonObject(e) && Object.values(e).every((v) => v === undefined || v === null || v === '');
}

/** Entries a request gives, as upstream's DecodeManagedFields accepts them; undefined when any is malformed. */
function tryDecodeEntries(list: unknown): Entry[] | undefined {
  if (!Array.isArray(list)) return undefined;
  for (const raw of list) {
    if (!isJsonObject(raw)) return undefined;
    const e = raw as ManagedFieldsEntry;
    if ((e.operation !== 'Apply' && e.operation !== 'Update') || !e.apiVersion || e.fieldsType !== 'FieldsV1') return undefined;
  }
  try {
    return decodeEntries(list, { group: '', kind: '' }, '');
  } catch {
    return undefined;
  }
}

/** Writes the entries (those with fields) as the object's managedFields, or removes them. */
function setManagedFields(o: KubeObject, entries: Entry[]): void {
  const list = encodeEntries(entries);
  if (list.length) o.metadata.managedFields = list;
  else delete o.metadata.managedFields;
}

function withoutManaged(o: KubeObject): KubeObject {
  const { managedFields: _m, ...meta } = o.metadata;
  return { ...o, metadata: meta };
}

export interface ApplyOptions extends ManagedOptions {
  force: boolean;
}

const lastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Server-side apply of `config` to `live` (undefined: the apply creates the object). Returns the
 * object to store, with its managedFields; throws 409 Conflict listing conflicts unless forced.
 * `live` must be the caller's own copy: the result shares parts of it and it may be changed.
 */
export function applyConfig(live: KubeObject | undefined, config: KubeObject, opts: ApplyOptions): KubeObject {
  const typeName = opts.typeName;
  const rootShape: Shape = { kind: 'struct', def: mustMessage(typeName), atomic: false };
  const scope: Scope = { subresource: opts.subresource, statusSplit: opts.statusSplit };
  const name = config.metadata?.name ?? live?.metadata.name ?? '';
  const cfgManaged = config.metadata?.managedFields;
  if (cfgManaged !== undefined && cfgManaged !== null) throw badRequest('metadata.managedFields must be nil');
  let entries = decodeEntries(live?.metadata.managedFields, opts.gk, name);
  // `live` is the caller's private copy (it may be changed); the result shares parts of it.
  const base = live ? withoutManaged(live) : ({ apiVersion: config.apiVersion, kind: config.kind, metadata: {} } as KubeObject);
  if (live && entries.length === 0) {
    // Tracking starts now: everything already there belongs to before-first-apply.
    const set = stripUntracked(fieldSetOf(withoutManaged(live), typeName), scope);
    if (!isEmpty(set)) entries.push({ manager: 'before-first-apply', operation: 'Update', apiVersion: opts.apiVersion, time: opts.now, set });
  }
  const cfg = withoutManaged(structuredClone(config));
  delete cfg.metadata.resourceVersion;
  const applied = stripUntracked(fieldSetOf(cfg, typeName), scope);
  const key = entryKey({ manager: opts.manager, operation: 'Apply', subresource: opts.subresource });
  const previous = entries.find((e) => entryKey(e) === key)?.set ?? emptySet();

  // Merge, then prune what this manager applied before, applies no more, and nobody else owns.
  const merged = mergeValue(base, cfg, rootShape) as KubeObject;
  let others = emptySet();
  for (const e of entries) if (entryKey(e) !== key) others = union(others, e.set);
  const prune = difference(difference(previous, applied), others);
  removePaths(merged, prune, rootShape, union(others, applied));

  // Conflicts: fields this apply changes that another manager owns.
  const { changed, removed } = compare(base, merged, typeName);
  const touched = intersection(union(stripUntracked(changed, scope), stripUntracked(removed, scope)), applied);
  const conflicts: Conflict[] = [];
  for (const e of entries) {
    if (entryKey(e) === key) continue;
    if (e.manager === opts.manager && e.operation === 'Update') continue;
    for (const p of memberPaths(intersection(e.set, touched))) conflicts.push({ entry: e, path: p });
  }
  if (conflicts.length && !opts.force) {
    // kubectl's first server-side apply after client-side ones: fields the last-applied
    // annotation holds with their live values are the user's own, not a conflict.
    const allowed = opts.manager === kubectlManager && live ? allowedByLastApplied(live, opts) : undefined;
    const real = allowed ? conflicts.filter((c) => !hasPath(allowed, c.path)) : conflicts;
    if (real.length) throw conflictError(real, opts.gk, name);
  }
  if (opts.force || conflicts.length) {
    for (const e of entries) if (entryKey(e) !== key) e.set = difference(e.set, touched);
  }
  let own = entries.find((e) => entryKey(e) === key);
  if (!own) {
    own = { manager: opts.manager, operation: 'Apply', apiVersion: opts.apiVersion, subresource: opts.subresource, set: emptySet() };
    entries.push(own);
  }
  // An apply that changes nothing leaves the entry (and its time) as it was: the write is a no-op.
  const same = own.time !== undefined && own.apiVersion === opts.apiVersion && jsonEqual(encodeFieldsV1(own.set), encodeFieldsV1(applied)) && jsonEqual(merged, base);
  if (!same) {
    own.set = applied;
    own.time = opts.now;
    own.apiVersion = opts.apiVersion;
  }
  entries = capUpdateManagers(entries);
  setManagedFields(merged, entries);
  // kubectl's server-side applies keep the client-side last-applied annotation (when there is
  // one) in step with what they apply, as upstream's lastAppliedUpdater does.
  const annotations = merged.metadata.annotations;
  if (opts.manager === kubectlManager && annotations?.[lastAppliedAnnotation]) {
    const last = structuredClone(config);
    const ann = last.metadata?.annotations;
    if (ann) delete ann[lastAppliedAnnotation];
    annotations[lastAppliedAnnotation] = `${JSON.stringify(sortKeys(last))}\n`;
  }
  return merged;
}

/** The field manager kubectl's server-side apply uses; only its applies migrate client-side apply state. */
const kubectlManager = 'kubectl';

/** A JSON value with object keys in sorted order, as Go encodes a map. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isJsonObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
  return out;
}

/** Whether `path` is a member of `set`. */
function hasPath(set: FieldNode, path: readonly string[]): boolean {
  let n: FieldNode | undefined = set;
  for (const pe of path) {
    n = n.children?.get(pe);
    if (!n) return false;
  }
  return n.member;
}

/**
 * Upstream's lastAppliedManager: the fields of the last-applied configuration (of this apply's
 * version) whose values the live object still has; undefined when there is no usable annotation.
 */
function allowedByLastApplied(live: KubeObject, opts: ApplyOptions): FieldNode | undefined {
  const text = live.metadata.annotations?.[lastAppliedAnnotation];
  if (!text) return undefined;
  let last: KubeObject;
  try {
    last = JSON.parse(text) as KubeObject;
  } catch {
    return undefined;
  }
  if (!isJsonObject(last) || last.apiVersion !== opts.apiVersion) return undefined;
  const lastSet = fieldSetOf(last, opts.typeName);
  const { changed, removed } = compare(last, withoutManaged(live), opts.typeName);
  return difference(difference(lastSet, changed), removed);
}

interface Conflict {
  entry: Entry;
  path: string[];
}

/** A manager as upstream names it in conflicts: `"m"`, `"m" with subresource "scale" using apps/v1 at <time>`. */
function printManager(e: Entry): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource) s += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') s += e.time ? ` using ${e.apiVersion} at ${e.time}` : ` using ${e.apiVersion}`;
  return s;
}

function conflictError(conflicts: Conflict[], gk: { group: string; kind: string }, name: string) {
  const lines = conflicts.map((c) => `conflict with ${printManager(c.entry)}: ${formatPath(c.path)}`);
  const message = `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${lines.join('\n')}`;
  return statusError('Conflict', message, {
    name,
    group: gk.group,
    kind: gk.kind,
    causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c.entry)}`, field: formatPath(c.path) })),
  });
}

// ---- merging and pruning -----------------------------------------------------------------------

function mergeValue(live: unknown, cfg: unknown, shape: Shape): unknown {
  if (cfg === undefined) return live;
  if ((shape.kind === 'struct' || shape.kind === 'map') && !shape.atomic && isJsonObject(live) && isJsonObject(cfg)) {
    const out: Record<string, unknown> = { ...live };
    for (const [k, v] of Object.entries(cfg)) {
      let s: Shape;
      if (shape.kind === 'struct') {
        const f = fieldOfStruct(shape.def, k);
        s = f ? shapeOfType(f.type, f) : deduced;
      } else s = shapeOfType(shape.value);
      out[k] = mergeValue(live[k], v, s);
    }
    return out;
  }
  if (shape.kind === 'list' && shape.rel !== 'atomic' && Array.isArray(live) && Array.isArray(cfg)) {
    const elemShape = shape.rel === 'map' ? shapeOfType(shape.elem) : ({ kind: 'scalar' } as Shape);
    // Walk both lists together: live order is kept, configuration-only items are inserted where
    // the configuration has them, and an item both have is merged at the configuration's place.
    const lKeys = live.map((x, i) => itemElement(shape, x, i));
    const rKeys = cfg.map((x, i) => itemElement(shape, x, i));
    const lByKey = new Map<string, unknown>();
    lKeys.forEach((k, i) => lByKey.set(k, live[i]));
    const rSet = new Set(rKeys);
    const done = new Set<string>();
    const out: unknown[] = [];
    let l = 0;
    let r = 0;
    while (l < lKeys.length || r < rKeys.length) {
      if (l < lKeys.length && done.has(lKeys[l]!)) {
        l++;
        continue;
      }
      if (l < lKeys.length && (r >= rKeys.length || !rSet.has(lKeys[l]!))) {
        out.push(live[l]);
        l++;
        continue;
      }
      if (r < rKeys.length) {
        const k = rKeys[r]!;
        out.push(lByKey.has(k) ? mergeValue(lByKey.get(k), cfg[r], elemShape) : cfg[r]);
        done.add(k);
        r++;
        continue;
      }
      l++;
    }
    return out;
  }
  return cfg; // cfg is this apply's private copy
}

/**
 * Removes the member paths of `set` from `v`. As structured-merge-diff adds owned items back
 * after pruning, a struct field whose descendants someone still owns (`keep`: other managers and
 * this configuration) stays, losing only its pruned children; list items and map entries go
 * unless they themselves are owned (which `set`, the unowned part, already excludes).
 */
function removePaths(v: unknown, set: FieldNode, shape: Shape, keep: FieldNode | undefined): void {
  if (!set.children) return;
  if ((shape.kind === 'struct' || shape.kind === 'map') && isJsonObject(v)) {
    for (const [pe, sub] of set.children) {
      if (!pe.startsWith('f:')) continue;
      const k = pe.slice(2);
      let s: Shape;
      if (shape.kind === 'struct') {
        const f = fieldOfStruct(shape.def, k);
        s = f ? shapeOfType(f.type, f) : deduced;
      } else s = shapeOfType(shape.value);
      const kept = keep?.children?.get(pe);
      if (sub.member && (shape.kind === 'map' || isEmpty(kept))) delete v[k];
      else removePaths(v[k], sub, s, kept);
    }
    return;
  }
  if (shape.kind === 'list' && Array.isArray(v)) {
    const elemShape = shape.rel === 'map' ? shapeOfType(shape.elem) : ({ kind: 'scalar' } as Shape);
    for (let i = v.length - 1; i >= 0; i--) {
      const pe = itemElement(shape, v[i], i);
      const sub = set.children.get(pe);
      if (!sub) continue;
      if (sub.member) v.splice(i, 1);
      else removePaths(v[i], sub, elemShape, keep?.children?.get(pe));
    }
  }
}

// ---- manager names ------------------------------------------------------------------------------

/** The manager of a write without fieldManager: the User-Agent's product name, as upstream. */
export function managerFromUserAgent(ua: string | undefined): string {
  const s = (ua ?? '').split('/')[0]!.trim();
  return s.slice(0, 128);
}

/** Validates a fieldManager query value; returns the error message or undefined. */
export function validateManagerName(m: string): string | undefined {
  if (m.length > 128) return 'fieldManager: Too long: may not be more than 128 bytes';
  if (!/^[\x20-\x7e]*$/.test(m)) return 'fieldManager: Invalid value: must only contain printable characters';
  return undefined;
}
