/**
 * The ServiceAccount tokens controller against a real `bosun server` (its own controller manager
 * off, so this one is the only controller acting), run in this process with the server's signing
 * key: a token Secret is filled in and its token authenticates with kubectl as the service
 * account, until the Secret is deleted; Secrets of a missing or replaced account are deleted;
 * a deleted account takes its tokens along; a deleted token leaves its account's `secrets`.
 * The decisions themselves are also checked as pure functions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { kubectl, kubectlVersions, startServer, until, type ServerHandle } from '../../test/e2e/harness.ts';
import type { Secret, ServiceAccount } from '../api/index.ts';
import { clientset, createClient, InformerFactory, type Clientset, type Recorder, type RestClient } from '../client/index.ts';
import { keySet, parseSigningKeyPem, verifyLegacyToken } from '../apiserver/serviceaccount/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { isServiceAccountToken, populatedTokenSecret, secretUpdateNeeded, startServiceAccountTokensController, type ServiceAccountTokenContext } from './serviceaccounttokens.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();

function tokenSecret(name: string, namespace: string, annotations: Record<string, string>, data?: Record<string, string>): Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, annotations }, type: 'kubernetes.io/service-account-token', ...(data ? { data } : {}) };
}

describe('decisions', () => {
  const key = parseSigningKeyPem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const sa = { name: 'builder', uid: 'u1' };
  test('a token Secret belongs to the account it names, and to its uid when it names one', () => {
    assert.equal(isServiceAccountToken(tokenSecret('t', 'ns', { 'kubernetes.io/service-account.name': 'builder' }), sa), true);
    assert.equal(isServiceAccountToken(tokenSecret('t', 'ns', { 'kubernetes.io/service-account.name': 'builder', 'kubernetes.io/service-account.uid': 'u1' }), sa), true);
    assert.equal(isServiceAccountToken(tokenSecret('t', 'ns', { 'kubernetes.io/service-account.name': 'builder', 'kubernetes.io/service-account.uid': 'u2' }), sa), false);
    assert.equal(isServiceAccountToken(tokenSecret('t', 'ns', { 'kubernetes.io/service-account.name': 'other' }), sa), false);
    assert.equal(isServiceAccountToken({ ...tokenSecret('t', 'ns', { 'kubernetes.io/service-account.name': 'builder' }), type: 'Opaque' }, sa), false);
  });

  test('what a Secret lacks: the CA when it differs, an empty namespace or token', () => {
    const full = tokenSecret('t', 'ns', {}, { 'ca.crt': b64('CA'), namespace: b64('ns'), token: b64('x') });
    assert.deepEqual(secretUpdateNeeded(full, 'CA'), { ca: false, namespace: false, token: false });
    assert.deepEqual(secretUpdateNeeded(full, 'CA2'), { ca: true, namespace: false, token: false });
    assert.deepEqual(secretUpdateNeeded(full, undefined), { ca: false, namespace: false, token: false });
    assert.deepEqual(secretUpdateNeeded(tokenSecret('t', 'ns', {}, { token: '' }), 'CA'), { ca: true, namespace: true, token: true });
  });

  test('a populated Secret keeps what it had and gets the rest and both annotations', () => {
    const account: ServiceAccount = { metadata: { name: 'builder', namespace: 'ns', uid: 'u1' } };
    const out = populatedTokenSecret(tokenSecret('t', 'ns', { 'kubernetes.io/service-account.name': 'builder', keep: 'me' }, { token: b64('mine') }), account, key, 'CA');
    assert.deepEqual(out.metadata.annotations, { 'kubernetes.io/service-account.name': 'builder', keep: 'me', 'kubernetes.io/service-account.uid': 'u1' });
    assert.deepEqual(out.data, { token: b64('mine'), 'ca.crt': b64('CA'), namespace: b64('ns') });
  });

  test('a new token is a legacy token of the account and Secret, signed with the key', () => {
    const account: ServiceAccount = { metadata: { name: 'builder', namespace: 'ns', uid: 'u1' } };
    const out = populatedTokenSecret(tokenSecret('t', 'ns', { 'kubernetes.io/service-account.name': 'builder' }), account, key, undefined);
    assert.equal(out.data?.['ca.crt'], undefined);
    const r = verifyLegacyToken(unb64(out.data?.['token']), { keys: keySet([key]), implicitAudiences: ['https://kubernetes.default.svc.cluster.local'] });
    assert.deepEqual(r.status === 'verified' && r.claims, { namespace: 'ns', secretName: 't', serviceAccountName: 'builder', serviceAccountUID: 'u1' });
  });
});

describe('against a server', () => {
  let server: ServerHandle;
  let client: RestClient;
  let cs: Clientset;
  let informers: InformerFactory;
  let tokenKubeconfig = '';
  const ac = new AbortController();
  const ns = 'tokens';
  const minor = kubectlVersions.at(-1)!;

  const secret = (name: string) => cs.secrets.get(name, { namespace: ns }).catch(() => undefined);
  const gone = (name: string) => until(`secret ${name} deleted`, async () => (await secret(name)) === undefined, { timeoutMs: 30_000 });
  const populated = (name: string) => until(`secret ${name} populated`, async () => {
    const s = await secret(name);
    return s?.data?.['token'] && s.data['namespace'] ? s : undefined;
  }, { timeoutMs: 30_000 });
  /** `kubectl auth whoami` with only this bearer token (no client certificate). */
  const whoami = (token: string) => {
    fs.writeFileSync(
      tokenKubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: server.url, 'certificate-authority': path.join(server.dataDir, 'tls/ca.crt') } }],
        users: [{ name: 'u', user: { token } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    return kubectl({ kubeconfig: tokenKubeconfig }, minor, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
  };

  before(async () => {
    server = await startServer({ args: ['--disable-controller-manager'] });
    tokenKubeconfig = path.join(server.dataDir, 'token.kubeconfig');
    client = await createClient({ kubeconfig: server.kubeconfig, component: 'tokens-test' });
    cs = clientset(client);
    await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    informers = new InformerFactory(client, { log: () => {} });
    const ctx: ControllerContext & ServiceAccountTokenContext = {
      client,
      config: defaultControllerConfig,
      informers,
      recorder: () => ({}) as Recorder,
      signal: ac.signal,
      log: () => {},
      serviceAccountPrivateKeyPem: fs.readFileSync(path.join(server.dataDir, 'tls/service-account.key'), 'utf8'),
      rootCaPem: fs.readFileSync(path.join(server.dataDir, 'tls/ca.crt'), 'utf8'),
    };
    startServiceAccountTokensController(ctx);
    informers.start(ac.signal);
  });
  after(async () => {
    ac.abort();
    await informers?.stopped();
    await client?.transport.close();
    await server?.stop();
  });

  test('a token Secret gets a token, ca.crt, namespace and the uid; the token authenticates until the Secret is deleted', async () => {
    const sa = await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: ns } }, { namespace: ns });
    await cs.secrets.create(tokenSecret('builder-token', ns, { 'kubernetes.io/service-account.name': 'builder' }), { namespace: ns });
    const s = await populated('builder-token');
    assert.equal(unb64(s.data!['namespace']), ns);
    assert.equal(unb64(s.data!['ca.crt']), fs.readFileSync(path.join(server.dataDir, 'tls/ca.crt'), 'utf8'));
    assert.equal(s.metadata.annotations?.['kubernetes.io/service-account.uid'], sa.metadata.uid);
    const token = unb64(s.data!['token']);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, string>;
    assert.equal(claims['iss'], 'kubernetes/serviceaccount');
    assert.equal(claims['kubernetes.io/serviceaccount/secret.name'], 'builder-token');

    const ok = await whoami(token);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `system:serviceaccount:${ns}:builder`);

    await cs.secrets.delete('builder-token', { namespace: ns });
    // The API server's cache sees the deletion shortly after.
    const refused = await until('the token refused', async () => {
      const r = await whoami(token);
      return r.code !== 0 ? r : undefined;
    });
    assert.match(refused.stderr, /Unauthorized/);
  });

  test('a token already in the Secret is kept', async () => {
    await cs.secrets.create(tokenSecret('given', ns, { 'kubernetes.io/service-account.name': 'builder' }, { token: b64('my-own-token') }), { namespace: ns });
    const s = await populated('given');
    assert.equal(unb64(s.data!['token']), 'my-own-token');
  });

  test('a Secret naming a service account that does not exist is deleted', async () => {
    await cs.secrets.create(tokenSecret('orphan', ns, { 'kubernetes.io/service-account.name': 'nobody' }), { namespace: ns });
    await gone('orphan');
  });

  test('a Secret naming another uid of the service account is deleted', async () => {
    await cs.secrets.create(tokenSecret('stale', ns, { 'kubernetes.io/service-account.name': 'builder', 'kubernetes.io/service-account.uid': 'not-the-uid' }), { namespace: ns });
    await gone('stale');
  });

  test('a deleted ServiceAccount takes its token Secrets with it, not others', async () => {
    await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'temp', namespace: ns } }, { namespace: ns });
    await cs.secrets.create(tokenSecret('temp-token', ns, { 'kubernetes.io/service-account.name': 'temp' }), { namespace: ns });
    await populated('temp-token');
    await cs.serviceAccounts.delete('temp', { namespace: ns });
    await gone('temp-token');
    assert.ok(await secret('given'), 'another account\'s token stays');
  });

  test('a deleted token Secret is removed from its ServiceAccount\'s secrets', async () => {
    await cs.secrets.create(tokenSecret('listed', ns, { 'kubernetes.io/service-account.name': 'builder' }), { namespace: ns });
    await populated('listed');
    const sa = await cs.serviceAccounts.get('builder', { namespace: ns });
    await cs.serviceAccounts.update({ ...sa, secrets: [{ name: 'listed' }, { name: 'other' }] }, { namespace: ns });
    await cs.secrets.delete('listed', { namespace: ns });
    await until('the reference removed', async () => {
      const now = await cs.serviceAccounts.get('builder', { namespace: ns });
      return JSON.stringify(now.secrets) === JSON.stringify([{ name: 'other' }]);
    }, { timeoutMs: 30_000 });
  });
});
