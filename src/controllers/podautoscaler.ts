/**
 * The HorizontalPodAutoscaler controller, as upstream's pkg/controller/podautoscaler
 * (horizontal.go). Every HPA is re-evaluated once per sync period
 * (--horizontal-pod-autoscaler-sync-period, 15 s): its target is read and written through the
 * `scale` subresource of whatever resource the scaleTargetRef names (resolved through
 * discovery), the pods the Scale's status.selector selects are measured through the metrics
 * APIs, the replica calculator proposes a count per metric, the highest wins, and the
 * normalization (stabilization windows, behavior policies, min/max) decides what is set.
 *
 * As upstream:
 * - The queue's rate limiter is a fixed interval equal to the sync period: adds and updates of
 *   an HPA are queued "rate limited" (processed within one period), and each sync queues the
 *   HPA again; a deleted HPA is dropped with its history.
 * - A target with 0 replicas is not scaled (ScalingActive False, ScalingDisabled); one above
 *   max or below min is brought to the bound; otherwise the metrics decide.
 * - Conditions AbleToScale, ScalingActive and ScalingLimited with upstream's reasons and
 *   messages; events SuccessfulRescale ("New size: 4; reason: cpu resource utilization
 *   (percentage of request) above target"), FailedRescale, FailedGetScale, FailedGet*Metric,
 *   FailedComputeMetricsReplicas, SelectorRequired, InvalidSelector, AmbiguousSelector,
 *   FailedUpdateStatus; the status is written only when it changed.
 * - Pods selected by more than one HPA make each of them refuse to scale (AmbiguousSelector).
 *
 * State kept per HPA (and dropped with it): its recommendation and scale-event history
 * (`ScalingHistory`, bounded) and its last known selector.
 */
import type { HorizontalPodAutoscaler, MetricStatus, Pod, Scale } from '../api/index.ts';
import { parseLabelSelector, type LabelSelectorMatcher } from '../api/selectors.ts';
import { IndexNamespace, WorkQueue, realClock, resources, runWorkers, waitForCacheSync, type Clock, type RateLimiter, type ReconcileResult } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { keyOf, semanticEqual } from './controller-utils.ts';
import { Discovery } from './discovery.ts';
import { ScalingHistory, effectiveBehavior, type Behavior } from './podautoscaler-behavior.ts';
import { RestMetricsClient, type MetricsClient } from './podautoscaler-metrics.ts';
import { computeReplicasForMetrics, type MetricContext, type MetricsResult } from './podautoscaler-replicas.ts';
import { RestScaleClient, parseGroupVersion, scaleForMappings, type ScaleClient } from './podautoscaler-scale.ts';
import { setCondition, setStatus } from './podautoscaler-status.ts';

/** Upstream's --concurrent-horizontal-pod-autoscaler-syncs default. */
export const hpaWorkers = 5;

/** The event source component, as upstream's. */
export const hpaComponent = 'horizontal-pod-autoscaler';

export interface HorizontalControllerOptions {
  /** Default: the metrics APIs through the controller's client. */
  metrics?: MetricsClient;
  /** Default: scale subresources through the controller's client, kinds resolved by discovery. */
  scales?: ScaleClient;
  clock?: Clock;
}

export function startHorizontalPodAutoscalerController(ctx: ControllerContext): void {
  runHorizontalController(ctx);
}

/** Upstream's FixedItemIntervalRateLimiter: every item waits the sync period. */
function fixedIntervalRateLimiter(intervalMs: number): RateLimiter<string> {
  return { when: () => intervalMs, forget: () => {}, numRequeues: () => 1 };
}

/** Starts the controller (informers, queue, workers); returns at once. Options are for tests. */
export function runHorizontalController(ctx: ControllerContext, opts: HorizontalControllerOptions = {}): void {
  const cfg = ctx.config;
  const clock = opts.clock ?? realClock;
  const syncPeriod = cfg.horizontalPodAutoscalerSyncPeriodMs;
  const discovery = new Discovery(ctx.client);
  const metrics = opts.metrics ?? new RestMetricsClient(ctx.client, discovery);
  const scales = opts.scales ?? new RestScaleClient(ctx.client, discovery);
  const hpas = ctx.informers.typedInformerFor(resources.horizontalPodAutoscalers);
  const pods = ctx.informers.typedInformerFor(resources.pods);
  const recorder = ctx.recorder(hpaComponent);
  const log = (m: string) => ctx.log(`${hpaComponent}: ${m}`);
  const histories = new Map<string, ScalingHistory>();
  /** Each HPA's last known selector (null: none yet, selects nothing), for AmbiguousSelector. */
  const selectors = new Map<string, { namespace: string; selector: LabelSelectorMatcher | null }>();
  const queue = new WorkQueue<string>({ name: 'horizontalpodautoscaler', clock, rateLimiter: fixedIntervalRateLimiter(syncPeriod) });

  const enqueue = (hpa: HorizontalPodAutoscaler) => {
    const key = keyOf(hpa);
    queue.addRateLimited(key);
    if (!selectors.has(key)) selectors.set(key, { namespace: hpa.metadata.namespace ?? '', selector: null });
  };
  hpas.addEventHandler({
    onAdd: enqueue,
    onUpdate: (_old, hpa) => enqueue(hpa),
    onDelete: (hpa) => {
      const key = keyOf(hpa);
      queue.forget(key);
      selectors.delete(key);
    },
  });

  void (async () => {
    if (!(await waitForCacheSync(ctx.signal, hpas, pods))) {
      queue.shutDown();
      return;
    }
    log('caches synced');
    await runWorkers(queue, hpaWorkers, reconcileKey, { signal: ctx.signal, log });
  })().catch((err: unknown) => log(`workers stopped: ${err instanceof Error ? err.message : String(err)}`));

  async function reconcileKey(key: string): Promise<ReconcileResult | void> {
    const hpa = hpas.store.get(key);
    if (!hpa) {
      histories.delete(key);
      selectors.delete(key);
      return;
    }
    let history = histories.get(key);
    if (!history) histories.set(key, (history = new ScalingHistory()));
    await reconcileAutoscaler(hpa, key, history);
    return { requeueAfter: syncPeriod };
  }

  /** The pods of `namespace` that `selector` selects. */
  function podsFor(namespace: string, selector: LabelSelectorMatcher): Pod[] {
    return pods.store.byIndex(IndexNamespace, namespace).filter((p) => selector.matches(p.metadata.labels));
  }

  /** The HPAs (keys, sorted) whose selectors select any of `selected` (upstream's hpasControllingPodsUnderSelector). */
  function hpasSelecting(namespace: string, selected: readonly Pod[]): string[] {
    const out: string[] = [];
    for (const [key, s] of selectors) {
      if (s.namespace !== namespace || !s.selector) continue;
      if (selected.some((p) => s.selector!.matches(p.metadata.labels))) out.push(key);
    }
    return out.sort();
  }

  async function reconcileAutoscaler(shared: HorizontalPodAutoscaler, key: string, history: ScalingHistory): Promise<void> {
    // Never change the cached object: work on a copy.
    const hpa: HorizontalPodAutoscaler = { ...structuredClone(shared), apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' };
    hpa.status ??= { desiredReplicas: 0 };
    const original = structuredClone(hpa.status);
    const spec = hpa.spec!;
    const namespace = hpa.metadata.namespace ?? '';
    const ref = spec.scaleTargetRef;
    const reference = `${ref.kind}/${namespace}/${ref.name}`;
    const now = () => clock.now();
    const warn = (reason: string, message: string) => recorder.event(hpa, 'Warning', reason, message);

    const failedGetScale = async (err: unknown, returned: string): Promise<never> => {
      const m = errorMessage(err);
      warn('FailedGetScale', m);
      setCondition(hpa, { type: 'AbleToScale', status: 'False', reason: 'FailedGetScale', message: `the HPA controller was unable to get the target's current scale: ${m}` }, now());
      await updateStatusIfNeeded(original, hpa).catch((e: unknown) => log(errorMessage(e)));
      throw new Error(`${returned}: ${m}`);
    };
    let group: string;
    try {
      group = parseGroupVersion(ref.apiVersion).group;
    } catch (err) {
      return failedGetScale(err, 'invalid API version in scale target reference');
    }
    let mappings;
    try {
      mappings = await scales.mappings(group, ref.kind);
    } catch (err) {
      return failedGetScale(err, 'unable to determine resource for scale target reference');
    }
    let scale: Scale;
    let target;
    try {
      ({ scale, res: target } = await scaleForMappings(scales, namespace, ref.name, mappings));
    } catch (err) {
      return failedGetScale(err, `failed to query scale subresource for ${reference}`);
    }
    setCondition(hpa, { type: 'AbleToScale', status: 'True', reason: 'SucceededGetScale', message: "the HPA controller was able to get the target's current scale" }, now());
    const currentReplicas = scale.spec?.replicas ?? 0;
    history.recordInitial(currentReplicas, now());

    const minReplicas = spec.minReplicas ?? 1;
    const behavior = effectiveBehavior(spec.behavior, Math.trunc(cfg.horizontalPodAutoscalerDownscaleStabilizationMs / 1000));
    let desiredReplicas = 0;
    let rescaleReason = '';
    let rescale = true;
    let metricStatuses: MetricStatus[] | undefined;
    let partialError: Error | undefined;

    if (currentReplicas === 0 && minReplicas !== 0) {
      // Autoscaling is off for a target scaled to zero.
      desiredReplicas = 0;
      rescale = false;
      setCondition(hpa, { type: 'ScalingActive', status: 'False', reason: 'ScalingDisabled', message: 'scaling is disabled since the replica count of the target is zero' }, now());
    } else if (currentReplicas > spec.maxReplicas) {
      rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
      desiredReplicas = spec.maxReplicas;
    } else if (currentReplicas < minReplicas) {
      rescaleReason = 'Current number of replicas below Spec.MinReplicas';
      desiredReplicas = minReplicas;
    } else {
      const result = await computeMetrics(hpa, scale, behavior, warn);
      metricStatuses = result.statuses;
      if (result.condition) setCondition(hpa, result.condition, now());
      if (result.error && result.replicas === -1) {
        setStatus(hpa, { current: currentReplicas, desired: hpa.status.desiredReplicas, metrics: metricStatuses, rescaled: false, now: now() });
        await updateStatusIfNeeded(original, hpa).catch((e: unknown) => log(errorMessage(e)));
        warn('FailedComputeMetricsReplicas', result.error.message);
        throw new Error(`failed to compute desired number of replicas based on listed metrics for ${reference}: ${result.error.message}`);
      }
      // Some metrics failed but the others still scale up: scale, then report the error.
      partialError = result.error;
      let rescaleMetric = '';
      if (result.replicas > desiredReplicas) {
        desiredReplicas = result.replicas;
        rescaleMetric = result.metric;
      }
      if (desiredReplicas > currentReplicas) rescaleReason = `${rescaleMetric} above target`;
      if (desiredReplicas < currentReplicas) rescaleReason = 'All metrics below target';
      const args = { current: currentReplicas, desired: desiredReplicas, min: minReplicas, max: spec.maxReplicas, now: now() };
      const n = behavior ? history.normalizeWithBehavior(behavior, args) : history.normalize(args, cfg.horizontalPodAutoscalerDownscaleStabilizationMs);
      setCondition(hpa, { type: 'AbleToScale', status: 'True', ...n.ableToScale }, now());
      setCondition(hpa, { type: 'ScalingLimited', ...n.scalingLimited }, now());
      desiredReplicas = n.replicas;
      rescale = desiredReplicas !== currentReplicas;
    }

    if (rescale) {
      try {
        await scales.update(target, namespace, { ...scale, spec: { ...scale.spec, replicas: desiredReplicas } });
      } catch (err) {
        const m = errorMessage(err);
        warn('FailedRescale', `New size: ${desiredReplicas}; reason: ${rescaleReason}; error: ${m}`);
        setCondition(hpa, { type: 'AbleToScale', status: 'False', reason: 'FailedUpdateScale', message: `the HPA controller was unable to update the target scale: ${m}` }, now());
        setStatus(hpa, { current: currentReplicas, desired: hpa.status.desiredReplicas, metrics: metricStatuses, rescaled: false, now: now() });
        await updateStatusIfNeeded(original, hpa).catch((e: unknown) => log(errorMessage(e)));
        throw new Error(`failed to rescale ${reference}: ${m}`);
      }
      setCondition(hpa, { type: 'AbleToScale', status: 'True', reason: 'SucceededRescale', message: `the HPA controller was able to update the target scale to ${desiredReplicas}` }, now());
      recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desiredReplicas}; reason: ${rescaleReason}`);
      history.storeScaleEvent(behavior, { prev: currentReplicas, next: desiredReplicas, now: now() });
      log(`${key}: rescaled ${reference} from ${currentReplicas} to ${desiredReplicas} (${rescaleReason})`);
    } else {
      desiredReplicas = currentReplicas;
    }
    setStatus(hpa, { current: currentReplicas, desired: desiredReplicas, metrics: metricStatuses, rescaled: rescale, now: now() });
    await updateStatusIfNeeded(original, hpa);
    if (partialError) throw partialError;
  }

  /** The selector check and every metric's proposal (upstream's computeReplicasForMetrics). */
  async function computeMetrics(hpa: HorizontalPodAutoscaler, scale: Scale, behavior: Behavior | undefined, warn: (reason: string, message: string) => void): Promise<MetricsResult> {
    const namespace = hpa.metadata.namespace ?? '';
    const key = keyOf(hpa);
    const fail = (reason: string, eventMessage: string, conditionMessage: string): MetricsResult => {
      warn(reason, eventMessage);
      return { replicas: -1, metric: '', statuses: [], error: new Error(eventMessage), condition: { type: 'ScalingActive', status: 'False', reason: reason === 'SelectorRequired' ? 'InvalidSelector' : reason, message: conditionMessage } };
    };
    const selectorText = scale.status?.selector ?? '';
    if (!selectorText) return fail('SelectorRequired', 'selector is required', "the HPA target's scale is missing a selector");
    let selector: LabelSelectorMatcher;
    try {
      selector = parseLabelSelector(selectorText);
    } catch (err) {
      const m = `couldn't convert selector into a corresponding internal selector object: ${errorMessage(err)}`;
      return fail('InvalidSelector', m, m);
    }
    const known = selectors.get(key);
    if (known) known.selector = selector;
    const selected = podsFor(namespace, selector);
    const owners = hpasSelecting(namespace, selected);
    if (owners.length > 1) {
      const m = `pods by selector ${selectorText} are controlled by multiple HPAs: [${owners.join(' ')}]`;
      return fail('AmbiguousSelector', m, m);
    }
    const tolerance = cfg.horizontalPodAutoscalerTolerance;
    const mc: MetricContext = {
      metrics,
      pods: selected,
      selector,
      tolerances: { scaleUp: behavior?.scaleUp.tolerance ?? tolerance, scaleDown: behavior?.scaleDown.tolerance ?? tolerance },
      grouping: { cpuInitializationPeriodMs: cfg.horizontalPodAutoscalerCpuInitializationPeriodMs, delayOfInitialReadinessStatusMs: cfg.horizontalPodAutoscalerInitialReadinessDelayMs, now: clock.now() },
      warn,
    };
    return computeReplicasForMetrics(mc, { hpa, specs: hpa.spec?.metrics ?? [], specReplicas: scale.spec?.replicas ?? 0, statusReplicas: scale.status?.replicas ?? 0 });
  }

  /** Writes the status when it differs from what the sync started with (upstream's updateStatusIfNeeded). */
  async function updateStatusIfNeeded(original: HorizontalPodAutoscaler['status'], hpa: HorizontalPodAutoscaler): Promise<void> {
    if (semanticEqual(original, hpa.status)) return;
    try {
      await ctx.client.updateStatus<HorizontalPodAutoscaler>(resources.horizontalPodAutoscalers, hpa, { namespace: hpa.metadata.namespace });
    } catch (err) {
      recorder.event(hpa, 'Warning', 'FailedUpdateStatus', errorMessage(err));
      throw new Error(`failed to update status for ${hpa.metadata.name}: ${errorMessage(err)}`);
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
