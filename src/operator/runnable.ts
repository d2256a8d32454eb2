/**
 * What a manager runs (controller-runtime's `manager.Runnable` and `LeaderElectionRunnable`):
 * anything with `start(signal)` that runs until the signal aborts and then resolves once it has
 * stopped. `needLeaderElection` (default true for controllers, false for anything else) makes
 * the manager start it only while it leads.
 */

export interface RunnableContext {
  /** Aborts when the manager's graceful-shutdown period is over: stop in-flight work now. */
  hardSignal?: AbortSignal;
}

export interface Runnable {
  start(signal: AbortSignal, ctx?: RunnableContext): Promise<void>;
  readonly needLeaderElection?: boolean;
}

/** A runnable from a function (`needLeaderElection` false unless given). */
export function runnable(fn: (signal: AbortSignal, ctx?: RunnableContext) => Promise<void>, opts: { needLeaderElection?: boolean } = {}): Runnable {
  return { start: fn, needLeaderElection: opts.needLeaderElection ?? false };
}
