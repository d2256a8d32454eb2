import { test } from 'node:test';
import assert from 'node:assert/strict';
import { functionNamespaces, libraryFuncs } from './index.ts';

test('the libraries register the functions common policies use', () => {
  const names = new Set(libraryFuncs.map((f) => f.name));
  for (const n of ['quantity', 'isQuantity', 'isSorted', 'sum', 'indexOf', 'find', 'findAll', 'url', 'getHost', 'ip', 'cidr', 'check', 'allowed', 'sets.contains', 'lowerAscii']) {
    assert.ok(names.has(n), n);
  }
});

test('function namespaces are not taken for variables', () => {
  assert.deepEqual([...functionNamespaces].sort(), ['ip', 'sets', 'strings']);
});
