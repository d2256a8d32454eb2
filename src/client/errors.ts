/**
 * Turning an unsuccessful HTTP answer into the `StatusError` the server meant, so callers test
 * errors with `isNotFound`, `isConflict`, ... from api/errors.ts. A body that is a metav1.Status
 * is used as is (reason, code, details); anything else becomes a generic Status whose reason
 * follows the HTTP code, as client-go's NewGenericServerResponse does.
 */
import { StatusError } from '../api/errors.ts';
import type { Status } from '../api/types.ts';

const reasonByCode: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The StatusError for an HTTP answer with `status` and `body` (any status ≥ 300). */
export function statusErrorFromResponse(status: number, body: Uint8Array | string | undefined, retryAfter?: string): StatusError {
  const text = typeof body === 'string' ? body : body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8') : '';
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  const s = statusFromObject(parsed);
  if (s) {
    if (!s.code) s.code = status;
    return new StatusError(s);
  }
  const reason = reasonByCode[status] ?? (status >= 500 ? 'InternalError' : 'Unknown');
  const trimmed = text.trim();
  const generic: Status = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: trimmed ? `the server responded with the status code ${status} (${trimmed.slice(0, 512)})` : `the server responded with the status code ${status} but did not return more information`,
    reason,
    code: status,
  };
  const secs = retryAfter !== undefined ? Number(retryAfter) : NaN;
  if (Number.isFinite(secs)) generic.details = { retryAfterSeconds: secs };
  return new StatusError(generic);
}

/** A Status from a decoded object (a watch ERROR event's object, a response body), or undefined. */
export function statusFromObject(obj: unknown): Status | undefined {
  if (!obj || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  if (o['kind'] !== 'Status') return undefined;
  return { ...(o as unknown as Status), metadata: (o['metadata'] as Status['metadata']) ?? {} };
}

/** The StatusError carried by a watch ERROR event's object (a generic 500 when it is not a Status). */
export function statusErrorFromWatchObject(obj: unknown): StatusError {
  const s = statusFromObject(obj);
  if (s) return new StatusError({ ...s, code: s.code || 500 });
  return statusErrorFromResponse(500, JSON.stringify(obj ?? null));
}

/** True for a 410 answer (reason Expired or Gone): the resource version is too old; relist. */
export function isResourceExpired(err: unknown): boolean {
  return err instanceof StatusError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}
