/**
 * pods/proxy and services/proxy: a busybox httpd pod behind a Service, reached through the API
 * server with `kubectl get --raw` and `kubectl proxy`; upstream's errors for an unknown pod, a
 * service without endpoints and bad port specs. Needs the node agent: run under the lock,
 *   flock /tmp/bosun-agent.lock node --test test/e2e/proxy-subresources.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoints } from '../../src/api/index.ts';
import { getPod, isPodReady, kubectl, kubectlBackground, kubectlOk, kubectlVersions, until, waitForServiceAccount, useServer, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));
const newest = kubectlVersions.at(-1)!;
const page = 'hello from web\n';
const detail = () => server.output().slice(-3000);

async function apply(manifest: unknown): Promise<string> {
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  return kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
}

/** The pod and services, created once for all tests (awaited by each). */
let setup: Promise<void> | undefined;
function ready(): Promise<void> {
  setup ??= (async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'httpd',
            image: busyboxImage,
            command: ['sh', '-c', `mkdir -p /www && printf '${page.trim()}\\n' > /www/index.html && exec httpd -f -p 80 -h /www`],
            ports: [{ name: 'http', containerPort: 80 }],
          },
        ],
      },
    });
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] } });
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'empty' }, spec: { selector: { app: 'nothing' }, ports: [{ name: 'http', port: 80 }] } });
    await until('pod web Ready', async () => isPodReady(await getPod(server, 'web')), { timeoutMs: 60_000, detail });
    await until('endpoints of web', async () => {
      const r = await kubectl(server, newest, ['get', 'endpoints', 'web', '-o', 'json']);
      return r.code === 0 && !!(JSON.parse(r.stdout) as Endpoints).subsets?.[0]?.addresses?.length;
    }, { timeoutMs: 30_000, detail });
    await until('endpoints of empty', async () => (await kubectl(server, newest, ['get', 'endpoints', 'empty'])).code === 0, { detail });
  })();
  return setup;
}

const raw = (path: string) => kubectl(server, newest, ['get', '--raw', path]);

test('pods/proxy returns the pod’s page, with an explicit port, the default container port, and the http scheme', { skip }, async () => {
  await ready();
  for (const id of ['web:80', 'web', 'http:web:80']) {
    const r = await raw(`/api/v1/namespaces/default/pods/${id}/proxy/`);
    assert.equal(r.code, 0, `${id}: ${r.stderr}`);
    assert.equal(r.stdout, page, id);
  }
  const file = await raw('/api/v1/namespaces/default/pods/web:80/proxy/index.html');
  assert.equal(file.stdout, page);
  const missing = await raw('/api/v1/namespaces/default/pods/web:80/proxy/nothing-here');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /NotFound|404/);
});

test('services/proxy returns a ready endpoint’s page by port name and by port number', { skip }, async () => {
  await ready();
  for (const id of ['web:http', 'web:8080', 'http:web:http']) {
    const r = await raw(`/api/v1/namespaces/default/services/${id}/proxy/`);
    assert.equal(r.code, 0, `${id}: ${r.stderr}`);
    assert.equal(r.stdout, page, id);
  }
});

test('an unknown pod is 404, a service without endpoints 503, bad port specs 400', { skip }, async () => {
  await ready();
  const pod = await raw('/api/v1/namespaces/default/pods/nope:80/proxy/');
  assert.notEqual(pod.code, 0);
  assert.match(pod.stderr, /\(NotFound\).*pods "nope" not found/);
  const svc = await raw('/api/v1/namespaces/default/services/nope:http/proxy/');
  assert.match(svc.stderr, /\(NotFound\).*services "nope" not found/);
  const empty = await raw('/api/v1/namespaces/default/services/empty:http/proxy/');
  assert.notEqual(empty.code, 0);
  assert.match(empty.stderr, /\(ServiceUnavailable\).*no endpoints available for service "empty"/);
  const noPort = await raw('/api/v1/namespaces/default/services/web:9999/proxy/');
  assert.match(noPort.stderr, /\(ServiceUnavailable\).*no service port 9999 found for service "web"/);
  for (const id of ['a:b:c:d', 'ftp:web:80', 'web:notaport']) {
    const r = await raw(`/api/v1/namespaces/default/pods/${id}/proxy/`);
    assert.notEqual(r.code, 0, id);
    assert.match(r.stderr, /\(BadRequest\).*invalid pod request/, id);
  }
  const badSvc = await raw('/api/v1/namespaces/default/services/ftp:web:http/proxy/');
  assert.match(badSvc.stderr, /\(BadRequest\).*invalid service request/);
  const refused = await raw('/api/v1/namespaces/default/pods/web:81/proxy/');
  assert.match(refused.stderr, /\(ServiceUnavailable\).*error trying to reach service: dial tcp 10\.42\.0\.\d+:81: connect: connection refused/);
});

test('kubectl proxy serves the pod and service proxy paths', { skip }, async () => {
  await ready();
  const proxy = kubectlBackground(server, newest, ['proxy', '--port', '0']);
  try {
    const out = await proxy.waitFor((o) => /Starting to serve on 127\.0\.0\.1:\d+/.test(o), 15_000);
    const port = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out)![1];
    for (const path of ['/api/v1/namespaces/default/pods/web:80/proxy/', '/api/v1/namespaces/default/services/web:http/proxy/index.html']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), page, path);
    }
    const head = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/pods/web:80/proxy/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const gone = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/pods/nope/proxy/`);
    assert.equal(gone.status, 404);
  } finally {
    proxy.stop();
  }
});
