/**
 * Issue 5 end to end: the scheduler as its own process (`bin/bosun scheduler --kubeconfig
 * --config`) against `bin/bosun server --disable-scheduler --virtual-nodes 3`, with two profiles
 * chosen by schedulerName; scheduling gates; VolumeBinding's claim checks; a bad configuration
 * refused at start.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bosunBin, startServer, kubectlOk, until, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server: ServerHandle;
let scheduler: ChildProcess;
let schedulerLog = '';
const v = '33';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-sched-config-'));

const config = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: packer
  plugins:
    score:
      disabled:
      - name: PodTopologySpread
      - name: NodeResourcesBalancedAllocation
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
`;

before(async () => {
  // No default StorageClass (`local-path`): a claim without a class stays an Immediate one.
  server = await startServer({ args: ['--virtual-nodes', '3', '--disable-scheduler', '--disable', 'local-storage'] });
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  const file = path.join(dir, 'scheduler.yaml');
  fs.writeFileSync(file, config);
  scheduler = spawn(bosunBin, ['scheduler', '--kubeconfig', server.kubeconfig, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  scheduler.stdout!.on('data', (d: Buffer) => (schedulerLog += d.toString()));
  scheduler.stderr!.on('data', (d: Buffer) => (schedulerLog += d.toString()));
});

after(async () => {
  if (scheduler && scheduler.exitCode === null) {
    const exited = new Promise((r) => scheduler.once('exit', r));
    scheduler.kill('SIGTERM');
    await exited;
  }
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Pod {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

const get = async <T = Pod>(kind: string, name: string): Promise<T> => JSON.parse(await kubectlOk(server, v, ['get', kind, name, '-o', 'json'])) as T;
const apply = (manifest: unknown) => kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
const podManifest = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: name } },
  spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '1' } } }], ...spec },
});
const scheduled = (name: string) => until(`${name} scheduled`, async () => (await get(`pod`, name)).spec.nodeName ?? null, { timeoutMs: 20_000 });
const podScheduled = async (name: string) => (await get('pod', name)).status.conditions?.find((c) => c.type === 'PodScheduled');

describe('scheduler profiles in a separate scheduler process', () => {
  test('the scheduler process takes the lease and schedules for the default profile', async () => {
    await until('3 nodes', async () => ((await kubectlOk(server, v, ['get', 'nodes', '-o', 'name'])).trim().split('\n').length === 3 ? true : null));
    await apply(podManifest('plain'));
    assert.match(await scheduled('plain'), /^virtual-node-/);
    const lease = JSON.parse(await kubectlOk(server, v, ['get', 'lease', 'kube-scheduler', '-n', 'kube-system', '-o', 'json'])) as { spec: { holderIdentity?: string } };
    assert.ok(lease.spec.holderIdentity, 'the lease has a holder');
  });

  test('the packer profile (MostAllocated) puts pods on the same node, and reports as packer', async () => {
    for (const n of ['pack-1', 'pack-2', 'pack-3', 'pack-4']) {
      await apply(podManifest(n, { schedulerName: 'packer' }));
      await scheduled(n);
    }
    const nodes = new Set(await Promise.all(['pack-1', 'pack-2', 'pack-3', 'pack-4'].map(async (n) => (await get('pod', n)).spec.nodeName)));
    assert.equal(nodes.size, 1, `packed on one node, got ${[...nodes].join(', ')}`);
    const events = JSON.parse(await kubectlOk(server, v, ['get', 'events', '--field-selector', 'involvedObject.name=pack-1,reason=Scheduled', '-o', 'json'])) as { items: { source: { component: string }; message: string }[] };
    assert.equal(events.items[0]?.source.component, 'packer');
    assert.match(events.items[0]!.message, /^Successfully assigned default\/pack-1 to virtual-node-/);
  });

  test('a pod for a scheduler nobody runs stays Pending, untouched', async () => {
    await apply(podManifest('orphan', { schedulerName: 'nobody' }));
    await new Promise((r) => setTimeout(r, 1500));
    const p = await get('pod', 'orphan');
    assert.equal(p.spec.nodeName, undefined);
    assert.equal(p.status.conditions?.find((c) => c.type === 'PodScheduled'), undefined);
  });

  test('a gated pod shows SchedulingGated until its gates are removed', async () => {
    await apply(podManifest('gated', { schedulingGates: [{ name: 'example.com/wait' }] }));
    const cond = await podScheduled('gated');
    assert.deepEqual([cond?.status, cond?.reason, cond?.message], ['False', 'SchedulingGated', 'Scheduling is blocked due to non-empty scheduling gates']);
    const row = await kubectlOk(server, v, ['get', 'pod', 'gated', '--no-headers']);
    assert.match(row, /SchedulingGated/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await get('pod', 'gated')).spec.nodeName, undefined, 'not scheduled while gated');
    await kubectlOk(server, v, ['patch', 'pod', 'gated', '--type', 'json', '-p', '[{"op":"remove","path":"/spec/schedulingGates"}]']);
    assert.match(await scheduled('gated'), /^virtual-node-/);
  });

  test('a missing claim is reported; a WaitForFirstConsumer claim learns the node, and the pod goes once its claim is bound', async () => {
    const withClaim = podManifest('needs-data', { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] });
    await apply(withClaim);
    const cond = await until('PodScheduled=False', async () => {
      const c = await podScheduled('needs-data');
      return c?.status === 'False' ? c : null;
    });
    assert.equal(cond.reason, 'Unschedulable');
    assert.equal(cond.message, '0/3 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.');
    await apply({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local-wait' }, provisioner: 'example.com/none', volumeBindingMode: 'WaitForFirstConsumer' });
    await apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' }, spec: { storageClassName: 'local-wait', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    const node = await until('selected-node annotation', async () => (await get('pvc', 'data')).metadata.annotations?.['volume.kubernetes.io/selected-node'] ?? null);
    // VolumeBinding's PreBind waits for the claim to be bound before the pod is.
    assert.equal((await get('pod', 'needs-data')).spec.nodeName, undefined);
    // What the provisioner does: a volume for the claim (claimRef with its uid) on the chosen node.
    const claim = await get<{ metadata: { uid: string } }>('pvc', 'data');
    await apply({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'pvc-data', annotations: { 'pv.kubernetes.io/provisioned-by': 'example.com/none' } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        storageClassName: 'local-wait',
        persistentVolumeReclaimPolicy: 'Delete',
        hostPath: { path: '/tmp/pvc-data' },
        claimRef: { namespace: 'default', name: 'data', uid: claim.metadata.uid },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
      },
    });
    assert.equal(await scheduled('needs-data'), node);
  });

  test('an unbound Immediate claim keeps the pod Pending with upstream words', async () => {
    await apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'now' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    await apply(podManifest('needs-now', { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'now' } }] }));
    const cond = await until('PodScheduled=False', async () => {
      const c = await podScheduled('needs-now');
      return c?.status === 'False' ? c : null;
    });
    assert.equal(cond.message, '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.');
    const desc = await kubectlOk(server, v, ['describe', 'pod', 'needs-now']);
    assert.match(desc, /FailedScheduling .*pod has unbound immediate PersistentVolumeClaims/);
  });
});

test('a bad scheduler configuration stops the server before it starts, saying why', async () => {
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: a\n  plugins:\n    filter:\n      enabled: [{name: NoSuchPlugin}]\n');
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(bosunBin, ['server', '--data-dir', path.join(dir, 'data'), '--https-listen-port', '0', '--scheduler-config', bad], { timeout: 20_000 }, (err, _out, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }));
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /profiles\[0\]\.plugins\.filter\.enabled\[0\]\.name: Invalid value: "NoSuchPlugin": plugin does not exist/);
  assert.equal(fs.existsSync(path.join(dir, 'data')), false, 'nothing was created');
});
