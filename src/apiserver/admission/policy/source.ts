/**
 * The policies to evaluate, from the cached ValidatingAdmissionPolicy and
 * ValidatingAdmissionPolicyBinding objects, as upstream's generic/policy_source.go:
 * - each binding joins the policy its spec.policyName names; a binding naming no existing
 *   policy is ignored, and a policy no binding names is not evaluated;
 * - a policy is compiled once per resourceVersion (on first use: compiling loads the CEL
 *   engine), and its selectors parsed once; a binding's selectors once per resourceVersion;
 * - policies in name order, each one's bindings in name order (upstream walks maps; Bosun's
 *   order is deterministic).
 * Fields a v1 object always has after defaulting are read with the v1 defaults when absent:
 * failurePolicy Fail, matchPolicy Equivalent, selectors `{}`, validationActions none.
 */
import type { ParamKind, ParamRef, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from '../../../api/index.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { PolicyEngine } from './engine.ts';
import { compileMatch, type CompiledMatch } from './matching.ts';

export interface BindingHook {
  readonly binding: ValidatingAdmissionPolicyBinding;
  readonly name: string;
  /** Its matchResources; undefined selects every request the policy selects. */
  readonly match: CompiledMatch | undefined;
  readonly validationActions: readonly string[];
  readonly paramRef: ParamRef | undefined;
}

export interface PolicyHook {
  readonly policy: ValidatingAdmissionPolicy;
  readonly name: string;
  /** spec.failurePolicy, default Fail. */
  readonly failurePolicy: string;
  /** Its matchConstraints; undefined when it has none (a configuration error). */
  readonly match: CompiledMatch | undefined;
  readonly paramKind: ParamKind | undefined;
  readonly bindings: readonly BindingHook[];
  /** The compiled policy; compiled on first use, then kept. */
  engine(): Promise<PolicyEngine>;
}

/** Compiles a policy (the plugin loads the CEL engine for it). */
export type PolicyCompiler = (policy: ValidatingAdmissionPolicy) => Promise<PolicyEngine>;

const byName = (a: KubeObject, b: KubeObject) => {
  const x = a.metadata?.name ?? '';
  const y = b.metadata?.name ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
};

const same = (a: readonly KubeObject[], b: readonly KubeObject[]) => a === b || (a.length === b.length && a.every((x, i) => x === b[i]));

interface PolicyEntry {
  rv: string;
  policy: ValidatingAdmissionPolicy;
  match: CompiledMatch | undefined;
  engine: () => Promise<PolicyEngine>;
}

function bindingHook(b: ValidatingAdmissionPolicyBinding): BindingHook {
  const spec = b.spec ?? {};
  return {
    binding: b,
    name: b.metadata.name ?? '',
    match: spec.matchResources ? compileMatch(spec.matchResources) : undefined,
    validationActions: spec.validationActions ?? [],
    paramRef: spec.paramRef,
  };
}

/**
 * A function answering the current policy hooks. It reuses its last answer while the caches
 * hand out the same objects (cache objects are replaced, never changed, on update).
 */
export function policySource(opts: { policies(): readonly KubeObject[]; bindings(): readonly KubeObject[]; compile: PolicyCompiler }): () => readonly PolicyHook[] {
  const entries = new Map<string, PolicyEntry>();
  const bindingEntries = new Map<string, { rv: string; hook: BindingHook }>();
  let lastPolicies: readonly KubeObject[] = [];
  let lastBindings: readonly KubeObject[] = [];
  let lastHooks: readonly PolicyHook[] = [];

  const entryFor = (p: ValidatingAdmissionPolicy): PolicyEntry => {
    const name = p.metadata.name ?? '';
    const rv = p.metadata.resourceVersion ?? '';
    let e = entries.get(name);
    if (e && e.rv === rv && (rv !== '' || e.policy === p)) return e;
    let compiled: Promise<PolicyEngine> | undefined;
    const spec = p.spec ?? {};
    e = { rv, policy: p, match: spec.matchConstraints ? compileMatch(spec.matchConstraints) : undefined, engine: () => (compiled ??= opts.compile(p)) };
    entries.set(name, e);
    return e;
  };

  const bindingFor = (b: ValidatingAdmissionPolicyBinding): BindingHook => {
    const name = b.metadata.name ?? '';
    const rv = b.metadata.resourceVersion ?? '';
    const known = bindingEntries.get(name);
    if (known && known.rv === rv && known.hook.binding === b) return known.hook;
    const hook = bindingHook(b);
    bindingEntries.set(name, { rv, hook });
    return hook;
  };

  return () => {
    const bindings = opts.bindings();
    if (bindings.length === 0) return [];
    const policies = opts.policies();
    if (policies.length === 0) return [];
    if (same(policies, lastPolicies) && same(bindings, lastBindings)) return lastHooks;
    const byPolicy = new Map<string, BindingHook[]>();
    for (const b of [...bindings].sort(byName) as unknown as ValidatingAdmissionPolicyBinding[]) {
      const policyName = b.spec?.policyName ?? '';
      let list = byPolicy.get(policyName);
      if (!list) byPolicy.set(policyName, (list = []));
      list.push(bindingFor(b));
    }
    const hooks: PolicyHook[] = [];
    const seen = new Set<string>();
    for (const p of [...policies].sort(byName) as unknown as ValidatingAdmissionPolicy[]) {
      const name = p.metadata.name ?? '';
      const list = byPolicy.get(name);
      if (!list) continue;
      seen.add(name);
      const e = entryFor(p);
      hooks.push({
        policy: e.policy,
        name,
        failurePolicy: e.policy.spec?.failurePolicy ?? 'Fail',
        match: e.match,
        paramKind: e.policy.spec?.paramKind,
        bindings: list,
        engine: e.engine,
      });
    }
    for (const name of entries.keys()) if (!seen.has(name)) entries.delete(name);
    const bindingNames = new Set(bindings.map((b) => b.metadata?.name ?? ''));
    for (const name of bindingEntries.keys()) if (!bindingNames.has(name)) bindingEntries.delete(name);
    lastPolicies = [...policies];
    lastBindings = [...bindings];
    lastHooks = hooks;
    return hooks;
  };
}
