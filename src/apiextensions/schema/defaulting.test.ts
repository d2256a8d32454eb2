/** Defaulting of custom resources: cases after upstream's schema/defaulting/algorithm_test.go. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONSchemaProps } from '../../api/index.ts';
import { applyDefaults } from './defaulting.ts';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    a: { type: 'string', default: 'A' },
    b: { type: 'object', default: { x: 1 }, properties: { x: { type: 'integer' }, y: { type: 'string', default: 'Y' } } },
    c: { type: 'array', items: { type: 'object', properties: { n: { type: 'integer', default: 5 } } } },
    d: { type: 'object', additionalProperties: { type: 'string', default: 'D' } },
    e: { type: 'string', nullable: true, default: 'E' },
    f: { type: 'array', items: { type: 'string', default: 'F' } },
    g: {
      type: 'object',
      'x-kubernetes-embedded-resource': true,
      properties: { metadata: { type: 'object', properties: { labels: { type: 'object', default: { app: 'g' }, additionalProperties: { type: 'string' } } } } },
    },
  },
};

const cases: { name: string; in: unknown; want: unknown }[] = [
  { name: 'absent properties get defaults, nested defaults apply to defaulted values', in: {}, want: { a: 'A', b: { x: 1, y: 'Y' }, e: 'E' } },
  { name: 'present values are kept', in: { a: 'z', b: { x: 2, y: 'q' } }, want: { a: 'z', b: { x: 2, y: 'q' }, e: 'E' } },
  { name: 'a non-nullable null is defaulted', in: { a: null }, want: { a: 'A', b: { x: 1, y: 'Y' }, e: 'E' } },
  { name: 'a nullable null is kept', in: { e: null }, want: { a: 'A', b: { x: 1, y: 'Y' }, e: null } },
  { name: 'items are walked', in: { c: [{}, { n: 1 }] }, want: { a: 'A', b: { x: 1, y: 'Y' }, e: 'E', c: [{ n: 5 }, { n: 1 }] } },
  { name: 'null additionalProperties and items values are defaulted', in: { d: { k: null, l: 'v' }, f: [null, 'x'] }, want: { a: 'A', b: { x: 1, y: 'Y' }, e: 'E', d: { k: 'D', l: 'v' }, f: ['F', 'x'] } },
  { name: 'metadata of embedded resources is defaulted', in: { g: { apiVersion: 'v1', kind: 'K', metadata: {} } }, want: { a: 'A', b: { x: 1, y: 'Y' }, e: 'E', g: { apiVersion: 'v1', kind: 'K', metadata: { labels: { app: 'g' } } } } },
];

for (const c of cases) {
  test(c.name, () => {
    const o = structuredClone(c.in);
    applyDefaults(schema, o);
    assert.deepStrictEqual(o, c.want);
    applyDefaults(schema, o);
    assert.deepStrictEqual(o, c.want, 'idempotent');
  });
}

test('defaults are copies, never shared with the schema', () => {
  const o: Record<string, unknown> = {};
  applyDefaults(schema, o);
  (o['b'] as Record<string, unknown>)['x'] = 99;
  assert.deepStrictEqual(schema.properties!['b']!.default, { x: 1 });
});

test('a schema without defaults leaves the object alone', () => {
  const o = { a: null };
  applyDefaults({ type: 'object', properties: { a: { type: 'string' } } }, o);
  assert.deepStrictEqual(o, { a: null });
});
