/**
 * Go's time.Duration text (`1m30s`, `1.5ms`, `0s`), as Kubernetes prints durations in its wire
 * formats and messages, and Go's time.ParseDuration for what it reads (flags, annotations, the
 * protobuf codec). Kept apart from the protobuf codec so that light processes (the node
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

const durationUnits: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const durationPart = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/** Go's time.ParseDuration, in nanoseconds; undefined when invalid. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  let s = v;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s[0] === '-' ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  while (s !== '') {
    const m = durationPart.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * durationUnits[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}

/** Go's time.ParseDuration in milliseconds (fractions kept); undefined when invalid. */
export function parseDurationMs(v: unknown): number | undefined {
  const ns = parseDuration(v);
  return ns === undefined ? undefined : ns / 1e6;
}
