/**
 * CRD conversion by webhook, through kubectl: a Database CRD with v1 (storage, `spec.size: "3"`)
 * and v2 (`spec.replicas: 3`) converted by a real HTTPS ConversionReview webhook in this process
 * (upstream's apiextensions-apiserver webhook converter): each version reads what the other
 * wrote, lists and watches convert, status.storedVersions names the storage version, and a
 * failing or unreachable webhook is a 500 with upstream's message.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, type ServerHandle } from './harness.ts';
import { request, watch, type Creds } from './api.ts';
import { makeTls, startServer as startWebhookServer, type Reply, type Review } from '../../src/apiserver/admission/webhook/testing.ts';

let server!: ServerHandle;
let creds!: Creds;
useServer({}, (s, c) => {
  server = s;
  creds = c;
});
const v = kubectlVersions.at(-1)!;

/** v1 `spec.size` (a string) ↔ v2 `spec.replicas` (an integer); negative replicas are refused. */
function convert(o: any, to: string): any {
  const spec = { ...(o.spec ?? {}) };
  if (to === 'example.com/v2' && 'size' in spec) {
    spec.replicas = Number(spec.size);
    delete spec.size;
  }
  if (to === 'example.com/v1' && 'replicas' in spec) {
    if (spec.replicas < 0) throw new Error('replicas must not be negative');
    spec.size = String(spec.replicas);
    delete spec.replicas;
  }
  return { ...o, apiVersion: to, spec };
}

function review(r: Review): Reply {
  const res = (response: Record<string, unknown>) => ({ body: { apiVersion: r.apiVersion, kind: 'ConversionReview', response: { uid: r.request.uid, ...response } } });
  try {
    return res({ convertedObjects: r.request.objects.map((o: any) => convert(o, r.request.desiredAPIVersion)), result: { status: 'Success' } });
  } catch (err) {
    return res({ result: { status: 'Failure', message: (err as Error).message } });
  }
}

const tls = await makeTls();
const hook = await startWebhookServer(tls, review);
after(() => hook.close());

const crd = () => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'databases.example.com' },
  spec: {
    group: 'example.com',
    names: { plural: 'databases', singular: 'database', kind: 'Database', listKind: 'DatabaseList' },
    scope: 'Namespaced',
    versions: [
      { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'string' } } } } } } },
      { name: 'v2', served: true, storage: false, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { replicas: { type: 'integer' } } } } } } },
    ],
    conversion: { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { url: hook.url('/convert'), caBundle: tls.caBundle } } },
  },
});

const db = (apiVersion: string, name: string, spec: Record<string, unknown>) => JSON.stringify({ apiVersion, kind: 'Database', metadata: { name, labels: { app: 'db' } }, spec });
const getJson = async (resource: string, name?: string) => JSON.parse(await kubectlOk(server, v, ['get', resource, ...(name ? [name] : []), '-o', 'json']));

/** Creates the CRD once (for whichever test runs first) and waits until it is served. */
let established: Promise<void> | undefined;
const ensureCrd = () =>
  (established ??= (async () => {
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(crd()) });
    await until('the CRD Established', async () => (await kubectl(server, v, ['get', 'crd', 'databases.example.com', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}'])).stdout === 'True');
    await until('databases served', async () => (await kubectl(server, v, ['get', 'databases.v2.example.com'])).code === 0);
  })());

test('a webhook converts between v1 and v2 for reads, writes, lists and watches', { timeout: 120_000 }, async () => {
  await ensureCrd();

  // Written in v1 (the storage version), read in v2.
  await kubectlOk(server, v, ['create', '-f', '-'], { input: db('example.com/v1', 'x', { size: '3' }) });
  const yaml = await kubectlOk(server, v, ['get', 'databases.v2.example.com', 'x', '-o', 'yaml']);
  assert.match(yaml, /^apiVersion: example\.com\/v2$/m);
  assert.match(yaml, /^ {2}replicas: 3$/m);
  assert.doesNotMatch(yaml, /size:/);
  const xv2 = await getJson('databases.v2.example.com', 'x');
  const xv1 = await getJson('databases.v1.example.com', 'x');
  assert.deepEqual(xv2.spec, { replicas: 3 });
  assert.deepEqual(xv1.spec, { size: '3' });
  // Metadata is the stored object's whatever version reads it.
  assert.deepEqual({ ...xv2.metadata }, { ...xv1.metadata });
  assert.ok(hook.seen.some((s) => s.path === '/convert?timeout=30s' && s.review.request.desiredAPIVersion === 'example.com/v2'));

  // Written in v2, stored in v1 through the webhook, read in v1.
  await kubectlOk(server, v, ['create', '-f', '-'], { input: db('example.com/v2', 'y', { replicas: 5 }) });
  assert.deepEqual((await getJson('databases.v1.example.com', 'y')).spec, { size: '5' });
  assert.deepEqual((await getJson('databases.v2.example.com', 'y')).spec, { replicas: 5 });

  // Lists in both versions.
  const l1 = await getJson('databases.v1.example.com');
  const l2 = await getJson('databases.v2.example.com');
  assert.deepEqual(l1.items.map((i: any) => [i.apiVersion, i.metadata.name, i.spec]), [['example.com/v1', 'x', { size: '3' }], ['example.com/v1', 'y', { size: '5' }]]);
  assert.deepEqual(l2.items.map((i: any) => [i.apiVersion, i.metadata.name, i.spec]), [['example.com/v2', 'x', { replicas: 3 }], ['example.com/v2', 'y', { replicas: 5 }]]);
  // An older kubectl reads v2 too.
  if (kubectlVersions[0] !== v) assert.match(await kubectlOk(server, kubectlVersions[0]!, ['get', 'databases.v2.example.com', 'y', '-o', 'jsonpath={.spec.replicas}']), /^5$/);

  // A watch in v2 sees an object written in v1 converted.
  // (kubectl's -o json of a list is its own List, without the server's resourceVersion)
  const rv = (await request(creds, 'GET', '/apis/example.com/v2/namespaces/default/databases')).json().metadata.resourceVersion;
  assert.match(rv, /^\d+$/);
  const events = watch(creds, `/apis/example.com/v2/namespaces/default/databases?watch=1&resourceVersion=${rv}`, (evs) => evs.some((e) => e.object?.metadata?.name === 'z'), 20_000);
  // (from the list's resourceVersion: no event is missed however late the watch starts)
  await kubectlOk(server, v, ['create', '-f', '-'], { input: db('example.com/v1', 'z', { size: '7' }) });
  const z = (await events).find((e) => e.object?.metadata?.name === 'z');
  assert.ok(z, 'a watch event for z');
  assert.equal(z.type, 'ADDED');
  assert.equal(z.object.apiVersion, 'example.com/v2');
  assert.deepEqual(z.object.spec, { replicas: 7 });

  // An update in v2 is converted to storage and read back in v1.
  await kubectlOk(server, v, ['patch', 'databases.v2.example.com', 'z', '--type', 'merge', '-p', '{"spec":{"replicas":8}}']);
  assert.deepEqual((await getJson('databases.v1.example.com', 'z')).spec, { size: '8' });

  assert.equal(await kubectlOk(server, v, ['get', 'crd', 'databases.example.com', '-o', 'jsonpath={.status.storedVersions}']), '["v1"]');
});

test('a failing webhook is an internal error with its message; an unreachable one with the dial error', { timeout: 60_000 }, async () => {
  await ensureCrd();
  const refused = await kubectl(server, v, ['create', '-f', '-'], { input: db('example.com/v2', 'neg', { replicas: -1 }) });
  assert.notEqual(refused.code, 0);
  assert.equal(refused.stderr.trim(), 'Error from server (InternalError): error when creating "STDIN": Internal error occurred: conversion webhook for example.com/v2, Kind=Database failed: replicas must not be negative');
  assert.equal((await kubectl(server, v, ['get', 'databases.v1.example.com', 'neg'])).code, 1);

  // Written in the storage version (no conversion), then read in v2 with the webhook gone.
  await kubectlOk(server, v, ['create', '-f', '-'], { input: db('example.com/v1', 'late', { size: '1' }) });
  const port = hook.port;
  await hook.close();
  const down = await kubectl(server, v, ['get', 'databases.v2.example.com', 'late']);
  assert.notEqual(down.code, 0);
  assert.equal(
    down.stderr.trim(),
    `Error from server (InternalError): Internal error occurred: conversion webhook for example.com/v1, Kind=Database failed: Post "https://127.0.0.1:${port}/convert?timeout=30s": dial tcp 127.0.0.1:${port}: connect: connection refused`,
  );
  // The storage version is still read without the webhook.
  assert.equal(await kubectlOk(server, v, ['get', 'databases.v1.example.com', 'late', '-o', 'jsonpath={.spec.size}']), '1');
});
