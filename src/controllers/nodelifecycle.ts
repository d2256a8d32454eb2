/**
 * Node lifecycle, as upstream's node lifecycle controller:
 *  - health: a node is alive while its kubelet renews its Lease in kube-node-lease (or posts its
 *    Ready condition); what counts is when this controller saw the last renewal, so clocks need
 *    not agree. Without one for nodeMonitorGracePeriod, its conditions become Unknown
 *    (NodeStatusUnknown, "Kubelet stopped posting node status.", or NodeStatusNeverUpdated) and
 *    its pods are marked not ready;
 *  - taints from the Ready condition: `node.kubernetes.io/not-ready` (False) or
 *    `node.kubernetes.io/unreachable` (Unknown), each NoSchedule and NoExecute, removed again
 *    when the node is Ready;
 *  - NoExecute eviction: pods on a node with NoExecute taints they do not tolerate are deleted at
 *    once; pods tolerating them for tolerationSeconds are deleted when that time has passed since
 *    the taint was added.
 */
import type { Node, NodeCondition, Pod, Taint, Toleration } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { IndexNodeName, clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { nowRfc3339 } from './controller-utils.ts';

export const notReadyTaint = 'node.kubernetes.io/not-ready';
export const unreachableTaint = 'node.kubernetes.io/unreachable';

/** Whether a toleration tolerates a taint (upstream ToleratesTaint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== 'Exists') return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/**
 * When a pod must leave a node with these NoExecute taints: 0 (now) when one is not tolerated,
 * the earliest expiry of tolerationSeconds after each taint's timeAdded, or undefined (never).
 */
export function evictionTime(pod: Pod, taints: readonly Taint[], now: number): number | undefined {
  const tolerations = pod.spec?.tolerations ?? [];
  let at: number | undefined;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const matching = tolerations.filter((t) => tolerates(t, taint));
    if (!matching.length) return 0;
    // The shortest bounded toleration decides; an unbounded one tolerates forever.
    if (matching.some((t) => t.tolerationSeconds === undefined || t.tolerationSeconds === null)) continue;
    const secs = Math.min(...matching.map((t) => Math.max(0, t.tolerationSeconds!)));
    const added = taint.timeAdded ? Date.parse(taint.timeAdded) : now;
    const due = added + secs * 1000;
    at = at === undefined ? due : Math.min(at, due);
  }
  return at;
}

/** The taints a node should have for its Ready condition status ('True', 'False', 'Unknown'). */
export function taintsForReady(ready: string | undefined, existing: readonly Taint[], now: number): Taint[] {
  const rest = existing.filter((t) => t.key !== notReadyTaint && t.key !== unreachableTaint);
  const key = ready === 'False' ? notReadyTaint : ready === 'Unknown' || ready === undefined ? unreachableTaint : undefined;
  if (!key) return rest;
  const keep = (effect: string): Taint => existing.find((t) => t.key === key && t.effect === effect) ?? { key, effect, ...(effect === 'NoExecute' ? { timeAdded: nowRfc3339(now) } : {}) };
  return [...rest, keep('NoSchedule'), keep('NoExecute')];
}

interface Health {
  /** The last heartbeat value seen (lease renewTime or Ready heartbeat) and when it was seen. */
  stamp: string;
  observedAt: number;
}

const nodeConditions = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

export function startNodeLifecycleController(ctx: ControllerContext): void {
  const nodes = ctx.informers.typedInformerFor(resources.nodes);
  const leases = ctx.informers.typedInformerFor(resources.leases, { namespace: 'kube-node-lease' });
  const pods = ctx.informers.typedInformerFor(resources.pods);
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder('node-controller');
  const health = new Map<string, Health>();
  const cfg = ctx.config;

  function heartbeat(node: Node): string {
    const lease = leases.store.get(`kube-node-lease/${node.metadata.name}`);
    const renew = lease?.spec?.renewTime ?? '';
    const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
    return `${renew}|${ready?.lastHeartbeatTime ?? ''}|${ready?.status ?? ''}`;
  }

  async function monitor(): Promise<void> {
    if (!nodes.hasSynced() || !leases.hasSynced()) return;
    const now = Date.now();
    for (const node of nodes.store.list()) {
      const name = node.metadata.name!;
      const stamp = heartbeat(node);
      const h = health.get(name);
      if (!h || h.stamp !== stamp) health.set(name, { stamp, observedAt: now });
      const seen = health.get(name)!.observedAt;
      // Copies: the cached node is shared.
      const conds: NodeCondition[] = (node.status?.conditions ?? []).map((c) => ({ ...c }));
      const ready = conds.find((c) => c.type === 'Ready');
      let changed = false;
      if (now - seen > cfg.nodeMonitorGracePeriodMs && ready?.status !== 'Unknown') {
        const never = !ready;
        for (const type of nodeConditions) {
          let c = conds.find((x) => x.type === type);
          if (c?.status === 'Unknown') continue;
          if (!c) conds.push((c = { type, status: 'Unknown' }));
          c.status = 'Unknown';
          c.reason = never ? 'NodeStatusNeverUpdated' : 'NodeStatusUnknown';
          c.message = never ? 'Kubelet never posted node status.' : 'Kubelet stopped posting node status.';
          c.lastTransitionTime = nowRfc3339(now);
          c.lastHeartbeatTime ??= nowRfc3339(seen);
        }
        changed = true;
      }
      let current = node;
      if (changed) {
        try {
          current = await cs.nodes.updateStatus({ ...node, status: { ...node.status, conditions: conds } });
          recorder.event(node, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
          await markPodsNotReady(name);
        } catch (err) {
          if (isNotFound(err) || isConflict(err)) continue;
          throw err;
        }
      }
      await reconcileTaints(current, now);
      await evict(current, now);
    }
    for (const n of health.keys()) if (!nodes.store.get(n)) health.delete(n);
  }

  async function reconcileTaints(node: Node, now: number): Promise<void> {
    const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready')?.status;
    const existing = node.spec?.taints ?? [];
    const want = taintsForReady(ready, existing, now);
    const key = (ts: readonly Taint[]) => JSON.stringify(ts.map((t) => `${t.key}:${t.effect}`).sort());
    if (key(want) === key(existing)) return;
    try {
      await cs.nodes.patch(node.metadata.name!, { spec: { taints: want.length ? want : null }, metadata: { resourceVersion: node.metadata.resourceVersion } }, { type: 'merge' });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  async function markPodsNotReady(nodeName: string): Promise<void> {
    for (const pod of pods.store.byIndex(IndexNodeName, nodeName)) {
      const conds = (pod.status?.conditions ?? []).map((c) => ({ ...c }));
      const ready = conds.find((c) => c.type === 'Ready');
      if (!ready || ready.status === 'False') continue;
      ready.status = 'False';
      ready.lastTransitionTime = nowRfc3339();
      try {
        await cs.pods.patchStatus(pod.metadata.name!, { status: { conditions: conds } }, { type: 'merge', namespace: pod.metadata.namespace });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
  }

  async function evict(node: Node, now: number): Promise<void> {
    const taints = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute');
    if (!taints.length) return;
    for (const pod of pods.store.byIndex(IndexNodeName, node.metadata.name!)) {
      if (pod.metadata.deletionTimestamp) continue;
      const at = evictionTime(pod, taints, now);
      if (at === undefined || at > now) continue;
      try {
        await cs.pods.delete(pod.metadata.name!, { namespace: pod.metadata.namespace, preconditions: { uid: pod.metadata.uid } });
        recorder.event(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${pod.metadata.namespace}/${pod.metadata.name}`);
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
  }

  const run = () => monitor().catch((err: unknown) => ctx.log(`node-lifecycle-controller: ${(err as Error).message}`));
  // Taint changes and eviction deadlines are checked at a finer step than health.
  const step = Math.min(cfg.nodeMonitorPeriodMs, 1000);
  const timer = setInterval(run, step);
  timer.unref();
  ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
