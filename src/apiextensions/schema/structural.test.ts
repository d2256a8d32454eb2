/** Structural schema checks: cases after upstream's schema/validation_test.go and apiextensions validation_test.go. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONSchemaProps } from '../../api/index.ts';
import { validateCRDSchema, validateStructural } from './structural.ts';

const P = 'spec.versions[0].schema.openAPIV3Schema';
const txt = (cs: { field?: string; message?: string }[]): string[] => cs.map((c) => `${c.field}: ${c.message}`);

const cases: { name: string; schema: JSONSchemaProps; want: string[]; status?: boolean }[] = [
  { name: 'a structural schema passes', schema: { type: 'object', properties: { spec: { type: 'object', properties: { replicas: { type: 'integer', default: 1, minimum: 0 } } } } }, want: [] },
  {
    name: 'type is required below the root',
    schema: { type: 'object', properties: { a: {}, l: { type: 'array', items: {} } } },
    want: [`${P}.properties[a].type: Required value: must not be empty for specified object fields`, `${P}.properties[l].items.type: Required value: must not be empty for specified array items`],
  },
  { name: 'int-or-string and preserve-unknown-fields need no type', schema: { type: 'object', properties: { a: { 'x-kubernetes-int-or-string': true }, b: { 'x-kubernetes-preserve-unknown-fields': true } } }, want: [] },
  { name: 'arrays need items', schema: { type: 'object', properties: { l: { type: 'array' } } }, want: [`${P}.properties[l].items: Required value: must be specified`] },
  { name: 'the root must be an object', schema: { type: 'string' }, want: [`${P}.type: Invalid value: "string": must be object at the root`] },
  {
    name: 'types inside value validations are not structural',
    schema: { type: 'object', properties: { a: { type: 'string', anyOf: [{ type: 'string' }] } } },
    want: [`${P}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural`],
  },
  {
    name: 'properties named in value validations must be specified',
    schema: { type: 'object', properties: { a: { type: 'object', allOf: [{ properties: { b: { minLength: 1 } } }] } } },
    want: [`${P}.properties[a].properties[b]: Required value: because it is defined in ${P}.properties[a].allOf[0].properties[b]`],
  },
  {
    name: 'metadata at the root may only restrict name and generateName',
    schema: { type: 'object', properties: { metadata: { type: 'object', properties: { labels: { type: 'object' } } } } },
    want: [`${P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified`],
  },
  { name: 'metadata name restrictions are allowed', schema: { type: 'object', properties: { metadata: { type: 'object', properties: { name: { type: 'string', maxLength: 10 } } } } }, want: [] },
  {
    name: 'embedded resources must be objects with properties or preserve-unknown-fields',
    schema: { type: 'object', properties: { t: { type: 'object', 'x-kubernetes-embedded-resource': true } } },
    want: [`${P}.properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields`],
  },
];

for (const c of cases) test(c.name, () => assert.deepStrictEqual(txt(validateStructural(c.schema, P)), [...c.want].sort()));

const crdCases: { name: string; schema: JSONSchemaProps; want: string[]; status?: boolean }[] = [
  { name: '$ref and uniqueItems are forbidden', schema: { type: 'object', properties: { a: { type: 'array', items: { type: 'string' }, uniqueItems: true }, b: { type: 'string', $ref: '#/x' } } }, want: [
    `${P}.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic`,
    `${P}.properties[b].$ref: Forbidden: $ref is not supported`,
  ] },
  { name: 'additionalProperties with properties', schema: { type: 'object', properties: { a: { type: 'object', properties: { x: { type: 'string' } }, additionalProperties: { type: 'string' } } } }, want: [
    `${P}.properties[a].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive`,
  ] },
  { name: 'list-type map needs keys with defaults or required', schema: { type: 'object', properties: { l: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', properties: { name: { type: 'string' } } } } } }, want: [
    `${P}.properties[l].items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property`,
  ] },
  { name: 'a default must validate', schema: { type: 'object', properties: { spec: { type: 'object', properties: { replicas: { type: 'integer', default: 'x' } } } } }, want: [
    `${P}.properties[spec].properties[replicas].default: Invalid value: "string": spec.replicas in body must be of type integer: "string"`,
  ] },
  { name: 'a default must not be pruned', schema: { type: 'object', properties: { spec: { type: 'object', default: { a: 1 }, properties: { b: { type: 'integer' } } } } }, want: [
    `${P}.properties[spec].default: Invalid value: {"a":1}: must not have unknown fields`,
  ] },
  { name: 'defaults in top-level metadata are forbidden', schema: { type: 'object', properties: { metadata: { type: 'object', properties: { name: { type: 'string', default: 'x' } } } } }, want: [
    `${P}.properties[metadata].properties[name].default: Forbidden: must not be set in top-level metadata`,
  ] },
  { name: 'nullable root is forbidden', schema: { type: 'object', nullable: true }, want: [`${P}.nullable: Forbidden: nullable cannot be true at the root`] },
];

for (const c of crdCases) test(c.name, () => assert.deepStrictEqual(txt(validateCRDSchema(c.schema, P, { statusEnabled: c.status })), c.want));
