/**
 * The metrics server's storage, as metrics-server's pkg/storage: for each node and container the
 * points of the last two scrapes, and from them the usage the API serves. CPU is a rate:
 * (cumulative CPU of the last point − that of the previous) / (the time between them), so a node
 * or container shows up only from its second scrape on; memory is the last working set. Points
 * are kept only when newer than the stored ones; a container whose start time moved past the
 * stored point restarted and starts over; a container that started between 10 s and one
 * resolution ago gets a synthetic previous point at its start time with zero CPU (upstream's
 * fresh-container rule); a point whose CPU or start time went backwards is skipped. A pod is
 * served only when every container of its last scrape has a previous point, with the earliest
 * container timestamp and its window.
 *
 * Simulated nodes have no cumulative counters: their usage (computed from pod annotations by
 * ./simulated.ts) is stored as it comes, with the scrape's time and the resolution as window.
 *
 * Bounds: every `store` replaces everything with what the new batch has (and the previous
 * points of those objects only), so nodes and pods that are gone or did not answer are dropped
 * at once and memory is at most two points per container and node. Not thread-shared state:
 * one writer (the scrape loop), readers between stores.
 */
import type { TimedUsage, Usage } from './usage.ts';

/** One measurement of a node or container. */
export interface MetricsPoint {
  /** When the node or container started (ms since the epoch; 0 unknown): its cumulative CPU was 0 then. */
  startTimeMs: number;
  /** When the point was measured (ms since the epoch). */
  timestampMs: number;
  /** Cumulative CPU time since startTime, in core-nanoseconds. */
  cumulativeCpu: number;
  /** Working set, in bytes. */
  memoryBytes: number;
}

/** Points of one scrape: by node name, and by pod (`namespace/name`) then container name. */
export interface MetricsBatch {
  nodes: Map<string, MetricsPoint>;
  pods: Map<string, Map<string, MetricsPoint>>;
}

/** Usage computed elsewhere (simulated nodes), stored as it is. */
export interface UsageBatch {
  nodes: Map<string, NodeSample>;
  pods: Map<string, PodSample>;
}

export interface NodeSample extends TimedUsage {
  usage: Usage;
}

export interface PodSample extends TimedUsage {
  containers: { name: string; usage: Usage }[];
}

/** metrics-server's freshContainerMinMetricsResolution. */
export const freshContainerMinMs = 10_000;

/** An empty batch. */
export function emptyBatch(): MetricsBatch {
  return { nodes: new Map(), pods: new Map() };
}

/** Usage between two points; an error message when the counters went backwards. */
export function resourceUsage(last: MetricsPoint, prev: MetricsPoint): { usage: Usage; time: TimedUsage } | string {
  if (last.startTimeMs < prev.startTimeMs) return 'unexpected decrease in startTime of node/container';
  if (last.cumulativeCpu < prev.cumulativeCpu) return 'unexpected decrease in cumulative CPU usage value';
  const windowMs = last.timestampMs - prev.timestampMs;
  if (windowMs <= 0) return 'no time between the points';
  const cpuNanoCores = Math.floor((last.cumulativeCpu - prev.cumulativeCpu) / (windowMs / 1000));
  return { usage: { cpuNanoCores, memoryBytes: last.memoryBytes }, time: { timestampMs: last.timestampMs, windowMs } };
}

export class MetricsStorage {
  readonly #resolutionMs: number;
  #lastNodes = new Map<string, MetricsPoint>();
  #prevNodes = new Map<string, MetricsPoint>();
  #lastPods = new Map<string, Map<string, MetricsPoint>>();
  #prevPods = new Map<string, Map<string, MetricsPoint>>();
  #nodes = new Map<string, NodeSample>();
  #pods = new Map<string, PodSample>();
  #log: (msg: string) => void;

  constructor(opts: { resolutionMs: number; log?: (msg: string) => void }) {
    this.#resolutionMs = opts.resolutionMs;
    this.#log = opts.log ?? (() => {});
  }

  /** The node's usage, when two points (or a simulated usage) are known. */
  node(name: string): NodeSample | undefined {
    return this.#nodes.get(name);
  }

  /** The pod's usage, when every container has two points (or a simulated usage is known). */
  pod(namespace: string, name: string): PodSample | undefined {
    return this.#pods.get(`${namespace}/${name}`);
  }

  /** Nodes and pods with usage (metrics-server's pointsStored). */
  get size(): { nodes: number; pods: number } {
    return { nodes: this.#nodes.size, pods: this.#pods.size };
  }

  /** Takes one scrape's points (and simulated usage), replacing what the previous one stored. */
  store(batch: MetricsBatch, simulated?: UsageBatch): void {
    this.#storeNodes(batch.nodes);
    this.#storePods(batch.pods);
    const nodes = new Map<string, NodeSample>();
    for (const [name, last] of this.#lastNodes) {
      const prev = this.#prevNodes.get(name);
      if (!prev) continue;
      const u = resourceUsage(last, prev);
      if (typeof u === 'string') {
        this.#log(`skipping node ${name} usage: ${u}`);
        continue;
      }
      nodes.set(name, { ...u.time, usage: u.usage });
    }
    const pods = new Map<string, PodSample>();
    for (const [key, lastPod] of this.#lastPods) {
      const prevPod = this.#prevPods.get(key);
      if (!prevPod) continue;
      const containers: PodSample['containers'] = [];
      let earliest: TimedUsage | undefined;
      let complete = true;
      for (const [name, last] of lastPod) {
        const prev = prevPod.get(name);
        if (!prev) {
          complete = false;
          break;
        }
        const u = resourceUsage(last, prev);
        if (typeof u === 'string') {
          this.#log(`skipping container ${name} of pod ${key}: ${u}`);
          continue;
        }
        containers.push({ name, usage: u.usage });
        if (!earliest || earliest.timestampMs > u.time.timestampMs) earliest = u.time;
      }
      if (complete) pods.set(key, { timestampMs: earliest?.timestampMs ?? 0, windowMs: earliest?.windowMs ?? 0, containers });
    }
    for (const [name, s] of simulated?.nodes ?? []) nodes.set(name, s);
    for (const [key, s] of simulated?.pods ?? []) pods.set(key, s);
    this.#nodes = nodes;
    this.#pods = pods;
  }

  #storeNodes(points: Map<string, MetricsPoint>): void {
    const last = new Map<string, MetricsPoint>();
    const prev = new Map<string, MetricsPoint>();
    for (const [name, point] of points) {
      last.set(name, point);
      const stored = this.#lastNodes.get(name);
      if (!stored) continue;
      if (point.timestampMs > stored.timestampMs) prev.set(name, stored);
      else {
        const p = this.#prevNodes.get(name);
        if (p && p.timestampMs < point.timestampMs) prev.set(name, p);
      }
    }
    this.#lastNodes = last;
    this.#prevNodes = prev;
  }

  #storePods(points: Map<string, Map<string, MetricsPoint>>): void {
    const last = new Map<string, Map<string, MetricsPoint>>();
    const prev = new Map<string, Map<string, MetricsPoint>>();
    for (const [key, containers] of points) {
      const newLast = new Map<string, MetricsPoint>();
      const newPrev = new Map<string, MetricsPoint>();
      const storedLast = this.#lastPods.get(key);
      const storedPrev = this.#prevPods.get(key);
      for (const [name, point] of containers) {
        newLast.set(name, point);
        const age = point.timestampMs - point.startTimeMs;
        if (point.startTimeMs > 0 && age > 0 && age < this.#resolutionMs && age >= freshContainerMinMs) {
          newPrev.set(name, { ...point, timestampMs: point.startTimeMs, cumulativeCpu: 0 });
          continue;
        }
        const stored = storedLast?.get(name);
        // A start time after the stored point: the container restarted; its counters start over.
        if (!stored || !(point.startTimeMs < stored.timestampMs)) continue;
        if (point.timestampMs > stored.timestampMs) newPrev.set(name, stored);
        else {
          const p = storedPrev?.get(name);
          if (p && p.timestampMs < point.timestampMs) newPrev.set(name, p);
        }
      }
      last.set(key, newLast);
      if (newPrev.size) prev.set(key, newPrev);
    }
    this.#lastPods = last;
    this.#prevPods = prev;
  }
}
