/**
 * The ValidatingAdmissionPolicy status controller, as upstream's
 * pkg/controller/validatingadmissionpolicystatus (run by kube-controller-manager): each policy
 * added or updated whose metadata.generation is above status.observedGeneration is type checked
 * (src/apiserver/admission/policy/typecheck.ts) and its status applied, server-side, with force,
 * as field manager `validatingadmissionpolicy-status`: observedGeneration the generation checked
 * and typeChecking.expressionWarnings the warnings (`typeChecking: {}` when there are none).
 * Upstream writes no conditions, and neither does this.
 *
 * Kinds and schemas come from the API server, as upstream's discovery RESTMapper and its
 * ClientDiscoveryResolver fetch them: discovery documents and /openapi/v3, read afresh for each
 * policy checked. The type checker (and @bufbuild/cel's parser, about half a second to load) is
 * loaded on the first policy, straight from its file rather than the policy package's index.ts,
 * so that the API server, which imports that index, does not load it at start-up.
 */
import type { ValidatingAdmissionPolicy } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import type { ResourceDescriptor, RestClient } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';

/** Upstream's ControllerName, also the field manager of the status it applies. */
export const controllerName = 'validatingadmissionpolicy-status';

/** Upstream's default --concurrent-validating-admission-policy-status-syncs. */
export const statusWorkers = 5;

export const validatingAdmissionPolicies: ResourceDescriptor = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  resource: 'validatingadmissionpolicies',
  kind: 'ValidatingAdmissionPolicy',
  namespaced: false,
};

type TypeCheck = typeof import('../apiserver/admission/policy/typecheck.ts');
let typeCheck: Promise<TypeCheck> | undefined;
const loadTypeCheck = () => (typeCheck ??= import('../apiserver/admission/policy/typecheck.ts'));

/** GETs a JSON document from the API server: undefined for 404, an Error for another failure. */
export function jsonGetter(client: Pick<RestClient, 'request'>, signal?: AbortSignal): (path: string) => Promise<unknown> {
  return async (path) => {
    const res = await client.request({ method: 'GET', path, accept: 'application/json', signal });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return JSON.parse(Buffer.from(res.body).toString('utf8')) as unknown;
  };
}

/** The status a checked policy is applied with (pure). */
export function statusApply(policy: ValidatingAdmissionPolicy, warnings: readonly { fieldRef: string; warning: string }[]): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: policy.metadata.name },
    status: { observedGeneration: policy.metadata.generation ?? 0, typeChecking: warnings.length ? { expressionWarnings: warnings.map((w) => ({ fieldRef: w.fieldRef, warning: w.warning })) } : {} },
  };
}

export function startValidatingAdmissionPolicyStatusController(ctx: ControllerContext): void {
  const policies = ctx.informers.informerFor<ValidatingAdmissionPolicy & KubeObject>(validatingAdmissionPolicies);
  const queue = startQueue(ctx, reconcile, { name: controllerName, workers: statusWorkers, waitFor: [policies] });
  const enqueue = (p: ValidatingAdmissionPolicy) => {
    if (p.metadata.name) queue.add(p.metadata.name);
  };
  policies.addEventHandler({ onAdd: enqueue, onUpdate: (_old, p) => enqueue(p) });

  async function reconcile(name: string): Promise<void> {
    const policy = policies.store.get(name);
    if (!policy) return;
    if ((policy.metadata.generation ?? 0) <= (policy.status?.observedGeneration ?? 0)) return;
    const tc = await loadTypeCheck();
    const warnings = await tc.checkPolicy(policy, tc.discoveryResolver(jsonGetter(ctx.client, ctx.signal)), { log: (m) => ctx.log(`${controllerName}: ${name}: ${m}`) });
    await ctx.client.patchStatus(validatingAdmissionPolicies, name, statusApply(policy, warnings), { type: 'apply', fieldManager: controllerName, force: true, signal: ctx.signal });
  }
}
