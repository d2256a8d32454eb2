/**
 * What one evaluation of a policy decides, as upstream's admission/plugin/policy/validating
 * (validator.go) and webhook/matchconditions (matcher.go), over results already evaluated:
 * - matchConditions in order; the first `false` skips the policy for this binding; errors
 *   (`expression '<e>' resulted in error: …`, one or `[a, b]`) deny under failurePolicy Fail
 *   and skip under Ignore.
 * - each validation: `true` admits; an error denies under Fail (its message) and admits under
 *   Ignore; anything else denies with the validation's reason (default Invalid) and message:
 *   the messageExpression's string result (trimmed; refused when empty, longer than 5 KiB or
 *   multi-line), else `message`, else `failed expression: <expression>`.
 * - each audit annotation: a string publishes `<key>` (trimmed; empty is left out), null is left
 *   out, an error denies under Fail and is left out under Ignore, and another type always
 *   denies (`valueExpression '<e>' resulted in unsupported return type: <type>. Return type
 *   must be either string or null.`).
 * Pure functions: no CEL here.
 */

/** An expression's result: the value and its CEL type name, or why it failed. */
export type Outcome = { value: unknown; type: string; error?: undefined } | { error: string; value?: undefined; type?: undefined };

export type MatchOutcome = { matches: boolean; error?: undefined } | { matches?: undefined; error: string };

/** Upstream celconfig.MaxEvaluatedMessageExpressionSizeBytes. */
export const maxMessageExpressionBytes = 5 * 1024;

/** Upstream's aggregate of several errors: one as is, more as `[a, b]`. */
export function aggregate(messages: readonly string[]): string {
  return messages.length === 1 ? messages[0]! : `[${messages.join(', ')}]`;
}

/**
 * Upstream matcher.Match, over the conditions' outcomes in order (the evaluation may stop at the
 * first false one). `ignore` is failurePolicy Ignore.
 */
export function matchOutcome(outcomes: readonly Outcome[], opts: { ignore: boolean }): MatchOutcome {
  const errors: string[] = [];
  for (const o of outcomes) {
    if (o.error !== undefined) errors.push(o.error);
    else if (o.value === false) return { matches: false };
  }
  if (errors.length === 0) return { matches: true };
  return opts.ignore ? { matches: false } : { error: aggregate(errors) };
}

export interface ValidationSpec {
  expression: string;
  message?: string;
  reason?: string;
}

/** A decision: Deny ones carry the message (and for failed validations the reason). */
export interface PolicyDecision {
  action: 'admit' | 'deny';
  evaluation: 'admit' | 'deny' | 'error';
  message: string;
  reason: string;
}

export type AuditAnnotationResult =
  | { action: 'publish'; key: string; value: string }
  | { action: 'exclude'; key: string }
  | { action: 'error'; key: string; error: string };

export interface ValidateResult {
  decisions: PolicyDecision[];
  auditAnnotations: AuditAnnotationResult[];
}

const actionForError = (ignore: boolean): 'admit' | 'deny' => (ignore ? 'admit' : 'deny');

/** The failure message of a validation whose result was not true. */
export function failureMessage(spec: ValidationSpec, messageResult: Outcome | undefined): string {
  let message = '';
  if (messageResult && messageResult.error === undefined && typeof messageResult.value === 'string') {
    message = messageResult.value.trim();
    if (Buffer.byteLength(message) > maxMessageExpressionBytes || message.includes('\n')) message = '';
  }
  if (message === '' && spec.message) message = spec.message.trim();
  if (message === '') message = `failed expression: ${spec.expression.trim()}`;
  return message;
}

/** A validation's decision; `message` is asked for only when it fails. */
export function validationDecision(spec: ValidationSpec, result: Outcome, opts: { ignore: boolean; message: () => Outcome | undefined }): PolicyDecision {
  if (result.error !== undefined) return { action: actionForError(opts.ignore), evaluation: 'error', message: result.error, reason: '' };
  if (result.value === true) return { action: 'admit', evaluation: 'admit', message: '', reason: '' };
  return { action: 'deny', evaluation: 'deny', message: failureMessage(spec, opts.message()), reason: spec.reason || 'Invalid' };
}

/** An audit annotation's result. */
export function auditAnnotationResult(spec: { key: string; valueExpression: string }, result: Outcome, opts: { ignore: boolean }): AuditAnnotationResult {
  const key = spec.key;
  if (result.error !== undefined) return opts.ignore ? { action: 'exclude', key } : { action: 'error', key, error: result.error };
  if (typeof result.value === 'string') {
    const value = result.value.trim();
    return value === '' ? { action: 'exclude', key } : { action: 'publish', key, value };
  }
  if (result.value === null) return { action: 'exclude', key };
  return {
    action: 'error',
    key,
    error: `valueExpression '${spec.valueExpression}' resulted in unsupported return type: ${result.type}. Return type must be either string or null.`,
  };
}

/** The single decision for a matchConditions error. */
export function matchErrorResult(error: string, opts: { ignore: boolean }): ValidateResult {
  return { decisions: [{ action: actionForError(opts.ignore), evaluation: 'error', message: error, reason: '' }], auditAnnotations: [] };
}
