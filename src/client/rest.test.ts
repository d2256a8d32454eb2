/**
 * The REST client: request shapes against a recording transport (pure units), then CRUD, errors,
 * watches and identities against a real `bosun server`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startServer, waitForServiceAccount, type ServerHandle } from '../../test/e2e/harness.ts';
import { isAlreadyExists, isConflict, isInvalid, isNotFound, StatusError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { issueClientCert, type Pki } from '../pki/index.ts';
import { isResourceExpired } from './errors.ts';
import { createClient, userAgent } from './index.ts';
import { RestClient, resourcePath, type PatchType } from './rest.ts';
import { resources } from './resources.ts';
import { Http2Transport, type Transport, type TransportRequest, type TransportResponse, type WatchStream } from './transport.ts';
import { loadKubeconfig } from './kubeconfig.ts';
import { builtinResources } from '../api/groups/index.ts';
import { metricsResources } from '../metrics/api.ts';

// ---- pure units ---------------------------------------------------------------------------

class Recorder implements Transport {
  requests: TransportRequest[] = [];
  answers: TransportResponse[] = [];
  async request(req: TransportRequest): Promise<TransportResponse> {
    this.requests.push(req);
    return this.answers.shift() ?? { status: 200, headers: {}, body: Buffer.from('{"metadata":{}}') };
  }
  async watch(): Promise<WatchStream> {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}

const pathCases: { name: string; res: keyof typeof resources; where: Parameters<typeof resourcePath>[1]; want: string }[] = [
  { name: 'a core collection in a namespace', res: 'pods', where: { namespace: 'ns' }, want: '/api/v1/namespaces/ns/pods' },
  { name: 'a core collection across namespaces', res: 'pods', where: {}, want: '/api/v1/pods' },
  { name: 'a grouped object', res: 'deployments', where: { namespace: 'ns', name: 'd' }, want: '/apis/apps/v1/namespaces/ns/deployments/d' },
  { name: 'a subresource', res: 'pods', where: { namespace: 'ns', name: 'p', subresource: 'status' }, want: '/api/v1/namespaces/ns/pods/p/status' },
  { name: 'a cluster-scoped object ignores a namespace', res: 'nodes', where: { namespace: 'x', name: 'n1' }, want: '/api/v1/nodes/n1' },
  { name: 'a namespace is itself cluster-scoped', res: 'namespaces', where: { name: 'kube-system' }, want: '/api/v1/namespaces/kube-system' },
];
for (const c of pathCases) test(`resourcePath: ${c.name}`, () => assert.equal(resourcePath(resources[c.res], c.where), c.want));

test('every resource descriptor matches the API registry', () => {
  for (const [name, d] of Object.entries(resources)) {
    const def = [...builtinResources, ...metricsResources].find((r) => r.group === d.group && r.plural === d.resource && (r.version === d.version || r.otherVersions?.some((v) => v.version === d.version)));
    assert.ok(def, `${name}: ${d.group}/${d.version} ${d.resource} is not served`);
    assert.equal(def.kind, d.kind, name);
    assert.equal(def.namespaced, d.namespaced, name);
  }
});

const patchCases: { type: PatchType; contentType: string; query: Record<string, string | undefined> }[] = [
  { type: 'json', contentType: 'application/json-patch+json', query: { dryRun: undefined, fieldManager: undefined, fieldValidation: undefined } },
  { type: 'merge', contentType: 'application/merge-patch+json', query: { dryRun: undefined, fieldManager: undefined, fieldValidation: undefined } },
  { type: 'strategic', contentType: 'application/strategic-merge-patch+json', query: { dryRun: undefined, fieldManager: undefined, fieldValidation: undefined } },
  { type: 'apply', contentType: 'application/apply-patch+yaml', query: { dryRun: undefined, fieldManager: 'me', fieldValidation: undefined, force: 'true' } },
];
for (const c of patchCases) {
  test(`a ${c.type} patch is sent as ${c.contentType}`, async () => {
    const t = new Recorder();
    const client = new RestClient(t);
    await client.patch(resources.configMaps, 'cm', { data: { a: '1' } }, { namespace: 'ns', type: c.type, fieldManager: c.type === 'apply' ? 'me' : undefined, force: true });
    const r = t.requests[0]!;
    assert.equal(r.method, 'PATCH');
    assert.equal(r.path, '/api/v1/namespaces/ns/configmaps/cm');
    assert.equal(r.contentType, c.contentType);
    assert.deepEqual(r.query, c.query);
    assert.deepEqual(JSON.parse(String(r.body)), { data: { a: '1' } });
  });
}

test('server-side apply without a field manager is refused before sending', async () => {
  const t = new Recorder();
  await assert.rejects(new RestClient(t).patch(resources.configMaps, 'cm', {}, { namespace: 'ns', type: 'apply' }), TypeError);
  assert.equal(t.requests.length, 0);
});

test('delete sends DeleteOptions with the policy, preconditions and grace period', async () => {
  const t = new Recorder();
  await new RestClient(t).delete(resources.pods, 'p', { namespace: 'ns', propagationPolicy: 'Foreground', preconditions: { uid: 'u1' }, gracePeriodSeconds: 0, dryRun: true });
  assert.equal(t.requests[0]!.method, 'DELETE');
  assert.deepEqual(JSON.parse(String(t.requests[0]!.body)), {
    kind: 'DeleteOptions',
    apiVersion: 'v1',
    propagationPolicy: 'Foreground',
    gracePeriodSeconds: 0,
    preconditions: { uid: 'u1' },
    dryRun: ['All'],
  });
});

test('a 429 is retried after Retry-After; a non-Status error body becomes a generic StatusError', async () => {
  const t = new Recorder();
  t.answers.push({ status: 429, headers: { 'retry-after': '0' }, body: Buffer.from('slow down') });
  t.answers.push({ status: 200, headers: {}, body: Buffer.from('{"metadata":{"name":"x"}}') });
  const client = new RestClient(t);
  assert.equal((await client.get(resources.configMaps, 'x', { namespace: 'ns' })).metadata.name, 'x');
  assert.equal(t.requests.length, 2);
  t.answers.push({ status: 503, headers: {}, body: Buffer.from('upstream down') });
  await assert.rejects(client.get(resources.configMaps, 'x', { namespace: 'ns' }), (err: unknown) => err instanceof StatusError && err.code === 503 && err.reason === 'ServiceUnavailable');
});

test('a namespaced write without a namespace is refused before sending', async () => {
  const t = new Recorder();
  await assert.rejects(new RestClient(t).create(resources.configMaps, { metadata: { name: 'x' } }), /namespace is required/);
  assert.equal(t.requests.length, 0);
});

// ---- against a real server ------------------------------------------------------------------

let server: ServerHandle;
let client: RestClient;

before(async () => {
  // No other component writes to the objects these tests check.
  server = await startServer({ args: ['--disable-scheduler'] });
  client = await createClient({ kubeconfig: server.kubeconfig, component: 'client-test' });
});

after(async () => {
  await client?.transport.close();
  await server?.stop();
});

const cm = (name: string, labels?: Record<string, string>): KubeObject => ({ metadata: { name, namespace: 'default', labels }, data: { k: 'v' } });

test('create, get, update and delete a ConfigMap', async () => {
  const created = await client.create(resources.configMaps, cm('crud'));
  assert.equal(created.kind, 'ConfigMap');
  assert.ok(created.metadata.uid);
  const got = await client.get(resources.configMaps, 'crud', { namespace: 'default' });
  assert.deepEqual(got['data'], { k: 'v' });
  const updated = await client.update(resources.configMaps, { ...got, data: { k: 'w' } });
  assert.deepEqual(updated['data'], { k: 'w' });
  assert.notEqual(updated.metadata.resourceVersion, got.metadata.resourceVersion);
  await assert.rejects(client.update<KubeObject>(resources.configMaps, { ...got, data: { k: 'stale' } }), isConflict);
  await assert.rejects(client.delete(resources.configMaps, 'crud', { namespace: 'default', preconditions: { uid: 'not-the-uid' } }), isConflict);
  const del = await client.delete(resources.configMaps, 'crud', { namespace: 'default', propagationPolicy: 'Background' });
  assert.ok(del);
  await assert.rejects(client.get(resources.configMaps, 'crud', { namespace: 'default' }), isNotFound);
});

test('server errors keep their reason, code and details', async () => {
  await client.create(resources.configMaps, cm('dup'));
  await assert.rejects(client.create(resources.configMaps, cm('dup')), (err: unknown) => {
    assert.ok(isAlreadyExists(err));
    const s = (err as StatusError).status;
    assert.equal(s.code, 409);
    // details.group is omitempty: absent for the core group, as upstream writes it.
    assert.deepEqual(s.details, { name: 'dup', kind: 'configmaps' });
    return true;
  });
  await assert.rejects(client.get(resources.deployments, 'missing', { namespace: 'default' }), (err: unknown) => isNotFound(err) && (err as StatusError).code === 404);
  await assert.rejects(client.create(resources.configMaps, cm('Not_A_Name')), (err: unknown) => {
    assert.ok(isInvalid(err));
    assert.equal((err as StatusError).code, 422);
    assert.ok((err as StatusError).status.details?.causes?.some((c) => c.field === 'metadata.name'));
    return true;
  });
});

test('patch with JSON patch and merge patch, and status updates through the subresource', async () => {
  await client.create(resources.configMaps, cm('patched'));
  const merged = await client.patch(resources.configMaps, 'patched', { data: { extra: '1' } }, { namespace: 'default', type: 'merge' });
  assert.deepEqual(merged['data'], { k: 'v', extra: '1' });
  const jp = await client.patch(resources.configMaps, 'patched', [{ op: 'remove', path: '/data/k' }], { namespace: 'default', type: 'json' });
  assert.deepEqual(jp['data'], { extra: '1' });

  await client.create(resources.namespaces, { metadata: { name: 'status-test' } });
  // Pods wait for their namespace's default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'status-test');
  const pod = await client.create(resources.pods, { metadata: { name: 'p', namespace: 'status-test' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
  const withStatus = await client.updateStatus(resources.pods, { ...pod, status: { ...(pod['status'] as object), phase: 'Running' }, spec: { ...(pod['spec'] as object), nodeName: 'ignored' } });
  assert.equal((withStatus['status'] as { phase: string }).phase, 'Running');
  assert.equal((withStatus['spec'] as { nodeName?: string }).nodeName, undefined, 'a status update leaves the spec alone');
  const patched = await client.patchStatus(resources.pods, 'p', { status: { phase: 'Succeeded' } }, { namespace: 'status-test', type: 'merge' });
  assert.equal((patched['status'] as { phase: string }).phase, 'Succeeded');
});

test('list pages with limit and continue, and filters by label and field', async () => {
  await client.create(resources.namespaces, { metadata: { name: 'paging' } });
  for (let i = 0; i < 7; i++) await client.create(resources.configMaps, { metadata: { name: `p${i}`, namespace: 'paging', labels: { parity: i % 2 ? 'odd' : 'even' } } });
  const names: string[] = [];
  let cont: string | undefined;
  let pages = 0;
  do {
    const page = await client.list(resources.configMaps, { namespace: 'paging', limit: 3, continue: cont });
    pages++;
    for (const it of page.items) {
      names.push(it.metadata.name!);
      assert.equal(it.kind, 'ConfigMap');
      assert.equal(it.apiVersion, 'v1');
    }
    cont = page.metadata.continue || undefined;
  } while (cont);
  assert.equal(pages, 3);
  assert.deepEqual(names.filter((n) => n.startsWith('p')).sort(), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
  const odd = await client.list(resources.configMaps, { namespace: 'paging', labelSelector: 'parity=odd' });
  assert.deepEqual(odd.items.map((i) => i.metadata.name).sort(), ['p1', 'p3', 'p5']);
  const byName = await client.list(resources.configMaps, { fieldSelector: 'metadata.name=p4' });
  assert.deepEqual(byName.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`), ['paging/p4']);
  const gone = await client.deleteCollection(resources.configMaps, { namespace: 'paging', labelSelector: 'parity=even' });
  assert.equal((gone as { items: unknown[] }).items.length, 4);
  const left = await client.list(resources.configMaps, { namespace: 'paging', labelSelector: 'parity' });
  assert.deepEqual(left.items.map((i) => i.metadata.name).sort(), ['p1', 'p3', 'p5']);
});

test('watch delivers added, modified and deleted events from a resource version', async () => {
  const start = await client.list(resources.configMaps, { namespace: 'default' });
  const ac = new AbortController();
  const stream = await client.watch(resources.configMaps, { namespace: 'default', resourceVersion: start.metadata.resourceVersion, allowWatchBookmarks: true, signal: ac.signal });
  await client.create(resources.configMaps, cm('watched'));
  await client.patch(resources.configMaps, 'watched', { data: { k: 'x' } }, { namespace: 'default', type: 'merge' });
  await client.delete(resources.configMaps, 'watched', { namespace: 'default' });
  const seen: string[] = [];
  for await (const ev of stream) {
    if (ev.type === 'BOOKMARK') continue;
    seen.push(`${ev.type} ${ev.type === 'ERROR' ? ev.object.reason : ev.object.metadata.name}`);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, ['ADDED watched', 'MODIFIED watched', 'DELETED watched']);
  ac.abort();
});

test('an explicit connection authenticates as the certificate it presents', async () => {
  const tls = path.join(server.dataDir, 'tls');
  const read = (f: string) => fs.readFile(path.join(tls, f), 'utf8');
  const pki = { dir: tls, caCertPem: await read('ca.crt'), caKeyPem: await read('ca.key') } as Pki;
  const pair = await issueClientCert(pki, { name: 'client-test', commonName: 'system:kube-controller-manager' });
  const c = await createClient({
    component: 'controller-manager',
    connection: { server: server.url, ca: pki.caCertPem, cert: pair.certPem, key: pair.keyPem },
  });
  try {
    const review = await c.create(
      { group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', kind: 'SelfSubjectReview', namespaced: false },
      { metadata: {} },
    );
    assert.equal((review['status'] as { userInfo: { username: string } }).userInfo.username, 'system:kube-controller-manager');
  } finally {
    await c.transport.close();
  }
  assert.equal(userAgent('controller-manager'), 'bosun-controller-manager/v1.33.0');
});

test('a credentials source is read per request: a rotated certificate opens a new session as the new identity; an open watch stays on the old one', async () => {
  const tls = path.join(server.dataDir, 'tls');
  const read = (f: string) => fs.readFile(path.join(tls, f), 'utf8');
  const pki = { dir: tls, caCertPem: await read('ca.crt'), caKeyPem: await read('ca.key') } as Pki;
  let current = await issueClientCert(pki, { name: 'rotating-1', commonName: 'rotating-one', organizations: ['system:masters'] });
  const t = new Http2Transport({ server: server.url, ca: pki.caCertPem, credentials: () => ({ cert: current.certPem, key: current.keyPem }) });
  const c = new RestClient(t);
  const whoami = async () => {
    const review = await c.create({ group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', kind: 'SelfSubjectReview', namespaced: false }, { metadata: {} });
    return (review['status'] as { userInfo: { username: string } }).userInfo.username;
  };
  try {
    assert.equal(await whoami(), 'rotating-one');
    const w = await c.watch(resources.namespaces, {});
    current = await issueClientCert(pki, { name: 'rotating-2', commonName: 'rotating-two', organizations: ['system:masters'] });
    assert.equal(await whoami(), 'rotating-two');
    assert.equal(t.sessionsOpened, 2);
    // The watch opened on the first session still delivers events.
    await c.create(resources.namespaces, { metadata: { name: 'rotation-check' } });
    let seen = false;
    for await (const ev of w) {
      if (ev.type !== 'ERROR' && ev.object.metadata.name === 'rotation-check') { seen = true; break; }
    }
    w.close();
    assert.ok(seen);
    await c.delete(resources.namespaces, 'rotation-check');
  } finally {
    await t.close();
  }
});

test('requests share one HTTP/2 session; a closed transport refuses further requests', async () => {
  const t = new Http2Transport({ ...(await loadKubeconfig(server.kubeconfig)) });
  const c = new RestClient(t);
  const all = await Promise.all(Array.from({ length: 20 }, () => c.get(resources.namespaces, 'default')));
  assert.equal(all.length, 20);
  const w = await c.watch(resources.namespaces, {});
  await c.list(resources.namespaces);
  assert.equal(t.sessionsOpened, 1);
  await t.close();
  for await (const _ of w) {
    // the open watch ends when the transport closes
  }
  await assert.rejects(c.get(resources.namespaces, 'default'), /closed/);
});

test('a client without a trusted CA is refused by TLS', async () => {
  const c = await createClient({ component: 'x', connection: { server: server.url } });
  try {
    await assert.rejects(c.get(resources.namespaces, 'default'), (err: unknown) => /certificate|self.signed|verify/i.test(String((err as Error).message) + String((err as { cause?: Error }).cause?.message)));
  } finally {
    await c.transport.close();
  }
});
