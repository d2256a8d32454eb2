/**
 * `kubectl rollout undo` as upstream: the Deployment's template goes back to an earlier
 * ReplicaSet's, and the Deployment controller recognizes that ReplicaSet as the new one
 * (templates compared semantically, ignoring pod-template-hash) and moves it to the newest
 * revision (revision-history keeps the old number) instead of creating another ReplicaSet.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, kubectl, kubectlOk, until, waitForServiceAccount, type ServerHandle } from './harness.ts';

let server: ServerHandle;
const v = '33';
const ns = 'undo';

before(async () => {
  server = await startServer({ args: ['--virtual-nodes', '2'] });
  await kubectlOk(server, v, ['create', 'namespace', ns]);
  // The pods wait for the namespace's default ServiceAccount.
  await waitForServiceAccount(server, ns);
});

after(async () => {
  await server?.stop();
});

interface RS {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
}

async function replicaSets(): Promise<RS[]> {
  return (JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', 'replicasets', '-o', 'json'])) as { items: RS[] }).items;
}

const revision = (rs: RS) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'];

async function rolledOut(): Promise<void> {
  const r = await kubectl(server, v, ['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout', '60s'], { timeoutMs: 70_000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

/** The revision numbers `kubectl rollout history` lists. */
async function history(): Promise<string[]> {
  const out = await kubectlOk(server, v, ['-n', ns, 'rollout', 'history', 'deployment/web']);
  return [...out.matchAll(/^(\d+)\s/gm)].map((m) => m[1]!);
}

test('undo reuses the earlier ReplicaSet and moves it to the newest revision', async () => {
  await kubectlOk(server, v, ['-n', ns, 'create', 'deployment', 'web', '--image', 'registry.k8s.io/pause:3.9', '--replicas', '2']);
  await rolledOut();
  await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'deployment/web', 'pause=registry.k8s.io/pause:3.10']);
  await rolledOut();
  await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'deployment/web', 'pause=registry.k8s.io/pause:3.8']);
  await rolledOut();
  assert.equal((await replicaSets()).length, 3);
  assert.deepEqual(await history(), ['1', '2', '3']);

  // Back to the previous revision (2): its ReplicaSet becomes revision 4.
  await kubectlOk(server, v, ['-n', ns, 'rollout', 'undo', 'deployment/web']);
  await rolledOut();
  let sets = await replicaSets();
  assert.equal(sets.length, 3, `undo created a ReplicaSet: ${sets.map((s) => `${s.metadata.name}@${revision(s)}`).join(' ')}`);
  const back = sets.find((s) => s.spec.template.spec.containers[0]!.image === 'registry.k8s.io/pause:3.10')!;
  assert.equal(revision(back), '4');
  assert.equal(back.metadata.annotations?.['deployment.kubernetes.io/revision-history'], '2');
  assert.equal(back.spec.replicas, 2);
  assert.deepEqual(await history(), ['1', '3', '4']);

  // To an explicit revision: the first ReplicaSet becomes revision 5.
  await kubectlOk(server, v, ['-n', ns, 'rollout', 'undo', 'deployment/web', '--to-revision=1']);
  await rolledOut();
  sets = await replicaSets();
  assert.equal(sets.length, 3);
  const first = sets.find((s) => s.spec.template.spec.containers[0]!.image === 'registry.k8s.io/pause:3.9')!;
  assert.equal(revision(first), '5');
  assert.equal(first.metadata.annotations?.['deployment.kubernetes.io/revision-history'], '1');
  assert.deepEqual(await history(), ['3', '4', '5']);
  await until('the Deployment to name revision 5', async () => {
    const d = JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', 'deployment', 'web', '-o', 'json']));
    return d.metadata.annotations?.['deployment.kubernetes.io/revision'] === '5';
  });
});
