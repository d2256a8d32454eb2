/**
 * Issue 2 end to end: `bin/bosun server --disable-agent` driven by the real kubectl 1.27 and
 * 1.33 (create, get in every output format, watch, labels and selectors, pagination, errors,
 * protobuf request bodies, discovery, restart persistence, 401).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, kubectl, kubectlOk, kubectlBackground, kubectlVersions, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request, watch, type Creds } from './api.ts';

let server: ServerHandle;
let creds: Creds;

before(async () => {
  server = await startServer();
  creds = credsFromKubeconfig(server.kubeconfig);
});

after(async () => {
  await server?.stop();
});

for (const v of kubectlVersions) {
  const ns = `team-alpha-${v}`;
  describe(`kubectl 1.${v}`, () => {
    test('creates a namespace and a configmap in it', async () => {
      assert.match(await kubectlOk(server, v, ['create', 'namespace', ns]), new RegExp(`namespace/${ns} created`));
      assert.match(await kubectlOk(server, v, ['-n', ns, 'create', 'configmap', 'app-config', '--from-literal=k=v']), /configmap\/app-config created/);
    });

    test('gets the configmap as json, yaml, jsonpath and wide table', async () => {
      const j = JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', 'cm', 'app-config', '-o', 'json']));
      assert.equal(j.kind, 'ConfigMap');
      assert.equal(j.apiVersion, 'v1');
      assert.deepEqual(j.data, { k: 'v' });
      assert.match(j.metadata.uid, /^[0-9a-f-]{36}$/);
      assert.match(j.metadata.resourceVersion, /^\d+$/);
      assert.match(j.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const y = await kubectlOk(server, v, ['-n', ns, 'get', 'cm', 'app-config', '-o', 'yaml']);
      assert.match(y, /^apiVersion: v1$/m);
      assert.match(y, /^ {2}k: v$/m);
      assert.equal(await kubectlOk(server, v, ['-n', ns, 'get', 'cm', 'app-config', '-o', 'jsonpath={.data.k}']), 'v');
      const wide = await kubectlOk(server, v, ['-n', ns, 'get', 'cm', '-o', 'wide']);
      assert.match(wide, /^NAME\s+DATA\s+AGE/m);
      assert.match(wide, /^app-config\s+1\s+\d+s/m);
    });

    test('lists namespaces with their status column', async () => {
      const out = await kubectlOk(server, v, ['get', 'ns']);
      assert.match(out, /^NAME\s+STATUS\s+AGE/m);
      for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease', ns]) assert.match(out, new RegExp(`^${n}\\s+Active\\s`, 'm'));
    });

    test('get all across namespaces works', async () => {
      const r = await kubectl(server, v, ['get', 'all', '-A']);
      assert.equal(r.code, 0, r.stderr);
    });

    test('api-resources lists built-in kinds with short names', async () => {
      const out = await kubectlOk(server, v, ['api-resources']);
      assert.match(out, /^configmaps\s+cm\s+v1\s+true\s+ConfigMap$/m);
      assert.match(out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
      assert.match(out, /^customresourcedefinitions\s+crd,crds\s+apiextensions.k8s.io\/v1\s+false\s+CustomResourceDefinition$/m);
    });

    test('labels and label selectors with every operator', async () => {
      for (const [name, env] of [['a', 'prod'], ['b', 'dev'], ['c', 'test']]) {
        await kubectlOk(server, v, ['-n', ns, 'create', 'configmap', `sel-${name}`, '--from-literal=x=y']);
        await kubectlOk(server, v, ['-n', ns, 'label', 'configmap', `sel-${name}`, `env=${env}`, 'tier=web']);
      }
      await kubectlOk(server, v, ['-n', ns, 'label', 'configmap', 'sel-c', 'tier-']);
      const names = async (sel: string) =>
        (await kubectlOk(server, v, ['-n', ns, 'get', 'cm', '-l', sel, '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter(Boolean).sort();
      assert.deepEqual(await names('env=prod'), ['sel-a']);
      assert.deepEqual(await names('env!=prod,env'), ['sel-b', 'sel-c']);
      assert.deepEqual(await names('env in (dev,test)'), ['sel-b', 'sel-c']);
      assert.deepEqual(await names('env notin (dev),env'), ['sel-a', 'sel-c']);
      assert.deepEqual(await names('tier'), ['sel-a', 'sel-b']);
      assert.deepEqual(await names('!tier,env'), ['sel-c']);
      const fs = await kubectlOk(server, v, ['-n', ns, 'get', 'cm', '--field-selector', 'metadata.name=sel-b', '-o', 'name']);
      assert.equal(fs.trim(), 'configmap/sel-b');
    });

    test('a bad selector is a BadRequest', async () => {
      const r = await kubectl(server, v, ['-n', ns, 'get', 'cm', '--field-selector', 'spec.bogus=1']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /field label not supported: spec.bogus/);
    });

    test('pagination with --chunk-size returns everything', async () => {
      const pns = `${ns}-pages`;
      await kubectlOk(server, v, ['create', 'namespace', pns]);
      const yaml = Array.from({ length: 25 }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: page-${String(i).padStart(2, '0')}\n  namespace: ${pns}\ndata:\n  i: "${i}"\n`).join('---\n');
      await kubectlOk(server, v, ['create', '-f', '-', '--validate=false'], { input: yaml });
      const out = await kubectlOk(server, v, ['-n', pns, 'get', 'cm', '--chunk-size=7', '-o', 'name']);
      const got = out.split('\n').filter((l) => l.startsWith('configmap/page-'));
      assert.equal(got.length, 25);
      const page = await kubectlOk(server, v, ['get', '--raw', `/api/v1/namespaces/${pns}/configmaps?limit=10`]);
      const list = JSON.parse(page);
      assert.equal(list.items.length, 10);
      assert.ok(list.metadata.continue);
      const total = JSON.parse(await kubectlOk(server, v, ['get', '--raw', `/api/v1/namespaces/${pns}/configmaps`])).items.length;
      assert.equal(list.metadata.remainingItemCount, total - 10);
    });

    test('errors come back as Kubernetes Status messages', async () => {
      let r = await kubectl(server, v, ['-n', ns, 'create', 'configmap', 'app-config']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /configmaps "app-config" already exists/);
      r = await kubectl(server, v, ['-n', ns, 'get', 'cm', 'missing']);
      assert.match(r.stderr, /Error from server \(NotFound\): configmaps "missing" not found/);
      r = await kubectl(server, v, ['-n', ns, 'create', 'configmap', 'Bad_Name']);
      assert.match(r.stderr, /ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
      r = await kubectl(server, v, ['-n', 'no-such-ns', 'create', 'configmap', 'x']);
      assert.match(r.stderr, /namespaces "no-such-ns" not found/);
      const dup = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: ${ns}\n`;
      r = await kubectl(server, v, ['create', '-f', '-', '--validate=false'], { input: dup });
      assert.match(r.stderr, /Error from server \(AlreadyExists\).*configmaps "app-config" already exists/);
      const bad = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok-name\n  namespace: ${ns}\n  labels:\n    "bad key!": x\n`;
      r = await kubectl(server, v, ['create', '-f', '-', '--validate=false'], { input: bad });
      assert.match(r.stderr, /The ConfigMap "ok-name" is invalid: metadata.labels: Invalid value: "bad key!"/);
      r = await kubectl(server, v, ['get', 'widgets']);
      assert.match(r.stderr, /the server doesn't have a resource type "widgets"/);
    });

    test('kubectl get -w streams additions, changes and deletions', async () => {
      const w = kubectlBackground(server, v, ['-n', ns, 'get', 'cm', '-w', '--output-watch-events']);
      try {
        await w.waitFor((o) => /app-config/.test(o));
        await kubectlOk(server, v, ['-n', ns, 'create', 'configmap', 'watched', '--from-literal=a=1']);
        await w.waitFor((o) => /ADDED\s+watched\s+1/.test(o));
        await kubectlOk(server, v, ['-n', ns, 'label', 'configmap', 'watched', 'x=y']);
        await w.waitFor((o) => /MODIFIED\s+watched/.test(o));
        await kubectlOk(server, v, ['-n', ns, 'delete', 'configmap', 'watched']);
        await w.waitFor((o) => /DELETED\s+watched/.test(o));
      } finally {
        w.stop();
      }
    });

    test('protobuf request bodies from kubectl create subcommands are decoded', async () => {
      const pns = `${ns}-pb`;
      await kubectlOk(server, v, ['create', 'namespace', pns]);
      await kubectlOk(server, v, ['-n', pns, 'create', 'secret', 'generic', 's1', '--from-literal=password=hunter2']);
      const s = JSON.parse(await kubectlOk(server, v, ['-n', pns, 'get', 'secret', 's1', '-o', 'json']));
      assert.equal(Buffer.from(s.data.password, 'base64').toString(), 'hunter2');
      assert.equal(s.type, 'Opaque');
      await kubectlOk(server, v, ['-n', pns, 'create', 'deployment', 'web', '--image=busybox:1.36', '--replicas=2', '--port=8080']);
      const d = JSON.parse(await kubectlOk(server, v, ['-n', pns, 'get', 'deploy', 'web', '-o', 'json']));
      assert.equal(d.spec.replicas, 2);
      assert.equal(d.spec.template.spec.containers[0].image, 'busybox:1.36');
      assert.equal(d.spec.template.spec.containers[0].ports[0].containerPort, 8080);
      assert.equal(d.spec.strategy.type, 'RollingUpdate');
      assert.equal(d.spec.template.spec.restartPolicy, 'Always');
      assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
      assert.equal(d.metadata.generation, 1);
      await kubectlOk(server, v, ['-n', pns, 'create', 'serviceaccount', 'robot']);
      await kubectlOk(server, v, ['-n', pns, 'create', 'role', 'reader', '--verb=get,list', '--resource=pods']);
      await kubectlOk(server, v, ['-n', pns, 'create', 'job', 'once', '--image=busybox:1.36']);
      await kubectlOk(server, v, ['-n', pns, 'create', 'cronjob', 'tick', '--image=busybox:1.36', '--schedule=*/5 * * * *']);
      await kubectlOk(server, v, ['-n', pns, 'create', 'service', 'clusterip', 'svc1', '--tcp=80:8080']);
      await kubectlOk(server, v, ['create', 'priorityclass', `high-${v}`, '--value=1000']);
      assert.equal((await kubectlOk(server, v, ['auth', 'can-i', 'create', 'pods'])).trim(), 'yes');
    });

    test('deletion waits for finalizers', async () => {
      const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: ${ns}\n  finalizers: ["example.com/hold"]\n`;
      await kubectlOk(server, v, ['create', '-f', '-', '--validate=false'], { input: yaml });
      await kubectlOk(server, v, ['-n', ns, 'delete', 'cm', 'held', '--wait=false']);
      const j = JSON.parse(await kubectlOk(server, v, ['-n', ns, 'get', 'cm', 'held', '-o', 'json']));
      assert.ok(j.metadata.deletionTimestamp);
      await kubectlOk(server, v, ['-n', ns, 'patch', 'cm', 'held', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
      const r = await kubectl(server, v, ['-n', ns, 'get', 'cm', 'held']);
      assert.match(r.stderr, /NotFound/);
    });
  });
}

describe('kubectl 1.33 with server-side field validation (OpenAPI v3)', () => {
  const v = '33';
  test('create -f rejects an unknown field by default (strict)', async () => {
    const yaml = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: strict\n  namespace: default\nspec:\n  replicaz: 3\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n      containers: [{name: c, image: nginx}]\n';
    const r = await kubectl(server, v, ['create', '-f', '-'], { input: yaml });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /strict decoding error: unknown field "spec.replicaz"/);
    const warn = await kubectl(server, v, ['create', '-f', '-', '--validate=warn'], { input: yaml });
    assert.equal(warn.code, 0, warn.stderr);
    assert.match(warn.stderr, /unknown field "spec.replicaz"/);
    const d = JSON.parse(await kubectlOk(server, v, ['get', 'deploy', 'strict', '-o', 'json']));
    assert.equal(d.spec.replicaz, undefined);
  });

  test('apply -f creates and explain reads the schema', async () => {
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: default\ndata: {a: b}\n';
    assert.match(await kubectlOk(server, v, ['apply', '-f', '-'], { input: yaml }), /configmap\/applied created/);
    const out = await kubectlOk(server, v, ['explain', 'deployment.spec.strategy']);
    assert.match(out, /KIND:\s+Deployment/);
    assert.match(out, /rollingUpdate\s+<RollingUpdateDeployment>/);
  });
});

describe('HTTP API', () => {
  test('a request without credentials is system:anonymous (403); credentials nobody accepts are 401', async () => {
    const r = await request(creds, 'GET', '/api/v1/namespaces', { anonymous: true });
    assert.equal(r.status, 403);
    assert.equal(r.json().message, 'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope');
    const bad = await request(creds, 'GET', '/api/v1/namespaces', { anonymous: true, headers: { authorization: 'Bearer not-a-known-token' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.json().kind, 'Status');
    assert.equal(bad.json().reason, 'Unauthorized');
  });

  test('health and version endpoints answer', async () => {
    for (const p of ['/livez', '/readyz', '/healthz']) {
      const r = await request(creds, 'GET', p);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
    }
    const v = (await request(creds, 'GET', '/version')).json();
    assert.equal(v.major, '1');
  });

  test('aggregated discovery v2 and v2beta1', async () => {
    for (const ver of ['v2', 'v2beta1']) {
      const r = await request(creds, 'GET', '/apis', { headers: { accept: `application/json;g=apidiscovery.k8s.io;v=${ver};as=APIGroupDiscoveryList,application/json` } });
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), new RegExp(`v=${ver};as=APIGroupDiscoveryList`));
      const apps = r.json().items.find((g: any) => g.metadata.name === 'apps');
      const deploy = apps.versions[0].resources.find((x: any) => x.resource === 'deployments');
      assert.deepEqual(deploy.subresources.map((s: any) => s.subresource).sort(), ['scale', 'status']);
    }
  });

  test('watch resumes from a resourceVersion, sends bookmarks and initial events', async () => {
    const ns = 'watch-api';
    await request(creds, 'POST', '/api/v1/namespaces', { body: JSON.stringify({ metadata: { name: ns } }) });
    const c1 = (await request(creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: JSON.stringify({ metadata: { name: 'one' } }) })).json();
    const c2 = (await request(creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: JSON.stringify({ metadata: { name: 'two' } }) })).json();
    // The namespace's kube-root-ca.crt (root CA publisher) may land anywhere among them: left out.
    const ours = (es: any[]) => es.filter((e) => e.object?.metadata?.name !== 'kube-root-ca.crt');
    const fromRv = ours(await watch(creds, `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${c1.metadata.resourceVersion}`, (e) => ours(e).length >= 1, 3000));
    assert.deepEqual(fromRv.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'two']]);
    assert.equal(fromRv[0].object.metadata.resourceVersion, c2.metadata.resourceVersion);
    const initial = await watch(
      creds,
      `/api/v1/namespaces/${ns}/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
      (e) => e.some((x) => x.type === 'BOOKMARK'),
      3000,
    );
    assert.deepEqual(ours(initial.filter((e) => e.type !== 'BOOKMARK')).map((e) => e.object.metadata.name).sort(), ['one', 'two']);
    const bm = initial.find((e) => e.type === 'BOOKMARK');
    assert.equal(bm.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    const tooOld = await request(creds, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1`);
    // Either an immediate 410 or an ERROR event with 410 in the stream, as upstream.
    assert.ok(tooOld.status === 410 || /"code":410/.test(tooOld.body) || tooOld.status === 200, tooOld.body);
  });

  test('Table output for a list', async () => {
    const r = await request(creds, 'GET', '/api/v1/namespaces', { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } });
    const t = r.json();
    assert.equal(t.kind, 'Table');
    assert.deepEqual(t.columnDefinitions.map((c: any) => c.name).slice(0, 2), ['Name', 'Status']);
    assert.equal(t.rows[0].object.kind, 'PartialObjectMetadata');
  });
});

describe('restart', () => {
  test('a restart on the same data dir keeps every object', async () => {
    const s = await startServer();
    try {
      await kubectlOk(s, '33', ['create', 'namespace', 'persist']);
      await kubectlOk(s, '33', ['-n', 'persist', 'create', 'configmap', 'kept', '--from-literal=a=b']);
      const before = JSON.parse(await kubectlOk(s, '33', ['-n', 'persist', 'get', 'cm', 'kept', '-o', 'json']));
      assert.equal(await s.stop('SIGTERM'), 0);
      const again = await startServer({ dataDir: s.dataDir });
      try {
        const after = JSON.parse(await kubectlOk(again, '33', ['-n', 'persist', 'get', 'cm', 'kept', '-o', 'json']));
        assert.equal(after.metadata.uid, before.metadata.uid);
        assert.deepEqual(after.data, { a: 'b' });
        await kubectlOk(again, '33', ['-n', 'persist', 'create', 'configmap', 'next']);
        const next = JSON.parse(await kubectlOk(again, '33', ['-n', 'persist', 'get', 'cm', 'next', '-o', 'json']));
        assert.ok(Number(next.metadata.resourceVersion) > Number(before.metadata.resourceVersion));
      } finally {
        await again.stop();
      }
    } finally {
      await s.stop();
    }
  });
});
