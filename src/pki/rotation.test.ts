/**
 * Certificate rotation: the schedule (upstream's jittered 70–90 % of the validity), the retry
 * backoff, the test lifetime variable, the rotator on a fake clock, and the real reissue in a
 * child process on a temporary directory.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { FakeClock } from '../client/clock.ts';
import { isCode } from '../util/errors.ts';
import { ensurePki, issueClientCert, nearExpiry } from './index.ts';
import { ensurePkiIsolated, reissueIsolated, type IsolatedPkiRequest } from './isolated.ts';
import { certLifetimeFromEnv, CertRotator, liveCertAndKey, retryDelayMs, rotationDeadline } from './rotation.ts';
import { createCertificate, certFacts, issuedBy, keyMatches, type CertAndKey } from './x509.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-rotation-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const tmpDir = () => path.join(fs.mkdtempSync(path.join(root, 'd-')), 'tls');
const serial = (pem: string) => new X509Certificate(pem).serialNumber;
const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');

const t0 = new Date('2030-01-01T00:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

for (const c of [
  { name: 'the earliest deadline is 70 % of the validity after notBefore', random: 0, want: 70 },
  { name: 'the middle of the jitter is 80 %', random: 0.5, want: 80 },
  { name: 'the latest deadline approaches 90 %', random: 0.999999, want: 89.9999 },
]) {
  test(c.name, () => {
    const d = rotationDeadline({ notBefore: t0, notAfter: at(100) }, () => c.random);
    assert.ok(Math.abs(d.getTime() - at(c.want).getTime()) < 1, `${d.toISOString()}`);
  });
}

test('a one-year certificate is rotated between day 255.5 and day 328.5', () => {
  for (const r of [0, 0.3, 0.7, 0.999]) {
    const d = rotationDeadline({ notBefore: t0, notAfter: at(365 * 86_400) }, () => r);
    const days = (d.getTime() - t0.getTime()) / 86_400_000;
    assert.ok(days >= 255.5 && days < 328.5, `${days}`);
  }
});

for (const c of [
  { failures: 1, want: 2_000 },
  { failures: 2, want: 4_000 },
  { failures: 5, want: 32_000 },
  { failures: 6, want: 32_000 },
  { failures: 100, want: 32_000 },
]) {
  test(`after ${c.failures} failed attempt(s) the next one waits ${c.want / 1000} s`, () => assert.equal(retryDelayMs(c.failures), c.want));
}

for (const c of [
  { name: 'an unset lifetime variable means the default lifetime', env: {}, want: undefined },
  { name: 'an empty lifetime variable means the default lifetime', env: { BOSUN_CERT_LIFETIME_SECONDS: '' }, want: undefined },
  { name: 'a lifetime of 30 seconds is taken', env: { BOSUN_CERT_LIFETIME_SECONDS: '30' }, want: 30 },
]) {
  test(c.name, () => assert.equal(certLifetimeFromEnv(c.env), c.want));
}

for (const v of ['abc', '5', '1.5', '-30', '30s']) {
  test(`a lifetime of ${JSON.stringify(v)} is refused`, () => {
    assert.throws(() => certLifetimeFromEnv({ BOSUN_CERT_LIFETIME_SECONDS: v }), (e) => isCode(e, 'ERR_INVALID_CONFIG'));
  });
}

for (const c of [
  { name: 'a one-year certificate with 31 days left is kept at start', total: 365 * 86_400, left: 31 * 86_400, want: false },
  { name: 'a one-year certificate with 30 days left is replaced at start', total: 365 * 86_400, left: 30 * 86_400, want: true },
  { name: 'a 30-second certificate with 20 seconds left is kept at start', total: 30, left: 20, want: false },
  { name: 'a 30-second certificate with 2 seconds left is replaced at start', total: 30, left: 2, want: true },
  { name: 'an expired certificate is replaced at start', total: 30, left: -1, want: true },
]) {
  test(c.name, () => assert.equal(nearExpiry({ notBefore: t0, notAfter: at(c.total) }, at(c.total - c.left)), c.want));
}

// ---- the rotator on a fake clock ------------------------------------------------------------------

/** A CA and a signer of leaves with a given validity (in the fake clock's time). */
async function signer() {
  const ca = await createCertificate({ kind: 'ca', subject: { commonName: 'test-ca' }, notBefore: at(-10), notAfter: at(10 * 365 * 86_400) });
  return (from: Date, seconds: number) => createCertificate({ kind: 'client', subject: { commonName: 'c' }, notBefore: from, notAfter: new Date(from.getTime() + seconds * 1000) }, ca);
}

function rotatorWith(clock: FakeClock, reissue: (names: string[]) => Promise<Record<string, CertAndKey>>) {
  const logs: string[] = [];
  const rotator = new CertRotator({ reissue, clock, random: () => 0.5, log: (m) => logs.push(m) });
  return { rotator, logs };
}

/** Steps the fake clock and waits for any renewal the step started. */
async function step(clock: FakeClock, rotator: CertRotator, ms: number): Promise<void> {
  clock.step(ms);
  await rotator.tick();
}

test('a leaf is renewed at its deadline, not before, and consumers get the new pair', async () => {
  const sign = await signer();
  const clock = new FakeClock(t0.getTime());
  const calls: string[][] = [];
  const { rotator, logs } = rotatorWith(clock, async (names) => {
    calls.push(names);
    return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await sign(new Date(clock.now()), 100)] as const)));
  });
  const first = await sign(t0, 100);
  const cert = rotator.add('scheduler', first);
  const seen: string[] = [];
  cert.onChange((p) => void seen.push(serial(p.certPem)));
  const live = liveCertAndKey(cert);
  const abort = new AbortController();
  const running = rotator.run(abort.signal);
  assert.deepEqual(rotator.schedule(), { scheduler: at(80) });

  await step(clock, rotator, 79_999);
  assert.deepEqual(calls, []);
  assert.equal(live.certPem, first.certPem);

  await step(clock, rotator, 1);
  assert.deepEqual(calls, [['scheduler']]);
  assert.notEqual(cert.current().certPem, first.certPem);
  assert.equal(live.certPem, cert.current().certPem, 'the live view reads the new pair');
  assert.equal(live.keyPem, cert.current().keyPem);
  assert.deepEqual(seen, [serial(cert.current().certPem)]);
  // The next deadline: 80 % of the new certificate's validity, which began at 80 s.
  assert.deepEqual(rotator.schedule(), { scheduler: at(160) });
  assert.ok(logs.some((l) => /scheduler\.crt renewed \(serial/.test(l)), logs.join('\n'));

  await step(clock, rotator, 80_000);
  assert.equal(calls.length, 2);
  abort.abort();
  await running;
});

test('leaves due together are reissued in one call; others wait for their own deadline', async () => {
  const sign = await signer();
  const clock = new FakeClock(t0.getTime());
  const calls: string[][] = [];
  const { rotator } = rotatorWith(clock, async (names) => {
    calls.push([...names].sort());
    return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await sign(new Date(clock.now()), 100)] as const)));
  });
  rotator.add('a', await sign(t0, 100));
  rotator.add('b', await sign(t0, 100));
  rotator.add('c', await sign(t0, 150));
  const abort = new AbortController();
  const running = rotator.run(abort.signal);
  await step(clock, rotator, 80_000);
  assert.deepEqual(calls, [['a', 'b']]);
  await step(clock, rotator, 39_999);
  assert.equal(calls.length, 1);
  await step(clock, rotator, 1);
  assert.deepEqual(calls, [['a', 'b'], ['c']]);
  abort.abort();
  await running;
});

test('a failed renewal is logged and retried after 2, 4, 8 s; the old pair stays in use meanwhile', async () => {
  const sign = await signer();
  const clock = new FakeClock(t0.getTime());
  let attempts = 0;
  const { rotator, logs } = rotatorWith(clock, async (names) => {
    attempts++;
    if (attempts <= 3) throw new Error('certificate issuing exited with 1');
    return { [names[0]!]: await sign(new Date(clock.now()), 100) };
  });
  const first = await sign(t0, 100);
  const cert = rotator.add('admin', first);
  const abort = new AbortController();
  const running = rotator.run(abort.signal);
  await step(clock, rotator, 80_000);
  assert.equal(attempts, 1);
  assert.deepEqual(rotator.schedule(), { admin: at(82) });
  assert.ok(logs.some((l) => l === 'pki: renewing admin.crt failed (issuing failed: certificate issuing exited with 1); retrying in 2s'), logs.join('\n'));
  assert.equal(cert.current(), first);
  await step(clock, rotator, 1_999);
  assert.equal(attempts, 1);
  await step(clock, rotator, 1);
  assert.equal(attempts, 2);
  assert.deepEqual(rotator.schedule(), { admin: at(86) });
  await step(clock, rotator, 4_000);
  assert.equal(attempts, 3);
  assert.deepEqual(rotator.schedule(), { admin: at(94) });
  await step(clock, rotator, 8_000);
  assert.equal(attempts, 4);
  assert.notEqual(cert.current(), first);
  abort.abort();
  await running;
});

test('a consumer that cannot take the new pair makes the renewal count as failed and retried', async () => {
  const sign = await signer();
  const clock = new FakeClock(t0.getTime());
  let attempts = 0;
  const { rotator, logs } = rotatorWith(clock, async (names) => {
    attempts++;
    return { [names[0]!]: await sign(new Date(clock.now()), 100) };
  });
  const cert = rotator.add('admin', await sign(t0, 100));
  let failing = true;
  const taken: string[] = [];
  cert.onChange(async (p) => {
    if (failing) throw new Error('ENOSPC: no space left on device');
    taken.push(p.certPem);
  });
  const abort = new AbortController();
  const running = rotator.run(abort.signal);
  await step(clock, rotator, 80_000);
  assert.ok(logs.some((l) => l.includes('renewing admin.crt failed (taking it into use failed: ENOSPC')), logs.join('\n'));
  // A consumer failing again backs off further (2 s, then 4 s), as any failed renewal.
  await step(clock, rotator, 2_000);
  assert.equal(attempts, 2);
  assert.deepEqual(rotator.schedule(), { admin: at(86) });
  failing = false;
  await step(clock, rotator, 4_000);
  assert.equal(attempts, 3);
  assert.deepEqual(taken, [cert.current().certPem]);
  abort.abort();
  await running;
});

test('a leaf that cannot outlive the old one (the CA ends first) stops rotating with a message', async () => {
  const sign = await signer();
  const clock = new FakeClock(t0.getTime());
  const first = await sign(t0, 100);
  let attempts = 0;
  const { rotator, logs } = rotatorWith(clock, async () => {
    attempts++;
    // Capped at the same end as the old certificate.
    return { serving: await sign(new Date(clock.now()), 20) };
  });
  rotator.add('serving', first);
  const abort = new AbortController();
  const running = rotator.run(abort.signal);
  await step(clock, rotator, 80_000);
  assert.equal(attempts, 1);
  assert.ok(logs.some((l) => l.includes('serving.crt cannot be renewed past') && l.includes('restart the server to renew the CA')), logs.join('\n'));
  await step(clock, rotator, 3_600_000);
  assert.equal(attempts, 1);
  abort.abort();
  await running;
});

test('run resolves once the signal aborts and no timer is left behind', async () => {
  const sign = await signer();
  const clock = new FakeClock(t0.getTime());
  const { rotator } = rotatorWith(clock, async () => ({}));
  rotator.add('a', await sign(t0, 100));
  const abort = new AbortController();
  const running = rotator.run(abort.signal);
  assert.equal(clock.pending, 1);
  abort.abort();
  await running;
  assert.equal(clock.pending, 0);
});

// ---- the real reissue -----------------------------------------------------------------------------

test('short-lived leaves: issued with the test lifetime, reissued on request in a child process, the others left alone', async () => {
  const dir = tmpDir();
  const req: IsolatedPkiRequest = {
    dir,
    sans: [],
    hostnames: ['node-1'],
    clients: [{ name: 'scheduler', commonName: 'system:kube-scheduler' }],
    servings: [{ name: 'agent-serving', commonName: 'node-1', sans: ['node-1', '127.0.0.1'] }],
    leafLifetimeSeconds: 60,
  };
  const started = Date.now();
  const { pki, clients } = await ensurePkiIsolated(req, () => {});
  const sched = certFacts(clients['scheduler']!.certPem);
  // 60 s from now, backdated by a tenth of that (not the usual five minutes).
  assert.ok(Math.abs(sched.notAfter.getTime() - started - 60_000) < 5_000, sched.notAfter.toISOString());
  assert.ok(Math.abs(sched.notAfter.getTime() - sched.notBefore.getTime() - 66_000) < 2_000);
  const before = { serving: pki.servingCertPem, admin: pki.adminCertPem, scheduler: clients['scheduler']!.certPem, agent: clients['agent-serving']!.certPem, ca: pki.caCertPem };

  const logs: string[] = [];
  const renewed = await reissueIsolated(req, ['serving', 'scheduler'], (m) => logs.push(m));
  assert.deepEqual(Object.keys(renewed).sort(), ['scheduler', 'serving']);
  assert.notEqual(serial(renewed['serving']!.certPem), serial(before.serving));
  assert.notEqual(serial(renewed['scheduler']!.certPem), serial(before.scheduler));
  assert.deepEqual(logs.sort(), ['pki: issuing scheduler.crt (rotation)', 'pki: issuing serving.crt (rotation)']);
  for (const [name, pair] of Object.entries(renewed)) {
    assert.equal(read(dir, `${name}.crt`), pair.certPem, `${name}.crt on disk`);
    assert.equal(read(dir, `${name}.key`), pair.keyPem, `${name}.key on disk`);
    assert.equal(fs.statSync(path.join(dir, `${name}.key`)).mode & 0o777, 0o600);
    assert.ok(keyMatches(pair.certPem, pair.keyPem));
    assert.ok(issuedBy(pair.certPem, before.ca));
  }
  // Same subject and SANs as before; the others and the CA untouched.
  assert.deepEqual(certFacts(renewed['serving']!.certPem).sans, certFacts(before.serving).sans);
  assert.deepEqual(certFacts(renewed['scheduler']!.certPem).subject, sched.subject);
  assert.equal(read(dir, 'admin.crt'), before.admin);
  assert.equal(read(dir, 'agent-serving.crt'), before.agent);
  assert.equal(read(dir, 'ca.crt'), before.ca);
  await assert.rejects(reissueIsolated(req, ['ca'], () => {}), /no leaf certificate named ca/);
  await assert.rejects(reissueIsolated(req, ['nobody'], () => {}), /no leaf certificate named nobody/);
});

test('renew forces a new pair even when the stored one is fit for use', async () => {
  const dir = tmpDir();
  const pki = await ensurePki(dir, { hostnames: ['node-1'], addresses: [] });
  const a = await issueClientCert(pki, { name: 'c', commonName: 'u' });
  const same = await issueClientCert(pki, { name: 'c', commonName: 'u' });
  const forced = await issueClientCert(pki, { name: 'c', commonName: 'u', renew: true });
  assert.equal(same.certPem, a.certPem);
  assert.notEqual(forced.certPem, a.certPem);
  const again = await ensurePki(dir, { hostnames: ['node-1'], addresses: [], renew: ['admin'] });
  assert.notEqual(again.adminCertPem, pki.adminCertPem);
  assert.equal(again.servingCertPem, pki.servingCertPem);
});
