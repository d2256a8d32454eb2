/**
 * resource.Quantity: parsing and comparison of quantities such as "500m", "1.5Gi", "2e3".
 * Values are returned as numbers (exact for the magnitudes Kubernetes uses in practice);
 * `milliValue` rounds up as upstream's MilliValue does.
 */

const suffixes: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const quantityRe = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

/** The numeric value of a quantity (string or number), or undefined when it does not parse. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  if (typeof q !== 'string') return undefined;
  const m = quantityRe.exec(q.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  return base * suffixes[m[3] ?? '']!;
}

export function isValidQuantity(q: unknown): boolean {
  return parseQuantity(q) !== undefined;
}

/** Value × 1000, rounded up (upstream MilliValue). */
export function milliValue(q: unknown): number {
  const v = parseQuantity(q);
  return v === undefined ? 0 : Math.ceil(Math.round(v * 1e9) / 1e6);
}

export function compareQuantity(a: unknown, b: unknown): number {
  return (parseQuantity(a) ?? 0) - (parseQuantity(b) ?? 0);
}
