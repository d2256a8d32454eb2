/**
 * The PodSecurity admission plugin (Pod Security Standards), as upstream's pod-security-admission
 * (admission/admission.go) behind plugin/pkg/admission/security/podsecurity, for CREATE and
 * UPDATE, in the validating phase:
 * - pods (and every pod subresource but exec, attach, binding, eviction, log, portforward, proxy
 *   and status; so ephemeralcontainers and resize): the namespace's enforce level rejects a
 *   violating pod (Forbidden: `violates PodSecurity "restricted:latest": <reason (detail)>, ...`);
 *   the audit level adds `pod-security.kubernetes.io/audit-violations`; the warn level adds a
 *   warning (`would violate PodSecurity "<level:version>": ...`) unless the pod is rejected.
 *   An update that changes no container image and adds no ephemeral container is not checked.
 * - workload resources (replicationcontrollers, podtemplates, replicasets, deployments,
 *   statefulsets, daemonsets, jobs, cronjobs; main resource only): their pod template is checked
 *   for audit and warn, never enforced.
 * - namespaces: see ./namespace.ts (invalid labels, warnings about existing pods).
 * Audit annotations, keyed `pod-security.kubernetes.io/<key>` as upstream: `enforce-policy`,
 * `audit-violations`, `exempt` (namespace, user, runtimeClass) and `error` (labels that do not
 * parse, evaluated with upstream's fallbacks; a namespace that cannot be found).
 * Exemptions (usernames, namespaces, runtime classes) come from the configuration.
 * Not covered: upstream's metrics; the alpha user-namespace relaxation.
 */
import { forbidden, internalError } from '../../../api/errors.ts';
import type { Namespace, Pod, PodSpec, PodTemplateSpec } from '../../../api/index.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes, AdmissionPlugin } from '../types.ts';
import { aggregate, forbiddenDetail, type AggregateResult, type PodMeta } from './check.ts';
import { resolveConfig, type PodSecurityConfiguration, type ResolvedConfig } from './config.ts';
import { newEvaluator, type Evaluator } from './evaluator.ts';
import {
  aggregateErrorString,
  auditAnnotationPrefix,
  auditViolationsAnnotationKey,
  enforcedPolicyAnnotationKey,
  exemptionReasonAnnotationKey,
  fullyPrivileged,
  levelVersionString,
  policyToEvaluate,
  type LevelVersion,
  type Policy,
} from './levels.ts';
import { validateNamespace, type NamespaceContext } from './namespace.ts';

export type { PodSecurityConfiguration, PodSecurityDefaults, PodSecurityExemptions } from './config.ts';
export { newEvaluator, type Evaluator } from './evaluator.ts';
export { policyToEvaluate, levelVersionString, type Level, type LevelVersion, type Policy, type Version } from './levels.ts';
export { aggregate, forbiddenDetail, forbiddenReason, type CheckResult } from './check.ts';

export interface PodSecurityDeps {
  /** The namespace from the API server's cache (upstream's namespace lister). */
  namespace(name: string): Namespace | undefined;
  /** The pods of a namespace from the API server's cache (upstream's pod lister). */
  podsInNamespace(name: string): readonly Pod[];
  /** Upstream's PodSecurityConfiguration (defaults: privileged at latest; nothing exempt). */
  config?: PodSecurityConfiguration;
  /** Milliseconds, for the bound on checking a namespace's pods; default Date.now. */
  now?(): number;
}

export const pluginName = 'PodSecurity';

/** Pod subresources whose writes cannot change the pod spec. */
const ignoredPodSubresources: ReadonlySet<string> = new Set(['exec', 'attach', 'binding', 'eviction', 'log', 'portforward', 'proxy', 'status']);

type TemplateOf = (obj: KubeObject) => PodTemplateSpec | undefined;
type J = { spec?: { template?: PodTemplateSpec; jobTemplate?: { spec?: { template?: PodTemplateSpec } } }; template?: PodTemplateSpec };
const specTemplate: TemplateOf = (o) => (o as J).spec?.template;

/** Workload resources with a pod template, by `group/plural`, and where the template is. */
const podTemplateResources: ReadonlyMap<string, TemplateOf> = new Map([
  ['/replicationcontrollers', specTemplate],
  ['/podtemplates', (o: KubeObject) => (o as J).template],
  ['apps/replicasets', specTemplate],
  ['apps/deployments', specTemplate],
  ['apps/statefulsets', specTemplate],
  ['apps/daemonsets', specTemplate],
  ['batch/jobs', specTemplate],
  ['batch/cronjobs', (o: KubeObject) => (o as J).spec?.jobTemplate?.spec?.template],
]);

const privilegedLatest = levelVersionString({ level: 'privileged', version: 'latest' });

function annotate(a: AdmissionAttributes, key: string, value: string): void {
  (a.auditAnnotations ??= {})[auditAnnotationPrefix + key] = value;
}

/** Only container images and ephemeral containers can change on a pod update (upstream's rule). */
export function isSignificantPodUpdate(pod: Pod, old: Pod): boolean {
  const s = pod.spec ?? { containers: [] };
  const o = old.spec ?? { containers: [] };
  const cs = s.containers ?? [];
  const ocs = o.containers ?? [];
  const ics = s.initContainers ?? [];
  const oics = o.initContainers ?? [];
  if (cs.length !== ocs.length || ics.length !== oics.length) return true;
  for (let i = 0; i < cs.length; i++) if (cs[i]!.image !== ocs[i]!.image) return true;
  for (let i = 0; i < ics.length; i++) if (ics[i]!.image !== oics[i]!.image) return true;
  for (const c of s.ephemeralContainers ?? []) {
    const oc = o.ephemeralContainers?.find((x) => x.name === c.name);
    if (!oc || oc.image !== c.image) return true;
  }
  return false;
}

/**
 * The PodSecurity plugin. Construction resolves the configuration and throws an Error when it is
 * invalid. `validate` reads only the given caches; it appends to `attrs.warnings` and sets
 * `attrs.auditAnnotations` (creating them when absent) and throws a StatusError to reject.
 */
export function podSecurityPlugin(deps: PodSecurityDeps): AdmissionPlugin {
  const config = resolveConfig(deps.config);
  const evaluate = newEvaluator();
  const nsCtx: NamespaceContext = { config, evaluate, podsInNamespace: deps.podsInNamespace, now: deps.now ?? Date.now };

  return {
    name: pluginName,
    validate(a) {
      if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return;
      const { group, plural } = a.def;
      if (group === '' && plural === 'namespaces') return validateNamespace(a, nsCtx);
      if (group === '' && plural === 'pods') return validatePod(a, config, evaluate, deps);
      const templateOf = podTemplateResources.get(`${group}/${plural}`);
      if (templateOf) return validatePodController(a, templateOf, config, evaluate, deps);
    },
  };
}

/** Exempt namespace or user: records why and returns true. */
function exemptRequest(a: AdmissionAttributes, config: ResolvedConfig): boolean {
  if (a.namespace && config.exemptNamespaces.has(a.namespace)) {
    annotate(a, exemptionReasonAnnotationKey, 'namespace');
    return true;
  }
  if (a.user.username && config.exemptUsernames.has(a.user.username)) {
    annotate(a, exemptionReasonAnnotationKey, 'user');
    return true;
  }
  return false;
}

function validatePod(a: AdmissionAttributes, config: ResolvedConfig, evaluate: Evaluator, deps: PodSecurityDeps): void {
  if (ignoredPodSubresources.has(a.subresource) || !a.object) return;
  if (exemptRequest(a, config)) return;
  const ns = deps.namespace(a.namespace);
  if (!ns) {
    const err = internalError(new Error(`failed to lookup namespace ${JSON.stringify(a.namespace)}`));
    annotate(a, 'error', `${err.status.message}: namespaces ${JSON.stringify(a.namespace)} not found`);
    throw err;
  }
  const { policy, errors } = policyToEvaluate(ns.metadata.labels, config.defaults);
  if (!errors.length && fullyPrivileged(policy)) {
    annotate(a, enforcedPolicyAnnotationKey, privilegedLatest);
    return;
  }
  const pod = a.object as unknown as Pod;
  if (a.operation === 'UPDATE' && a.oldObject && !isSignificantPodUpdate(pod, a.oldObject as unknown as Pod)) return;
  const parseError = errors.length ? aggregateErrorString(errors) : '';
  evaluatePod(a, { policy, parseError, meta: pod.metadata, spec: pod.spec ?? { containers: [] }, enforce: true }, config, evaluate);
}

function validatePodController(a: AdmissionAttributes, templateOf: TemplateOf, config: ResolvedConfig, evaluate: Evaluator, deps: PodSecurityDeps): void {
  if (a.subresource !== '' || !a.object) return;
  if (exemptRequest(a, config)) return;
  const ns = deps.namespace(a.namespace);
  if (!ns) {
    annotate(a, 'error', `failed to lookup namespace ${JSON.stringify(a.namespace)}: namespaces ${JSON.stringify(a.namespace)} not found`);
    return;
  }
  const { policy, errors } = policyToEvaluate(ns.metadata.labels, config.defaults);
  if (!errors.length && policy.warn.level === 'privileged' && policy.audit.level === 'privileged') return;
  const template = templateOf(a.object);
  if (!template) return; // a workload without a pod template is not checked
  const parseError = errors.length ? aggregateErrorString(errors) : '';
  evaluatePod(a, { policy, parseError, meta: template.metadata ?? {}, spec: template.spec ?? { containers: [] }, enforce: false }, config, evaluate);
}

interface Evaluation {
  policy: Policy;
  /** The namespace labels' parse errors, as one string ('' when none). */
  parseError: string;
  meta: PodMeta;
  spec: PodSpec;
  enforce: boolean;
}

/** Upstream's EvaluatePod: enforce (when asked), then audit, then warn; same level+version evaluated once. */
function evaluatePod(a: AdmissionAttributes, e: Evaluation, config: ResolvedConfig, evaluate: Evaluator): void {
  const rc = e.spec.runtimeClassName;
  if (rc && config.exemptRuntimeClasses.has(rc)) {
    annotate(a, exemptionReasonAnnotationKey, 'runtimeClass');
    return;
  }
  if (e.parseError) annotate(a, 'error', `Failed to parse policy: ${e.parseError}`);

  const cache = new Map<string, AggregateResult>();
  const resultFor = (lv: LevelVersion): AggregateResult => {
    const key = levelVersionString(lv);
    let r = cache.get(key);
    if (!r) cache.set(key, (r = aggregate(evaluate(lv, e.meta, e.spec))));
    return r;
  };

  let rejection: Error | undefined;
  if (e.enforce) {
    const enforce = levelVersionString(e.policy.enforce);
    annotate(a, enforcedPolicyAnnotationKey, enforce);
    const r = resultFor(e.policy.enforce);
    if (!r.allowed) {
      const name = a.name || a.object?.metadata.name || '';
      rejection = forbidden({ group: a.def.group, resource: a.def.plural }, name, `violates PodSecurity ${JSON.stringify(enforce)}: ${forbiddenDetail(r)}`);
    }
  }
  const audit = resultFor(e.policy.audit);
  if (!audit.allowed) {
    annotate(a, auditViolationsAnnotationKey, `would violate PodSecurity ${JSON.stringify(levelVersionString(e.policy.audit))}: ${forbiddenDetail(audit)}`);
  }
  if (rejection) throw rejection; // no warnings on a request that is refused
  const warn = resultFor(e.policy.warn);
  if (!warn.allowed) {
    (a.warnings ??= []).push(`would violate PodSecurity ${JSON.stringify(levelVersionString(e.policy.warn))}: ${forbiddenDetail(warn)}`);
  }
}
