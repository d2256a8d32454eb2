/**
 * Issue 3 end to end: declarative management with the real kubectl 1.27 and 1.33 against
 * `bin/bosun server --disable-agent` — client-side apply (create, update, pruning of removed
 * keys, last-applied kept), server-side apply (managed fields, conflicts, --force-conflicts),
 * diff, patch of every type, edit, replace with a stale resourceVersion, scale, set image,
 * --dry-run=server and strict field validation.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, kubectl, kubectlOk, kubectlVersions, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request, type Creds } from './api.ts';

let server: ServerHandle;
let creds: Creds;

before(async () => {
  server = await startServer();
  creds = credsFromKubeconfig(server.kubeconfig);
});

after(async () => {
  await server?.stop();
});

function deployment(name: string, opts: { replicas?: number; image?: string; env?: Record<string, string>; labels?: Record<string, string> } = {}): string {
  const labels = { app: name, ...(opts.labels ?? {}) };
  const env = Object.entries(opts.env ?? {});
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    '  labels:',
    ...Object.entries(labels).map(([k, v]) => `    ${k}: ${v}`),
    'spec:',
    ...(opts.replicas === undefined ? [] : [`  replicas: ${opts.replicas}`]),
    '  selector:',
    '    matchLabels:',
    `      app: ${name}`,
    '  template:',
    '    metadata:',
    '      labels:',
    `        app: ${name}`,
    '    spec:',
    '      containers:',
    '      - name: web',
    `        image: ${opts.image ?? 'busybox:1'}`,
    ...(env.length ? ['        env:', ...env.flatMap(([k, v]) => [`        - name: ${k}`, `          value: "${v}"`])] : []),
    '',
  ].join('\n');
}

async function getJson(v: string, ns: string, what: string[]): Promise<Record<string, any>> {
  return JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', ...what, '-o', 'json']));
}

function writeTemp(name: string, text: string): string {
  const file = path.join(server.dataDir, name);
  fs.writeFileSync(file, text);
  return file;
}

for (const v of kubectlVersions) {
  const ns = `apply-${v}`;
  describe(`kubectl 1.${v}`, () => {
    before(async () => {
      await kubectlOk(server, v, ['create', 'namespace', ns]);
      // The Deployments' pods wait for the namespace's default ServiceAccount.
      await waitForServiceAccount(server, ns);
    });

    test('apply -f creates, then updates and prunes removed keys, keeping last-applied', async () => {
      const file = writeTemp(`web-${v}.yaml`, deployment('web', { replicas: 2, env: { A: '1', B: '2' }, labels: { tier: 'front' } }));
      assert.match(await kubectlOk(server, v, ['-n', ns, 'apply', '-f', file]), /deployment.apps\/web created/);
      let d = await getJson(v, ns, ['deploy', 'web']);
      const last = JSON.parse(d.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
      assert.equal(last.spec.replicas, 2);
      assert.deepEqual(d.spec.template.spec.containers[0].env, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);

      // Change the image, drop env B and the tier label: the removed keys are pruned.
      writeTemp(`web-${v}.yaml`, deployment('web', { replicas: 3, image: 'busybox:2', env: { A: '1' } }));
      assert.match(await kubectlOk(server, v, ['-n', ns, 'apply', '-f', file]), /deployment.apps\/web configured/);
      d = await getJson(v, ns, ['deploy', 'web']);
      assert.equal(d.spec.replicas, 3);
      assert.equal(d.spec.template.spec.containers[0].image, 'busybox:2');
      assert.deepEqual(d.spec.template.spec.containers[0].env, [{ name: 'A', value: '1' }]);
      assert.equal(d.metadata.labels.tier, undefined);
      assert.equal(d.metadata.generation, 2);
      // Defaults set by the server survive the patch (they were never in the applied file).
      assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
      assert.equal(JSON.parse(d.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).spec.replicas, 3);

      // Applying the same file again changes nothing.
      assert.match(await kubectlOk(server, v, ['-n', ns, 'apply', '-f', file]), /deployment.apps\/web unchanged/);
    });

    test('a field another writer set survives client-side apply of a file without it', async () => {
      await kubectlOk(server, v, ['-n', ns, 'label', 'deploy', 'web', 'owner=ops']);
      const file = path.join(server.dataDir, `web-${v}.yaml`);
      await kubectlOk(server, v, ['-n', ns, 'apply', '-f', file]);
      const d = await getJson(v, ns, ['deploy', 'web']);
      assert.equal(d.metadata.labels.owner, 'ops');
    });

    test('diff exits 1 on a change and 0 when equal', async () => {
      const file = path.join(server.dataDir, `web-${v}.yaml`);
      const same = await kubectl(server, v, ['-n', ns, 'diff', '-f', file]);
      assert.equal(same.code, 0, same.stderr + same.stdout);
      const changed = writeTemp(`web-diff-${v}.yaml`, deployment('web', { replicas: 5, image: 'busybox:2', env: { A: '1' } }));
      const r = await kubectl(server, v, ['-n', ns, 'diff', '-f', changed]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^-\s+replicas: 3$/m);
      assert.match(r.stdout, /^\+\s+replicas: 5$/m);
      // diff is a server-side dry run: nothing changed.
      assert.equal((await getJson(v, ns, ['deploy', 'web'])).spec.replicas, 3);
    });

    test('patch --type strategic merges containers by name, merge replaces, json edits by path', async () => {
      await kubectlOk(server, v, ['-n', ns, 'patch', 'deploy', 'web', '--type', 'strategic', '-p',
        JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'sidecar', image: 'busybox:3' }] } } } })]);
      let d = await getJson(v, ns, ['deploy', 'web']);
      assert.deepEqual(d.spec.template.spec.containers.map((c: { name: string }) => c.name).sort(), ['sidecar', 'web']);
      assert.ok(d.spec.template.spec.containers.some((c: { name: string; image: string }) => c.name === 'web' && c.image === 'busybox:2'));

      // $patch: delete removes the sidecar by its merge key.
      await kubectlOk(server, v, ['-n', ns, 'patch', 'deploy', 'web', '-p',
        JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } })]);
      d = await getJson(v, ns, ['deploy', 'web']);
      assert.deepEqual(d.spec.template.spec.containers.map((c: { name: string }) => c.name), ['web']);

      await kubectlOk(server, v, ['-n', ns, 'patch', 'deploy', 'web', '--type', 'merge', '-p', JSON.stringify({ metadata: { annotations: { note: 'merged' } } })]);
      await kubectlOk(server, v, ['-n', ns, 'patch', 'deploy', 'web', '--type', 'json', '-p', JSON.stringify([{ op: 'add', path: '/spec/minReadySeconds', value: 4 }])]);
      d = await getJson(v, ns, ['deploy', 'web']);
      assert.equal(d.metadata.annotations.note, 'merged');
      assert.equal(d.spec.minReadySeconds, 4);

      const bad = await kubectl(server, v, ['-n', ns, 'patch', 'deploy', 'web', '--type', 'json', '-p', JSON.stringify([{ op: 'test', path: '/spec/replicas', value: 99 }])]);
      assert.notEqual(bad.code, 0);
    });

    test('strategic patch switching the strategy to Recreate clears rollingUpdate ($retainKeys)', async () => {
      await kubectlOk(server, v, ['-n', ns, 'create', 'deployment', 'strat', '--image', 'busybox:1']);
      await kubectlOk(server, v, ['-n', ns, 'patch', 'deploy', 'strat', '-p',
        JSON.stringify({ spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } })]);
      const d = await getJson(v, ns, ['deploy', 'strat']);
      assert.deepEqual(d.spec.strategy, { type: 'Recreate' });
    });

    test('edit applies the scripted editor change', async () => {
      const editor = writeTemp(`editor-${v}.sh`, '#!/bin/sh\nsed -i "s/minReadySeconds: 4/minReadySeconds: 7/" "$1"\n');
      fs.chmodSync(editor, 0o755);
      const r = await kubectl(server, v, ['-n', ns, 'edit', 'deploy', 'web'], { env: { KUBE_EDITOR: editor, EDITOR: editor } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /deployment.apps\/web edited/);
      assert.equal((await getJson(v, ns, ['deploy', 'web'])).spec.minReadySeconds, 7);
    });

    test('replace with a stale resourceVersion is a Conflict', async () => {
      const d = await getJson(v, ns, ['deploy', 'web']);
      await kubectlOk(server, v, ['-n', ns, 'annotate', 'deploy', 'web', 'bump=1']);
      d.spec.replicas = 9;
      const file = writeTemp(`stale-${v}.json`, JSON.stringify(d));
      const r = await kubectl(server, v, ['-n', ns, 'replace', '-f', file]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again/);
      assert.equal((await getJson(v, ns, ['deploy', 'web'])).spec.replicas, 3);
    });

    test('scale and set image', async () => {
      assert.match(await kubectlOk(server, v, ['-n', ns, 'scale', 'deploy', 'web', '--replicas=4']), /deployment.apps\/web scaled/);
      assert.equal((await getJson(v, ns, ['deploy', 'web'])).spec.replicas, 4);
      const cond = await kubectl(server, v, ['-n', ns, 'scale', 'deploy', 'web', '--current-replicas=2', '--replicas=5']);
      assert.notEqual(cond.code, 0);
      assert.match(await kubectlOk(server, v, ['-n', ns, 'set', 'image', 'deploy/web', 'web=busybox:4']), /deployment.apps\/web image updated/);
      assert.equal((await getJson(v, ns, ['deploy', 'web'])).spec.template.spec.containers[0].image, 'busybox:4');
    });

    test('--dry-run=server validates and defaults but stores nothing', async () => {
      const out = JSON.parse(await kubectlOk(server, v, ['-n', ns, 'create', 'deployment', 'dry', '--image', 'busybox:1', '--dry-run=server', '-o', 'json']));
      assert.equal(out.spec.strategy.type, 'RollingUpdate');
      assert.match(out.metadata.uid, /^[0-9a-f-]{36}$/);
      const r = await kubectl(server, v, ['-n', ns, 'get', 'deploy', 'dry']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /NotFound|not found/);

      const bad = await kubectl(server, v, ['-n', ns, 'scale', 'deploy', 'web', '--replicas=-3', '--dry-run=server']);
      assert.notEqual(bad.code, 0);

      await kubectlOk(server, v, ['-n', ns, 'delete', 'deploy', 'web', '--dry-run=server']);
      await kubectlOk(server, v, ['-n', ns, 'get', 'deploy', 'web']);
      await kubectlOk(server, v, ['-n', ns, 'label', 'deploy', 'web', 'dry=yes', '--dry-run=server']);
      assert.equal((await getJson(v, ns, ['deploy', 'web'])).metadata.labels.dry, undefined);
      // An update (PUT) under dry run: validated and answered, nothing stored.
      const current = await getJson(v, ns, ['deploy', 'web']);
      current.spec.replicas = 7;
      const file = writeTemp(`dry-replace-${v}.json`, JSON.stringify(current));
      const replaced = JSON.parse(await kubectlOk(server, v, ['-n', ns, 'replace', '-f', file, '--dry-run=server', '-o', 'json']));
      assert.equal(replaced.spec.replicas, 7);
      assert.notEqual((await getJson(v, ns, ['deploy', 'web'])).spec.replicas, 7);
    });

    test('explain shows the fields of pods.spec and deployment.spec.strategy.rollingUpdate', async () => {
      const pods = await kubectlOk(server, v, ['explain', 'pods.spec']);
      assert.match(pods, /KIND:\s+Pod/);
      for (const f of ['containers', 'restartPolicy', 'nodeSelector', 'tolerations']) assert.match(pods, new RegExp(`^\\s+${f}\\s+<`, 'm'));
      const ru = await kubectlOk(server, v, ['explain', 'deployment.spec.strategy.rollingUpdate']);
      assert.match(ru, /RollingUpdateDeployment/);
      assert.match(ru, /^\s+maxSurge\s+</m);
      assert.match(ru, /^\s+maxUnavailable\s+</m);
    });

    test('strict validation rejects an unknown field', async () => {
      const file = writeTemp(`unknown-${v}.yaml`, deployment('unknown').replace('  selector:', '  replicaz: 2\n  selector:'));
      const r = await kubectl(server, v, ['-n', ns, 'apply', '-f', file]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /unknown field "spec.replicaz"/);
    });

    test('apply --server-side records managed fields, reports conflicts and takes fields with --force-conflicts', async () => {
      const file = writeTemp(`ssa-${v}.yaml`, deployment('ssa', { replicas: 2 }));
      assert.match(await kubectlOk(server, v, ['-n', ns, 'apply', '--server-side', '-f', file]), /deployment.apps\/ssa serverside-applied/);
      let d = await getJson(v, ns, ['deploy', 'ssa', '--show-managed-fields']);
      const mine = d.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl');
      assert.equal(mine.operation, 'Apply');
      assert.equal(mine.fieldsType, 'FieldsV1');
      assert.ok(mine.fieldsV1['f:spec']['f:replicas']);
      // Without --show-managed-fields kubectl hides them.
      assert.equal((await getJson(v, ns, ['deploy', 'ssa'])).metadata.managedFields, undefined);

      // Another manager takes spec.replicas through an update (kubectl scale).
      await kubectlOk(server, v, ['-n', ns, 'scale', 'deploy', 'ssa', '--replicas=4']);
      writeTemp(`ssa-${v}.yaml`, deployment('ssa', { replicas: 3 }));
      const r = await kubectl(server, v, ['-n', ns, 'apply', '--server-side', '-f', file]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /conflict with "kubectl[^"]*"( with subresource "scale")? using apps\/v1 at [0-9TZ:-]+: \.spec\.replicas/);
      assert.match(r.stderr, /\.spec\.replicas/);
      assert.equal((await getJson(v, ns, ['deploy', 'ssa'])).spec.replicas, 4);

      await kubectlOk(server, v, ['-n', ns, 'apply', '--server-side', '--force-conflicts', '-f', file]);
      d = await getJson(v, ns, ['deploy', 'ssa', '--show-managed-fields']);
      assert.equal(d.spec.replicas, 3);
      for (const m of d.metadata.managedFields as { manager: string; fieldsV1: Record<string, any> }[]) {
        if (m.manager !== 'kubectl') assert.equal(m.fieldsV1['f:spec']?.['f:replicas'], undefined, `${m.manager} still owns replicas`);
      }

      // Dropping a field from the applied config removes it (it had no other owner).
      writeTemp(`ssa-${v}.yaml`, deployment('ssa', { replicas: 3 }).replace(/  labels:\n    app: ssa\n/, '  labels:\n    app: ssa\n    extra: x\n'));
      await kubectlOk(server, v, ['-n', ns, 'apply', '--server-side', '-f', file]);
      assert.equal((await getJson(v, ns, ['deploy', 'ssa'])).metadata.labels.extra, 'x');
      writeTemp(`ssa-${v}.yaml`, deployment('ssa', { replicas: 3 }));
      await kubectlOk(server, v, ['-n', ns, 'apply', '--server-side', '-f', file]);
      assert.equal((await getJson(v, ns, ['deploy', 'ssa'])).metadata.labels.extra, undefined);
    });

    test('apply --server-side takes over an object managed by client-side apply', async () => {
      const file = writeTemp(`csa-${v}.yaml`, deployment('csa', { replicas: 1 }));
      await kubectlOk(server, v, ['-n', ns, 'apply', '-f', file]);
      const r = await kubectl(server, v, ['-n', ns, 'apply', '--server-side', '-f', file]);
      assert.equal(r.code, 0, r.stderr);
      const d = await getJson(v, ns, ['deploy', 'csa', '--show-managed-fields']);
      assert.ok(d.metadata.managedFields.some((m: { manager: string; operation: string }) => m.manager === 'kubectl' && m.operation === 'Apply'));
    });
  });
}

describe('HTTP API', () => {
  test('apply-patch+yaml creates, dryRun=All stores nothing, and a missing fieldManager is rejected', async () => {
    const body = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: "1"\n';
    const path = '/api/v1/namespaces/default/configmaps/applied';
    const noManager = await request(creds, 'PATCH', path, { body, headers: { 'content-type': 'application/apply-patch+yaml' } });
    assert.equal(noManager.status, 422);
    assert.match(JSON.parse(noManager.body).message, /fieldManager: Required value: is required for apply patch/);
    const dry = await request(creds, 'PATCH', `${path}?fieldManager=tester&dryRun=All`, { body, headers: { 'content-type': 'application/apply-patch+yaml' } });
    assert.equal(dry.status, 201, dry.body);
    assert.equal((await request(creds, 'GET', path)).status, 404);
    const created = await request(creds, 'PATCH', `${path}?fieldManager=tester`, { body, headers: { 'content-type': 'application/apply-patch+yaml' } });
    assert.equal(created.status, 201, created.body);
    const obj = JSON.parse(created.body);
    assert.deepEqual(obj.data, { a: '1' });
    assert.deepEqual(obj.metadata.managedFields.map((m: { manager: string; operation: string }) => [m.manager, m.operation]), [['tester', 'Apply']]);
    assert.deepEqual(obj.metadata.managedFields[0].fieldsV1, { 'f:data': { 'f:a': {} } });
  });

  test('a conflict names the other manager and the field', async () => {
    const path = '/api/v1/namespaces/default/configmaps/applied';
    const r = await request(creds, 'PATCH', `${path}?fieldManager=other`, {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied' }, data: { a: '2' } }),
      headers: { 'content-type': 'application/apply-patch+yaml' },
    });
    assert.equal(r.status, 409, r.body);
    const st = JSON.parse(r.body);
    assert.equal(st.reason, 'Conflict');
    assert.equal(st.message, 'Apply failed with 1 conflict: conflict with "tester": .data.a');
    assert.deepEqual(st.details.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "tester"', field: '.data.a' }]);
  });

  test('/openapi/v2 is served as JSON and as the protobuf kubectl asks for, with ETags', async () => {
    const json = await request(creds, 'GET', '/openapi/v2');
    assert.equal(json.status, 200);
    const doc = JSON.parse(json.body);
    assert.equal(doc.swagger, '2.0');
    const d = doc.definitions['io.k8s.api.apps.v1.Deployment'];
    assert.deepEqual(d['x-kubernetes-group-version-kind'], [{ group: 'apps', version: 'v1', kind: 'Deployment' }]);
    const containers = doc.definitions['io.k8s.api.core.v1.PodSpec'].properties.containers;
    assert.equal(containers['x-kubernetes-patch-strategy'], 'merge');
    assert.equal(containers['x-kubernetes-patch-merge-key'], 'name');
    assert.equal(containers.items.$ref, '#/definitions/io.k8s.api.core.v1.Container');
    const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
    assert.ok(patch.parameters.some((p: { name: string }) => p.name === 'fieldValidation'));
    assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
    const etag = String(json.headers['etag']);
    assert.equal((await request(creds, 'GET', '/openapi/v2', { headers: { 'if-none-match': etag } })).status, 304);
    const pb = await request(creds, 'GET', '/openapi/v2', { headers: { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' } });
    assert.equal(pb.status, 200);
    assert.equal(pb.headers['content-type'], 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    assert.notEqual(pb.headers['etag'], etag);
  });

  test('duplicate fields are rejected under Strict and warned about under Warn', async () => {
    const body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dupes"},"data":{"a":"1","a":"2"}}';
    const strict = await request(creds, 'POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Strict', { body });
    assert.equal(strict.status, 400);
    assert.match(JSON.parse(strict.body).message, /strict decoding error: duplicate field "data.a"/);
    const warn = await request(creds, 'POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Warn', { body });
    assert.equal(warn.status, 201);
    assert.match(String(warn.headers['warning']), /duplicate field \\"data.a\\"/);
    assert.deepEqual(JSON.parse(warn.body).data, { a: '2' });
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dupes-yaml\ndata:\n  a: "1"\n  a: "2"\n';
    const y = await request(creds, 'POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Strict', { body: yaml, headers: { 'content-type': 'application/yaml' } });
    assert.equal(y.status, 400);
    assert.match(JSON.parse(y.body).message, /line 7: key "a" already set in map/);
  });
});
