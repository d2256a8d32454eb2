/**
 * The proxy's pure rule generation against upstream's expected shapes (pkg/proxy/iptables
 * proxier_test.go: TestOverallIPTablesRules and friends use the same names, addresses and
 * hashes, so the lines below can be compared with upstream's by eye).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointSlice, Service, ServiceSpec } from '../api/index.ts';
import { buildProxyRules, chainHash, conntrackCleanup, probability, renderRestore, ruleLine, servicePorts, type ProxyNodeInfo } from './rules.ts';

const node: ProxyNodeInfo = { nodeName: 'node1', nodeIPs: ['192.168.0.2'], clusterCidr: '10.0.0.0/8', endpointCidrs: ['10.0.0.0/8'] };

function svc(ns: string, name: string, spec: ServiceSpec): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec: { type: 'ClusterIP', ...spec } };
}

interface Ep {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

function slice(ns: string, service: string, port: { name?: string; port: number; protocol?: string }, eps: Ep[]): EndpointSlice {
  return {
    metadata: { namespace: ns, name: `${service}-abc`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: port.name, port: port.port, protocol: port.protocol ?? 'TCP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false } })),
  };
}

/** The rules of a table as iptables-restore lines (`-A chain ...`), in order. */
function lines(services: Service[], slices: EndpointSlice[], table: 'nat' | 'filter', n: ProxyNodeInfo = node): string[] {
  const rules = buildProxyRules(servicePorts(services, slices, n), n);
  return rules[table].flatMap((c) => c.rules.map((r) => ruleLine(c.name, r)));
}

const fixed = {
  nat: [
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
  ],
  nodePorts: '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS',
  forward: [
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  ],
};

test('chain names hash the service port name and protocol (and endpoint) as upstream', () => {
  assert.equal(chainHash('ns1/svc1:p80tcp'), 'XPGD46QRK7WJZT7O');
  assert.equal(chainHash('ns1/svc1:p80tcp10.180.0.1:80'), 'SXIVWICOYRO3J4NJ');
  assert.equal(chainHash('ns2/svc2:p80tcp'), 'GNZBNJ2PO5MGZ6GT');
});

test('probabilities are 1/n with ten decimals', () => {
  assert.deepEqual([2, 3, 4, 7].map(probability), ['0.5000000000', '0.3333333333', '0.2500000000', '0.1428571429']);
});

test('a ClusterIP service with one endpoint: cluster IP jump, off-cluster masquerade, hairpin and DNAT', () => {
  const s = [svc('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80, protocol: 'TCP' }] })];
  const e = [slice('ns1', 'svc1', { name: 'p80', port: 80 }, [{ ip: '10.180.0.1' }])];
  assert.deepEqual(lines(s, e, 'nat'), [
    '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
    fixed.nodePorts,
    ...fixed.nat,
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
    '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80',
  ]);
  assert.deepEqual(lines(s, e, 'filter'), fixed.forward);
});

test('several endpoints are chosen with statistic random, in endpoint order, the last unconditionally', () => {
  const s = [svc('ns4', 'svc4', { clusterIP: '172.30.0.44', ports: [{ name: 'p80', port: 80 }] })];
  const e = [slice('ns4', 'svc4', { name: 'p80', port: 80 }, [{ ip: '10.180.0.5' }, { ip: '10.180.0.4' }, { ip: '10.180.0.10' }])];
  const svcChain = 'KUBE-SVC-' + chainHash('ns4/svc4:p80tcp');
  const sep = (ip: string) => 'KUBE-SEP-' + chainHash(`ns4/svc4:p80tcp${ip}:80`);
  assert.deepEqual(
    lines(s, e, 'nat').filter((l) => l.startsWith(`-A ${svcChain}`)).slice(1),
    [
      `-A ${svcChain} -m comment --comment "ns4/svc4:p80 -> 10.180.0.10:80" -m statistic --mode random --probability 0.3333333333 -j ${sep('10.180.0.10')}`,
      `-A ${svcChain} -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j ${sep('10.180.0.4')}`,
      `-A ${svcChain} -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80" -j ${sep('10.180.0.5')}`,
    ],
  );
});

test('a service without endpoints is rejected in filter KUBE-SERVICES and KUBE-EXTERNAL-SERVICES, with no nat chains', () => {
  const s = [svc('ns6', 'svc6', { type: 'NodePort', clusterIP: '172.30.0.46', ports: [{ name: 'p80', port: 80, nodePort: 3006 }] })];
  assert.deepEqual(lines(s, [], 'filter').slice(0, 2), [
    '-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT',
    '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3006 -j REJECT',
  ]);
  assert.deepEqual(lines(s, [], 'nat'), [fixed.nodePorts, ...fixed.nat]);
});

test('NodePort with externalTrafficPolicy Cluster: KUBE-NODEPORTS → KUBE-EXT (masquerade) → KUBE-SVC', () => {
  const s = [svc('ns3', 'svc3', { type: 'NodePort', clusterIP: '172.30.0.43', ports: [{ name: 'p80', port: 80, nodePort: 3003 }] })];
  const e = [slice('ns3', 'svc3', { name: 'p80', port: 80 }, [{ ip: '10.180.0.3' }])];
  const h = chainHash('ns3/svc3:p80tcp');
  const nat = lines(s, e, 'nat');
  assert.ok(nat.includes(`-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 -j KUBE-EXT-${h}`));
  assert.deepEqual(nat.filter((l) => l.startsWith(`-A KUBE-EXT-${h}`)), [
    `-A KUBE-EXT-${h} -m comment --comment "masquerade traffic for ns3/svc3:p80 external destinations" -j KUBE-MARK-MASQ`,
    `-A KUBE-EXT-${h} -j KUBE-SVC-${h}`,
  ]);
});

test('NodePort with externalTrafficPolicy Local: pod and host traffic short-circuit to KUBE-SVC, the rest to local endpoints', () => {
  const s = [svc('ns2', 'svc2', { type: 'NodePort', externalTrafficPolicy: 'Local', clusterIP: '172.30.0.42', ports: [{ name: 'p80', port: 80, nodePort: 3001 }] })];
  const e = [slice('ns2', 'svc2', { name: 'p80', port: 80 }, [{ ip: '10.180.0.2', node: 'node1' }, { ip: '10.180.0.3', node: 'node2' }])];
  const nat = lines(s, e, 'nat');
  const ext = 'KUBE-EXT-GNZBNJ2PO5MGZ6GT';
  const svl = 'KUBE-SVL-GNZBNJ2PO5MGZ6GT';
  assert.deepEqual(nat.filter((l) => l.startsWith(`-A ${ext}`)), [
    `-A ${ext} -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT`,
    `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
    `-A ${ext} -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT`,
    `-A ${ext} -j ${svl}`,
  ]);
  assert.deepEqual(nat.filter((l) => l.startsWith(`-A ${svl}`)), [`-A ${svl} -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-${chainHash('ns2/svc2:p80tcp10.180.0.2:80')}`]);
  assert.equal(nat.filter((l) => l.startsWith('-A KUBE-SVC-GNZBNJ2PO5MGZ6GT') && l.includes('-> ')).length, 2, 'the cluster chain keeps both endpoints');
});

test('externalTrafficPolicy Local without local endpoints drops external traffic that was not short-circuited', () => {
  const s = [svc('ns2', 'svc2', { type: 'NodePort', externalTrafficPolicy: 'Local', clusterIP: '172.30.0.42', ports: [{ name: 'p80', port: 80, nodePort: 3001 }] })];
  const e = [slice('ns2', 'svc2', { name: 'p80', port: 80 }, [{ ip: '10.180.0.2', node: 'node2' }])];
  assert.equal(lines(s, e, 'filter')[0], '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP');
  assert.ok(!lines(s, e, 'nat').some((l) => l.includes('KUBE-SVL-')), 'no local policy chain');
});

test('internalTrafficPolicy Local: the cluster IP goes to KUBE-SVL, or is dropped without a local endpoint', () => {
  const s = [svc('ns1', 'svc1', { internalTrafficPolicy: 'Local', clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] })];
  const local = [slice('ns1', 'svc1', { name: 'p80', port: 80 }, [{ ip: '10.180.0.1', node: 'node1' }, { ip: '10.180.0.2', node: 'node2' }])];
  const nat = lines(s, local, 'nat');
  assert.equal(nat[0], '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVL-XPGD46QRK7WJZT7O');
  assert.deepEqual(nat.filter((l) => l.includes('-> ')), ['-A KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ']);
  const remote = [slice('ns1', 'svc1', { name: 'p80', port: 80 }, [{ ip: '10.180.0.2', node: 'node2' }])];
  assert.equal(lines(s, remote, 'filter')[0], '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j DROP');
});

test('sessionAffinity ClientIP: recent --rcheck rules first, recent --set before the DNAT', () => {
  const s = [svc('ns1', 'svc1', { clusterIP: '172.30.0.41', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } }, ports: [{ name: 'p80', port: 80 }] })];
  const e = [slice('ns1', 'svc1', { name: 'p80', port: 80 }, [{ ip: '10.180.0.1' }])];
  const nat = lines(s, e, 'nat');
  assert.ok(nat.includes('-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m recent --name KUBE-SEP-SXIVWICOYRO3J4NJ --rcheck --seconds 10800 --reap -j KUBE-SEP-SXIVWICOYRO3J4NJ'));
  assert.ok(nat.includes('-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m recent --name KUBE-SEP-SXIVWICOYRO3J4NJ --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80'));
  const i = nat.findIndex((l) => l.includes('--rcheck'));
  const j = nat.findIndex((l) => l.startsWith('-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j'));
  assert.ok(i >= 0 && i < j, 'affinity check precedes balancing');
});

const endpointCases: { name: string; eps: Ep[]; want: string[] }[] = [
  { name: 'only ready endpoints are used', eps: [{ ip: '10.180.0.1' }, { ip: '10.180.0.2', ready: false, serving: false }], want: ['10.180.0.1:80'] },
  { name: 'serving terminating endpoints are the fallback when none is ready', eps: [{ ip: '10.180.0.1', ready: false, serving: true, terminating: true }, { ip: '10.180.0.2', ready: false, serving: false, terminating: true }], want: ['10.180.0.1:80'] },
  { name: 'terminating endpoints are not used while one is ready', eps: [{ ip: '10.180.0.1', ready: false, serving: true, terminating: true }, { ip: '10.180.0.2' }], want: ['10.180.0.2:80'] },
  { name: 'endpoints outside the allowed ranges are never DNAT targets', eps: [{ ip: '8.8.8.8' }, { ip: '10.180.0.2' }], want: ['10.180.0.2:80'] },
];
for (const c of endpointCases) {
  test(c.name, () => {
    const s = [svc('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] })];
    const nat = lines(s, [slice('ns1', 'svc1', { name: 'p80', port: 80 }, c.eps)], 'nat');
    assert.deepEqual(nat.filter((l) => l.includes('DNAT')).map((l) => l.split(' ').at(-1)), c.want);
  });
}

test('unnamed ports, UDP and headless/ExternalName services', () => {
  const s = [
    svc('ns', 'dns', { clusterIP: '172.30.0.10', ports: [{ port: 53, protocol: 'UDP' }] }),
    svc('ns', 'headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
    svc('ns', 'ext', { type: 'ExternalName', externalName: 'example.invalid' }),
  ];
  const ports = servicePorts(s, [slice('ns', 'dns', { port: 53, protocol: 'UDP' }, [{ ip: '10.1.0.5' }])], node);
  assert.deepEqual(ports.map((p) => [p.name, p.protocol, p.endpoints.map((e) => e.endpoint)]), [['ns/dns', 'udp', ['10.1.0.5:53']]]);
  const nat = buildProxyRules(ports, node).nat.flatMap((c) => c.rules.map((r) => ruleLine(c.name, r)));
  assert.ok(nat.includes(`-A KUBE-SEP-${chainHash('ns/dnsudp10.1.0.5:53')} -m comment --comment ns/dns -m udp -p udp -j DNAT --to-destination 10.1.0.5:53`));
});

test('a partial sync rewrites only changed service chains and deletes stale ones; a full sync deletes unknown ones', () => {
  const n2: ProxyNodeInfo = { ...node, endpointCidrs: undefined };
  const a = svc('ns1', 'a', { clusterIP: '172.30.0.1', ports: [{ name: 'p', port: 80 }] });
  const b = svc('ns1', 'b', { clusterIP: '172.30.0.2', ports: [{ name: 'p', port: 80 }] });
  const ea = slice('ns1', 'a', { name: 'p', port: 80 }, [{ ip: '10.1.0.1' }]);
  const eb1 = slice('ns1', 'b', { name: 'p', port: 80 }, [{ ip: '10.1.0.2' }]);
  const eb2 = slice('ns1', 'b', { name: 'p', port: 80 }, [{ ip: '10.1.0.3' }]);
  const first = renderRestore(buildProxyRules(servicePorts([a, b], [ea, eb1], n2), n2), { existing: { filter: [], nat: ['KUBE-SVC-OLDOLDOLDOLDOLDO'] } });
  assert.equal(first.changed, 4);
  assert.match(first.text, /^:KUBE-SVC-OLDOLDOLDOLDOLDO - \[0:0\]$/m);
  assert.match(first.text, /^-X KUBE-SVC-OLDOLDOLDOLDOLDO$/m);
  const second = renderRestore(buildProxyRules(servicePorts([a, b], [ea, eb2], n2), n2), { previous: first.written });
  const declared = second.text.split('\n').filter((l) => l.startsWith(':'));
  const oldSep = 'KUBE-SEP-' + chainHash('ns1/b:ptcp10.1.0.2:80');
  const newSep = 'KUBE-SEP-' + chainHash('ns1/b:ptcp10.1.0.3:80');
  const svcB = 'KUBE-SVC-' + chainHash('ns1/b:ptcp');
  assert.deepEqual(declared, [
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-EXTERNAL-SERVICES - [0:0]',
    ':KUBE-FORWARD - [0:0]',
    ':KUBE-PROXY-FIREWALL - [0:0]',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-NODEPORTS - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    `:${svcB} - [0:0]`,
    `:${newSep} - [0:0]`,
    `:${oldSep} - [0:0]`,
  ]);
  assert.match(second.text, new RegExp(`^-X ${oldSep}$`, 'm'));
  assert.ok(!second.text.includes(chainHash('ns1/a:ptcp10.1.0.1:80')), 'service a untouched');
  assert.ok(second.text.includes(`-j KUBE-SVC-${chainHash('ns1/a:ptcp')}`), 'KUBE-SERVICES still lists a');
  assert.deepEqual([second.changed, second.deleted], [2, 1]);
  const gone = renderRestore(buildProxyRules(servicePorts([a], [ea], n2), n2), { previous: second.written });
  assert.equal(gone.deleted, 2);
  assert.match(gone.text, /COMMIT\n$/);
});

test('conntrack clean-up: UDP flows to a vanished endpoint, and flows to a service that gains endpoints', () => {
  const s = [svc('ns', 'dns', { type: 'NodePort', clusterIP: '172.30.0.10', ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }] })];
  const before = servicePorts(s, [slice('ns', 'dns', { port: 53, protocol: 'UDP' }, [{ ip: '10.1.0.5' }, { ip: '10.1.0.6' }])], node);
  const after = servicePorts(s, [slice('ns', 'dns', { port: 53, protocol: 'UDP' }, [{ ip: '10.1.0.6' }])], node);
  assert.deepEqual(conntrackCleanup(before, after), [
    ['-D', '-p', 'udp', '--orig-dst', '172.30.0.10', '--dst-nat', '10.1.0.5'],
    ['-D', '-p', 'udp', '--dport', '30053', '--dst-nat', '10.1.0.5'],
  ]);
  const empty = servicePorts(s, [], node);
  assert.deepEqual(conntrackCleanup(empty, after), [['-D', '-p', 'udp', '--orig-dst', '172.30.0.10']]);
  const tcp = [svc('ns', 'web', { clusterIP: '172.30.0.11', ports: [{ port: 80 }] })];
  assert.deepEqual(conntrackCleanup(servicePorts(tcp, [slice('ns', 'web', { port: 80 }, [{ ip: '10.1.0.7' }])], node), servicePorts(tcp, [], node)), []);
});

// ---- LoadBalancer ingress (ServiceLB) ----------------------------------------------------------

function lbSvc(ns: string, name: string, spec: ServiceSpec, ingress: { ip: string; ipMode?: string }[]): Service {
  return { ...svc(ns, name, { type: 'LoadBalancer', ...spec }), status: { loadBalancer: { ingress } } };
}

test('LoadBalancer ingress IPs jump from KUBE-SERVICES to KUBE-EXT (masquerade → KUBE-SVC), before the nodeports rule', () => {
  const s = [lbSvc('ns2', 'svc2', { clusterIP: '172.30.0.42', ports: [{ name: 'p80', port: 80, nodePort: 3001 }] }, [{ ip: '1.2.3.4', ipMode: 'VIP' }, { ip: '5.6.7.8' }])];
  const e = [slice('ns2', 'svc2', { name: 'p80', port: 80 }, [{ ip: '10.180.0.2' }])];
  const nat = lines(s, e, 'nat');
  const ext = 'KUBE-EXT-GNZBNJ2PO5MGZ6GT';
  assert.deepEqual(nat.filter((l) => l.startsWith('-A KUBE-SERVICES')), [
    '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
    `-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j ${ext}`,
    `-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j ${ext}`,
    fixed.nodePorts,
  ]);
  assert.deepEqual(nat.filter((l) => l.startsWith(`-A ${ext}`)), [
    `-A ${ext} -m comment --comment "masquerade traffic for ns2/svc2:p80 external destinations" -j KUBE-MARK-MASQ`,
    `-A ${ext} -j KUBE-SVC-GNZBNJ2PO5MGZ6GT`,
  ]);
  assert.ok(nat.includes(`-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j ${ext}`));
});

test('LoadBalancer without node ports (allocateLoadBalancerNodePorts false) still gets its external chain; externalTrafficPolicy Local is honoured', () => {
  const s = [lbSvc('ns2', 'svc2', { externalTrafficPolicy: 'Local', allocateLoadBalancerNodePorts: false, clusterIP: '172.30.0.42', ports: [{ name: 'p80', port: 80 }] }, [{ ip: '1.2.3.4', ipMode: 'VIP' }])];
  const e = [slice('ns2', 'svc2', { name: 'p80', port: 80 }, [{ ip: '10.180.0.2', node: 'node1' }, { ip: '10.180.0.3', node: 'node2' }])];
  const nat = lines(s, e, 'nat');
  const ext = 'KUBE-EXT-GNZBNJ2PO5MGZ6GT';
  const svl = 'KUBE-SVL-GNZBNJ2PO5MGZ6GT';
  assert.ok(nat.includes(`-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j ${ext}`));
  assert.deepEqual(nat.filter((l) => l.startsWith(`-A ${ext}`)), [
    `-A ${ext} -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT`,
    `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
    `-A ${ext} -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT`,
    `-A ${ext} -j ${svl}`,
  ]);
  assert.deepEqual(nat.filter((l) => l.startsWith(`-A ${svl}`)), [`-A ${svl} -m comment --comment "ns2/svc2:p80 -> 10.180.0.2:80" -j KUBE-SEP-${chainHash('ns2/svc2:p80tcp10.180.0.2:80')}`]);
  assert.ok(!nat.some((l) => l.startsWith('-A KUBE-NODEPORTS')), 'no node port');
});

test('LoadBalancer ingress without usable endpoints is rejected (none) or dropped (no local ones) in KUBE-EXTERNAL-SERVICES', () => {
  const none = [lbSvc('ns6', 'svc6', { clusterIP: '172.30.0.46', ports: [{ name: 'p80', port: 80, nodePort: 3006 }] }, [{ ip: '1.2.3.4', ipMode: 'VIP' }])];
  const f = lines(none, [], 'filter');
  assert.ok(f.includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT'));
  assert.ok(!lines(none, [], 'nat').some((l) => l.includes('loadbalancer IP')));
  const local = [lbSvc('ns2', 'svc2', { externalTrafficPolicy: 'Local', clusterIP: '172.30.0.42', ports: [{ name: 'p80', port: 80, nodePort: 3001 }] }, [{ ip: '1.2.3.4', ipMode: 'VIP' }])];
  const e = [slice('ns2', 'svc2', { name: 'p80', port: 80 }, [{ ip: '10.180.0.2', node: 'node2' }])];
  assert.ok(lines(local, e, 'filter').includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j DROP'));
});

test('ingress of ipMode Proxy, hostnames, IPv6, and stale status on a non-LoadBalancer service are not programmed', () => {
  const proxyMode = lbSvc('ns1', 'a', { clusterIP: '172.30.0.41', ports: [{ port: 80, nodePort: 3001 }] }, [{ ip: '1.2.3.4', ipMode: 'Proxy' }, { ip: 'fd00::1', ipMode: 'VIP' }]);
  const stale = { ...lbSvc('ns1', 'b', { clusterIP: '172.30.0.42', ports: [{ port: 80 }] }, [{ ip: '5.6.7.8', ipMode: 'VIP' }]), spec: { type: 'ClusterIP', clusterIP: '172.30.0.42', ports: [{ port: 80 }] } } as Service;
  const ports = servicePorts([proxyMode, stale], [slice('ns1', 'a', { port: 80 }, [{ ip: '10.1.0.1' }]), slice('ns1', 'b', { port: 80 }, [{ ip: '10.1.0.2' }])], node);
  assert.deepEqual(ports.map((p) => p.loadBalancerIPs), [[], []]);
});

test('conntrack clean-up covers UDP flows to load-balancer ingress IPs', () => {
  const s = [lbSvc('ns', 'dns', { clusterIP: '172.30.0.10', ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }] }, [{ ip: '1.2.3.4', ipMode: 'VIP' }])];
  const before = servicePorts(s, [slice('ns', 'dns', { port: 53, protocol: 'UDP' }, [{ ip: '10.1.0.5' }])], node);
  const after = servicePorts(s, [], node);
  assert.deepEqual(conntrackCleanup(before, after), [
    ['-D', '-p', 'udp', '--orig-dst', '172.30.0.10', '--dst-nat', '10.1.0.5'],
    ['-D', '-p', 'udp', '--dport', '30053', '--dst-nat', '10.1.0.5'],
    ['-D', '-p', 'udp', '--orig-dst', '1.2.3.4', '--dst-nat', '10.1.0.5'],
  ]);
});

test('pod traffic to an endpoint off the pod network and off this node (the API server on the hosts link) is masqueraded', () => {
  const s = [svc('default', 'kubernetes', { clusterIP: '172.30.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] })];
  const n: ProxyNodeInfo = { ...node, endpointCidrs: ['10.0.0.0/8', '192.168.0.0/24'] };
  const nat = (ip: string) => lines(s, [slice('default', 'kubernetes', { name: 'https', port: 6443 }, [{ ip }])], 'nat', n).filter((l) => l.startsWith('-A KUBE-SEP-'));
  assert.match(nat('192.168.0.1')[1]!, /--comment "default\/kubernetes:https pod traffic off the pod network" -s 10\.0\.0\.0\/8 -j KUBE-MARK-MASQ$/);
  assert.equal(nat('192.168.0.1').length, 3);
  assert.equal(nat('192.168.0.2').length, 2, 'the node itself: no masquerade');
  assert.equal(nat('10.180.0.1').length, 2, 'a pod: no masquerade');
});

test('loadBalancerSourceRanges: KUBE-SERVICES → KUBE-FW (allowed sources → KUBE-EXT), the rest dropped in KUBE-PROXY-FIREWALL', () => {
  const spec = { clusterIP: '172.30.0.45', ports: [{ name: 'p80', port: 80, nodePort: 3005 }], loadBalancerSourceRanges: [' 203.0.113.0/25 '] };
  const s = [lbSvc('ns5', 'svc5', spec, [{ ip: '5.6.7.8', ipMode: 'VIP' }])];
  const e = [slice('ns5', 'svc5', { name: 'p80', port: 80 }, [{ ip: '10.180.0.3' }])];
  const fw = 'KUBE-FW-NUKIZ6OKUXPJNT4C';
  const ext = 'KUBE-EXT-NUKIZ6OKUXPJNT4C';
  const nat = lines(s, e, 'nat');
  assert.ok(nat.includes(`-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j ${fw}`));
  assert.deepEqual(nat.filter((l) => l.startsWith(`-A ${fw}`)), [
    `-A ${fw} -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j ${ext}`,
    `-A ${fw} -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"`,
  ]);
  assert.deepEqual(lines(s, e, 'filter').filter((l) => l.startsWith('-A KUBE-PROXY-FIREWALL')), [
    `-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by ${fw}" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP`,
  ]);
  // A range holding the node's address also lets the node's own requests (from the address itself) through.
  const fromNode = [lbSvc('ns5', 'svc5', { ...spec, loadBalancerSourceRanges: ['192.168.0.0/24'] }, [{ ip: '5.6.7.8', ipMode: 'VIP' }])];
  assert.deepEqual(lines(fromNode, e, 'nat').filter((l) => l.startsWith(`-A ${fw}`)), [
    `-A ${fw} -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 192.168.0.0/24 -j ${ext}`,
    `-A ${fw} -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 5.6.7.8 -j ${ext}`,
    `-A ${fw} -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"`,
  ]);
  // Without endpoints or without ingress there is no firewall chain.
  assert.ok(!lines(s, [], 'nat').some((l) => l.includes(fw)));
  assert.ok(!lines([lbSvc('ns5', 'svc5', spec, [])], e, 'nat').some((l) => l.includes(fw)));
});
