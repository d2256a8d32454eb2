import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ensurePki, issueClientCert, issueServingCert, type EnsurePkiOptions, type Pki } from './index.ts';
import { addDays, certFacts, issuedBy, keyMatches } from './x509.ts';
import { hostAddresses } from './sans.ts';
import { isCode } from '../util/errors.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-pki-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const tmpDir = () => path.join(fs.mkdtempSync(path.join(root, 'd-')), 'tls');
const fixed: EnsurePkiOptions = { hostnames: ['node-1'], addresses: ['192.0.2.2', 'fd00::2'] };
const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
const mode = (dir: string, f: string) => fs.statSync(path.join(dir, f)).mode & 0o777;
const sanList = (pem: string) => certFacts(pem).sans.map((s) => `${s.type}:${s.value}`).sort();
const pkiFiles = ['ca.crt', 'ca.key', 'serving.crt', 'serving.key', 'admin.crt', 'admin.key'];
const snapshot = (dir: string) => Object.fromEntries(pkiFiles.map((f) => [f, { text: read(dir, f), mtime: fs.statSync(path.join(dir, f)).mtimeMs }]));
const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });
const isInvalidConfig = (e: unknown) => isCode(e, 'ERR_INVALID_CONFIG');

test('a fresh directory gets a CA, a serving certificate and an admin certificate', async (t) => {
  const dir = tmpDir();
  const started = performance.now();
  const pki = await ensurePki(dir, { ...fixed, sans: ['api.example.com', '203.0.113.7'] });
  t.diagnostic(`ensurePki on a fresh directory took ${(performance.now() - started).toFixed(1)} ms (including the lazy load of @peculiar/x509)`);

  for (const f of pkiFiles) assert.equal(mode(dir, f), f.endsWith('.key') ? 0o600 : 0o644, f);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.deepEqual(
    [pki.caCertPem, pki.caKeyPem, pki.servingCertPem, pki.servingKeyPem, pki.adminCertPem, pki.adminKeyPem],
    pkiFiles.map((f) => read(dir, f)),
  );
  assert.equal(pki.dir, dir);

  const ca = certFacts(pki.caCertPem);
  assert.ok(ca.isCA);
  assert.match(ca.subject.commonName, /^bosun-ca@\d+$/);
  assert.ok(Math.abs((ca.notAfter.getTime() - Date.now()) / 86_400_000 - 3650) < 1);
  assert.ok(keyMatches(pki.caCertPem, pki.caKeyPem));

  const serving = certFacts(pki.servingCertPem);
  assert.deepEqual([serving.isCA, serving.serverAuth, serving.clientAuth], [false, true, false]);
  assert.ok(Math.abs((serving.notAfter.getTime() - Date.now()) / 86_400_000 - 365) < 1);
  assert.deepEqual(sanList(pki.servingCertPem), [
    'dns:api.example.com',
    'dns:kubernetes',
    'dns:kubernetes.default',
    'dns:kubernetes.default.svc',
    'dns:kubernetes.default.svc.cluster.local',
    'dns:localhost',
    'dns:node-1',
    'ip:10.43.0.1',
    'ip:127.0.0.1',
    'ip:192.0.2.2',
    'ip:203.0.113.7',
    'ip:::1',
    'ip:fd00::2',
  ]);
  assert.ok(issuedBy(pki.servingCertPem, pki.caCertPem) && keyMatches(pki.servingCertPem, pki.servingKeyPem));

  const admin = certFacts(pki.adminCertPem);
  assert.deepEqual(admin.subject, { commonName: 'system:admin', organizations: ['system:masters'] });
  assert.deepEqual([admin.isCA, admin.serverAuth, admin.clientAuth], [false, false, true]);
  assert.ok(issuedBy(pki.adminCertPem, pki.caCertPem) && keyMatches(pki.adminCertPem, pki.adminKeyPem));
});

test('openssl verifies the serving and admin certificates against ca.crt, each for its purpose', async () => {
  const dir = tmpDir();
  await ensurePki(dir, fixed);
  const [ca, serving, admin] = ['ca.crt', 'serving.crt', 'admin.crt'].map((f) => path.join(dir, f)) as [string, string, string];
  assert.equal(openssl('verify', '-CAfile', ca, serving, admin), `${serving}: OK\n${admin}: OK\n`);
  assert.equal(openssl('verify', '-CAfile', ca, '-purpose', 'sslserver', serving), `${serving}: OK\n`);
  assert.equal(openssl('verify', '-CAfile', ca, '-purpose', 'sslclient', admin), `${admin}: OK\n`);
  assert.throws(() => execFileSync('openssl', ['verify', '-CAfile', ca, '-purpose', 'sslserver', admin], { stdio: 'pipe' }));
  assert.match(openssl('x509', '-in', admin, '-noout', '-subject'), /subject=O = system:masters, CN = system:admin/);
});

test('a second call rewrites nothing and returns the same PEMs', async () => {
  const dir = tmpDir();
  const first = await ensurePki(dir, fixed);
  const before = snapshot(dir);
  const logs: string[] = [];
  const second = await ensurePki(dir, { ...fixed, log: (m) => logs.push(m) });
  assert.deepEqual(second, first);
  assert.deepEqual(snapshot(dir), before);
  assert.deepEqual(logs, []);
});

test('the same SANs given in another spelling or order count as unchanged', async () => {
  const dir = tmpDir();
  const first = await ensurePki(dir, { hostnames: ['Node-1'], addresses: ['fd00:0:0::2', '192.0.2.2'], sans: ['B.example.com', 'a.example.com.'] });
  const second = await ensurePki(dir, { hostnames: ['node-1'], addresses: ['192.0.2.2', 'fd00::2'], sans: ['a.example.com', 'b.example.com'] });
  assert.equal(second.servingCertPem, first.servingCertPem);
});

test('a changed SAN set reissues the serving certificate and keeps the CA and the admin certificate', async () => {
  const dir = tmpDir();
  const first = await ensurePki(dir, fixed);
  const logs: string[] = [];
  const second = await ensurePki(dir, { ...fixed, sans: ['new.example.com'], log: (m) => logs.push(m) });
  assert.equal(second.caCertPem, first.caCertPem);
  assert.equal(second.caKeyPem, first.caKeyPem);
  assert.equal(second.adminCertPem, first.adminCertPem);
  assert.notEqual(second.servingCertPem, first.servingCertPem);
  assert.notEqual(second.servingKeyPem, first.servingKeyPem);
  assert.ok(sanList(second.servingCertPem).includes('dns:new.example.com'));
  assert.ok(issuedBy(second.servingCertPem, first.caCertPem));
  assert.deepEqual(logs, ['pki: issuing serving.crt (SANs changed)']);
  assert.equal(read(dir, 'serving.crt'), second.servingCertPem);
});

test('by default the SANs include the host name and the host addresses', async () => {
  const dir = tmpDir();
  const pki = await ensurePki(dir);
  const sans = sanList(pki.servingCertPem);
  assert.ok(sans.includes(`dns:${os.hostname().toLowerCase()}`));
  for (const a of hostAddresses()) assert.ok(sans.includes(`ip:${a}`), a);
});

test('a serving certificate expiring within 30 days is reissued; the CA is kept', async () => {
  const dir = tmpDir();
  const first = await ensurePki(dir, fixed);
  const later = addDays(new Date(), 340);
  const second = await ensurePki(dir, { ...fixed, now: () => later });
  assert.equal(second.caCertPem, first.caCertPem);
  assert.notEqual(second.servingCertPem, first.servingCertPem);
  assert.notEqual(second.adminCertPem, first.adminCertPem);
  assert.ok(certFacts(second.servingCertPem).notAfter > addDays(later, 364));
});

test('a leaf never outlives the CA that signed it', async () => {
  const dir = tmpDir();
  const first = await ensurePki(dir, fixed);
  const caNotAfter = certFacts(first.caCertPem).notAfter;
  const second = await ensurePki(dir, { ...fixed, now: () => addDays(caNotAfter, -200) });
  assert.equal(second.caCertPem, first.caCertPem);
  assert.equal(certFacts(second.servingCertPem).notAfter.getTime(), caNotAfter.getTime());
});

test('a CA expiring within 30 days is replaced and every leaf is reissued under the new one', async () => {
  const dir = tmpDir();
  const first = await ensurePki(dir, fixed);
  const client = await issueClientCert(first, { name: 'scheduler', commonName: 'system:kube-scheduler' });
  const near = addDays(certFacts(first.caCertPem).notAfter, -10);
  const second = await ensurePki(dir, { ...fixed, now: () => near });
  assert.notEqual(second.caCertPem, first.caCertPem);
  assert.ok(issuedBy(second.servingCertPem, second.caCertPem));
  assert.ok(issuedBy(second.adminCertPem, second.caCertPem));
  const client2 = await issueClientCert(second, { name: 'scheduler', commonName: 'system:kube-scheduler', now: () => near });
  assert.notEqual(client2.certPem, client.certPem);
  assert.ok(issuedBy(client2.certPem, second.caCertPem));
});

test('a leaf whose key does not match is reissued', async () => {
  const dir = tmpDir();
  const first = await ensurePki(dir, fixed);
  fs.writeFileSync(path.join(dir, 'serving.key'), first.adminKeyPem);
  const second = await ensurePki(dir, fixed);
  assert.notEqual(second.servingCertPem, first.servingCertPem);
  assert.ok(keyMatches(second.servingCertPem, second.servingKeyPem));
  assert.equal(second.adminCertPem, first.adminCertPem);
});

test('a corrupt or missing leaf is reissued', async () => {
  const dir = tmpDir();
  const first = await ensurePki(dir, fixed);
  fs.writeFileSync(path.join(dir, 'serving.crt'), 'garbage');
  fs.rmSync(path.join(dir, 'admin.key'));
  const second = await ensurePki(dir, fixed);
  assert.equal(second.caCertPem, first.caCertPem);
  assert.ok(issuedBy(second.servingCertPem, first.caCertPem) && keyMatches(second.servingCertPem, second.servingKeyPem));
  assert.ok(issuedBy(second.adminCertPem, first.caCertPem) && keyMatches(second.adminCertPem, second.adminKeyPem));
  assert.equal(mode(dir, 'admin.key'), 0o600);
});

const brokenCaCases: { name: string; breakIt: (dir: string, pki: Pki) => void }[] = [
  { name: 'a CA key that does not match ca.crt is an error', breakIt: (dir, pki) => fs.writeFileSync(path.join(dir, 'ca.key'), pki.adminKeyPem) },
  { name: 'ca.crt without ca.key is an error', breakIt: (dir) => fs.rmSync(path.join(dir, 'ca.key')) },
  { name: 'an unparsable ca.crt is an error', breakIt: (dir) => fs.writeFileSync(path.join(dir, 'ca.crt'), 'garbage') },
  {
    name: 'a ca.crt that is not a CA is an error',
    breakIt: (dir, pki) => {
      fs.writeFileSync(path.join(dir, 'ca.crt'), pki.adminCertPem);
      fs.writeFileSync(path.join(dir, 'ca.key'), pki.adminKeyPem);
    },
  },
];
for (const c of brokenCaCases) {
  test(c.name, async () => {
    const dir = tmpDir();
    const pki = await ensurePki(dir, fixed);
    c.breakIt(dir, pki);
    const serving = read(dir, 'serving.crt');
    await assert.rejects(ensurePki(dir, fixed), isInvalidConfig);
    assert.equal(read(dir, 'serving.crt'), serving, 'nothing is rewritten');
  });
}

test('a malformed extra SAN is an error and creates nothing', async () => {
  const dir = tmpDir();
  await assert.rejects(ensurePki(dir, { ...fixed, sans: ['https://example.com'] }), isInvalidConfig);
  assert.equal(fs.existsSync(dir), false);
});

test('an invalid host name is left out of the SANs and logged, not an error', async () => {
  const logs: string[] = [];
  const pki = await ensurePki(tmpDir(), { ...fixed, hostnames: ['bad host', 'node-1'], log: (m) => logs.push(m) });
  assert.ok(sanList(pki.servingCertPem).includes('dns:node-1'));
  assert.ok(logs.some((m) => m.includes('"bad host"')));
});

test('concurrent calls on one directory agree on one CA and consistent pairs', async () => {
  const dir = tmpDir();
  const all = await Promise.all([ensurePki(dir, fixed), ensurePki(dir, fixed), ensurePki(dir, { ...fixed, sans: ['x.example.com'] })]);
  assert.equal(new Set(all.map((p) => p.caCertPem)).size, 1);
  const last = await ensurePki(dir, { ...fixed, sans: ['x.example.com'] });
  assert.deepEqual(last, all[2]);
  assert.ok(keyMatches(read(dir, 'serving.crt'), read(dir, 'serving.key')));
});

test('issueClientCert issues a CA-signed client certificate and caches it by name', async () => {
  const dir = tmpDir();
  const pki = await ensurePki(dir, fixed);
  const a = await issueClientCert(pki, { name: 'node-worker-1', commonName: 'system:node:worker-1', organizations: ['system:nodes'] });
  assert.deepEqual(certFacts(a.certPem).subject, { commonName: 'system:node:worker-1', organizations: ['system:nodes'] });
  assert.ok(certFacts(a.certPem).clientAuth && !certFacts(a.certPem).serverAuth);
  assert.equal(read(dir, 'node-worker-1.crt'), a.certPem);
  assert.equal(read(dir, 'node-worker-1.key'), a.keyPem);
  assert.equal(mode(dir, 'node-worker-1.key'), 0o600);
  const crt = path.join(dir, 'node-worker-1.crt');
  assert.equal(openssl('verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslclient', crt), `${crt}: OK\n`);
  const again = await issueClientCert(pki, { name: 'node-worker-1', commonName: 'system:node:worker-1', organizations: ['system:nodes'] });
  assert.deepEqual(again, a);
});

test('issueClientCert reissues when the requested subject changes', async () => {
  const dir = tmpDir();
  const pki = await ensurePki(dir, fixed);
  const a = await issueClientCert(pki, { name: 'kcm', commonName: 'system:kube-controller-manager' });
  const b = await issueClientCert(pki, { name: 'kcm', commonName: 'system:kube-controller-manager', organizations: ['extra'] });
  assert.notEqual(b.certPem, a.certPem);
  assert.deepEqual(certFacts(b.certPem).subject.organizations, ['extra']);
});

test('issueClientCert refuses an empty common name', async () => {
  const pki = await ensurePki(tmpDir(), fixed);
  await assert.rejects(issueClientCert(pki, { name: 'x', commonName: '' }), isInvalidConfig);
});

for (const name of ['ca', 'serving', 'admin', '', '../x', 'a/b', '.hidden']) {
  test(`issueClientCert refuses the file name ${JSON.stringify(name)}`, async () => {
    const pki = await ensurePki(tmpDir(), fixed);
    await assert.rejects(issueClientCert(pki, { name, commonName: 'x' }), isInvalidConfig);
  });
}

test('issueServingCert issues a serverAuth certificate with the given SANs and reissues when they change', async () => {
  const dir = tmpDir();
  const pki = await ensurePki(dir, fixed);
  const a = await issueServingCert(pki, { name: 'kubelet-serving', commonName: 'system:node:worker-1', sans: ['worker-1', '192.0.2.9'] });
  assert.deepEqual(sanList(a.certPem), ['dns:worker-1', 'ip:192.0.2.9']);
  assert.ok(certFacts(a.certPem).serverAuth && issuedBy(a.certPem, pki.caCertPem));
  assert.deepEqual(await issueServingCert(pki, { name: 'kubelet-serving', commonName: 'system:node:worker-1', sans: ['192.0.2.9', 'Worker-1'] }), a);
  const b = await issueServingCert(pki, { name: 'kubelet-serving', commonName: 'system:node:worker-1', sans: ['worker-1'] });
  assert.notEqual(b.certPem, a.certPem);
  await assert.rejects(issueServingCert(pki, { name: 'x', commonName: 'x', sans: [] }), isInvalidConfig);
});
