import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { userFromCertificate, type CertificateInput } from './user.ts';
import { addDays, createCertificate, loadX509 } from './x509.ts';

const x509 = await loadX509();

const now = new Date();
const ca = await createCertificate({ kind: 'ca', subject: { commonName: 'test-ca' }, notBefore: now, notAfter: addDays(now, 10) });
const node = await createCertificate(
  { kind: 'client', subject: { commonName: 'system:node:worker-1', organizations: ['system:nodes', 'team-a'] }, notBefore: now, notAfter: addDays(now, 1) },
  ca,
);
const noOrg = await createCertificate({ kind: 'client', subject: { commonName: 'system:kube-scheduler' }, notBefore: now, notAfter: addDays(now, 1) }, ca);

// A certificate with two CN attributes; Go's pkix.Name keeps the last.
const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
const twoCns = (
  await x509.X509CertificateGenerator.createSelfSigned({ name: new x509.Name([{ CN: [{ utf8String: 'first' }] }, { O: [{ utf8String: 'g' }] }, { CN: [{ utf8String: 'last' }] }]), keys })
).toString('pem');

const peer = (subject: Record<string, string | string[]>): PeerCertificate => ({ subject }) as unknown as PeerCertificate;

const cases: { name: string; in: CertificateInput; want: { username: string; groups: string[] } | null }[] = [
  { name: 'a peer certificate with one O gives one group', in: peer({ CN: 'system:admin', O: 'system:masters' }), want: { username: 'system:admin', groups: ['system:masters'] } },
  { name: 'a peer certificate with several O values gives them all, in order', in: peer({ CN: 'u', O: ['b', 'a'] }), want: { username: 'u', groups: ['b', 'a'] } },
  { name: 'a peer certificate without O gives no groups', in: peer({ CN: 'u' }), want: { username: 'u', groups: [] } },
  { name: 'a peer certificate with several CN values uses the last', in: peer({ CN: ['x', 'y'] }), want: { username: 'y', groups: [] } },
  { name: 'a peer certificate with an empty CN is no user', in: peer({ CN: '', O: 'g' }), want: null },
  { name: 'an empty peer certificate (no client certificate) is no user', in: {} as PeerCertificate, want: null },
  { name: 'a PEM certificate is parsed', in: node.certPem, want: { username: 'system:node:worker-1', groups: ['system:nodes', 'team-a'] } },
  { name: 'a DER certificate is parsed', in: new X509Certificate(node.certPem).raw, want: { username: 'system:node:worker-1', groups: ['system:nodes', 'team-a'] } },
  { name: 'a crypto.X509Certificate is parsed', in: new X509Certificate(noOrg.certPem), want: { username: 'system:kube-scheduler', groups: [] } },
  { name: 'a PEM certificate with two CN attributes uses the last', in: twoCns, want: { username: 'last', groups: ['g'] } },
];
for (const c of cases) test(c.name, () => assert.deepEqual(userFromCertificate(c.in), c.want));

test('a string that is not a certificate throws', () => {
  assert.throws(() => userFromCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'));
});
