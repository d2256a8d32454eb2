/**
 * The ValidatingAdmissionPolicy admission plugin (validating phase), as upstream's
 * admission/plugin/policy/validating (plugin.go, dispatcher.go) over generic/plugin.go:
 * - requests for the policy kinds themselves (ValidatingAdmissionPolicy(Binding),
 *   MutatingAdmissionPolicy(Binding)) and for review kinds that store nothing are exempt;
 * - for each policy (with its bindings) whose matchConstraints select the request, each binding
 *   whose matchResources also select it is evaluated once per param (params.ts), with the
 *   policy's matchConditions, variables, validations and auditAnnotations (engine.ts,
 *   validator.ts);
 * - a failed validation acts as the binding's validationActions say: Deny refuses, Warn warns,
 *   Audit records an audit annotation (report.ts); an audit annotation that errs refuses;
 * - a misconfigured binding or policy (a paramKind nobody serves, a param not found under
 *   parameterNotFoundAction Deny, a selector that does not parse) refuses the request with
 *   `failed to configure binding: …` / `failed to configure policy: …` under failurePolicy Fail
 *   and is passed over under Ignore; evaluation errors likewise deny or admit by failurePolicy;
 * - every policy is evaluated before the first denial (in policy, then binding order) is
 *   returned, so Warn and Audit actions of later policies still apply.
 * The CEL engine (about half a second to load) is loaded, and policies compiled, in the
 * background when the plugin first sees them, and awaited by the first request a policy
 * selects; with no policies or no bindings a request costs two cache reads.
 */
import { isStatusError } from '../../../api/errors.ts';
import type { ValidatingAdmissionPolicy } from '../../../api/index.ts';
import type { ResourceDef } from '../../../api/resource.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes, AdmissionPlugin } from '../types.ts';
import { requestView } from '../webhook/rules.ts';
import { toCel } from '../webhook/matchconditions.ts';
import type { AuthzSession, EvaluationInput, PolicyEngine } from './engine.ts';
import type { AuthorizeFn } from './lib/authz.ts';
import { matchResources, type MatchLookups, type Matched } from './matching.ts';
import { collectParams, type ParamsLookup } from './params.ts';
import { AuditAnnotationCollector, addAuditAnnotation, addWarning, denialError, validationFailureAnnotation, validationFailureValue, type Denial } from './report.ts';
import { RequestState } from './request.ts';
import { policySource, type BindingHook, type PolicyHook } from './source.ts';
import type { ValidateResult } from './validator.ts';

export const pluginName = 'ValidatingAdmissionPolicy';

/** Rounds of authorizer checks one evaluation may wait for before its pending checks count as errors. */
export const maxAuthorizationRounds = 16;

/** What the plugin reads from the rest of the API server. */
export interface ValidatingAdmissionPolicyDeps {
  /** The ValidatingAdmissionPolicy objects (admissionregistration.k8s.io/v1), from a cache. */
  policies(): readonly KubeObject[];
  /** The ValidatingAdmissionPolicyBinding objects, from a cache. */
  bindings(): readonly KubeObject[];
  /** A Namespace by name; undefined when it does not exist. */
  namespace(name: string): KubeObject | undefined;
  /** Resolves a binding's paramRef (see params.ts; `paramsFromRegistry` builds one). */
  params: ParamsLookup;
  /** The server's authorization (the `authorizer` variable); without it, expressions using `authorizer` do not compile. */
  authorize?: AuthorizeFn;
  /** Told of policies whose expressions do not compile and of annotation clashes. */
  log?: (msg: string) => void;
}

type EngineModule = typeof import('./engine.ts');
let engineModule: Promise<EngineModule> | undefined;

/** Loads the CEL engine once. */
export function loadEngine(): Promise<EngineModule> {
  engineModule ??= import('./engine.ts');
  return engineModule;
}

const exemptPlurals = new Set(['validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings']);

/** Requests no API-defined policy sees: the policy kinds themselves and review kinds. */
export function isExempt(def: ResourceDef): boolean {
  return (def.group === 'admissionregistration.k8s.io' && exemptPlurals.has(def.plural)) || def.review === true;
}

/** The param as a policy sees it: with the paramKind's apiVersion and kind when it has none. */
function paramObject(param: KubeObject, policy: ValidatingAdmissionPolicy): unknown {
  const pk = policy.spec?.paramKind;
  const p = param.kind || !pk ? param : { ...param, apiVersion: pk.apiVersion, kind: pk.kind };
  return toCel(p);
}

/** One request's dispatch: what every policy and binding reads and adds to. */
interface Dispatch {
  attrs: AdmissionAttributes;
  state: RequestState;
  denied: Denial[];
}

/** One binding to evaluate: its policy, how the policy matched, and its params. */
interface Invocation {
  hook: PolicyHook;
  binding: BindingHook;
  matched: Matched;
  params: readonly (KubeObject | null)[];
  audit: AuditAnnotationCollector;
}

/** The ValidatingAdmissionPolicy admission plugin. */
export function validatingAdmissionPolicyPlugin(deps: ValidatingAdmissionPolicyDeps): AdmissionPlugin {
  const log = deps.log ?? (() => {});
  const source = policySource({
    policies: deps.policies,
    bindings: deps.bindings,
    compile: async (policy) => {
      const engine = await loadEngine();
      const spec = policy.spec ?? {};
      const compiled = engine.compilePolicy(spec, { params: spec.paramKind !== undefined && spec.paramKind !== null, authorizer: deps.authorize !== undefined, ignore: spec.failurePolicy === 'Ignore' });
      if (compiled.compileErrors.length) log(`ValidatingAdmissionPolicy '${policy.metadata.name}': ${compiled.compileErrors.length} expression(s) do not compile: ${compiled.compileErrors.join('; ')}`);
      return compiled;
    },
  });
  // Params in CEL form, kept while the cache hands out the same objects (they are never changed).
  const celParams = new WeakMap<KubeObject, unknown>();
  const paramFor = (param: KubeObject | null, policy: ValidatingAdmissionPolicy): unknown => {
    if (!param) return null;
    let v = celParams.get(param);
    if (v === undefined) celParams.set(param, (v = paramObject(param, policy)));
    return v;
  };
  // Policies seen last: a new set is compiled in the background, so the first request a policy selects waits less.
  let lastHooks: readonly PolicyHook[] = [];
  const warm = (hooks: readonly PolicyHook[]) => {
    if (hooks === lastHooks) return;
    lastHooks = hooks;
    for (const h of hooks) h.engine().catch((err: unknown) => log(`ValidatingAdmissionPolicy '${h.name}': ${err instanceof Error ? err.message : String(err)}`));
  };
  const lookups: MatchLookups = {
    namespaceLabels: (name) => {
      const ns = deps.namespace(name);
      return ns ? (ns.metadata?.labels ?? {}) : undefined;
    },
  };

  /** A misconfiguration of the policy (no binding) or of a binding: refuses under Fail, passed over under Ignore. */
  const configError = (d: Dispatch, at: { hook: PolicyHook; binding?: BindingHook }, err: string) => {
    const { hook, binding } = at;
    if (hook.failurePolicy === 'Ignore') return;
    const message = hook.failurePolicy === 'Fail' ? `${binding ? 'failed to configure binding' : 'failed to configure policy'}: ${err}` : `unrecognized failure policy: '${hook.failurePolicy}'`;
    d.denied.push({ policy: hook.name, binding: binding?.name, message, reason: '' });
  };

  /** One evaluation, waiting for the authorizer decisions it asked for and evaluating again. */
  const evaluate = async (engine: PolicyEngine, input: EvaluationInput, session: AuthzSession | undefined): Promise<ValidateResult> => {
    let result = engine.evaluate(input);
    for (let round = 0; session && session.pending > 0 && round < maxAuthorizationRounds; round++) {
      await session.settle();
      result = engine.evaluate(input);
    }
    return result;
  };

  /** Applies one evaluation's decisions (by the binding's validationActions) and audit annotations. */
  const apply = (d: Dispatch, inv: Invocation, result: ValidateResult) => {
    const { hook, binding: b } = inv;
    result.decisions.forEach((decision, i) => {
      if (decision.action !== 'deny') return;
      for (const action of b.validationActions) {
        if (action === 'Deny') d.denied.push({ policy: hook.name, binding: b.name, message: decision.message, reason: decision.reason });
        else if (action === 'Warn') addWarning(d.attrs, `Validation failed for ValidatingAdmissionPolicy '${hook.name}' with binding '${b.name}': ${decision.message}`);
        else if (action === 'Audit') {
          const value = validationFailureValue({ message: decision.message, policy: b.binding.spec?.policyName ?? hook.name, binding: b.name, expressionIndex: i, validationActions: b.binding.spec?.validationActions ?? null });
          if (!addAuditAnnotation(d.attrs, validationFailureAnnotation, value)) log(`Failed to set admission audit annotation ${validationFailureAnnotation} for ValidatingAdmissionPolicy ${hook.name} and ValidatingAdmissionPolicyBinding ${b.name}: already set`);
        }
      }
    });
    for (const a of result.auditAnnotations) {
      if (a.action === 'publish') inv.audit.add(a.key, a.value);
      else if (a.action === 'error') d.denied.push({ policy: hook.name, binding: b.name, message: a.error, reason: '' });
    }
  };

  /** Evaluates a binding once per param. */
  const evaluateBinding = async (d: Dispatch, inv: Invocation) => {
    const { state } = d;
    const namespaceObject = state.namespaceObject();
    const [mod, engine] = await Promise.all([loadEngine(), inv.hook.engine()]);
    const { object, oldObject } = state.objects(inv.matched.kind);
    const request = state.request(inv.matched);
    const authorizer = state.authorizer(mod);
    const session = state.session(mod);
    for (const param of inv.params) {
      const input: EvaluationInput = { object, oldObject, request, params: paramFor(param, inv.hook.policy), namespaceObject };
      if (authorizer !== undefined) input.authorizer = authorizer;
      apply(d, inv, await evaluate(engine, input, session));
    }
  };

  /** A policy's bindings that select the request, their params, and their evaluation. */
  const dispatchPolicy = async (d: Dispatch, hook: PolicyHook, matched: Matched) => {
    const view = d.state.view;
    const audit = new AuditAnnotationCollector();
    for (const b of hook.bindings) {
      if (b.match) {
        const bm = matchResources(b.match, view, lookups);
        if (isStatusError(bm)) {
          // A selector that does not parse is the selector's own error (the predicates wrap it as an InternalError).
          configError(d, { hook, binding: b }, bm.status.reason === 'InternalError' ? (bm.status.details?.causes?.[0]?.message ?? bm.message) : bm.message);
          continue;
        }
        if (!bm) continue;
      }
      const collected = collectParams(hook.paramKind, b.paramRef, { requestNamespace: view.namespace, lookup: deps.params });
      if (collected.policyError !== undefined) {
        // Upstream finds this when it lists the policies, and evaluates none of its bindings.
        configError(d, { hook }, collected.policyError);
        break;
      }
      if (collected.error !== undefined) {
        configError(d, { hook, binding: b }, collected.error);
        continue;
      }
      if (collected.params.length > 0) await evaluateBinding(d, { hook, binding: b, matched, params: collected.params, audit });
    }
    for (const key of audit.publish(d.attrs, hook.name)) log(`Failed to set admission audit annotation ${key} for ValidatingAdmissionPolicy ${hook.name}: already set`);
  };

  return {
    name: pluginName,
    validate(attrs) {
      if (isExempt(attrs.def)) return;
      const hooks = source();
      if (hooks.length === 0) return;
      return validateWith(hooks, attrs);
    },
  };

  async function validateWith(hooks: ReturnType<typeof source>, attrs: AdmissionAttributes): Promise<void> {
    warm(hooks);
    const view = requestView(attrs);
    const d: Dispatch = { attrs, state: new RequestState(view, { namespace: deps.namespace, authorize: deps.authorize }), denied: [] };
    for (const hook of hooks) {
      // As upstream's validating dispatcher: a policy that cannot be matched is passed over.
      const m = hook.match ? matchResources(hook.match, view, lookups) : undefined;
      if (!m || isStatusError(m)) continue;
      await dispatchPolicy(d, hook, m);
    }
    if (d.denied.length > 0) throw denialError(attrs, d.denied[0]!);
  }
}
