/**
 * A Job's pod failure policy and success policy, as upstream's pod_failure_policy.go and
 * success_policy.go decide them.
 *
 * - Pod failure policy: the first rule matching a failed pod decides. onExitCodes looks at the
 *   terminated, non-zero exit codes of the regular containers, then of the init containers
 *   (optionally one container by name; In / NotIn); onPodConditions at the pod's conditions
 *   (type and status). FailJob fails the Job with upstream's message, Ignore does not count the
 *   failure, Count counts it, FailIndex fails the pod's index. No rule matching counts it.
 * - Success policy (Indexed Jobs): the first rule whose succeededIndexes all succeeded, or
 *   whose succeededCount of them (or of all indexes, without succeededIndexes) did, meets the
 *   success criteria: "Matched rules at index N".
 */
import type { ContainerStatus, Pod, PodCondition, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern, SuccessPolicy } from '../api/index.ts';
import { intervalsTotal, parseIndexes, type Intervals } from './job-indexes.ts';

export type PodFailurePolicyAction = 'FailJob' | 'FailIndex' | 'Ignore' | 'Count';

export interface PodFailurePolicyMatch {
  /** Set when a FailJob rule matched: the Job's failure message. */
  failJobMessage?: string;
  /** Whether the failure counts toward backoffLimit / backoffLimitPerIndex (false only for Ignore). */
  countFailed: boolean;
  /** The matched rule's action; undefined when no rule matched. */
  action?: PodFailurePolicyAction;
}

/** Matches a failed pod against the policy (upstream matchPodFailurePolicy). */
export function matchPodFailurePolicy(policy: PodFailurePolicy | undefined, pod: Pod): PodFailurePolicyMatch {
  if (!policy) return { countFailed: true };
  const status = pod.status ?? {};
  for (const [index, rule] of (policy.rules ?? []).entries()) {
    let what: string | undefined;
    if (rule.onExitCodes) {
      const c = matchOnExitCodes([...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])], rule.onExitCodes);
      if (c) what = `Container ${c.name} for pod ${pod.metadata.namespace}/${pod.metadata.name} failed with exit code ${c.state!.terminated!.exitCode}`;
    } else if (rule.onPodConditions) {
      const c = matchOnPodConditions(status.conditions ?? [], rule.onPodConditions);
      if (c) what = `Pod ${pod.metadata.namespace}/${pod.metadata.name} has condition ${c.type}`;
    }
    if (what === undefined) continue;
    switch (rule.action) {
      case 'Ignore':
        return { countFailed: false, action: 'Ignore' };
      case 'FailIndex':
        return { countFailed: true, action: 'FailIndex' };
      case 'Count':
        return { countFailed: true, action: 'Count' };
      case 'FailJob':
        return { failJobMessage: `${what} matching FailJob rule at index ${index}`, countFailed: true, action: 'FailJob' };
    }
  }
  return { countFailed: true };
}

/** The first terminated container with a non-zero exit code the requirement matches. */
function matchOnExitCodes(statuses: readonly ContainerStatus[], req: PodFailurePolicyOnExitCodesRequirement): ContainerStatus | undefined {
  for (const s of statuses) {
    const t = s.state?.terminated;
    if (!t) continue;
    if (req.containerName && req.containerName !== s.name) continue;
    if (t.exitCode === 0) continue;
    const listed = (req.values ?? []).includes(t.exitCode);
    if ((req.operator === 'In' && listed) || (req.operator === 'NotIn' && !listed)) return s;
  }
  return undefined;
}

function matchOnPodConditions(conditions: readonly PodCondition[], patterns: readonly PodFailurePolicyOnPodConditionsPattern[]): PodCondition | undefined {
  for (const c of conditions) {
    for (const p of patterns) if (c.type === p.type && c.status === (p.status || 'True')) return c;
  }
  return undefined;
}

/**
 * The success criteria message when a rule of the policy is met by `succeeded` (the Job's
 * succeeded indexes), else undefined (upstream matchSuccessPolicy).
 */
export function matchSuccessPolicy(policy: SuccessPolicy | undefined, completions: number, succeeded: Intervals): string | undefined {
  if (!policy || !succeeded.length) return undefined;
  for (const [index, rule] of (policy.rules ?? []).entries()) {
    if (rule.succeededIndexes !== undefined && rule.succeededIndexes !== null) {
      const required = parseIndexes(rule.succeededIndexes, completions);
      if (!required.length) continue;
      if (matchSucceededIndexes(required, succeeded, rule.succeededCount)) return `Matched rules at index ${index}`;
    } else if (rule.succeededCount !== undefined && rule.succeededCount !== null && intervalsTotal(succeeded) >= rule.succeededCount) {
      return `Matched rules at index ${index}`;
    }
  }
  return undefined;
}

/** All of the rule's indexes succeeded, or at least `count` of them. */
function matchSucceededIndexes(rule: Intervals, succeeded: Intervals, count: number | undefined): boolean {
  let contains = 0;
  let r = 0;
  let s = 0;
  while (r < rule.length && s < succeeded.length) {
    const overlap = Math.min(rule[r]!.last, succeeded[s]!.last) - Math.max(rule[r]!.first, succeeded[s]!.first) + 1;
    if (overlap > 0) contains += overlap;
    if (succeeded[s]!.last < rule[r]!.last) s++;
    else if (succeeded[s]!.last > rule[r]!.last) r++;
    else {
      s++;
      r++;
    }
  }
  return contains === intervalsTotal(rule) || (count !== undefined && count !== null && contains >= count);
}
