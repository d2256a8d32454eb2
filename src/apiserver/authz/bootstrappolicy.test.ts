/**
 * The bootstrap policy: every object upstream's testdata lists is there (names embedded below,
 * from plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/*.yaml), with upstream's label and
 * annotation; references resolve; spot checks of what the aggregated and system roles grant
 * (aggregation computed to a fixed point with the aggregation controller's function); Bosun's
 * additions are exactly what they claim; every controller the manager runs has its
 * ServiceAccount bound to a role; what older Bosun made and this one retires is never wanted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterRole, PolicyRule } from '../../api/index.ts';
import { aggregatedRules } from '../../controllers/clusterroleaggregation.ts';
import { controllers } from '../../controllers/manager.ts';
import { bootstrapPolicy, bosunPolicy, retiredBosunPolicy, type Policy } from './bootstrappolicy.ts';
import { covers } from './escalation.ts';

// testdata/cluster-roles.yaml
const upstreamClusterRoles = [
  'admin', 'cluster-admin', 'edit', 'system:aggregate-to-admin', 'system:aggregate-to-edit', 'system:aggregate-to-view',
  'system:auth-delegator', 'system:basic-user', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient',
  'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', 'system:certificates.k8s.io:kube-apiserver-client-approver',
  'system:certificates.k8s.io:kube-apiserver-client-kubelet-approver', 'system:certificates.k8s.io:kubelet-serving-approver',
  'system:certificates.k8s.io:legacy-unknown-approver', 'system:discovery', 'system:heapster', 'system:kube-aggregator',
  'system:kube-controller-manager', 'system:kube-dns', 'system:kube-scheduler', 'system:kubelet-api-admin', 'system:monitoring',
  'system:node', 'system:node-bootstrapper', 'system:node-problem-detector', 'system:node-proxier', 'system:persistent-volume-provisioner',
  'system:public-info-viewer', 'system:service-account-issuer-discovery', 'system:volume-scheduler', 'view',
];
// testdata/cluster-role-bindings.yaml
const upstreamClusterRoleBindings = [
  'cluster-admin', 'system:basic-user', 'system:discovery', 'system:kube-controller-manager', 'system:kube-dns', 'system:kube-scheduler',
  'system:monitoring', 'system:node', 'system:node-proxier', 'system:public-info-viewer', 'system:service-account-issuer-discovery',
  'system:volume-scheduler',
];
// testdata/controller-roles.yaml and controller-role-bindings.yaml (one binding per role, same name)
const upstreamControllers = [
  'attachdetach-controller', 'certificate-controller', 'clusterrole-aggregation-controller', 'cronjob-controller', 'daemon-set-controller',
  'deployment-controller', 'device-taint-eviction-controller', 'disruption-controller', 'endpoint-controller', 'endpointslice-controller',
  'endpointslicemirroring-controller', 'ephemeral-volume-controller', 'expand-controller', 'generic-garbage-collector',
  'horizontal-pod-autoscaler', 'job-controller', 'legacy-service-account-token-cleaner', 'namespace-controller', 'node-controller',
  'persistent-volume-binder', 'pod-garbage-collector', 'pv-protection-controller', 'pvc-protection-controller', 'replicaset-controller',
  'replication-controller', 'resource-claim-controller', 'resourcequota-controller', 'root-ca-cert-publisher', 'route-controller',
  'selinux-warning-controller', 'service-account-controller', 'service-cidrs-controller', 'service-controller', 'statefulset-controller',
  'ttl-after-finished-controller', 'ttl-controller', 'validatingadmissionpolicy-status-controller', 'volumeattributesclass-protection-controller',
];
// testdata/namespace-roles.yaml and namespace-role-bindings.yaml, as namespace/name
const upstreamRoles = [
  'kube-public/system:controller:bootstrap-signer', 'kube-system/extension-apiserver-authentication-reader',
  'kube-system/system::leader-locking-kube-controller-manager', 'kube-system/system::leader-locking-kube-scheduler',
  'kube-system/system:controller:bootstrap-signer', 'kube-system/system:controller:cloud-provider', 'kube-system/system:controller:token-cleaner',
];
const upstreamRoleBindings = [
  'kube-public/system:controller:bootstrap-signer', 'kube-system/system::extension-apiserver-authentication-reader',
  'kube-system/system::leader-locking-kube-controller-manager', 'kube-system/system::leader-locking-kube-scheduler',
  'kube-system/system:controller:bootstrap-signer', 'kube-system/system:controller:cloud-provider', 'kube-system/system:controller:token-cleaner',
];

const names = (l: { metadata: { name?: string; namespace?: string } }[]) => l.map((o) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name!));
const sorted = (l: string[]) => [...l].sort();
const every = (p: Policy) => [...p.clusterRoles, ...p.clusterRoleBindings, ...p.roles, ...p.roleBindings];

test('every cluster role of upstream\'s testdata is there, and the controllers\' roles', () => {
  const p = bootstrapPolicy();
  assert.deepEqual(sorted(names(p.clusterRoles)), sorted([...upstreamClusterRoles, ...upstreamControllers.map((c) => `system:controller:${c}`)]));
});

test('every cluster role binding of upstream\'s testdata is there, and one per controller to its ServiceAccount in kube-system', () => {
  const p = bootstrapPolicy();
  assert.deepEqual(sorted(names(p.clusterRoleBindings)), sorted([...upstreamClusterRoleBindings, ...upstreamControllers.map((c) => `system:controller:${c}`)]));
  for (const c of upstreamControllers) {
    const b = p.clusterRoleBindings.find((x) => x.metadata.name === `system:controller:${c}`)!;
    assert.deepEqual(b.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `system:controller:${c}` });
    assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: c, namespace: 'kube-system' }]);
  }
});

test('every namespaced role and binding of upstream\'s testdata is there', () => {
  const p = bootstrapPolicy();
  assert.deepEqual(sorted(names(p.roles)), sorted(upstreamRoles));
  assert.deepEqual(sorted(names(p.roleBindings)), sorted(upstreamRoleBindings));
});

test('every object carries the bootstrapping label and the autoupdate annotation, and is typed', () => {
  for (const o of [...every(bootstrapPolicy()), ...every(bosunPolicy())]) {
    assert.equal(o.metadata.labels?.['kubernetes.io/bootstrapping'], 'rbac-defaults', o.metadata.name);
    assert.equal(o.metadata.annotations?.['rbac.authorization.kubernetes.io/autoupdate'], 'true', o.metadata.name);
    assert.equal(o.apiVersion, 'rbac.authorization.k8s.io/v1');
  }
});

test('names are unique per kind, across upstream\'s policy and Bosun\'s', () => {
  const a = bootstrapPolicy();
  const b = bosunPolicy();
  for (const k of ['clusterRoles', 'clusterRoleBindings', 'roles', 'roleBindings'] as const) {
    const all = names([...a[k], ...b[k]]);
    assert.equal(new Set(all).size, all.length, k);
  }
});

test('every binding names a role of the policy (cluster roles, or a Role of its own namespace)', () => {
  const a = bootstrapPolicy();
  const b = bosunPolicy();
  const clusterRoleNames = new Set(names([...a.clusterRoles, ...b.clusterRoles]));
  for (const crb of [...a.clusterRoleBindings, ...b.clusterRoleBindings]) assert.ok(clusterRoleNames.has(crb.roleRef.name), crb.metadata.name);
  const roleNames = new Set(names(a.roles));
  for (const rb of a.roleBindings) assert.ok(roleNames.has(`${rb.metadata.namespace}/${rb.roleRef.name}`), rb.metadata.name);
});

test('every rule is well formed: verbs, and either groups with resources or URLs', () => {
  for (const r of [...bootstrapPolicy().clusterRoles, ...bootstrapPolicy().roles, ...bosunPolicy().clusterRoles]) {
    for (const rule of r.rules ?? []) {
      assert.ok(rule.verbs.length > 0, r.metadata.name);
      if (rule.nonResourceURLs) assert.ok(!rule.apiGroups && !rule.resources, r.metadata.name);
      else assert.ok(rule.apiGroups!.length > 0 && rule.resources!.length > 0, r.metadata.name);
    }
  }
});

test('admin, edit and view aggregate by upstream\'s labels', () => {
  const p = bootstrapPolicy();
  const get = (n: string) => p.clusterRoles.find((r) => r.metadata.name === n)!;
  assert.deepEqual(get('admin').aggregationRule, { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' } }] });
  assert.deepEqual(get('edit').aggregationRule, { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' } }] });
  assert.deepEqual(get('view').aggregationRule, { clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }] });
  assert.equal(get('edit').metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-admin'], 'true');
  assert.equal(get('view').metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-edit'], 'true');
  for (const n of ['admin', 'edit', 'view']) assert.equal(get(n).rules, undefined);
});

/** The cluster roles with aggregation applied until nothing changes (what the controller converges to). */
function aggregated(roles: ClusterRole[]): Map<string, PolicyRule[]> {
  const all = structuredClone(roles);
  for (let round = 0; round < 10; round++) {
    let changed = false;
    for (const r of all) {
      const rules = aggregatedRules(r, all);
      if (rules && JSON.stringify(rules) !== JSON.stringify(r.rules ?? [])) {
        r.rules = rules;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return new Map(all.map((r) => [r.metadata.name!, r.rules ?? []]));
}

const allows = (rules: PolicyRule[], verb: string, group: string, resource: string) => covers(rules, [{ verbs: [verb], apiGroups: [group], resources: [resource] }]).covered;
const allowsUrl = (rules: PolicyRule[], verb: string, url: string) => covers(rules, [{ verbs: [verb], nonResourceURLs: [url] }]).covered;

const converged = aggregated(bootstrapPolicy().clusterRoles);

const spot: { role: string; verb: string; group: string; resource: string; want: boolean }[] = [
  { role: 'view', verb: 'get', group: '', resource: 'pods', want: true },
  { role: 'view', verb: 'list', group: 'apps', resource: 'deployments', want: true },
  { role: 'view', verb: 'get', group: '', resource: 'secrets', want: false },
  { role: 'view', verb: 'create', group: '', resource: 'pods', want: false },
  { role: 'edit', verb: 'create', group: 'apps', resource: 'deployments', want: true },
  { role: 'edit', verb: 'get', group: '', resource: 'secrets', want: true },
  { role: 'edit', verb: 'get', group: '', resource: 'pods', want: true },
  { role: 'edit', verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', want: false },
  { role: 'admin', verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', want: true },
  { role: 'admin', verb: 'create', group: 'apps', resource: 'deployments', want: true },
  { role: 'admin', verb: 'create', group: '', resource: 'namespaces', want: false },
  { role: 'system:node-proxier', verb: 'list', group: 'discovery.k8s.io', resource: 'endpointslices', want: true },
  { role: 'system:node-proxier', verb: 'create', group: 'discovery.k8s.io', resource: 'endpointslices', want: false },
  { role: 'system:node', verb: 'create', group: '', resource: 'pods/eviction', want: true },
  { role: 'system:kube-scheduler', verb: 'create', group: '', resource: 'pods/binding', want: true },
  { role: 'system:kube-controller-manager', verb: 'watch', group: 'apps', resource: 'deployments', want: true },
  { role: 'system:controller:deployment-controller', verb: 'create', group: 'apps', resource: 'replicasets', want: true },
  { role: 'system:controller:clusterrole-aggregation-controller', verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', want: true },
  { role: 'cluster-admin', verb: 'delete', group: 'example.com', resource: 'widgets', want: true },
];
for (const s of spot) {
  test(`${s.role} ${s.want ? 'can' : 'cannot'} ${s.verb} ${s.resource}${s.group ? `.${s.group}` : ''}`, () => {
    const rules = converged.get(s.role)!;
    assert.equal(allows(rules, s.verb, s.group, s.resource), s.want);
  });
}

test('system:public-info-viewer reads /healthz and /version but not /api; system:discovery reads /apis/*', () => {
  const rules = converged;
  assert.equal(allowsUrl(rules.get('system:public-info-viewer')!, 'get', '/version'), true);
  assert.equal(allowsUrl(rules.get('system:public-info-viewer')!, 'get', '/api'), false);
  assert.equal(allowsUrl(rules.get('system:discovery')!, 'get', '/apis/apps/v1'), true);
  assert.equal(allowsUrl(rules.get('system:monitoring')!, 'get', '/metrics'), true);
});

test('system groups are bound as upstream binds them', () => {
  const p = bootstrapPolicy();
  const subjects = (n: string) => p.clusterRoleBindings.find((b) => b.metadata.name === n)!.subjects;
  assert.deepEqual(subjects('cluster-admin'), [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:masters' }]);
  assert.deepEqual(subjects('system:public-info-viewer')?.map((s) => s.name), ['system:authenticated', 'system:unauthenticated']);
  assert.deepEqual(subjects('system:node-proxier'), [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'system:kube-proxy' }]);
  assert.equal(subjects('system:node'), undefined);
});

test('no binding grants a controller role to the User system:kube-controller-manager: controllers act as their ServiceAccounts', () => {
  for (const b of [...bootstrapPolicy().clusterRoleBindings, ...bosunPolicy().clusterRoleBindings]) {
    if (!b.roleRef.name.startsWith('system:controller:') && b.roleRef.name !== 'bosun:system-namespaces') continue;
    assert.deepEqual(b.subjects?.map((s) => [s.kind, s.namespace]), [['ServiceAccount', 'kube-system']], b.metadata.name);
  }
});

const managerCan: [string, string, string, boolean][] = [
  ['create', '', 'serviceaccounts/token', true],
  ['get', '', 'serviceaccounts', true],
  ['create', '', 'serviceaccounts', true],
  ['watch', 'apps', 'replicasets', true],
  ['create', 'apps', 'replicasets', false],
  ['create', '', 'pods', false],
  ['delete', '', 'nodes', false],
];
for (const [verb, group, resource, want] of managerCan) {
  test(`system:kube-controller-manager ${want ? 'can' : 'cannot'} ${verb} ${resource}${group ? `.${group}` : ''} (its own role only)`, () => {
    const rules = converged.get('system:kube-controller-manager')!;
    assert.equal(allows(rules, verb, group, resource), want);
  });
}

test('every controller the manager runs as a ServiceAccount has that ServiceAccount bound to a role', () => {
  const bound = new Set(
    [...bootstrapPolicy().clusterRoleBindings, ...bosunPolicy().clusterRoleBindings]
      .flatMap((b) => b.subjects ?? [])
      .filter((s) => s.kind === 'ServiceAccount' && s.namespace === 'kube-system')
      .map((s) => s.name),
  );
  const accounts = Object.values(controllers).flatMap((d) => (d.serviceAccount ? [d.serviceAccount] : []));
  assert.ok(accounts.length > 0);
  for (const sa of accounts) assert.ok(bound.has(sa), sa);
});

test('servicelb runs as upstream\'s service-controller and may write Service status', () => {
  assert.equal(controllers['servicelb']!.serviceAccount, 'service-controller');
  assert.equal(allows(converged.get('system:controller:service-controller')!, 'update', '', 'services/status'), true);
});

test('the system-namespaces controller\'s ServiceAccount may create namespaces', () => {
  const p = bosunPolicy();
  const b = p.clusterRoleBindings.find((x) => x.metadata.name === 'bosun:system-namespaces')!;
  assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: controllers['systemnamespaces']!.serviceAccount, namespace: 'kube-system' }]);
  assert.equal(allows(p.clusterRoles.find((r) => r.metadata.name === 'bosun:system-namespaces')!.rules!, 'create', '', 'namespaces'), true);
});

test("Bosun's additions are the system-namespaces, node agent's, virtual nodes', joining, serving-approval, local-path provisioner and metrics-server roles and bindings, the DNS role, and nothing else", () => {
  const p = bosunPolicy();
  const nodes = [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:nodes' }];
  assert.deepEqual(names(p.clusterRoles), ['bosun:system-namespaces', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeserver', 'bosun:node-agent', 'bosun:local-path-provisioner', 'system:aggregated-metrics-reader', 'system:metrics-server']);
  assert.deepEqual(names(p.clusterRoleBindings), ['bosun:system-namespaces', 'bosun:node-proxier', 'bosun:node-agent', 'bosun:virtual-nodes', 'bosun:kubelet-bootstrap', 'bosun:node-autoapprove-bootstrap', 'bosun:node-autoapprove-certificate-rotation', 'bosun:kubelet-serving-approver', 'bosun:node-autoapprove-serving', 'bosun:local-path-provisioner', 'system:metrics-server']);
  const localPath = p.clusterRoleBindings.find((b) => b.metadata.name === 'bosun:local-path-provisioner')!;
  assert.deepEqual([localPath.roleRef.name, localPath.subjects], ['bosun:local-path-provisioner', [...nodes, { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'system:bosun:virtual-nodes' }]]);
  const selfServing = p.clusterRoleBindings.find((b) => b.metadata.name === 'bosun:node-autoapprove-serving')!;
  assert.deepEqual([selfServing.roleRef.name, selfServing.subjects], ['system:certificates.k8s.io:certificatesigningrequests:selfnodeserver', nodes]);
  assert.equal(allows(p.clusterRoles[1]!.rules!, 'create', 'certificates.k8s.io', 'certificatesigningrequests/selfnodeserver'), true);
  assert.deepEqual([names(p.roles), names(p.roleBindings)], [['kube-system/bosun:node-dns'], ['kube-system/bosun:node-dns']]);
  const proxier = p.clusterRoleBindings.find((b) => b.metadata.name === 'bosun:node-proxier')!;
  assert.deepEqual([proxier.roleRef.name, proxier.subjects], ['system:node-proxier', nodes]);
  const agent = p.clusterRoleBindings.find((b) => b.metadata.name === 'bosun:node-agent')!;
  assert.deepEqual([agent.roleRef.name, agent.subjects], ['bosun:node-agent', nodes]);
  const virtual = p.clusterRoleBindings.find((b) => b.metadata.name === 'bosun:virtual-nodes')!;
  assert.deepEqual([virtual.roleRef.name, virtual.subjects], ['system:node', [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'system:bosun:virtual-nodes' }]]);
  const serving = p.clusterRoleBindings.find((b) => b.metadata.name === 'bosun:kubelet-serving-approver')!;
  assert.deepEqual([serving.roleRef.name, serving.subjects], ['system:certificates.k8s.io:kubelet-serving-approver', [{ kind: 'ServiceAccount', name: 'certificate-controller', namespace: 'kube-system' }]]);
  const dns = p.roleBindings[0]!;
  assert.deepEqual([dns.metadata.namespace, dns.roleRef.kind, dns.subjects], ['kube-system', 'Role', nodes]);
  assert.equal(allows(p.roles[0]!.rules!, 'update', 'discovery.k8s.io', 'endpointslices'), true);
});

test("older Bosun's single-identity bindings are retired: one bosun:controller:<name> per controller role, and system:kube-controller-manager from bosun:system-namespaces", () => {
  const retired = retiredBosunPolicy();
  const whole = retired.filter((r) => !r.subjects).map((r) => r.name);
  assert.deepEqual(sorted(whole), sorted(upstreamControllers.map((c) => `bosun:controller:${c}`)));
  const partial = retired.filter((r) => r.subjects);
  assert.deepEqual(partial, [{ kind: 'ClusterRoleBinding', name: 'bosun:system-namespaces', subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'system:kube-controller-manager' }] }]);
});

test('nothing retired is wanted (else reconciling would add and remove it on every start)', () => {
  const wanted = [...bootstrapPolicy().clusterRoleBindings, ...bosunPolicy().clusterRoleBindings];
  for (const r of retiredBosunPolicy()) {
    const b = wanted.find((w) => w.metadata.name === r.name);
    if (!r.subjects) assert.equal(b, undefined, r.name);
    else for (const s of r.subjects) assert.ok(!(b?.subjects ?? []).some((x) => x.kind === s.kind && x.name === s.name && (x.namespace ?? '') === (s.namespace ?? '')), r.name);
  }
});

const agentReads: [string, string][] = [['', 'services'], ['discovery.k8s.io', 'endpointslices'], ['', 'endpoints'], ['', 'pods'], ['', 'namespaces'], ['networking.k8s.io', 'networkpolicies']];
for (const [group, resource] of agentReads) {
  test(`bosun:node-agent can list and watch ${resource}${group ? `.${group}` : ''}, and not write them`, () => {
    const rules = bosunPolicy().clusterRoles.find((r) => r.metadata.name === 'bosun:node-agent')!.rules!;
    assert.equal(allows(rules, 'list', group, resource), true);
    assert.equal(allows(rules, 'watch', group, resource), true);
    assert.equal(allows(rules, 'update', group, resource), false);
  });
}

const provisionerCan: [string, string, string, boolean][] = [
  ['create', '', 'persistentvolumes', true],
  ['delete', '', 'persistentvolumes', true],
  ['patch', '', 'persistentvolumes', true],
  ['watch', '', 'persistentvolumes', true],
  ['update', '', 'persistentvolumes', false],
  ['list', '', 'persistentvolumeclaims', true],
  ['watch', '', 'persistentvolumeclaims', true],
  ['update', '', 'persistentvolumeclaims', false],
  ['list', 'storage.k8s.io', 'storageclasses', true],
  ['create', 'storage.k8s.io', 'storageclasses', false],
  ['create', '', 'events', true],
  ['patch', 'events.k8s.io', 'events', true],
  ['get', '', 'secrets', false],
];
for (const [verb, group, resource, want] of provisionerCan) {
  test(`bosun:local-path-provisioner ${want ? 'may' : 'may not'} ${verb} ${resource}${group ? `.${group}` : ''}`, () => {
    const rules = bosunPolicy().clusterRoles.find((r) => r.metadata.name === 'bosun:local-path-provisioner')!.rules!;
    assert.equal(allows(rules, verb, group, resource), want);
  });
}

test('each call returns fresh objects', () => {
  const a = bootstrapPolicy();
  a.clusterRoles[1]!.rules![0]!.verbs.push('mutated');
  a.clusterRoles[1]!.metadata.labels!['x'] = 'y';
  a.clusterRoleBindings.pop();
  const b = bootstrapPolicy();
  assert.deepEqual(b.clusterRoles[1]!.rules![0]!.verbs, ['*']);
  assert.equal(b.clusterRoles[1]!.metadata.labels!['x'], undefined);
  assert.equal(b.clusterRoleBindings.length, upstreamClusterRoleBindings.length + upstreamControllers.length);
  const c = bosunPolicy();
  c.clusterRoles[0]!.rules![0]!.resources!.push('secrets');
  assert.equal(bosunPolicy().clusterRoles[0]!.rules![0]!.resources!.includes('secrets'), false);
});
