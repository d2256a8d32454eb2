/**
 * The HorizontalPodAutoscaler's replica calculator, as upstream's replica_calculator.go and
 * metrics/utilization.go: from per-pod samples and the pods a target selects, the replica count
 * that brings a metric to its target.
 *
 * - Pods are grouped first: deleted and failed pods are ignored; pending pods count as unready;
 *   pods without a sample are missing; for CPU, a pod whose sample may predate its readiness
 *   (within the CPU initialization period: not ready, or sampled less than one window after it
 *   turned ready; later: not ready and never ready since the initial readiness delay) is unready.
 * - Only ready pods with samples form the usage ratio (usage / target). Inside the tolerance
 *   nothing changes. When no pod is missing and none is unready on a scale-up,
 *   desired = ceil(ratio × ready pods). Otherwise missing pods count as using 0 on a scale-up
 *   and the target (100% of their request, or the target utilization if higher) on a
 *   scale-down, unready pods as 0 on a scale-up; the ratio is recomputed and a change of
 *   direction (or a result inside the tolerance) keeps the current count.
 * - Integer arithmetic where upstream's is integer (utilization percentage and averages
 *   truncate), floating point otherwise, in the same order, so results match upstream's.
 *
 * Pure functions: the caller passes the pods (from its cache), the samples and the clock's now.
 * Errors are thrown as `Error`s with upstream's messages (they reach HPA conditions and events).
 */
import type { Pod } from '../api/index.ts';
import { milliValue } from '../api/quantity.ts';
import type { PodMetricsInfo } from './podautoscaler-metrics.ts';

/** Usage-ratio tolerances below and above 1 (upstream's Tolerances). */
export interface Tolerances {
  scaleDown: number;
  scaleUp: number;
}

export function withinTolerance(t: Tolerances, usageRatio: number): boolean {
  return 1 - t.scaleDown <= usageRatio && usageRatio <= 1 + t.scaleUp;
}

export interface GroupingOptions {
  cpuInitializationPeriodMs: number;
  delayOfInitialReadinessStatusMs: number;
  now: number;
}

export interface PodGroups {
  readyPodCount: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/** Upstream's groupPods. `resource` is '' for custom metrics (readiness then does not matter). */
export function groupPods(pods: readonly Pod[], metrics: PodMetricsInfo, resource: string, opts: GroupingOptions): PodGroups {
  const out: PodGroups = { readyPodCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    const name = pod.metadata.name ?? '';
    const phase = pod.status?.phase;
    if (pod.metadata.deletionTimestamp || phase === 'Failed') {
      out.ignored.add(name);
      continue;
    }
    if (phase === 'Pending') {
      out.unready.add(name);
      continue;
    }
    const metric = metrics.get(name);
    if (!metric) {
      out.missing.add(name);
      continue;
    }
    if (resource === 'cpu') {
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
      const start = pod.status?.startTime ? Date.parse(pod.status.startTime) : NaN;
      let unready: boolean;
      if (!ready || !Number.isFinite(start)) unready = true;
      else {
        const transition = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
        const since = Number.isFinite(transition) ? transition : 0;
        if (start + opts.cpuInitializationPeriodMs > opts.now) {
          // Still initializing: skip the sample unless the pod is ready and a whole window followed readiness.
          unready = ready.status === 'False' || metric.timestampMs < since + metric.windowMs;
        } else {
          // Skip it only when the pod is not ready and has never been ready since it started.
          unready = ready.status === 'False' && start + opts.delayOfInitialReadinessStatusMs > since;
        }
      }
      if (unready) {
        out.unready.add(name);
        continue;
      }
    }
    out.readyPodCount++;
  }
  return out;
}

/**
 * Each pod's request for `resource` in milli-units: of `container` alone, or the sum of its
 * containers and restartable (sidecar) init containers. Throws upstream's message when one lacks it.
 */
export function calculateRequests(pods: readonly Pod[], container: string, resource: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pod of pods) {
    const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
    let request = 0;
    let found = false;
    for (const c of containers) {
      if (container === '' || container === c.name) {
        const q = c.resources?.requests?.[resource];
        if (q === undefined) throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${pod.metadata.name}`);
        request += milliValue(q);
      }
      if (container === c.name) {
        found = true;
        break;
      }
    }
    if (container !== '' && !found) throw new Error(`container ${container} not found in Pod ${pod.metadata.name}`);
    out.set(pod.metadata.name ?? '', request);
  }
  return out;
}

/**
 * Upstream's GetResourceUtilizationRatio: utilization (integer percent of the summed requests
 * of pods that have samples), its ratio to the target, and the average raw usage.
 */
export function resourceUtilizationRatio(metrics: PodMetricsInfo, requests: Map<string, number>, targetUtilization: number): { ratio: number; utilization: number; rawAverage: number } {
  let metricsTotal = 0;
  let requestsTotal = 0;
  let entries = 0;
  for (const [name, m] of metrics) {
    const request = requests.get(name);
    if (request === undefined) continue;
    metricsTotal += m.value;
    requestsTotal += request;
    entries++;
  }
  if (requestsTotal === 0) throw new Error('no metrics returned matched known pods');
  const utilization = Math.trunc((metricsTotal * 100) / requestsTotal);
  return { ratio: utilization / targetUtilization, utilization, rawAverage: Math.trunc(metricsTotal / entries) };
}

/** Upstream's GetMetricUsageRatio: the average (truncated) and its ratio to the target. */
export function metricUsageRatio(metrics: PodMetricsInfo, targetUsage: number): { ratio: number; usage: number } {
  let total = 0;
  for (const m of metrics.values()) total += m.value;
  const usage = Math.trunc(total / metrics.size);
  return { ratio: usage / targetUsage, usage };
}

function dropPods(metrics: PodMetricsInfo, names: Set<string>): void {
  for (const n of names) metrics.delete(n);
}

export interface ReplicaInputs {
  currentReplicas: number;
  /** The pods the target's selector selects (any state). */
  pods: readonly Pod[];
  /** Samples by pod name; the calculator works on a copy. */
  metrics: PodMetricsInfo;
  tolerances: Tolerances;
  grouping: GroupingOptions;
}

/** Upstream's GetResourceReplicas (after the metrics were fetched): a utilization target. */
export function resourceReplicas(inp: ReplicaInputs & { targetUtilization: number; resource: string; container: string }): { replicas: number; utilization: number; rawUtilization: number } {
  if (!inp.pods.length) throw new Error('no pods returned by selector while calculating replica count');
  const metrics = new Map(inp.metrics);
  const g = groupPods(inp.pods, metrics, inp.resource, inp.grouping);
  dropPods(metrics, g.ignored);
  dropPods(metrics, g.unready);
  if (!metrics.size) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const requests = calculateRequests(inp.pods, inp.container, inp.resource);
  const { ratio, utilization, rawAverage } = resourceUtilizationRatio(metrics, requests, inp.targetUtilization);
  const result = (replicas: number) => ({ replicas, utilization, rawUtilization: rawAverage });

  const scaleUpWithUnready = g.unready.size > 0 && ratio > 1;
  if (!scaleUpWithUnready && g.missing.size === 0) {
    if (withinTolerance(inp.tolerances, ratio)) return result(inp.currentReplicas);
    return result(Math.ceil(ratio * g.readyPodCount));
  }
  if (g.missing.size) {
    if (ratio < 1) {
      // Scale-down: a missing pod is taken to use its whole request (or the target, when above 100%).
      const fallback = Math.max(100, inp.targetUtilization);
      for (const n of g.missing) metrics.set(n, { timestampMs: 0, windowMs: 0, value: Math.trunc(((requests.get(n) ?? 0) * fallback) / 100) });
    } else if (ratio > 1) {
      for (const n of g.missing) metrics.set(n, { timestampMs: 0, windowMs: 0, value: 0 });
    }
  }
  if (scaleUpWithUnready) for (const n of g.unready) metrics.set(n, { timestampMs: 0, windowMs: 0, value: 0 });
  const next = resourceUtilizationRatio(metrics, requests, inp.targetUtilization).ratio;
  if (withinTolerance(inp.tolerances, next) || (ratio < 1 && next > 1) || (ratio > 1 && next < 1)) return result(inp.currentReplicas);
  const replicas = Math.ceil(next * metrics.size);
  if ((next < 1 && replicas > inp.currentReplicas) || (next > 1 && replicas < inp.currentReplicas)) return result(inp.currentReplicas);
  return result(replicas);
}

/** Upstream's calcPlainMetricReplicas: an average-value target (raw resource usage, or a custom per-pod metric). */
export function plainMetricReplicas(inp: ReplicaInputs & { targetUsage: number; resource: string }): { replicas: number; usage: number } {
  if (!inp.pods.length) throw new Error('no pods returned by selector while calculating replica count');
  const metrics = new Map(inp.metrics);
  const g = groupPods(inp.pods, metrics, inp.resource, inp.grouping);
  dropPods(metrics, g.ignored);
  dropPods(metrics, g.unready);
  if (!metrics.size) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const { ratio, usage } = metricUsageRatio(metrics, inp.targetUsage);
  const scaleUpWithUnready = g.unready.size > 0 && ratio > 1;
  if (!scaleUpWithUnready && g.missing.size === 0) {
    if (withinTolerance(inp.tolerances, ratio)) return { replicas: inp.currentReplicas, usage };
    return { replicas: Math.ceil(ratio * g.readyPodCount), usage };
  }
  if (g.missing.size) {
    // Scale-down: a missing pod is taken to use exactly the target; scale-up: nothing.
    if (ratio < 1) for (const n of g.missing) metrics.set(n, { timestampMs: 0, windowMs: 0, value: inp.targetUsage });
    else if (ratio > 1) for (const n of g.missing) metrics.set(n, { timestampMs: 0, windowMs: 0, value: 0 });
  }
  if (scaleUpWithUnready) for (const n of g.unready) metrics.set(n, { timestampMs: 0, windowMs: 0, value: 0 });
  const next = metricUsageRatio(metrics, inp.targetUsage).ratio;
  if (withinTolerance(inp.tolerances, next) || (ratio < 1 && next > 1) || (ratio > 1 && next < 1)) return { replicas: inp.currentReplicas, usage };
  const replicas = Math.ceil(next * metrics.size);
  if ((next < 1 && replicas > inp.currentReplicas) || (next > 1 && replicas < inp.currentReplicas)) return { replicas: inp.currentReplicas, usage };
  return { replicas, usage };
}

const maxInt32 = 2 ** 31 - 1;

/** Running and ready pods (upstream's getReadyPodsCount); throws when there are no pods at all. */
export function readyPodsCount(pods: readonly Pod[]): number {
  if (!pods.length) throw new Error('no pods returned by selector while calculating replica count');
  return pods.filter((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
}

/**
 * Upstream's getUsageRatioReplicaCount, for object and external value targets: with replicas,
 * ceil(ratio × ready pods) outside the tolerance; at zero replicas, ceil(ratio).
 */
export function usageRatioReplicaCount(pods: readonly Pod[], { currentReplicas, usageRatio, tolerances }: { currentReplicas: number; usageRatio: number; tolerances: Tolerances }): number {
  if (currentReplicas === 0) return Math.ceil(usageRatio);
  if (withinTolerance(tolerances, usageRatio)) return currentReplicas;
  let ready: number;
  try {
    ready = readyPodsCount(pods);
  } catch (err) {
    throw new Error(`unable to calculate ready pods: ${(err as Error).message}`);
  }
  const f = usageRatio * ready;
  return f > maxInt32 ? maxInt32 : Math.ceil(f);
}

/** Upstream's per-pod (average value) object and external targets: total usage spread over the current replicas. */
export function perPodReplicas({ statusReplicas, totalUsage, targetAverage, tolerances }: { statusReplicas: number; totalUsage: number; targetAverage: number; tolerances: Tolerances }): { replicas: number; usage: number } {
  let replicas = statusReplicas;
  const ratio = totalUsage / (targetAverage * replicas);
  if (!withinTolerance(tolerances, ratio)) {
    const r = Math.ceil(totalUsage / targetAverage);
    replicas = r > maxInt32 ? maxInt32 : r;
  }
  // At zero replicas the average is undefined (upstream divides by zero); report the total.
  return { replicas, usage: statusReplicas ? Math.ceil(totalUsage / statusReplicas) : totalUsage };
}
