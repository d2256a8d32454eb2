/**
 * Legacy ServiceAccount token Secrets inside `bin/bosun server` (the controller manager's
 * `serviceaccount-token` controller, signing with the API server's key, as upstream's with
 * --service-account-private-key-file): a Secret of type kubernetes.io/service-account-token gets
 * its token, ca.crt and namespace; the token authenticates as the ServiceAccount, with its RBAC;
 * deleting the ServiceAccount deletes the Secret, and the token is refused from then on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server!: ServerHandle;
useServer({ args: ['--disable-scheduler'] }, (s) => (server = s));
const v = kubectlVersions.at(-1)!;

test('a token Secret is filled by the controller manager; its token is the ServiceAccount until the account is deleted', { timeout: 90_000 }, async () => {
  const ns = 'legacy';
  await kubectlOk(server, v, ['create', 'namespace', ns]);
  await waitForServiceAccount(server, ns);
  await kubectlOk(server, v, ['create', 'serviceaccount', 'builder', '-n', ns]);
  await kubectlOk(server, v, ['create', 'rolebinding', 'builder-view', '-n', ns, '--clusterrole', 'view', '--serviceaccount', `${ns}:builder`]);
  const secret = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/service-account-token', metadata: { name: 'builder-token', annotations: { 'kubernetes.io/service-account.name': 'builder' } } };
  await kubectlOk(server, v, ['create', '-n', ns, '-f', '-'], { input: JSON.stringify(secret) });
  const data = await until('the token Secret filled', async () => {
    const r = await kubectl(server, v, ['get', 'secret', 'builder-token', '-n', ns, '-o', 'jsonpath={.data}']);
    const d = r.code === 0 && r.stdout ? (JSON.parse(r.stdout) as Record<string, string>) : {};
    return d['token'] && d['ca.crt'] && d['namespace'] ? d : undefined;
  }, { timeoutMs: 30_000, detail: () => server.output().slice(-2000) });
  assert.equal(Buffer.from(data['namespace']!, 'base64').toString(), ns);
  assert.equal(Buffer.from(data['ca.crt']!, 'base64').toString(), fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.crt'), 'utf8'));
  const token = Buffer.from(data['token']!, 'base64').toString();
  const kubeconfig = path.join(server.dataDir, 'builder.kubeconfig');
  fs.writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: server.url, 'certificate-authority': path.join(server.dataDir, 'tls', 'ca.crt') } }],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  }));
  const builder = { kubeconfig };
  assert.equal(await kubectlOk(builder, v, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']), `system:serviceaccount:${ns}:builder`);
  await kubectlOk(builder, v, ['get', 'configmaps', '-n', ns]);
  const denied = await kubectl(builder, v, ['get', 'secrets', '-n', ns]);
  assert.match(denied.stderr, new RegExp(`secrets is forbidden: User "system:serviceaccount:${ns}:builder" cannot list resource "secrets" in API group "" in the namespace "${ns}"`));
  await kubectlOk(server, v, ['delete', 'serviceaccount', 'builder', '-n', ns]);
  await until('the token Secret deleted with its account', async () => (await kubectl(server, v, ['get', 'secret', 'builder-token', '-n', ns])).code !== 0, { timeoutMs: 30_000 });
  const refused = await until('the token refused', async () => {
    const r = await kubectl(builder, v, ['auth', 'whoami']);
    return r.code !== 0 ? r : undefined;
  }, { timeoutMs: 30_000 });
  assert.match(refused.stderr, /Unauthorized|provide credentials/);
});
