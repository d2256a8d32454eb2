import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSwaggerProto, schemaToV2, swaggerFromV3 } from './openapi-v2.ts';

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
