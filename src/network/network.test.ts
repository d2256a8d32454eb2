/**
 * Unit tests of the pod network's pure parts: the conflist, the exact guard rules, CIDR
 * handling, the iptables line tokenizer and the per-plugin CNI configuration.
 * (Real plugins, namespaces and rules are exercised by cni.test.ts, as root.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isCode } from '../util/errors.ts';
import { cidrContains, cidrCovers, cidrsOverlap, parseCidr } from './cidr.ts';
import { pluginConfig } from './cniexec.ts';
import { buildCniConfList, CONFLIST_NAME, writeCniConfig } from './config.ts';
import { guardRules } from './guard.ts';
import { quoteLine, tokenize } from './iptables.ts';
import { preparePodNetwork } from './index.ts';

const bridgePlugin = (over: Record<string, unknown> = {}) => ({
  type: 'bridge',
  bridge: 'bosun0',
  isGateway: true,
  hairpinMode: true,
  ipMasq: false,
  ...over,
  ipam: { type: 'host-local', ranges: [[{ subnet: '10.42.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/var/lib/bosun/cni' },
});
const portmap = { type: 'portmap', capabilities: { portMappings: true } };

const confCases = [
  {
    name: 'defaults give a bosun0 bridge without masquerade, host-local IPAM and portmap',
    opts: { podCidr: '10.42.0.0/24', dataDir: '/var/lib/bosun/cni' },
    want: { cniVersion: '1.0.0', name: 'bosun', plugins: [bridgePlugin(), portmap] },
  },
  {
    name: 'bridge, mtu and ipMasq are passed to the bridge plugin; host bits of the range are cleared',
    opts: { podCidr: '10.42.0.9/24', dataDir: '/var/lib/bosun/cni', bridge: 'bosun7', mtu: 1450, ipMasq: true },
    want: { cniVersion: '1.0.0', name: 'bosun', plugins: [bridgePlugin({ bridge: 'bosun7', ipMasq: true, mtu: 1450 }), portmap] },
  },
];
for (const c of confCases) test(c.name, () => assert.deepStrictEqual(buildCniConfList(c.opts), c.want));

const badConf = [
  { name: 'a pod range that is not IPv4 CIDR is refused', opts: { podCidr: 'fd00::/64', dataDir: '/d' } },
  { name: 'a /31 pod range is refused', opts: { podCidr: '10.42.0.0/31', dataDir: '/d' } },
  { name: 'a relative dataDir is refused', opts: { podCidr: '10.42.0.0/24', dataDir: 'd' } },
  { name: 'a bridge name over 15 characters is refused', opts: { podCidr: '10.42.0.0/24', dataDir: '/d', bridge: 'bosun0123456789x' } },
  { name: 'a bridge name with a space is refused', opts: { podCidr: '10.42.0.0/24', dataDir: '/d', bridge: 'bo sun' } },
  { name: 'an MTU below 576 is refused', opts: { podCidr: '10.42.0.0/24', dataDir: '/d', mtu: 100 } },
];
for (const c of badConf) test(c.name, () => assert.throws(() => buildCniConfList(c.opts), (e) => isCode(e, 'ERR_INVALID_CONFIG')));

test('writeCniConfig writes the conflist once and leaves an identical file untouched', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-cniconf-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const opts = { confDir: path.join(dir, 'net.d'), podCidr: '10.42.3.0/24', dataDir: path.join(dir, 'ipam') };
  const file = await writeCniConfig(opts);
  assert.equal(file, path.join(dir, 'net.d', CONFLIST_NAME));
  assert.deepStrictEqual(JSON.parse(await fs.readFile(file, 'utf8')), buildCniConfList(opts));
  const before = await fs.stat(file);
  assert.equal(await writeCniConfig(opts), file);
  assert.equal((await fs.stat(file)).ino, before.ino, 'an identical configuration is not rewritten');
  await writeCniConfig({ ...opts, mtu: 1400 });
  assert.equal(JSON.parse(await fs.readFile(file, 'utf8')).plugins[0].mtu, 1400);
  assert.deepStrictEqual((await fs.readdir(opts.confDir)).sort(), [CONFLIST_NAME], 'no temporary file is left');
});

test('the guard consists of exactly these rules', () => {
  const c = (s: string) => ['-m', 'comment', '--comment', `bosun guard: ${s}`];
  const chain = 'BOSUN-GUARD-bosun0';
  const stays = [
    ['-A', chain, '-o', 'lo', ...c('loopback stays on this machine'), '-j', 'RETURN'],
    ['-A', chain, '-o', 'bosun+', ...c('Bosun bridges stay on this machine'), '-j', 'RETURN'],
  ];
  const blocked = (v: string[]) => [
    ['-A', chain, '-s', '10.42.0.0/16', ...c('pod traffic may not leave this machine'), ...v],
    ['-A', chain, '-d', '10.42.0.0/16', ...c('pod addresses are only on this machine'), ...v],
    ['-A', chain, '-d', '10.43.0.0/16', ...c('service addresses are only on this machine'), ...v],
  ];
  const jump = ['-m', 'comment', '--comment', 'bosun guard bosun0', '-j', chain];
  assert.deepStrictEqual(guardRules({ podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0' }), [
    {
      table: 'filter',
      chain,
      rules: [...stays, ...blocked(['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'])],
      jumps: [
        ['-A', 'FORWARD', ...jump],
        ['-A', 'OUTPUT', '-m', 'conntrack', '!', '--ctstate', 'DNAT', ...jump],
      ],
    },
    { table: 'mangle', chain, rules: [...stays, ...blocked(['-j', 'DROP'])], jumps: [['-A', 'POSTROUTING', ...jump]] },
  ]);
});

const guardCases = [
  {
    name: 'a bridge outside the bosun+ pattern gets its own exemption and chain',
    opts: { podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'cni9' },
    chain: 'BOSUN-GUARD-cni9',
    exempt: ['lo', 'bosun+', 'cni9'],
  },
  {
    name: 'an explicit chain name is used as given',
    opts: { podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0', chain: 'MY-GUARD' },
    chain: 'MY-GUARD',
    exempt: ['lo', 'bosun+'],
  },
];
for (const c of guardCases) {
  test(c.name, () => {
    for (const t of guardRules(c.opts)) {
      assert.equal(t.chain, c.chain);
      assert.deepStrictEqual(t.rules.filter((r) => r.at(-1) === 'RETURN').map((r) => r[3]), c.exempt);
    }
  });
}

const badGuard = [
  { name: 'overlapping pod and service ranges are refused', opts: { podCidr: '10.42.0.0/15', serviceCidr: '10.43.0.0/16', bridge: 'bosun0' } },
  { name: 'a chain name over 28 characters is refused', opts: { podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0', chain: 'X'.repeat(29) } },
  { name: 'a built-in chain is refused as guard chain', opts: { podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', bridge: 'bosun0', chain: 'FORWARD' } },
  { name: 'a malformed service range is refused', opts: { podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0', bridge: 'bosun0' } },
];
for (const c of badGuard) test(c.name, () => assert.throws(() => guardRules(c.opts), (e) => isCode(e, 'ERR_INVALID_CONFIG')));

const cidrCases = [
  { name: 'a range contains its first and last address', run: () => [cidrContains(parseCidr('10.42.250.0/24'), '10.42.250.0'), cidrContains(parseCidr('10.42.250.0/24'), '10.42.250.255')], want: [true, true] },
  { name: 'a range does not contain the next address', run: () => [cidrContains(parseCidr('10.42.250.0/24'), '10.42.251.0')], want: [false] },
  { name: '0.0.0.0/0 contains everything', run: () => [cidrContains(parseCidr('0.0.0.0/0'), '255.255.255.255')], want: [true] },
  { name: 'nested ranges overlap and cover', run: () => [cidrsOverlap(parseCidr('10.42.0.0/16'), parseCidr('10.42.7.0/24')), cidrCovers(parseCidr('10.42.0.0/16'), parseCidr('10.42.7.0/24')), cidrCovers(parseCidr('10.42.7.0/24'), parseCidr('10.42.0.0/16'))], want: [true, true, false] },
  { name: 'neighbouring ranges do not overlap', run: () => [cidrsOverlap(parseCidr('10.42.0.0/16'), parseCidr('10.43.0.0/16'))], want: [false] },
  { name: 'host bits are cleared in the canonical text', run: () => [parseCidr('10.42.250.77/23').text], want: ['10.42.250.0/23'] },
];
for (const c of cidrCases) test(c.name, () => assert.deepStrictEqual(c.run(), c.want));

const lineCases = [
  { name: 'a quoted comment is one argument', line: '-A X -m comment --comment "a b" -j RETURN', want: ['-A', 'X', '-m', 'comment', '--comment', 'a b', '-j', 'RETURN'] },
  { name: 'escaped quotes inside a comment survive', line: '-A POSTROUTING -s 10.42.0.2/32 -m comment --comment "name: \\"bosun\\" id: \\"c1\\"" -j CNI-1', want: ['-A', 'POSTROUTING', '-s', '10.42.0.2/32', '-m', 'comment', '--comment', 'name: "bosun" id: "c1"', '-j', 'CNI-1'] },
];
for (const c of lineCases) {
  test(c.name, () => {
    assert.deepStrictEqual(tokenize(c.line), c.want);
    assert.deepStrictEqual(tokenize(quoteLine(c.want)), c.want, 'quoteLine is the inverse of tokenize');
  });
}

test('each plugin gets the list name and version, the previous result and only its declared capabilities', () => {
  const list = buildCniConfList({ podCidr: '10.42.0.0/24', dataDir: '/d' });
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.42.0.2/24' }] };
  const caps = { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }], bandwidth: { ingressRate: 1 } };
  const bridge = pluginConfig(list, list.plugins[0]!, undefined, caps);
  assert.equal(bridge['name'], 'bosun');
  assert.equal(bridge['cniVersion'], '1.0.0');
  assert.equal('prevResult' in bridge, false);
  assert.equal('runtimeConfig' in bridge, false, 'bridge declares no capabilities');
  assert.deepStrictEqual(pluginConfig(list, list.plugins[1]!, prev, caps), { ...portmap, name: 'bosun', cniVersion: '1.0.0', prevResult: prev, runtimeConfig: { portMappings: caps.portMappings } });
});

const badPrepare = [
  { name: 'preparePodNetwork refuses a node range outside the cluster range', over: { podCidr: '10.44.0.0/24' } },
  { name: 'preparePodNetwork refuses a service range overlapping the cluster range', over: { serviceCidr: '10.42.128.0/17' } },
  { name: 'preparePodNetwork refuses a relative dataDir', over: { dataDir: 'ipam' } },
];
for (const c of badPrepare) {
  test(c.name, async () => {
    const opts = { confDir: '/nonexistent/net.d', podCidr: '10.42.0.0/24', dataDir: '/nonexistent/ipam', clusterCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16', ...c.over };
    await assert.rejects(preparePodNetwork(opts), (e) => isCode(e, 'ERR_INVALID_CONFIG'));
  });
}
