/** Pruning of custom resources: cases after upstream's schema/pruning/algorithm_test.go and the coercing decoder. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONSchemaProps } from '../../api/index.ts';
import { pruneObject } from './pruning.ts';

const cases: { name: string; schema: JSONSchemaProps; in: unknown; want: unknown; paths: string[] }[] = [
  {
    name: 'root apiVersion, kind and metadata are kept; unknown fields are removed and reported sorted',
    schema: { type: 'object', properties: { spec: { type: 'object', properties: { a: { type: 'string' } } } } },
    in: { apiVersion: 'x/v1', kind: 'X', metadata: { name: 'n' }, spec: { a: 'x', z: 1, b: { c: 1 } }, extra: true },
    want: { apiVersion: 'x/v1', kind: 'X', metadata: { name: 'n' }, spec: { a: 'x' } },
    paths: ['extra', 'spec.b', 'spec.z'],
  },
  {
    name: 'items and additionalProperties are followed, with index and key paths',
    schema: {
      type: 'object',
      properties: {
        l: { type: 'array', items: { type: 'object', properties: { a: { type: 'string' } } } },
        m: { type: 'object', additionalProperties: { type: 'object', properties: { a: { type: 'string' } } } },
      },
    },
    in: { l: [{ a: 'x', b: 1 }, { c: 2 }], m: { k: { a: 'x', d: 1 } } },
    want: { l: [{ a: 'x' }, {}], m: { k: { a: 'x' } } },
    paths: ['l[0].b', 'l[1].c', 'm.k.d'],
  },
  {
    name: 'x-kubernetes-preserve-unknown-fields keeps unknown fields but prunes inside declared ones',
    schema: {
      type: 'object',
      properties: {
        spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'object', properties: { a: { type: 'string' } } } } },
      },
    },
    in: { spec: { free: { any: 1 }, known: { a: 'x', b: 2 } } },
    want: { spec: { free: { any: 1 }, known: { a: 'x' } } },
    paths: ['spec.known.b'],
  },
  {
    name: 'embedded resources keep apiVersion, kind and metadata; metadata is coerced to ObjectMeta',
    schema: {
      type: 'object',
      properties: { spec: { type: 'object', properties: { template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object' } } } } } },
    },
    in: { spec: { template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', foo: 1 }, spec: {}, other: 1 } } },
    want: { spec: { template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', creationTimestamp: null }, spec: {} } } },
    paths: ['spec.template.other', 'spec.template.metadata.foo'],
  },
  {
    name: 'apiVersion, kind and metadata inside a non-embedded object are pruned',
    schema: { type: 'object', properties: { spec: { type: 'object', properties: {} } } },
    in: { spec: { apiVersion: 'v1', kind: 'K', metadata: {} } },
    want: { spec: {} },
    paths: ['spec.apiVersion', 'spec.kind', 'spec.metadata'],
  },
  {
    name: 'root metadata unknown fields are dropped and reported first',
    schema: { type: 'object', properties: { z: { type: 'string' } } },
    in: { metadata: { name: 'n', bogus: 1 }, a: 1 },
    want: { metadata: { name: 'n' } },
    paths: ['metadata.bogus', 'a'],
  },
  {
    name: 'nulls of non-nullable fields without a default are removed silently',
    schema: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string', nullable: true }, c: { type: 'string', default: 'x' } } },
    in: { a: null, b: null, c: null },
    want: { b: null, c: null },
    paths: [],
  },
  {
    name: 'an array under preserve-unknown-fields without items schema is kept',
    schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    in: { list: [{ a: 1 }], spec: { x: 1 } },
    want: { list: [{ a: 1 }], spec: { x: 1 } },
    paths: [],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const o = structuredClone(c.in);
    assert.deepStrictEqual(pruneObject(c.schema, o), c.paths);
    assert.deepStrictEqual(o, c.want);
  });
}
