// Custom resource conversion: None, and Webhook against a real HTTPS server on 127.0.0.1 with a CA made for the test.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { CustomResourceDefinition } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import { closeAgents } from '../apiserver/admission/webhook/client.ts';
import { makeTls, startServer, type Reply, type Review } from '../apiserver/admission/webhook/testing.ts';
import { createConverter, type ConverterDeps } from './conversion.ts';

const tls = await makeTls(['conv.hooks.svc']);
const otherTls = await makeTls();

let handler: (r: Review, path: string) => Reply | Promise<Reply> = (r) => ok(r, r.request.objects.map(v1ToV2));
const server = await startServer(tls, (r, p) => handler(r, p));
after(async () => {
  closeAgents();
  await server.close();
});

/** v1 `spec.size: "3"` ↔ v2 `spec.replicas: 3`. */
function v1ToV2(o: any): any {
  const { size, ...rest } = o.spec ?? {};
  return { ...o, apiVersion: 'example.com/v2', spec: { ...rest, replicas: Number(size) } };
}

/** A successful ConversionReview answer in the request's review version. */
function ok(r: Review, convertedObjects: unknown[], over: Record<string, unknown> = {}): Reply {
  return { body: { apiVersion: r.apiVersion, kind: 'ConversionReview', response: { uid: r.request.uid, convertedObjects, result: { status: 'Success' }, ...over } } };
}

function crd(conversion: CustomResourceDefinition['spec']['conversion']): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'databases.example.com' },
    spec: {
      group: 'example.com',
      names: { plural: 'databases', singular: 'database', kind: 'Database', listKind: 'DatabaseList' },
      scope: 'Namespaced',
      versions: [
        { name: 'v1', served: true, storage: true },
        { name: 'v2', served: true, storage: false },
      ],
      conversion,
    },
  };
}

const hookCrd = (over: { url?: string; caBundle?: string; versions?: string[]; service?: any } = {}) =>
  crd({
    strategy: 'Webhook',
    webhook: {
      conversionReviewVersions: over.versions ?? ['v1'],
      clientConfig: over.service ? { service: over.service, caBundle: over.caBundle ?? tls.caBundle } : { url: over.url ?? server.url('/convert'), caBundle: over.caBundle ?? tls.caBundle },
    },
  });

const noServices: ConverterDeps = { resolveService: async () => undefined };

function db(name: string, size: string, over: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'example.com/v1',
    kind: 'Database',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '7', generation: 1, labels: { app: 'db' } },
    spec: { size },
    ...over,
  };
}

const fails = (message: string) => ({ name: 'StatusError', message: `Internal error occurred: ${message}`, status: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 } });

// ---- None ----

test('None rewrites apiVersion only and leaves objects at the target as they are', async () => {
  const c = createConverter(crd({ strategy: 'None' }), noServices);
  assert.equal(c.remote, false);
  const a = db('a', '3');
  const b = { ...db('b', '4'), apiVersion: 'example.com/v2' };
  const [ca, cb] = await c.convert([a, b], 'example.com/v2');
  assert.deepEqual(ca, { ...a, apiVersion: 'example.com/v2' });
  assert.equal(cb, b);
  assert.equal(a.apiVersion, 'example.com/v1', 'the input is not changed');
});

test('a CRD without a conversion section converts as None', async () => {
  const c = createConverter(crd(undefined), noServices);
  assert.deepEqual(await c.convert([db('a', '1')], 'example.com/v2'), [{ ...db('a', '1'), apiVersion: 'example.com/v2' }]);
});

const versionCases = [
  { name: 'a target version the CRD does not have', objs: [db('a', '1')], to: 'example.com/v3', want: 'request to convert CR to an invalid group/version: example.com/v3' },
  { name: 'an object of a version the CRD does not have', objs: [db('a', '1', { apiVersion: 'example.com/v0' })], to: 'example.com/v2', want: 'request to convert CR from an invalid group/version: example.com/v0' },
  { name: 'a list item of a version the CRD does not have', objs: [db('a', '1'), db('b', '1', { apiVersion: 'other.com/v1' })], to: 'example.com/v2', want: 'request to convert CR list failed, list index 1 has invalid group/version: other.com/v1' },
];
for (const strategy of ['None', 'Webhook'] as const) {
  for (const c of versionCases) {
    test(`${strategy}: ${c.name} is an internal error`, async () => {
      const conv = createConverter(strategy === 'None' ? crd({ strategy }) : hookCrd(), noServices);
      await assert.rejects(conv.convert(c.objs, c.to), fails(c.want));
    });
  }
}

// ---- Webhook: success ----

test('Webhook sends the objects that need converting in one v1 ConversionReview', async () => {
  const seen = server.seen.length;
  handler = (r) => ok(r, r.request.objects.map(v1ToV2));
  const c = createConverter(hookCrd(), noServices);
  assert.equal(c.remote, true);
  const already = { ...db('b', '9'), apiVersion: 'example.com/v2', spec: { replicas: 9 } };
  const out = await c.convert([db('a', '3'), already, db('c', '5')], 'example.com/v2');
  assert.equal(server.seen.length, seen + 1, 'one request');
  const req = server.seen.at(-1)!;
  assert.equal(req.path, '/convert?timeout=30s');
  assert.equal(req.review.apiVersion, 'apiextensions.k8s.io/v1');
  assert.equal(req.review.kind, 'ConversionReview');
  assert.match(req.review.request.uid, /^[0-9a-f-]{36}$/);
  assert.equal(req.review.request.desiredAPIVersion, 'example.com/v2');
  assert.deepEqual(req.review.request.objects, [db('a', '3'), db('c', '5')]);
  assert.deepEqual((req.review as any).response, { uid: '', convertedObjects: null, result: { metadata: {} } });
  assert.deepEqual(out.map((o) => o['spec']), [{ replicas: 3 }, { replicas: 9 }, { replicas: 5 }]);
  assert.equal(out[1], already);
  assert.deepEqual(out[0]!.metadata, db('a', '3').metadata);
});

test('nothing to convert makes no request', async () => {
  const seen = server.seen.length;
  const c = createConverter(hookCrd(), noServices);
  const objs = [db('a', '1')];
  const out = await c.convert(objs, 'example.com/v1');
  assert.equal(out[0], objs[0]);
  assert.equal(server.seen.length, seen);
  assert.deepEqual(await c.convert([], 'example.com/v2'), []);
});

test('an object of only apiVersion and kind converts without the webhook', async () => {
  const seen = server.seen.length;
  const c = createConverter(hookCrd(), noServices);
  const out = await c.convert([{ apiVersion: 'example.com/v1', kind: 'Database' } as KubeObject], 'example.com/v2');
  assert.deepEqual(out, [{ apiVersion: 'example.com/v2', kind: 'Database' }]);
  assert.equal(server.seen.length, seen);
});

test('metadata comes back as it was sent, except labels and annotations the webhook sets', async () => {
  handler = (r) =>
    ok(
      r,
      r.request.objects.map((o: any) => ({ ...v1ToV2(o), metadata: { ...o.metadata, resourceVersion: '99', generation: 5, finalizers: ['x'], labels: { app: 'db', tier: 'data' }, annotations: { converted: 'yes' } } })),
    );
  const c = createConverter(hookCrd(), noServices);
  const [o] = await c.convert([db('a', '3')], 'example.com/v2');
  assert.deepEqual(o!.metadata, { name: 'a', namespace: 'default', uid: 'uid-a', resourceVersion: '7', generation: 1, labels: { app: 'db', tier: 'data' }, annotations: { converted: 'yes' } });
});

test('converted objects share nothing with the objects sent', async () => {
  handler = (r) => ok(r, r.request.objects.map(v1ToV2));
  const a = db('a', '3', { metadata: { name: 'a', namespace: 'default', uid: 'uid-a', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: 'u' }] } });
  const before = structuredClone(a);
  const [o] = await createConverter(hookCrd(), noServices).convert([a], 'example.com/v2');
  o!.metadata.ownerReferences![0]!.name = 'changed';
  (o!['spec'] as any).replicas = 9;
  assert.deepEqual(a, before);
});

test('labels the webhook leaves out are removed', async () => {
  handler = (r) => ok(r, r.request.objects.map((o: any) => ({ ...v1ToV2(o), metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid } })));
  const [o] = await createConverter(hookCrd(), noServices).convert([db('a', '3')], 'example.com/v2');
  assert.deepEqual(o!.metadata, { name: 'a', namespace: 'default', uid: 'uid-a', resourceVersion: '7', generation: 1 });
});

test('v1beta1 is used when the CRD lists it first, and its answer is taken without the uid check', async () => {
  handler = (r) => ({ body: { apiVersion: 'apiextensions.k8s.io/v1beta1', kind: 'ConversionReview', response: { convertedObjects: r.request.objects.map(v1ToV2), result: { status: 'Success' } } } });
  const c = createConverter(hookCrd({ versions: ['v1beta1', 'v1'] }), noServices);
  const [o] = await c.convert([db('a', '2')], 'example.com/v2');
  assert.equal(server.seen.at(-1)!.review.apiVersion, 'apiextensions.k8s.io/v1beta1');
  assert.deepEqual(o!['spec'], { replicas: 2 });
});

test('an unknown review version is skipped for one the server speaks', async () => {
  handler = (r) => ok(r, r.request.objects.map(v1ToV2));
  await createConverter(hookCrd({ versions: ['v2', 'v1'] }), noServices).convert([db('a', '2')], 'example.com/v2');
  assert.equal(server.seen.at(-1)!.review.apiVersion, 'apiextensions.k8s.io/v1');
});

test('a service reference dials the resolved address with the service name for TLS and Host', async () => {
  handler = (r) => ok(r, r.request.objects.map(v1ToV2));
  const asked: unknown[] = [];
  const deps: ConverterDeps = {
    resolveService: async (ns, name, port) => {
      asked.push([ns, name, port]);
      return { host: '127.0.0.1', port: server.port };
    },
  };
  await createConverter(hookCrd({ service: { namespace: 'hooks', name: 'conv', path: '/crd/convert' } }), deps).convert([db('a', '2')], 'example.com/v2');
  assert.deepEqual(asked, [['hooks', 'conv', 443]]);
  const seen = server.seen.at(-1)!;
  assert.deepEqual({ path: seen.path, host: seen.host, servername: seen.servername }, { path: '/crd/convert?timeout=30s', host: 'conv.hooks.svc:443', servername: 'conv.hooks.svc' });
});

test('a synchronous resolver (the admission webhooks\') is accepted', async () => {
  handler = (r) => ok(r, r.request.objects.map(v1ToV2));
  const deps: ConverterDeps = { resolveService: () => ({ host: '127.0.0.1', port: server.port }) };
  const [o] = await createConverter(hookCrd({ service: { namespace: 'hooks', name: 'conv', port: 8443 } }), deps).convert([db('a', '2')], 'example.com/v2');
  assert.deepEqual(o!['spec'], { replicas: 2 });
  assert.equal(server.seen.at(-1)!.host, 'conv.hooks.svc:8443');
});

// ---- Webhook: failures ----

const gvk = 'example.com/v1, Kind=Database';
const url = () => server.url('/convert?timeout=30s');
const answerCases: { name: string; reply: (r: Review) => Reply; objs?: () => KubeObject[]; list?: boolean; want: () => string }[] = [
  { name: 'a Failure result gives the webhook\'s message', reply: (r) => ok(r, [], { result: { status: 'Failure', message: 'size must be a number' } }), want: () => `conversion webhook for ${gvk} failed: size must be a number` },
  { name: 'a Failure result without a message', reply: (r) => ok(r, [], { result: { status: 'Failure' } }), want: () => `conversion webhook for ${gvk} failed: response.result.status was 'Failure', not 'Success'` },
  { name: 'no result at all', reply: (r) => ok(r, [], { result: undefined }), want: () => `conversion webhook for ${gvk} failed: response.result.status was '', not 'Success'` },
  { name: 'no response', reply: () => ({ body: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'ConversionReview' } }), want: () => `conversion webhook for ${gvk} failed: no response provided` },
  { name: 'another uid', reply: (r) => ok(r, [], { uid: 'other' }), want: () => `conversion webhook for ${gvk} failed: expected response.uid=${JSON.stringify(server.seen.at(-1)!.review.request.uid)}, got "other"` },
  { name: 'a v1beta1 answer to a v1 review', reply: (r) => ({ body: { ...ok(r, []).body as object, apiVersion: 'apiextensions.k8s.io/v1beta1' } }), want: () => `conversion webhook for ${gvk} failed: expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got apiextensions.k8s.io/v1beta1, Kind=ConversionReview` },
  { name: 'a body that is not JSON', reply: () => ({ raw: 'nope' }), want: () => `conversion webhook for ${gvk} failed: couldn't get version/kind; json parse error: Unexpected token 'o', "nope" is not valid JSON` },
  { name: 'a body without kind', reply: () => ({ raw: '{"a":1}' }), want: () => `conversion webhook for ${gvk} failed: Object 'Kind' is missing in '{"a":1}'` },
  { name: 'convertedObjects that is not a list', reply: (r) => ok(r, 'x' as unknown as unknown[]), want: () => `conversion webhook for ${gvk} failed: json: cannot unmarshal string into Go struct field ConversionResponse.response.convertedObjects of type []runtime.RawExtension` },
  { name: 'an HTTP 500 quotes its text', reply: () => ({ status: 500, raw: 'boom', contentType: 'text/plain' }), want: () => `conversion webhook for ${gvk} failed: an error on the server ("boom") has prevented the request from succeeding` },
  { name: 'an HTTP error with a Status body gives its message', reply: () => ({ status: 403, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'forbidden here' } }), want: () => `conversion webhook for ${gvk} failed: forbidden here` },
  { name: 'fewer objects than sent', reply: (r) => ok(r, [v1ToV2(r.request.objects[0])]), objs: () => [db('a', '1'), db('b', '2')], want: () => `conversion webhook for example.com/v1, Kind=DatabaseList returned 1 objects, expected 2` },
  { name: 'more objects than sent', reply: (r) => ok(r, [v1ToV2(r.request.objects[0]), v1ToV2(r.request.objects[0])]), want: () => `conversion webhook for ${gvk} returned 2 objects, expected 1` },
  { name: 'an object left at its version', reply: (r) => ok(r, r.request.objects), want: () => `conversion webhook for ${gvk} returned invalid object at index 0: invalid groupVersion (expected example.com/v2, received example.com/v1)` },
  { name: 'a list item left at its version', reply: (r) => ok(r, [v1ToV2(r.request.objects[0]), r.request.objects[1]]), objs: () => [db('a', '1'), db('b', '2')], want: () => `conversion webhook for example.com/v1, Kind=DatabaseList returned invalid converted object at index 1: invalid groupVersion (expected example.com/v2, received example.com/v1)` },
  { name: 'another kind', reply: (r) => ok(r, [{ ...v1ToV2(r.request.objects[0]), kind: 'Table' }]), want: () => `conversion webhook for ${gvk} returned invalid object at index 0: invalid kind (expected Database, received Table)` },
  { name: 'a converted object that is not an object', reply: (r) => ok(r, ['x']), want: () => 'json: cannot unmarshal string into Go value of type map[string]interface {}' },
  { name: 'a changed name', reply: (r) => ok(r, [{ ...v1ToV2(r.request.objects[0]), metadata: { ...r.request.objects[0].metadata, name: 'b' } }]), want: () => `conversion webhook for ${gvk} returned invalid object: must have the same name: a != b` },
  { name: 'a changed namespace in a list', reply: (r) => ok(r, r.request.objects.map((o: any, i: number) => ({ ...v1ToV2(o), metadata: { ...o.metadata, namespace: i ? 'kube-system' : 'default' } }))), objs: () => [db('a', '1'), db('b', '2')], want: () => `conversion webhook for example.com/v1, Kind=DatabaseList returned invalid converted object at index 1: must have the same namespace: default != kube-system` },
  { name: 'a changed uid', reply: (r) => ok(r, [{ ...v1ToV2(r.request.objects[0]), metadata: { ...r.request.objects[0].metadata, uid: 'u2' } }]), want: () => `conversion webhook for ${gvk} returned invalid object: must have the same UID: uid-a != u2` },
  { name: 'no metadata', reply: (r) => ok(r, [{ apiVersion: 'example.com/v2', kind: 'Database' }]), want: () => `conversion webhook for ${gvk} returned invalid object: must have the same name: a != ` },
  { name: 'an invalid label', reply: (r) => ok(r, [{ ...v1ToV2(r.request.objects[0]), metadata: { ...r.request.objects[0].metadata, labels: { app: 'not valid!' } } }]), want: () => `conversion webhook for ${gvk} returned invalid metadata: metadata.labels: Invalid value: "not valid!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')` },
  { name: 'a label that is not a string', reply: (r) => ok(r, [{ ...v1ToV2(r.request.objects[0]), metadata: { ...r.request.objects[0].metadata, labels: { n: 1 } } }]), want: () => `conversion webhook for ${gvk} returned invalid metadata: metadata.labels[n] must be a string, but is int64 in converted object` },
  { name: 'annotations that are not a map, in a list', reply: (r) => ok(r, r.request.objects.map((o: any) => ({ ...v1ToV2(o), metadata: { ...o.metadata, annotations: ['x'] } }))), objs: () => [db('a', '1'), db('b', '2')], want: () => `conversion webhook for example.com/v1, Kind=DatabaseList returned invalid metadata in object at index 0: invalid metadata.annotations of type []interface {} in converted object` },
];
for (const c of answerCases) {
  test(`Webhook: ${c.name}`, async () => {
    handler = c.reply;
    const conv = createConverter(hookCrd(), noServices);
    await assert.rejects(conv.convert(c.objs?.() ?? [db('a', '1')], 'example.com/v2', c.list === undefined ? undefined : { list: c.list }), (err: any) => {
      assert.deepEqual({ code: err.code, reason: err.reason, message: err.message }, { code: 500, reason: 'InternalError', message: `Internal error occurred: ${c.want()}` });
      return true;
    });
  });
}

test('a single object can be worded as a list', async () => {
  handler = (r) => ok(r, r.request.objects);
  await assert.rejects(createConverter(hookCrd(), noServices).convert([db('a', '1')], 'example.com/v2', { list: true }), fails(`conversion webhook for example.com/v1, Kind=DatabaseList returned invalid converted object at index 0: invalid groupVersion (expected example.com/v2, received example.com/v1)`));
});

test('past the deadline the conversion fails with context deadline exceeded', async () => {
  handler = (r) => ({ ...ok(r, r.request.objects.map(v1ToV2)), delayMs: 1500 });
  const c = createConverter(hookCrd(), { ...noServices, timeoutSeconds: 1 });
  await assert.rejects(c.convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: Post "${server.url('/convert?timeout=1s')}": context deadline exceeded`));
});

test('an unreachable webhook fails with the dial error', async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const p = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const c = createConverter(hookCrd({ url: `https://127.0.0.1:${p}/convert` }), noServices);
  await assert.rejects(c.convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: Post "https://127.0.0.1:${p}/convert?timeout=30s": dial tcp 127.0.0.1:${p}: connect: connection refused`));
});

test('a server certificate from another CA is refused', async () => {
  const c = createConverter(hookCrd({ caBundle: otherTls.caBundle }), noServices);
  await assert.rejects(c.convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: Post "${url()}": tls: failed to verify certificate: x509: certificate signed by unknown authority`));
});

test('a missing service fails as upstream: service "x" not found', async () => {
  const c = createConverter(hookCrd({ service: { namespace: 'hooks', name: 'gone', port: 443 } }), noServices);
  await assert.rejects(c.convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: Post "https://gone.hooks.svc:443/?timeout=30s": service "gone" not found`));
});

test('a resolver that rejects gives its reason', async () => {
  const deps: ConverterDeps = { resolveService: async () => Promise.reject(new Error('service "conv" has no ready endpoints')) };
  const c = createConverter(hookCrd({ service: { namespace: 'hooks', name: 'conv' } }), deps);
  await assert.rejects(c.convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: Post "https://conv.hooks.svc:443/?timeout=30s": service "conv" has no ready endpoints`));
});

test('configurations that cannot be called say why', async () => {
  const noClient = crd({ strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: {} } });
  await assert.rejects(createConverter(noClient, noServices).convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: failed calling webhook "conversion_webhook_for_databases.example.com": webhook configuration must have either service or URL`));
  const badCa = hookCrd({ caBundle: Buffer.from('junk').toString('base64') });
  await assert.rejects(createConverter(badCa, noServices).convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: unable to load root certificates: unable to parse bytes as PEM block`));
  const none = hookCrd({ versions: ['v2'] });
  await assert.rejects(createConverter(none, noServices).convert([db('a', '1')], 'example.com/v2'), fails('no supported conversion review versions'));
});

test('the answer is read up to 3 MiB per object sent; one byte more fails', async () => {
  const limit = 3 * 1024 * 1024;
  handler = () => ({ raw: 'x'.repeat(limit + 1) });
  await assert.rejects(createConverter(hookCrd(), noServices).convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: Post "${url()}": the response body exceeds the limit of ${limit} bytes`));
  // Exactly the limit is read (and then fails to decode, as it is not JSON).
  handler = () => ({ raw: ' '.repeat(limit - 2) + '{}' });
  await assert.rejects(createConverter(hookCrd(), noServices).convert([db('a', '1')], 'example.com/v2'), fails(`conversion webhook for ${gvk} failed: Object 'Kind' is missing in '${' '.repeat(256)}...'`));
});

test('concurrent conversions each get their own answer', async () => {
  handler = async (r) => {
    await new Promise((res) => setTimeout(res, Math.random() * 20));
    return ok(r, r.request.objects.map(v1ToV2));
  };
  const c = createConverter(hookCrd(), noServices);
  const outs = await Promise.all(Array.from({ length: 10 }, (_, i) => c.convert([db(`d${i}`, String(i))], 'example.com/v2')));
  assert.deepEqual(outs.map(([o]) => [o!.metadata.name, (o!['spec'] as any).replicas]), Array.from({ length: 10 }, (_, i) => [`d${i}`, i]));
});
