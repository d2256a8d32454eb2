import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateJsonFields } from './duplicates.ts';

const cases: { name: string; text: string; want: string[] }[] = [
  { name: 'an object without repeats has none', text: '{"a":1,"b":{"c":[1,2]}}', want: [] },
  { name: 'a repeated top-level key is reported once per repeat', text: '{"a":1,"a":2,"a":3}', want: ['a', 'a'] },
  { name: 'a repeat inside a nested object carries its path', text: '{"spec":{"paused":true,"paused":false}}', want: ['spec.paused'] },
  {
    name: 'a repeat inside a list element names the index',
    text: '{"spec":{"containers":[{"name":"a"},{"name":"b","image":"x","image":"y"}]}}',
    want: ['spec.containers[1].image'],
  },
  { name: 'equal keys in sibling objects are not repeats', text: '[{"a":1},{"a":2}]', want: [] },
  { name: 'escaped keys are compared decoded', text: '{"a\\u0062":1,"ab":2}', want: ['ab'] },
  { name: 'strings with braces and quotes do not confuse the scan', text: '{"a":"{\\"b\\":1,\\"b\\":2}","c":"]"}', want: [] },
  { name: 'whitespace and scalars of every kind are skipped', text: ' { "a" : true , "b" : null , "c" : -1.5e3 , "a" : false } ', want: ['a'] },
  { name: 'a text without objects has none', text: '[1,2,"x"]', want: [] },
  {
    name: 'repeats in a wide object (past the small-object list) and after nested containers',
    text: `{"m":{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')},"k3":0,"k39":0},"l":[[{"x":1,"x":2}]],"m":1}`,
    want: ['m.k3', 'm.k39', 'l[0][0].x', 'm'],
  },
];

for (const c of cases) {
  test(c.name, () => assert.deepEqual(duplicateJsonFields(c.text), c.want));
}

test('nesting 100,000 deep is scanned without exhausting the stack', () => {
  const depth = 100_000;
  const text = `${'{"a":'.repeat(depth)}{"k":1,"k":2}${'}'.repeat(depth)}`;
  const found = duplicateJsonFields(text);
  assert.equal(found.length, 1);
  assert.equal(found[0], `${'a.'.repeat(depth)}k`);
  const arrays = `{"x":${'['.repeat(depth)}{"k":1,"k":2}${']'.repeat(depth)}}`;
  assert.deepEqual(duplicateJsonFields(arrays), [`x${'[0]'.repeat(depth)}.k`]);
});
