/**
 * PodTopologySpread, as upstream: a pod's topologySpreadConstraints (or, when it has none, the
 * cluster's default constraints) keep matching pods evenly spread over topology domains.
 *  - DoNotSchedule constraints filter: placing the pod on a node must not make its domain exceed
 *    the least populated domain by more than maxSkew (the minimum counts as 0 while fewer than
 *    minDomains domains exist); nodes lacking the topology key are refused as unresolvable.
 *  - ScheduleAnyway constraints score: fewer matching pods in the node's domains is better,
 *    weighted by log(domain count + 2), so the spread over many domains dominates.
 *  - Domains count only the nodes the pod could use by its node affinity (nodeAffinityPolicy
 *    Honor, the default) and, when nodeTaintsPolicy is Honor, whose taints it tolerates;
 *    matchLabelKeys narrow the selector to the pod's own values of those labels.
 *  - System default constraints (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway) select the
 *    pods of the services, replication controllers, replica sets and stateful sets selecting the
 *    pod; a pod selected by none gets none.
 */
import type { Pod, TopologySpreadConstraint } from '../api/index.ts';
import { emptyHandle, memoKey, nodeAffinity, selectorMatches, taintToleration, type NodeInfo, type Plugin, type PluginHandle } from './plugins.ts';

const hostnameKey = 'kubernetes.io/hostname';
const zoneKey = 'topology.kubernetes.io/zone';
const maxNodeScore = 100;

/** A topologySpreadConstraint as written in a pod (or a profile's defaultConstraints, as upstream). */
export type SpreadConstraintSpec = TopologySpreadConstraint;

/** Upstream PodTopologySpreadArgs. */
export interface SpreadArgs {
  defaultingType?: 'System' | 'List';
  defaultConstraints?: SpreadConstraintSpec[];
}

export const systemDefaultConstraints: SpreadConstraintSpec[] = [
  { topologyKey: hostnameKey, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 3 },
  { topologyKey: zoneKey, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 5 },
];

/** A constraint ready to evaluate: its selector as a predicate and a key for count caching. */
interface Constraint {
  maxSkew: number;
  key: string;
  hard: boolean;
  minDomains: number;
  matches(labels: Record<string, string> | undefined): boolean;
  /** Identifies namespace + selector, for the per-node count memo (see memoKey). */
  cacheKey: number;
  honorAffinity: boolean;
  honorTaints: boolean;
}

interface FilterState {
  hard: Constraint[];
  /** Per hard constraint: matching pods per domain, and the smallest such count. */
  counts: Map<string, number>[];
  min: number[];
  selfMatch: boolean[];
}

interface ScoreState {
  soft: Constraint[];
  /** Per soft constraint (except hostname ones): matching pods per domain among feasible nodes. */
  counts: Map<string, number>[];
  weights: number[];
  ignored: Set<string>;
}

/** Matching pods on a node, remembered in the NodeInfo by namespace+selector. */
function countOn(info: NodeInfo, c: Constraint, namespace: string): number {
  const hit = info.memo.get(c.cacheKey);
  if (hit !== undefined) return hit;
  let n = 0;
  for (const p of info.pods) if (p.metadata.namespace === namespace && !p.metadata.deletionTimestamp && c.matches(p.metadata.labels)) n++;
  info.memo.set(c.cacheKey, n);
  return n;
}

const hasNodeAffinity = (pod: Pod) => {
  const spec = pod.spec;
  return Object.keys(spec?.nodeSelector ?? {}).length > 0 || spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution !== undefined;
};

export function podTopologySpreadPlugin(handle: PluginHandle = emptyHandle, args: SpreadArgs = {}): Plugin {
  const defaults = args.defaultingType === 'List' ? (args.defaultConstraints ?? []) : systemDefaultConstraints;

  function constraintsOf(pod: Pod): Constraint[] {
    const own = pod.spec?.topologySpreadConstraints ?? [];
    const ns = pod.metadata.namespace ?? '';
    if (own.length) return own.map((c) => fromSpec(c, pod, ns));
    if (!defaults.length) return [];
    // Default constraints select what the pod's owners and services select.
    const { sets, selectors } = handle.selectorsOf(pod);
    if (!sets.length && !selectors.length) return [];
    const matches = (labels: Record<string, string> | undefined) =>
      sets.every((s) => Object.entries(s).every(([k, v]) => labels?.[k] === v)) && selectors.every((s) => selectorMatches(s, labels));
    const cacheKey = memoKey(`spread\0${ns}\0${JSON.stringify([sets, selectors])}`);
    return defaults.map((c) => ({ ...common(c), matches, cacheKey }));
  }

  function common(c: SpreadConstraintSpec) {
    return {
      maxSkew: Number(c.maxSkew ?? 1),
      key: c.topologyKey,
      hard: c.whenUnsatisfiable !== 'ScheduleAnyway',
      minDomains: Number(c.minDomains ?? 1),
      honorAffinity: c.nodeAffinityPolicy !== 'Ignore',
      honorTaints: c.nodeTaintsPolicy === 'Honor',
    };
  }

  function fromSpec(c: SpreadConstraintSpec, pod: Pod, ns: string): Constraint {
    const own = pod.metadata.labels ?? {};
    const extra = (c.matchLabelKeys ?? []).filter((k) => Object.hasOwn(own, k)).map((k) => [k, own[k]!] as const);
    const sel = c.labelSelector;
    const matches = (labels: Record<string, string> | undefined) => selectorMatches(sel, labels) && extra.every(([k, v]) => labels?.[k] === v);
    return { ...common(c), matches, cacheKey: memoKey(`spread\0${ns}\0${JSON.stringify(sel ?? null)}\0${JSON.stringify(extra)}`) };
  }

  /** Whether a node's domain counts for the constraint (node inclusion policies). */
  function included(pod: Pod, affinity: boolean, n: NodeInfo, c: Constraint): boolean {
    if (c.honorAffinity && affinity && nodeAffinity.filter!(pod, n)) return false;
    if (c.honorTaints && taintToleration.filter!(pod, n)) return false;
    return true;
  }

  const hasKeys = (labels: Record<string, string>, cs: readonly Constraint[]) => {
    for (let i = 0; i < cs.length; i++) if (labels[cs[i]!.key] === undefined) return false;
    return true;
  };

  /** Constraints per pod object for the cycle (preFilter and preScore both need them). */
  const cache = new WeakMap<Pod, Constraint[]>();
  const constraints = (pod: Pod) => {
    let cs = cache.get(pod);
    if (!cs) cache.set(pod, (cs = constraintsOf(pod)));
    return cs;
  };

  return {
    name: 'PodTopologySpread',
    weight: 2,
    preFilter(pod, nodes): FilterState | null {
      cache.delete(pod); // selectors of owners may have changed since the last attempt
      const hard = constraints(pod).filter((c) => c.hard);
      if (!hard.length) return null;
      const ns = pod.metadata.namespace ?? '';
      const affinity = hasNodeAffinity(pod);
      const counts = hard.map(() => new Map<string, number>());
      const filtered = hard.map((c) => (c.honorAffinity && affinity) || c.honorTaints);
      const values: string[] = [];
      nodes: for (let j = 0; j < nodes.length; j++) {
        const n = nodes[j]!;
        const labels = n.node.metadata.labels ?? {};
        // Only nodes having every constraint's key count.
        for (let i = 0; i < hard.length; i++) {
          const v = labels[hard[i]!.key];
          if (v === undefined) continue nodes;
          values[i] = v;
        }
        for (let i = 0; i < hard.length; i++) {
          const c = hard[i]!;
          if (filtered[i] && !included(pod, affinity, n, c)) continue;
          const m = counts[i]!;
          const v = values[i]!;
          m.set(v, (m.get(v) ?? 0) + countOn(n, c, ns));
        }
      }
      const min = counts.map((m, i) => {
        if (m.size < hard[i]!.minDomains) return 0;
        let low = Infinity;
        for (const k of m.values()) if (k < low) low = k;
        return low;
      });
      return { hard, counts, min, selfMatch: hard.map((c) => c.matches(pod.metadata.labels)) };
    },
    unchangedWithout(pod, raw, removed) {
      const state = raw as FilterState | null;
      return !state || removed.metadata.namespace !== pod.metadata.namespace || !state.hard.some((c) => c.matches(removed.metadata.labels));
    },
    filter(_pod, node, raw) {
      const state = raw as FilterState | null;
      if (!state) return null;
      const labels = node.node.metadata.labels ?? {};
      for (let i = 0; i < state.hard.length; i++) {
        const c = state.hard[i]!;
        const v = labels[c.key];
        if (v === undefined) return { reason: "node(s) didn't match pod topology spread constraints (missing required label)", unresolvable: true };
        const skew = (state.counts[i]!.get(v) ?? 0) + (state.selfMatch[i] ? 1 : 0) - state.min[i]!;
        if (skew > c.maxSkew) return { reason: "node(s) didn't match pod topology spread constraints" };
      }
      return null;
    },
    preScore(pod, feasible, all): ScoreState | null {
      const soft = constraints(pod).filter((c) => !c.hard);
      if (!soft.length) return null;
      const ns = pod.metadata.namespace ?? '';
      const affinity = hasNodeAffinity(pod);
      const ignored = new Set<string>();
      const counts = soft.map(() => new Map<string, number>());
      for (const n of feasible) {
        const labels = n.node.metadata.labels ?? {};
        // With node affinity, nodes lacking a key cannot be compared: they score 0.
        if (affinity && !hasKeys(labels, soft)) {
          ignored.add(n.name);
          continue;
        }
        soft.forEach((c, i) => {
          const v = labels[c.key];
          if (c.key !== hostnameKey && v !== undefined) counts[i]!.set(v, 0);
        });
      }
      const weights = soft.map((c, i) => Math.log((c.key === hostnameKey ? feasible.length - ignored.size : counts[i]!.size) + 2));
      for (const n of all) {
        const labels = n.node.metadata.labels ?? {};
        if (!hasKeys(labels, soft)) continue;
        soft.forEach((c, i) => {
          if (c.key === hostnameKey || !included(pod, affinity, n, c)) return;
          const m = counts[i]!;
          const v = labels[c.key]!;
          const k = m.get(v);
          if (k !== undefined) m.set(v, k + countOn(n, c, ns));
        });
      }
      return { soft, counts, weights, ignored };
    },
    score(pod, node, raw) {
      const state = raw as ScoreState | null;
      if (!state || state.ignored.has(node.name)) return 0;
      const labels = node.node.metadata.labels ?? {};
      const ns = pod.metadata.namespace ?? '';
      let score = 0;
      state.soft.forEach((c, i) => {
        const v = labels[c.key];
        if (v === undefined) return;
        const cnt = c.key === hostnameKey ? countOn(node, c, ns) : (state.counts[i]!.get(v) ?? 0);
        score += cnt * state.weights[i]! + (c.maxSkew - 1);
      });
      return Math.round(score);
    },
    // Fewer matching pods is better: max+min-s over max; ignored nodes get 0.
    normalize(scores, nodes, raw) {
      const state = raw as ScoreState | null;
      if (!state) return scores.map(() => 0);
      let min = Infinity;
      let max = 0;
      scores.forEach((s, i) => {
        if (state.ignored.has(nodes[i]!.name)) return;
        if (s < min) min = s;
        if (s > max) max = s;
      });
      return scores.map((s, i) => (state.ignored.has(nodes[i]!.name) ? 0 : max === 0 ? maxNodeScore : (maxNodeScore * (max + min - s)) / max));
    },
  };
}
