/**
 * Pruning of unknown fields of custom resources, as upstream's schema coercing decoder does on
 * create and update (customresource_handler.go unstructuredSchemaCoercer.apply):
 *   1. root metadata is coerced to ObjectMeta (objectmeta.GetObjectMetaWithOptions): unknown
 *      fields dropped and reported ('metadata.foo');
 *   2. every field the structural schema does not declare is removed (schema/pruning: the root
 *      and x-kubernetes-embedded-resource objects keep apiVersion, kind and metadata;
 *      x-kubernetes-preserve-unknown-fields keeps unknown fields but still prunes inside the
 *      declared ones), reported sorted ('spec.foo', 'spec.items[0].bar');
 *   3. nulls of non-nullable fields without a default are removed
 *      (defaulting.PruneNonNullableNullsWithoutDefaults: not reported);
 *   4. metadata of embedded resources is coerced to ObjectMeta (objectmeta.Coerce), unknown
 *      fields reported sorted ('spec.template.metadata.foo'); a missing creationTimestamp
 *      becomes null, as Go's ObjectMeta round trip prints it.
 * Paths are in upstream's order (root metadata, pruned, embedded metadata); the caller forms
 * `unknown field "<path>"` for fieldValidation=Strict|Warn.
 */
import type { JSONSchemaProps } from '../../api/index.ts';
import { isJsonObject } from '../../util/json.ts';

type Obj = Record<string, unknown>;

const metaFields = new Set(['apiVersion', 'kind', 'metadata']);

/** additionalProperties as structural: a schema, `null` for "any value, no schema" (true), undefined for none. */
function additional(s: JSONSchemaProps): JSONSchemaProps | null | undefined {
  const ap = s.additionalProperties;
  if (ap === undefined || ap === false) return undefined;
  if (ap === true) return null;
  return ap;
}

function key(parent: string, k: string): string {
  return parent ? `${parent}.${k}` : k;
}

function prune(x: unknown, s: JSONSchemaProps | null, path: string, out: string[], root: boolean): void {
  if (s && s['x-kubernetes-preserve-unknown-fields'] === true) {
    skipPrune(x, s, path, out, root);
    return;
  }
  if (Array.isArray(x)) {
    const items = s && s.items && !Array.isArray(s.items) ? s.items : null;
    for (let i = 0; i < x.length; i++) prune(x[i], items, `${path}[${i}]`, out, false);
    return;
  }
  if (!isJsonObject(x)) return;
  if (!s) {
    for (const k of Object.keys(x)) {
      out.push(key(path, k));
      delete x[k];
    }
    return;
  }
  const embedded = root || s['x-kubernetes-embedded-resource'] === true;
  const ap = additional(s);
  for (const k of Object.keys(x)) {
    if (embedded && metaFields.has(k)) continue;
    const prop = s.properties && Object.hasOwn(s.properties, k) ? s.properties[k]! : undefined;
    if (prop) prune(x[k], prop, key(path, k), out, false);
    else if (ap !== undefined) prune(x[k], ap, key(path, k), out, false);
    else {
      if (!metaFields.has(k) || path !== '') out.push(key(path, k));
      delete x[k];
    }
  }
}

function skipPrune(x: unknown, s: JSONSchemaProps, path: string, out: string[], root: boolean): void {
  if (Array.isArray(x)) {
    const items = s.items && !Array.isArray(s.items) ? s.items : undefined;
    if (!items) return;
    for (let i = 0; i < x.length; i++) skipPrune(x[i], items, `${path}[${i}]`, out, false);
    return;
  }
  if (!isJsonObject(x)) return;
  const embedded = root || s['x-kubernetes-embedded-resource'] === true;
  const ap = additional(s);
  for (const k of Object.keys(x)) {
    if (embedded && metaFields.has(k)) continue;
    const prop = s.properties && Object.hasOwn(s.properties, k) ? s.properties[k]! : undefined;
    if (prop) prune(x[k], prop, key(path, k), out, false);
    else if (ap !== undefined) prune(x[k], ap, key(path, k), out, false);
  }
}

/** Go's sort.Strings: byte order (UTF-16 order equals it for the ASCII paths this sorts). */
function sortStrings(a: string[]): string[] {
  return a.sort((p, q) => (p < q ? -1 : p > q ? 1 : 0));
}

// ---- ObjectMeta coercion ----------------------------------------------------------------------

/** The JSON fields of metav1.ObjectMeta; nested objects whose unknown fields are also dropped. */
const objectMetaFields = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);
const ownerReferenceFields = new Set(['apiVersion', 'kind', 'name', 'uid', 'controller', 'blockOwnerDeletion']);
const managedFieldsFields = new Set(['manager', 'operation', 'apiVersion', 'time', 'fieldsType', 'fieldsV1', 'subresource']);

function dropUnknown(o: Obj, known: ReadonlySet<string>, path: string, out: string[]): void {
  for (const k of Object.keys(o))
    if (!known.has(k)) {
      out.push(`${path}.${k}`);
      delete o[k];
    }
}

/** Drops fields ObjectMeta does not have from `obj.metadata` (in place), reporting '<path>.metadata.<field>'. */
export function coerceObjectMeta(obj: Obj, path: string, out: string[]): void {
  const meta = obj['metadata'];
  if (!isJsonObject(meta)) return;
  const mp = key(path, 'metadata');
  dropUnknown(meta, objectMetaFields, mp, out);
  const refs = meta['ownerReferences'];
  if (Array.isArray(refs)) refs.forEach((r, i) => isJsonObject(r) && dropUnknown(r, ownerReferenceFields, `${mp}.ownerReferences[${i}]`, out));
  const mf = meta['managedFields'];
  if (Array.isArray(mf)) mf.forEach((r, i) => isJsonObject(r) && dropUnknown(r, managedFieldsFields, `${mp}.managedFields[${i}]`, out));
}

function coerceEmbedded(x: unknown, s: JSONSchemaProps | null | undefined, path: string, out: string[]): void {
  if (!s) return;
  if (Array.isArray(x)) {
    const items = s.items && !Array.isArray(s.items) ? s.items : undefined;
    if (items) for (let i = 0; i < x.length; i++) coerceEmbedded(x[i], items, `${path}[${i}]`, out);
    return;
  }
  if (!isJsonObject(x)) return;
  if (s['x-kubernetes-embedded-resource'] === true && path !== '') {
    coerceObjectMeta(x, path, out);
    const meta = x['metadata'];
    if (isJsonObject(meta) && !meta['creationTimestamp']) meta['creationTimestamp'] = null;
  }
  const ap = additional(s);
  for (const k of Object.keys(x)) {
    if (s['x-kubernetes-embedded-resource'] === true && metaFields.has(k)) continue;
    const prop = s.properties && Object.hasOwn(s.properties, k) ? s.properties[k] : undefined;
    if (prop) coerceEmbedded(x[k], prop, key(path, k), out);
    else if (ap) coerceEmbedded(x[k], ap, key(path, k), out);
  }
}

// ---- nulls ------------------------------------------------------------------------------------

/** Removes nulls where the schema is neither nullable nor defaulted (PruneNonNullableNullsWithoutDefaults). */
export function pruneNonNullableNulls(x: unknown, s: JSONSchemaProps | null | undefined): void {
  if (Array.isArray(x)) {
    const items = s && s.items && !Array.isArray(s.items) ? s.items : undefined;
    for (const v of x) pruneNonNullableNulls(v, items);
    return;
  }
  if (!isJsonObject(x)) return;
  for (const k of Object.keys(x)) {
    const v = x[k];
    const fs = s ? (s.properties && Object.hasOwn(s.properties, k) ? s.properties[k] : additional(s) ?? undefined) : undefined;
    if (v === null && fs && fs.nullable !== true && fs.default === undefined) delete x[k];
    else pruneNonNullableNulls(v, fs);
  }
}

/**
 * Removes, in place, every field the structural schema does not declare (honouring
 * x-kubernetes-preserve-unknown-fields and x-kubernetes-embedded-resource; apiVersion, kind and
 * metadata at the root are kept), coerces root and embedded metadata to ObjectMeta and drops
 * nulls of non-nullable fields without defaults. Returns the removed fields' paths as upstream
 * reports them for fieldValidation ('spec.foo', 'spec.items[0].bar'), in upstream's order.
 */
export function pruneObject(schema: JSONSchemaProps, obj: unknown): string[] {
  if (!isJsonObject(obj)) return [];
  const metaPaths: string[] = [];
  coerceObjectMeta(obj, '', metaPaths);
  const pruned: string[] = [];
  prune(obj, schema, '', pruned, true);
  pruneNonNullableNulls(obj, schema);
  const embedded: string[] = [];
  coerceEmbedded(obj, schema, '', embedded);
  return [...metaPaths, ...sortStrings(pruned), ...sortStrings(embedded)];
}
