/**
 * The Kubernetes CEL lists library and cel-go's sets extension, as upstream's
 * apiserver/pkg/cel/library/lists.go and cel-go ext/sets.go:
 * - `<list>.isSorted()`, `<list>.sum()` (ints, uints or doubles; 0 for an empty list),
 *   `<list>.min()` / `<list>.max()` (`min called on empty list`), `<list>.indexOf(x)`,
 *   `<list>.lastIndexOf(x)` (-1 when absent), `<dyn>.includes(x)`;
 * - `sets.contains(a, b)`, `sets.equivalent(a, b)`, `sets.intersects(a, b)`.
 * Elements compare as cel-go does (values.ts). Durations are not summed.
 */
import { CelScalar, celFunc, celMethod, isCelList, isCelUint, celUint, listType, type CelFunc, type CelList } from '@bufbuild/cel';
import { compareValues, equalValues } from './values.ts';

const D = CelScalar.DYN;
const LIST = listType(D);

function extreme(list: CelList, fn: 'min' | 'max'): unknown {
  let best: unknown;
  let first = true;
  for (const v of list) {
    if (first) {
      best = v;
      first = false;
      continue;
    }
    const c = compareValues(best, v, fn);
    if ((fn === 'min' && c === 1) || (fn === 'max' && c === -1)) best = v;
  }
  if (first) throw new Error(`${fn} called on empty list`);
  return best;
}

function sum(list: CelList): unknown {
  let kind: 'int' | 'uint' | 'double' | undefined;
  let i = 0n;
  let d = 0;
  for (const v of list) {
    const k = typeof v === 'bigint' ? 'int' : typeof v === 'number' ? 'double' : isCelUint(v) ? 'uint' : undefined;
    if (!k || (kind && kind !== k)) throw new Error(`found no matching overload for 'sum' applied to 'list'`);
    kind = k;
    if (k === 'double') d += v as number;
    else i += k === 'uint' ? (v as { value: bigint }).value : (v as bigint);
  }
  if (kind === 'double') return d;
  if (kind === 'uint') return celUint(i);
  return i;
}

function contains(list: CelList, x: unknown): boolean {
  for (const v of list) if (equalValues(v, x)) return true;
  return false;
}

export const listFuncs: CelFunc[] = [
  celMethod('isSorted', LIST, [], CelScalar.BOOL, function (this: CelList) {
    let prev: unknown;
    let first = true;
    for (const v of this) {
      if (!first && compareValues(prev, v, 'isSorted') === 1) return false;
      prev = v;
      first = false;
    }
    return true;
  }),
  celMethod('sum', LIST, [], D, function (this: CelList) {
    return sum(this) as never;
  }),
  celMethod('min', LIST, [], D, function (this: CelList) {
    return extreme(this, 'min') as never;
  }),
  celMethod('max', LIST, [], D, function (this: CelList) {
    return extreme(this, 'max') as never;
  }),
  celMethod('indexOf', LIST, [D], CelScalar.INT, function (this: CelList, x: unknown) {
    for (let i = 0; i < this.size; i++) if (equalValues(this.get(i), x)) return BigInt(i);
    return -1n;
  }),
  celMethod('lastIndexOf', LIST, [D], CelScalar.INT, function (this: CelList, x: unknown) {
    for (let i = this.size - 1; i >= 0; i--) if (equalValues(this.get(i), x)) return BigInt(i);
    return -1n;
  }),
  celMethod('includes', D, [D], CelScalar.BOOL, function (this: unknown, x: unknown) {
    return isCelList(this) ? contains(this, x) : equalValues(this, x);
  }),
  celFunc('sets.contains', [LIST, LIST], CelScalar.BOOL, (a: CelList, b: CelList) => {
    for (const v of b) if (!contains(a, v)) return false;
    return true;
  }),
  celFunc('sets.equivalent', [LIST, LIST], CelScalar.BOOL, (a: CelList, b: CelList) => {
    for (const v of b) if (!contains(a, v)) return false;
    for (const v of a) if (!contains(b, v)) return false;
    return true;
  }),
  celFunc('sets.intersects', [LIST, LIST], CelScalar.BOOL, (a: CelList, b: CelList) => {
    for (const v of b) if (contains(a, v)) return true;
    return false;
  }),
];
