import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthorizationAttributes, Decision } from '../../../authz/index.ts';
import { evalCel } from '../testing.ts';
import { Authorizer, AuthzSession, PendingAuthorization } from './authz.ts';

const alice = { username: 'alice', groups: ['devs'] };
const requestResource = { group: 'apps', resource: 'deployments', subresource: 'scale', namespace: 'ns', name: 'web' };

/** A session over a fake authorizer allowing `allow(attrs)`, recording what it was asked. */
function fake(allow: (a: AuthorizationAttributes) => boolean | Error, opts: { sync?: boolean } = {}) {
  const asked: AuthorizationAttributes[] = [];
  const session = new AuthzSession((a) => {
    asked.push(a);
    const r = allow(a);
    if (r instanceof Error) {
      if (opts.sync) throw r;
      return Promise.reject(r);
    }
    const d: Decision = r ? { decision: 'allow', reason: 'rbac says yes' } : { decision: 'deny', reason: 'no rule' };
    return opts.sync ? d : Promise.resolve(d);
  });
  return { asked, session, authorizer: new Authorizer(session, { user: alice, requestResource }) };
}

/** Evaluates like the plugin: settle pending checks and evaluate again. */
async function run(expr: string, f: ReturnType<typeof fake>) {
  let r = evalCel(expr, { authorizer: f.authorizer });
  while (f.session.pending > 0) {
    await f.session.settle();
    r = evalCel(expr, { authorizer: f.authorizer });
  }
  return r;
}

test('a resource check asks with the request user, API version * and the fields given', async () => {
  const f = fake((a) => a.verb === 'create');
  const r = await run("authorizer.group('apps').resource('deployments').subresource('status').namespace('ns').name('web').check('create').allowed()", f);
  assert.equal(r.value, true);
  assert.deepEqual(f.asked, [
    { isResourceRequest: true, apiGroup: 'apps', apiVersion: '*', resource: 'deployments', subresource: 'status', namespace: 'ns', name: 'web', path: '', user: alice, verb: 'create' },
  ]);
});

test('a denied check answers allowed() false and its reason', async () => {
  const r = await run("authorizer.group('').resource('pods').check('delete').reason()", fake(() => false));
  assert.equal(r.value, 'no rule');
});

test('a path check is a non-resource request', async () => {
  const f = fake(() => true);
  assert.equal((await run("authorizer.path('/healthz').check('get').allowed()", f)).value, true);
  assert.equal(f.asked[0]!.isResourceRequest, false);
  assert.equal(f.asked[0]!.path, '/healthz');
});

test('requestResource checks the request’s own resource', async () => {
  const f = fake(() => true);
  assert.equal((await run("authorizer.requestResource.check('update').allowed()", f)).value, true);
  assert.deepEqual([f.asked[0]!.apiGroup, f.asked[0]!.resource, f.asked[0]!.subresource, f.asked[0]!.namespace, f.asked[0]!.name], ['apps', 'deployments', 'scale', 'ns', 'web']);
});

test('serviceAccount checks as the service account', async () => {
  const f = fake(() => true);
  await run("authorizer.serviceAccount('kube-system', 'builder').group('').resource('pods').check('list').allowed()", f);
  assert.deepEqual(f.asked[0]!.user, { username: 'system:serviceaccount:kube-system:builder', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system'] });
});

test('an invalid service account name fails', async () => {
  assert.equal((await run("authorizer.serviceAccount('ns', 'Bad_Name').path('/x').check('get').allowed()", fake(() => true))).error, 'Invalid service account name');
});

test('an empty path or resource fails', async () => {
  assert.equal((await run("authorizer.path(' ').check('get').allowed()", fake(() => true))).error, 'path must not be empty');
  assert.equal((await run("authorizer.group('').resource('').check('get').allowed()", fake(() => true))).error, 'resource must not be empty');
});

test('a failing authorizer makes the decision errored', async () => {
  const r = await run("authorizer.path('/x').check('get').errored() && authorizer.path('/x').check('get').error() == 'boom'", fake(() => new Error('boom')));
  assert.equal(r.value, true);
  const s = await run("authorizer.path('/x').check('get').errored()", fake(() => new Error('boom'), { sync: true }));
  assert.equal(s.value, true);
});

test('decisions are cached per request and asked once', async () => {
  const f = fake(() => true);
  await run("authorizer.path('/x').check('get').allowed() && authorizer.path('/x').check('get').allowed()", f);
  assert.equal(f.asked.length, 1);
});

test('a check not yet decided throws PendingAuthorization until settled', async () => {
  const f = fake(() => true);
  assert.throws(() => f.session.decide({ ...f.asked[0]!, user: alice, verb: 'get', isResourceRequest: false, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '', path: '/y' }), PendingAuthorization);
  assert.equal(f.session.pending, 1);
  await f.session.settle();
  assert.equal(f.session.pending, 0);
});
