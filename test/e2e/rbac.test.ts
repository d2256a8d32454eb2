/**
 * Authorization as upstream's `--authorization-mode Node,RBAC`, through kubectl: the seed's
 * `pod-reader` ClusterRole bound to `jane` by `read-pods` allows exactly get, list and watch of
 * pods in every namespace, for `kubectl auth can-i --as jane` and for jane's own client
 * certificate (issued through a CertificateSigningRequest), with upstream's Forbidden messages;
 * `auth can-i --list`; escalation through roles and bindings is refused; impersonation needs the
 * `impersonate` verb; requests without credentials are `system:anonymous`; and the built-in
 * components (controller manager, scheduler, simulated node) keep working under RBAC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createCsr, signCsr } from '../../src/pki/csr.ts';
import { kubeconfigYaml } from '../../src/pki/index.ts';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server!: ServerHandle;
useServer({ args: ['--virtual-nodes', '1'] }, (s) => (server = s));
const newest = kubectlVersions.at(-1)!;

const seed = [
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'watch', 'list'] }] },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'read-pods' },
    subjects: [{ kind: 'User', name: 'jane', apiGroup: 'rbac.authorization.k8s.io' }],
    roleRef: { kind: 'ClusterRole', name: 'pod-reader', apiGroup: 'rbac.authorization.k8s.io' },
  },
];

/** A kubeconfig for `name` with a client certificate issued through a CSR that the admin approves. */
async function userKubeconfig(name: string, groups: string[] = []): Promise<{ kubeconfig: string }> {
  const { csrPem, keyPem } = await createCsr({ subject: { commonName: name, organizations: groups } });
  const csr = { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name: `user-${name}` }, spec: { request: Buffer.from(csrPem).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] } };
  await kubectlOk(server, newest, ['create', '-f', '-'], { input: JSON.stringify(csr) });
  await kubectlOk(server, newest, ['certificate', 'approve', `user-${name}`]);
  const cert = await until(`${name}'s certificate`, async () => {
    const r = await kubectl(server, newest, ['get', 'csr', `user-${name}`, '-o', 'jsonpath={.status.certificate}']);
    return r.code === 0 && r.stdout ? Buffer.from(r.stdout, 'base64').toString('utf8') : undefined;
  });
  const file = path.join(server.dataDir, `${name}.kubeconfig`);
  const caPem = fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.crt'), 'utf8');
  fs.writeFileSync(file, kubeconfigYaml({ server: server.url, caPem, certPem: cert, keyPem }), { mode: 0o600 });
  return { kubeconfig: file };
}

test('RBAC: the seed pod-reader role for jane, escalation, impersonation, anonymous, components', { timeout: 180_000 }, async (t) => {
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: seed }) });
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  await kubectlOk(server, newest, ['run', 'victim', '--image', 'busybox', '--restart', 'Never']);

  await t.test('kubectl auth can-i --as jane answers as the ClusterRole says, in every namespace', async () => {
    for (const v of kubectlVersions) {
      for (const [args, want] of [
        [['get', 'pods'], 'yes'],
        [['list', 'pods', '--all-namespaces'], 'yes'],
        [['watch', 'pods', '-n', 'kube-system'], 'yes'],
        [['get', 'pods', '--subresource', 'log'], 'no'],
        [['delete', 'pods'], 'no'],
        [['create', 'pods'], 'no'],
        [['get', 'secrets'], 'no'],
        [['list', 'nodes'], 'no'],
        [['create', 'deployments.apps'], 'no'],
      ] as const) {
        const r = await kubectl(server, v, ['auth', 'can-i', ...args, '--as', 'jane']);
        assert.equal(r.stdout.trim(), want, `kubectl 1.${v} auth can-i ${args.join(' ')} --as jane: ${r.stdout}${r.stderr}`);
        assert.equal(r.code, want === 'yes' ? 0 : 1);
      }
    }
  });

  const jane = await userKubeconfig('jane');

  await t.test("jane's own requests: pods readable everywhere, everything else forbidden with upstream's messages", async () => {
    assert.match(await kubectlOk(jane, newest, ['get', 'pods', '-A']), /victim/);
    assert.match(await kubectlOk(jane, newest, ['get', 'pod', 'victim', '-o', 'name']), /pod\/victim/);
    const cases: [string[], string][] = [
      [['delete', 'pod', 'victim'], 'Error from server (Forbidden): pods "victim" is forbidden: User "jane" cannot delete resource "pods" in API group "" in the namespace "default"'],
      [['get', 'secrets'], 'Error from server (Forbidden): secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace "default"'],
      [['get', 'nodes'], 'Error from server (Forbidden): nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" at the cluster scope'],
      [['logs', 'victim'], 'Error from server (Forbidden): pods "victim" is forbidden: User "jane" cannot get resource "pods/log" in API group "" in the namespace "default"'],
      [['create', 'deployment', 'd', '--image', 'busybox'], 'error: failed to create deployment: deployments.apps is forbidden: User "jane" cannot create resource "deployments" in API group "apps" in the namespace "default"'],
    ];
    for (const [args, message] of cases) {
      const r = await kubectl(jane, newest, args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.stderr.trim(), message);
    }
    // The Status object itself, as a raw client sees it.
    const raw = await kubectl(jane, newest, ['get', '--raw', '/api/v1/namespaces/default/secrets']);
    assert.match(raw.stderr, /secrets is forbidden: User "jane" cannot list resource "secrets"/);
  });

  await t.test('kubectl auth can-i --list shows what jane may do; auth whoami says who she is', async () => {
    const out = await kubectlOk(jane, newest, ['auth', 'can-i', '--list']);
    assert.match(out, /^pods\s+\[\]\s+\[\]\s+\[get watch list\]$/m);
    assert.match(out, /^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m);
    assert.doesNotMatch(out, /^secrets/m);
    assert.match(await kubectlOk(jane, newest, ['auth', 'whoami']), /Username\s+jane\s*\nGroups\s+\[system:authenticated\]/);
  });

  await t.test('escalation: a role or binding granting more than jane holds is refused', async () => {
    const maker = [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'rbac-maker' }, rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles', 'clusterrolebindings'], verbs: ['create'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'jane-rbac-maker' }, subjects: [{ kind: 'User', name: 'jane', apiGroup: 'rbac.authorization.k8s.io' }], roleRef: { kind: 'ClusterRole', name: 'rbac-maker', apiGroup: 'rbac.authorization.k8s.io' } },
    ];
    await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: maker }) });
    // Within what she holds: allowed.
    await kubectlOk(jane, newest, ['create', 'clusterrole', 'pod-lister', '--verb', 'list', '--resource', 'pods']);
    const more = await kubectl(jane, newest, ['create', 'clusterrole', 'pod-killer', '--verb', 'delete', '--resource', 'pods']);
    assert.notEqual(more.code, 0);
    assert.match(more.stderr, /clusterroles\.rbac\.authorization\.k8s\.io "pod-killer" is forbidden: user "jane" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:\n\{APIGroups:\[""\], Resources:\["pods"\], Verbs:\["delete"\]\}/);
    const bind = await kubectl(jane, newest, ['create', 'clusterrolebinding', 'jane-admin', '--clusterrole', 'cluster-admin', '--user', 'jane']);
    assert.notEqual(bind.code, 0);
    assert.match(bind.stderr, /clusterrolebindings\.rbac\.authorization\.k8s\.io "jane-admin" is forbidden: user "jane" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held/);
    assert.equal((await kubectl(server, newest, ['get', 'clusterrolebinding', 'jane-admin'])).code, 1);
  });

  await t.test('kubectl auth reconcile creates roles and bindings, adds missing rules to an existing role, and is refused to escalate', async () => {
    const ns = 'reconcile';
    await kubectlOk(server, newest, ['create', 'namespace', ns]);
    const objs = (verbs: string[]) => JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'cm-editor', namespace: ns }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'cm-editor', namespace: ns }, subjects: [{ kind: 'User', name: 'carol', apiGroup: 'rbac.authorization.k8s.io' }], roleRef: { kind: 'Role', name: 'cm-editor', apiGroup: 'rbac.authorization.k8s.io' } },
      ],
    });
    const first = await kubectlOk(server, newest, ['auth', 'reconcile', '-f', '-'], { input: objs(['get']) });
    assert.match(first, /role\.rbac\.authorization\.k8s\.io\/cm-editor reconciled/);
    assert.match(first, /rolebinding\.rbac\.authorization\.k8s\.io\/cm-editor reconciled/);
    assert.equal((await kubectlOk(server, newest, ['auth', 'can-i', 'get', 'configmaps', '-n', ns, '--as', 'carol'])).trim(), 'yes');
    assert.equal((await kubectl(server, newest, ['auth', 'can-i', 'delete', 'configmaps', '-n', ns, '--as', 'carol'])).stdout.trim(), 'no');
    await kubectlOk(server, newest, ['auth', 'reconcile', '-f', '-'], { input: objs(['get', 'delete']) });
    assert.equal((await kubectlOk(server, newest, ['auth', 'can-i', 'delete', 'configmaps', '-n', ns, '--as', 'carol'])).trim(), 'yes');
    // jane may create cluster roles (the escalation test above) but not read them: reconcile's first GET is refused.
    const escalate = await kubectl(jane, newest, ['auth', 'reconcile', '-f', '-'], { input: JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'cm-deleter' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['delete'] }] }) });
    assert.notEqual(escalate.code, 0);
    assert.match(escalate.stderr, /clusterroles\.rbac\.authorization\.k8s\.io "cm-deleter" is forbidden: User "jane" cannot get resource "clusterroles" in API group "rbac\.authorization\.k8s\.io" at the cluster scope/);
    assert.equal((await kubectl(server, newest, ['get', 'clusterrole', 'cm-deleter'])).code, 1);
  });

  await t.test('impersonation needs the impersonate verb; the admin may, and the request runs as that user', async () => {
    const r = await kubectl(jane, newest, ['get', 'pods', '--as', 'bob']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), 'Error from server (Forbidden): users "bob" is forbidden: User "jane" cannot impersonate resource "users" in API group "" at the cluster scope');
    // The admin acting as jane gets jane's answer.
    const asJane = await kubectl(server, newest, ['get', 'secrets', '--as', 'jane']);
    assert.match(asJane.stderr, /secrets is forbidden: User "jane" cannot list resource "secrets"/);
    assert.match(await kubectlOk(server, newest, ['get', 'pods', '--as', 'jane']), /victim/);
  });

  await t.test('a request without credentials is system:anonymous: version and health answer, the API is forbidden', async () => {
    const ca = fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.crt'), 'utf8');
    const get = (p: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        https.get(`${server.url}${p}`, { ca, timeout: 10_000 }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    const pods = await get('/api/v1/namespaces/default/pods');
    assert.equal(pods.status, 403);
    assert.equal(JSON.parse(pods.body).message, 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default"');
    const api = await get('/api');
    assert.equal(api.status, 403);
    assert.equal(JSON.parse(api.body).message, 'forbidden: User "system:anonymous" cannot get path "/api"');
    // system:public-info-viewer: /version, /healthz, /livez, /readyz.
    assert.equal((await get('/version')).status, 200);
    assert.equal((await get('/readyz')).status, 200);
  });

  await t.test('the controller manager, scheduler and a simulated node work under RBAC: a Deployment gets running pods', async () => {
    await kubectlOk(server, newest, ['create', 'deployment', 'web', '--image', 'busybox', '--replicas', '2']);
    await until('2 running pods of web', async () => {
      const out = await kubectl(server, newest, ['get', 'pods', '-l', 'app=web', '--no-headers']);
      return (out.stdout.match(/Running/g) ?? []).length === 2 ? true : undefined;
    }, { timeoutMs: 60_000, detail: () => server.output().slice(-3000) });
    assert.doesNotMatch(server.output(), /forbidden/i, 'no component was refused anything');
  });
});

test('a client certificate that expires while its connection stays open is refused from then on (401), as upstream verifies it per request', { timeout: 60_000 }, async () => {
  const tls = path.join(server.dataDir, 'tls');
  const caCert = fs.readFileSync(path.join(tls, 'ca.crt'), 'utf8');
  const ca = { certPem: caCert, keyPem: fs.readFileSync(path.join(tls, 'ca.key'), 'utf8') };
  const { csrPem, keyPem } = await createCsr({ subject: { commonName: 'short-lived', organizations: ['system:masters'] } });
  const notAfter = new Date(Date.now() + 4_000);
  const certPem = await signCsr(csrPem, ca, { usages: ['digital signature', 'client auth'], notBefore: new Date(Date.now() - 60_000), notAfter });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: caCert, cert: certPem, key: keyPem });
  const sockets = new Set<unknown>();
  const get = (p: string) =>
    new Promise<number>((resolve, reject) => {
      const req = https.get(`${server.url}${p}`, { agent, timeout: 10_000 }, (res) => {
        sockets.add(res.socket);
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
  try {
    assert.equal(await get('/api/v1/namespaces/default'), 200);
    await new Promise((r) => setTimeout(r, Math.max(0, notAfter.getTime() - Date.now()) + 1_500));
    assert.equal(await get('/api/v1/namespaces/default'), 401);
    assert.equal(sockets.size, 1, 'both requests went over one connection');
  } finally {
    agent.destroy();
  }
});
