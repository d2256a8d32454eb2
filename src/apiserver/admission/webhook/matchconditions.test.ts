import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileConditions, evaluateConditions, toCel } from './matchconditions.ts';

const input = {
  object: toCel({ metadata: { name: 'web', labels: { app: 'web' } }, spec: { replicas: 3, containers: [{ name: 'c', image: 'nginx:1.27' }] } }),
  oldObject: null,
  request: toCel({ operation: 'CREATE', userInfo: { username: 'alice', groups: ['devs'] }, dryRun: false }),
};

async function run(expressions: string[], ignore = false) {
  const compiled = await compileConditions(expressions.map((expression, i) => ({ name: `c${i}`, expression })));
  return evaluateConditions(compiled, input, { ignoreFailures: ignore });
}

const cases = [
  { name: 'a true condition matches', exprs: ["object.metadata.labels.app == 'web'"], want: { matches: true } },
  { name: 'integers are CEL ints', exprs: ['object.spec.replicas + 1 == 4'], want: { matches: true } },
  { name: 'macros and the strings extension work', exprs: ["object.spec.containers.all(c, c.image.startsWith('nginx') && c.image.indexOf(':') > 0)"], want: { matches: true } },
  { name: 'request and oldObject are bound', exprs: ["request.operation == 'CREATE' && oldObject == null && 'devs' in request.userInfo.groups"], want: { matches: true } },
  { name: 'a false condition skips, naming it', exprs: ['true', "request.userInfo.username == 'bob'"], want: { matches: false, failedCondition: 'c1' } },
  { name: 'false wins over an error', exprs: ['object.nope.x', 'false'], want: { matches: false, failedCondition: 'c1' } },
  {
    name: 'an evaluation error fails with upstream wording',
    exprs: ['object.nope.x == 1'],
    want: { error: "expression 'object.nope.x == 1' resulted in error: no such key: nope" },
  },
  {
    name: 'several errors are aggregated',
    exprs: ['object.a == 1', 'object.b == 1'],
    want: { error: "[expression 'object.a == 1' resulted in error: no such key: a, expression 'object.b == 1' resulted in error: no such key: b]" },
  },
  { name: 'a result that is not false matches', exprs: ['object.metadata.name'], want: { matches: true } },
];

for (const c of cases) test(c.name, async () => assert.deepEqual(await run(c.exprs), c.want));

test('with failurePolicy Ignore an error skips the webhook', async () => {
  assert.deepEqual(await run(['object.nope.x == 1'], true), { matches: false });
});

test('an undeclared variable does not compile, with its position', async () => {
  const [c] = await compileConditions([{ name: 'x', expression: 'true && params.a' }]);
  assert.equal(c!.program, undefined);
  assert.equal(c!.error, "compilation error: ERROR: <input>:1:9: undeclared reference to 'params' (in container '')");
});

test('the authorizer variable is refused with a clear error', async () => {
  const [c] = await compileConditions([{ name: 'x', expression: "authorizer.group('').resource('pods').check('get').allowed()" }]);
  assert.match(c!.error ?? '', /undeclared reference to 'authorizer'.*not available to webhook matchConditions/);
});

test('comprehension variables are declared inside their macro only', async () => {
  const [ok, bad] = await compileConditions([
    { name: 'ok', expression: 'object.spec.containers.exists(c, c.name == "c")' },
    { name: 'bad', expression: 'object.spec.containers.exists(c, true) && c.name == "c"' },
  ]);
  assert.equal(ok!.error, undefined);
  assert.match(bad!.error ?? '', /undeclared reference to 'c'/);
});

test('a syntax error is a compilation error', async () => {
  const [c] = await compileConditions([{ name: 'x', expression: '1 +' }]);
  assert.match(c!.error ?? '', /^compilation error: ERROR: <input>:1:3: /);
  assert.deepEqual(await run(['1 +']), { error: c!.error });
});

test('toCel keeps non-integers as doubles and drops undefined', () => {
  assert.deepEqual(toCel({ a: 1, b: 1.5, c: undefined, d: [2] }), { a: 1n, b: 1.5, d: [2n] });
});
