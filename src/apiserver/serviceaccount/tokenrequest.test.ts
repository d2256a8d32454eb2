import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStatusError } from '../../api/errors.ts';
import type { TokenRequest } from '../../api/index.ts';
import { keySet } from './keys.ts';
import { createTokenRequest, type TokenRequestInput } from './tokenrequest.ts';
import { verifyBoundToken } from './tokens.ts';
import { fakeObjects, issuer, node, now, pod, rsaKey, secret, serviceAccount, type FakeObjects } from './testing.ts';

function world(): FakeObjects {
  return fakeObjects({
    serviceAccounts: [serviceAccount()],
    pods: [pod('web', { nodeName: 'node-a' }), pod('other-sa', { uid: 'pod-uid-9', serviceAccountName: 'default' })],
    secrets: [secret('tok')],
    nodes: [node('node-a')],
  });
}

function tr(spec: Partial<TokenRequest['spec']> = {}, metadata: TokenRequest['metadata'] = {}): TokenRequest {
  return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata, spec: { audiences: [], ...spec } };
}

function input(tokenRequest: TokenRequest, edit: Partial<TokenRequestInput> = {}, w = world()): TokenRequestInput {
  return { namespace: 'ns1', serviceAccountName: 'builder', tokenRequest, lookups: w.lookups, signingKey: rsaKey(), issuer, apiAudiences: [issuer, 'k3s'], now, newJti: () => 'jti-1', ...edit };
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}

const t0 = Math.floor(now.getTime() / 1000);

test('defaults: the API audiences, one hour, the service account metadata; the token verifies', async () => {
  const req = tr();
  const annotations: Record<string, string> = {};
  const out = await createTokenRequest(input(req, { auditAnnotations: annotations }));
  const token = out.status!.token;
  assert.deepEqual(out, {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name: 'builder', namespace: 'ns1', uid: 'sa-uid-1', creationTimestamp: '2026-03-01T12:00:00Z' },
    spec: { audiences: [issuer, 'k3s'], expirationSeconds: 3600, boundObjectRef: null },
    status: { token, expirationTimestamp: '2026-03-01T13:00:00Z' },
  });
  assert.deepEqual(req, tr(), 'the request object is not changed');
  assert.deepEqual(annotations, { 'authentication.kubernetes.io/issued-credential-id': 'JTI=jti-1' });
  assert.deepEqual(claimsOf(token), {
    aud: [issuer, 'k3s'],
    exp: t0 + 3600,
    iat: t0,
    iss: issuer,
    jti: 'jti-1',
    'kubernetes.io': { namespace: 'ns1', serviceaccount: { name: 'builder', uid: 'sa-uid-1' } },
    nbf: t0,
    sub: 'system:serviceaccount:ns1:builder',
  });
  const v = verifyBoundToken(token, { keys: keySet([rsaKey()]), issuers: [issuer], implicitAudiences: [issuer], now });
  assert.equal(v.status, 'verified');
});

test('requested audiences and expiration are kept', async () => {
  const out = await createTokenRequest(input(tr({ audiences: ['vault'], expirationSeconds: 600 })));
  assert.deepEqual(out.spec, { audiences: ['vault'], expirationSeconds: 600, boundObjectRef: null });
  assert.equal(out.status!.expirationTimestamp, '2026-03-01T12:10:00Z');
  assert.deepEqual(claimsOf(out.status!.token)['aud'], ['vault']);
});

async function failure(p: Promise<unknown>): Promise<{ code: number; reason?: string; message?: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isStatusError(err), String(err));
    return { code: err.code, reason: err.reason, message: err.status.message };
  }
  assert.fail('expected an error');
}

const refusals: { name: string; input: () => TokenRequestInput; want: { code: number; reason: string; message: string } }[] = [
  {
    name: 'an expiration under ten minutes',
    input: () => input(tr({ expirationSeconds: 599 })),
    want: { code: 422, reason: 'Invalid', message: 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes' },
  },
  {
    name: 'an expiration over 2^32 seconds',
    input: () => input(tr({ expirationSeconds: 2 ** 32 + 1 })),
    want: { code: 422, reason: 'Invalid', message: 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds' },
  },
  {
    name: 'a metadata.name that is not the service account',
    input: () => input(tr({}, { name: 'other' })),
    want: { code: 422, reason: 'Invalid', message: 'TokenRequest.authentication.k8s.io "builder" is invalid: metadata.name: Invalid value: "other": must match the service account name if specified' },
  },
  {
    name: 'a metadata.namespace that is not the URL one',
    input: () => input(tr({}, { namespace: 'ns2' })),
    want: { code: 422, reason: 'Invalid', message: 'TokenRequest.authentication.k8s.io "builder" is invalid: metadata.namespace: Invalid value: "ns2": must match the service account namespace if specified' },
  },
  {
    name: 'a missing service account',
    input: () => input(tr(), { serviceAccountName: 'nobody' }),
    want: { code: 404, reason: 'NotFound', message: 'serviceaccounts "nobody" not found' },
  },
  {
    name: 'a metadata.uid that is not the service account one',
    input: () => input(tr({}, { uid: 'old-uid' })),
    want: { code: 409, reason: 'Conflict', message: 'Operation cannot be fulfilled on TokenRequest.authentication.k8s.io "builder": the UID in the token request (old-uid) does not match the UID of the service account (sa-uid-1)' },
  },
  {
    name: 'a missing bound pod',
    input: () => input(tr({ boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'gone' } })),
    want: { code: 404, reason: 'NotFound', message: 'pods "gone" not found' },
  },
  {
    name: 'a pod of another service account',
    input: () => input(tr({ boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'other-sa' } })),
    want: { code: 400, reason: 'BadRequest', message: 'cannot bind token for serviceaccount "builder" to pod running with different serviceaccount name.' },
  },
  {
    name: 'a pod uid that is not the pod one',
    input: () => input(tr({ boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web', uid: 'old-pod' } })),
    want: {
      code: 409,
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on Pod "web": the UID in the bound object reference (old-pod) does not match the UID in record. The object might have been deleted and then recreated',
    },
  },
  {
    name: 'a missing bound secret',
    input: () => input(tr({ boundObjectRef: { kind: 'Secret', apiVersion: 'v1', name: 'nope' } })),
    want: { code: 404, reason: 'NotFound', message: 'secrets "nope" not found' },
  },
  {
    name: 'a missing bound node',
    input: () => input(tr({ boundObjectRef: { kind: 'Node', apiVersion: 'v1', name: 'nope' } })),
    want: { code: 404, reason: 'NotFound', message: 'nodes "nope" not found' },
  },
  {
    name: 'a bound object of another kind',
    input: () => input(tr({ boundObjectRef: { kind: 'Deployment', apiVersion: 'apps/v1', name: 'd' } })),
    want: { code: 400, reason: 'BadRequest', message: 'cannot bind token to object of type apps/v1, Kind=Deployment' },
  },
  {
    name: 'a bound core object of another kind',
    input: () => input(tr({ boundObjectRef: { kind: 'ConfigMap', apiVersion: 'v1', name: 'c' } })),
    want: { code: 400, reason: 'BadRequest', message: 'cannot bind token to object of type /v1, Kind=ConfigMap' },
  },
];
for (const c of refusals) {
  test(`a TokenRequest with ${c.name} is refused`, async () => {
    assert.deepEqual(await failure(createTokenRequest(c.input())), c.want);
  });
}

test('the service account is looked up before the expiration is validated (NotFound first)', async () => {
  assert.equal((await failure(createTokenRequest(input(tr({ expirationSeconds: 10 }), { serviceAccountName: 'nobody' })))).code, 404);
});

test('a pod-bound token names the pod and its node', async () => {
  const out = await createTokenRequest(input(tr({ boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web', uid: 'pod-uid-1' } })));
  assert.deepEqual(out.spec.boundObjectRef, { kind: 'Pod', apiVersion: 'v1', name: 'web', uid: 'pod-uid-1' });
  assert.deepEqual(claimsOf(out.status!.token)['kubernetes.io'], {
    namespace: 'ns1',
    node: { name: 'node-a', uid: 'node-uid-1' },
    pod: { name: 'web', uid: 'pod-uid-1' },
    serviceaccount: { name: 'builder', uid: 'sa-uid-1' },
  });
});

test('a pod whose node is gone gets the node by name only; an unscheduled pod gets no node', async () => {
  const w = world();
  w.nodes.clear();
  const out = await createTokenRequest(input(tr({ boundObjectRef: { kind: 'Pod', name: 'web' } }), {}, w));
  assert.deepEqual((claimsOf(out.status!.token)['kubernetes.io'] as Record<string, unknown>)['node'], { name: 'node-a' });
  w.pods.set('ns1/web', pod('web'));
  const out2 = await createTokenRequest(input(tr({ boundObjectRef: { kind: 'Pod', name: 'web' } }), {}, w));
  assert.equal((claimsOf(out2.status!.token)['kubernetes.io'] as Record<string, unknown>)['node'], undefined);
});

test('secret- and node-bound tokens name their object', async () => {
  const s = await createTokenRequest(input(tr({ boundObjectRef: { kind: 'Secret', apiVersion: 'v1', name: 'tok' } })));
  assert.deepEqual((claimsOf(s.status!.token)['kubernetes.io'] as Record<string, unknown>)['secret'], { name: 'tok', uid: 'secret-uid-1' });
  const n = await createTokenRequest(input(tr({ boundObjectRef: { kind: 'Node', apiVersion: 'v1', name: 'node-a', uid: 'node-uid-1' } })));
  assert.deepEqual((claimsOf(n.status!.token)['kubernetes.io'] as Record<string, unknown>)['node'], { name: 'node-a', uid: 'node-uid-1' });
});

test('--service-account-max-token-expiration shortens longer requests with upstream warning', async () => {
  const warnings: string[] = [];
  const out = await createTokenRequest(input(tr({ expirationSeconds: 86400 }), { maxExpirationSeconds: 7200, warnings }));
  assert.deepEqual(warnings, ['requested expiration of 86400 seconds shortened to 7200 seconds']);
  assert.equal(out.spec.expirationSeconds, 7200);
  assert.equal(out.status!.expirationTimestamp, '2026-03-01T14:00:00Z');
  assert.equal(claimsOf(out.status!.token)['exp'], t0 + 7200);
  const shorter: string[] = [];
  await createTokenRequest(input(tr({ expirationSeconds: 3600 }), { maxExpirationSeconds: 7200, warnings: shorter }));
  assert.deepEqual(shorter, []);
});

test('request metadata is kept and ordered as ObjectMeta', async () => {
  const out = await createTokenRequest(input(tr({}, { labels: { a: 'b' }, uid: 'sa-uid-1', name: 'builder' })));
  assert.deepEqual(Object.keys(out.metadata), ['name', 'namespace', 'uid', 'creationTimestamp', 'labels']);
});
