/**
 * What mutating and validating webhooks share, as upstream's generic/webhook.go ShouldCallHook
 * and the calling half of both dispatchers:
 * - `shouldCallHook`: rules, namespaceSelector and objectSelector must all match (a rule that
 *   does not match skips the webhook even when a selector cannot be parsed or its namespace is
 *   unknown; a selector that does not match skips it even when the other one failed); then a
 *   selector's error; then matchConditions (an error is Forbidden `<resource> "<name>" is
 *   forbidden: <errors>` under failurePolicy Fail). Errors here refuse the request whatever the
 *   failurePolicy, as upstream.
 * - `callHook`: refuses a dry run to a webhook with side effects (BadRequest; nil sideEffects is a
 *   call error), sends the AdmissionReview, checks the answer, records the webhook's audit
 *   annotations (`<webhook>/<key>`) and warnings, and returns the answer. Failures to call or to
 *   understand are `CallError`s, which the dispatchers judge by failurePolicy.
 * - objects are sent in the version the invocation names: Bosun keeps the storage version in
 *   attrs, so another served version is made with the ResourceDef's conversion (only for the
 *   resource's own kind; a Binding or Scale is sent as it is).
 */
import { randomUUID } from 'node:crypto';
import { forbidden } from '../../../api/errors.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes } from '../types.ts';
import { answerError, post, targetFor, type ServiceResolver } from './client.ts';
import { CallError, dryRunUnsupported } from './errors.ts';
import { evaluateConditions, toCel } from './matchconditions.ts';
import { matchNamespaceSelector, matchObjectSelector } from './predicates.ts';
import { admissionReview, requestFields, reviewVersion, verifyResponse, type AdmissionResponse } from './review.ts';
import { matchRules, requestView, type Invocation, type RequestView } from './rules.ts';
import type { Hook } from './source.ts';

/** What the webhook plugins read from the rest of the API server. */
export interface WebhookDeps {
  /** The MutatingWebhookConfiguration or ValidatingWebhookConfiguration objects (admissionregistration.k8s.io/v1), from a cache. */
  configurations(): readonly KubeObject[];
  /** A namespace's labels ({} when it has none); undefined when the namespace does not exist. */
  namespaceLabels(name: string): Record<string, string> | undefined;
  /**
   * The address to dial for a webhook Service and port (its cluster IP); undefined when there is
   * no such Service (`service "<name>" not found`). Throw an Error to give another reason (its
   * message becomes the call's failure, e.g. `no service port 443 found for service "x"`).
   */
  resolveService: ServiceResolver;
  /** Milliseconds, for timing calls (default Date.now). */
  now?: () => number;
  /** Told of webhooks failing open or closed and of slow calls. */
  log?: (msg: string) => void;
}

/** A call slower than this is logged (upstream's trace threshold). */
export const slowCallMs = 500;

/** The objects in one version. `cel` is their CEL form, made when a matchCondition first needs it. */
export interface Versioned {
  object?: KubeObject;
  oldObject?: KubeObject;
  cel?: { object: unknown; oldObject: unknown };
}

/** One dispatch: the request, and its objects per version (cleared when a webhook changes the object). */
export interface Dispatch {
  view: RequestView;
  deps: WebhookDeps;
  /** Mutating webhooks (patches allowed) or validating ones. */
  mutating: boolean;
  versions: Map<string, Versioned>;
}

export function newDispatch(attrs: AdmissionAttributes, opts: { deps: WebhookDeps; mutating: boolean }): Dispatch {
  return { view: requestView(attrs), deps: opts.deps, mutating: opts.mutating, versions: new Map() };
}

/** One webhook to call: what it is sent, and the objects in that version. */
export interface Call {
  hook: Hook;
  invocation: Invocation;
  versioned: Versioned;
}

/** Whether the invocation's kind is the resource's own kind in another served version. */
export function convertible(d: Dispatch, inv: Invocation): boolean {
  const def = d.view.attrs.def;
  return inv.kind.kind === def.kind && inv.kind.group === def.group && inv.kind.version !== def.version;
}

/** The request's objects in the invocation's version. */
export function versionedFor(d: Dispatch, inv: Invocation): Versioned {
  const key = `${inv.kind.group}/${inv.kind.version}/${inv.kind.kind}`;
  let v = d.versions.get(key);
  if (v) return v;
  const { attrs } = d.view;
  const served = convertible(d, inv) ? attrs.def.otherVersions?.find((s) => s.version === inv.kind.version) : undefined;
  const conv = (o: KubeObject | undefined) => (o && served ? served.fromStorage(o) : o);
  v = { object: conv(attrs.object), oldObject: conv(attrs.oldObject) };
  d.versions.set(key, v);
  return v;
}

/** Upstream ShouldCallHook: the invocation, or undefined to skip; throws a StatusError to refuse the request. */
export async function shouldCallHook(hook: Hook, d: Dispatch): Promise<Invocation | undefined> {
  // Rules first: cheapest, and the outcome is upstream's (selectors, then rules), since a
  // selector's error only counts for a request the rules select.
  const inv = matchRules(d.view, hook);
  if (!inv) return undefined;
  const ns = matchNamespaceSelector(hook.namespaceSelector, d.view, d.deps);
  if (ns === false) return undefined;
  const obj = matchObjectSelector(hook.objectSelector, d.view);
  if (obj === false) return undefined;
  if (ns !== true) throw ns;
  if (obj !== true) throw obj;
  if (hook.matchConditions.length === 0) return inv;
  const compiled = await hook.conditions();
  const v = versionedFor(d, inv);
  v.cel ??= { object: toCel(v.object ?? null), oldObject: toCel(v.oldObject ?? null) };
  const res = evaluateConditions(compiled, { ...v.cel, request: toCel(requestFields(d.view, inv)) }, { ignoreFailures: hook.ignoreFailures });
  if (res.error !== undefined) {
    d.deps.log?.(`failed evaluating match conditions, failing closed ${hook.name}: ${res.error}`);
    throw forbidden({ group: d.view.resource.group, resource: d.view.resource.resource }, d.view.attrs.name, res.error);
  }
  return res.matches ? inv : undefined;
}

/** Records audit annotations; a key already holding another value is left alone (upstream refuses the change). */
export function addAuditAnnotations(attrs: AdmissionAttributes, annotations: Record<string, string>): void {
  for (const [key, value] of Object.entries(annotations)) {
    const map = (attrs.auditAnnotations ??= {});
    if (key in map && map[key] !== value) continue;
    map[key] = value;
  }
}

/** Go's unicode.IsControl: C0, DEL and C1. Upstream's Warning header refuses text with any of them. */
const controlChars = /[\u0000-\u001f\u007f-\u009f]/;

/** Adds the webhook's warnings for the client: empty ones, ones with control characters and repeats dropped. */
export function addWarnings(attrs: AdmissionAttributes, warnings: readonly string[] | undefined): void {
  if (!warnings?.length) return;
  for (const w of warnings) {
    if (!w || controlChars.test(w)) continue;
    const list = (attrs.warnings ??= []);
    if (!list.includes(w)) list.push(w);
  }
}

/** Calls one webhook and returns its checked answer (see the file comment). */
export async function callHook(d: Dispatch, call: Call): Promise<AdmissionResponse> {
  const { hook, invocation: inv, versioned: v } = call;
  const { mutating } = d;
  const attrs = d.view.attrs;
  if (attrs.dryRun) {
    if (hook.sideEffects === undefined || hook.sideEffects === null) throw new CallError(hook.name, 'Webhook SideEffects is nil');
    if (hook.sideEffects !== 'None' && hook.sideEffects !== 'NoneOnDryRun') throw dryRunUnsupported(hook.name);
  }
  const version = reviewVersion(hook.admissionReviewVersions);
  if (!version) throw new CallError(hook.name, 'could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)');
  const uid = randomUUID();
  const body = admissionReview(d.view, { version, uid, invocation: inv, object: v.object, oldObject: v.oldObject });
  let target;
  try {
    target = targetFor(hook.client, { timeoutSeconds: hook.timeoutSeconds, resolveService: d.deps.resolveService });
  } catch (err) {
    const e = err as Error & { callingWebhook?: boolean };
    throw new CallError(hook.name, `could not get REST client: ${e.callingWebhook ? new CallError(hook.name, e.message).message : e.message}`);
  }
  const now = d.deps.now ?? Date.now;
  const started = now();
  let answer;
  try {
    answer = await post(target, body, { timeoutMs: hook.timeoutSeconds * 1000 });
  } catch (err) {
    throw new CallError(hook.name, `failed to call webhook: ${(err as Error).message}`);
  } finally {
    const took = now() - started;
    if (took > slowCallMs) d.deps.log?.(`Call ${mutating ? 'mutating' : 'validating'} webhook (configuration ${hook.configurationName}, webhook ${hook.name}, resource ${d.view.resource.resource}, operation ${attrs.operation}, UID ${uid}) took ${took}ms`);
  }
  const httpError = answerError(answer);
  if (httpError !== undefined) throw new CallError(hook.name, `failed to call webhook: ${httpError}`);
  let res: AdmissionResponse;
  try {
    res = verifyResponse(answer.body.toString('utf8'), { version, uid, mutating });
  } catch (err) {
    const e = err as Error & { decode?: boolean };
    throw new CallError(hook.name, e.decode ? `failed to call webhook: ${e.message}` : `received invalid webhook response: ${e.message}`);
  }
  if (res.auditAnnotations) addAuditAnnotations(attrs, Object.fromEntries(Object.entries(res.auditAnnotations).map(([k, val]) => [`${hook.name}/${k}`, val])));
  addWarnings(attrs, res.warnings);
  return res;
}
