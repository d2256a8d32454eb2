/**
 * Issue 15 end to end, storage: `bin/bosun server --virtual-nodes 3` driven with kubectl 1.33.
 * - static binding: the smallest fitting volume of the class, access modes, a selector, a named
 *   volume; `kubectl get pvc/pv` show Bound;
 * - a Retain volume is Released once its claim is deleted;
 * - a claim of a class whose provisioner Bosun lacks (`fast-ssd`, kubernetes.io/gce-pd) stays
 *   Pending with upstream's ExternalProvisioning event naming the CSI driver;
 * - WaitForFirstConsumer with `kubernetes.io/no-provisioner`: the claim waits for its pod, the
 *   pod is scheduled only to the node of the matching local volume, and the claim is Bound; a pod
 *   whose claim no node can satisfy stays Pending with the scheduler's words;
 * - a generic ephemeral volume's claim is made for its pod and goes with it (garbage collector);
 * - a claim of a class of Bosun's local-path provisioner grows at once when its request does.
 * Classes, volumes and claims are named per test; claims always name their class, so the
 * default class (`local-path`) is never involved.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl, kubectlOk, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server: ServerHandle;
useServer({ args: ['--virtual-nodes', '3'] }, (s) => {
  server = s;
});
const v = '33';

interface Obj {
  metadata: { name: string; uid?: string; annotations?: Record<string, string>; ownerReferences?: { uid: string; controller?: boolean }[] };
  spec: Record<string, unknown> & { volumeName?: string; nodeName?: string; claimRef?: { name: string; namespace: string; uid?: string }; capacity?: Record<string, string> };
  status: { phase?: string; capacity?: Record<string, string>; allocatedResources?: Record<string, string>; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

const apply = (...manifests: unknown[]) => kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }) });
const get = async (kind: string, name: string): Promise<Obj> => JSON.parse(await kubectlOk(server, v, ['get', kind, name, '-o', 'json'])) as Obj;
const exists = async (kind: string, name: string) => (await kubectlOk(server, v, ['get', kind, '--ignore-not-found', '-o', 'name', name])).trim() !== '';
const phaseOf = (kind: string, name: string, phase: string, timeoutMs = 30_000) => until(`${kind} ${name} ${phase}`, async () => ((await get(kind, name)).status.phase === phase ? get(kind, name) : null), { timeoutMs });
const events = async (name: string) =>
  (JSON.parse(await kubectlOk(server, v, ['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as { items: { reason: string; message: string; type: string; source?: { component?: string } }[] }).items;
const eventOf = (name: string, reason: string, timeoutMs = 30_000) => until(`event ${reason} on ${name}`, async () => (await events(name)).find((e) => e.reason === reason), { timeoutMs });

const pv = (name: string, o: { size: string; cls: string; modes?: string[]; labels?: Record<string, string>; node?: string; policy?: string; annotations?: Record<string, string>; claimRef?: { namespace: string; name: string } }) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name, ...(o.labels ? { labels: o.labels } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
  spec: {
    capacity: { storage: o.size },
    accessModes: o.modes ?? ['ReadWriteOnce'],
    storageClassName: o.cls,
    persistentVolumeReclaimPolicy: o.policy ?? 'Retain',
    ...(o.claimRef ? { claimRef: o.claimRef } : {}),
    ...(o.node
      ? { local: { path: `/mnt/disks/${name}` }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [o.node] }] }] } } }
      : { hostPath: { path: `/srv/volumes/${name}` } }),
  },
});
const pvc = (name: string, o: { size: string; cls: string; modes?: string[]; selector?: Record<string, string>; volumeName?: string }) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name },
  spec: {
    accessModes: o.modes ?? ['ReadWriteOnce'],
    storageClassName: o.cls,
    resources: { requests: { storage: o.size } },
    ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
    ...(o.volumeName ? { volumeName: o.volumeName } : {}),
  },
});
const storageClass = (name: string, provisioner: string, o: { mode?: string; expand?: boolean } = {}) => ({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name },
  provisioner,
  volumeBindingMode: o.mode ?? 'Immediate',
  ...(o.expand ? { allowVolumeExpansion: true } : {}),
});
const pod = (name: string, volumes: unknown[]) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }], volumes },
});
const claimVolume = (claim: string) => ({ name: 'data', persistentVolumeClaim: { claimName: claim } });

describe('persistent volumes', () => {
  test('static binding: size and class, access modes, selector, a named volume', async () => {
    await apply(
      pv('manual-1g', { size: '1Gi', cls: 'manual' }),
      pv('manual-5g', { size: '5Gi', cls: 'manual' }),
      pv('manual-20g', { size: '20Gi', cls: 'manual' }),
      pv('manual-rwx', { size: '8Gi', cls: 'manual', modes: ['ReadWriteMany'] }),
      pv('manual-gold', { size: '30Gi', cls: 'manual', labels: { tier: 'gold' } }),
    );
    await apply(
      pvc('by-size', { size: '2Gi', cls: 'manual' }),
      pvc('by-mode', { size: '1Gi', cls: 'manual', modes: ['ReadWriteMany'] }),
      pvc('by-label', { size: '1Gi', cls: 'manual', selector: { tier: 'gold' } }),
      pvc('by-name', { size: '1Gi', cls: 'manual', volumeName: 'manual-20g' }),
    );
    const want: Record<string, string> = { 'by-size': 'manual-5g', 'by-mode': 'manual-rwx', 'by-label': 'manual-gold', 'by-name': 'manual-20g' };
    for (const [claim, volume] of Object.entries(want)) {
      const c = await phaseOf('pvc', claim, 'Bound');
      assert.equal(c.spec.volumeName, volume, `${claim} bound to ${volume}`);
      assert.equal(c.metadata.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
      const p = await phaseOf('pv', volume, 'Bound');
      assert.equal(p.spec.claimRef?.name, claim);
    }
    const row = await kubectlOk(server, v, ['get', 'pvc', 'by-size', '--no-headers']);
    assert.match(row, /^by-size\s+Bound\s+manual-5g\s+5Gi\s+RWO\s+manual\s/);
    assert.match(await kubectlOk(server, v, ['get', 'pv', 'manual-5g', '--no-headers']), /^manual-5g\s+5Gi\s+RWO\s+Retain\s+Bound\s+default\/by-size\s+manual\s/);
    assert.match(await kubectlOk(server, v, ['get', 'pv', 'manual-1g', '--no-headers']), /\sAvailable\s/);
  });

  test('a Retain volume is Released when its claim is deleted', async () => {
    await apply(pv('retained', { size: '1Gi', cls: 'retain' }));
    await apply(pvc('keep-me', { size: '1Gi', cls: 'retain' }));
    await phaseOf('pvc', 'keep-me', 'Bound');
    await kubectlOk(server, v, ['delete', 'pvc', 'keep-me', '--wait=true']);
    const p = await phaseOf('pv', 'retained', 'Released');
    assert.equal(p.spec.claimRef?.name, 'keep-me');
    assert.match(await kubectlOk(server, v, ['get', 'pv', 'retained', '--no-headers']), /\sRetain\s+Released\s+default\/keep-me\s/);
  });

  test('a claim of a provisioner Bosun does not have stays Pending with upstream’s event', async () => {
    await apply(storageClass('fast-ssd', 'kubernetes.io/gce-pd'), pvc('fast', { size: '10Gi', cls: 'fast-ssd' }));
    const e = await eventOf('fast', 'ExternalProvisioning');
    assert.equal(
      e.message,
      "Waiting for a volume to be created either by the external provisioner 'pd.csi.storage.gke.io' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
    );
    assert.equal(e.source?.component, 'persistentvolume-controller');
    const c = await get('pvc', 'fast');
    assert.equal(c.status.phase, 'Pending');
    assert.equal(c.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'], 'pd.csi.storage.gke.io');
    assert.match(await kubectlOk(server, v, ['describe', 'pvc', 'fast']), /ExternalProvisioning\s+.*persistentvolume-controller\s+Waiting for a volume to be created either by the external provisioner 'pd\.csi\.storage\.gke\.io'/);
  });
});

describe('WaitForFirstConsumer with local volumes', () => {
  test('the pod goes to the node of the matching local volume, and its claim is Bound', async () => {
    await waitForServiceAccount(server, 'default');
    await until('3 nodes', async () => (await kubectlOk(server, v, ['get', 'nodes', '-o', 'name'])).trim().split('\n').length === 3);
    await apply(
      storageClass('local-storage', 'kubernetes.io/no-provisioner', { mode: 'WaitForFirstConsumer' }),
      pv('local-on-1', { size: '10Gi', cls: 'local-storage', node: 'virtual-node-1' }),
      pv('local-on-2-small', { size: '1Gi', cls: 'local-storage', node: 'virtual-node-2' }),
    );
    await apply(pvc('local-claim', { size: '5Gi', cls: 'local-storage' }));
    assert.equal((await eventOf('local-claim', 'WaitForFirstConsumer')).message, 'waiting for first consumer to be created before binding');
    assert.equal((await get('pvc', 'local-claim')).status.phase, 'Pending');
    await apply(pod('local-user', [claimVolume('local-claim')]));
    const p = await until('local-user scheduled', async () => (await get('pod', 'local-user')).spec.nodeName, { timeoutMs: 30_000 });
    assert.equal(p, 'virtual-node-1');
    const c = await phaseOf('pvc', 'local-claim', 'Bound');
    assert.equal(c.spec.volumeName, 'local-on-1');
    const vol = await get('pv', 'local-on-1');
    assert.equal(vol.spec.claimRef?.uid, c.metadata.uid);
    assert.equal(vol.metadata.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
    await phaseOf('pod', 'local-user', 'Running');
  });

  test('a pod whose claim no node can satisfy stays Pending with the scheduler’s message', async () => {
    await apply(pvc('too-big', { size: '500Gi', cls: 'local-storage' }), pod('stuck', [claimVolume('too-big')]));
    const cond = await until(
      'PodScheduled=False',
      async () => (await get('pod', 'stuck')).status.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False'),
      { timeoutMs: 30_000 },
    );
    assert.equal(cond.reason, 'Unschedulable');
    assert.equal(cond.message, "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
    assert.equal((await get('pod', 'stuck')).spec.nodeName, undefined);
    assert.equal((await get('pvc', 'too-big')).status.phase, 'Pending');
    assert.match((await eventOf('too-big', 'WaitForPodScheduled')).message, /^waiting for pod stuck to be scheduled$/);
  });
});

describe('generic ephemeral volumes', () => {
  test('the claim is made for the pod, bound, and deleted with it', async () => {
    await waitForServiceAccount(server, 'default');
    await apply(pv('scratch-pv', { size: '2Gi', cls: 'scratch', labels: { use: 'scratch' } }));
    const template = { volumeClaimTemplate: { metadata: { labels: { app: 'cache' } }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'scratch', selector: { matchLabels: { use: 'scratch' } }, resources: { requests: { storage: '1Gi' } } } } };
    await apply(pod('cache', [{ name: 'scratch', ephemeral: template }]));
    const owner = await get('pod', 'cache');
    const claim = await until('claim cache-scratch', async () => (await exists('pvc', 'cache-scratch')) && get('pvc', 'cache-scratch'));
    assert.equal(claim.metadata.ownerReferences?.[0]?.uid, owner.metadata.uid);
    assert.equal(claim.metadata.ownerReferences?.[0]?.controller, true);
    assert.equal((await phaseOf('pvc', 'cache-scratch', 'Bound')).spec.volumeName, 'scratch-pv');
    await phaseOf('pod', 'cache', 'Running');
    await kubectlOk(server, v, ['delete', 'pod', 'cache', '--wait=true']);
    await until('claim cache-scratch deleted', async () => !(await exists('pvc', 'cache-scratch')), { timeoutMs: 60_000 });
    await phaseOf('pv', 'scratch-pv', 'Released');
  });
});

describe('volume expansion', () => {
  test('a claim of a local-path class grows at once', async () => {
    // The volume as Bosun's local-path provisioner makes it; the claim names it, so no
    // provisioner takes the claim whether one runs or not.
    await apply(
      storageClass('local-path-expand', 'bosun.dev/local-path', { mode: 'WaitForFirstConsumer', expand: true }),
      pv('grow-pv', { size: '1Gi', cls: 'local-path-expand', node: 'virtual-node-0', policy: 'Retain', annotations: { 'pv.kubernetes.io/provisioned-by': 'bosun.dev/local-path' }, claimRef: { namespace: 'default', name: 'grow' } }),
    );
    await apply(pvc('grow', { size: '1Gi', cls: 'local-path-expand', volumeName: 'grow-pv' }));
    await phaseOf('pvc', 'grow', 'Bound');
    await kubectlOk(server, v, ['patch', 'pvc', 'grow', '--type', 'merge', '-p', '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}']);
    const c = await until('grow at 3Gi', async () => {
      const x = await get('pvc', 'grow');
      return x.status.capacity?.['storage'] === '3Gi' && x;
    });
    assert.deepEqual(c.status.allocatedResources, { storage: '3Gi' });
    assert.equal(c.status.conditions, undefined);
    assert.equal((await get('pv', 'grow-pv')).spec.capacity?.['storage'], '3Gi');
    assert.match(await kubectlOk(server, v, ['get', 'pvc', 'grow', '--no-headers']), /^grow\s+Bound\s+grow-pv\s+3Gi\s/);
    const seen = await until('resize events', async () => {
      const es = await events('grow');
      return ['ExternalExpanding', 'Resizing', 'VolumeResizeSuccessful'].every((r) => es.some((e) => e.reason === r)) && es;
    });
    assert.equal(seen.find((e) => e.reason === 'Resizing')?.message, 'External resizer is resizing volume grow-pv');
    assert.equal(seen.find((e) => e.reason === 'VolumeResizeSuccessful')?.source?.component, 'external-resizer bosun.dev/local-path');
    // A class that does not allow expansion refuses it (admission).
    const r = await kubectl(server, v, ['patch', 'pvc', 'by-size', '--type', 'merge', '-p', '{"spec":{"resources":{"requests":{"storage":"9Gi"}}}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize/);
  });
});

describe('the default class on simulated nodes', () => {
  test("a StatefulSet's claims of the default local-path class are provisioned on its pods' nodes; a deleted claim's volume goes", async () => {
    await waitForServiceAccount(server, 'default');
    await apply({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: {
        serviceName: 'db',
        replicas: 2,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }] } },
        // No storageClassName: the DefaultStorageClass admission plugin gives the claims `local-path`.
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    });
    for (const i of [0, 1]) {
      const claim = await phaseOf('pvc', `data-db-${i}`, 'Bound', 60_000);
      assert.equal(claim.spec['storageClassName'], 'local-path');
      const volume = await get('pv', claim.spec.volumeName!);
      const p = await until(`db-${i} on a node`, async () => (await get('pod', `db-${i}`)).spec.nodeName);
      assert.equal(volume.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'bosun.dev/local-path');
      assert.deepEqual((volume.spec['nodeAffinity'] as { required: { nodeSelectorTerms: { matchExpressions: { values: string[] }[] }[] } }).required.nodeSelectorTerms[0]!.matchExpressions[0]!.values, [p]);
      assert.equal((volume.spec['hostPath'] as { path: string }).path, `/var/lib/bosun/agent/storage/${claim.spec.volumeName}_default_data-db-${i}`);
    }
    const gone = (await get('pvc', 'data-db-1')).spec.volumeName!;
    await kubectlOk(server, v, ['scale', 'statefulset', 'db', '--replicas', '1']);
    await until('db-1 gone', async () => !(await exists('pod', 'db-1')));
    await kubectlOk(server, v, ['delete', 'pvc', 'data-db-1', '--wait=false']);
    await until(`volume ${gone} deleted (reclaimPolicy Delete)`, async () => !(await exists('pv', gone)), { timeoutMs: 60_000 });
    await kubectlOk(server, v, ['delete', 'statefulset', 'db']);
  });
});
