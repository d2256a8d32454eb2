/**
 * The joining server's side against a real HTTPS server carrying the supervisor handler and
 * /cacerts: CA pinning by the token's hash, the bootstrap fetch and write into a fresh data dir
 * (after which src/pki keeps the shared CA), member add, and the client's bounds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ensurePki, type Pki } from '../pki/index.ts';
import { bootstrapPaths, writeBootstrapFiles } from './bootstrap.ts';
import { formatServerToken } from './token.ts';
import { supervisorHandler } from './supervisor.ts';
import { initialClusterFor } from './cluster.ts';
import { fetchBootstrap, maxResponseBytes, pinnedServerCa, requestMemberAdd, supervisorRequest } from './join.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-join-test-'));
const first = path.join(root, 'first');
let pki: Pki;
let token = '';
let base = '';
const servers: https.Server[] = [];
let n = 0;
const dir = () => path.join(root, `j${n++}`);

async function listen(handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<string> {
  const s = https.createServer({ cert: pki.servingCertPem, key: pki.servingKeyPem }, handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

before(async () => {
  pki = await ensurePki(path.join(first, 'tls'), { sans: ['127.0.0.1'], hostnames: ['localhost'], addresses: [] });
  fs.writeFileSync(path.join(first, 'tls', 'service-account.key'), 'SA KEY\n', { mode: 0o600 });
  fs.writeFileSync(path.join(first, 'tls', 'request-header-ca.crt'), 'RH CA\n');
  fs.writeFileSync(path.join(first, 'tls', 'request-header-ca.key'), 'RH KEY\n', { mode: 0o600 });
  fs.mkdirSync(path.join(first, 'server', 'tls', 'etcd'), { recursive: true });
  for (const f of ['server-ca.crt', 'server-ca.key', 'peer-ca.crt', 'peer-ca.key']) fs.writeFileSync(path.join(first, 'server', 'tls', 'etcd', f), `${f}\n`);
  token = formatServerToken(pki.caCertPem, 's3cret');
  const handler = supervisorHandler({
    dataDir: first,
    serverToken: () => token,
    // As cluster.ts's addMember answers: the new member listed unnamed until it starts.
    etcd: { addMember: async (_name, peerURL) => [{ id: '8e9e05c52164694d', name: 'first', peerURLs: ['https://127.0.0.1:2380'], clientURLs: ['https://127.0.0.1:2379'], isLearner: false }, { id: '91bc3c398fb3c146', name: '', peerURLs: [peerURL], clientURLs: [], isLearner: false }] },
  });
  base = await listen((req, res) => {
    const p = new URL(req.url ?? '/', 'https://x').pathname;
    if (p === '/cacerts') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(pki.caCertPem);
    void handler(req, res, p).then((ok) => ok || res.writeHead(404).end());
  });
});
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  fs.rmSync(root, { recursive: true, force: true });
});

test('fetchBootstrap pins the CA, fetches and decrypts; the joiner gets byte-identical files and src/pki keeps the CA', async () => {
  const data = await fetchBootstrap({ server: base, token });
  assert.deepEqual(data.files.map((f) => f.path).sort(), [...bootstrapPaths].sort());
  const joiner = dir();
  await writeBootstrapFiles(joiner, data);
  for (const p of bootstrapPaths) assert.deepEqual(fs.readFileSync(path.join(joiner, p)), fs.readFileSync(path.join(first, p)), p);
  const own = await ensurePki(path.join(joiner, 'tls'), { sans: ['127.0.0.2'], hostnames: ['second'], addresses: [] });
  assert.equal(own.caCertPem, pki.caCertPem);
  assert.equal(own.caKeyPem, pki.caKeyPem);
  assert.notEqual(own.servingCertPem, pki.servingCertPem);
});

test('a bare password joins too, with k3s\'s warning about the missing CA hash', async () => {
  const logs: string[] = [];
  const data = await fetchBootstrap({ server: base, token: 's3cret', log: (m) => logs.push(m) });
  assert.ok(data.files.length > 2);
  assert.match(logs.join('\n'), /the token does not include a CA hash/);
});

test('a token of another CA is refused before any secret is sent', async () => {
  const other = formatServerToken('another CA', 's3cret');
  await assert.rejects(fetchBootstrap({ server: base, token: other }), /token CA hash does not match the Cluster CA certificate hash/);
  await assert.rejects(pinnedServerCa(base, other), /does not match/);
});

test('a wrong password is a 401 named as a wrong token', async () => {
  await assert.rejects(fetchBootstrap({ server: base, token: formatServerToken(pki.caCertPem, 'wrong') }), /401 .*wrong token/);
});

test('plain http is refused', async () => {
  await assert.rejects(supervisorRequest({ server: 'http://127.0.0.1:1', token, caPem: pki.caCertPem, method: 'GET', path: '/x' }), /only https:\/\/ URLs are supported/);
});

test('requestMemberAdd answers the member list, from which --initial-cluster is built', async () => {
  const members = await requestMemberAdd({ server: base, token, caPem: pki.caCertPem, name: 'second', peerURL: 'https://127.0.0.2:2380' });
  assert.deepEqual(members, [
    { id: '8e9e05c52164694d', name: 'first', peerURLs: ['https://127.0.0.1:2380'], clientURLs: ['https://127.0.0.1:2379'], isLearner: false },
    { id: '91bc3c398fb3c146', name: '', peerURLs: ['https://127.0.0.2:2380'], clientURLs: [], isLearner: false },
  ]);
  assert.deepEqual(initialClusterFor(members, 'second', 'https://127.0.0.2:2380'), [
    { name: 'first', peerURL: 'https://127.0.0.1:2380' },
    { name: 'second', peerURL: 'https://127.0.0.2:2380' },
  ]);
  await assert.rejects(requestMemberAdd({ server: base, token, caPem: pki.caCertPem, name: 'Bad', peerURL: 'https://127.0.0.2:2380' }), /400 .*RFC 1123/);
});

test('a server whose certificate is not from the pinned CA is refused', async () => {
  const other = await ensurePki(path.join(dir(), 'tls'), { sans: ['127.0.0.1'], hostnames: ['localhost'], addresses: [] });
  await assert.rejects(supervisorRequest({ server: base, token, caPem: other.caCertPem, method: 'GET', path: '/v1-bosun/server-bootstrap' }), /certificate/);
});

test('an answer over the size bound is refused, an answer at it is read', async () => {
  const big = await listen((req, res) => {
    const size = req.url === '/edge' ? maxResponseBytes : maxResponseBytes + 1;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(Buffer.alloc(size, 97));
  });
  await assert.rejects(supervisorRequest({ server: big, token, caPem: pki.caCertPem, method: 'GET', path: '/over' }), /larger than 1048576 bytes/);
  assert.equal((await supervisorRequest({ server: big, token, caPem: pki.caCertPem, method: 'GET', path: '/edge' })).length, maxResponseBytes);
});

test('a server that does not answer times out', async () => {
  const mute = await listen(() => {});
  await assert.rejects(supervisorRequest({ server: mute, token, caPem: pki.caCertPem, method: 'GET', path: '/x', timeoutMs: 100 }), /no answer within 100 ms/);
});

// With every shared file made by the code that makes it on a real server, a joiner that writes
// the bootstrap data and then runs the same start-up code keeps every shared file byte for byte
// and issues its own leaves from the shared CAs.
test('a joiner running the real PKI start-up after the bootstrap keeps every shared file', async () => {
  const { ensureRequestHeaderPki } = await import('../pki/requestheader.ts');
  const { loadOrCreateSigningKey } = await import('../apiserver/serviceaccount/keys.ts');
  const { ensureEtcdPki } = await import('./certs.ts');
  const { readBootstrapFiles, decryptBootstrap, encryptBootstrap } = await import('./bootstrap.ts');
  const { issuedBy } = await import('../pki/x509.ts');
  const startUp = async (d: string, host: string, ip: string) => {
    const p = await ensurePki(path.join(d, 'tls'), { sans: [ip], hostnames: [host], addresses: [] });
    const rh = await ensureRequestHeaderPki(path.join(d, 'tls'));
    await loadOrCreateSigningKey(path.join(d, 'tls'));
    const etcd = await ensureEtcdPki(path.join(d, 'server', 'tls', 'etcd'), { hostnames: [host], ips: [ip] });
    return { p, rh, etcd };
  };
  const a = dir();
  await startUp(a, 'one', '127.0.0.1');
  const shared = await readBootstrapFiles(a);
  assert.deepEqual(shared.files.map((f) => f.path), [...bootstrapPaths]);
  const b = dir();
  await writeBootstrapFiles(b, decryptBootstrap(encryptBootstrap(shared, 'pw'), 'pw'));
  const mine = await startUp(b, 'two', '127.0.0.2');
  for (const p of bootstrapPaths) assert.deepEqual(fs.readFileSync(path.join(b, p)), fs.readFileSync(path.join(a, p)), p);
  assert.ok(issuedBy(mine.p.servingCertPem, fs.readFileSync(path.join(a, 'tls', 'ca.crt'), 'utf8')));
  assert.ok(issuedBy(mine.rh.proxyClient.certPem, fs.readFileSync(path.join(a, 'tls', 'request-header-ca.crt'), 'utf8')));
  const etcdLeaf = fs.readFileSync(path.join(b, 'server', 'tls', 'etcd', 'peer-server-client.crt'), 'utf8');
  assert.ok(issuedBy(etcdLeaf, fs.readFileSync(path.join(a, 'server', 'tls', 'etcd', 'peer-ca.crt'), 'utf8')));
  assert.ok(mine.etcd);
});
