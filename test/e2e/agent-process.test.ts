/**
 * `bosun agent` as its own process beside `bosun server --disable-agent` on one machine: it
 * takes the identity the server issued in the data dir, registers the node, runs pods, and
 * serves exec through the API server; SIGTERM stops it (the pods keep running).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Pod } from '../../src/api/index.ts';
import { bosunBin, kubectl, kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount } from './harness.ts';
import { agentSupported, busyboxImage, cleanupAgent, prepareAgent } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const v = kubectlVersions[0]!;

test('bosun agent runs the node in its own process', { skip, timeout: 180_000 }, async () => {
  const server = await startServer();
  await prepareAgent(server.dataDir);
  const agent = spawn(bosunBin, ['agent', '--data-dir', server.dataDir, '--kubelet-port', '0', '--node-name', 'solo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  agent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  agent.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // 'close': the exit code once its output is read to the end.
  const exited = new Promise<number | null>((resolve) => agent.on('close', resolve));
  try {
    await until('the agent ready', async () => /agent: node solo ready/.test(out), { timeoutMs: 60_000, detail: () => out });
    await waitForServiceAccount(server, 'default');
    await kubectlOk(server, v, ['run', 'solo-pod', `--image=${busyboxImage}`, '--', 'sleep', '3600']);
    const p = await until('solo-pod Ready on node solo', async () => {
      const r = await kubectl(server, v, ['get', 'pod', 'solo-pod', '-o', 'json']);
      const p = r.code === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
      return p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, { timeoutMs: 60_000, detail: () => out });
    assert.equal(p.spec?.nodeName, 'solo');
    assert.equal((await kubectlOk(server, v, ['exec', 'solo-pod', '--', 'hostname'])).trim(), 'solo-pod');
    agent.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(out, /agent stopped/);
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    await server.stop();
    await cleanupAgent(server.dataDir);
  }
});
