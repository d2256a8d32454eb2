/**
 * NetworkPolicy → iptables rules, as a pure function of the cluster state a node sees
 * (policies, pods, namespaces). No I/O: `compileNetworkPolicy` is what the unit tests drive.
 *
 * Semantics (upstream's NetworkPolicy API reference):
 * - A pod is isolated for ingress (egress) when some policy of its namespace selects it and
 *   lists that policy type; policyTypes default to Ingress, plus Egress when `egress` is set.
 *   Isolated traffic passes only when some rule of some selecting policy allows it (union).
 * - A rule allows traffic matching one of its peers AND one of its ports; no/empty peers mean
 *   every address, no/empty ports every port and protocol. Peers: podSelector alone (pods of
 *   the policy's namespace), namespaceSelector alone (every pod of matching namespaces), both
 *   (matching pods in matching namespaces), ipBlock (cidr minus `except`). Ports: protocol
 *   (TCP by default, UDP, SCTP), numeric or named (resolved on the destination pod's container
 *   ports), `endPort` ranges.
 * - Only pods on this node are enforced here (ingress: destination here; egress: source
 *   here), so every node enforcing its own pods covers the cluster. A pod may always reach
 *   itself; replies (conntrack ESTABLISHED,RELATED) and traffic the node itself sends pass.
 *   hostNetwork pods and pods without an IP or finished are neither targets nor peers.
 *
 * Cluster DNS is served by each node agent on the node itself (src/dns), so a pod's DNS query
 * reaches the node's INPUT path, not FORWARD, after the kube-dns Service's DNAT. Upstream it is
 * a CoreDNS pod that egress policies must allow; to keep that meaning the node's DNS is
 * treated as a virtual pod of `kube-system` labelled `k8s-app: kube-dns` with ports `dns`
 * (UDP 53) and `dns-tcp` (TCP 53), as CoreDNS's are: a rule whose peers and ports cover it
 * allows DNS to this node (`-m addrtype --dst-type LOCAL`), and the `BOSUN-NWPLCY-DNS` chain
 * (jumped to from INPUT for port 53) sends DNS queries of egress-isolated local pods through
 * their egress chains. Other traffic to the node is never filtered (upstream: traffic to and
 * from the node where a pod runs is always allowed).
 *
 * Output layout (filter table): the main chain `BOSUN-NWPLCY`, jumped to from FORWARD, sends
 * packets from an egress-isolated local pod to its `BOSUN-NWPLCY-E-<hash>` chain and packets
 * to an ingress-isolated local pod to its `BOSUN-NWPLCY-I-<hash>` chain (keyed by pod IP).
 * A per-pod chain RETURNs what a rule allows and REJECTs the rest, so an allowed packet goes
 * on to the next check (egress, then ingress, then the guard and whatever follows); this
 * component never ACCEPTs, it only takes away.
 */
import { createHash } from 'node:crypto';
import type { Namespace, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, Pod } from '../api/index.ts';
import { labelSelectorFromObject, type LabelSelector, type LabelSelectorMatcher } from '../api/selectors.ts';
import { cidrMinus, parseIpv4Cidr } from './cidr.ts';
import { cidrContains } from '../network/cidr.ts';

export const MAIN_CHAIN = 'BOSUN-NWPLCY';
export const CHAIN_PREFIX = 'BOSUN-NWPLCY-';
/** Jumped to from INPUT for DNS (port 53) to the node: egress policy of local pods applies. */
export const DNS_CHAIN = 'BOSUN-NWPLCY-DNS';
/** What the node's DNS server looks like to policy: CoreDNS's namespace, labels and ports. */
export const NODE_DNS_POD: Pod = {
  metadata: { name: 'node-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
  spec: {
    containers: [
      {
        name: 'dns',
        ports: [
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
          { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
        ],
      },
    ],
  },
};
/** Matches packets addressed to this node (the node's DNS): never true for forwarded traffic. */
const TO_NODE = ['-m', 'addrtype', '--dst-type', 'LOCAL'];
/** How a packet no rule allows is refused: at once, so a client fails fast (as kube-router does). */
export const REJECT_WITH = 'icmp-admin-prohibited';
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
const MAX_COMMENT = 200;

export interface CompileInput {
  nodeName: string;
  policies: readonly NetworkPolicy[];
  /** Pods of every namespace (peers may be anywhere). */
  pods: readonly Pod[];
  namespaces: readonly Namespace[];
}

/** One chain: its name and its rules, each as tokens after `-A <name>`. */
export interface PolicyChain {
  name: string;
  rules: string[][];
}

/** The whole rule set: the main chain first, then one chain per isolated local pod and direction. */
export interface CompiledRules {
  chains: PolicyChain[];
}

type Direction = 'Ingress' | 'Egress';

/** A pod that can take part in policy: it has an IP, runs, and is not on the host network. */
interface PodEntry {
  pod: Pod;
  ns: string;
  ip: string;
  labels: Record<string, string>;
}

interface Peer {
  /** Source/destination CIDRs; undefined = any address. */
  cidrs?: string[];
  /** Pods the peer covers (for named ports on egress); undefined = every pod. */
  pods?: PodEntry[];
  /** True when a selector peer covers the node's DNS (NODE_DNS_POD). */
  dns?: boolean;
}

/** The IP of a pod that policies apply to, or undefined. */
export function policyPodIP(pod: Pod): string | undefined {
  if (pod.spec?.hostNetwork) return undefined;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ip = pod.status?.podIP ?? pod.status?.podIPs?.[0]?.ip;
  return ip && /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip : undefined;
}

/** Policy types of a policy, defaulted as the API server does. */
export function policyTypesOf(policy: NetworkPolicy): Direction[] {
  const spec = policy.spec;
  const given = spec?.policyTypes;
  if (given && given.length > 0) return given.filter((t): t is Direction => t === 'Ingress' || t === 'Egress');
  return spec?.egress ? ['Ingress', 'Egress'] : ['Ingress'];
}

function matcher(sel: LabelSelector | undefined): LabelSelectorMatcher | undefined {
  try {
    return labelSelectorFromObject(sel ?? {});
  } catch {
    return undefined; // an invalid selector (rejected by validation anyway) selects nothing
  }
}

function short(text: string): string {
  return text.length > MAX_COMMENT ? text.slice(0, MAX_COMMENT) : text;
}

function comment(text: string): string[] {
  return ['-m', 'comment', '--comment', short(text)];
}

/** `BOSUN-NWPLCY-I-<12 hex>` / `-E-`: stable per pod and IP, 27 characters (limit 28). */
export function podChainName(dir: Direction, ns: string, name: string, ip: string): string {
  const h = createHash('sha256').update(`${ns}/${name}/${ip}`).digest('hex').slice(0, 12).toUpperCase();
  return `${CHAIN_PREFIX}${dir === 'Ingress' ? 'I' : 'E'}-${h}`;
}

const PROTOCOLS: Record<string, string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

/** The container port named `name` with `protocol` on `pod`, or undefined. */
function namedPort(pod: Pod, name: string, protocol: string): number | undefined {
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const p of c.ports ?? []) if (p.name === name && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

function isNamed(p: NetworkPolicyPort): p is NetworkPolicyPort & { port: string } {
  return typeof p.port === 'string' && !/^\d+$/.test(p.port);
}

/**
 * The match tokens of one policy port: `-p tcp -m tcp --dport 80[:90]`, or `-p tcp` for every
 * port of a protocol. Named ports resolve on `dest`; undefined when the port matches nothing
 * (unknown protocol, a name the pod does not have, no pod to resolve on).
 */
export function portMatch(p: NetworkPolicyPort, dest: Pod | undefined): string[] | undefined {
  const protocol = p.protocol ?? 'TCP';
  const proto = PROTOCOLS[protocol];
  if (!proto) return undefined;
  let port: number | undefined;
  if (p.port === undefined || p.port === null) return ['-p', proto];
  if (isNamed(p)) {
    port = dest ? namedPort(dest, p.port, protocol) : undefined;
    if (port === undefined) return undefined;
    return ['-p', proto, '-m', proto, '--dport', String(port)];
  }
  port = Number(p.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const end = p.endPort ?? port; // validation guarantees port <= endPort <= 65535
  if (!Number.isInteger(end) || end < port || end > 65535) return undefined;
  return ['-p', proto, '-m', proto, '--dport', end > port ? `${port}:${end}` : String(port)];
}

/** Whether a port match can take port 53 (the only port the DNS chain sees). */
function coversDnsPort(m: string[]): boolean {
  const i = m.indexOf('--dport');
  if (i < 0) return true;
  const [lo, hi] = m[i + 1]!.split(':').map(Number);
  return lo! <= 53 && 53 <= (hi ?? lo!);
}

class State {
  readonly entries: PodEntry[];
  readonly byNamespace = new Map<string, PodEntry[]>();
  readonly nsLabels = new Map<string, Record<string, string>>();

  constructor(input: CompileInput) {
    for (const n of input.namespaces) {
      const name = n.metadata.name!;
      this.nsLabels.set(name, { ...(n.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: name });
    }
    this.entries = [];
    for (const pod of input.pods) {
      const ip = policyPodIP(pod);
      if (!ip) continue;
      const e: PodEntry = { pod, ns: pod.metadata.namespace ?? 'default', ip, labels: pod.metadata.labels ?? {} };
      this.entries.push(e);
      const list = this.byNamespace.get(e.ns) ?? [];
      list.push(e);
      this.byNamespace.set(e.ns, list);
    }
    const key = (e: PodEntry) => `${e.ns}/${e.pod.metadata.name}`;
    this.entries.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  labelsOfNamespace(ns: string): Record<string, string> {
    return this.nsLabels.get(ns) ?? { [NAMESPACE_NAME_LABEL]: ns };
  }

  /** Resolves one peer of a policy in namespace `ns`; undefined when the peer matches nothing usable. */
  peer(p: NetworkPolicyPeer, ns: string): Peer | undefined {
    if (p.ipBlock) {
      const cidr = parseIpv4Cidr(p.ipBlock.cidr);
      if (!cidr) return undefined; // IPv6 blocks do not apply to IPv4 pods
      const except = (p.ipBlock.except ?? []).map(parseIpv4Cidr).filter((c) => c !== undefined);
      const cidrs = cidrMinus(cidr, except);
      const pods = this.entries.filter((e) => cidrContains(cidr, e.ip) && !except.some((x) => cidrContains(x, e.ip)));
      return { cidrs, pods };
    }
    if (!p.podSelector && !p.namespaceSelector) return undefined;
    const podSel = p.podSelector ? matcher(p.podSelector) : undefined;
    if (p.podSelector && !podSel) return undefined;
    const nsSel = p.namespaceSelector ? matcher(p.namespaceSelector) : undefined;
    if (p.namespaceSelector && !nsSel) return undefined;
    const inNamespaces = (name: string) => (nsSel ? nsSel.matches(this.labelsOfNamespace(name)) : name === ns);
    const candidates = nsSel ? this.entries.filter((e) => inNamespaces(e.ns)) : (this.byNamespace.get(ns) ?? []);
    const pods = podSel ? candidates.filter((e) => podSel.matches(e.labels)) : candidates;
    const dns = inNamespaces(NODE_DNS_POD.metadata.namespace!) && (!podSel || podSel.matches(NODE_DNS_POD.metadata.labels));
    return { cidrs: [...new Set(pods.map((e) => `${e.ip}/32`))], pods, dns };
  }

  /** The peers of a rule: [any] when the list is absent or empty. */
  peers(list: NetworkPolicyPeer[] | undefined, ns: string): Peer[] {
    if (!list || list.length === 0) return [{}];
    return list.map((p) => this.peer(p, ns)).filter((p) => p !== undefined);
  }
}

interface Selection {
  policy: NetworkPolicy;
  types: Direction[];
}

/**
 * Compiles the rules for the pods of `input.nodeName`. Deterministic: the same state gives the
 * same chains in the same order. Never throws on odd objects (they match nothing).
 */
export function compileNetworkPolicy(input: CompileInput): CompiledRules {
  const state = new State(input);
  const policies = [...input.policies].sort((a, b) => {
    const ka = `${a.metadata.namespace}/${a.metadata.name}`;
    const kb = `${b.metadata.namespace}/${b.metadata.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const policySelectors = policies.map((p) => ({ policy: p, sel: matcher(p.spec?.podSelector), types: policyTypesOf(p) }));
  const main: string[][] = [[...comment('replies to allowed connections'), '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN'], [...comment('traffic the node itself sends'), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', 'RETURN']];
  const egressJumps: string[][] = [];
  const ingressJumps: string[][] = [];
  const chains: PolicyChain[] = [];
  const seenIPs = new Set<string>();
  for (const e of state.entries) {
    if (e.pod.spec?.nodeName !== input.nodeName || seenIPs.has(e.ip)) continue;
    seenIPs.add(e.ip);
    const selecting: Selection[] = policySelectors.filter((s) => s.sel && s.policy.metadata.namespace === e.ns && s.sel.matches(e.labels));
    const podName = `${e.ns}/${e.pod.metadata.name}`;
    for (const dir of ['Egress', 'Ingress'] as const) {
      const sels = selecting.filter((s) => s.types.includes(dir));
      if (sels.length === 0) continue;
      const name = podChainName(dir, e.ns, e.pod.metadata.name ?? '', e.ip);
      const rules = dir === 'Ingress' ? ingressRules(state, e, sels) : egressRules(state, e, sels);
      chains.push({ name, rules });
      const jump = [dir === 'Ingress' ? '-d' : '-s', `${e.ip}/32`, ...comment(`${podName} ${dir.toLowerCase()}`), '-j', name];
      (dir === 'Ingress' ? ingressJumps : egressJumps).push(jump);
    }
  }
  const dns = [[...comment('replies to allowed connections'), '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN'], ...egressJumps];
  return { chains: [{ name: MAIN_CHAIN, rules: [...main, ...egressJumps, ...ingressJumps] }, { name: DNS_CHAIN, rules: dns }, ...chains] };
}

function finish(rules: string[][], podName: string, dir: Direction): string[][] {
  const seen = new Set<string>();
  const out = rules.filter((r) => {
    // The same match from two rules or policies is written once (the first one's comment).
    const c = r.indexOf('--comment');
    const k = (c >= 0 ? [...r.slice(0, c - 2), ...r.slice(c + 2)] : r).join('\0');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  out.push([...comment(`${podName}: ${dir.toLowerCase()} not allowed by any policy`), '-j', 'REJECT', '--reject-with', REJECT_WITH]);
  return out;
}

function ingressRules(state: State, target: PodEntry, sels: Selection[]): string[][] {
  const podName = `${target.ns}/${target.pod.metadata.name}`;
  const rules: string[][] = [['-s', `${target.ip}/32`, ...comment('a pod may always reach itself'), '-j', 'RETURN']];
  for (const { policy } of sels) {
    const ns = policy.metadata.namespace ?? 'default';
    for (const [i, rule] of (policy.spec?.ingress ?? []).entries()) {
      const note = comment(`${ns}/${policy.metadata.name} ingress[${i}]`);
      const ports = rule.ports && rule.ports.length > 0 ? rule.ports.map((p) => portMatch(p, target.pod)).filter((p) => p !== undefined) : [[]];
      for (const peer of state.peers(rule.from, ns)) {
        for (const cidr of peer.cidrs ?? [undefined]) {
          for (const port of ports) rules.push([...(cidr ? ['-s', cidr] : []), ...port, ...note, '-j', 'RETURN']);
        }
      }
    }
  }
  return finish(rules, podName, 'Ingress');
}

function egressRules(state: State, source: PodEntry, sels: Selection[]): string[][] {
  const podName = `${source.ns}/${source.pod.metadata.name}`;
  const rules: string[][] = [['-d', `${source.ip}/32`, ...comment('a pod may always reach itself'), '-j', 'RETURN']];
  for (const { policy } of sels) {
    const ns = policy.metadata.namespace ?? 'default';
    for (const [i, rule] of (policy.spec?.egress ?? []).entries()) {
      const note = comment(`${ns}/${policy.metadata.name} egress[${i}]`);
      const peers = state.peers(rule.to, ns);
      const ports: (NetworkPolicyPort | undefined)[] = rule.ports && rule.ports.length > 0 ? rule.ports : [undefined];
      for (const p of ports) {
        for (const peer of peers) {
          // The node's DNS: covered by a selector peer, or by "any destination" through a named port.
          if (peer.dns || (!peer.cidrs && p && isNamed(p))) {
            const m = p ? portMatch(p, NODE_DNS_POD) : [];
            if (m && coversDnsPort(m)) rules.push([...TO_NODE, ...m, ...note, '-j', 'RETURN']);
          }
          if (p && isNamed(p)) {
            // A named port means the destination pod's port of that name: one rule per pod.
            for (const dest of peer.pods ?? state.entries) {
              const m = portMatch(p, dest.pod);
              if (m) rules.push(['-d', `${dest.ip}/32`, ...m, ...note, '-j', 'RETURN']);
            }
            continue;
          }
          const m = p ? portMatch(p, undefined) : [];
          if (!m) continue;
          for (const cidr of peer.cidrs ?? [undefined]) rules.push([...(cidr ? ['-d', cidr] : []), ...m, ...note, '-j', 'RETURN']);
        }
      }
    }
  }
  return finish(rules, podName, 'Egress');
}
