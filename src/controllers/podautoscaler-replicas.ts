/**
 * Replica proposals per metric of a HorizontalPodAutoscaler, as upstream's horizontal.go
 * computeReplicasForMetric(s): each metric spec (Resource, ContainerResource, Pods, Object,
 * External) is fetched through the `MetricsClient`, run through the replica calculator, and turned
 * into a proposal, a MetricStatus and a name for the rescale reason ("cpu resource utilization
 * (percentage of request)"). A failing metric yields a ScalingActive=False condition with
 * upstream's reason (FailedGetResourceMetric, FailedGetContainerResourceMetric,
 * FailedGetPodsMetric, FailedGetObjectMetric, FailedGetExternalMetric, InvalidMetricSourceType)
 * and an event of that reason; the combined result takes the highest valid proposal, and fails
 * when every metric failed, or when some did and the valid ones would scale down (never scale
 * down on partial information).
 *
 * Messages nest as upstream's do, e.g. "invalid metrics (1 invalid out of 1), first error is:
 * failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics
 * for resource cpu: no metrics returned from resource metrics API".
 */
import type { ExternalMetricSource, HorizontalPodAutoscaler, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus, ObjectMetricSource, Pod, PodsMetricSource } from '../api/index.ts';
import { labelSelectorFromObject, type LabelSelector, type LabelSelectorMatcher } from '../api/selectors.ts';
import { milliValue } from '../api/quantity.ts';
import { perPodReplicas, plainMetricReplicas, resourceReplicas, usageRatioReplicaCount, type GroupingOptions, type Tolerances } from './podautoscaler-calculator.ts';
import { goLabelSelectorString, type MetricsClient } from './podautoscaler-metrics.ts';
import { milliQuantity, type ConditionChange } from './podautoscaler-status.ts';

/** What a computation needs besides the HPA: the metrics client, the pods its target selects, tunables, and an event sink. */
export interface MetricContext {
  metrics: MetricsClient;
  /** The pods the target's selector selects (any state). */
  pods: readonly Pod[];
  selector: LabelSelectorMatcher;
  tolerances: Tolerances;
  grouping: GroupingOptions;
  /** Records a Warning event on the HPA. */
  warn(reason: string, message: string): void;
}

export interface MetricProposal {
  replicas: number;
  metric: string;
  status: MetricStatus;
}

/** A metric that could not be computed: the error to report and the condition upstream sets for it. */
export class MetricError extends Error {
  readonly condition: ConditionChange | undefined;
  constructor(message: string, condition: ConditionChange | undefined) {
    super(message);
    this.name = 'MetricError';
    this.condition = condition;
  }
}

export interface MetricsResult {
  /** -1 when nothing can be done (upstream's failure signal). */
  replicas: number;
  metric: string;
  statuses: MetricStatus[];
  /** Set on failure, and on partial failure (some metrics still valid). */
  error?: Error;
  /** The condition to set: ScalingActive True (valid) or the first failing metric's. */
  condition?: ConditionChange;
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Records the event and returns the ScalingActive=False condition (upstream's getUnableComputeReplicaCountCondition). */
function unable(mc: MetricContext, reason: string, err: unknown): ConditionChange {
  mc.warn(reason, msg(err));
  return { type: 'ScalingActive', status: 'False', reason, message: `the HPA was unable to compute the replica count: ${msg(err)}` };
}

/** Throws (upstream's LabelSelectorAsSelector error) when a metric selector is invalid. */
function checkSelector(sel: LabelSelector | undefined): void {
  if (sel) labelSelectorFromObject(sel);
}

/** The counts one metric's proposal starts from. */
interface Counts {
  namespace: string;
  /** The target's spec.replicas. */
  specReplicas: number;
  /** The target's status.replicas (per-pod object and external targets divide by it). */
  statusReplicas: number;
}

/** One metric's proposal (upstream's computeReplicasForMetric). Throws a MetricError. */
export async function computeReplicasForMetric(mc: MetricContext, { hpa, spec, specReplicas, statusReplicas }: { hpa: HorizontalPodAutoscaler; spec: MetricSpec; specReplicas: number; statusReplicas: number }): Promise<MetricProposal> {
  const counts: Counts = { namespace: hpa.metadata.namespace ?? '', specReplicas, statusReplicas };
  switch (spec.type) {
    case 'Object': {
      const src = spec.object!;
      try {
        checkSelector(src.metric.selector);
      } catch (err) {
        throw new MetricError(`failed to get object metric value: ${msg(err)}`, unable(mc, 'FailedGetObjectMetric', err));
      }
      try {
        return await objectMetric(mc, src, counts);
      } catch (err) {
        throw new MetricError(`failed to get object metric value: ${msg(err)}`, (err as MetricError).condition);
      }
    }
    case 'Pods': {
      const src = spec.pods!;
      try {
        checkSelector(src.metric.selector);
        return await podsMetric(mc, src, counts);
      } catch (err) {
        throw new MetricError(`failed to get pods metric value: ${msg(err)}`, unable(mc, 'FailedGetPodsMetric', err));
      }
    }
    case 'Resource': {
      const src = spec.resource!;
      try {
        const r = await resourceMetric(mc, { resource: src.name, container: '', target: src.target }, counts);
        return { replicas: r.replicas, metric: r.metric, status: { type: 'Resource', resource: { name: src.name, current: r.current } } };
      } catch (err) {
        throw new MetricError(`failed to get ${src.name} resource metric value: ${msg(err)}`, unable(mc, 'FailedGetResourceMetric', err));
      }
    }
    case 'ContainerResource': {
      const src = spec.containerResource!;
      try {
        const r = await resourceMetric(mc, { resource: src.name, container: src.container, target: src.target }, counts);
        return { replicas: r.replicas, metric: r.metric, status: { type: 'ContainerResource', containerResource: { name: src.name, container: src.container, current: r.current } } };
      } catch (err) {
        throw new MetricError(`failed to get ${src.container} container metric value: ${msg(err)}`, unable(mc, 'FailedGetContainerResourceMetric', err));
      }
    }
    case 'External': {
      const src = spec.external!;
      try {
        return await externalMetric(mc, src, counts);
      } catch (err) {
        throw new MetricError(`failed to get ${src.metric.name} external metric value: ${msg(err)}`, (err as MetricError).condition);
      }
    }
    default: {
      const err = new Error(`unknown metric source type ${JSON.stringify(spec.type)}`);
      throw new MetricError(err.message, unable(mc, 'InvalidMetricSourceType', err));
    }
  }
}

/** Resource and ContainerResource (upstream's computeStatusForResourceMetricGeneric). */
async function resourceMetric(mc: MetricContext, src: { resource: string; container: string; target: MetricTarget }, counts: Counts): Promise<{ replicas: number; metric: string; current: MetricValueStatus }> {
  const { resource, container, target } = src;
  const currentReplicas = counts.specReplicas;
  const fetch = async () => {
    try {
      return (await mc.metrics.getResourceMetric(counts.namespace, { resource, selector: mc.selector.toString(), container })).metrics;
    } catch (err) {
      throw new Error(`unable to get metrics for resource ${resource}: ${msg(err)}`);
    }
  };
  if (target.averageValue !== undefined && target.averageValue !== null) {
    try {
      const metrics = await fetch();
      const r = plainMetricReplicas({ currentReplicas, pods: mc.pods, metrics, tolerances: mc.tolerances, grouping: mc.grouping, targetUsage: milliValue(target.averageValue), resource });
      return { replicas: r.replicas, metric: `${resource} resource`, current: { averageValue: milliQuantity(r.usage) } };
    } catch (err) {
      throw new Error(`failed to get ${resource} usage: ${msg(err)}`);
    }
  }
  if (target.averageUtilization === undefined || target.averageUtilization === null) {
    throw new Error('invalid resource metric source: neither an average utilization target nor an average value (usage) target was set');
  }
  try {
    const metrics = await fetch();
    const r = resourceReplicas({ currentReplicas, pods: mc.pods, metrics, tolerances: mc.tolerances, grouping: mc.grouping, targetUtilization: target.averageUtilization, resource, container });
    const metric = container ? `${resource} container resource utilization (percentage of request)` : `${resource} resource utilization (percentage of request)`;
    return { replicas: r.replicas, metric, current: { averageUtilization: r.utilization, averageValue: milliQuantity(r.rawUtilization) } };
  } catch (err) {
    throw new Error(`failed to get ${resource} utilization: ${msg(err)}`);
  }
}

/** Pods metrics (upstream's computeStatusForPodsMetric / GetMetricReplicas). */
async function podsMetric(mc: MetricContext, src: PodsMetricSource, counts: Counts): Promise<MetricProposal> {
  const { name, selector } = src.metric;
  if (src.target.averageValue === undefined || src.target.averageValue === null) throw new Error('invalid pods metric source: no average value target was set');
  let metrics;
  try {
    metrics = (await mc.metrics.getRawMetric(counts.namespace, { metricName: name, selector: mc.selector.toString(), metricSelector: selector })).metrics;
  } catch (err) {
    throw new Error(`unable to get metric ${name}: ${msg(err)}`);
  }
  const r = plainMetricReplicas({ currentReplicas: counts.specReplicas, pods: mc.pods, metrics, tolerances: mc.tolerances, grouping: mc.grouping, targetUsage: milliValue(src.target.averageValue), resource: '' });
  return { replicas: r.replicas, metric: `pods metric ${name}`, status: { type: 'Pods', pods: { metric: src.metric, current: { averageValue: milliQuantity(r.usage) } } } };
}

/** Object metrics (upstream's computeStatusForObjectMetric): a value, or an average per current replica. */
async function objectMetric(mc: MetricContext, src: ObjectMetricSource, counts: Counts): Promise<MetricProposal> {
  const { describedObject: described, target, metric } = src;
  const fetch = async () => {
    try {
      return (await mc.metrics.getObjectMetric(counts.namespace, { metricName: metric.name, ref: described, metricSelector: metric.selector })).value;
    } catch (err) {
      // Upstream's message, arguments and all.
      throw new Error(`unable to get metric ${metric.name}: ${described.kind} on ${counts.namespace} ${described.name}/${msg(err)}`);
    }
  };
  if (target.type === 'Value' && target.value !== undefined && target.value !== null) {
    try {
      const usage = await fetch();
      const replicas = usageRatioReplicaCount(mc.pods, { currentReplicas: counts.specReplicas, usageRatio: usage / milliValue(target.value), tolerances: mc.tolerances });
      return { replicas, metric: `${described.kind} metric ${metric.name}`, status: { type: 'Object', object: { describedObject: described, metric, current: { value: milliQuantity(usage) } } } };
    } catch (err) {
      throw new MetricError(msg(err), unable(mc, 'FailedGetObjectMetric', err));
    }
  }
  if (target.type === 'AverageValue' && target.averageValue !== undefined && target.averageValue !== null) {
    try {
      const usage = await fetch();
      const r = perPodReplicas({ statusReplicas: counts.statusReplicas, totalUsage: usage, targetAverage: milliValue(target.averageValue), tolerances: mc.tolerances });
      return {
        replicas: r.replicas,
        // Upstream's name for it, "external" included; its status leaves describedObject empty.
        metric: `external metric ${metric.name}(${goLabelSelectorString(metric.selector)})`,
        status: { type: 'Object', object: { describedObject: { kind: '', name: '' }, metric, current: { averageValue: milliQuantity(r.usage) } } },
      };
    } catch (err) {
      throw new MetricError(`failed to get ${metric.name} object metric: ${msg(err)}`, unable(mc, 'FailedGetObjectMetric', err));
    }
  }
  const err = new Error('invalid object metric source: neither a value target nor an average value target was set');
  throw new MetricError(err.message, unable(mc, 'FailedGetObjectMetric', err));
}

/** External metrics (upstream's computeStatusForExternalMetric): a total, or an average per current replica. */
async function externalMetric(mc: MetricContext, src: ExternalMetricSource, counts: Counts): Promise<MetricProposal> {
  const { target, metric } = src;
  const fetch = async () => {
    checkSelector(metric.selector); // an invalid selector fails as it is, as upstream's LabelSelectorAsSelector
    try {
      const { values } = await mc.metrics.getExternalMetric(counts.namespace, { metricName: metric.name, selector: metric.selector });
      return values.reduce((a, b) => a + b, 0);
    } catch (err) {
      throw new Error(`unable to get external metric ${counts.namespace}/${metric.name}/${goLabelSelectorString(metric.selector)}: ${msg(err)}`);
    }
  };
  const reason = `external metric ${metric.name}(${goLabelSelectorString(metric.selector)})`;
  if (target.averageValue !== undefined && target.averageValue !== null) {
    try {
      const usage = await fetch();
      const r = perPodReplicas({ statusReplicas: counts.statusReplicas, totalUsage: usage, targetAverage: milliValue(target.averageValue), tolerances: mc.tolerances });
      return { replicas: r.replicas, metric: reason, status: { type: 'External', external: { metric, current: { averageValue: milliQuantity(r.usage) } } } };
    } catch (err) {
      const condition = unable(mc, 'FailedGetExternalMetric', err);
      throw new MetricError(`failed to get ${metric.name} external metric: ${msg(err)}`, condition);
    }
  }
  if (target.value !== undefined && target.value !== null) {
    try {
      const usage = await fetch();
      const replicas = usageRatioReplicaCount(mc.pods, { currentReplicas: counts.specReplicas, usageRatio: usage / milliValue(target.value), tolerances: mc.tolerances });
      return { replicas, metric: reason, status: { type: 'External', external: { metric, current: { value: milliQuantity(usage) } } } };
    } catch (err) {
      const condition = unable(mc, 'FailedGetExternalMetric', err);
      throw new MetricError(`failed to get external metric ${metric.name}: ${msg(err)}`, condition);
    }
  }
  const err = new Error('invalid external metric source: neither a value target nor an average value target was set');
  throw new MetricError(err.message, unable(mc, 'FailedGetExternalMetric', err));
}

/**
 * Every metric's proposal combined (upstream's computeReplicasForMetrics after the selector was
 * validated): the highest valid proposal; a failure (-1) when every metric failed, or when some
 * failed and the rest would scale below the target's spec replicas.
 */
export async function computeReplicasForMetrics(mc: MetricContext, { hpa, specs, specReplicas, statusReplicas }: { hpa: HorizontalPodAutoscaler; specs: readonly MetricSpec[]; specReplicas: number; statusReplicas: number }): Promise<MetricsResult> {
  const statuses: MetricStatus[] = specs.map(() => ({ type: '' }));
  let replicas = 0;
  let metric = '';
  let invalid = 0;
  let firstError: MetricError | undefined;
  for (const [i, spec] of specs.entries()) {
    try {
      const p = await computeReplicasForMetric(mc, { hpa, spec, specReplicas, statusReplicas });
      statuses[i] = p.status;
      if (replicas === 0 || p.replicas > replicas) {
        replicas = p.replicas;
        metric = p.metric;
      }
    } catch (err) {
      const e = err instanceof MetricError ? err : new MetricError(msg(err), undefined);
      if (invalid === 0) firstError = e;
      invalid++;
    }
  }
  const error = firstError ? new Error(`invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${firstError.message}`) : undefined;
  if (specs.length && (invalid >= specs.length || (invalid > 0 && replicas < specReplicas))) {
    return { replicas: -1, metric: '', statuses, error, condition: firstError?.condition };
  }
  const condition: ConditionChange = { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: `the HPA was able to successfully calculate a replica count from ${metric}` };
  return { replicas, metric, statuses, error, condition };
}
