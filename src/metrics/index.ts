/**
 * Bosun's metrics server (public entry): metrics-server inside `bosun server`. Every resolution
 * (metrics-server's `--metric-resolution`, default 15 s) it scrapes each node agent's
 * `/metrics/resource` and computes simulated nodes' usage from their pods (./scraper.ts), keeps
 * the last two points per node and container (./storage.ts), and answers metrics.k8s.io/v1beta1
 * `nodes` and `pods` (./api.ts) through the API server, which serves them as `providedResources`
 * (src/apiserver/metricsapi.ts): `kubectl top` and the HorizontalPodAutoscaler read them there.
 *
 * Lifecycle: construct it before the API server (whose registry needs `resources`), then
 * `run(client, signal)` once the API server answers: it watches nodes and pods with that client
 * (informers; requests read only their caches) and scrapes until `signal` aborts. Before the
 * caches have synced and two scrapes have happened, the API answers empty lists and NotFound, as
 * metrics-server does before its storage is ready. Scrapes never overlap: a slow one delays the
 * next; each is bounded by the per-node timeout (default min(10 s, 0.9 × resolution), as
 * metrics-server requires the kubelet timeout to stay below 0.9 × resolution).
 *
 * Departures: no `--metric-resolution` floor of 10 s (tests use shorter ones, see
 * metricResolutionFromEnv); no metrics-server /metrics of its own; the pod informer holds whole
 * pods (simulated usage needs their annotations, node and containers), not metadata only.
 */
import type { Node, Pod } from '../api/index.ts';
import { IndexNamespace, IndexNodeName, InformerFactory, realClock, resources, sleepUnlessAborted, type Clock, type RestClient, type SharedInformer } from '../client/index.ts';
import { parseDurationMs } from '../api/duration.ts';
import { kubeletResourceMetrics, type KubeletCredentials, type ResourceMetricsGetter } from './kubelet.ts';
import { Scraper } from './scraper.ts';
import { MetricsStorage } from './storage.ts';
import { nodeMetricsResource, podMetricsResource, type MetricsResource, type MetricsSources } from './api.ts';

export { metricsResources, nodeMetricsDef, podMetricsDef, metricsGroup, metricsVersion, type MetricsResource } from './api.ts';
export { cpuAnnotation, memoryAnnotation, defaultContainerUsage, nodeBaseUsage } from './simulated.ts';
export type { NodeMetrics, PodMetrics, ContainerMetrics, NodeMetricsList, PodMetricsList } from './types.ts';
export type { KubeletCredentials, ResourceMetricsGetter } from './kubelet.ts';

/** metrics-server's default `--metric-resolution`. */
export const defaultResolutionMs = 15_000;
/** metrics-server's default `--kubelet-request-timeout`. */
export const defaultKubeletTimeoutMs = 10_000;
/** The environment variable that sets the resolution (a Go duration, e.g. `2s`; tests use short ones). */
export const resolutionEnv = 'BOSUN_METRIC_RESOLUTION';

export interface MetricsServerOptions {
  /** Time between scrapes (ms); default 15 s. */
  resolutionMs?: number;
  /** Per-node scrape timeout (ms); default min(10 s, 0.9 × resolution). */
  kubeletTimeoutMs?: number;
  /** The API server's kubelet-client credentials (read per scrape); absent: only simulated nodes have usage. */
  kubelet?: KubeletCredentials;
  /** Asks a node agent instead of HTTPS with `kubelet` (tests). */
  resourceMetrics?: ResourceMetricsGetter;
  clock?: Clock;
  log?: (msg: string) => void;
}

/** The resolution `BOSUN_METRIC_RESOLUTION` asks for (ms), or undefined when unset; throws when it is not a positive Go duration. */
export function metricResolutionFromEnv(env: Record<string, string | undefined>): number | undefined {
  const v = env[resolutionEnv];
  if (!v) return undefined;
  const ms = parseDurationMs(v);
  if (ms === undefined || ms <= 0) throw new Error(`${resolutionEnv}: not a positive duration: ${JSON.stringify(v)}`);
  return ms;
}

export class MetricsServer {
  /** metrics.k8s.io nodes and pods, for the API server's `providedResources`. */
  readonly resources: readonly MetricsResource[];
  readonly storage: MetricsStorage;
  readonly resolutionMs: number;
  #opts: MetricsServerOptions;
  #clock: Clock;
  #log: (msg: string) => void;
  #nodes: SharedInformer<Node> | undefined;
  #pods: SharedInformer<Pod> | undefined;

  constructor(opts: MetricsServerOptions = {}) {
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    this.#log = opts.log ?? (() => {});
    this.resolutionMs = opts.resolutionMs ?? defaultResolutionMs;
    this.storage = new MetricsStorage({ resolutionMs: this.resolutionMs, log: (m) => this.#log(`metrics: ${m}`) });
    const src: MetricsSources = {
      storage: this.storage,
      node: (name) => this.#nodes?.store.get(name),
      nodes: () => this.#nodes?.store.list() ?? [],
      pod: (ns, name) => this.#pods?.store.get(`${ns}/${name}`),
      pods: (ns) => (!this.#pods ? [] : ns ? this.#pods.store.byIndex(IndexNamespace, ns) : this.#pods.store.list()),
      now: () => this.#clock.now(),
    };
    this.resources = [nodeMetricsResource(src), podMetricsResource(src)];
  }

  /** Watches nodes and pods through `client` and scrapes every resolution until `signal` aborts. */
  async run(client: RestClient, signal: AbortSignal): Promise<void> {
    const informers = new InformerFactory(client, { clock: this.#opts.clock, log: this.#log });
    const nodes = (this.#nodes = informers.typedInformerFor(resources.nodes));
    const pods = (this.#pods = informers.typedInformerFor(resources.pods));
    informers.start(signal);
    try {
      if (!(await informers.waitForCacheSync(signal))) return;
      const resolution = this.resolutionMs;
      const scraper = new Scraper({
        resourceMetrics: this.#opts.resourceMetrics ?? (this.#opts.kubelet ? kubeletResourceMetrics(this.#opts.kubelet, signal) : undefined),
        timeoutMs: this.#opts.kubeletTimeoutMs ?? Math.min(defaultKubeletTimeoutMs, Math.floor(resolution * 0.9)),
        log: this.#log,
      });
      const sources = { nodes: () => nodes.store.list(), podsOnNode: (name: string) => pods.store.byIndex(IndexNodeName, name) };
      while (!signal.aborted) {
        const started = this.#clock.now();
        const { batch, simulated } = await scraper.scrape(sources, started, resolution, signal);
        if (signal.aborted) break;
        this.storage.store(batch, simulated);
        await sleepUnlessAborted(Math.max(0, resolution - (this.#clock.now() - started)), { signal, clock: this.#clock });
      }
    } finally {
      await informers.stopped();
    }
  }
}
