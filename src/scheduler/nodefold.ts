/**
 * Figures summed over every node of the cluster, kept up to date between scheduling cycles (the
 * role of upstream's snapshot lists HavePodsWithAffinityNodeInfoList and imageStates, and of
 * the per-node pod counts PodTopologySpread needs), so that a cycle costs the nodes that changed
 * since the last one instead of a walk over every pod.
 *
 * It relies on the snapshot's contract (./scheduler.ts): a NodeInfo is never changed once built;
 * the snapshot builds a new one whenever the node or a pod on it changes. A fold remembers, per
 * position in the node list, the NodeInfo it last saw and what that node contributed; `update`
 * takes back the contribution of every position whose NodeInfo is a different object and adds
 * the new one's. Any list may be passed (a what-if list of preemption, a list with nominated
 * pods): positions that differ are recomputed, so the sums always describe the list given last.
 * The snapshot's own list records its replacements in a ChangeLog: a fold that saw it last visits
 * only the replaced positions; any other list costs one identity comparison per node.
 * Memory: a fold holds two references per node; FoldCache bounds how many folds a plugin keeps.
 */
import type { NodeInfo } from './plugins.ts';

export interface FoldOps<C> {
  /** What a node contributes (undefined: nothing). Called only for NodeInfos not seen before. */
  of(info: NodeInfo): C | undefined;
  add(c: C): void;
  remove(c: C): void;
}

/**
 * The positions of a node list replaced since a version: the scheduler's snapshot records each
 * NodeInfo it replaces in place, so that folds following that list visit only those positions.
 * The record is bounded; a fold further behind compares every position.
 */
export class ChangeLog {
  #changes: number[] = [];
  /** The version of #changes[0]. */
  #base = 0;

  get version(): number {
    return this.#base + this.#changes.length;
  }

  /** Position `i` of the list now holds another NodeInfo. */
  changed(i: number): void {
    if (this.#changes.length >= maxLogged) {
      this.#base += this.#changes.length >> 1;
      this.#changes = this.#changes.slice(this.#changes.length >> 1);
    }
    this.#changes.push(i);
  }

  /** Positions changed since `version` (with repeats), or undefined when no longer known. */
  since(version: number): readonly number[] | undefined {
    if (version < this.#base || version > this.version) return undefined;
    return this.#changes.slice(version - this.#base);
  }
}

/** Changes remembered per list (about one scheduling cycle each). */
const maxLogged = 8192;

const logs = new WeakMap<readonly NodeInfo[], ChangeLog>();

/** Declares that every replacement of a position of `list` is recorded in `log`. */
export function followChanges(list: readonly NodeInfo[], log: ChangeLog): void {
  logs.set(list, log);
}

export class NodeFold<C> {
  #seen: (NodeInfo | undefined)[] = [];
  #parts: (C | undefined)[] = [];
  #ops: FoldOps<C>;
  /** The list last folded and the version of its change log then. */
  #list: readonly NodeInfo[] | null = null;
  #version = 0;

  constructor(ops: FoldOps<C>) {
    this.#ops = ops;
  }

  /**
   * Brings the sums to describe `all`. Cost: the positions changed since the last call when `all`
   * is the same list and follows a change log, else one comparison per node; plus the changed
   * nodes' contributions.
   */
  update(all: readonly NodeInfo[]): void {
    const log = logs.get(all);
    const changed = log && this.#list === all ? log.since(this.#version) : undefined;
    this.#list = all;
    this.#version = log?.version ?? 0;
    if (changed) {
      for (const i of changed) this.#at(all, i);
      return;
    }
    const seen = this.#seen;
    for (let i = 0; i < all.length; i++) if (seen[i] !== all[i]) this.#at(all, i);
    this.#trim(all);
  }

  #at(all: readonly NodeInfo[], i: number): void {
    const info = all[i]!;
    if (this.#seen[i] === info) return;
    const ops = this.#ops;
    const old = this.#parts[i];
    if (old !== undefined) ops.remove(old);
    const c = ops.of(info);
    if (c !== undefined) ops.add(c);
    this.#parts[i] = c;
    this.#seen[i] = info;
  }

  #trim(all: readonly NodeInfo[]): void {
    const seen = this.#seen;
    const parts = this.#parts;
    const ops = this.#ops;
    for (let i = all.length; i < seen.length; i++) {
      const old = parts[i];
      if (old !== undefined) ops.remove(old);
    }
    seen.length = all.length;
    parts.length = all.length;
  }
}

/** The NodeInfos of a list that satisfy `has` (e.g. nodes running pods with affinity terms). */
export class NodeSubset {
  readonly members = new Set<NodeInfo>();
  #fold: NodeFold<NodeInfo>;

  constructor(has: (info: NodeInfo) => boolean) {
    const members = this.members;
    this.#fold = new NodeFold<NodeInfo>({ of: (i) => (has(i) ? i : undefined), add: (i) => members.add(i), remove: (i) => members.delete(i) });
  }

  /** The members of `all`, in no particular order. */
  of(all: readonly NodeInfo[]): ReadonlySet<NodeInfo> {
    this.#fold.update(all);
    return this.members;
  }
}

/** Counts per label value, summed over nodes (each node contributing values and counts). */
export class DomainCounts {
  /** Per dimension (e.g. per constraint): value → count. */
  readonly totals: Map<string, number>[];
  #fold: NodeFold<{ values: string[]; counts: number[] }>;

  /** `of` gives a node's values and counts per dimension, or undefined when the node does not count. */
  constructor(dimensions: number, of: (info: NodeInfo) => { values: string[]; counts: number[] } | undefined) {
    const totals = (this.totals = Array.from({ length: dimensions }, () => new Map<string, number>()));
    const change = (c: { values: string[]; counts: number[] }, sign: number) => {
      for (let d = 0; d < totals.length; d++) {
        const m = totals[d]!;
        const v = c.values[d]!;
        m.set(v, (m.get(v) ?? 0) + sign * c.counts[d]!);
      }
    };
    // Nodes per domain: a domain is known (count 0 or more) while a counting node has it.
    const nodes = totals.map(() => new Map<string, number>());
    const track = (c: { values: string[] }, sign: number) => {
      for (let d = 0; d < nodes.length; d++) {
        const m = nodes[d]!;
        const v = c.values[d]!;
        const n = (m.get(v) ?? 0) + sign;
        if (n > 0) m.set(v, n);
        else {
          m.delete(v);
          totals[d]!.delete(v);
        }
      }
    };
    this.#fold = new NodeFold({
      of,
      add: (c) => (track(c, 1), change(c, 1)),
      remove: (c) => (change(c, -1), track(c, -1)),
    });
  }

  /** The totals for `all` (shared: valid until the next call; copy to keep). */
  of(all: readonly NodeInfo[]): Map<string, number>[] {
    this.#fold.update(all);
    return this.totals;
  }
}

/** A small cache of folds by key, least recently used dropped beyond `max`. */
export class FoldCache<T> {
  #m = new Map<string, T>();
  #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string, make: () => T): T {
    let v = this.#m.get(key);
    if (v !== undefined) {
      this.#m.delete(key);
      this.#m.set(key, v);
      return v;
    }
    v = make();
    this.#m.set(key, v);
    if (this.#m.size > this.#max) this.#m.delete(this.#m.keys().next().value!);
    return v;
  }
}
