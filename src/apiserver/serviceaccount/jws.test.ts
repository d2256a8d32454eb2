import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, sign } from 'node:crypto';
import { parseCompactJws, signCompactJws, verifyJwsSignature } from './jws.ts';
import { ecKey, rsaKey } from './testing.ts';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

const notJws: { name: string; token: string }[] = [
  { name: 'a JSON serialization', token: ' {"payload":"x"}' },
  { name: 'two parts', token: `${b64({ alg: 'RS256' })}.${b64({ iss: 'a' })}` },
  { name: 'four parts', token: `${b64({ alg: 'RS256' })}.${b64({ iss: 'a' })}.c.d` },
  { name: 'padded base64', token: `${b64({ alg: 'RS256' })}.${b64({ iss: 'a' })}==.c` },
  { name: 'standard base64 characters', token: `${b64({ alg: 'RS256' })}.${b64({ iss: 'a' })}.a+b/` },
  { name: 'a payload that is no object', token: `${b64({ alg: 'RS256' })}.${b64([1])}.c` },
  { name: 'a header without alg', token: `${b64({ kid: 'k' })}.${b64({ iss: 'a' })}.c` },
  { name: 'a crit header', token: `${b64({ alg: 'RS256', crit: ['exp'] })}.${b64({ iss: 'a' })}.c` },
  { name: 'a non-string kid', token: `${b64({ alg: 'RS256', kid: 1 })}.${b64({ iss: 'a' })}.c` },
];
for (const c of notJws) {
  test(`${c.name} is not a compact JWS`, () => assert.equal(parseCompactJws(c.token), undefined));
}

test('signing then parsing gives the header, payload and signed input', () => {
  const t = signCompactJws(rsaKey(), { iss: 'a', n: 1 });
  const j = parseCompactJws(t)!;
  assert.deepEqual(j.header, { alg: 'RS256', kid: rsaKey().kid });
  assert.deepEqual(j.payload, { iss: 'a', n: 1 });
  assert.equal(j.signingInput, t.split('.').slice(0, 2).join('.'));
  assert.ok(verifyJwsSignature(j, rsaKey()));
  assert.ok(!verifyJwsSignature(j, ecKey()));
});

test('ES256 signatures are r||s and verify with the key of their curve only', () => {
  const j = parseCompactJws(signCompactJws(ecKey(), { iss: 'a' }))!;
  assert.equal(j.signature.length, 64);
  assert.ok(verifyJwsSignature(j, ecKey()));
  assert.ok(!verifyJwsSignature({ ...j, header: { ...j.header, alg: 'ES384' } }, ecKey()));
});

test('RSA keys also verify RS384/512 and PS256 signatures, as go-jose does', () => {
  const input = `${b64({ alg: 'PS256' })}.${b64({ iss: 'a' })}`;
  const ps = sign('sha256', Buffer.from(input), { key: rsaKey().privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  assert.ok(verifyJwsSignature(parseCompactJws(`${input}.${ps.toString('base64url')}`)!, rsaKey()));
  const input2 = `${b64({ alg: 'RS512' })}.${b64({ iss: 'a' })}`;
  const rs = sign('sha512', Buffer.from(input2), rsaKey().privateKey);
  assert.ok(verifyJwsSignature(parseCompactJws(`${input2}.${rs.toString('base64url')}`)!, rsaKey()));
});

test('a signature found valid is remembered per key, and only with the same signature and algorithm', () => {
  const t = signCompactJws(rsaKey(), { iss: 'memo', n: 2 });
  const j = parseCompactJws(t)!;
  assert.ok(verifyJwsSignature(j, rsaKey()));
  assert.ok(verifyJwsSignature(parseCompactJws(t)!, rsaKey()), 'again');
  const forged = Buffer.from(j.signature);
  forged[0] = forged[0]! ^ 1;
  assert.ok(!verifyJwsSignature({ ...j, signature: forged }, rsaKey()), 'another signature over the same input');
  assert.ok(!verifyJwsSignature({ ...j, header: { ...j.header, alg: 'PS256' } }, rsaKey()), 'another algorithm');
  assert.ok(!verifyJwsSignature(j, ecKey()), 'another key');
});
