/**
 * Service address claims (./serviceclaims.ts) on a real SQLite store: the first claim wins, the
 * holder's own retries succeed, an address another live Service uses is lost, a claim without its
 * Service is held for the grace period and then taken over, and a claim of a Service that moved
 * on is taken over at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KubeObject } from '../api/types.ts';
import { openSqliteStore, type Store } from '../storage/index.ts';
import { addressesOf, claimGraceMs, ServiceAddressClaims } from './serviceclaims.ts';

const svc = (name: string, uid: string, ip: string, nodePort?: number): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ port: 80, ...(nodePort ? { nodePort } : {}) }] } }) as KubeObject;

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-claims-'));
  const store = openSqliteStore(path.join(dir, 'state.db'));
  try {
    await fn(store);
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('addressesOf lists cluster IPs, node ports and the health-check port; None and empty are no address', () => {
  assert.deepEqual(addressesOf(svc('a', '1', '10.43.0.5', 30001)), { ips: ['10.43.0.5'], ports: [30001] });
  assert.deepEqual(addressesOf({ metadata: {}, spec: { clusterIP: 'None', healthCheckNodePort: 31000 } } as unknown as KubeObject), { ips: [], ports: [31000] });
  assert.deepEqual(addressesOf(undefined), { ips: [], ports: [] });
});

test('the first claim wins; the holder may claim again; another Service using it loses', async () => {
  await withStore(async (store) => {
    const services = new Map<string, KubeObject>();
    let now = 1_000_000;
    const claims = new ServiceAddressClaims(store, async (_ns, name) => services.get(name), () => now);
    const a = svc('a', 'uid-a', '10.43.0.5', 30001);
    assert.deepEqual(await claims.claim(a, undefined), { ips: [], ports: [] });
    assert.deepEqual(await claims.claim(a, undefined), { ips: [], ports: [] }, 'a retried create of the same object');
    // a is being created (not stored yet): b may not take its addresses within the grace period.
    const b = svc('b', 'uid-b', '10.43.0.5', 30001);
    assert.deepEqual(await claims.claim(b, undefined), { ips: ['10.43.0.5'], ports: [30001] });
    services.set('a', a);
    now += claimGraceMs + 1;
    assert.deepEqual(await claims.claim(b, undefined), { ips: ['10.43.0.5'], ports: [30001] }, 'a lives and uses them');
    // a changes its node port: 30001 is free to take; its IP is not.
    services.set('a', svc('a', 'uid-a', '10.43.0.5', 30002));
    assert.deepEqual(await claims.claim(b, undefined), { ips: ['10.43.0.5'], ports: [] });
  });
});

test('a claim whose Service never came is taken over after the grace period; a deleted Service releases its own at once', async () => {
  await withStore(async (store) => {
    const services = new Map<string, KubeObject>();
    let now = 5_000_000;
    const claims = new ServiceAddressClaims(store, async (_ns, name) => services.get(name), () => now);
    assert.deepEqual(await claims.claim(svc('ghost', 'uid-g', '10.43.0.9'), undefined), { ips: [], ports: [] });
    const c = svc('c', 'uid-c', '10.43.0.9');
    assert.deepEqual((await claims.claim(c, undefined)).ips, ['10.43.0.9']);
    now += claimGraceMs + 1;
    assert.deepEqual((await claims.claim(c, undefined)).ips, []);
    // c is deleted and releases its claim: a new Service takes the address at once.
    await claims.release(c);
    assert.deepEqual((await claims.claim(svc('d', 'uid-d', '10.43.0.9'), undefined)).ips, []);
    // A late release of c's does not free d's claim.
    await claims.release(c);
    assert.deepEqual((await claims.claim(svc('d3', 'uid-d3', '10.43.0.9'), undefined)).ips, ['10.43.0.9']);
    now += claimGraceMs + 1;
    // A Service named d again, but another object (another uid), does not hold the old claim.
    services.set('d', svc('d', 'uid-d2', '10.43.0.9'));
    assert.deepEqual((await claims.claim(svc('e', 'uid-e', '10.43.0.9'), undefined)).ips, []);
  });
});

test('only addresses the old object did not have are claimed on update', async () => {
  await withStore(async (store) => {
    const services = new Map<string, KubeObject>();
    const claims = new ServiceAddressClaims(store, async (_ns, name) => services.get(name));
    const x = svc('x', 'uid-x', '10.43.0.20', 30100);
    services.set('x', x);
    assert.deepEqual(await claims.claim(x, undefined), { ips: [], ports: [] });
    // y held its IP before claims existed (no claim key) and now adds a node port x holds.
    const yOld = svc('y', 'uid-y', '10.43.0.21');
    const y = svc('y', 'uid-y', '10.43.0.21', 30100);
    services.set('y', yOld);
    assert.deepEqual(await claims.claim(y, yOld), { ips: [], ports: [30100] });
  });
});
