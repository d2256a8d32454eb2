/**
 * The AdmissionReview sent to a webhook and the checks on its answer, as upstream's
 * admission/plugin/webhook/request/admissionreview.go:
 * - the version is the first of the webhook's admissionReviewVersions Bosun speaks (v1, then
 *   v1beta1); none is a call error `webhook does not accept known AdmissionReview versions (v1, v1beta1)`.
 * - the request carries, in Go's field order: uid, kind, resource, subResource (the version the
 *   webhook's rules chose), requestKind, requestResource, requestSubResource (the request's own),
 *   name, namespace, operation, userInfo, object, oldObject (null when absent), dryRun, options
 *   (Create/Update/DeleteOptions in meta.k8s.io/v1; null for CONNECT).
 * - a v1 answer must be an admission.k8s.io/v1 AdmissionReview with a response whose uid is the
 *   request's; a mutating webhook's patch and patchType come together, a validating webhook
 *   sends neither. A v1beta1 answer is taken as upstream takes it: no uid or kind check, and a
 *   patch is a JSONPatch.
 * Malformed answers throw an Error whose message is upstream's reason; the caller makes it a
 * CallError.
 */
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes } from '../types.ts';
import type { WebhookStatus } from './errors.ts';
import type { GroupVersionKind, GroupVersionResource, Invocation, RequestView } from './rules.ts';
import { isJsonObject } from '../../../util/json.ts';

export type ReviewVersion = 'v1' | 'v1beta1';

/** The first AdmissionReview version both sides speak, or undefined. */
export function reviewVersion(accepted: readonly string[]): ReviewVersion | undefined {
  for (const v of accepted) if (v === 'v1' || v === 'v1beta1') return v;
  return undefined;
}

const gvk = (k: GroupVersionKind) => ({ group: k.group, version: k.version, kind: k.kind });
const gvr = (r: GroupVersionResource) => ({ group: r.group, version: r.version, resource: r.resource });

/** The request's options object: attrs.options when the caller gives it, else built from the operation. */
export function operationOptions(attrs: AdmissionAttributes): Record<string, unknown> | null {
  const given = attrs.options;
  if (given) return given;
  const kind = attrs.operation === 'CREATE' ? 'CreateOptions' : attrs.operation === 'UPDATE' ? 'UpdateOptions' : attrs.operation === 'DELETE' ? 'DeleteOptions' : undefined;
  if (!kind) return null;
  const out: Record<string, unknown> = { kind, apiVersion: 'meta.k8s.io/v1' };
  if (attrs.dryRun) out['dryRun'] = ['All'];
  return out;
}

/** authentication/v1 UserInfo as Go writes it (empty fields left out). */
function userInfo(attrs: AdmissionAttributes): Record<string, unknown> {
  const u = attrs.user;
  const out: Record<string, unknown> = {};
  if (u.username) out['username'] = u.username;
  if (u.uid) out['uid'] = u.uid;
  if (u.groups?.length) out['groups'] = u.groups;
  if (u.extra && Object.keys(u.extra).length) out['extra'] = u.extra;
  return out;
}

/**
 * The AdmissionRequest for `inv`, without uid and objects: what CEL sees as `request`. Empty
 * subresources and names are left out, as Go's omitempty does.
 */
export function requestFields(view: RequestView, inv: Invocation): Record<string, unknown> {
  const a = view.attrs;
  const out: Record<string, unknown> = { kind: gvk(inv.kind), resource: gvr(inv.resource) };
  if (inv.subresource) out['subResource'] = inv.subresource;
  out['requestKind'] = gvk(view.kind);
  out['requestResource'] = gvr(view.resource);
  if (view.subresource) out['requestSubResource'] = view.subresource;
  if (a.name) out['name'] = a.name;
  if (view.namespace) out['namespace'] = view.namespace;
  out['operation'] = a.operation;
  out['userInfo'] = userInfo(a);
  out['dryRun'] = a.dryRun;
  out['options'] = operationOptions(a);
  return out;
}

/** What goes into one AdmissionReview besides the request itself. */
export interface ReviewParts {
  version: ReviewVersion;
  uid: string;
  invocation: Invocation;
  /** The objects in the invocation's version. */
  object: KubeObject | undefined;
  oldObject: KubeObject | undefined;
}

/** The AdmissionReview sent to the webhook, as JSON text. */
export function admissionReview(view: RequestView, parts: ReviewParts): string {
  const { version, uid, object, oldObject } = parts;
  const f = requestFields(view, parts.invocation);
  const request: Record<string, unknown> = { uid, kind: f['kind'], resource: f['resource'] };
  for (const k of ['subResource', 'requestKind', 'requestResource', 'requestSubResource', 'name', 'namespace', 'operation', 'userInfo']) {
    if (k in f) request[k] = f[k];
  }
  request['object'] = object ?? null;
  request['oldObject'] = oldObject ?? null;
  request['dryRun'] = f['dryRun'];
  request['options'] = f['options'];
  return JSON.stringify({ kind: 'AdmissionReview', apiVersion: `admission.k8s.io/${version}`, request });
}

/** What a valid answer says. */
export interface AdmissionResponse {
  allowed: boolean;
  /** The decoded patch bytes (empty when none). */
  patch: Buffer;
  patchType: string;
  result?: WebhookStatus;
  auditAnnotations?: Record<string, string>;
  warnings?: string[];
}

/** Go's base64.StdEncoding: padded, standard alphabet; the message for the first bad byte. */
function decodeBase64(s: string): Buffer {
  const bad = /[^A-Za-z0-9+/=]/.exec(s);
  if (bad) throw new Error(`illegal base64 data at input byte ${bad.index}`);
  const pad = s.indexOf('=');
  if (s.length % 4 !== 0 || (pad >= 0 && (pad < s.length - 2 || /[^=]/.test(s.slice(pad))))) {
    throw new Error(`illegal base64 data at input byte ${pad >= 0 ? pad : s.length - (s.length % 4)}`);
  }
  return Buffer.from(s, 'base64');
}


/** Field-type problems in the body, worded as Go's JSON decoder words them. */
function fieldError(field: string, got: { value: unknown; type: string }): Error {
  const v = got.value;
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;
  return new Error(`json: cannot unmarshal ${t} into Go struct field AdmissionResponse.response.${field} of type ${got.type}`);
}

/**
 * Decodes the body of a 2xx answer. Throws an Error with `decode: true` for a body that is not an
 * AdmissionReview at all (upstream's client fails before the response checks: `failed to call
 * webhook: …`), or a plain Error for a response that fails the checks (`received invalid webhook
 * response: …`).
 */
export function verifyResponse(body: string, expect: { version: ReviewVersion; uid: string; mutating: boolean }): AdmissionResponse {
  const { version, uid, mutating } = expect;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw Object.assign(new Error(`couldn't get version/kind; json parse error: ${(err as Error).message}`), { decode: true });
  }
  if (!isJsonObject(doc) || typeof doc['kind'] !== 'string' || !doc['kind']) {
    throw Object.assign(new Error(`Object 'Kind' is missing in '${body.length > 256 ? `${body.slice(0, 256)}...` : body}'`), { decode: true });
  }
  const r = doc['response'];
  if (r === undefined || r === null) throw new Error('webhook response was absent');
  if (!isJsonObject(r)) throw Object.assign(fieldError('response', { value: r, type: 'v1.AdmissionResponse' }), { decode: true });
  const allowed = r['allowed'] ?? false;
  if (typeof allowed !== 'boolean') throw Object.assign(fieldError('allowed', { value: allowed, type: 'bool' }), { decode: true });
  let patch: Buffer = Buffer.alloc(0);
  if (r['patch'] !== undefined && r['patch'] !== null) {
    if (typeof r['patch'] !== 'string') throw Object.assign(fieldError('patch', { value: r['patch'], type: '[]uint8' }), { decode: true });
    try {
      patch = decodeBase64(r['patch']);
    } catch (err) {
      throw Object.assign(err as Error, { decode: true });
    }
  }
  const rawType = r['patchType'];
  let patchType = '';
  if (version === 'v1') {
    const got = typeof r['uid'] === 'string' ? r['uid'] : '';
    if (got !== uid) throw new Error(`expected response.uid=${JSON.stringify(uid)}, got ${JSON.stringify(got)}`);
    const apiVersion = typeof doc['apiVersion'] === 'string' ? doc['apiVersion'] : '';
    if (apiVersion !== 'admission.k8s.io/v1' || doc['kind'] !== 'AdmissionReview') {
      throw new Error(`expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${apiVersion}, Kind=${String(doc['kind'])}`);
    }
    const hasType = rawType !== undefined && rawType !== null;
    if (mutating) {
      if (patch.length > 0 && !hasType) throw new Error('webhook returned response.patch but not response.patchType');
      if (patch.length === 0 && hasType) throw new Error('webhook returned response.patchType but not response.patch');
      if (hasType) {
        patchType = String(rawType);
        if (!patchType) throw new Error('webhook returned invalid response.patchType of ""');
      }
    } else {
      if (patch.length > 0) throw new Error('validating webhook may not return response.patch');
      if (hasType) throw new Error('validating webhook may not return response.patchType');
    }
  } else if (mutating && patch.length > 0) {
    patchType = 'JSONPatch';
  }
  if (!mutating) patch = Buffer.alloc(0);
  const out: AdmissionResponse = { allowed, patch, patchType };
  if (isJsonObject(r['status'])) out.result = r['status'] as WebhookStatus;
  if (isJsonObject(r['auditAnnotations'])) {
    const a: Record<string, string> = {};
    for (const [k, v] of Object.entries(r['auditAnnotations'])) if (typeof v === 'string') a[k] = v;
    out.auditAnnotations = a;
  }
  if (Array.isArray(r['warnings'])) out.warnings = r['warnings'].filter((w): w is string => typeof w === 'string');
  return out;
}
