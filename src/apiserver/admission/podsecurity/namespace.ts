/**
 * PodSecurity for Namespace writes, as upstream's pod-security-admission ValidateNamespace and
 * EvaluatePodsInNamespace (admission/admission.go):
 * - create: labels that do not parse are Invalid; an exempt namespace given a policy gets a
 *   warning that it will be ignored.
 * - update: labels that do not parse are Invalid unless they are the same errors as before; when
 *   the enforce level or version changes to something stricter (not privileged, not a relaxed
 *   level at the same version), the existing pods are checked against it and the violations
 *   come back as warnings: one per distinct set of reasons, prefixed with the first pod name
 *   (by name) and how many others share it, sorted, after a headline.
 * The check is bounded: at most `namespaceMaxPodsToCheck` pods (one per controller first, the
 * other replicas after) and `namespacePodCheckTimeoutMs` of evaluation, upstream's 3000 and 1 s.
 */
import { invalid } from '../../../api/errors.ts';
import type { Namespace, Pod } from '../../../api/index.ts';
import type { StatusCause } from '../../../api/types.ts';
import { aggregate, forbiddenReason } from './check.ts';
import type { ResolvedConfig } from './config.ts';
import type { Evaluator } from './evaluator.ts';
import {
  auditLevelLabel,
  auditVersionLabel,
  compareLevels,
  enforceLevelLabel,
  enforceVersionLabel,
  equivalentPolicy,
  fullyPrivileged,
  levelVersionString,
  policyToEvaluate,
  sameLevelVersion,
  warnLevelLabel,
  warnVersionLabel,
  type LevelVersion,
  type Policy,
} from './levels.ts';
import type { AdmissionAttributes } from '../types.ts';

/** Upstream's defaultNamespaceMaxPodsToCheck. */
export const namespaceMaxPodsToCheck = 3000;
/** Upstream's defaultNamespacePodCheckTimeout. */
export const namespacePodCheckTimeoutMs = 1000;

export interface NamespaceContext {
  config: ResolvedConfig;
  evaluate: Evaluator;
  podsInNamespace(name: string): readonly Pod[];
  now(): number;
}

const sameErrors = (a: readonly StatusCause[], b: readonly StatusCause[]) => JSON.stringify(a) === JSON.stringify(b);

/** Validates a Namespace CREATE or UPDATE (main resource only); warnings go to `a.warnings`. */
export function validateNamespace(a: AdmissionAttributes, ctx: NamespaceContext): void {
  if (a.subresource !== '' || !a.object) return;
  const ns = a.object as unknown as Namespace;
  const name = ns.metadata.name ?? a.name;
  const { policy, errors } = policyToEvaluate(ns.metadata.labels, ctx.config.defaults);
  const exempt = ctx.config.exemptNamespaces.has(a.namespace || name);
  const reject = () => invalid({ group: '', kind: 'Namespace' }, a.name || name, errors);

  if (a.operation === 'CREATE') {
    if (errors.length) throw reject();
    if (exempt) warnExempt(a, name, policy, ns.metadata.labels ?? {}, ctx.config.defaults);
    return;
  }
  if (a.operation !== 'UPDATE' || !a.oldObject) return;
  const old = policyToEvaluate((a.oldObject as unknown as Namespace).metadata.labels, ctx.config.defaults);
  if (errors.length && (!old.errors.length || !sameErrors(errors, old.errors))) throw reject();

  const next = policy.enforce;
  const prev = old.policy.enforce;
  if (sameLevelVersion(next, prev) || next.level === 'privileged') return;
  if (next.version === prev.version && compareLevels(next.level, prev.level) < 1) return;
  if (exempt) {
    warnExempt(a, name, policy, ns.metadata.labels ?? {}, ctx.config.defaults);
    return;
  }
  const warnings = evaluatePodsInNamespace(name, next, ctx);
  if (warnings.length) (a.warnings ??= []).push(...warnings);
}

/** Upstream's exemptNamespaceWarning: only modes that are not privileged and set by a label. */
function warnExempt(a: AdmissionAttributes, name: string, policy: Policy, labels: Record<string, string>, defaults: Policy): void {
  if (fullyPrivileged(policy) || equivalentPolicy(policy, defaults)) return;
  const parts: string[] = [];
  const mode = (label: string, lv: LevelVersion, levelLabel: string, versionLabel: string) => {
    if (lv.level !== 'privileged' && (levelLabel in labels || versionLabel in labels)) parts.push(`${label}=${levelVersionString(lv)}`);
  };
  mode('enforce', policy.enforce, enforceLevelLabel, enforceVersionLabel);
  mode('audit', policy.audit, auditLevelLabel, auditVersionLabel);
  mode('warn', policy.warn, warnLevelLabel, warnVersionLabel);
  (a.warnings ??= []).push(`namespace ${JSON.stringify(name)} is exempt from Pod Security, and the policy (${parts.join(', ')}) will be ignored`);
}

/** Pods without an exempt runtime class: one per controller first, then the other replicas. */
function prioritizePods(pods: readonly Pod[], exemptRuntimeClasses: ReadonlySet<string>): Pod[] {
  const first: Pod[] = [];
  const replicas: Pod[] = [];
  const seen = new Set<string>();
  for (const pod of pods) {
    const rc = pod.spec?.runtimeClassName;
    if (rc && exemptRuntimeClasses.has(rc)) continue;
    const owner = pod.metadata.ownerReferences?.find((r) => r.controller === true);
    if (!owner) first.push(pod);
    else if (seen.has(owner.uid)) replicas.push(pod);
    else {
      seen.add(owner.uid);
      first.push(pod);
    }
  }
  return first.concat(replicas);
}

/** The warnings for a namespace whose enforce level becomes `enforce` (upstream's wording). */
export function evaluatePodsInNamespace(namespace: string, enforce: LevelVersion, ctx: NamespaceContext): string[] {
  const deadline = ctx.now() + namespacePodCheckTimeoutMs;
  const pods = prioritizePods(ctx.podsInNamespace(namespace), ctx.config.exemptRuntimeClasses);
  const total = pods.length;
  const toCheck = pods.slice(0, namespaceMaxPodsToCheck);
  let checked = toCheck.length;
  const order: string[] = [];
  const counts = new Map<string, { podName: string; count: number }>();
  for (let i = 0; i < toCheck.length; i++) {
    const pod = toCheck[i]!;
    const r = aggregate(ctx.evaluate(enforce, pod.metadata, pod.spec ?? { containers: [] }));
    if (!r.allowed) {
      const reason = forbiddenReason(r);
      const podName = pod.metadata.name ?? '';
      const c = counts.get(reason);
      if (!c) {
        order.push(reason);
        counts.set(reason, { podName, count: 1 });
      } else {
        if (podName < c.podName) c.podName = podName;
        c.count++;
      }
    }
    if (ctx.now() >= deadline) {
      checked = i + 1;
      break;
    }
  }
  const warnings: string[] = [];
  if (checked < total) warnings.push(`new PodSecurity enforce level only checked against the first ${checked} of ${total} existing pods`);
  if (order.length) {
    warnings.push(`existing pods in namespace ${JSON.stringify(namespace)} violate the new PodSecurity enforce level ${JSON.stringify(levelVersionString(enforce))}`);
  }
  const podWarnings = order.map((reason) => {
    const { podName, count } = counts.get(reason)!;
    if (count === 1) return `${podName}: ${reason}`;
    if (count === 2) return `${podName} (and 1 other pod): ${reason}`;
    return `${podName} (and ${count - 1} other pods): ${reason}`;
  });
  return warnings.concat(podWarnings.sort());
}
