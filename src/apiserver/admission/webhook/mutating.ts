/**
 * The MutatingAdmissionWebhook plugin, as upstream's admission/plugin/webhook/mutating
 * (dispatcher.go, reinvocationcontext.go):
 * - webhooks are called one at a time, in order (configurations by name, then their order).
 * - an answer with `allowed: false` refuses the request with the webhook's Status (errors.ts);
 *   a failed call fails the request (`Internal error occurred: failed calling webhook …`) under
 *   failurePolicy Fail and is passed over under Ignore (audit annotation
 *   `failed-open.mutation.webhook.admission.k8s.io/round_<r>_index_<i>`).
 * - a JSONPatch answer is applied to the object in the version the webhook was sent; a patch
 *   that does not apply is an InternalError (not subject to failurePolicy), as is a patch for a
 *   request without an object. The result is converted back to the storage version, defaulted
 *   and written into attrs.object in place (metadata keeps its identity).
 * - every call records `mutation.webhook.admission.k8s.io/round_<r>_index_<i>` =
 *   `{"configuration":…,"webhook":…,"mutated":…}`.
 * - reinvocation: when a webhook changes the object, webhooks called before it with
 *   reinvocationPolicy IfNeeded are called once more, in a second round, in order (upstream's
 *   round 1). A webhook skipped in the first round is not called in the second.
 *
 * Not as upstream: the second round runs inside this plugin, so Bosun's built-in mutating
 * plugins are not reinvoked with it; the patch audit annotation (level Request) is not recorded;
 * a patched object is not pruned of fields the kind does not have.
 */
import jsonpatch from 'fast-json-patch';
import { internalError } from '../../../api/errors.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes, AdmissionPlugin } from '../types.ts';
import { addAuditAnnotations, callHook, convertible, newDispatch, shouldCallHook, versionedFor, type Call, type Dispatch, type WebhookDeps } from './dispatch.ts';
import { CallError, toStatusError } from './errors.ts';
import { isExempt } from './rules.ts';
import { hookSource, type Hook } from './source.ts';
import { isJsonObject } from '../../../util/json.ts';

export const mutationAnnotationPrefix = 'mutation.webhook.admission.k8s.io/';
export const mutationFailedOpenPrefix = `failed-open.${mutationAnnotationPrefix}`;


/** The value at a JSON pointer, or undefined. */
function at(doc: unknown, pointer: string): unknown {
  let cur = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (isJsonObject(cur)) cur = Object.prototype.hasOwnProperty.call(cur, key) ? cur[key] : undefined;
    else return undefined;
  }
  return cur;
}

/** A fast-json-patch failure in the words of the patch library upstream uses (evanphx/json-patch). */
export function patchFailure(err: unknown, doc: unknown): Error {
  const e = err as { name?: string; message?: string; operation?: { op?: string; path?: string; from?: string } };
  const { op, path = '', from = '' } = e.operation ?? {};
  const parentMissing = at(doc, path.slice(0, path.lastIndexOf('/'))) === undefined;
  switch (e.name) {
    case 'TEST_OPERATION_FAILED':
      return new Error(`testing value ${path} failed: test failed`);
    case 'OPERATION_PATH_UNRESOLVABLE':
    case 'OPERATION_PATH_CANNOT_ADD':
      if (op === 'replace') return new Error(`replace operation does not apply: doc is missing ${parentMissing ? 'path' : 'key'}: ${path}: missing value`);
      if (op === 'remove' && !parentMissing) return new Error(`Unable to remove nonexistent key: ${path.slice(path.lastIndexOf('/') + 1)}: missing value`);
      return new Error(`${op} operation does not apply: doc is missing path: ${JSON.stringify(path)}: missing value`);
    case 'OPERATION_FROM_UNRESOLVABLE':
      return new Error(`${op} operation does not apply: doc is missing from path: ${from}: missing value`);
  }
  return new Error((e.message ?? String(err)).split('\n')[0]);
}

/** Deep equality of JSON data. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
}

/** Makes `target` hold exactly `source`'s fields, keeping its identity. */
function assignExactly(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const k of Object.keys(target)) if (!(k in source)) delete target[k];
  Object.assign(target, source);
}

/** Writes `source` into `target` in place; the caller's references to both and to their metadata stay good. */
function replaceInPlace(target: KubeObject, source: KubeObject): void {
  const meta = target.metadata;
  assignExactly(target, source);
  if (isJsonObject(meta) && isJsonObject(source.metadata)) {
    assignExactly(meta, source.metadata);
    target.metadata = meta;
  }
}

/** Calls a webhook and applies its patch; returns whether the object changed. */
async function mutate(d: Dispatch, call: Call): Promise<boolean> {
  const { hook, invocation: inv, versioned: v } = call;
  const res = await callHook(d, call);
  if (!res.allowed) throw toStatusError(hook.name, res.result);
  if (res.patch.length === 0) return false;
  let ops: unknown;
  try {
    ops = JSON.parse(res.patch.toString('utf8'));
  } catch (err) {
    throw new CallError(hook.name, `received undecodable patch in webhook response: ${(err as Error).message}`);
  }
  if (!Array.isArray(ops)) throw new CallError(hook.name, `received undecodable patch in webhook response: json: cannot unmarshal ${ops === null ? 'null' : typeof ops} into Go value of type jsonpatch.Patch`);
  if (ops.length === 0) return false;
  const attrs = d.view.attrs;
  if (!v.object || !attrs.object) {
    throw internalError(new Error(`admission webhook ${JSON.stringify(hook.name)} attempted to modify the object, which is not supported for this operation`));
  }
  if (res.patchType !== 'JSONPatch') throw new CallError(hook.name, `unsupported patch type ${JSON.stringify(res.patchType)}`);
  let patched: unknown;
  try {
    patched = jsonpatch.applyPatch(v.object, ops as jsonpatch.Operation[], true, false).newDocument;
  } catch (err) {
    throw internalError(patchFailure(err, v.object));
  }
  if (!isJsonObject(patched)) throw internalError(new Error(`admission webhook ${JSON.stringify(hook.name)} patched the object into something that is not an object`));
  const changed = !jsonEqual(v.object, patched);
  let stored = patched as KubeObject;
  if (inv.kind.kind === attrs.def.kind && inv.kind.group === attrs.def.group) {
    if (convertible(d, inv)) stored = attrs.def.otherVersions?.find((s) => s.version === inv.kind.version)?.toStorage(stored) ?? stored;
    attrs.def.default?.(stored);
  }
  replaceInPlace(attrs.object, stored);
  d.versions.clear();
  return changed;
}

async function dispatch(hooks: readonly Hook[], attrs: AdmissionAttributes, deps: WebhookDeps): Promise<void> {
  const d = newDispatch(attrs, { deps, mutating: true });
  /** IfNeeded webhooks called since the last change: reinvoked if a later one changes the object. */
  let previously = new Set<string>();
  const reinvoke = new Set<string>();
  for (let round = 0; round < 2; round++) {
    if (round === 1 && reinvoke.size === 0) return;
    for (let i = 0; i < hooks.length; i++) {
      const hook = hooks[i]!;
      if (round === 1 && !reinvoke.has(hook.uid)) continue;
      const inv = await shouldCallHook(hook, d);
      if (!inv) continue;
      let changed = false;
      let failure: unknown;
      try {
        changed = await mutate(d, { hook, invocation: inv, versioned: versionedFor(d, inv) });
      } catch (err) {
        failure = err;
      }
      addAuditAnnotations(attrs, { [`${mutationAnnotationPrefix}round_${round}_index_${i}`]: JSON.stringify({ configuration: hook.configurationName, webhook: hook.name, mutated: changed }) });
      if (changed) {
        for (const uid of previously) reinvoke.add(uid);
        previously = new Set();
      }
      if (hook.reinvokeIfNeeded) previously.add(hook.uid);
      if (failure === undefined) continue;
      if (!(failure instanceof CallError)) throw failure;
      if (hook.ignoreFailures) {
        deps.log?.(`Failed calling webhook, failing open ${hook.name}: ${failure.message}`);
        addAuditAnnotations(attrs, { [`${mutationFailedOpenPrefix}round_${round}_index_${i}`]: hook.name });
        continue;
      }
      deps.log?.(`Failed calling webhook, failing closed ${hook.name}: ${failure.message}`);
      throw internalError(failure);
    }
  }
}

/**
 * The MutatingAdmissionWebhook admission plugin (mutating phase only). Requests with no
 * configurations, and requests for admission configuration objects, return at once.
 */
export function mutatingWebhookPlugin(deps: WebhookDeps): AdmissionPlugin {
  const hooks = hookSource(() => deps.configurations());
  return {
    name: 'MutatingAdmissionWebhook',
    admit(attrs) {
      const list = hooks();
      if (list.length === 0 || isExempt(attrs.def)) return;
      return dispatch(list, attrs, deps);
    },
  };
}
