import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resources } from './certificates.ts';
import { make } from './core-testing.ts';

const csrs = resources[0]!;

test('a CSR create records the authenticated requester, whatever the body says', () => {
  const o = make(csrs, { spec: { request: 'cmVx', signerName: 'example.com/s', username: 'mallory', groups: ['system:masters'], uid: 'x' } });
  csrs.prepareForCreate!(o, { user: { username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { scopes: ['a'] } } });
  assert.deepEqual(o.spec, { request: 'cmVx', signerName: 'example.com/s', username: 'alice', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { scopes: ['a'] } });
});

test('a CSR update keeps the spec (and so the requester) as created', () => {
  const old = make(csrs, { spec: { request: 'cmVx', signerName: 'example.com/s', username: 'alice' } });
  const next = structuredClone(old);
  next.spec.username = 'mallory';
  csrs.prepareForUpdate!(next, old);
  assert.equal(next.spec.username, 'alice');
});
