/**
 * Equality and ordering of CEL values for the Kubernetes libraries (lists' indexOf, min, max,
 * isSorted, sets), as cel-go's Equal and Compare traits: numbers compare across int, uint and
 * double; strings, bools, bytes, timestamps and durations within their type; lists and maps by
 * content; opaque values by their canonical key. A pair with no ordering is an error worded as
 * cel-go's no-such-overload.
 */
import { isCelList, isCelMap, isCelUint, type CelList, type CelMap } from '@bufbuild/cel';
import { Opaque, typeNameOf } from './opaque.ts';

type Num = bigint | number;

function asNumber(v: unknown): Num | undefined {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  if (isCelUint(v)) return v.value;
  return undefined;
}

/** Seconds and nanos of a google.protobuf.Timestamp or Duration value. */
function asTime(v: unknown): { kind: string; seconds: bigint; nanos: number } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as { desc?: { typeName?: string }; message?: { seconds?: bigint; nanos?: number } };
  const t = r.desc?.typeName;
  if ((t === 'google.protobuf.Timestamp' || t === 'google.protobuf.Duration') && r.message) {
    return { kind: t, seconds: BigInt(r.message.seconds ?? 0n), nanos: r.message.nanos ?? 0 };
  }
  return undefined;
}

function compareNumbers(a: Num, b: Num): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const x = Number(a);
  const y = Number(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.NaN;
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Code point order, as Go compares strings (byte-wise UTF-8 gives the same order). */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** -1, 0 or 1; throws for values of types that do not order against each other. */
export function compareValues(a: unknown, b: unknown, fn = 'compare'): number {
  const na = asNumber(a);
  const nb = asNumber(b);
  if (na !== undefined && nb !== undefined) return compareNumbers(na, nb);
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b);
  const ta = asTime(a);
  const tb = asTime(b);
  if (ta && tb && ta.kind === tb.kind) {
    if (ta.seconds !== tb.seconds) return ta.seconds < tb.seconds ? -1 : 1;
    return ta.nanos === tb.nanos ? 0 : ta.nanos < tb.nanos ? -1 : 1;
  }
  throw new Error(`found no matching overload for '${fn}' applied to '(${typeNameOf(a)}, ${typeNameOf(b)})'`);
}

/** CEL equality (heterogeneous numbers equal by value; other types only with their own type). */
export function equalValues(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const na = asNumber(a);
  const nb = asNumber(b);
  if (na !== undefined || nb !== undefined) return na !== undefined && nb !== undefined && compareNumbers(na, nb) === 0;
  if (a instanceof Opaque || b instanceof Opaque) {
    return a instanceof Opaque && b instanceof Opaque && a.typeName === b.typeName && a.key() === b.key();
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b) === 0;
  if (isCelList(a)) return isCelList(b) && equalLists(a, b);
  if (isCelMap(a)) return isCelMap(b) && equalMaps(a, b);
  const ta = asTime(a);
  const tb = asTime(b);
  if (ta && tb) return ta.kind === tb.kind && ta.seconds === tb.seconds && ta.nanos === tb.nanos;
  return false;
}

function equalLists(a: CelList, b: CelList): boolean {
  if (a.size !== b.size) return false;
  for (let i = 0; i < a.size; i++) if (!equalValues(a.get(i), b.get(i))) return false;
  return true;
}

function equalMaps(a: CelMap, b: CelMap): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !equalValues(v, w)) return false;
  }
  return true;
}
