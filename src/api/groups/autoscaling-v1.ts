/**
 * HorizontalPodAutoscaler autoscaling/v2 (stored) ⇄ autoscaling/v1 (served), as upstream's
 * pkg/apis/autoscaling/v1/conversion.go: v1 has only `targetCPUUtilizationPercentage` and
 * `currentCPUUtilizationPercentage`, so what it cannot express travels in annotations, and a v1
 * client that reads and writes back an object keeps it:
 * - `autoscaling.alpha.kubernetes.io/metrics`: the metrics other than a cpu Resource metric with
 *   an averageUtilization, as JSON []v1.MetricSpec;
 * - `.../current-metrics`: every status.currentMetrics entry, as []v1.MetricStatus;
 * - `.../behavior`: spec.behavior, as json.Marshal writes upstream's internal type (which has no
 *   json tags: `{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[…],
 *   "Tolerance":null},"ScaleDown":…}`);
 * - `.../conditions`: status.conditions, as []v1.HorizontalPodAutoscalerCondition.
 * Each is written only when there is something to keep. Reading v1 back, the annotations become
 * fields again and are removed (all round-trip annotations are, also the v2beta2 tolerance ones);
 * one that is not JSON or does not fit its type is ignored, as upstream ignores it. The metrics
 * from the annotation come first and the cpu target last, as upstream orders them; with no metric
 * at all, v1 means cpu at 80%. The stored v2 object never carries these annotations: v2 writes
 * drop them (`dropRoundTripAnnotations`, upstream's DropRoundTripHorizontalPodAutoscalerAnnotations).
 */
import type { KubeObject } from '../types.ts';
import { arr, field, int, marshal, obj, optStr, qty, str, time, unmarshal, type J } from './autoscaling-gojson.ts';
import { metricSpecToV1, metricSpecsFromV1, metricStatusToV1, metricStatusesFromV1 } from './autoscaling-v1-metrics.ts';

export const metricSpecsAnnotation = 'autoscaling.alpha.kubernetes.io/metrics';
export const metricStatusesAnnotation = 'autoscaling.alpha.kubernetes.io/current-metrics';
export const conditionsAnnotation = 'autoscaling.alpha.kubernetes.io/conditions';
export const behaviorAnnotation = 'autoscaling.alpha.kubernetes.io/behavior';
const roundTripAnnotations = [
  metricSpecsAnnotation,
  behaviorAnnotation,
  'autoscaling.alpha.kubernetes.io/scale-down-tolerance',
  'autoscaling.alpha.kubernetes.io/scale-up-tolerance',
  metricStatusesAnnotation,
  conditionsAnnotation,
];

/** v1's implicit target when an HPA names no metric (upstream DefaultCPUUtilization). */
export const defaultCpuUtilization = 80;

export function cpuMetric(averageUtilization: number): J {
  return { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization } } };
}

/** Removes the round-trip annotations from metadata in place (and an annotations map left empty). */
export function dropRoundTripAnnotations(meta: KubeObject['metadata']): void {
  const a = meta?.annotations;
  if (!a) return;
  for (const k of roundTripAnnotations) delete a[k];
  if (Object.keys(a).length === 0) delete meta.annotations;
}

const isCpuUtilization = (m: J): boolean =>
  m['type'] === 'Resource' && m['resource']?.['name'] === 'cpu' && m['resource']?.['target']?.['averageUtilization'] !== undefined && m['resource']?.['target']?.['averageUtilization'] !== null;

// ---- behavior: upstream marshals its internal type, so Go field names ----------------------

function rulesOut(r: J | undefined): J | null {
  if (!r) return null;
  return {
    StabilizationWindowSeconds: r['stabilizationWindowSeconds'] ?? null,
    SelectPolicy: r['selectPolicy'] ?? null,
    Policies: Array.isArray(r['policies']) ? (r['policies'] as J[]).map((p) => ({ Type: p['type'] ?? '', Value: p['value'] ?? 0, PeriodSeconds: p['periodSeconds'] ?? 0 })) : null,
    Tolerance: r['tolerance'] ?? null,
  };
}

function rulesIn(v: unknown, what: string): J | undefined {
  const r = obj(v, what);
  if (!r) return undefined;
  const out: J = {};
  const window = int(field(r, 'StabilizationWindowSeconds'), `${what}.StabilizationWindowSeconds`);
  if (window !== undefined) out['stabilizationWindowSeconds'] = window;
  const select = optStr(field(r, 'SelectPolicy'), `${what}.SelectPolicy`);
  if (select !== undefined) out['selectPolicy'] = select;
  const policies = arr(field(r, 'Policies'), `${what}.Policies`);
  if (policies) {
    out['policies'] = policies.map((item, i) => {
      const p = obj(item, `${what}.Policies[${i}]`) ?? {};
      const w = `${what}.Policies[${i}]`;
      return { type: str(field(p, 'Type'), `${w}.Type`), value: int(field(p, 'Value'), `${w}.Value`) ?? 0, periodSeconds: int(field(p, 'PeriodSeconds'), `${w}.PeriodSeconds`) ?? 0 };
    });
  }
  const tolerance = qty(field(r, 'Tolerance'), `${what}.Tolerance`);
  if (tolerance !== undefined) out['tolerance'] = tolerance;
  return out;
}

/** The behavior annotation's JSON as a v2 behavior; undefined for the zero behavior (upstream then keeps none). */
function behaviorIn(v: unknown): J | undefined {
  const b = obj(v, 'autoscaling.HorizontalPodAutoscalerBehavior') ?? {};
  const scaleUp = rulesIn(field(b, 'ScaleUp'), 'ScaleUp');
  const scaleDown = rulesIn(field(b, 'ScaleDown'), 'ScaleDown');
  if (!scaleUp && !scaleDown) return undefined;
  const out: J = {};
  if (scaleUp) out['scaleUp'] = scaleUp;
  if (scaleDown) out['scaleDown'] = scaleDown;
  return out;
}

// ---- conditions ----------------------------------------------------------------------------

function conditionOut(c: J): J {
  // lastTransitionTime is a metav1.Time struct: omitempty does not apply, a zero one is null.
  const out: J = { type: c['type'] ?? '', status: c['status'] ?? '', lastTransitionTime: c['lastTransitionTime'] ?? null };
  if (c['reason']) out['reason'] = c['reason'];
  if (c['message']) out['message'] = c['message'];
  if (c['observedGeneration'] !== undefined && c['observedGeneration'] !== null) out['observedGeneration'] = c['observedGeneration'];
  return out;
}

function conditionsIn(v: unknown): J[] {
  return (arr(v, '[]v1.HorizontalPodAutoscalerCondition') ?? []).map((item, i) => {
    const w = `[${i}]`;
    const c = obj(item, w) ?? {};
    const out: J = { type: str(field(c, 'type'), `${w}.type`), status: str(field(c, 'status'), `${w}.status`) };
    const t = time(field(c, 'lastTransitionTime'), `${w}.lastTransitionTime`);
    if (t !== undefined) out['lastTransitionTime'] = t;
    const reason = str(field(c, 'reason'), `${w}.reason`);
    if (reason) out['reason'] = reason;
    const message = str(field(c, 'message'), `${w}.message`);
    if (message) out['message'] = message;
    const generation = int(field(c, 'observedGeneration'), `${w}.observedGeneration`, 64);
    if (generation !== undefined) out['observedGeneration'] = generation;
    return out;
  });
}

// ---- objects -------------------------------------------------------------------------------

/** autoscaling/v1 → autoscaling/v2 (a new object): the CPU target, then the annotations read back and removed. */
export function hpaV1ToV2(o: KubeObject): KubeObject {
  const spec = (o['spec'] ?? {}) as J;
  const status = o['status'] as J | undefined;
  const annotations = o.metadata.annotations ?? {};
  const out: KubeObject = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: structuredClone(o.metadata) };
  const s2: J = { scaleTargetRef: spec['scaleTargetRef'] };
  if (spec['minReplicas'] !== undefined) s2['minReplicas'] = spec['minReplicas'];
  s2['maxReplicas'] = spec['maxReplicas'];
  let metrics: J[] = spec['targetCPUUtilizationPercentage'] !== undefined ? [cpuMetric(spec['targetCPUUtilizationPercentage'])] : [];
  const other = unmarshal(annotations[metricSpecsAnnotation], metricSpecsFromV1);
  if (other) metrics = [...other, ...metrics];
  s2['metrics'] = metrics.length ? metrics : [cpuMetric(defaultCpuUtilization)];
  const behavior = unmarshal(annotations[behaviorAnnotation], behaviorIn);
  if (behavior) s2['behavior'] = behavior;
  out['spec'] = s2;

  const st: J = {};
  if (status?.['observedGeneration'] !== undefined) st['observedGeneration'] = status['observedGeneration'];
  if (status?.['lastScaleTime']) st['lastScaleTime'] = status['lastScaleTime'];
  st['currentReplicas'] = status?.['currentReplicas'] ?? 0;
  st['desiredReplicas'] = status?.['desiredReplicas'] ?? 0;
  if (status?.['currentCPUUtilizationPercentage'] !== undefined) {
    st['currentMetrics'] = [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: status['currentCPUUtilizationPercentage'] } } }];
  }
  // The annotation's statuses replace the CPU one: they carry more.
  const current = unmarshal(annotations[metricStatusesAnnotation], metricStatusesFromV1);
  if (current) st['currentMetrics'] = current;
  if (st['currentMetrics']?.length === 0) delete st['currentMetrics'];
  const conditions = unmarshal(annotations[conditionsAnnotation], conditionsIn);
  if (conditions?.length) st['conditions'] = conditions;
  if (status || st['currentMetrics'] || st['conditions']) out['status'] = st;

  dropRoundTripAnnotations(out.metadata);
  return out;
}

/** autoscaling/v2 → autoscaling/v1 (a new object): the CPU target, and what v1 cannot say in annotations. */
export function hpaV2ToV1(o: KubeObject): KubeObject {
  const spec = (o['spec'] ?? {}) as J;
  const status = o['status'] as J | undefined;
  const out: KubeObject = { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: structuredClone(o.metadata) };
  dropRoundTripAnnotations(out.metadata);
  const keep: Record<string, string> = {};
  const s1: J = { scaleTargetRef: spec['scaleTargetRef'] };
  if (spec['minReplicas'] !== undefined) s1['minReplicas'] = spec['minReplicas'];
  s1['maxReplicas'] = spec['maxReplicas'];
  const metrics = (spec['metrics'] ?? []) as J[];
  const cpu = metrics.find(isCpuUtilization);
  if (cpu) s1['targetCPUUtilizationPercentage'] = cpu['resource']['target']['averageUtilization'];
  out['spec'] = s1;
  const other = metrics.filter((m) => !isCpuUtilization(m));
  if (other.length) keep[metricSpecsAnnotation] = marshal(other.map(metricSpecToV1));
  if (spec['behavior']) {
    const b = spec['behavior'] as J;
    keep[behaviorAnnotation] = marshal({ ScaleUp: rulesOut(b['scaleUp']), ScaleDown: rulesOut(b['scaleDown']) });
  }
  if (status) {
    const st: J = {};
    if (status['observedGeneration'] !== undefined) st['observedGeneration'] = status['observedGeneration'];
    if (status['lastScaleTime']) st['lastScaleTime'] = status['lastScaleTime'];
    st['currentReplicas'] = status['currentReplicas'] ?? 0;
    st['desiredReplicas'] = status['desiredReplicas'] ?? 0;
    const currentMetrics = (status['currentMetrics'] ?? []) as J[];
    const cur = currentMetrics.find((m) => m['type'] === 'Resource' && m['resource']?.['name'] === 'cpu');
    if (cur?.['resource']?.['current']?.['averageUtilization'] !== undefined) st['currentCPUUtilizationPercentage'] = cur['resource']['current']['averageUtilization'];
    out['status'] = st;
    // All of them, the CPU one too: its raw value is kept that way.
    if (currentMetrics.length) keep[metricStatusesAnnotation] = marshal(currentMetrics.map(metricStatusToV1));
    const conditions = (status['conditions'] ?? []) as J[];
    if (conditions.length) keep[conditionsAnnotation] = marshal(conditions.map(conditionOut));
  }
  if (Object.keys(keep).length) out.metadata.annotations = { ...out.metadata.annotations, ...keep };
  return out;
}
