import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Namespace, NetworkPolicy, NetworkPolicySpec, Pod } from '../api/index.ts';
import { compileNetworkPolicy, DNS_CHAIN, MAIN_CHAIN, podChainName, REJECT_WITH, type CompiledRules } from './compile.ts';
import { cidrMinus } from './cidr.ts';
import { parseCidr } from '../network/cidr.ts';
import { removeNetworkPolicyRules, restoreScript, type IptablesIO } from './rules.ts';

// --- builders -------------------------------------------------------------------------------

interface PodOpts {
  ns?: string;
  labels?: Record<string, string>;
  node?: string;
  ip?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  hostNetwork?: boolean;
  phase?: string;
}

function pod(name: string, o: PodOpts = {}): Pod {
  return {
    metadata: { name, namespace: o.ns ?? 'a', labels: o.labels ?? {} },
    spec: { nodeName: o.node ?? 'n1', hostNetwork: o.hostNetwork, containers: [{ name: 'c', image: 'busybox', ports: o.ports }] },
    status: { phase: o.phase ?? 'Running', podIP: o.ip, podIPs: o.ip ? [{ ip: o.ip }] : undefined },
  };
}

function ns(name: string, labels: Record<string, string> = {}): Namespace {
  return { metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

function policy(name: string, spec: NetworkPolicySpec, namespace = 'a'): NetworkPolicy {
  return { metadata: { name, namespace }, spec };
}

const pods: Pod[] = [
  pod('web', { labels: { app: 'web' }, ip: '10.42.0.10', ports: [{ name: 'http', containerPort: 80 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }),
  pod('db', { labels: { app: 'db' }, ip: '10.42.0.11', ports: [{ name: 'pg', containerPort: 5432 }] }),
  pod('frontend', { labels: { app: 'frontend' }, ip: '10.42.0.12' }),
  pod('frontend-b', { ns: 'b', labels: { app: 'frontend' }, ip: '10.42.1.5', node: 'n2' }),
  pod('other-b', { ns: 'b', labels: { app: 'other' }, ip: '10.42.0.20' }),
  pod('db-b', { ns: 'b', labels: { app: 'db' }, ip: '10.42.1.6', node: 'n2', ports: [{ name: 'pg', containerPort: 6432 }] }),
  pod('pending', { labels: { app: 'frontend' } }),
  pod('done', { labels: { app: 'frontend' }, ip: '10.42.0.30', phase: 'Succeeded' }),
  pod('hostnet', { labels: { app: 'web' }, ip: '192.168.1.2', hostNetwork: true }),
];
const namespaces = [ns('a', { team: 'a' }), ns('b', { team: 'b' })];

const IP: Record<string, string> = { web: '10.42.0.10', db: '10.42.0.11', frontend: '10.42.0.12', 'other-b': '10.42.0.20' };
const NS: Record<string, string> = { web: 'a', db: 'a', frontend: 'a', 'other-b': 'b' };

function compile(policies: NetworkPolicy[], podList = pods): CompiledRules {
  return compileNetworkPolicy({ nodeName: 'n1', policies, pods: podList, namespaces });
}

/** A rule as text without its comment, for readable expectations. */
function text(rule: string[]): string {
  const i = rule.indexOf('--comment');
  const r = i >= 0 ? [...rule.slice(0, i - 2), ...rule.slice(i + 2)] : rule;
  return r.join(' ');
}

/** The rules of a pod's chain, without the leading self rule and the trailing reject; undefined if the pod is not isolated. */
function chain(rules: CompiledRules, name: string, dir: 'Ingress' | 'Egress'): string[] | undefined {
  const c = rules.chains.find((x) => x.name === podChainName(dir, NS[name]!, name, IP[name]!));
  if (!c) return undefined;
  const lines = c.rules.map(text);
  assert.equal(lines[0], `${dir === 'Ingress' ? '-s' : '-d'} ${IP[name]}/32 -j RETURN`, 'a pod may always reach itself');
  assert.equal(lines.at(-1), `-j REJECT --reject-with ${REJECT_WITH}`, 'the rest is rejected');
  return lines.slice(1, -1);
}

const tcp = (port: string | number) => `-p tcp -m tcp --dport ${port}`;

interface Case {
  name: string;
  policies: NetworkPolicy[];
  /** Expected allow rules per isolated pod and direction; absent pods/directions are not isolated. */
  want: Partial<Record<string, { Ingress?: string[]; Egress?: string[] }>>;
}

const cases: Case[] = [
  { name: 'without policies no local pod is isolated', policies: [], want: {} },
  {
    name: 'default deny ingress isolates every local pod of the namespace and allows nothing',
    policies: [policy('deny-all-ingress', { podSelector: {}, policyTypes: ['Ingress'] })],
    want: { web: { Ingress: [] }, db: { Ingress: [] }, frontend: { Ingress: [] } },
  },
  {
    name: 'default deny ingress without policyTypes defaults to Ingress',
    policies: [policy('deny', { podSelector: {} })],
    want: { web: { Ingress: [] }, db: { Ingress: [] }, frontend: { Ingress: [] } },
  },
  {
    name: 'default deny egress isolates for egress only',
    policies: [policy('deny-egress', { podSelector: {}, policyTypes: ['Egress'] })],
    want: { web: { Egress: [] }, db: { Egress: [] }, frontend: { Egress: [] } },
  },
  {
    name: 'an empty ingress rule allows all sources and ports',
    policies: [policy('allow-all', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{}] })],
    want: { web: { Ingress: ['-j RETURN'] } },
  },
  {
    name: 'an empty from list with ports allows those ports from everywhere',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [], ports: [{ port: 80 }] }] })],
    want: { web: { Ingress: [`${tcp(80)} -j RETURN`] } },
  },
  {
    name: 'a podSelector peer allows the matching pods of the policy namespace on the port',
    policies: [policy('web-netpol', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 80 }] }] })],
    want: { web: { Ingress: [`-s 10.42.0.12/32 ${tcp(80)} -j RETURN`] } },
  },
  {
    name: 'a namespaceSelector peer allows every pod of the matching namespaces, on any node',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'b' } } }] }] })],
    want: { web: { Ingress: ['-s 10.42.1.6/32 -j RETURN', '-s 10.42.1.5/32 -j RETURN', '-s 10.42.0.20/32 -j RETURN'] } }, // pods in namespace/name order
  },
  {
    name: 'podSelector and namespaceSelector in one peer allow matching pods in matching namespaces',
    policies: [
      policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'b' } }, podSelector: { matchLabels: { app: 'frontend' } } }] }] }),
    ],
    want: { web: { Ingress: ['-s 10.42.1.5/32 -j RETURN'] } },
  },
  {
    name: 'podSelector and namespaceSelector as two peers allow the union',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'db' } } }, { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['b'] }] }, podSelector: { matchLabels: { app: 'db' } } }] }] })],
    want: { web: { Ingress: ['-s 10.42.0.11/32 -j RETURN', '-s 10.42.1.6/32 -j RETURN'] } },
  },
  {
    name: 'an empty namespaceSelector means all namespaces',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'frontend' } } }] }] })],
    want: { db: { Ingress: ['-s 10.42.0.12/32 -j RETURN', '-s 10.42.1.5/32 -j RETURN'] } },
  },
  {
    name: 'pods without an IP, finished pods and hostNetwork pods are not peers',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['frontend', 'web'] }] } }] }] })],
    want: { db: { Ingress: ['-s 10.42.0.10/32 -j RETURN', '-s 10.42.0.12/32 -j RETURN'] } },
  },
  {
    name: 'an ipBlock with except allows the block minus the exceptions',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } }], ports: [{ port: 443 }] }] })],
    want: {
      web: {
        Ingress: ['172.17.0.0/24', '172.17.2.0/23', '172.17.4.0/22', '172.17.8.0/21', '172.17.16.0/20', '172.17.32.0/19', '172.17.64.0/18', '172.17.128.0/17'].map((c) => `-s ${c} ${tcp(443)} -j RETURN`),
      },
    },
  },
  {
    name: 'an IPv6 ipBlock matches nothing on IPv4 pods',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ ipBlock: { cidr: 'fd00::/8' } }] }] })],
    want: { web: { Ingress: [] } },
  },
  {
    name: 'a named ingress port resolves on the destination pod’s container ports',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 'http' }, { port: 'dns', protocol: 'UDP' }, { port: 'dns' }, { port: 'missing' }] }] })],
    want: { web: { Ingress: [`${tcp(80)} -j RETURN`, '-p udp -m udp --dport 53 -j RETURN'] } },
  },
  {
    name: 'a named port only matches pods that have it: the others are isolated with nothing allowed',
    policies: [policy('p', { podSelector: {}, ingress: [{ ports: [{ port: 'pg' }] }] })],
    want: { web: { Ingress: [] }, db: { Ingress: [`${tcp(5432)} -j RETURN`] }, frontend: { Ingress: [] } },
  },
  {
    name: 'endPort gives a port range; protocol UDP and SCTP are honoured; a protocol without port allows all its ports',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 8000, endPort: 8080 }, { protocol: 'UDP', port: 5353 }, { protocol: 'SCTP', port: 9000 }, { protocol: 'UDP' }] }] })],
    want: { web: { Ingress: [`${tcp('8000:8080')} -j RETURN`, '-p udp -m udp --dport 5353 -j RETURN', '-p sctp -m sctp --dport 9000 -j RETURN', '-p udp -j RETURN'] } },
  },
  {
    name: 'endPort equal to port is that one port; an inverted range matches nothing',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 80, endPort: 80 }, { port: 90, endPort: 85 }] }] })],
    want: { web: { Ingress: [`${tcp(80)} -j RETURN`] } },
  },
  {
    name: 'peers × ports: every peer with every port',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }, { podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 80 }, { port: 81 }] }] })],
    want: { web: { Ingress: [`-s 10.42.0.12/32 ${tcp(80)} -j RETURN`, `-s 10.42.0.12/32 ${tcp(81)} -j RETURN`, `-s 10.42.0.11/32 ${tcp(80)} -j RETURN`, `-s 10.42.0.11/32 ${tcp(81)} -j RETURN`] } },
  },
  {
    name: 'policies selecting one pod add up (union), in policy name order, duplicates once',
    policies: [
      policy('b-second', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'db' } } }] }] }),
      policy('a-first', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }] }, { from: [{ podSelector: { matchLabels: { app: 'frontend' } } }] }] }),
    ],
    want: { web: { Ingress: ['-s 10.42.0.12/32 -j RETURN', '-s 10.42.0.11/32 -j RETURN'] } },
  },
  {
    name: 'egress rules imply policyTypes Ingress and Egress; DNS to anywhere and db on 5432',
    policies: [
      policy('web-netpol', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ port: 80 }] }],
        egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 5432 }] }, { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }],
      }),
    ],
    want: { web: { Ingress: [`-s 10.42.0.12/32 ${tcp(80)} -j RETURN`], Egress: [`-d 10.42.0.11/32 ${tcp(5432)} -j RETURN`, '-p udp -m udp --dport 53 -j RETURN', `${tcp(53)} -j RETURN`] } },
  },
  {
    name: 'DNS to the node is allowed by a peer covering CoreDNS’s namespace and labels',
    policies: [
      policy('dns', {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 'dns-tcp' }, { port: 5432 }] }],
      }),
    ],
    want: { web: { Egress: ['-m addrtype --dst-type LOCAL -p udp -m udp --dport 53 -j RETURN', `-m addrtype --dst-type LOCAL ${tcp(53)} -j RETURN`] } },
  },
  {
    name: 'DNS to the node is allowed by an all-namespaces peer, and the pods of those namespaces too',
    policies: [policy('dns', { podSelector: { matchLabels: { app: 'frontend' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 53 }] }] })],
    want: {
      frontend: {
        Egress: ['-m addrtype --dst-type LOCAL -p udp -m udp --dport 53 -j RETURN', ...['10.42.0.11', '10.42.0.12', '10.42.0.10', '10.42.1.6', '10.42.1.5', '10.42.0.20'].map((x) => `-d ${x}/32 -p udp -m udp --dport 53 -j RETURN`)],
      },
    },
  },
  {
    name: 'DNS to the node is not allowed by peers that do not cover it',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: {} }] }, { to: [{ namespaceSelector: { matchLabels: { team: 'b' } } }], ports: [{ protocol: 'UDP', port: 53 }] }] })],
    want: { web: { Egress: ['-d 10.42.0.11/32 -j RETURN', '-d 10.42.0.12/32 -j RETURN', '-d 10.42.1.6/32 -p udp -m udp --dport 53 -j RETURN', '-d 10.42.1.5/32 -p udp -m udp --dport 53 -j RETURN', '-d 10.42.0.20/32 -p udp -m udp --dport 53 -j RETURN'] } },
  },
  {
    name: 'a named DNS port with no peers resolves on the node’s DNS and on pods that have it',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 'dns' }] }] })],
    want: { db: { Egress: ['-m addrtype --dst-type LOCAL -p udp -m udp --dport 53 -j RETURN', '-d 10.42.0.10/32 -p udp -m udp --dport 53 -j RETURN'] } },
  },
  {
    name: 'an explicit policyTypes [Egress] with ingress rules does not isolate ingress',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], ingress: [{}], egress: [{ to: [{ ipBlock: { cidr: '10.42.0.0/16' } }] }] })],
    want: { web: { Egress: ['-d 10.42.0.0/16 -j RETURN'] } },
  },
  {
    name: 'an empty egress list isolates egress and allows nothing',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'frontend' } }, egress: [] })],
    want: { frontend: { Ingress: [], Egress: [] } },
  },
  {
    name: 'a named egress port resolves on each destination pod',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 'pg' }] }] })],
    want: { web: { Egress: [`-d 10.42.0.11/32 ${tcp(5432)} -j RETURN`, `-d 10.42.1.6/32 ${tcp(6432)} -j RETURN`] } },
  },
  {
    name: 'a named egress port with no peers resolves on every pod that has it',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'frontend' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'pg' }] }] })],
    want: { frontend: { Egress: [`-d 10.42.0.11/32 ${tcp(5432)} -j RETURN`, `-d 10.42.1.6/32 ${tcp(6432)} -j RETURN`] } },
  },
  {
    name: 'a policy selects pods of its own namespace only',
    policies: [policy('p', { podSelector: { matchLabels: { app: 'other' } } }, 'a'), policy('q', { podSelector: {} }, 'b')],
    want: { 'other-b': { Ingress: [] } },
  },
  {
    name: 'matchExpressions select targets (NotIn, DoesNotExist)',
    policies: [policy('p', { podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web', 'db'] }, { key: 'tier', operator: 'DoesNotExist' }] } })],
    want: { frontend: { Ingress: [] } },
  },
];

for (const c of cases) {
  test(c.name, () => {
    const rules = compile(c.policies);
    for (const name of Object.keys(IP)) {
      for (const dir of ['Ingress', 'Egress'] as const) {
        assert.deepEqual(chain(rules, name, dir), c.want[name]?.[dir], `${name} ${dir}`);
      }
    }
    const isolated = Object.values(c.want).reduce((n, w) => n + (w?.Ingress ? 1 : 0) + (w?.Egress ? 1 : 0), 0);
    assert.equal(rules.chains.length, 2 + isolated, 'one chain per isolated local pod and direction, besides the main and DNS chains');
  });
}

test('the main chain passes replies and node traffic, then jumps by pod IP: egress before ingress', () => {
  const rules = compile([policy('p', { podSelector: { matchLabels: { app: 'web' } }, egress: [{}], ingress: [{}] })]);
  const main = rules.chains[0]!;
  assert.equal(main.name, MAIN_CHAIN);
  assert.deepEqual(main.rules.map(text), [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-m addrtype --src-type LOCAL -j RETURN',
    `-s 10.42.0.10/32 -j ${podChainName('Egress', 'a', 'web', '10.42.0.10')}`,
    `-d 10.42.0.10/32 -j ${podChainName('Ingress', 'a', 'web', '10.42.0.10')}`,
  ]);
  assert.deepEqual(rules.chains[1]!.rules.map(text), ['-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN', `-s 10.42.0.10/32 -j ${podChainName('Egress', 'a', 'web', '10.42.0.10')}`], 'DNS to the node goes through egress chains');
  assert.equal(rules.chains[1]!.name, DNS_CHAIN);
  for (const c of rules.chains) assert.ok(c.name.length <= 28, `${c.name} fits iptables' 28 characters`);
});

test('pods on other nodes and hostNetwork pods are never targets', () => {
  const rules = compile([policy('p', { podSelector: {} }, 'b'), policy('q', { podSelector: { matchLabels: { app: 'web' } } })]);
  assert.deepEqual(rules.chains.map((c) => c.name).sort(), [MAIN_CHAIN, DNS_CHAIN, podChainName('Ingress', 'b', 'other-b', '10.42.0.20'), podChainName('Ingress', 'a', 'web', '10.42.0.10')].sort());
});

test('a pod label change moves the pod in or out of a peer set', () => {
  const p = [policy('p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }] }] })];
  const relabeled = pods.map((x) => (x.metadata.name === 'db' ? pod('db', { labels: { app: 'frontend' }, ip: '10.42.0.11' }) : x));
  assert.deepEqual(chain(compile(p, relabeled), 'web', 'Ingress'), ['-s 10.42.0.11/32 -j RETURN', '-s 10.42.0.12/32 -j RETURN']);
});

test('compiling is deterministic whatever the input order', () => {
  const ps = [policy('x', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }), policy('y', { podSelector: {}, egress: [{}] })];
  assert.deepEqual(compile(ps), compile([...ps].reverse(), [...pods].reverse()));
});

const minus: { name: string; cidr: string; except: string[]; want: string[] }[] = [
  { name: 'no exceptions keep the block', cidr: '10.0.0.0/8', except: [], want: ['10.0.0.0/8'] },
  { name: 'an exception outside the block changes nothing', cidr: '10.0.0.0/24', except: ['10.0.1.0/24'], want: ['10.0.0.0/24'] },
  { name: 'an exception covering the block removes it', cidr: '10.0.0.0/24', except: ['10.0.0.0/16'], want: [] },
  { name: 'a /32 out of a /30 leaves the other three', cidr: '10.0.0.0/30', except: ['10.0.0.2/32'], want: ['10.0.0.0/31', '10.0.0.3/32'] },
  { name: 'two exceptions', cidr: '10.0.0.0/29', except: ['10.0.0.0/31', '10.0.0.6/31'], want: ['10.0.0.2/31', '10.0.0.4/31'] },
  { name: '0.0.0.0/0 minus one /8', cidr: '0.0.0.0/0', except: ['10.0.0.0/8'], want: ['0.0.0.0/5', '8.0.0.0/7', '11.0.0.0/8', '12.0.0.0/6', '16.0.0.0/4', '32.0.0.0/3', '64.0.0.0/2', '128.0.0.0/1'] },
];
for (const c of minus) test(`cidrMinus: ${c.name}`, () => assert.deepEqual(cidrMinus(parseCidr(c.cidr), c.except.map((x) => parseCidr(x))), c.want));

function fakeIo(table: Record<string, string[][]>): IptablesIO & { scripts: string[] } {
  const scripts: string[] = [];
  return { scripts, readTable: async () => new Map(Object.entries(table)), restore: async (s) => void scripts.push(s) };
}

test('the restore script declares the chains, hooks FORWARD first and deletes stale chains of ours only', () => {
  const rules = compile([policy('p', { podSelector: { matchLabels: { app: 'web' } } })]);
  const stale = 'BOSUN-NWPLCY-I-000000000000';
  const script = restoreScript(rules, new Map(Object.entries({ FORWARD: [['-A', 'FORWARD', '-j', 'BOSUN-GUARD-bosun0']], [stale]: [], 'BOSUN-GUARD-bosun0': [], 'KUBE-FORWARD': [] })));
  const lines = script.trim().split('\n');
  assert.equal(lines[0], '*filter');
  assert.equal(lines.at(-1), 'COMMIT');
  assert.ok(lines.includes(`:${MAIN_CHAIN} - [0:0]`));
  assert.ok(lines.includes(`:${stale} - [0:0]`) && lines.includes(`-X ${stale}`));
  assert.ok(lines.includes(`-I FORWARD 1 -m comment --comment "bosun network policy" -j ${MAIN_CHAIN}`));
  assert.ok(lines.includes(`-I INPUT 1 -p udp -m udp --dport 53 -m comment --comment "bosun network policy: DNS to the node" -j ${DNS_CHAIN}`));
  assert.ok(lines.includes(`-I INPUT 1 -p tcp -m tcp --dport 53 -m comment --comment "bosun network policy: DNS to the node" -j ${DNS_CHAIN}`));
  assert.ok(!script.includes('-X BOSUN-GUARD') && !script.includes('KUBE-FORWARD'));
  const hooked = restoreScript(rules, new Map(Object.entries({ FORWARD: [['-A', 'FORWARD', '-j', MAIN_CHAIN]], INPUT: [['-A', 'INPUT', '-p', 'udp', '-j', DNS_CHAIN]] })));
  assert.ok(!hooked.includes('-I FORWARD') && !hooked.includes('-I INPUT 1 -p udp'), 'existing jumps are kept');
  assert.ok(hooked.includes('-I INPUT 1 -p tcp'), 'a missing one is added');
});

test('removeNetworkPolicyRules deletes the jumps and every chain of ours, nothing else; nothing to do is a no-op', async () => {
  const io = fakeIo({
    FORWARD: [['-A', 'FORWARD', '-m', 'comment', '--comment', 'bosun network policy', '-j', MAIN_CHAIN], ['-A', 'FORWARD', '-j', 'BOSUN-GUARD-bosun0']],
    [MAIN_CHAIN]: [['-A', MAIN_CHAIN, '-d', '10.42.0.10/32', '-j', 'BOSUN-NWPLCY-I-ABC']],
    'BOSUN-NWPLCY-I-ABC': [],
    'BOSUN-GUARD-bosun0': [],
  });
  await removeNetworkPolicyRules(io);
  assert.equal(io.scripts.length, 1);
  assert.deepEqual(io.scripts[0]!.trim().split('\n'), [
    '*filter',
    `-D FORWARD -m comment --comment "bosun network policy" -j ${MAIN_CHAIN}`,
    `:${MAIN_CHAIN} - [0:0]`,
    ':BOSUN-NWPLCY-I-ABC - [0:0]',
    `-X ${MAIN_CHAIN}`,
    '-X BOSUN-NWPLCY-I-ABC',
    'COMMIT',
  ]);
  const empty = fakeIo({ FORWARD: [] });
  await removeNetworkPolicyRules(empty);
  assert.deepEqual(empty.scripts, []);
});
