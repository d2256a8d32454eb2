/**
 * ServiceAccount admission through kubectl, as upstream's plugin answers: without its service
 * account a pod is refused (the server runs without the controller manager, so `default` exists
 * only once the test makes it), a pod gets `default` and its token volume, a
 * ServiceAccount enforcing mountable secrets refuses the others (also for ephemeral containers,
 * with upstream's plain 500), and a mirror pod may reference no service account or secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureServiceAccount, kubectl, kubectlOk, kubectlVersions, useServer, type ServerHandle } from './harness.ts';
import { request, type Creds } from './api.ts';

let server!: ServerHandle;
let creds!: Creds;
useServer({ args: ['--disable-controller-manager', '--disable-scheduler'] }, (s, c) => {
  server = s;
  creds = c;
});
const v = kubectlVersions.at(-1)!;

const pod = (name: string, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, ...metadata },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
});
const create = (ns: string, obj: unknown) => kubectl(server, v, ['create', '-n', ns, '-f', '-'], { input: JSON.stringify(obj) });

test('a pod whose default ServiceAccount does not exist yet is refused; once it exists the pod runs as default with its token volume', async () => {
  await kubectlOk(server, v, ['create', 'namespace', 'early']);
  const r = await kubectl(server, v, ['run', 'first', '-n', 'early', '--image', 'busybox']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim(), 'Error from server (Forbidden): pods "first" is forbidden: error looking up service account early/default: serviceaccount "default" not found');
  await ensureServiceAccount(server, 'early');
  await kubectlOk(server, v, ['run', 'first', '-n', 'early', '--image', 'busybox']);
  const spec = JSON.parse(await kubectlOk(server, v, ['get', 'pod', 'first', '-n', 'early', '-o', 'jsonpath={.spec}']));
  assert.equal(spec.serviceAccountName, 'default');
  assert.match(spec.volumes[0].name, /^kube-api-access-[a-z0-9]{5}$/);
  assert.deepEqual(spec.containers[0].volumeMounts, [{ name: spec.volumes[0].name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
});

test('a pod naming a ServiceAccount that does not exist is refused', async () => {
  await ensureServiceAccount(server, 'default');
  const r = await create('default', pod('builder-pod', { serviceAccountName: 'builder' }));
  assert.equal(r.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": pods "builder-pod" is forbidden: error looking up service account default/builder: serviceaccount "builder" not found');
});

test('a ServiceAccount enforcing mountable secrets refuses the secrets it does not list, also for ephemeral containers', async () => {
  const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'locked', annotations: { 'kubernetes.io/enforce-mountable-secrets': 'true' } }, secrets: [{ name: 'allowed' }] };
  await kubectlOk(server, v, ['apply', '-n', 'default', '-f', '-'], { input: JSON.stringify(sa) });
  const volume = (secretName: string) => ({ volumes: [{ name: 's', secret: { secretName } }] });
  const refused = await create('default', pod('other-secret', { serviceAccountName: 'locked', ...volume('other') }));
  assert.equal(refused.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": pods "other-secret" is forbidden: volume with secret.secretName="other" is not allowed because service account locked does not reference that secret');
  const env = await create('default', pod('env-secret', { serviceAccountName: 'locked', containers: [{ name: 'c', image: 'busybox', envFrom: [{ secretRef: { name: 'other' } }] }] }));
  assert.match(env.stderr, /pods "env-secret" is forbidden: container c with envFrom referencing secret\.secretName="other" is not allowed because service account locked does not reference that secret/);
  const ok = await create('default', pod('allowed-secret', { serviceAccountName: 'locked', ...volume('allowed') }));
  assert.equal(ok.code, 0, ok.stderr);

  // An ephemeral container added later: upstream returns the plain error, a 500 without a reason.
  const current = JSON.parse(await kubectlOk(server, v, ['get', 'pod', 'allowed-secret', '-n', 'default', '-o', 'json']));
  current.spec.ephemeralContainers = [{ name: 'dbg', image: 'busybox', env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } }] }];
  const r = await request(creds, 'PUT', '/api/v1/namespaces/default/pods/allowed-secret/ephemeralcontainers', { body: JSON.stringify(current) });
  assert.equal(r.status, 500, r.body);
  assert.deepEqual(r.json(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'ephemeral container dbg with envVar PW referencing secret.secretName="other" is not allowed because service account locked does not reference that secret',
    code: 500,
  });
});

test('a mirror pod may not reference a ServiceAccount or a secret; one that references neither is left as it is', async () => {
  const mirror = { annotations: { 'kubernetes.io/config.mirror': 'hash' } };
  const named = await create('default', pod('mirror-sa', { serviceAccountName: 'default' }, mirror));
  assert.equal(named.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": pods "mirror-sa" is forbidden: a mirror pod may not reference service accounts');
  const secret = await create('default', pod('mirror-secret', { volumes: [{ name: 's', secret: { secretName: 'x' } }] }, mirror));
  assert.equal(secret.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": pods "mirror-secret" is forbidden: a mirror pod may not reference secrets');
  await kubectlOk(server, v, ['create', '-n', 'default', '-f', '-'], { input: JSON.stringify(pod('mirror-plain', {}, mirror)) });
  const spec = JSON.parse(await kubectlOk(server, v, ['get', 'pod', 'mirror-plain', '-n', 'default', '-o', 'jsonpath={.spec}']));
  assert.equal(spec.serviceAccountName, undefined);
  assert.equal(spec.volumes, undefined);
});
