import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateSigningRequest } from '../api/index.ts';
import type { CsrFacts } from '../pki/csr.ts';
import { approvalDecision } from './csrapproving.ts';
import { certificateWindow, isApproved, isFinished, signerApiServerClient, signerKubeletClient, signerKubeletServing, signerValidationError } from './csrsigning.ts';

function facts(o: Partial<CsrFacts> = {}): CsrFacts {
  return { commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: [], ipAddresses: [], emailAddresses: [], uris: [], signatureValid: true, ...o };
}

function csr(o: { signer?: string; usages?: string[]; username?: string; groups?: string[]; conditions?: { type: string; status: string }[]; certificate?: string } = {}): CertificateSigningRequest {
  return {
    metadata: { name: 'c' },
    spec: { request: '', signerName: o.signer ?? signerKubeletClient, usages: o.usages ?? ['digital signature', 'client auth'], username: o.username ?? 'system:bootstrap:abcdef', groups: o.groups ?? ['system:bootstrappers', 'system:authenticated'] },
    status: { conditions: o.conditions, certificate: o.certificate },
  };
}

const self = { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };

const approvals: { name: string; csr: CertificateSigningRequest; req: CsrFacts; approve: boolean; message?: RegExp }[] = [
  { name: 'a node client request from a bootstrap token is approved', csr: csr(), req: facts(), approve: true, message: /^Auto approving kubelet client certificate/ },
  { name: 'with key encipherment too', csr: csr({ usages: ['key encipherment', 'digital signature', 'client auth'] }), req: facts(), approve: true },
  { name: 'a renewal by the node itself is approved', csr: csr(self), req: facts(), approve: true, message: /^Auto approving self kubelet client certificate/ },
  { name: 'a node asking for another node is not approved', csr: csr({ username: 'system:node:n2', groups: ['system:nodes'] }), req: facts(), approve: false },
  { name: 'an ordinary user is not approved', csr: csr({ username: 'alice', groups: ['system:authenticated'] }), req: facts(), approve: false },
  { name: 'server auth usage is not approved', csr: csr({ usages: ['digital signature', 'server auth'] }), req: facts(), approve: false },
  { name: 'another organization is not approved', csr: csr(), req: facts({ organizations: ['system:masters'] }), approve: false },
  { name: 'a client request with SANs is not approved', csr: csr(), req: facts({ dnsNames: ['n1'] }), approve: false },
  { name: 'a CN without system:node: is not approved', csr: csr(), req: facts({ commonName: 'n1' }), approve: false },
  { name: 'a bad request signature is not approved', csr: csr(), req: facts({ signatureValid: false }), approve: false },
  { name: 'a serving request by the node for itself is approved', csr: csr({ ...self, signer: signerKubeletServing, usages: ['digital signature', 'server auth'] }), req: facts({ dnsNames: ['n1'], ipAddresses: ['10.42.0.1'] }), approve: true },
  { name: 'a serving request from a bootstrap token is not approved', csr: csr({ signer: signerKubeletServing, usages: ['digital signature', 'server auth'] }), req: facts({ dnsNames: ['n1'] }), approve: false },
  { name: 'a serving request for another DNS name is not approved', csr: csr({ ...self, signer: signerKubeletServing, usages: ['digital signature', 'server auth'] }), req: facts({ dnsNames: ['n1', 'kubernetes'] }), approve: false },
  { name: 'a serving request without SANs is not approved', csr: csr({ ...self, signer: signerKubeletServing, usages: ['digital signature', 'server auth'] }), req: facts(), approve: false },
  { name: 'another signer is not approved', csr: csr({ signer: signerApiServerClient }), req: facts(), approve: false },
];
for (const c of approvals) {
  test(c.name, () => {
    const d = approvalDecision(c.csr, c.req);
    assert.equal(d.approve, c.approve, d.message);
    if (c.message) assert.match(d.message, c.message);
  });
}

const signerRules: { name: string; signer: string; usages: string[]; req: CsrFacts; error?: RegExp }[] = [
  { name: 'kube-apiserver-client takes any subject with client auth', signer: signerApiServerClient, usages: ['client auth', 'digital signature'], req: facts({ commonName: 'alice', organizations: [] }) },
  { name: 'kube-apiserver-client needs client auth', signer: signerApiServerClient, usages: ['digital signature'], req: facts(), error: /must include "client auth"/ },
  { name: 'kube-apiserver-client refuses server auth', signer: signerApiServerClient, usages: ['client auth', 'server auth'], req: facts(), error: /invalid usages/ },
  { name: 'kubelet-serving refuses email SANs', signer: signerKubeletServing, usages: ['digital signature', 'server auth'], req: facts({ dnsNames: ['n1'], emailAddresses: ['a@b'] }), error: /forbidden/ },
  { name: 'kube-apiserver-client-kubelet refuses IP SANs', signer: signerKubeletClient, usages: ['digital signature', 'client auth'], req: facts({ ipAddresses: ['10.0.0.1'] }), error: /not allowed/ },
  { name: 'an unknown signer is refused', signer: 'example.com/x', usages: ['client auth'], req: facts(), error: /unrecognized signerName/ },
];
for (const c of signerRules) {
  test(`signer rules: ${c.name}`, () => {
    const why = signerValidationError(c.signer, c.usages, c.req);
    if (c.error) assert.match(why ?? '', c.error);
    else assert.equal(why, undefined);
  });
}

test('approved, denied and finished requests', () => {
  assert.equal(isApproved(csr({ conditions: [{ type: 'Approved', status: 'True' }] })), true);
  assert.equal(isApproved(csr({ conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] })), false);
  assert.equal(isFinished(csr({ conditions: [{ type: 'Failed', status: 'True' }] })), true);
  assert.equal(isFinished(csr({ certificate: 'x' })), true);
  assert.equal(isFinished(csr()), false);
});

const now = new Date('2026-01-01T00:00:00Z');
const farCa = new Date('2036-01-01T00:00:00Z');
const year = 365 * 24 * 3600 * 1000;
const windows: { name: string; expirationSeconds?: number; caNotAfter?: Date; want: { notBefore: string; notAfter: string } }[] = [
  { name: 'the signing duration by default, backdated 5 minutes', want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' } },
  { name: 'expirationSeconds shortens it; a short lifetime keeps its length', expirationSeconds: 600, want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2026-01-01T00:05:00.000Z' } },
  { name: 'a lifetime of 8 hours or more is not shortened by the backdate', expirationSeconds: 8 * 3600, want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2026-01-01T08:00:00.000Z' } },
  { name: 'expirationSeconds never lengthens it', expirationSeconds: 10 * 365 * 24 * 3600, want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' } },
  { name: 'never past the CA', caNotAfter: new Date('2026-02-01T00:00:00Z'), want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2026-02-01T00:00:00.000Z' } },
];
for (const c of windows) {
  test(`certificate window: ${c.name}`, () => {
    const w = certificateWindow(now, { durationMs: year, expirationSeconds: c.expirationSeconds, caNotAfter: c.caNotAfter ?? farCa });
    assert.deepEqual({ notBefore: w.notBefore.toISOString(), notAfter: w.notAfter.toISOString() }, c.want);
  });
}
