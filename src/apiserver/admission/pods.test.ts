/**
 * The ServiceAccount admission plugin against upstream's cases (plugin/pkg/admission/serviceaccount
 * admission_test.go): defaulting and the token volume, a missing service account refused with
 * upstream's message (after the lookups upstream retries), mountable-secret enforcement on
 * create and for ephemeral containers, mirror pods, and the operations it ignores. Lookups read a
 * map standing in for the API server's cache; retry pauses are zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, ServiceAccount } from '../../api/index.ts';
import type { KubeObject, UserInfo } from '../../api/types.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { StatusError } from '../../api/errors.ts';
import { podSecretNames, serviceAccountAdmission, serviceAccountMountPath } from './pods.ts';
import type { AdmissionAttributes } from './types.ts';

const podDef = builtinResources.find((r) => r.group === '' && r.plural === 'pods')!;
const admin: UserInfo = { username: 'admin', groups: ['system:masters'] };

function pod(name: string, spec: Partial<NonNullable<Pod['spec']>> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', ...meta }, spec: { containers: [{ name: 'app', image: 'nginx' }], ...spec } };
}

function sa(name: string, x: Partial<ServiceAccount> = {}, annotations?: Record<string, string>): ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'ns', ...(annotations ? { annotations } : {}) }, ...x };
}

const enforcing = (x: Partial<ServiceAccount> = {}) => sa('default', { secrets: [{ name: 'allowed' }], ...x }, { 'kubernetes.io/enforce-mountable-secrets': 'true' });

function attrs(p: Pod, x: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: 'CREATE', def: podDef, version: 'v1', namespace: 'ns', name: p.metadata.name ?? '', subresource: '', object: structuredClone(p) as unknown as KubeObject, user: admin, dryRun: false, ...x };
}

/** A plugin over the given accounts; `calls` counts lookups. */
function plugin(accounts: ServiceAccount[]) {
  const calls = { n: 0 };
  const p = serviceAccountAdmission(
    (ns, name) => {
      calls.n++;
      return accounts.find((s) => s.metadata.namespace === ns && s.metadata.name === name) as unknown as KubeObject | undefined;
    },
    { retryIntervalMs: () => 0 },
  );
  return { p, calls };
}

/** Both phases, as the API server runs them; 'ok' or `<code> <reason>: <message>`. */
async function run(accounts: ServiceAccount[], a: AdmissionAttributes): Promise<string> {
  const { p } = plugin(accounts);
  try {
    await p.admit!(a);
    await p.validate!(a);
    return 'ok';
  } catch (err) {
    if (err instanceof StatusError) return `${err.status.code} ${err.status.reason ?? ''}: ${err.status.message}`;
    throw err;
  }
}

const secretVolume = (name: string) => ({ name: 'v', secret: { secretName: name } });
const mirror = { annotations: { 'kubernetes.io/config.mirror': 'hash' } };

const cases: { name: string; accounts: ServiceAccount[]; attrs: AdmissionAttributes; want: string }[] = [
  { name: 'a pod of an existing default account is admitted', accounts: [sa('default')], attrs: attrs(pod('p')), want: 'ok' },
  {
    name: 'a pod whose default account does not exist is refused with upstream\'s message',
    accounts: [],
    attrs: attrs(pod('p')),
    want: '403 Forbidden: pods "p" is forbidden: error looking up service account ns/default: serviceaccount "default" not found',
  },
  {
    name: 'a pod naming a missing account is refused',
    accounts: [sa('default')],
    attrs: attrs(pod('p', { serviceAccountName: 'builder' })),
    want: '403 Forbidden: pods "p" is forbidden: error looking up service account ns/builder: serviceaccount "builder" not found',
  },
  {
    name: 'an account of the same name in another namespace does not count',
    accounts: [{ ...sa('builder'), metadata: { name: 'builder', namespace: 'other' } }],
    attrs: attrs(pod('p', { serviceAccountName: 'builder' })),
    want: '403 Forbidden: pods "p" is forbidden: error looking up service account ns/builder: serviceaccount "builder" not found',
  },
  {
    name: 'a pod named by generateName is refused under its generateName',
    accounts: [],
    attrs: attrs(pod('', {}, { name: undefined, generateName: 'web-' })),
    want: '403 Forbidden: pods "web-" is forbidden: error looking up service account ns/default: serviceaccount "default" not found',
  },
  {
    name: 'the deprecated serviceAccount field names the account too',
    accounts: [sa('default')],
    attrs: attrs(pod('p', { serviceAccount: 'legacy' })),
    want: '403 Forbidden: pods "p" is forbidden: error looking up service account ns/legacy: serviceaccount "legacy" not found',
  },
  { name: 'a secret volume is allowed without enforcement', accounts: [sa('default')], attrs: attrs(pod('p', { volumes: [secretVolume('other')] })), want: 'ok' },
  { name: 'a listed secret is allowed under enforcement', accounts: [enforcing()], attrs: attrs(pod('p', { volumes: [secretVolume('allowed')] })), want: 'ok' },
  {
    name: 'an unlisted secret volume is refused under enforcement',
    accounts: [enforcing()],
    attrs: attrs(pod('p', { volumes: [secretVolume('other')] })),
    want: '403 Forbidden: pods "p" is forbidden: volume with secret.secretName="other" is not allowed because service account default does not reference that secret',
  },
  {
    name: 'an enforcement annotation that is not true enforces nothing',
    accounts: [sa('default', { secrets: [] }, { 'kubernetes.io/enforce-mountable-secrets': 'no' })],
    attrs: attrs(pod('p', { volumes: [secretVolume('other')] })),
    want: 'ok',
  },
  {
    name: 'an unlisted secret in an init container\'s env is refused',
    accounts: [enforcing()],
    attrs: attrs(pod('p', { initContainers: [{ name: 'init', image: 'i', env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } }] }] })),
    want: '403 Forbidden: pods "p" is forbidden: init container init with envVar PW referencing secret.secretName="other" is not allowed because service account default does not reference that secret',
  },
  {
    name: 'an unlisted secret in a container\'s envFrom is refused',
    accounts: [enforcing()],
    attrs: attrs(pod('p', { containers: [{ name: 'app', image: 'i', envFrom: [{ secretRef: { name: 'other' } }] }] })),
    want: '403 Forbidden: pods "p" is forbidden: container app with envFrom referencing secret.secretName="other" is not allowed because service account default does not reference that secret',
  },
  {
    name: 'an image pull secret the account does not list is refused under enforcement',
    accounts: [enforcing({ imagePullSecrets: [{ name: 'reg' }] })],
    attrs: attrs(pod('p', { imagePullSecrets: [{ name: 'reg' }, { name: 'mine' }] })),
    want: '403 Forbidden: pods "p" is forbidden: imagePullSecrets[1].name="mine" is not allowed because service account default does not reference that imagePullSecret',
  },
  { name: 'a mirror pod without references is admitted without any account', accounts: [], attrs: attrs(pod('static', {}, mirror)), want: 'ok' },
  {
    name: 'a mirror pod may not name a service account',
    accounts: [sa('default')],
    attrs: attrs(pod('static', { serviceAccountName: 'default' }, mirror)),
    want: '403 Forbidden: pods "static" is forbidden: a mirror pod may not reference service accounts',
  },
  {
    name: 'a mirror pod may not reference a secret',
    accounts: [],
    attrs: attrs(pod('static', { containers: [{ name: 'app', image: 'i', env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }] }, mirror)),
    want: '403 Forbidden: pods "static" is forbidden: a mirror pod may not reference secrets',
  },
  {
    name: 'a mirror pod may not project a service account token',
    accounts: [],
    attrs: attrs(pod('static', { volumes: [{ name: 't', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }] }, mirror)),
    want: '403 Forbidden: pods "static" is forbidden: a mirror pod may not use ServiceAccountToken volume projections',
  },
  {
    name: 'an ephemeral container referencing an unlisted secret is refused with a plain 500',
    accounts: [enforcing()],
    attrs: attrs(pod('p', { serviceAccountName: 'default', ephemeralContainers: [{ name: 'dbg', image: 'i', env: [{ name: 'E', valueFrom: { secretKeyRef: { name: 'other', key: 'k' } } }] }] }), {
      operation: 'UPDATE',
      subresource: 'ephemeralcontainers',
    }),
    want: '500 : ephemeral container dbg with envVar E referencing secret.secretName="other" is not allowed because service account default does not reference that secret',
  },
  {
    name: 'an ephemeral container referencing a listed secret is admitted',
    accounts: [enforcing()],
    attrs: attrs(pod('p', { serviceAccountName: 'default', ephemeralContainers: [{ name: 'dbg', image: 'i', envFrom: [{ secretRef: { name: 'allowed' } }] }] }), {
      operation: 'UPDATE',
      subresource: 'ephemeralcontainers',
    }),
    want: 'ok',
  },
  {
    name: 'ephemeral containers of a pod without a service account are refused',
    accounts: [],
    attrs: attrs(pod('p', { ephemeralContainers: [{ name: 'dbg', image: 'i' }] }), { operation: 'UPDATE', subresource: 'ephemeralcontainers' }),
    want: '403 Forbidden: pods "p" is forbidden: no service account specified for pod ns/p',
  },
  {
    name: 'an update of a pod whose account is gone passes',
    accounts: [],
    attrs: attrs(pod('p', { serviceAccountName: 'gone' }), { operation: 'UPDATE' }),
    want: 'ok',
  },
  {
    name: 'a status update passes',
    accounts: [],
    attrs: attrs(pod('p', { serviceAccountName: 'gone' }), { operation: 'UPDATE', subresource: 'status' }),
    want: 'ok',
  },
];

for (const c of cases) test(c.name, async () => assert.equal(await run(c.accounts, c.attrs), c.want));

test('a missing default account is looked up ten more times before the pod is refused, another account once more', async () => {
  const { p, calls } = plugin([]);
  await assert.rejects(async () => p.admit!(attrs(pod('p'))), StatusError);
  assert.equal(calls.n, 11);
  calls.n = 0;
  await assert.rejects(async () => p.admit!(attrs(pod('p', { serviceAccountName: 'builder' }))), StatusError);
  assert.equal(calls.n, 2);
});

test('a default account that appears while the plugin retries admits the pod', async () => {
  const accounts: ServiceAccount[] = [];
  const { p, calls } = plugin(accounts);
  const a = attrs(pod('p'));
  const admitting = p.admit!(a);
  // The first lookup has missed; the account is created before the retries run out.
  accounts.push(sa('default'));
  await admitting;
  assert.ok(calls.n >= 2 && calls.n <= 11);
});

test('the default account is set and the token volume mounted in every container and init container', async () => {
  const { p } = plugin([sa('default')]);
  const a = attrs(pod('p', { initContainers: [{ name: 'init', image: 'i' }], containers: [{ name: 'a', image: 'i' }, { name: 'b', image: 'i' }] }));
  await p.admit!(a);
  const spec = (a.object as unknown as Pod).spec!;
  assert.equal(spec.serviceAccountName, 'default');
  assert.equal(spec.serviceAccount, 'default');
  assert.equal(spec.volumes?.length, 1);
  const vol = spec.volumes![0]!;
  assert.match(vol.name, /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.deepEqual(vol.projected, {
    defaultMode: 420,
    sources: [
      { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
    ],
  });
  for (const c of [...spec.initContainers!, ...spec.containers]) assert.deepEqual(c.volumeMounts, [{ name: vol.name, readOnly: true, mountPath: serviceAccountMountPath }]);
});

test('a container that mounts something at the token path keeps it; the others get the token volume', async () => {
  const { p } = plugin([sa('default')]);
  const mine = { name: 'mine', mountPath: serviceAccountMountPath };
  const a = attrs(pod('p', { containers: [{ name: 'a', image: 'i', volumeMounts: [mine] }, { name: 'b', image: 'i' }], volumes: [{ name: 'mine', emptyDir: {} }] }));
  await p.admit!(a);
  const spec = (a.object as unknown as Pod).spec!;
  assert.deepEqual(spec.containers[0]!.volumeMounts, [mine]);
  assert.equal(spec.volumes?.length, 2);
  assert.deepEqual(spec.containers[1]!.volumeMounts, [{ name: spec.volumes![1]!.name, readOnly: true, mountPath: serviceAccountMountPath }]);
});

test('no token volume when every container already mounts the path', async () => {
  const { p } = plugin([sa('default')]);
  const a = attrs(pod('p', { containers: [{ name: 'a', image: 'i', volumeMounts: [{ name: 'mine', mountPath: serviceAccountMountPath }] }], volumes: [{ name: 'mine', emptyDir: {} }] }));
  await p.admit!(a);
  assert.deepEqual((a.object as unknown as Pod).spec!.volumes, [{ name: 'mine', emptyDir: {} }]);
});

test('an existing kube-api-access-* volume is reused, not added again', async () => {
  const { p } = plugin([sa('default')]);
  const a = attrs(pod('p', { volumes: [{ name: 'kube-api-access-abcde', emptyDir: {} }] }));
  await p.admit!(a);
  const spec = (a.object as unknown as Pod).spec!;
  assert.deepEqual(spec.volumes, [{ name: 'kube-api-access-abcde', emptyDir: {} }]);
  assert.deepEqual(spec.containers[0]!.volumeMounts, [{ name: 'kube-api-access-abcde', readOnly: true, mountPath: serviceAccountMountPath }]);
});

test('automount: the pod\'s choice wins over the account\'s', async () => {
  const table = [
    { pod: undefined, sa: undefined, mounted: true },
    { pod: false, sa: undefined, mounted: false },
    { pod: undefined, sa: false, mounted: false },
    { pod: true, sa: false, mounted: true },
    { pod: false, sa: true, mounted: false },
  ];
  for (const t of table) {
    const { p } = plugin([sa('default', t.sa === undefined ? {} : { automountServiceAccountToken: t.sa })]);
    const a = attrs(pod('p', t.pod === undefined ? {} : { automountServiceAccountToken: t.pod }));
    await p.admit!(a);
    assert.equal(!!(a.object as unknown as Pod).spec!.volumes?.length, t.mounted, JSON.stringify(t));
  }
});

test('the account\'s image pull secrets are copied to a pod that names none, never to one that does', async () => {
  const { p } = plugin([sa('default', { imagePullSecrets: [{ name: 'reg' }, { name: 'reg2' }] })]);
  const a = attrs(pod('p'));
  await p.admit!(a);
  assert.deepEqual((a.object as unknown as Pod).spec!.imagePullSecrets, [{ name: 'reg' }, { name: 'reg2' }]);
  const b = attrs(pod('q', { imagePullSecrets: [{ name: 'mine' }] }));
  await p.admit!(b);
  assert.deepEqual((b.object as unknown as Pod).spec!.imagePullSecrets, [{ name: 'mine' }]);
});

test('a mirror pod is not changed', async () => {
  const { p } = plugin([sa('default')]);
  const before = pod('static', {}, mirror);
  const a = attrs(before);
  await p.admit!(a);
  assert.deepEqual(a.object, before);
});

test('every kind of secret reference of a pod is found', () => {
  const names = podSecretNames({
    imagePullSecrets: [{ name: 'pull' }, { name: '' }],
    initContainers: [{ name: 'i', envFrom: [{ secretRef: { name: 'init-from' } }] }],
    containers: [{ name: 'c', env: [{ name: 'E', valueFrom: { secretKeyRef: { name: 'env', key: 'k' } } }, { name: 'F', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }] }],
    ephemeralContainers: [{ name: 'e', envFrom: [{ secretRef: { name: 'eph' } }] }],
    volumes: [
      { name: 'a', secret: { secretName: 'vol' } },
      { name: 'b', projected: { sources: [{ secret: { name: 'proj' } }, { configMap: { name: 'cm' } }] } },
      { name: 'c', csi: { driver: 'd', nodePublishSecretRef: { name: 'csi' } } },
      { name: 'd', azureFile: { secretName: 'azure', shareName: 's' } },
      { name: 'e', configMap: { name: 'cm' } },
    ],
  });
  assert.deepEqual(names, ['pull', 'init-from', 'env', 'eph', 'vol', 'proj', 'csi', 'azure']);
});
