import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStatusError } from '../../api/errors.ts';
import type { Secret } from '../../api/index.ts';
import { keySet } from './keys.ts';
import { authenticateServiceAccountToken, serviceAccountAuthenticator, type ServiceAccountAuthenticatorOptions } from './authenticator.ts';
import { boundClaims, issueToken, legacyClaims, type BoundClaimsInput } from './tokens.ts';
import { fakeObjects, issuer, node, now, pod, rsaKey, secret, serviceAccount, type FakeObjects } from './testing.ts';

function world(): FakeObjects {
  return fakeObjects({ serviceAccounts: [serviceAccount()], pods: [pod('web', { nodeName: 'node-a' })], secrets: [secret('tok')], nodes: [node('node-a')] });
}

function options(w: FakeObjects, edit: Partial<ServiceAccountAuthenticatorOptions> = {}): ServiceAccountAuthenticatorOptions {
  return { keys: keySet([rsaKey()]), issuers: [issuer], apiAudiences: [issuer], lookups: w.lookups, now: () => now, ...edit };
}

function bound(edit: Partial<BoundClaimsInput> = {}): string {
  return issueToken(rsaKey(), boundClaims({ issuer, serviceAccount: { namespace: 'ns1', name: 'builder', uid: 'sa-uid-1' }, audiences: [issuer], expirationSeconds: 3600, now, jti: 'jti-1', ...edit }));
}

const podToken = () => bound({ pod: { name: 'web', uid: 'pod-uid-1' }, node: { name: 'node-a', uid: 'node-uid-1' } });
const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();

test('a pod-bound token authenticates as the service account with upstream groups and extra', async () => {
  const r = await authenticateServiceAccountToken(podToken(), options(world()));
  assert.deepEqual(r, {
    status: 'authenticated',
    audiences: [issuer],
    user: {
      username: 'system:serviceaccount:ns1:builder',
      uid: 'sa-uid-1',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated'],
      extra: {
        'authentication.kubernetes.io/credential-id': ['JTI=jti-1'],
        'authentication.kubernetes.io/node-name': ['node-a'],
        'authentication.kubernetes.io/node-uid': ['node-uid-1'],
        'authentication.kubernetes.io/pod-name': ['web'],
        'authentication.kubernetes.io/pod-uid': ['pod-uid-1'],
      },
    },
  });
  assert.deepEqual(Object.keys((r as { user: { extra: object } }).user.extra), [
    'authentication.kubernetes.io/credential-id',
    'authentication.kubernetes.io/node-name',
    'authentication.kubernetes.io/node-uid',
    'authentication.kubernetes.io/pod-name',
    'authentication.kubernetes.io/pod-uid',
  ]);
});

test('a token bound to the service account only has the credential id alone as extra', async () => {
  const r = await authenticateServiceAccountToken(bound(), options(world()));
  assert.equal(r.status, 'authenticated');
  if (r.status === 'authenticated') assert.deepEqual(r.user.extra, { 'authentication.kubernetes.io/credential-id': ['JTI=jti-1'] });
});

const boundCases: { name: string; token: () => string; edit: (w: FakeObjects) => void; want: string }[] = [
  { name: 'its pod is deleted', token: podToken, edit: (w) => w.pods.clear(), want: 'service account token has been invalidated' },
  {
    name: 'its pod was recreated',
    token: podToken,
    edit: (w) => w.pods.set('ns1/web', pod('web', { uid: 'pod-uid-2' })),
    want: 'pod UID (pod-uid-2) does not match service account pod ref claim (pod-uid-1)',
  },
  {
    name: 'its pod was deleted longer ago than the leeway',
    token: podToken,
    edit: (w) => w.pods.set('ns1/web', pod('web', { deletionTimestamp: ago(61) })),
    want: 'service account token has been invalidated',
  },
  { name: 'its service account is gone', token: bound, edit: (w) => w.serviceAccounts.clear(), want: 'serviceaccounts "builder" not found' },
  {
    name: 'its service account was recreated',
    token: bound,
    edit: (w) => w.serviceAccounts.set('ns1/builder', serviceAccount('builder', 'ns1', 'sa-uid-2')),
    want: 'service account UID (sa-uid-2) does not match claim (sa-uid-1)',
  },
  {
    name: 'its service account was deleted longer ago than the leeway',
    token: bound,
    edit: (w) => (w.serviceAccounts.get('ns1/builder')!.metadata.deletionTimestamp = ago(120)),
    want: 'service account ns1/builder has been deleted',
  },
  { name: 'its secret is gone', token: () => bound({ secret: { name: 'tok', uid: 'secret-uid-1' } }), edit: (w) => w.secrets.clear(), want: 'service account token has been invalidated' },
  {
    name: 'its secret was recreated',
    token: () => bound({ secret: { name: 'tok', uid: 'secret-uid-1' } }),
    edit: (w) => w.secrets.set('ns1/tok', secret('tok', { uid: 'secret-uid-9' })),
    want: 'secret UID (secret-uid-9) does not match service account secret ref claim (secret-uid-1)',
  },
  { name: 'its node is gone', token: () => bound({ node: { name: 'node-a', uid: 'node-uid-1' } }), edit: (w) => w.nodes.clear(), want: 'service account token has been invalidated' },
  {
    name: 'its node was recreated',
    token: () => bound({ node: { name: 'node-a', uid: 'node-uid-1' } }),
    edit: (w) => w.nodes.set('/node-a', node('node-a', 'node-uid-2')),
    want: 'node UID (node-uid-2) does not match service account node ref claim (node-uid-1)',
  },
  {
    name: 'it has expired',
    token: () => issueToken(rsaKey(), boundClaims({ issuer, serviceAccount: { namespace: 'ns1', name: 'builder', uid: 'sa-uid-1' }, audiences: [issuer], expirationSeconds: 600, now: new Date(now.getTime() - 3600_000) })),
    edit: () => {},
    want: 'service account token has expired',
  },
];
for (const c of boundCases) {
  test(`a bound token is refused when ${c.name}`, async () => {
    const w = world();
    c.edit(w);
    assert.deepEqual(await authenticateServiceAccountToken(c.token(), options(w)), { status: 'invalid', message: c.want });
  });
}

test('a pod being deleted gracefully (deletionTimestamp ahead) still authenticates; the pod node is not looked up', async () => {
  const w = world();
  w.pods.set('ns1/web', pod('web', { deletionTimestamp: new Date(now.getTime() + 30_000).toISOString() }));
  w.nodes.clear();
  assert.equal((await authenticateServiceAccountToken(podToken(), options(w))).status, 'authenticated');
});

test('lookups that throw make the token invalid, with the error message for the service account', async () => {
  const w = world();
  w.lookups.getServiceAccount = () => {
    throw new Error('serviceaccounts "builder" not found');
  };
  assert.deepEqual(await authenticateServiceAccountToken(bound(), options(w)), { status: 'invalid', message: 'serviceaccounts "builder" not found' });
});

function legacyWorld(edit: (s: Secret) => void = () => {}): { w: FakeObjects; token: string } {
  const token = issueToken(rsaKey(), legacyClaims({ namespace: 'ns1', name: 'builder', uid: 'sa-uid-1' }, 'builder-token'));
  const s = secret('builder-token', { token });
  edit(s);
  return { w: fakeObjects({ serviceAccounts: [serviceAccount()], secrets: [s] }), token };
}

test('a legacy token held by its Secret authenticates, without extra', async () => {
  const { w, token } = legacyWorld();
  assert.deepEqual(await authenticateServiceAccountToken(token, options(w)), {
    status: 'authenticated',
    audiences: [issuer],
    user: { username: 'system:serviceaccount:ns1:builder', uid: 'sa-uid-1', groups: ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated'] },
  });
});

const legacyCases: { name: string; edit: (w: FakeObjects) => void; want: string }[] = [
  { name: 'its Secret is gone', edit: (w) => w.secrets.clear(), want: 'Token has been invalidated' },
  { name: 'its Secret is being deleted', edit: (w) => (w.secrets.get('ns1/builder-token')!.metadata.deletionTimestamp = now.toISOString()), want: 'Token has been invalidated' },
  { name: 'its Secret holds another token', edit: (w) => (w.secrets.get('ns1/builder-token')!.data = { token: Buffer.from('x.y.z').toString('base64') }), want: "Token does not match server's copy" },
  { name: 'its service account is gone', edit: (w) => w.serviceAccounts.clear(), want: 'serviceaccounts "builder" not found' },
  { name: 'its service account is being deleted', edit: (w) => (w.serviceAccounts.get('ns1/builder')!.metadata.deletionTimestamp = now.toISOString()), want: 'ServiceAccount ns1/builder has been deleted' },
  {
    name: 'its service account was recreated',
    edit: (w) => w.serviceAccounts.set('ns1/builder', serviceAccount('builder', 'ns1', 'sa-uid-2')),
    want: 'ServiceAccount UID (sa-uid-2) does not match claim (sa-uid-1)',
  },
  {
    name: 'its Secret is marked invalid',
    edit: (w) => (w.secrets.get('ns1/builder-token')!.metadata.labels = { 'kubernetes.io/legacy-token-invalid-since': '2026-01-01' }),
    want: "the token in secret ns1/builder-token for service account ns1/builder has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label from the secret to temporarily allow use of this token",
  },
];
for (const c of legacyCases) {
  test(`a legacy token is refused when ${c.name}`, async () => {
    const { w, token } = legacyWorld();
    c.edit(w);
    assert.deepEqual(await authenticateServiceAccountToken(token, options(w)), { status: 'invalid', message: c.want });
  });
}

test('legacy tokens are refused when legacy is off (not ours)', async () => {
  const { w, token } = legacyWorld();
  assert.deepEqual(await authenticateServiceAccountToken(token, options(w, { legacy: false })), { status: 'not-ours' });
});

test('legacy token use is reported unless the Secret was labelled today or tomorrow', async () => {
  for (const [label, want] of [[undefined, 1], ['2026-02-27', 1], ['2026-03-01', 0], ['2026-03-02', 0]] as const) {
    const { w, token } = legacyWorld((s) => {
      if (label) s.metadata.labels = { 'kubernetes.io/legacy-token-last-used': label };
    });
    const calls: string[] = [];
    await authenticateServiceAccountToken(token, options(w, { onLegacyTokenUsed: (s, today) => calls.push(`${s.metadata.name} ${today}`) }));
    assert.deepEqual(calls, want ? ['builder-token 2026-03-01'] : [], String(label));
  }
});

test('the request authenticator: null for no bearer, non-JWTs and other issuers; 401 for our failing tokens', async () => {
  const w = world();
  const a = serviceAccountAuthenticator(options(w));
  const req = (authorization?: string) => ({ socket: undefined, headers: authorization ? { authorization } : {} });
  assert.equal(await a.authenticate(req()), null);
  assert.equal(await a.authenticate(req('Basic dXNlcjpwYXNz')), null);
  assert.equal(await a.authenticate(req('Bearer abcdef.0123456789abcdef')), null);
  assert.equal(await a.authenticate(req(`Bearer ${bound({ issuer: 'https://other.example' })}`)), null);
  assert.equal((await a.authenticate(req(`Bearer ${podToken()}`)))?.username, 'system:serviceaccount:ns1:builder');
  w.pods.clear();
  await assert.rejects(Promise.resolve(a.authenticate(req(`Bearer ${podToken()}`))), (err: unknown) => {
    assert.ok(isStatusError(err));
    assert.equal(err.code, 401);
    assert.equal(err.status.message, 'Unauthorized');
    assert.equal((err.cause as Error).message, 'service account token has been invalidated');
    return true;
  });
});

test('a TokenReview may ask for other audiences', async () => {
  const a = serviceAccountAuthenticator(options(world()));
  const t = bound({ audiences: ['vault'] });
  assert.equal((await a.authenticateToken(t)).status, 'invalid');
  const r = await a.authenticateToken(t, ['vault']);
  assert.equal(r.status, 'authenticated');
  if (r.status === 'authenticated') assert.deepEqual(r.audiences, ['vault']);
});
