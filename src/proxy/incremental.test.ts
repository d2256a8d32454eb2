/**
 * Incremental generation (ProxyRuleCache) must equal a full regeneration, sync after sync, in
 * both rule shapes; and the compact shape (no KUBE-SEP chains) keeps each rule's meaning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointSlice, Service, ServiceSpec } from '../api/index.ts';
import { rng, slice, svc, world } from './testing.ts';
import { ProxyRuleCache } from './incremental.ts';
import { buildProxyRules, chainHash, inlineEndpointChains, renderRestore, ruleLine, ServicePortTracker, servicePorts, type ProxyNodeInfo, type WrittenChains } from './rules.ts';

const node: ProxyNodeInfo = { nodeName: 'node1', nodeIPs: ['192.168.0.2'], clusterCidr: '10.0.0.0/8', endpointCidrs: ['10.0.0.0/8', '192.168.0.0/24'] };
const compact: ProxyNodeInfo = { ...node, endpointChains: false };

for (const [label, n] of [['upstream shape', node], ['compact shape', compact]] as const) {
  test(`incremental output equals a full regeneration over a sequence of changes (${label})`, () => {
    const r = rng(label.length);
    const cache = new ProxyRuleCache();
    let { services, slices } = world(r, 30);
    let written: WrittenChains | undefined;
    let reusedSome = false;
    for (let step = 0; step < 25; step++) {
      const ports = servicePorts(services, slices, n);
      const opts = { previous: step % 7 === 3 ? undefined : written, existing: step % 5 === 0 ? { filter: [], nat: ['KUBE-SVC-OLDOLDOLDOLDOLDO'] } : undefined, skipUnchangedTopLevel: step % 2 === 0 };
      const got = cache.render(ports, n, opts);
      const want = renderRestore(buildProxyRules(ports, n), opts);
      assert.equal(got.text, want.text, `step ${step}`);
      assert.deepEqual([got.changed, got.deleted], [want.changed, want.deleted]);
      assert.deepEqual([...got.written.nat], [...want.written.nat]);
      assert.deepEqual([...got.written.filter], [...want.written.filter]);
      if (step > 0 && cache.last.reused > 0 && cache.last.generated < ports.length) reusedSome = true;
      written = got.written;
      // Change a few things: a Service's endpoints, a Service removed, one added, one retyped.
      const next = world(r, 30);
      const i = Math.floor(r() * 30);
      slices = [...slices.filter((s) => s.metadata.name !== `s${i}-x`), ...next.slices.filter((s) => s.metadata.name === `s${i}-x`)];
      if (step % 3 === 0) services = services.filter((s) => s.metadata.name !== `s${Math.floor(r() * 30)}`);
      if (step % 4 === 0) services = [...services.filter((s) => s.metadata.name !== `s${i}`), next.services[i]!];
    }
    assert.ok(reusedSome, 'unchanged services were reused');
  });
}

test('the cache regenerates only changed service ports, and everything when the node info changes', () => {
  const cache = new ProxyRuleCache();
  const services = [svc('a', { clusterIP: '172.30.0.1', ports: [{ name: 'p', port: 80 }] }), svc('b', { clusterIP: '172.30.0.2', ports: [{ name: 'p', port: 80 }] })];
  const first = cache.render(servicePorts(services, [slice('a', ['10.1.0.1']), slice('b', ['10.1.0.2'])], node), node);
  assert.deepEqual(cache.last, { reused: 0, generated: 2 });
  const second = cache.render(servicePorts(services, [slice('a', ['10.1.0.1']), slice('b', ['10.1.0.3'])], node), node, { previous: first.written });
  assert.deepEqual(cache.last, { reused: 1, generated: 1 });
  assert.ok(!second.text.includes(`:KUBE-SVC-${chainHash('ns/a:ptcp')} `), 'service a not rewritten');
  assert.ok(second.text.includes(`:KUBE-SVC-${chainHash('ns/b:ptcp')} `), 'service b rewritten');
  cache.render(servicePorts(services, [slice('a', ['10.1.0.1']), slice('b', ['10.1.0.3'])], compact), compact);
  assert.deepEqual(cache.last, { reused: 0, generated: 2 });
});

test('skipUnchangedTopLevel: an endpoint change rewrites only its service chain; a new Service rewrites KUBE-SERVICES', () => {
  const a = svc('a', { clusterIP: '172.30.0.1', ports: [{ name: 'p', port: 80 }] });
  const b = svc('b', { clusterIP: '172.30.0.2', ports: [{ name: 'p', port: 80 }] });
  const render = (services: Service[], slices: EndpointSlice[], previous?: WrittenChains) => renderRestore(buildProxyRules(servicePorts(services, slices, compact), compact), { previous, skipUnchangedTopLevel: true });
  const declared = (text: string) => text.split('\n').filter((l) => l.startsWith(':'));
  const first = render([a], [slice('a', ['10.1.0.1'])]);
  assert.ok(declared(first.text).includes(':KUBE-SERVICES - [0:0]'), 'a first sync writes everything');
  const moved = render([a], [slice('a', ['10.1.0.2'])], first.written);
  assert.deepEqual(declared(moved.text), [`:KUBE-SVC-${chainHash('ns/a:ptcp')} - [0:0]`]);
  assert.match(moved.text, /^\*filter\nCOMMIT\n\*nat\n/);
  const added = render([a, b], [slice('a', ['10.1.0.2']), slice('b', ['10.1.0.3'])], moved.written);
  assert.deepEqual(declared(added.text), [':KUBE-SERVICES - [0:0]', `:KUBE-SVC-${chainHash('ns/b:ptcp')} - [0:0]`]);
  assert.equal(added.text.split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES ')).length, 3, 'KUBE-SERVICES rewritten whole');
});

/** The nat lines of a compact build, by chain. */
function natLines(services: Service[], slices: EndpointSlice[], n: ProxyNodeInfo = compact): string[] {
  return buildProxyRules(servicePorts(services, slices, n), n).nat.flatMap((c) => c.rules.map((r) => ruleLine(c.name, r)));
}

test('compact shape: no KUBE-SEP chains; hairpin marks first, then statistic DNAT rules in endpoint order', () => {
  const lines = natLines([svc('a', { clusterIP: '172.30.0.1', ports: [{ name: 'p', port: 80 }] })], [slice('a', ['10.1.0.1', '10.1.0.2', '10.1.0.3'])]);
  const chain = `KUBE-SVC-${chainHash('ns/a:ptcp')}`;
  assert.ok(!lines.some((l) => l.includes('KUBE-SEP-')), lines.join('\n'));
  assert.deepEqual(
    lines.filter((l) => l.startsWith(`-A ${chain} `)),
    [
      `-A ${chain} -m comment --comment "ns/a:p cluster IP" -m tcp -p tcp -d 172.30.0.1 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ`,
      `-A ${chain} -m comment --comment ns/a:p -s 10.1.0.1 -j KUBE-MARK-MASQ`,
      `-A ${chain} -m comment --comment ns/a:p -s 10.1.0.2 -j KUBE-MARK-MASQ`,
      `-A ${chain} -m comment --comment ns/a:p -s 10.1.0.3 -j KUBE-MARK-MASQ`,
      `-A ${chain} -m comment --comment "ns/a:p -> 10.1.0.1:8080" -m statistic --mode random --probability 0.3333333333 -m tcp -p tcp -j DNAT --to-destination 10.1.0.1:8080`,
      `-A ${chain} -m comment --comment "ns/a:p -> 10.1.0.2:8080" -m statistic --mode random --probability 0.5000000000 -m tcp -p tcp -j DNAT --to-destination 10.1.0.2:8080`,
      `-A ${chain} -m comment --comment "ns/a:p -> 10.1.0.3:8080" -m tcp -p tcp -j DNAT --to-destination 10.1.0.3:8080`,
    ],
  );
});

test('compact shape with ClientIP affinity: recent --update jumps straight to DNAT, the chosen endpoint is --set', () => {
  const lines = natLines([svc('a', { clusterIP: '172.30.0.1', sessionAffinity: 'ClientIP', ports: [{ name: 'p', port: 80 }] })], [slice('a', ['10.1.0.1', '10.1.0.2'])]);
  const chain = `KUBE-SVC-${chainHash('ns/a:ptcp')}`;
  const sep1 = `KUBE-SEP-${chainHash('ns/a:ptcp10.1.0.1:8080')}`;
  const sep2 = `KUBE-SEP-${chainHash('ns/a:ptcp10.1.0.2:8080')}`;
  assert.deepEqual(
    lines.filter((l) => l.startsWith(`-A ${chain} `) && l.includes('DNAT')),
    [
      `-A ${chain} -m comment --comment "ns/a:p -> 10.1.0.1:8080" -m recent --name ${sep1} --update --seconds 10800 --reap -m tcp -p tcp -j DNAT --to-destination 10.1.0.1:8080`,
      `-A ${chain} -m comment --comment "ns/a:p -> 10.1.0.2:8080" -m recent --name ${sep2} --update --seconds 10800 --reap -m tcp -p tcp -j DNAT --to-destination 10.1.0.2:8080`,
      `-A ${chain} -m comment --comment "ns/a:p -> 10.1.0.1:8080" -m statistic --mode random --probability 0.5000000000 -m recent --name ${sep1} --set -m tcp -p tcp -j DNAT --to-destination 10.1.0.1:8080`,
      `-A ${chain} -m comment --comment "ns/a:p -> 10.1.0.2:8080" -m recent --name ${sep2} --set -m tcp -p tcp -j DNAT --to-destination 10.1.0.2:8080`,
    ],
  );
});

test('compact shape with externalTrafficPolicy Local: KUBE-SVC and KUBE-SVL each carry their endpoints, KUBE-EXT is unchanged', () => {
  const services = [svc('a', { type: 'NodePort', clusterIP: '172.30.0.1', externalTrafficPolicy: 'Local', ports: [{ name: 'p', port: 80, nodePort: 30001 }] })];
  const slices = [slice('a', ['10.1.0.1']), { ...slice('a', ['10.1.0.2'], { node: 'node2' }), metadata: { namespace: 'ns', name: 'a-y', labels: { 'kubernetes.io/service-name': 'a' } } }];
  const full = natLines(services, slices, node);
  const lines = natLines(services, slices);
  const svl = `KUBE-SVL-${chainHash('ns/a:ptcp')}`;
  const ext = `KUBE-EXT-${chainHash('ns/a:ptcp')}`;
  assert.deepEqual(
    lines.filter((l) => l.startsWith(`-A ${svl} `)),
    [`-A ${svl} -m comment --comment ns/a:p -s 10.1.0.1 -j KUBE-MARK-MASQ`, `-A ${svl} -m comment --comment "ns/a:p -> 10.1.0.1:8080" -m tcp -p tcp -j DNAT --to-destination 10.1.0.1:8080`],
  );
  assert.deepEqual(
    lines.filter((l) => l.startsWith(`-A ${ext} `)),
    full.filter((l) => l.startsWith(`-A ${ext} `)),
  );
  assert.equal(lines.filter((l) => l.includes('DNAT --to-destination 10.1.0.2:8080')).length, 1, 'the remote endpoint only in KUBE-SVC');
});

test('inlineEndpointChains keeps a KUBE-SEP chain of an unknown shape', () => {
  const rules = {
    filter: [],
    nat: [
      { name: 'KUBE-SVC-X', rules: [['-j', 'KUBE-SEP-A'], ['-j', 'KUBE-SEP-B']] },
      { name: 'KUBE-SEP-A', rules: [['-s', '10.1.0.1', '-j', 'KUBE-MARK-MASQ'], ['-p', 'tcp', '-j', 'DNAT', '--to-destination', '10.1.0.1:80']] },
      { name: 'KUBE-SEP-B', rules: [['-j', 'LOG'], ['-p', 'tcp', '-j', 'DNAT', '--to-destination', '10.1.0.2:80']] },
    ],
  };
  assert.deepEqual(inlineEndpointChains(rules).nat, [
    {
      name: 'KUBE-SVC-X',
      rules: [
        ['-s', '10.1.0.1', '-j', 'KUBE-MARK-MASQ'],
        ['-p', 'tcp', '-j', 'DNAT', '--to-destination', '10.1.0.1:80'],
        ['-j', 'KUBE-SEP-B'],
      ],
    },
    rules.nat[2],
  ]);
});

test('ServicePortTracker equals servicePorts while objects are replaced, and keeps the very objects of unchanged Services', () => {
  const r = rng(11);
  const tracker = new ServicePortTracker();
  let { services, slices } = world(r, 30);
  let before = tracker.ports(services, slices, node);
  assert.deepEqual(before, servicePorts(services, slices, node));
  for (let step = 0; step < 10; step++) {
    const next = world(r, 30);
    // Replace some objects (an informer's update), drop a few, keep the rest as they are.
    services = services.map((s, i) => (r() < 0.2 ? next.services[i]! : s)).filter(() => r() < 0.97);
    slices = slices.map((s) => (r() < 0.2 ? (next.slices.find((x) => x.metadata.name === s.metadata.name) ?? s) : s));
    const got = tracker.ports(services, slices, node);
    assert.deepEqual(got, servicePorts(services, slices, node));
    const kept = got.filter((sp) => before.includes(sp));
    assert.ok(kept.length > 0, 'unchanged Services keep their objects');
    before = got;
  }
});
