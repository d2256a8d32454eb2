/**
 * How a policy's decisions reach the client and the audit log, as upstream's
 * policy/validating/dispatcher.go:
 * - the first denial refuses the request: admission.NewForbidden's message
 *   (`<resource>.<group> "<name>" is forbidden: ValidatingAdmissionPolicy '<policy>' with binding
 *   '<binding>' denied request: <message>`, or without a binding for a policy's own
 *   misconfiguration), with the denial's reason (default Invalid) and its code (Forbidden 403,
 *   Unauthorized 401, RequestEntityTooLarge 413, anything else 422), and the message again as
 *   the one cause;
 * - a Warn action adds the warning `Validation failed for ValidatingAdmissionPolicy '<p>' with
 *   binding '<b>': <message>`;
 * - an Audit action records `validation.policy.admission.k8s.io/validation_failure`, a JSON list
 *   of one failure (message, policy, binding, expressionIndex, validationActions) as Go
 *   marshals it; a key already recorded keeps its first value, as upstream's AddAnnotation;
 * - audit annotations of a policy are published as `<policy>/<key>`, distinct values of several
 *   bindings joined with `, `, each value cut to 10 KiB.
 */
import { StatusError, statusDetails } from '../../../api/errors.ts';
import type { Status } from '../../../api/types.ts';
import type { AdmissionAttributes } from '../types.ts';

export const validationFailureAnnotation = 'validation.policy.admission.k8s.io/validation_failure';
/** Upstream maxAuditAnnotationValueLength. */
export const maxAuditAnnotationValueLength = 10 * 1024;

/** A decision to refuse the request, with what named it. */
export interface Denial {
  policy: string;
  /** Absent for a policy's own configuration error. */
  binding?: string;
  message: string;
  /** The status reason; empty means Invalid. */
  reason: string;
}

const reasonCodes: Record<string, number> = { Forbidden: 403, Unauthorized: 401, RequestEntityTooLarge: 413, Invalid: 422 };

/** Upstream extractResourceName: the request's name, else the object's name or generateName, else `Unknown`. */
export function requestObjectName(attrs: AdmissionAttributes): string {
  if (attrs.name) return attrs.name;
  const md = attrs.object?.metadata;
  return md?.name || md?.generateName || 'Unknown';
}

/** The denial message, as the dispatcher words it. */
export function denialMessage(d: Denial): string {
  return d.binding !== undefined
    ? `ValidatingAdmissionPolicy '${d.policy}' with binding '${d.binding}' denied request: ${d.message}`
    : `ValidatingAdmissionPolicy '${d.policy}' denied request: ${d.message}`;
}

/** The StatusError refusing the request for `d`. */
export function denialError(attrs: AdmissionAttributes, d: Denial): StatusError {
  const message = denialMessage(d);
  const name = requestObjectName(attrs);
  const group = attrs.def.group;
  const resource = attrs.def.plural;
  const qualified = group ? `${resource}.${group}` : resource;
  const reason = d.reason || 'Invalid';
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure' } as Status;
  s.message = `${qualified} "${name}" is forbidden: ${message}`;
  s.reason = reason;
  s.details = statusDetails({ name, group, kind: resource, causes: [{ message }] });
  s.code = reasonCodes[reason] ?? 422;
  return new StatusError(s);
}

/** Adds a warning for the client, once. */
export function addWarning(attrs: AdmissionAttributes, warning: string): void {
  const list = (attrs.warnings ??= []);
  if (!list.includes(warning)) list.push(warning);
}

/** Records an audit annotation; false when the key already holds another value (left as it is). */
export function addAuditAnnotation(attrs: AdmissionAttributes, key: string, value: string): boolean {
  const map = (attrs.auditAnnotations ??= {});
  if (key in map) return map[key] === value;
  map[key] = value;
  return true;
}

/** JSON as Go's encoding/json writes it: <, > and & escaped, and U+2028/U+2029. */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The Audit action's annotation value. */
export function validationFailureValue(f: { message: string; policy: string; binding: string; expressionIndex: number; validationActions: readonly string[] | null }): string {
  return goJson([{ message: f.message, policy: f.policy, binding: f.binding, expressionIndex: f.expressionIndex, validationActions: f.validationActions }]);
}

/** A policy's audit annotations from all its bindings: key → distinct values. */
export class AuditAnnotationCollector {
  readonly #values = new Map<string, string[]>();
  add(key: string, value: string): void {
    const v = value.length > maxAuditAnnotationValueLength ? value.slice(0, maxAuditAnnotationValueLength) : value;
    const list = this.#values.get(key);
    if (!list) this.#values.set(key, [v]);
    else if (!list.includes(v)) list.push(v);
  }
  /** Records `<policy>/<key>` for each key; returns the keys that clashed with another value. */
  publish(attrs: AdmissionAttributes, policy: string): string[] {
    const clashes: string[] = [];
    for (const [key, values] of this.#values) {
      if (!addAuditAnnotation(attrs, `${policy}/${key}`, values.join(', '))) clashes.push(key);
    }
    return clashes;
  }
}
