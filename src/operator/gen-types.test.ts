import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CustomResourceDefinition, JSONSchemaProps } from '../api/index.ts';
import { generateTypes, parseCrds } from './gen-types.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('the example\'s types.ts is what the generator makes of its CRD', () => {
  const crds = parseCrds(fs.readFileSync(path.join(root, 'examples/database-operator/crd.yaml'), 'utf8'));
  const want = fs.readFileSync(path.join(root, 'examples/database-operator/types.ts'), 'utf8');
  assert.equal(generateTypes(crds, { source: 'gen-types.ts examples/database-operator/crd.yaml' }), want);
});

const crd = (props: Record<string, JSONSchemaProps>, versions = ['v1']): CustomResourceDefinition => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.acme.io' },
  spec: {
    group: 'acme.io',
    scope: 'Cluster',
    names: { plural: 'widgets', kind: 'Widget' },
    versions: versions.map((name, i) => ({ name, served: true, storage: i === 0, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: props } } } } })),
  },
});

const cases: { name: string; prop: JSONSchemaProps; want: string }[] = [
  { name: 'int-or-string', prop: { 'x-kubernetes-int-or-string': true }, want: 'x?: number | string;' },
  { name: 'nullable', prop: { type: 'string', nullable: true }, want: 'x?: string | null;' },
  { name: 'a map', prop: { type: 'object', additionalProperties: { type: 'integer' } }, want: 'x?: Record<string, number>;' },
  { name: 'free-form', prop: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, want: 'x?: Record<string, unknown>;' },
  { name: 'an array of unions', prop: { type: 'array', items: { type: 'string', enum: ['a', 'b'] } }, want: 'x?: ("a" | "b")[];' },
  { name: 'an embedded resource', prop: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true }, want: 'x?: WidgetSpecX;' },
];
for (const c of cases) test(`generateTypes maps ${c.name}`, () => assert.ok(generateTypes([crd({ x: c.prop })]).includes(c.want), generateTypes([crd({ x: c.prop })])));

test('a second served version gets the version in its names; the descriptor names the scope', () => {
  const out = generateTypes([crd({}, ['v1', 'v1beta1'])]);
  assert.match(out, /export interface WidgetV1beta1 \{\n {2}apiVersion\?: 'acme.io\/v1beta1';/);
  assert.match(out, /export const widgets = \{ group: 'acme.io', version: 'v1', resource: 'widgets', kind: 'Widget', namespaced: false \} as const;/);
  assert.match(out, /export const widgetsV1beta1 = /);
});
