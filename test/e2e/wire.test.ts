/**
 * Issue 11, "the wire": bodies as Go writes them (field order, omitempty, a final newline),
 * boolean and int64 query parameters as upstream's parameter codec reads them, the router's 404
 * for an unserved subresource, `pretty`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureServiceAccount, useServer, type ServerHandle } from './harness.ts';
import { request, watch, type Creds } from './api.ts';
import { canonical } from '../../src/api/schema/canonical.ts';

let server: ServerHandle;
let creds: Creds;

useServer({ args: ['--disable-scheduler', '--disable-controller-manager'] }, (s, c) => {
  server = s;
  creds = c;
});

const post = (path: string, obj: unknown, headers?: Record<string, string>) => request(creds, 'POST', path, { body: JSON.stringify(obj), headers });

/** The body is one JSON text followed by exactly one newline, as Go's json.Encoder writes it. */
function assertEncoderBody(body: string, what: string): void {
  assert.ok(body.endsWith('}\n'), `${what} ends with a newline: ${JSON.stringify(body.slice(-20))}`);
  assert.ok(!body.endsWith('\n\n'), `${what} ends with one newline`);
  JSON.parse(body);
}

test('a 409 Status reads byte for byte as upstream writes it', async () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dup' }, data: { k: 'v' } };
  assert.equal((await post('/api/v1/namespaces/default/configmaps', cm)).status, 201);
  const r = await post('/api/v1/namespaces/default/configmaps', cm);
  assert.equal(r.status, 409);
  assert.equal(
    r.body,
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"dup\\" already exists","reason":"AlreadyExists","details":{"name":"dup","kind":"configmaps"},"code":409}\n',
  );
});

test('a 404 for a missing object names it; details.group is absent for the core group', async () => {
  const r = await request(creds, 'GET', '/api/v1/namespaces/default/configmaps/nope');
  assert.equal(
    r.body,
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"nope\\" not found","reason":"NotFound","details":{"name":"nope","kind":"configmaps"},"code":404}\n',
  );
});

test('create, get and list bodies end in a newline and are in Go field order', async () => {
  // Keys sent in reverse order, with zero values Go would omit.
  const dep = {
    status: {},
    spec: {
      template: { spec: { containers: [{ image: 'nginx', name: 'web', args: [] }] }, metadata: { labels: { app: 'w' } } },
      selector: { matchLabels: { app: 'w' } },
      paused: false,
      minReadySeconds: 0,
      replicas: 1,
    },
    metadata: { labels: { z: '1', a: '2' }, name: 'w' },
    kind: 'Deployment',
    apiVersion: 'apps/v1',
  };
  const created = await post('/apis/apps/v1/namespaces/default/deployments', dep);
  assert.equal(created.status, 201, created.body);
  const got = await request(creds, 'GET', '/apis/apps/v1/namespaces/default/deployments/w');
  const list = await request(creds, 'GET', '/apis/apps/v1/namespaces/default/deployments');
  for (const [what, r] of [['create', created], ['get', got], ['list', list]] as const) {
    assertEncoderBody(r.body, what);
    assert.equal(`${JSON.stringify(canonical(JSON.parse(r.body)))}\n`, r.body, `${what} is canonical`);
  }
  assert.match(got.body, /^\{"kind":"Deployment","apiVersion":"apps\/v1","metadata":\{"name":"w","namespace":"default","uid":/);
  assert.match(got.body, /"labels":\{"a":"2","z":"1"\}/);
  const spec = got.json().spec as Record<string, unknown>;
  assert.deepEqual(Object.keys(spec).slice(0, 4), ['replicas', 'selector', 'template', 'strategy']);
  assert.equal('paused' in spec, false);
  assert.equal('minReadySeconds' in spec, false);
  assert.match(list.body, /^\{"kind":"DeploymentList","apiVersion":"apps\/v1","metadata":\{"resourceVersion":"\d+"\},"items":\[\{"kind":"Deployment"/);
});

test('an update that only adds zero values Go omits is no change (no new resourceVersion)', async () => {
  const cur = (await request(creds, 'GET', '/apis/apps/v1/namespaces/default/deployments/w')).json();
  cur.spec.paused = false;
  cur.spec.minReadySeconds = 0;
  const r = await request(creds, 'PUT', '/apis/apps/v1/namespaces/default/deployments/w', { body: JSON.stringify(cur) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json().metadata.resourceVersion, cur.metadata.resourceVersion);
  assertEncoderBody(r.body, 'update');
});

test('discovery, Table and error bodies end in a newline', async () => {
  for (const path of ['/api', '/apis', '/api/v1', '/apis/apps', '/apis/apps/v1', '/api/v1/namespaces/default/configmaps/nope']) {
    assertEncoderBody((await request(creds, 'GET', path)).body, path);
  }
  const agg = await request(creds, 'GET', '/apis', { headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' } });
  assertEncoderBody(agg.body, 'aggregated discovery');
  const table = await request(creds, 'GET', '/api/v1/namespaces', { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } });
  assertEncoderBody(table.body, 'Table');
  assert.match(table.body, /^\{"kind":"Table","apiVersion":"meta.k8s.io\/v1","metadata":\{"resourceVersion":"\d+"\},"columnDefinitions":\[\{"name":"Name","type":"string","format":"name","description":/);
});

test('a subresource in a resource list has group and version before kind', async () => {
  const r = await request(creds, 'GET', '/apis/apps/v1');
  assert.match(r.body, /\{"name":"deployments\/scale","singularName":"","namespaced":true,"group":"autoscaling","version":"v1","kind":"Scale","verbs":\[/);
});

test('watch=True, watch=yes and watch= open a watch; watch=False lists', async () => {
  for (const v of ['True', 'yes', '']) {
    const events = await watch(creds, `/api/v1/namespaces?watch=${v}`, (evs) => evs.length > 0);
    assert.ok(events.length > 0, `watch=${v}`);
    assert.equal(events[0].type, 'ADDED', `watch=${v}`);
  }
  const r = await request(creds, 'GET', '/api/v1/namespaces?watch=False');
  assert.equal(r.json().kind, 'NamespaceList');
});

test('limit is an int64: its maximum is accepted, beyond it is a 400', async () => {
  const max = await request(creds, 'GET', '/api/v1/namespaces?limit=9223372036854775807');
  assert.equal(max.status, 200, max.body);
  assert.equal(max.json().kind, 'NamespaceList');
  const over = await request(creds, 'GET', '/api/v1/namespaces?limit=9223372036854775808');
  assert.equal(over.status, 400, over.body);
  assert.equal(over.json().reason, 'BadRequest');
  assert.equal((await request(creds, 'GET', '/api/v1/namespaces?limit=ten')).status, 400);
});

test('an unserved subresource is the router 404, not a missing object', async () => {
  await post('/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sub' } });
  // No serviceaccount controller: the pod's account is made by hand.
  await ensureServiceAccount(server, 'default');
  await post('/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p2' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
  for (const path of ['/api/v1/namespaces/default/configmaps/sub/status', '/api/v1/namespaces/default/pods/p2/scale', '/api/v1/namespaces/default/pods/p2/nonsense']) {
    const r = await request(creds, 'GET', path);
    assert.equal(r.status, 404, path);
    assert.equal(
      r.body,
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}\n',
      path,
    );
  }
});

test('force=True on apply is a force (not a 400)', async () => {
  const path = '/api/v1/namespaces/default/configmaps/applied?fieldManager=one';
  const cfg = (v: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied' }, data: { k: v } });
  const headers = { 'content-type': 'application/apply-patch+yaml' };
  assert.equal((await request(creds, 'PATCH', path, { body: cfg('1'), headers })).status, 201);
  const other = '/api/v1/namespaces/default/configmaps/applied?fieldManager=two';
  assert.equal((await request(creds, 'PATCH', other, { body: cfg('2'), headers })).status, 409);
  const forced = await request(creds, 'PATCH', `${other}&force=True`, { body: cfg('2'), headers });
  assert.equal(forced.status, 200, forced.body);
  assert.equal(forced.json().data.k, '2');
});

test('orphanDependents is a bool parameter and may not be combined with propagationPolicy', async () => {
  await post('/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'od' } });
  const both = await request(creds, 'DELETE', '/api/v1/namespaces/default/configmaps/od?orphanDependents=True&propagationPolicy=Background');
  assert.equal(both.status, 422);
  assert.equal(both.json().message, 'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Background": orphanDependents and deletionPropagation cannot be both set');
  // Orphan: the garbage collector's finalizer keeps the object for now; upstream answers 200.
  const r = await request(creds, 'DELETE', '/api/v1/namespaces/default/configmaps/od?orphanDependents=TRUE');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json().metadata.finalizers, ['orphan']);
  // A pending cascading delete asked for with orphanDependents=false is 202 Accepted.
  await post('/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'od2', finalizers: ['example.com/hold'] } });
  const cascading = await request(creds, 'DELETE', '/api/v1/namespaces/default/configmaps/od2?orphanDependents=false');
  assert.equal(cascading.status, 202, cascading.body);
  const held = await request(creds, 'DELETE', '/api/v1/namespaces/default/configmaps/od2');
  assert.equal(held.status, 200, held.body);
});

test('pretty=true indents as json.MarshalIndent (no final newline); pretty=false does not', async () => {
  const pretty = await request(creds, 'GET', '/api/v1/namespaces/default?pretty=true');
  assert.ok(pretty.body.startsWith('{\n  "kind": "Namespace",\n  "apiVersion": "v1",\n  "metadata": {\n'), pretty.body.slice(0, 80));
  assert.ok(pretty.body.endsWith('}'));
  const plain = await request(creds, 'GET', '/api/v1/namespaces/default?pretty=false', { headers: { 'user-agent': 'curl/8.5.0' } });
  assertEncoderBody(plain.body, 'pretty=false');
  assert.ok(!plain.body.includes('\n '));
  const curl = await request(creds, 'GET', '/api/v1/namespaces/default', { headers: { 'user-agent': 'curl/8.5.0' } });
  assert.ok(curl.body.startsWith('{\n  "kind"'), 'curl gets pretty output, as upstream');
});

test('<, > and & in strings are escaped as Go escapes them', async () => {
  const r = await post('/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'html' }, data: { k: '<a href="x">&</a>' } });
  assert.equal(r.status, 201);
  assert.match(r.body, /"k":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c\/a\\u003e"/);
  assert.equal(r.json().data.k, '<a href="x">&</a>');
});
