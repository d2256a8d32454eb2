/**
 * Issue 11, request decoding against a started server: nesting bombs are 400s (never 500s, never
 * a stalled server), nesting at upstream's edge is accepted, and decode and patch type errors
 * read as upstream's, also through the real kubectl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServer, kubectl, kubectlVersions, type ServerHandle } from './harness.ts';
import { request, type Creds } from './api.ts';

let server: ServerHandle;
let creds: Creds;

useServer({ args: ['--disable-scheduler', '--disable-controller-manager'] }, (s, c) => {
  server = s;
  creds = c;
});

const cms = '/api/v1/namespaces/default/configmaps';
/** A ConfigMap whose unknown field `junk` holds arrays: `depth` levels in all, the object included. */
const nested = (name: string, depth: number): string =>
  `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"${name}"},"junk":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
const status = (body: string): { reason?: string; message?: string; code?: number; details?: { causes?: { field?: string; message?: string }[] } } => JSON.parse(body);

test('JSON nested 10,000 deep is created; 10,001 and 100,000 deep are 400', async () => {
  const ok = await request(creds, 'POST', cms, { body: nested('deep-edge', 10_000) });
  assert.equal(ok.status, 201, ok.body);
  for (const depth of [10_001, 100_000]) {
    const r = await request(creds, 'POST', cms, { body: nested(`deep-${depth}`, depth) });
    assert.equal(r.status, 400, `depth ${depth}: ${r.body.slice(0, 200)}`);
    assert.equal(status(r.body).reason, 'BadRequest');
    assert.match(status(r.body).message!, /^the object provided is unrecognized \(must be of type ConfigMap\): couldn't get version\/kind; json parse error: invalid character '\[' exceeded max depth/);
  }
});

test('patch bodies nested 100,000 deep are 400 for every patch type', async () => {
  const base = await request(creds, 'POST', cms, { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'patched' } }) });
  assert.equal(base.status, 201, base.body);
  const deep = `{"junk":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  for (const type of ['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json']) {
    const body = type === 'application/json-patch+json' ? `[{"op":"add","path":"/data","value":${deep}}]` : deep;
    const r = await request(creds, 'PATCH', `${cms}/patched`, { body, headers: { 'content-type': type } });
    assert.equal(r.status, 400, `${type}: ${r.body.slice(0, 200)}`);
    assert.equal(status(r.body).message, "invalid character '[' exceeded max depth");
  }
  // Within the limit, a merge patch nested as deep as upstream allows applies (an unknown field, pruned).
  const edge = `{"junk":${'{"a":'.repeat(9_998)}1${'}'.repeat(9_998)}}`;
  const ok = await request(creds, 'PATCH', `${cms}/patched`, { body: edge, headers: { 'content-type': 'application/merge-patch+json' } });
  assert.equal(ok.status, 200, ok.body.slice(0, 200));
  const apply = await request(creds, 'PATCH', `${cms}/patched?fieldManager=t`, { body: `a: ${'['.repeat(100_000)}`, headers: { 'content-type': 'application/apply-patch+yaml' } });
  assert.equal(apply.status, 400, apply.body.slice(0, 200));
  // DeleteOptions: sent with a Content-Length, as Go clients send it .
  const opts = `{"propagationPolicy":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  const del = await request(creds, 'DELETE', `${cms}/patched`, { body: opts, headers: { 'content-length': String(Buffer.byteLength(opts)) } });
  assert.equal(del.status, 400, del.body.slice(0, 200));
});

test('3 MB of nested `[` in YAML is rejected, and the server keeps answering', async () => {
  const bomb = Buffer.alloc(3 * 1024 * 1024 - 16, '[');
  const r = await request(creds, 'POST', cms, { body: bomb, headers: { 'content-type': 'application/yaml' } });
  assert.equal(r.status, 400, r.body.slice(0, 300));
  assert.match(status(r.body).message!, /error converting YAML to JSON: yaml: exceeded max depth of 10000/);
  const health = await request(creds, 'GET', '/readyz');
  assert.equal(health.status, 200);
});

test('a body of 3 MiB is read; one byte more is 413 (HTTP/1.1, and HTTP/2 through kubectl), and the server keeps answering', async () => {
  const limit = 3 * 1024 * 1024;
  const padded = (name: string, size: number): Buffer => {
    const b = Buffer.alloc(size, ' ');
    b.write(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } }));
    return b;
  };
  const edge = await request(creds, 'POST', cms, { body: padded('body-edge', limit) });
  assert.equal(edge.status, 201, edge.body.slice(0, 200));
  for (const size of [limit + 1, 3 * limit]) {
    const r = await request(creds, 'POST', cms, { body: padded(`body-${size}`, size) });
    assert.equal(r.status, 413, r.body.slice(0, 200));
    assert.equal(status(r.body).reason, 'RequestEntityTooLarge');
    assert.equal(status(r.body).message, 'Request entity too large: limit is 3145728');
  }
  for (const minor of kubectlVersions) {
    const big = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `body-kubectl-${minor}` }, data: { a: 'x'.repeat(limit) } });
    const r = await kubectl(server, minor, ['create', '-f', '-'], { input: big });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error from server \(RequestEntityTooLarge\): .*Request entity too large: limit is 3145728/);
  }
  const health = await request(creds, 'GET', '/readyz');
  assert.equal(health.status, 200);
});

test('YAML within upstream limits is created', async () => {
  const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-ok\ndata:\n  a: "1"\n`;
  const r = await request(creds, 'POST', cms, { body: yaml, headers: { 'content-type': 'application/yaml' } });
  assert.equal(r.status, 201, r.body);
});

const unrecognized = [
  { name: 'an unterminated object', body: '{', tail: "couldn't get version/kind; json parse error: unexpected end of JSON input ({)" },
  { name: 'text that is not JSON', body: 'not json', tail: "couldn't get version/kind; json parse error: invalid character 'o' in literal null (expecting 'u') (6e6f74206a736f6e)" },
  {
    name: 'a JSON array',
    body: '[]',
    tail: `couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" } (5b5d)`,
  },
];
for (const c of unrecognized) {
  test(`a Namespace body that does not decode is unrecognized: ${c.name}`, async () => {
    const r = await request(creds, 'POST', '/api/v1/namespaces', { body: c.body });
    assert.equal(r.status, 400, r.body);
    const s = status(r.body);
    assert.equal(s.reason, 'BadRequest');
    assert.equal(s.message, `the object provided is unrecognized (must be of type Namespace): ${c.tail}`);
  });
}

test('a strategic merge patch of the wrong type is an Invalid patch field error', async () => {
  const made = await request(creds, 'POST', cms, { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'smp', labels: { a: 'b' } } }) });
  assert.equal(made.status, 201, made.body);
  const r = await request(creds, 'PATCH', `${cms}/smp`, { body: '{"metadata":{"labels":"invalid"}}', headers: { 'content-type': 'application/strategic-merge-patch+json' } });
  assert.equal(r.status, 422, r.body);
  const s = status(r.body);
  assert.equal(s.reason, 'Invalid');
  assert.equal(s.message, ' "" is invalid: patch: Invalid value: "map[metadata:map[labels:invalid]]": cannot restore map from string');
  assert.deepEqual(s.details?.causes?.map((c) => c.field), ['patch']);
  const merge = await request(creds, 'PATCH', `${cms}/smp`, { body: '{"metadata":{"labels":"invalid"}}', headers: { 'content-type': 'application/merge-patch+json' } });
  assert.equal(merge.status, 422, merge.body);
  assert.match(status(merge.body).message!, /^ "" is invalid: patch: Invalid value: ".*": json: cannot unmarshal string into Go struct field ObjectMeta\.metadata\.labels of type map\[string\]string$/);
});

for (const minor of kubectlVersions) {
  test(`kubectl 1.${minor} patch with a wrong type reports upstream's error`, async () => {
    const name = `kp${minor}`;
    const made = await request(creds, 'POST', cms, { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } }) });
    assert.equal(made.status, 201, made.body);
    const r = await kubectl(server, minor, ['patch', 'configmap', name, '-p', '{"metadata":{"labels":"invalid"}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot restore map from string/);
  });
}

// ---- OpenAPI as kubectl reads it ------------------------------------------------------------

const reviews = [
  { kind: 'SubjectAccessReview', yaml: 'apiVersion: authorization.k8s.io/v1\nkind: SubjectAccessReview\nspec:\n  user: alice\n  resourceAttributes:\n    verb: get\n    resource: pods\n' },
  { kind: 'SelfSubjectAccessReview', yaml: 'apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\nspec:\n  resourceAttributes:\n    verb: get\n    resource: pods\n' },
  { kind: 'TokenReview', yaml: 'apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  token: not-a-token\n' },
];
for (const minor of kubectlVersions) {
  for (const r of reviews) {
    test(`kubectl 1.${minor} create -f of a ${r.kind} passes client-side validation`, async () => {
      const out = await kubectl(server, minor, ['create', '-f', '-', '-o', 'json'], { input: r.yaml });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(JSON.parse(out.stdout).kind, r.kind);
    });
  }
  test(`kubectl 1.${minor} explain shows IntOrString fields as <IntOrString>`, async () => {
    const out = await kubectl(server, minor, ['explain', 'deployment.spec.strategy.rollingUpdate.maxSurge']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /FIELD: maxSurge <IntOrString>/);
    const list = await kubectl(server, minor, ['explain', 'deployment.spec.strategy.rollingUpdate']);
    assert.match(list.stdout, /maxUnavailable\t<IntOrString>/);
  });
}
