/**
 * How the HorizontalPodAutoscaler turns a metric recommendation into the replica count it sets,
 * as upstream's horizontal.go normalization:
 *
 * - Without `spec.behavior` (the legacy path): the highest recommendation of the downscale
 *   stabilization window (--horizontal-pod-autoscaler-downscale-stabilization, 5 min) wins, then
 *   min/max replicas and a scale-up limit of max(2 × current, 4) apply.
 * - With `spec.behavior` (defaults as upstream: scale-up window 0 s, policies 4 pods or 100% per
 *   15 s, Max; scale-down window from the flag, 100% per 15 s, Max): the recommendation is kept
 *   between the lowest recommendation of the scale-up window and the highest of the scale-down
 *   window, then limited by the policies (Pods: ± value, Percent: × (1 ± value%), both from the
 *   replica count at the start of each policy's period, counting the scale events since; Max or
 *   Min picks among policies, Disabled forbids that direction) and by min/max replicas.
 *
 * Each result carries the AbleToScale and ScalingLimited reasons and messages upstream sets.
 * `ScalingHistory` is the per-HPA memory these need (recommendations and scale events), bounded:
 * a recommendation older than both windows and an event older than its direction's longest
 * policy period are dropped, and each list has a hard cap. Times are the caller's clock (ms).
 */
import type { HorizontalPodAutoscalerBehavior, HPAScalingRules } from '../api/index.ts';
import { parseQuantity } from '../api/quantity.ts';

export interface ScalingPolicy {
  type: string;
  value: number;
  periodSeconds: number;
}

/** HPAScalingRules with every field present. `tolerance` undefined: the controller's flag. */
export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: string;
  policies: ScalingPolicy[];
  tolerance?: number;
}

export interface Behavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/** Upstream's default scale-up rules (GenerateHPAScaleUpRules). */
export const defaultScaleUpRules: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};

/** Upstream's default scale-down rules (GenerateHPAScaleDownRules); the window comes from the flag. */
export const defaultScaleDownPolicies: ScalingPolicy[] = [{ type: 'Percent', value: 100, periodSeconds: 15 }];

/** Distinct recommendations remembered per HPA at most. */
export const maxRecommendations = 1024;
/** Scale events remembered per HPA and direction at most. */
export const maxScaleEvents = 2048;

/** Upstream's scale-up limit without behavior: max(2 × current, 4). */
export const scaleUpLimitFactor = 2;
export const scaleUpLimitMinimum = 4;

function rules(r: HPAScalingRules | undefined, dflt: ScalingRules): ScalingRules {
  const tolerance = r?.tolerance !== undefined ? parseQuantity(r.tolerance) : undefined;
  return {
    stabilizationWindowSeconds: r?.stabilizationWindowSeconds ?? dflt.stabilizationWindowSeconds,
    selectPolicy: r?.selectPolicy ?? dflt.selectPolicy,
    policies: r?.policies ?? dflt.policies,
    ...(tolerance !== undefined ? { tolerance } : {}),
  };
}

/**
 * The behavior with upstream's defaults filled in, or undefined when the HPA sets none (the
 * legacy path). A scale-down window left unset is the controller's flag, as upstream's
 * maybeInitScaleDownStabilizationWindow.
 */
export function effectiveBehavior(b: HorizontalPodAutoscalerBehavior | undefined | null, downscaleStabilizationSeconds: number): Behavior | undefined {
  if (!b) return undefined;
  return {
    scaleUp: rules(b.scaleUp, defaultScaleUpRules),
    scaleDown: rules(b.scaleDown, { stabilizationWindowSeconds: downscaleStabilizationSeconds, selectPolicy: 'Max', policies: defaultScaleDownPolicies }),
  };
}

export interface ScaleEvent {
  /** Replicas added (up) or removed (down): never negative. */
  change: number;
  at: number;
}

/** A normalization's inputs: the target's current count, the metrics' recommendation, the HPA's bounds, and now (ms). */
export interface ScaleArgs {
  current: number;
  desired: number;
  min: number;
  max: number;
  now: number;
}

/** What a policy limit counts from: the current count, the scale events remembered, and now. */
export interface LimitArgs {
  current: number;
  up: readonly ScaleEvent[];
  down: readonly ScaleEvent[];
  now: number;
}

/** A condition the normalization wants set: AbleToScale (True) and ScalingLimited. */
export interface Normalized {
  replicas: number;
  ableToScale: { reason: string; message: string };
  scalingLimited: { status: 'True' | 'False'; reason: string; message: string };
}

/** Replicas changed within the last `periodSeconds` (events strictly after the cutoff). */
export function replicasChangePerPeriod(periodSeconds: number, events: readonly ScaleEvent[], now: number): number {
  const cutoff = now - periodSeconds * 1000;
  let n = 0;
  for (const e of events) if (e.at > cutoff) n += e.change;
  return n;
}

function longestPolicyPeriod(r: ScalingRules): number {
  let longest = 0;
  for (const p of r.policies) if (p.periodSeconds > longest) longest = p.periodSeconds;
  return longest;
}

/** The most replicas the scale-up rules allow now (upstream's calculateScaleUpLimitWithScalingRules). */
export function scaleUpLimitWithRules(r: ScalingRules, { current, up, down, now }: LimitArgs): number {
  if (r.selectPolicy === 'Disabled') return current;
  const minChange = r.selectPolicy === 'Min';
  let result = minChange ? Infinity : -Infinity;
  let proposed = 0;
  for (const p of r.policies) {
    const start = current - replicasChangePerPeriod(p.periodSeconds, up, now) + replicasChangePerPeriod(p.periodSeconds, down, now);
    if (p.type === 'Pods') proposed = start + p.value;
    // Rounded up: a small percentage of few replicas must still add one.
    else if (p.type === 'Percent') proposed = Math.ceil(start * (1 + p.value / 100));
    result = minChange ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/** The fewest replicas the scale-down rules allow now (upstream's calculateScaleDownLimitWithBehaviors). */
export function scaleDownLimitWithRules(r: ScalingRules, { current, up, down, now }: LimitArgs): number {
  if (r.selectPolicy === 'Disabled') return current;
  const minChange = r.selectPolicy === 'Min';
  let result = minChange ? -Infinity : Infinity;
  let proposed = 0;
  for (const p of r.policies) {
    const start = current - replicasChangePerPeriod(p.periodSeconds, up, now) + replicasChangePerPeriod(p.periodSeconds, down, now);
    if (p.type === 'Pods') proposed = start - p.value;
    else if (p.type === 'Percent') proposed = Math.trunc(start * (1 - p.value / 100));
    result = minChange ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

/** Upstream's convertDesiredReplicasWithRules (the legacy path's limits). */
export function convertDesiredReplicasWithRules({ current, desired, min, max }: Omit<ScaleArgs, 'now'>): { replicas: number; reason: string; message: string } {
  const upLimit = Math.trunc(Math.max(scaleUpLimitFactor * current, scaleUpLimitMinimum));
  let maximum: number;
  let reason: string;
  let message: string;
  if (max > upLimit) {
    maximum = upLimit;
    reason = 'ScaleUpLimit';
    message = 'the desired replica count is increasing faster than the maximum scale rate';
  } else {
    maximum = max;
    reason = 'TooManyReplicas';
    message = 'the desired replica count is more than the maximum replica count';
  }
  if (desired < min) return { replicas: min, reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
  if (desired > maximum) return { replicas: maximum, reason, message };
  return { replicas: desired, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
}

const stabilizedDown = { reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
const stabilizedUp = { reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' };
const readyForNewScale = { reason: 'ReadyForNewScale', message: 'recommended size matches current size' };

/** One HPA's recommendations and scale events (upstream keeps these in maps keyed by HPA). */
export class ScalingHistory {
  /** Recommendation → the last time it was made: enough for min/max over any window ending now. */
  #recommendations = new Map<number, number>();
  #up: ScaleEvent[] = [];
  #down: ScaleEvent[] = [];

  /** The first time an HPA is seen, its current size counts as a recommendation (upstream's recordInitialRecommendation). */
  recordInitial(current: number, now: number): void {
    if (this.#recommendations.size === 0) this.#recommendations.set(current, now);
  }

  get recommendationCount(): number {
    return this.#recommendations.size;
  }

  get scaleEventCount(): number {
    return this.#up.length + this.#down.length;
  }

  #record(value: number, now: number): void {
    this.#recommendations.delete(value);
    this.#recommendations.set(value, now);
    if (this.#recommendations.size > maxRecommendations) {
      let oldest: number | undefined;
      let at = Infinity;
      for (const [v, t] of this.#recommendations) if (t < at) [oldest, at] = [v, t];
      this.#recommendations.delete(oldest!);
    }
  }

  /** Legacy path: the highest recommendation within `windowMs` (this one included), then records this one. */
  stabilize(desired: number, { windowMs, now }: { windowMs: number; now: number }): number {
    const cutoff = now - windowMs;
    let highest = desired;
    for (const [v, t] of this.#recommendations) {
      if (t < cutoff) this.#recommendations.delete(v);
      else if (v > highest) highest = v;
    }
    this.#record(desired, now);
    return highest;
  }

  /** Behavior path (upstream's stabilizeRecommendationWithBehaviors): records `desired` and returns the stabilized count. */
  stabilizeWithBehavior(b: Behavior, { current, desired, now }: Pick<ScaleArgs, 'current' | 'desired' | 'now'>): { replicas: number; reason: string; message: string } {
    const upCutoff = now - b.scaleUp.stabilizationWindowSeconds * 1000;
    const downCutoff = now - b.scaleDown.stabilizationWindowSeconds * 1000;
    let up = desired;
    let down = desired;
    for (const [v, t] of this.#recommendations) {
      if (t > upCutoff) up = Math.min(v, up);
      if (t > downCutoff) down = Math.max(v, down);
      if (t < upCutoff && t < downCutoff) this.#recommendations.delete(v);
    }
    let replicas = current;
    if (replicas < up) replicas = up;
    if (replicas > down) replicas = down;
    this.#record(desired, now);
    return { replicas, ...(desired >= current ? stabilizedUp : stabilizedDown) };
  }

  /** Upstream's convertDesiredReplicasWithBehaviorRate: the policies' and min/max limits. */
  limitWithBehavior(b: Behavior, { current, desired, min, max, now }: ScaleArgs): { replicas: number; reason: string; message: string } {
    const events: LimitArgs = { current, up: this.#up, down: this.#down, now };
    if (desired > current) {
      let limit = scaleUpLimitWithRules(b.scaleUp, events);
      // Never below the current count: wait for the events to age instead.
      if (limit < current) limit = current;
      const [maximum, reason, message] = max > limit
        ? [limit, 'ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate']
        : [max, 'TooManyReplicas', 'the desired replica count is more than the maximum replica count'];
      if (desired > maximum) return { replicas: maximum, reason, message };
    } else if (desired < current) {
      let limit = scaleDownLimitWithRules(b.scaleDown, events);
      if (limit > current) limit = current;
      const [minimum, reason, message] = min < limit
        ? [limit, 'ScaleDownLimit', 'the desired replica count is decreasing faster than the maximum scale rate']
        : [min, 'TooFewReplicas', 'the desired replica count is less than the minimum replica count'];
      if (desired < minimum) return { replicas: minimum, reason, message };
    }
    return { replicas: desired, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
  }

  /** Records a rescale from `prev` to `next` (only with a behavior: the legacy path never reads events). */
  storeScaleEvent(b: Behavior | undefined, { prev, next, now }: { prev: number; next: number; now: number }): void {
    if (!b) return;
    const [events, r, change] = next > prev ? [this.#up, b.scaleUp, next - prev] : [this.#down, b.scaleDown, prev - next];
    const cutoff = now - longestPolicyPeriod(r) * 1000;
    let keep = 0;
    while (keep < events.length && events[keep]!.at < cutoff) keep++;
    if (keep) events.splice(0, keep);
    events.push({ change, at: now });
    if (events.length > maxScaleEvents) events.splice(0, events.length - maxScaleEvents);
  }

  /** Legacy normalization (upstream's normalizeDesiredReplicas). */
  normalize(a: ScaleArgs, downscaleWindowMs: number): Normalized {
    const stabilized = this.stabilize(a.desired, { windowMs: downscaleWindowMs, now: a.now });
    const ableToScale = stabilized !== a.desired ? stabilizedDown : readyForNewScale;
    const c = convertDesiredReplicasWithRules({ ...a, desired: stabilized });
    return { replicas: c.replicas, ableToScale, scalingLimited: { status: c.replicas === stabilized ? 'False' : 'True', reason: c.reason, message: c.message } };
  }

  /** Behavior normalization (upstream's normalizeDesiredReplicasWithBehaviors). */
  normalizeWithBehavior(b: Behavior, a: ScaleArgs): Normalized {
    const s = this.stabilizeWithBehavior(b, a);
    const ableToScale = s.replicas !== a.desired ? { reason: s.reason, message: s.message } : readyForNewScale;
    const c = this.limitWithBehavior(b, { ...a, desired: s.replicas });
    return { replicas: c.replicas, ableToScale, scalingLimited: { status: c.replicas === s.replicas ? 'False' : 'True', reason: c.reason, message: c.message } };
  }
}
