/**
 * Strategic merge patch (application/strategic-merge-patch+json) with upstream semantics, driven
 * by the schema's patch strategy and merge key of each field:
 *   - objects merge recursively; `null` deletes a key; fields of unknown type merge as JSON merge patch;
 *   - lists with strategy `merge` and a merge key merge element by element by that key; lists of
 *     primitives with strategy `merge` are unions; any other list is replaced by the patch's list;
 *   - directives: `$patch: replace|merge|delete` (on an object, or as a list element),
 *     `$retainKeys`, `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`.
 * Directives never reach the result. Errors are 400 BadRequest Status errors as upstream words them;
 * a result that cannot be the typed object (`{"metadata":{"labels":"x"}}`) is upstream's 422
 * `patch: Invalid value: "map[...]": cannot restore map from string`.
 * Inputs are not mutated.
 */
import { badRequest, invalid, type StatusError } from '../errors.ts';
import { goValue, restoreError } from './restore.ts';
import { getMessage, getType, jsonProperties, type FieldDef, type MessageDef, type TypeRef } from '../schema/index.ts';
import { isJsonObject } from '../../util/json.ts';

type Obj = Record<string, unknown>;

const patchDirective = '$patch';
const retainKeysDirective = '$retainKeys';
const setElementOrderPrefix = '$setElementOrder/';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList/';

/** Where a value sits in the schema: a message (object fields known), or unknown (plain JSON merge). */
type Schema = MessageDef | undefined;

export function applyStrategicMergePatch(original: unknown, patch: unknown, typeName: string): Obj {
  if (!isJsonObject(patch)) throw badRequest('the strategic merge patch must be a JSON object');
  const def = getType(typeName);
  const schema = def?.kind === 'message' ? def : undefined;
  const base = isJsonObject(original) ? (structuredClone(original) as Obj) : {};
  let out: Obj;
  try {
    out = mergeMap(base, patch, schema);
  } catch (err) {
    // The merge recurses per level; values nested deeper than it can follow are refused, not a 500.
    if (err instanceof RangeError && /call stack/i.test(err.message)) throw badRequest('the patch is nested too deeply to apply');
    throw err;
  }
  // As upstream converts the patched map back to the typed object: a wrong JSON type fails there.
  const wrongType = restoreError(out, typeName);
  if (wrongType) throw patchInvalid(goValue(patch), wrongType);
  return out;
}

/** Upstream's patch-handler error: an Invalid Status with one `patch` field error (no kind, no name). */
export function patchInvalid(value: string, message: string): StatusError {
  return invalid({ group: '', kind: '' }, '', [{ reason: 'FieldValueInvalid', field: 'patch', message: `Invalid value: ${JSON.stringify(value)}: ${message}` }]);
}

function fieldOf(schema: Schema, key: string): FieldDef | undefined {
  return schema ? jsonProperties(schema).get(key)?.field : undefined;
}

/** The message a type reference leads to (through lists and maps for elements), if any. */
function messageOf(t: TypeRef | undefined): Schema {
  if (!t) return undefined;
  if (t.kind === 'message') return getMessage(t.name);
  return undefined;
}

function elemMessage(f: FieldDef | undefined): Schema {
  if (!f) return undefined;
  const t = f.type;
  if (t.kind === 'list') return messageOf(t.elem);
  if (t.kind === 'map') return messageOf(t.value);
  return undefined;
}

function strategyOf(f: FieldDef | undefined): { merge: boolean; replace: boolean; key?: string } {
  const s = (f?.patchStrategy ?? '').split(',');
  return { merge: s.includes('merge'), replace: s.includes('replace'), key: f?.patchMergeKey };
}

/** Merges `patch` into `original` (mutated and returned): one JSON object level. */
function mergeMap(original: Obj, patch: Obj, schema: Schema): Obj {
  let p = patch;
  // Lists as they were before this merge: `$setElementOrder` orders server-only items by them.
  const before: Record<string, unknown> = {};
  for (const k of Object.keys(p)) {
    if (k.startsWith(setElementOrderPrefix)) before[k.slice(setElementOrderPrefix.length)] = original[k.slice(setElementOrderPrefix.length)];
  }
  if (Object.hasOwn(p, patchDirective)) {
    const d = p[patchDirective];
    if (d === 'replace') return stripDirectives(withoutKey(p, patchDirective), schema) as Obj;
    if (d === 'delete') return {};
    if (d !== 'merge') throw badRequest(`unknown patch type: ${String(d)} in map: ${goMap(p)}`);
    p = withoutKey(p, patchDirective);
  }
  if (Object.hasOwn(p, retainKeysDirective)) {
    const keep = p[retainKeysDirective];
    if (!Array.isArray(keep) || keep.some((k) => typeof k !== 'string')) {
      throw badRequest(`invalid patch: the value of $retainKeys must be a list of strings: ${JSON.stringify(keep)}`);
    }
    for (const k of Object.keys(p)) {
      if (k.startsWith('$')) continue;
      if (!keep.includes(k)) throw badRequest(`doesn't satisfy the retainKeys: the key ${k} is in the patch but not in $retainKeys list ${JSON.stringify(keep)}`);
    }
    for (const k of Object.keys(original)) if (!keep.includes(k)) delete original[k];
    p = withoutKey(p, retainKeysDirective);
  }
  // $deleteFromPrimitiveList/<field>: remove values from a primitive list before merging.
  for (const [k, v] of Object.entries(p)) {
    if (!k.startsWith(deleteFromPrimitiveListPrefix)) continue;
    const field = k.slice(deleteFromPrimitiveListPrefix.length);
    if (!Array.isArray(v)) throw badRequest(`invalid patch: ${k} must be a list: ${JSON.stringify(v)}`);
    const cur = original[field];
    if (Array.isArray(cur)) {
      const drop = new Set(v.map((x) => JSON.stringify(x)));
      original[field] = cur.filter((x) => !drop.has(JSON.stringify(x)));
    }
  }
  for (const [k, pv] of Object.entries(p)) {
    if (k.startsWith(deleteFromPrimitiveListPrefix) || k.startsWith(setElementOrderPrefix)) continue;
    if (k === patchDirective || k === retainKeysDirective) continue;
    if (pv === null) {
      delete original[k];
      continue;
    }
    const f = fieldOf(schema, k);
    const ov = original[k];
    if (ov === undefined || ov === null) {
      original[k] = stripDirectives(pv, schemaForValue(f, pv), f);
      continue;
    }
    if (Array.isArray(pv) && Array.isArray(ov)) {
      const st = strategyOf(f);
      original[k] = st.merge ? mergeList(ov, pv, f, st.key) : stripDirectives(pv, schemaForValue(f, pv), f);
      continue;
    }
    if (isJsonObject(pv) && isJsonObject(ov)) {
      if (strategyOf(f).replace) {
        original[k] = stripDirectives(pv, schemaForValue(f, pv), f);
        continue;
      }
      original[k] = mergeMap(ov, pv, schemaForValue(f, pv));
      continue;
    }
    // Scalars, or values whose types differ: the patch wins.
    original[k] = stripDirectives(pv, schemaForValue(f, pv), f);
  }
  // $setElementOrder/<field>: order the merged list as the patch says.
  for (const [k, order] of Object.entries(p)) {
    if (!k.startsWith(setElementOrderPrefix)) continue;
    const field = k.slice(setElementOrderPrefix.length);
    if (!Array.isArray(order)) throw badRequest(`invalid patch: ${k} must be a list: ${JSON.stringify(order)}`);
    const merged = original[field];
    if (!Array.isArray(merged)) continue;
    const f = fieldOf(schema, field);
    const prior = before[field];
    original[field] = orderList(merged, order, Array.isArray(prior) ? prior : [], f?.patchMergeKey);
  }
  return original;
}

/** The schema of a value: the field's message type for an object, or its element type for a list. */
function schemaForValue(f: FieldDef | undefined, v: unknown): Schema {
  if (!f) return undefined;
  if (Array.isArray(v)) return elemMessage(f);
  if (f.type.kind === 'map') return undefined; // a map's keys are data, not fields
  return messageOf(f.type);
}

/**
 * A patch value that has no counterpart in the original: taken as is, minus directives (merged
 * into an empty value so that `$patch`, `$retainKeys` and the like are applied and removed).
 */
function stripDirectives(v: unknown, schema: Schema, f?: FieldDef): unknown {
  if (Array.isArray(v)) {
    const st = strategyOf(f);
    if (st.merge) return mergeList([], v, f, st.key);
    return v.map((x) => (isJsonObject(x) ? stripDirectives(x, schema) : x));
  }
  if (isJsonObject(v)) {
    if (f?.type.kind === 'map' && !hasDirective(v)) {
      // map values may be objects of a known type
      const valueSchema = messageOf(f.type.value);
      if (!valueSchema) return structuredClone(v);
      const out: Obj = {};
      for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripDirectives(x, valueSchema);
      return out;
    }
    return mergeMap({}, v, schema);
  }
  return v;
}

function hasDirective(v: Obj): boolean {
  for (const k of Object.keys(v)) if (k.startsWith('$')) return true;
  return false;
}

function withoutKey(o: Obj, key: string): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (k !== key) out[k] = v;
  return out;
}

/** Merges a patch list into an original list with strategy `merge`. */
function mergeList(original: unknown[], patch: unknown[], f: FieldDef | undefined, mergeKey: string | undefined): unknown[] {
  if (!patch.length) return original;
  const elemSchema = elemMessage(f);
  if (patch.some((x) => Array.isArray(x)) || original.some((x) => Array.isArray(x))) throw badRequest('lists of lists are not supported');
  const maps = patch.some((x) => isJsonObject(x));
  if (!maps) {
    // A set of primitives: the union, original order first.
    const out = original.slice();
    const seen = new Set(out.map((x) => JSON.stringify(x)));
    for (const x of patch) {
      const j = JSON.stringify(x);
      if (!seen.has(j)) {
        seen.add(j);
        out.push(x);
      }
    }
    return out;
  }
  if (!mergeKey) {
    // Maps without a merge key cannot be merged: the patch list replaces (directives removed).
    return patch.filter((x) => !(isJsonObject(x) && Object.hasOwn(x, patchDirective))).map((x) => stripDirectives(x, elemSchema));
  }
  let out = original.slice();
  const items: Obj[] = [];
  for (const x of patch) {
    if (!isJsonObject(x)) throw badRequest(`invalid patch: list element ${JSON.stringify(x)} is not an object`);
    if (Object.hasOwn(x, patchDirective)) {
      const d = x[patchDirective];
      if (d === 'replace') {
        // The whole list becomes the patch's other elements.
        return patch.filter((y) => !(isJsonObject(y) && Object.hasOwn(y, patchDirective))).map((y) => stripDirectives(y, elemSchema));
      }
      if (d === 'delete') {
        if (!Object.hasOwn(x, mergeKey)) throw badRequest(`map: ${goMap(x)} does not contain declared merge key: ${mergeKey}`);
        const key = JSON.stringify(x[mergeKey]);
        out = out.filter((y) => !(isJsonObject(y) && JSON.stringify(y[mergeKey]) === key));
        continue;
      }
      if (d !== 'merge') throw badRequest(`unknown patch type: ${String(d)} in map: ${goMap(x)}`);
    }
    items.push(x);
  }
  for (const x of items) {
    if (!Object.hasOwn(x, mergeKey)) throw badRequest(`map: ${goMap(x)} does not contain declared merge key: ${mergeKey}`);
    const key = JSON.stringify(x[mergeKey]);
    const i = out.findIndex((y) => isJsonObject(y) && JSON.stringify(y[mergeKey]) === key);
    if (i >= 0) out[i] = mergeMap(structuredClone(out[i]) as Obj, x, elemSchema);
    else out.push(stripDirectives(x, elemSchema));
  }
  return out;
}

/**
 * Orders a merged list by `$setElementOrder`: the elements it names in its order; the others
 * (only the server had them) in their original order, each placed before the first named
 * element that came after it in the original list, as upstream interleaves them.
 */
function orderList(merged: unknown[], order: unknown[], prior: unknown[], mergeKey: string | undefined): unknown[] {
  const keyOf = (x: unknown): string => JSON.stringify(mergeKey && isJsonObject(x) ? x[mergeKey] : x);
  const rank = new Map<string, number>();
  order.forEach((o, i) => {
    if (mergeKey && isJsonObject(o) && !Object.hasOwn(o, mergeKey)) throw badRequest(`map: ${goMap(o)} does not contain declared merge key: ${mergeKey}`);
    rank.set(keyOf(o), i);
  });
  const serverIndex = new Map<string, number>();
  prior.forEach((x, i) => serverIndex.set(keyOf(x), i));
  const named = merged.filter((x) => rank.has(keyOf(x))).sort((a, b) => rank.get(keyOf(a))! - rank.get(keyOf(b))!);
  const serverOnly = merged
    .filter((x) => !rank.has(keyOf(x)))
    .sort((a, b) => (serverIndex.get(keyOf(a)) ?? -1) - (serverIndex.get(keyOf(b)) ?? -1));
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < named.length) {
    if (j >= named.length) out.push(serverOnly[i++]);
    else if (i >= serverOnly.length) out.push(named[j++]);
    else {
      const l = serverIndex.get(keyOf(serverOnly[i]));
      const r = serverIndex.get(keyOf(named[j]));
      if (l !== undefined && r !== undefined && l < r) out.push(serverOnly[i++]);
      else out.push(named[j++]);
    }
  }
  return out;
}

/** Go's %v of a map, as upstream's error messages print it. */
function goMap(o: Obj): string {
  const parts = Object.keys(o)
    .sort()
    .map((k) => `${k}:${typeof o[k] === 'object' && o[k] !== null ? JSON.stringify(o[k]) : String(o[k])}`);
  return `map[${parts.join(' ')}]`;
}
