/**
 * The DaemonSet controller's decisions, as pure functions over a DaemonSet's pods grouped by
 * node (upstream's daemon_controller.go and update.go): what one node needs
 * (podsShouldBeOnNode), which pods a RollingUpdate deletes and on which nodes it surges
 * (rollingUpdate, with and without maxSurge), and the status counts (updateDaemonSetStatus).
 * The controller (daemonset.ts) performs what these return. Iteration follows the order of the
 * maps given; nothing here mutates its arguments except `addDesiredNodes`, which says so.
 */
import type { Node, Pod } from '../api/index.ts';
import { isPodAvailable, isPodReady, podPhase } from './controller-utils.ts';
import { compareDaemonPods, daemonSetRevisionLabel, isPodUpdated, targetNodeName, type ShouldRun } from './daemonset-util.ts';

/** A DaemonSet's pods by the node they are for. */
export type NodePods = Map<string, Pod[]>;

const isTerminal = (p: Pod) => podPhase(p) === 'Succeeded' || podPhase(p) === 'Failed';

/**
 * Upstream getNodesToDaemonPods: the pods grouped by target node; pods without one are left
 * out, and so are finished pods already being deleted unless `includeDeletedTerminal`.
 */
export function nodesToDaemonPods(pods: Iterable<Pod>, includeDeletedTerminal: boolean): NodePods {
  const out: NodePods = new Map();
  for (const pod of pods) {
    if (!includeDeletedTerminal && pod.metadata.deletionTimestamp && isTerminal(pod)) continue;
    const node = targetNodeName(pod);
    if (node === undefined) continue;
    const list = out.get(node);
    if (list) list.push(pod);
    else out.set(node, [pod]);
  }
  return out;
}

/** What one node needs: a pod created there, pods deleted, and finished pods found there. */
export interface NodeDecision {
  create: boolean;
  /** Pods to delete (excess, misplaced, replaced by a surge). */
  remove: Pod[];
  /** Failed pods: deleted unless their node is in backoff (the caller decides, upstream's failedPodsBackoff). */
  failed: Pod[];
  /** Succeeded pods: deleted. */
  succeeded: Pod[];
}

export interface NodeInput {
  run: ShouldRun;
  /** The DaemonSet's pods for this node (undefined: none). */
  pods: readonly Pod[] | undefined;
  /** AllowsSurge: the DaemonSet is RollingUpdate with maxSurge > 0. */
  surge: boolean;
  hash: string;
  minReadySeconds: number;
  now: number;
}

/** Upstream podsShouldBeOnNode. */
export function podsShouldBeOnNode(n: NodeInput): NodeDecision {
  const d: NodeDecision = { create: false, remove: [], failed: [], succeeded: [] };
  const { shouldRun, shouldContinueRunning } = n.run;
  const pods = n.pods;
  if (shouldRun && !pods) {
    d.create = true;
    return d;
  }
  if (shouldContinueRunning) {
    const running: Pod[] = [];
    for (const pod of pods ?? []) {
      if (pod.metadata.deletionTimestamp) continue;
      const phase = podPhase(pod);
      if (phase === 'Failed') d.failed.push(pod);
      else if (phase === 'Succeeded') d.succeeded.push(pod);
      else running.push(pod);
    }
    if (!n.surge) {
      // At most one pod per node: keep the oldest.
      if (running.length > 1) d.remove.push(...running.sort(compareDaemonPods).slice(1));
      return d;
    }
    if (running.length <= 1) {
      // Surging: a node keeps at least one pod that is not being deleted.
      if (running.length === 0 && shouldRun) d.create = true;
      return d;
    }
    // Two pods are kept only while the oldest new one is not yet available and the oldest old one
    // is still ready; every other pod goes.
    let oldestNew: Pod | undefined;
    let oldestOld: Pod | undefined;
    for (const pod of running.sort(compareDaemonPods)) {
      if (pod.metadata.labels?.[daemonSetRevisionLabel] === n.hash) {
        if (!oldestNew) {
          oldestNew = pod;
          continue;
        }
      } else if (!oldestOld) {
        oldestOld = pod;
        continue;
      }
      d.remove.push(pod);
    }
    if (oldestNew && oldestOld && (!isPodReady(oldestOld) || isPodAvailable(oldestNew, n.minReadySeconds, n.now))) d.remove.push(oldestOld);
    return d;
  }
  if (pods) {
    // The node should not run the daemon: every pod there goes.
    for (const pod of pods) if (!pod.metadata.deletionTimestamp) d.remove.push(pod);
  }
  return d;
}

/**
 * Upstream getUnscheduledPodsWithoutNode: pods for nodes that do not exist and that were never
 * bound (pod garbage collection never deletes those).
 */
export function unscheduledPodsWithoutNode(nodeNames: ReadonlySet<string>, byNode: NodePods): Pod[] {
  const out: Pod[] = [];
  for (const [node, pods] of byNode) {
    if (nodeNames.has(node)) continue;
    for (const pod of pods) if (!pod.spec?.nodeName) out.push(pod);
  }
  return out;
}

/**
 * Upstream updatedDesiredNodeCounts, the node part: adds an empty entry to `byNode` (mutated)
 * for every node in `desiredNodes` that has no pods, so a rolling update counts it.
 */
export function addDesiredNodes(byNode: NodePods, desiredNodes: Iterable<string>): void {
  for (const node of desiredNodes) if (!byNode.has(node)) byNode.set(node, []);
}

/** maxSurge and maxUnavailable resolved, never both 0 while something is desired. */
export function rollingLimits(surge: number, unavailable: number, desired: number): { maxSurge: number; maxUnavailable: number } {
  return { maxSurge: surge, maxUnavailable: desired > 0 && surge === 0 && unavailable === 0 ? 1 : unavailable };
}

/**
 * Upstream findUpdatedPodsOnNode: the node's new and old pod (pods being deleted aside), or
 * undefined when there is more than one of either (the manage loop prunes those first).
 */
export function updatedPodsOnNode(pods: readonly Pod[], hash: string, generation: number | undefined): { newPod?: Pod; oldPod?: Pod } | undefined {
  let newPod: Pod | undefined;
  let oldPod: Pod | undefined;
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    if (isPodUpdated(pod, hash, generation)) {
      if (newPod) return undefined;
      newPod = pod;
    } else {
      if (oldPod) return undefined;
      oldPod = pod;
    }
  }
  return { newPod, oldPod };
}

export interface RollingInput {
  /** Pods by node, with an entry for every node that should run the daemon (addDesiredNodes). */
  byNode: NodePods;
  hash: string;
  generation: number | undefined;
  maxSurge: number;
  maxUnavailable: number;
  desiredNumberScheduled: number;
  /** Whether a new daemon pod should be started on the node (false for a node that no longer exists). */
  shouldRun(node: string): boolean;
  minReadySeconds: number;
  now: number;
}

export interface RollingPlan {
  /** Old pods to delete. */
  remove: Pod[];
  /** Nodes to start a new pod on beside the old one (surge). */
  create: string[];
}

/** Upstream rollingUpdate: the deletions (and, with maxSurge, creations) one pass of an update may make. */
export function rollingUpdatePlan(r: RollingInput): RollingPlan {
  const available = (p: Pod) => isPodAvailable(p, r.minReadySeconds, r.now);
  if (r.maxSurge === 0) {
    // Delete just enough old pods to stay within maxUnavailable; the manage loop starts the new ones.
    let numUnavailable = 0;
    const replacements: Pod[] = [];
    const candidates: Pod[] = [];
    for (const pods of r.byNode.values()) {
      const found = updatedPodsOnNode(pods, r.hash, r.generation);
      if (!found) {
        numUnavailable++;
        continue;
      }
      const { newPod, oldPod } = found;
      if ((!oldPod && !newPod) || (oldPod && newPod)) {
        numUnavailable++;
      } else if (newPod) {
        if (!available(newPod)) numUnavailable++;
      } else if (!available(oldPod!)) {
        // An old pod that is not available anyway is replaced at once.
        replacements.push(oldPod!);
        numUnavailable++;
      } else if (numUnavailable < r.maxUnavailable) {
        candidates.push(oldPod!);
      }
    }
    const room = Math.min(Math.max(0, r.maxUnavailable - numUnavailable), candidates.length);
    return { remove: [...replacements, ...candidates.slice(0, room)], create: [] };
  }

  // Surging: start a new pod beside each old one (at most maxSurge not yet available at once) and
  // delete an old pod once its replacement is available.
  const remove: Pod[] = [];
  const shouldNotRun: Pod[] = [];
  const allowedNew: string[] = [];
  const candidateNew: string[] = [];
  let numSurge = 0;
  let numAvailable = 0;
  for (const [node, pods] of r.byNode) {
    const found = updatedPodsOnNode(pods, r.hash, r.generation);
    if (!found) {
      numSurge++;
      continue;
    }
    const { newPod, oldPod } = found;
    if (oldPod) {
      if (available(oldPod)) numAvailable++;
    } else if (newPod && available(newPod)) {
      numAvailable++;
    }
    if (!oldPod) continue;
    if (!newPod) {
      if (!available(oldPod)) {
        if (!r.shouldRun(node)) remove.push(oldPod);
        else allowedNew.push(node);
        continue;
      }
      if (!r.shouldRun(node)) {
        shouldNotRun.push(oldPod);
        continue;
      }
      if (numSurge >= r.maxSurge) continue;
      candidateNew.push(node);
      continue;
    }
    if (!available(newPod)) {
      numSurge++;
      continue;
    }
    remove.push(oldPod);
  }
  // Pods on nodes that no longer should run the daemon go only while enough others are available.
  const deletable = Math.min(Math.max(0, numAvailable - r.desiredNumberScheduled), shouldNotRun.length);
  remove.push(...shouldNotRun.slice(0, deletable));
  const room = Math.min(Math.max(0, r.maxSurge - numSurge), candidateNew.length);
  return { remove, create: [...allowedNew, ...candidateNew.slice(0, room)] };
}

/** The counts of a DaemonSet's status (upstream updateDaemonSetStatus). */
export interface DaemonCounts {
  desiredNumberScheduled: number;
  currentNumberScheduled: number;
  numberMisscheduled: number;
  numberReady: number;
  updatedNumberScheduled: number;
  numberAvailable: number;
  numberUnavailable: number;
}

export interface StatusInput {
  nodes: readonly Node[];
  byNode: NodePods;
  shouldRun(node: Node): boolean;
  hash: string;
  generation: number | undefined;
  minReadySeconds: number;
  now: number;
}

/**
 * Upstream's status counts: per node that should run the daemon, whether it has a pod, and
 * whether its oldest pod is ready, available and up to date; pods on nodes that should not run
 * it are misscheduled.
 */
export function daemonCounts(s: StatusInput): DaemonCounts {
  const c: DaemonCounts = { desiredNumberScheduled: 0, currentNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0, updatedNumberScheduled: 0, numberAvailable: 0, numberUnavailable: 0 };
  for (const node of s.nodes) {
    const pods = s.byNode.get(node.metadata.name ?? '');
    const scheduled = !!pods?.length;
    if (!s.shouldRun(node)) {
      if (scheduled) c.numberMisscheduled++;
      continue;
    }
    c.desiredNumberScheduled++;
    if (!scheduled) continue;
    c.currentNumberScheduled++;
    const oldest = pods.length === 1 ? pods[0]! : [...pods].sort(compareDaemonPods)[0]!;
    if (isPodReady(oldest)) {
      c.numberReady++;
      if (isPodAvailable(oldest, s.minReadySeconds, s.now)) c.numberAvailable++;
    }
    if (isPodUpdated(oldest, s.hash, s.generation)) c.updatedNumberScheduled++;
  }
  c.numberUnavailable = c.desiredNumberScheduled - c.numberAvailable;
  return c;
}
