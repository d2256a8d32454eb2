/**
 * Errors that cross the API: one `StatusError` carrying a metav1.Status, built by the constructors
 * below with upstream's reasons, codes and messages. Test errors with the predicates (they read
 * the reason, never the message). apiserver/respond.ts is the one place that writes them out.
 */
import type { GroupResource, Status, StatusCause, StatusDetails } from './types.ts';

export const Reasons = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  TooManyRequests: 429,
  InternalError: 500,
  Timeout: 504,
  ServiceUnavailable: 503,
} as const;

export type Reason = keyof typeof Reasons;

export class StatusError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message ?? status.reason ?? 'error');
    this.status = status;
    this.name = 'StatusError';
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

/**
 * A failure Status as Go writes metav1.Status: kind, apiVersion, metadata, status, message,
 * reason, details, code in declaration order; message and reason left out when empty; details
 * (a pointer: `{}` when given with nothing in it) with its own empty fields left out.
 */
export function statusError(reason: Reason, message: string, details?: Status['details']): StatusError {
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure' } as Status;
  if (message) s.message = message;
  s.reason = reason;
  if (details) s.details = statusDetails(details);
  s.code = Reasons[reason];
  return new StatusError(s);
}

/** StatusDetails in Go's field order, empty fields left out (omitempty). */
export function statusDetails(d: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes?.length) {
    out.causes = d.causes.map((c) => {
      const o: StatusCause = {};
      if (c.reason) o.reason = c.reason;
      if (c.message) o.message = c.message;
      if (c.field) o.field = c.field;
      return o;
    });
  }
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

/** The message upstream's router answers for a path it does not serve. */
export const notFoundMessage = 'the server could not find the requested resource';

/**
 * 404 for a path under a served group-version that no route serves (an unknown resource, a
 * subresource the resource does not have): upstream's router error, `details: {}`.
 */
export function routeNotFound(): StatusError {
  return statusError('NotFound', notFoundMessage, {});
}

/** 404 for a path outside every served group-version (upstream's last handler): no details. */
export function pathNotFound(): StatusError {
  return statusError('NotFound', notFoundMessage);
}

/** 405 for a served path without a route for the method (upstream's router error, `details: {}`). */
export function routeMethodNotAllowed(): StatusError {
  return statusError('MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

export function notFound(gr: GroupResource, name: string): StatusError {
  return statusError('NotFound', `${qualified(gr)} "${name}" not found`, { name, group: gr.group, kind: gr.resource });
}

export function alreadyExists(gr: GroupResource, name: string): StatusError {
  return statusError('AlreadyExists', `${qualified(gr)} "${name}" already exists`, { name, group: gr.group, kind: gr.resource });
}

export function conflict(gr: GroupResource, name: string, why: string): StatusError {
  return statusError('Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

/** The standard optimistic-concurrency conflict. */
export function staleConflict(gr: GroupResource, name: string): StatusError {
  return conflict(gr, name, 'the object has been modified; please apply your changes to the latest version and try again');
}

export interface GroupKind {
  group: string;
  kind: string;
}

/** Field errors as upstream's field.ErrorList: one cause per field, message joined as upstream does. */
export function invalid(gk: GroupKind, name: string, causes: StatusCause[]): StatusError {
  const qk = gk.group ? `${gk.kind}.${gk.group}` : gk.kind;
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : (c.message ?? '')));
  const agg = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return statusError('Invalid', `${qk} "${name}" is invalid: ${agg}`, {
    name,
    group: gk.group,
    kind: gk.kind,
    causes,
  });
}

export function badRequest(message: string): StatusError {
  return statusError('BadRequest', message);
}

export function gone(message: string): StatusError {
  return statusError('Expired', message);
}

export function resourceExpired(message: string): StatusError {
  return statusError('Expired', message);
}

export function unauthorized(message = 'Unauthorized'): StatusError {
  return statusError('Unauthorized', message);
}

export function forbidden(gr: GroupResource, name: string, message: string): StatusError {
  const target = name ? `${qualified(gr)} "${name}"` : qualified(gr);
  return statusError('Forbidden', `${target} is forbidden: ${message}`, { name: name || undefined, group: gr.group, kind: gr.resource });
}

export function methodNotAllowed(verb: string, gr: GroupResource): StatusError {
  return statusError('MethodNotAllowed', `${verb} is not supported on resources of kind "${qualified(gr)}"`, {
    group: gr.group,
    kind: gr.resource,
  });
}

export function unsupportedMediaType(contentType: string): StatusError {
  return statusError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
}

export function notAcceptable(message: string): StatusError {
  return statusError('NotAcceptable', message);
}

export function tooManyRequests(message: string, retryAfterSeconds = 1): StatusError {
  return statusError('TooManyRequests', message, { retryAfterSeconds });
}

export function internalError(err: unknown): StatusError {
  const msg = err instanceof Error ? err.message : String(err);
  return statusError('InternalError', `Internal error occurred: ${msg}`, { causes: [{ message: msg }] });
}

/** 504 Timeout as upstream's NewTimeoutError: the message prefixed `Timeout: `, details with the retry delay. */
export function timeout(message: string, retryAfterSeconds = 0, causes?: StatusCause[]): StatusError {
  return statusError('Timeout', `Timeout: ${message}`, { retryAfterSeconds, causes });
}

/** A read or watch at a resourceVersion the server has not reached (upstream NewTooLargeResourceVersionError). */
export function tooLargeResourceVersion(minimum: number, current: number, retryAfterSeconds = 1): StatusError {
  return timeout(`Too large resource version: ${minimum}, current: ${current}`, retryAfterSeconds, [
    { reason: 'ResourceVersionTooLarge', message: 'Too large resource version' },
  ]);
}

export function isStatusError(err: unknown): err is StatusError {
  return err instanceof StatusError;
}

function hasReason(err: unknown, reason: Reason): boolean {
  return err instanceof StatusError && err.status.reason === reason;
}

export const isNotFound = (err: unknown): boolean => hasReason(err, 'NotFound');
export const isAlreadyExists = (err: unknown): boolean => hasReason(err, 'AlreadyExists');
export const isConflict = (err: unknown): boolean => hasReason(err, 'Conflict');
export const isInvalid = (err: unknown): boolean => hasReason(err, 'Invalid');
export const isGone = (err: unknown): boolean => hasReason(err, 'Expired') || hasReason(err, 'Gone');
export const isForbidden = (err: unknown): boolean => hasReason(err, 'Forbidden');
export const isTooManyRequests = (err: unknown): boolean => hasReason(err, 'TooManyRequests');
