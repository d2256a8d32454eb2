/**
 * The metrics.k8s.io/v1beta1 types (k8s.io/metrics pkg/apis/metrics/v1beta1), as plain data:
 * NodeMetrics and PodMetrics with their lists. Field names and JSON shape as upstream:
 * `timestamp` is a metav1.Time (RFC 3339, seconds), `window` a metav1.Duration (Go's
 * time.Duration text, e.g. "15.012s"), usages are resource lists of canonical quantities
 * (`cpu`, `memory`).
 *
 * These kinds have no schema file in src/api/schema (upstream's metrics-server serves them as an
 * aggregated API, not from the kube-apiserver's registry), so their types are declared here and
 * added to the generated `ObjectKinds` table by declaration merging: the client's typed layer
 * (`resources.nodeMetrics` → `NodeMetrics`) finds them like any generated kind. Types only.
 */
import type { ObjectMeta } from '../api/generated/types.ts';

/** A resource list: resource name → canonical quantity. */
export type ResourceUsage = Record<string, string>;

/** Usage of one node over `window` ending at `timestamp`. */
export type NodeMetrics = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  timestamp: string;
  window: string;
  usage: ResourceUsage;
};

export type ContainerMetrics = {
  name: string;
  usage: ResourceUsage;
};

/** Usage of a pod's containers over `window` ending at `timestamp`. */
export type PodMetrics = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  timestamp: string;
  window: string;
  containers: ContainerMetrics[];
};

export type NodeMetricsList = { kind?: string; apiVersion?: string; metadata: Record<string, unknown>; items: NodeMetrics[] };
export type PodMetricsList = { kind?: string; apiVersion?: string; metadata: Record<string, unknown>; items: PodMetrics[] };

declare module '../api/generated/types.ts' {
  interface ObjectKinds {
    'metrics.k8s.io/v1beta1/NodeMetrics': NodeMetrics;
    'metrics.k8s.io/v1beta1/PodMetrics': PodMetrics;
  }
}
