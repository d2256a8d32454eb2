/**
 * Fixtures for the ValidatingAdmissionPolicy tests (not used by the plugin): small ResourceDefs,
 * admission attributes, policy and binding builders, namespaces and ConfigMaps, and a one-line
 * CEL evaluator over the policy environment.
 */
import type { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec, ValidatingAdmissionPolicySpec } from '../../../api/index.ts';
import { apiVersionOf, type ResourceDef } from '../../../api/resource.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes } from '../types.ts';
import { toCel } from '../webhook/matchconditions.ts';
import { isCelError } from '@bufbuild/cel';
import { celMessage, compileExpression, type Declarations } from './engine.ts';
import { typeNameOf } from './lib/opaque.ts';

const base = { singular: '', namespaced: true } as const;

/** Autoscaling v2 stored, v1 served (the v1 object says `served: v1` in its spec). */
const hpaV1 = {
  version: 'v1',
  fromStorage(o: KubeObject): KubeObject {
    return { ...structuredClone(o), apiVersion: 'autoscaling/v1', spec: { ...(o['spec'] as object), served: 'v1' } };
  },
  toStorage(o: KubeObject): KubeObject {
    return { ...structuredClone(o), apiVersion: 'autoscaling/v2' };
  },
};

export const defs = {
  pods: { ...base, group: '', version: 'v1', kind: 'Pod', plural: 'pods' },
  configmaps: { ...base, group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  nodes: { ...base, namespaced: false, group: '', version: 'v1', kind: 'Node', plural: 'nodes' },
  namespaces: { ...base, namespaced: false, group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces' },
  deployments: { ...base, group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments' },
  hpa: { ...base, group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', otherVersions: [hpaV1] },
  policies: { ...base, namespaced: false, group: 'admissionregistration.k8s.io', version: 'v1', kind: 'ValidatingAdmissionPolicy', plural: 'validatingadmissionpolicies' },
  subjectAccessReviews: { ...base, namespaced: false, group: 'authorization.k8s.io', version: 'v1', kind: 'SubjectAccessReview', plural: 'subjectaccessreviews', review: true },
} satisfies Record<string, ResourceDef>;

/** A Deployment `name` in `namespace` with `replicas` and labels. */
export function deployment(name: string, replicas: number, opts: { namespace?: string; labels?: Record<string, string> } = {}): KubeObject {
  const metadata: KubeObject['metadata'] = { name, namespace: opts.namespace ?? 'default' };
  if (opts.labels) metadata.labels = opts.labels;
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec: { replicas, template: { spec: { containers: [{ name: 'c', image: 'nginx' }] } } } };
}

/** Admission attributes: a CREATE of `object` (default a 1-replica Deployment `web` in default) by alice. */
export function makeAttrs(a: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  const def = a.def ?? defs.deployments;
  const operation = a.operation ?? 'CREATE';
  let object = a.object;
  if (!('object' in a) && (operation === 'CREATE' || operation === 'UPDATE')) object = deployment('web', 1);
  const namespace = a.namespace ?? (def.namespaced ? ((object?.metadata?.namespace as string | undefined) ?? 'default') : '');
  const name = a.name ?? object?.metadata?.name ?? a.oldObject?.metadata?.name ?? '';
  if (object && !object.apiVersion) object.apiVersion = apiVersionOf(def.group, def.version);
  return {
    operation,
    def,
    version: a.version ?? def.version,
    namespace,
    name,
    subresource: a.subresource ?? '',
    object,
    oldObject: a.oldObject,
    user: a.user ?? { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'] },
    dryRun: a.dryRun ?? false,
    warnings: a.warnings,
    auditAnnotations: a.auditAnnotations,
  };
}

/** The seed's rule: apps/v1 deployments on CREATE and UPDATE. */
export const deploymentRule = { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] };

/** A ValidatingAdmissionPolicy matching `deploymentRule` unless told otherwise. */
export function policy(name: string, spec: ValidatingAdmissionPolicySpec = {}, rv = '1'): ValidatingAdmissionPolicy & KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name, resourceVersion: rv },
    spec: { failurePolicy: 'Fail', matchConstraints: { resourceRules: [deploymentRule] }, ...spec },
  };
}

/** A binding of `policyName` with validationActions Deny unless told otherwise. */
export function binding(name: string, policyName: string, spec: ValidatingAdmissionPolicyBindingSpec = {}, rv = '1'): ValidatingAdmissionPolicyBinding & KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name, resourceVersion: rv },
    spec: { policyName, validationActions: ['Deny'], ...spec },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: `uid-${name}`, labels }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}

export function configMap(name: string, ns: string, data: Record<string, string>, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels }, data };
}

/** Evaluates one expression in the policy environment: its value (with CEL type), or its error. */
export function evalCel(expression: string, vars: Record<string, unknown> = {}, decls: Partial<Declarations> = {}): { value?: unknown; type?: string; error?: string } {
  const c = compileExpression(expression, { params: true, authorizer: true, variables: new Set(), ...decls });
  if (!c.program) return { error: c.error };
  const bindings: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vars)) bindings[k] = k === 'authorizer' ? v : toCel(v);
  const r = c.program(bindings);
  if (isCelError(r)) return { error: celMessage(r.message) };
  return { value: r, type: typeNameOf(r) };
}
