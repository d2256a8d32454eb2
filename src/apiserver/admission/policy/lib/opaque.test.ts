import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCelMap } from '@bufbuild/cel';
import { evalCel } from '../testing.ts';
import { Opaque, opaqueOf, typeNameOf } from './opaque.ts';

class Thing extends Opaque {
  readonly typeName = 'test.Thing';
}

test('an opaque value passes through CEL as a map with one entry', () => {
  const t = new Thing();
  assert.equal(isCelMap(t), true);
  assert.deepEqual([...t.entries()], [['test.Thing', t.key()]]);
  assert.equal(t.has('test.Thing'), true);
  assert.equal(t.get('other'), undefined);
});

test('distinct opaque values are not equal by default; one is equal to itself', () => {
  const a = new Thing();
  const b = new Thing();
  assert.notEqual(a.key(), b.key());
  assert.equal(evalCel('authorizer == authorizer', { authorizer: a }).value, true);
});

test('opaqueOf refuses another receiver with cel-go’s wording', () => {
  assert.throws(() => opaqueOf(Thing, 'frob', 'str'), { message: "found no matching overload for 'frob' applied to 'string'" });
  const t = new Thing();
  assert.equal(opaqueOf(Thing, 'frob', t), t);
});

test('type names for messages', () => {
  assert.deepEqual([1n, 1.5, 'a', true, null, new Thing()].map(typeNameOf), ['int', 'double', 'string', 'bool', 'null_type', 'test.Thing']);
});
