import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openIdMetadata, openIdMetadataResponse } from './discovery.ts';
import { ecKey, issuer, rsaKey } from './testing.ts';

test('the discovery document: issuer, jwks_uri from the external address, upstream constants', () => {
  const m = openIdMetadata({ issuer, externalAddress: '10.0.0.5:6443', keys: [rsaKey()] });
  assert.equal(
    m.configJson,
    `{"issuer":"${issuer}","jwks_uri":"https://10.0.0.5:6443/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"]}`,
  );
});

test('an explicit jwks_uri wins; the algorithms are every key algorithm, sorted and once', () => {
  const m = openIdMetadata({ issuer, jwksUri: 'https://example.com/keys', externalAddress: '[fd00::1]:6443', keys: [rsaKey(), ecKey(), rsaKey()] });
  const doc = JSON.parse(m.configJson);
  assert.equal(doc.jwks_uri, 'https://example.com/keys');
  assert.deepEqual(doc.id_token_signing_alg_values_supported, ['ES256', 'RS256']);
  assert.equal(JSON.parse(openIdMetadata({ issuer, externalAddress: '[fd00::1]:6443', keys: [rsaKey()] }).configJson).jwks_uri, 'https://[fd00::1]:6443/openid/v1/jwks');
});

test('the JWKS lists every key as a public signing JWK', () => {
  const m = openIdMetadata({ issuer, externalAddress: 'h:6443', keys: [rsaKey(), ecKey()] });
  const jwks = JSON.parse(m.keysetJson) as { keys: Record<string, string>[] };
  assert.deepEqual(Object.keys(jwks), ['keys']);
  assert.deepEqual(jwks.keys.map((k) => Object.keys(k)), [
    ['use', 'kty', 'kid', 'alg', 'n', 'e'],
    ['use', 'kty', 'kid', 'crv', 'alg', 'x', 'y'],
  ]);
  assert.deepEqual(jwks.keys.map((k) => [k['use'], k['kty'], k['kid'], k['alg']]), [
    ['sig', 'RSA', rsaKey().kid, 'RS256'],
    ['sig', 'EC', ecKey().kid, 'ES256'],
  ]);
  assert.ok(jwks.keys.every((k) => k['d'] === undefined), 'no private parts');
});

test('responses carry upstream content types and cache headers, on the exact paths only', () => {
  const m = openIdMetadata({ issuer, externalAddress: 'h:6443', keys: [rsaKey()] });
  assert.deepEqual(openIdMetadataResponse(m, '/.well-known/openid-configuration'), {
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' },
    body: m.configJson,
  });
  assert.deepEqual(openIdMetadataResponse(m, '/openid/v1/jwks'), {
    headers: { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=3600' },
    body: m.keysetJson,
  });
  assert.equal(openIdMetadataResponse(m, '/openid/v1/jwks/'), undefined);
  assert.equal(openIdMetadataResponse(m, '/openid/v1'), undefined);
});

const refusals: { name: string; opts: Parameters<typeof openIdMetadata>[0]; want: string }[] = [
  { name: 'an empty issuer', opts: { issuer: '', externalAddress: 'h:1', keys: [] }, want: 'empty issuer URL' },
  { name: 'no jwks URI nor external address', opts: { issuer, keys: [] }, want: 'either the JWKS URI or the default external address, or both, must be set' },
  { name: 'a non-URL issuer', opts: { issuer: 'kubernetes/serviceaccount', externalAddress: 'h:1', keys: [] }, want: 'issuer URL must use https scheme, got: kubernetes/serviceaccount' },
  { name: 'an http issuer', opts: { issuer: 'http://a.example', externalAddress: 'h:1', keys: [] }, want: 'issuer URL must use https scheme, got: http://a.example' },
  { name: 'an issuer with a query', opts: { issuer: 'https://a.example/?x=1', externalAddress: 'h:1', keys: [] }, want: 'issuer URL may not include a query, got: https://a.example/?x=1' },
  { name: 'an issuer with a fragment', opts: { issuer: 'https://a.example/#f', externalAddress: 'h:1', keys: [] }, want: 'issuer URL may not include a fragment, got: https://a.example/#f' },
  { name: 'an http jwks URI', opts: { issuer, jwksUri: 'http://a.example/keys', keys: [] }, want: 'jwksURI requires https scheme, parsed as: http://a.example/keys' },
  { name: 'no keys', opts: { issuer, externalAddress: 'h:1', keys: [] }, want: 'no keys provided for validating keyset' },
];
for (const c of refusals) {
  test(`discovery is refused for ${c.name}`, () => {
    assert.throws(() => openIdMetadata(c.opts), { message: c.want });
  });
}

test('an external address that makes no URL is refused', () => {
  assert.throws(() => openIdMetadata({ issuer, externalAddress: 'https://h:1', keys: [rsaKey()] }), /^Error: attempted to build jwks_uri from external address https:\/\/h:1, but could not construct a valid URL/);
});
