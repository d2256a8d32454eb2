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
 * Upstream walks every pod of every node each cycle; here, when no inclusion policy narrows the
 * nodes, the matching pods per domain are kept between cycles (./nodefold.ts) and only nodes
 * that changed are counted again, so a cycle costs one check per node, not one per pod.
 */
import type { Pod, TopologySpreadConstraint } from '../api/index.ts';
import { DomainCounts, FoldCache } from './nodefold.ts';
import { emptyHandle, memoKey, nodeAffinity, selectorMatches, taintToleration, type NodeInfo, type Plugin, type PluginHandle } from './plugins.ts';

const hostnameKey = 'kubernetes.io/hostname';
const zoneKey = 'topology.kubernetes.io/zone';
const maxNodeScore = 100;
/** Sets of constraints (e.g. Deployments being scheduled) whose counts are kept between cycles. */
const maxFolds = 32;

/** Identifies constraints by selector (with namespace) and topology key. */
const foldKey = (cs: readonly Constraint[]) => cs.map((c) => `${c.cacheKey}/${c.key}`).join(',');

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
  const memo = info.memo;
  const key = c.cacheKey;
  for (let i = 0; i < memo.length; i += 2) if (memo[i] === key) return memo[i + 1]!;
  let n = 0;
  for (const p of info.pods) if (p.metadata.namespace === namespace && !p.metadata.deletionTimestamp && c.matches(p.metadata.labels)) n++;
  memo.push(key, n);
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

  /**
   * Matching pods per domain over all nodes, kept between cycles, per set of constraints (their
   * selectors, namespace and keys): `keyed` decide which nodes count (those having every key),
   * `counted` are summed per value of their key.
   */
  const folds = new FoldCache<DomainCounts>(maxFolds);
  const domainCounts = (key: string, keyed: readonly Constraint[], counted: readonly Constraint[], ns: string) =>
    folds.get(key, () => {
      const n = counted.length;
      return new DomainCounts(n, (info) => {
        const labels = info.labels;
        if (!hasKeys(labels, keyed)) return undefined;
        const values: string[] = new Array(n);
        const counts: number[] = new Array(n);
        for (let i = 0; i < n; i++) {
          values[i] = labels[counted[i]!.key]!;
          counts[i] = countOn(info, counted[i]!, ns);
        }
        return { values, counts };
      });
    });

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
      const filtered = hard.map((c) => (c.honorAffinity && affinity) || c.honorTaints);
      let counts: Map<string, number>[];
      if (!filtered.includes(true)) {
        // Every node having the keys counts: sums kept between cycles (see ./nodefold.ts).
        const totals = domainCounts(`hard\0${foldKey(hard)}`, hard, hard, ns).of(nodes);
        counts = totals.map((m) => new Map(m));
      } else {
        counts = hard.map(() => new Map<string, number>());
        const values: string[] = [];
        nodes: for (let j = 0; j < nodes.length; j++) {
          const n = nodes[j]!;
          const labels = n.labels;
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
      }
      const min = counts.map((m, i) => {
        if (m.size < hard[i]!.minDomains) return 0;
        let low = Infinity;
        for (const k of m.values()) if (k < low) low = k;
        return low;
      });
      return { hard, counts, min, selfMatch: hard.map((c) => c.matches(pod.metadata.labels)) };
    },
    filterNeeded: (_pod, raw) => raw !== null,
    unchangedWithout(pod, raw, removed) {
      const state = raw as FilterState | null;
      return !state || removed.metadata.namespace !== pod.metadata.namespace || !state.hard.some((c) => c.matches(removed.metadata.labels));
    },
    filter(_pod, node, raw) {
      const state = raw as FilterState | null;
      if (!state) return null;
      const labels = node.labels;
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
      for (let j = 0; j < feasible.length; j++) {
        const n = feasible[j]!;
        const labels = n.labels;
        // With node affinity, nodes lacking a key cannot be compared: they score 0.
        if (affinity && !hasKeys(labels, soft)) {
          ignored.add(n.name);
          continue;
        }
        for (let i = 0; i < soft.length; i++) {
          const c = soft[i]!;
          const v = labels[c.key];
          if (c.key !== hostnameKey && v !== undefined) counts[i]!.set(v, 0);
        }
      }
      const weights = soft.map((c, i) => Math.log((c.key === hostnameKey ? feasible.length - ignored.size : counts[i]!.size) + 2));
      const domains = soft.filter((c) => c.key !== hostnameKey);
      if (!domains.length) return { soft, counts, weights, ignored };
      /**
       * The state to score with: a domain constraint that no scored node has a value for adds
       * nothing to any node's score (the cluster has no zones, say), so it is left out.
       */
      const scoring = (): ScoreState => {
        const keep = soft.map((c, i) => c.key === hostnameKey || counts[i]!.size > 0);
        if (keep.every(Boolean)) return { soft, counts, weights, ignored };
        const pick = <T,>(xs: T[]) => xs.filter((_x, i) => keep[i]);
        return { soft: pick(soft), counts: pick(counts), weights: pick(weights), ignored };
      };
      if (!soft.some((c) => (c.honorAffinity && affinity) || c.honorTaints)) {
        // Every node having the keys counts: sums kept between cycles (see ./nodefold.ts).
        const totals = domainCounts(`soft\0${foldKey(soft)}`, soft, domains, ns).of(all);
        let d = 0;
        for (let i = 0; i < soft.length; i++) {
          if (soft[i]!.key === hostnameKey) continue;
          const total = totals[d++]!;
          const m = counts[i]!;
          for (const v of m.keys()) m.set(v, total.get(v) ?? 0);
        }
        return scoring();
      }
      for (const n of all) {
        const labels = n.labels;
        if (!hasKeys(labels, soft)) continue;
        for (let i = 0; i < soft.length; i++) {
          const c = soft[i]!;
          if (c.key === hostnameKey || !included(pod, affinity, n, c)) continue;
          const m = counts[i]!;
          const v = labels[c.key]!;
          const k = m.get(v);
          if (k !== undefined) m.set(v, k + countOn(n, c, ns));
        }
      }
      return scoring();
    },
    score(pod, node, raw) {
      const state = raw as ScoreState | null;
      if (!state || state.ignored.has(node.name)) return 0;
      const labels = node.labels;
      const ns = pod.metadata.namespace ?? '';
      let score = 0;
      for (let i = 0; i < state.soft.length; i++) {
        const c = state.soft[i]!;
        const v = labels[c.key];
        if (v === undefined) continue;
        const cnt = c.key === hostnameKey ? countOn(node, c, ns) : (state.counts[i]!.get(v) ?? 0);
        score += cnt * state.weights[i]! + (c.maxSkew - 1);
      }
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
