import { test } from 'node:test';
import assert from 'node:assert/strict';
import { celList, celUint } from '@bufbuild/cel';
import { evalCel } from '../testing.ts';
import { parseQuantity } from './quantity.ts';
import { compareValues, equalValues } from './values.ts';

const cases = [
  { name: 'ints and doubles compare by value', a: 1n, b: 1.5, cmp: -1, eq: false },
  { name: 'uints and ints are equal by value', a: celUint(3n), b: 3n, cmp: 0, eq: true },
  { name: 'strings compare by code point', a: 'b', b: 'a', cmp: 1, eq: false },
  { name: 'false orders before true', a: false, b: true, cmp: -1, eq: false },
  { name: 'bytes compare lexically', a: new Uint8Array([1, 2]), b: new Uint8Array([1, 2, 0]), cmp: -1, eq: false },
  { name: 'opaque values are equal by key', a: parseQuantity('1'), b: parseQuantity('1000m'), cmp: undefined, eq: true },
  { name: 'lists are equal by content', a: celList([1n, 'a']), b: celList([1.0, 'a']), cmp: undefined, eq: true },
];

for (const c of cases) {
  test(c.name, () => {
    if (c.cmp !== undefined) assert.equal(compareValues(c.a, c.b), c.cmp);
    assert.equal(equalValues(c.a, c.b), c.eq);
  });
}

test('values of different types do not order', () => {
  assert.throws(() => compareValues('a', 1n, 'min'), /no matching overload for 'min' applied to '\(string, int\)'/);
});

test('timestamps and durations order', () => {
  assert.equal(evalCel("[timestamp('2021-01-01T00:00:00Z'), timestamp('2020-01-01T00:00:00Z')].min() == timestamp('2020-01-01T00:00:00Z')").value, true);
  assert.equal(evalCel("[duration('1h'), duration('1m')].isSorted()").value, false);
});
