/**
 * The HorizontalPodAutoscaler end to end: `bin/bosun server --virtual-nodes 2
 * --disable-controller-manager` (the metrics server scraping every second through
 * BOSUN_METRIC_RESOLUTION) and a separate `bin/bosun controller-manager` with upstream's HPA
 * flags (sync period 1 s, downscale stabilization 6 s), driven with the real kubectl 1.27 and
 * 1.33:
 * - `kubectl autoscale deployment web-app --cpu-percent=50 --min=1 --max=5`; annotating the pod
 *   `metrics.bosun.dev/cpu=200m` (its simulated usage, 200% of its 100m request) scales the
 *   Deployment to 4 with upstream's SuccessfulRescale event, status and conditions, and `kubectl
 *   get hpa` shows `cpu: …%/50%` in both versions; back to `10m`, it holds (ScaleDownStabilized)
 *   for the stabilization window, then scales to 1;
 * - a Deployment of 12 under an HPA of max 10 (kubectl 1.27's autoscale) is brought to 10;
 * - a v2 manifest (with behavior) naming a missing Deployment: AbleToScale False, FailedGetScale;
 * - a Pods metric, with no custom metrics API served: ScalingActive False, FailedGetPodsMetric.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Deployment, Event, HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition } from '../../src/api/index.ts';
import { startServer, bosunBin, kubectl, kubectlOk, kubectlVersions, until as waitUntil, waitForServiceAccount, type ServerHandle } from './harness.ts';

// The spawned server inherits the environment: the metrics server scrapes every second.
process.env['BOSUN_METRIC_RESOLUTION'] = '1s';

const newest = kubectlVersions.at(-1)!;
let server: ServerHandle;
let manager: ChildProcess;
let managerOut = '';
const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 45_000) => waitUntil(what, fn, { timeoutMs, detail: () => managerOut.slice(-4000) });

before(async () => {
  server = await startServer({ args: ['--virtual-nodes', '2', '--disable-controller-manager'] });
  manager = spawn(bosunBin, [
    'controller-manager',
    '--kubeconfig', server.kubeconfig,
    '--horizontal-pod-autoscaler-sync-period', '1s',
    '--horizontal-pod-autoscaler-downscale-stabilization', '6s',
    '--horizontal-pod-autoscaler-tolerance', '0.1',
    '--horizontal-pod-autoscaler-cpu-initialization-period', '5m',
    '--horizontal-pod-autoscaler-initial-readiness-delay', '30s',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  manager.stdout!.on('data', (d: Buffer) => (managerOut += d.toString()));
  manager.stderr!.on('data', (d: Buffer) => (managerOut += d.toString()));
  await waitForServiceAccount(server, 'default');
});

after(async () => {
  manager?.kill('SIGTERM');
  if (manager && manager.exitCode === null) await new Promise((r) => manager.once('exit', r));
  await server?.stop();
});

const json = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectlOk(server, newest, [...args, '-o', 'json'])) as T;
const getHpa = (name: string) => json<HorizontalPodAutoscaler>(['get', 'hpa.v2.autoscaling', name]);
const replicas = async (name: string) => (await json<Deployment>(['get', 'deployment', name])).spec?.replicas;
const condition = (h: HorizontalPodAutoscaler, type: string): HorizontalPodAutoscalerCondition | undefined => h.status?.conditions?.find((c) => c.type === type);
const waitCondition = (name: string, type: string, reason: string) =>
  until(`hpa ${name}: ${type} ${reason}`, async () => {
    const c = condition(await getHpa(name), type);
    return c?.reason === reason ? c : undefined;
  });
/** The messages of the HPA's events of `reason`. */
const eventMessages = async (name: string, reason: string) =>
  (await json<{ items: Event[] }>(['get', 'events', '--field-selector', `involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${name},reason=${reason}`])).items.map((e) => e.message);

function deployment(name: string, count: number): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: count,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'busybox', command: ['sleep', '3600'], resources: { requests: { cpu: '100m' } } }] } },
    },
  };
}

/** kubectl get hpa NAME's row split on runs of spaces, and the header. */
async function hpaRow(v: string, name: string): Promise<{ header: string[]; row: string[] }> {
  const [header, row] = (await kubectlOk(server, v, ['get', 'hpa', name])).trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
  return { header: header!, row: row! };
}

test('kubectl autoscale: CPU above target scales up, back below it scales down after the window', { timeout: 120_000 }, async () => {
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(deployment('web-app', 1)) });
  assert.match(await kubectlOk(server, newest, ['autoscale', 'deployment', 'web-app', '--cpu-percent=50', '--min=1', '--max=5']), /horizontalpodautoscaler.autoscaling\/web-app autoscaled/);
  // The simulated default usage (1m of 100m) is measured once the pod runs.
  for (const v of kubectlVersions) {
    const { header, row } = await until(`kubectl ${v} get hpa shows the usage`, async () => {
      const r = await hpaRow(v, 'web-app');
      return /^cpu: \d+%\/50%$/.test(r.row[2] ?? '') ? r : undefined;
    });
    assert.deepEqual(header, ['NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE']);
    assert.deepEqual(row.slice(0, 2).concat(row.slice(3, 6)), ['web-app', 'Deployment/web-app', '1', '5', '1']);
  }
  await waitCondition('web-app', 'ScalingActive', 'ValidMetricFound');

  await kubectlOk(server, newest, ['annotate', 'pods', '-l', 'app=web-app', 'metrics.bosun.dev/cpu=200m', '--overwrite']);
  await until('web-app scaled to 4', async () => (await replicas('web-app')) === 4);
  const upEvents = await until('the scale-up event', async () => {
    const m = await eventMessages('web-app', 'SuccessfulRescale');
    return m.length ? m : undefined;
  });
  assert.deepEqual(upEvents, ['New size: 4; reason: cpu resource utilization (percentage of request) above target']);
  const up = await getHpa('web-app');
  assert.equal(up.status?.desiredReplicas, 4);
  assert.ok(up.status?.lastScaleTime, 'lastScaleTime set');
  assert.equal(up.status?.observedGeneration, up.metadata.generation);
  assert.deepEqual(up.status?.currentMetrics?.map((m) => m.resource?.name), ['cpu']);
  assert.equal(condition(up, 'ScalingActive')?.status, 'True');
  assert.equal(condition(up, 'AbleToScale')?.status, 'True');
  const table = (await kubectlOk(server, '27', ['get', 'hpa', 'web-app'])).trim().split('\n')[1]!;
  assert.match(table, /^web-app\s+Deployment\/web-app\s+cpu: \d+%\/50%\s+1\s+5\s+[1-4]\s+\d+/);

  // Back down: the recommendation falls at once, the replicas only after the 6 s window.
  const before = Date.now();
  await until('all four pods annotated', async () => {
    await kubectlOk(server, newest, ['annotate', 'pods', '-l', 'app=web-app', 'metrics.bosun.dev/cpu=10m', '--overwrite']);
    const pods = await json<{ items: { metadata: { annotations?: Record<string, string> } }[] }>(['get', 'pods', '-l', 'app=web-app']);
    return pods.items.length === 4 && pods.items.every((p) => p.metadata.annotations?.['metrics.bosun.dev/cpu'] === '10m');
  });
  const held = await until('web-app held by the window', async () => {
    const h = await getHpa('web-app');
    return condition(h, 'AbleToScale')?.reason === 'ScaleDownStabilized' ? h : undefined;
  });
  assert.equal(condition(held, 'AbleToScale')?.message, 'recent recommendations were higher than current one, applying the highest recent recommendation');
  // The same status says what was decided then: stay at 4.
  assert.deepEqual([held.status?.currentReplicas, held.status?.desiredReplicas], [4, 4]);
  await until('web-app scaled to 1', async () => (await replicas('web-app')) === 1);
  assert.ok(Date.now() - before >= 5_000, 'not before the stabilization window');
  const all = await until('the scale-down event', async () => {
    const m = await eventMessages('web-app', 'SuccessfulRescale');
    return m.length === 2 ? m.sort() : undefined;
  });
  assert.deepEqual(all, ['New size: 1; reason: All metrics below target', 'New size: 4; reason: cpu resource utilization (percentage of request) above target']);
});

test('replicas above max are brought to max: 12 under max 10 → 10', async () => {
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(deployment('big', 12)) });
  // The oldest kubectl this time (kubectl autoscale writes autoscaling/v1 or v2 depending on its version).
  await kubectlOk(server, kubectlVersions[0]!, ['autoscale', 'deployment', 'big', '--cpu-percent=80', '--max=10']);
  await until('big scaled to 10', async () => (await replicas('big')) === 10);
  const events = await until('the rescale event', async () => {
    const m = await eventMessages('big', 'SuccessfulRescale');
    return m.length ? m : undefined;
  });
  assert.deepEqual(events, ['New size: 10; reason: Current number of replicas above Spec.MaxReplicas']);
});

test('a v2 HPA whose target is missing: AbleToScale False, FailedGetScale', async () => {
  const hpa = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web-hpa' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'missing' },
      minReplicas: 1,
      maxReplicas: 3,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 5 } },
    },
  };
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(hpa) });
  const c = await waitCondition('web-hpa', 'AbleToScale', 'FailedGetScale');
  assert.deepEqual([c.status, c.message], ['False', 'the HPA controller was unable to get the target\'s current scale: deployments.apps "missing" not found']);
  await until('the FailedGetScale event', async () => (await eventMessages('web-hpa', 'FailedGetScale')).includes('deployments.apps "missing" not found'));
  const describe = await kubectlOk(server, newest, ['describe', 'hpa', 'web-hpa']);
  assert.match(describe, /AbleToScale\s+False\s+FailedGetScale/);
});

test('a Pods metric without a custom metrics API: ScalingActive False, FailedGetPodsMetric', async () => {
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(deployment('rps', 1)) });
  const hpa = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'rps' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'rps' },
      maxReplicas: 3,
      metrics: [{ type: 'Pods', pods: { metric: { name: 'requests-per-second' }, target: { type: 'AverageValue', averageValue: '10' } } }],
    },
  };
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(hpa) });
  const c = await waitCondition('rps', 'ScalingActive', 'FailedGetPodsMetric');
  assert.deepEqual([c.status, c.message], ['False', 'the HPA was unable to compute the replica count: unable to get metric requests-per-second: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered']);
  const { row } = await hpaRow(newest, 'rps');
  assert.equal(row[2], '<unknown>/10');
  assert.equal((await kubectl(server, newest, ['get', 'deployment', 'rps'])).code, 0);
});
