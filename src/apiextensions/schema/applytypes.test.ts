/** Apply types of a CRD schema, checked through the server-side apply engine (field sets and merges). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JSONSchemaProps } from '../../api/index.ts';
import { registerDynamicTypes } from '../../api/schema/index.ts';
import { applyConfig, encodeFieldsV1, fieldSetOf } from '../../api/apply/index.ts';
import type { KubeObject } from '../../api/types.ts';
import { applyTypes } from './applytypes.ts';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        replicas: { type: 'integer' },
        port: { 'x-kubernetes-int-or-string': true },
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, port: { type: 'integer' } } },
        },
        tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        args: { type: 'array', items: { type: 'string' } },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        atomicMap: { type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        template: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  },
};

const types = applyTypes(schema, 'com.example.v1.Database');
registerDynamicTypes(types);

test('the root type comes first and carries apiVersion, kind and metadata', () => {
  assert.equal(types[0]!.name, 'com.example.v1.Database');
  assert.deepStrictEqual(types[0]!.fields.map((f) => f.name), ['apiVersion', 'kind', 'metadata', 'spec']);
  assert.deepStrictEqual(types[0]!.byJson.get('metadata')!.type, { kind: 'message', name: 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' });
});

test('field set: keyed lists, sets, atomic lists and maps, deduced fields', () => {
  const obj = {
    apiVersion: 'example.com/v1',
    kind: 'Database',
    metadata: { name: 'd', labels: { a: 'b' } },
    spec: {
      replicas: 1,
      port: 'http',
      ports: [{ name: 'a', port: 1 }],
      tags: ['x'],
      args: ['y'],
      labels: { k: 'v' },
      atomicMap: { k: 'v' },
      free: { nested: { deep: 1 }, list: [1, 2] },
      template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { x: 1 } },
    },
  };
  const fs = encodeFieldsV1(fieldSetOf(obj, 'com.example.v1.Database')) as Record<string, Record<string, unknown>>;
  const spec = fs['f:spec'] as Record<string, unknown>;
  assert.deepStrictEqual(spec['f:ports'], { 'k:{"name":"a"}': { '.': {}, 'f:name': {}, 'f:port': {} } });
  assert.deepStrictEqual(spec['f:tags'], { 'v:"x"': {} });
  assert.deepStrictEqual(spec['f:args'], {});
  assert.deepStrictEqual(spec['f:labels'], { 'f:k': {} });
  assert.deepStrictEqual(spec['f:atomicMap'], {});
  assert.deepStrictEqual(spec['f:free'], { 'f:nested': { 'f:deep': {} }, 'f:list': {} });
  assert.deepStrictEqual(spec['f:template'], { 'f:apiVersion': {}, 'f:kind': {}, 'f:metadata': { 'f:name': {} }, 'f:spec': { 'f:x': {} } });
  assert.deepStrictEqual((fs['f:metadata'] as Record<string, unknown>)['f:labels'], { 'f:a': {} });
});

test('two managers apply different ports of a keyed list and both are kept', () => {
  const opts = (manager: string) => ({
    manager,
    apiVersion: 'example.com/v1',
    typeName: 'com.example.v1.Database',
    statusSplit: true,
    now: '2026-01-01T00:00:00Z',
    gk: { group: 'example.com', kind: 'Database' },
    force: false,
  });
  const cfg = (ports: unknown[]): KubeObject => ({ apiVersion: 'example.com/v1', kind: 'Database', metadata: { name: 'd' }, spec: { ports } });
  let live = applyConfig(undefined, cfg([{ name: 'a', port: 1 }]), opts('m1'));
  live = applyConfig(live, cfg([{ name: 'b', port: 2 }]), opts('m2'));
  assert.deepStrictEqual((live['spec'] as Record<string, unknown>)['ports'], [
    { name: 'a', port: 1 },
    { name: 'b', port: 2 },
  ]);
});
