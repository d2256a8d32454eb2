import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSwaggerProto, schemaToV2, swaggerFromV3 } from './openapi-v2.ts';
import { builtinResources } from '../api/groups/index.ts';
import { ResourceRegistry } from './registry.ts';
import { OpenApi } from './openapi.ts';
import { typeForKind } from '../api/schema/index.ts';

test('v3 references become v2 definitions and single-reference allOf is unwrapped', () => {
  assert.deepEqual(schemaToV2({ allOf: [{ $ref: '#/components/schemas/a.B' }], 'x-kubernetes-patch-strategy': 'merge' }), { $ref: '#/definitions/a.B', 'x-kubernetes-patch-strategy': 'merge' });
  assert.deepEqual(schemaToV2({ type: 'array', items: { allOf: [{ $ref: '#/components/schemas/a.C' }] } }), { type: 'array', items: { $ref: '#/definitions/a.C' } });
});

test('operations get body parameters, consumes, produces and responses as Swagger 2.0 has them', () => {
  const doc = swaggerFromV3([
    {
      paths: {
        '/api/v1/namespaces/{namespace}/configmaps': {
          parameters: [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }],
          post: {
            operationId: 'createConfigMap',
            parameters: [{ name: 'dryRun', in: 'query', schema: { type: 'string' } }],
            requestBody: { content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/io.k8s.api.core.v1.ConfigMap' }] } } } },
            responses: { '200': { description: 'OK', content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/io.k8s.api.core.v1.ConfigMap' }] } } } } },
          },
        },
      },
      components: { schemas: { 'io.k8s.api.core.v1.ConfigMap': { type: 'object' }, 'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { oneOf: [] } } },
    },
  ]);
  const post = (doc['paths'] as any)['/api/v1/namespaces/{namespace}/configmaps'].post;
  assert.deepEqual(post.parameters[0], { name: 'body', in: 'body', required: true, schema: { $ref: '#/definitions/io.k8s.api.core.v1.ConfigMap' } });
  assert.deepEqual(post.parameters[1], { name: 'dryRun', in: 'query', type: 'string', uniqueItems: true });
  assert.deepEqual(post.responses['200'].schema, { $ref: '#/definitions/io.k8s.api.core.v1.ConfigMap' });
  assert.deepEqual((doc['definitions'] as any)['io.k8s.apimachinery.pkg.util.intstr.IntOrString'], { type: 'string', format: 'int-or-string' });
});

/** Reads the top-level fields of a protobuf message: field number → list of raw values. */
function fields(b: Uint8Array): Map<number, (Uint8Array | number)[]> {
  const out = new Map<number, (Uint8Array | number)[]>();
  let i = 0;
  const varint = () => {
    let v = 0;
    let m = 1;
    for (;;) {
      const x = b[i++]!;
      v += (x & 0x7f) * m;
      if (x < 0x80) return v;
      m *= 128;
    }
  };
  while (i < b.length) {
    const tag = varint();
    const f = Math.floor(tag / 8);
    const wt = tag & 7;
    let val: Uint8Array | number;
    if (wt === 0) val = varint();
    else if (wt === 2) {
      const n = varint();
      val = b.subarray(i, i + n);
      i += n;
    } else if (wt === 1) {
      val = b.subarray(i, i + 8);
      i += 8;
    } else throw new Error(`wire type ${wt}`);
    out.set(f, [...(out.get(f) ?? []), val]);
  }
  return out;
}
const str = (x: Uint8Array | number | undefined) => Buffer.from(x as Uint8Array).toString('utf8');

test('the protobuf Document carries the swagger version, info, paths and definitions with extensions', () => {
  const bytes = encodeSwaggerProto({
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'v1.33.0' },
    paths: { '/api/v1/pods': { get: { operationId: 'listPods', 'x-kubernetes-action': 'list' } } },
    definitions: { 'io.k8s.api.core.v1.Pod': { type: 'object', required: ['spec'], properties: { spec: { $ref: '#/definitions/io.k8s.api.core.v1.PodSpec' } }, 'x-kubernetes-group-version-kind': [{ group: '', kind: 'Pod', version: 'v1' }] } },
  });
  const doc = fields(bytes);
  assert.equal(str(doc.get(1)![0]), '2.0');
  const info = fields(doc.get(2)![0] as Uint8Array);
  assert.equal(str(info.get(1)![0]), 'Kubernetes');
  const namedPath = fields(fields(doc.get(8)![0] as Uint8Array).get(2)![0] as Uint8Array);
  assert.equal(str(namedPath.get(1)![0]), '/api/v1/pods');
  const get = fields(fields(namedPath.get(2)![0] as Uint8Array).get(2)![0] as Uint8Array);
  assert.equal(str(get.get(5)![0]), 'listPods');
  const named = fields(fields(doc.get(9)![0] as Uint8Array).get(1)![0] as Uint8Array);
  assert.equal(str(named.get(1)![0]), 'io.k8s.api.core.v1.Pod');
  const schema = fields(named.get(2)![0] as Uint8Array);
  assert.equal(str(schema.get(19)![0]), 'spec');
  assert.equal(str(fields(schema.get(22)![0] as Uint8Array).get(1)![0]), 'object');
  const ext = fields(schema.get(31)![0] as Uint8Array);
  assert.equal(str(ext.get(1)![0]), 'x-kubernetes-group-version-kind');
  assert.deepEqual(JSON.parse(str(fields(ext.get(2)![0] as Uint8Array).get(2)![0])), [{ group: '', kind: 'Pod', version: 'v1' }]);
});

// ---- every served kind, in the documents a real server builds ------------------------------


const registry = new ResourceRegistry(builtinResources);
const openapi = new OpenApi(registry);
const v3Doc = (group: string, version: string): any => {
  const r = openapi.serve(group ? `/openapi/v3/apis/${group}/${version}` : `/openapi/v3/api/${version}`, new URLSearchParams(), {});
  assert.ok(r && r.status === 200, `v3 document for ${group}/${version}`);
  return JSON.parse(r.body as string);
};
const v2Doc: any = JSON.parse(openapi.serve('/openapi/v2', new URLSearchParams(), {})!.body as string);

test('every served kind has apiVersion and kind properties in /openapi/v3 and /openapi/v2', () => {
  let checked = 0;
  for (const g of registry.groups()) {
    for (const v of g.versions) {
      const doc = v3Doc(g.group, v);
      for (const e of registry.resourcesOf(g.group, v)) {
        const t = typeForKind(g.group, v, e.def.kind);
        if (!t) continue;
        for (const name of [t.name, `${t.name}List`]) {
          const v3 = doc.components.schemas[name];
          if (!v3 && name.endsWith('List')) continue;
          assert.equal(v3?.properties?.apiVersion?.type, 'string', `${name} v3 apiVersion`);
          assert.equal(v3?.properties?.kind?.type, 'string', `${name} v3 kind`);
          const v2 = v2Doc.definitions[name];
          assert.equal(v2?.properties?.apiVersion?.type, 'string', `${name} v2 apiVersion`);
          assert.equal(v2?.properties?.kind?.type, 'string', `${name} v2 kind`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 50, `checked ${checked} kinds`);
  for (const review of ['SubjectAccessReview', 'SelfSubjectAccessReview', 'LocalSubjectAccessReview']) {
    assert.ok(v2Doc.definitions[`io.k8s.api.authorization.v1.${review}`].properties.apiVersion, review);
  }
  assert.ok(v2Doc.definitions['io.k8s.api.authentication.v1.TokenReview'].properties.kind);
});

test('types that are not kinds do not get apiVersion and kind', () => {
  const core = v3Doc('', 'v1');
  assert.equal(core.components.schemas['io.k8s.api.core.v1.PodSpec'].properties.kind, undefined);
  assert.equal(core.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.apiVersion, undefined);
});

test('IntOrString is untyped oneOf in v3 (kubectl explain shows <IntOrString>) and a string in v2', () => {
  const apps = v3Doc('apps', 'v1');
  assert.deepEqual(apps.components.schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString'], { oneOf: [{ type: 'integer' }, { type: 'string' }], format: 'int-or-string' });
  assert.deepEqual(apps.components.schemas['io.k8s.api.apps.v1.RollingUpdateDeployment'].properties.maxSurge, {
    allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' }],
  });
  assert.deepEqual(v2Doc.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'], { type: 'string', format: 'int-or-string' });
});
