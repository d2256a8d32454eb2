/**
 * Local-path storage as a user drives it with kubectl: `bosun server` has the default
 * StorageClass `local-path` (k3s's, provisioner bosun.dev/local-path; none with `--disable
 * local-storage`). On the real node agent: a claim of the default class waits for its first
 * consumer, is provisioned on the pod's node when the pod is scheduled and bound; the pod writes a
 * file, a later pod reads it back (read-only when its volume says so); deleting the claim removes
 * the volume and its directory. A generic ephemeral volume lives and dies with its pod.
 * Agent tests run under `flock /tmp/bosun-agent.lock`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Event, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../src/api/index.ts';
import { getPod, isPodReady, kubectl, kubectlOk, kubectlVersions, startServer, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const v = kubectlVersions.at(-1)!;
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));

const getJson = async <T>(s: ServerHandle, args: string[]): Promise<T> => JSON.parse(await kubectlOk(s, v, ['get', ...args, '-o', 'json'])) as T;
const tryJson = async <T>(s: ServerHandle, args: string[]): Promise<T | undefined> => {
  const r = await kubectl(s, v, ['get', ...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
};
const create = (o: unknown) => kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify(o) });
const detail = () => server.output().slice(-4000);

function claim(name: string, x: Record<string, unknown> = {}): PersistentVolumeClaim {
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } }, ...x } };
}

function pod(name: string, script: string, volumes: NonNullable<Pod['spec']>['volumes'], readOnlyMount = false): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: busyboxImage, command: ['sh', '-c', script], volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: readOnlyMount }] }],
      volumes,
    },
  };
}

async function waitReady(name: string): Promise<Pod> {
  return until(`pod ${name} Ready`, async () => {
    const p = await getPod(server, name);
    return isPodReady(p) ? p : undefined;
  }, { timeoutMs: 90_000, detail });
}

async function claimEvents(name: string): Promise<Event[]> {
  return (await getJson<{ items: Event[] }>(server, ['events', '--field-selector', `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${name}`])).items;
}

test('bosun server has the default StorageClass local-path, and none with --disable local-storage', async () => {
  const plain = await startServer({ args: ['--disable-controller-manager', '--disable-scheduler'] });
  const disabled = await startServer({ args: ['--disable-controller-manager', '--disable-scheduler', '--disable', 'local-storage'] });
  try {
    const sc = await getJson<StorageClass>(plain, ['storageclass', 'local-path']);
    assert.deepEqual(
      { provisioner: sc.provisioner, reclaimPolicy: sc.reclaimPolicy, volumeBindingMode: sc.volumeBindingMode, allowVolumeExpansion: sc.allowVolumeExpansion, annotations: sc.metadata.annotations },
      { provisioner: 'bosun.dev/local-path', reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer', allowVolumeExpansion: true, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    );
    for (const kv of kubectlVersions) {
      assert.match(await kubectlOk(plain, kv, ['get', 'storageclass']), /^local-path \(default\)\s+bosun\.dev\/local-path\s+Delete\s+WaitForFirstConsumer\s+true\s/m);
    }
    assert.equal((await getJson<{ items: StorageClass[] }>(disabled, ['storageclass'])).items.length, 0);
  } finally {
    await Promise.all([plain.stop(), disabled.stop()]);
  }
});

test('a claim of the default class is provisioned on its first consumer’s node; a second pod reads what the first wrote; deleting the claim removes volume and directory', { skip, timeout: 240_000 }, async () => {
  await waitForServiceAccount(server, 'default');
  await create(claim('data'));
  const pending = await getJson<PersistentVolumeClaim>(server, ['pvc', 'data']);
  assert.equal(pending.spec?.storageClassName, 'local-path');
  assert.equal(pending.status?.phase, 'Pending');
  assert.equal((await getJson<{ items: PersistentVolume[] }>(server, ['pv'])).items.length, 0, 'WaitForFirstConsumer: no volume before a pod uses the claim');

  await create(pod('writer', 'echo "written by $HOSTNAME" > /data/hello && sleep 3600', [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]));
  const writer = await waitReady('writer');
  const bound = await until('claim data Bound', async () => {
    const c = await getJson<PersistentVolumeClaim>(server, ['pvc', 'data']);
    return c.status?.phase === 'Bound' ? c : undefined;
  }, { timeoutMs: 30_000, detail });
  const node = writer.spec!.nodeName!;
  assert.equal(bound.metadata.annotations?.['volume.kubernetes.io/selected-node'], node);
  const pvName = `pvc-${bound.metadata.uid}`;
  assert.equal(bound.spec?.volumeName, pvName);
  const pv = await getJson<PersistentVolume>(server, ['pv', pvName]);
  const dir = path.join(server.dataDir, 'agent', 'storage', `${pvName}_default_data`);
  assert.deepEqual(pv.spec?.hostPath, { path: dir, type: 'DirectoryOrCreate' });
  assert.deepEqual(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions, [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }]);
  assert.equal(pv.spec?.persistentVolumeReclaimPolicy, 'Delete');
  assert.deepEqual(pv.spec?.capacity, { storage: '64Mi' });
  assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'bosun.dev/local-path');
  assert.equal(await fs.readFile(path.join(dir, 'hello'), 'utf8'), 'written by writer\n');
  const events = await claimEvents('data');
  assert.ok(events.some((e) => e.reason === 'ProvisioningSucceeded' && e.message === `Successfully provisioned volume ${pvName}` && e.source?.component === `bosun.dev/local-path_${node}`), JSON.stringify(events.map((e) => [e.reason, e.message])));
  assert.match(await kubectlOk(server, v, ['get', 'pvc', 'data']), new RegExp(`^data\\s+Bound\\s+${pvName}\\s+64Mi\\s+RWO\\s+local-path\\s`, 'm'));

  await kubectlOk(server, v, ['delete', 'pod', 'writer', '--wait=true', '--timeout=60s']);
  // The reader mounts the claim read-only (the volume source says so): it reads, it cannot write.
  await create(pod('reader', 'cat /data/hello; touch /data/new 2>/dev/null && echo writable || echo read-only; sleep 3600', [{ name: 'data', persistentVolumeClaim: { claimName: 'data', readOnly: true } }]));
  await waitReady('reader');
  const logs = await until('the reader’s output', async () => {
    const out = await kubectlOk(server, v, ['logs', 'reader']);
    return out.split('\n').length > 2 ? out : undefined;
  }, { timeoutMs: 30_000, detail });
  assert.equal(logs, 'written by writer\nread-only\n');

  await kubectlOk(server, v, ['delete', 'pod', 'reader', '--wait=true', '--timeout=60s']);
  await kubectlOk(server, v, ['delete', 'pvc', 'data', '--wait=true', '--timeout=60s']);
  await until(`volume ${pvName} deleted`, async () => !(await tryJson<PersistentVolume>(server, ['pv', pvName])), { timeoutMs: 60_000, detail });
  await assert.rejects(fs.lstat(dir), { code: 'ENOENT' });
});

test('a generic ephemeral volume of the default class is provisioned for its pod and removed with it', { skip, timeout: 180_000 }, async () => {
  await waitForServiceAccount(server, 'default');
  await create(pod('scratch', 'echo temp > /data/t && cat /data/t && sleep 3600', [{ name: 'data', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } } } } }]));
  const p = await waitReady('scratch');
  const c = await getJson<PersistentVolumeClaim>(server, ['pvc', 'scratch-data']);
  assert.deepEqual(c.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [['Pod', 'scratch', p.metadata.uid, true]]);
  assert.equal(c.spec?.storageClassName, 'local-path');
  const pvName = c.spec!.volumeName!;
  const dir = path.join(server.dataDir, 'agent', 'storage', `${pvName}_default_scratch-data`);
  assert.equal(await fs.readFile(path.join(dir, 't'), 'utf8'), 'temp\n');
  await kubectlOk(server, v, ['delete', 'pod', 'scratch', '--wait=true', '--timeout=60s']);
  await until(`claim scratch-data and volume ${pvName} gone`, async () => !(await tryJson(server, ['pvc', 'scratch-data'])) && !(await tryJson(server, ['pv', pvName])), { timeoutMs: 60_000, detail });
  await assert.rejects(fs.lstat(dir), { code: 'ENOENT' });
});
