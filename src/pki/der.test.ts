// Subjects and SANs of certificates made by OpenSSL, in the string types other tools use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { subjectAttributes } from './der.ts';
import { certFacts, subjectOf } from './x509.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-pki-der-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const key = path.join(dir, 'k.pem');
execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
const cnf = path.join(dir, 'printable.cnf');
fs.writeFileSync(cnf, '[req]\ndistinguished_name=dn\nstring_mask=default\n[dn]\n');
const pkixCnf = path.join(dir, 'pkix.cnf');
fs.writeFileSync(pkixCnf, '[req]\ndistinguished_name=dn\nstring_mask=pkix\n[dn]\n');

function opensslCert(name: string, args: string[]): Uint8Array {
  const out = path.join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-new', '-x509', '-key', key, '-days', '1', '-out', out, ...args], { stdio: 'pipe' });
  return new X509Certificate(fs.readFileSync(out)).raw;
}

const cases: { name: string; der: () => Uint8Array; want: { commonName: string | undefined; organizations: string[] } }[] = [
  { name: 'PrintableString attributes are read', der: () => opensslCert('printable', ['-config', cnf, '-subj', '/O=system:nodes/CN=system:node:w1']), want: { commonName: 'system:node:w1', organizations: ['system:nodes'] } },
  { name: 'UTF8String attributes are read', der: () => opensslCert('utf8', ['-utf8', '-subj', '/O=équipe/CN=Jürgen']), want: { commonName: 'Jürgen', organizations: ['équipe'] } },
  { name: 'TeletexString attributes are read as Latin-1', der: () => opensslCert('t61', ['-config', cnf, '-utf8', '-subj', '/CN=Jürgen']), want: { commonName: 'Jürgen', organizations: [] } },
  { name: 'BMPString attributes are read', der: () => opensslCert('bmp', ['-config', pkixCnf, '-utf8', '-subj', '/CN=Jürgen']), want: { commonName: 'Jürgen', organizations: [] } },
  { name: 'a multi-valued RDN gives every O value', der: () => opensslCert('multi', ['-subj', '/O=g1+O=g2/CN=u']), want: { commonName: 'u', organizations: ['g1', 'g2'] } },
  { name: 'a subject without CN has no common name', der: () => opensslCert('nocn', ['-subj', '/O=g']), want: { commonName: undefined, organizations: ['g'] } },
];
for (const c of cases) test(c.name, () => assert.deepEqual(subjectOf(c.der()), c.want));

test('attributes other than CN and O are listed with their OIDs', () => {
  const der = opensslCert('other', ['-subj', '/C=DE/OU=x/CN=u']);
  assert.deepEqual(subjectAttributes(der), [
    { oid: '2.5.4.6', value: 'DE' },
    { oid: '2.5.4.11', value: 'x' },
    { oid: '2.5.4.3', value: 'u' },
  ]);
});

test('truncated DER throws', () => {
  const der = opensslCert('trunc', ['-subj', '/CN=u']);
  assert.throws(() => subjectAttributes(der.subarray(0, 40)));
});

test('SANs of other types never pass for DNS names or IPs', () => {
  const der = opensslCert('san', ['-subj', '/CN=x', '-addext', 'subjectAltName=DNS:A.example,IP:0:0::1,email:x@y']);
  assert.deepEqual(certFacts(der).sans, [
    { type: 'dns', value: 'a.example' },
    { type: 'ip', value: '::1' },
    { type: 'dns', value: 'email:x@y' },
  ]);
});
