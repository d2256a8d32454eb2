/**
 * The catalogue of internal error codes. Internal errors carry a stable `code` (never test the
 * message) and an optional `cause`. Errors that cross the API are `StatusError`s (apiserver/status.ts).
 */

export const ErrorCodes = {
  ERR_STORE_COMPACTED: 'the requested revision has been compacted',
  ERR_STORE_FUTURE_REVISION: 'the requested revision is newer than the store',
  ERR_STORE_CLOSED: 'the store is closed',
  ERR_STORE_BAD_CONTINUE: 'the continue token is invalid',
  ERR_INVALID_CONFIG: 'invalid configuration',
  ERR_PROTOBUF_DECODE: 'cannot decode protobuf',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class BosunError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ErrorCodes[code], options);
    this.code = code;
    this.name = 'BosunError';
  }
}

export function isCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof BosunError && err.code === code;
}
