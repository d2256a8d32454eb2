/**
 * System namespaces come back, as upstream's system-namespaces controller keeps them: after
 * `kubectl delete namespaces --all` (which the API server refuses for `default`, `kube-system`
 * and `kube-public`, as upstream's NamespaceLifecycle admission does), all four exist again,
 * `kube-node-lease` as a new namespace, and a simulated node renews its Lease in it (so nodes
 * stay Ready).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, kubectl, kubectlOk, until, type ServerHandle } from './harness.ts';

let server: ServerHandle;
const v = '33';
const system = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];
/** Upstream's NamespaceLifecycle admission refuses to delete these. */
const immortal = ['default', 'kube-public', 'kube-system'];

before(async () => {
  server = await startServer({ args: ['--virtual-nodes', '1'] });
});

after(async () => {
  await server?.stop();
});

interface Namespace {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
}

async function namespaces(): Promise<Namespace[]> {
  return (JSON.parse(await kubectlOk(server, v, ['get', 'namespaces', '-o', 'json'])) as { items: Namespace[] }).items;
}

test('deleted system namespaces are recreated and node leases renew in the new kube-node-lease', async () => {
  await until('the simulated node lease', async () => (await kubectl(server, v, ['-n', 'kube-node-lease', 'get', 'lease', 'virtual-node-0'])).code === 0, { timeoutMs: 30_000 });
  const old = new Map((await namespaces()).map((n) => [n.metadata.name, n.metadata.uid]));
  for (const n of system) assert.ok(old.has(n), `${n} exists at start`);
  const r = await kubectl(server, v, ['delete', 'namespaces', '--all', '--wait=false']);
  for (const n of immortal) assert.match(r.stderr, new RegExp(`namespaces "${n}" is forbidden: this namespace may not be deleted`));
  assert.match(r.stdout, /namespace "kube-node-lease" deleted/);
  // kube-node-lease comes back as a new object (another uid), not terminating; the others stay.
  await until('all four system namespaces there, kube-node-lease recreated', async () => {
    const now = new Map((await namespaces()).map((n) => [n.metadata.name, n]));
    const lease = now.get('kube-node-lease');
    return system.every((n) => now.get(n) && !now.get(n)!.metadata.deletionTimestamp) && lease!.metadata.uid !== old.get('kube-node-lease');
  }, { timeoutMs: 120_000, detail: () => server.output().slice(-4000) });
  const now = new Map((await namespaces()).map((n) => [n.metadata.name, n.metadata.uid]));
  for (const n of immortal) assert.equal(now.get(n), old.get(n), `${n} was never deleted`);
  // The node renews its Lease in the new namespace (it is recreated there).
  const renewed = await until('the node lease renewed in the new kube-node-lease', async () => {
    const l = await kubectl(server, v, ['-n', 'kube-node-lease', 'get', 'lease', 'virtual-node-0', '-o', 'json']);
    if (l.code !== 0) return null;
    return (JSON.parse(l.stdout) as { spec: { renewTime?: string } }).spec.renewTime ?? null;
  }, { timeoutMs: 60_000 });
  await until('a later renewal', async () => {
    const l = await kubectl(server, v, ['-n', 'kube-node-lease', 'get', 'lease', 'virtual-node-0', '-o', 'json']);
    return l.code === 0 && (JSON.parse(l.stdout) as { spec: { renewTime?: string } }).spec.renewTime !== renewed;
  }, { timeoutMs: 60_000 });
  const node = JSON.parse(await kubectlOk(server, v, ['get', 'node', 'virtual-node-0', '-o', 'json'])) as { status: { conditions: { type: string; status: string }[] } };
  assert.equal(node.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
});
