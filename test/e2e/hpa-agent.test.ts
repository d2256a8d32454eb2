/**
 * The HorizontalPodAutoscaler on a real node (containerd): `bin/bosun server` with its node
 * agent and no controller manager, the metrics server scraping the agent every 2 s
 * (BOSUN_METRIC_RESOLUTION), and a separate `bin/bosun controller-manager` syncing HPAs every
 * second. A busybox Deployment spinning in a shell loop (request 50m, limit 100m so it takes no
 * more than a tenth of a core on a shared machine) uses about 200% of its request; under
 * `kubectl autoscale --cpu-percent=50 --min=1 --max=3` it scales up, with upstream's
 * SuccessfulRescale event and the usage in `kubectl get hpa`. Run under
 * `flock /tmp/bosun-agent.lock` (the agent needs the machine).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Deployment, Event } from '../../src/api/index.ts';
import { startServer, bosunBin, kubectl, kubectlOk, kubectlVersions, until, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
// The spawned server inherits the environment: scrape every 2 seconds.
process.env['BOSUN_METRIC_RESOLUTION'] = '2s';
const newest = kubectlVersions.at(-1)!;
let server: ServerHandle | undefined;
let manager: ChildProcess | undefined;
let managerOut = '';

before(async () => {
  if (skip) return;
  server = await startServer({ agent: true, args: ['--disable-controller-manager'] });
  // The cluster CA, so that root-ca-cert-publisher gives pods their kube-root-ca.crt (the projected token volume needs it).
  const tls = path.join(server.dataDir, 'tls');
  const args = ['--kubeconfig', server.kubeconfig, '--horizontal-pod-autoscaler-sync-period', '1s', '--cluster-signing-cert-file', path.join(tls, 'ca.crt'), '--cluster-signing-key-file', path.join(tls, 'ca.key')];
  manager = spawn(bosunBin, ['controller-manager', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  manager.stdout!.on('data', (d: Buffer) => (managerOut += d.toString()));
  manager.stderr!.on('data', (d: Buffer) => (managerOut += d.toString()));
});

after(async () => {
  manager?.kill('SIGTERM');
  if (manager && manager.exitCode === null) await new Promise((r) => manager!.once('exit', r));
  await server?.stop();
});

test('a busy Deployment on the real node scales up', { skip, timeout: 240_000 }, async () => {
  const s = server!;
  const detail = () => `${managerOut.slice(-3000)}\n${s.output().slice(-2000)}`;
  await waitForServiceAccount(s, 'default');
  const spin = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'spin' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'spin' } },
      template: {
        metadata: { labels: { app: 'spin' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'spin', image: busyboxImage, command: ['sh', '-c', 'while :; do :; done'], resources: { requests: { cpu: '50m' }, limits: { cpu: '100m' } } }],
        },
      },
    },
  };
  await kubectlOk(s, newest, ['apply', '-f', '-'], { input: JSON.stringify(spin) });
  await kubectlOk(s, newest, ['autoscale', 'deployment', 'spin', '--cpu-percent=50', '--min=1', '--max=3']);

  const usage = await until('kubectl get hpa shows the usage above target', async () => {
    const r = await kubectl(s, newest, ['get', 'hpa', 'spin', '--no-headers']);
    const m = /cpu: (\d+)%\/50%/.exec(r.stdout);
    return m && Number(m[1]) > 55 ? Number(m[1]) : undefined;
  }, { timeoutMs: 150_000, detail });
  assert.ok(usage > 55, `usage ${usage}%`);
  await until('spin scaled up', async () => {
    const d = JSON.parse(await kubectlOk(s, newest, ['get', 'deployment', 'spin', '-o', 'json'])) as Deployment;
    return (d.spec?.replicas ?? 0) >= 2;
  }, { timeoutMs: 60_000, detail });
  const messages = await until('the SuccessfulRescale event', async () => {
    const events = JSON.parse(await kubectlOk(s, newest, ['get', 'events', '--field-selector', 'involvedObject.name=spin,reason=SuccessfulRescale', '-o', 'json'])) as { items: Event[] };
    return events.items.length ? events.items.map((e) => e.message ?? '') : undefined;
  }, { timeoutMs: 30_000, detail });
  assert.ok(messages.some((m) => /^New size: [23]; reason: cpu resource utilization \(percentage of request\) above target$/.test(m)), messages.join('\n'));
  // Stop spinning before the next test file takes the machine.
  await kubectlOk(s, newest, ['delete', 'hpa', 'spin']);
  await kubectlOk(s, newest, ['delete', 'deployment', 'spin', '--wait=true', '--timeout=60s']);
});
