/** CRD validation and strategy: cases after upstream's apiextensions validation_test.go and strategy_test.go. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { resources, validateCRD } from './apiextensions.ts';

const def = resources[0]!;

function makeCRD(over: Record<string, unknown> = {}): KubeObject {
  const o: KubeObject = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'databases.example.com' },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { plural: 'databases', kind: 'Database' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { replicas: { type: 'integer' } } } } } } }],
      ...over,
    },
  };
  def.default!(o);
  def.prepareForCreate!(o);
  return o;
}

const txt = (o: KubeObject, old?: KubeObject): string[] => validateCRD(o, { subresource: '', old }).map((c) => `${c.field}: ${c.message}`);

test('a valid CRD passes, with storedVersions set on create', () => {
  const o = makeCRD();
  assert.deepStrictEqual(txt(o), []);
  assert.deepStrictEqual((o['status'] as Record<string, unknown>)['storedVersions'], ['v1']);
});

test('the name must be plural.group', () => {
  const o = makeCRD();
  o.metadata.name = 'x.example.com';
  assert.deepStrictEqual(txt(o), ['metadata.name: Invalid value: "x.example.com": must be spec.names.plural+"."+spec.group']);
});

test('the group needs a dot', () => {
  const o = makeCRD({ group: 'example' });
  o.metadata.name = 'databases.example';
  assert.deepStrictEqual(txt(o), ['spec.group: Invalid value: "example": should be a domain with at least one dot']);
});

test('exactly one storage version; names are DNS-1035 labels', () => {
  const o = makeCRD({ versions: [{ name: 'V1', served: true, storage: false, schema: { openAPIV3Schema: { type: 'object' } } }] });
  (o['status'] as Record<string, unknown>)['storedVersions'] = ['V1'];
  const errs = txt(o);
  assert.ok(errs.some((e) => e.startsWith('spec.versions[0].name: Invalid value: "V1": a DNS-1035 label')), errs.join('\n'));
  assert.ok(errs.some((e) => e.startsWith('spec.versions: Invalid value: ') && e.endsWith('must have exactly one version marked as storage version')), errs.join('\n'));
});

test('a schema is required for every version', () => {
  const o = makeCRD({ versions: [{ name: 'v1', served: true, storage: true }] });
  assert.deepStrictEqual(txt(o), ['spec.versions[0].schema.openAPIV3Schema: Required value']);
});

test('structural errors are reported under the version path', () => {
  const o = makeCRD({ versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { a: {} } } } }] });
  assert.deepStrictEqual(txt(o), ['spec.versions[0].schema.openAPIV3Schema.properties[a].type: Required value: must not be empty for specified object fields']);
});

test('printer columns and scale paths', () => {
  const o = makeCRD({
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object' } },
        subresources: { scale: { specReplicasPath: '.status.replicas', statusReplicasPath: '.status.replicas' } },
        additionalPrinterColumns: [{ name: 'R', type: 'foo', jsonPath: '.spec.replicas' }],
      },
    ],
  });
  assert.deepStrictEqual(txt(o), [
    'spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json path under .spec',
    'spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "foo": must be one of boolean,date,integer,number,string',
  ]);
});

test('webhook conversion needs a client config and review versions', () => {
  const o = makeCRD({ conversion: { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v2'] } } });
  assert.deepStrictEqual(txt(o), [
    'spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook',
    'spec.conversion.conversionReviewVersions: Invalid value: ["v2"]: must include at least one of v1, v1beta1',
  ]);
});

test('update: a new storage version is appended to storedVersions; removing a stored version is refused', () => {
  const old = makeCRD({
    versions: [
      { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } },
      { name: 'v2', served: true, storage: false, schema: { openAPIV3Schema: { type: 'object' } } },
    ],
  });
  const next = structuredClone(old);
  (next['spec'] as { versions: { storage: boolean }[] }).versions[0]!.storage = false;
  (next['spec'] as { versions: { storage: boolean }[] }).versions[1]!.storage = true;
  def.prepareForUpdate!(next, old);
  assert.deepStrictEqual((next['status'] as Record<string, unknown>)['storedVersions'], ['v1', 'v2']);
  assert.deepStrictEqual(txt(next, old), []);
  const dropped = structuredClone(next);
  (dropped['spec'] as { versions: unknown[] }).versions.shift();
  def.prepareForUpdate!(dropped, next);
  assert.deepStrictEqual(txt(dropped, next), [
    'status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions',
  ]);
});
