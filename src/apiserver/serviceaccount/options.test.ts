import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCode } from '../../util/errors.ts';
import { defaultServiceAccountIssuer, loadServiceAccountConfig, validateServiceAccountFlags } from './options.ts';
import { ecKey, rsaKey } from './testing.ts';

const tmpDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'bosun-saopts-'));

test('the default issuer is k3s: https://kubernetes.default.svc.<cluster domain>', () => {
  assert.equal(defaultServiceAccountIssuer(), 'https://kubernetes.default.svc.cluster.local');
  assert.equal(defaultServiceAccountIssuer('corp.internal'), 'https://kubernetes.default.svc.corp.internal');
});

const flagCases: { name: string; flags: Parameters<typeof validateServiceAccountFlags>[0]; want: string[] }[] = [
  { name: 'no flags', flags: {}, want: [] },
  { name: 'URL and non-URL issuers', flags: { issuers: ['https://a.example', 'api', 'urn:k8s:issuer'] }, want: [] },
  { name: 'an empty issuer', flags: { issuers: [''] }, want: ['service-account-issuer should not be an empty string'] },
  { name: 'a repeated issuer', flags: { issuers: ['api', 'api'] }, want: ['service-account-issuer "api" is already specified'] },
  { name: 'a colon issuer that is no URL', flags: { issuers: ['a b:c'] }, want: ['service-account-issuer "a b:c" contained a \':\' but was not a valid URL'] },
  { name: 'a max expiration under an hour', flags: { maxTokenExpirationSeconds: 3599 }, want: ['the service-account-max-token-expiration must be between 1 hour and 2^32 seconds'] },
  { name: 'a max expiration over 2^32 seconds', flags: { maxTokenExpirationSeconds: 2 ** 32 + 1 }, want: ['the service-account-max-token-expiration must be between 1 hour and 2^32 seconds'] },
  { name: 'the max expiration bounds', flags: { maxTokenExpirationSeconds: 3600 }, want: [] },
];
for (const c of flagCases) {
  test(`flags: ${c.name}`, () => assert.deepEqual(validateServiceAccountFlags(c.flags), c.want));
}

test('defaults: the k3s issuer, audiences = issuers, a generated key that also verifies', async () => {
  const dir = await tmpDir();
  const c = await loadServiceAccountConfig({}, { keyDir: dir });
  assert.deepEqual(c.issuers, ['https://kubernetes.default.svc.cluster.local']);
  assert.deepEqual(c.apiAudiences, c.issuers);
  assert.equal(c.maxExpirationSeconds, 0);
  assert.deepEqual(c.keys.all.map((k) => k.kid), [c.signingKey.kid]);
  assert.equal((c.publicKeys[0] as { privateKey?: unknown }).privateKey, undefined);
  assert.equal((await loadServiceAccountConfig({}, { keyDir: dir })).signingKey.kid, c.signingKey.kid);
});

test('flags: signing key file, key files, audiences, issuers', async () => {
  const dir = await tmpDir();
  const signing = path.join(dir, 'sign.key');
  const pubs = path.join(dir, 'pubs.pem');
  await fs.writeFile(signing, rsaKey().privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  await fs.writeFile(pubs, `${rsaKey().key.export({ type: 'spki', format: 'pem' })}${ecKey().key.export({ type: 'spki', format: 'pem' })}`);
  const c = await loadServiceAccountConfig(
    { issuers: ['https://a.example', 'https://b.example'], apiAudiences: ['api'], signingKeyFile: signing, keyFiles: [pubs], maxTokenExpirationSeconds: 7200, jwksUri: 'https://a.example/jwks' },
    { keyDir: path.join(dir, 'unused') },
  );
  assert.deepEqual(c.issuers, ['https://a.example', 'https://b.example']);
  assert.deepEqual(c.apiAudiences, ['api']);
  assert.equal(c.signingKey.kid, rsaKey().kid);
  assert.deepEqual(c.keys.all.map((k) => k.kid), [rsaKey().kid, ecKey().kid]);
  assert.equal(c.maxExpirationSeconds, 7200);
  assert.equal(c.jwksUri, 'https://a.example/jwks');
  await assert.rejects(fs.stat(path.join(dir, 'unused')), { code: 'ENOENT' });
});

test('bad flags and unreadable key files are ERR_INVALID_CONFIG', async () => {
  const dir = await tmpDir();
  await assert.rejects(loadServiceAccountConfig({ issuers: ['', 'a', 'a'] }, { keyDir: dir }), (err) => {
    assert.ok(isCode(err, 'ERR_INVALID_CONFIG'));
    assert.equal((err as Error).message, 'service-account-issuer should not be an empty string; service-account-issuer "a" is already specified');
    return true;
  });
  await assert.rejects(loadServiceAccountConfig({ keyFiles: [path.join(dir, 'none.pem')] }, { keyDir: dir }), (err) => isCode(err, 'ERR_INVALID_CONFIG') && /error reading public key file/.test((err as Error).message));
});
