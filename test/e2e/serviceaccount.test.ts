/**
 * ServiceAccount tokens end to end, with the node agent: a pod gets upstream's projected
 * kube-api-access volume (a bound token, kube-root-ca.crt, its namespace); the token it holds
 * authenticates as `system:serviceaccount:<ns>:<name>` and is limited by RBAC (forbidden until a
 * RoleBinding grants `view`); `kubectl create token` asks the TokenRequest API; a token bound to a
 * pod stops working once the pod is gone. Run under the machine-wide agent lock:
 *   flock /tmp/bosun-agent.lock node --test test/e2e/serviceaccount.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { kubectl, kubectlOk, kubectlVersions, until, waitForServiceAccount, useServer, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));
const v = kubectlVersions.at(-1)!;

/** kubectl with only a bearer token (no client certificate). */
const withToken = (token: string, args: string[]) =>
  kubectl({ kubeconfig: '/dev/null' }, v, ['--server', server.url, '--certificate-authority', path.join(server.dataDir, 'tls', 'ca.crt'), '--token', token, ...args]);

test('a pod\'s service account token reaches the API and is limited by RBAC; TokenRequest; bound tokens end with their pod', { skip, timeout: 150_000 }, async () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'sa-user' }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: busyboxImage, command: ['sleep', '3600'] }] } };
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(pod) });
  await kubectlOk(server, v, ['wait', '--for=condition=Ready', 'pod/sa-user', '--timeout=60s']);
  const spec = JSON.parse(await kubectlOk(server, v, ['get', 'pod', 'sa-user', '-o', 'json'])).spec;
  const vol = spec.volumes.find((x: { name: string }) => x.name.startsWith('kube-api-access-'));
  assert.ok(vol, 'the projected kube-api-access volume');
  assert.deepEqual(spec.containers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);

  const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
  const token = (await kubectlOk(server, v, ['exec', 'sa-user', '--', 'cat', `${dir}/token`])).trim();
  assert.equal((await kubectlOk(server, v, ['exec', 'sa-user', '--', 'cat', `${dir}/namespace`])).trim(), 'default');
  assert.match(await kubectlOk(server, v, ['exec', 'sa-user', '--', 'cat', `${dir}/ca.crt`]), /^-----BEGIN CERTIFICATE-----/);

  // Who the token is, as the API sees it.
  const who = await withToken(token, ['auth', 'whoami', '-o', 'json']);
  assert.equal(who.code, 0, who.stderr);
  const info = JSON.parse(who.stdout).status.userInfo;
  assert.equal(info.username, 'system:serviceaccount:default:default');
  assert.deepEqual(info.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
  assert.deepEqual(info.extra['authentication.kubernetes.io/pod-name'], ['sa-user']);

  // RBAC: nothing until a binding, then what view allows.
  const denied = await withToken(token, ['get', 'pods']);
  assert.equal(denied.stderr.trim(), 'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default"');
  await kubectlOk(server, v, ['create', 'rolebinding', 'sa-view', '--clusterrole', 'view', '--serviceaccount', 'default:default']);
  const allowed = await until('the token lists pods', async () => {
    const r = await withToken(token, ['get', 'pods', '-o', 'name']);
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.match(allowed, /pod\/sa-user/);
  assert.match((await withToken(token, ['get', 'secrets'])).stderr, /secrets is forbidden: User "system:serviceaccount:default:default" cannot list resource "secrets"/);

  // kubectl create token: the TokenRequest API.
  const made = (await kubectlOk(server, v, ['create', 'token', 'default', '--duration', '10m'])).trim();
  assert.equal((await withToken(made, ['get', 'pods', '-o', 'name'])).code, 0);
  const short = await kubectl(server, v, ['create', 'token', 'default', '--duration', '5m']);
  assert.match(short.stderr, /may not specify a duration less than 10 minutes/);

  // The pod's token is bound to the pod: gone with it.
  await kubectlOk(server, v, ['delete', 'pod', 'sa-user', '--wait=true', '--timeout=60s']);
  const after = await until('the bound token refused', async () => {
    const r = await withToken(token, ['get', 'pods']);
    return r.code !== 0 && /Unauthorized/.test(r.stderr) ? r : undefined;
  });
  assert.match(after.stderr, /error: You must be logged in to the server \(Unauthorized\)/);
});
