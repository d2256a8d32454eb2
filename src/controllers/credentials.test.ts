/**
 * Per-controller credentials: when a token is renewed (table), then against the in-process API
 * server on a temporary SQLite store with what `bosun server` authenticates and authorizes with
 * (client certificates, ServiceAccount tokens, TokenRequest, RBAC over the bootstrap policy), the
 * manager holding only upstream's system:kube-controller-manager role: a controller's
 * ServiceAccount is created, its client acts as that ServiceAccount with that role's permissions,
 * tokens are renewed when due (on a fake clock), a failed renewal is retried with backoff and
 * logged while the old token still works, a deleted ServiceAccount comes back, and a 401 renews
 * at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClusterRoleBinding, Node, Pod, Secret, ServiceAccount, TokenRequest } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import { builtinResources } from '../api/groups/index.ts';
import { ApiServer } from '../apiserver/server.ts';
import { bootstrap } from '../apiserver/bootstrap.ts';
import { x509Authenticator } from '../apiserver/authn/index.ts';
import { privilegedGroup } from '../apiserver/authz/index.ts';
import { createRbacSource, rbacAuthorizer, rbacGroup } from '../apiserver/authz/rbac.ts';
import { createTokenRequest, loadServiceAccountConfig, serviceAccountAuthenticator } from '../apiserver/serviceaccount/index.ts';
import { ensurePki, issueClientCert } from '../pki/index.ts';
import { openStore } from '../storage/index.ts';
import type { Store } from '../storage/types.ts';
import { clientset, createClient, FakeClock, type RestClient } from '../client/index.ts';
import { ControllerCredentials, minTokenLifetimeMs, renewBackoff, tokenSchedule } from './credentials.ts';

const hour = 3_600_000;
const scheduleCases: { name: string; expiresIn: number; want: { lifetimeMs: number; renewAfterMs: number } }[] = [
  { name: 'an hour-long token is renewed when 20 % is left, after 48 minutes', expiresIn: hour, want: { lifetimeMs: hour, renewAfterMs: 0.8 * hour } },
  { name: 'a token shortened to 20 minutes is renewed after 16', expiresIn: 20 * 60_000, want: { lifetimeMs: 20 * 60_000, renewAfterMs: 16 * 60_000 } },
  { name: 'a lifetime under 10 minutes is taken as clock skew: pinned to 10 minutes', expiresIn: 60_000, want: { lifetimeMs: minTokenLifetimeMs, renewAfterMs: 8 * 60_000 } },
  { name: 'an expiry already past is pinned too', expiresIn: -hour, want: { lifetimeMs: minTokenLifetimeMs, renewAfterMs: 8 * 60_000 } },
  { name: 'an unparsable expiry is pinned too', expiresIn: NaN, want: { lifetimeMs: minTokenLifetimeMs, renewAfterMs: 8 * 60_000 } },
];
for (const c of scheduleCases) {
  test(c.name, () => {
    const now = Date.UTC(2025, 0, 1);
    assert.deepEqual(tokenSchedule(now + c.expiresIn, now), c.want);
  });
}

describe('controller credentials against the API server', () => {
  let dir = '';
  let store: Store;
  let api: ApiServer;
  let server = '';
  let caPem = '';
  let admin: RestClient;
  let manager: RestClient;
  const open: ControllerCredentials[] = [];

  const until = async <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Who the API server says `client` is (a SelfSubjectReview). */
  const whoami = async (client: RestClient): Promise<string> => {
    const res = await client.request({ method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }) });
    if (res.status !== 201) return `HTTP ${res.status}`;
    return (JSON.parse(Buffer.from(res.body).toString()) as { status: { userInfo: { username: string } } }).status.userInfo.username;
  };
  const credentials = (o: { clock?: FakeClock; logs?: string[] } = {}) => {
    const c = new ControllerCredentials({ client: manager, connection: { server, ca: caPem }, clock: o.clock, log: (m) => o.logs?.push(m) });
    open.push(c);
    return c;
  };
  const serviceAccount = (name: string) => clientset(admin).serviceAccounts.get(name, { namespace: 'kube-system' }).catch(() => undefined);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-credentials-test-'));
    const tls = path.join(dir, 'tls');
    const pki = await ensurePki(tls, { hostnames: [], addresses: [] });
    caPem = pki.caCertPem;
    store = await openStore(undefined, dir);
    const sa = await loadServiceAccountConfig({}, { keyDir: tls });
    const cached = <T>(kind: string, ns: string, name: string): T | undefined => {
      const s = api.storageFor(api.registry.byKind('', kind)!);
      return s.cache.get(s.key(ns, name))?.obj as T | undefined;
    };
    const lookups = {
      getServiceAccount: (ns: string, n: string) => cached<ServiceAccount>('ServiceAccount', ns, n),
      getPod: (ns: string, n: string) => cached<Pod>('Pod', ns, n),
      getSecret: (ns: string, n: string) => cached<Secret>('Secret', ns, n),
      getNode: (n: string) => cached<Node>('Node', '', n),
    };
    const rbac = createRbacSource({
      clusterRoles: () => api.cacheList(rbacGroup, 'ClusterRole'),
      roles: () => api.cacheList(rbacGroup, 'Role'),
      clusterRoleBindings: () => api.cacheList(rbacGroup, 'ClusterRoleBinding'),
      roleBindings: () => api.cacheList(rbacGroup, 'RoleBinding'),
    });
    api = new ApiServer({
      store,
      resources: builtinResources,
      tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem },
      port: 0,
      authenticators: [x509Authenticator, serviceAccountAuthenticator({ keys: sa.keys, issuers: sa.issuers, apiAudiences: sa.apiAudiences, lookups })],
      authorizers: [privilegedGroup, rbacAuthorizer(rbac)],
      tokenRequest: (r) => createTokenRequest({ namespace: r.namespace, serviceAccountName: r.name, tokenRequest: r.object as TokenRequest, lookups, signingKey: sa.signingKey, issuer: sa.issuers[0]!, apiAudiences: sa.apiAudiences, warnings: r.warnings, auditAnnotations: r.auditAnnotations }) as Promise<KubeObject>,
    });
    const port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p, clusterDns: '' }) });
    server = `https://127.0.0.1:${port}`;
    admin = await createClient({ component: 'credentials-test', connection: { server, ca: caPem, cert: pki.adminCertPem, key: pki.adminKeyPem } });
    // The controller manager's own identity: upstream's system:kube-controller-manager role only.
    const kcm = await issueClientCert(pki, { name: 'controller-manager', commonName: 'system:kube-controller-manager' });
    manager = await createClient({ component: 'kube-controller-manager', connection: { server, ca: caPem, cert: kcm.certPem, key: kcm.keyPem } });
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await admin?.transport.close();
    await manager?.transport.close();
    await api?.close();
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a controller's ServiceAccount is created and its client acts as it, with its controller role", async () => {
    assert.equal(await serviceAccount('deployment-controller'), undefined);
    const client = await credentials().client('deployment-controller');
    assert.ok(await serviceAccount('deployment-controller'));
    assert.equal(await whoami(client), 'system:serviceaccount:kube-system:deployment-controller');
    assert.equal(await whoami(manager), 'system:kube-controller-manager');
    const cs = clientset(client);
    // Its role lets it list ReplicaSets, not Secrets or Nodes.
    assert.ok(await cs.replicaSets.list({ namespace: 'default' }));
    await assert.rejects(cs.secrets.list({ namespace: 'default' }), /serviceaccount:kube-system:deployment-controller" cannot list resource "secrets"/);
    await assert.rejects(cs.nodes.delete('any'), /cannot delete resource "nodes"/);
  });

  test('one client per ServiceAccount, asked for concurrently', async () => {
    const c = credentials();
    const [a, b] = await Promise.all([c.client('node-controller'), c.client('node-controller')]);
    assert.equal(a, b);
    assert.equal(c.state('node-controller')!.tokens, 1);
    assert.equal(c.state('replicaset-controller'), undefined);
  });

  test('a token is renewed when due; a failed renewal is retried with backoff and logged while the old token still works', async () => {
    const clock = new FakeClock(Date.now());
    const logs: string[] = [];
    const c = credentials({ clock, logs });
    const client = await c.client('replicaset-controller');
    const first = c.state('replicaset-controller')!;
    // An hour-long token (the answer's expiry is whole seconds of the server's clock): renewed after 48 minutes.
    const due = first.renewAt - first.obtainedAt;
    assert.ok(Math.abs(due - 0.8 * hour) < 5_000, `renewal due after ${due} ms`);
    assert.equal(first.username, 'system:serviceaccount:kube-system:replicaset-controller');
    clock.step(due - 1);
    assert.equal(c.state('replicaset-controller')!.tokens, 1, 'not renewed before it is due');
    clock.step(1);
    await until('the renewed token', () => c.state('replicaset-controller')!.tokens === 2);
    assert.equal(await whoami(client), 'system:serviceaccount:kube-system:replicaset-controller');

    // Take the manager's permissions away: renewals fail, backing off 500 ms, 1 s, ...
    const binding = await clientset(admin).clusterRoleBindings.get('system:kube-controller-manager');
    await clientset(admin).clusterRoleBindings.delete('system:kube-controller-manager');
    try {
      await until('the manager refused', async () => (await manager.request({ method: 'GET', path: '/api/v1/namespaces/kube-system/serviceaccounts/replicaset-controller' })).status === 403);
      clock.step(0.8 * hour);
      await until('a failed renewal', () => logs.some((l) => l.endsWith(`retrying in ${renewBackoff.initialMs} ms`)));
      assert.match(logs.find((l) => l.includes('failed'))!, /^controller-manager: renewing a token for kube-system\/replicaset-controller failed: .*forbidden.*; retrying in 500 ms$/);
      clock.step(renewBackoff.initialMs);
      await until('a second failed renewal', () => logs.some((l) => l.endsWith(`retrying in ${renewBackoff.initialMs * 2} ms`)));
      assert.equal(c.state('replicaset-controller')!.tokens, 2);
      assert.equal(await whoami(client), 'system:serviceaccount:kube-system:replicaset-controller', 'the previous token is still used');
    } finally {
      const { metadata, roleRef, subjects } = binding;
      await clientset(admin).clusterRoleBindings.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: metadata.name, labels: metadata.labels, annotations: metadata.annotations }, roleRef, subjects } as ClusterRoleBinding);
    }
    await until('the manager allowed again', async () => (await manager.request({ method: 'GET', path: '/api/v1/namespaces/kube-system/serviceaccounts/replicaset-controller' })).status === 200);
    clock.step(renewBackoff.initialMs * 2);
    await until('the renewal after the backoff', () => c.state('replicaset-controller')!.tokens === 3);
  });

  test('a deleted ServiceAccount invalidates the token: the 401 renews it at once, and the ServiceAccount comes back', async () => {
    const logs: string[] = [];
    const c = credentials({ logs });
    const client = await c.client('endpoint-controller');
    const before = await serviceAccount('endpoint-controller');
    await clientset(admin).serviceAccounts.delete('endpoint-controller', { namespace: 'kube-system' });
    await until('the token refused', async () => (await whoami(client)) === 'HTTP 401');
    await until('a new ServiceAccount', async () => {
      const now = await serviceAccount('endpoint-controller');
      return now && now.metadata.uid !== before!.metadata.uid;
    });
    await until('the client accepted again', async () => (await whoami(client)) === 'system:serviceaccount:kube-system:endpoint-controller');
    assert.ok(c.state('endpoint-controller')!.tokens >= 2);
    assert.ok(logs.includes('controller-manager: renewing the token of kube-system/endpoint-controller: the API server answered 401'));
  });

  test('a client asked for with an aborted signal is refused (a later call succeeds); after close every call is refused', async () => {
    const c = credentials();
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await assert.rejects(c.client('pod-garbage-collector', ac.signal), /stop/);
    assert.equal(await whoami(await c.client('pod-garbage-collector')), 'system:serviceaccount:kube-system:pod-garbage-collector', 'a later call starts again');
    await c.close();
    await assert.rejects(c.client('other'), /controller credentials closed/);
  });

  test("the manager's own role cannot do a controller's work: ReplicaSets are not its to create", async () => {
    await assert.rejects(
      clientset(manager).replicaSets.create({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'x', namespace: 'default' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } } } } }, { namespace: 'default' }),
      /User "system:kube-controller-manager" cannot create resource "replicasets" in API group "apps"/,
    );
  });
});
