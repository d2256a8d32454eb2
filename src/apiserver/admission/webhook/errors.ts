/**
 * The errors of webhook admission, as upstream's apiserver/pkg/util/webhook/error.go and
 * admission/plugin/webhook/errors:
 * - `CallError` (upstream ErrCallingWebhook): the webhook could not be asked or answered
 *   nonsense. The webhook's failurePolicy decides: Ignore lets the request through, Fail turns it
 *   into an InternalError `Internal error occurred: failed calling webhook "<name>": <reason>`.
 * - a rejection (`allowed: false`) becomes the webhook's own Status through `toStatusError`
 *   (`admission webhook "<name>" denied the request: <message>`), never subject to failurePolicy.
 * - a dry-run request to a webhook with side effects is a BadRequest (`dryRunUnsupported`).
 */
import { StatusError, badRequest } from '../../../api/errors.ts';
import type { Status, StatusDetails } from '../../../api/types.ts';

/** A failure to call a webhook or to make sense of its answer (upstream ErrCallingWebhook). */
export class CallError extends Error {
  readonly webhookName: string;
  /** Why, e.g. `failed to call webhook: Post "https://…": context deadline exceeded`. */
  readonly reason: string;
  constructor(webhookName: string, reason: string) {
    super(reason ? `failed calling webhook ${JSON.stringify(webhookName)}: ${reason}` : `failed calling webhook ${JSON.stringify(webhookName)}; no further details available`);
    this.name = 'CallError';
    this.webhookName = webhookName;
    this.reason = reason;
  }
}

/** The parts of a metav1.Status a webhook may return in `response.status`. */
export interface WebhookStatus {
  status?: string;
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code?: number;
}

/**
 * The error for a webhook's rejection, as upstream's ToStatusErr: the webhook's Status with its
 * message prefixed `admission webhook "<name>" denied the request: ` (its reason when it gave no
 * message; ` without explanation` when neither), a code below 400 raised to 400, and a status
 * other than Failure made Failure. Reason and details are the webhook's own.
 */
export function toStatusError(webhookName: string, result: WebhookStatus | null | undefined): StatusError {
  const r = result ?? {};
  const deniedBy = `admission webhook ${JSON.stringify(webhookName)} denied the request`;
  let message: string;
  if (r.message) message = `${deniedBy}: ${r.message}`;
  else if (r.reason) message = `${deniedBy}: ${r.reason}`;
  else message = `${deniedBy} without explanation`;
  const code = typeof r.code === 'number' && r.code >= 400 ? r.code : 400;
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure' } as Status;
  s.message = message;
  if (r.reason) s.reason = r.reason;
  if (r.details && typeof r.details === 'object') s.details = r.details;
  s.code = code;
  return new StatusError(s);
}

/** A dry-run request to a webhook whose sideEffects are not None or NoneOnDryRun (upstream NewDryRunUnsupportedErr). */
export function dryRunUnsupported(webhookName: string): StatusError {
  return badRequest(`admission webhook ${JSON.stringify(webhookName)} does not support dry run`);
}

/** Upstream's utilerrors.NewAggregate message: one error as is, several as `[a, b]`. */
export function aggregate(messages: readonly string[]): string {
  return messages.length === 1 ? messages[0]! : `[${messages.join(', ')}]`;
}
