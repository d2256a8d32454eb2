import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalCel } from '../testing.ts';

const cases: { name: string; expr: string; want?: unknown; error?: string }[] = [
  { name: 'isSorted on ints', expr: '[1, 2, 3].isSorted()', want: true },
  { name: 'isSorted on strings with repeats', expr: "['a', 'b', 'b', 'c'].isSorted()", want: true },
  { name: 'isSorted false', expr: '[2.0, 1.0].isSorted()', want: false },
  { name: 'isSorted of an empty list', expr: '[].isSorted()', want: true },
  { name: 'sum of ints', expr: '[1, 3].sum()', want: 4n },
  { name: 'sum of doubles', expr: '[1.0, 3.5].sum()', want: 4.5 },
  { name: 'sum of an empty list is 0', expr: '[].sum()', want: 0n },
  { name: 'min and max', expr: '[3, 1, 2].min() == 1 && [3, 1, 2].max() == 3', want: true },
  { name: 'min of an empty list fails', expr: '[].min()', error: 'min called on empty list' },
  { name: 'max of mixed numbers compares across types', expr: '[1, 2.5].max()', want: 2.5 },
  { name: 'indexOf', expr: '[1, 2, 2, 3].indexOf(2)', want: 1n },
  { name: 'lastIndexOf', expr: "['a', 'b', 'b', 'c'].lastIndexOf('b')", want: 2n },
  { name: 'indexOf of an absent element', expr: '[1.0].indexOf(1.1)', want: -1n },
  { name: 'the strings indexOf still works', expr: "'abc'.indexOf('c')", want: 2n },
  { name: 'indexOf over objects compares by content', expr: "object.spec.containers.indexOf({'name': 'b'})", want: 1n },
  { name: 'includes on a list and on a scalar', expr: "[1, 2].includes(2) && 'model-a'.includes('model-a') && !'model-a'.includes('model-b')", want: true },
  { name: 'sets.contains', expr: 'sets.contains([1, 2, 3], [3, 1])', want: true },
  { name: 'sets.equivalent ignores order and repeats', expr: 'sets.equivalent([1, 2, 2], [2, 1])', want: true },
  { name: 'sets.intersects', expr: 'sets.intersects([1, 2], [3, 2])', want: true },
  { name: 'sorting strings and bools of different types fails', expr: "[1, 'a'].isSorted()", error: "found no matching overload for 'isSorted' applied to '(int, string)'" },
];

const vars = { object: { spec: { containers: [{ name: 'a' }, { name: 'b' }] } } };

for (const c of cases) {
  test(c.name, () => {
    const r = evalCel(c.expr, vars);
    if (c.error !== undefined) assert.equal(r.error, c.error);
    else assert.deepEqual(r.value, c.want, r.error);
  });
}
