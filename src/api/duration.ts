/**
 * Go's time.Duration text (`1m30s`, `1.5ms`, `0s`), as Kubernetes prints durations in its wire
 * formats and messages. Kept apart from the protobuf codec so that light processes (the node
 * agent) can use it without loading the codec.
 */

/** Go's time.Duration.String() of a number of nanoseconds. */
export function formatDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const sign = nanos < 0 ? '-' : '';
  let u = Math.abs(nanos);
  if (u < 1e9) {
    if (u < 1e3) return `${sign}${u}ns`;
    if (u < 1e6) return `${sign}${trimFraction(u, 3)}µs`;
    return `${sign}${trimFraction(u, 6)}ms`;
  }
  let out = `${trimFraction(u % 60e9, 9)}s`;
  u = Math.floor(u / 60e9);
  if (u > 0) {
    out = `${u % 60}m${out}`;
    u = Math.floor(u / 60);
    if (u > 0) out = `${u}h${out}`;
  }
  return sign + out;
}

/** `v / 10^digits` printed with the fraction's trailing zeros removed. */
function trimFraction(v: number, digits: number): string {
  const scale = 10 ** digits;
  const whole = Math.floor(v / scale);
  const frac = String(v % scale).padStart(digits, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : String(whole);
}
