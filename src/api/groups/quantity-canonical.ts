/**
 * The canonical form of a resource.Quantity, as Go prints one after decoding it: the number
 * kept exactly (BigInt arithmetic, no floats), the original format (decimal SI suffix, binary SI
 * suffix or decimal exponent) kept, and the largest exponent that leaves an integer mantissa
 * chosen ("1000m" → "1", "0.5" → "500m", "1024Mi" → "1Gi", "1.5Gi" → "1536Mi", "2000" → "2k").
 * Binary values below 1024 or with a fraction are printed as decimal SI, as upstream does.
 *
 * `roundUpToMilli` is upstream's SetDefaults_ResourceList: values finer than 1m are rounded up
 * (away from zero) to the next milli unit before printing.
 *
 * Pure functions. A value that does not parse comes back unchanged (undefined from
 * `canonicalQuantity`), so validation reports it.
 */

type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

interface Exact {
  /** value = mantissa × 10^exp10 */
  mantissa: bigint;
  exp10: number;
  format: Format;
}

const decimalSuffixes: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const binarySuffixes: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const decimalByExponent: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };
const binaryByPower = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

const quantityRe = /^([+-]?)(\d*)(?:\.(\d*))?(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

function parseExact(q: unknown): Exact | undefined {
  let s: string;
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) return undefined;
    s = String(q);
  } else if (typeof q === 'string') s = q.trim();
  else return undefined;
  const m = quantityRe.exec(s);
  if (!m) return undefined;
  const [, sign, whole = '', frac = '', exponent, suffix] = m;
  if (!whole && !frac) return undefined;
  let mantissa = BigInt((whole || '0') + frac);
  if (sign === '-') mantissa = -mantissa;
  let exp10 = -frac.length;
  let format: Format = 'DecimalSI';
  if (exponent) {
    exp10 += Number(exponent.slice(1));
    format = 'DecimalExponent';
  } else if (suffix && suffix in binarySuffixes) {
    mantissa *= 1024n ** BigInt(binarySuffixes[suffix]!);
    format = 'BinarySI';
  } else {
    exp10 += decimalSuffixes[suffix ?? '']!;
  }
  return { mantissa, exp10, format };
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Integer division rounding away from zero. */
function divAwayFromZero(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b === 0n ? q : a < 0n ? q - 1n : q + 1n;
}

function canonicalOf(x: Exact): string {
  let { mantissa, exp10 } = x;
  if (mantissa === 0n) return '0';
  let format = x.format;
  if (format === 'BinarySI') {
    // the integer value, when there is one
    let integer: bigint | undefined;
    if (exp10 >= 0) integer = mantissa * pow10(exp10);
    else if (mantissa % pow10(-exp10) === 0n) integer = mantissa / pow10(-exp10);
    if (integer === undefined || (integer > -1024n && integer < 1024n)) format = 'DecimalSI';
    else {
      let power = 0;
      while (power < 6 && integer % 1024n === 0n) {
        integer /= 1024n;
        power++;
      }
      return `${integer}${binaryByPower[power]}`;
    }
  }
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exp10++;
  }
  const rem = ((exp10 % 3) + 3) % 3;
  if (rem !== 0) {
    mantissa *= pow10(rem);
    exp10 -= rem;
  }
  if (format === 'DecimalExponent') return exp10 === 0 ? `${mantissa}` : `${mantissa}e${exp10}`;
  const suffix = decimalByExponent[exp10];
  return suffix === undefined ? `${mantissa}e${exp10}` : `${mantissa}${suffix}`;
}

/** The canonical string of a quantity, or undefined when it does not parse. */
export function canonicalQuantity(q: unknown): string | undefined {
  const x = parseExact(q);
  return x ? canonicalOf(x) : undefined;
}

/** Rounds up to milli precision (upstream RoundUp(-3)), then canonicalizes; undefined when it does not parse. */
export function roundUpToMilli(q: unknown): string | undefined {
  const x = parseExact(q);
  if (!x) return undefined;
  if (x.exp10 < -3) {
    x.mantissa = divAwayFromZero(x.mantissa, pow10(-3 - x.exp10));
    x.exp10 = -3;
  }
  return canonicalOf(x);
}

/** SetDefaults_ResourceList: every parseable quantity of a resource list, rounded and canonical (in place). */
export function canonicalResourceList(list: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(list)) {
    const c = roundUpToMilli(v);
    if (c !== undefined) list[k] = c;
  }
}
