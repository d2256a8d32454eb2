/**
 * API aggregation end to end, with kubectl 1.27 and 1.33: a small HTTPS extension API server
 * started here (wardle.example.com/v1alpha1 flunders) that trusts the aggregator's front-proxy
 * client certificate only against the request-header CA the `extension-apiserver-authentication`
 * ConfigMap publishes, and answers with the X-Remote-User/Group it was given. An APIService
 * points at it through a Service of type ExternalName `localhost` (upstream's aggregator
 * resolves ExternalName services and skips the endpoint checks for them; the API server dials
 * the name), so the backend binds loopback only and no endpoint address validation is involved.
 * Checked: Available True (Passed) in `kubectl get apiservices`, the Local APIServices of
 * built-in groups and metrics.k8s.io, `kubectl api-resources` and `kubectl get flunders`
 * through the proxy, legacy and aggregated discovery merged, 503 `service unavailable` and
 * FailedDiscoveryCheck once the backend goes away, ServiceNotFound without the Service, and
 * upstream's name validation.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, type ServerHandle } from './harness.ts';
import { request, type Creds } from './api.ts';
import { createCertificate } from '../../src/pki/x509.ts';

let server!: ServerHandle;
let creds!: Creds;
useServer({}, (s, c) => {
  server = s;
  creds = c;
});

const group = 'wardle.example.com';
const version = 'v1alpha1';
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-kubectl-cache-'));
after(() => fs.rmSync(cacheDir, { recursive: true, force: true }));
const k = (v: string, args: string[], input?: string) => kubectlOk(server, v, ['--cache-dir', path.join(cacheDir, v), ...args], { input });

/** What the backend saw last. */
const seen: { user?: string; groups?: string[]; authorization?: string; peerCN?: string }[] = [];

async function startBackend(requestHeaderCa: string, allowedNames: string[]) {
  const now = Date.now();
  const ca = await createCertificate({ kind: 'ca', subject: { commonName: 'wardle-ca' }, notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) });
  const serving = await createCertificate(
    { kind: 'server', subject: { commonName: 'ext-api.aggregation.svc' }, sans: [{ type: 'dns', value: 'ext-api.aggregation.svc' }], notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) },
    ca,
  );
  const resourceList = {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: `${group}/${version}`,
    resources: [{ name: 'flunders', singularName: 'flunder', namespaced: true, kind: 'Flunder', verbs: ['get', 'list'], shortNames: ['fl'] }],
  };
  const srv = https.createServer({ cert: serving.certPem, key: serving.keyPem, ca: requestHeaderCa, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const sock = req.socket as TLSSocket;
    const peer = sock.getPeerX509Certificate?.();
    const cn = peer ? /CN=([^\n,]+)/.exec(peer.subject)?.[1] : undefined;
    // As an extension server's request-header authenticator: a verified front-proxy certificate with an allowed name.
    if (!sock.authorized || !cn || !allowedNames.includes(cn)) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
    }
    const user = req.headers['x-remote-user'] as string | undefined;
    const groups = ([] as string[]).concat(req.headers['x-remote-group'] ?? []).flatMap((g) => g.split(',').map((x) => x.trim()));
    seen.push({ user, groups, authorization: req.headers['authorization'] as string | undefined, peerCN: cn });
    const url = new URL(req.url ?? '/', 'https://x');
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/apis') return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: group, versions: [{ groupVersion: `${group}/${version}`, version }], preferredVersion: { groupVersion: `${group}/${version}`, version } }] });
    if (url.pathname === `/apis/${group}/${version}`) return json(200, resourceList);
    const m = /^\/apis\/wardle\.example\.com\/v1alpha1\/(?:namespaces\/([^/]+)\/)?flunders(?:\/([^/]+))?$/.exec(url.pathname);
    if (m) {
      const item = (name: string) => ({ apiVersion: `${group}/${version}`, kind: 'Flunder', metadata: { name, namespace: m[1] ?? 'default', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { user, groups } });
      if (m[2]) return json(200, item(m[2]));
      return json(200, { apiVersion: `${group}/${version}`, kind: 'FlunderList', metadata: { resourceVersion: '1' }, items: [item('echo')] });
    }
    json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { srv, port: (srv.address() as AddressInfo).port, caPem: ca.certPem };
}

function manifests(port: number, caPem: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'aggregation' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext-api', namespace: 'aggregation' }, spec: { type: 'ExternalName', externalName: 'localhost' } },
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: `${version}.${group}` },
        spec: { group, version, service: { namespace: 'aggregation', name: 'ext-api', port }, caBundle: Buffer.from(caPem).toString('base64'), groupPriorityMinimum: 1000, versionPriority: 15 },
      },
    ],
  });
}

const newest = () => kubectlVersions.at(-1)!;

/** `kubectl get apiservices` rows by name: [service, available]. */
async function apiservices(v: string): Promise<Map<string, string[]>> {
  const out = await k(v, ['get', 'apiservices']);
  const lines = out.trim().split('\n');
  assert.deepEqual(lines[0]!.trim().split(/\s{2,}/), ['NAME', 'SERVICE', 'AVAILABLE', 'AGE']);
  return new Map(lines.slice(1).map((l) => {
    const cells = l.trim().split(/\s{2,}/);
    return [cells[0]!, cells.slice(1, -1)];
  }));
}

let backend!: Awaited<ReturnType<typeof startBackend>>;
after(() => backend?.srv.close());

test('the extension-apiserver-authentication ConfigMap publishes the client CA and the request-header settings', async () => {
  const r = await request(creds, 'GET', '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication');
  assert.equal(r.status, 200, r.body);
  const data = r.json().data as Record<string, string>;
  assert.deepEqual(Object.keys(data).sort(), ['client-ca-file', 'requestheader-allowed-names', 'requestheader-client-ca-file', 'requestheader-extra-headers-prefix', 'requestheader-group-headers', 'requestheader-username-headers']);
  assert.equal(data['client-ca-file'], creds.ca.toString());
  assert.deepEqual(JSON.parse(data['requestheader-allowed-names']!), ['system:auth-proxy']);
  assert.deepEqual(JSON.parse(data['requestheader-username-headers']!), ['X-Remote-User']);
  assert.deepEqual(JSON.parse(data['requestheader-group-headers']!), ['X-Remote-Group']);
  assert.deepEqual(JSON.parse(data['requestheader-extra-headers-prefix']!), ['X-Remote-Extra-']);
  assert.ok(new X509Certificate(data['requestheader-client-ca-file']!).ca);
  backend = await startBackend(data['requestheader-client-ca-file']!, JSON.parse(data['requestheader-allowed-names']!));
});

test('Local APIServices are registered for built-in groups and metrics.k8s.io', async () => {
  for (const v of kubectlVersions) {
    const rows = await until('local APIServices', async () => {
      const m = await apiservices(v);
      return m.has('v1.') && m.has('v1.apps') && m.has('v1beta1.metrics.k8s.io') && m.has('v1.apiregistration.k8s.io') ? m : undefined;
    });
    assert.deepEqual(rows.get('v1.apps'), ['Local', 'True']);
    assert.deepEqual(rows.get('v1beta1.metrics.k8s.io'), ['Local', 'True']);
  }
  const apps = JSON.parse(await k(newest(), ['get', 'apiservice', 'v1.apps', '-o', 'json']));
  assert.deepEqual(apps.spec, { group: 'apps', version: 'v1', groupPriorityMinimum: 17800, versionPriority: 15 });
  assert.equal(apps.metadata.labels['kube-aggregator.kubernetes.io/automanaged'], 'onstart');
  assert.deepEqual(apps.status.conditions.map((c: any) => [c.type, c.status, c.reason, c.message]), [['Available', 'True', 'Local', 'Local APIServices are always available']]);
});

test('an APIService named other than <version>.<group> is refused as upstream', async () => {
  const r = await kubectl(server, newest(), ['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'wrong.example.com' }, spec: { group: 'example.com', version: 'v1', groupPriorityMinimum: 0, versionPriority: 10 } }),
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /metadata\.name: Invalid value: "wrong\.example\.com": must be `spec\.version\+"\."\+spec\.group`: "v1\.example\.com"/);
  assert.match(r.stderr, /spec\.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000/);
});

test('a remote APIService becomes Available and its API is served through the aggregator', async () => {
  await k(newest(), ['apply', '-f', '-'], manifests(backend.port, backend.caPem));
  for (const v of kubectlVersions) {
    let last: unknown;
    await until('APIService available', async () => {
      const m = await apiservices(v);
      const row = m.get(`${version}.${group}`);
      last = (await kubectl(server, v, ['get', 'apiservice', `${version}.${group}`, '-o', 'jsonpath={.status}'])).stdout;
      return row && row[0] === 'aggregation/ext-api' && row[1] === 'True' ? row : undefined;
    }, { timeoutMs: 20_000, detail: () => `${JSON.stringify(last)}\n${server.output().split('\n').filter((l) => l.includes('aggregator')).slice(-10).join('\n')}` });
  }
  const obj = JSON.parse(await k(newest(), ['get', 'apiservice', `${version}.${group}`, '-o', 'json']));
  const cond = obj.status.conditions.find((c: any) => c.type === 'Available');
  assert.equal(cond.reason, 'Passed');
  assert.equal(cond.message, 'all checks passed');

  for (const v of kubectlVersions) {
    const res = await until(`kubectl ${v} api-resources shows flunders`, async () => {
      const r = await kubectl(server, v, ['--cache-dir', path.join(cacheDir, `${v}-ar`), 'api-resources', '--api-group', group]);
      return r.code === 0 && r.stdout.includes('flunders') ? r.stdout : undefined;
    });
    assert.match(res, /flunders\s+fl\s+wardle\.example\.com\/v1alpha1\s+true\s+Flunder/);
    const got = await k(v, ['get', 'flunders', '-n', 'default']);
    assert.match(got, /^echo\s/m);
    const one = JSON.parse(await k(v, ['get', 'flunder', 'mine', '-n', 'default', '-o', 'json']));
    assert.equal(one.metadata.name, 'mine');
    assert.equal(one.spec.user, 'system:admin');
    assert.ok(one.spec.groups.includes('system:masters'));
  }
  const last = seen.at(-1)!;
  assert.equal(last.peerCN, 'system:auth-proxy');
  assert.equal(last.authorization, undefined);
  // The availability check runs as upstream's aggregator identity.
  assert.ok(seen.some((s) => s.user === 'system:kube-aggregator' && s.groups?.includes('system:masters')));
});

test('discovery merges the remote group: /apis, /apis/<group> and aggregated discovery', async () => {
  const list = (await request(creds, 'GET', '/apis')).json();
  const g = list.groups.find((x: any) => x.name === group);
  assert.deepEqual(g, { name: group, versions: [{ groupVersion: `${group}/${version}`, version }], preferredVersion: { groupVersion: `${group}/${version}`, version } });
  assert.ok(list.groups.some((x: any) => x.name === 'apps'));
  const one = await request(creds, 'GET', `/apis/${group}`);
  assert.equal(one.status, 200, one.body);
  assert.equal(one.json().kind, 'APIGroup');
  const rl = await request(creds, 'GET', `/apis/${group}/${version}`);
  assert.equal(rl.json().resources[0].name, 'flunders');
  for (const v of ['v2', 'v2beta1']) {
    const agg = await until('aggregated discovery lists flunders', async () => {
      const r = await request(creds, 'GET', '/apis', { headers: { accept: `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList` } });
      const item = r.json().items.find((i: any) => i.metadata.name === group);
      return item?.versions?.[0]?.resources?.length ? item : undefined;
    });
    assert.equal(agg.versions[0].version, version);
    assert.equal(agg.versions[0].freshness, 'Current');
    assert.deepEqual(agg.versions[0].resources[0], { resource: 'flunders', responseKind: { group: '', version: '', kind: 'Flunder' }, scope: 'Namespaced', singularResource: 'flunder', verbs: ['get', 'list'], shortNames: ['fl'] });
  }
});

test('a backend that goes away: 503 service unavailable and FailedDiscoveryCheck; no Service: ServiceNotFound', async () => {
  await new Promise<void>((resolve) => {
    backend.srv.close(() => resolve());
    backend.srv.closeAllConnections();
  });
  // A request the proxy cannot deliver makes the availability check run again at once (else the 30 s resync).
  const unreachable = await request(creds, 'GET', `/apis/${group}/${version}/namespaces/default/flunders`);
  assert.equal(unreachable.status, 503, unreachable.body);
  assert.match(unreachable.body, /^error trying to reach service: dial tcp /);
  for (const v of kubectlVersions) {
    await until('APIService unavailable', async () => {
      const row = (await apiservices(v)).get(`${version}.${group}`);
      return row?.[1] === 'False (FailedDiscoveryCheck)' ? row : undefined;
    }, { timeoutMs: 10_000 });
  }
  const obj = JSON.parse(await k(newest(), ['get', 'apiservice', `${version}.${group}`, '-o', 'json']));
  const cond = obj.status.conditions.find((c: any) => c.type === 'Available');
  assert.match(cond.message, new RegExp(`^failing or missing response from https://localhost:${backend.port}/apis/wardle\\.example\\.com/v1alpha1: `));
  const r = await request(creds, 'GET', `/apis/${group}/${version}/namespaces/default/flunders`);
  assert.equal(r.status, 503);
  assert.equal(r.body, 'service unavailable\n');
  const agg = (await request(creds, 'GET', '/apis', { headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' } })).json();
  assert.equal(agg.items.find((i: any) => i.metadata.name === group).versions[0].freshness, 'Stale');

  await k(newest(), ['delete', 'service', 'ext-api', '-n', 'aggregation']);
  const row = await until('ServiceNotFound', async () => {
    const r = (await apiservices(newest())).get(`${version}.${group}`);
    return r?.[1] === 'False (ServiceNotFound)' ? r : undefined;
  });
  assert.deepEqual(row, ['aggregation/ext-api', 'False (ServiceNotFound)']);
  await k(newest(), ['delete', 'apiservice', `${version}.${group}`]);
  const gone = await until('group gone from /apis', async () => {
    const l = (await request(creds, 'GET', '/apis')).json();
    return l.groups.some((x: any) => x.name === group) ? undefined : l;
  });
  assert.ok(gone.groups.length > 5);
});
