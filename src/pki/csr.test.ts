import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCsr, readCsr, signCsr } from './csr.ts';
import { certFacts, createCertificate, issuedBy, keyMatches } from './x509.ts';

const now = new Date();
const ca = await createCertificate({ kind: 'ca', subject: { commonName: 'test-ca' }, notBefore: now, notAfter: new Date(now.getTime() + 86_400_000) });

test('a CSR reads back its subject, SANs and a valid signature', async () => {
  const { csrPem } = await createCsr({ subject: { commonName: 'system:node:n1', organizations: ['system:nodes'] }, sans: ['n1', '10.42.0.1', '::1'] });
  assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  assert.deepEqual(await readCsr(csrPem), { commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: ['n1'], ipAddresses: ['10.42.0.1', '::1'], emailAddresses: [], uris: [], signatureValid: true });
});

test('readCsr refuses other PEM blocks', async () => {
  await assert.rejects(readCsr(ca.certPem), /CERTIFICATE REQUEST/);
});

test('signCsr issues for the request key with its subject, SANs, usages and window', async () => {
  const { csrPem, keyPem } = await createCsr({ subject: { commonName: 'system:node:n1', organizations: ['system:nodes'] }, sans: ['n1', '10.42.0.1'] });
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 300_000);
  const notAfter = new Date(notBefore.getTime() + 3_600_000);
  const certPem = await signCsr(csrPem, ca, { usages: ['digital signature', 'server auth'], notBefore, notAfter });
  assert.ok(keyMatches(certPem, keyPem));
  assert.ok(issuedBy(certPem, ca.certPem));
  const f = certFacts(certPem);
  assert.deepEqual(f.subject, { commonName: 'system:node:n1', organizations: ['system:nodes'] });
  assert.deepEqual(f.sans, [{ type: 'dns', value: 'n1' }, { type: 'ip', value: '10.42.0.1' }]);
  assert.equal(f.serverAuth, true);
  assert.equal(f.clientAuth, false);
  assert.equal(f.isCA, false);
  assert.equal(f.notBefore.getTime(), notBefore.getTime());
  assert.equal(f.notAfter.getTime(), notAfter.getTime());
  assert.equal(new X509Certificate(certPem).ca, false);
});

test('signCsr refuses a request whose signature does not verify', async () => {
  const { csrPem } = await createCsr({ subject: { commonName: 'x' } });
  const lines = csrPem.trim().split('\n');
  const body = lines.slice(1, -1).join('');
  const der = Buffer.from(body, 'base64');
  der[der.length - 5]! ^= 0x01;
  const bad = `${lines[0]}\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n${lines[lines.length - 1]}\n`;
  await assert.rejects(signCsr(bad, ca, { usages: ['client auth'], notBefore: now, notAfter: new Date(now.getTime() + 3_600_000) }));
});
