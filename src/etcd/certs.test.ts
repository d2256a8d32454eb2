/**
 * The etcd member PKI: roles (issuer, CN, usages, SANs) as k3s lays them out, file modes,
 * idempotence, CAs received from another server reused, leaves reissued on a SAN change or near
 * expiry, broken CAs and bad names refused.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certFacts, issuedBy } from '../pki/x509.ts';
import { isCode } from '../util/errors.ts';
import { ensureEtcdPki, etcdCaFiles, type EtcdPki } from './certs.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-etcd-certs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = () => path.join(root, `pki-${n++}`);
const read = (f: string) => fs.readFileSync(f, 'utf8');
const sansOf = (f: string) => certFacts(read(f)).sans.map((s) => `${s.type}:${s.value}`).sort();

test('each file has the role k3s gives it', async () => {
  const pki = await ensureEtcdPki(newDir(), { hostnames: ['server-1'], ips: ['10.0.0.5'] });
  const wantSans = ['dns:localhost', 'dns:server-1', 'ip:10.0.0.5', 'ip:127.0.0.1'];
  const cases: { name: string; cert: string; ca: string; cn: string | RegExp; server: boolean; client: boolean; isCA: boolean; sans?: string[] }[] = [
    { name: 'server CA', cert: pki.serverCaFile, ca: pki.serverCaFile, cn: /^etcd-server-ca@\d+$/, server: false, client: false, isCA: true },
    { name: 'peer CA', cert: pki.peerCaFile, ca: pki.peerCaFile, cn: /^etcd-peer-ca@\d+$/, server: false, client: false, isCA: true },
    { name: 'serving cert', cert: pki.serverCertFile, ca: pki.serverCaFile, cn: 'etcd-server', server: true, client: true, isCA: false, sans: wantSans },
    { name: 'API server client cert', cert: pki.clientCertFile, ca: pki.serverCaFile, cn: 'etcd-client', server: false, client: true, isCA: false, sans: [] },
    { name: 'peer cert', cert: pki.peerCertFile, ca: pki.peerCaFile, cn: 'etcd-peer', server: true, client: true, isCA: false, sans: wantSans },
  ];
  for (const c of cases) {
    const f = certFacts(read(c.cert));
    assert.ok(issuedBy(read(c.cert), read(c.ca)), `${c.name}: issuer`);
    if (typeof c.cn === 'string') assert.equal(f.subject.commonName, c.cn, c.name);
    else assert.match(f.subject.commonName, c.cn, c.name);
    assert.equal(f.isCA, c.isCA, `${c.name}: CA`);
    if (!c.isCA) assert.deepEqual([f.serverAuth, f.clientAuth], [c.server, c.client], `${c.name}: usages`);
    if (c.sans) assert.deepEqual(sansOf(c.cert), c.sans, `${c.name}: SANs`);
  }
  assert.ok(!issuedBy(read(pki.peerCertFile), read(pki.serverCaFile)), 'the peer cert is not trusted by the client-facing CA');
});

test('keys are 0600, certificates 0644, the directory 0700', async () => {
  const dir = newDir();
  const pki = await ensureEtcdPki(dir, { hostnames: [], ips: [] });
  const mode = (f: string) => fs.statSync(f).mode & 0o777;
  assert.equal(mode(dir), 0o700);
  for (const k of [pki.serverCaKeyFile, pki.peerCaKeyFile, pki.serverKeyFile, pki.clientKeyFile, pki.peerKeyFile]) assert.equal(mode(k), 0o600, k);
  for (const c of [pki.serverCaFile, pki.peerCaFile, pki.serverCertFile, pki.clientCertFile, pki.peerCertFile]) assert.equal(mode(c), 0o644, c);
});

const snapshot = (pki: EtcdPki) => Object.fromEntries(Object.entries(pki).filter(([k]) => k !== 'dir').map(([k, f]) => [k, read(f)]));

test('a second call with the same names rewrites nothing', async () => {
  const dir = newDir();
  const first = snapshot(await ensureEtcdPki(dir, { hostnames: ['h'], ips: ['10.0.0.1'] }));
  const logs: string[] = [];
  const second = snapshot(await ensureEtcdPki(dir, { hostnames: ['h'], ips: ['10.0.0.1'], log: (m) => logs.push(m) }));
  assert.deepEqual(second, first);
  assert.deepEqual(logs, []);
});

test('a joining server reuses the CA files it received and issues its own leaves', async () => {
  const first = await ensureEtcdPki(newDir(), { hostnames: ['s1'], ips: ['10.0.0.1'] });
  const dir = newDir();
  fs.mkdirSync(dir, { mode: 0o700 });
  for (const f of etcdCaFiles) fs.copyFileSync(path.join(first.dir, f), path.join(dir, f));
  const joined = await ensureEtcdPki(dir, { hostnames: ['s2'], ips: ['10.0.0.2'] });
  for (const f of etcdCaFiles) assert.equal(read(path.join(dir, f)), read(path.join(first.dir, f)), f);
  assert.ok(issuedBy(read(joined.serverCertFile), read(first.serverCaFile)));
  assert.ok(issuedBy(read(joined.peerCertFile), read(first.peerCaFile)));
  assert.notEqual(read(joined.peerCertFile), read(first.peerCertFile));
  assert.deepEqual(sansOf(joined.peerCertFile), ['dns:localhost', 'dns:s2', 'ip:10.0.0.2', 'ip:127.0.0.1']);
});

test('a new address reissues the serving and peer certs, not the client cert or the CAs', async () => {
  const dir = newDir();
  const before = snapshot(await ensureEtcdPki(dir, { hostnames: [], ips: ['10.0.0.1'] }));
  const logs: string[] = [];
  const pki = await ensureEtcdPki(dir, { hostnames: [], ips: ['10.0.0.1', '10.0.0.9'], log: (m) => logs.push(m) });
  const now = snapshot(pki);
  for (const k of ['serverCaFile', 'serverCaKeyFile', 'peerCaFile', 'peerCaKeyFile', 'clientCertFile', 'clientKeyFile']) assert.equal(now[k], before[k], k);
  for (const k of ['serverCertFile', 'peerCertFile']) assert.notEqual(now[k], before[k], k);
  assert.ok(sansOf(pki.peerCertFile).includes('ip:10.0.0.9'));
  assert.deepEqual(logs.sort(), ['etcd pki: issuing peer-server-client.crt (SANs changed)', 'etcd pki: issuing server-client.crt (SANs changed)']);
});

test('leaves near expiry are reissued; the CAs stay', async () => {
  const dir = newDir();
  const before = snapshot(await ensureEtcdPki(dir, { hostnames: [], ips: [] }));
  const later = new Date(Date.now() + 350 * 86_400_000);
  const now = snapshot(await ensureEtcdPki(dir, { hostnames: [], ips: [], now: () => later }));
  for (const k of ['serverCaFile', 'peerCaFile']) assert.equal(now[k], before[k], k);
  for (const k of ['serverCertFile', 'clientCertFile', 'peerCertFile']) assert.notEqual(now[k], before[k], k);
});

test('a deleted leaf key is reissued', async () => {
  const dir = newDir();
  const pki = await ensureEtcdPki(dir, { hostnames: [], ips: [] });
  fs.rmSync(pki.clientKeyFile);
  const again = await ensureEtcdPki(dir, { hostnames: [], ips: [] });
  assert.ok(issuedBy(read(again.clientCertFile), read(again.serverCaFile)));
  assert.ok(fs.existsSync(again.clientKeyFile));
});

test('a CA without its key, or an unparsable CA, is refused rather than replaced', async () => {
  for (const breakIt of [(p: EtcdPki) => fs.rmSync(p.peerCaKeyFile), (p: EtcdPki) => fs.writeFileSync(p.serverCaFile, 'garbage'), (p: EtcdPki) => fs.rmSync(p.serverCaFile)]) {
    const dir = newDir();
    const pki = await ensureEtcdPki(dir, { hostnames: [], ips: [] });
    breakIt(pki);
    await assert.rejects(ensureEtcdPki(dir, { hostnames: [], ips: [] }), (err) => isCode(err, 'ERR_INVALID_CONFIG'));
  }
});

test('a malformed host name is refused', async () => {
  await assert.rejects(ensureEtcdPki(newDir(), { hostnames: ['not a name'], ips: [] }), (err) => isCode(err, 'ERR_INVALID_CONFIG'));
});
