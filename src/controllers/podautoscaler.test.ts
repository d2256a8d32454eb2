/**
 * The HorizontalPodAutoscaler controller against the in-process API server (no other controller
 * runs: Deployments are only scaled through their scale subresource, pods are made by hand and
 * marked running and ready). CPU usage comes from a fake metrics client; the custom and external
 * metrics APIs are the real client against a server that serves neither. The sync period is
 * 200 ms; "nothing more happens" is observed by waiting for further syncs (calls to the metrics
 * client), never by sleeping.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment, HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, Pod } from '../api/index.ts';
import type { ApiObject } from '../api/index.ts';
import { InformerFactory, type Clientset, type ObjectReference, type Recorder, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { Discovery } from './discovery.ts';
import { runHorizontalController } from './podautoscaler.ts';
import { RestMetricsClient, type MetricsClient, type PodMetricsInfo } from './podautoscaler-metrics.ts';
import { startTestApi, until, type TestApi } from './testing.ts';

const ns = 'hpa';
let testApi: TestApi | undefined;
let client: RestClient;
let cs: Clientset;
const ac = new AbortController();
let informers: InformerFactory;
const events: { name: string; type: string; reason: string; message: string }[] = [];
/** CPU usage (milli) by pod name. */
const cpu = new Map<string, number>();
/** Resource metric calls by namespace/selector: evidence of syncs. */
const calls = new Map<string, number>();

before(async () => {
  testApi = await startTestApi('podautoscaler-test');
  ({ client, cs } = testApi);
  await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  // Pods need their service account (no serviceaccount controller runs here).
  await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }, { namespace: ns });
  const rest = new RestMetricsClient(client, new Discovery(client));
  const metrics: MetricsClient = {
    async getResourceMetric(namespace, { selector }) {
      calls.set(`${namespace}/${selector}`, (calls.get(`${namespace}/${selector}`) ?? 0) + 1);
      const list = await cs.pods.list({ namespace, labelSelector: selector });
      const out: PodMetricsInfo = new Map();
      for (const p of list.items) {
        const v = cpu.get(p.metadata.name!);
        if (v !== undefined) out.set(p.metadata.name!, { timestampMs: Date.now(), windowMs: 30_000, value: v });
      }
      if (!out.size) throw new Error('no metrics returned from resource metrics API');
      return { metrics: out, timestampMs: Date.now() };
    },
    getRawMetric: (namespace, q) => rest.getRawMetric(namespace, q),
    getObjectMetric: (namespace, q) => rest.getObjectMetric(namespace, q),
    getExternalMetric: (namespace, q) => rest.getExternalMetric(namespace, q),
  };
  const recorder: Recorder = {
    event(obj: ApiObject | ObjectReference, type: string, reason: string, message: string) {
      events.push({ name: ('metadata' in obj ? obj.metadata.name : obj.name) ?? '', type, reason, message });
    },
  };
  informers = new InformerFactory(client, { log: () => {} });
  const ctx: ControllerContext = {
    client,
    config: { ...defaultControllerConfig, horizontalPodAutoscalerSyncPeriodMs: 200 },
    informers,
    recorder: () => recorder,
    signal: ac.signal,
    log: () => {},
  };
  runHorizontalController(ctx, { metrics });
  informers.start(ac.signal);
});

after(async () => {
  ac.abort();
  await informers?.stopped();
  await testApi?.close();
});

async function deployment(name: string, replicas: number, app = name): Promise<void> {
  const d: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app } },
      template: { metadata: { labels: { app } }, spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '100m' } } }] } },
    },
  };
  await cs.deployments.create(d, { namespace: ns });
}

/** A running, ready pod (started 10 minutes ago: past the CPU initialization period). */
async function runningPod(name: string, app: string, usage: number): Promise<void> {
  const created = await cs.pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app } }, spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '100m' } } }] } }, { namespace: ns });
  const started = new Date(Date.now() - 600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const pod: Pod = { ...created, status: { phase: 'Running', startTime: started, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: started }] } };
  await cs.pods.updateStatus(pod, { namespace: ns });
  cpu.set(name, usage);
}

async function hpa(name: string, target: { kind: string; name: string; apiVersion?: string }, spec: Partial<HorizontalPodAutoscaler['spec']> = {}): Promise<void> {
  await cs.horizontalPodAutoscalers.create(
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name, namespace: ns },
      spec: { scaleTargetRef: { apiVersion: target.apiVersion ?? 'apps/v1', kind: target.kind, name: target.name }, minReplicas: 1, maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }], ...spec },
    },
    { namespace: ns },
  );
}

const getHpa = (name: string) => cs.horizontalPodAutoscalers.get(name, { namespace: ns });
const condition = (h: HorizontalPodAutoscaler, type: string): HorizontalPodAutoscalerCondition | undefined => h.status?.conditions?.find((c) => c.type === type);
const replicasOf = async (name: string) => (await cs.deployments.get(name, { namespace: ns })).spec?.replicas;
/** Waits until HPA `name` has condition `type` with `reason`, and returns it. */
const waitCondition = (name: string, type: string, reason: string) =>
  until(`${name} ${type} ${reason}`, async () => {
    const c = condition(await getHpa(name), type);
    return c?.reason === reason ? c : undefined;
  });

test('CPU above target scales up: event, status, conditions; then on to max replicas', async () => {
  await deployment('web', 2);
  await runningPod('web-1', 'web', 200);
  await runningPod('web-2', 'web', 200);
  await hpa('web', { kind: 'Deployment', name: 'web' });
  await until('web at 4', async () => ((await replicasOf('web')) === 4 ? true : undefined));
  const ev = events.find((e) => e.name === 'web' && e.reason === 'SuccessfulRescale');
  assert.deepEqual(ev, { name: 'web', type: 'Normal', reason: 'SuccessfulRescale', message: 'New size: 4; reason: cpu resource utilization (percentage of request) above target' });
  // 200% of 2 pods wants 8: at most 2 × 4 next, and max replicas 5.
  await until('web at 5', async () => ((await replicasOf('web')) === 5 ? true : undefined));
  const h = await until('status at 5', async () => {
    const got = await getHpa('web');
    return got.status?.desiredReplicas === 5 && got.status.currentReplicas === 5 ? got : undefined;
  });
  assert.deepEqual(h.status?.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 200, averageValue: '200m' } } }]);
  assert.equal(h.status?.observedGeneration, h.metadata.generation);
  assert.ok(h.status?.lastScaleTime);
  assert.deepEqual(
    h.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]),
    [
      ['AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size'],
      ['ScalingActive', 'True', 'ValidMetricFound', 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)'],
      ['ScalingLimited', 'True', 'TooManyReplicas', 'the desired replica count is more than the maximum replica count'],
    ],
  );
});

test('a status that would not change is not written again', async () => {
  await deployment('steady', 2);
  await runningPod('steady-1', 'steady', 50);
  await runningPod('steady-2', 'steady', 50);
  await hpa('steady', { kind: 'Deployment', name: 'steady' });
  await waitCondition('steady', 'ScalingActive', 'ValidMetricFound');
  const rv = (await getHpa('steady')).metadata.resourceVersion;
  const seen = calls.get(`${ns}/app=steady`) ?? 0;
  await until('three more syncs', async () => ((calls.get(`${ns}/app=steady`) ?? 0) >= seen + 3 ? true : undefined));
  assert.equal((await getHpa('steady')).metadata.resourceVersion, rv);
  assert.equal(await replicasOf('steady'), 2);
});

test('replicas above max are brought to max (12, max 10 → 10)', async () => {
  await deployment('big', 12);
  await hpa('big', { kind: 'Deployment', name: 'big' }, { maxReplicas: 10 });
  await until('big at 10', async () => ((await replicasOf('big')) === 10 ? true : undefined));
  assert.ok(events.some((e) => e.name === 'big' && e.message === 'New size: 10; reason: Current number of replicas above Spec.MaxReplicas'));
  const c = await waitCondition('big', 'AbleToScale', 'SucceededRescale');
  assert.equal(c.message, 'the HPA controller was able to update the target scale to 10');
});

test('a missing target: AbleToScale False, FailedGetScale', async () => {
  await hpa('ghost', { kind: 'Deployment', name: 'nope' });
  const c = await waitCondition('ghost', 'AbleToScale', 'FailedGetScale');
  assert.deepEqual([c.status, c.message], ['False', 'the HPA controller was unable to get the target\'s current scale: deployments.apps "nope" not found']);
  assert.ok(events.some((e) => e.name === 'ghost' && e.type === 'Warning' && e.reason === 'FailedGetScale' && e.message === 'deployments.apps "nope" not found'));
});

test('an unknown kind: no matches through discovery', async () => {
  await hpa('alien', { kind: 'Frobnicator', name: 'x' });
  const c = await waitCondition('alien', 'AbleToScale', 'FailedGetScale');
  assert.equal(c.message, 'the HPA controller was unable to get the target\'s current scale: no matches for kind "Frobnicator" in group "apps"');
});

test('a target scaled to zero is left alone: ScalingDisabled', async () => {
  await deployment('idle', 0);
  await hpa('idle', { kind: 'Deployment', name: 'idle' });
  const c = await waitCondition('idle', 'ScalingActive', 'ScalingDisabled');
  assert.deepEqual([c.status, c.message], ['False', 'scaling is disabled since the replica count of the target is zero']);
  assert.equal(await replicasOf('idle'), 0);
});

test('Pods and External metrics without their APIs: ScalingActive False with upstream\'s messages', async () => {
  await deployment('custom', 1);
  await runningPod('custom-1', 'custom', 10);
  await hpa('custom', { kind: 'Deployment', name: 'custom' }, { metrics: [{ type: 'Pods', pods: { metric: { name: 'packets-per-second' }, target: { type: 'AverageValue', averageValue: '1k' } } }] });
  let c = await waitCondition('custom', 'ScalingActive', 'FailedGetPodsMetric');
  assert.deepEqual([c.status, c.message], ['False', 'the HPA was unable to compute the replica count: unable to get metric packets-per-second: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered']);
  await until('FailedComputeMetricsReplicas', async () =>
    events.some((e) => e.name === 'custom' && e.reason === 'FailedComputeMetricsReplicas' && e.message === 'invalid metrics (1 invalid out of 1), first error is: failed to get pods metric value: unable to get metric packets-per-second: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered') || undefined,
  );
  assert.deepEqual((await getHpa('custom')).status?.currentMetrics, [{ type: '' }]);

  await deployment('queue', 1);
  await hpa('queue', { kind: 'Deployment', name: 'queue' }, { metrics: [{ type: 'External', external: { metric: { name: 'queue_depth', selector: { matchLabels: { queue: 'jobs' } } }, target: { type: 'AverageValue', averageValue: '30' } } }] });
  c = await waitCondition('queue', 'ScalingActive', 'FailedGetExternalMetric');
  assert.equal(
    c.message,
    'the HPA was unable to compute the replica count: unable to get external metric hpa/queue_depth/&LabelSelector{MatchLabels:map[string]string{queue: jobs,},MatchExpressions:[]LabelSelectorRequirement{},}: unable to fetch metrics from external metrics API: the server could not find the requested resource (get queue_depth.external.metrics.k8s.io)',
  );
});

test('pods selected by two HPAs: both refuse to scale (AmbiguousSelector)', async () => {
  await deployment('amb-a', 1, 'shared');
  await deployment('amb-b', 1, 'shared');
  // At target: the first HPA to sync (before it knows of the other) has no reason to scale.
  await runningPod('shared-1', 'shared', 50);
  await hpa('amb-a', { kind: 'Deployment', name: 'amb-a' });
  await hpa('amb-b', { kind: 'Deployment', name: 'amb-b' });
  for (const name of ['amb-a', 'amb-b']) {
    const c = await waitCondition(name, 'ScalingActive', 'AmbiguousSelector');
    assert.equal(c.message, `pods by selector app=shared are controlled by multiple HPAs: [${ns}/amb-a ${ns}/amb-b]`);
  }
  assert.equal(await replicasOf('amb-a'), 1);
});

test('behavior: a scale-down waits for the scale-down window, then follows the policies', async () => {
  await deployment('calm', 4);
  for (let i = 1; i <= 4; i++) await runningPod(`calm-${i}`, 'calm', 50);
  await hpa('calm', { kind: 'Deployment', name: 'calm' }, { behavior: { scaleDown: { stabilizationWindowSeconds: 2, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } } });
  await waitCondition('calm', 'ScalingActive', 'ValidMetricFound');
  for (let i = 1; i <= 4; i++) cpu.set(`calm-${i}`, 5);
  const held = await until('calm held by its window', async () => {
    const h = await getHpa('calm');
    return condition(h, 'AbleToScale')?.reason === 'ScaleDownStabilized' ? h : undefined;
  });
  assert.equal(condition(held, 'AbleToScale')?.message, 'recent recommendations were higher than current one, applying the highest recent recommendation');
  // The same status says what was decided then: stay at 4.
  assert.deepEqual([held.status?.currentReplicas, held.status?.desiredReplicas], [4, 4]);
  // After the window: one pod per minute.
  await until('calm at 3', async () => ((await replicasOf('calm')) === 3 ? true : undefined));
  const limited = await waitCondition('calm', 'ScalingLimited', 'ScaleDownLimit');
  assert.equal(limited.message, 'the desired replica count is decreasing faster than the maximum scale rate');
  assert.ok(events.some((e) => e.name === 'calm' && e.message === 'New size: 3; reason: All metrics below target'));
});
