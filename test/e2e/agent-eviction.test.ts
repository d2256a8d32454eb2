/**
 * Eviction under memory pressure, as upstream's eviction manager: with a hard threshold the
 * machine cannot meet (`--eviction-hard memory.available<…`), the node reports MemoryPressure,
 * the BestEffort pod (using more than it requests) is evicted before the Guaranteed one, and a
 * new BestEffort pod is refused at admission. The restarted agent runs its housekeeping (pressure
 * reading, one eviction pass) every 2 s instead of upstream's 10 s (BOSUN_NODE_HOUSEKEEPING_SECONDS,
 * for tests), so the eviction comes without a 10 s wait; the path is the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../../src/api/index.ts';
import { kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount, getPod, isPodReady } from './harness.ts';
import { agentSupported, busyboxImage, cleanupAgent } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const v = kubectlVersions.at(-1)!;

const pod = getPod;
const isReady = isPodReady;

test('under memory pressure the BestEffort pod is evicted first and new BestEffort pods are refused', { skip, timeout: 240_000 }, async () => {
  let server = await startServer({ agent: true });
  const dataDir = server.dataDir;
  try {
    await waitForServiceAccount(server, 'default');
    const manifest = (name: string, resources: unknown) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: busyboxImage, command: ['sleep', '3600'], resources }] } });
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(manifest('best-effort', {})) });
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(manifest('guaranteed', { limits: { cpu: '10m', memory: '64Mi' } })) });
    for (const n of ['best-effort', 'guaranteed']) await until(`${n} Ready`, async () => isReady(await pod(server, n)), { timeoutMs: 60_000 });
    await server.stop('SIGTERM', { keepPods: true });
    // Back with a threshold no machine meets: permanent memory pressure.
    const saved = process.env['BOSUN_NODE_HOUSEKEEPING_SECONDS'];
    process.env['BOSUN_NODE_HOUSEKEEPING_SECONDS'] = '2';
    try {
      server = await startServer({ dataDir, agent: true, args: ['--eviction-hard', 'memory.available<1000Ti'] });
    } finally {
      if (saved === undefined) delete process.env['BOSUN_NODE_HOUSEKEEPING_SECONDS'];
      else process.env['BOSUN_NODE_HOUSEKEEPING_SECONDS'] = saved;
    }
    await until('MemoryPressure', async () => {
      const node = JSON.parse(await kubectlOk(server, v, ['get', 'nodes', '-o', 'json'])) as { items: Node[] };
      return node.items[0]?.status?.conditions?.some((c) => c.type === 'MemoryPressure' && c.status === 'True');
    }, { timeoutMs: 30_000 });
    const evicted = await until('best-effort evicted', async () => {
      const p = await pod(server, 'best-effort');
      return p?.status?.phase === 'Failed' ? p : undefined;
    }, { timeoutMs: 60_000 });
    const g = await pod(server, 'guaranteed');
    assert.equal(g?.status?.phase, 'Running', 'the Guaranteed pod outlives the BestEffort one');
    assert.equal(evicted.status?.reason, 'Evicted');
    assert.match(evicted.status?.message ?? '', /^The node was low on resource: memory\. Threshold quantity: 1000Ti, available: \d+Ki\. /);
    const dt = evicted.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
    assert.equal(dt?.status, 'True');
    assert.equal(dt?.reason, 'TerminationByKubelet');
    assert.ok(evicted.status?.containerStatuses?.[0]?.state?.terminated, 'its container was killed');
    const node = (await kubectlOk(server, v, ['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify({ ...manifest('late', {}), spec: { ...manifest('late', {}).spec, nodeName: node } }) });
    const late = await until('late refused', async () => {
      const p = await pod(server, 'late');
      return p?.status?.phase === 'Failed' ? p : undefined;
    });
    assert.equal(late.status?.reason, 'Evicted');
    assert.equal(late.status?.message, 'The node had condition: [MemoryPressure]. ');
  } finally {
    await server.stop();
    await cleanupAgent(dataDir);
  }
});
