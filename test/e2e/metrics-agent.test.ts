/**
 * The metrics server against a real node agent (containerd): it scrapes the agent's
 * `/metrics/resource` over HTTPS with the API server's kubelet-client certificate, so a busybox
 * pod spinning in a shell loop shows CPU well above zero in `kubectl top pod` (kubectl 1.27 and
 * 1.33), per container too, and `kubectl top node` shows the node. Run under
 * `flock /tmp/bosun-agent.lock` (the agent needs the machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';
import { parseQuantity } from '../../src/api/quantity.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
// The spawned server inherits the environment: scrape every 2 seconds.
process.env['BOSUN_METRIC_RESOLUTION'] = '2s';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));
const newest = kubectlVersions.at(-1)!;

/** kubectl top's rows (header first), split on runs of spaces. */
const rows = (out: string) => out.trim().split('\n').map((l) => l.trim().split(/\s+/));

test('a busy pod on the real node shows CPU in kubectl top pod, and kubectl top node shows the node', { skip, timeout: 180_000 }, async () => {
  await waitForServiceAccount(server, 'default');
  await kubectlOk(server, newest, ['run', 'spin', `--image=${busyboxImage}`, '--restart=Never', '--', 'sh', '-c', 'while :; do :; done']);
  for (const v of kubectlVersions) {
    let last = '';
    const row = await until(`kubectl ${v} top pod spin with CPU`, async () => {
      const r = await kubectl(server, v, ['top', 'pod', 'spin']);
      last = `${r.stdout}${r.stderr}`;
      const cells = r.code === 0 ? rows(r.stdout)[1] : undefined;
      // A spinning shell takes a core, or a good share of one on a busy machine.
      return cells && (parseQuantity(cells[1]) ?? 0) >= 0.1 ? cells : undefined;
    }, { timeoutMs: 90_000, detail: () => `${last}\n${server.output().slice(-2000)}` });
    assert.equal(row[0], 'spin');
    assert.match(row[2]!, /^\d+Mi$/);
    const containers = rows(await kubectlOk(server, v, ['top', 'pod', 'spin', '--containers']));
    assert.deepEqual(containers[1]!.slice(0, 2), ['spin', 'spin']);
    assert.ok((parseQuantity(containers[1]![2]) ?? 0) > 0, containers[1]!.join(' '));
    const nodes = rows(await kubectlOk(server, v, ['top', 'node']));
    assert.equal(nodes.length, 2, nodes.map((r) => r.join(' ')).join('\n'));
    const nodeName = (await kubectlOk(server, v, ['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    assert.equal(nodes[1]![0], nodeName);
    assert.ok((parseQuantity(nodes[1]![1]) ?? 0) >= 0.1, nodes[1]!.join(' '));
    assert.match(nodes[1]![3]!, /^\d+Mi$/);
  }
  await kubectlOk(server, newest, ['delete', 'pod', 'spin', '--grace-period=1', '--wait=true', '--timeout=60s']);
});
