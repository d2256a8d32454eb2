/**
 * The ConversionReview a conversion webhook receives and the checks on its answer, as upstream's
 * apiextensions-apiserver pkg/apiserver/conversion/webhook_converter.go:
 * - the review version is the first of the CRD's `conversionReviewVersions` the server speaks
 *   (v1beta1 or v1, in the CRD's order); none: `no supported conversion review versions`.
 * - the request is `{kind, apiVersion, request: {uid, desiredAPIVersion, objects}, response:
 *   {uid: "", convertedObjects: null, result: {metadata: {}}}}`, Go's field order and empty
 *   response included.
 * - a v1 answer must be an apiextensions.k8s.io/v1 ConversionReview whose response.uid is the
 *   request's; a v1beta1 answer is taken without those two checks (as upstream, for
 *   compatibility). `result.status` other than Success fails with the webhook's message, or
 *   `response.result.status was '<status>', not 'Success'`.
 * - each converted object must be an object with the desired apiVersion and the original's kind,
 *   name, namespace and uid; its metadata is then the original's except labels and annotations,
 *   which are the webhook's (validated when they changed; upstream's restoreObjectMeta).
 * Malformed answers throw an Error whose message is upstream's reason; conversion.ts prefixes it.
 */
import type { KubeObject } from '../api/types.ts';
import { validateAnnotations, validateLabels } from '../api/validation.ts';
import type { StatusCause } from '../api/types.ts';
import { isJsonObject } from '../util/json.ts';

export const reviewGroup = 'apiextensions.k8s.io';
export type ReviewVersion = 'v1' | 'v1beta1';

/** The first of `accepted` this server speaks, or undefined. */
export function negotiateReviewVersion(accepted: readonly string[] | undefined): ReviewVersion | undefined {
  for (const v of accepted ?? []) if (v === 'v1' || v === 'v1beta1') return v;
  return undefined;
}

/** The ConversionReview body sent to the webhook. */
export function reviewRequest(version: ReviewVersion, uid: string, desiredAPIVersion: string, objects: readonly KubeObject[]): string {
  return JSON.stringify({
    kind: 'ConversionReview',
    apiVersion: `${reviewGroup}/${version}`,
    request: { uid, desiredAPIVersion, objects },
    response: { uid: '', convertedObjects: null, result: { metadata: {} } },
  });
}


/** The JSON kind Go's decoder names in its errors. */
function jsonKind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;
}

/** The Go type `%T` prints for a value decoded into interface{} (Unstructured keeps whole numbers as int64). */
export function goType(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  return typeof v === 'boolean' ? 'bool' : 'string';
}

function fieldTypeError(struct: string, field: string, v: unknown, type: string): Error {
  return new Error(`json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${field} of type ${type}`);
}

/**
 * The converted objects of a 2xx answer (not yet checked one by one). Throws an Error with
 * upstream's reason for a body that does not decode or a response that fails the checks.
 */
export function convertedObjectsOf(body: string, expect: { version: ReviewVersion; uid: string }): unknown[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw new Error(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
  if (!isJsonObject(doc) || typeof doc['kind'] !== 'string' || !doc['kind']) {
    throw new Error(`Object 'Kind' is missing in '${body.length > 256 ? `${body.slice(0, 256)}...` : body}'`);
  }
  const r = doc['response'];
  if (r !== undefined && r !== null && !isJsonObject(r)) throw fieldTypeError('ConversionReview', 'response', r, `${expect.version}.ConversionResponse`);
  if (isJsonObject(r)) {
    if (r['uid'] !== undefined && r['uid'] !== null && typeof r['uid'] !== 'string') throw fieldTypeError('ConversionResponse', 'response.uid', r['uid'], 'types.UID');
    const objs = r['convertedObjects'];
    if (objs !== undefined && objs !== null && !Array.isArray(objs)) throw fieldTypeError('ConversionResponse', 'response.convertedObjects', objs, '[]runtime.RawExtension');
    const result = r['result'];
    if (result !== undefined && result !== null && !isJsonObject(result)) throw fieldTypeError('ConversionResponse', 'response.result', result, 'v1.Status');
    if (isJsonObject(result)) {
      for (const f of ['status', 'message'] as const) {
        const v = result[f];
        if (v !== undefined && v !== null && typeof v !== 'string') throw fieldTypeError('Status', `response.result.${f}`, v, 'string');
      }
    }
  }
  if (expect.version === 'v1') {
    const apiVersion = typeof doc['apiVersion'] === 'string' ? doc['apiVersion'] : '';
    if (apiVersion !== `${reviewGroup}/v1` || doc['kind'] !== 'ConversionReview') {
      throw new Error(`expected webhook response of ${reviewGroup}/v1, Kind=ConversionReview, got ${gvString(apiVersion)}, Kind=${doc['kind']}`);
    }
  }
  if (!isJsonObject(r)) throw new Error('no response provided');
  if (expect.version === 'v1') {
    const got = typeof r['uid'] === 'string' ? r['uid'] : '';
    if (got !== expect.uid) throw new Error(`expected response.uid=${JSON.stringify(expect.uid)}, got ${JSON.stringify(got)}`);
  }
  const result = isJsonObject(r['result']) ? r['result'] : {};
  const status = typeof result['status'] === 'string' ? result['status'] : '';
  if (status !== 'Success') {
    const message = typeof result['message'] === 'string' ? result['message'] : '';
    throw new Error(message || `response.result.status was '${status}', not 'Success'`);
  }
  return Array.isArray(r['convertedObjects']) ? r['convertedObjects'] : [];
}

/** A group/version as Go's GroupVersion.String() prints one parsed from `apiVersion` (empty when it does not parse). */
export function gvString(apiVersion: string): string {
  const parts = apiVersion.split('/');
  if (parts.length > 2) return '';
  return apiVersion;
}

/** A converted object as Unstructured decodes one; throws Go's decoding error otherwise. */
export function decodeConverted(raw: unknown): KubeObject {
  if (!isJsonObject(raw)) throw new Error(`json: cannot unmarshal ${jsonKind(raw)} into Go value of type map[string]interface {}`);
  if (typeof raw['kind'] !== 'string' || !raw['kind']) {
    const text = JSON.stringify(raw);
    throw new Error(`Object 'Kind' is missing in '${text.length > 256 ? `${text.slice(0, 256)}...` : text}'`);
  }
  return raw as unknown as KubeObject;
}

const metaOf = (o: KubeObject): Record<string, unknown> => (isJsonObject(o.metadata) ? (o.metadata as unknown as Record<string, unknown>) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Upstream's validateConvertedObject: kind, name, namespace and uid unchanged; undefined when they are. */
export function convertedIdentityError(original: KubeObject, converted: KubeObject): string | undefined {
  const a = metaOf(original);
  const b = metaOf(converted);
  if (str(original.kind) !== str(converted.kind)) return `must have the same kind: ${str(original.kind)} != ${str(converted.kind)}`;
  for (const [field, label] of [['name', 'name'], ['namespace', 'namespace'], ['uid', 'UID']] as const) {
    if (str(a[field]) !== str(b[field])) return `must have the same ${label}: ${str(a[field])} != ${str(b[field])}`;
  }
  return undefined;
}

/** field.ErrorList.ToAggregate().Error(): one error as is, several (deduplicated) in brackets. */
function aggregate(causes: StatusCause[]): string {
  const msgs = [...new Set(causes.map((c) => `${c.field}: ${c.message}`))];
  return msgs.length === 1 ? msgs[0]! : `[${msgs.join(', ')}]`;
}

/**
 * Upstream's restoreObjectMeta: `converted` with the original's metadata, except labels and
 * annotations, which are the webhook's (absent or null: none). Changed labels and annotations
 * are validated (field paths `metadata.labels` and, as upstream spells it, `metadata.annotation`).
 * Returns a new object sharing nothing with `original` (its metadata is a deep copy, as
 * upstream's); `converted` is not changed. Throws with upstream's reason.
 */
export function restoreObjectMeta(original: KubeObject, converted: KubeObject): KubeObject {
  const response = (converted as Record<string, unknown>)['metadata'];
  if (response === undefined) throw new Error('missing metadata in converted object');
  if (!isJsonObject(response)) throw new Error(`invalid metadata of type ${goType(response)} in converted object`);
  const meta: Record<string, unknown> = isJsonObject(original.metadata) ? structuredClone(original.metadata as unknown as Record<string, unknown>) : {};
  for (const fld of ['labels', 'annotations'] as const) {
    const got = response[fld];
    if (got === undefined || got === null) {
      delete meta[fld];
      continue;
    }
    if (!isJsonObject(got)) throw new Error(`invalid metadata.${fld} of type ${goType(got)} in converted object`);
    const had = meta[fld];
    if (had !== undefined && had !== null && !isJsonObject(had)) throw new Error(`invalid metadata.${fld} of type ${goType(had)} in original object`);
    const before = (had ?? {}) as Record<string, unknown>;
    const keys = Object.keys(got);
    let changed = keys.length !== Object.keys(before).length;
    for (const k of keys) {
      const v = got[k];
      if (typeof v !== 'string') throw new Error(`metadata.${fld}[${k}] must be a string, but is ${goType(v)} in converted object`);
      if (before[k] !== v) changed = true;
    }
    if (changed) {
      const errs = fld === 'labels' ? validateLabels(got, 'metadata.labels') : validateAnnotations(got, 'metadata.annotation');
      if (errs.length) throw new Error(aggregate(errs));
    }
    meta[fld] = got;
  }
  return { ...converted, metadata: meta as unknown as KubeObject['metadata'] };
}
