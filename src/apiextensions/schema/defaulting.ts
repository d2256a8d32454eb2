/**
 * Structural-schema defaulting of custom resources, as upstream's schema/defaulting.Default:
 * for every object the schema walks, each declared property with a `default` that is absent (or
 * null while the property is not nullable) gets a deep copy of the default; the same for null
 * values of additionalProperties and items whose schema is not nullable; then it recurses into
 * every present value (properties, additionalProperties, items) — so defaults nest, including in
 * embedded resources' metadata. Upstream runs it on create/update requests (after pruning) and
 * on every read from storage; it is idempotent.
 */
import type { JSONSchemaProps } from '../../api/index.ts';
import { isJsonObject } from '../../util/json.ts';

type Obj = Record<string, unknown>;

/** Only schemas with a default somewhere below need a walk: compiled once per schema object. */
const hasDefaults = new WeakMap<JSONSchemaProps, boolean>();

function needsWalk(s: JSONSchemaProps): boolean {
  let v = hasDefaults.get(s);
  if (v !== undefined) return v;
  hasDefaults.set(s, false); // guards recursion
  v = false;
  if (s.properties) for (const p of Object.values(s.properties)) if (p.default !== undefined || needsWalk(p)) v = true;
  const ap = s.additionalProperties;
  if (typeof ap === 'object' && ap !== null && (ap.default !== undefined || needsWalk(ap))) v = true;
  if (s.items && !Array.isArray(s.items) && (s.items.default !== undefined || needsWalk(s.items))) v = true;
  hasDefaults.set(s, v);
  return v;
}

function copy(v: unknown): unknown {
  return v === null || typeof v !== 'object' ? v : structuredClone(v);
}

function nonNullableNull(x: unknown, s: JSONSchemaProps | undefined): s is JSONSchemaProps {
  return x === null && s !== undefined && s.nullable !== true;
}

function walk(x: unknown, s: JSONSchemaProps): void {
  if (Array.isArray(x)) {
    const items = s.items && !Array.isArray(s.items) ? s.items : undefined;
    if (!items) return;
    for (let i = 0; i < x.length; i++) {
      if (nonNullableNull(x[i], items)) x[i] = copy(items.default ?? null);
      if (needsWalk(items)) walk(x[i], items);
    }
    return;
  }
  if (!isJsonObject(x)) return;
  const props = s.properties;
  if (props)
    for (const k in props) {
      const p = props[k]!;
      if (p.default === undefined) continue;
      if (!Object.hasOwn(x, k) || x[k] === undefined || nonNullableNull(x[k], p)) x[k] = copy(p.default);
    }
  const ap = typeof s.additionalProperties === 'object' && s.additionalProperties !== null ? s.additionalProperties : undefined;
  for (const k of Object.keys(x)) {
    const p = props && Object.hasOwn(props, k) ? props[k] : undefined;
    if (p) {
      if (needsWalk(p)) walk(x[k], p);
    } else if (ap) {
      if (nonNullableNull(x[k], ap)) x[k] = copy(ap.default ?? null);
      if (needsWalk(ap)) walk(x[k], ap);
    }
  }
}

/** Applies the schema's `default`s in place, as upstream (incl. inside embedded resources). Idempotent. */
export function applyDefaults(schema: JSONSchemaProps, obj: unknown): void {
  if (!needsWalk(schema)) return;
  walk(obj, schema);
}
