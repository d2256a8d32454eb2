/**
 * The pod network end to end with the real CNI plugins (root only; skipped without
 * /usr/lib/cni/bridge): conflist → guard → ADD into two network namespaces → TCP between
 * them, directly and through DNAT'ed service addresses → the guard's verdicts → DEL → tear-down.
 *
 * Nothing can leave the machine even if the guard were broken: every destination the test
 * expects the guard to stop is routed to a stand-in uplink, `bttout0`, one end of a veth pair
 * whose other end sits in a namespace of the test's with no address (it discards what it is
 * given; the kernel here has no dummy device). A guarded case passes only if the connection
 * fails as the guard makes it fail and bttout0's transmit counter did not move.
 * Ranges: this node 10.42.250.0/24 on bridge bosuntest0; the "cluster" 10.42.250.0/23, so
 * 10.42.251.0/24 plays another node's pods; services 10.43.250.0/24.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { cidrContains, parseCidr } from './cidr.ts';
import { NetworkError, run, runOk } from './exec.ts';
import { quoteLine, readTable, restore } from './iptables.ts';
import { cniExec, ensureBridgeNetfilter, guardRules, installGuardRules, NETWORK_NAME, preparePodNetwork, readCniConfList, removeGuardRules, removeNetwork, writeCniConfig } from './index.ts';
import type { CniConfList, CniResult, GuardOptions } from './index.ts';

const CNI_BIN = '/usr/lib/cni';
const BRIDGE = 'bosuntest0';
const NODE_CIDR = '10.42.250.0/24';
const GUARD: GuardOptions = { podCidr: '10.42.250.0/23', serviceCidr: '10.43.250.0/24', bridge: BRIDGE };
const CHAIN = 'BOSUN-GUARD-bosuntest0';
const OTHER: GuardOptions = { podCidr: '10.42.248.0/24', serviceCidr: '10.43.248.0/24', bridge: 'bosuntest1' };
const OUTSIDE = 'bttout0';
const OUTSIDE_ROUTES = ['10.43.250.0/24', '10.42.251.0/24', '198.51.100.0/24'];
const NAMESPACES = ['bosuntest-a', 'bosuntest-b'] as const;
const SINK = 'bosuntest-sink';
const TEST_COMMENT = 'bosun cni.test';
const PORT = 8080;

const skip =
  process.getuid?.() !== 0 ? 'needs root' : !existsSync(path.join(CNI_BIN, 'bridge')) ? `CNI plugins missing (${CNI_BIN}/bridge)` : false;

function netnsPath(ns: string): string {
  return `/var/run/netns/${ns}`;
}

interface Probe {
  outcome: 'connected' | 'error' | 'timeout';
  code?: string;
  data?: string;
}

const PROBE = `const [h, p, t] = process.argv.slice(1);
const s = require('node:net').connect({ host: h, port: +p });
let d = '';
const done = (r) => { console.log(JSON.stringify(r)); process.exit(0); };
s.setTimeout(+t, () => done({ outcome: 'timeout' }));
s.on('data', (b) => (d += b));
s.on('end', () => done({ outcome: 'connected', data: d }));
s.on('error', (e) => done({ outcome: 'error', code: e.code }));`;

/** Connects to host:port from a namespace (or the host) and reads until the server closes. */
async function probe(from: string | null, host: string, port: number, timeoutMs: number): Promise<Probe> {
  if (from) {
    const out = await runOk('ip', ['netns', 'exec', from, process.execPath, '-e', PROBE, host, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 30_000 });
    return JSON.parse(out) as Probe;
  }
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let data = '';
    const done = (r: Probe) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done({ outcome: 'timeout' }));
    s.on('data', (b: Buffer) => (data += b.toString()));
    s.on('end', () => done({ outcome: 'connected', data }));
    s.on('error', (e: NodeJS.ErrnoException) => done({ outcome: 'error', code: e.code }));
  });
}

async function outsideTxPackets(): Promise<number> {
  return Number(await fs.readFile(`/sys/class/net/${OUTSIDE}/statistics/tx_packets`, 'utf8'));
}

/** Rules of the test's own nat DNATs (by comment), removed with one restore. */
async function removeTestNat(): Promise<void> {
  const nat = await readTable('nat');
  const lines: string[] = [];
  for (const hook of ['PREROUTING', 'OUTPUT']) {
    for (const r of nat.get(hook) ?? []) if (r.includes(TEST_COMMENT)) lines.push(quoteLine(['-D', ...r.slice(1)]));
  }
  if (lines.length) await restore(`*nat\n${lines.join('\n')}\nCOMMIT\n`);
}

async function addTestDnat(hook: 'PREROUTING' | 'OUTPUT', service: string, to: string): Promise<void> {
  const rule = ['-A', hook, '-d', `${service}/32`, '-p', 'tcp', '-m', 'tcp', '--dport', '80', '-m', 'comment', '--comment', TEST_COMMENT, '-j', 'DNAT', '--to-destination', to];
  await restore(`*nat\n${quoteLine(rule)}\nCOMMIT\n`);
}

const PORTMAP_CHAINS = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK'];

/**
 * The portmap plugin leaves its shared nat chains behind after the last DEL. Removes them
 * when no hostPort uses them any more (CNI-HOSTPORT-DNAT empty); the next ADD recreates them.
 */
async function removeIdlePortmapChains(): Promise<void> {
  const nat = await readTable('nat');
  if (!nat.has('CNI-HOSTPORT-DNAT') || nat.get('CNI-HOSTPORT-DNAT')!.length > 0) return;
  const lines: string[] = [];
  for (const [chain, rules] of nat) {
    if (!PORTMAP_CHAINS.includes(chain)) for (const r of rules) if (PORTMAP_CHAINS.some((c) => r.at(-1) === c)) lines.push(quoteLine(['-D', ...r.slice(1)]));
  }
  for (const c of PORTMAP_CHAINS) if (nat.has(c)) lines.push(`-F ${c}`);
  for (const c of PORTMAP_CHAINS) if (nat.has(c)) lines.push(`-X ${c}`);
  await restore(`*nat\n${lines.join('\n')}\nCOMMIT\n`);
}

/** Our chains and the jumps into them, with nft rule handles: equal snapshots mean nothing was rewritten. */
async function guardSnapshot(): Promise<string> {
  const parts: string[] = [];
  for (const [table, hooks] of [['filter', ['FORWARD', 'OUTPUT']], ['mangle', ['POSTROUTING']]] as const) {
    parts.push(await runOk('nft', ['-a', 'list', 'chain', 'ip', table, CHAIN]));
    for (const hook of hooks) {
      const listing = await runOk('nft', ['-a', 'list', 'chain', 'ip', table, hook]);
      parts.push(...listing.split('\n').filter((l) => l.includes(`jump ${CHAIN} `)));
    }
  }
  // Rules, not counters: other tests' traffic on this machine moves the counters at any time.
  return parts.join('\n').replace(/counter packets \d+ bytes \d+/g, 'counter');
}

async function jumpCount(table: string, hook: string, chain: string): Promise<number> {
  return ((await readTable(table)).get(hook) ?? []).filter((r) => r.at(-1) === chain).length;
}

/** Removes everything this test creates; safe to run when none of it exists. */
async function cleanup(dataDir: string | undefined, portmapChainsWereThere = true): Promise<void> {
  for (const ns of [...NAMESPACES, SINK]) if (existsSync(netnsPath(ns))) await run('ip', ['netns', 'del', ns]);
  await removeTestNat();
  await removeNetwork({ bridge: BRIDGE, dataDir: dataDir ?? os.tmpdir(), podCidr: NODE_CIDR });
  await removeGuardRules(OTHER);
  await run('ip', ['link', 'del', 'dev', OUTSIDE]);
  if (!portmapChainsWereThere) await removeIdlePortmapChains();
}

describe('pod network with the real CNI plugins', { skip, timeout: 300_000 }, () => {
  let dir = '';
  let confDir = '';
  let dataDir = '';
  let conflist: CniConfList;
  const results = new Map<string, CniResult>();
  const ips = new Map<string, string>();
  let server: ChildProcessWithoutNullStreams | undefined;
  let portmapChainsWereThere = true;

  before(async () => {
    await cleanup(undefined);
    portmapChainsWereThere = (await readTable('nat')).has('CNI-HOSTPORT-DNAT');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-cni-'));
    confDir = path.join(dir, 'net.d');
    dataDir = path.join(dir, 'ipam');
    // The stand-in uplink first, so that nothing the test sends can follow the default route.
    await runOk('ip', ['netns', 'add', SINK]);
    await runOk('ip', ['link', 'add', OUTSIDE, 'type', 'veth', 'peer', 'name', 'bttsink0', 'netns', SINK]);
    await fs.writeFile(`/proc/sys/net/ipv6/conf/${OUTSIDE}/disable_ipv6`, '1').catch(() => {});
    await runOk('ip', ['-n', SINK, 'link', 'set', 'bttsink0', 'up']);
    await runOk('ip', ['link', 'set', OUTSIDE, 'arp', 'off', 'up']); // no neighbour resolution: packets go straight out
    for (const r of OUTSIDE_ROUTES) await runOk('ip', ['route', 'add', r, 'dev', OUTSIDE]);
  });

  after(async () => {
    server?.kill('SIGKILL');
    await cleanup(dataDir, portmapChainsWereThere);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('bridge netfilter is on', async () => {
    const k = await ensureBridgeNetfilter();
    assert.equal(k.bridgeNfCallIptables, true);
    assert.equal(await fs.readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8'), '1\n');
  });

  test('installing the guard twice leaves the same rules, untouched', async () => {
    await installGuardRules(GUARD);
    const first = await guardSnapshot();
    await installGuardRules(GUARD);
    assert.equal(await guardSnapshot(), first);
    for (const t of guardRules(GUARD)) {
      assert.deepStrictEqual((await readTable(t.table)).get(CHAIN), t.rules);
      for (const j of t.jumps) assert.equal(await jumpCount(t.table, j[1]!, CHAIN), 1, `one jump from ${t.table} ${j[1]}`);
    }
  });

  test('installing the guard repairs a changed chain and duplicate jumps', async () => {
    const ipt = 'iptables-nft';
    await runOk(ipt, ['-t', 'filter', '-D', CHAIN, '3']);
    await runOk(ipt, ['-t', 'mangle', '-A', CHAIN, '-d', '10.42.250.9/32', '-j', 'ACCEPT']);
    await runOk(ipt, ['-t', 'filter', '-A', 'FORWARD', '-m', 'comment', '--comment', `bosun guard ${BRIDGE}`, '-j', CHAIN]);
    await installGuardRules(GUARD);
    for (const t of guardRules(GUARD)) {
      assert.deepStrictEqual((await readTable(t.table)).get(CHAIN), t.rules);
      for (const j of t.jumps) assert.equal(await jumpCount(t.table, j[1]!, CHAIN), 1);
    }
  });

  test('two bridges keep separate guards', async () => {
    const before = await guardSnapshot();
    await installGuardRules(OTHER);
    assert.equal((await readTable('filter')).has('BOSUN-GUARD-bosuntest1'), true);
    await removeGuardRules(OTHER);
    await removeGuardRules(OTHER);
    for (const table of ['filter', 'mangle']) assert.equal((await readTable(table)).has('BOSUN-GUARD-bosuntest1'), false);
    assert.equal(await guardSnapshot(), before, 'the other guard is untouched');
  });

  test('preparePodNetwork writes the conflist once and keeps the guard as it is', async () => {
    const guard = await guardSnapshot();
    const prepared = await preparePodNetwork({ confDir, podCidr: NODE_CIDR, dataDir, bridge: BRIDGE, clusterCidr: GUARD.podCidr, serviceCidr: GUARD.serviceCidr });
    const file = prepared.conflist;
    assert.equal(prepared.kernel.bridgeNfCallIptables, true);
    const ino = (await fs.stat(file)).ino;
    assert.equal(await writeCniConfig({ confDir, podCidr: NODE_CIDR, dataDir, bridge: BRIDGE }), file);
    assert.equal((await fs.stat(file)).ino, ino);
    assert.equal(await guardSnapshot(), guard);
    conflist = await readCniConfList(file);
    assert.equal(conflist.name, NETWORK_NAME);
  });

  test('a missing plugin or a failing plugin is an ERR_CNI_PLUGIN', async () => {
    const opts = { containerId: 'bosuntest-missing', netns: '/var/run/netns/bosuntest-missing', ifName: 'eth0', binDirs: [CNI_BIN] };
    const broken = { ...conflist, plugins: [{ type: 'no-such-plugin' }] };
    await assert.rejects(cniExec('ADD', broken, opts), (e) => e instanceof NetworkError && e.code === 'ERR_CNI_PLUGIN');
    await assert.rejects(cniExec('ADD', conflist, opts), (e) => e instanceof NetworkError && e.code === 'ERR_CNI_PLUGIN' && typeof e.cniCode === 'number');
    await cniExec('DEL', conflist, opts);
  });

  test('ADD gives each namespace an address in the node range', async () => {
    for (const ns of NAMESPACES) {
      await runOk('ip', ['netns', 'add', ns]);
      const result = await cniExec('ADD', conflist, { containerId: ns, netns: netnsPath(ns), ifName: 'eth0', binDirs: [CNI_BIN] });
      assert.ok(result);
      results.set(ns, result);
      const ip = result.ips?.[0]?.address.split('/')[0];
      assert.ok(ip && cidrContains(parseCidr(NODE_CIDR), ip), `${ns} got ${ip}`);
      assert.equal(result.ips?.[0]?.gateway, '10.42.250.1');
      assert.match(await runOk('ip', ['-n', ns, '-4', 'addr', 'show', 'dev', 'eth0']), new RegExp(`inet ${ip.replaceAll('.', '\\.')}/24`));
      ips.set(ns, ip);
      await cniExec('CHECK', conflist, { containerId: ns, netns: netnsPath(ns), ifName: 'eth0', binDirs: [CNI_BIN], prevResult: result });
    }
    assert.notEqual(ips.get('bosuntest-a'), ips.get('bosuntest-b'));
  });

  test('one pod reaches the other over TCP', async () => {
    const a = ips.get('bosuntest-a')!;
    const script = `require('node:net').createServer((s) => s.end('pong ' + s.localAddress)).listen(${PORT}, '0.0.0.0', () => console.log('ready'))`;
    server = spawn('ip', ['netns', 'exec', 'bosuntest-a', process.execPath, '-e', script]);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server in bosuntest-a did not start')), 30_000);
      server!.stdout.on('data', (b: Buffer) => b.toString().includes('ready') && (clearTimeout(timer), resolve()));
      server!.on('exit', (code) => (clearTimeout(timer), reject(new Error(`server exited ${code}`))));
    });
    assert.deepStrictEqual(await probe('bosuntest-b', a, PORT, 10_000), { outcome: 'connected', data: `pong ${a}` });
  });

  test('the host reaches a pod directly and through a service address DNAT\'ed in nat OUTPUT', async () => {
    const a = ips.get('bosuntest-a')!;
    await addTestDnat('OUTPUT', '10.43.250.2', `${a}:${PORT}`);
    assert.deepStrictEqual(await probe(null, a, PORT, 10_000), { outcome: 'connected', data: `pong ${a}` });
    assert.deepStrictEqual(await probe(null, '10.43.250.2', 80, 10_000), { outcome: 'connected', data: `pong ${a}` });
  });

  test('a pod reaches another pod through a service address DNAT\'ed in nat PREROUTING', async () => {
    const a = ips.get('bosuntest-a')!;
    await addTestDnat('PREROUTING', '10.43.250.3', `${a}:${PORT}`);
    assert.deepStrictEqual(await probe('bosuntest-b', '10.43.250.3', 80, 10_000), { outcome: 'connected', data: `pong ${a}` });
  });

  const guarded = [
    { name: 'a pod connecting to a service address with no rule is rejected', from: 'bosuntest-b', to: '10.43.250.1', want: 'rejected' },
    { name: 'the host connecting to a service address with no rule is rejected', from: null, to: '10.43.250.1', want: 'rejected' },
    { name: 'a pod connecting to another node\'s pod address is rejected', from: 'bosuntest-b', to: '10.42.251.9', want: 'rejected' },
    { name: 'the host connecting to another node\'s pod address is rejected', from: null, to: '10.42.251.9', want: 'rejected' },
    { name: 'a pod connecting to an address outside the cluster is rejected', from: 'bosuntest-b', to: '198.51.100.7', want: 'rejected' },
    { name: 'a pod connecting to a service DNAT\'ed to another node\'s pod is rejected', from: 'bosuntest-b', to: '10.43.250.5', want: 'rejected' },
    { name: 'the host connecting to a service DNAT\'ed to another node\'s pod is dropped in POSTROUTING', from: null, to: '10.43.250.4', want: 'dropped' },
  ] as const;
  for (const c of guarded) {
    test(c.name, async () => {
      if (c.to === '10.43.250.4') await addTestDnat('OUTPUT', c.to, '10.42.251.9:80');
      if (c.to === '10.43.250.5') await addTestDnat('PREROUTING', c.to, '10.42.251.9:80');
      const tx = await outsideTxPackets();
      const got = await probe(c.from, c.to, 80, c.want === 'rejected' ? 20_000 : 1500);
      assert.deepStrictEqual(got, c.want === 'rejected' ? { outcome: 'error', code: 'EHOSTUNREACH' } : { outcome: 'timeout' });
      assert.equal(await outsideTxPackets(), tx, 'nothing was sent through the stand-in uplink');
    });
  }

  test('without the guard the same packet would have left through the uplink', async (t) => {
    const others = [...(await readTable('filter')).keys()].filter((c) => c.startsWith('BOSUN-GUARD-') && c !== CHAIN);
    if (others.length) return t.skip(`another guard is installed (${others.join(', ')})`);
    await removeGuardRules(GUARD);
    try {
      const tx = await outsideTxPackets();
      assert.deepStrictEqual(await probe('bosuntest-b', '10.43.250.1', 80, 1500), { outcome: 'timeout' });
      assert.ok((await outsideTxPackets()) > tx, 'the SYN reached the stand-in uplink (and was discarded there)');
    } finally {
      await installGuardRules(GUARD);
    }
  });

  test('DEL releases the addresses and the interfaces, and is idempotent', async () => {
    server?.kill('SIGKILL');
    for (const ns of NAMESPACES) {
      const opts = { containerId: ns, netns: netnsPath(ns), ifName: 'eth0', binDirs: [CNI_BIN], prevResult: results.get(ns) };
      await cniExec('DEL', conflist, opts);
      await cniExec('DEL', conflist, opts);
      assert.notEqual((await run('ip', ['-n', ns, 'link', 'show', 'dev', 'eth0'])).code, 0, `${ns} has no eth0`);
      await runOk('ip', ['netns', 'del', ns]);
    }
    const reserved = (await fs.readdir(path.join(dataDir, NETWORK_NAME))).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
    assert.deepStrictEqual(reserved, []);
  });

  test('removeNetwork removes the conflist, bridge, host-local state and guard, and is idempotent', async () => {
    for (let i = 0; i < 2; i++) await removeNetwork({ bridge: BRIDGE, dataDir, confDir, podCidr: NODE_CIDR });
    assert.deepStrictEqual(await fs.readdir(confDir), []);
    assert.notEqual((await run('ip', ['link', 'show', 'dev', BRIDGE])).code, 0, 'bridge deleted');
    assert.equal(existsSync(path.join(dataDir, NETWORK_NAME)), false);
    for (const table of ['filter', 'mangle']) {
      const rules = await readTable(table);
      assert.equal(rules.has(CHAIN), false);
      for (const [, list] of rules) assert.equal(list.some((r) => r.includes(CHAIN)), false, `no jump to ${CHAIN} left in ${table}`);
    }
  });
});
