import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toCel } from '../webhook/matchconditions.ts';
import { compileExpression, compilePolicy, newAuthorizer, newAuthzSession, type EvaluationInput } from './engine.ts';

const input = (object: unknown, extra: Partial<EvaluationInput> = {}): EvaluationInput => ({
  object: toCel(object),
  oldObject: null,
  request: toCel({ operation: 'CREATE', userInfo: { username: 'alice' } }),
  params: null,
  namespaceObject: toCel({ metadata: { name: 'default', labels: { env: 'test' } } }),
  ...extra,
});
const decls = { params: false, authorizer: false, variables: new Set<string>() };

test('an undeclared identifier is a compile error worded as cel-go', () => {
  assert.equal(compileExpression('object.a == foo', decls).error, "compilation failed: ERROR: <input>:1:13: undeclared reference to 'foo' (in container '')\n | object.a == foo\n | ............^");
});

test('params and authorizer are declared only when the policy has them', () => {
  assert.match(compileExpression('params.x', decls).error!, /undeclared reference to 'params'/);
  assert.equal(compileExpression('params.x', { ...decls, params: true }).error, undefined);
  assert.match(compileExpression("authorizer.path('/').check('get').allowed()", decls).error!, /undeclared reference to 'authorizer'/);
});

test('comprehension variables and function namespaces are not undeclared', () => {
  assert.equal(compileExpression("object.items.all(i, i > 0) && sets.contains([1], [1]) && ip.isCanonical('::1')", decls).error, undefined);
});

test('a variable not declared before is an undefined field', () => {
  assert.match(compileExpression('variables.later', decls).error!, /undefined field 'later'/);
});

test('a syntax error is a compile error', () => {
  assert.match(compileExpression('object.a ==', decls).error!, /^compilation failed: ERROR: <input>:1:\d+: Syntax error: /);
});

test('variables are composited lazily, once, and see the ones before them', () => {
  const e = compilePolicy(
    {
      variables: [
        { name: 'replicas', expression: 'object.spec.replicas' },
        { name: 'double', expression: 'variables.replicas * 2' },
        { name: 'broken', expression: 'object.nope.x' },
      ],
      validations: [{ expression: 'variables.double == 12' }, { expression: 'variables.broken == 1' }, { expression: 'true || variables.broken == 1' }],
    },
    { params: false, authorizer: false, ignore: false },
  );
  const r = e.evaluate(input({ spec: { replicas: 6 } }));
  assert.deepEqual(
    r.decisions.map((d) => [d.action, d.message]),
    [
      ['admit', ''],
      ['deny', `expression 'variables.broken == 1' resulted in error: composited variable "broken" fails to evaluate: no such key: nope`],
      ['admit', ''],
    ],
  );
});

test('a variable that does not compile fails the expressions using it', () => {
  const e = compilePolicy({ variables: [{ name: 'v', expression: 'nope' }], validations: [{ expression: 'variables.v' }] }, { params: false, authorizer: false, ignore: false });
  assert.match(e.evaluate(input({})).decisions[0]!.message, /^expression 'variables.v' resulted in error: composited variable "v" fails to compile: compilation failed: ERROR: <input>:1:1: undeclared reference to 'nope'/);
  assert.equal(e.compileErrors.length, 1);
});

test('namespaceObject, request and oldObject are bound', () => {
  const e = compilePolicy({ validations: [{ expression: "namespaceObject.metadata.labels.env == 'test' && request.userInfo.username == 'alice' && oldObject == null" }] }, { params: false, authorizer: false, ignore: false });
  assert.equal(e.evaluate(input({})).decisions[0]!.action, 'admit');
});

test('matchConditions gate the validations', () => {
  const e = compilePolicy({ matchConditions: [{ name: 'big', expression: 'object.spec.replicas > 3' }], validations: [{ expression: 'false' }] }, { params: false, authorizer: false, ignore: false });
  assert.deepEqual(e.evaluate(input({ spec: { replicas: 1 } })), { decisions: [], auditAnnotations: [] });
  assert.equal(e.evaluate(input({ spec: { replicas: 5 } })).decisions[0]!.action, 'deny');
});

test('a matchCondition error denies under Fail as one decision', () => {
  const e = compilePolicy({ matchConditions: [{ name: 'c', expression: 'object.nope' }], validations: [{ expression: 'true' }] }, { params: false, authorizer: false, ignore: false });
  assert.deepEqual(e.evaluate(input({})).decisions, [{ action: 'deny', evaluation: 'error', message: "expression 'object.nope' resulted in error: no such key: nope", reason: '' }]);
});

test('messageExpressions are evaluated only for failures and cannot use the authorizer', () => {
  assert.match(
    compilePolicy({ validations: [{ expression: 'false', messageExpression: "authorizer.path('/').check('get').reason()" }] }, { params: false, authorizer: true, ignore: false }).compileErrors[0]!,
    /undeclared reference to 'authorizer'/,
  );
  const e = compilePolicy({ validations: [{ expression: 'object.ok', messageExpression: "'bad: ' + object.name" }] }, { params: false, authorizer: false, ignore: false });
  assert.equal(e.evaluate(input({ ok: false, name: 'x' })).decisions[0]!.message, 'bad: x');
  assert.equal(e.evaluate(input({ ok: true })).decisions[0]!.action, 'admit');
});

test('an authorizer check waits for its decision and the evaluation is run again', async () => {
  const e = compilePolicy({ validations: [{ expression: "authorizer.group('apps').resource('deployments').check('create').allowed()" }] }, { params: false, authorizer: true, ignore: false });
  const session = newAuthzSession(async (a) => ({ decision: a.verb === 'create' ? 'allow' : 'deny', reason: '' }));
  const inp = input({}, { authorizer: newAuthorizer(session, { user: { username: 'alice', groups: [] } }) });
  assert.equal(e.evaluate(inp).decisions[0]!.evaluation, 'error');
  assert.equal(session.pending, 1);
  await session.settle();
  assert.equal(e.evaluate(inp).decisions[0]!.action, 'admit');
});
