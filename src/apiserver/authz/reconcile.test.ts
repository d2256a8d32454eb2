/**
 * Reconciling the bootstrap policy: the pure decisions for roles and bindings as tables, then
 * the start-up pass over an in-memory store with etcd-like resourceVersion checks (create of an
 * existing object fails, update at a stale version conflicts): everything created once, nothing
 * written on a second run, user changes kept, protected objects left, races retried, failures
 * contained; what an older Bosun made and this one retires is removed, from Bosun's objects only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import { alreadyExists, notFound, staleConflict, statusError } from '../../api/errors.ts';
import { bootstrapPolicy, bosunPolicy, retiredBosunPolicy, type Policy } from './bootstrappolicy.ts';
import { concatPolicies, maxReconcileAttempts, reconcileBinding, reconcileBootstrapPolicy, reconcileRole, type PolicyKind, type ReconcileIO } from './reconcile.ts';

const labels = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const annotations = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };
const rbac = 'rbac.authorization.k8s.io';

function cr(name: string, rules?: PolicyRule[], o: { labels?: Record<string, string>; annotations?: Record<string, string>; aggregate?: string[]; rv?: string } = {}): ClusterRole {
  const r: ClusterRole = { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name, labels: o.labels ?? { ...labels }, annotations: o.annotations ?? { ...annotations } } };
  if (o.rv) r.metadata.resourceVersion = o.rv;
  if (o.aggregate) r.aggregationRule = { clusterRoleSelectors: o.aggregate.map((l) => ({ matchLabels: { [l]: 'true' } })) };
  if (rules) r.rules = rules;
  return r;
}

const podsRead: PolicyRule = { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] };

interface RoleCase {
  name: string;
  existing: ClusterRole | undefined;
  wanted: ClusterRole;
  action: 'none' | 'create' | 'update';
  protected?: boolean;
  rules?: PolicyRule[];
  labels?: Record<string, string>;
  aggregationRule?: ClusterRole['aggregationRule'] | null;
}

const roleCases: RoleCase[] = [
  { name: 'a missing role is created as wanted', existing: undefined, wanted: cr('r', [podsRead]), action: 'create', rules: [podsRead] },
  { name: 'an equal role needs nothing', existing: cr('r', [podsRead], { rv: '5' }), wanted: cr('r', [podsRead]), action: 'none', rules: [podsRead] },
  {
    name: 'a missing verb is appended as a broken-down rule, the user\'s own rules kept',
    existing: cr('r', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, { verbs: ['delete'], apiGroups: ['apps'], resources: ['deployments'] }]),
    wanted: cr('r', [podsRead]),
    action: 'update',
    rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, { verbs: ['delete'], apiGroups: ['apps'], resources: ['deployments'] }, { verbs: ['list'], apiGroups: [''], resources: ['pods'] }],
  },
  { name: 'a rule granted by a wildcard rule is not missing', existing: cr('r', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]), wanted: cr('r', [podsRead]), action: 'none' },
  { name: 'a subresource granted by */subresource is not missing', existing: cr('r', [{ verbs: ['get'], apiGroups: [''], resources: ['*/status'] }]), wanted: cr('r', [{ verbs: ['get'], apiGroups: [''], resources: ['pods/status'] }]), action: 'none' },
  { name: 'a URL granted by a prefix star is not missing', existing: cr('r', [{ verbs: ['get'], nonResourceURLs: ['/apis/*'] }]), wanted: cr('r', [{ verbs: ['get'], nonResourceURLs: ['/apis/apps'] }]), action: 'none' },
  {
    name: 'a missing label is added, a label the user changed keeps the user\'s value',
    existing: cr('r', [podsRead], { labels: { 'kubernetes.io/bootstrapping': 'mine', team: 'a' } }),
    wanted: cr('r', [podsRead], { labels: { ...labels, extra: 'x' } }),
    action: 'update',
    labels: { extra: 'x', 'kubernetes.io/bootstrapping': 'mine', team: 'a' },
  },
  { name: 'a missing annotation is added', existing: cr('r', [podsRead], { annotations: {} }), wanted: cr('r', [podsRead]), action: 'update' },
  { name: 'autoupdate "false" protects a role that lacks rules', existing: cr('r', [], { annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } }), wanted: cr('r', [podsRead]), action: 'none', protected: true, rules: [] },
  { name: 'autoupdate "false" on a role that lacks nothing is not reported', existing: cr('r', [podsRead], { annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } }), wanted: cr('r', [podsRead]), action: 'none', protected: false },
  {
    name: 'a missing aggregationRule is set; the aggregated rules already there are kept',
    existing: cr('admin', [podsRead]),
    wanted: cr('admin', undefined, { aggregate: ['agg-admin'] }),
    action: 'update',
    rules: [podsRead],
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'agg-admin': 'true' } }] },
  },
  {
    name: 'a selector the user added to an aggregated role is kept',
    existing: cr('admin', [podsRead], { aggregate: ['agg-admin', 'mine'] }),
    wanted: cr('admin', undefined, { aggregate: ['agg-admin'] }),
    action: 'none',
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'agg-admin': 'true' } }, { matchLabels: { mine: 'true' } }] },
  },
  {
    name: 'a missing selector is appended after the existing ones',
    existing: cr('admin', undefined, { aggregate: ['mine'] }),
    wanted: cr('admin', undefined, { aggregate: ['agg-admin'] }),
    action: 'update',
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { mine: 'true' } }, { matchLabels: { 'agg-admin': 'true' } }] },
  },
  {
    name: 'an aggregationRule on a role the policy does not aggregate is removed (as upstream), its rules restored',
    existing: cr('system:node', [], { aggregate: ['x'] }),
    wanted: cr('system:node', [podsRead]),
    action: 'update',
    rules: [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }, { verbs: ['list'], apiGroups: [''], resources: ['pods'] }],
    aggregationRule: null,
  },
];

for (const c of roleCases) {
  test(`role: ${c.name}`, () => {
    const before = structuredClone(c.existing);
    const d = reconcileRole(c.existing, c.wanted);
    assert.equal(d.action, c.action);
    assert.equal(d.protected, c.protected ?? false);
    if (c.rules) assert.deepEqual(d.object.rules ?? [], c.rules);
    if (c.labels) assert.deepEqual(d.object.metadata.labels, c.labels);
    if (c.aggregationRule !== undefined) assert.deepEqual(d.object.aggregationRule, c.aggregationRule ?? undefined);
    assert.deepEqual(c.existing, before, 'existing is not modified');
    if (c.existing && c.action !== 'create') assert.equal(d.object.metadata.resourceVersion, c.existing.metadata.resourceVersion);
    // Applying the decision again finds nothing more to do.
    if (d.action !== 'none') assert.equal(reconcileRole(d.object, c.wanted).action, 'none');
  });
}

function crb(name: string, subjects: ClusterRoleBinding['subjects'], o: { role?: string; annotations?: Record<string, string> } = {}): ClusterRoleBinding {
  const b: ClusterRoleBinding = { apiVersion: `${rbac}/v1`, kind: 'ClusterRoleBinding', metadata: { name, labels: { ...labels }, annotations: o.annotations ?? { ...annotations } }, roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: o.role ?? name } };
  if (subjects) b.subjects = subjects;
  return b;
}

const nodes = { kind: 'Group', apiGroup: rbac, name: 'system:nodes' };
const alice = { kind: 'User', apiGroup: rbac, name: 'alice' };
const sa = { kind: 'ServiceAccount', name: 'x', namespace: 'kube-system' };

const bindingCases: { name: string; existing: ClusterRoleBinding | undefined; wanted: ClusterRoleBinding; action: string; protected?: boolean; subjects?: unknown }[] = [
  { name: 'a missing binding is created', existing: undefined, wanted: crb('b', [nodes]), action: 'create', subjects: [nodes] },
  { name: 'the same subjects need nothing', existing: crb('b', [nodes]), wanted: crb('b', [nodes]), action: 'none' },
  { name: 'defaulted apiGroups compare equal to absent ones', existing: crb('b', [{ ...sa, apiGroup: '' }, { kind: 'Group', apiGroup: rbac, name: 'g' }]), wanted: crb('b', [sa, { kind: 'Group', name: 'g' }]), action: 'none' },
  { name: 'a missing subject is appended, the user\'s subjects kept', existing: crb('b', [alice]), wanted: crb('b', [nodes]), action: 'update', subjects: [alice, nodes] },
  { name: 'a binding without subjects gets them', existing: crb('b', undefined), wanted: crb('b', [sa]), action: 'update', subjects: [sa] },
  { name: 'a binding upstream leaves without subjects keeps the user\'s', existing: crb('system:node', [alice]), wanted: crb('system:node', undefined), action: 'none', subjects: [alice] },
  { name: 'another roleRef means recreate as wanted', existing: crb('b', [alice], { role: 'other' }), wanted: crb('b', [nodes]), action: 'recreate', subjects: [nodes] },
  { name: 'autoupdate "false" protects a binding that lacks subjects', existing: crb('b', [alice], { annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } }), wanted: crb('b', [nodes]), action: 'none', protected: true, subjects: [alice] },
  { name: 'autoupdate "false" protects a binding with another roleRef', existing: crb('b', [], { role: 'other', annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } }), wanted: crb('b', [nodes]), action: 'none', protected: true },
];

for (const c of bindingCases) {
  test(`binding: ${c.name}`, () => {
    const before = structuredClone(c.existing);
    const d = reconcileBinding(c.existing, c.wanted);
    assert.equal(d.action, c.action);
    assert.equal(d.protected, c.protected ?? false);
    if (c.subjects) assert.deepEqual(d.object.subjects, c.subjects);
    assert.deepEqual(c.existing, before, 'existing is not modified');
    if (d.action === 'update') assert.equal(reconcileBinding(d.object, c.wanted).action, 'none');
  });
}

test('binding: a namespaced RoleBinding reconciles the same way', () => {
  const rb = (subjects: RoleBinding['subjects']): RoleBinding => ({ metadata: { name: 'b', namespace: 'kube-system', labels: { ...labels }, annotations: { ...annotations } }, roleRef: { apiGroup: rbac, kind: 'Role', name: 'r' }, subjects });
  const d = reconcileBinding(rb([alice]), rb([alice, sa]));
  assert.equal(d.action, 'update');
  assert.deepEqual(d.object.subjects, [alice, sa]);
  assert.equal(d.object.metadata.namespace, 'kube-system');
});

// ---- the start-up pass over an in-memory store ---------------------------------------------------

const plural: Record<PolicyKind, string> = { ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings' };

/** Objects by kind/namespace/name with etcd-like writes; `writes` counts creates, updates and deletes. */
class MemoryIO implements ReconcileIO {
  objects = new Map<string, KubeObject>();
  writes = 0;
  #rv = 0;
  /** Called before each write; may throw to simulate a failure or a lost race. */
  beforeWrite: (op: string, kind: PolicyKind, obj: KubeObject) => void = () => {};

  key(kind: PolicyKind, ns: string, name: string) {
    return `${kind}/${ns}/${name}`;
  }
  async get(kind: PolicyKind, ns: string, name: string) {
    const o = this.objects.get(this.key(kind, ns, name));
    return o && structuredClone(o);
  }
  async create(kind: PolicyKind, obj: KubeObject) {
    this.beforeWrite('create', kind, obj);
    const k = this.key(kind, obj.metadata.namespace ?? '', obj.metadata.name!);
    if (this.objects.has(k)) throw alreadyExists({ group: rbac, resource: plural[kind] }, obj.metadata.name!);
    this.put(k, obj);
  }
  async update(kind: PolicyKind, obj: KubeObject) {
    this.beforeWrite('update', kind, obj);
    const k = this.key(kind, obj.metadata.namespace ?? '', obj.metadata.name!);
    const cur = this.objects.get(k);
    if (!cur) throw notFound({ group: rbac, resource: plural[kind] }, obj.metadata.name!);
    if (cur.metadata.resourceVersion !== obj.metadata.resourceVersion) throw staleConflict({ group: rbac, resource: plural[kind] }, obj.metadata.name!);
    this.put(k, obj);
  }
  async delete(kind: PolicyKind, ns: string, name: string) {
    this.writes++;
    this.objects.delete(this.key(kind, ns, name));
  }
  put(k: string, obj: KubeObject) {
    this.writes++;
    const o = structuredClone(obj);
    o.metadata.resourceVersion = String(++this.#rv);
    this.objects.set(k, o);
  }
  seed(kind: PolicyKind, obj: object) {
    const o = obj as KubeObject;
    this.put(this.key(kind, o.metadata.namespace ?? '', o.metadata.name!), o);
    this.writes = 0;
  }
}

const total = (p: Policy) => p.clusterRoles.length + p.clusterRoleBindings.length + p.roles.length + p.roleBindings.length;

test('the first run creates every object of upstream\'s and Bosun\'s policy; a second run writes nothing', async () => {
  const io = new MemoryIO();
  const logs: string[] = [];
  const policy = concatPolicies(bootstrapPolicy(), bosunPolicy());
  const first = await reconcileBootstrapPolicy(io, (m) => logs.push(m));
  assert.equal(first.created, total(policy));
  assert.deepEqual(first.failed, []);
  assert.equal(io.objects.size, total(policy));
  assert.ok(logs.includes('created clusterrole.rbac.authorization.k8s.io/cluster-admin'));
  assert.ok(logs.includes('created role.rbac.authorization.k8s.io/extension-apiserver-authentication-reader in kube-system'));
  assert.ok(logs.includes('created clusterrolebinding.rbac.authorization.k8s.io/bosun:node-proxier'));
  assert.ok(io.objects.has('RoleBinding/kube-public/system:controller:bootstrap-signer'));
  io.writes = 0;
  const second = await reconcileBootstrapPolicy(io, () => {});
  assert.equal(io.writes, 0);
  assert.equal(second.unchanged, total(policy));
});

test('a user\'s changes are repaired without removing what the user added', async () => {
  const io = new MemoryIO();
  const view = bootstrapPolicy().clusterRoles.find((r) => r.metadata.name === 'system:aggregate-to-view')!;
  const mine: PolicyRule = { verbs: ['get'], apiGroups: ['example.com'], resources: ['widgets'] };
  io.seed('ClusterRole', { ...view, metadata: { ...view.metadata, labels: { ...view.metadata.labels, team: 'a' } }, rules: [view.rules![0], mine] });
  io.seed('ClusterRoleBinding', crb('cluster-admin', [alice]));
  const logs: string[] = [];
  const sum = await reconcileBootstrapPolicy(io, (m) => logs.push(m), { policy: { ...bootstrapPolicy(), roles: [], roleBindings: [] } });
  assert.equal(sum.updated, 2);
  const role = io.objects.get('ClusterRole//system:aggregate-to-view') as ClusterRole;
  assert.deepEqual(role.rules![0], view.rules![0]);
  assert.deepEqual(role.rules![1], mine);
  assert.equal(role.metadata.labels!['team'], 'a');
  assert.equal(role.metadata.labels!['rbac.authorization.k8s.io/aggregate-to-view'], 'true');
  const binding = io.objects.get('ClusterRoleBinding//cluster-admin') as ClusterRoleBinding;
  assert.deepEqual(binding.subjects, [alice, { kind: 'Group', apiGroup: rbac, name: 'system:masters' }]);
  assert.ok(logs.some((l) => l.startsWith('updated clusterrole.rbac.authorization.k8s.io/system:aggregate-to-view with additional permissions: ')));
  assert.ok(logs.some((l) => l.startsWith('updated clusterrolebinding.rbac.authorization.k8s.io/cluster-admin with additional subjects: ')));
  // Every wanted rule is now covered: a second pass adds nothing.
  io.writes = 0;
  await reconcileBootstrapPolicy(io, () => {}, { policy: { ...bootstrapPolicy(), roles: [], roleBindings: [] } });
  assert.equal(io.writes, 0);
});

test('a protected object is left as it is and reported', async () => {
  const io = new MemoryIO();
  io.seed('ClusterRole', cr('system:node', [], { annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } }));
  const logs: string[] = [];
  const sum = await reconcileBootstrapPolicy(io, (m) => logs.push(m), { policy: { clusterRoles: bootstrapPolicy().clusterRoles.filter((r) => r.metadata.name === 'system:node'), clusterRoleBindings: [], roles: [], roleBindings: [] } });
  assert.equal(sum.protected, 1);
  assert.equal(io.writes, 0);
  assert.ok(logs[0]!.startsWith('skipped reconcile-protected clusterrole.rbac.authorization.k8s.io/system:node with missing permissions: '));
});

test('a binding with another roleRef is deleted and created again', async () => {
  const io = new MemoryIO();
  io.seed('ClusterRoleBinding', crb('system:kube-dns', [alice], { role: 'cluster-admin' }));
  const logs: string[] = [];
  const sum = await reconcileBootstrapPolicy(io, (m) => logs.push(m), { policy: { clusterRoles: [], clusterRoleBindings: bootstrapPolicy().clusterRoleBindings.filter((b) => b.metadata.name === 'system:kube-dns'), roles: [], roleBindings: [] } });
  assert.equal(sum.recreated, 1);
  const b = io.objects.get('ClusterRoleBinding//system:kube-dns') as ClusterRoleBinding;
  assert.equal(b.roleRef.name, 'system:kube-dns');
  assert.deepEqual(logs, ['recreated clusterrolebinding.rbac.authorization.k8s.io/system:kube-dns']);
});

test('without delete, a binding with another roleRef is reported as failed and the rest goes on', async () => {
  const io = new MemoryIO();
  io.seed('ClusterRoleBinding', crb('system:kube-dns', [alice], { role: 'cluster-admin' }));
  const { delete: _unused, ...noDelete } = { delete: io.delete, get: io.get.bind(io), create: io.create.bind(io), update: io.update.bind(io) };
  const logs: string[] = [];
  const sum = await reconcileBootstrapPolicy(noDelete, (m) => logs.push(m), { policy: { clusterRoles: [], clusterRoleBindings: bootstrapPolicy().clusterRoleBindings.filter((b) => ['system:kube-dns', 'system:monitoring'].includes(b.metadata.name!)), roles: [], roleBindings: [] } });
  assert.deepEqual(sum.failed, ['ClusterRoleBinding//system:kube-dns']);
  assert.equal(sum.created, 1);
  assert.match(logs[0]!, /^unable to reconcile clusterrolebinding\.rbac\.authorization\.k8s\.io\/system:kube-dns: /);
});

test('a write that loses a race is retried from a fresh read', async () => {
  const io = new MemoryIO();
  io.seed('ClusterRole', cr('system:kube-dns', []));
  let raced = false;
  io.beforeWrite = (op, kind, obj) => {
    if (op === 'update' && !raced) {
      raced = true;
      // Someone else labels the stored object first: the reconciler's copy is now stale.
      const cur = io.objects.get(io.key(kind, '', obj.metadata.name!))!;
      io.seed(kind, { ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, other: 'writer' } } });
    }
  };
  const sum = await reconcileBootstrapPolicy(io, () => {}, { policy: { clusterRoles: bootstrapPolicy().clusterRoles.filter((r) => r.metadata.name === 'system:kube-dns'), clusterRoleBindings: [], roles: [], roleBindings: [] } });
  assert.equal(sum.updated, 1);
  const role = io.objects.get('ClusterRole//system:kube-dns') as ClusterRole;
  assert.equal(role.metadata.labels!['other'], 'writer');
  assert.equal(role.rules!.length, 4); // list and watch of endpoints and services, broken down
});

test(`a race lost ${maxReconcileAttempts} times, or another error, fails that object only`, async () => {
  const io = new MemoryIO();
  let attempts = 0;
  io.beforeWrite = (_op, _kind, obj) => {
    if (obj.metadata.name === 'system:kube-dns') {
      attempts++;
      throw staleConflict({ group: rbac, resource: 'clusterroles' }, 'system:kube-dns');
    }
    if (obj.metadata.name === 'system:monitoring') throw statusError('InternalError', 'disk full');
  };
  const logs: string[] = [];
  const pick = ['system:kube-dns', 'system:monitoring', 'system:heapster'];
  const sum = await reconcileBootstrapPolicy(io, (m) => logs.push(m), { policy: { clusterRoles: bootstrapPolicy().clusterRoles.filter((r) => pick.includes(r.metadata.name!)), clusterRoleBindings: [], roles: [], roleBindings: [] } });
  assert.equal(attempts, maxReconcileAttempts);
  assert.deepEqual(sum.failed, ['ClusterRole//system:kube-dns', 'ClusterRole//system:monitoring']);
  assert.equal(sum.created, 1);
  assert.ok(io.objects.has('ClusterRole//system:heapster'));
  assert.ok(logs.includes('unable to reconcile clusterrole.rbac.authorization.k8s.io/system:monitoring: disk full'));
});

// ---- what an older Bosun made ----------------------------------------------------------------------

const kcm = { kind: 'User', apiGroup: rbac, name: 'system:kube-controller-manager' };
const controllerRoleNames = bootstrapPolicy().clusterRoles.map((r) => r.metadata.name!).filter((n) => n.startsWith('system:controller:'));
/** The single-identity bindings older Bosun made: bosun:controller:<name> → system:controller:<name>, to the manager's user. */
const oldControllerBindings = () => controllerRoleNames.map((r) => crb(`bosun:controller:${r.slice('system:controller:'.length)}`, [kcm], { role: r }));

test("an older Bosun's cluster: its single-identity bindings are deleted, the manager's user leaves bosun:system-namespaces, and the result is a fresh cluster's", async () => {
  const old = new MemoryIO();
  for (const b of oldControllerBindings()) old.seed('ClusterRoleBinding', b);
  old.seed('ClusterRoleBinding', crb('bosun:system-namespaces', [kcm]));
  const logs: string[] = [];
  const sum = await reconcileBootstrapPolicy(old, (m) => logs.push(m));
  assert.deepEqual(sum.failed, []);
  assert.equal(sum.retired, controllerRoleNames.length + 1);
  assert.deepEqual([...old.objects.keys()].filter((k) => k.includes('bosun:controller:')), []);
  assert.ok(logs.includes('deleted clusterrolebinding.rbac.authorization.k8s.io/bosun:controller:deployment-controller: no longer wanted'));
  assert.ok(logs.includes(`updated clusterrolebinding.rbac.authorization.k8s.io/bosun:system-namespaces: removed retired subjects ${JSON.stringify([kcm])}`));
  const fresh = new MemoryIO();
  await reconcileBootstrapPolicy(fresh, () => {});
  const strip = (io: MemoryIO) => new Map([...io.objects].map(([k, o]) => [k, { ...o, metadata: { ...o.metadata, resourceVersion: undefined } }]));
  assert.deepEqual(strip(old), strip(fresh));
  old.writes = 0;
  const second = await reconcileBootstrapPolicy(old, () => {});
  assert.equal(old.writes, 0);
  assert.equal(second.retired, 0);
});

test("a retired name on a user's own binding (no bootstrapping label) is left; a protected one is left and reported", async () => {
  const io = new MemoryIO();
  const [mine, kept] = oldControllerBindings();
  delete mine!.metadata.labels;
  io.seed('ClusterRoleBinding', mine!);
  io.seed('ClusterRoleBinding', { ...kept!, metadata: { ...kept!.metadata, annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'false' } } });
  const logs: string[] = [];
  const sum = await reconcileBootstrapPolicy(io, (m) => logs.push(m), { policy: { clusterRoles: [], clusterRoleBindings: [], roles: [], roleBindings: [] } });
  assert.equal(io.writes, 0);
  assert.deepEqual([sum.retired, sum.protected], [0, 1]);
  assert.deepEqual(logs, [`skipped reconcile-protected clusterrolebinding.rbac.authorization.k8s.io/${kept!.metadata.name}: it is no longer wanted but stays`]);
});

test('a retired subject is removed only from its binding; a binding whose subjects are all retired stays, without subjects', async () => {
  const io = new MemoryIO();
  io.seed('ClusterRoleBinding', crb('bosun:system-namespaces', [kcm]));
  io.seed('ClusterRoleBinding', crb('other', [kcm]));
  const retired = retiredBosunPolicy().filter((r) => r.subjects);
  const sum = await reconcileBootstrapPolicy(io, () => {}, { policy: { clusterRoles: [], clusterRoleBindings: [], roles: [], roleBindings: [] }, retired });
  assert.equal(sum.retired, 1);
  assert.equal((io.objects.get('ClusterRoleBinding//bosun:system-namespaces') as ClusterRoleBinding).subjects, undefined);
  assert.deepEqual((io.objects.get('ClusterRoleBinding//other') as ClusterRoleBinding).subjects, [kcm]);
});

test('without delete, a retired binding is reported as failed and the rest goes on', async () => {
  const io = new MemoryIO();
  const [first, second] = oldControllerBindings();
  io.seed('ClusterRoleBinding', first!);
  io.seed('ClusterRoleBinding', crb('bosun:system-namespaces', [kcm, sa]));
  const { delete: _unused, ...noDelete } = { delete: io.delete, get: io.get.bind(io), create: io.create.bind(io), update: io.update.bind(io) };
  const logs: string[] = [];
  const sum = await reconcileBootstrapPolicy(noDelete, (m) => logs.push(m), { policy: { clusterRoles: [], clusterRoleBindings: [], roles: [], roleBindings: [] } });
  assert.deepEqual(sum.failed, [`ClusterRoleBinding//${first!.metadata.name}`]);
  assert.equal(sum.retired, 1);
  assert.deepEqual((io.objects.get('ClusterRoleBinding//bosun:system-namespaces') as ClusterRoleBinding).subjects, [sa]);
  assert.ok(!io.objects.has(`ClusterRoleBinding//${second!.metadata.name}`));
  assert.match(logs[0]!, /^unable to reconcile clusterrolebinding\.rbac\.authorization\.k8s\.io\/bosun:controller:[a-z-]+: it is no longer wanted and cannot be deleted here$/);
});
