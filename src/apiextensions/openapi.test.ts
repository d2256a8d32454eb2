import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CustomResourceDefinition, JSONSchemaProps } from '../api/index.ts';
import type { ResourceDef } from '../api/resource.ts';
import { ResourceRegistry } from '../apiserver/registry.ts';
import { OpenApi } from '../apiserver/openapi.ts';
import { crdOpenApi, gvkToModelName } from './openapi.ts';

type Json = Record<string, any>;

const dbSchema = (): JSONSchemaProps => ({
  type: 'object',
  description: 'Database is a managed database.',
  properties: {
    metadata: { type: 'object', properties: { name: { type: 'string', maxLength: 20 } } },
    spec: {
      type: 'object',
      description: 'DatabaseSpec is the desired state.',
      required: ['engine'],
      properties: {
        engine: { type: 'string', description: 'Database engine.', enum: ['postgres', 'mysql'] },
        replicas: { type: 'integer', minimum: 1, maximum: 10, default: 1 },
        port: { 'x-kubernetes-int-or-string': true, description: 'Port number or name.' },
        users: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, role: { type: 'string', nullable: true } } },
        },
        extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { a: { type: 'string' } } },
        template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object' } } },
        anything: { type: 'object', 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true },
        choice: { type: 'string', anyOf: [{ pattern: '^a' }, { pattern: '^b' }], nullable: true },
      },
    },
    status: { type: 'object', properties: { phase: { type: 'string' } } },
  },
});

function makeCrd(schema: JSONSchemaProps | null = dbSchema(), extra: Partial<CustomResourceDefinition['spec']> = {}): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'databases.example.com' },
    spec: {
      group: 'example.com',
      names: { kind: 'Database', listKind: 'DatabaseList', plural: 'databases', singular: 'database' },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          ...(schema ? { schema: { openAPIV3Schema: schema } } : {}),
          subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.readyReplicas' } },
        },
      ],
      ...extra,
    },
  } as CustomResourceDefinition;
}

const v3 = (crd = makeCrd()) => crdOpenApi(crd, 'v1').schemas['com.example.v1.Database'] as Json;
const v2 = (crd = makeCrd()) => crdOpenApi(crd, 'v1').v2['com.example.v1.Database'] as Json;

test('definition names reverse the group', () => {
  assert.equal(gvkToModelName('example.com', 'v1', 'Database'), 'com.example.v1.Database');
  assert.equal(gvkToModelName('stable.example.co.uk', 'v1beta1', 'Foo'), 'uk.co.example.stable.v1beta1.Foo');
  const o = crdOpenApi(makeCrd(), 'v1');
  assert.equal(o.name, 'com.example.v1.Database');
  assert.equal(o.listName, 'com.example.v1.DatabaseList');
  assert.deepEqual(Object.keys(o.schemas).sort(), ['com.example.v1.Database', 'com.example.v1.DatabaseList']);
  assert.deepEqual(Object.keys(o.v2).sort(), Object.keys(o.schemas).sort());
});

test('the kind carries its group-version-kind, TypeMeta fields and a reference to ObjectMeta in place of its own metadata', () => {
  const s = v3();
  assert.deepEqual(s['x-kubernetes-group-version-kind'], [{ group: 'example.com', kind: 'Database', version: 'v1' }]);
  assert.deepEqual(s['properties'].metadata, {
    allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }],
    description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
  });
  assert.equal(s['properties'].apiVersion.type, 'string');
  assert.match(s['properties'].apiVersion.description, /^APIVersion defines the versioned schema/);
  assert.match(s['properties'].kind.description, /^Kind is a string value representing the REST resource/);
  assert.equal(s['description'], 'Database is a managed database.');
  const w = v2();
  assert.equal(w['properties'].metadata.$ref, '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
  assert.equal(w['properties'].metadata.allOf, undefined);
});

test('the List refers to its items and to ListMeta', () => {
  const o = crdOpenApi(makeCrd(), 'v1');
  const l = o.schemas[o.listName] as Json;
  assert.equal(l['description'], 'DatabaseList is a list of Database');
  assert.deepEqual(l['required'], ['items']);
  assert.deepEqual(l['properties'].items.items, { $ref: '#/components/schemas/com.example.v1.Database' });
  assert.equal(l['properties'].items.description, 'List of databases. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md');
  assert.deepEqual(l['properties'].metadata.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta' }]);
  assert.deepEqual(l['x-kubernetes-group-version-kind'], [{ group: 'example.com', kind: 'DatabaseList', version: 'v1' }]);
  const l2 = o.v2[o.listName] as Json;
  assert.deepEqual(l2['properties'].items.items, { $ref: '#/definitions/com.example.v1.Database' });
  assert.equal(l2['properties'].metadata.$ref, '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta');
});

test('descriptions, enums, defaults, bounds and list-map markers are published as written', () => {
  for (const s of [v3(), v2()]) {
    const spec = s['properties'].spec;
    assert.equal(spec.description, 'DatabaseSpec is the desired state.');
    assert.deepEqual(spec.required, ['engine']);
    assert.deepEqual(spec.properties.engine, { type: 'string', description: 'Database engine.', enum: ['postgres', 'mysql'] });
    assert.deepEqual(spec.properties.replicas, { type: 'integer', default: 1, minimum: 1, maximum: 10 });
    assert.equal(spec.properties.users['x-kubernetes-list-type'], 'map');
    assert.deepEqual(spec.properties.users['x-kubernetes-list-map-keys'], ['name']);
  }
});

test('int-or-string is unfolded to anyOf in v3 and left untyped in v2', () => {
  assert.deepEqual(v3()['properties'].spec.properties.port, {
    description: 'Port number or name.',
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  });
  assert.deepEqual(v2()['properties'].spec.properties.port, { description: 'Port number or name.', 'x-kubernetes-int-or-string': true });
});

test('int-or-string with its own anyOf gets the integer/string choice as the first allOf', () => {
  const s = dbSchema();
  s.properties!['spec']!.properties!['port'] = { 'x-kubernetes-int-or-string': true, anyOf: [{ maximum: 5 }, { pattern: '^p' }] };
  const port = v3(makeCrd(s))['properties'].spec.properties.port;
  assert.deepEqual(port.allOf, [{ anyOf: [{ type: 'integer' }, { type: 'string' }] }]);
  assert.deepEqual(port.anyOf, [{ maximum: 5 }, { pattern: '^p' }]);
});

test('v2 drops junctors and nullable types, and what preserves unknown fields loses its properties', () => {
  const spec3 = v3()['properties'].spec;
  assert.deepEqual(spec3.properties.choice, { type: 'string', nullable: true, anyOf: [{ pattern: '^a' }, { pattern: '^b' }] });
  assert.equal(spec3.properties.extra.properties.a.type, 'string');
  const spec2 = v2()['properties'].spec;
  assert.deepEqual(spec2.properties.choice, {});
  assert.deepEqual(spec2.properties.users.items.properties.role, {});
  assert.deepEqual(spec2.properties.extra, { 'x-kubernetes-preserve-unknown-fields': true });
});

test('nullable properties are not required in v2', () => {
  const s = dbSchema();
  s.properties!['spec']!.required = ['engine', 'choice'];
  assert.deepEqual(v3(makeCrd(s))['properties'].spec.required, ['engine', 'choice']);
  assert.deepEqual(v2(makeCrd(s))['properties'].spec.required, ['engine']);
});

test('embedded resources get apiVersion, kind and metadata (in v2 not where unknown fields are kept)', () => {
  const t = v3()['properties'].spec.properties.template;
  assert.deepEqual(Object.keys(t.properties).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
  assert.deepEqual(t.required, ['kind', 'apiVersion']);
  assert.match(t.properties.apiVersion.description, /^apiVersion defines the versioned schema of this representation of an object\. More info/);
  assert.match(t.properties.kind.description, /^kind is a string value representing the type of this object\. In CamelCase\./);
  const any3 = v3()['properties'].spec.properties.anything;
  assert.deepEqual(Object.keys(any3.properties).sort(), ['apiVersion', 'kind', 'metadata']);
  const any2 = v2()['properties'].spec.properties.anything;
  assert.deepEqual(any2, { 'x-kubernetes-embedded-resource': true, 'x-kubernetes-preserve-unknown-fields': true });
  assert.equal(v2()['properties'].spec.properties.template.properties.metadata.$ref, '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
});

test('a root that preserves unknown fields keeps its properties in v3 and is a bare object in v2', () => {
  const root: JSONSchemaProps = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { spec: { type: 'object' } } };
  const s3 = v3(makeCrd(root));
  assert.equal(s3['x-kubernetes-preserve-unknown-fields'], true);
  assert.deepEqual(Object.keys(s3['properties']).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
  assert.deepEqual(v2(makeCrd(root)), { type: 'object', 'x-kubernetes-group-version-kind': [{ group: 'example.com', kind: 'Database', version: 'v1' }] });
  assert.deepEqual(Object.keys(v2(makeCrd(dbSchema(), { preserveUnknownFields: true }))), ['type', 'x-kubernetes-group-version-kind']);
});

const cases: { name: string; schema: JSONSchemaProps | null }[] = [
  { name: 'no schema', schema: null },
  { name: 'a node without a type', schema: { type: 'object', properties: { spec: { properties: { a: { type: 'string' } } } } } },
  { name: 'an unknown type', schema: { type: 'object', properties: { spec: { type: 'map' } } } },
  { name: 'a $ref', schema: { type: 'object', properties: { spec: { type: 'object', $ref: '#/x' } } } },
  { name: 'items as an array', schema: { type: 'object', properties: { spec: { type: 'array', items: [{ type: 'string' }] } } } },
];
for (const c of cases) {
  test(`a schema with ${c.name} is published as a bare object with its group-version-kind`, () => {
    const want = { type: 'object', 'x-kubernetes-group-version-kind': [{ group: 'example.com', kind: 'Database', version: 'v1' }] };
    assert.deepEqual(v3(makeCrd(c.schema)), want);
    assert.deepEqual(v2(makeCrd(c.schema)), want);
  });
}

test('selectable fields are listed on the kind and its List without the leading dot', () => {
  const crd = makeCrd();
  crd.spec.versions[0]!.selectableFields = [{ jsonPath: '.spec.engine' }];
  const o = crdOpenApi(crd, 'v1');
  assert.deepEqual((o.schemas[o.name] as Json)['x-kubernetes-selectable-fields'], [{ fieldPath: 'spec.engine' }]);
  assert.deepEqual((o.v2[o.listName] as Json)['x-kubernetes-selectable-fields'], [{ fieldPath: 'spec.engine' }]);
});

test('the CRD is not modified', () => {
  const crd = makeCrd();
  const before = structuredClone(crd);
  crdOpenApi(crd, 'v1');
  assert.deepEqual(crd, before);
});

// ---- published through the API server's OpenAPI documents --------------------------------------

function dbDef(): ResourceDef {
  return {
    group: 'example.com',
    version: 'v1',
    kind: 'Database',
    plural: 'databases',
    singular: 'database',
    namespaced: true,
    subresources: { status: true, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.readyReplicas' } },
  } as ResourceDef;
}

const get = (o: OpenApi, path: string, headers: Record<string, string> = {}) => o.serve(path, new URLSearchParams(), headers)!;
const getJson = (o: OpenApi, path: string): Json => JSON.parse(String(get(o, path).body));

test('the group-version document holds the definitions, the metadata types they refer to and upstream-shaped paths', () => {
  const reg = new ResourceRegistry([]);
  reg.add(dbDef(), { openapi: crdOpenApi(makeCrd(), 'v1') });
  const o = new OpenApi(reg);
  const doc = getJson(o, '/openapi/v3/apis/example.com/v1');
  assert.deepEqual(doc['info'], { title: 'Kubernetes CRD Swagger', version: 'v0.1.0' });
  const schemas = doc['components'].schemas;
  for (const n of ['com.example.v1.Database', 'com.example.v1.DatabaseList', 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta', 'io.k8s.api.autoscaling.v1.Scale']) {
    assert.ok(schemas[n], n);
  }
  assert.equal(schemas['com.example.v1.Database']['properties'].spec.properties.port.anyOf.length, 2);
  const gvk = { group: 'example.com', version: 'v1', kind: 'Database' };
  const coll = '/apis/example.com/v1/namespaces/{namespace}/databases';
  const paths = doc['paths'];
  assert.deepEqual(paths[coll].get.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/com.example.v1.DatabaseList' });
  assert.equal(paths['/apis/example.com/v1/databases'].get.operationId, 'listDatabaseForAllNamespaces');
  assert.ok(paths[`${coll}/{name}`].patch.parameters.some((p: Json) => p['name'] === 'fieldValidation'));
  assert.deepEqual(Object.keys(paths[`${coll}/{name}`].patch.requestBody.content), ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
  const status = paths[`${coll}/{name}/status`];
  assert.deepEqual(status.patch['x-kubernetes-group-version-kind'], gvk);
  assert.equal(status.put['x-kubernetes-action'], 'put');
  const scale = paths[`${coll}/{name}/scale`];
  assert.deepEqual(scale.get['x-kubernetes-group-version-kind'], gvk);
  assert.equal(scale.get.operationId, 'readDatabaseScale');
  assert.deepEqual(scale.get.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/io.k8s.api.autoscaling.v1.Scale' });
});

test('/openapi/v2 publishes the v2 forms of custom resource definitions', () => {
  const reg = new ResourceRegistry([]);
  reg.add(dbDef(), { openapi: crdOpenApi(makeCrd(), 'v1') });
  const doc = getJson(new OpenApi(reg), '/openapi/v2');
  const db = doc['definitions']['com.example.v1.Database'];
  assert.deepEqual(db['properties'].spec.properties.port, { description: 'Port number or name.', 'x-kubernetes-int-or-string': true });
  assert.equal(db['properties'].metadata.$ref, '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
  assert.ok(doc['definitions']['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']);
  const patch = doc['paths']['/apis/example.com/v1/namespaces/{namespace}/databases/{name}'].patch;
  assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'example.com', version: 'v1', kind: 'Database' });
  assert.ok(patch.parameters.some((p: Json) => p['name'] === 'fieldValidation'));
  const proto = get(new OpenApi(reg), '/openapi/v2', { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' });
  assert.ok(Buffer.from(proto.body as Uint8Array).includes(Buffer.from('com.example.v1.Database')));
});

test('after invalidate() a changed CRD is published with a new hash, and a removed one disappears', () => {
  const reg = new ResourceRegistry([]);
  const def1 = dbDef();
  reg.add(def1, { openapi: crdOpenApi(makeCrd(), 'v1') });
  const o = new OpenApi(reg);
  const index1 = getJson(o, '/openapi/v3')['paths']['apis/example.com/v1'].serverRelativeURL as string;
  const etag1 = get(o, '/openapi/v2').headers['etag'];
  const s = dbSchema();
  s.properties!['spec']!.properties!['backup'] = { type: 'boolean', description: 'Take nightly backups.' };
  reg.remove(def1);
  const def2 = dbDef();
  reg.add(def2, { openapi: crdOpenApi(makeCrd(s), 'v1') });
  o.invalidate();
  const index2 = getJson(o, '/openapi/v3')['paths']['apis/example.com/v1'].serverRelativeURL as string;
  assert.notEqual(index2, index1);
  const doc = getJson(o, '/openapi/v3/apis/example.com/v1');
  assert.equal(doc['components'].schemas['com.example.v1.Database'].properties.spec.properties.backup.description, 'Take nightly backups.');
  assert.equal(getJson(o, '/openapi/v2')['definitions']['com.example.v1.Database'].properties.spec.properties.backup.type, 'boolean');
  assert.notEqual(get(o, '/openapi/v2').headers['etag'], etag1);
  reg.remove(def2);
  o.invalidate();
  assert.equal(getJson(o, '/openapi/v3')['paths']['apis/example.com/v1'], undefined);
  assert.equal(o.serve('/openapi/v3/apis/example.com/v1', new URLSearchParams(), {}), null);
  assert.equal(getJson(o, '/openapi/v2')['definitions']['com.example.v1.Database'], undefined);
});

test('each served version publishes its own schema', () => {
  const crd = makeCrd();
  const v2s = dbSchema();
  v2s.properties!['spec']!.properties!['tier'] = { type: 'string' };
  crd.spec.versions.push({ name: 'v2', served: true, storage: false, schema: { openAPIV3Schema: v2s } });
  const reg = new ResourceRegistry([]);
  const def = dbDef();
  reg.add(def, {
    versions: ['v1', 'v2'].map((v) => ({ served: { version: v } as never, openapi: crdOpenApi(crd, v) })),
  });
  const o = new OpenApi(reg);
  const d1 = getJson(o, '/openapi/v3/apis/example.com/v1')['components'].schemas;
  const d2 = getJson(o, '/openapi/v3/apis/example.com/v2')['components'].schemas;
  assert.equal(d1['com.example.v1.Database'].properties.spec.properties.tier, undefined);
  assert.equal(d2['com.example.v2.Database'].properties.spec.properties.tier.type, 'string');
  assert.deepEqual(d2['com.example.v2.Database']['x-kubernetes-group-version-kind'], [{ group: 'example.com', version: 'v2', kind: 'Database' }]);
});

test('a CRD change re-encodes only its group-version: the merged protobuf is byte for byte the encoding of the merged document', async () => {
  const { builtinResources } = await import('../api/groups/index.ts');
  const { encodeSwaggerProto } = await import('../apiserver/openapi-v2.ts');
  const reg = new ResourceRegistry(builtinResources);
  const o = new OpenApi(reg);
  const proto = { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' };
  const apps1 = getJson(o, '/openapi/v3')['paths']['apis/apps/v1'].serverRelativeURL;
  get(o, '/openapi/v2', proto);
  reg.add(dbDef(), { openapi: crdOpenApi(makeCrd(), 'v1') });
  o.invalidate();
  assert.equal(getJson(o, '/openapi/v3')['paths']['apis/apps/v1'].serverRelativeURL, apps1);
  const bytes = Buffer.from(get(o, '/openapi/v2', proto).body as Uint8Array);
  const json = getJson(o, '/openapi/v2');
  assert.ok(json['definitions']['com.example.v1.Database']);
  assert.ok(bytes.equals(Buffer.from(encodeSwaggerProto(json))));
});

test('falsy defaults are kept; empty descriptions and false markers are not', () => {
  const s = dbSchema();
  s.properties!['spec']!.properties!['flag'] = { type: 'boolean', default: false, description: '', 'x-kubernetes-preserve-unknown-fields': false } as JSONSchemaProps;
  s.properties!['spec']!.properties!['label'] = { type: 'string', default: '', nullable: false, enum: [] };
  const spec = v3(makeCrd(s))['properties'].spec;
  assert.deepEqual(spec.properties.flag, { type: 'boolean', default: false });
  assert.deepEqual(spec.properties.label, { type: 'string', default: '' });
});
