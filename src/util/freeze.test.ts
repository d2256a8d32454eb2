import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyJson, deepFreeze, jsonCopy } from './freeze.ts';

test('jsonCopy gives what a JSON round trip gives, as a new object', () => {
  const when = new Date(0);
  const v = { a: 1, b: undefined, c: [1, undefined, () => 1, NaN], d: { e: 'x', f: null, g: Infinity }, h: () => 2, t: when, n: -0 };
  const copy = jsonCopy(v);
  assert.deepEqual(copy, JSON.parse(JSON.stringify(v)));
  assert.notEqual(copy.d, v.d);
  const frozen = deepFreeze({ m: { k: ['v'] } });
  const thawed = jsonCopy(frozen);
  assert.equal(Object.isFrozen(thawed.m.k), false);
  thawed.m.k.push('w');
  assert.deepEqual(frozen.m.k, ['v']);
});

test('copyJson keeps undefined properties; deepFreeze freezes every level', () => {
  const copy = copyJson({ a: undefined, b: [{ c: 1 }] });
  assert.ok('a' in copy);
  const f = deepFreeze(copy);
  assert.ok(Object.isFrozen(f.b[0]));
});

test('copies keep the key __proto__ as an own property, as JSON.parse does', () => {
  const src = JSON.parse('{"a":{"__proto__":{"polluted":true},"b":1}}');
  for (const copy of [copyJson(src), jsonCopy(src)]) {
    assert.equal(JSON.stringify(copy), JSON.stringify(src));
    assert.equal(Object.getPrototypeOf(copy.a), Object.prototype);
    assert.equal(copy.a.polluted, undefined);
    assert.deepEqual(Object.keys(copy.a), ['__proto__', 'b']);
  }
});
