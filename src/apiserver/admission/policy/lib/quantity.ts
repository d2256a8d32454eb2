/**
 * The Kubernetes CEL quantity library, as upstream's apiserver/pkg/cel/library/quantity.go:
 * `quantity(s)`, `isQuantity(s)`, and on a Quantity `isInteger()`, `asInteger()`,
 * `asApproximateFloat()`, `sign()` (also `sign(q)`), `add`, `sub` (a Quantity or an int),
 * `mul(int)`, `compareTo`, `isGreaterThan`, `isLessThan`.
 *
 * Values are exact decimals (a bigint times a power of ten), so binary suffixes and sums stay
 * exact, as resource.Quantity's arithmetic; parsing follows resource.ParseQuantity's grammar and
 * messages (`quantities must match the regular expression '…'`, `unable to parse quantity's
 * suffix`), and values finer than a nano are rounded up to one as upstream does. `asInteger`
 * succeeds for any whole value within int64 (upstream also refuses some whole values written
 * with a fractional scale, e.g. `1000m`). `div` and `divInt` (newer upstream) are not provided.
 */
import { CelScalar, celFunc, celMethod, type CelFunc } from '@bufbuild/cel';
import { Opaque, noSuchOverload, opaqueOf } from './opaque.ts';

const splitRe = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
const formatError = `quantities must match the regular expression '${splitRe}'`;
const numberRe = /^([+-]?)(\d*)(?:\.(\d*))?([eEinumkKMGTP]*[-+]?[0-9]*)$/;

const binary: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const decimal: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const int64Max = (1n << 63n) - 1n;
const int64Min = -(1n << 63n);

/** An exact decimal: `m × 10^e`, normalised (no trailing zeros in m; zero is 0e0). */
export class Quantity extends Opaque {
  readonly typeName = 'kubernetes.Quantity';
  readonly m: bigint;
  readonly e: number;
  constructor(m: bigint, e: number) {
    super();
    if (m === 0n) e = 0;
    while (m !== 0n && m % 10n === 0n) {
      m /= 10n;
      e++;
    }
    this.m = m;
    this.e = e;
  }
  override key(): string {
    return `${this.m}e${this.e}`;
  }
  /** The integer value, or undefined when it is fractional or outside int64. */
  asInt64(): bigint | undefined {
    if (this.e < 0) return undefined;
    if (this.e > 19) return undefined;
    const v = this.m * 10n ** BigInt(this.e);
    return v < int64Min || v > int64Max ? undefined : v;
  }
  sign(): bigint {
    return this.m > 0n ? 1n : this.m < 0n ? -1n : 0n;
  }
  toNumber(): number {
    return Number(`${this.m}e${this.e}`);
  }
  compare(o: Quantity): number {
    const [a, b] = align(this, o);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  plus(o: Quantity): Quantity {
    const [a, b, e] = align(this, o);
    return new Quantity(a + b, e);
  }
  times(n: bigint): Quantity {
    return new Quantity(this.m * n, this.e);
  }
}

/** Both mantissas at the smaller exponent, and that exponent. */
function align(x: Quantity, y: Quantity): [bigint, bigint, number] {
  const e = Math.min(x.e, y.e);
  return [x.m * 10n ** BigInt(x.e - e), y.m * 10n ** BigInt(y.e - e), e];
}

/** resource.ParseQuantity; throws with upstream's message. */
export function parseQuantity(s: string): Quantity {
  if (s.length === 0) throw new Error(formatError);
  const match = numberRe.exec(s);
  if (!match || !new RegExp(splitRe).test(s)) throw new Error(formatError);
  const [, sign, whole = '', frac = '', suffix = ''] = match;
  if (whole === '' && frac === '') throw new Error(formatError);
  let exp: number;
  let pow2 = 0;
  if (suffix in binary) {
    exp = 0;
    pow2 = binary[suffix]! * 10;
  } else if (suffix in decimal) {
    exp = decimal[suffix]!;
  } else if (/^[eE][-+]?\d+$/.test(suffix)) {
    exp = Number(suffix.slice(1));
    if (!Number.isSafeInteger(exp)) throw new Error("unable to parse quantity's suffix");
  } else {
    throw new Error("unable to parse quantity's suffix");
  }
  let m = BigInt(`${whole}${frac}` || '0') * 2n ** BigInt(pow2);
  let e = exp - frac.length;
  // Upstream keeps nothing finer than a nano: smaller values are rounded up (away from zero).
  if (e < -9) {
    const div = 10n ** BigInt(-9 - e);
    const q = m / div;
    m = q * div === m ? q : q + 1n;
    e = -9;
  }
  return new Quantity(sign === '-' ? -m : m, e);
}

const D = CelScalar.DYN;
const q = (fn: string, v: unknown) => opaqueOf(Quantity, fn, v);

/** A Quantity or an int operand (add, sub). */
function operand(fn: string, v: unknown, self: Quantity): Quantity {
  if (v instanceof Quantity) return v;
  if (typeof v === 'bigint') return new Quantity(v, 0);
  throw noSuchOverload(fn, self);
}

export const quantityFuncs: CelFunc[] = [
  celFunc('quantity', [CelScalar.STRING], D, (s: string) => parseQuantity(s) as never),
  celFunc('isQuantity', [CelScalar.STRING], CelScalar.BOOL, (s: string) => {
    try {
      parseQuantity(s);
      return true;
    } catch {
      return false;
    }
  }),
  celFunc('sign', [D], CelScalar.INT, (v: unknown) => q('sign', v).sign()),
  celMethod('sign', D, [], CelScalar.INT, function (this: unknown) {
    return q('sign', this).sign();
  }),
  celMethod('isInteger', D, [], CelScalar.BOOL, function (this: unknown) {
    return q('isInteger', this).asInt64() !== undefined;
  }),
  celMethod('asInteger', D, [], CelScalar.INT, function (this: unknown) {
    const v = q('asInteger', this).asInt64();
    if (v === undefined) throw new Error('cannot convert value to integer');
    return v;
  }),
  celMethod('asApproximateFloat', D, [], CelScalar.DOUBLE, function (this: unknown) {
    return q('asApproximateFloat', this).toNumber();
  }),
  celMethod('compareTo', D, [D], CelScalar.INT, function (this: unknown, o: unknown) {
    return BigInt(q('compareTo', this).compare(q('compareTo', o)));
  }),
  celMethod('isGreaterThan', D, [D], CelScalar.BOOL, function (this: unknown, o: unknown) {
    return q('isGreaterThan', this).compare(q('isGreaterThan', o)) === 1;
  }),
  celMethod('isLessThan', D, [D], CelScalar.BOOL, function (this: unknown, o: unknown) {
    return q('isLessThan', this).compare(q('isLessThan', o)) === -1;
  }),
  celMethod('add', D, [D], D, function (this: unknown, o: unknown) {
    const self = q('add', this);
    return self.plus(operand('add', o, self)) as never;
  }),
  celMethod('sub', D, [D], D, function (this: unknown, o: unknown) {
    const self = q('sub', this);
    return self.plus(operand('sub', o, self).times(-1n)) as never;
  }),
  celMethod('mul', D, [CelScalar.INT], D, function (this: unknown, n: bigint) {
    return q('mul', this).times(n) as never;
  }),
];
