/** Tests of the RBAC authorizer: rule matching, subjects, reasons, the source's cache, rulesFor. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterRole, ClusterRoleBinding, KubeObject, PolicyRule, Role, RoleBinding, Subject, UserInfo } from '../../api/index.ts';
import type { AuthorizationAttributes } from './index.ts';
import { aggregateMessage, createRbacSource, goQuote, rbacAuthorizer, ruleAllows, rulesFor, toRulesReviewStatus } from './rbac.ts';
import type { RbacSource } from './rbac.ts';

// ---- builders ----

const R = (verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): PolicyRule =>
  resourceNames ? { verbs, apiGroups, resources, resourceNames } : { verbs, apiGroups, resources };
const U = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, nonResourceURLs });

const clusterRole = (name: string, ...rules: PolicyRule[]): ClusterRole => ({ metadata: { name }, rules });
const role = (namespace: string, name: string, ...rules: PolicyRule[]): Role => ({ metadata: { namespace, name }, rules });
const ref = (kind: string, name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });
const crb = (name: string, roleName: string, ...subjects: Subject[]): ClusterRoleBinding => ({ metadata: { name }, roleRef: ref('ClusterRole', roleName), subjects });
const rb = (namespace: string, name: string, kind: 'Role' | 'ClusterRole', roleName: string, ...subjects: Subject[]): RoleBinding =>
  ({ metadata: { namespace, name }, roleRef: ref(kind, roleName), subjects });
const userSubject = (name: string): Subject => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name });
const groupSubject = (name: string): Subject => ({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name });
const saSubject = (name: string, namespace?: string): Subject => (namespace ? { kind: 'ServiceAccount', name, namespace } : { kind: 'ServiceAccount', name });

const jane: UserInfo = { username: 'jane', groups: ['system:authenticated'] };

function source(objs: { clusterRoles?: ClusterRole[]; roles?: Role[]; crbs?: ClusterRoleBinding[]; rbs?: RoleBinding[] }): RbacSource {
  const fixed = (l: unknown[] | undefined) => () => ({ rv: 1, objects: (l ?? []) as KubeObject[] });
  return createRbacSource({ clusterRoles: fixed(objs.clusterRoles), roles: fixed(objs.roles), clusterRoleBindings: fixed(objs.crbs), roleBindings: fixed(objs.rbs) });
}

function req(p: Partial<AuthorizationAttributes>): AuthorizationAttributes {
  return { user: jane, verb: 'get', isResourceRequest: true, apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', namespace: 'default', name: '', path: '', ...p };
}

// ---- rule matching ----

const matchCases: { name: string; rule: PolicyRule; req: Partial<AuthorizationAttributes>; want: boolean }[] = [
  { name: 'exact verb, group and resource', rule: R(['get'], [''], ['pods']), req: {}, want: true },
  { name: 'another verb does not match', rule: R(['list'], [''], ['pods']), req: {}, want: false },
  { name: 'verb * matches any verb', rule: R(['*'], [''], ['pods']), req: { verb: 'deletecollection' }, want: true },
  { name: 'another group does not match', rule: R(['get'], ['apps'], ['pods']), req: {}, want: false },
  { name: 'group * matches any group', rule: R(['get'], ['*'], ['deployments']), req: { apiGroup: 'apps', resource: 'deployments' }, want: true },
  { name: 'resource * matches any resource', rule: R(['get'], [''], ['*']), req: { resource: 'secrets' }, want: true },
  { name: 'resource * matches a subresource too', rule: R(['get'], [''], ['*']), req: { subresource: 'log' }, want: true },
  { name: 'a resource does not match its subresource', rule: R(['get'], [''], ['pods']), req: { subresource: 'log' }, want: false },
  { name: 'resource/subresource matches exactly', rule: R(['get'], [''], ['pods/log']), req: { subresource: 'log' }, want: true },
  { name: 'resource/subresource does not match the resource', rule: R(['get'], [''], ['pods/log']), req: {}, want: false },
  { name: '*/subresource matches that subresource of any resource', rule: R(['get'], [''], ['*/status']), req: { resource: 'services', subresource: 'status' }, want: true },
  { name: '*/subresource does not match another subresource', rule: R(['get'], [''], ['*/status']), req: { subresource: 'log' }, want: false },
  { name: '*/subresource does not match the main resource', rule: R(['get'], [''], ['*/status']), req: {}, want: false },
  { name: '*/subresource does not match a longer subresource name', rule: R(['get'], [''], ['*/log']), req: { subresource: 'xlog' }, want: false },
  { name: 'resource/* is not a wildcard upstream', rule: R(['get'], [''], ['pods/*']), req: { subresource: 'log' }, want: false },
  { name: 'no resourceNames matches any name', rule: R(['get'], [''], ['pods']), req: { name: 'p1' }, want: true },
  { name: 'resourceNames match a listed name', rule: R(['get'], [''], ['pods'], ['p1', 'p2']), req: { name: 'p2' }, want: true },
  { name: 'resourceNames do not match another name', rule: R(['get'], [''], ['pods'], ['p1']), req: { name: 'p3' }, want: false },
  { name: 'resourceNames never match a list (no name)', rule: R(['list'], [''], ['pods'], ['p1']), req: { verb: 'list' }, want: false },
  { name: 'resourceNames never match a create (no name)', rule: R(['create'], [''], ['pods'], ['p1']), req: { verb: 'create' }, want: false },
  { name: 'resource rule does not match a URL', rule: R(['get'], ['*'], ['*']), req: { isResourceRequest: false, path: '/healthz' }, want: false },
  { name: 'URL matches exactly', rule: U(['get'], ['/healthz']), req: { isResourceRequest: false, path: '/healthz' }, want: true },
  { name: 'URL does not match a longer path', rule: U(['get'], ['/healthz']), req: { isResourceRequest: false, path: '/healthz/etcd' }, want: false },
  { name: 'URL with trailing * matches by prefix', rule: U(['get'], ['/healthz/*']), req: { isResourceRequest: false, path: '/healthz/etcd' }, want: true },
  { name: 'URL with trailing * matches a bare prefix', rule: U(['get'], ['/api*']), req: { isResourceRequest: false, path: '/apis/apps' }, want: true },
  { name: 'URL prefix must match from the start', rule: U(['get'], ['/healthz/*']), req: { isResourceRequest: false, path: '/livez' }, want: false },
  { name: 'URL * matches everything', rule: U(['get'], ['*']), req: { isResourceRequest: false, path: '/metrics' }, want: true },
  { name: 'URL rule checks the verb', rule: U(['get'], ['*']), req: { isResourceRequest: false, verb: 'post', path: '/metrics' }, want: false },
  { name: 'URL rule does not match a resource request', rule: U(['*'], ['*']), req: {}, want: false },
];
for (const c of matchCases) test(`ruleAllows: ${c.name}`, () => assert.equal(ruleAllows(req(c.req), c.rule), c.want));

// ---- subjects, bindings and reasons ----

const pods = clusterRole('pod-reader', R(['get', 'list'], [''], ['pods']));
const subjectCases: { name: string; user: UserInfo; crbs?: ClusterRoleBinding[]; rbs?: RoleBinding[]; namespace?: string; want: string | false }[] = [
  {
    name: 'a User subject matches by name',
    user: jane,
    crbs: [crb('readers', 'pod-reader', userSubject('jane'))],
    want: 'RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to User "jane"',
  },
  { name: 'a User subject of another name does not match', user: jane, crbs: [crb('readers', 'pod-reader', userSubject('bob'))], want: false },
  {
    name: 'a Group subject matches any of the user\'s groups',
    user: { username: 'bob', groups: ['devs', 'system:authenticated'] },
    crbs: [crb('devs', 'pod-reader', groupSubject('devs'))],
    want: 'RBAC: allowed by ClusterRoleBinding "devs" of ClusterRole "pod-reader" to Group "devs"',
  },
  { name: 'a Group subject does not match a user of that name', user: { username: 'devs', groups: [] }, crbs: [crb('devs', 'pod-reader', groupSubject('devs'))], want: false },
  {
    name: 'the first matching subject of a binding is named',
    user: { username: 'jane', groups: ['devs'] },
    crbs: [crb('mixed', 'pod-reader', userSubject('bob'), groupSubject('devs'), userSubject('jane'))],
    want: 'RBAC: allowed by ClusterRoleBinding "mixed" of ClusterRole "pod-reader" to Group "devs"',
  },
  {
    name: 'a ServiceAccount subject of a ClusterRoleBinding matches its namespaced user name',
    user: { username: 'system:serviceaccount:kube-system:builder', groups: ['system:serviceaccounts'] },
    crbs: [crb('sa', 'pod-reader', saSubject('builder', 'kube-system'))],
    want: 'RBAC: allowed by ClusterRoleBinding "sa" of ClusterRole "pod-reader" to ServiceAccount "builder/kube-system"',
  },
  {
    name: 'a ServiceAccount subject in another namespace does not match',
    user: { username: 'system:serviceaccount:default:builder', groups: [] },
    crbs: [crb('sa', 'pod-reader', saSubject('builder', 'kube-system'))],
    want: false,
  },
  {
    name: 'a ServiceAccount subject without namespace never matches in a ClusterRoleBinding',
    user: { username: 'system:serviceaccount:default:builder', groups: [] },
    crbs: [crb('sa', 'pod-reader', saSubject('builder'))],
    want: false,
  },
  {
    name: 'a ServiceAccount subject without namespace defaults to the RoleBinding\'s',
    user: { username: 'system:serviceaccount:default:builder', groups: [] },
    rbs: [rb('default', 'sa', 'ClusterRole', 'pod-reader', saSubject('builder'))],
    want: 'RBAC: allowed by RoleBinding "sa/default" of ClusterRole "pod-reader" to ServiceAccount "builder/default"',
  },
  {
    name: 'a RoleBinding\'s ServiceAccount subject may name another namespace',
    user: { username: 'system:serviceaccount:ci:builder', groups: [] },
    rbs: [rb('default', 'sa', 'ClusterRole', 'pod-reader', saSubject('builder', 'ci'))],
    want: 'RBAC: allowed by RoleBinding "sa/default" of ClusterRole "pod-reader" to ServiceAccount "builder/ci"',
  },
  {
    name: 'an unknown subject kind never matches',
    user: jane,
    crbs: [crb('odd', 'pod-reader', { kind: 'Robot', name: 'jane' })],
    want: false,
  },
  {
    name: 'a RoleBinding to a ClusterRole grants its rules in that namespace',
    user: jane,
    rbs: [rb('default', 'read', 'ClusterRole', 'pod-reader', userSubject('jane'))],
    want: 'RBAC: allowed by RoleBinding "read/default" of ClusterRole "pod-reader" to User "jane"',
  },
  {
    name: 'a RoleBinding to a ClusterRole grants nothing in another namespace',
    user: jane,
    rbs: [rb('other', 'read', 'ClusterRole', 'pod-reader', userSubject('jane'))],
    want: false,
  },
  {
    name: 'a RoleBinding grants nothing cluster-wide',
    user: jane,
    rbs: [rb('default', 'read', 'ClusterRole', 'pod-reader', userSubject('jane'))],
    namespace: '',
    want: false,
  },
  {
    name: 'a RoleBinding to a Role reads the Role of its own namespace',
    user: jane,
    rbs: [rb('default', 'read', 'Role', 'pod-reader', userSubject('jane'))],
    want: 'RBAC: allowed by RoleBinding "read/default" of Role "pod-reader" to User "jane"',
  },
  {
    name: 'ClusterRoleBindings are visited before RoleBindings',
    user: jane,
    crbs: [crb('cluster-read', 'pod-reader', userSubject('jane'))],
    rbs: [rb('default', 'read', 'ClusterRole', 'pod-reader', userSubject('jane'))],
    want: 'RBAC: allowed by ClusterRoleBinding "cluster-read" of ClusterRole "pod-reader" to User "jane"',
  },
];
for (const c of subjectCases) {
  test(`rbacAuthorizer: ${c.name}`, () => {
    const src = source({
      clusterRoles: [pods],
      roles: [role('default', 'pod-reader', R(['get'], [''], ['pods'])), role('other', 'pod-reader', R(['get'], [''], ['secrets']))],
      crbs: c.crbs,
      rbs: c.rbs,
    });
    const d = rbacAuthorizer(src).authorize(req({ user: c.user, namespace: c.namespace ?? 'default' }));
    assert.deepEqual(d, c.want === false ? { decision: 'noopinion', reason: '' } : { decision: 'allow', reason: c.want });
  });
}

test('rbacAuthorizer: the name is RBAC and a rule that does not allow is passed over for one that does', () => {
  const src = source({
    clusterRoles: [clusterRole('a', R(['list'], [''], ['pods'])), clusterRole('b', R(['get'], [''], ['pods']))],
    crbs: [crb('first', 'a', userSubject('jane')), crb('second', 'b', userSubject('jane'))],
  });
  const authz = rbacAuthorizer(src);
  assert.equal(authz.name, 'RBAC');
  assert.deepEqual(authz.authorize(req({})), { decision: 'allow', reason: 'RBAC: allowed by ClusterRoleBinding "second" of ClusterRole "b" to User "jane"' });
});

test('rbacAuthorizer: a missing role is a resolution error in the reason, and other bindings still count', () => {
  const src = source({
    clusterRoles: [pods],
    crbs: [crb('broken', 'gone', userSubject('jane')), crb('not-mine', 'also-gone', userSubject('bob'))],
    rbs: [rb('default', 'broken-role', 'Role', 'nope', groupSubject('system:authenticated'))],
  });
  const authz = rbacAuthorizer(src);
  assert.deepEqual(authz.authorize(req({})), {
    decision: 'noopinion',
    reason: 'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, role.rbac.authorization.k8s.io "nope" not found]',
  });
  assert.deepEqual(authz.authorize(req({ namespace: '' })), { decision: 'noopinion', reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found' });
  const withGrant = source({ clusterRoles: [pods], crbs: [crb('broken', 'gone', userSubject('jane')), crb('ok', 'pod-reader', userSubject('jane'))] });
  assert.equal(rbacAuthorizer(withGrant).authorize(req({})).decision, 'allow');
});

test('rbacAuthorizer: a non-resource URL is allowed by a ClusterRoleBinding', () => {
  const src = source({ clusterRoles: [clusterRole('health', U(['get'], ['/healthz', '/healthz/*']))], crbs: [crb('health', 'health', groupSubject('system:authenticated'))] });
  const d = rbacAuthorizer(src).authorize(req({ isResourceRequest: false, namespace: '', resource: '', path: '/healthz/ping' }));
  assert.deepEqual(d, { decision: 'allow', reason: 'RBAC: allowed by ClusterRoleBinding "health" of ClusterRole "health" to Group "system:authenticated"' });
});

test('rbacAuthorizer: remembered decisions are forgotten when a binding changes, and never shared between users or groups', () => {
  let crbRv = 1;
  let crbs: ClusterRoleBinding[] = [crb('readers', 'pod-reader', groupSubject('readers'))];
  const src = createRbacSource({
    clusterRoles: () => ({ rv: 1, objects: [pods as KubeObject] }),
    roles: () => ({ rv: 1, objects: [] }),
    clusterRoleBindings: () => ({ rv: crbRv, objects: crbs as KubeObject[] }),
    roleBindings: () => ({ rv: 1, objects: [] }),
  });
  const authz = rbacAuthorizer(src);
  const reader: UserInfo = { username: 'jane', groups: ['readers'] };
  assert.equal(authz.authorize(req({ user: reader })).decision, 'allow');
  assert.equal(authz.authorize(req({ user: jane })).decision, 'noopinion');
  assert.equal(authz.authorize(req({ user: reader, verb: 'delete' })).decision, 'noopinion');
  // A caller changing its answer does not change what is remembered.
  const d = authz.authorize(req({ user: reader }));
  d.decision = 'deny';
  assert.equal(authz.authorize(req({ user: reader })).decision, 'allow');
  crbs = [];
  crbRv = 2;
  assert.equal(authz.authorize(req({ user: reader })).decision, 'noopinion');
});

// ---- the source's cache ----

test('createRbacSource: indexes are rebuilt only when the list rv changes', () => {
  let rv = 1;
  let objects: KubeObject[] = [role('default', 'a') as KubeObject];
  let calls = 0;
  const empty = () => ({ rv: 0, objects: [] as KubeObject[] });
  const src = createRbacSource({
    clusterRoles: empty,
    roles: () => {
      calls++;
      return { rv, objects };
    },
    clusterRoleBindings: empty,
    roleBindings: empty,
  });
  assert.ok(src.getRole('default', 'a'));
  // The list changed but its rv did not: the old index is kept (nothing is rebuilt).
  objects = [role('default', 'b') as KubeObject];
  assert.ok(src.getRole('default', 'a'));
  assert.equal(src.getRole('default', 'b'), undefined);
  assert.equal(calls, 3);
  rv = 2;
  assert.equal(src.getRole('default', 'a'), undefined);
  assert.ok(src.getRole('default', 'b'));
  assert.equal(src.getRole('other', 'b'), undefined);
});

test('createRbacSource: bindings are grouped by namespace, and each kind has its own rv', () => {
  const rbs = [rb('a', 'x', 'Role', 'r'), rb('b', 'y', 'Role', 'r'), rb('a', 'z', 'Role', 'r')];
  let crbRv = 5;
  let crbs: ClusterRoleBinding[] = [crb('one', 'r')];
  const src = createRbacSource({
    clusterRoles: () => ({ rv: 1, objects: [clusterRole('c') as KubeObject] }),
    roles: () => ({ rv: 1, objects: [] }),
    clusterRoleBindings: () => ({ rv: crbRv, objects: crbs as KubeObject[] }),
    roleBindings: () => ({ rv: 1, objects: rbs as KubeObject[] }),
  });
  assert.deepEqual(src.roleBindings('a').map((b) => b.metadata.name), ['x', 'z']);
  assert.deepEqual(src.roleBindings('c'), []);
  assert.equal(src.getClusterRole('c')?.metadata.name, 'c');
  const first = src.clusterRoleBindings();
  crbs = [crb('one', 'r'), crb('two', 'r')];
  assert.equal(src.clusterRoleBindings(), first);
  crbRv = 6;
  assert.deepEqual(src.clusterRoleBindings().map((b) => b.metadata.name), ['one', 'two']);
});

// ---- rulesFor and SelfSubjectRulesReview ----

test('rulesFor: cluster-wide rules, then the namespace\'s, with resolution errors', () => {
  const src = source({
    clusterRoles: [pods, clusterRole('health', U(['get'], ['/healthz']))],
    roles: [role('default', 'edit', R(['create'], ['apps'], ['deployments'], ['web']))],
    crbs: [crb('r', 'pod-reader', userSubject('jane')), crb('h', 'health', groupSubject('system:authenticated')), crb('m', 'missing', userSubject('jane'))],
    rbs: [rb('default', 'e', 'Role', 'edit', userSubject('jane')), rb('other', 'x', 'ClusterRole', 'pod-reader', userSubject('jane'))],
  });
  const got = rulesFor(src, jane, 'default');
  assert.deepEqual(got, {
    rules: [R(['get', 'list'], [''], ['pods']), U(['get'], ['/healthz']), R(['create'], ['apps'], ['deployments'], ['web'])],
    incomplete: false,
    errors: ['clusterrole.rbac.authorization.k8s.io "missing" not found'],
  });
  assert.deepEqual(toRulesReviewStatus(got), {
    resourceRules: [
      { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] },
      { verbs: ['create'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['web'] },
    ],
    nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }],
    incomplete: false,
    evaluationError: 'clusterrole.rbac.authorization.k8s.io "missing" not found',
  });
  assert.equal(rulesFor(src, jane, '').rules.length, 2);
});

test('toRulesReviewStatus: empty lists and no evaluationError when nothing applies', () => {
  const status = toRulesReviewStatus(rulesFor(source({}), jane, 'default'));
  assert.deepEqual(status, { resourceRules: [], nonResourceRules: [], incomplete: false });
  assert.deepEqual(Object.keys(status), ['resourceRules', 'nonResourceRules', 'incomplete']);
});

// ---- formatting helpers ----

const quoteCases: [string, string][] = [
  ['jane', '"jane"'],
  ['', '""'],
  ['a"b\\c', '"a\\"b\\\\c"'],
  ['tab\there\n', '"tab\\there\\n"'],
  ['\x01\x7f', '"\\x01\\x7f"'],
  ['héllo ☃', '"héllo ☃"'],
  ['\u200b', '"\\u200b"'],
];
for (const [s, want] of quoteCases) test(`goQuote ${JSON.stringify(s)} is ${want}`, () => assert.equal(goQuote(s), want));

test('aggregateMessage: none, one, several, repeated', () => {
  assert.equal(aggregateMessage([]), '');
  assert.equal(aggregateMessage(['a']), 'a');
  assert.equal(aggregateMessage(['a', 'b']), '[a, b]');
  assert.equal(aggregateMessage(['a', 'a']), 'a');
  assert.equal(aggregateMessage(['a', 'b', 'a']), '[a, b]');
});

test('the subject index gives the same decisions as visiting every ClusterRoleBinding', () => {
  const objs = (list: unknown[]) => () => ({ rv: 1, objects: list as KubeObject[] });
  const roles = [{ metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] }];
  const subjects = [
    { kind: 'User', name: 'jane' },
    { kind: 'Group', name: 'devs' },
    { kind: 'ServiceAccount', name: 'sa', namespace: 'ns' },
    { kind: 'ServiceAccount', name: 'sa' },
  ];
  const crbs = subjects.map((sub, i) => ({ metadata: { name: `b${i}` }, subjects: [sub], roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'r' } }));
  const lists = { clusterRoles: objs(roles), roles: objs([]), clusterRoleBindings: objs(crbs), roleBindings: objs([]) };
  const indexed = createRbacSource(lists);
  const plain: RbacSource = { ...indexed, clusterRoleBindingsFor: undefined };
  const users = [
    { username: 'jane', groups: ['system:authenticated'] },
    { username: 'bob', groups: ['devs'] },
    { username: 'system:serviceaccount:ns:sa', groups: ['system:serviceaccounts'] },
    { username: 'system:serviceaccount:other:sa', groups: [] },
    { username: 'nobody', groups: [] },
  ];
  for (const user of users) {
    const attrs = { user, verb: 'get', isResourceRequest: true, apiGroup: '', apiVersion: 'v1', resource: 'pods', subresource: '', namespace: 'ns', name: 'p', path: '' };
    assert.deepEqual(rbacAuthorizer(indexed).authorize(attrs), rbacAuthorizer(plain).authorize(attrs), user.username);
  }
  assert.deepEqual(indexed.clusterRoleBindingsFor!(users[2]!).map((b) => b.metadata.name), ['b2']);
});
