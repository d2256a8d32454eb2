/**
 * The metrics.k8s.io/v1beta1 API as metrics-server's pkg/api serves it: `nodes` (NodeMetrics,
 * cluster-scoped) and `pods` (PodMetrics, namespaced), verbs get and list, no singular name;
 * the API server answers them through ProvidedResource (src/apiserver/metricsapi.ts).
 *
 * - list: the nodes (pods) the informers hold, filtered by the label selector and the field
 *   selector (metadata.name; metadata.namespace for pods; any other field is a 400 `field label
 *   not supported: F`), those with usage, sorted by name (pods by namespace, then name).
 *   Pods are those in phase Running (metrics-server watches `status.phase=Running` only).
 * - get: an unknown node is `node "x" not found` and a pod that is not (Running) in the cache
 *   `pods "x" not found` — the listers' NotFound, passed on as metrics-server does — and one
 *   without usage yet `nodemetrics.metrics.k8s.io "x" not found` /
 *   `podmetrics.metrics.k8s.io "ns/x" not found`.
 * - objects: metadata name (namespace), creationTimestamp (now) and the node's (pod's) labels;
 *   timestamp, window, usage (containers[].usage) from the storage.
 * - Table: Name, cpu, memory (pods: summed over containers), Window — metrics-server's columns.
 *
 * Reads only the informers' caches and the storage: no request reaches the API server.
 */
import type { Node, Pod } from '../api/index.ts';
import type { ResourceDef, TableDef } from '../api/resource.ts';
import type { KubeObject } from '../api/types.ts';
import { badRequest, notFound } from '../api/errors.ts';
import { parseFieldSelector, parseLabelSelector } from '../api/selectors.ts';
import type { MetricsStorage, PodSample } from './storage.ts';
import type { NodeMetrics, PodMetrics } from './types.ts';
import { nodeMetricsSchema, podMetricsSchema, type KindSchema } from './openapi.ts';
import { addUsage, bytesOf, metaTime, nanoCoresOf, usageList, windowText, cpuQuantity, memoryQuantity, type Usage } from './usage.ts';

export const metricsGroup = 'metrics.k8s.io';
export const metricsVersion = 'v1beta1';

function metricsTable(usageOf: (obj: KubeObject) => Usage): TableDef {
  return {
    columns: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name of the resource', priority: 0 },
      { name: 'cpu', type: 'string', format: 'quantity', description: '', priority: 0 },
      { name: 'memory', type: 'string', format: 'quantity', description: '', priority: 0 },
      { name: 'Window', type: 'string', format: 'duration', description: '', priority: 0 },
    ],
    row: (obj) => {
      const u = usageOf(obj);
      return [obj.metadata.name ?? '', cpuQuantity(u.cpuNanoCores), memoryQuantity(u.memoryBytes), String(obj['window'] ?? '')];
    },
  };
}

const usageFromList = (l: Record<string, string> | undefined): Usage => ({ cpuNanoCores: nanoCoresOf(l?.['cpu'] ?? '0') ?? 0, memoryBytes: bytesOf(l?.['memory'] ?? '0') ?? 0 });

export const nodeMetricsDef: ResourceDef = {
  group: metricsGroup,
  version: metricsVersion,
  kind: 'NodeMetrics',
  plural: 'nodes',
  singular: '',
  namespaced: false,
  verbs: ['get', 'list'],
  table: metricsTable((o) => usageFromList((o as unknown as NodeMetrics).usage)),
};

export const podMetricsDef: ResourceDef = {
  group: metricsGroup,
  version: metricsVersion,
  kind: 'PodMetrics',
  plural: 'pods',
  singular: '',
  namespaced: true,
  verbs: ['get', 'list'],
  table: metricsTable((o) => (o as unknown as PodMetrics).containers.reduce<Usage>((sum, c) => addUsage(sum, usageFromList(c.usage)), { cpuNanoCores: 0, memoryBytes: 0 })),
};

/** Both declarations, nodes first (metrics-server's order). */
export const metricsResources: readonly ResourceDef[] = [nodeMetricsDef, podMetricsDef];

/** What the API reads: the informers' caches and the storage. */
export interface MetricsSources {
  storage: MetricsStorage;
  node(name: string): Node | undefined;
  nodes(): readonly Node[];
  pod(namespace: string, name: string): Pod | undefined;
  /** Pods of a namespace ('' all). */
  pods(namespace: string): readonly Pod[];
  /** ms since the epoch (creationTimestamp of the answers). */
  now(): number;
}

/** The answer of a ProvidedResource (src/apiserver/metricsapi.ts), structurally. */
export interface MetricsResource {
  readonly def: ResourceDef;
  readonly openapi: KindSchema;
  get(namespace: string, name: string): KubeObject;
  list(namespace: string, selectors: { labelSelector?: string; fieldSelector?: string }): KubeObject[];
}

type Meta = { name?: string; namespace?: string; labels?: Record<string, string> };

/** A predicate from the selectors, as metrics-server filters its listers' objects; throws BadRequest. */
function selectorFilter(selectors: { labelSelector?: string; fieldSelector?: string }, namespaced: boolean): (m: Meta) => boolean {
  const ls = selectors.labelSelector ? parseLabelSelector(selectors.labelSelector) : null;
  const fs = selectors.fieldSelector ? parseFieldSelector(selectors.fieldSelector) : null;
  for (const f of fs?.fields() ?? []) {
    if (f !== 'metadata.name' && !(namespaced && f === 'metadata.namespace')) throw badRequest(`field label not supported: ${f}`);
  }
  const labels = ls && !ls.empty ? ls : null;
  const fields = fs && !fs.empty ? fs : null;
  return (m) => {
    if (labels && !labels.matches(m.labels)) return false;
    if (fields && !fields.matches((f) => (f === 'metadata.name' ? (m.name ?? '') : f === 'metadata.namespace' ? (m.namespace ?? '') : undefined))) return false;
    return true;
  };
}

function objectMeta(m: Meta, nowMs: number, namespaced: boolean): Record<string, unknown> {
  const meta: Record<string, unknown> = { name: m.name };
  if (namespaced) meta['namespace'] = m.namespace;
  meta['creationTimestamp'] = metaTime(nowMs);
  if (m.labels && Object.keys(m.labels).length) meta['labels'] = m.labels;
  return meta;
}

function nodeObject(node: Node, s: NonNullable<ReturnType<MetricsStorage['node']>>, nowMs: number): KubeObject {
  return { metadata: objectMeta(node.metadata, nowMs, false), timestamp: metaTime(s.timestampMs), window: windowText(s.windowMs), usage: usageList(s.usage) } as KubeObject;
}

function podObject(pod: Pod, s: PodSample, nowMs: number): KubeObject {
  return {
    metadata: objectMeta(pod.metadata, nowMs, true),
    timestamp: metaTime(s.timestampMs),
    window: windowText(s.windowMs),
    containers: s.containers.map((c) => ({ name: c.name, usage: usageList(c.usage) })),
  } as KubeObject;
}

const byName = (a: { metadata: { name?: string } }, b: { metadata: { name?: string } }) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : (a.metadata.name ?? '') > (b.metadata.name ?? '') ? 1 : 0);

/** NodeMetrics over the sources. */
export function nodeMetricsResource(src: MetricsSources): MetricsResource {
  return {
    def: nodeMetricsDef,
    openapi: nodeMetricsSchema,
    get(_namespace, name) {
      const node = src.node(name);
      if (!node) throw notFound({ group: '', resource: 'node' }, name);
      const s = src.storage.node(name);
      if (!s) throw notFound({ group: metricsGroup, resource: 'nodemetrics' }, name);
      return nodeObject(node, s, src.now());
    },
    list(_namespace, selectors) {
      const match = selectorFilter(selectors, false);
      const now = src.now();
      const out: KubeObject[] = [];
      for (const node of [...src.nodes()].sort(byName)) {
        if (!match(node.metadata)) continue;
        const s = src.storage.node(node.metadata.name!);
        if (s) out.push(nodeObject(node, s, now));
      }
      return out;
    },
  };
}

const isRunning = (p: Pod | undefined): p is Pod => p?.status?.phase === 'Running';

/** PodMetrics over the sources. */
export function podMetricsResource(src: MetricsSources): MetricsResource {
  return {
    def: podMetricsDef,
    openapi: podMetricsSchema,
    get(namespace, name) {
      const pod = src.pod(namespace, name);
      if (!isRunning(pod)) throw notFound({ group: '', resource: 'pods' }, name);
      const s = src.storage.pod(namespace, name);
      if (!s) throw notFound({ group: metricsGroup, resource: 'podmetrics' }, `${namespace}/${name}`);
      return podObject(pod, s, src.now());
    },
    list(namespace, selectors) {
      const match = selectorFilter(selectors, true);
      const now = src.now();
      const pods = src.pods(namespace).filter((p) => isRunning(p) && match(p.metadata));
      pods.sort((a, b) => (a.metadata.namespace === b.metadata.namespace ? byName(a, b) : (a.metadata.namespace ?? '') < (b.metadata.namespace ?? '') ? -1 : 1));
      const out: KubeObject[] = [];
      for (const pod of pods) {
        const s = src.storage.pod(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
        if (s) out.push(podObject(pod, s, now));
      }
      return out;
    },
  };
}
