/** Tests of RBAC escalation prevention: Covers, the refusal's wording, and the admission plugin. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterRole, ClusterRoleBinding, KubeObject, PolicyRule, Role, RoleBinding, Subject, UserInfo } from '../../api/index.ts';
import type { Operation, ResourceDef } from '../../api/resource.ts';
import { isForbidden, isNotFound, StatusError } from '../../api/errors.ts';
import { resources as rbacDefs } from '../../api/groups/rbac.ts';
import type { AdmissionAttributes } from '../admission/types.ts';
import { authorize, privilegedGroup as privilegedAuthorizer } from './index.ts';
import type { AuthorizationAttributes } from './index.ts';
import { createRbacSource, rbacAuthorizer } from './rbac.ts';
import type { RbacSource } from './rbac.ts';
import { compactRules, compactString, confirmNoEscalation, covers, isOnlyMutatingGCFields, rbacEscalationPlugin } from './escalation.ts';

// ---- builders ----

const R = (verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): PolicyRule =>
  resourceNames ? { verbs, apiGroups, resources, resourceNames } : { verbs, apiGroups, resources };
const U = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, nonResourceURLs });
const ref = (kind: string, name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });
const userSubject = (name: string): Subject => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name });
const clusterRole = (name: string, ...rules: PolicyRule[]): ClusterRole => ({ metadata: { name }, rules });
const role = (namespace: string, name: string, ...rules: PolicyRule[]): Role => ({ metadata: { namespace, name }, rules });
const crb = (name: string, roleName: string, user = 'jane'): ClusterRoleBinding => ({ metadata: { name }, roleRef: ref('ClusterRole', roleName), subjects: [userSubject(user)] });
const rb = (namespace: string, name: string, kind: 'Role' | 'ClusterRole', roleName: string, user = 'jane'): RoleBinding =>
  ({ metadata: { namespace, name }, roleRef: ref(kind, roleName), subjects: [userSubject(user)] });

const jane: UserInfo = { username: 'jane', groups: ['system:authenticated'] };

function source(objs: { clusterRoles?: ClusterRole[]; roles?: Role[]; crbs?: ClusterRoleBinding[]; rbs?: RoleBinding[] }): RbacSource {
  const fixed = (l: unknown[] | undefined) => () => ({ rv: 1, objects: (l ?? []) as KubeObject[] });
  return createRbacSource({ clusterRoles: fixed(objs.clusterRoles), roles: fixed(objs.roles), clusterRoleBindings: fixed(objs.crbs), roleBindings: fixed(objs.rbs) });
}

const def = (kind: string): ResourceDef => rbacDefs.find((d) => d.kind === kind)!;

type RbacObject = ClusterRole | Role | RoleBinding | ClusterRoleBinding | KubeObject;

function attrs(kind: string, op: Operation, obj: RbacObject, p: Omit<Partial<AdmissionAttributes>, 'oldObject'> & { oldObject?: RbacObject } = {}): AdmissionAttributes {
  const object = obj as KubeObject;
  return {
    operation: op,
    def: def(kind),
    version: 'v1',
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name ?? '',
    subresource: '',
    user: jane,
    dryRun: false,
    ...p,
    object,
    oldObject: p.oldObject as KubeObject | undefined,
  };
}

/** The plugin over the real authorizer chain (system:masters, then RBAC) on the same objects. */
function plugin(src: RbacSource, asked?: AuthorizationAttributes[]) {
  const authorizers = [privilegedAuthorizer, rbacAuthorizer(src)];
  return rbacEscalationPlugin(src, (a) => {
    asked?.push(a);
    return authorize(authorizers, a);
  });
}

async function refusal(p: Promise<void> | void): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StatusError, `not a StatusError: ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

// ---- covers ----

const coverCases: { name: string; owner: PolicyRule[]; servant: PolicyRule[]; missing: PolicyRule[] }[] = [
  { name: 'the same rule covers itself', owner: [R(['get', 'list'], [''], ['pods'])], servant: [R(['list', 'get'], [''], ['pods'])], missing: [] },
  { name: 'verb * covers any verb', owner: [R(['*'], [''], ['pods'])], servant: [R(['escalate'], [''], ['pods'])], missing: [] },
  { name: 'group * covers any group', owner: [R(['get'], ['*'], ['pods'])], servant: [R(['get'], ['apps', ''], ['pods'])], missing: [] },
  { name: 'resource * covers any resource and subresource', owner: [R(['get'], [''], ['*'])], servant: [R(['get'], [''], ['pods', 'pods/log'])], missing: [] },
  { name: '*/subresource covers that subresource', owner: [R(['get'], [''], ['*/status'])], servant: [R(['get'], [''], ['pods/status', 'nodes/status'])], missing: [] },
  { name: 'a resource does not cover its subresources', owner: [R(['get'], [''], ['pods'])], servant: [R(['get'], [''], ['pods/log'])], missing: [R(['get'], [''], ['pods/log'])] },
  {
    name: 'each uncovered verb, group and resource is listed',
    owner: [R(['get'], [''], ['pods'])],
    servant: [R(['get', 'delete'], ['', 'apps'], ['pods'])],
    missing: [R(['delete'], [''], ['pods']), R(['get'], ['apps'], ['pods']), R(['delete'], ['apps'], ['pods'])],
  },
  { name: 'rules covered by different owner rules', owner: [R(['get'], [''], ['pods']), R(['list'], [''], ['pods'])], servant: [R(['get', 'list'], [''], ['pods'])], missing: [] },
  { name: 'an owner rule without names covers named ones', owner: [R(['get'], [''], ['pods'])], servant: [R(['get'], [''], ['pods'], ['a'])], missing: [] },
  { name: 'an owner rule with names covers those names', owner: [R(['get'], [''], ['pods'], ['a', 'b'])], servant: [R(['get'], [''], ['pods'], ['b', 'c'])], missing: [R(['get'], [''], ['pods'], ['c'])] },
  { name: 'an owner rule with names does not cover all names', owner: [R(['get'], [''], ['pods'], ['a'])], servant: [R(['get'], [''], ['pods'])], missing: [R(['get'], [''], ['pods'])] },
  { name: 'a URL covers itself', owner: [U(['get'], ['/healthz'])], servant: [U(['get'], ['/healthz'])], missing: [] },
  { name: 'a URL with * covers by prefix', owner: [U(['get'], ['/healthz*'])], servant: [U(['get'], ['/healthz/etcd', '/healthzz'])], missing: [] },
  { name: 'a URL does not cover a longer one', owner: [U(['get'], ['/healthz'])], servant: [U(['get', 'post'], ['/healthz/etcd'])], missing: [U(['get'], ['/healthz/etcd']), U(['post'], ['/healthz/etcd'])] },
  { name: 'resource rules do not cover URLs', owner: [R(['*'], ['*'], ['*'])], servant: [U(['get'], ['/metrics'])], missing: [U(['get'], ['/metrics'])] },
  { name: 'URL rules do not cover resources', owner: [U(['*'], ['*'])], servant: [R(['get'], [''], ['pods'])], missing: [R(['get'], [''], ['pods'])] },
  { name: 'nothing is covered by no rules', owner: [], servant: [R(['get'], [''], ['pods'])], missing: [R(['get'], [''], ['pods'])] },
  { name: 'no rules are always covered', owner: [], servant: [], missing: [] },
];
for (const c of coverCases) {
  test(`covers: ${c.name}`, () => assert.deepEqual(covers(c.owner, c.servant), { covered: c.missing.length === 0, missing: c.missing }));
}

test('compactString: upstream field order and %q lists; empty fields left out', () => {
  assert.equal(compactString(R(['get', 'list'], ['', 'apps'], ['pods'], ['a'])), '{APIGroups:["" "apps"], Resources:["pods"], ResourceNames:["a"], Verbs:["get" "list"]}');
  assert.equal(compactString(U(['get'], ['/healthz'])), '{NonResourceURLs:["/healthz"], Verbs:["get"]}');
  assert.equal(compactString({ verbs: [] }), '{}');
});

test('compactRules: single group/resource rules merge their verbs; others stay', () => {
  const got = compactRules([R(['get'], [''], ['pods']), U(['get'], ['/x']), R(['list'], [''], ['pods']), R(['get'], [''], ['pods'], ['a']), R(['list'], [''], ['pods'], ['a']), R(['get'], [''], ['pods'], ['a', 'b'])]);
  assert.deepEqual(got, [U(['get'], ['/x']), R(['get'], [''], ['pods'], ['a', 'b']), R(['get', 'list'], [''], ['pods']), R(['get', 'list'], [''], ['pods'], ['a'])]);
});

test('confirmNoEscalation: undefined when covered; else the missing rules compacted, sorted, one a line', () => {
  const src = source({ clusterRoles: [clusterRole('view', R(['get'], [''], ['pods']))], crbs: [crb('v', 'view')] });
  assert.equal(confirmNoEscalation(src, jane, '', [R(['get'], [''], ['pods'])]), undefined);
  const msg = confirmNoEscalation(src, { username: 'jane', groups: ['system:authenticated', 'devs'] }, 'default', [
    R(['get', 'list', 'watch'], ['', 'apps'], ['pods', 'deployments']),
    U(['get'], ['/metrics']),
  ]);
  assert.equal(
    msg,
    'user "jane" (groups=["system:authenticated" "devs"]) is attempting to grant RBAC permissions not currently held:\n' +
      [
        '{APIGroups:[""], Resources:["deployments"], Verbs:["get" "list" "watch"]}',
        '{APIGroups:[""], Resources:["pods"], Verbs:["list" "watch"]}',
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list" "watch"]}',
        '{APIGroups:["apps"], Resources:["pods"], Verbs:["get" "list" "watch"]}',
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
      ].join('\n'),
  );
});

test('confirmNoEscalation: resolution errors of the user\'s own bindings are appended, worded as the registry', () => {
  const src = source({ crbs: [crb('broken', 'gone')], rbs: [rb('default', 'b', 'Role', 'nope')] });
  assert.equal(
    confirmNoEscalation(src, jane, 'default', [R(['get'], [''], ['pods'])]),
    'user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get"]}' +
      '; resolution errors: [[clusterroles.rbac.authorization.k8s.io "gone" not found, roles.rbac.authorization.k8s.io "nope" not found]]',
  );
});

// ---- the plugin: Roles and ClusterRoles ----

const podAdmin = clusterRole('pod-admin', R(['get', 'list', 'create'], [''], ['pods']));

test('Role: created when the user holds its rules in the namespace', async () => {
  const src = source({ clusterRoles: [podAdmin], rbs: [rb('default', 'pa', 'ClusterRole', 'pod-admin')] });
  await plugin(src).validate!(attrs('Role', 'CREATE', role('default', 'r', R(['get', 'create'], [''], ['pods']))));
});

test('Role: refused with upstream\'s message when it grants more', async () => {
  const src = source({ clusterRoles: [podAdmin], rbs: [rb('default', 'pa', 'ClusterRole', 'pod-admin')] });
  const err = await refusal(plugin(src).validate!(attrs('Role', 'CREATE', role('default', 'r', R(['get', 'delete'], [''], ['pods'])))));
  assert.equal(err.code, 403);
  assert.ok(isForbidden(err));
  assert.equal(
    err.message,
    'roles.rbac.authorization.k8s.io "r" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
  );
  assert.deepEqual(err.status.details, { name: 'r', group: 'rbac.authorization.k8s.io', kind: 'roles' });
});

test('Role: rules held only in another namespace do not count', async () => {
  const src = source({ clusterRoles: [podAdmin], rbs: [rb('other', 'pa', 'ClusterRole', 'pod-admin')] });
  await refusal(plugin(src).validate!(attrs('Role', 'CREATE', role('default', 'r', R(['get'], [''], ['pods'])))));
});

test('Role: system:masters may grant anything', async () => {
  const src = source({});
  const user = { username: 'admin', groups: ['system:masters', 'system:authenticated'] };
  await plugin(src).validate!(attrs('Role', 'CREATE', role('default', 'r', R(['*'], ['*'], ['*'])), { user }));
});

test('Role: the escalate verb allows anything; asked without a name on create, with it on update', async () => {
  const src = source({ clusterRoles: [clusterRole('esc', R(['escalate'], ['rbac.authorization.k8s.io'], ['roles']))], rbs: [rb('default', 'e', 'ClusterRole', 'esc')] });
  const asked: AuthorizationAttributes[] = [];
  const big = role('default', 'r', R(['*'], ['*'], ['*']));
  await plugin(src, asked).validate!(attrs('Role', 'CREATE', big));
  await plugin(src, asked).validate!(attrs('Role', 'UPDATE', big, { oldObject: role('default', 'r') }));
  assert.deepEqual(asked.map((a) => [a.verb, a.apiGroup, a.apiVersion, a.resource, a.namespace, a.name]), [
    ['escalate', 'rbac.authorization.k8s.io', '*', 'roles', 'default', ''],
    ['escalate', 'rbac.authorization.k8s.io', '*', 'roles', 'default', 'r'],
  ]);
});

test('Role: escalate limited by resourceNames does not help a create (no name is asked)', async () => {
  const src = source({ clusterRoles: [clusterRole('esc', R(['escalate'], ['rbac.authorization.k8s.io'], ['roles'], ['r']))], rbs: [rb('default', 'e', 'ClusterRole', 'esc')] });
  const big = role('default', 'r', R(['delete'], [''], ['pods']));
  await refusal(plugin(src).validate!(attrs('Role', 'CREATE', big)));
  await plugin(src).validate!(attrs('Role', 'UPDATE', big, { oldObject: role('default', 'r') }));
});

test('Role: an update that only changes finalizers and ownerReferences is not checked', async () => {
  const src = source({});
  const old = { ...role('default', 'r', R(['*'], ['*'], ['*'])), metadata: { namespace: 'default', name: 'r', resourceVersion: '5', finalizers: ['x'] } };
  const next = { ...old, metadata: { ...old.metadata, resourceVersion: '', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: 'u' }], finalizers: [] } };
  await plugin(src).validate!(attrs('Role', 'UPDATE', next, { oldObject: old }));
  const changed = { ...next, metadata: { ...next.metadata, labels: { a: 'b' } } };
  await refusal(plugin(src).validate!(attrs('Role', 'UPDATE', changed, { oldObject: old })));
});

test('ClusterRole: only cluster-wide rules count', async () => {
  const src = source({ clusterRoles: [podAdmin], rbs: [rb('default', 'pa', 'ClusterRole', 'pod-admin')] });
  const err = await refusal(plugin(src).validate!(attrs('ClusterRole', 'CREATE', clusterRole('c', R(['get'], [''], ['pods'])))));
  assert.equal(
    err.message,
    'clusterroles.rbac.authorization.k8s.io "c" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get"]}',
  );
  const cluster = source({ clusterRoles: [podAdmin], crbs: [crb('pa', 'pod-admin')] });
  await plugin(cluster).validate!(attrs('ClusterRole', 'CREATE', clusterRole('c', R(['get'], [''], ['pods']))));
});

test('ClusterRole: an aggregationRule needs * on everything', async () => {
  const aggregated: ClusterRole = { metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: 'b' } }] }, rules: [] };
  // Everything in the core group (not `escalate` on clusterroles, which would skip every check).
  const partial = source({ clusterRoles: [clusterRole('core', R(['*'], [''], ['*']))], crbs: [crb('core', 'core')] });
  const err = await refusal(plugin(partial).validate!(attrs('ClusterRole', 'CREATE', aggregated as KubeObject)));
  assert.equal(err.message, 'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin privileges to use the aggregationRule');
  // Removing the aggregationRule on update is checked too.
  await refusal(plugin(partial).validate!(attrs('ClusterRole', 'UPDATE', clusterRole('agg') as KubeObject, { oldObject: aggregated as KubeObject })));
  const admin = source({ clusterRoles: [clusterRole('cluster-admin', R(['*'], ['*'], ['*']), U(['*'], ['*']))], crbs: [crb('admin', 'cluster-admin')] });
  await plugin(admin).validate!(attrs('ClusterRole', 'CREATE', aggregated as KubeObject));
  // An empty selector list is no aggregationRule.
  await plugin(partial).validate!(attrs('ClusterRole', 'CREATE', { metadata: { name: 'e' }, aggregationRule: { clusterRoleSelectors: [] } }));
});

// ---- the plugin: bindings ----

test('RoleBinding: allowed by bind on the role, asked with its name in the binding\'s namespace', async () => {
  const src = source({
    clusterRoles: [clusterRole('binder', R(['bind'], ['rbac.authorization.k8s.io'], ['clusterroles'], ['admin'])), clusterRole('admin', R(['*'], ['*'], ['*']))],
    rbs: [rb('default', 'b', 'ClusterRole', 'binder')],
  });
  const asked: AuthorizationAttributes[] = [];
  await plugin(src, asked).validate!(attrs('RoleBinding', 'CREATE', rb('default', 'x', 'ClusterRole', 'admin', 'bob')));
  assert.deepEqual(asked.map((a) => [a.verb, a.apiGroup, a.resource, a.namespace, a.name]), [['bind', 'rbac.authorization.k8s.io', 'clusterroles', 'default', 'admin']]);
  // bind on another role's name does not help, and the user does not hold the rules.
  const err = await refusal(plugin(src).validate!(attrs('RoleBinding', 'CREATE', rb('default', 'x', 'ClusterRole', 'binder-too', 'bob'))));
  assert.ok(isNotFound(err));
  assert.equal(err.message, 'clusterroles.rbac.authorization.k8s.io "binder-too" not found');
});

test('RoleBinding: allowed when the user holds the referenced role\'s rules; else refused as rolebindings', async () => {
  const src = source({
    clusterRoles: [podAdmin],
    roles: [role('default', 'reader', R(['get'], [''], ['pods'])), role('default', 'deleter', R(['delete'], [''], ['pods']))],
    rbs: [rb('default', 'pa', 'ClusterRole', 'pod-admin')],
  });
  await plugin(src).validate!(attrs('RoleBinding', 'CREATE', rb('default', 'x', 'Role', 'reader', 'bob')));
  const err = await refusal(plugin(src).validate!(attrs('RoleBinding', 'CREATE', rb('default', 'x', 'Role', 'deleter', 'bob'))));
  assert.equal(
    err.message,
    'rolebindings.rbac.authorization.k8s.io "x" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
  );
});

test('RoleBinding: a Role that does not exist is NotFound as the registry words it', async () => {
  const err = await refusal(plugin(source({})).validate!(attrs('RoleBinding', 'CREATE', rb('default', 'x', 'Role', 'nope', 'bob'))));
  assert.equal(err.code, 404);
  assert.equal(err.message, 'roles.rbac.authorization.k8s.io "nope" not found');
});

test('RoleBinding: an update that only changes GC fields is not checked', async () => {
  const old = rb('default', 'x', 'Role', 'nope', 'bob');
  await plugin(source({})).validate!(attrs('RoleBinding', 'UPDATE', { ...old, metadata: { ...old.metadata, finalizers: ['f'] } }, { oldObject: old }));
});

test('ClusterRoleBinding: bind must be held cluster-wide', async () => {
  const binder = clusterRole('binder', R(['bind'], ['rbac.authorization.k8s.io'], ['clusterroles']));
  const admin = clusterRole('admin', R(['*'], ['*'], ['*']));
  const nsOnly = source({ clusterRoles: [binder, admin], rbs: [rb('default', 'b', 'ClusterRole', 'binder')] });
  const err = await refusal(plugin(nsOnly).validate!(attrs('ClusterRoleBinding', 'CREATE', crb('x', 'admin', 'bob'))));
  assert.equal(
    err.message,
    'clusterrolebindings.rbac.authorization.k8s.io "x" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}',
  );
  const cluster = source({ clusterRoles: [binder, admin], crbs: [crb('b', 'binder')] });
  await plugin(cluster).validate!(attrs('ClusterRoleBinding', 'CREATE', crb('x', 'admin', 'bob')));
});

test('ClusterRoleBinding: allowed when the user holds the ClusterRole\'s rules cluster-wide', async () => {
  const src = source({ clusterRoles: [podAdmin, clusterRole('view', R(['get'], [''], ['pods']))], crbs: [crb('pa', 'pod-admin')] });
  await plugin(src).validate!(attrs('ClusterRoleBinding', 'CREATE', crb('x', 'view', 'bob')));
});

test('other kinds, other groups, deletes and subresources are not looked at', async () => {
  const p = plugin(source({}));
  const big = role('default', 'r', R(['*'], ['*'], ['*']));
  await p.validate!(attrs('Role', 'DELETE', big, { oldObject: big }));
  await p.validate!(attrs('Role', 'CREATE', big, { subresource: 'status' }));
  await p.validate!(attrs('Role', 'CREATE', big, { def: { ...def('Role'), group: 'example.com' } }));
});

test('isOnlyMutatingGCFields: missing, null and empty are the same', () => {
  const old: KubeObject = { metadata: { name: 'a', labels: {} }, rules: [] };
  assert.equal(isOnlyMutatingGCFields({ metadata: { name: 'a', finalizers: ['x'] } }, old), true);
  assert.equal(isOnlyMutatingGCFields({ metadata: { name: 'a' }, rules: [R(['get'], [''], ['pods'])] }, old), false);
});
