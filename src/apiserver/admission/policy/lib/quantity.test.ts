import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalCel } from '../testing.ts';
import { parseQuantity } from './quantity.ts';

const cases: { name: string; expr: string; want?: unknown; error?: string }[] = [
  { name: 'quantities compare across suffixes', expr: "quantity('200M').compareTo(quantity('0.2G'))", want: 0n },
  { name: 'binary suffixes are larger than decimal ones', expr: "quantity('50Mi').compareTo(quantity('50M'))", want: 1n },
  { name: 'isGreaterThan', expr: "quantity('150Mi').isGreaterThan(quantity('100Mi'))", want: true },
  { name: 'isLessThan', expr: "quantity('50M').isLessThan(quantity('100M'))", want: true },
  { name: 'add of quantities', expr: "quantity('50k').add(quantity('20k')) == quantity('70k')", want: true },
  { name: 'add and sub of ints', expr: "quantity('50k').add(20).sub(quantity('100k')).sub(-50000) == quantity('20')", want: true },
  { name: 'sub of an int', expr: "quantity('50k').sub(20000) == quantity('30k')", want: true },
  { name: 'mul by an int', expr: "quantity('1.5Gi').mul(2) == quantity('3Gi')", want: true },
  { name: 'equality is by value', expr: "quantity('1') == quantity('1000m')", want: true },
  { name: 'different values are not equal', expr: "quantity('1') == quantity('2')", want: false },
  { name: 'asInteger', expr: "quantity('50k').asInteger()", want: 50000n },
  { name: 'isInteger of a big whole value', expr: "quantity('50000000G').isInteger()", want: true },
  { name: 'isInteger beyond int64', expr: "quantity('9999999999999999999999999999999999999G').isInteger()", want: false },
  { name: 'asInteger beyond int64 fails', expr: "quantity('9999999999999999999999999999999999999G').asInteger()", error: 'cannot convert value to integer' },
  { name: 'a fraction is not an integer', expr: "quantity('500m').isInteger()", want: false },
  { name: 'asApproximateFloat', expr: "quantity('50k').sub(20000).asApproximateFloat()", want: 30000 },
  { name: 'sign as a method and a function', expr: "quantity('-1').sign() == -1 && sign(quantity('0')) == 0", want: true },
  { name: 'isQuantity accepts upstream forms', expr: "isQuantity('1.3G') && isQuantity('1.3Gi') && isQuantity('10000k') && isQuantity('1e3')", want: true },
  { name: 'isQuantity refuses bad forms', expr: "isQuantity('1,3G') || isQuantity('200K') || isQuantity('Three') || isQuantity('Mi')", want: false },
  { name: 'a bad suffix is upstream’s error', expr: "quantity('200K')", error: "unable to parse quantity's suffix" },
  { name: 'a bad format is upstream’s error', expr: "quantity('Three')", error: "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'" },
  { name: 'a method on another type has no overload', expr: "'x'.isGreaterThan(quantity('1'))", error: "found no matching overload for 'isGreaterThan' applied to 'string'" },
];

for (const c of cases) {
  test(c.name, () => {
    const r = evalCel(c.expr);
    if (c.error !== undefined) assert.equal(r.error, c.error);
    else assert.deepEqual(r, { value: c.want, type: typeof c.want === 'bigint' ? 'int' : typeof c.want === 'number' ? 'double' : 'bool' });
  });
}

test('values finer than a nano round up to one nano', () => {
  assert.equal(parseQuantity('0.0000000001').key(), parseQuantity('1n').key());
});

test('binary suffixes are exact', () => {
  assert.equal(parseQuantity('1Ki').asInt64(), 1024n);
  assert.equal(parseQuantity('1.5Gi').asInt64(), 1610612736n);
});
