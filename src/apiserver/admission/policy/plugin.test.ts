import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStatusError, type StatusError } from '../../../api/errors.ts';
import type { ResourceDef } from '../../../api/resource.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AuthorizationAttributes, Decision } from '../../authz/index.ts';
import type { AdmissionAttributes } from '../types.ts';
import { paramsFromRegistry } from './params.ts';
import { isExempt, validatingAdmissionPolicyPlugin } from './plugin.ts';
import { validationFailureAnnotation } from './report.ts';
import { binding, configMap, defs, deployment, deploymentRule, makeAttrs, namespace, policy } from './testing.ts';

interface World {
  policies: KubeObject[];
  bindings: KubeObject[];
  namespaces?: KubeObject[];
  configMaps?: KubeObject[];
  authorize?: (a: AuthorizationAttributes) => Promise<Decision>;
}

function plugin(w: World) {
  const logs: string[] = [];
  const namespaces = w.namespaces ?? [namespace('default', { environment: 'test' }), namespace('prod', { environment: 'prod' })];
  const p = validatingAdmissionPolicyPlugin({
    policies: () => w.policies,
    bindings: () => w.bindings,
    namespace: (n) => namespaces.find((ns) => ns.metadata.name === n),
    params: paramsFromRegistry({
      byKind: (group, kind) => (Object.values(defs) as ResourceDef[]).find((d) => d.group === group && d.kind === kind),
      list: (def, ns) => (def.kind === 'ConfigMap' ? (w.configMaps ?? []).filter((c) => ns === undefined || c.metadata.namespace === ns) : []),
    }),
    authorize: w.authorize,
    log: (m) => logs.push(m),
  });
  return { p, logs };
}

/** Runs the plugin; the refusal, or undefined when admitted. */
async function admit(w: World, attrs: AdmissionAttributes = makeAttrs()): Promise<StatusError | undefined> {
  try {
    await plugin(w).p.validate!(attrs);
    return undefined;
  } catch (err) {
    if (isStatusError(err)) return err;
    throw err;
  }
}

const create = (replicas: number, opts: { namespace?: string; labels?: Record<string, string> } = {}) => makeAttrs({ object: deployment('nginx', replicas, opts) });

// The seed scenario, as upstream's documentation writes it.
const demoPolicy = policy('demo-policy.example.com', { validations: [{ expression: 'object.spec.replicas <= 5' }] });
const demoBinding = binding('demo-binding-test.example.com', 'demo-policy.example.com', {
  validationActions: ['Deny'],
  matchResources: { namespaceSelector: { matchLabels: { environment: 'test' } } },
});

test('seed: a Deployment with 6 replicas is refused with upstream’s message', async () => {
  const err = await admit({ policies: [demoPolicy], bindings: [demoBinding] }, create(6));
  assert.ok(err);
  const message = "ValidatingAdmissionPolicy 'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied request: failed expression: object.spec.replicas <= 5";
  assert.deepEqual(err.status, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `deployments.apps "nginx" is forbidden: ${message}`,
    reason: 'Invalid',
    details: { name: 'nginx', group: 'apps', kind: 'deployments', causes: [{ message }] },
    code: 422,
  });
});

test('seed: 5 replicas pass', async () => {
  assert.equal(await admit({ policies: [demoPolicy], bindings: [demoBinding] }, create(5)), undefined);
});

test('seed: a namespace the binding does not select is not checked', async () => {
  assert.equal(await admit({ policies: [demoPolicy], bindings: [demoBinding] }, create(6, { namespace: 'prod' })), undefined);
});

test('seed: an UPDATE is checked, a DELETE is not', async () => {
  const w = { policies: [demoPolicy], bindings: [demoBinding] };
  assert.ok(await admit(w, makeAttrs({ operation: 'UPDATE', object: deployment('nginx', 6), oldObject: deployment('nginx', 1) })));
  assert.equal(await admit(w, makeAttrs({ operation: 'DELETE', object: undefined, oldObject: deployment('nginx', 6) })), undefined);
});

const one = (validation: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  policies: [policy('p', { validations: [{ expression: 'object.spec.replicas <= 5', ...validation }], ...extra })],
  bindings: [binding('b', 'p')],
});

const messageCases = [
  { name: 'a message replaces the expression', v: { message: 'replicas must be at most 5' }, want: 'replicas must be at most 5' },
  { name: 'a messageExpression gives the message', v: { message: 'm', messageExpression: "'replicas ' + string(object.spec.replicas) + ' > 5'" }, want: 'replicas 6 > 5' },
  { name: 'a failing messageExpression falls back to the message', v: { message: 'm', messageExpression: "'x' + object.nope" }, want: 'm' },
  { name: 'a messageExpression that is not a string falls back to the expression', v: { messageExpression: 'object.spec.replicas' }, want: 'failed expression: object.spec.replicas <= 5' },
];
for (const c of messageCases) {
  test(`message: ${c.name}`, async () => {
    const err = await admit(one(c.v), create(6));
    assert.equal(err?.message, `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: ${c.want}`);
  });
}

const reasons = [
  [undefined, 'Invalid', 422],
  ['Forbidden', 'Forbidden', 403],
  ['Unauthorized', 'Unauthorized', 401],
  ['RequestEntityTooLarge', 'RequestEntityTooLarge', 413],
  ['Invalid', 'Invalid', 422],
] as const;
for (const [reason, want, code] of reasons) {
  test(`reason ${reason ?? '(none)'} answers ${want} ${code}`, async () => {
    const err = await admit(one(reason ? { reason } : {}), create(6));
    assert.equal(err?.status.reason, want);
    assert.equal(err?.status.code, code);
  });
}

test('Warn: admitted with upstream’s warning', async () => {
  const w = { ...one({ message: 'too many' }), bindings: [binding('b', 'p', { validationActions: ['Warn'] })] };
  const attrs = create(6);
  assert.equal(await admit(w, attrs), undefined);
  assert.deepEqual(attrs.warnings, ["Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': too many"]);
});

test('Audit: admitted with the validation_failure annotation', async () => {
  const w = { ...one({ message: 'too many' }), bindings: [binding('b', 'p', { validationActions: ['Audit'] })] };
  const attrs = create(6);
  assert.equal(await admit(w, attrs), undefined);
  assert.deepEqual(attrs.auditAnnotations, {
    [validationFailureAnnotation]: '[{"message":"too many","policy":"p","binding":"b","expressionIndex":0,"validationActions":["Audit"]}]',
  });
});

test('Warn and Audit together, and Deny with Audit', async () => {
  const w = { ...one({}), bindings: [binding('b', 'p', { validationActions: ['Warn', 'Audit'] })] };
  const attrs = create(6);
  assert.equal(await admit(w, attrs), undefined);
  assert.equal(attrs.warnings?.length, 1);
  assert.ok(attrs.auditAnnotations?.[validationFailureAnnotation]);
  const denyAudit = { ...one({}), bindings: [binding('b', 'p', { validationActions: ['Deny', 'Audit'] })] };
  const attrs2 = create(6);
  assert.ok(await admit(denyAudit, attrs2));
  assert.ok(attrs2.auditAnnotations?.[validationFailureAnnotation]);
});

test('auditAnnotations are published as <policy>/<key>', async () => {
  const w = one({}, { auditAnnotations: [{ key: 'high-replicas', valueExpression: "object.spec.replicas > 3 ? 'replicas: ' + string(object.spec.replicas) : null" }] });
  const attrs = create(4);
  assert.equal(await admit(w, attrs), undefined);
  assert.deepEqual(attrs.auditAnnotations, { 'p/high-replicas': 'replicas: 4' });
  const low = create(1);
  await admit(w, low);
  assert.equal(low.auditAnnotations, undefined);
});

// Params from ConfigMaps (paramKind v1 ConfigMap), as upstream's replicalimit example.
const limitPolicy = policy('replicalimit-policy.example.com', {
  paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
  validations: [{ expression: 'object.spec.replicas <= int(params.data.maxReplicas)', messageExpression: "'object.spec.replicas must be no greater than ' + params.data.maxReplicas" }],
});
const limitMaps = [configMap('replica-limit-test.example.com', 'default', { maxReplicas: '3' }, { tier: 'x' }), configMap('other-limit', 'default', { maxReplicas: '10' }, { tier: 'x' })];
const limitBinding = (paramRef: Record<string, unknown>) => binding('replicalimit-binding-test.example.com', 'replicalimit-policy.example.com', { paramRef });

test('params: a ConfigMap by name', async () => {
  const w = { policies: [limitPolicy], bindings: [limitBinding({ name: 'replica-limit-test.example.com', namespace: 'default', parameterNotFoundAction: 'Deny' })], configMaps: limitMaps };
  assert.equal(await admit(w, create(3)), undefined);
  const err = await admit(w, create(4));
  assert.equal(err?.message, `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'replicalimit-policy.example.com' with binding 'replicalimit-binding-test.example.com' denied request: object.spec.replicas must be no greater than 3`);
});

test('params: a selector evaluates once per ConfigMap it selects', async () => {
  const w = { policies: [limitPolicy], bindings: [limitBinding({ selector: { matchLabels: { tier: 'x' } } })], configMaps: limitMaps };
  assert.match((await admit(w, create(5)))?.message ?? '', /no greater than 3$/);
  assert.equal(await admit(w, create(2)), undefined);
});

test('params: none found denies under parameterNotFoundAction Deny', async () => {
  const w = { policies: [limitPolicy], bindings: [limitBinding({ name: 'missing', parameterNotFoundAction: 'Deny' })], configMaps: limitMaps };
  assert.equal(
    (await admit(w, create(1)))?.message,
    `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'replicalimit-policy.example.com' with binding 'replicalimit-binding-test.example.com' denied request: failed to configure binding: no params found for policy binding with \`Deny\` parameterNotFoundAction`,
  );
});

test('params: none found admits under parameterNotFoundAction Allow', async () => {
  const w = { policies: [limitPolicy], bindings: [limitBinding({ name: 'missing', parameterNotFoundAction: 'Allow' })], configMaps: limitMaps };
  assert.equal(await admit(w, create(100)), undefined);
});

test('params: a paramKind nobody serves is the policy’s misconfiguration', async () => {
  const p = policy('replicalimit-policy.example.com', { paramKind: { apiVersion: 'rules.example.com/v1', kind: 'ReplicaLimit' }, validations: [{ expression: 'true' }] });
  const w = { policies: [p], bindings: [limitBinding({ name: 'x' })] };
  assert.equal(
    (await admit(w, create(1)))?.message,
    `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'replicalimit-policy.example.com' denied request: failed to configure policy: failed to find resource referenced by paramKind: 'rules.example.com/v1, Kind=ReplicaLimit'`,
  );
  const ignored = { policies: [{ ...p, spec: { ...p.spec, failurePolicy: 'Ignore' } }], bindings: w.bindings };
  assert.equal(await admit(ignored, create(1)), undefined);
});

test('params: a binding without paramRef evaluates with params null', async () => {
  const p = policy('p', { paramKind: { apiVersion: 'v1', kind: 'ConfigMap' }, validations: [{ expression: 'params == null' }] });
  assert.equal(await admit({ policies: [p], bindings: [binding('b', 'p')] }, create(1)), undefined);
});

test('matchConditions: a false condition skips the policy', async () => {
  const w = one({}, { matchConditions: [{ name: 'not-exempt', expression: "!('exempt' in object.metadata.labels)" }] });
  assert.equal(await admit(w, create(6, { labels: { exempt: 'yes' } })), undefined);
  assert.ok(await admit(w, create(6, { labels: { other: 'x' } })));
});

test('matchConditions: an error denies under Fail and skips under Ignore', async () => {
  const cond = { matchConditions: [{ name: 'c', expression: 'object.metadata.labels.team == "a"' }] };
  const err = await admit(one({}, cond), create(1));
  assert.equal(err?.message, `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'object.metadata.labels.team == "a"' resulted in error: no such key: labels`);
  assert.equal(await admit(one({}, { ...cond, failurePolicy: 'Ignore' }), create(6)), undefined);
});

test('variables: composited and used by validations and messages', async () => {
  const w = one(
    { expression: 'variables.replicas <= variables.limit', messageExpression: "'replicas ' + string(variables.replicas) + ' over ' + string(variables.limit)" },
    { variables: [{ name: 'replicas', expression: 'object.spec.replicas' }, { name: 'limit', expression: "namespaceObject.metadata.labels.environment == 'test' ? 2 : 10" }] },
  );
  assert.match((await admit(w, create(3)))?.message ?? '', /denied request: replicas 3 over 2$/);
  assert.equal(await admit(w, create(3, { namespace: 'prod' })), undefined);
});

test('selectors: the policy’s namespaceSelector and the binding’s objectSelector narrow', async () => {
  const p = policy('p', { matchConstraints: { resourceRules: [deploymentRule], namespaceSelector: { matchLabels: { environment: 'test' } } }, validations: [{ expression: 'false' }] });
  const b = binding('b', 'p', { matchResources: { objectSelector: { matchLabels: { app: 'web' } } } });
  const w = { policies: [p], bindings: [b] };
  assert.ok(await admit(w, create(1, { labels: { app: 'web' } })));
  assert.equal(await admit(w, create(1, { labels: { app: 'db' } })), undefined);
  assert.equal(await admit(w, create(1, { namespace: 'prod', labels: { app: 'web' } })), undefined);
});

test('a binding whose selector does not parse is misconfigured', async () => {
  const b = binding('b', 'p', { matchResources: { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Bogus' }] } } });
  const err = await admit({ policies: [policy('p', { validations: [{ expression: 'true' }] })], bindings: [b] }, create(1));
  assert.match(err?.message ?? '', /^deployments\.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: failed to configure binding: (?!Internal error)/);
});

test('excludeResourceRules leave resources out', async () => {
  const p = policy('p', { matchConstraints: { resourceRules: [{ ...deploymentRule, resources: ['*'] }], excludeResourceRules: [{ ...deploymentRule, resourceNames: ['nginx'] }] }, validations: [{ expression: 'false' }] });
  const w = { policies: [p], bindings: [binding('b', 'p')] };
  assert.equal(await admit(w, create(1)), undefined);
  assert.ok(await admit(w, makeAttrs({ object: deployment('other', 1) })));
});

test('failurePolicy: a runtime error denies under Fail and admits under Ignore', async () => {
  const v = { expression: 'object.spec.nope.x > 1' };
  assert.equal(
    (await admit(one(v), create(1)))?.message,
    `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'object.spec.nope.x > 1' resulted in error: no such key: nope`,
  );
  assert.equal(await admit(one(v, { failurePolicy: 'Ignore' }), create(1)), undefined);
});

test('a validation that does not compile denies with the compile error', async () => {
  const err = await admit(one({ expression: 'object.spec.replicas <= limit' }), create(1));
  assert.match(err?.message ?? '', /denied request: compilation error: compilation failed: ERROR: <input>:1:25: undeclared reference to 'limit'/);
});

test('the authorizer variable asks the authorizer', async () => {
  const asked: AuthorizationAttributes[] = [];
  const authorize = async (a: AuthorizationAttributes): Promise<Decision> => {
    asked.push(a);
    return a.user.groups.includes('admins') ? { decision: 'allow', reason: '' } : { decision: 'deny', reason: 'not an admin' };
  };
  const w = {
    policies: [policy('p', { validations: [{ expression: "object.spec.replicas <= 5 || authorizer.group('apps').resource('deployments').subresource('scale').namespace(object.metadata.namespace).check('update').allowed()", message: 'only admins may scale past 5' }] })],
    bindings: [binding('b', 'p')],
    authorize,
  };
  assert.equal((await admit(w, create(6)))?.message, `deployments.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: only admins may scale past 5`);
  assert.equal(await admit(w, makeAttrs({ object: deployment('nginx', 6), user: { username: 'root', groups: ['admins'] } })), undefined);
  assert.deepEqual(
    asked.map((a) => [a.user.username, a.verb, a.apiGroup, a.apiVersion, a.resource, a.subresource, a.namespace]),
    [
      ['alice', 'update', 'apps', '*', 'deployments', 'scale', 'default'],
      ['root', 'update', 'apps', '*', 'deployments', 'scale', 'default'],
    ],
  );
  assert.equal(await admit(w, create(1)), undefined);
  assert.equal(asked.length, 2, 'no check when the first operand decides');
});

test('authorizer.requestResource checks the request itself', async () => {
  const w = {
    policies: [policy('p', { validations: [{ expression: "authorizer.requestResource.check('patch').allowed()" }] })],
    bindings: [binding('b', 'p')],
    authorize: async (a: AuthorizationAttributes): Promise<Decision> => ({ decision: a.verb === 'patch' && a.resource === 'deployments' && a.name === 'nginx' ? 'allow' : 'deny', reason: '' }),
  };
  assert.equal(await admit(w, create(1)), undefined);
});

test('request and namespaceObject are available', async () => {
  const w = one({ expression: "request.operation == 'CREATE' && request.userInfo.username == 'alice' && request.kind.kind == 'Deployment' && namespaceObject.metadata.labels.environment == 'test'" });
  assert.equal(await admit(w, create(1)), undefined);
});

test('a policy matching through an equivalent version sees the object in that version', async () => {
  const p = policy('p', {
    matchConstraints: { resourceRules: [{ apiGroups: ['autoscaling'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['horizontalpodautoscalers'] }] },
    validations: [{ expression: "object.apiVersion == 'autoscaling/v1' && object.spec.served == 'v1' && request.kind.version == 'v1' && request.requestKind.version == 'v2'" }],
  });
  const attrs = makeAttrs({ def: defs.hpa, object: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h', namespace: 'default' }, spec: {} } });
  assert.equal(await admit({ policies: [p], bindings: [binding('b', 'p')] }, attrs), undefined);
});

test('every policy is evaluated; the first denial is returned and later warnings still apply', async () => {
  const w = {
    policies: [policy('a', { validations: [{ expression: 'false', message: 'from a' }] }), policy('b', { validations: [{ expression: 'false', message: 'from b' }] })],
    bindings: [binding('a1', 'a'), binding('b1', 'b', { validationActions: ['Warn'] })],
  };
  const attrs = create(1);
  assert.match((await admit(w, attrs))?.message ?? '', /ValidatingAdmissionPolicy 'a' with binding 'a1' denied request: from a$/);
  assert.deepEqual(attrs.warnings, ["Validation failed for ValidatingAdmissionPolicy 'b' with binding 'b1': from b"]);
});

test('bindings without their policy and policies without bindings do nothing', async () => {
  assert.equal(await admit({ policies: [policy('p', { validations: [{ expression: 'false' }] })], bindings: [binding('b', 'other')] }, create(1)), undefined);
});

test('an unknown namespace of a selected request is NotFound', async () => {
  const err = await admit(one({}), create(1, { namespace: 'gone' }));
  assert.equal(err?.status.reason, 'NotFound');
  assert.equal(err?.message, 'namespaces "gone" not found');
});

test('the policy kinds themselves and review kinds are exempt', async () => {
  assert.equal(isExempt(defs.policies), true);
  assert.equal(isExempt(defs.subjectAccessReviews), true);
  assert.equal(isExempt(defs.deployments), false);
  const everything = { policies: [policy('p', { matchConstraints: { resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'] }] }, validations: [{ expression: 'false' }] })], bindings: [binding('b', 'p')] };
  assert.equal(await admit(everything, makeAttrs({ def: defs.policies, object: policy('x') })), undefined);
  assert.ok(await admit(everything, create(1)));
});

test('a policy that does not compile is logged once', async () => {
  const w = one({ expression: 'nope' });
  const { p, logs } = plugin(w);
  for (let i = 0; i < 2; i++) await assert.rejects(Promise.resolve(p.validate!(create(1))));
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /^ValidatingAdmissionPolicy 'p': 1 expression\(s\) do not compile/);
});

test('a DELETE is evaluated with object null and oldObject the stored object', async () => {
  const rule = { ...deploymentRule, operations: ['DELETE'] };
  const w = {
    policies: [policy('keep-big', { matchConstraints: { resourceRules: [rule] }, validations: [{ expression: "object == null && oldObject.spec.replicas < 3 && request.operation == 'DELETE'", message: 'big deployments stay' }] })],
    bindings: [binding('keep-big', 'keep-big')],
  };
  const err = await admit(w, makeAttrs({ operation: 'DELETE', object: undefined, oldObject: deployment('nginx', 6) }));
  assert.match(err?.message ?? '', /deployments\.apps "nginx" is forbidden: ValidatingAdmissionPolicy 'keep-big' with binding 'keep-big' denied request: big deployments stay/);
  assert.equal(await admit(w, makeAttrs({ operation: 'DELETE', object: undefined, oldObject: deployment('nginx', 2) })), undefined);
});
