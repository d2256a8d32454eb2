/**
 * HPA normalization with a fake clock (plain numbers of ms): the legacy path (downscale
 * stabilization, max(2 × current, 4), min/max), behavior stabilization windows both ways,
 * Pods/Percent policies with their periods and scale events, selectPolicy Max/Min/Disabled,
 * upstream's defaults, the reasons and messages of AbleToScale and ScalingLimited, and the
 * bounds on the remembered history. Also the metrics client's parsing of PodMetrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../client/index.ts';
import {
  ScalingHistory,
  convertDesiredReplicasWithRules,
  effectiveBehavior,
  maxRecommendations,
  maxScaleEvents,
  scaleDownLimitWithRules,
  scaleUpLimitWithRules,
  type Behavior,
} from './podautoscaler-behavior.ts';
import { containerMetrics, goLabelSelectorString, podMetrics, windowMs } from './podautoscaler-metrics.ts';
import { milliQuantity } from './podautoscaler-status.ts';

const s = 1000;
const defaults = effectiveBehavior({}, 300)!;

test('defaults as upstream: scale-up 0 s, 4 pods or 100% per 15 s, Max; scale-down from the flag, 100% per 15 s, Max', () => {
  assert.deepEqual(defaults, {
    scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  });
  assert.equal(effectiveBehavior(undefined, 300), undefined);
  assert.equal(effectiveBehavior({ scaleDown: { stabilizationWindowSeconds: 5 } }, 300)!.scaleDown.stabilizationWindowSeconds, 5);
  assert.equal(effectiveBehavior({ scaleUp: { tolerance: '50m' } }, 300)!.scaleUp.tolerance, 0.05);
});

const legacyCases: { name: string; current: number; desired: number; min: number; max: number; want: ReturnType<typeof convertDesiredReplicasWithRules> }[] = [
  { name: 'a scale-up is limited to max(2 × current, 4)', current: 3, desired: 10, min: 1, max: 20, want: { replicas: 6, reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' } },
  { name: 'small targets may grow to 4', current: 1, desired: 10, min: 1, max: 20, want: { replicas: 4, reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' } },
  { name: 'max replicas', current: 10, desired: 12, min: 1, max: 11, want: { replicas: 11, reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' } },
  { name: 'min replicas', current: 3, desired: 1, min: 2, max: 11, want: { replicas: 2, reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' } },
  { name: 'within range', current: 3, desired: 5, min: 1, max: 11, want: { replicas: 5, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' } },
];
for (const c of legacyCases) test(`legacy limits: ${c.name}`, () => assert.deepEqual(convertDesiredReplicasWithRules(c), c.want));

test('legacy: a scale-down waits for the highest recommendation of the window', () => {
  const clock = new FakeClock();
  const h = new ScalingHistory();
  h.recordInitial(5, clock.now());
  clock.step(60 * s);
  let n = h.normalize({ current: 5, desired: 2, min: 1, max: 10, now: clock.now() }, 300 * s);
  assert.deepEqual(n, {
    replicas: 5,
    ableToScale: { reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' },
    scalingLimited: { status: 'False', reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' },
  });
  clock.step(241 * s); // the initial 5 is now 301 s old
  n = h.normalize({ current: 5, desired: 2, min: 1, max: 10, now: clock.now() }, 300 * s);
  assert.equal(n.replicas, 2);
  assert.deepEqual(n.ableToScale, { reason: 'ReadyForNewScale', message: 'recommended size matches current size' });
});

test('legacy: a scale-up is immediate, limited and reported as ScalingLimited', () => {
  const h = new ScalingHistory();
  h.recordInitial(2, 0);
  const n = h.normalize({ current: 2, desired: 9, min: 1, max: 10, now: 1 }, 300 * s);
  assert.equal(n.replicas, 4);
  assert.deepEqual(n.scalingLimited, { status: 'True', reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' });
});

test('behavior: default scale-up allows max(+4 pods, +100%) per 15 s, counting earlier scale events', () => {
  const clock = new FakeClock();
  const h = new ScalingHistory();
  h.recordInitial(1, clock.now());
  let n = h.normalizeWithBehavior(defaults, { current: 1, desired: 20, min: 1, max: 50, now: clock.now() });
  assert.equal(n.replicas, 5);
  assert.deepEqual(n.scalingLimited, { status: 'True', reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' });
  h.storeScaleEvent(defaults, { prev: 1, next: 5, now: clock.now() });
  clock.step(5 * s);
  // Within the period the start was 1: nothing more than 5 yet.
  n = h.normalizeWithBehavior(defaults, { current: 5, desired: 20, min: 1, max: 50, now: clock.now() });
  assert.equal(n.replicas, 5);
  clock.step(11 * s);
  n = h.normalizeWithBehavior(defaults, { current: 5, desired: 20, min: 1, max: 50, now: clock.now() });
  assert.equal(n.replicas, 10);
  h.storeScaleEvent(defaults, { prev: 5, next: 10, now: clock.now() });
  clock.step(16 * s);
  n = h.normalizeWithBehavior(defaults, { current: 10, desired: 12, min: 1, max: 11, now: clock.now() });
  assert.deepEqual({ replicas: n.replicas, reason: n.scalingLimited.reason }, { replicas: 11, reason: 'TooManyReplicas' });
});

test('behavior: the scale-down window keeps the highest recent recommendation; the scale-up window the lowest', () => {
  const b: Behavior = { ...defaults, scaleDown: { ...defaults.scaleDown, stabilizationWindowSeconds: 30 }, scaleUp: { ...defaults.scaleUp, stabilizationWindowSeconds: 20 } };
  const clock = new FakeClock();
  const h = new ScalingHistory();
  h.recordInitial(4, clock.now());
  clock.step(10 * s);
  let n = h.normalizeWithBehavior(b, { current: 4, desired: 1, min: 1, max: 10, now: clock.now() });
  assert.deepEqual({ replicas: n.replicas, ...n.ableToScale }, { replicas: 4, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' });
  clock.step(21 * s); // 4 is 31 s old
  n = h.normalizeWithBehavior(b, { current: 4, desired: 1, min: 1, max: 10, now: clock.now() });
  assert.equal(n.replicas, 1);
  // Scale-up: 1 was recommended 0 s and 21 s ago; 8 now is held at the lowest of the last 20 s.
  n = h.normalizeWithBehavior(b, { current: 1, desired: 8, min: 1, max: 10, now: clock.now() + 1 });
  assert.deepEqual({ replicas: n.replicas, ...n.ableToScale }, { replicas: 1, reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' });
  n = h.normalizeWithBehavior(b, { current: 1, desired: 8, min: 1, max: 10, now: clock.now() + 21 * s });
  assert.equal(n.replicas, 5); // 8, limited by the default scale-up policies (1 + 4)
});

const pol = (type: string, value: number, periodSeconds = 60) => ({ type, value, periodSeconds });
const limitCases: { name: string; dir: 'up' | 'down'; current: number; selectPolicy: string; policies: ReturnType<typeof pol>[]; want: number }[] = [
  { name: 'Percent rounds a scale-up up', dir: 'up', current: 3, selectPolicy: 'Max', policies: [pol('Percent', 10)], want: 4 },
  { name: 'Max picks the larger change up', dir: 'up', current: 10, selectPolicy: 'Max', policies: [pol('Pods', 2), pol('Percent', 50)], want: 15 },
  { name: 'Min picks the smaller change up', dir: 'up', current: 10, selectPolicy: 'Min', policies: [pol('Pods', 2), pol('Percent', 50)], want: 12 },
  { name: 'Disabled forbids scaling up', dir: 'up', current: 10, selectPolicy: 'Disabled', policies: [pol('Pods', 2)], want: 10 },
  { name: 'Percent truncates a scale-down', dir: 'down', current: 5, selectPolicy: 'Max', policies: [pol('Percent', 50)], want: 2 },
  { name: 'Max picks the larger change down', dir: 'down', current: 10, selectPolicy: 'Max', policies: [pol('Pods', 2), pol('Percent', 50)], want: 5 },
  { name: 'Min picks the smaller change down', dir: 'down', current: 10, selectPolicy: 'Min', policies: [pol('Pods', 2), pol('Percent', 50)], want: 8 },
  { name: 'Disabled forbids scaling down', dir: 'down', current: 10, selectPolicy: 'Disabled', policies: [pol('Pods', 2)], want: 10 },
];
for (const c of limitCases) {
  test(`policies: ${c.name}`, () => {
    const r = { stabilizationWindowSeconds: 0, selectPolicy: c.selectPolicy, policies: c.policies };
    const got = c.dir === 'up' ? scaleUpLimitWithRules(r, { current: c.current, up: [], down: [], now: 0 }) : scaleDownLimitWithRules(r, { current: c.current, up: [], down: [], now: 0 });
    assert.equal(got, c.want);
  });
}

test('policies: a scale-down within the period counts from the replica count at its start', () => {
  const b: Behavior = { ...defaults, scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [pol('Pods', 3, 60)] } };
  const h = new ScalingHistory();
  h.recordInitial(10, 0);
  let n = h.normalizeWithBehavior(b, { current: 10, desired: 1, min: 1, max: 10, now: 1000 });
  assert.deepEqual({ replicas: n.replicas, reason: n.scalingLimited.reason, message: n.scalingLimited.message }, { replicas: 7, reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' });
  h.storeScaleEvent(b, { prev: 10, next: 7, now: 1000 });
  n = h.normalizeWithBehavior(b, { current: 7, desired: 1, min: 1, max: 10, now: 30_000 });
  assert.equal(n.replicas, 7);
  n = h.normalizeWithBehavior(b, { current: 7, desired: 1, min: 1, max: 10, now: 62_000 });
  assert.equal(n.replicas, 4);
  n = h.normalizeWithBehavior(b, { current: 2, desired: 1, min: 2, max: 10, now: 200_000 });
  assert.deepEqual({ replicas: n.replicas, reason: n.scalingLimited.reason }, { replicas: 2, reason: 'TooFewReplicas' });
});

test('bounds: distinct recommendations and scale events are capped', () => {
  const h = new ScalingHistory();
  const b: Behavior = { ...defaults, scaleDown: { ...defaults.scaleDown, stabilizationWindowSeconds: 3600 }, scaleUp: { ...defaults.scaleUp, policies: [pol('Pods', 1, 1800)] } };
  for (let i = 0; i < maxRecommendations + 10; i++) h.normalizeWithBehavior(b, { current: 1, desired: i + 1, min: 1, max: 100_000, now: i });
  assert.equal(h.recommendationCount, maxRecommendations);
  for (let i = 0; i < maxScaleEvents + 10; i++) h.storeScaleEvent(b, { prev: i, next: i + 1, now: i });
  assert.equal(h.scaleEventCount, maxScaleEvents);
});

test('bounds: recommendations older than both windows are dropped', () => {
  const h = new ScalingHistory();
  for (let i = 0; i < 50; i++) h.normalizeWithBehavior(defaults, { current: 5, desired: i, min: 1, max: 100, now: i * 1000 });
  h.normalizeWithBehavior(defaults, { current: 5, desired: 3, min: 1, max: 100, now: 1_000_000 });
  assert.equal(h.recommendationCount, 1);
});

test('metrics: a pod sums its containers; one lacking the resource drops the pod; a container is picked by name', () => {
  const items = [
    { metadata: { name: 'a', namespace: 'ns' }, timestamp: '2025-01-01T00:00:00Z', window: '30s', containers: [{ name: 'x', usage: { cpu: '250m', memory: '64Mi' } }, { name: 'y', usage: { cpu: '1' } }] },
    { metadata: { name: 'b', namespace: 'ns' }, timestamp: '2025-01-01T00:00:00Z', window: '1m0.5s', containers: [] },
  ];
  assert.deepEqual([...podMetrics(items, 'cpu')], [['a', { timestampMs: Date.UTC(2025, 0, 1), windowMs: 30_000, value: 1250 }]]);
  assert.deepEqual([...podMetrics(items, 'memory')], []);
  assert.deepEqual([...containerMetrics(items.slice(0, 1), 'memory', 'x')], [['a', { timestampMs: Date.UTC(2025, 0, 1), windowMs: 30_000, value: 64 * 1024 * 1024 * 1000 }]]);
  assert.throws(() => containerMetrics(items, 'cpu', 'x'), /^Error: container x not present in metrics for pod ns\/b$/);
  assert.equal(windowMs('1m0.5s'), 60_500);
  assert.equal(windowMs('bogus'), 0);
});

test('messages: selectors and quantities print as Go prints them', () => {
  assert.equal(goLabelSelectorString(undefined), 'nil');
  assert.equal(goLabelSelectorString({ matchLabels: { queue: 'worker', a: 'b' } }), '&LabelSelector{MatchLabels:map[string]string{a: b,queue: worker,},MatchExpressions:[]LabelSelectorRequirement{},}');
  assert.equal(goLabelSelectorString({ matchExpressions: [{ key: 'k', operator: 'In', values: ['a', 'b'] }] }), '&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[a b],},},}');
  assert.deepEqual([250, 2000, 1500, 67108864000, 0].map(milliQuantity), ['250m', '2', '1500m', '67108864', '0']);
});
