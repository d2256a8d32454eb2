/**
 * Issue 16 end to end: a CustomResourceDefinition's schema published in /openapi/v3 and
 * /openapi/v2 as upstream's apiextensions-apiserver does, read by the real kubectl 1.27 and 1.33:
 * `kubectl explain` (v3 and `--output plaintext-openapiv2`), `--recursive`, strict field
 * validation of an unknown field, and a CRD update showing up in explain within seconds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, kubectl, kubectlOk, kubectlVersions, until, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request, type Creds } from './api.ts';

let server: ServerHandle;
let creds: Creds;
const newest = kubectlVersions.at(-1)!;

/** The seed's Database CRD; `extraSpec` adds properties under spec (for the update test). */
function databaseCrd(extraSpec = ''): string {
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: databases.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Database, listKind: DatabaseList, plural: databases, singular: database, shortNames: [db]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.readyReplicas}
    schema:
      openAPIV3Schema:
        type: object
        description: Database is a managed database server.
        properties:
          spec:
            type: object
            description: DatabaseSpec is the desired state of a Database.
            required: [engine]
            properties:
              engine:
                type: string
                description: Engine is the database engine to run.
                enum: [postgres, mysql]
              version:
                type: string
                description: Version of the engine.
              replicas:
                type: integer
                description: Replicas is the number of database servers.
                minimum: 1
                maximum: 10
                default: 1
              storage:
                type: string
                default: 1Gi
              port:
                x-kubernetes-int-or-string: true
                description: Port is a port number or a named port.
              users:
                type: array
                description: Users to create, by name.
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name:
                      type: string
                      description: Name of the user.
                    role:
                      type: string
                      description: Role granted to the user.
${extraSpec}
          status:
            type: object
            properties:
              phase: {type: string, description: Phase of the database.}
              readyReplicas: {type: integer}
`;
}

const database = (extra = '') => `apiVersion: example.com/v1
kind: Database
metadata: {name: DBNAME, namespace: default}
spec:
  engine: postgres
  port: 5432
${extra}`;

before(async () => {
  server = await startServer();
  creds = credsFromKubeconfig(server.kubeconfig);
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: databaseCrd() });
  await until(
    'the CRD to be Established',
    async () => {
      const r = await kubectl(server, newest, ['get', 'crd', 'databases.example.com', '-o', 'jsonpath={.status.conditions}']);
      if (r.code !== 0 || !r.stdout.trim()) return false;
      const conds = JSON.parse(r.stdout) as { type: string; status: string }[];
      return conds.some((c) => c.type === 'Established' && c.status === 'True');
    },
    { timeoutMs: 20_000 },
  );
});

after(async () => {
  await server?.stop();
});

test('/openapi/v3 lists the group-version and its document holds the Database and DatabaseList definitions', async () => {
  const index = JSON.parse((await request(creds, 'GET', '/openapi/v3')).body);
  const url = index.paths['apis/example.com/v1']?.serverRelativeURL as string;
  assert.match(url, /^\/openapi\/v3\/apis\/example\.com\/v1\?hash=[0-9A-F]+$/);
  const doc = JSON.parse((await request(creds, 'GET', url)).body);
  const db = doc.components.schemas['com.example.v1.Database'];
  assert.deepEqual(db['x-kubernetes-group-version-kind'], [{ group: 'example.com', version: 'v1', kind: 'Database' }]);
  assert.deepEqual(db.properties.spec.properties.port.anyOf, [{ type: 'integer' }, { type: 'string' }]);
  assert.ok(doc.components.schemas['com.example.v1.DatabaseList']);
  assert.ok(doc.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']);
  const v2 = JSON.parse((await request(creds, 'GET', '/openapi/v2')).body);
  assert.deepEqual(v2.definitions['com.example.v1.Database'].properties.spec.properties.port, { description: 'Port is a port number or a named port.', 'x-kubernetes-int-or-string': true });
});

for (const v of kubectlVersions) {
  test(`kubectl 1.${v} explain databases.spec shows the schema's fields and descriptions`, async () => {
    const out = await kubectlOk(server, v, ['explain', 'databases.spec']);
    assert.match(out, /KIND:\s+Database/);
    assert.match(out, /VERSION:\s+v1/);
    assert.match(out, /DatabaseSpec is the desired state of a Database\./);
    assert.match(out, /engine\s+<string> -required-/);
    assert.match(out, /Engine is the database engine to run\./);
    assert.match(out, /replicas\s+<integer>/);
    assert.match(out, /users\s+<\[\]Object>/);
    assert.match(out, /Port is a port number or a named port\./);
    // int-or-string: anyOf integer/string in v3, which kubectl names Object
    assert.match(out, /port\s+<Object>/);
    if (v !== '27') assert.match(out, /enum: postgres, mysql/);
    const top = await kubectlOk(server, v, ['explain', 'databases']);
    assert.match(top, /Database is a managed database server\./);
    assert.match(top, /metadata\s+<ObjectMeta>/);
    assert.match(top, /apiVersion\s+<string>/);
    const meta = await kubectlOk(server, v, ['explain', 'db.metadata.name']);
    assert.match(meta, /FIELD:\s+name <string>|FIELD:\s+name\s+<string>/);
  });

  test(`kubectl 1.${v} explain from /openapi/v2 (plaintext-openapiv2) shows the same fields`, async () => {
    const out = await kubectlOk(server, v, ['explain', 'databases.spec', '--output=plaintext-openapiv2']);
    assert.match(out, /KIND:\s+Database/);
    assert.match(out, /engine\s+<string> -required-/);
    assert.match(out, /Engine is the database engine to run\./);
    assert.match(out, /users\s+<\[\]Object>/);
    // upstream's v2 conversion leaves int-or-string untyped
    assert.match(out, /port\s+<>/);
  });

  test(`kubectl 1.${v} explain databases --recursive walks the nested schema`, async () => {
    const out = await kubectlOk(server, v, ['explain', 'databases', '--recursive']);
    for (const f of ['spec', 'engine', 'replicas', 'users', 'role', 'status', 'readyReplicas', 'metadata', 'creationTimestamp']) assert.match(out, new RegExp(`^\\s+${f}\\b`, 'm'), f);
  });

  test(`kubectl 1.${v} apply --validate=strict refuses an unknown field; --validate=false prunes it`, async () => {
    const name = `strict-${v}`;
    const bad = database('  flavour: vanilla\n').replace('DBNAME', name);
    const r = await kubectl(server, v, ['apply', '--validate=strict', '-f', '-'], { input: bad });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /unknown field "spec\.flavour"/);
    assert.equal((await kubectl(server, v, ['get', 'database', name])).code, 1);
    const w = await kubectl(server, v, ['apply', '--validate=warn', '-f', '-'], { input: bad });
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /unknown field "spec\.flavour"/);
    await kubectlOk(server, v, ['delete', 'database', name]);
    await kubectlOk(server, v, ['apply', '--validate=false', '-f', '-'], { input: bad });
    const got = JSON.parse(await kubectlOk(server, v, ['get', 'database', name, '-o', 'json']));
    assert.equal(got.spec.flavour, undefined);
    assert.equal(got.spec.replicas, 1);
    const ok = await kubectl(server, v, ['apply', '--validate=strict', '-f', '-'], { input: database('  version: "16"\n').replace('DBNAME', name) });
    assert.equal(ok.code, 0, ok.stderr);
  });
}

test('a CRD update (a new field) appears in kubectl explain within seconds, for every kubectl', async () => {
  const before = JSON.parse((await request(creds, 'GET', '/openapi/v3')).body).paths['apis/example.com/v1'].serverRelativeURL;
  const extra = `              backup:
                type: object
                description: Backup configures nightly backups.
                properties:
                  schedule:
                    type: string
                    description: Schedule in cron format.`;
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: databaseCrd(extra) });
  await until('the /openapi/v3 hash of example.com/v1 to change', async () => JSON.parse((await request(creds, 'GET', '/openapi/v3')).body).paths['apis/example.com/v1']?.serverRelativeURL !== before, { timeoutMs: 5_000 });
  for (const v of kubectlVersions) {
    const out = await until(
      `kubectl 1.${v} explain databases.spec.backup`,
      async () => {
        const r = await kubectl(server, v, ['explain', 'databases.spec.backup']);
        return r.code === 0 && r.stdout;
      },
      { timeoutMs: 5_000 },
    );
    assert.match(out, /Backup configures nightly backups\./);
    assert.match(out, /schedule\s+<string>/);
    const v2 = await kubectlOk(server, v, ['explain', 'databases.spec.backup', '--output=plaintext-openapiv2']);
    assert.match(v2, /Schedule in cron format\./);
  }
});

const widgetCrd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, description: Size of the widget.}
              template:
                type: object
                description: Template of the object each widget makes.
                x-kubernetes-embedded-resource: true
                properties:
                  spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
              settings:
                type: object
                description: Free-form settings.
                x-kubernetes-preserve-unknown-fields: true
`;

test('embedded resources get apiVersion, kind and metadata; fields preserving unknown fields take anything under strict validation', async () => {
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: widgetCrd });
  await until('widgets to be served', async () => (await kubectl(server, newest, ['get', 'widgets'])).code === 0, { timeoutMs: 20_000 });
  for (const v of kubectlVersions) {
    for (const output of ['plaintext', 'plaintext-openapiv2']) {
      const out = await until(`kubectl 1.${v} explain widgets.spec.template (${output})`, async () => {
        const r = await kubectl(server, v, ['explain', 'widgets.spec.template', `--output=${output}`]);
        return r.code === 0 && r.stdout;
      });
      assert.match(out, /Template of the object each widget makes\./);
      assert.match(out, /apiVersion\s+<string> -required-/);
      assert.match(out, /kind\s+<string> -required-/);
      assert.match(out, /metadata\s+<Object(Meta)?>/);
    }
    const name = `w${v}`;
    const widget = `apiVersion: example.com/v1
kind: Widget
metadata: {name: ${name}}
spec:
  size: 3
  settings: {colour: blue, nested: {deep: [1, 2]}}
  template: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}, spec: {anything: true}}
`;
    const r = await kubectl(server, v, ['apply', '--validate=strict', '-f', '-'], { input: widget });
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(await kubectlOk(server, v, ['get', 'widget', name, '-o', 'json']));
    assert.deepEqual(got.spec.settings, { colour: 'blue', nested: { deep: [1, 2] } });
    assert.deepEqual(got.spec.template.spec, { anything: true });
  }
});
