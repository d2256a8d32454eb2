/**
 * Scheduler plugins with upstream names and meaning. Each implements the extension points it
 * needs: `filter` (can the pod run on this node? else the reason, worded as upstream so that
 * FailedScheduling messages read the same) and `score` (0-100, higher is better, normalized by
 * the framework when the plugin asks).
 *   NodeName, NodeUnschedulable, NodeResourcesFit (LeastAllocated or MostAllocated score),
 *   NodeResourcesBalancedAllocation, NodeAffinity (nodeSelector and required/preferred affinity),
 *   TaintToleration (NoSchedule/NoExecute filter, PreferNoSchedule score), NodePorts,
 *   InterPodAffinity (required and preferred), ImageLocality (scaled by image spread).
 * PodTopologySpread lives in ./spread.ts, VolumeBinding in ./volumes.ts; ./profiles.ts turns a
 * scheduler configuration into plugin lists.
 *
 * Objects are the generated API types (src/api): plugins read `pod.spec?.tolerations`, and treat
 * an absent field as its zero value, as upstream does with Go's.
 */
import type { LabelSelector, Node, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim, Pod, PodAffinityTerm, Quantity, StorageClass, Taint, Toleration } from '../api/index.ts';
import { labelSelectorFromObject, type LabelSelectorMatcher } from '../api/selectors.ts';
import { DomainCounts, FoldCache, NodeSubset, NodeFold } from './nodefold.ts';
import { addRequests, podRequests, type Resources } from '../api/podresources.ts';
export { podRequests };

/** What the scheduler knows of a node in one cycle: the node and the pods on it (assumed ones too). */
export interface NodeInfo {
  node: Node;
  name: string;
  /**
   * The node's labels, taints and spec.unschedulable, held here too: the per-node loops read them
   * from this object instead of following node → metadata/spec (fewer cache misses per node).
   */
  labels: Record<string, string>;
  taints: Taint[];
  unschedulable: boolean;
  pods: Pod[];
  /** Requested resources of those pods: cpu in millicores, memory in bytes, pods count. */
  requested: Resources;
  /** The same for scoring, counting 100m cpu / 200Mi memory for pods that request none (as upstream). */
  nonZeroRequested: { milliCPU: number; memory: number };
  allocatable: Resources;
  usedPorts: Set<string>;
  /** The pods on the node with required anti-affinity terms (which every newcomer must respect). */
  antiAffinityPods: Pod[];
  /** The pods on the node with any pod affinity or anti-affinity term (scored against newcomers). */
  affinityPods: Pod[];
  /**
   * Figures plugins derive from this node's pods, by a key of their choosing (e.g. matching pods
   * per selector); a NodeInfo is rebuilt whenever its node or pods change, so they never go stale.
   * Flat pairs (key, value, key, value, ...): a node holds a few, and a flat array is read faster
   * than a Map in the per-node loops.
   */
  memo: number[];
}

/** Small numbers for memo keys: lookups by number, not by comparing long strings per node. */
const memoKeys = new Map<string, number>();
export function memoKey(key: string): number {
  let id = memoKeys.get(key);
  if (id === undefined) memoKeys.set(key, (id = memoKeys.size));
  return id;
}

export type { Resources } from '../api/podresources.ts';

export interface FilterResult {
  /** Why the node does not fit, as upstream words it ("Insufficient cpu"). */
  reason: string;
  /** Resolvable by preemption (resources) or not (taints, affinity). */
  unresolvable?: boolean;
}

/**
 * A plugin implements the extension points it needs; the framework calls them in profile order.
 * Filter and score functions are pure over their arguments (and the handle's caches).
 */
export interface Plugin {
  name: string;
  /**
   * PreFilter rejection: a message when the pod cannot be scheduled anywhere (e.g. a missing
   * PersistentVolumeClaim); it replaces the per-node reasons in FailedScheduling.
   */
  check?(pod: Pod): string | null;
  /** Once per cycle, over every node: state for filter (and score, unless preScore is given). */
  preFilter?(pod: Pod, nodes: readonly NodeInfo[]): unknown;
  filter?(pod: Pod, node: NodeInfo, state?: unknown): FilterResult | null;
  /**
   * Whether Filter may refuse some node for this pod, given its PreFilter state; false skips
   * Filter for the cycle (upstream: PreFilter answering Skip). Absent: Filter always runs.
   */
  filterNeeded?(pod: Pod, state: unknown): boolean;
  /**
   * Whether the PreFilter state stays right with `removed` gone from its node (preemption's
   * what-if; upstream PreFilterExtensions.RemovePod as a yes/no). Absent: it must be recomputed.
   */
  unchangedWithout?(pod: Pod, state: unknown, removed: Pod): boolean;
  /** Once per cycle, over the feasible nodes (and all nodes): state for score; null skips scoring. */
  preScore?(pod: Pod, feasible: readonly NodeInfo[], all: readonly NodeInfo[]): unknown;
  score?(pod: Pod, node: NodeInfo, state?: unknown): number;
  /**
   * Scores are rescaled to 0-100 over the feasible nodes: 'max' (proportionally), 'reverse'
   * (lower raw is better), or by the plugin's own function.
   */
  normalize?: 'max' | 'reverse' | ((scores: number[], nodes: readonly NodeInfo[], state: unknown) => number[]);
  weight?: number;
  /** PreBind: work done before the binding is written (volumes); a throw fails this binding. */
  preBind?(pod: Pod, node: string, signal: AbortSignal): Promise<void>;
}

/**
 * What plugins may look up besides nodes and pods (upstream framework.Handle's listers), read
 * from the scheduler's informer caches.
 */
export interface PluginHandle {
  namespaceLabels(namespace: string): Record<string, string> | undefined;
  /** Services, replication controllers, replica sets and stateful sets selecting the pod. */
  selectorsOf(pod: Pod): { sets: Record<string, string>[]; selectors: LabelSelector[] };
  persistentVolumeClaim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  persistentVolume(name: string): PersistentVolume | undefined;
  storageClass(name: string): StorageClass | undefined;
  /** Writes through the API (PreBind). */
  patchClaim?(namespace: string, name: string, annotations: Record<string, string>): Promise<void>;
}

/** A handle that knows nothing (unit tests, benchmarks). */
export const emptyHandle: PluginHandle = {
  namespaceLabels: () => undefined,
  selectorsOf: () => ({ sets: [], selectors: [] }),
  persistentVolumeClaim: () => undefined,
  persistentVolume: () => undefined,
  storageClass: () => undefined,
};

// ---- resources ---------------------------------------------------------------------------------

/** A node's scheduling view: requests, non-zero requests and host ports of the pods on it. */
export function nodeInfo(node: Node, pods: Pod[]): NodeInfo {
  const requested = { milliCPU: 0, memory: 0, pods: 0 } as Resources;
  const nonZeroRequested = { milliCPU: 0, memory: 0 };
  const usedPorts = new Set<string>();
  for (const p of pods) {
    const r = podRequests(p);
    for (const [k, v] of Object.entries(r)) requested[k] = (requested[k] ?? 0) + v;
    nonZeroRequested.milliCPU += r.milliCPU || 100;
    nonZeroRequested.memory += r.memory || 200 * 1024 * 1024;
    for (const port of podPorts(p)) usedPorts.add(port);
  }
  const affinityPods = pods.filter(hasAnyAffinity);
  const antiAffinityPods = affinityPods.filter(hasAntiAffinity);
  return { node, name: node.metadata.name!, labels: node.metadata.labels ?? {}, taints: node.spec?.taints ?? [], unschedulable: node.spec?.unschedulable === true, pods, requested, nonZeroRequested, allocatable: nodeAllocatable(node), usedPorts, antiAffinityPods, affinityPods, memo: [] };
}

const allocatableCache = new WeakMap<Node, Resources>();
export function nodeAllocatable(node: Node): Resources {
  let r = allocatableCache.get(node);
  if (r) return r;
  r = { milliCPU: 0, memory: 0, pods: 0 };
  addRequests(r, node.status?.allocatable ?? {});
  allocatableCache.set(node, r);
  return r;
}

/** A pod's non-zero requests other than the pod count, as a list (computed once per pod object). */
const requestLists = new WeakMap<Pod, [string, number][]>();
function requestList(pod: Pod): [string, number][] {
  let list = requestLists.get(pod);
  if (list) return list;
  const req = podRequests(pod);
  list = [];
  for (const k in req) if (k !== 'pods' && req[k] !== 0) list.push([k, req[k]!]);
  requestLists.set(pod, list);
  return list;
}

/** Names as upstream prints them in "Insufficient <name>". */
const resourceNames: Record<string, string> = { milliCPU: 'cpu', memory: 'memory', pods: 'pods' };

/** NodeResourcesFit's arguments (upstream NodeResourcesFitArgs.scoringStrategy). */
export interface FitArgs {
  scoringStrategy?: { type?: 'LeastAllocated' | 'MostAllocated'; resources?: { name: string; weight?: number }[] };
}

const resourceKey = (name: string) => (name === 'cpu' ? 'milliCPU' : name);

/**
 * NodeResourcesFit: the pod's requests must fit in what is left of the node's allocatable.
 * Scoring prefers free room (LeastAllocated, the default) or packing (MostAllocated), averaged
 * over the configured resources by weight (cpu and memory, weight 1, by default). Pods requesting
 * no cpu or memory count as 100m / 200Mi, as upstream. Scores stay fractional: on large nodes one
 * pod moves the score by far less than a point.
 */
export function nodeResourcesFitPlugin(args: FitArgs = {}): Plugin {
  const most = args.scoringStrategy?.type === 'MostAllocated';
  const weighted = (args.scoringStrategy?.resources?.length ? args.scoringStrategy.resources : [{ name: 'cpu' }, { name: 'memory' }]).map((r) => ({ key: resourceKey(r.name), weight: r.weight ?? 1 }));
  return {
    name: 'NodeResourcesFit',
    filter(pod, node) {
      const req = requestList(pod);
      if (node.requested.pods + 1 > node.allocatable.pods) return { reason: 'Too many pods' };
      let missing: string[] | undefined;
      for (let i = 0; i < req.length; i++) {
        const [k, n] = req[i]!;
        if ((node.requested[k] ?? 0) + n > (node.allocatable[k] ?? 0)) (missing ??= []).push(`Insufficient ${resourceNames[k] ?? k}`);
      }
      return missing ? { reason: missing.join(', ') } : null;
    },
    score(pod, node) {
      const req = podRequests(pod);
      let sum = 0;
      let weights = 0;
      for (const { key, weight } of weighted) {
        const alloc = node.allocatable[key] ?? 0;
        if (!alloc) continue;
        const used =
          key === 'milliCPU' ? node.nonZeroRequested.milliCPU + (req.milliCPU || 100) : key === 'memory' ? node.nonZeroRequested.memory + (req.memory || 200 * 1024 * 1024) : (node.requested[key] ?? 0) + (req[key] ?? 0);
        const frac = most ? Math.min(used, alloc) / alloc : used > alloc ? 0 : (alloc - used) / alloc;
        sum += frac * 100 * weight;
        weights += weight;
      }
      return weights ? sum / weights : 0;
    },
  };
}

export const nodeResourcesFit: Plugin = nodeResourcesFitPlugin();

export const nodeResourcesBalancedAllocation: Plugin = {
  name: 'NodeResourcesBalancedAllocation',
  score(pod, node) {
    const req = podRequests(pod);
    const cpu = node.allocatable.milliCPU ? (node.nonZeroRequested.milliCPU + (req.milliCPU || 100)) / node.allocatable.milliCPU : 0;
    const mem = node.allocatable.memory ? (node.nonZeroRequested.memory + (req.memory || 200 * 1024 * 1024)) / node.allocatable.memory : 0;
    const mean = (Math.min(cpu, 1) + Math.min(mem, 1)) / 2;
    const sd = Math.sqrt(((Math.min(cpu, 1) - mean) ** 2 + (Math.min(mem, 1) - mean) ** 2) / 2);
    return Math.round((1 - sd) * 100);
  },
};

// ---- node name, unschedulable, ports -------------------------------------------------------------

export const nodeName: Plugin = {
  name: 'NodeName',
  filterNeeded: (pod) => !!pod.spec?.nodeName,
  filter(pod, node) {
    const want = pod.spec?.nodeName;
    return want && want !== node.name ? { reason: "node(s) didn't match the requested node name", unresolvable: true } : null;
  },
};

export const nodeUnschedulable: Plugin = {
  name: 'NodeUnschedulable',
  filter(pod, node) {
    if (!node.unschedulable) return null;
    const tolerated = (pod.spec?.tolerations ?? []).some((t) => tolerates(t, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }));
    return tolerated ? null : { reason: 'node(s) were unschedulable', unresolvable: true };
  },
};

export function podPorts(pod: Pod): string[] {
  const out: string[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      const hostPort = p.hostPort;
      if (typeof hostPort === 'number' && hostPort > 0) out.push(`${p.protocol ?? 'TCP'}/${p.hostIP ?? '0.0.0.0'}/${hostPort}`);
    }
  }
  return out;
}

/** A pod's host ports, computed once per pod object. */
const portsCache = new WeakMap<Pod, string[]>();
function cachedPorts(pod: Pod): string[] {
  let ports = portsCache.get(pod);
  if (!ports) portsCache.set(pod, (ports = podPorts(pod)));
  return ports;
}

export const nodePorts: Plugin = {
  name: 'NodePorts',
  filterNeeded: (pod) => cachedPorts(pod).length > 0,
  filter(pod, node) {
    for (const p of cachedPorts(pod)) {
      const [proto, ip, port] = p.split('/');
      for (const used of node.usedPorts) {
        const [uproto, uip, uport] = used.split('/');
        if (proto === uproto && port === uport && (ip === uip || ip === '0.0.0.0' || uip === '0.0.0.0')) {
          return { reason: "node(s) didn't have free ports for the requested pod ports" };
        }
      }
    }
    return null;
  },
};

// ---- node affinity -----------------------------------------------------------------------------

function matchRequirement(r: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(v!);
    case 'NotIn':
      return !has || !values.includes(v!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
      return has && Number(v) > Number(values[0]);
    case 'Lt':
      return has && Number(v) < Number(values[0]);
    default:
      return false;
  }
}

/** A NodeSelectorTerm: every matchExpression and matchField holds. */
export function matchTerm(term: NodeSelectorTerm, node: Node): boolean {
  const labels = node.metadata.labels ?? {};
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  return exprs.every((r) => matchRequirement(r, labels)) && fields.every((r) => matchRequirement(r, r.key === 'metadata.name' ? { 'metadata.name': node.metadata.name ?? '' } : {}));
}

export const nodeAffinity: Plugin = {
  name: 'NodeAffinity',
  weight: 2,
  filterNeeded: (pod) => Object.keys(pod.spec?.nodeSelector ?? {}).length > 0 || (pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.length ?? 0) > 0,
  filter(pod, node) {
    const spec = pod.spec;
    const selector = spec?.nodeSelector ?? {};
    const labels = node.labels;
    for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return { reason: "node(s) didn't match Pod's node affinity/selector", unresolvable: true };
    const terms = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
    if (terms.length && !terms.some((t) => matchTerm(t, node.node))) return { reason: "node(s) didn't match Pod's node affinity/selector", unresolvable: true };
    return null;
  },
  // Without preferred terms every node scores 0: nothing to score (upstream PreScore's Skip).
  preScore: (pod) => (pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length ? true : null),
  score(pod, node) {
    const preferred = pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    let sum = 0;
    for (const p of preferred) if (matchTerm(p.preference ?? {}, node.node)) sum += p.weight ?? 0;
    return sum;
  },
  normalize: 'max',
};

// ---- taints and tolerations ----------------------------------------------------------------------

/** Whether a toleration tolerates a taint (upstream Toleration.ToleratesTaint). */
export function tolerates(t: Toleration, taint: Pick<Taint, 'key' | 'value' | 'effect'>): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== 'Exists') return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/**
 * The filter result for an untolerated taint, one per taint object (a node's taints are its
 * informer object's, unchanged until the node changes): a cycle meets the same tainted nodes for
 * every pod, and the cycle counts its failures by reason.
 */
const untoleratedResults = new WeakMap<object, FilterResult>();
function untolerated(taint: Pick<Taint, 'key' | 'value'>): FilterResult {
  let r = untoleratedResults.get(taint);
  if (!r) {
    // Upstream prints key and value, the value empty or not: `{node.kubernetes.io/not-ready: }`.
    r = { reason: `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`, unresolvable: true };
    untoleratedResults.set(taint, r);
  }
  return r;
}

export const taintToleration: Plugin = {
  name: 'TaintToleration',
  weight: 3,
  filter(pod, node) {
    const tolerations = pod.spec?.tolerations ?? [];
    for (const taint of node.taints) {
      if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
      if (!tolerations.some((t) => tolerates(t, taint))) return untolerated(taint);
    }
    return null;
  },
  // Fewer intolerable PreferNoSchedule taints is better.
  score(pod, node) {
    const taints = node.taints;
    if (!taints.length) return 0;
    const tolerations = (pod.spec?.tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
    return taints.filter((t) => t.effect === 'PreferNoSchedule' && !tolerations.some((x) => tolerates(x, t))).length;
  },
  normalize: 'reverse',
};

// ---- inter-pod affinity --------------------------------------------------------------------------

type AffinityTerm = PodAffinityTerm;

interface WeightedTerm {
  weight: number;
  term: AffinityTerm;
}

type TermKind = 'podAffinity' | 'podAntiAffinity';

/** A pod's affinity terms, parsed once per pod object (informer objects never change in place). */
interface PodTerms {
  affinity: AffinityTerm[];
  antiAffinity: AffinityTerm[];
  preferredAffinity: WeightedTerm[];
  preferredAntiAffinity: WeightedTerm[];
}

const termsCache = new WeakMap<Pod, PodTerms>();
const noTerms: PodTerms = { affinity: [], antiAffinity: [], preferredAffinity: [], preferredAntiAffinity: [] };

function podTerms(pod: Pod): PodTerms {
  let t = termsCache.get(pod);
  if (t) return t;
  const affinity = pod.spec?.affinity;
  if (!affinity?.podAffinity && !affinity?.podAntiAffinity) t = noTerms;
  else {
    const required = (kind: TermKind) => affinity[kind]?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    const preferred = (kind: TermKind) =>
      (affinity[kind]?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => ({ weight: w.weight ?? 0, term: w.podAffinityTerm ?? ({} as AffinityTerm) }));
    t = { affinity: required('podAffinity'), antiAffinity: required('podAntiAffinity'), preferredAffinity: preferred('podAffinity'), preferredAntiAffinity: preferred('podAntiAffinity') };
  }
  termsCache.set(pod, t);
  return t;
}

/** Whether `other` is selected by a term of `owner` (namespaces default to the owner's). */
function termMatches(term: AffinityTerm, owner: Pod, other: Pod, namespaceLabels: (ns: string) => Record<string, string> | undefined): boolean {
  const ns = other.metadata.namespace ?? '';
  const inNamespaces = term.namespaces?.length
    ? term.namespaces.includes(ns) || (term.namespaceSelector !== undefined && selectorMatches(term.namespaceSelector, namespaceLabels(ns)))
    : term.namespaceSelector !== undefined
      ? selectorMatches(term.namespaceSelector, namespaceLabels(ns))
      : ns === owner.metadata.namespace;
  return inNamespaces && selectorMatches(term.labelSelector, other.metadata.labels);
}

/** Whether a pod has required anti-affinity terms. */
function hasAntiAffinity(p: Pod): boolean {
  return podTerms(p).antiAffinity.length > 0;
}

/** Whether a pod has any pod affinity or anti-affinity term. */
function hasAnyAffinity(p: Pod): boolean {
  return podTerms(p) !== noTerms;
}

interface AffinityState {
  /** For each of the incoming pod's terms: topology values of nodes running a matching pod. */
  affinity: Set<string>[];
  antiAffinity: Set<string>[];
  /** Topology key → values where an existing pod's anti-affinity rejects the incoming pod. */
  existingAnti: Map<string, Set<string>>;
  terms: PodTerms;
  /** Whether any pod matches each affinity term anywhere (else the first pod may go). */
  anyMatch: boolean[];
}

/** The topology value counted for nodes lacking a term's key (label values never hold NUL). */
const noTopology = '\0';

/** Upstream InterPodAffinityArgs. */
export interface InterPodAffinityArgs {
  /** Score given to nodes whose pods' required affinity the incoming pod satisfies (default 1). */
  hardPodAffinityWeight?: number;
}

/**
 * InterPodAffinity: required pod affinity and anti-affinity filter (the pod's own terms, and
 * existing pods' anti-affinity against it), over any topology key, with namespaces and
 * namespaceSelector. Preferred terms of both sides, and existing pods' required affinity
 * (hardPodAffinityWeight), add or subtract their weights in the topology domains they match;
 * the sums are scaled to 0-100 between the lowest and highest node.
 */
export function interPodAffinityPlugin(handle: PluginHandle = emptyHandle, args: InterPodAffinityArgs = {}): Plugin {
  const nsLabels = (ns: string) => handle.namespaceLabels(ns);
  const hardWeight = args.hardPodAffinityWeight ?? 1;
  // Nodes running pods with (anti-)affinity terms, kept between cycles (./nodefold.ts).
  const withAffinity = new NodeSubset((n) => n.affinityPods.length > 0);
  const withAntiAffinity = new NodeSubset((n) => n.antiAffinityPods.length > 0);
  /**
   * Per required term of incoming pods (selector, namespaces, topology key and the owner's
   * namespace): matching pods per topology value (nodes lacking the key under `noTopology`), and
   * in all (under '').
   */
  const termFolds = new FoldCache<DomainCounts>(32);
  const termCounts = (owner: Pod, t: AffinityTerm) =>
    termFolds.get(JSON.stringify([owner.metadata.namespace ?? '', t.labelSelector ?? null, t.namespaces ?? null, t.topologyKey]), () => {
      const ns = owner.metadata.namespace;
      const term = t;
      const probe = { metadata: { namespace: ns } } as Pod;
      return new DomainCounts(2, (info) => {
        let n = 0;
        for (const other of info.pods) if (termMatches(term, probe, other, nsLabels)) n++;
        return { values: [info.labels[term.topologyKey] ?? noTopology, ''], counts: [n, n] };
      });
    });
  return {
    name: 'InterPodAffinity',
    weight: 2,
    preFilter(pod, nodes): AffinityState {
      const terms = podTerms(pod);
      const aff = terms.affinity;
      const anti = terms.antiAffinity;
      const state: AffinityState = { affinity: aff.map(() => new Set()), antiAffinity: anti.map(() => new Set()), existingAnti: new Map(), anyMatch: aff.map(() => false), terms };
      // The pod's own terms: matching pods per topology value, kept between cycles for terms
      // whose namespaces do not depend on namespace labels; the others walk every pod.
      const walked: boolean[] = [];
      for (const [i, t] of [...aff, ...anti].entries()) {
        const counts = t.namespaceSelector === undefined ? termCounts(pod, t).of(nodes) : undefined;
        walked.push(!counts);
        if (!counts) continue;
        const values = i < aff.length ? state.affinity[i]! : state.antiAffinity[i - aff.length]!;
        for (const [v, n] of counts[0]!) if (n > 0 && v !== noTopology) values.add(v);
        if (i < aff.length) state.anyMatch[i] = (counts[1]!.get('') ?? 0) > 0;
      }
      const walkAff = aff.filter((_t, i) => walked[i]);
      const walkAnti = anti.filter((_t, i) => walked[aff.length + i]);
      const affIndex = aff.flatMap((_t, i) => (walked[i] ? [i] : []));
      const antiIndex = anti.flatMap((_t, i) => (walked[aff.length + i] ? [i] : []));
      const ownWalk = walkAff.length + walkAnti.length > 0;
      // Existing pods' anti-affinity: only the nodes running pods with such terms are looked at
      // (upstream's snapshot list of them), unless the pod's own terms need every pod anyway.
      const visit = (n: NodeInfo) => {
        const others = ownWalk ? n.pods : n.antiAffinityPods;
        if (!others.length) return;
        const labels = n.labels;
        for (const other of others) {
          if (other.metadata.uid && other.metadata.uid === pod.metadata.uid) continue;
          walkAff.forEach((t, k) => {
            if (!termMatches(t, pod, other, nsLabels)) return;
            const i = affIndex[k]!;
            state.anyMatch[i] = true;
            if (labels[t.topologyKey] !== undefined) state.affinity[i]!.add(labels[t.topologyKey]!);
          });
          walkAnti.forEach((t, k) => {
            if (termMatches(t, pod, other, nsLabels) && labels[t.topologyKey] !== undefined) state.antiAffinity[antiIndex[k]!]!.add(labels[t.topologyKey]!);
          });
          for (const t of podTerms(other).antiAffinity) {
            const v = labels[t.topologyKey];
            if (v === undefined || !termMatches(t, other, pod, nsLabels)) continue;
            let values = state.existingAnti.get(t.topologyKey);
            if (!values) state.existingAnti.set(t.topologyKey, (values = new Set()));
            values.add(v);
          }
        }
      };
      if (ownWalk) for (let j = 0; j < nodes.length; j++) visit(nodes[j]!);
      else for (const n of withAntiAffinity.of(nodes)) visit(n);
      return state;
    },
    filterNeeded: (_pod, raw) => {
      const state = raw as AffinityState;
      return state.terms.affinity.length + state.terms.antiAffinity.length > 0 || state.existingAnti.size > 0;
    },
    unchangedWithout: (_pod, raw, removed) => {
      const state = raw as AffinityState;
      return state.terms.affinity.length + state.terms.antiAffinity.length === 0 && !hasAntiAffinity(removed);
    },
    // Upstream's order: the pod's affinity, its anti-affinity, then existing pods' anti-affinity.
    filter(pod, node, raw) {
      const state = raw as AffinityState;
      const labels = node.labels;
      const aff = state.terms.affinity;
      for (let i = 0; i < aff.length; i++) {
        const t = aff[i]!;
        const v = labels[t.topologyKey];
        if (v !== undefined && state.affinity[i]!.has(v)) continue;
        // Nothing matches anywhere and the pod matches its own term: it may be the first.
        if (!state.anyMatch[i] && v !== undefined && termMatches(t, pod, pod, nsLabels)) continue;
        return { reason: "node(s) didn't match pod affinity rules", unresolvable: true };
      }
      const anti = state.terms.antiAffinity;
      for (let i = 0; i < anti.length; i++) {
        const v = labels[anti[i]!.topologyKey];
        if (v !== undefined && state.antiAffinity[i]!.has(v)) return { reason: "node(s) didn't match pod anti-affinity rules" };
      }
      for (const [key, values] of state.existingAnti) {
        const v = labels[key];
        if (v !== undefined && values.has(v)) return { reason: "node(s) didn't satisfy existing pods anti-affinity rules" };
      }
      return null;
    },
    /** Topology key → value → summed weight, over every pod in the cluster. */
    preScore(pod, _feasible, all): Map<string, Map<string, number>> | null {
      const own = podTerms(pod);
      const ownPreferred = own.preferredAffinity.length + own.preferredAntiAffinity.length > 0;
      const scores = new Map<string, Map<string, number>>();
      const add = (t: AffinityTerm, weight: number, labels: Record<string, string>) => {
        const v = labels[t.topologyKey];
        if (v === undefined || !weight) return;
        let m = scores.get(t.topologyKey);
        if (!m) scores.set(t.topologyKey, (m = new Map()));
        m.set(v, (m.get(v) ?? 0) + weight);
      };
      const visit = (n: NodeInfo) => {
        const others = ownPreferred ? n.pods : n.affinityPods;
        if (!others.length) return;
        const labels = n.labels;
        for (const other of others) {
          for (const w of own.preferredAffinity) if (termMatches(w.term, pod, other, nsLabels)) add(w.term, w.weight, labels);
          for (const w of own.preferredAntiAffinity) if (termMatches(w.term, pod, other, nsLabels)) add(w.term, -w.weight, labels);
          const theirs = podTerms(other);
          if (theirs === noTerms) continue;
          for (const t of theirs.affinity) if (termMatches(t, other, pod, nsLabels)) add(t, hardWeight, labels);
          for (const w of theirs.preferredAffinity) if (termMatches(w.term, other, pod, nsLabels)) add(w.term, w.weight, labels);
          for (const w of theirs.preferredAntiAffinity) if (termMatches(w.term, other, pod, nsLabels)) add(w.term, -w.weight, labels);
        }
      };
      // Without preferred terms of its own, only nodes running pods with terms matter.
      if (ownPreferred) for (let j = 0; j < all.length; j++) visit(all[j]!);
      else for (const n of withAffinity.of(all)) visit(n);
      return scores.size ? scores : null;
    },
    score(_pod, node, raw) {
      const scores = raw as Map<string, Map<string, number>> | null;
      if (!scores) return 0;
      const labels = node.labels;
      let sum = 0;
      for (const [key, values] of scores) {
        const v = labels[key];
        if (v !== undefined) sum += values.get(v) ?? 0;
      }
      return sum;
    },
    normalize(scores) {
      let min = Infinity;
      let max = -Infinity;
      for (const s of scores) {
        if (s < min) min = s;
        if (s > max) max = s;
      }
      return scores.map((s) => (max > min ? (100 * (s - min)) / (max - min) : 0));
    },
  };
}

// ---- image locality ------------------------------------------------------------------------------

const mb = 1024 * 1024;
/** Below this much image data already present the score is 0, above the maximum it is 100 (upstream). */
const minImageBytes = 23 * mb;
const maxContainerImageBytes = 1000 * mb;

/** An image name with the default tag, as node status lists it. */
function normalizeImage(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return name.includes('@') || last.includes(':') ? name : `${name}:latest`;
}

/** The images a node reports (status.images), by normalized name → size; cached per node object. */
const nodeImagesCache = new WeakMap<Node, Map<string, number>>();
function nodeImages(node: Node): Map<string, number> {
  let m = nodeImagesCache.get(node);
  if (m) return m;
  m = new Map();
  for (const i of node.status?.images ?? []) for (const n of i.names ?? []) m.set(normalizeImage(n), i.sizeBytes ?? 0);
  nodeImagesCache.set(node, m);
  return m;
}

interface ImageState {
  /** Per image of the pod: on how many nodes it is. */
  spread: Map<string, number>;
  total: number;
  containers: number;
}

/**
 * ImageLocality: nodes that already have the pod's container images (node status `images`)
 * score higher, by the size of those images, each scaled by the share of nodes having it (so that
 * an image present everywhere does not herd pods), between upstream's thresholds.
 */
export function imageLocalityPlugin(): Plugin {
  // Nodes per image over the cluster, kept between cycles (upstream's snapshot imageStates).
  const nodesWith = new Map<string, number>();
  const fold = new NodeFold<Map<string, number>>({
    of: (info) => (info.node.status?.images?.length ? nodeImages(info.node) : undefined),
    add: (images) => {
      for (const image of images.keys()) nodesWith.set(image, (nodesWith.get(image) ?? 0) + 1);
    },
    remove: (images) => {
      for (const image of images.keys()) {
        const n = (nodesWith.get(image) ?? 0) - 1;
        if (n > 0) nodesWith.set(image, n);
        else nodesWith.delete(image);
      }
    },
  });
  return {
    ...imageLocalityPoints,
    preScore(pod, _feasible, all): ImageState | null {
      fold.update(all);
      if (!nodesWith.size) return null;
      const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
      const spread = new Map<string, number>();
      let any = false;
      for (const c of containers) {
        const image = normalizeImage(c.image ?? '');
        const n = nodesWith.get(image) ?? 0;
        spread.set(image, n);
        if (n) any = true;
      }
      return any ? { spread, total: all.length, containers: containers.length } : null;
    },
  };
}

const imageLocalityPoints: Plugin = {
  name: 'ImageLocality',
  score(_pod, node, raw) {
    const state = raw as ImageState | null;
    if (!state) return 0;
    const have = nodeImages(node.node);
    let sum = 0;
    for (const [image, n] of state.spread) {
      const size = have.get(image);
      if (size !== undefined) sum += Math.floor(size * (n / state.total));
    }
    const max = maxContainerImageBytes * Math.max(1, state.containers);
    const clamped = Math.min(Math.max(sum, minImageBytes), max);
    return Math.floor(((clamped - minImageBytes) * 100) / (max - minImageBytes));
  },
};

export const imageLocality: Plugin = imageLocalityPlugin();

/** Whether a label selector (metav1.LabelSelector) matches labels; null matches nothing. */
export function selectorMatches(sel: LabelSelector | null | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel || typeof sel !== 'object') return false;
  let m = selectorCache.get(sel);
  if (m === undefined) {
    try {
      m = labelSelectorFromObject(sel as never);
    } catch {
      m = null; // an invalid selector matches nothing
    }
    selectorCache.set(sel, m);
  }
  return m !== null && m.matches(labels);
}

/** Parsed selectors by selector object (informer objects are never changed in place). */
const selectorCache = new WeakMap<object, LabelSelectorMatcher | null>();
