import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { resources } from './autoscaling.ts';
import { behaviorAnnotation, conditionsAnnotation, hpaV1ToV2 as toV2, hpaV2ToV1 as toV1, metricSpecsAnnotation, metricStatusesAnnotation } from './autoscaling-v1.ts';
import { create, make, update, type TestObject } from './core-testing.ts';

type J = Record<string, any>;
const hpas = resources[0]!;
const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };
const hpa = (spec: J, status?: J, annotations?: Record<string, string>): TestObject =>
  make(hpas, { spec: { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 5, ...spec }, ...(status ? { status } : {}) }, annotations ? { annotations } : {});
const v1 = (spec: J, annotations?: Record<string, string>, status?: J): KubeObject => ({
  apiVersion: 'autoscaling/v1',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: 'x', namespace: 'default', ...(annotations ? { annotations } : {}) },
  spec: { scaleTargetRef: ref, minReplicas: 1, maxReplicas: 5, ...spec },
  ...(status ? { status } : {}),
});
const cpu = (u: number) => ({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: u } } });
const hpaV2ToV1 = (o: KubeObject) => toV1(o) as TestObject;
const hpaV1ToV2 = (o: KubeObject) => toV2(o) as TestObject;
const annotationsOf = (o: KubeObject) => o.metadata.annotations ?? {};

// ---- metric specs: one round trip per source type ----------------------------------------------

const metricCases: { name: string; metric: J; v1: J }[] = [
  {
    name: 'a memory Utilization Resource metric',
    metric: { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 60 } } },
    v1: { type: 'Resource', resource: { name: 'memory', targetAverageUtilization: 60 } },
  },
  {
    name: 'a memory AverageValue Resource metric',
    metric: { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '100Mi' } } },
    v1: { type: 'Resource', resource: { name: 'memory', targetAverageValue: '100Mi' } },
  },
  {
    name: 'a cpu AverageValue Resource metric (not the v1 CPU target)',
    metric: { type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '500m' } } },
    v1: { type: 'Resource', resource: { name: 'cpu', targetAverageValue: '500m' } },
  },
  {
    name: 'a ContainerResource Utilization metric',
    metric: { type: 'ContainerResource', containerResource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 }, container: 'app' } },
    v1: { type: 'ContainerResource', containerResource: { name: 'cpu', targetAverageUtilization: 70, container: 'app' } },
  },
  {
    name: 'a ContainerResource AverageValue metric',
    metric: { type: 'ContainerResource', containerResource: { name: 'memory', target: { type: 'AverageValue', averageValue: '1Gi' }, container: 'app' } },
    v1: { type: 'ContainerResource', containerResource: { name: 'memory', targetAverageValue: '1Gi', container: 'app' } },
  },
  {
    name: 'a Pods metric with a selector',
    metric: { type: 'Pods', pods: { metric: { name: 'packets-per-second', selector: { matchLabels: { tier: 'web' } } }, target: { type: 'AverageValue', averageValue: '1k' } } },
    v1: { type: 'Pods', pods: { metricName: 'packets-per-second', targetAverageValue: '1k', selector: { matchLabels: { tier: 'web' } } } },
  },
  {
    name: 'an Object Value metric',
    metric: { type: 'Object', object: { describedObject: { kind: 'Ingress', name: 'main', apiVersion: 'networking.k8s.io/v1' }, target: { type: 'Value', value: '10k' }, metric: { name: 'requests-per-second' } } },
    v1: { type: 'Object', object: { target: { kind: 'Ingress', name: 'main', apiVersion: 'networking.k8s.io/v1' }, metricName: 'requests-per-second', targetValue: '10k' } },
  },
  {
    name: 'an Object AverageValue metric (targetValue reads "0", as upstream writes it)',
    metric: { type: 'Object', object: { describedObject: { kind: 'Service', name: 'db' }, target: { type: 'AverageValue', averageValue: '2' }, metric: { name: 'connections' } } },
    v1: { type: 'Object', object: { target: { kind: 'Service', name: 'db' }, metricName: 'connections', targetValue: '0', averageValue: '2' } },
  },
  {
    name: 'an External Value metric with a selector',
    metric: { type: 'External', external: { metric: { name: 'queue_messages_ready', selector: { matchLabels: { queue: 'worker_tasks' } } }, target: { type: 'Value', value: '30' } } },
    v1: { type: 'External', external: { metricName: 'queue_messages_ready', metricSelector: { matchLabels: { queue: 'worker_tasks' } }, targetValue: '30' } },
  },
  {
    name: 'an External AverageValue metric',
    metric: { type: 'External', external: { metric: { name: 'queue_messages_ready' }, target: { type: 'AverageValue', averageValue: '500m' } } },
    v1: { type: 'External', external: { metricName: 'queue_messages_ready', targetAverageValue: '500m' } },
  },
];

for (const c of metricCases) {
  test(`${c.name} goes into the metrics annotation in v1 fields and comes back unchanged`, () => {
    const stored = create(hpas, hpa({ metrics: [c.metric, cpu(50)] })).obj;
    const served = hpaV2ToV1(stored);
    assert.equal(served['spec'].targetCPUUtilizationPercentage, 50);
    assert.equal(annotationsOf(served)[metricSpecsAnnotation], JSON.stringify([c.v1]));
    const back = create(hpas, hpaV1ToV2(served)).obj;
    assert.deepEqual(back['spec'].metrics, [c.metric, cpu(50)]);
    assert.equal(back.metadata.annotations, undefined);
  });
}

test('all kinds of metrics together round-trip in one annotation, in order', () => {
  const metrics = [...metricCases.map((c) => c.metric), cpu(75)];
  const stored = create(hpas, hpa({ metrics })).obj;
  const served = hpaV2ToV1(stored);
  assert.equal(annotationsOf(served)[metricSpecsAnnotation], JSON.stringify(metricCases.map((c) => c.v1)));
  assert.deepEqual(hpaV1ToV2(served)['spec'].metrics, metrics);
});

test('the CPU utilization metric is targetCPUUtilizationPercentage, and comes back last, as upstream orders it', () => {
  const memory = metricCases[0]!.metric;
  const served = hpaV2ToV1(create(hpas, hpa({ metrics: [cpu(40), memory] })).obj);
  assert.equal(served['spec'].targetCPUUtilizationPercentage, 40);
  assert.deepEqual(JSON.parse(annotationsOf(served)[metricSpecsAnnotation]!), [metricCases[0]!.v1]);
  assert.deepEqual(hpaV1ToV2(served)['spec'].metrics, [memory, cpu(40)]);
});

test('with only a memory metric, v1 has no CPU target and the metric comes back alone', () => {
  const memory = metricCases[1]!.metric;
  const served = hpaV2ToV1(create(hpas, hpa({ metrics: [memory] })).obj);
  assert.equal(served['spec'].targetCPUUtilizationPercentage, undefined);
  assert.deepEqual(hpaV1ToV2(served)['spec'].metrics, [memory]);
});

test('a v1 object with neither a CPU target nor metrics means cpu at 80%', () => {
  assert.deepEqual(hpaV1ToV2(v1({}))['spec'].metrics, [cpu(80)]);
  assert.deepEqual(hpaV1ToV2(v1({ targetCPUUtilizationPercentage: 30 }))['spec'].metrics, [cpu(30)]);
});

test('quantities are written canonical and label selector text is HTML-escaped, as json.Marshal does', () => {
  const metric = { type: 'External', external: { metric: { name: 'q', selector: { matchLabels: { a: '<b>&' } } }, target: { type: 'Value', value: '0.5' } } };
  const text = annotationsOf(hpaV2ToV1(hpa({ metrics: [metric] })))[metricSpecsAnnotation]!;
  assert.equal(text, '[{"type":"External","external":{"metricName":"q","metricSelector":{"matchLabels":{"a":"\\u003cb\\u003e\\u0026"}},"targetValue":"500m"}}]');
  assert.deepEqual(JSON.parse(text)[0].external.metricSelector, { matchLabels: { a: '<b>&' } });
});

// ---- annotations absent when there is nothing to keep -------------------------------------------

test('an HPA with only a CPU target, no behavior, no status metrics or conditions has no round-trip annotations', () => {
  const stored = create(hpas, hpa({ metrics: [cpu(50)] }, undefined, { team: 'web' })).obj;
  const served = hpaV2ToV1(stored);
  assert.deepEqual(served.metadata.annotations, { team: 'web' });
  assert.deepEqual(served['status'], { currentReplicas: 0, desiredReplicas: 0 });
  const bare = hpaV2ToV1(create(hpas, hpa({ metrics: [cpu(50)] })).obj);
  assert.equal(bare.metadata.annotations, undefined);
});

test('stale round-trip annotations on the stored object are never served: only freshly computed ones', () => {
  const stored = hpa({ metrics: [cpu(50)] }, undefined, { [metricSpecsAnnotation]: '[]', [behaviorAnnotation]: '{}', other: 'kept' });
  assert.deepEqual(hpaV2ToV1(stored).metadata.annotations, { other: 'kept' });
});

test('v2 writes drop the round-trip annotations, as upstream v2 conversion does', () => {
  const annotations = {
    [metricSpecsAnnotation]: '[]',
    [metricStatusesAnnotation]: '[]',
    [conditionsAnnotation]: '[]',
    [behaviorAnnotation]: '{}',
    'autoscaling.alpha.kubernetes.io/scale-up-tolerance': '0.1',
  };
  assert.equal(create(hpas, hpa({}, undefined, annotations)).obj.metadata.annotations, undefined);
  const old = create(hpas, hpa({})).obj;
  assert.deepEqual(update(hpas, hpa({}, undefined, { ...annotations, keep: 'me' }), old).obj.metadata.annotations, { keep: 'me' });
});

// ---- behavior ----------------------------------------------------------------------------------

test('behavior is kept as upstream marshals its internal type (Go field names, nil as null) and comes back', () => {
  const behavior = {
    scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Min', policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] },
    scaleUp: { policies: [{ type: 'Percent', value: 50, periodSeconds: 15 }] },
  };
  const stored = create(hpas, hpa({ metrics: [cpu(50)], behavior })).obj;
  const served = hpaV2ToV1(stored);
  assert.equal(
    annotationsOf(served)[behaviorAnnotation],
    '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Percent","Value":50,"PeriodSeconds":15}],"Tolerance":null},' +
      '"ScaleDown":{"StabilizationWindowSeconds":60,"SelectPolicy":"Min","Policies":[{"Type":"Pods","Value":1,"PeriodSeconds":30}],"Tolerance":null}}',
  );
  assert.equal(annotationsOf(served)[metricSpecsAnnotation], undefined);
  const back = create(hpas, hpaV1ToV2(served)).obj;
  assert.deepEqual(back['spec'].behavior, stored['spec'].behavior);
});

test('a behavior tolerance round-trips', () => {
  const behavior = { scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }], tolerance: '50m' } };
  const served = hpaV2ToV1(hpa({ behavior }));
  assert.match(annotationsOf(served)[behaviorAnnotation]!, /"ScaleUp":\{.*"Tolerance":"50m"\},"ScaleDown":null\}$/);
  assert.deepEqual(hpaV1ToV2(served)['spec'].behavior, behavior);
});

test('the behavior annotation is read with Go json key matching: any case, unknown keys ignored', () => {
  const text = '{"scaleUp":{"selectPolicy":"Disabled","unknown":1},"SCALEDOWN":{"policies":[{"type":"Percent","value":10,"periodSeconds":60}]}}';
  assert.deepEqual(hpaV1ToV2(v1({}, { [behaviorAnnotation]: text }))['spec'].behavior, {
    scaleUp: { selectPolicy: 'Disabled' },
    scaleDown: { policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] },
  });
});

// ---- status: current metrics and conditions ----------------------------------------------------

const status = {
  observedGeneration: 3,
  lastScaleTime: '2024-01-01T00:10:00Z',
  currentReplicas: 2,
  desiredReplicas: 3,
  currentMetrics: [
    { type: 'Resource', resource: { name: 'cpu', current: { averageValue: '120m', averageUtilization: 60 } } },
    { type: 'Resource', resource: { name: 'memory', current: { averageValue: '64Mi' } } },
    { type: 'ContainerResource', containerResource: { name: 'cpu', current: { averageValue: '50m', averageUtilization: 50 }, container: 'app' } },
    { type: 'Pods', pods: { metric: { name: 'pps' }, current: { averageValue: '900' } } },
    { type: 'Object', object: { metric: { name: 'rps' }, current: { value: '12k' }, describedObject: { kind: 'Ingress', name: 'main', apiVersion: 'networking.k8s.io/v1' } } },
    { type: 'Object', object: { metric: { name: 'conns' }, current: { averageValue: '3' }, describedObject: { kind: 'Service', name: 'db' } } },
    { type: 'External', external: { metric: { name: 'queue', selector: { matchLabels: { q: 'a' } } }, current: { value: '40' } } },
    { type: 'External', external: { metric: { name: 'queue' }, current: { averageValue: '250m' } } },
  ],
  conditions: [
    { type: 'AbleToScale', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z', reason: 'ReadyForNewScale', message: 'recommended size matches current size' },
    { type: 'ScalingActive', status: 'True', lastTransitionTime: '2024-01-01T00:00:00Z', reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)' },
    { type: 'ScalingLimited', status: 'False', lastTransitionTime: '2024-01-01T00:00:00Z', reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' },
  ],
};

test('current metrics of every type and the conditions go into annotations and come back unchanged', () => {
  const stored = hpa({ metrics: [cpu(50)] }, status);
  const served = hpaV2ToV1(stored);
  assert.deepEqual(served['status'], { observedGeneration: 3, lastScaleTime: '2024-01-01T00:10:00Z', currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 60 });
  assert.deepEqual(JSON.parse(annotationsOf(served)[metricStatusesAnnotation]!), [
    { type: 'Resource', resource: { name: 'cpu', currentAverageUtilization: 60, currentAverageValue: '120m' } },
    { type: 'Resource', resource: { name: 'memory', currentAverageValue: '64Mi' } },
    { type: 'ContainerResource', containerResource: { name: 'cpu', currentAverageUtilization: 50, currentAverageValue: '50m', container: 'app' } },
    { type: 'Pods', pods: { metricName: 'pps', currentAverageValue: '900' } },
    { type: 'Object', object: { target: { kind: 'Ingress', name: 'main', apiVersion: 'networking.k8s.io/v1' }, metricName: 'rps', currentValue: '12k' } },
    { type: 'Object', object: { target: { kind: 'Service', name: 'db' }, metricName: 'conns', currentValue: '0', averageValue: '3' } },
    { type: 'External', external: { metricName: 'queue', metricSelector: { matchLabels: { q: 'a' } }, currentValue: '40' } },
    { type: 'External', external: { metricName: 'queue', currentValue: '0', currentAverageValue: '250m' } },
  ]);
  assert.equal(annotationsOf(served)[conditionsAnnotation], JSON.stringify(status.conditions));
  const back = hpaV1ToV2(served);
  assert.deepEqual(back['status'], status);
  assert.equal(back.metadata.annotations, undefined);
});

test('a condition without a transition time is written with null, as a zero metav1.Time marshals', () => {
  const served = hpaV2ToV1(hpa({}, { currentReplicas: 0, desiredReplicas: 0, conditions: [{ type: 'AbleToScale', status: 'False', reason: 'FailedGetScale' }] }));
  assert.equal(annotationsOf(served)[conditionsAnnotation], '[{"type":"AbleToScale","status":"False","lastTransitionTime":null,"reason":"FailedGetScale"}]');
  assert.deepEqual(hpaV1ToV2(served)['status'].conditions, [{ type: 'AbleToScale', status: 'False', reason: 'FailedGetScale' }]);
});

test('the current-metrics annotation replaces the status CPU utilization, and gives a status where v1 sent none', () => {
  const text = JSON.stringify([{ type: 'Resource', resource: { name: 'cpu', currentAverageUtilization: 70, currentAverageValue: '140m' } }]);
  const withStatus = hpaV1ToV2(v1({}, { [metricStatusesAnnotation]: text }, { currentReplicas: 1, desiredReplicas: 1, currentCPUUtilizationPercentage: 10 }));
  assert.deepEqual(withStatus['status'].currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageValue: '140m', averageUtilization: 70 } } }]);
  const without = hpaV1ToV2(v1({}, { [metricStatusesAnnotation]: text }));
  assert.deepEqual(without['status'], { currentReplicas: 0, desiredReplicas: 0, currentMetrics: withStatus['status'].currentMetrics });
});

// ---- malformed annotations: ignored and removed, as upstream ------------------------------------

const malformed: { name: string; annotation: string; text: string }[] = [
  { name: 'an empty metrics annotation', annotation: metricSpecsAnnotation, text: '' },
  { name: 'a metrics annotation that is not JSON', annotation: metricSpecsAnnotation, text: 'abc' },
  { name: 'a metrics annotation that is an object', annotation: metricSpecsAnnotation, text: '{"type":"Pods"}' },
  { name: 'a metric whose quantity does not parse', annotation: metricSpecsAnnotation, text: '[{"type":"Pods","pods":{"metricName":"a","targetAverageValue":"lots"}}]' },
  { name: 'a metric whose utilization is a string', annotation: metricSpecsAnnotation, text: '[{"type":"Resource","resource":{"name":"memory","targetAverageUtilization":"50"}}]' },
  { name: 'a metric whose type is a number', annotation: metricSpecsAnnotation, text: '[{"type":1}]' },
  { name: 'a behavior annotation that is not JSON', annotation: behaviorAnnotation, text: 'abc' },
  { name: 'an empty behavior', annotation: behaviorAnnotation, text: '{}' },
  { name: 'a null behavior', annotation: behaviorAnnotation, text: 'null' },
  { name: 'a behavior with null rules', annotation: behaviorAnnotation, text: '{"ScaleUp":null,"ScaleDown":null}' },
  { name: 'a behavior whose window is not an integer', annotation: behaviorAnnotation, text: '{"ScaleUp":{"StabilizationWindowSeconds":1.5}}' },
  { name: 'a behavior that is a list', annotation: behaviorAnnotation, text: '[]' },
  { name: 'conditions that are not JSON', annotation: conditionsAnnotation, text: 'abc' },
  { name: 'a condition with a bad transition time', annotation: conditionsAnnotation, text: '[{"type":"AbleToScale","status":"True","lastTransitionTime":"yesterday"}]' },
  { name: 'current metrics that are not JSON', annotation: metricStatusesAnnotation, text: '[' },
];

for (const c of malformed) {
  test(`${c.name} is ignored and removed`, () => {
    const out = hpaV1ToV2(v1({ targetCPUUtilizationPercentage: 60 }, { [c.annotation]: c.text, team: 'web' }, { currentReplicas: 1, desiredReplicas: 1 }));
    assert.deepEqual(out.metadata.annotations, { team: 'web' });
    assert.deepEqual(out['spec'].metrics, [cpu(60)]);
    assert.equal(out['spec'].behavior, undefined);
    assert.deepEqual(out['status'], { currentReplicas: 1, desiredReplicas: 1 });
  });
}

test('an annotation holding JSON null or an empty list adds nothing', () => {
  const out = hpaV1ToV2(v1({}, { [metricSpecsAnnotation]: 'null', [metricStatusesAnnotation]: '[]', [conditionsAnnotation]: 'null' }));
  assert.deepEqual(out['spec'].metrics, [cpu(80)]);
  assert.equal(out['status'], undefined);
  assert.equal(out.metadata.annotations, undefined);
});

// ---- whole objects -----------------------------------------------------------------------------

test('a full v2 object survives v2 → v1 → v2 through the declaration hooks (create, update)', () => {
  const behavior = { scaleDown: { stabilizationWindowSeconds: 120, policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] } };
  const metrics = [metricCases[0]!.metric, metricCases[5]!.metric, cpu(65)];
  const stored = { ...create(hpas, hpa({ metrics, behavior }, undefined, { team: 'web' })).obj, status };
  const replaced = update(hpas, hpaV1ToV2(hpaV2ToV1(stored)), stored).obj;
  assert.deepEqual(replaced, stored);
});
