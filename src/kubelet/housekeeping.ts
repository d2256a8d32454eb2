/**
 * The node agent's housekeeping period: how often it renews its Lease, reads memory, disk and PID
 * pressure and makes one eviction pass. Upstream's kubelet does these every 10 s (the Lease's
 * renew interval, the eviction manager's monitoring interval); so does Bosun's agent.
 *
 * `BOSUN_NODE_HOUSEKEEPING_SECONDS` is for tests only (read once when the agent starts, as
 * BOSUN_METRIC_RESOLUTION is): a shorter period, so that an end-to-end test of eviction does not
 * wait 10 s per pass. The code path is the same; unset, nothing changes.
 */
import { BosunError } from '../util/errors.ts';

/** Housekeeping (Lease, pressure, one eviction pass) every 10 s, as upstream's kubelet. */
export const housekeepingMs = 10_000;
/** The variable that shortens `housekeepingMs` for tests. */
export const housekeepingEnv = 'BOSUN_NODE_HOUSEKEEPING_SECONDS';

/**
 * The housekeeping period `BOSUN_NODE_HOUSEKEEPING_SECONDS` asks for, in ms; `housekeepingMs`
 * when unset or empty. Testing only. Throws ERR_INVALID_CONFIG unless a whole number from 1 to 10.
 */
export function housekeepingFromEnv(env: Record<string, string | undefined>): number {
  const v = env[housekeepingEnv];
  if (v === undefined || v === '') return housekeepingMs;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 10) throw new BosunError('ERR_INVALID_CONFIG', `${housekeepingEnv} must be a whole number of seconds from 1 to 10: ${JSON.stringify(v)}`);
  return Number(v) * 1000;
}
