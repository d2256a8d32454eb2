/** Custom resource validation: cases from upstream's pkg/apiserver/validation/validation_test.go and listtype/objectmeta tests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONSchemaProps } from '../../api/index.ts';
import { compileValidator, validateCustomResource } from './validation.ts';

interface Case {
  name: string;
  schema: JSONSchemaProps;
  ok?: unknown[];
  bad?: { obj: unknown; errs: string[] }[];
}

const obj = (properties: Record<string, JSONSchemaProps>, extra: JSONSchemaProps = {}): JSONSchemaProps => ({ type: 'object', properties, ...extra });

const cases: Case[] = [
  {
    name: 'type object',
    schema: obj({ field: { type: 'object' } }),
    ok: [{}, { field: {} }],
    bad: [
      { obj: { field: 'foo' }, errs: ['field: Invalid value: "string": field in body must be of type object: "string"'] },
      { obj: { field: 42 }, errs: ['field: Invalid value: "integer": field in body must be of type object: "integer"'] },
      { obj: { field: true }, errs: ['field: Invalid value: "boolean": field in body must be of type object: "boolean"'] },
      { obj: { field: 1.2 }, errs: ['field: Invalid value: "number": field in body must be of type object: "number"'] },
      { obj: { field: [] }, errs: ['field: Invalid value: "array": field in body must be of type object: "array"'] },
      { obj: { field: null }, errs: ['field: Invalid value: "null": field in body must be of type object: "null"'] },
    ],
  },
  {
    name: 'nullable object accepts null',
    schema: obj({ field: { type: 'object', nullable: true } }),
    ok: [{ field: null }],
  },
  {
    name: 'x-kubernetes-int-or-string',
    schema: obj({ field: { 'x-kubernetes-int-or-string': true } }),
    ok: [{ field: 42 }, { field: 'foo' }],
    bad: [
      { obj: { field: null }, errs: ['field: Invalid value: "null": field in body must be of type integer,string: "null"'] },
      { obj: { field: 1.2 }, errs: ['field: Invalid value: "number": field in body must be of type integer,string: "number"'] },
    ],
  },
  {
    name: 'nullable, x-kubernetes-int-or-string and user-provided anyOf',
    schema: obj({ field: { nullable: true, 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] } }),
    ok: [{}, { field: null }, { field: 42 }, { field: 'foo' }],
    bad: [
      {
        obj: { field: true },
        errs: [
          '<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)',
          'field: Invalid value: "boolean": field in body must be of type integer,string: "boolean"',
          'field: Invalid value: "boolean": field in body must be of type integer: "boolean"',
        ],
      },
      {
        obj: { field: 1.2 },
        errs: [
          '<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)',
          'field: Invalid value: "number": field in body must be of type integer,string: "number"',
          'field: Invalid value: "number": field in body must be of type integer: "number"',
          '<nil>: Invalid value: "": Checked value must be of type integer (default format) in field',
        ],
      },
    ],
  },
  {
    name: 'nullable, x-kubernetes-int-or-string and user-provided allOf',
    schema: obj({ field: { nullable: true, 'x-kubernetes-int-or-string': true, allOf: [{ anyOf: [{ type: 'integer' }, { type: 'string' }] }] } }),
    ok: [{ field: null }, { field: 42 }, { field: 'foo' }],
    bad: [
      {
        obj: { field: [] },
        errs: [
          '<nil>: Invalid value: "": "field" must validate all the schemas (allOf). None validated',
          '<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)',
          'field: Invalid value: "array": field in body must be of type integer,string: "array"',
          'field: Invalid value: "array": field in body must be of type integer: "array"',
        ],
      },
    ],
  },
  {
    name: 'required field',
    schema: obj({ field: { type: 'object', required: ['nested'], properties: { nested: {} } } }, { required: ['field'] }),
    bad: [
      { obj: { test: 'a' }, errs: ['field: Required value'] },
      { obj: { field: {} }, errs: ['field.nested: Required value'] },
    ],
  },
  {
    name: 'enum',
    schema: obj({
      field: {
        type: 'object',
        required: ['nestedint', 'nestedstring'],
        properties: { nestedint: { type: 'integer', enum: [1, 2] }, nestedstring: { type: 'string', enum: ['a', 'b'] } },
      },
    }),
    ok: [{ field: { nestedint: 1, nestedstring: 'b' } }],
    bad: [
      { obj: { field: {} }, errs: ['field.nestedint: Required value', 'field.nestedstring: Required value'] },
      {
        obj: { field: { nestedint: 'x', nestedstring: true } },
        errs: [
          'field.nestedint: Invalid value: "string": field.nestedint in body must be of type integer: "string"',
          'field.nestedint: Unsupported value: "x": supported values: "1", "2"',
          'field.nestedstring: Invalid value: "boolean": field.nestedstring in body must be of type string: "boolean"',
          'field.nestedstring: Unsupported value: true: supported values: "a", "b"',
        ],
      },
    ],
  },
  {
    name: 'k8s-short-name and k8s-long-name formats',
    schema: obj({ fieldX: { type: 'string', format: 'k8s-long-name' }, fieldY: { type: 'string', format: 'k8s-short-name' } }),
    ok: [{ fieldX: 'a.b', fieldY: 'a-b' }],
    bad: [
      { obj: { fieldX: 'a.-' }, errs: ['fieldX: Invalid value: "a.-": fieldX in body must be of type k8s-long-name: "a.-"'] },
      { obj: { fieldY: 'a-' }, errs: ['fieldY: Invalid value: "a-": fieldY in body must be of type k8s-short-name: "a-"'] },
    ],
  },
  {
    name: 'unsupported formats are ignored',
    schema: obj({ a: { type: 'string', format: 'not-a-format' }, b: { type: 'integer', format: 'uint8' } }),
    ok: [{ a: 'anything', b: 1000 }],
  },
  {
    name: 'numeric formats',
    schema: obj({
      intThirtyTwo: { type: 'integer', format: 'int32' },
      intSixtyFour: { type: 'integer', format: 'int64' },
      floatThreeTwo: { type: 'number', format: 'float' },
      floatSixFour: { type: 'number', format: 'double' },
    }),
    ok: [{ intThirtyTwo: 2147483647, intSixtyFour: 0, floatThreeTwo: 3.4028234663852886e38, floatSixFour: 1.7976931348623157e308 }],
    bad: [
      { obj: { intThirtyTwo: 2147483648 }, errs: ['<nil>: Invalid value: "": Checked value must be of type integer with format int32 in intThirtyTwo'] },
      { obj: { intThirtyTwo: -2147483649 }, errs: ['<nil>: Invalid value: "": Checked value must be of type integer with format int32 in intThirtyTwo'] },
      {
        obj: { intSixtyFour: 9223372036854775807 * 1.1 },
        errs: [
          'intSixtyFour: Invalid value: "float64": intSixtyFour in body must be of type int64: "float64"',
          '<nil>: Invalid value: "": Checked value must be of type integer with format int64 in intSixtyFour',
        ],
      },
      { obj: { floatThreeTwo: 3.4028234663852886e38 * 1.1 }, errs: ['<nil>: Invalid value: "": Checked value must be of type number with format float in floatThreeTwo'] },
    ],
  },
  {
    name: 'numbers: maximum, minimum, exclusive, multipleOf',
    schema: obj({ size: { type: 'integer', maximum: 10, minimum: 1 }, ex: { type: 'number', maximum: 1.5, exclusiveMaximum: true }, m: { type: 'integer', multipleOf: 3 } }),
    ok: [{ size: 10, ex: 1.4, m: 9 }],
    bad: [
      { obj: { size: 11 }, errs: ['size: Invalid value: 11: size in body should be less than or equal to 10'] },
      { obj: { size: 0 }, errs: ['size: Invalid value: 0: size in body should be greater than or equal to 1'] },
      { obj: { ex: 1.5 }, errs: ['ex: Invalid value: 1.5: ex in body should be less than 1.5'] },
      { obj: { m: 4 }, errs: ['m: Invalid value: 4: m in body should be a multiple of 3'] },
    ],
  },
  {
    name: 'the lead’s example: replicas must be an integer',
    schema: obj({ spec: obj({ replicas: { type: 'integer' } }) }),
    bad: [{ obj: { spec: { replicas: 'x' } }, errs: ['spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'] }],
  },
  {
    name: 'strings: maxLength, minLength, pattern',
    schema: obj({ s: { type: 'string', maxLength: 3, minLength: 2, pattern: '^[a-z]+$' } }),
    ok: [{ s: 'abc' }, { s: 'ab' }],
    bad: [
      { obj: { s: 'abcd' }, errs: ['s: Too long: may not be more than 3 bytes'] },
      { obj: { s: 'a' }, errs: ['s: Invalid value: "a": s in body should be at least 2 chars long'] },
      { obj: { s: 'A1' }, errs: ["s: Invalid value: \"A1\": s in body should match '^[a-z]+$'"] },
    ],
  },
  {
    name: 'arrays: items, minItems, maxItems',
    schema: obj({ l: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'string' } } }),
    ok: [{ l: ['a'] }],
    bad: [
      { obj: { l: [] }, errs: ['l: Invalid value: 0: l in body should have at least 1 items'] },
      { obj: { l: ['a', 'b', 'c'] }, errs: ['l: Too many: 3: must have at most 2 items'] },
      { obj: { l: ['a', 1] }, errs: ['l[1]: Invalid value: "integer": l[1] in body must be of type string: "integer"'] },
    ],
  },
  {
    name: 'objects: min/maxProperties, additionalProperties schema and false',
    schema: obj({
      m: { type: 'object', maxProperties: 1, minProperties: 1, additionalProperties: { type: 'integer', minimum: 0 } },
      f: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false },
    }),
    ok: [{ m: { x: 1 }, f: { a: 'x' } }],
    bad: [
      { obj: { m: {} }, errs: ['m: Invalid value: 0: m in body should have at least 1 properties'] },
      { obj: { m: { a: 1, b: 2 } }, errs: ['m: Too many: 2: must have at most 1 items'] },
      { obj: { m: { a: -1 } }, errs: ['m.a: Invalid value: -1: m.a in body should be greater than or equal to 0'] },
      { obj: { f: { b: 1 } }, errs: ['f: Invalid value: "b": f.b in body is a forbidden property'] },
    ],
  },
  {
    name: 'oneOf and not',
    schema: obj({ o: { oneOf: [{ required: ['a'] }, { required: ['b'] }] }, n: { type: 'string', not: { enum: ['x'] } } }, {}),
    ok: [{ o: { a: 1 } }, { n: 'y' }],
    bad: [
      { obj: { o: { a: 1, b: 2 } }, errs: ['<nil>: Invalid value: "": "o" must validate one and only one schema (oneOf). Found 2 valid alternatives'] },
      { obj: { o: {} }, errs: ['<nil>: Invalid value: "": "o" must validate one and only one schema (oneOf). Found none valid', 'o.a: Required value'] },
      { obj: { n: 'x' }, errs: ['<nil>: Invalid value: "": "n" must not validate the schema (not)'] },
    ],
  },
  {
    name: 'list-type set and map duplicates',
    schema: obj({
      s: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
      m: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: obj({ name: { type: 'string' }, v: { type: 'integer' } }) },
      mm: {
        type: 'array',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['a', 'b'],
        items: obj({ a: { type: 'string' }, b: { type: 'integer' } }),
      },
    }),
    ok: [{ s: ['a', 'b'], m: [{ name: 'a' }, { name: 'b' }] }],
    bad: [
      { obj: { s: ['a', 'b', 'a', 'a'] }, errs: ['s[2]: Duplicate value: "a"'] },
      { obj: { m: [{ name: 'a', v: 1 }, { name: 'a', v: 2 }] }, errs: ['m[1]: Duplicate value: {"name":"a"}'] },
      { obj: { m: [{ v: 1 }, { v: 2 }] }, errs: ['m[1]: Duplicate value: {}'] },
      { obj: { mm: [{ a: 'x', b: 1 }, { b: 1, a: 'x' }] }, errs: ['mm[1]: Duplicate value: {"a":"x","b":1}'] },
    ],
  },
  {
    name: 'embedded resources: apiVersion, kind and metadata',
    schema: obj({ spec: obj({ template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true } }) }),
    ok: [{ spec: { template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } } } }],
    bad: [
      { obj: { spec: { template: {} } }, errs: ['spec.template.apiVersion: Required value', 'spec.template.kind: Required value'] },
      {
        obj: { spec: { template: { apiVersion: 'v1', kind: 'Foo_Bar', metadata: { name: 'a/b' } } } },
        errs: [
          "spec.template.kind: Invalid value: \"Foo_Bar\": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
          "spec.template.metadata.name: Invalid value: \"a/b\": may not contain '/'",
        ],
      },
    ],
  },
];

const fmt = (errs: { field?: string; message?: string }[]): string[] => errs.map((e) => `${e.field}: ${e.message}`).sort();

for (const c of cases) {
  test(c.name, () => {
    const v = compileValidator(c.schema);
    for (const o of c.ok ?? []) assert.deepStrictEqual(fmt(v(o)), [], JSON.stringify(o));
    for (const b of c.bad ?? []) assert.deepStrictEqual(fmt(v(b.obj)), [...b.errs].sort(), JSON.stringify(b.obj));
  });
}

test('an invalid regular expression is reported on every value', () => {
  const errs = validateCustomResource(obj({ field: { type: 'string', pattern: '+' } }), { field: 'foo' });
  assert.equal(errs.length, 1);
  assert.match(errs[0]!.message!, /^Invalid value: "foo": field in body should match '\+, but pattern is invalid: /);
});

test('causes carry upstream reasons', () => {
  const errs = validateCustomResource(obj({ a: { type: 'integer' }, b: { type: 'string', enum: ['x'] } }, { required: ['c'] }), { a: 'x', b: 'y' });
  assert.deepStrictEqual(
    errs.map((e) => e.reason),
    ['FieldValueTypeInvalid', 'FieldValueNotSupported', 'FieldValueRequired'],
  );
});
