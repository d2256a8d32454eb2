import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parse } from 'yaml';
import { ensurePki, kubeconfigYaml, userFromCertificate, writeFileAtomic } from './index.ts';

const kubectl = '/usr/bin/kubectl';
const run = promisify(execFile);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-pki-kc-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const pki = await ensurePki(path.join(work, 'tls'), { hostnames: ['node-1'], addresses: [] });
const b64 = (s: string) => Buffer.from(s).toString('base64');
const env = { ...process.env, HOME: work, KUBECONFIG: '' };

interface Kubeconfig {
  apiVersion: string;
  kind: string;
  'current-context': string;
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
}

const cfg = (server: string) => kubeconfigYaml({ server, caPem: pki.caCertPem, certPem: pki.adminCertPem, keyPem: pki.adminKeyPem });

test('the kubeconfig parses back with the CA, certificate and key embedded, all named default', () => {
  const got = parse(cfg('https://127.0.0.1:6443')) as Kubeconfig;
  assert.deepEqual(got, {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64(pki.caCertPem) } }],
    users: [{ name: 'default', user: { 'client-certificate-data': b64(pki.adminCertPem), 'client-key-data': b64(pki.adminKeyPem) } }],
    contexts: [{ name: 'default', context: { cluster: 'default', user: 'default' } }],
    'current-context': 'default',
    preferences: {},
  });
});

test('the kubeconfig keeps each base64 blob on one line', () => {
  const lines = cfg('https://127.0.0.1:6443').split('\n');
  assert.ok(lines.some((l) => l.trim() === `certificate-authority-data: ${b64(pki.caCertPem)}`));
  assert.ok(lines.some((l) => l.trim() === `client-key-data: ${b64(pki.adminKeyPem)}`));
});

test('cluster, user and context names can be chosen', () => {
  const got = parse(kubeconfigYaml({ server: 'https://h:1', caPem: 'a', certPem: 'b', keyPem: 'c', clusterName: 'c1', userName: 'u1', contextName: 'x1' })) as Kubeconfig;
  assert.equal(got['current-context'], 'x1');
  assert.deepEqual(got.contexts, [{ name: 'x1', context: { cluster: 'c1', user: 'u1' } }]);
  assert.equal(got.clusters[0]!.name, 'c1');
  assert.equal(got.users[0]!.name, 'u1');
});

test('kubectl config view --raw reads the kubeconfig back', async () => {
  const file = path.join(work, 'view.yaml');
  await writeFileAtomic(file, cfg('https://127.0.0.1:6443'), { mode: 0o600 });
  const { stdout } = await run(kubectl, ['--kubeconfig', file, 'config', 'view', '--raw', '-o', 'json'], { env });
  const got = JSON.parse(stdout) as Kubeconfig;
  assert.equal(got['current-context'], 'default');
  assert.equal(got.clusters[0]!.cluster.server, 'https://127.0.0.1:6443');
  assert.equal(got.clusters[0]!.cluster['certificate-authority-data'], b64(pki.caCertPem));
  assert.equal(got.users[0]!.user['client-certificate-data'], b64(pki.adminCertPem));
  assert.equal(got.users[0]!.user['client-key-data'], b64(pki.adminKeyPem));
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

// kubectl (Go crypto/tls) verifies the serving certificate against the embedded CA and presents
// the admin certificate: proves Go accepts our encoding (PKCS#8 EC keys, names, extensions).
test('kubectl connects over TLS with the kubeconfig and is seen as system:admin', async () => {
  const seen: unknown[] = [];
  const server = https.createServer({ cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const sock = req.socket as TLSSocket;
    seen.push({ authorized: sock.authorized, user: userFromCertificate(sock.getPeerCertificate()) });
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const file = path.join(work, 'connect.yaml');
  for (const host of ['127.0.0.1', 'localhost']) {
    await writeFileAtomic(file, cfg(`https://${host}:${(server.address() as AddressInfo).port}`), { mode: 0o600 });
    const { stdout } = await run(kubectl, ['--kubeconfig', file, 'get', '--raw', '/healthz'], { env });
    assert.equal(stdout.trim(), 'ok');
  }
  assert.ok(seen.length >= 2);
  for (const s of seen) assert.deepEqual(s, { authorized: true, user: { username: 'system:admin', groups: ['system:masters'] } });
});
