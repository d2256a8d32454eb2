import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticateBootstrapToken, bearerToken, bootstrapTokenAuthenticator, bootstrapTokenSecret, caHash, formatNodeToken, generateBootstrapToken, parseBootstrapToken, parseNodeToken, type SecretLike } from './bootstrap.ts';

const token = { id: 'abcdef', secret: '0123456789abcdef' };
const now = new Date('2026-01-01T00:00:00Z');

function secret(edit: (data: Record<string, string>, s: SecretLike) => void = () => {}): SecretLike {
  const s = bootstrapTokenSecret(token, { groups: ['system:bootstrappers:bosun:default-node-token'] }) as unknown as SecretLike;
  const data = Object.fromEntries(Object.entries(s.data!).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  edit(data, s);
  s.data = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return s;
}

const auth = (tok: string, s: SecretLike | undefined) =>
  authenticateBootstrapToken(tok, { getSecret: (name) => (name === 'bootstrap-token-abcdef' ? s : undefined), now: () => now });

test('a valid token authenticates as system:bootstrap:<id> with the bootstrappers and extra groups', async () => {
  assert.deepEqual(await auth('abcdef.0123456789abcdef', secret()), {
    username: 'system:bootstrap:abcdef',
    groups: ['system:bootstrappers', 'system:bootstrappers:bosun:default-node-token', 'system:authenticated'],
  });
});

const refused: { name: string; token: string; secret: SecretLike | undefined }[] = [
  { name: 'a wrong secret', token: 'abcdef.0123456789abcdee', secret: secret() },
  { name: 'an unknown token id', token: 'zzzzzz.0123456789abcdef', secret: secret() },
  { name: 'a malformed token (upper case)', token: 'ABCDEF.0123456789abcdef', secret: secret() },
  { name: 'a malformed token (short secret)', token: 'abcdef.0123', secret: secret() },
  { name: 'an expired token', token: 'abcdef.0123456789abcdef', secret: secret((d) => (d['expiration'] = '2025-12-31T23:59:59Z')) },
  { name: 'an unparsable expiration', token: 'abcdef.0123456789abcdef', secret: secret((d) => (d['expiration'] = 'tomorrow')) },
  { name: 'a token not for authentication', token: 'abcdef.0123456789abcdef', secret: secret((d) => delete d['usage-bootstrap-authentication']) },
  { name: 'a Secret of another type', token: 'abcdef.0123456789abcdef', secret: secret((_d, s) => (s.type = 'Opaque')) },
  { name: 'a Secret being deleted', token: 'abcdef.0123456789abcdef', secret: secret((_d, s) => (s.metadata = { deletionTimestamp: '2025-01-01T00:00:00Z' })) },
  { name: 'a Secret whose token-id differs', token: 'abcdef.0123456789abcdef', secret: secret((d) => (d['token-id'] = 'abcdeg')) },
  { name: 'an extra group outside system:bootstrappers:', token: 'abcdef.0123456789abcdef', secret: secret((d) => (d['auth-extra-groups'] = 'system:masters')) },
];
for (const c of refused) {
  test(`${c.name} is refused`, async () => assert.equal(await auth(c.token, c.secret), null));
}

test('an expiration in the future is accepted', async () => {
  assert.ok(await auth('abcdef.0123456789abcdef', secret((d) => (d['expiration'] = '2026-01-02T00:00:00Z'))));
});

test('the authenticator reads the bearer token of the Authorization header only', async () => {
  const a = bootstrapTokenAuthenticator({ getSecret: () => secret(), now: () => now });
  assert.equal((await a.authenticate({ socket: undefined, headers: { authorization: 'Bearer abcdef.0123456789abcdef' } }))?.username, 'system:bootstrap:abcdef');
  assert.equal(await a.authenticate({ socket: undefined, headers: { authorization: 'Basic abcdef.0123456789abcdef' } }), null);
  assert.equal(await a.authenticate({ socket: undefined, headers: {} }), null);
  assert.equal(bearerToken('bearer  x.y '), 'x.y');
  assert.equal(bearerToken('Bearer'), undefined);
});

test('generated tokens have the upstream shape', () => {
  for (let i = 0; i < 20; i++) {
    const t = generateBootstrapToken();
    assert.deepEqual(parseBootstrapToken(`${t.id}.${t.secret}`), t);
  }
});

test('node tokens round-trip and pin the CA bundle', () => {
  const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const text = formatNodeToken(ca, token);
  assert.match(text, /^K10[0-9a-f]{64}::abcdef\.0123456789abcdef$/);
  assert.deepEqual(parseNodeToken(`${text}\n`), { caHash: caHash(ca), token });
});

const badNodeTokens: { name: string; text: string; error: RegExp }[] = [
  { name: 'a bare bootstrap token', text: 'abcdef.0123456789abcdef', error: /no CA hash/ },
  { name: 'k3s username:password credentials', text: `K10${'a'.repeat(64)}::server:secret`, error: /username:password tokens are not supported/ },
  { name: 'a short CA hash', text: 'K10abc::abcdef.0123456789abcdef', error: /malformed token/ },
  { name: 'a malformed bootstrap part', text: `K10${'a'.repeat(64)}::abcdef`, error: /<token-id>\.<token-secret>/ },
];
for (const c of badNodeTokens) {
  test(`parseNodeToken refuses ${c.name}`, () => assert.throws(() => parseNodeToken(c.text), c.error));
}
