/**
 * Descriptors of the built-in resources components talk to, by their plural name — the thin
 * typed layer over the generic client: `clientset(client).pods.get(name, {namespace})` is a `Pod`
 * (./typed.ts looks the type up from the descriptor's literal group/version/kind), as is
 * `client.get<Pod>(resources.pods, name, {namespace})`.
 * These are wire facts (group, version, plural, kind, scope); a test checks every entry against
 * the API registry (api/groups, and src/metrics/api.ts for metrics.k8s.io, which the metrics
 * server answers) so the two never drift. Other resources (CRDs) use a descriptor
 * built at run time with `descriptor(...)`.
 */
import type { ResourceDescriptor } from './rest.ts';

/**
 * A descriptor whose group, version and kind are literal types, so that its object type can be
 * looked up at compile time (`ObjectFor` in ./typed.ts: `resources.pods` → `Pod`).
 */
export interface ResourceOf<G extends string, V extends string, K extends string> extends ResourceDescriptor {
  readonly group: G;
  readonly version: V;
  readonly kind: K;
}

function r<G extends string, V extends string, K extends string>(group: G, version: V, resource: string, kind: K, namespaced: boolean): ResourceOf<G, V, K> {
  return Object.freeze({ group, version, resource, kind, namespaced });
}

export const resources = {
  // core/v1
  namespaces: r('', 'v1', 'namespaces', 'Namespace', false),
  nodes: r('', 'v1', 'nodes', 'Node', false),
  pods: r('', 'v1', 'pods', 'Pod', true),
  podTemplates: r('', 'v1', 'podtemplates', 'PodTemplate', true),
  services: r('', 'v1', 'services', 'Service', true),
  endpoints: r('', 'v1', 'endpoints', 'Endpoints', true),
  events: r('', 'v1', 'events', 'Event', true),
  configMaps: r('', 'v1', 'configmaps', 'ConfigMap', true),
  secrets: r('', 'v1', 'secrets', 'Secret', true),
  serviceAccounts: r('', 'v1', 'serviceaccounts', 'ServiceAccount', true),
  replicationControllers: r('', 'v1', 'replicationcontrollers', 'ReplicationController', true),
  persistentVolumes: r('', 'v1', 'persistentvolumes', 'PersistentVolume', false),
  persistentVolumeClaims: r('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true),
  resourceQuotas: r('', 'v1', 'resourcequotas', 'ResourceQuota', true),
  limitRanges: r('', 'v1', 'limitranges', 'LimitRange', true),
  // apps/v1
  deployments: r('apps', 'v1', 'deployments', 'Deployment', true),
  replicaSets: r('apps', 'v1', 'replicasets', 'ReplicaSet', true),
  statefulSets: r('apps', 'v1', 'statefulsets', 'StatefulSet', true),
  daemonSets: r('apps', 'v1', 'daemonsets', 'DaemonSet', true),
  controllerRevisions: r('apps', 'v1', 'controllerrevisions', 'ControllerRevision', true),
  // batch/v1
  jobs: r('batch', 'v1', 'jobs', 'Job', true),
  cronJobs: r('batch', 'v1', 'cronjobs', 'CronJob', true),
  // others
  leases: r('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  endpointSlices: r('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  eventsV1: r('events.k8s.io', 'v1', 'events', 'Event', true),
  horizontalPodAutoscalers: r('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true),
  podDisruptionBudgets: r('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true),
  priorityClasses: r('scheduling.k8s.io', 'v1', 'priorityclasses', 'PriorityClass', false),
  runtimeClasses: r('node.k8s.io', 'v1', 'runtimeclasses', 'RuntimeClass', false),
  storageClasses: r('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false),
  csiNodes: r('storage.k8s.io', 'v1', 'csinodes', 'CSINode', false),
  csiDrivers: r('storage.k8s.io', 'v1', 'csidrivers', 'CSIDriver', false),
  volumeAttachments: r('storage.k8s.io', 'v1', 'volumeattachments', 'VolumeAttachment', false),
  ingresses: r('networking.k8s.io', 'v1', 'ingresses', 'Ingress', true),
  ingressClasses: r('networking.k8s.io', 'v1', 'ingressclasses', 'IngressClass', false),
  networkPolicies: r('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true),
  certificateSigningRequests: r('certificates.k8s.io', 'v1', 'certificatesigningrequests', 'CertificateSigningRequest', false),
  customResourceDefinitions: r('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false),
  roles: r('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  roleBindings: r('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  clusterRoles: r('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  clusterRoleBindings: r('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  // metrics.k8s.io/v1beta1 (served by the metrics server inside `bosun server`; types in src/metrics/types.ts)
  nodeMetrics: r('metrics.k8s.io', 'v1beta1', 'nodes', 'NodeMetrics', false),
  podMetrics: r('metrics.k8s.io', 'v1beta1', 'pods', 'PodMetrics', true),
} as const satisfies Record<string, ResourceDescriptor>;

export type BuiltinResource = keyof typeof resources;

/** A descriptor for a resource not in the table (e.g. a custom resource). */
export function descriptor(d: ResourceDescriptor): ResourceDescriptor {
  return r(d.group, d.version, d.resource, d.kind, d.namespaced);
}
