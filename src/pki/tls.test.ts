// Real TLS handshakes on 127.0.0.1 with the generated certificates, the way the API server
// listens: requestCert on, rejectUnauthorized off, and the verdict read from the socket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ensurePki, issueClientCert, userFromCertificate } from './index.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-pki-tls-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const tmpDir = () => path.join(fs.mkdtempSync(path.join(root, 'd-')), 'tls');
const fixed = { hostnames: ['node-1'], addresses: ['192.0.2.2'], sans: ['api.example.com'] };
const pki = await ensurePki(tmpDir(), fixed);
const otherPki = await ensurePki(tmpDir(), fixed);

interface Seen {
  authorized: boolean;
  authorizationError: string | null;
  user: { username: string; groups: string[] } | null;
}

const server = https.createServer({ cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
  const sock = req.socket as TLSSocket;
  const seen: Seen = {
    authorized: sock.authorized,
    authorizationError: sock.authorizationError ? String(sock.authorizationError) : null,
    user: sock.authorized ? userFromCertificate(sock.getPeerCertificate()) : null,
  };
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(seen));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function call(opts: { ca?: string; cert?: string; key?: string; servername?: string }): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/', agent: false, ca: opts.ca ?? pki.caCertPem, cert: opts.cert, key: opts.key, servername: opts.servername }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(JSON.parse(body) as Seen));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the admin certificate is authorized and seen as CN=system:admin, O=system:masters', async () => {
  const seen = await call({ cert: pki.adminCertPem, key: pki.adminKeyPem });
  assert.deepEqual(seen, { authorized: true, authorizationError: null, user: { username: 'system:admin', groups: ['system:masters'] } });
});

test('a component certificate from issueClientCert is authorized with its own identity', async () => {
  const c = await issueClientCert(pki, { name: 'node-worker-1', commonName: 'system:node:worker-1', organizations: ['system:nodes'] });
  const seen = await call({ cert: c.certPem, key: c.keyPem });
  assert.deepEqual(seen.user, { username: 'system:node:worker-1', groups: ['system:nodes'] });
});

test('a client certificate signed by another CA is not authorized', async () => {
  const seen = await call({ cert: otherPki.adminCertPem, key: otherPki.adminKeyPem });
  assert.equal(seen.authorized, false);
  assert.notEqual(seen.authorizationError, null);
  assert.equal(seen.user, null);
});

test('a client without a certificate is not authorized', async () => {
  const seen = await call({});
  assert.equal(seen.authorized, false);
});

for (const servername of [undefined, 'localhost', 'kubernetes.default.svc.cluster.local', 'kubernetes', 'node-1', 'api.example.com']) {
  test(`the serving certificate is accepted for ${servername ?? '127.0.0.1'}`, async () => {
    const seen = await call({ cert: pki.adminCertPem, key: pki.adminKeyPem, servername });
    assert.equal(seen.authorized, true);
  });
}

test('the serving certificate is refused for a name it does not carry', async () => {
  await assert.rejects(call({ servername: 'not-in-the-cert.example.com' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

test('a client that trusts another CA refuses the server', async () => {
  await assert.rejects(call({ ca: otherPki.caCertPem }), (e: NodeJS.ErrnoException) => e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || e.code === 'SELF_SIGNED_CERT_IN_CHAIN');
});
