/**
 * host-gw routes: which routes a node wants (tables), the guard's hosts-link rule, and (root
 * only, under `flock /tmp/bosun-agent.lock`) syncRoutes against the kernel inside a namespace
 * of the test's own, `bosun-rt-test`, whose only link is a veth with 10.45.0.1/24.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guardRules } from './guard.ts';
import { desiredRoutes, type RoutedNode } from './routes.ts';
import { run, runOk } from './exec.ts';

const node = (name: string, podCIDR: string | undefined, ip: string | undefined): RoutedNode => ({
  metadata: { name },
  spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
  status: { addresses: ip ? [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] : [{ type: 'Hostname', address: name }] },
});
const self = { nodeName: 'a', podCidr: '10.42.0.0/24', nodeIP: '10.44.0.11', clusterCidr: '10.42.0.0/16' };

describe('desiredRoutes', () => {
  const cases: { name: string; nodes: RoutedNode[]; want: [string, string][] }[] = [
    { name: 'every other node with a range and an InternalIP', nodes: [node('a', '10.42.0.0/24', '10.44.0.11'), node('b', '10.42.1.0/24', '10.44.0.12'), node('c', '10.42.2.0/24', '10.44.0.13')], want: [['10.42.1.0/24', '10.44.0.12'], ['10.42.2.0/24', '10.44.0.13']] },
    { name: 'a node without a range yet is skipped', nodes: [node('b', undefined, '10.44.0.12')], want: [] },
    { name: 'a node without an InternalIP is skipped', nodes: [node('b', '10.42.1.0/24', undefined)], want: [] },
    { name: 'a range outside the cluster range is never routed', nodes: [node('b', '10.244.0.0/24', '10.44.0.12'), node('c', '0.0.0.0/0', '10.44.0.13')], want: [] },
    { name: 'a range overlapping this node\'s is never routed', nodes: [node('b', '10.42.0.0/25', '10.44.0.12')], want: [] },
    { name: 'a gateway that is this node\'s own address is never used', nodes: [node('b', '10.42.1.0/24', '10.44.0.11')], want: [] },
    { name: 'two nodes claiming one range: the first by name wins', nodes: [node('c', '10.42.1.0/24', '10.44.0.13'), node('b', '10.42.1.0/24', '10.44.0.12')], want: [['10.42.1.0/24', '10.44.0.12']] },
    { name: 'IPv6 ranges are left out', nodes: [{ ...node('b', '10.42.1.0/24', '10.44.0.12'), spec: { podCIDRs: ['fd00::/64', '10.42.1.0/24'] } }], want: [['10.42.1.0/24', '10.44.0.12']] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual([...desiredRoutes(c.nodes, self)], c.want));
});

describe('the guard with a hosts link', () => {
  test('lets traffic to the pod range out through the link, before anything is rejected', () => {
    for (const t of guardRules({ podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0', hostLink: 'eth0' })) {
      const i = t.rules.findIndex((r) => r.includes('-o') && r.includes('eth0'));
      assert.ok(i >= 0, `${t.table}: a rule for eth0`);
      assert.deepEqual(t.rules[i]!.slice(0, 6), ['-A', t.chain, '-d', '10.42.0.0/16', '-o', 'eth0']);
      assert.equal(t.rules[i]!.at(-1), 'RETURN');
      const firstBlock = t.rules.findIndex((r) => r.includes('REJECT') || r.includes('DROP'));
      assert.ok(i < firstBlock, `${t.table}: the link rule comes before the blocking rules`);
      assert.equal(t.rules.length - firstBlock, 3, `${t.table}: the three blocking rules stay`);
    }
  });
  test('without a link the rules are as before', () => {
    const plain = guardRules({ podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0' });
    assert.ok(plain.every((t) => t.rules.every((r) => !r.includes('eth0'))));
  });
  test('a bad link name is refused', () => assert.throws(() => guardRules({ podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0', hostLink: 'eth0; rm' })));
  test('with the link network, traffic to it (other nodes, the API server) leaves through the link too', () => {
    for (const t of guardRules({ podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0', hostLink: 'eth0', hostLinkCidr: '10.44.0.11/24' })) {
      const i = t.rules.findIndex((r) => r.includes('10.44.0.0/24'));
      assert.deepEqual([...t.rules[i]!.slice(2, 6), t.rules[i]!.at(-1)], ['-d', '10.44.0.0/24', '-o', 'eth0', 'RETURN']);
      assert.ok(i < t.rules.findIndex((r) => r.includes('REJECT') || r.includes('DROP')), `${t.table}: before the blocking rules`);
    }
    assert.throws(() => guardRules({ podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0', hostLink: 'eth0', hostLinkCidr: '10.0.0.0/8' }), /overlaps/);
  });
});

const NS = 'bosun-rt-test';
const skip = process.getuid?.() !== 0 ? 'needs root' : false;

describe('syncRoutes in a namespace', { skip, timeout: 60_000 }, () => {
  const routesModule = fileURLToPath(new URL('./routes.ts', import.meta.url));
  /** Runs `expr` (with `r` = the routes module) inside the namespace; answers its JSON result. */
  const inNs = async (expr: string): Promise<unknown> => {
    const script = `const r = await import(${JSON.stringify(routesModule)}); console.log(JSON.stringify(await (async () => ${expr})()));`;
    const out = await runOk('nsenter', [`--net=/var/run/netns/${NS}`, '--', process.execPath, '--input-type=module', '-e', script]);
    return JSON.parse(out);
  };
  const table = async () => (await runOk('ip', ['-n', NS, '-4', 'route', 'show'])).trim().split('\n').sort();

  before(async () => {
    if (existsSync(`/var/run/netns/${NS}`)) await run('ip', ['netns', 'del', NS]);
    await runOk('ip', ['netns', 'add', NS]);
    await runOk('ip', ['-n', NS, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
    await runOk('ip', ['-n', NS, 'addr', 'add', '10.45.0.1/24', 'dev', 'eth0']);
    await runOk('ip', ['-n', NS, 'link', 'set', 'eth0', 'up']);
    await runOk('ip', ['-n', NS, 'link', 'set', 'eth1', 'up']);
    // A route that is not Bosun's: never touched.
    await runOk('ip', ['-n', NS, 'route', 'add', '10.42.9.0/24', 'via', '10.45.0.9']);
  });
  after(async () => {
    await run('ip', ['netns', 'del', NS]);
  });

  test('adds, replaces and removes only its own routes, idempotently', async () => {
    const before = await table();
    assert.deepEqual(await inNs(`r.syncRoutes(new Map([['10.42.1.0/24', '10.45.0.2'], ['10.42.2.0/24', '10.45.0.3']]))`), { added: ['10.42.1.0/24 via 10.45.0.2', '10.42.2.0/24 via 10.45.0.3'], removed: [], failed: [] });
    assert.deepEqual(await inNs(`r.syncRoutes(new Map([['10.42.1.0/24', '10.45.0.2'], ['10.42.2.0/24', '10.45.0.3']]))`), { added: [], removed: [], failed: [] });
    assert.deepEqual(await inNs(`Object.fromEntries(await r.listRoutes())`), { '10.42.1.0/24': '10.45.0.2', '10.42.2.0/24': '10.45.0.3' });
    assert.deepEqual(await inNs(`r.syncRoutes(new Map([['10.42.1.0/24', '10.45.0.4']]))`), { added: ['10.42.1.0/24 via 10.45.0.4'], removed: ['10.42.2.0/24'], failed: [] });
    assert.deepEqual(await inNs(`r.syncRoutes(new Map([['10.42.1.0/24', '10.45.0.4'], ['10.42.0.0/16', 'unreachable']]))`), { added: ['10.42.0.0/16 via unreachable'], removed: [], failed: [] });
    assert.deepEqual(await inNs(`Object.fromEntries(await r.listRoutes())`), { '10.42.1.0/24': '10.45.0.4', '10.42.0.0/16': 'unreachable' });
    assert.match(await runOk('ip', ['-n', NS, 'route', 'get', '10.42.7.1']).catch((e: Error) => e.message), /No route to host/, "an address no route covers is unreachable");
    const res = (await inNs(`r.syncRoutes(new Map([['10.42.1.0/24', '10.45.0.4'], ['10.42.3.0/24', '192.0.2.1']]))`)) as { failed: string[] };
    assert.equal(res.failed.length, 1, 'a gateway on no connected link fails alone');
    await inNs(`r.removeRoutes().then(() => null)`);
    assert.deepEqual(await table(), before, 'only the routes that were there before are left');
  });

  test('linkOf finds the interface of an address, and refuses an address the host lacks', async () => {
    assert.equal(await inNs(`r.linkOf('10.45.0.1')`), 'eth0');
    assert.equal(await inNs(`r.linkOf('10.45.0.77').then(() => 'found', (e) => e.code)`), 'ERR_NETWORK_COMMAND');
  });
});
