/**
 * The RBAC objects the API server creates at start, as data: upstream's bootstrap policy
 * (plugin/pkg/auth/authorizer/rbac/bootstrappolicy: policy.go, controller_policy.go,
 * namespace_policy.go), transcribed from its canonical expected output (that folder's testdata/
 * YAML files, default feature gates) rather than from the Go that builds it:
 *  - the cluster roles and bindings (cluster-admin, the aggregated admin/edit/view and the
 *    `system:aggregate-to-*` roles they gather, system:node, system:kube-scheduler, ...);
 *  - one `system:controller:<name>` ClusterRole per kube-controller-manager controller, each bound
 *    to the ServiceAccount `kube-system/<name>`;
 *  - the Roles and RoleBindings in kube-system and kube-public (leader locking, the extension
 *    API server authentication reader, the bootstrap signer, ...).
 * Rules keep upstream's order and its sorted verbs, groups and resources. Every object carries
 * upstream's label `kubernetes.io/bootstrapping: rbac-defaults` and annotation
 * `rbac.authorization.kubernetes.io/autoupdate: "true"` (reconcile.ts leaves objects whose
 * annotation a user set to "false" alone).
 *
 * The snapshot is of upstream's testdata around v1.34 (dynamic resource allocation enabled by
 * default, so the scheduler, node and DRA controller roles include resource.k8s.io). Roles for
 * resources Bosun does not serve are kept: they are harmless, and keeping them makes the policy
 * match what `kubectl get clusterroles` shows on an upstream cluster.
 *
 * `bosunPolicy()` holds Bosun's own additions (not upstream's), in the same shape, and
 * `retiredBosunPolicy()` what older Bosun versions added and this one removes.
 * Every function returns fresh objects on every call: callers may mutate what they get.
 */
import type { ClusterRole, ClusterRoleBinding, ObjectMeta, PolicyRule, Role, RoleBinding, Subject } from '../../api/index.ts';

export const bootstrappingLabel = 'kubernetes.io/bootstrapping';
export const autoUpdateAnnotation = 'rbac.authorization.kubernetes.io/autoupdate';
const rbacGroup = 'rbac.authorization.k8s.io';
const rbacApiVersion = `${rbacGroup}/v1`;

/** The four lists of a policy, in the order they are reconciled. */
export interface Policy {
  clusterRoles: ClusterRole[];
  clusterRoleBindings: ClusterRoleBinding[];
  roles: Role[];
  roleBindings: RoleBinding[];
}

// ---- builders ----------------------------------------------------------------------------------

// Verb sets as upstream names them, sorted as its output lists them.
const read = ['get', 'list', 'watch'];
const write = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const readWrite = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const readUpdate = ['get', 'list', 'patch', 'update', 'watch'];
const listWatch = ['list', 'watch'];

const core = '';
const apps = 'apps';
const authn = 'authentication.k8s.io';
const authz = 'authorization.k8s.io';
const batch = 'batch';
const certs = 'certificates.k8s.io';
const coordination = 'coordination.k8s.io';
const discovery = 'discovery.k8s.io';
const extensions = 'extensions';
const networking = 'networking.k8s.io';
const policy = 'policy';
const resource = 'resource.k8s.io';
const storage = 'storage.k8s.io';

/** A resource rule; every array is copied. */
function rule(verbs: readonly string[], groups: readonly string[], resources: readonly string[], resourceNames?: readonly string[]): PolicyRule {
  const r: PolicyRule = { verbs: [...verbs], apiGroups: [...groups], resources: [...resources] };
  if (resourceNames) r.resourceNames = [...resourceNames];
  return r;
}

/** A non-resource rule. */
function urls(verbs: readonly string[], paths: readonly string[]): PolicyRule {
  return { verbs: [...verbs], nonResourceURLs: [...paths] };
}

/** Upstream's eventsRule(): write events in the core and events.k8s.io groups. */
function events(): PolicyRule {
  return rule(['create', 'patch', 'update'], [core, 'events.k8s.io'], ['events']);
}

function meta(name: string, o: { namespace?: string; labels?: Record<string, string> } = {}): ObjectMeta {
  const m: ObjectMeta = { name };
  if (o.namespace) m.namespace = o.namespace;
  m.labels = { ...o.labels, [bootstrappingLabel]: 'rbac-defaults' };
  m.annotations = { [autoUpdateAnnotation]: 'true' };
  return m;
}

function clusterRole(name: string, rules: PolicyRule[], o: { labels?: Record<string, string>; aggregateFrom?: string } = {}): ClusterRole {
  const r: ClusterRole = { apiVersion: rbacApiVersion, kind: 'ClusterRole', metadata: meta(name, { labels: o.labels }) };
  if (o.aggregateFrom) r.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [o.aggregateFrom]: 'true' } }] };
  if (rules.length) r.rules = rules;
  return r;
}

function role(namespace: string, name: string, rules: PolicyRule[]): Role {
  return { apiVersion: rbacApiVersion, kind: 'Role', metadata: meta(name, { namespace }), rules };
}

const user = (name: string): Subject => ({ kind: 'User', apiGroup: rbacGroup, name });
const group = (name: string): Subject => ({ kind: 'Group', apiGroup: rbacGroup, name });
const serviceAccount = (namespace: string, name: string): Subject => ({ kind: 'ServiceAccount', name, namespace });

function clusterBinding(name: string, roleName: string, subjects: Subject[]): ClusterRoleBinding {
  const b: ClusterRoleBinding = { apiVersion: rbacApiVersion, kind: 'ClusterRoleBinding', metadata: meta(name), roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: roleName } };
  if (subjects.length) b.subjects = subjects;
  return b;
}

function roleBinding(namespace: string, name: string, roleName: string, subjects: Subject[]): RoleBinding {
  return { apiVersion: rbacApiVersion, kind: 'RoleBinding', metadata: meta(name, { namespace }), roleRef: { apiGroup: rbacGroup, kind: 'Role', name: roleName }, subjects };
}

const aggregateToAdmin = 'rbac.authorization.k8s.io/aggregate-to-admin';
const aggregateToEdit = 'rbac.authorization.k8s.io/aggregate-to-edit';
const aggregateToView = 'rbac.authorization.k8s.io/aggregate-to-view';

// ---- cluster roles (testdata/cluster-roles.yaml) -----------------------------------------------

function clusterRoles(): ClusterRole[] {
  return [
    clusterRole('admin', [], { aggregateFrom: aggregateToAdmin }),
    clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])]),
    clusterRole('edit', [], { labels: { [aggregateToAdmin]: 'true' }, aggregateFrom: aggregateToEdit }),
    clusterRole('system:aggregate-to-admin', [
      rule(['create'], [authz], ['localsubjectaccessreviews']),
      rule(readWrite, [rbacGroup], ['rolebindings', 'roles']),
    ], { labels: { [aggregateToAdmin]: 'true' } }),
    clusterRole('system:aggregate-to-edit', [
      rule(read, [core], ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy']),
      rule(['impersonate'], [core], ['serviceaccounts']),
      rule(write, [core], ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy']),
      rule(['create'], [core], ['pods/eviction']),
      rule(write, [core], ['configmaps', 'events', 'persistentvolumeclaims', 'replicationcontrollers', 'replicationcontrollers/scale', 'secrets', 'serviceaccounts', 'services', 'services/proxy']),
      rule(['create'], [core], ['serviceaccounts/token']),
      rule(write, [apps], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale']),
      rule(write, ['autoscaling'], ['horizontalpodautoscalers']),
      rule(write, [batch], ['cronjobs', 'jobs']),
      rule(write, [extensions], ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'ingresses', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicationcontrollers/scale']),
      rule(write, [policy], ['poddisruptionbudgets']),
      rule(write, [networking], ['ingresses', 'networkpolicies']),
      rule(readWrite, [coordination], ['leases']),
    ], { labels: { [aggregateToEdit]: 'true' } }),
    clusterRole('system:aggregate-to-view', [
      rule(read, [core], ['configmaps', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status']),
      rule(read, [core], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status']),
      rule(read, [core], ['namespaces']),
      rule(read, [discovery], ['endpointslices']),
      rule(read, [apps], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status']),
      rule(read, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
      rule(read, [batch], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
      rule(read, [extensions], ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'ingresses', 'ingresses/status', 'networkpolicies', 'replicasets', 'replicasets/scale', 'replicasets/status', 'replicationcontrollers/scale']),
      rule(read, [policy], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
      rule(read, [networking], ['ingresses', 'ingresses/status', 'networkpolicies']),
    ], { labels: { [aggregateToView]: 'true' } }),
    clusterRole('system:auth-delegator', [
      rule(['create'], [authn], ['tokenreviews']),
      rule(['create'], [authz], ['subjectaccessreviews']),
    ]),
    clusterRole('system:basic-user', [
      rule(['create'], [authz], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
      rule(['create'], [authn], ['selfsubjectreviews']),
    ]),
    clusterRole('system:certificates.k8s.io:certificatesigningrequests:nodeclient', [rule(['create'], [certs], ['certificatesigningrequests/nodeclient'])]),
    clusterRole('system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [rule(['create'], [certs], ['certificatesigningrequests/selfnodeclient'])]),
    clusterRole('system:certificates.k8s.io:kube-apiserver-client-approver', [rule(['approve'], [certs], ['signers'], ['kubernetes.io/kube-apiserver-client'])]),
    clusterRole('system:certificates.k8s.io:kube-apiserver-client-kubelet-approver', [rule(['approve'], [certs], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet'])]),
    clusterRole('system:certificates.k8s.io:kubelet-serving-approver', [rule(['approve'], [certs], ['signers'], ['kubernetes.io/kubelet-serving'])]),
    clusterRole('system:certificates.k8s.io:legacy-unknown-approver', [rule(['approve'], [certs], ['signers'], ['kubernetes.io/legacy-unknown'])]),
    clusterRole('system:discovery', [urls(['get'], ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'])]),
    clusterRole('system:heapster', [
      rule(read, [core], ['events', 'namespaces', 'nodes', 'pods']),
      rule(read, [extensions], ['deployments']),
    ]),
    clusterRole('system:kube-aggregator', [rule(read, [core], ['endpoints', 'services'])]),
    clusterRole('system:kube-controller-manager', [
      events(),
      rule(['create'], [coordination], ['leases']),
      rule(['get', 'update'], [coordination], ['leases'], ['kube-controller-manager']),
      rule(['create'], [core], ['secrets', 'serviceaccounts']),
      rule(['delete'], [core], ['secrets']),
      rule(['get'], [core], ['configmaps', 'namespaces', 'secrets', 'serviceaccounts']),
      rule(['update'], [core], ['secrets', 'serviceaccounts']),
      rule(['create'], [authn], ['tokenreviews']),
      rule(['create'], [authz], ['subjectaccessreviews']),
      rule(listWatch, ['*'], ['*']),
      rule(['create'], [core], ['serviceaccounts/token']),
    ]),
    clusterRole('system:kube-dns', [rule(listWatch, [core], ['endpoints', 'services'])]),
    clusterRole('system:kube-scheduler', [
      events(),
      rule(['create'], [coordination], ['leases']),
      rule(['get', 'list', 'update', 'watch'], [coordination], ['leases'], ['kube-scheduler']),
      rule(readWrite, [coordination], ['leasecandidates']),
      rule(read, [core], ['nodes']),
      rule(['delete', 'get', 'list', 'watch'], [core], ['pods']),
      rule(['create'], [core], ['bindings', 'pods/binding']),
      rule(['patch', 'update'], [core], ['pods/status']),
      rule(read, [core], ['replicationcontrollers', 'services']),
      rule(read, [apps, extensions], ['replicasets']),
      rule(read, [apps], ['statefulsets']),
      rule(read, [policy], ['poddisruptionbudgets']),
      rule(read, [core], ['persistentvolumeclaims', 'persistentvolumes']),
      rule(['create'], [authn], ['tokenreviews']),
      rule(['create'], [authz], ['subjectaccessreviews']),
      rule(read, [storage], ['csinodes']),
      rule(read, [storage], ['volumeattachments']),
      rule(read, [core], ['namespaces']),
      rule(read, [storage], ['csidrivers']),
      rule(read, [storage], ['csistoragecapacities']),
      rule(read, [resource], ['deviceclasses']),
      rule(readUpdate, [resource], ['resourceclaims']),
      rule(readUpdate, [resource], ['resourceclaims/status']),
      rule(readUpdate, [core], ['pods/finalizers']),
      rule(read, [resource], ['resourceslices']),
    ]),
    clusterRole('system:kubelet-api-admin', [
      rule(read, [core], ['nodes']),
      rule(['proxy'], [core], ['nodes']),
      rule(['*'], [core], ['nodes/log', 'nodes/metrics', 'nodes/proxy', 'nodes/stats']),
    ]),
    clusterRole('system:monitoring', [urls(['get'], ['/healthz', '/healthz/*', '/livez', '/livez/*', '/metrics', '/metrics/slis', '/readyz', '/readyz/*'])]),
    clusterRole('system:node', [
      rule(['create'], [authn], ['tokenreviews']),
      rule(['create'], [authz], ['localsubjectaccessreviews', 'subjectaccessreviews']),
      rule(read, [core], ['services']),
      rule(['create', 'get', 'list', 'watch'], [core], ['nodes']),
      rule(['patch', 'update'], [core], ['nodes/status']),
      rule(['patch', 'update'], [core], ['nodes']),
      rule(['create', 'patch', 'update'], [core], ['events']),
      rule(read, [core], ['pods']),
      rule(['create', 'delete'], [core], ['pods']),
      rule(['patch', 'update'], [core], ['pods/status']),
      rule(['create'], [core], ['pods/eviction']),
      rule(read, [core], ['configmaps', 'secrets']),
      rule(['get'], [core], ['persistentvolumeclaims', 'persistentvolumes']),
      rule(['get'], [core], ['endpoints']),
      rule(['create', 'get', 'list', 'watch'], [certs], ['certificatesigningrequests']),
      rule(['create', 'delete', 'get', 'patch', 'update'], [coordination], ['leases']),
      rule(['get'], [storage], ['volumeattachments']),
      rule(['create'], [core], ['serviceaccounts/token']),
      rule(['get', 'patch', 'update'], [core], ['persistentvolumeclaims/status']),
      rule(read, [storage], ['csidrivers']),
      rule(['create', 'delete', 'get', 'patch', 'update'], [storage], ['csinodes']),
      rule(read, ['node.k8s.io'], ['runtimeclasses']),
      rule(['get'], [resource], ['resourceclaims']),
      rule(['deletecollection'], [resource], ['resourceslices']),
    ]),
    clusterRole('system:node-bootstrapper', [rule(['create', 'get', 'list', 'watch'], [certs], ['certificatesigningrequests'])]),
    clusterRole('system:node-problem-detector', [
      rule(['get'], [core], ['nodes']),
      rule(['patch'], [core], ['nodes/status']),
      events(),
    ]),
    clusterRole('system:node-proxier', [
      rule(listWatch, [core], ['endpoints', 'services']),
      rule(read, [core], ['nodes']),
      events(),
      rule(listWatch, [discovery], ['endpointslices']),
    ]),
    clusterRole('system:persistent-volume-provisioner', [
      rule(['create', 'delete', 'get', 'list', 'watch'], [core], ['persistentvolumes']),
      rule(['get', 'list', 'update', 'watch'], [core], ['persistentvolumeclaims']),
      rule(read, [storage], ['storageclasses']),
      rule(['watch'], [core], ['events']),
      events(),
    ]),
    clusterRole('system:public-info-viewer', [urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])]),
    clusterRole('system:service-account-issuer-discovery', [urls(['get'], ['/.well-known/openid-configuration', '/.well-known/openid-configuration/', '/openid/v1/jwks', '/openid/v1/jwks/'])]),
    clusterRole('system:volume-scheduler', [
      rule(readUpdate, [core], ['persistentvolumes']),
      rule(read, [storage], ['storageclasses']),
      rule(readUpdate, [core], ['persistentvolumeclaims']),
    ]),
    clusterRole('view', [], { labels: { [aggregateToEdit]: 'true' }, aggregateFrom: aggregateToView }),
  ];
}

// ---- cluster role bindings (testdata/cluster-role-bindings.yaml) -------------------------------

function clusterRoleBindings(): ClusterRoleBinding[] {
  const same = (name: string, subjects: Subject[]) => clusterBinding(name, name, subjects);
  return [
    same('cluster-admin', [group('system:masters')]),
    same('system:basic-user', [group('system:authenticated')]),
    same('system:discovery', [group('system:authenticated')]),
    same('system:kube-controller-manager', [user('system:kube-controller-manager')]),
    same('system:kube-dns', [serviceAccount('kube-system', 'kube-dns')]),
    same('system:kube-scheduler', [user('system:kube-scheduler')]),
    same('system:monitoring', [group('system:monitoring')]),
    // Upstream binds nobody: nodes are authorized by the Node authorizer (and NodeRestriction).
    same('system:node', []),
    same('system:node-proxier', [user('system:kube-proxy')]),
    same('system:public-info-viewer', [group('system:authenticated'), group('system:unauthenticated')]),
    same('system:service-account-issuer-discovery', [group('system:serviceaccounts')]),
    same('system:volume-scheduler', [user('system:kube-scheduler')]),
  ];
}

// ---- controller roles (testdata/controller-roles.yaml) -----------------------------------------

/** The prefix of every controller's ClusterRole and ClusterRoleBinding (upstream saRolePrefix). */
export const controllerRolePrefix = 'system:controller:';

function controllerRoles(): ClusterRole[] {
  const c = (name: string, rules: PolicyRule[]) => clusterRole(controllerRolePrefix + name, rules);
  return [
    c('attachdetach-controller', [
      rule(listWatch, [core], ['persistentvolumeclaims', 'persistentvolumes']),
      rule(read, [core], ['nodes']),
      rule(['patch', 'update'], [core], ['nodes/status']),
      rule(listWatch, [core], ['pods']),
      events(),
      rule(['create', 'delete', 'get', 'list', 'watch'], [storage], ['volumeattachments']),
      rule(read, [storage], ['csidrivers']),
      rule(read, [storage], ['csinodes']),
    ]),
    c('certificate-controller', [
      rule(['delete', 'get', 'list', 'watch'], [certs], ['certificatesigningrequests']),
      rule(['update'], [certs], ['certificatesigningrequests/approval', 'certificatesigningrequests/status']),
      rule(['approve'], [certs], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet']),
      rule(['sign'], [certs], ['signers'], ['kubernetes.io/kube-apiserver-client', 'kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving', 'kubernetes.io/legacy-unknown']),
      rule(['create'], [authz], ['subjectaccessreviews']),
      events(),
    ]),
    c('clusterrole-aggregation-controller', [rule(['escalate', 'get', 'list', 'patch', 'update', 'watch'], [rbacGroup], ['clusterroles'])]),
    c('cronjob-controller', [
      rule(['get', 'list', 'update', 'watch'], [batch], ['cronjobs']),
      rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], [batch], ['jobs']),
      rule(['update'], [batch], ['cronjobs/status']),
      rule(['update'], [batch], ['cronjobs/finalizers']),
      rule(['delete', 'list', 'watch'], [core], ['pods']),
      events(),
    ]),
    c('daemon-set-controller', [
      rule(read, [apps, extensions], ['daemonsets']),
      rule(['update'], [apps, extensions], ['daemonsets/status']),
      rule(['update'], [apps, extensions], ['daemonsets/finalizers']),
      rule(listWatch, [core], ['nodes']),
      rule(['create', 'delete', 'list', 'patch', 'watch'], [core], ['pods']),
      rule(['create'], [core], ['pods/binding']),
      rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], [apps], ['controllerrevisions']),
      events(),
    ]),
    c('deployment-controller', [
      rule(['get', 'list', 'update', 'watch'], [apps, extensions], ['deployments']),
      rule(['update'], [apps, extensions], ['deployments/status']),
      rule(['update'], [apps, extensions], ['deployments/finalizers']),
      rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], [apps, extensions], ['replicasets']),
      rule(['get', 'list', 'update', 'watch'], [core], ['pods']),
      events(),
    ]),
    c('device-taint-eviction-controller', [
      rule(['delete', 'get', 'list', 'watch'], [core], ['pods']),
      rule(['patch', 'update'], [core], ['pods/status']),
      rule(read, [resource], ['resourceclaims']),
      rule(read, [resource], ['resourceslices']),
      rule(read, [resource], ['deviceclasses']),
      events(),
    ]),
    c('disruption-controller', [
      rule(read, [apps, extensions], ['deployments']),
      rule(read, [apps, extensions], ['replicasets']),
      rule(read, [core], ['replicationcontrollers']),
      rule(read, [policy], ['poddisruptionbudgets']),
      rule(read, [apps], ['statefulsets']),
      rule(['update'], [policy], ['poddisruptionbudgets/status']),
      rule(['patch', 'update'], [core], ['pods/status']),
      rule(['get'], ['*'], ['*/scale']),
      events(),
    ]),
    c('endpoint-controller', [
      rule(read, [core], ['pods', 'services']),
      rule(['create', 'delete', 'get', 'list', 'update', 'watch'], [core], ['endpoints']),
      rule(['create'], [core], ['endpoints/restricted']),
      events(),
    ]),
    c('endpointslice-controller', [
      rule(read, [core], ['nodes', 'pods', 'services']),
      rule(['update'], [core], ['services/finalizers']),
      rule(['create', 'delete', 'get', 'list', 'update', 'watch'], [discovery], ['endpointslices']),
      events(),
    ]),
    c('endpointslicemirroring-controller', [
      rule(read, [core], ['endpoints', 'services']),
      rule(['update'], [core], ['services/finalizers']),
      rule(['update'], [core], ['endpoints/finalizers']),
      rule(['create', 'delete', 'get', 'list', 'update', 'watch'], [discovery], ['endpointslices']),
      events(),
    ]),
    c('ephemeral-volume-controller', [
      rule(read, [core], ['pods']),
      rule(['update'], [core], ['pods/finalizers']),
      rule(['create', 'get', 'list', 'watch'], [core], ['persistentvolumeclaims']),
      events(),
    ]),
    c('expand-controller', [
      rule(readUpdate, [core], ['persistentvolumes']),
      rule(['patch', 'update'], [core], ['persistentvolumeclaims/status']),
      rule(read, [core], ['persistentvolumeclaims']),
      events(),
    ]),
    c('generic-garbage-collector', [
      rule(['delete', 'get', 'list', 'patch', 'update', 'watch'], ['*'], ['*']),
      events(),
    ]),
    c('horizontal-pod-autoscaler', [
      rule(read, ['autoscaling'], ['horizontalpodautoscalers']),
      rule(['update'], ['autoscaling'], ['horizontalpodautoscalers/status']),
      rule(['get', 'update'], ['*'], ['*/scale']),
      rule(listWatch, [core], ['pods']),
      rule(listWatch, ['metrics.k8s.io'], ['pods']),
      rule(read, ['custom.metrics.k8s.io'], ['*']),
      rule(read, ['external.metrics.k8s.io'], ['*']),
      events(),
    ]),
    c('job-controller', [
      rule(readUpdate, [batch], ['jobs']),
      rule(['update'], [batch], ['jobs/status']),
      rule(['update'], [batch], ['jobs/finalizers']),
      rule(['create', 'delete', 'list', 'patch', 'watch'], [core], ['pods']),
      events(),
    ]),
    c('legacy-service-account-token-cleaner', [
      rule(['get'], [core], ['configmaps'], ['kube-apiserver-legacy-service-account-token-tracking']),
      rule(['delete', 'patch'], [core], ['secrets']),
    ]),
    c('namespace-controller', [
      rule(['delete', 'get', 'list', 'watch'], [core], ['namespaces']),
      rule(['update'], [core], ['namespaces/finalize', 'namespaces/status']),
      rule(['delete', 'deletecollection', 'get', 'list', 'watch'], ['*'], ['*']),
    ]),
    c('node-controller', [
      rule(['delete', 'get', 'list', 'patch', 'update', 'watch'], [core], ['nodes']),
      rule(['patch', 'update'], [core], ['nodes/status']),
      rule(['patch', 'update'], [core], ['pods/status']),
      rule(['delete', 'get', 'list', 'watch'], [core], ['pods']),
      events(),
    ]),
    c('persistent-volume-binder', [
      rule(['create', 'delete', 'get', 'list', 'update', 'watch'], [core], ['persistentvolumes']),
      rule(['update'], [core], ['persistentvolumes/status']),
      rule(['get', 'list', 'update', 'watch'], [core], ['persistentvolumeclaims']),
      rule(['update'], [core], ['persistentvolumeclaims/status']),
      rule(['create', 'delete', 'get', 'list', 'watch'], [core], ['pods']),
      rule(read, [storage], ['storageclasses']),
      rule(listWatch, [core], ['nodes']),
      events(),
      rule(['watch'], [core], ['events']),
    ]),
    c('pod-garbage-collector', [
      rule(['delete', 'list', 'watch'], [core], ['pods']),
      rule(read, [core], ['nodes']),
      rule(['patch'], [core], ['pods/status']),
    ]),
    c('pv-protection-controller', [
      rule(['get', 'list', 'update', 'watch'], [core], ['persistentvolumes']),
      events(),
    ]),
    c('pvc-protection-controller', [
      rule(['get', 'list', 'update', 'watch'], [core], ['persistentvolumeclaims']),
      rule(['update'], [core], ['persistentvolumeclaims/status']),
      rule(read, [core], ['pods']),
      events(),
    ]),
    c('replicaset-controller', [
      rule(['get', 'list', 'update', 'watch'], [apps, extensions], ['replicasets']),
      rule(['update'], [apps, extensions], ['replicasets/status']),
      rule(['update'], [apps, extensions], ['replicasets/finalizers']),
      rule(['create', 'delete', 'list', 'patch', 'watch'], [core], ['pods']),
      events(),
    ]),
    c('replication-controller', [
      rule(['get', 'list', 'update', 'watch'], [core], ['replicationcontrollers']),
      rule(['update'], [core], ['replicationcontrollers/status']),
      rule(['update'], [core], ['replicationcontrollers/finalizers']),
      rule(['create', 'delete', 'list', 'patch', 'watch'], [core], ['pods']),
      events(),
    ]),
    c('resource-claim-controller', [
      rule(read, [core], ['pods']),
      rule(['update'], [core], ['pods/finalizers']),
      rule(['create', 'delete', 'get', 'list', 'watch'], [resource], ['resourceclaims']),
      rule(['patch', 'update'], [resource], ['resourceclaims', 'resourceclaims/status']),
      rule(['patch', 'update'], [core], ['pods/status']),
      events(),
      rule(['patch', 'update'], [resource], ['resourceclaims/binding']),
    ]),
    c('resourcequota-controller', [
      rule(listWatch, ['*'], ['*']),
      rule(['update'], [core], ['resourcequotas/status']),
      events(),
    ]),
    c('root-ca-cert-publisher', [
      rule(['create', 'update'], [core], ['configmaps']),
      events(),
    ]),
    c('route-controller', [
      rule(listWatch, [core], ['nodes']),
      rule(['patch'], [core], ['nodes/status']),
      events(),
    ]),
    c('selinux-warning-controller', [
      events(),
      rule(read, [core], ['persistentvolumes']),
      rule(read, [core], ['persistentvolumeclaims']),
      rule(read, [core], ['pods']),
      rule(read, [storage], ['csidrivers']),
    ]),
    c('service-account-controller', [
      rule(['create'], [core], ['serviceaccounts']),
      events(),
    ]),
    c('service-cidrs-controller', [
      rule(readUpdate, [networking], ['servicecidrs']),
      rule(['patch', 'update'], [networking], ['servicecidrs/finalizers']),
      rule(['patch', 'update'], [networking], ['servicecidrs/status']),
      rule(read, [networking], ['ipaddresses']),
      events(),
    ]),
    c('service-controller', [
      rule(read, [core], ['services']),
      rule(['patch', 'update'], [core], ['services/status']),
      rule(listWatch, [core], ['nodes']),
      events(),
    ]),
    c('statefulset-controller', [
      rule(listWatch, [core], ['pods']),
      rule(read, [apps], ['statefulsets']),
      rule(['update'], [apps], ['statefulsets/status']),
      rule(['update'], [apps], ['statefulsets/finalizers']),
      rule(['create', 'delete', 'get', 'patch', 'update'], [core], ['pods']),
      rule(['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], [apps], ['controllerrevisions']),
      rule(['create', 'get', 'list', 'watch'], [core], ['persistentvolumeclaims']),
      rule(['delete', 'update'], [core], ['persistentvolumeclaims']),
      rule(['update'], [core], ['pods/finalizers']),
      events(),
    ]),
    c('ttl-after-finished-controller', [
      rule(['delete', 'get', 'list', 'watch'], [batch], ['jobs']),
      events(),
    ]),
    c('ttl-controller', [
      rule(['list', 'patch', 'update', 'watch'], [core], ['nodes']),
      events(),
    ]),
    c('validatingadmissionpolicy-status-controller', [
      rule(read, ['admissionregistration.k8s.io'], ['validatingadmissionpolicies']),
      rule(['get', 'patch', 'update'], ['admissionregistration.k8s.io'], ['validatingadmissionpolicies/status']),
      events(),
    ]),
    c('volumeattributesclass-protection-controller', [
      rule(read, [core], ['persistentvolumeclaims']),
      rule(read, [core], ['persistentvolumes']),
      rule(['get', 'list', 'update', 'watch'], [storage], ['volumeattributesclasses']),
      events(),
    ]),
  ];
}

/** Each controller's role bound to its ServiceAccount in kube-system (testdata/controller-role-bindings.yaml). */
function controllerRoleBindings(roles: ClusterRole[]): ClusterRoleBinding[] {
  return roles.map((r) => {
    const name = r.metadata.name!;
    return clusterBinding(name, name, [serviceAccount('kube-system', name.slice(controllerRolePrefix.length))]);
  });
}

// ---- namespaced roles (testdata/namespace-roles.yaml, namespace-role-bindings.yaml) ------------

function namespaceRoles(): Role[] {
  const leaderLocking = () => [
    rule(['create', 'get', 'list', 'update', 'watch'], [coordination], ['leases']),
    rule(['create', 'get', 'list', 'update', 'watch'], [coordination], ['leasecandidates']),
  ];
  return [
    role('kube-public', 'system:controller:bootstrap-signer', [
      rule(read, [core], ['configmaps']),
      rule(['update'], [core], ['configmaps'], ['cluster-info']),
      events(),
    ]),
    role('kube-system', 'extension-apiserver-authentication-reader', [rule(read, [core], ['configmaps'], ['extension-apiserver-authentication'])]),
    role('kube-system', 'system::leader-locking-kube-controller-manager', leaderLocking()),
    role('kube-system', 'system::leader-locking-kube-scheduler', leaderLocking()),
    role('kube-system', 'system:controller:bootstrap-signer', [rule(read, [core], ['secrets'])]),
    role('kube-system', 'system:controller:cloud-provider', [rule(['create', 'get', 'list', 'watch'], [core], ['configmaps'])]),
    role('kube-system', 'system:controller:token-cleaner', [
      rule(['delete', 'get', 'list', 'watch'], [core], ['secrets']),
      events(),
    ]),
  ];
}

function namespaceRoleBindings(): RoleBinding[] {
  return [
    roleBinding('kube-public', 'system:controller:bootstrap-signer', 'system:controller:bootstrap-signer', [serviceAccount('kube-system', 'bootstrap-signer')]),
    roleBinding('kube-system', 'system::extension-apiserver-authentication-reader', 'extension-apiserver-authentication-reader', [user('system:kube-controller-manager'), user('system:kube-scheduler')]),
    roleBinding('kube-system', 'system::leader-locking-kube-controller-manager', 'system::leader-locking-kube-controller-manager', [
      user('system:kube-controller-manager'),
      serviceAccount('kube-system', 'kube-controller-manager'),
      serviceAccount('kube-system', 'leader-election-controller'),
    ]),
    roleBinding('kube-system', 'system::leader-locking-kube-scheduler', 'system::leader-locking-kube-scheduler', [user('system:kube-scheduler'), serviceAccount('kube-system', 'kube-scheduler')]),
    roleBinding('kube-system', 'system:controller:bootstrap-signer', 'system:controller:bootstrap-signer', [serviceAccount('kube-system', 'bootstrap-signer')]),
    roleBinding('kube-system', 'system:controller:cloud-provider', 'system:controller:cloud-provider', [serviceAccount('kube-system', 'cloud-provider')]),
    roleBinding('kube-system', 'system:controller:token-cleaner', 'system:controller:token-cleaner', [serviceAccount('kube-system', 'token-cleaner')]),
  ];
}

/**
 * Upstream's bootstrap policy: cluster roles then controller roles, their bindings in the same
 * order, and the namespaced roles and bindings. Fresh objects on every call.
 */
export function bootstrapPolicy(): Policy {
  const controllers = controllerRoles();
  return {
    clusterRoles: [...clusterRoles(), ...controllers],
    clusterRoleBindings: [...clusterRoleBindings(), ...controllerRoleBindings(controllers)],
    roles: namespaceRoles(),
    roleBindings: namespaceRoleBindings(),
  };
}

// ---- Bosun's additions (not upstream's) --------------------------------------------------------

/** The ServiceAccount (kube-system) of Bosun's own system-namespaces controller (controllers/manager.ts). */
export const systemNamespacesServiceAccount = 'system-namespaces-controller';

/**
 * Bosun's additions to the policy, NOT upstream's:
 *  (a) `bosun:system-namespaces` lets the system-namespaces controller's ServiceAccount
 *      (`kube-system/system-namespaces-controller`) create the system namespaces: upstream runs
 *      that controller inside kube-apiserver, Bosun in the controller manager, where every
 *      controller runs as its own ServiceAccount (--use-service-account-credentials);
 *  (b) `bosun:node-proxier` binds upstream's `system:node-proxier` to the Group `system:nodes`:
 *      Bosun's node agent does kube-proxy's job under the node's identity; and the ClusterRole
 *      `bosun:node-agent`, bound to `system:nodes` by `bosun:node-agent`, lets the agent's cluster
 *      DNS and NetworkPolicy components list and watch what they read;
 *  (c) `bosun:virtual-nodes`: the simulated nodes' identity gets upstream's `system:node` role;
 *  (d) Role and RoleBinding `bosun:node-dns` in kube-system: nodes write their kube-dns EndpointSlice;
 *  (e) the node token's group (`system:bootstrappers:bosun:default-node-token`) bound to
 *      system:node-bootstrapper and the nodeclient approver role, and system:nodes to the
 *      selfnodeclient one (kubeadm's bindings, under Bosun's names), and system:nodes to Bosun's
 *      `...:selfnodeserver` role (`bosun:node-autoapprove-serving`), so a node's own serving
 *      certificate is approved;
 *  (f) `bosun:kubelet-serving-approver` binds upstream's
 *      `system:certificates.k8s.io:kubelet-serving-approver` to the certificate-controller
 *      ServiceAccount: Bosun's csrapproving also approves nodes' own serving certificates, which
 *      upstream leaves to an external approver;
 *  (g) `bosun:local-path-provisioner` (ClusterRole and binding): each node agent, and the
 *      simulated nodes, provision local-path volumes for claims selected to their nodes
 *      (kubelet/localpath.ts, external-provisioner's node deployment): volumes read and written,
 *      claims and classes read, events written — external-provisioner's RBAC without the leases
 *      (no leader election: each node serves only its own claims);
 *  (h) metrics-server's own ClusterRoles, as its manifests (and k3s's) install them:
 *      `system:aggregated-metrics-reader` (metrics.k8s.io read, aggregated into view, edit and
 *      admin) and `system:metrics-server` (what the metrics server in `bosun server` reads: pods,
 *      nodes, nodes/metrics), bound to the user `system:metrics-server`.
 * Upstream's controller roles need nothing more: each is bound to its controller's ServiceAccount
 * by upstream's own bindings (`system:controller:<name>`), and Bosun's service load balancer runs
 * as upstream's `service-controller`. Labelled and annotated like upstream's objects, so
 * reconcile.ts keeps them up to date the same way. Fresh objects on every call.
 */
export function bosunPolicy(): Policy {
  return {
    clusterRoles: [
      // Upstream runs the system-namespaces controller inside kube-apiserver; Bosun runs it in the
      // controller manager, which then needs to create namespaces.
      clusterRole('bosun:system-namespaces', [rule(['get', 'list', 'watch', 'create'], [core], ['namespaces'])]),
      // The subresource csrapproving asks a SubjectAccessReview about before approving a node's
      // own kubelet-serving request (upstream's approver did so until v1.11; the name is its).
      clusterRole(selfNodeServerRole, [rule(['create'], [certs], ['certificatesigningrequests/selfnodeserver'])]),
      clusterRole('bosun:node-agent', [
        rule(listWatch, [core], ['endpoints', 'namespaces', 'pods', 'services']),
        rule(listWatch, [discovery], ['endpointslices']),
        rule(listWatch, [networking], ['networkpolicies']),
      ]),
      clusterRole(localPathProvisionerRole, [
        rule(['create', 'delete', 'get', 'list', 'patch', 'watch'], [core], ['persistentvolumes']),
        rule(read, [core], ['persistentvolumeclaims']),
        rule(read, [storage], ['storageclasses']),
        rule(['create', 'patch'], [core, 'events.k8s.io'], ['events']),
      ]),
      clusterRole('system:aggregated-metrics-reader', [rule(['get', 'list', 'watch'], ['metrics.k8s.io'], ['pods', 'nodes'])], {
        labels: { [aggregateToView]: 'true', [aggregateToEdit]: 'true', [aggregateToAdmin]: 'true' },
      }),
      clusterRole('system:metrics-server', [rule(['get'], [core], ['nodes/metrics']), rule(['get', 'list', 'watch'], [core], ['pods', 'nodes'])]),
    ],
    clusterRoleBindings: [
      clusterBinding('bosun:system-namespaces', 'bosun:system-namespaces', [serviceAccount('kube-system', systemNamespacesServiceAccount)]),
      clusterBinding('bosun:node-proxier', 'system:node-proxier', [group('system:nodes')]),
      clusterBinding('bosun:node-agent', 'bosun:node-agent', [group('system:nodes')]),
      // The simulated nodes (--virtual-nodes) run many nodes under one identity that is not a
      // node's (the Node authorizer and NodeRestriction limit a node to itself): upstream's
      // system:node role, unrestricted.
      clusterBinding('bosun:virtual-nodes', 'system:node', [user('system:bosun:virtual-nodes')]),
      // Joining nodes (kubeadm's and k3s's bindings): the node token's group may ask for a node
      // client certificate and have it approved; nodes may renew their own.
      clusterBinding('bosun:kubelet-bootstrap', 'system:node-bootstrapper', [group('system:bootstrappers:bosun:default-node-token')]),
      clusterBinding('bosun:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', [group('system:bootstrappers:bosun:default-node-token')]),
      clusterBinding('bosun:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [group('system:nodes')]),
      clusterBinding('bosun:kubelet-serving-approver', 'system:certificates.k8s.io:kubelet-serving-approver', [serviceAccount('kube-system', 'certificate-controller')]),
      // Nodes may have their own serving certificates approved (csrapproving's selfnodeserver).
      clusterBinding('bosun:node-autoapprove-serving', selfNodeServerRole, [group('system:nodes')]),
      // Node agents and the simulated nodes provision local-path volumes of their own nodes.
      clusterBinding(localPathProvisionerRole, localPathProvisionerRole, [group('system:nodes'), user('system:bosun:virtual-nodes')]),
      clusterBinding('system:metrics-server', 'system:metrics-server', [user('system:metrics-server')]),
    ],
    // Each agent's cluster DNS publishes its own EndpointSlice of the kube-dns Service.
    roles: [role('kube-system', 'bosun:node-dns', [rule(['get', 'create', 'update', 'delete'], [discovery], ['endpointslices'])])],
    roleBindings: [roleBinding('kube-system', 'bosun:node-dns', 'bosun:node-dns', [group('system:nodes')])],
  };
}

/** Bosun's role for the local-path provisioner the node agents run (kubelet/localpath.ts). */
export const localPathProvisionerRole = 'bosun:local-path-provisioner';

/** Bosun's role for approving a node's own serving certificate. */
export const selfNodeServerRole = 'system:certificates.k8s.io:certificatesigningrequests:selfnodeserver';

// ---- what older Bosun versions created and this one does not want -----------------------------

/**
 * A policy object an older Bosun created that this one no longer wants: the whole object, or
 * only some subjects of a binding that stays.
 */
export interface RetiredPolicyObject {
  kind: 'ClusterRoleBinding';
  name: string;
  /** Only these subjects are retired (the binding stays); absent: the object goes. */
  subjects?: Subject[];
}

/** The prefix of the bindings through which older Bosun ran every controller as one user. */
export const retiredControllerBindingPrefix = 'bosun:controller:';

/**
 * What Bosun before per-controller credentials made and reconcile.ts removes at start (only
 * from objects that carry the bootstrapping label, i.e. that Bosun made; a user's autoupdate
 * "false" keeps them): the `bosun:controller:<name>` ClusterRoleBindings that bound every
 * `system:controller:<name>` role to the User `system:kube-controller-manager`, and that user as
 * a subject of `bosun:system-namespaces`.
 */
export function retiredBosunPolicy(): RetiredPolicyObject[] {
  return [
    ...controllerRoles().map((r): RetiredPolicyObject => ({ kind: 'ClusterRoleBinding', name: retiredControllerBindingPrefix + r.metadata.name!.slice(controllerRolePrefix.length) })),
    { kind: 'ClusterRoleBinding', name: 'bosun:system-namespaces', subjects: [user('system:kube-controller-manager')] },
  ];
}
