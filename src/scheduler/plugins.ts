/**
 * Scheduler plugins with upstream names and meaning. Each implements the extension points it
 * needs: `filter` (can the pod run on this node? else the reason, worded as upstream so that
 * FailedScheduling messages read the same) and `score` (0-100, higher is better, normalized by
 * the framework when the plugin asks).
 *   NodeName, NodeUnschedulable, NodeResourcesFit (+ LeastAllocated score),
 *   NodeResourcesBalancedAllocation, NodeAffinity (nodeSelector and required/preferred affinity),
 *   TaintToleration (NoSchedule/NoExecute filter, PreferNoSchedule score), NodePorts.
 */
import type { KubeObject } from '../api/types.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';
import { parseQuantity } from '../api/quantity.ts';

export type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

/** What the scheduler knows of a node in one cycle: the node and the pods on it (assumed ones too). */
export interface NodeInfo {
  node: KubeObject;
  name: string;
  pods: KubeObject[];
  /** Requested resources of those pods: cpu in millicores, memory in bytes, pods count. */
  requested: Resources;
  /** The same for scoring, counting 100m cpu / 200Mi memory for pods that request none (as upstream). */
  nonZeroRequested: { milliCPU: number; memory: number };
  allocatable: Resources;
  usedPorts: Set<string>;
}

export interface Resources {
  milliCPU: number;
  memory: number;
  pods: number;
  [name: string]: number;
}

export interface FilterResult {
  /** Why the node does not fit, as upstream words it ("Insufficient cpu"). */
  reason: string;
  /** Resolvable by preemption (resources) or not (taints, affinity). */
  unresolvable?: boolean;
}

export interface Plugin {
  name: string;
  /** Once per cycle, over every node: state for filter and score (upstream PreFilter/PreScore). */
  preFilter?(pod: KubeObject, nodes: readonly NodeInfo[]): unknown;
  filter?(pod: KubeObject, node: NodeInfo, state?: unknown): FilterResult | null;
  score?(pod: KubeObject, node: NodeInfo, state?: unknown): number;
  /** Scores are rescaled to 0-100 over the feasible nodes (reverse: lower raw is better). */
  normalize?: 'max' | 'reverse';
  weight?: number;
}

// ---- resources ---------------------------------------------------------------------------------

function addRequests(into: Resources, requests: Obj, scale = 1): void {
  for (const [k, v] of Object.entries(requests)) {
    const q = parseQuantity(v) ?? 0;
    if (k === 'cpu') into.milliCPU += Math.round(q * 1000) * scale;
    else if (k === 'memory') into.memory += q * scale;
    else into[k] = (into[k] ?? 0) + q * scale;
  }
}

/** Requests per pod object: informer objects are never changed in place, so they can be cached. */
const requestsCache = new WeakMap<KubeObject, Resources>();

/** A pod's effective requests: max(sum of containers, each init container) + overhead, as upstream. */
export function podRequests(pod: KubeObject): Resources {
  const hit = requestsCache.get(pod);
  if (hit) return hit;
  const r = computeRequests(pod);
  requestsCache.set(pod, r);
  return r;
}

function computeRequests(pod: KubeObject): Resources {
  const spec = obj(pod['spec']);
  const sum: Resources = { milliCPU: 0, memory: 0, pods: 1 };
  for (const c of arr(spec['containers'])) addRequests(sum, obj(obj(c['resources'])['requests']));
  for (const c of arr(spec['initContainers'])) {
    const one: Resources = { milliCPU: 0, memory: 0, pods: 1 };
    addRequests(one, obj(obj(c['resources'])['requests']));
    for (const k of Object.keys(one)) if (k !== 'pods' && one[k]! > (sum[k] ?? 0)) sum[k] = one[k]!;
  }
  addRequests(sum, obj(spec['overhead']));
  return sum;
}

/** A node's scheduling view: requests, non-zero requests and host ports of the pods on it. */
export function nodeInfo(node: KubeObject, pods: KubeObject[]): NodeInfo {
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
  return { node, name: node.metadata.name!, pods, requested, nonZeroRequested, allocatable: nodeAllocatable(node), usedPorts };
}

export function nodeAllocatable(node: KubeObject): Resources {
  const r: Resources = { milliCPU: 0, memory: 0, pods: 0 };
  addRequests(r, obj(obj(node['status'])['allocatable']));
  return r;
}

/** Names as upstream prints them in "Insufficient <name>". */
const resourceNames: Record<string, string> = { milliCPU: 'cpu', memory: 'memory', pods: 'pods' };

export const nodeResourcesFit: Plugin = {
  name: 'NodeResourcesFit',
  filter(pod, node) {
    const req = podRequests(pod);
    if (node.requested.pods + 1 > node.allocatable.pods) return { reason: 'Too many pods' };
    const missing: string[] = [];
    for (const k of Object.keys(req)) {
      if (k === 'pods' || req[k] === 0) continue;
      const alloc = node.allocatable[k] ?? 0;
      if ((node.requested[k] ?? 0) + req[k]! > alloc) missing.push(`Insufficient ${resourceNames[k] ?? k}`);
    }
    return missing.length ? { reason: missing.join(', ') } : null;
  },
  // LeastAllocated: the free fraction of cpu and memory after placing the pod.
  score(pod, node) {
    const req = podRequests(pod);
    const frac = (k: 'milliCPU' | 'memory', dflt: number) => {
      const alloc = node.allocatable[k];
      if (!alloc) return 0;
      const used = node.nonZeroRequested[k] + (req[k] || dflt);
      return Math.max(0, (alloc - used) / alloc);
    };
    // Upstream counts 100m cpu and 200Mi memory for pods that request nothing (non-zero requests).
    // Kept fractional: on large nodes one pod moves the score by far less than a point.
    return ((frac('milliCPU', 100) + frac('memory', 200 * 1024 * 1024)) / 2) * 100;
  },
};

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
  filter(pod, node) {
    const want = obj(pod['spec'])['nodeName'];
    return want && want !== node.name ? { reason: "node(s) didn't match the requested node name", unresolvable: true } : null;
  },
};

export const nodeUnschedulable: Plugin = {
  name: 'NodeUnschedulable',
  filter(pod, node) {
    if (obj(node.node['spec'])['unschedulable'] !== true) return null;
    const tolerated = arr(obj(pod['spec'])['tolerations']).some((t) => tolerates(t, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }));
    return tolerated ? null : { reason: 'node(s) were unschedulable', unresolvable: true };
  },
};

export function podPorts(pod: KubeObject): string[] {
  const out: string[] = [];
  for (const c of arr(obj(pod['spec'])['containers'])) {
    for (const p of arr(c['ports'])) {
      const hostPort = p['hostPort'];
      if (typeof hostPort === 'number' && hostPort > 0) out.push(`${String(p['protocol'] ?? 'TCP')}/${String(p['hostIP'] ?? '0.0.0.0')}/${hostPort}`);
    }
  }
  return out;
}

export const nodePorts: Plugin = {
  name: 'NodePorts',
  filter(pod, node) {
    for (const p of podPorts(pod)) {
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

interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

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
export function matchTerm(term: Obj, node: KubeObject): boolean {
  const labels = node.metadata.labels ?? {};
  const exprs = arr(term['matchExpressions']) as unknown as NodeSelectorRequirement[];
  const fields = arr(term['matchFields']) as unknown as NodeSelectorRequirement[];
  if (!exprs.length && !fields.length) return false;
  return exprs.every((r) => matchRequirement(r, labels)) && fields.every((r) => matchRequirement(r, r.key === 'metadata.name' ? { 'metadata.name': node.metadata.name ?? '' } : {}));
}

export const nodeAffinity: Plugin = {
  name: 'NodeAffinity',
  weight: 2,
  filter(pod, node) {
    const spec = obj(pod['spec']);
    const selector = obj(spec['nodeSelector']) as Record<string, string>;
    const labels = node.node.metadata.labels ?? {};
    for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return { reason: "node(s) didn't match Pod's node affinity/selector", unresolvable: true };
    const required = obj(obj(obj(spec['affinity'])['nodeAffinity'])['requiredDuringSchedulingIgnoredDuringExecution']);
    const terms = arr(required['nodeSelectorTerms']);
    if (terms.length && !terms.some((t) => matchTerm(t, node.node))) return { reason: "node(s) didn't match Pod's node affinity/selector", unresolvable: true };
    return null;
  },
  score(pod, node) {
    const preferred = arr(obj(obj(obj(pod['spec'])['affinity'])['nodeAffinity'])['preferredDuringSchedulingIgnoredDuringExecution']);
    let sum = 0;
    for (const p of preferred) if (matchTerm(obj(p['preference']), node.node)) sum += Number(p['weight'] ?? 0);
    return sum;
  },
  normalize: 'max',
};

// ---- taints and tolerations ----------------------------------------------------------------------

interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export function tolerates(t: Obj, taint: Taint): boolean {
  if (t['effect'] && t['effect'] !== taint.effect) return false;
  if (t['key'] && t['key'] !== taint.key) return false;
  if (!t['key'] && t['operator'] !== 'Exists') return false;
  if (t['operator'] === 'Exists') return true;
  return String(t['value'] ?? '') === String(taint.value ?? '');
}

export const taintToleration: Plugin = {
  name: 'TaintToleration',
  weight: 3,
  filter(pod, node) {
    const tolerations = arr(obj(pod['spec'])['tolerations']);
    for (const taint of arr(obj(node.node['spec'])['taints']) as unknown as Taint[]) {
      if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
      if (!tolerations.some((t) => tolerates(t, taint))) {
        const v = taint.value ? `: ${taint.value}` : '';
        return { reason: `node(s) had untolerated taint {${taint.key}${v}}`, unresolvable: true };
      }
    }
    return null;
  },
  // Fewer intolerable PreferNoSchedule taints is better.
  score(pod, node) {
    const tolerations = arr(obj(pod['spec'])['tolerations']).filter((t) => !t['effect'] || t['effect'] === 'PreferNoSchedule');
    return (arr(obj(node.node['spec'])['taints']) as unknown as Taint[]).filter((t) => t.effect === 'PreferNoSchedule' && !tolerations.some((x) => tolerates(x, t))).length;
  },
  normalize: 'reverse',
};

// ---- inter-pod affinity --------------------------------------------------------------------------

interface AffinityTerm {
  labelSelector?: unknown;
  namespaces?: string[];
  namespaceSelector?: unknown;
  topologyKey: string;
}

function termsOf(pod: KubeObject, kind: 'podAffinity' | 'podAntiAffinity'): AffinityTerm[] {
  return arr(obj(obj(obj(pod['spec'])['affinity'])[kind])['requiredDuringSchedulingIgnoredDuringExecution']) as unknown as AffinityTerm[];
}

/** Whether `other` is selected by a term of `owner` (namespaces default to the owner's). */
function termMatches(term: AffinityTerm, owner: KubeObject, other: KubeObject, namespaceLabels: (ns: string) => Record<string, string> | undefined): boolean {
  const ns = other.metadata.namespace ?? '';
  const inNamespaces = term.namespaces?.length
    ? term.namespaces.includes(ns) || (term.namespaceSelector !== undefined && selectorMatches(term.namespaceSelector, namespaceLabels(ns)))
    : term.namespaceSelector !== undefined
      ? selectorMatches(term.namespaceSelector, namespaceLabels(ns))
      : ns === owner.metadata.namespace;
  return inNamespaces && selectorMatches(term.labelSelector, other.metadata.labels);
}

const antiCache = new WeakMap<KubeObject, boolean>();
/** Whether a pod has required anti-affinity terms (cached per pod object). */
function hasAntiAffinity(p: KubeObject): boolean {
  let v = antiCache.get(p);
  if (v === undefined) antiCache.set(p, (v = termsOf(p, 'podAntiAffinity').length > 0));
  return v;
}

interface AffinityState {
  /** For each of the incoming pod's terms: topology values of nodes running a matching pod. */
  affinity: Set<string>[];
  antiAffinity: Set<string>[];
  /** "key=value" topology pairs where an existing pod's anti-affinity rejects the incoming pod. */
  existingAnti: Set<string>;
  /** Whether any pod matches each affinity term anywhere (else the first pod may go). */
  anyMatch: boolean[];
}

export function interPodAffinityPlugin(namespaceLabels: (ns: string) => Record<string, string> | undefined = () => undefined): Plugin {
  return {
    name: 'InterPodAffinity',
    preFilter(pod, nodes): AffinityState {
      const aff = termsOf(pod, 'podAffinity');
      const anti = termsOf(pod, 'podAntiAffinity');
      const state: AffinityState = { affinity: aff.map(() => new Set()), antiAffinity: anti.map(() => new Set()), existingAnti: new Set(), anyMatch: aff.map(() => false) };
      const ownTerms = aff.length + anti.length > 0;
      for (const n of nodes) {
        const labels = n.node.metadata.labels ?? {};
        for (const other of n.pods) {
          if (!ownTerms && !hasAntiAffinity(other)) continue;
          if (other.metadata.uid && other.metadata.uid === pod.metadata.uid) continue;
          aff.forEach((t, i) => {
            if (!termMatches(t, pod, other, namespaceLabels)) return;
            state.anyMatch[i] = true;
            if (labels[t.topologyKey] !== undefined) state.affinity[i]!.add(labels[t.topologyKey]!);
          });
          anti.forEach((t, i) => {
            if (termMatches(t, pod, other, namespaceLabels) && labels[t.topologyKey] !== undefined) state.antiAffinity[i]!.add(labels[t.topologyKey]!);
          });
          for (const t of termsOf(other, 'podAntiAffinity')) {
            if (labels[t.topologyKey] !== undefined && termMatches(t, other, pod, namespaceLabels)) state.existingAnti.add(`${t.topologyKey}=${labels[t.topologyKey]}`);
          }
        }
      }
      return state;
    },
    // Upstream's order: the pod's affinity, its anti-affinity, then existing pods' anti-affinity.
    filter(pod, node, raw) {
      const state = raw as AffinityState;
      const labels = node.node.metadata.labels ?? {};
      const aff = termsOf(pod, 'podAffinity');
      for (let i = 0; i < aff.length; i++) {
        const t = aff[i]!;
        const v = labels[t.topologyKey];
        if (v !== undefined && state.affinity[i]!.has(v)) continue;
        // Nothing matches anywhere and the pod matches its own term: it may be the first.
        if (!state.anyMatch[i] && v !== undefined && termMatches(t, pod, pod, namespaceLabels)) continue;
        return { reason: "node(s) didn't match pod affinity rules", unresolvable: true };
      }
      const anti = termsOf(pod, 'podAntiAffinity');
      for (let i = 0; i < anti.length; i++) {
        const v = labels[anti[i]!.topologyKey];
        if (v !== undefined && state.antiAffinity[i]!.has(v)) return { reason: "node(s) didn't match pod anti-affinity rules" };
      }
      for (const pair of state.existingAnti) {
        const i = pair.indexOf('=');
        if (labels[pair.slice(0, i)] === pair.slice(i + 1)) return { reason: "node(s) didn't satisfy existing pods anti-affinity rules" };
      }
      return null;
    },
  };
}

// ---- pod topology spread -----------------------------------------------------------------------------

interface SpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  labelSelector?: unknown;
  minDomains?: number;
}

interface SpreadState {
  constraints: SpreadConstraint[];
  /** Per constraint: matching pods per topology value (every eligible domain present, maybe 0). */
  counts: Map<string, number>[];
  selfMatch: boolean[];
}

export const podTopologySpread: Plugin = {
  name: 'PodTopologySpread',
  weight: 2,
  preFilter(pod, nodes): SpreadState {
    const constraints = arr(obj(pod['spec'])['topologySpreadConstraints']) as unknown as SpreadConstraint[];
    if (!constraints.length) return { constraints, counts: [], selfMatch: [] };
    const counts = constraints.map(() => new Map<string, number>());
    const selfMatch = constraints.map((c) => selectorMatches(c.labelSelector, pod.metadata.labels));
    for (const n of nodes) {
      // Domains count only nodes the pod could go to by its node affinity / selector (nodeAffinityPolicy Honor).
      if (nodeAffinity.filter!(pod, n)) continue;
      const labels = n.node.metadata.labels ?? {};
      constraints.forEach((c, i) => {
        const v = labels[c.topologyKey];
        if (v === undefined) return;
        const m = counts[i]!;
        let k = m.get(v) ?? 0;
        for (const other of n.pods) {
          if (other.metadata.namespace === pod.metadata.namespace && !other.metadata.deletionTimestamp && selectorMatches(c.labelSelector, other.metadata.labels)) k++;
        }
        m.set(v, k);
      });
    }
    return { constraints, counts, selfMatch };
  },
  filter(_pod, node, raw) {
    const state = raw as SpreadState;
    const labels = node.node.metadata.labels ?? {};
    for (let i = 0; i < state.constraints.length; i++) {
      const c = state.constraints[i]!;
      if (c.whenUnsatisfiable !== 'DoNotSchedule') continue;
      const v = labels[c.topologyKey];
      if (v === undefined) return { reason: "node(s) didn't match pod topology spread constraints (missing required label)", unresolvable: true };
      const m = state.counts[i]!;
      let min = Math.min(...m.values());
      if (c.minDomains && m.size < c.minDomains) min = 0;
      const skew = (m.get(v) ?? 0) + (state.selfMatch[i] ? 1 : 0) - min;
      if (skew > c.maxSkew) return { reason: "node(s) didn't match pod topology spread constraints" };
    }
    return null;
  },
  // ScheduleAnyway (and DoNotSchedule) constraints: fewer matching pods in the node's domains is better.
  score(_pod, node, raw) {
    const state = raw as SpreadState;
    const labels = node.node.metadata.labels ?? {};
    let sum = 0;
    state.constraints.forEach((c, i) => {
      const v = labels[c.topologyKey];
      if (v !== undefined) sum += state.counts[i]!.get(v) ?? 0;
    });
    return sum;
  },
  normalize: 'reverse',
};

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

/**
 * ImageLocality: nodes that already have the pod's container images (node status `images`) score
 * higher, by the size of those images between upstream's thresholds. (Upstream also scales each
 * image by the share of nodes having it; not done here.)
 */
export const imageLocality: Plugin = {
  name: 'ImageLocality',
  score(pod, node) {
    const images = arr(obj(node.node['status'])['images']);
    if (!images.length) return 0;
    const containers = arr(obj(pod['spec'])['containers']);
    let sum = 0;
    for (const c of containers) {
      const want = normalizeImage(String(c['image'] ?? ''));
      const img = images.find((i) => (i['names'] as string[] | undefined)?.some((n) => normalizeImage(n) === want));
      if (img) sum += Number(img['sizeBytes'] ?? 0);
    }
    const max = maxContainerImageBytes * Math.max(1, containers.length);
    const clamped = Math.min(Math.max(sum, minImageBytes), max);
    return Math.round(((clamped - minImageBytes) * 100) / (max - minImageBytes));
  },
};

/** Upstream's default profile order for the plugins implemented here. */
export const defaultPlugins: Plugin[] = [
  nodeUnschedulable,
  nodeName,
  taintToleration,
  nodeAffinity,
  nodePorts,
  nodeResourcesFit,
  podTopologySpread,
  interPodAffinityPlugin(),
  nodeResourcesBalancedAllocation,
  imageLocality,
];

/** Whether a label selector (metav1.LabelSelector) matches labels; null matches nothing. */
export function selectorMatches(sel: unknown, labels: Record<string, string> | undefined): boolean {
  return labelSelectorFromObject((sel ?? null) as never).matches(labels);
}
