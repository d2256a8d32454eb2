/**
 * One scrape of every node, as metrics-server's pkg/scraper: nodes with a kubelet are asked for
 * `/metrics/resource` (./kubelet.ts, decoded by ./decode.ts), each within the per-node timeout,
 * at most scrapeConcurrency at a time; simulated nodes are computed from their pods
 * (./simulated.ts) without a request. A node that fails contributes nothing to this scrape (its
 * stored points are then dropped, as upstream drops them); a node or pod point that two nodes
 * both report is kept from the first. Failures are logged when a node starts failing or its
 * error changes, not at every scrape.
 */
import type { Node, Pod } from '../api/index.ts';
import { decodeResourceMetrics } from './decode.ts';
import type { ResourceMetricsGetter } from './kubelet.ts';
import { isSimulated, simulatedNode } from './simulated.ts';
import { emptyBatch, type MetricsBatch, type UsageBatch } from './storage.ts';

/** Nodes scraped at once (upstream starts one goroutine per node; this bounds the sockets and buffers). */
export const scrapeConcurrency = 32;

/** What a scrape reads from the informers. */
export interface ScrapeSources {
  nodes(): readonly Node[];
  /** Pods bound to a node (the pod informer's node-name index). */
  podsOnNode(name: string): readonly Pod[];
}

export interface ScraperOptions {
  /** How to ask a node agent; absent: only simulated nodes have usage. */
  resourceMetrics?: ResourceMetricsGetter;
  /** Per-node timeout (ms). */
  timeoutMs: number;
  concurrency?: number;
  log: (msg: string) => void;
}

export interface ScrapeResult {
  batch: MetricsBatch;
  simulated: UsageBatch;
}

export class Scraper {
  #opts: ScraperOptions;
  /** Each failing node's last logged error (only nodes of the last scrape). */
  #failing = new Map<string, string>();

  constructor(opts: ScraperOptions) {
    this.#opts = opts;
  }

  /** Scrapes every node; `nowMs` and `windowMs` stamp simulated usage. Never rejects for a node's failure. */
  async scrape(src: ScrapeSources, nowMs: number, windowMs: number, signal: AbortSignal): Promise<ScrapeResult> {
    const batch = emptyBatch();
    const simulated: UsageBatch = { nodes: new Map(), pods: new Map() };
    const real: Node[] = [];
    for (const node of src.nodes()) {
      if (!isSimulated(node)) {
        real.push(node);
        continue;
      }
      const s = simulatedNode(node, src.podsOnNode(node.metadata.name!), nowMs, windowMs);
      simulated.nodes.set(node.metadata.name!, s.node);
      for (const [k, p] of s.pods) if (!simulated.pods.has(k)) simulated.pods.set(k, p);
    }
    const get = this.#opts.resourceMetrics;
    const failing = new Map<string, string>();
    if (get) {
      await forEachLimit(real, this.#opts.concurrency ?? scrapeConcurrency, async (node) => {
        if (signal.aborted) return;
        const name = node.metadata.name!;
        try {
          const { text, requestTimeMs } = await get(node, AbortSignal.any([signal, AbortSignal.timeout(this.#opts.timeoutMs)]));
          const one = decodeResourceMetrics(text, name, requestTimeMs);
          for (const [n, p] of one.nodes) if (!batch.nodes.has(n)) batch.nodes.set(n, p);
          for (const [k, p] of one.pods) if (!batch.pods.has(k)) batch.pods.set(k, p);
        } catch (err) {
          const e = err as Error & { cause?: { name?: string } };
          const timedOut = e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError';
          const why = timedOut ? `timeout to access kubelet (${this.#opts.timeoutMs} ms)` : e.message;
          failing.set(name, why);
          if (this.#failing.get(name) !== why && !signal.aborted) this.#opts.log(`metrics: failed to scrape node ${name}: ${why}`);
        }
      });
    }
    const scraped = new Set(real.map((n) => n.metadata.name!));
    for (const name of this.#failing.keys()) if (scraped.has(name) && !failing.has(name) && !signal.aborted) this.#opts.log(`metrics: node ${name} scraped again`);
    this.#failing = failing;
    return { batch, simulated };
  }
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
    }),
  );
}
