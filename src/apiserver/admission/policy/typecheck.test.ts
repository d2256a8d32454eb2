// ValidatingAdmissionPolicy type checking: upstream's typechecking_test.go cases, cel-go's wording
// and positions, the schema mapping, and the built-in schemas as the API server publishes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidatingAdmissionPolicy, ValidatingAdmissionPolicySpec } from '../../../api/index.ts';
import { builtinResources } from '../../../api/groups/index.ts';
import { OpenApi } from '../../openapi.ts';
import { ResourceRegistry } from '../../registry.ts';
import { checkExpression, formatIssues, T, type CelType } from './celcheck.ts';
import { checkPolicy, discoveryResolver, escapeFieldName, resolveRefs, schemaCelType, typesToCheck, type GroupVersionKind, type OpenApiSchema, type SchemaResolver } from './typecheck.ts';

const deploymentRules = { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['deployments'] }] };
const policyOf = (spec: ValidatingAdmissionPolicySpec): ValidatingAdmissionPolicy => ({ metadata: { name: 'p' }, spec: { matchConstraints: deploymentRules, ...spec } }) as ValidatingAdmissionPolicy;
const str = { type: 'string' };
const int = { type: 'integer' };
const obj = (properties: Record<string, unknown>): OpenApiSchema => ({ type: 'object', properties });

/** A resolver serving `schema` for every kind it knows (deployments, replicasets, pods, configs). */
function fixedResolver(schema: OpenApiSchema | undefined, params?: OpenApiSchema): SchemaResolver {
  const kinds: Record<string, GroupVersionKind> = {
    'apps/v1/deployments': { group: 'apps', version: 'v1', kind: 'Deployment' },
    'apps/v1/replicasets': { group: 'apps', version: 'v1', kind: 'ReplicaSet' },
    '/v1/pods': { group: '', version: 'v1', kind: 'Pod' },
  };
  return {
    kindsFor: async (r) => {
      const k = kinds[`${r.group}/${r.version}/${r.resource}`];
      return k ? [k] : [];
    },
    schemaFor: async (gvk) => (gvk.kind === 'Config' ? params : schema),
  };
}

const fixedName = { typeName: (kind: string) => `${kind}1` };
const warnings = (spec: ValidatingAdmissionPolicySpec, schema: OpenApiSchema | undefined, params?: OpenApiSchema) => checkPolicy(policyOf(spec), fixedResolver(schema, params), fixedName);

// Upstream's TestTypeCheck, case for case.
const cases: { name: string; spec: ValidatingAdmissionPolicySpec; schema?: OpenApiSchema; params?: OpenApiSchema; want: { fieldRef: string; contains: string }[] }[] = [
  { name: 'an empty policy has no warnings', spec: { matchConstraints: undefined }, schema: obj({ foo: str }), want: [] },
  { name: 'a kind without a schema is not checked', spec: { validations: [{ expression: "object.foo == 'bar'" }] }, schema: undefined, want: [] },
  { name: 'an expression that checks has no warning', spec: { validations: [{ expression: "object.foo == 'bar'" }] }, schema: obj({ foo: str }), want: [] },
  { name: 'an undefined field', spec: { validations: [{ expression: "object.foo == 'bar'" }] }, schema: obj({ bar: str }), want: [{ fieldRef: 'spec.validations[0].expression', contains: "undefined field 'foo'" }] },
  { name: 'a field of another type', spec: { validations: [{ expression: "object.foo == 'bar'" }] }, schema: obj({ foo: int }), want: [{ fieldRef: 'spec.validations[0].expression', contains: 'found no matching overload' }] },
  {
    name: 'params have the paramKind’s type',
    spec: { paramKind: { apiVersion: 'v1', kind: 'Config' }, validations: [{ expression: 'object.foo == params.bar' }] },
    schema: obj({ foo: str }),
    params: obj({ foo: str }),
    want: [{ fieldRef: 'spec.validations[0].expression', contains: "undefined field 'bar'" }],
  },
  { name: 'of several expressions, only the wrong one warns', spec: { validations: [{ expression: "object.foo == 'bar'" }, { expression: "object.bar == 'foo'" }] }, schema: obj({ foo: str }), want: [{ fieldRef: 'spec.validations[1].expression', contains: "undefined field 'bar'" }] },
  { name: 'a messageExpression is checked too', spec: { validations: [{ expression: "object.foo == 'bar'", messageExpression: 'object.foo + 114514' }] }, schema: obj({ foo: str }), want: [{ fieldRef: 'spec.validations[0].messageExpression', contains: "found no matching overload for '_+_' applied to '(string, int)'" }] },
  { name: 'the authorizer library is declared', spec: { validations: [{ expression: "authorizer.group('').resource('endpoints').check('create').allowed()" }] }, schema: obj({ foo: str }), want: [] },
  { name: 'an authorizer is not a decision', spec: { validations: [{ expression: 'authorizer.allowed()' }] }, schema: obj({ foo: str }), want: [{ fieldRef: 'spec.validations[0].expression', contains: "found no matching overload for 'allowed' applied to 'kubernetes.authorization.Authorizer.()'" }] },
  {
    name: 'additionalProperties: true leaves an object',
    spec: { validations: [{ expression: 'has(object.spec.text)' }] },
    schema: obj({ spec: obj({ text: str }), status: obj({ problematicProperty: { type: 'object', additionalProperties: true } }) }),
    want: [],
  },
  { name: 'a schema without a type makes object dyn', spec: { validations: [{ expression: 'object.anything.at.all' }] }, schema: {}, want: [] },
  { name: 'variables are declared', spec: { variables: [{ name: 'works', expression: 'true' }], validations: [{ expression: 'variables.works' }] }, schema: obj({ foo: int }), want: [] },
  { name: 'an undeclared variable is an undefined field', spec: { variables: [{ name: 'works', expression: 'true' }], validations: [{ expression: 'variables.nonExisting' }] }, schema: obj({ foo: int }), want: [{ fieldRef: 'spec.validations[0].expression', contains: "undefined field 'nonExisting'" }] },
  { name: 'a variable has its expression’s type', spec: { variables: [{ name: 'name', expression: "'something'" }], validations: [{ expression: 'variables.name == object.foo' }] }, schema: obj({ foo: int }), want: [{ fieldRef: 'spec.validations[0].expression', contains: "found no matching overload for '_==_' applied to '(string, int)'" }] },
  { name: 'a variable sees the variables before it only', spec: { variables: [{ name: 'a', expression: 'variables.b' }, { name: 'b', expression: '1' }], validations: [{ expression: "variables.a == 'x' && variables.b == 1" }] }, schema: obj({ foo: int }), want: [] },
  { name: 'a wildcard resource is not checked', spec: { matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], resources: ['*'] }] }, validations: [{ expression: 'object.nope' }] }, schema: obj({ foo: int }), want: [] },
  { name: 'a wildcard version skips its rule', spec: { matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['*'], resources: ['deployments'] }] }, validations: [{ expression: 'object.nope' }] }, schema: obj({ foo: int }), want: [] },
  { name: 'without a paramKind, params is undeclared', spec: { validations: [{ expression: 'params.x' }] }, schema: obj({ foo: int }), want: [{ fieldRef: 'spec.validations[0].expression', contains: "undeclared reference to 'params' (in container '')" }] },
  { name: 'request and namespaceObject have upstream’s types', spec: { validations: [{ expression: "request.userInfo.username == 'x' && namespaceObject.metadata.UID == request.namespace && request.nope" }] }, schema: obj({ foo: int }), want: [{ fieldRef: 'spec.validations[0].expression', contains: "undefined field 'nope'" }] },
];
for (const c of cases) {
  test(`upstream's cases: ${c.name}`, async () => {
    const got = await warnings(c.spec, c.schema, c.params);
    assert.equal(got.length, c.want.length, JSON.stringify(got, null, 1));
    c.want.forEach((w, i) => {
      assert.equal(got[i]!.fieldRef, w.fieldRef);
      assert.ok(got[i]!.warning.includes(w.contains), got[i]!.warning);
    });
  });
}

test('a warning names each kind as Go prints a GroupVersionKind, each kind’s issues ending in a newline', async () => {
  const spec = { matchConstraints: { resourceRules: [{ apiGroups: ['apps', ''], apiVersions: ['v1'], resources: ['replicasets', 'deployments', 'pods'] }] }, validations: [{ expression: 'object.replicas > 1' }] };
  const got = await warnings(spec, obj({ spec: obj({}) }));
  const issue = "ERROR: <input>:1:7: undefined field 'replicas'\n | object.replicas > 1\n | ......^\n";
  assert.deepEqual(got, [{ fieldRef: 'spec.validations[0].expression', warning: `/v1, Kind=Pod: ${issue}\napps/v1, Kind=Deployment: ${issue}\napps/v1, Kind=ReplicaSet: ${issue}` }]);
});

test('at most 10 kinds are checked', async () => {
  const resolver: SchemaResolver = { kindsFor: async (r) => [{ group: r.group, version: r.version, kind: r.resource.toUpperCase() }], schemaFor: async () => obj({}) };
  const resources = Array.from({ length: 12 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  const kinds = await typesToCheck(policyOf({ matchConstraints: { resourceRules: [{ apiGroups: ['g'], apiVersions: ['v1'], resources: [...resources, 'x/status'] }] } }), resolver);
  assert.deepEqual(kinds.map((k) => k.kind), resources.slice(0, 10).map((r) => r.toUpperCase()));
});

// ---- cel-go's wording and positions -----------------------------------------------------------

const issueCases = [
  { name: 'a member call is placed at its (', expr: "object.spec.replicas.startsWith('x')", want: "ERROR: <input>:1:32: found no matching overload for 'startsWith' applied to 'int.(string)'" },
  { name: 'a global call is placed at its (', expr: 'size (object.spec.replicas)', want: "ERROR: <input>:1:6: found no matching overload for 'size' applied to '(int)'" },
  { name: 'a binary operator is placed at its token', expr: "object.spec.replicas  >=  'x'", want: "ERROR: <input>:1:23: found no matching overload for '_>=_' applied to '(int, string)'" },
  { name: 'a ternary is placed at its ?', expr: "(object.spec.replicas) ?  ('a') : 'b'", want: "ERROR: <input>:1:24: found no matching overload for '_?_:_' applied to '(int, string, string)'" },
  { name: 'has() is placed at its (', expr: 'has(object.spec.nope)', want: "ERROR: <input>:1:4: undefined field 'nope'" },
  { name: 'a macro’s own nodes are placed at its (', expr: 'object.spec.names.filter(n, n)', want: "ERROR: <input>:1:25: found no matching overload for '_?_:_' applied to '(string, list(string), list(string))'" },
  { name: 'an operand of && must be bool', expr: 'true && object.spec.replicas', want: "ERROR: <input>:1:20: expected type 'bool' but found 'int'" },
  { name: 'a range must be a list or a map', expr: 'object.spec.replicas.all(x, x > 0)', want: "ERROR: <input>:1:12: expression of type 'int' cannot be range of a comprehension (must be list, map, or dynamic)" },
  { name: 'a scalar has no fields', expr: 'object.spec.replicas.x', want: "ERROR: <input>:1:21: type 'int' does not support field selection" },
  { name: 'an unknown function', expr: "object.spec.names.frobnicate('x')", want: "ERROR: <input>:1:29: undeclared reference to 'frobnicate' (in container '')" },
  { name: 'a list literal is homogeneous', expr: "[1, 'a'] == [1]", want: "ERROR: <input>:1:5: expected type 'int' but found 'string'" },
  { name: 'the second line of an expression', expr: 'object.spec.replicas > 1 &&\n  object.spec.nope', want: "ERROR: <input>:2:14: undefined field 'nope'\n |   object.spec.nope\n | .............^" },
  { name: 'a tab prints as a space', expr: '\tobject.nope', want: "ERROR: <input>:1:8: undefined field 'nope'\n |  object.nope\n | .......^" },
];

const deployment = async () => {
  const structs = new Map<string, ReadonlyMap<string, CelType>>();
  const t = schemaCelType(obj({ spec: obj({ replicas: int, names: { type: 'array', items: str } }) }), 'D', structs)!;
  const { functions, typeIdents } = await import('./celdecls.ts');
  return { idents: new Map<string, CelType>([...typeIdents, ['object', t]]), functions: functions(), structs };
};

for (const c of issueCases) {
  test(`cel-go's wording: ${c.name}`, async () => {
    const r = checkExpression(c.expr, await deployment());
    const text = formatIssues(c.expr, r);
    assert.ok(text.startsWith(c.want), text);
  });
}

test('issues are sorted by position; a field of an undefined field is not reported again', async () => {
  const expr = 'object.b.c || object.a';
  const r = checkExpression(expr, await deployment());
  assert.deepEqual(r.issues.map((i) => [i.offset, i.message]), [[6, "undefined field 'b'"], [20, "undefined field 'a'"]]);
});

test('well-typed expressions have no issues and their type', async () => {
  const e = await deployment();
  const ok = [
    ['object.spec.names.map(n, n.size())', 'list(int)'],
    ["object.spec.names.exists(n, n.startsWith('a')) && object.spec.replicas < 2.5", 'bool'],
    ["type(object.spec.replicas) == int ? 'int' : 'other'", 'string'],
    ["{'a': [1, 2]}['a'][0] + object.spec.replicas", 'int'],
    ["quantity('1Gi').isGreaterThan(quantity('1Mi')) && sets.contains(['a'], object.spec.names)", 'bool'],
    ["dyn(object.spec).whatever && 'x' in object.spec.names", 'bool'],
    ["object.spec.names.join(',').lowerAscii().split(',').size()", 'int'],
  ];
  for (const [expr, type] of ok) {
    const r = checkExpression(expr!, e);
    assert.deepEqual(r.issues, [], `${expr}: ${formatIssues(expr!, r)}`);
    assert.equal(JSON.stringify(r.outputType), JSON.stringify(type === 'bool' ? T.bool : type === 'int' ? T.int : type === 'string' ? T.string : T.list(T.int)), expr);
  }
});

// ---- schemas ------------------------------------------------------------------------------------

test('property names are escaped as upstream escapes them', () => {
  assert.equal(escapeFieldName('namespace'), '__namespace__');
  assert.equal(escapeFieldName('x-y.z/w'), 'x__dash__y__dot__z__slash__w');
  assert.equal(escapeFieldName('a__b'), 'a__underscores__b');
  assert.equal(escapeFieldName('1abc'), undefined);
  assert.equal(escapeFieldName('a b'), undefined);
});

test('schemas become CEL types: int-or-string is dyn, date-time a timestamp, a schema without a type is left out', () => {
  const structs = new Map<string, ReadonlyMap<string, CelType>>();
  const t = schemaCelType(
    obj({
      count: { format: 'int-or-string', oneOf: [int, str] },
      when: { type: 'string', format: 'date-time' },
      data: { type: 'string', format: 'byte' },
      limits: { type: 'object', additionalProperties: { oneOf: [str, { type: 'number' }] } },
      labels: { type: 'object', additionalProperties: str },
      items: { type: 'array', items: obj({ name: str }) },
      raw: { 'x-kubernetes-embedded-resource': true, type: 'object', properties: {} },
    }),
    'Thing1',
    structs,
  );
  assert.deepEqual(t, T.struct('Thing1'));
  const fields = Object.fromEntries(structs.get('Thing1')!);
  assert.deepEqual(Object.keys(fields).sort(), ['apiVersion', 'count', 'data', 'items', 'kind', 'labels', 'metadata', 'raw', 'when']);
  assert.deepEqual(fields['count'], T.dyn);
  assert.deepEqual(fields['when'], T.timestamp);
  assert.deepEqual(fields['data'], T.bytes);
  assert.deepEqual(fields['labels'], T.map(T.string, T.string));
  assert.deepEqual(fields['items'], T.list(T.struct('Thing1.items.@idx')));
  assert.deepEqual([...structs.get('Thing1.raw')!.keys()].sort(), ['apiVersion', 'kind', 'metadata']);
  assert.deepEqual([...structs.get('Thing1.metadata')!.keys()].sort(), ['generateName', 'name']);
});

test('$refs are resolved, also wrapped in allOf; a reference back into itself is an empty object', () => {
  const schemas = {
    Root: { type: 'object', properties: { spec: { allOf: [{ $ref: '#/components/schemas/Spec' }], description: 'd' } } },
    Spec: { type: 'object', properties: { self: { $ref: '#/components/schemas/Spec' }, n: int } },
  };
  assert.deepEqual(resolveRefs(schemas, 'Root'), { type: 'object', properties: { spec: { type: 'object', properties: { self: { type: 'object' }, n: int } } } });
  assert.equal(resolveRefs(schemas, 'Missing'), undefined);
});

// ---- the schemas the API server publishes --------------------------------------------------------

const registry = new ResourceRegistry(builtinResources);
const openapi = new OpenApi(registry);
const served = discoveryResolver(async (path) => {
  if (path.startsWith('/openapi/')) {
    const r = openapi.serve(path, new URLSearchParams(), {});
    return r ? (JSON.parse(r.body as string) as unknown) : undefined;
  }
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
  if (!m) return undefined;
  const group = m[1] ? '' : m[2]!;
  const resources = registry.resourcesOf(group, m[1] ?? m[3]!);
  return resources.length ? { resources: resources.map((e) => ({ name: e.def.plural, singularName: e.def.singular, kind: e.def.kind })) } : undefined;
});

test('built-in kinds: a Deployment has no spec.replicaz, as upstream words it', async () => {
  const got = await checkPolicy(policyOf({ validations: [{ expression: 'object.spec.replicaz > 1' }] }), served);
  assert.deepEqual(got, [{ fieldRef: 'spec.validations[0].expression', warning: "apps/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'replicaz'\n | object.spec.replicaz > 1\n | ...........^\n" }]);
});

test('built-in kinds: common policies over Deployments, Pods and ConfigMap params check clean', async () => {
  const policy = policyOf({
    matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] },
    paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
    variables: [{ name: 'containers', expression: 'object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])' }],
    validations: [
      { expression: "variables.containers.all(c, c.image.startsWith(params.data['registry']))", messageExpression: "'images must come from ' + params.data.registry" },
      { expression: "object.metadata.name.size() < 64 && object.metadata.labels.all(k, k != 'x') && object.metadata.creationTimestamp < timestamp('2100-01-01T00:00:00Z')" },
      { expression: "object.spec.containers.all(c, !has(c.securityContext) || c.securityContext.privileged != true) && request.operation == 'CREATE'" },
    ],
  });
  assert.deepEqual(await checkPolicy(policy, served), []);
});

test('built-in kinds: a core kind prints with an empty group; an unknown resource is not checked', async () => {
  const policy = policyOf({ matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'nosuchthings'] }] }, validations: [{ expression: 'object.spec.nodeNamez' }] });
  const got = await checkPolicy(policy, served);
  assert.equal(got.length, 1);
  assert.match(got[0]!.warning, /^\/v1, Kind=Pod: ERROR: <input>:1:12: undefined field 'nodeNamez'/);
});

test('a schema that fails to resolve leaves its kind unchecked and is logged, as upstream', async () => {
  const logs: string[] = [];
  const resolver: SchemaResolver = { ...fixedResolver(obj({})), schemaFor: async () => Promise.reject(new Error('HTTP 503')) };
  assert.deepEqual(await checkPolicy(policyOf({ validations: [{ expression: 'object.nope' }] }), resolver, { log: (m) => logs.push(m) }), []);
  assert.deepEqual(logs, ['cannot resolve the schema of apps/v1, Kind=Deployment: HTTP 503']);
});
