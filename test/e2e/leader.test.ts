/**
 * Issue 4 end to end: the controller manager is leader-elected on the
 * kube-system/kube-controller-manager Lease. `bosun server` runs one in-process and the Lease
 * names it; two `bosun controller-manager` processes against one API server never both lead, and
 * the follower takes over within the lease duration once the leader stops (cleanly or killed).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startServer, kubectlOk, bosunBin, until, type ServerHandle } from './harness.ts';

interface Lease {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number; acquireTime?: string; renewTime?: string };
}

async function lease(server: ServerHandle): Promise<Lease | null> {
  const out = await kubectlOk(server, '', ['-n', 'kube-system', 'get', 'lease', '--ignore-not-found', '-o', 'json']);
  if (!out.trim()) return null;
  const items = (JSON.parse(out) as { items: (Lease & { metadata: { name: string } })[] }).items;
  return items.find((l) => l.metadata.name === 'kube-controller-manager') ?? null;
}


describe('bosun server runs a leader-elected controller manager', () => {
  let server: ServerHandle;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test('the controller-manager Lease exists and names the holder', async () => {
    const l = await until('the lease', async () => {
      const x = await lease(server);
      return x?.spec.holderIdentity ? x : null;
    });
    assert.match(l.spec.holderIdentity!, /_[0-9a-f-]{36}$/);
    assert.equal(l.spec.leaseDurationSeconds, 15);
    assert.match(l.spec.renewTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });
});

describe('two controller managers against one API server', () => {
  let server: ServerHandle;
  const procs: ChildProcess[] = [];
  const outputs = new Map<ChildProcess, string>();

  before(async () => {
    server = await startServer({ args: ['--disable-controller-manager'] });
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await server?.stop();
  });

  function manager(): ChildProcess {
    const p = spawn(bosunBin, [
      'controller-manager',
      '--kubeconfig', server.kubeconfig,
      '--leader-elect-lease-duration', '3s',
      '--leader-elect-renew-deadline', '2s',
      '--leader-elect-retry-period', '250ms',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    outputs.set(p, '');
    p.stdout!.on('data', (d: Buffer) => outputs.set(p, outputs.get(p) + d.toString()));
    p.stderr!.on('data', (d: Buffer) => outputs.set(p, outputs.get(p) + d.toString()));
    procs.push(p);
    return p;
  }

  const identityOf = (p: ChildProcess) => /leader election \S+: (\S+) attempting/.exec(outputs.get(p) ?? '')?.[1];
  const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : p.on('exit', () => r())));

  test('exactly one leads; the follower takes over when the leader stops, and again when it is killed', async () => {
    const a = manager();
    const b = manager();
    const ids = await until('both identities', async () => (identityOf(a) && identityOf(b) ? [identityOf(a)!, identityOf(b)!] : null));
    const first = await until('a holder', async () => {
      const h = (await lease(server))?.spec.holderIdentity;
      return h && ids.includes(h) ? h : null;
    });
    // Over a few renewals the holder stays the same and only one process says it leads.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await lease(server))?.spec.holderIdentity, first);
    const leading = [a, b].filter((p) => /acquired the lease/.test(outputs.get(p) ?? ''));
    assert.equal(leading.length, 1, [...outputs.values()].join('\n---\n'));
    const [leader, follower] = identityOf(a) === first ? [a, b] : [b, a];

    // A clean stop releases the lease: the follower takes over well within the lease duration.
    const stoppedAt = Date.now();
    leader.kill('SIGTERM');
    await exited(leader);
    await until('the follower to lead', async () => (await lease(server))?.spec.holderIdentity === identityOf(follower));
    assert.ok(Date.now() - stoppedAt < 3000 + 1000, 'takeover after a clean stop took longer than the lease duration');
    const transitions = (await lease(server))?.spec.leaseTransitions ?? 0;
    assert.ok(transitions >= 1);

    // A third manager joins; the current leader is killed without releasing: takeover after expiry.
    const c = manager();
    await until('the third identity', async () => identityOf(c));
    const killedAt = Date.now();
    follower.kill('SIGKILL');
    await until('the third manager to lead', async () => (await lease(server))?.spec.holderIdentity === identityOf(c), { timeoutMs: 10_000 });
    const took = Date.now() - killedAt;
    assert.ok(took < 3000 + 2000, `takeover after a kill took ${took} ms`);
    c.kill('SIGTERM');
    await exited(c);
  });
});
