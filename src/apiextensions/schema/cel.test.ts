import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONSchemaProps, ValidationRule } from '../../api/index.ts';
import { celSchemaErrors, compileRules, validateRules } from './cel.ts';
import { compileValidator, costErrorMessage, validateWith } from './cel-compile.ts';

/** A CR schema whose spec has the given properties and rules. */
function crd(props: Record<string, JSONSchemaProps>, rules: ValidationRule[] = [], extra: JSONSchemaProps = {}): JSONSchemaProps {
  return { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: { type: 'object', properties: props, 'x-kubernetes-validations': rules, ...extra } } };
}
const cr = (spec: unknown) => ({ apiVersion: 'x.io/v1', kind: 'X', metadata: { name: 'a' }, spec });
const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;

test('a schema without rules compiles to empty and validates to nothing', () => {
  const r = compileRules(crd({ a: int }));
  assert.equal(r.empty, true);
  assert.deepEqual(validateRules(r, cr({ a: 1 }), undefined), []);
});

interface Case {
  name: string;
  schema: JSONSchemaProps;
  obj: unknown;
  old?: unknown;
  want: unknown[];
}

const replicas = { replicas: int, maxReplicas: int };
const cases: Case[] = [
  {
    name: 'a false rule is Invalid "object" with its message at the node',
    schema: crd(replicas, [{ rule: 'self.replicas <= self.maxReplicas', message: 'replicas must not exceed maxReplicas' }]),
    obj: cr({ replicas: 5, maxReplicas: 3 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": replicas must not exceed maxReplicas' }],
  },
  { name: 'a true rule passes', schema: crd(replicas, [{ rule: 'self.replicas <= self.maxReplicas' }]), obj: cr({ replicas: 1, maxReplicas: 3 }), want: [] },
  {
    name: 'without a message the rule is quoted',
    schema: crd(replicas, [{ rule: ' self.replicas < 2 ' }]),
    obj: cr({ replicas: 5 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": failed rule: self.replicas < 2' }],
  },
  {
    name: 'a root rule has the nil path',
    schema: { type: 'object', properties: { spec: { type: 'object', properties: replicas } }, 'x-kubernetes-validations': [{ rule: "self.metadata.name == 'b'", message: 'bad name' }] },
    obj: cr({}),
    want: [{ reason: 'FieldValueInvalid', field: '<nil>', message: 'Invalid value: "object": bad name' }],
  },
  {
    name: 'messageExpression gives the message',
    schema: crd(replicas, [{ rule: 'self.replicas < 2', message: 'm', messageExpression: "'replicas is ' + string(self.replicas)" }]),
    obj: cr({ replicas: 5 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": replicas is 5' }],
  },
  {
    name: 'an empty messageExpression result falls back to message',
    schema: crd(replicas, [{ rule: 'self.replicas < 2', message: 'm', messageExpression: "'  '" }]),
    obj: cr({ replicas: 5 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": m' }],
  },
  {
    name: 'reasons map to Forbidden, Required and Duplicate',
    schema: crd(replicas, [
      { rule: 'false', message: 'f', reason: 'FieldValueForbidden' },
      { rule: 'false', message: 'r', reason: 'FieldValueRequired' },
      { rule: 'false', message: 'd', reason: 'FieldValueDuplicate' },
    ]),
    obj: cr({}),
    want: [
      { reason: 'FieldValueForbidden', field: 'spec', message: 'Forbidden: f' },
      { reason: 'FieldValueRequired', field: 'spec', message: 'Required value: r' },
      { reason: 'FieldValueDuplicate', field: 'spec', message: 'Duplicate value: "object"' },
    ],
  },
  {
    name: 'fieldPath moves the error below the node',
    schema: crd({ ...replicas, m: { type: 'object', additionalProperties: str } }, [
      { rule: 'self.replicas < 2', message: 'x', fieldPath: '.replicas' },
      { rule: 'false', message: 'y', fieldPath: ".m['a.b']" },
    ]),
    obj: cr({ replicas: 5 }),
    want: [
      { reason: 'FieldValueInvalid', field: 'spec.replicas', message: 'Invalid value: "object": x' },
      { reason: 'FieldValueInvalid', field: 'spec.m[a.b]', message: 'Invalid value: "object": y' },
    ],
  },
  {
    name: 'a rule on a scalar shows the scalar type',
    schema: crd({ n: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self % 2 == 0', message: 'even' }] } }),
    obj: cr({ n: 3 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec.n', message: 'Invalid value: "integer": even' }],
  },
  {
    name: 'rules on list items and map values have indexed paths',
    schema: crd({
      l: { type: 'array', items: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self.size() < 3' }] } },
      m: { type: 'object', additionalProperties: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self > 0' }] } },
    }),
    obj: cr({ l: ['a', 'long'], m: { k: 0 } }),
    want: [
      { reason: 'FieldValueInvalid', field: 'spec.l[1]', message: 'Invalid value: "string": failed rule: self.size() < 3' },
      { reason: 'FieldValueInvalid', field: 'spec.m[k]', message: 'Invalid value: "integer": failed rule: self > 0' },
    ],
  },
  {
    name: 'properties with special characters are escaped',
    schema: crd({ 'foo-bar': int, in: int }, [{ rule: 'self.foo__dash__bar < self.__in__' }]),
    obj: cr({ 'foo-bar': 3, in: 1 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": failed rule: self.foo__dash__bar < self.__in__' }],
  },
  {
    name: 'a missing field is a no such key error',
    schema: crd(replicas, [{ rule: 'self.replicas > 0' }]),
    obj: cr({}),
    want: [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": no such key: replicas evaluating rule: self.replicas > 0' }],
  },
  {
    name: 'int-or-string is dyn and a wrong operand is an overload error',
    schema: crd({ p: { 'x-kubernetes-int-or-string': true, 'x-kubernetes-validations': [{ rule: 'self > 1' }] } }),
    obj: cr({ p: '50%' }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec.p', message: `Invalid value: "": 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: self > 1` }],
  },
  {
    name: 'an embedded resource shows apiVersion, kind and metadata.name',
    schema: crd({ tmpl: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true, 'x-kubernetes-validations': [{ rule: "self.kind == 'Pod' && self.metadata.name.startsWith('p')" }] } }),
    obj: cr({ tmpl: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'q' } } }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec.tmpl', message: `Invalid value: "object": failed rule: self.kind == 'Pod' && self.metadata.name.startsWith('p')` }],
  },
  {
    name: 'date-time strings are timestamps and number fields doubles',
    schema: crd({ t: { type: 'string', format: 'date-time' }, d: { type: 'number' } }, [{ rule: "self.t < timestamp('2030-01-01T00:00:00Z') && self.d > 1.5" }]),
    obj: cr({ t: '2020-01-01T00:00:00Z', d: 2 }),
    want: [],
  },
  {
    name: 'Kubernetes list and string libraries are available',
    schema: crd({ l: { type: 'array', items: int }, s: str }, [{ rule: "self.l.isSorted() && self.s.lowerAscii() == 'ab' && self.l.sum() == 6" }]),
    obj: cr({ l: [1, 2, 3], s: 'AB' }),
    want: [],
  },
  {
    name: 'null values are not validated',
    schema: crd({ n: { type: 'integer', nullable: true, 'x-kubernetes-validations': [{ rule: 'self > 0' }] } }),
    obj: cr({ n: null }),
    want: [],
  },
  {
    name: 'a transition rule does not run on create',
    schema: crd(replicas, [{ rule: 'self.replicas >= oldSelf.replicas', message: 'no scale down' }]),
    obj: cr({ replicas: 1 }),
    want: [],
  },
  {
    name: 'a transition rule runs on update',
    schema: crd(replicas, [{ rule: 'self.replicas >= oldSelf.replicas', message: 'no scale down' }]),
    obj: cr({ replicas: 1 }),
    old: cr({ replicas: 2 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": no scale down' }],
  },
  {
    name: 'optionalOldSelf runs on create with oldSelf none',
    schema: crd(replicas, [{ rule: '!oldSelf.hasValue() ? self.replicas == 1 : self.replicas >= oldSelf.value().replicas', optionalOldSelf: true, message: 'start at 1' }]),
    obj: cr({ replicas: 2 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": start at 1' }],
  },
  {
    name: 'map-list items correlate with old items by key',
    schema: crd({
      l: {
        type: 'array',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        items: { type: 'object', properties: { name: str, v: int }, 'x-kubernetes-validations': [{ rule: 'self.v >= oldSelf.v', message: 'v decreased' }] },
      },
    }),
    obj: cr({ l: [{ name: 'b', v: 1 }, { name: 'a', v: 5 }, { name: 'c', v: 0 }] }),
    old: cr({ l: [{ name: 'a', v: 4 }, { name: 'b', v: 2 }] }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec.l[0]', message: 'Invalid value: "object": v decreased' }],
  },
  {
    name: 'ratcheting: an unchanged invalid value does not fail an update',
    schema: crd({ a: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self < 5' }] }, b: int }),
    obj: cr({ a: 9, b: 2 }),
    old: cr({ a: 9, b: 1 }),
    want: [],
  },
  {
    name: 'ratcheting: a changed invalid value fails an update',
    schema: crd({ a: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self < 5' }] } }),
    obj: cr({ a: 9 }),
    old: cr({ a: 8 }),
    want: [{ reason: 'FieldValueInvalid', field: 'spec.a', message: 'Invalid value: "integer": failed rule: self < 5' }],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const r = compileRules(c.schema);
    assert.equal(r.empty, false);
    assert.deepEqual(validateRules(r, c.obj, c.old), c.want);
  });
}

test('ratcheted failures are reported as warnings', () => {
  const r = compileRules(crd({ a: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self < 5' }] } }));
  const warnings: string[] = [];
  assert.deepEqual(validateRules(r, cr({ a: 9 }), cr({ a: 9 }), { warnings }), []);
  assert.deepEqual(warnings, ['spec.a: Invalid value: "integer": failed rule: self < 5']);
});

const longList = { l: { type: 'array', items: int } } as const;
const pairs = 'self.l.all(x, self.l.all(y, x + y >= 0))';

test('the per-call cost limit stops the evaluation with upstream message', () => {
  const v = compileValidator(crd(longList, [{ rule: pairs }, { rule: 'false' }]))!;
  const errs = validateWith(v, cr({ l: Array.from({ length: 200 }, (_, i) => i) }), undefined, { perCallLimit: 10_000 });
  assert.deepEqual(errs, [
    { reason: 'FieldValueInvalid', field: 'spec', message: `Invalid value: "object": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: ${pairs}` },
  ]);
});

test('the runtime budget stops the evaluation with upstream message', () => {
  const schema = crd({ l: { type: 'array', items: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self >= 0' }] } } });
  const errs = validateWith(compileValidator(schema)!, cr({ l: [1, 2, 3, 4, 5, 6] }), undefined, { budget: 10 });
  assert.deepEqual(errs, [{ reason: 'FieldValueInvalid', field: 'spec.l[3]', message: 'Invalid value: "integer": validation failed due to running out of cost budget, no further validation rules will be run' }]);
});

test('a big list within the default limits validates', () => {
  const r = compileRules(crd(longList, [{ rule: 'self.l.all(x, x >= 0)' }]));
  assert.deepEqual(validateRules(r, cr({ l: Array.from({ length: 10_000 }, (_, i) => i) }), undefined), []);
});

test('a rule that does not compile fails at evaluation', () => {
  const r = compileRules(crd(replicas, [{ rule: 'self.nope > 1' }]));
  const errs = validateRules(r, cr({ replicas: 1 }), undefined);
  assert.equal(errs.length, 1);
  assert.match(errs[0]!.message!, /^Invalid value: "object": rule compile error: compilation failed: ERROR: <input>:1:5: undefined field 'nope'/);
});

// ---- CRD validation --------------------------------------------------------------------------

const root = 'spec.versions[0].schema.openAPIV3Schema';
const at = (i = 0) => `${root}.properties[spec].x-kubernetes-validations[${i}]`;
const goRule = (rule: string, more = '') => `apiextensions.ValidationRule{Rule:${JSON.stringify(rule)}, Message:"", MessageExpression:${JSON.stringify(more)}, Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", OptionalOldSelf:(*bool)(nil)}`;

interface SchemaCase {
  name: string;
  schema: JSONSchemaProps;
  want: unknown[];
}

const schemaCases: SchemaCase[] = [
  { name: 'valid rules give no errors', schema: crd(replicas, [{ rule: 'self.replicas <= self.maxReplicas', messageExpression: "'x'", fieldPath: '.replicas', reason: 'FieldValueForbidden' }]), want: [] },
  {
    name: 'a compile error names the rule as Go prints it',
    schema: crd(replicas, [{ rule: 'self.nope > 1' }]),
    want: [{ reason: 'FieldValueInvalid', field: `${at()}.rule`, message: `Invalid value: ${goRule('self.nope > 1')}: compilation failed: ERROR: <input>:1:5: undefined field 'nope'\n | self.nope > 1\n | ....^` }],
  },
  {
    name: 'a rule must be a bool',
    schema: crd(replicas, [{ rule: 'self.replicas' }]),
    want: [{ reason: 'FieldValueInvalid', field: `${at()}.rule`, message: `Invalid value: ${goRule('self.replicas')}: cel expression must evaluate to a bool` }],
  },
  {
    name: 'a messageExpression must be a string',
    schema: crd(replicas, [{ rule: 'true', messageExpression: 'self.replicas' }]),
    want: [{ reason: 'FieldValueInvalid', field: `${at()}.messageExpression`, message: `Invalid value: ${goRule('true', 'self.replicas')}: messageExpression must evaluate to a string` }],
  },
  {
    name: 'rule, message, reason and fieldPath are checked as upstream',
    schema: crd(replicas, [{ rule: ' ' }, { rule: 'true', message: 'a\nb' }, { rule: 'true', reason: 'Nope' }, { rule: 'true', fieldPath: '.nope' }, { rule: 'true\n|| false' }]),
    want: [
      { reason: 'FieldValueRequired', field: `${at(0)}.rule`, message: 'Required value: rule is not specified' },
      { reason: 'FieldValueInvalid', field: `${at(1)}.message`, message: 'Invalid value: "a\\nb": message must not contain line breaks' },
      { reason: 'FieldValueNotSupported', field: `${at(2)}.reason`, message: 'Unsupported value: "Nope": supported values: "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"' },
      { reason: 'FieldValueInvalid', field: `${at(3)}.fieldPath`, message: 'Invalid value: ".nope": fieldPath must be a valid path' },
      { reason: 'FieldValueRequired', field: `${at(4)}.message`, message: 'Required value: message must be specified if rule contains line breaks' },
    ],
  },
  {
    name: 'oldSelf is refused below a list that is not a map list',
    schema: crd({ l: { type: 'array', items: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self >= oldSelf' }] } } }),
    want: [{ reason: 'FieldValueInvalid', field: `${root}.properties[spec].properties[l].items.x-kubernetes-validations[0].rule`, message: `Invalid value: "self >= oldSelf": oldSelf cannot be used on the uncorrelatable portion of the schema within ${root}.properties[spec].properties[l]` }],
  },
  {
    name: 'optionalOldSelf needs oldSelf',
    schema: crd(replicas, [{ rule: 'true', optionalOldSelf: true }]),
    want: [{ reason: 'FieldValueInvalid', field: `${at()}.optionalOldSelf`, message: 'Invalid value: true: may not be set if oldSelf is not used in rule' }],
  },
  {
    name: 'a quadratic rule over an unbounded list is over the estimated cost limit',
    schema: crd({ l: { type: 'array', items: str } }, [{ rule: 'self.l.all(x, self.l.all(y, x == y))' }]),
    want: [
      { reason: 'FieldValueForbidden', field: `${at()}.rule`, message: `Forbidden: ${costErrorMessage('estimated rule cost', 1e12, 1e7)}` },
      { reason: 'FieldValueForbidden', field: `${at()}.rule`, message: 'Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema' },
      { reason: 'FieldValueForbidden', field: root, message: `Forbidden: ${costErrorMessage('x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema', 1e12, 1e8)}` },
    ],
  },
  { name: 'bounds keep the estimated cost under the limit', schema: crd({ l: { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 10 } } }, [{ rule: 'self.l.all(x, self.l.all(y, x == y))' }]), want: [] },
];

for (const c of schemaCases) test(`CRD: ${c.name}`, () => assert.deepEqual(celSchemaErrors(c.schema, root), c.want));

test('CRD: the total estimated cost of a schema is limited', () => {
  const rule = { rule: "self.all(x, x.matches('^[a-z]+$'))" };
  const props: Record<string, JSONSchemaProps> = {};
  for (let i = 0; i < 20; i++) props[`l${i}`] = { type: 'array', maxItems: 5000, items: { type: 'string', maxLength: 2048 }, 'x-kubernetes-validations': [rule] };
  const errs = celSchemaErrors(crd(props), root);
  assert.equal(errs.filter((e) => e.message?.includes('estimated rule cost exceeds')).length, 0);
  assert.equal(errs.filter((e) => e.message === 'Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema').length, 4);
  assert.match(errs.at(-1)!.message!, /^Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of /);
  assert.equal(errs.at(-1)!.field, root);
});

test('cost messages are formatted as upstream', () => {
  assert.match(costErrorMessage('estimated rule cost', 12_000_000, 10_000_000), /by factor of 1\.200000x \(try simplifying/);
  assert.match(costErrorMessage('estimated rule cost', 25_000_000, 10_000_000), /by factor of 2\.5x/);
  assert.match(costErrorMessage('estimated rule cost', 2e9, 10_000_000), /by factor of more than 100x/);
});

test('blocking schema errors stop rule evaluation with upstream cause', async () => {
  const { blockingCause } = await import('./cel.ts');
  assert.equal(blockingCause([{ reason: 'FieldValueInvalid', field: 'spec.a', message: 'x' }]), undefined);
  assert.deepEqual(blockingCause([{ reason: 'FieldValueRequired', field: 'spec.a', message: 'Required value' }]), {
    reason: 'FieldValueInvalid',
    field: '<nil>',
    message: 'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
  });
});
