import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lease } from '../api/index.ts';
import { apiServerLeaseName, desiredEndpoints, desiredSlice, leaseLive } from './endpointreconciler.ts';
import { bindCovers, defaultAdvertiseAddress, onBosunBridge } from './advertise.ts';

test('the lease name is apiserver- and 26 base32 characters, stable per host, address and port', () => {
  const a = apiServerLeaseName('vm', '10.42.0.1', 6443);
  assert.match(a, /^apiserver-[a-z2-7]{26}$/);
  assert.equal(apiServerLeaseName('vm', '10.42.0.1', 6443), a);
  assert.notEqual(apiServerLeaseName('vm', '10.42.0.1', 6444), a);
});

test('a lease is live until renewTime plus its duration', () => {
  const lease = (renew: string | undefined): Lease => ({ metadata: {}, spec: { renewTime: renew, leaseDurationSeconds: 15 } });
  const t = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(leaseLive(lease('2026-01-01T00:00:00.000000Z'), t + 14_999), true);
  assert.equal(leaseLive(lease('2026-01-01T00:00:00.000000Z'), t + 15_000), false);
  assert.equal(leaseLive(lease(undefined), t), false);
});

test('Endpoints and EndpointSlice have upstream’s shape: one subset, port https, skip-mirror / service-name labels', () => {
  const ep = desiredEndpoints(undefined, ['10.42.0.1', '10.42.0.2'], 6443);
  assert.deepEqual(ep.metadata, { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } });
  assert.deepEqual(ep.subsets, [{ addresses: [{ ip: '10.42.0.1' }, { ip: '10.42.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
  const s = desiredSlice(undefined, ['10.42.0.1'], 6443);
  assert.deepEqual(s.metadata.labels, { 'kubernetes.io/service-name': 'kubernetes' });
  assert.equal(s.addressType, 'IPv4');
  assert.deepEqual(s.endpoints, [{ addresses: ['10.42.0.1'], conditions: { ready: true } }]);
  assert.equal(desiredSlice(undefined, ['fd00::1'], 6443).addressType, 'IPv6');
  // Metadata of the stored object is kept (resourceVersion for the compare-and-swap), labels reset.
  const kept = desiredEndpoints({ metadata: { name: 'kubernetes', namespace: 'default', resourceVersion: '7', labels: { x: 'y' } } }, ['10.42.0.1'], 1);
  assert.equal(kept.metadata.resourceVersion, '7');
  assert.deepEqual(kept.metadata.labels, { 'endpointslice.kubernetes.io/skip-mirror': 'true' });
});

const advertiseCases = [
  { name: 'the flag wins', in: { flag: '10.0.0.5', agentNodeIP: '10.42.0.1', bindAddress: '127.0.0.1' }, want: '10.0.0.5' },
  { name: 'the agent node IP when the agent runs', in: { agentNodeIP: '10.42.0.1', bindAddress: '127.0.0.1' }, want: '10.42.0.1' },
  { name: 'a non-loopback bind address otherwise', in: { bindAddress: '192.168.5.2' }, want: '192.168.5.2' },
  { name: 'none for a loopback bind', in: { bindAddress: '127.0.0.1' }, want: undefined },
  { name: 'none for a wildcard bind', in: { bindAddress: '0.0.0.0' }, want: undefined },
];
for (const c of advertiseCases) test(`advertise address: ${c.name}`, () => assert.equal(defaultAdvertiseAddress(c.in), c.want));

test('which bind addresses already cover the advertise address', () => {
  assert.equal(bindCovers('127.0.0.1', '10.42.0.1'), false);
  assert.equal(bindCovers('10.42.0.1', '10.42.0.1'), true);
  assert.equal(bindCovers('0.0.0.0', '10.42.0.1'), true);
  assert.equal(bindCovers('0.0.0.0', 'fd00::1'), false);
  assert.equal(bindCovers('::', 'fd00::1'), true);
});

test('only addresses on Bosun bridges are listened on', () => {
  const info = (address: string) => ({ address, netmask: '', family: 'IPv4' as const, mac: '', internal: false, cidr: null });
  const ifs = { eth0: [info('192.168.1.2')], bosun0: [info('10.42.0.1')] };
  assert.equal(onBosunBridge('10.42.0.1', ifs), true);
  assert.equal(onBosunBridge('192.168.1.2', ifs), false);
});
