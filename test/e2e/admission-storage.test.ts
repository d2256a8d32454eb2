/**
 * Storage and ingress admission as upstream's plugins, through kubectl against `bosun server`
 * (no agent): DefaultStorageClass and StorageObjectInUseProtection on a new claim (and the
 * pv-protection finalizer on a new volume), PersistentVolumeClaimResize refusing to grow a claim
 * whose StorageClass does not allow expansion (upstream's words) and letting one that does, and
 * DefaultIngressClass on a new Ingress. Claims are marked Bound through the status subresource.
 * The server runs with `--disable local-storage`: the tests make their own default class (with
 * `local-path` also a default, one created in the same second would lose to it by name).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, type ServerHandle } from './harness.ts';

let server!: ServerHandle;
useServer({ args: ['--disable', 'local-storage'] }, (s) => (server = s));
const v = kubectlVersions.at(-1)!;
const ns = 'storage';

const apply = (o: unknown) => kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(o) });
const getJson = async (args: string[]) => JSON.parse(await kubectlOk(server, v, ['get', ...args, '-o', 'json']));
const storageClass = (name: string, x: Record<string, unknown> = {}) => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner: 'example.com/none', ...x });
const claim = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace: ns },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
});
/** What a volume binder would write: the claim Bound at its requested size. */
const markBound = (name: string) =>
  kubectlOk(server, v, ['patch', 'pvc', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } } })]);
const grow = (name: string) => kubectl(server, v, ['patch', 'pvc', name, '-n', ns, '-p', JSON.stringify({ spec: { resources: { requests: { storage: '2Gi' } } } })]);

test('a new claim gets the default StorageClass and the pvc-protection finalizer; a new volume the pv-protection one', async () => {
  await kubectlOk(server, v, ['create', 'namespace', ns]);
  await apply(storageClass('standard', { metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } }));
  await apply(storageClass('other'));
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(claim('data')) });
  const pvc = await getJson(['pvc', 'data', '-n', ns]);
  assert.equal(pvc.spec.storageClassName, 'standard');
  assert.deepEqual(pvc.metadata.finalizers, ['kubernetes.io/pvc-protection']);
  // A claim that names a class, even "" (no class), keeps it.
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(claim('static', { storageClassName: '' })) });
  assert.equal((await getJson(['pvc', 'static', '-n', ns])).spec.storageClassName, '');
  assert.match(await kubectlOk(server, v, ['get', 'storageclass', 'standard']), /standard \(default\)/);
  const pv = { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'disk-1' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/tmp/disk-1' } } };
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(pv) });
  assert.deepEqual((await getJson(['pv', 'disk-1'])).metadata.finalizers, ['kubernetes.io/pv-protection']);
});

test('growing a bound claim is refused unless its StorageClass allows volume expansion', async () => {
  await apply(storageClass('fixed', { allowVolumeExpansion: false }));
  await apply(storageClass('elastic', { allowVolumeExpansion: true }));
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(claim('fixed-claim', { storageClassName: 'fixed' })) });
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(claim('elastic-claim', { storageClassName: 'elastic' })) });
  await markBound('fixed-claim');
  await markBound('elastic-claim');
  const refused = await grow('fixed-claim');
  assert.notEqual(refused.code, 0);
  assert.equal(
    refused.stderr.trim(),
    'Error from server (Forbidden): persistentvolumeclaims "fixed-claim" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize',
  );
  assert.equal((await getJson(['pvc', 'fixed-claim', '-n', ns])).spec.resources.requests.storage, '1Gi');
  const allowed = await grow('elastic-claim');
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal((await getJson(['pvc', 'elastic-claim', '-n', ns])).spec.resources.requests.storage, '2Gi');
});

test('a new Ingress without a class gets the default IngressClass', async () => {
  await apply({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'plain' }, spec: { controller: 'example.com/plain' } });
  await apply({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'main', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'example.com/main' } });
  await kubectlOk(server, v, ['create', 'ingress', 'web', '-n', ns, '--rule=example.com/=web:80']);
  const ing = await getJson(['ingress', 'web', '-n', ns]);
  assert.equal(ing.spec.ingressClassName, 'main');
  assert.match(await kubectlOk(server, v, ['get', 'ingress', 'web', '-n', ns]), /^web\s+main\s+example\.com/m);
  // One that names its class keeps it.
  await kubectlOk(server, v, ['create', 'ingress', 'named', '-n', ns, '--class=plain', '--rule=example.com/=web:80']);
  assert.equal((await getJson(['ingress', 'named', '-n', ns])).spec.ingressClassName, 'plain');
});

test('deleting a claim no pod uses completes (the pvc-protection controller removes the finalizer)', async () => {
  await kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(claim('scratch')) });
  await kubectlOk(server, v, ['delete', 'pvc', 'scratch', '-n', ns, '--wait=false']);
  await until('claim scratch gone', async () => (await kubectl(server, v, ['get', 'pvc', 'scratch', '-n', ns])).code !== 0, { timeoutMs: 30_000 });
});
