import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCertificate, type CertAndKey } from '../pki/x509.ts';
import { renewAt, whyRenew } from './bootstrap.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const hour = 3_600_000;
const ca = await createCertificate({ kind: 'ca', subject: { commonName: 'ca' }, notBefore: t0, notAfter: new Date(t0.getTime() + 1000 * hour) });
const other = await createCertificate({ kind: 'ca', subject: { commonName: 'other' }, notBefore: t0, notAfter: new Date(t0.getTime() + 1000 * hour) });
const leaf = (issuer: CertAndKey, cn = 'system:node:n1', kind: 'client' | 'server' = 'client', sans?: string[]) =>
  createCertificate({ kind, subject: { commonName: cn, organizations: ['system:nodes'] }, sans: sans?.map((v) => ({ type: /^\d/.test(v) ? 'ip' as const : 'dns' as const, value: v })), notBefore: t0, notAfter: new Date(t0.getTime() + 10 * hour) }, issuer);
const client = await leaf(ca);
const serving = await leaf(ca, 'system:node:n1', 'server', ['n1', '10.42.0.1']);
const want = { caPem: ca.certPem, commonName: 'system:node:n1' };

test('renewal is due at 80 % of the lifetime', () => {
  assert.equal(renewAt(client.certPem).toISOString(), '2026-01-01T08:00:00.000Z');
});

const cases: { name: string; pair: CertAndKey | undefined; want?: Parameters<typeof whyRenew>[1]; at: number; why: RegExp | undefined }[] = [
  { name: 'a fresh certificate is reused', pair: client, at: 1, why: undefined },
  { name: 'just before 80 % it is still reused', pair: client, at: 7.99, why: undefined },
  { name: 'at 80 % it is renewed', pair: client, at: 8, why: /80 % of its lifetime/ },
  { name: 'an expired one is renewed', pair: client, at: 11, why: /expired/ },
  { name: 'a missing one is requested', pair: undefined, at: 1, why: /missing/ },
  { name: 'one from another CA is replaced', pair: client, want: { ...want, caPem: other.certPem }, at: 1, why: /not issued by the current CA/ },
  { name: 'one for another node is replaced', pair: client, want: { ...want, commonName: 'system:node:n2' }, at: 1, why: /subject changed/ },
  { name: 'a key that does not match is replaced', pair: { certPem: client.certPem, keyPem: serving.keyPem }, at: 1, why: /key does not match/ },
  { name: 'a serving certificate with the wanted SANs is reused', pair: serving, want: { ...want, sans: ['10.42.0.1', 'n1'] }, at: 1, why: undefined },
  { name: 'a serving certificate whose SANs changed is replaced', pair: serving, want: { ...want, sans: ['n1', '10.0.0.9'] }, at: 1, why: /SANs changed/ },
];
for (const c of cases) {
  test(c.name, () => {
    const why = whyRenew(c.pair, c.want ?? want, new Date(t0.getTime() + c.at * hour));
    if (c.why) assert.match(why ?? '', c.why);
    else assert.equal(why, undefined);
  });
}
