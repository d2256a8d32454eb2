/**
 * The local-path provisioner against an in-process API server and a temporary storage root:
 * which claims it provisions (annotation, selected node, owned node, binding mode), the volume's
 * shape and directory, refusals with upstream's events, deletion of Released volumes by reclaim
 * policy and finalizer, Immediate claims settled between two nodes by the PV's name, and removal
 * that never leaves the root nor follows a symlink. No PV binder runs: tests write the phases.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Event, PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/index.ts';
import { startTestApi, until, type TestApi } from '../controllers/testing.ts';
import {
  annSelectedNode,
  annStorageProvisioner,
  diskFs,
  localPathProvisionerName,
  localPathVolume,
  provisionerFinalizer,
  startLocalPathProvisioner,
  volumeDir,
  volumeNode,
  type LocalPathProvisioner,
} from './localpath.ts';

let t!: TestApi;
const tmp = fsSync.mkdtempSync(path.join(os.tmpdir(), 'bosun-localpath-test-'));
const rootOf = (node: string) => path.join(tmp, node, 'storage');
const abort = new AbortController();
const provisioners: LocalPathProvisioner[] = [];
const logs: string[] = [];

before(async () => {
  t = await startTestApi('local-path');
  const cls = (name: string, x: Partial<StorageClass> = {}): StorageClass => ({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner: localPathProvisionerName, reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer', ...x });
  await t.cs.storageClasses.create(cls('local-path'));
  await t.cs.storageClasses.create(cls('keep', { reclaimPolicy: 'Retain' }));
  await t.cs.storageClasses.create(cls('now', { volumeBindingMode: 'Immediate' }));
  await t.cs.storageClasses.create(cls('other', { provisioner: 'example.com/other' }));
  // Two nodes' agents, each with its own root; both offer themselves for Immediate claims.
  for (const node of ['n1', 'n2']) {
    provisioners.push(startLocalPathProvisioner({ client: t.client, ownsNode: (n) => n === node, root: rootOf, fs: diskFs, immediateNode: () => node, identity: node, signal: abort.signal, log: (m) => logs.push(m) }));
  }
});

after(async () => {
  if (process.env.LP_DEBUG) console.log(logs.join('\n'));
  abort.abort();
  await Promise.all(provisioners.map((p) => p.stopped));
  await t.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

let seq = 0;
async function makeClaim(o: { cls?: string; node?: string; provisioner?: string | null; spec?: Partial<NonNullable<PersistentVolumeClaim['spec']>> } = {}): Promise<PersistentVolumeClaim> {
  const annotations: Record<string, string> = {};
  if (o.provisioner !== null) annotations[annStorageProvisioner] = o.provisioner ?? localPathProvisionerName;
  if (o.node) annotations[annSelectedNode] = o.node;
  return t.cs.persistentVolumeClaims.create(
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: `data-${++seq}`, namespace: 'default', annotations },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } }, storageClassName: o.cls ?? 'local-path', ...o.spec },
    },
    { namespace: 'default' },
  );
}

const pvOf = (c: PersistentVolumeClaim) => `pvc-${c.metadata.uid}`;
const getPv = (name: string) => t.cs.persistentVolumes.get(name).catch(() => undefined);
const exists = (p: string) => fs.lstat(p).then(() => true, () => false);

async function eventsOf(c: PersistentVolumeClaim | PersistentVolume): Promise<Event[]> {
  const list = await t.cs.events.list({ namespace: c.metadata.namespace ?? 'default' });
  return list.items.filter((e) => e.involvedObject.uid === c.metadata.uid);
}

async function waitEvent(c: PersistentVolumeClaim | PersistentVolume, reason: string): Promise<Event> {
  return until(`event ${reason} on ${c.metadata.name}`, async () => (await eventsOf(c)).find((e) => e.reason === reason));
}

/** Gives the provisioners time to act on an object they must leave alone: another object queued later is done. */
async function settle(): Promise<void> {
  const marker = await makeClaim({ node: 'n1' });
  await until('a later claim provisioned', () => getPv(pvOf(marker)));
}

test('a claim selected to its node is provisioned in k3s shape: directory 0777, PV bound to the claim by uid', async () => {
  const claim = await makeClaim({ node: 'n1' });
  const pv = await until('the volume', () => getPv(pvOf(claim)));
  const dir = path.join(rootOf('n1'), `pvc-${claim.metadata.uid}_default_${claim.metadata.name}`);
  assert.deepEqual(
    { ...pv.spec, claimRef: { ...pv.spec?.claimRef, resourceVersion: undefined } },
    {
      persistentVolumeReclaimPolicy: 'Delete',
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      capacity: { storage: '2Gi' },
      hostPath: { path: dir, type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }] } },
      claimRef: { kind: 'PersistentVolumeClaim', namespace: 'default', name: claim.metadata.name, uid: claim.metadata.uid, apiVersion: 'v1', resourceVersion: undefined },
      storageClassName: 'local-path',
    },
  );
  assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'bosun.dev/local-path');
  assert.deepEqual(pv.metadata.finalizers, [provisionerFinalizer]);
  assert.equal((await fs.stat(dir)).mode & 0o777, 0o777);
  assert.equal(await exists(path.join(rootOf('n2'), path.basename(dir))), false);
  assert.equal((await waitEvent(claim, 'Provisioning')).message, `External provisioner is provisioning volume for claim "default/${claim.metadata.name}"`);
  const ok = await waitEvent(claim, 'ProvisioningSucceeded');
  assert.equal(ok.message, `Successfully provisioned volume ${pvOf(claim)}`);
  assert.equal(ok.source?.component, 'bosun.dev/local-path_n1');
});

test('claims another provisioner, no node, or another class provisioner asks for are left alone', async () => {
  const unannotated = await makeClaim({ node: 'n1', provisioner: null });
  const foreign = await makeClaim({ node: 'n1', provisioner: 'example.com/other' });
  const waiting = await makeClaim({});
  const unknownNode = await makeClaim({ node: 'n9' });
  await settle();
  for (const c of [unannotated, foreign, waiting, unknownNode]) {
    assert.equal(await getPv(pvOf(c)), undefined, c.metadata.name);
    assert.deepEqual(await eventsOf(c), [], c.metadata.name);
  }
});

test('volumeMode Block is refused with ProvisioningFailed, and not retried', async () => {
  const claim = await makeClaim({ node: 'n1', spec: { volumeMode: 'Block' } });
  const ev = await waitEvent(claim, 'ProvisioningFailed');
  assert.equal(ev.message, 'bosun.dev/local-path does not support block volume provisioning');
  assert.equal(ev.type, 'Warning');
  await settle();
  assert.equal(await getPv(pvOf(claim)), undefined);
  assert.equal((await eventsOf(claim)).find((e) => e.reason === 'ProvisioningFailed')?.count ?? 1, 1);
});

test("access modes other than ReadWriteOnce(Pod) are refused with k3s's words", async () => {
  const claim = await makeClaim({ node: 'n2', spec: { accessModes: ['ReadWriteMany'] } });
  const ev = await waitEvent(claim, 'ProvisioningFailed');
  assert.equal(ev.message, 'failed to provision volume with StorageClass "local-path": NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes');
  assert.equal(await getPv(pvOf(claim)), undefined);
});

test('a Released volume with reclaimPolicy Delete loses its directory, then the volume and its finalizer', async () => {
  const claim = await makeClaim({ node: 'n2' });
  const pv = await until('the volume', () => getPv(pvOf(claim)));
  const dir = pv.spec!.hostPath!.path;
  await fs.writeFile(path.join(dir, 'data'), 'kept until released');
  await t.cs.persistentVolumes.patchStatus(pv.metadata.name!, { status: { phase: 'Bound' } }, { type: 'merge' });
  await t.cs.persistentVolumeClaims.delete(claim.metadata.name!, { namespace: 'default' });
  await t.cs.persistentVolumes.patchStatus(pv.metadata.name!, { status: { phase: 'Released' } }, { type: 'merge' });
  await until('the volume gone', async () => ((await getPv(pv.metadata.name!)) ? undefined : true));
  assert.equal(await exists(dir), false);
  assert.equal(await exists(rootOf('n2')), true);
});

test('a Released volume with reclaimPolicy Retain keeps its directory and volume, and loses the finalizer', async () => {
  const claim = await makeClaim({ cls: 'keep', node: 'n1' });
  const pv = await until('the volume', () => getPv(pvOf(claim)));
  assert.equal(pv.spec?.persistentVolumeReclaimPolicy, 'Retain');
  await t.cs.persistentVolumes.patchStatus(pv.metadata.name!, { status: { phase: 'Released' } }, { type: 'merge' });
  await until('the finalizer removed', async () => (((await getPv(pv.metadata.name!))?.metadata.finalizers ?? []).includes(provisionerFinalizer) ? undefined : true));
  await settle();
  assert.ok(await getPv(pv.metadata.name!));
  assert.equal(await exists(pv.spec!.hostPath!.path), true);
});

test('a Bound Delete volume of this provisioner gets the finalizer back', async () => {
  const claim = await makeClaim({ node: 'n1' });
  const pv = await until('the volume', () => getPv(pvOf(claim)));
  await t.cs.persistentVolumes.patch(pv.metadata.name!, { metadata: { '$deleteFromPrimitiveList/finalizers': [provisionerFinalizer] } }, { type: 'strategic' });
  await t.cs.persistentVolumes.patchStatus(pv.metadata.name!, { status: { phase: 'Bound' } }, { type: 'merge' });
  await until('the finalizer back', async () => ((await getPv(pv.metadata.name!))?.metadata.finalizers?.includes(provisionerFinalizer) ? true : undefined));
});

test('an Immediate claim is provisioned once, on the node that created the volume; the other removes its directory', async () => {
  const claim = await makeClaim({ cls: 'now' });
  const pv = await until('the volume', () => getPv(pvOf(claim)));
  const winner = volumeNode(pv);
  const loser = winner === 'n1' ? 'n2' : 'n1';
  assert.ok(['n1', 'n2'].includes(winner));
  const name = `pvc-${claim.metadata.uid}_default_${claim.metadata.name}`;
  assert.equal(await exists(path.join(rootOf(winner), name)), true);
  await until(`no directory on ${loser}`, async () => ((await exists(path.join(rootOf(loser), name))) ? undefined : true));
  assert.equal(pv.spec?.hostPath?.path, path.join(rootOf(winner), name));
});

test('a volume whose path is not its own directory under the root is never removed: VolumeFailedDelete', async () => {
  const outside = path.join(tmp, 'precious');
  await fs.mkdir(outside, { recursive: true });
  await fs.writeFile(path.join(outside, 'file'), 'x');
  const claim: PersistentVolumeClaim = { metadata: { name: 'forged', namespace: 'default', uid: 'forged-uid' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'local-path' } };
  const forged = localPathVolume(claim, { metadata: { name: 'local-path' }, provisioner: localPathProvisionerName, reclaimPolicy: 'Delete' }, 'n1', rootOf('n1'));
  forged.spec!.hostPath!.path = outside;
  forged.spec!.claimRef = undefined;
  const pv = await t.cs.persistentVolumes.create(forged);
  await t.cs.persistentVolumes.patchStatus(pv.metadata.name!, { status: { phase: 'Released' } }, { type: 'merge' });
  const ev = await waitEvent(pv, 'VolumeFailedDelete');
  assert.equal(ev.message, `failed to delete volume pvc-forged-uid: path ${outside} is not this volume's directory`);
  assert.equal(await fs.readFile(path.join(outside, 'file'), 'utf8'), 'x');
  assert.ok(await getPv(pv.metadata.name!));
});

test('diskFs removes only direct children of the root and follows no symlink', async () => {
  const root = path.join(tmp, 'fs-root');
  const outside = path.join(tmp, 'fs-outside');
  await fs.mkdir(outside, { recursive: true });
  await fs.writeFile(path.join(outside, 'keep'), 'x');
  // A directory holding a symlink out: the link goes, its target stays.
  await diskFs.mkdir(path.join(root, 'pvc-a_ns_a'), root);
  assert.equal((await fs.stat(root)).mode & 0o777, 0o700);
  await fs.symlink(outside, path.join(root, 'pvc-a_ns_a', 'escape'));
  await diskFs.rm(path.join(root, 'pvc-a_ns_a'), root);
  assert.equal(await exists(path.join(root, 'pvc-a_ns_a')), false);
  // A symlink in the root's place of a volume: unlinked, not followed.
  await fs.symlink(outside, path.join(root, 'pvc-b_ns_b'));
  await diskFs.rm(path.join(root, 'pvc-b_ns_b'), root);
  assert.equal(await exists(path.join(root, 'pvc-b_ns_b')), false);
  assert.equal(await fs.readFile(path.join(outside, 'keep'), 'utf8'), 'x');
  // Anything but a direct child is refused.
  for (const bad of [root, path.join(root, '..', 'fs-outside'), path.join(root, 'a', 'b'), '/']) {
    await assert.rejects(diskFs.rm(bad, root), /is not a directory of the storage root/, bad);
  }
  await assert.rejects(diskFs.mkdir(path.join(root, '..', 'x'), root), /is not a directory of the storage root/);
  // Missing: nothing to do; mkdir twice: fine.
  await diskFs.rm(path.join(root, 'pvc-missing'), root);
  await diskFs.mkdir(path.join(root, 'pvc-c_ns_c'), root);
  await diskFs.mkdir(path.join(root, 'pvc-c_ns_c'), root);
});

test('volumeDir and volumeNode read and write k3s names', () => {
  const claim: PersistentVolumeClaim = { metadata: { name: 'www-web-0', namespace: 'shop', uid: 'u-1' } };
  assert.equal(volumeDir('/var/lib/bosun/agent/storage', claim), '/var/lib/bosun/agent/storage/pvc-u-1_shop_www-web-0');
  const pv = localPathVolume(claim, { metadata: { name: 'c' }, provisioner: localPathProvisionerName }, 'vm', '/r');
  assert.equal(volumeNode(pv), 'vm');
  assert.equal(pv.spec?.persistentVolumeReclaimPolicy, 'Delete');
  assert.equal(pv.spec?.capacity, undefined);
  assert.equal(volumeNode({ metadata: { name: 'x' }, spec: {} }), '');
});

test('without fs (simulated nodes) nothing touches the disk', async () => {
  const signal = new AbortController();
  const roots = path.join(tmp, 'virtual');
  const p = startLocalPathProvisioner({ client: t.client, ownsNode: (n) => n === 'vn-0', root: () => roots, signal: signal.signal });
  try {
    const claim = await makeClaim({ node: 'vn-0' });
    const pv = await until('the simulated volume', () => getPv(pvOf(claim)));
    assert.equal(pv.spec?.hostPath?.path, path.join(roots, `pvc-${claim.metadata.uid}_default_${claim.metadata.name}`));
    assert.equal(await exists(roots), false);
  } finally {
    signal.abort();
    await p.stopped;
  }
});
