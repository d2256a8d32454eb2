/**
 * The autoscaling/v1 view of HorizontalPodAutoscalers keeps what it cannot express, as upstream:
 * against `bin/bosun server --disable-controller-manager` (no HPA controller touches the objects),
 * with the real kubectl 1.27 and 1.33:
 * - a v2 HPA with memory and cpu metrics and a behavior read in autoscaling/v1 has
 *   targetCPUUtilizationPercentage and upstream's `autoscaling.alpha.kubernetes.io/metrics` and
 *   `.../behavior` annotations; `kubectl replace` of that v1 document leaves the v2 metrics and
 *   behavior as they were, and the stored object has no round-trip annotation; `kubectl get` of
 *   the v1 resource shows both metrics in TARGETS, as upstream's server-side table does;
 * - a status written through v2 (current metrics, conditions) shows in the v1 view's
 *   `.../current-metrics` and `.../conditions` annotations and survives a v1 replace;
 * - a v1 edit of the CPU target changes only that metric; v2 writes drop round-trip annotations.
 * The v1 view is asked for as `horizontalpodautoscalers.v1.autoscaling`: kubectl 1.33 expands the
 * short name in `hpa.v1.autoscaling` without its version and reads the preferred v2 (client-side).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HorizontalPodAutoscaler, KubeObject } from '../../src/api/index.ts';
import { kubectlOk, kubectlVersions, startServer, type ServerHandle } from './harness.ts';

let server: ServerHandle;
const ns = 'default';
const metricsKey = 'autoscaling.alpha.kubernetes.io/metrics';
const behaviorKey = 'autoscaling.alpha.kubernetes.io/behavior';
const currentKey = 'autoscaling.alpha.kubernetes.io/current-metrics';
const conditionsKey = 'autoscaling.alpha.kubernetes.io/conditions';

before(async () => {
  server = await startServer({ args: ['--disable-controller-manager'] });
});

after(async () => {
  await server?.stop();
});

const hpaYaml = (name: string) => `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: ${name}
  namespace: ${ns}
  annotations:
    team: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 8
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 120
      policies: [{type: Pods, value: 1, periodSeconds: 60}]
`;

type V1 = KubeObject & { spec: { targetCPUUtilizationPercentage?: number }; status?: Record<string, unknown> };
const getV1 = async (v: string, name: string) => JSON.parse(await kubectlOk(server, v, ['get', 'horizontalpodautoscalers.v1.autoscaling', name, '-n', ns, '-o', 'json'])) as V1;
const getV2 = async (v: string, name: string) => JSON.parse(await kubectlOk(server, v, ['get', 'horizontalpodautoscalers.v2.autoscaling', name, '-n', ns, '-o', 'json'])) as HorizontalPodAutoscaler;

for (const v of kubectlVersions) {
  test(`kubectl 1.${v}: a v1 read and replace keeps the v2 metrics and behavior`, async () => {
    const name = `mem-${v}`;
    await kubectlOk(server, v, ['create', '-f', '-'], { input: hpaYaml(name) });
    const before = await getV2(v, name);

    const served = await getV1(v, name);
    assert.equal(served.apiVersion, 'autoscaling/v1');
    assert.equal(served.spec.targetCPUUtilizationPercentage, 60);
    const annotations = served.metadata.annotations ?? {};
    assert.equal(annotations['team'], 'web');
    assert.equal(annotations[metricsKey], '[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"100Mi"}}]');
    assert.equal(
      annotations[behaviorKey],
      '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null},' +
        '"ScaleDown":{"StabilizationWindowSeconds":120,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":1,"PeriodSeconds":60}],"Tolerance":null}}',
    );
    assert.equal(annotations[currentKey], undefined, 'no current metrics yet');
    assert.equal(annotations[conditionsKey], undefined, 'no conditions yet');

    await kubectlOk(server, v, ['replace', '-f', '-'], { input: JSON.stringify(served) });
    const after = await getV2(v, name);
    assert.deepEqual(after.spec?.metrics, before.spec?.metrics);
    assert.deepEqual(after.spec?.behavior, before.spec?.behavior);
    assert.deepEqual(after.metadata.annotations, { team: 'web' });
    const table = await kubectlOk(server, v, ['get', 'horizontalpodautoscalers.v1.autoscaling', name, '-n', ns]);
    assert.match(table, new RegExp(`${name}\\s+Deployment/web\\s+memory: <unknown>/100Mi, cpu: <unknown>/60%\\s+2\\s+8\\s+0`));
  });
}

test('status metrics and conditions show in the v1 annotations; a v1 CPU edit changes only the CPU metric', async () => {
  const v = kubectlVersions.at(-1)!;
  const name = 'status';
  await kubectlOk(server, v, ['create', '-f', '-'], { input: hpaYaml(name) });
  const status = {
    currentReplicas: 2,
    desiredReplicas: 2,
    currentMetrics: [
      { type: 'Resource', resource: { name: 'memory', current: { averageValue: '64Mi' } } },
      { type: 'Resource', resource: { name: 'cpu', current: { averageValue: '30m', averageUtilization: 30 } } },
    ],
    conditions: [{ type: 'AbleToScale', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z', reason: 'ReadyForNewScale', message: 'recommended size matches current size' }],
  };
  await kubectlOk(server, v, ['patch', 'horizontalpodautoscalers.v2.autoscaling', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);

  const served = await getV1(v, name);
  assert.equal(served.status?.['currentCPUUtilizationPercentage'], 30);
  const annotations = served.metadata.annotations ?? {};
  assert.deepEqual(JSON.parse(annotations[currentKey]!), [
    { type: 'Resource', resource: { name: 'memory', currentAverageValue: '64Mi' } },
    { type: 'Resource', resource: { name: 'cpu', currentAverageUtilization: 30, currentAverageValue: '30m' } },
  ]);
  assert.deepEqual(JSON.parse(annotations[conditionsKey]!), status.conditions);

  served.spec.targetCPUUtilizationPercentage = 45;
  await kubectlOk(server, v, ['replace', '-f', '-'], { input: JSON.stringify(served) });
  const after = await getV2(v, name);
  assert.deepEqual(after.spec?.metrics, [
    { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } },
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 45 } } },
  ]);
  assert.equal(after.spec?.behavior?.scaleDown?.stabilizationWindowSeconds, 120);
  assert.deepEqual(after.status?.currentMetrics, status.currentMetrics);
  assert.deepEqual(after.status?.conditions, status.conditions);

  // A v2 write never stores the round-trip annotations.
  await kubectlOk(server, v, ['annotate', 'horizontalpodautoscalers.v2.autoscaling', name, '-n', ns, `${metricsKey}=[]`, 'extra=1']);
  assert.deepEqual((await getV2(v, name)).metadata.annotations, { team: 'web', extra: '1' });
});
