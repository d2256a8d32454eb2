/**
 * What a reconciler is and what it returns, as controller-runtime's `pkg/reconcile`:
 *
 * - A `Request` names one object (`{namespace, name}`; namespace '' for cluster-scoped ones) and
 *   nothing else: reconcilers are level-based, they read the current state and never rely on the
 *   event that queued them.
 * - A reconcile resolves to a `Result` (or nothing): `{requeueAfter: ms}` queues the request again
 *   after that delay (and resets its backoff); `{requeue: true}` queues it again rate-limited
 *   (exponential per item, as an error would, but without logging one); nothing means done.
 * - Throwing queues the request again rate-limited. Throwing a `TerminalError`
 *   (`terminalError(msg)`; upstream's `reconcile.TerminalError`) is logged and not retried.
 */
import { TerminalError, isTerminalError } from '../client/index.ts';

export { TerminalError, isTerminalError };

/** One object to reconcile. `namespace` is '' for cluster-scoped objects. */
export interface Request {
  readonly namespace: string;
  readonly name: string;
}

/** A reconcile's answer; `requeueAfter` (ms) wins over `requeue`. */
export interface Result {
  requeue?: boolean;
  requeueAfter?: number;
}

/** What a reconcile is handed besides the request. */
export interface ReconcileContext {
  /** Aborts when the manager's graceful-shutdown period is over (in-flight work should stop). */
  readonly signal: AbortSignal;
  /** Logs with the controller's name and the request. */
  log(msg: string): void;
  /** The controller's name. */
  readonly controller: string;
}

/** A reconciler: a function, or an object with a `reconcile` method. */
export type Reconciler = ReconcileFunc | { reconcile: ReconcileFunc };
export type ReconcileFunc = (req: Request, ctx: ReconcileContext) => Promise<Result | void> | Result | void;

/** A `TerminalError` with `cause`: the request is dropped instead of retried. */
export function terminalError(message: string | Error, cause?: unknown): TerminalError {
  if (message instanceof Error) return new TerminalError(message.message, { cause: message });
  return new TerminalError(message, cause === undefined ? undefined : { cause });
}

/** The queue key of a request (`namespace/name`, or `name`). */
export function requestKey(req: Request): string {
  return req.namespace ? `${req.namespace}/${req.name}` : req.name;
}

/** The request a queue key names (the inverse of `requestKey`). */
export function requestOf(key: string): Request {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The request for an object: its namespace and name. */
export function requestFor(obj: { metadata?: { namespace?: string; name?: string } }): Request {
  return { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' };
}
