/**
 * The node agent's state is the runtime's: after Bosun restarts, running pods are adopted (same
 * containers, no restarts, still Ready) and pods deleted while the agent was away are removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount, getPod, isPodReady } from './harness.ts';
import { agentSupported, busyboxImage, cleanupAgent } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const v = kubectlVersions.at(-1)!;

const pod = getPod;
const isReady = isPodReady;

test('a restart of Bosun keeps pods running and removes pods deleted meanwhile', { skip, timeout: 240_000 }, async () => {
  let server = await startServer({ agent: true });
  const dataDir = server.dataDir;
  try {
    await waitForServiceAccount(server, 'default');
    for (const name of ['keeper', 'goner']) {
      await kubectlOk(server, v, ['run', name, `--image=${busyboxImage}`, '--', 'sleep', '3600']);
    }
    for (const name of ['keeper', 'goner']) await until(`${name} Ready`, async () => isReady(await pod(server, name)), { timeoutMs: 60_000 });
    const before = (await pod(server, 'keeper'))!;
    const gonerId = (await pod(server, 'goner'))!.status!.containerStatuses![0]!.containerID!;
    await server.stop('SIGTERM', { keepPods: true });

    // The control plane alone (no agent): 'goner' leaves the API while its containers still run.
    server = await startServer({ dataDir });
    await kubectlOk(server, v, ['delete', 'pod', 'goner', '--grace-period=0', '--force']);
    await server.stop('SIGTERM', { keepPods: true });

    server = await startServer({ dataDir, agent: true });
    await until('keeper still Ready after the restart', async () => {
      const p = await pod(server, 'keeper');
      return isReady(p) && p!.status!.containerStatuses![0]!.containerID === before.status!.containerStatuses![0]!.containerID;
    }, { timeoutMs: 30_000 });
    const after = (await pod(server, 'keeper'))!;
    assert.equal(after.status?.containerStatuses?.[0]?.restartCount, 0);
    assert.equal(after.status?.containerStatuses?.[0]?.state?.running?.startedAt, before.status?.containerStatuses?.[0]?.state?.running?.startedAt);
    assert.equal(after.status?.podIP, before.status?.podIP);
    assert.equal((await kubectlOk(server, v, ['exec', 'keeper', '--', 'echo', 'alive'])).trim(), 'alive');
    // The orphan's container is gone from the runtime.
    const { execFileSync } = await import('node:child_process');
    const { containerdSocket } = await import('../../src/kubelet/containerd/index.ts');
    await until('the orphaned container removed', async () => {
      const list = execFileSync('ctr', ['--address', containerdSocket(`${dataDir}/agent/containerd`), '-n', 'k8s.io', 'containers', 'ls', '-q'], { encoding: 'utf8' });
      return !list.includes(gonerId.replace('containerd://', ''));
    }, { timeoutMs: 30_000 });
  } finally {
    await server.stop();
    await cleanupAgent(dataDir);
  }
});
