/**
 * The nftables mode's rule generation (nft.ts): what each kind of Service becomes, and, in a
 * private network namespace with the real `nft`, that a sequence of incremental transactions
 * leaves exactly the table a full transaction of the final state makes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { ServiceSpec } from '../api/index.ts';
import { rng, slice, svc, world } from './testing.ts';
import { run, runOk } from '../network/exec.ts';
import { nftDeleteChains, nftFixedPart, NftRuleCache, nftServicePort, nftTransaction, parseNftNames, type NftWritten } from './nft.ts';
import { servicePorts, type ProxyNodeInfo } from './rules.ts';

const node: ProxyNodeInfo = { nodeName: 'node1', nodeIPs: ['192.168.0.2'], clusterCidr: '10.0.0.0/8', endpointCidrs: ['10.0.0.0/8', '192.168.0.0/24'] };

const port = (name: string, spec: ServiceSpec, ips: string[], extra: { ingress?: string; node?: string } = {}) => servicePorts([svc(name, spec, extra.ingress)], ips.length ? [slice(name, ips, { node: extra.node })] : [], node)[0]!;
const p80 = [{ name: 'p', port: 80, protocol: 'TCP' }];

test('a ClusterIP Service: a service-ips element to its policy chain, which masquerades off-cluster sources and DNATs to a random endpoint', () => {
  const f = nftServicePort(port('web', { clusterIP: '172.30.0.1', ports: p80 }, ['10.1.0.1', '10.1.0.2']), node);
  assert.equal(f.chains.length, 1);
  const [name, text] = f.chains[0]!;
  assert.match(name, /^service-[A-Z2-7]{8}-ns\/web\/tcp\/p$/);
  assert.deepEqual(text.split(' ; '), [
    'ip daddr 172.30.0.1 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade',
    'meta l4proto tcp dnat ip addr . port to numgen random mod 2 map { 0 : 10.1.0.1 . 8080, 1 : 10.1.0.2 . 8080 }',
  ]);
  assert.deepEqual(f.elements, [
    ['service-ips', '172.30.0.1 . tcp . 80', `goto ${name}`],
    ['hairpin-endpoints', '10.1.0.1 . 10.1.0.1', ''],
    ['hairpin-endpoints', '10.1.0.2 . 10.1.0.2', ''],
  ]);
  // One endpoint: a plain DNAT.
  const one = nftServicePort(port('one', { clusterIP: '172.30.0.2', ports: p80 }, ['10.1.0.3']), node);
  assert.match(one.chains[0]![1], /meta l4proto tcp dnat to 10\.1\.0\.3:8080$/);
});

test('no endpoints: the cluster IP and NodePort go to reject-chain, no chain is made', () => {
  const f = nftServicePort(port('none', { type: 'NodePort', clusterIP: '172.30.0.3', ports: [{ name: 'p', port: 80, protocol: 'TCP', nodePort: 30001 }] }, []), node);
  assert.deepEqual(f.chains, []);
  assert.deepEqual(f.elements, [
    ['no-endpoint-services', '172.30.0.3 . tcp . 80', 'goto reject-chain'],
    ['no-endpoint-nodeports', 'tcp . 30001', 'goto reject-chain'],
  ]);
});

test('NodePort with externalTrafficPolicy Local: external chain short-circuits pods and the host, then the local policy chain; no local endpoint drops', () => {
  const spec: ServiceSpec = { type: 'NodePort', externalTrafficPolicy: 'Local', clusterIP: '172.30.0.4', ports: [{ name: 'p', port: 80, protocol: 'TCP', nodePort: 30002 }] };
  const f = nftServicePort(port('np', spec, ['10.1.0.4']), node);
  const names = f.chains.map(([n]) => n.split('-')[0]);
  assert.deepEqual(names, ['service', 'local', 'external']);
  const ext = f.chains[2]![1].split(' ; ');
  assert.deepEqual(ext, [`ip saddr 10.0.0.0/8 goto ${f.chains[0]![0]}`, `fib saddr type local jump mark-for-masquerade`, `fib saddr type local goto ${f.chains[0]![0]}`, `goto ${f.chains[1]![0]}`]);
  assert.ok(f.elements.some(([m, k, v]) => m === 'service-nodeports' && k === 'tcp . 30002' && v === `goto ${f.chains[2]![0]}`));
  const remote = nftServicePort(port('np', spec, ['10.1.0.4'], { node: 'node2' }), node);
  assert.ok(remote.elements.some(([m, k, v]) => m === 'no-endpoint-nodeports' && k === 'tcp . 30002' && v === 'drop'));
});

test('ClientIP affinity: an endpoint chain and a timed affinity set per endpoint, checked before the random choice', () => {
  const f = nftServicePort(port('sticky', { clusterIP: '172.30.0.5', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: p80 }, ['10.1.0.5', '10.1.0.6']), node);
  assert.equal(f.sets.length, 2);
  assert.match(f.sets[0]![0], /^affinity-[A-Z2-7]{8}-ns\/sticky\/tcp\/p__10\.1\.0\.5\/8080$/);
  assert.equal(f.sets[0]![1], '{ type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }');
  const svcText = f.chains[0]![1];
  const lines = svcText.split(' ; ');
  assert.match(lines[1]!, /^ip saddr @affinity-\S+__10\.1\.0\.5\/8080 goto endpoint-\S+__10\.1\.0\.5\/8080$/);
  assert.match(lines[3]!, /^numgen random mod 2 vmap \{ 0 : goto endpoint-\S+, 1 : goto endpoint-\S+ \}$/);
  const ep = f.chains.find(([n]) => n.startsWith('endpoint-') && n.endsWith('10.1.0.6/8080'))!;
  assert.match(ep[1], /^update @affinity-\S+ \{ ip saddr \} ; meta l4proto tcp dnat to 10\.1\.0\.6:8080$/);
});

test('LoadBalancer with source ranges: the ingress IP goes through firewall-ips to a firewall chain dropping other sources', () => {
  const spec: ServiceSpec = { type: 'LoadBalancer', clusterIP: '172.30.0.6', loadBalancerSourceRanges: ['192.168.5.0/24'], ports: [{ name: 'p', port: 80, protocol: 'TCP', nodePort: 30003 }] };
  const f = nftServicePort(port('lb', spec, ['10.1.0.7'], { ingress: '192.168.0.2' }), node);
  const fw = f.chains.find(([n]) => n.startsWith('firewall-'))!;
  assert.match(fw[1], /ip saddr != \{ 192\.168\.5\.0\/24 \} drop$/);
  assert.ok(f.elements.some(([m, k, v]) => m === 'firewall-ips' && k === '192.168.0.2 . tcp . 80' && v === `goto ${fw[0]}`));
  assert.ok(f.elements.some(([m, k, v]) => m === 'service-ips' && k === '192.168.0.2 . tcp . 80' && v.startsWith('goto external-')));
});

test('pod traffic DNATed off the pod network and the node (the API server on the hosts link) is masqueraded by one rule', () => {
  assert.match(nftFixedPart(node), /masquerading ct status dnat ip saddr 10\.0\.0\.0\/8 ip daddr != \{ 10\.0\.0\.0\/8, 192\.168\.0\.2 \} jump mark-for-masquerade/);
});

test("hairpin: with the node's pod range known, the set holds every address of it and the node's, and endpoints add no element", () => {
  const withRange: ProxyNodeInfo = { ...node, podCidr: '10.1.0.0/24' };
  const fixed = nftFixedPart(withRange);
  const line = fixed.split('\n').find((l) => l.startsWith('add element ip kube-proxy hairpin-endpoints'))!;
  const pairs = line.slice(line.indexOf('{') + 2, -2).split(', ');
  assert.equal(pairs.length, 255);
  assert.deepEqual([pairs[0], pairs[1], pairs.at(-1)], ['192.168.0.2 . 192.168.0.2', '10.1.0.1 . 10.1.0.1', '10.1.0.254 . 10.1.0.254']);
  const f = nftServicePort(port('web', { clusterIP: '172.30.0.1', ports: p80 }, ['10.1.0.1', '10.1.0.2']), withRange);
  assert.deepEqual(f.elements.map(([m]) => m), ['service-ips']);
  // A range wider than /22 falls back to an element per endpoint.
  assert.ok(!nftFixedPart({ ...node, podCidr: '10.0.0.0/16' }).includes('add element ip kube-proxy hairpin-endpoints'));
});

test('an incremental transaction rewrites only what changed: elements deleted and added, stale chains flushed, nothing for no change', () => {
  const a = nftServicePort(port('a', { clusterIP: '172.30.0.8', ports: p80 }, ['10.1.0.8', '10.1.0.9']), node);
  const b = nftServicePort(port('b', { clusterIP: '172.30.0.9', ports: p80 }, ['10.1.0.10']), node);
  const full = nftTransaction('FIXED', [a, b]);
  assert.match(full.text, /^FIXED\n/);
  assert.equal(full.changed, 2);
  assert.equal(nftTransaction('FIXED', [a, b], { previous: full.written }).text, '');
  const b2 = nftServicePort(port('b', { clusterIP: '172.30.0.9', ports: p80 }, []), node);
  const inc = nftTransaction('FIXED', [a, b2], { previous: full.written });
  const lines = inc.text.trim().split('\n');
  assert.ok(!inc.text.includes('FIXED'));
  assert.deepEqual(inc.stale, [b.chains[0]![0]]);
  assert.deepEqual(lines, [
    'delete element ip kube-proxy service-ips { 172.30.0.9 . tcp . 80 }',
    'delete element ip kube-proxy hairpin-endpoints { 10.1.0.10 . 10.1.0.10 }',
    `flush chain ip kube-proxy ${b.chains[0]![0]}`,
    'add element ip kube-proxy no-endpoint-services { 172.30.0.9 . tcp . 80 : goto reject-chain }',
  ]);
  assert.equal(nftDeleteChains(inc.stale), `delete chain ip kube-proxy ${b.chains[0]![0]}\n`);
});

test('parseNftNames reads the names of our table only', () => {
  const listing = 'table ip nat {\n\tchain KUBE-X {\n\t}\n}\ntable ip kube-proxy {\n\tchain services {\n\t}\n\tchain service-AB-ns/a/tcp/p {\n\t}\n\tset affinity-AB-ns/a/tcp/p__1.2.3.4/80 {\n\t\ttype ipv4_addr\n\t}\n}\n';
  assert.deepEqual(parseNftNames(listing, 'chain'), ['services', 'service-AB-ns/a/tcp/p']);
  assert.deepEqual(parseNftNames(listing, 'set'), ['affinity-AB-ns/a/tcp/p__1.2.3.4/80']);
});

// ---- The real kernel: incremental transactions end where a full one does. ----

const NS = ['bosun-nfttest-a', 'bosun-nfttest-b'] as const;
const canRun = process.getuid?.() === 0 && (await run('nft', ['--version']).then((r) => r.code === 0, () => false));

const nft = (ns: string, args: string[], input?: string) => runOk('ip', ['netns', 'exec', ns, 'nft', ...args], { input });

/** The table as nft lists it, normalized: its sets, maps and chains sorted by name, elements sorted (the kernel lists them in creation order). */
async function table(ns: string): Promise<string> {
  const out = await nft(ns, ['-s', 'list', 'table', 'ip', 'kube-proxy']);
  const sorted = out.replace(/elements = \{([^}]*)\}/g, (_: string, list: string) => `elements = { ${list.split(',').map((e) => e.trim()).sort().join(', ')} }`);
  const blocks = sorted.split(/\n(?=\t(?:set|map|chain) )/);
  const head = blocks.shift()!;
  return [head, ...blocks.map((b) => b.replace(/\n\}\n?$/, '').trimEnd()).sort()].join('\n');
}

if (canRun) {
  after(async () => {
    for (const ns of NS) if (existsSync(`/var/run/netns/${ns}`)) await run('ip', ['netns', 'del', ns]);
  });
}

for (const [label, info] of [['hairpin per endpoint', node], ['hairpin by pod range', { ...node, podCidr: '10.1.3.0/24' }]] as const satisfies readonly (readonly [string, ProxyNodeInfo])[]) {
  test(`incremental nft transactions, applied for real, leave the table a full transaction of the last state makes (${label})`, { skip: canRun ? false : 'needs root and nft', timeout: 60_000 }, async () => {
    const node: ProxyNodeInfo = info;
    for (const ns of NS) {
      if (existsSync(`/var/run/netns/${ns}`)) await run('ip', ['netns', 'del', ns]);
      await runOk('ip', ['netns', 'add', ns]);
    }
    const [inc, ref] = NS;
    const r = rng(7);
    const cache = new NftRuleCache();
    let written: NftWritten | undefined;
    let stale: string[] = [];
    let { services, slices } = world(r, 24);
    for (let step = 0; step < 8; step++) {
      const out = cache.render(servicePorts(services, slices, node), node, { previous: written });
      if (stale.length) await nft(inc, ['-f', '-'], nftDeleteChains(stale.filter((c) => !out.written.chains.has(c))));
      if (out.text) await nft(inc, ['-f', '-'], out.text);
      written = out.written;
      stale = out.stale;
      // The next state: some Services' endpoints change, some go, some come.
      const next = world(r, 24);
      services = services.map((s, i) => (r() < 0.7 ? s : next.services[i]!)).filter(() => r() < 0.95);
      slices = next.slices.filter(() => r() < 0.9);
    }
    if (stale.length) await nft(inc, ['-f', '-'], nftDeleteChains(stale));
    const final = cache.render(servicePorts(services, slices, node), node, { previous: written });
    if (final.text) await nft(inc, ['-f', '-'], final.text);
    if (final.stale.length) await nft(inc, ['-f', '-'], nftDeleteChains(final.stale));
    const fresh = new NftRuleCache().render(servicePorts(services, slices, node), node);
    await nft(ref, ['-f', '-'], fresh.text);
    assert.equal(await table(inc), await table(ref));
    // A full transaction over the incremental table (a restarted proxy) finds and flushes what is stale.
    const listed = { chains: parseNftNames(await nft(inc, ['-t', 'list', 'chains', 'ip']), 'chain'), sets: parseNftNames(await nft(inc, ['-t', 'list', 'sets', 'ip']), 'set') };
    assert.ok(listed.chains.includes('services') && listed.chains.some((c) => c.startsWith('service-')));
    await nft(inc, ['-f', '-'], new NftRuleCache().render(servicePorts(services, slices, node), node, { existing: listed }).text);
    assert.equal(await table(inc), await table(ref));
  });
}
