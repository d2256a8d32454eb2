import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UserInfo } from '../../api/types.ts';
import { StatusError } from '../../api/errors.ts';
import type { AuthorizationAttributes, Decision } from '../authz/index.ts';
import { distinctHeaders, goQuote, impersonate, impersonationHeaders, impersonationRequests, splitServiceAccountUsername, unescapeExtraKey, type Headers } from './impersonation.ts';

const bob: UserInfo = { username: 'bob', groups: ['devs', 'system:authenticated'] };

/** An authorizer allowing what `allow` accepts, recording every question. */
function authorizer(allow: (a: AuthorizationAttributes) => boolean | Decision = () => true) {
  const asked: AuthorizationAttributes[] = [];
  const fn = async (a: AuthorizationAttributes): Promise<Decision> => {
    asked.push(a);
    const d = allow(a);
    return typeof d === 'object' ? d : { decision: d ? 'allow' : 'noopinion', reason: '' };
  };
  return { fn, asked };
}

/** A compact view of an authorization question. */
const q = (a: AuthorizationAttributes) => `${a.verb} ${a.apiGroup}/${a.apiVersion} ${a.resource}${a.subresource ? `/${a.subresource}` : ''} ns=${a.namespace} name=${a.name}`;

async function statusOf(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StatusError, String(err));
    return err;
  }
  assert.fail('expected a StatusError');
}

test('no impersonation header: undefined, and nothing asked', async () => {
  const az = authorizer();
  assert.equal(await impersonate({ accept: 'application/json', authorization: 'Bearer x' }, bob, az.fn), undefined);
  assert.equal(az.asked.length, 0);
});

test('empty Impersonate-User and Impersonate-Uid count as absent (Go Header.Get)', async () => {
  assert.equal(await impersonate({ 'impersonate-user': '', 'impersonate-uid': '' }, bob, authorizer().fn), undefined);
});

const allowed: { name: string; headers: Headers; want: UserInfo }[] = [
  {
    name: 'a user gets system:authenticated and nothing of the requester',
    headers: { 'impersonate-user': 'jane' },
    want: { username: 'jane', groups: ['system:authenticated'] },
  },
  {
    name: 'requested groups are kept in order, system:authenticated appended',
    headers: { 'impersonate-user': 'jane', 'impersonate-group': ['admins', 'ops'] },
    want: { username: 'jane', groups: ['admins', 'ops', 'system:authenticated'] },
  },
  {
    name: 'system:authenticated among the requested groups is not repeated',
    headers: { 'impersonate-user': 'jane', 'impersonate-group': ['system:authenticated', 'ops'] },
    want: { username: 'jane', groups: ['system:authenticated', 'ops'] },
  },
  {
    name: 'system:unauthenticated among the requested groups keeps system:authenticated out',
    headers: { 'impersonate-user': 'jane', 'impersonate-group': 'system:unauthenticated' },
    want: { username: 'jane', groups: ['system:unauthenticated'] },
  },
  {
    name: 'system:anonymous gets system:unauthenticated, not system:authenticated',
    headers: { 'impersonate-user': 'system:anonymous' },
    want: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
  },
  {
    name: 'system:anonymous with system:unauthenticated requested: not repeated',
    headers: { 'impersonate-user': 'system:anonymous', 'impersonate-group': ['system:unauthenticated'] },
    want: { username: 'system:anonymous', groups: ['system:unauthenticated'] },
  },
  {
    name: 'a service account gets the service account groups',
    headers: { 'impersonate-user': 'system:serviceaccount:kube-system:default' },
    want: { username: 'system:serviceaccount:kube-system:default', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
  },
  {
    name: 'a service account with requested groups gets only those',
    headers: { 'impersonate-user': 'system:serviceaccount:ns1:builder', 'impersonate-group': 'ci' },
    want: { username: 'system:serviceaccount:ns1:builder', groups: ['ci', 'system:authenticated'] },
  },
  {
    name: 'uid and extras (key lower-cased and %-decoded, repeated values) are carried',
    headers: {
      'impersonate-user': 'jane',
      'impersonate-uid': '1234',
      'impersonate-extra-scopes': ['view', 'edit'],
      'impersonate-extra-acme.com%2Fproject': 'p1',
    },
    want: { username: 'jane', uid: '1234', groups: ['system:authenticated'], extra: { scopes: ['view', 'edit'], 'acme.com/project': ['p1'] } },
  },
  {
    name: 'header names in any case',
    headers: { 'Impersonate-User': 'jane', 'Impersonate-Extra-Team': 'Blue' },
    want: { username: 'jane', groups: ['system:authenticated'], extra: { team: ['Blue'] } },
  },
];
for (const c of allowed) {
  test(`allowed: ${c.name}`, async () => {
    assert.deepEqual(await impersonate(c.headers, bob, authorizer().fn), c.want);
  });
}

test('each item is authorized, in upstream order: user, groups, extras, uid', async () => {
  const az = authorizer();
  await impersonate(
    { 'impersonate-uid': 'u1', 'impersonate-extra-scopes': ['a', 'b'], 'impersonate-group': ['g1', 'g2'], 'impersonate-user': 'jane' },
    bob,
    az.fn,
  );
  assert.deepEqual(az.asked.map(q), [
    'impersonate / users ns= name=jane',
    'impersonate / groups ns= name=g1',
    'impersonate / groups ns= name=g2',
    'impersonate authentication.k8s.io/v1 userextras/scopes ns= name=a',
    'impersonate authentication.k8s.io/v1 userextras/scopes ns= name=b',
    'impersonate authentication.k8s.io/v1 uids ns= name=u1',
  ]);
  for (const a of az.asked) {
    assert.equal(a.user, bob);
    assert.equal(a.isResourceRequest, true);
  }
});

test('a service account username is checked as serviceaccounts in its namespace', async () => {
  const az = authorizer();
  await impersonate({ 'impersonate-user': 'system:serviceaccount:kube-system:default' }, bob, az.fn);
  assert.deepEqual(az.asked.map(q), ['impersonate / serviceaccounts ns=kube-system name=default']);
});

const denied: { name: string; headers: Headers; deny: (a: AuthorizationAttributes) => boolean; reason?: string; message: string; details: object }[] = [
  {
    name: 'a user',
    headers: { 'impersonate-user': 'jane' },
    deny: (a) => a.resource === 'users',
    message: 'users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope',
    details: { name: 'jane', kind: 'users' },
  },
  {
    name: 'a service account',
    headers: { 'impersonate-user': 'system:serviceaccount:kube-system:default' },
    deny: (a) => a.resource === 'serviceaccounts',
    message: 'serviceaccounts "default" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "kube-system"',
    details: { name: 'default', kind: 'serviceaccounts' },
  },
  {
    name: 'a group (the user allowed)',
    headers: { 'impersonate-user': 'jane', 'impersonate-group': ['ok', 'system:masters'] },
    deny: (a) => a.resource === 'groups' && a.name === 'system:masters',
    message: 'groups "system:masters" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope',
    details: { name: 'system:masters', kind: 'groups' },
  },
  {
    name: 'an extra value',
    headers: { 'impersonate-user': 'jane', 'impersonate-extra-scopes': 'admin' },
    deny: (a) => a.resource === 'userextras',
    message: 'userextras.authentication.k8s.io "admin" is forbidden: User "bob" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope',
    details: { name: 'admin', group: 'authentication.k8s.io', kind: 'userextras' },
  },
  {
    name: 'a uid',
    headers: { 'impersonate-user': 'jane', 'impersonate-uid': '1234' },
    deny: (a) => a.resource === 'uids',
    message: 'uids.authentication.k8s.io "1234" is forbidden: User "bob" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope',
    details: { name: '1234', group: 'authentication.k8s.io', kind: 'uids' },
  },
  {
    name: 'an empty group name (no name in the message)',
    headers: { 'impersonate-user': 'jane', 'impersonate-group': '' },
    deny: (a) => a.resource === 'groups',
    message: 'groups is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope',
    details: { kind: 'groups' },
  },
  {
    name: 'with the authorizer\'s reason appended',
    headers: { 'impersonate-user': 'jane' },
    deny: () => true,
    reason: 'no RBAC policy matched',
    message: 'users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope: no RBAC policy matched',
    details: { name: 'jane', kind: 'users' },
  },
];
for (const c of denied) {
  test(`denied: ${c.name} is 403 with upstream's message`, async () => {
    const az = authorizer((a) => (c.deny(a) ? { decision: 'deny', reason: c.reason ?? '' } : true));
    const err = await statusOf(impersonate(c.headers, bob, az.fn));
    assert.deepEqual(err.status, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: c.message, reason: 'Forbidden', details: c.details, code: 403 });
  });
}

test('the first refusal stops the checks', async () => {
  const az = authorizer((a) => a.resource !== 'users');
  await statusOf(impersonate({ 'impersonate-user': 'jane', 'impersonate-group': 'g' }, bob, az.fn));
  assert.equal(az.asked.length, 1);
});

test('an authorizer that throws is a refusal naming the error', async () => {
  const err = await statusOf(
    impersonate({ 'impersonate-user': 'jane' }, bob, () => {
      throw new Error('webhook down');
    }),
  );
  assert.equal(err.code, 403);
  assert.match(err.message, /at the cluster scope: webhook down$/);
});

test('names are quoted and the message escaped as upstream', async () => {
  const az = authorizer(() => false);
  const err = await statusOf(impersonate({ 'impersonate-user': 'a"<b>' }, { username: 'x&y', groups: [] }, az.fn));
  assert.equal(err.message, 'users "a\\"<b>" is forbidden: User "x&amp;y" cannot impersonate resource "users" in API group "" at the cluster scope');
});

const withoutUser: { name: string; headers: Headers; message: string }[] = [
  {
    name: 'groups',
    headers: { 'impersonate-group': ['devs', 'ops'] },
    message: 'requested [{Group  devs    } {Group  ops    }] without impersonating a user',
  },
  {
    name: 'an extra',
    headers: { 'impersonate-extra-scopes': 'view' },
    message: 'requested [{UserExtra  view  authentication.k8s.io/v1  scopes}] without impersonating a user',
  },
  {
    name: 'a uid',
    headers: { 'impersonate-uid': '1234' },
    message: 'requested [{UID  1234  authentication.k8s.io/v1  }] without impersonating a user',
  },
  {
    name: 'an empty user with a group',
    headers: { 'impersonate-user': '', 'impersonate-group': 'devs' },
    message: 'requested [{Group  devs    }] without impersonating a user',
  },
];
for (const c of withoutUser) {
  test(`${c.name} without Impersonate-User fail as upstream (500 with its message), nothing authorized`, async () => {
    const az = authorizer();
    const err = await statusOf(impersonate(c.headers, bob, az.fn));
    assert.equal(err.code, 500);
    assert.equal(err.reason, 'InternalError');
    assert.equal(err.message, c.message);
    assert.equal(az.asked.length, 0);
  });
}

test('impersonationHeaders lists the impersonation headers present, whatever their values', () => {
  assert.deepEqual(impersonationHeaders({ accept: '*/*' }), []);
  assert.deepEqual(
    impersonationHeaders({ 'impersonate-user': '', accept: '*/*', 'impersonate-group': ['a'], 'Impersonate-Extra-X': 'y', 'impersonate-uid': undefined }),
    ['impersonate-user', 'impersonate-group', 'Impersonate-Extra-X'],
  );
});

test('impersonationRequests lists the items in upstream order', () => {
  assert.deepEqual(impersonationRequests({ 'impersonate-uid': 'u', 'impersonate-user': 'system:serviceaccount:a:b', 'impersonate-group': 'g' }), [
    { kind: 'ServiceAccount', namespace: 'a', name: 'b' },
    { kind: 'Group', name: 'g' },
    { kind: 'UID', uid: 'u' },
  ]);
});

const usernames: { name: string; want: { namespace: string; name: string } | undefined }[] = [
  { name: 'system:serviceaccount:kube-system:default', want: { namespace: 'kube-system', name: 'default' } },
  { name: 'system:serviceaccount:ns:a.b-c', want: { namespace: 'ns', name: 'a.b-c' } },
  { name: 'system:serviceaccount:ns', want: undefined },
  { name: 'system:serviceaccount:ns:a:b', want: undefined },
  { name: 'system:serviceaccount:NS:a', want: undefined },
  { name: 'system:serviceaccount:ns.x:a', want: undefined },
  { name: 'system:serviceaccount::a', want: undefined },
  { name: 'system:serviceaccount:ns:', want: undefined },
  { name: 'system:serviceaccounts:ns:a', want: undefined },
  { name: `system:serviceaccount:${'n'.repeat(64)}:a`, want: undefined },
];
for (const c of usernames) {
  test(`splitServiceAccountUsername(${JSON.stringify(c.name.length > 60 ? `${c.name.slice(0, 40)}…` : c.name)})`, () => {
    assert.deepEqual(splitServiceAccountUsername(c.name), c.want);
  });
}

test('a username that is not a valid service account is impersonated as a plain user', async () => {
  const az = authorizer();
  const u = await impersonate({ 'impersonate-user': 'system:serviceaccount:BAD:x' }, bob, az.fn);
  assert.deepEqual(u, { username: 'system:serviceaccount:BAD:x', groups: ['system:authenticated'] });
  assert.equal(az.asked[0]!.resource, 'users');
});

const keys: [string, string][] = [
  ['scopes', 'scopes'],
  ['acme.com%2fproject', 'acme.com/project'],
  ['a%20b+c', 'a b+c'],
  ['%e4%b8%ad', '中'],
  ['bad%zz', 'bad%zz'],
  ['trailing%2', 'trailing%2'],
];
for (const [encoded, want] of keys) {
  test(`extra key ${JSON.stringify(encoded)} decodes to ${JSON.stringify(want)}`, () => assert.equal(unescapeExtraKey(encoded), want));
}

test('goQuote escapes as Go %q does for the common cases', () => {
  assert.equal(goQuote('plain'), '"plain"');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote('\n\t\x01'), '"\\n\\t\\x01"');
  assert.equal(goQuote('é中'), '"é中"');
});

test('distinctHeaders keeps repeated values apart (what req.headers joins with ", ")', async () => {
  const raw = [':path', '/api', 'Impersonate-User', 'jane', 'Impersonate-Group', 'a, b', 'impersonate-group', 'c', 'Accept', '*/*'];
  const h = distinctHeaders(raw);
  assert.deepEqual(h, { 'impersonate-user': ['jane'], 'impersonate-group': ['a, b', 'c'], accept: ['*/*'] });
  assert.deepEqual(await impersonate(h, bob, authorizer().fn), { username: 'jane', groups: ['a, b', 'c', 'system:authenticated'] });
});
