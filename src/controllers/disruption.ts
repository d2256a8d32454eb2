/**
 * The disruption controller: keeps each PodDisruptionBudget's status current — expectedPods,
 * currentHealthy (ready pods not being deleted and not just evicted), desiredHealthy (from
 * minAvailable or maxUnavailable, percentages rounded up as upstream), disruptionsAllowed,
 * observedGeneration, the DisruptionAllowed condition, and disruptedPods (evictions the API
 * server recorded, dropped once the pod is gone or after two minutes). The eviction subresource
 * reads this status to decide.
 * Expected pods are the pods the budget selects (upstream counts the replicas of their
 * controllers for percentages; here the selected pods stand in for them).
 */
import type { Condition, Pod, PodDisruptionBudget, PodDisruptionBudgetStatus } from '../api/index.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { IndexNamespace, clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { cachedLabelSelector, intOrPercent, isPodReady, jsonEqual, keyOf, nowRfc3339, podPhase, startQueue, type ReconcileResult } from './controller-utils.ts';

const disruptedPodTimeoutMs = 2 * 60_000;

export interface BudgetStatus {
  expectedPods: number;
  currentHealthy: number;
  desiredHealthy: number;
  disruptionsAllowed: number;
}

/** The numbers of a budget over the pods it selects (terminal pods already left out). */
export function budgetStatus(pdb: PodDisruptionBudget, pods: readonly Pod[], disrupted: ReadonlySet<string>): BudgetStatus {
  const spec = pdb.spec ?? {};
  const expected = pods.length;
  const healthy = pods.filter((p) => isPodReady(p) && !p.metadata.deletionTimestamp && !disrupted.has(p.metadata.name!)).length;
  let desired: number;
  if (spec.maxUnavailable !== undefined) desired = Math.max(0, expected - intOrPercent(spec.maxUnavailable, expected, true, '0'));
  else desired = intOrPercent(spec.minAvailable ?? 1, expected, true, '1');
  return { expectedPods: expected, currentHealthy: healthy, desiredHealthy: desired, disruptionsAllowed: Math.max(0, healthy - desired) };
}

export function startDisruptionController(ctx: ControllerContext): void {
  const budgets = ctx.informers.typedInformerFor(resources.podDisruptionBudgets);
  const pods = ctx.informers.typedInformerFor(resources.pods);
  const cs = clientset(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'disruption-controller', workers: 2, waitFor: [budgets, pods] });
  const enqueue = (o: PodDisruptionBudget) => queue.add(keyOf(o));
  budgets.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: enqueue });
  const forPod = (p: Pod) => {
    for (const b of budgets.store.byIndex(IndexNamespace, p.metadata.namespace ?? '')) {
      if (cachedLabelSelector(b.spec?.selector ?? null).matches(p.metadata.labels)) enqueue(b);
    }
  };
  pods.addEventHandler({ onAdd: forPod, onUpdate: (o, n) => (forPod(o), forPod(n)), onDelete: forPod });

  async function sync(key: string): Promise<ReconcileResult | void> {
    const pdb = budgets.store.get(key);
    if (!pdb) return;
    const selector = labelSelectorFromObject(pdb.spec?.selector ?? null);
    const selected = pods.store.byIndex(IndexNamespace, pdb.metadata.namespace ?? '').filter((p) => {
      const phase = podPhase(p);
      return selector.matches(p.metadata.labels) && phase !== 'Succeeded' && phase !== 'Failed';
    });
    const now = Date.now();
    const prev: Partial<PodDisruptionBudgetStatus> = pdb.status ?? {};
    const live = new Set(selected.map((p) => p.metadata.name!));
    const disruptedPods: Record<string, string> = {};
    let nextExpiry: number | undefined;
    for (const [name, at] of Object.entries(prev.disruptedPods ?? {})) {
      const expires = Date.parse(at) + disruptedPodTimeoutMs;
      const pod = selected.find((p) => p.metadata.name === name);
      if (!live.has(name) || expires <= now || pod?.metadata.deletionTimestamp) continue;
      disruptedPods[name] = at;
      nextExpiry = Math.min(nextExpiry ?? expires, expires);
    }
    const s = budgetStatus(pdb, selected, new Set(Object.keys(disruptedPods)));
    const allowed = s.disruptionsAllowed > 0;
    const prevCond = (prev.conditions ?? []).find((c) => c.type === 'DisruptionAllowed');
    const condStatus = allowed ? 'True' : 'False';
    const condition: Condition = {
      type: 'DisruptionAllowed',
      status: condStatus,
      reason: allowed ? 'SufficientPods' : 'InsufficientPods',
      message: '',
      observedGeneration: pdb.metadata.generation,
      lastTransitionTime: prevCond?.status === condStatus ? prevCond.lastTransitionTime : nowRfc3339(now),
    };
    const status: PodDisruptionBudgetStatus = { ...s, observedGeneration: pdb.metadata.generation, conditions: [condition] };
    if (Object.keys(disruptedPods).length) status.disruptedPods = disruptedPods;
    const strip = (x: object) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== 0 && v !== undefined));
    if (!jsonEqual(strip(prev), strip(status))) {
      try {
        await cs.podDisruptionBudgets.updateStatus({ ...pdb, status }, { namespace: pdb.metadata.namespace });
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err)) return { requeueAfter: 100 };
        throw err;
      }
    }
    if (nextExpiry !== undefined) return { requeueAfter: nextExpiry - now + 100 };
  }
}
