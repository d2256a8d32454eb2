/**
 * CustomResourceDefinitions end to end, with the real kubectl (1.27 and 1.33) against
 * `bin/bosun server` (no node agent, no controllers: nothing else writes custom resources):
 * the seed's `databases.example.com` applied, Established, its Databases applied, listed with
 * printer columns, validated (schema and CEL), defaulted, pruned, scaled, patched (merge, JSON,
 * apply; strategic merge is 415), selected by field, and removed with their CRD.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type Creds } from './api.ts';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, type ServerHandle } from './harness.ts';

let server: ServerHandle;
let creds: Creds;
useServer({ args: ['--disable-controller-manager', '--disable-scheduler'] }, (s, c) => {
  server = s;
  creds = c;
});

const v = kubectlVersions.at(-1)!;

export const databaseCrd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: databases.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: databases
    singular: database
    kind: Database
    shortNames: [db]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.readyReplicas
    additionalPrinterColumns:
    - name: Engine
      type: string
      jsonPath: .spec.engine
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Phase
      type: string
      jsonPath: .status.phase
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    selectableFields:
    - jsonPath: .spec.engine
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [engine]
            x-kubernetes-validations:
            - rule: "self.replicas <= self.maxReplicas"
              message: replicas must not exceed maxReplicas
            properties:
              engine:
                type: string
                enum: [postgres, mysql]
              version:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
              maxReplicas:
                type: integer
                default: 5
              storage:
                type: string
                default: 1Gi
          status:
            type: object
            properties:
              phase:
                type: string
              readyReplicas:
                type: integer
`;

const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/databases.example.com';
const dbPath = (ns: string, name = '') => `/apis/example.com/v1/namespaces/${ns}/databases${name ? `/${name}` : ''}`;

async function established(name: string): Promise<boolean> {
  const r = await request(creds, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
  if (r.status !== 200) return false;
  const crd = r.json<{ status?: { conditions?: { type: string; status: string }[] } }>();
  return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
}

describe('custom resources', () => {
  test('a CRD is Established with its names accepted, and served in discovery', async () => {
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: databaseCrd });
    await until('databases.example.com Established', () => established('databases.example.com'), { timeoutMs: 5000 });
    const crd = (await request(creds, 'GET', crdPath)).json<{ status: { acceptedNames: Record<string, unknown>; conditions: { type: string; status: string; reason: string }[]; storedVersions: string[] } }>();
    assert.deepEqual(crd.status.acceptedNames, { plural: 'databases', singular: 'database', shortNames: ['db'], kind: 'Database', listKind: 'DatabaseList', categories: ['all'] });
    const names = crd.status.conditions.find((c) => c.type === 'NamesAccepted');
    assert.equal(names?.status, 'True');
    assert.equal(names?.reason, 'NoConflicts');
    assert.deepEqual(crd.status.storedVersions, ['v1']);
    await until('databases in api-resources', async () => (await kubectl(server, v, ['api-resources', '--api-group=example.com'])).stdout.includes('databases'));
    const out = await kubectlOk(server, v, ['api-resources', '--api-group=example.com']);
    assert.match(out, /databases\s+db\s+example\.com\/v1\s+true\s+Database/);
  });

  test('a CRD whose kind another CRD of the group took is not accepted (ListKindConflict last), and not served', async () => {
    const other = databaseCrd.replace('name: databases.example.com', 'name: dbinstances.example.com').replace('plural: databases', 'plural: dbinstances').replace('singular: database', 'singular: dbinstance').replace('shortNames: [db]', 'shortNames: [dbi]');
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: other });
    const crd = await until('NamesAccepted False', async () => {
      const c = (await request(creds, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/dbinstances.example.com')).json<{ status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }>();
      return c.status?.conditions?.some((x) => x.type === 'NamesAccepted' && x.status === 'False') ? c : undefined;
    });
    const names = crd.status!.conditions!.find((c) => c.type === 'NamesAccepted')!;
    // Each name is checked in turn and the last conflict is reported, as upstream: kind, then listKind.
    assert.deepEqual([names.reason, names.message], ['ListKindConflict', '"DatabaseList" is already in use']);
    const est = crd.status!.conditions!.find((c) => c.type === 'Established')!;
    assert.deepEqual([est.status, est.reason], ['False', 'NotAccepted']);
    assert.equal((await request(creds, 'GET', '/apis/example.com/v1/dbinstances')).status, 404);
    await kubectlOk(server, v, ['delete', 'crd', 'dbinstances.example.com']);
  });

  for (const kv of kubectlVersions) {
    test(`kubectl ${kv || 'default'}: apply, get with printer columns, defaults`, async () => {
      const ns = `crd-${kv || 'd'}`;
      await kubectlOk(server, kv, ['create', 'namespace', ns]);
      await kubectlOk(server, kv, ['apply', '-n', ns, '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: orders\nspec:\n  engine: postgres\n  version: "16"\n' });
      const table = await kubectlOk(server, kv, ['get', 'databases', '-n', ns]);
      assert.match(table, /^NAME\s+ENGINE\s+REPLICAS\s+PHASE\s+AGE\n/);
      // An absent value is an empty cell, as upstream's table convertor leaves it (nil).
      assert.match(table, /\norders\s+postgres\s+1\s+\d+s\n/);
      const db = (await request(creds, 'GET', dbPath(ns, 'orders'))).json<{ spec: Record<string, unknown> }>();
      assert.deepEqual(db.spec, { engine: 'postgres', maxReplicas: 5, replicas: 1, storage: '1Gi', version: '16' });
      // The short name and the category reach it too.
      assert.match(await kubectlOk(server, kv, ['get', 'db', 'orders', '-n', ns, '-o', 'name']), /^database\.example\.com\/orders\n$/);
    });
  }

  test('schema validation: a bad spec.replicas is refused with upstream message', async () => {
    await kubectl(server, v, ['create', 'namespace', 'val']);
    const r = await kubectl(server, v, ['apply', '-n', 'val', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: bad\nspec:\n  engine: postgres\n  replicas: "three"\n' });
    assert.notEqual(r.code, 0);
    // Upstream reports the schema's type error, the scale subresource's accessor error, and
    // that CEL rules were skipped on an ill-typed object.
    assert.equal(
      r.stderr.trim(),
      'The Database "bad" is invalid: \n' +
        '* spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"\n' +
        '* .spec.replicas: Invalid value: 0: .spec.replicas accessor error: three is of the type string, expected int64\n' +
        '* <nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
    );
    const r2 = await kubectl(server, v, ['apply', '-n', 'val', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: bad\nspec:\n  engine: oracle\n  replicas: 20\n' });
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /spec\.engine: Unsupported value: "oracle": supported values: "postgres", "mysql"/);
    assert.match(r2.stderr, /spec\.replicas: Invalid value: 20: spec\.replicas in body should be less than or equal to 10/);
  });

  test('CEL rule: replicas beyond maxReplicas is refused with the rule message', async () => {
    await kubectl(server, v, ['create', 'namespace', 'cel']);
    const r = await kubectl(server, v, ['apply', '-n', 'cel', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: big\nspec:\n  engine: mysql\n  replicas: 8\n  maxReplicas: 6\n' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The Database "big" is invalid: spec: Invalid value: "object": replicas must not exceed maxReplicas/);
  });

  test('pruning: unknown fields are dropped (Warn) or refused (Strict)', async () => {
    await kubectl(server, v, ['create', 'namespace', 'prune']);
    const body = JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Database', metadata: { name: 'p' }, spec: { engine: 'mysql', colour: 'blue' }, extra: 1 });
    const strict = await request(creds, 'POST', `${dbPath('prune')}?fieldValidation=Strict`, { body });
    assert.equal(strict.status, 400, strict.body);
    assert.match(strict.body, /strict decoding error: unknown field \\"extra\\", unknown field \\"spec.colour\\"|strict decoding error: unknown field \\"spec.colour\\", unknown field \\"extra\\"/);
    const warn = await request(creds, 'POST', dbPath('prune'), { body });
    assert.equal(warn.status, 201, warn.body);
    assert.match(String(warn.headers['warning']), /unknown field \\"spec.colour\\"/);
    const got = (await request(creds, 'GET', dbPath('prune', 'p'))).json<Record<string, unknown> & { spec: Record<string, unknown> }>();
    assert.equal(got['extra'], undefined);
    assert.equal(got.spec['colour'], undefined);
  });

  test('status subresource, scale subresource and kubectl scale', async () => {
    await kubectl(server, v, ['create', 'namespace', 'sc']);
    await kubectlOk(server, v, ['apply', '-n', 'sc', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: s\nspec:\n  engine: mysql\n  replicas: 2\n' });
    // The main resource ignores status; /status writes only status.
    const cur = (await request(creds, 'GET', dbPath('sc', 's'))).json<Record<string, unknown> & { metadata: { resourceVersion: string } }>();
    const bad = await request(creds, 'PUT', `${dbPath('sc', 's')}/status`, { body: JSON.stringify({ ...cur, status: { phase: 'Ready', readyReplicas: 'two' } }) });
    assert.equal(bad.status, 422, bad.body);
    assert.match(bad.body, /status\.readyReplicas: Invalid value: \\"string\\": status\.readyReplicas in body must be of type integer: \\"string\\"/);
    const put = await request(creds, 'PUT', `${dbPath('sc', 's')}/status`, { body: JSON.stringify({ ...cur, spec: { engine: 'postgres', replicas: 9 }, status: { phase: 'Ready', readyReplicas: 2 } }) });
    assert.equal(put.status, 200, put.body);
    const after = (await request(creds, 'GET', dbPath('sc', 's'))).json<{ spec: { engine: string; replicas: number }; status: { phase: string } }>();
    assert.equal(after.spec.engine, 'mysql');
    assert.equal(after.status.phase, 'Ready');
    await kubectlOk(server, v, ['scale', '-n', 'sc', 'databases/s', '--replicas=4']);
    const scale = (await request(creds, 'GET', `${dbPath('sc', 's')}/scale`)).json<{ kind: string; spec: { replicas: number }; status: { replicas: number } }>();
    assert.equal(scale.kind, 'Scale');
    assert.equal(scale.spec.replicas, 4);
    assert.equal(scale.status.replicas, 2);
    assert.match(await kubectlOk(server, v, ['get', 'databases', '-n', 'sc']), /\ns\s+mysql\s+4\s+Ready\s+/);
  });

  test('patches: merge, JSON and server-side apply work; strategic merge is 415', async () => {
    await kubectl(server, v, ['create', 'namespace', 'pt']);
    await kubectlOk(server, v, ['apply', '--server-side', '-n', 'pt', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: x\nspec:\n  engine: mysql\n' });
    await kubectlOk(server, v, ['patch', '-n', 'pt', 'databases/x', '--type=merge', '-p', '{"spec":{"version":"8"}}']);
    await kubectlOk(server, v, ['patch', '-n', 'pt', 'databases/x', '--type=json', '-p', '[{"op":"replace","path":"/spec/replicas","value":3}]']);
    const smp = await request(creds, 'PATCH', dbPath('pt', 'x'), { body: '{"spec":{"version":"9"}}', headers: { 'content-type': 'application/strategic-merge-patch+json' } });
    assert.equal(smp.status, 415, smp.body);
    const got = (await request(creds, 'GET', dbPath('pt', 'x'))).json<{ spec: Record<string, unknown>; metadata: { managedFields: { manager: string; operation: string }[] } }>();
    assert.equal(got.spec['version'], '8');
    assert.equal(got.spec['replicas'], 3);
    assert.ok(got.metadata.managedFields.some((m) => m.operation === 'Apply' && m.manager === 'kubectl'));
    // A second applier that sets spec.version conflicts with kubectl-patch's ownership.
    const conflict = await request(creds, 'PATCH', `${dbPath('pt', 'x')}?fieldManager=other`, { body: JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Database', metadata: { name: 'x' }, spec: { engine: 'mysql', version: '7' } }), headers: { 'content-type': 'application/apply-patch+yaml' } });
    assert.equal(conflict.status, 409, conflict.body);
    // kubectl edit-style kubectl replace keeps working, kubectl 1.27 too.
    const old = kubectlVersions[0]!;
    await kubectlOk(server, old, ['label', '-n', 'pt', 'databases/x', 'tier=gold']);
    assert.match(await kubectlOk(server, old, ['get', '-n', 'pt', 'databases', '-l', 'tier=gold', '-o', 'name']), /database\.example\.com\/x/);
  });

  test('field selectors on selectableFields; others are refused', async () => {
    await kubectl(server, v, ['create', 'namespace', 'fs']);
    await kubectlOk(server, v, ['apply', '-n', 'fs', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: a\nspec:\n  engine: mysql\n---\napiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: b\nspec:\n  engine: postgres\n' });
    assert.equal(await kubectlOk(server, v, ['get', 'databases', '-n', 'fs', '--field-selector', 'spec.engine=postgres', '-o', 'name']), 'database.example.com/b\n');
    const bad = await kubectl(server, v, ['get', 'databases', '-n', 'fs', '--field-selector', 'spec.version=1']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /field label not supported: spec\.version/);
  });

  test('watch delivers custom resource events', async () => {
    await kubectl(server, v, ['create', 'namespace', 'wt']);
    const w = request(creds, 'GET', `${dbPath('wt')}?watch=1&timeoutSeconds=3`);
    await new Promise((r) => setTimeout(r, 300));
    await kubectlOk(server, v, ['apply', '-n', 'wt', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: w\nspec:\n  engine: mysql\n' });
    const r = await w;
    assert.match(r.body, /"type":"ADDED","object":\{"apiVersion":"example.com\/v1","kind":"Database"/);
  });

  test('a CRD change is live (a new printer column, a new default on stored objects); deleting the CRD removes every custom resource', async () => {
    // A new printer column appears once the CRD is updated.
    await kubectlOk(server, v, ['patch', 'crd', 'databases.example.com', '--type=json', '-p', '[{"op":"add","path":"/spec/versions/0/additionalPrinterColumns/-","value":{"name":"Storage","type":"string","jsonPath":".spec.storage"}}]']);
    await until('Storage column', async () => /STORAGE/.test((await kubectl(server, v, ['get', 'databases', '-A'])).stdout), { timeoutMs: 15_000 });
    // A new default shows on objects stored before it (upstream defaults what it reads).
    await kubectlOk(server, v, ['patch', 'crd', 'databases.example.com', '--type=json', '-p', '[{"op":"add","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/tier","value":{"type":"string","default":"standard"}}]']);
    const kv = kubectlVersions.at(-1) || 'd';
    await until('the new default on a stored Database', async () => {
      const r = await request(creds, 'GET', dbPath(`crd-${kv}`, 'orders'));
      return r.status === 200 && r.json<{ spec: { tier?: string } }>().spec.tier === 'standard';
    }, { timeoutMs: 15_000 });
    await kubectlOk(server, v, ['delete', 'crd', 'databases.example.com', '--timeout=30s']);
    assert.equal((await request(creds, 'GET', crdPath)).status, 404);
    await until('databases unserved', async () => (await request(creds, 'GET', '/apis/example.com/v1/databases')).status === 404);
    // Recreated, it starts empty: the instances were deleted, not left behind.
    await kubectlOk(server, v, ['apply', '-f', '-'], { input: databaseCrd });
    await until('Established again', () => established('databases.example.com'));
    await until('served again', async () => (await request(creds, 'GET', '/apis/example.com/v1/databases')).status === 200);
    const list = (await request(creds, 'GET', '/apis/example.com/v1/databases')).json<{ items: unknown[] }>();
    assert.equal(list.items.length, 0);
  });
});

test('after a restart the custom resources are served as soon as the server is ready', async () => {
  const { startServer } = await import('./harness.ts');
  const { credsFromKubeconfig } = await import('./api.ts');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-e2e-crd-'));
  try {
    let s = await startServer({ dataDir, args: ['--disable-controller-manager', '--disable-scheduler'] });
    await kubectlOk(s, v, ['apply', '-f', '-'], { input: databaseCrd });
    await kubectlOk(s, v, ['wait', '--for=condition=Established', 'crd/databases.example.com', '--timeout=10s']);
    await kubectlOk(s, v, ['apply', '-f', '-'], { input: 'apiVersion: example.com/v1\nkind: Database\nmetadata:\n  name: kept\n  namespace: default\nspec:\n  engine: postgres\n' });
    await s.stop();
    s = await startServer({ dataDir, args: ['--disable-controller-manager', '--disable-scheduler'] });
    try {
      // No waiting: the first request after "ready" finds the resource.
      const r = await request(credsFromKubeconfig(s.kubeconfig), 'GET', dbPath('default', 'kept'));
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json<{ spec: { replicas: number } }>().spec.replicas, 1);
    } finally {
      await s.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
