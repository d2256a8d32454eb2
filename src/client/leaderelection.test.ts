/**
 * Leader election against a real `bosun server`, with short durations: one leader at a time,
 * prompt hand-over on release, take-over after expiry without one, and loss of a stolen lease.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { startServer, type ServerHandle } from '../../test/e2e/harness.ts';
import type { KubeObject } from '../api/types.ts';
import { createClient } from './index.ts';
import { defaultIdentity, LeaderElector, microTime, type LeaderElectionOptions } from './leaderelection.ts';
import type { RestClient } from './rest.ts';
import { resources } from './resources.ts';

let server: ServerHandle;
let client: RestClient;

before(async () => {
  server = await startServer();
  client = await createClient({ kubeconfig: server.kubeconfig, component: 'leader-election-test' });
});

after(async () => {
  await client?.transport.close();
  await server?.stop();
});

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const microTimeRe = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/** An elector with test durations that records what happens to it. */
function candidate(lease: string, identity: string, extra: Partial<LeaderElectionOptions> = {}) {
  const state = { leading: false, started: 0, stopped: 0, leaders: [] as string[], leadSignal: null as AbortSignal | null };
  const ac = new AbortController();
  const elector = new LeaderElector({
    client,
    namespace: 'kube-system',
    name: lease,
    identity,
    leaseDurationMs: 1500,
    renewDeadlineMs: 1000,
    retryPeriodMs: 200,
    log: () => {},
    onStartedLeading(signal) {
      state.leading = true;
      state.started++;
      state.leadSignal = signal;
      signal.addEventListener('abort', () => (state.leading = false));
    },
    onStoppedLeading() {
      state.stopped++;
    },
    onNewLeader(id) {
      state.leaders.push(id);
    },
    ...extra,
  });
  const run = elector.run(ac.signal);
  return { elector, state, stop: async () => (ac.abort(), await run), run };
}

const spec = async (name: string) => ((await client.get<KubeObject>(resources.leases, name, { namespace: 'kube-system' }))['spec'] ?? {}) as Record<string, unknown>;

test('identities and lease times have upstream shapes', () => {
  assert.match(defaultIdentity(), new RegExp(`^${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_[0-9a-f-]{36}$`));
  assert.equal(microTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678)), '2025-01-02T03:04:05.678000Z');
  assert.throws(() => new LeaderElector({ client, namespace: 'x', name: 'y', leaseDurationMs: 1000, renewDeadlineMs: 1000, onStartedLeading() {} }), RangeError);
});

test('of two candidates exactly one leads; on a clean stop the other takes over at once', async () => {
  const a = candidate('handover', 'a');
  const b = candidate('handover', 'b');
  try {
    await until('a leader', () => a.state.leading || b.state.leading);
    const [leader, follower] = a.state.leading ? [a, b] : [b, a];
    const first = await spec('handover');
    assert.equal(first['holderIdentity'], leader.elector.identity);
    assert.equal(first['leaseDurationSeconds'], 1);
    assert.equal(first['leaseTransitions'], 0);
    assert.match(String(first['acquireTime']), microTimeRe);
    assert.match(String(first['renewTime']), microTimeRe);
    // Renewals move renewTime, not acquireTime; the follower stays a follower.
    await until('a renewal', async () => (await spec('handover'))['renewTime'] !== first['renewTime']);
    const renewed = await spec('handover');
    assert.equal(renewed['acquireTime'], first['acquireTime']);
    assert.equal(follower.state.started, 0);
    assert.equal(leader.elector.isLeader(), true);
    await until('both to hear of the leader', () => a.state.leaders.length > 0 && b.state.leaders.length > 0);
    assert.equal(follower.elector.getLeader(), leader.elector.identity);
    assert.equal(follower.elector.isLeader(), false);
    assert.deepEqual(follower.state.leaders, [leader.elector.identity]);

    const stoppedAt = Date.now();
    await leader.stop();
    assert.equal(leader.state.stopped, 1);
    assert.equal(leader.state.leadSignal?.aborted, true);
    await until('the follower to lead', () => follower.state.leading);
    assert.ok(Date.now() - stoppedAt < 1000, 'a released lease is taken over without waiting for expiry');
    const after = await spec('handover');
    assert.equal(after['holderIdentity'], follower.elector.identity);
    assert.equal(after['leaseTransitions'], 1);
    assert.equal(after['leaseDurationSeconds'], 1);
    assert.deepEqual(follower.state.leaders, [leader.elector.identity, follower.elector.identity]);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('without a release the follower waits for the lease to expire', async () => {
  const a = candidate('expiry', 'a', { releaseOnCancel: false });
  await until('a to lead', () => a.state.leading);
  const b = candidate('expiry', 'b');
  try {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(b.state.started, 0);
    const stoppedAt = Date.now();
    await a.stop();
    assert.equal((await spec('expiry'))['holderIdentity'], 'a', 'not released');
    await until('b to take over', () => b.state.leading);
    assert.ok(Date.now() - stoppedAt >= 600, 'the take-over waited for expiry');
    assert.equal((await spec('expiry'))['leaseTransitions'], 1);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('a leader whose lease is taken away stops leading after the renew deadline', async () => {
  const a = candidate('stolen', 'a');
  try {
    await until('a to lead', () => a.state.leading);
    // The leader renews meanwhile: take the lease over as a real intruder would, retrying on conflict.
    await until('the intruder to take the lease', async () => {
      const lease = await client.get<KubeObject>(resources.leases, 'stolen', { namespace: 'kube-system' });
      try {
        await client.update(resources.leases, { ...lease, spec: { ...(lease['spec'] as object), holderIdentity: 'intruder', leaseDurationSeconds: 60, renewTime: microTime(Date.now()) } });
        return true;
      } catch (err) {
        if ((err as { status?: { code?: number } }).status?.code === 409) return false;
        throw err;
      }
    });
    await until('a to lose the lead', () => !a.state.leading);
    await a.run;
    assert.equal(a.state.stopped, 1);
    assert.equal((await spec('stolen'))['holderIdentity'], 'intruder', 'a lost leader does not release what it no longer holds');
  } finally {
    await a.stop();
  }
});
