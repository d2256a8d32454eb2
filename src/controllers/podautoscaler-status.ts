/**
 * HorizontalPodAutoscaler status helpers, as upstream's horizontal.go setCondition and setStatus:
 * a condition keeps its lastTransitionTime unless its status changes; the status is rebuilt on
 * each sync from the current and desired counts, the metric statuses (one per metric spec, an
 * empty `{type: ""}` where a metric failed, as upstream writes it), the conditions, the last
 * scale time (now, when this sync rescaled) and, as upstream since it generates HPA generations,
 * observedGeneration. Quantities are printed as Go prints `resource.NewMilliQuantity(v, DecimalSI)`.
 */
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus, MetricStatus } from '../api/index.ts';
import { canonicalQuantity } from '../api/groups/quantity-canonical.ts';
import { nowRfc3339 } from './controller-utils.ts';

export type ConditionType = 'AbleToScale' | 'ScalingActive' | 'ScalingLimited';

export interface ConditionChange {
  type: ConditionType;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** Sets (or adds, at the end) a condition; its transition time moves only when its status changes. */
export function setCondition(hpa: HorizontalPodAutoscaler, c: ConditionChange, now: number): void {
  const status = (hpa.status ??= { desiredReplicas: 0 });
  const list: HorizontalPodAutoscalerCondition[] = (status.conditions ??= []);
  let cur = list.find((x) => x.type === c.type);
  if (!cur) list.push((cur = { type: c.type, status: '' }));
  if (cur.status !== c.status) cur.lastTransitionTime = nowRfc3339(now);
  cur.status = c.status;
  cur.reason = c.reason;
  cur.message = c.message;
}

/**
 * Rebuilds the status (upstream's setStatus): counts, metrics, the kept conditions and last
 * scale time (now when `rescaled`), observedGeneration. Go's omitempty fields stay out when empty.
 */
export function setStatus(hpa: HorizontalPodAutoscaler, { current, desired, metrics, rescaled, now }: { current: number; desired: number; metrics?: MetricStatus[]; rescaled: boolean; now: number }): void {
  const old = hpa.status;
  const status: HorizontalPodAutoscalerStatus = { desiredReplicas: desired };
  if (hpa.metadata.generation !== undefined) status.observedGeneration = hpa.metadata.generation;
  const lastScaleTime = rescaled ? nowRfc3339(now) : old?.lastScaleTime;
  if (lastScaleTime) status.lastScaleTime = lastScaleTime;
  if (current) status.currentReplicas = current;
  if (metrics?.length) status.currentMetrics = metrics;
  if (old?.conditions?.length) status.conditions = old.conditions;
  hpa.status = status;
}

/** `resource.NewMilliQuantity(milli, DecimalSI).String()`: 250 → "250m", 2000 → "2", 67108864000 → "67108864". */
export function milliQuantity(milli: number): string {
  const v = Number.isFinite(milli) ? Math.trunc(milli) : 0;
  return canonicalQuantity(`${BigInt(v)}m`) ?? '0';
}
