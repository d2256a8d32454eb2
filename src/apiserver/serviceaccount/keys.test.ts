import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { keyId, keySet, loadOrCreateSigningKey, parsePublicKeysPem, parseSigningKeyPem, publicJwk, readPublicKeysFile, readSigningKeyFile, signingKeyFileName } from './keys.ts';
import { ecKey, rsaKey } from './testing.ts';
import { createCertificate } from '../../pki/x509.ts';

// Upstream's jwt_test.go vectors: a public key and the kid keyIDFromPublicKey gives it.
const upstreamRsaPublicKey = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA249XwEo9k4tM8fMxV7zx
OhcrP+WvXn917koM5Qr2ZXs4vo26e4ytdlrV0bQ9SlcLpQVSYjIxNfhTZdDt+ecI
zshKuv1gKIxbbLQMOuK1eA/4HALyEkFgmS/tleLJrhc65tKPMGD+pKQ/xhmzRuCG
51RoiMgbQxaCyYxGfNLpLAZK9L0Tctv9a0mJmGIYnIOQM4kC1A1I1n3EsXMWmeJU
j7OTh/AjjCnMnkgvKT2tpKxYQ59PgDgU8Ssc7RDSmSkLxnrv+OrN80j6xrw0OjEi
B4Ycr0PqfzZcvy8efTtFQ/Jnc4Bp1zUtFXt7+QeevePtQ2EcyELXE0i63T1CujRM
WwIDAQAB
-----END PUBLIC KEY-----
`;
const upstreamRsaKeyId = 'JHJehTTTZlsspKHT-GaJxK7Kd1NQgZJu3fyK6K_QDYU';
const upstreamEcdsaPublicKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEH6cuzP8XuD5wal6wf9M6xDljTOPL
X2i8uIp/C/ASqiIGUeeKQtX0/IR3qCXyThP/dbCiHrF3v1cuhBOHY8CLVg==
-----END PUBLIC KEY-----`;
const upstreamEcdsaKeyId = 'SoABiieYuNx4UdqYvZRVeuC6SihxgLrhLy9peHMHpTc';

async function tmpDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'bosun-sakeys-'));
}

test('the key id is upstream keyIDFromPublicKey (sha256 of the PKIX DER, base64url)', () => {
  assert.equal(keyId(createPublicKey(upstreamRsaPublicKey)), upstreamRsaKeyId);
  assert.equal(keyId(createPublicKey(upstreamEcdsaPublicKey)), upstreamEcdsaKeyId);
  const [k] = parsePublicKeysPem(upstreamEcdsaPublicKey);
  assert.equal(k!.kid, upstreamEcdsaKeyId);
  assert.equal(k!.alg, 'ES256');
});

test('the signing key is created once: RSA 2048, PKCS#8 PEM, mode 0600, directory 0700', async () => {
  const dir = path.join(await tmpDir(), 'tls');
  const a = await loadOrCreateSigningKey(dir);
  const file = path.join(dir, signingKeyFileName);
  const text = await fs.readFile(file, 'utf8');
  assert.match(text, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
  assert.equal(a.alg, 'RS256');
  assert.equal(a.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
  const b = await loadOrCreateSigningKey(dir);
  assert.equal(b.kid, a.kid);
  assert.equal(await fs.readFile(file, 'utf8'), text);
  assert.deepEqual((await fs.readdir(dir)).sort(), [signingKeyFileName]);
});

test('concurrent first calls end up with one key', async () => {
  const dir = await tmpDir();
  const keys = await Promise.all([loadOrCreateSigningKey(dir), loadOrCreateSigningKey(dir), loadOrCreateSigningKey(dir)]);
  assert.equal(new Set(keys.map((k) => k.kid)).size, 1);
  assert.deepEqual(await fs.readdir(dir), [signingKeyFileName]);
});

test('an existing key file without a private key is an error and is left alone', async () => {
  const dir = await tmpDir();
  const file = path.join(dir, signingKeyFileName);
  await fs.writeFile(file, upstreamRsaPublicKey);
  await assert.rejects(loadOrCreateSigningKey(dir), /data does not contain a valid RSA or ECDSA private key/);
  assert.equal(await fs.readFile(file, 'utf8'), upstreamRsaPublicKey);
});

test('private keys parse from PKCS#1, PKCS#8 and SEC1 blocks, skipping other blocks', () => {
  const r = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const e = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const pkcs1 = r.export({ type: 'pkcs1', format: 'pem' }) as string;
  const sec1 = e.export({ type: 'sec1', format: 'pem' }) as string;
  assert.equal(parseSigningKeyPem(pkcs1).alg, 'RS256');
  assert.equal(parseSigningKeyPem(`-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n${sec1}`).alg, 'ES384');
  const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  assert.throws(() => parseSigningKeyPem(ed), /data does not contain a valid RSA or ECDSA private key/);
});

test('public key files take public keys, private keys and certificates, in order', async () => {
  const rsa = rsaKey();
  const ec = ecKey();
  const cert = await createCertificate({ kind: 'ca', subject: { commonName: 'sa' }, notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000) });
  const certKid = keyId(createPublicKey(cert.keyPem));
  const pem = [
    cert.certPem,
    rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }),
    '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n',
    ec.key.export({ type: 'spki', format: 'pem' }),
    upstreamRsaPublicKey,
  ].join('');
  assert.deepEqual(parsePublicKeysPem(pem).map((k) => k.kid), [certKid, rsa.kid, ec.kid, upstreamRsaKeyId]);
  assert.throws(() => parsePublicKeysPem('no keys here'), /data does not contain any valid RSA or ECDSA public keys/);
});

test('key file errors are worded as kube-apiserver words them', async () => {
  const dir = await tmpDir();
  await assert.rejects(readPublicKeysFile(path.join(dir, 'missing.pub')), /^Error: error reading public key file .*missing\.pub: /);
  await fs.writeFile(path.join(dir, 'k.pub'), upstreamRsaPublicKey);
  await assert.rejects(readSigningKeyFile(path.join(dir, 'k.pub')), /failed to parse service-account-issuer-key-file: data does not contain a valid RSA or ECDSA private key/);
  assert.equal((await readPublicKeysFile(path.join(dir, 'k.pub')))[0]!.kid, upstreamRsaKeyId);
});

test('the public JWK has upstream fields in go-jose order', () => {
  const rsa = publicJwk(parsePublicKeysPem(upstreamRsaPublicKey)[0]!);
  assert.deepEqual(Object.keys(rsa), ['use', 'kty', 'kid', 'alg', 'n', 'e']);
  assert.equal(rsa.kid, upstreamRsaKeyId);
  assert.equal(rsa.e, 'AQAB');
  const ec = publicJwk(parsePublicKeysPem(upstreamEcdsaPublicKey)[0]!);
  assert.deepEqual(Object.keys(ec), ['use', 'kty', 'kid', 'crv', 'alg', 'x', 'y']);
  assert.equal(ec.crv, 'P-256');
});

test('a key set answers the keys of a kid, or all keys for no kid', () => {
  const set = keySet([rsaKey(), ecKey()]);
  assert.deepEqual(set.get(rsaKey().kid).map((k) => k.kid), [rsaKey().kid]);
  assert.deepEqual(set.get('unknown'), []);
  assert.equal(set.get('').length, 2);
});
