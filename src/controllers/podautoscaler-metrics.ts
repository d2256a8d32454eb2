/**
 * Where the HorizontalPodAutoscaler controller reads metrics, as upstream's
 * pkg/controller/podautoscaler/metrics REST client: pod CPU and memory from the resource metrics
 * API (`metrics.k8s.io/v1beta1` PodMetrics, the metrics-server contract: items[].containers[].usage,
 * timestamp, window), per-pod and per-object metrics from the custom metrics API
 * (`custom.metrics.k8s.io`, found through discovery as upstream's client finds it), and external
 * metrics from `external.metrics.k8s.io/v1beta1`. Values are milli-units (upstream MilliValue).
 *
 * Errors carry upstream's wording, since they reach HPA conditions and events: "unable to fetch
 * metrics from resource metrics API: …", "no metrics returned from resource metrics API", "no
 * custom metrics API (custom.metrics.k8s.io) registered", and a 404 without detail reads as
 * client-go prints one: "the server could not find the requested resource (get X.group)".
 *
 * The client holds no state per HPA; each call is one request (discovery answers are cached by
 * `Discovery` for a short time).
 */
import { parseDurationMs } from '../api/duration.ts';
import type { CrossVersionObjectReference } from '../api/index.ts';
import { StatusError, isNotFound, notFoundMessage } from '../api/errors.ts';
import { labelSelectorFromObject, type LabelSelector } from '../api/selectors.ts';
import { milliValue } from '../api/quantity.ts';
import { statusErrorFromResponse, type RestClient } from '../client/index.ts';
import type { Discovery } from './discovery.ts';

/** One pod's sample: value in milli-units, and when and over which window it was measured (ms). */
export interface PodMetric {
  timestampMs: number;
  windowMs: number;
  value: number;
}

/** Samples by pod name. */
export type PodMetricsInfo = Map<string, PodMetric>;

/** What the controller needs from the metrics APIs (upstream's MetricsClient). */
export interface MetricsClient {
  /** Per-pod usage of `resource` (summed over containers, or of `container` alone, '' for all) for pods matching `selector`. */
  getResourceMetric(namespace: string, q: { resource: string; selector: string; container: string }): Promise<{ metrics: PodMetricsInfo; timestampMs: number }>;
  /** A custom per-pod metric for pods matching `selector`. */
  getRawMetric(namespace: string, q: { metricName: string; selector: string; metricSelector?: LabelSelector }): Promise<{ metrics: PodMetricsInfo; timestampMs: number }>;
  /** A custom metric describing one object. */
  getObjectMetric(namespace: string, q: { metricName: string; ref: CrossVersionObjectReference; metricSelector?: LabelSelector }): Promise<{ value: number; timestampMs: number }>;
  /** The values of an external metric. */
  getExternalMetric(namespace: string, q: { metricName: string; selector?: LabelSelector }): Promise<{ values: number[]; timestampMs: number }>;
}

/** The window a custom metric without windowSeconds is taken to cover (upstream's metricServerDefaultMetricWindow). */
export const defaultCustomMetricWindowMs = 60_000;

const resourceMetricsPath = '/apis/metrics.k8s.io/v1beta1';
const customMetricsGroup = 'custom.metrics.k8s.io';
/** The custom metrics versions the client speaks, most preferred first. */
const customMetricsVersions = ['v1beta2', 'v1beta1'];
const externalMetricsPath = '/apis/external.metrics.k8s.io/v1beta1';
/** How long the custom metrics API's discovery answer is kept (as `Discovery`'s). */
export const discoveryTtlMs = 10_000;

interface PodMetricsItem {
  metadata?: { name?: string; namespace?: string };
  timestamp?: string;
  window?: string;
  containers?: { name?: string; usage?: Record<string, unknown> }[];
}

interface MetricValueItem {
  describedObject?: { name?: string };
  timestamp?: string;
  windowSeconds?: number;
  value?: unknown;
}

/** The metrics client over the API server (metrics APIs served there, aggregated or not). */
export class RestMetricsClient implements MetricsClient {
  #client: RestClient;
  #discovery: Discovery;
  #custom: { at: number; version: Promise<string> } | undefined;

  constructor(client: RestClient, discovery: Discovery) {
    this.#client = client;
    this.#discovery = discovery;
  }

  async getResourceMetric(namespace: string, { resource, selector, container }: { resource: string; selector: string; container: string }): Promise<{ metrics: PodMetricsInfo; timestampMs: number }> {
    let items: PodMetricsItem[];
    try {
      items = await this.#list<PodMetricsItem>(`${resourceMetricsPath}/namespaces/${encodeURIComponent(namespace)}/pods`, { labelSelector: selector || undefined }, 'pods.metrics.k8s.io');
    } catch (err) {
      throw new Error(`unable to fetch metrics from resource metrics API: ${message(err)}`);
    }
    if (!items.length) throw new Error('no metrics returned from resource metrics API');
    let metrics: PodMetricsInfo;
    if (container) {
      try {
        metrics = containerMetrics(items, resource, container);
      } catch (err) {
        throw new Error(`failed to get container metrics: ${message(err)}`);
      }
    } else metrics = podMetrics(items, resource);
    return { metrics, timestampMs: timeMs(items[0]!.timestamp) };
  }

  async getRawMetric(namespace: string, { metricName, selector, metricSelector }: { metricName: string; selector: string; metricSelector?: LabelSelector }): Promise<{ metrics: PodMetricsInfo; timestampMs: number }> {
    let items: MetricValueItem[];
    try {
      const version = await this.#customMetricsVersion();
      const path = `/apis/${customMetricsGroup}/${version}/namespaces/${encodeURIComponent(namespace)}/pods/*/${encodeURIComponent(metricName)}`;
      items = await this.#list<MetricValueItem>(path, { labelSelector: selector || undefined, metricLabelSelector: selectorString(metricSelector) }, `pods.${customMetricsGroup}`);
    } catch (err) {
      throw new Error(`unable to fetch metrics from custom metrics API: ${message(err)}`);
    }
    if (!items.length) throw new Error('no metrics returned from custom metrics API');
    const metrics: PodMetricsInfo = new Map();
    for (const m of items) {
      const name = m.describedObject?.name;
      if (!name) continue;
      const windowMs = typeof m.windowSeconds === 'number' ? m.windowSeconds * 1000 : defaultCustomMetricWindowMs;
      metrics.set(name, { timestampMs: timeMs(m.timestamp), windowMs, value: milliValue(m.value) });
    }
    return { metrics, timestampMs: timeMs(items[0]!.timestamp) };
  }

  async getObjectMetric(namespace: string, { metricName, ref, metricSelector }: { metricName: string; ref: CrossVersionObjectReference; metricSelector?: LabelSelector }): Promise<{ value: number; timestampMs: number }> {
    let items: MetricValueItem[];
    try {
      const version = await this.#customMetricsVersion();
      const group = groupOf(ref.apiVersion);
      let path: string;
      if (ref.kind === 'Namespace' && group === '') {
        path = `/apis/${customMetricsGroup}/${version}/namespaces/${encodeURIComponent(namespace)}/metrics/${encodeURIComponent(metricName)}`;
      } else {
        const found = (await this.#discovery.resources()).find((r) => r.group === group && r.kind === ref.kind);
        if (!found) throw new Error(`no matches for kind ${JSON.stringify(ref.kind)} in group ${JSON.stringify(group)}`);
        const gr = found.group ? `${found.resource}.${found.group}` : found.resource;
        path = `/apis/${customMetricsGroup}/${version}/namespaces/${encodeURIComponent(namespace)}/${gr}/${encodeURIComponent(ref.name)}/${encodeURIComponent(metricName)}`;
      }
      items = await this.#list<MetricValueItem>(path, { metricLabelSelector: selectorString(metricSelector) }, `${ref.kind.toLowerCase()}.${customMetricsGroup}`);
      if (items.length !== 1) throw new Error(`the custom metrics API server returned ${items.length} results when we asked for exactly one`);
    } catch (err) {
      throw new Error(`unable to fetch metrics from custom metrics API: ${message(err)}`);
    }
    return { value: milliValue(items[0]!.value), timestampMs: timeMs(items[0]!.timestamp) };
  }

  async getExternalMetric(namespace: string, { metricName, selector }: { metricName: string; selector?: LabelSelector }): Promise<{ values: number[]; timestampMs: number }> {
    let items: MetricValueItem[];
    try {
      const path = `${externalMetricsPath}/namespaces/${encodeURIComponent(namespace)}/${encodeURIComponent(metricName)}`;
      items = await this.#list<MetricValueItem>(path, { labelSelector: selectorString(selector) }, `${metricName}.external.metrics.k8s.io`);
    } catch (err) {
      throw new Error(`unable to fetch metrics from external metrics API: ${message(err)}`);
    }
    if (!items.length) throw new Error('no metrics returned from external metrics API');
    return { values: items.map((m) => milliValue(m.value)), timestampMs: timeMs(items[0]!.timestamp) };
  }

  /**
   * The custom metrics API version to use, from discovery, or upstream's error when the group is
   * not served. The answer (either way) is kept for `discoveryTtlMs`: HPAs with custom metrics ask
   * at every sync.
   */
  async #customMetricsVersion(): Promise<string> {
    const now = Date.now();
    if (!this.#custom || now - this.#custom.at >= discoveryTtlMs) this.#custom = { at: now, version: this.#discoverCustomMetrics() };
    return this.#custom.version;
  }

  async #discoverCustomMetrics(): Promise<string> {
    const res = await this.#client.request({ method: 'GET', path: '/apis', accept: 'application/json' });
    if (res.status !== 200) throw statusErrorFromResponse(res.status, res.body);
    const groups = (JSON.parse(Buffer.from(res.body).toString('utf8')) as { groups?: { name: string; preferredVersion?: { version: string }; versions?: { version: string }[] }[] }).groups ?? [];
    const g = groups.find((x) => x.name === customMetricsGroup);
    if (!g) throw new Error(`no custom metrics API (${customMetricsGroup}) registered`);
    const served = [g.preferredVersion?.version, ...(g.versions ?? []).map((v) => v.version)];
    const version = served.find((v) => v && customMetricsVersions.includes(v));
    if (!version) throw new Error(`no known available metric versions found`);
    return version;
  }

  /** GETs a list; a failure is the server's StatusError, a bare 404 worded as client-go words it. */
  async #list<T>(path: string, query: Record<string, string | undefined>, what: string): Promise<T[]> {
    const res = await this.#client.request({ method: 'GET', path, query, accept: 'application/json' });
    if (res.status !== 200) {
      const err = statusErrorFromResponse(res.status, res.body);
      // A 404 without a Status of its own (an API group nobody serves: "404 page not found"), or
      // with only the generic message, reads as client-go's NewGenericServerResponse words it.
      const generic = err.message === notFoundMessage || err.message.startsWith('the server responded with the status code 404');
      if (isNotFound(err) && generic) throw new StatusError({ ...err.status, message: `${notFoundMessage} (get ${what})` });
      throw err;
    }
    const list = JSON.parse(Buffer.from(res.body).toString('utf8')) as { items?: T[] };
    return list.items ?? [];
  }
}

/** Per pod, the sum over its containers; a pod with a container lacking the resource (or with none) is left out, as upstream. */
export function podMetrics(items: readonly PodMetricsItem[], resource: string): PodMetricsInfo {
  const out: PodMetricsInfo = new Map();
  for (const m of items) {
    const containers = m.containers ?? [];
    let missing = containers.length === 0;
    let sum = 0;
    for (const c of containers) {
      const v = c.usage?.[resource];
      if (v === undefined) {
        missing = true;
        break;
      }
      sum += milliValue(v);
    }
    if (!missing && m.metadata?.name) out.set(m.metadata.name, { timestampMs: timeMs(m.timestamp), windowMs: windowMs(m.window), value: sum });
  }
  return out;
}

/** Per pod, one container's usage; a pod whose metrics lack the container fails the whole call, as upstream. */
export function containerMetrics(items: readonly PodMetricsItem[], resource: string, container: string): PodMetricsInfo {
  const out: PodMetricsInfo = new Map();
  for (const m of items) {
    const c = (m.containers ?? []).find((x) => x.name === container);
    if (!c) throw new Error(`container ${container} not present in metrics for pod ${m.metadata?.namespace ?? ''}/${m.metadata?.name ?? ''}`);
    const v = c.usage?.[resource];
    if (v !== undefined && m.metadata?.name) out.set(m.metadata.name, { timestampMs: timeMs(m.timestamp), windowMs: windowMs(m.window), value: milliValue(v) });
  }
  return out;
}

/**
 * A *metav1.LabelSelector as Go's %+v prints it (the generated String method), for upstream's
 * external metric messages: `&LabelSelector{MatchLabels:map[string]string{a: b,},MatchExpressions:[]LabelSelectorRequirement{},}`, or `nil`.
 */
export function goLabelSelectorString(sel: LabelSelector | undefined): string {
  if (!sel) return 'nil';
  const labels = Object.keys(sel.matchLabels ?? {})
    .sort()
    .map((k) => `${k}: ${sel.matchLabels![k]},`)
    .join('');
  const exprs = (sel.matchExpressions ?? []).map((e) => `LabelSelectorRequirement{Key:${e.key},Operator:${e.operator},Values:[${(e.values ?? []).join(' ')}],},`).join('');
  return `&LabelSelector{MatchLabels:map[string]string{${labels}},MatchExpressions:[]LabelSelectorRequirement{${exprs}},}`;
}

function selectorString(sel: LabelSelector | undefined): string | undefined {
  return sel ? labelSelectorFromObject(sel).toString() || undefined : undefined;
}

function groupOf(apiVersion: string | undefined): string {
  const v = apiVersion ?? '';
  const i = v.indexOf('/');
  return i < 0 ? '' : v.slice(0, i);
}

function timeMs(t: string | undefined): number {
  const ms = t ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

/** A metav1.Duration (Go duration text, `30s`, `1m0.5s`) in ms; 0 when it does not parse. */
export function windowMs(v: string | undefined): number {
  return (v && parseDurationMs(v)) || 0;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
