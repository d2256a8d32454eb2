/**
 * Usage figures as metrics-server keeps and prints them: CPU in nanocores, memory in bytes, and
 * their canonical quantities (metrics-server's uint64Quantity: CPU a DecimalSI quantity at scale
 * -9, so 250000000 nanocores print "250m"; memory a BinarySI quantity of bytes, so 67108864
 * prints "64Mi" and 100000000 prints "100000000"), the window as Go's time.Duration text and the
 * timestamp as a metav1.Time (RFC 3339, seconds). Pure functions.
 */
import { canonicalQuantity } from '../api/groups/quantity-canonical.ts';
import { parseQuantity } from '../api/quantity.ts';
import { formatDuration } from '../api/duration.ts';

/** Usage of a node or container: CPU in nanocores, memory (working set) in bytes; both non-negative integers. */
export interface Usage {
  cpuNanoCores: number;
  memoryBytes: number;
}

/** A usage over `windowMs` ending at `timestampMs` (ms since the epoch). */
export interface TimedUsage {
  timestampMs: number;
  windowMs: number;
}

/** CPU nanocores as metrics-server prints them (DecimalSI, scale -9). */
export function cpuQuantity(nanoCores: number): string {
  const n = Math.max(0, Math.floor(nanoCores));
  return canonicalQuantity(`${n}n`) ?? '0';
}

/** Memory bytes as metrics-server prints them (BinarySI). */
export function memoryQuantity(bytes: number): string {
  const b = Math.max(0, Math.floor(bytes));
  // Go prints a BinarySI value below 1024 as DecimalSI, and one not a multiple of 1024 as a plain integer.
  if (b < 1024) return canonicalQuantity(String(b)) ?? '0';
  if (b % 1024 !== 0) return String(b);
  return canonicalQuantity(`${b / 1024}Ki`) ?? String(b);
}

/** The resource list of a usage: `{cpu, memory}` (Go writes a map's keys sorted). */
export function usageList(u: Usage): Record<string, string> {
  return { cpu: cpuQuantity(u.cpuNanoCores), memory: memoryQuantity(u.memoryBytes) };
}

/** A metav1.Time: RFC 3339 in UTC, whole seconds. */
export function metaTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A metav1.Duration of `ms` milliseconds (Go's time.Duration text: "15s", "15.012s", "1m0.5s"). */
export function windowText(ms: number): string {
  return formatDuration(Math.round(ms) * 1_000_000);
}

/** CPU nanocores of a quantity ("250m" → 250000000), or undefined when it is not a non-negative quantity. */
export function nanoCoresOf(q: string): number | undefined {
  const v = parseQuantity(q);
  return v === undefined || v < 0 ? undefined : Math.round(v * 1e9);
}

/** Bytes of a quantity ("64Mi" → 67108864), or undefined when it is not a non-negative quantity. */
export function bytesOf(q: string): number | undefined {
  const v = parseQuantity(q);
  return v === undefined || v < 0 ? undefined : Math.round(v);
}

/** The sum of usages. */
export function addUsage(a: Usage, b: Usage): Usage {
  return { cpuNanoCores: a.cpuNanoCores + b.cpuNanoCores, memoryBytes: a.memoryBytes + b.memoryBytes };
}
