/**
 * Node lifecycle, as upstream's node lifecycle controller:
 *  - health: a node is alive while its kubelet renews its Lease in kube-node-lease (or posts its
 *    Ready condition); what counts is when this controller saw the last renewal, so clocks need
 *    not agree. Without one for nodeMonitorGracePeriod, its conditions become Unknown
 *    (NodeStatusUnknown, "Kubelet stopped posting node status.", or NodeStatusNeverUpdated) and
 *    its pods are marked not ready;
 *  - NoSchedule taints from conditions (upstream doNoScheduleTaintingPass, run for each node
 *    added or updated): Ready False → `node.kubernetes.io/not-ready`, Ready Unknown →
 *    `node.kubernetes.io/unreachable`, MemoryPressure, DiskPressure, PIDPressure and
 *    NetworkUnavailable True → `node.kubernetes.io/memory-pressure` (`disk-pressure`,
 *    `pid-pressure`, `network-unavailable`), and `spec.unschedulable` →
 *    `node.kubernetes.io/unschedulable`. Such NoSchedule taints that no condition calls for are
 *    removed — so the not-ready taint a Node is created with (admission TaintNodesByCondition)
 *    goes once the node is Ready; added ones carry timeAdded. Other taints are left alone.
 *  - NoExecute taints from the Ready condition, checked with health: not-ready (False) or
 *    unreachable (Unknown), removed again when the node is Ready; a node that never posted a
 *    Ready condition is left as it is until health marks it Unknown.
 *  - NoExecute eviction: pods on a node with NoExecute taints they do not tolerate are deleted at
 *    once; pods tolerating them for tolerationSeconds are deleted when that time has passed since
 *    the taint was added.
 */
import type { Node, NodeCondition, Pod, Taint, Toleration } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { IndexNodeName, clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { nowRfc3339, startQueue } from './controller-utils.ts';

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

/**
 * The NoExecute taints a node should have for its Ready condition status ('True', 'False',
 * 'Unknown'; undefined when it has none): the other taints stay as they are, an existing taint
 * keeps its timeAdded. Without a Ready condition nothing changes (upstream waits for one).
 */
export function taintsForReady(ready: string | undefined, existing: readonly Taint[], now: number): Taint[] {
  if (ready === undefined) return [...existing];
  const ours = (t: Taint) => t.effect === 'NoExecute' && (t.key === notReadyTaint || t.key === unreachableTaint);
  const rest = existing.filter((t) => !ours(t));
  const key = ready === 'False' ? notReadyTaint : ready === 'Unknown' ? unreachableTaint : undefined;
  if (!key) return rest;
  return [...rest, existing.find((t) => ours(t) && t.key === key) ?? { key, effect: 'NoExecute', timeAdded: nowRfc3339(now) }];
}

export const unschedulableTaint = 'node.kubernetes.io/unschedulable';

/** Condition type → status → NoSchedule taint key (upstream nodeConditionToTaintKeyStatusMap). */
const conditionTaints: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  ['Ready', new Map([['False', notReadyTaint], ['Unknown', unreachableTaint]])],
  ['MemoryPressure', new Map([['True', 'node.kubernetes.io/memory-pressure']])],
  ['DiskPressure', new Map([['True', 'node.kubernetes.io/disk-pressure']])],
  ['NetworkUnavailable', new Map([['True', 'node.kubernetes.io/network-unavailable']])],
  ['PIDPressure', new Map([['True', 'node.kubernetes.io/pid-pressure']])],
]);
/** The NoSchedule taint keys the pass manages (upstream taintKeyToNodeConditionMap, and unschedulable). */
const managedNoScheduleKeys: ReadonlySet<string> = new Set([...[...conditionTaints.values()].flatMap((m) => [...m.values()]), unschedulableTaint]);

/**
 * Upstream doNoScheduleTaintingPass for one node: its taints with the managed NoSchedule taints
 * its conditions and spec.unschedulable call for added (at the end, timeAdded `now`) and those
 * they do not call for removed; undefined when nothing changes. Taints match by key and effect.
 */
export function noScheduleTaints(node: Node, now: number): Taint[] | undefined {
  const want = new Set<string>();
  for (const c of node.status?.conditions ?? []) {
    const key = conditionTaints.get(c.type)?.get(c.status);
    if (key) want.add(key);
  }
  if (node.spec?.unschedulable) want.add(unschedulableTaint);
  const existing = node.spec?.taints ?? [];
  const managed = (t: Taint) => t.effect === 'NoSchedule' && managedNoScheduleKeys.has(t.key);
  const have = new Set(existing.filter(managed).map((t) => t.key));
  const add = [...want].filter((k) => !have.has(k));
  const del = [...have].filter((k) => !want.has(k));
  if (!add.length && !del.length) return undefined;
  const kept = existing.filter((t) => !(managed(t) && del.includes(t.key)));
  return [...kept, ...add.map((key): Taint => ({ key, effect: 'NoSchedule', timeAdded: nowRfc3339(now) }))];
}

interface Health {
  /** The last heartbeat values seen (lease renewTime, Ready heartbeat and status) and when they were seen. */
  renew: string;
  heartbeat: string;
  status: string;
  observedAt: number;
}

/**
 * Whether a node's NoExecute taints already agree with its Ready status ('True', 'False',
 * 'Unknown', undefined: none), i.e. taintsForReady would change nothing; allocation-free, for the
 * periodic pass over every node.
 */
export function readyTaintsInSync(ready: string | undefined, existing: readonly Taint[]): boolean {
  if (ready === undefined) return true;
  const want = ready === 'False' ? notReadyTaint : ready === 'Unknown' ? unreachableTaint : undefined;
  let found = 0;
  for (const t of existing) {
    if (t.effect !== 'NoExecute' || (t.key !== notReadyTaint && t.key !== unreachableTaint)) continue;
    if (t.key !== want) return false;
    found++;
  }
  return want === undefined ? found === 0 : found === 1;
}

const nodeConditions = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

function readyStatus(node: Node): string | undefined {
  for (const c of node.status?.conditions ?? []) if (c.type === 'Ready') return c.status;
  return undefined;
}

export function startNodeLifecycleController(ctx: ControllerContext): void {
  const nodes = ctx.informers.typedInformerFor(resources.nodes);
  const leases = ctx.informers.typedInformerFor(resources.leases, { namespace: 'kube-node-lease' });
  const pods = ctx.informers.typedInformerFor(resources.pods);
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder('node-controller');
  const health = new Map<string, Health>();
  const cfg = ctx.config;

  // The NoSchedule pass runs for every node added or updated, as upstream's node update queue.
  const noScheduleQueue = startQueue(ctx, noScheduleTaintingPass, { name: 'node-lifecycle-controller', workers: 1, waitFor: [nodes] });
  nodes.addEventHandler({ onAdd: (n) => noScheduleQueue.add(n.metadata.name!), onUpdate: (_o, n) => noScheduleQueue.add(n.metadata.name!) });

  async function noScheduleTaintingPass(name: string): Promise<void> {
    const node = nodes.store.get(name);
    if (!node) return;
    const taints = noScheduleTaints(node, Date.now());
    if (!taints) return;
    try {
      await cs.nodes.patch(name, { spec: { taints: taints.length ? taints : null }, metadata: { resourceVersion: node.metadata.resourceVersion } }, { type: 'merge' });
    } catch (err) {
      // A conflict means a newer node is on its way to the cache; its update event brings it back here.
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  /** The node's health record, its heartbeat brought up to date (observedAt moves when it changed). */
  function observe(node: Node, now: number): Health {
    const name = node.metadata.name!;
    const renew = leases.store.get(`kube-node-lease/${name}`)?.spec?.renewTime ?? '';
    let heartbeat = '';
    let status = '';
    for (const c of node.status?.conditions ?? []) {
      if (c.type !== 'Ready') continue;
      heartbeat = c.lastHeartbeatTime ?? '';
      status = c.status;
      break;
    }
    const h = health.get(name);
    if (!h) {
      const fresh = { renew, heartbeat, status, observedAt: now };
      health.set(name, fresh);
      return fresh;
    }
    if (h.renew !== renew || h.heartbeat !== heartbeat || h.status !== status) {
      h.renew = renew;
      h.heartbeat = heartbeat;
      h.status = status;
      h.observedAt = now;
    }
    return h;
  }

  async function monitor(): Promise<void> {
    if (!nodes.hasSynced() || !leases.hasSynced()) return;
    const now = Date.now();
    for (const node of nodes.store.list()) {
      const name = node.metadata.name!;
      const seen = observe(node, now).observedAt;
      let current = node;
      if (now - seen > cfg.nodeMonitorGracePeriodMs && health.get(name)!.status !== 'Unknown') {
        // Copies: the cached node is shared.
        const conds: NodeCondition[] = (node.status?.conditions ?? []).map((c) => ({ ...c }));
        const ready = conds.find((c) => c.type === 'Ready');
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
        try {
          current = await cs.nodes.updateStatus({ ...node, status: { ...node.status, conditions: conds } });
          recorder.event(node, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
          await markPodsNotReady(name);
        } catch (err) {
          if (isNotFound(err) || isConflict(err)) continue;
          throw err;
        }
      }
      // Most nodes need neither: skip the awaits (and their allocations) for them.
      if (!readyTaintsInSync(readyStatus(current), current.spec?.taints ?? [])) await reconcileTaints(current, now);
      if (current.spec?.taints?.some((t) => t.effect === 'NoExecute')) await evict(current, now);
    }
    for (const n of health.keys()) if (!nodes.store.get(n)) health.delete(n);
  }

  async function reconcileTaints(node: Node, now: number): Promise<void> {
    const ready = readyStatus(node);
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
