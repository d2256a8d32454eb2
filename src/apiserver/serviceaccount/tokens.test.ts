import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { keySet } from './keys.ts';
import { parseCompactJws, signCompactJws } from './jws.ts';
import { boundClaims, checkLegacyClaims, issueToken, legacyClaims, splitUsername, verifyBoundToken, verifyLegacyToken, verifyToken, type BoundClaimsInput } from './tokens.ts';
import { ecKey, issuer, now, otherRsaKey, rsaKey } from './testing.ts';

const t0 = Math.floor(now.getTime() / 1000);
const sa = { namespace: 'ns1', name: 'builder', uid: 'sa-uid-1' };

function claimsInput(edit: Partial<BoundClaimsInput> = {}): BoundClaimsInput {
  return { issuer, serviceAccount: sa, audiences: [issuer], expirationSeconds: 3600, now, jti: 'jti-1', ...edit };
}

const opts = (edit: { now?: Date; audiences?: string[]; implicitAudiences?: string[]; issuers?: string[] } = {}) => ({
  keys: keySet([rsaKey(), ecKey()]),
  issuers: edit.issuers ?? [issuer],
  implicitAudiences: edit.implicitAudiences ?? [issuer],
  audiences: edit.audiences,
  now: edit.now ?? now,
});

const decodePart = (token: string, i: number) => Buffer.from(token.split('.')[i]!, 'base64url').toString();

test('a bound token carries upstream claims, in go-jose serialization order', () => {
  const token = issueToken(rsaKey(), boundClaims(claimsInput({ pod: { name: 'web', uid: 'pod-uid-1' }, node: { name: 'node-a', uid: 'node-uid-1' } })));
  assert.equal(decodePart(token, 0), `{"alg":"RS256","kid":"${rsaKey().kid}"}`);
  assert.equal(
    decodePart(token, 1),
    `{"aud":["${issuer}"],"exp":${t0 + 3600},"iat":${t0},"iss":"${issuer}","jti":"jti-1",` +
      `"kubernetes.io":{"namespace":"ns1","node":{"name":"node-a","uid":"node-uid-1"},"pod":{"name":"web","uid":"pod-uid-1"},"serviceaccount":{"name":"builder","uid":"sa-uid-1"}},` +
      `"nbf":${t0},"sub":"system:serviceaccount:ns1:builder"}`,
  );
});

test('a node known by name only has no uid in the claim; a jti is a fresh UUID by default', () => {
  const c = boundClaims({ ...claimsInput({ pod: { name: 'web', uid: 'p' }, node: { name: 'gone' } }), jti: undefined });
  assert.deepEqual(c['kubernetes.io'].node, { name: 'gone' });
  assert.match(c.jti!, /^[0-9a-f-]{36}$/);
  assert.notEqual(boundClaims({ ...claimsInput(), jti: undefined }).jti, c.jti);
});

test('a token bound to a secret and a pod is refused as upstream refuses it', () => {
  assert.throws(() => boundClaims(claimsInput({ secret: { name: 's', uid: 'u' }, pod: { name: 'p', uid: 'u' } })), /internal error, token can only be bound to one object type/);
});

test('bound tokens round-trip with RSA and ECDSA keys', () => {
  for (const key of [rsaKey(), ecKey()]) {
    const token = issueToken(key, boundClaims(claimsInput({ secret: { name: 'tok', uid: 'secret-uid-1' } })));
    const r = verifyBoundToken(token, opts());
    assert.equal(r.status, 'verified', key.alg);
    if (r.status !== 'verified') return;
    assert.deepEqual(r.audiences, [issuer]);
    assert.deepEqual(r.claims, {
      sub: 'system:serviceaccount:ns1:builder',
      jti: 'jti-1',
      namespace: 'ns1',
      serviceAccount: { name: 'builder', uid: 'sa-uid-1' },
      secret: { name: 'tok', uid: 'secret-uid-1' },
    });
  }
});

const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
const token = () => issueToken(rsaKey(), boundClaims(claimsInput({ expirationSeconds: 600 })));
const timeCases: { name: string; token: () => string; now: Date; want: string }[] = [
  { name: 'a token within its lifetime is valid', token, now: at(599), want: 'verified' },
  { name: 'a token a minute past its expiry is still valid (the leeway)', token, now: at(659), want: 'verified' },
  { name: 'a token past its expiry and the leeway has expired', token, now: at(661), want: 'service account token has expired' },
  { name: 'a token used a minute before nbf is valid (the leeway)', token, now: at(-60), want: 'verified' },
  {
    name: 'a token used before nbf and the leeway is not valid yet',
    token,
    now: at(-61),
    want: 'service account token is not valid yet',
  },
  {
    name: 'a token issued in the future (iat) is refused',
    token: () => issueToken(rsaKey(), { ...boundClaims(claimsInput()), nbf: t0 - 3600, iat: t0 + 120 }),
    now,
    want: 'service account token is issued in the future',
  },
];
for (const c of timeCases) {
  test(c.name, () => {
    const r = verifyBoundToken(c.token(), opts({ now: c.now }));
    assert.equal(r.status === 'invalid' ? r.message : r.status, c.want);
  });
}

test('audiences must meet the requested ones (default the API audiences)', () => {
  const t = issueToken(rsaKey(), boundClaims(claimsInput({ audiences: ['vault', 'other'] })));
  const r = verifyToken(t, opts());
  assert.deepEqual(r, { status: 'invalid', message: `token audiences ["vault" "other"] is invalid for the target audiences ["${issuer}"]` });
  const asked = verifyToken(t, opts({ audiences: ['other', 'nope'] }));
  assert.equal(asked.status, 'verified');
  if (asked.status === 'verified') assert.deepEqual(asked.audiences, ['other']);
});

test('a token without aud is taken as for the API audiences', () => {
  const { aud: _aud, ...claims } = boundClaims(claimsInput());
  const r = verifyToken(signCompactJws(rsaKey(), claims), opts());
  assert.equal(r.status, 'verified');
  if (r.status === 'verified') assert.deepEqual(r.audiences, [issuer]);
  const single = verifyToken(signCompactJws(rsaKey(), { ...claims, aud: issuer }), opts());
  assert.equal(single.status, 'verified');
});

test('texts that are not JWTs, and JWTs of other issuers, are not ours', () => {
  for (const t of ['abcdef.0123456789abcdef', 'not a token', '{"a":1}.b.c', 'a.b.c', '']) assert.deepEqual(verifyToken(t, opts()), { status: 'not-ours' }, t);
  const foreign = issueToken(rsaKey(), boundClaims(claimsInput({ issuer: 'https://accounts.example.com' })));
  assert.deepEqual(verifyToken(foreign, opts()), { status: 'not-ours' });
  assert.equal(verifyToken(foreign, opts({ issuers: [issuer, 'https://accounts.example.com'] })).status, 'verified');
});

test('a tampered payload or a signature by an unknown key is invalid', () => {
  const t = issueToken(rsaKey(), boundClaims(claimsInput()));
  const [h, p, s] = t.split('.') as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
  payload['kubernetes.io'].serviceaccount.name = 'admin';
  const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  assert.deepEqual(verifyToken(tampered, opts()), { status: 'invalid', message: 'square/go-jose: error in cryptographic primitive' });
  const unknown = issueToken(otherRsaKey(), boundClaims(claimsInput()));
  assert.deepEqual(verifyToken(unknown, opts()), { status: 'invalid', message: 'invalid signature, no keys found' });
  const forged = `${h}.${unknown.split('.')[1]}.${unknown.split('.')[2]}`;
  assert.equal(verifyToken(forged, opts()).status, 'invalid');
});

test('a token without kid is checked against every key', () => {
  const h = Buffer.from('{"alg":"ES256"}').toString('base64url');
  const p = Buffer.from(JSON.stringify(boundClaims(claimsInput()))).toString('base64url');
  const sig = sign('sha256', Buffer.from(`${h}.${p}`), { key: ecKey().privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  assert.equal(parseCompactJws(`${h}.${p}.${sig}`)!.header.kid, undefined);
  assert.equal(verifyToken(`${h}.${p}.${sig}`, opts()).status, 'verified');
  const other = sign('sha256', Buffer.from(`${h}.${p}`), { key: otherRsaKey().privateKey }).toString('base64url');
  assert.deepEqual(verifyToken(`${h}.${p}.${other}`, opts()), { status: 'invalid', message: 'square/go-jose: error in cryptographic primitive' });
});

test('the algorithm must fit the key (an HS256 or none header never verifies)', () => {
  const t = issueToken(rsaKey(), boundClaims(claimsInput()));
  const [, p, s] = t.split('.');
  for (const alg of ['HS256', 'none', 'ES256', 'RS999']) {
    const h = Buffer.from(JSON.stringify({ alg, kid: rsaKey().kid })).toString('base64url');
    assert.equal(verifyToken(`${h}.${p}.${s}`, opts()).status, 'invalid', alg);
  }
});

test('legacy tokens carry the flat claims and verify against the legacy issuer only', () => {
  const claims = legacyClaims(sa, 'builder-token-abc');
  const t = issueToken(rsaKey(), claims);
  assert.equal(
    decodePart(t, 1),
    '{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"ns1","kubernetes.io/serviceaccount/secret.name":"builder-token-abc",' +
      '"kubernetes.io/serviceaccount/service-account.name":"builder","kubernetes.io/serviceaccount/service-account.uid":"sa-uid-1","sub":"system:serviceaccount:ns1:builder"}',
  );
  const r = verifyLegacyToken(t, opts());
  assert.deepEqual(r, {
    status: 'verified',
    claims: { namespace: 'ns1', secretName: 'builder-token-abc', serviceAccountName: 'builder', serviceAccountUID: 'sa-uid-1' },
    audiences: [issuer],
  });
  assert.deepEqual(verifyBoundToken(t, opts()), { status: 'not-ours' });
});

const legacyCases: { name: string; edit: Record<string, unknown>; want: string }[] = [
  { name: 'no sub', edit: { sub: undefined }, want: 'sub claim is missing' },
  { name: 'no namespace', edit: { 'kubernetes.io/serviceaccount/namespace': '' }, want: 'namespace claim is missing' },
  { name: 'no secret name', edit: { 'kubernetes.io/serviceaccount/secret.name': undefined }, want: 'secretName claim is missing' },
  { name: 'no service account name', edit: { 'kubernetes.io/serviceaccount/service-account.name': '' }, want: 'serviceAccountName claim is missing' },
  { name: 'no service account uid', edit: { 'kubernetes.io/serviceaccount/service-account.uid': '' }, want: 'serviceAccountUID claim is missing' },
  { name: 'a sub of another account', edit: { sub: 'system:serviceaccount:ns1:other' }, want: 'sub claim is invalid' },
  { name: 'a sub that is no service account', edit: { sub: 'system:admin' }, want: 'sub claim is invalid' },
];
for (const c of legacyCases) {
  test(`a legacy token with ${c.name} is refused`, () => {
    const r = checkLegacyClaims({ ...legacyClaims(sa, 's'), ...c.edit });
    assert.deepEqual(r, { ok: false, message: c.want });
  });
}

test('service-account usernames split as upstream SplitUsername', () => {
  assert.deepEqual(splitUsername('system:serviceaccount:kube-system:default'), { namespace: 'kube-system', name: 'default' });
  assert.deepEqual(splitUsername('system:serviceaccount:ns:a.b'), { namespace: 'ns', name: 'a.b' });
  for (const u of ['system:serviceaccount:ns', 'system:serviceaccount:ns:a:b', 'system:serviceaccount:Ns:a', 'system:serviceaccount:a.b:c', 'system:node:n']) {
    assert.equal(splitUsername(u), undefined, u);
  }
});
