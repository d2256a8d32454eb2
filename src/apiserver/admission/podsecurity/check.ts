/**
 * What a Pod Security check is and how results combine, as upstream's pod-security-admission
 * `policy` package (checks.go, helpers.go, visitor.go): a check is a function of a pod's metadata
 * and spec, versioned by the first policy version it applies to; a failing check gives a short
 * reason (`privileged`) and a detail (`container "c" must not set ...`); results join as
 * `reason (detail), reason, ...` in check order.
 */
import type { Container, ObjectMeta, PodSpec } from '../../../api/index.ts';
import type { Level } from './levels.ts';

/** The pod metadata a check may read (a pod's, or a template's). */
export type PodMeta = Pick<ObjectMeta, 'annotations'>;

export interface CheckResult {
  allowed: boolean;
  /** Set when not allowed: the short reason, always shown. */
  reason?: string;
  /** Optional, when not allowed: which values or containers, shown in parentheses. */
  detail?: string;
}

export type CheckPod = (meta: PodMeta, spec: PodSpec) => CheckResult;

export interface VersionedCheck {
  /** The first 1.x minor version this revision applies to. */
  minimumVersion: number;
  check: CheckPod;
  /** Baseline check ids this (restricted) revision replaces at the restricted level. */
  overrides?: readonly string[];
}

export interface Check {
  id: string;
  level: Exclude<Level, 'privileged'>;
  /** Strictly increasing minimum versions. */
  versions: readonly VersionedCheck[];
}

export const allowed: CheckResult = Object.freeze({ allowed: true });

export const forbid = (reason: string, detail: string): CheckResult => ({ allowed: false, reason, detail });

/** Upstream's placeholder for a check that refuses without saying why. */
export const unknownForbiddenReason = 'unknown forbidden reason';

export interface AggregateResult {
  allowed: boolean;
  reasons: string[];
  details: string[];
}

export function aggregate(results: readonly CheckResult[]): AggregateResult {
  const reasons: string[] = [];
  const details: string[] = [];
  for (const r of results) {
    if (r.allowed) continue;
    reasons.push(r.reason || unknownForbiddenReason);
    details.push(r.detail ?? '');
  }
  return { allowed: reasons.length === 0, reasons, details };
}

/** `host namespaces, privileged`: the reasons alone (namespace-wide warnings). */
export const forbiddenReason = (a: AggregateResult): string => a.reasons.join(', ');

/** `host namespaces (hostNetwork=true), privileged (container "c" must ...)`. */
export function forbiddenDetail(a: AggregateResult): string {
  return a.reasons.map((r, i) => (a.details[i] ? `${r} (${a.details[i]})` : r)).join(', ');
}

/** `"a", "b"`: names quoted and joined, as upstream's joinQuote (no escaping). */
export const joinQuote = (items: readonly string[]): string => (items.length ? `"${items.join('", "')}"` : '');

export const pluralize = (singular: string, plural: string, n: number): string => (n === 1 ? singular : plural);

/** Sorted and deduplicated, as Go's sets.List (byte order). */
export const sortedSet = (s: Iterable<string>): string[] => [...new Set(s)].sort();

/** Calls `fn` for every init container, container and ephemeral container, in that order. */
export function visitContainers(spec: PodSpec, fn: (c: Container) => void): void {
  if (spec.initContainers) for (const c of spec.initContainers) fn(c);
  if (spec.containers) for (const c of spec.containers) fn(c);
  if (spec.ephemeralContainers) for (const c of spec.ephemeralContainers) fn(c);
}

/** A Windows pod (spec.os.name): restricted's Linux-only checks exempt it from v1.25. */
export const isWindowsPod = (spec: PodSpec): boolean => spec.os?.name === 'windows';
