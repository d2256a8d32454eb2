/**
 * The service proxy's rule generation, kube-proxy's iptables mode as pure functions:
 *
 *   Services + EndpointSlices + node info ──servicePorts()──▶ ProxyServicePort[]
 *   ProxyServicePort[] + node info ──buildProxyRules()──▶ ProxyRules (chains per table)
 *   ProxyRules + what was written last ──renderRestore()──▶ `iptables-restore --noflush` input
 *
 * Chain names, rule order, comments, the masquerade mark (0x4000) and the probability format
 * follow upstream's pkg/proxy/iptables. Deliberate departures, each for this machine:
 * - NodePorts answer only on the node's addresses (upstream's `--nodeport-addresses primary`),
 *   not on every local address.
 * - Endpoints outside `endpointCidrs` (default: the cluster CIDR and the node's addresses) are
 *   not programmed: a DNAT to a remote address would let host traffic for a Service leave the
 *   machine past the guard (src/network/guard.ts).
 * - LoadBalancer ingress IPs (`ipMode: VIP`, as set by ServiceLB, src/controllers/servicelb.ts)
 *   are served on every node, with `loadBalancerSourceRanges` (KUBE-FW, KUBE-PROXY-FIREWALL);
 *   no externalIPs or health-check node ports.
 * - Optionally (`endpointChains: false`, the agent's default) no KUBE-SEP chains: see
 *   inlineEndpointChains.
 * Nothing here touches the host; see host.ts for that.
 */
import { createHash } from 'node:crypto';
import type { EndpointSlice, Service } from '../api/index.ts';

export const MASQUERADE_MARK = '0x4000';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Upstream's default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours). */
export const DEFAULT_AFFINITY_SECONDS = 10800;

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';
/** Drops load-balancer traffic that its Service's KUBE-FW chain did not let through (loadBalancerSourceRanges). */
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';

/** Per-service chain prefixes (upstream's isServiceChainName). */
export const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-EXT-', 'KUBE-FW-', 'KUBE-SEP-'] as const;
/** Every chain this proxy creates, by table (service chains by prefix). */
export const TOP_LEVEL_CHAINS = {
  filter: [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_PROXY_FIREWALL],
  nat: [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ],
} as const;

export function isServiceChain(name: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((p) => name.startsWith(p));
}

/** What the rules depend on besides Services and EndpointSlices. */
export interface ProxyNodeInfo {
  nodeName: string;
  /** The node's addresses: NodePorts answer on these. */
  nodeIPs: string[];
  /** The cluster's pod range (upstream's `--cluster-cidr`, the local-traffic detector). */
  clusterCidr?: string;
  /** Endpoint addresses allowed as DNAT targets; default clusterCidr + nodeIPs. */
  endpointCidrs?: string[];
  /** This node's pod range (nftables mode: its addresses make the hairpin set, see nft.ts). */
  podCidr?: string;
  /**
   * false: no KUBE-SEP chains; each endpoint's DNAT sits in the policy chain (see
   * inlineEndpointChains). Default true: upstream's shape.
   */
  endpointChains?: boolean;
}

export interface ProxyEndpoint {
  ip: string;
  port: number;
  /** `ip:port` */
  endpoint: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** On this node (EndpointSlice nodeName). */
  local: boolean;
}

/** One port of one Service, as the proxy sees it (upstream's ServicePort + its endpoints). */
export interface ProxyServicePort {
  /** `namespace/name:port` (`namespace/name` for an unnamed port): upstream's ServicePortName. */
  name: string;
  namespace: string;
  service: string;
  /** Lower case: tcp, udp, sctp. */
  protocol: string;
  clusterIP: string;
  port: number;
  /** 0: none. */
  nodePort: number;
  /** IPv4 load-balancer ingress IPs of a LoadBalancer Service (ipMode VIP or unset), sorted; upstream's LoadBalancerVIPs. */
  loadBalancerIPs: string[];
  /** IPv4 `loadBalancerSourceRanges` of a LoadBalancer Service (empty: every source). */
  loadBalancerSourceRanges: string[];
  /** ClientIP affinity timeout in seconds; 0: no affinity. */
  affinitySeconds: number;
  internalLocal: boolean;
  externalLocal: boolean;
  /** Every endpoint of the port, sorted by `ip:port`, duplicates removed. */
  endpoints: ProxyEndpoint[];
}

/** Upstream's chain-name hash: base32 (RFC 4648) of sha256(s), first 16 characters. */
export function chainHash(s: string): string {
  const digest = createHash('sha256').update(s).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of digest) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 16) break;
  }
  return out;
}

export function serviceChainName(sp: Pick<ProxyServicePort, 'name' | 'protocol'>, prefix: 'KUBE-SVC-' | 'KUBE-SVL-' | 'KUBE-EXT-' | 'KUBE-FW-'): string {
  return prefix + chainHash(sp.name + sp.protocol);
}

export function endpointChainName(sp: Pick<ProxyServicePort, 'name' | 'protocol'>, endpoint: string): string {
  return 'KUBE-SEP-' + chainHash(sp.name + sp.protocol + endpoint);
}

/** Upstream's probability text: 1/n with ten decimals. */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

/** Dotted quad (1-3 digits per part, each ≤ 255) to an unsigned number; no regex: it runs per endpoint. */
function parseIpv4(ip: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + part;
      part = digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else return undefined;
  }
  return dots === 3 && digits > 0 ? value * 256 + part : undefined;
}

/** A test for membership in any of `cidrs` (unparsable ones match nothing), parsed once. */
function cidrMatcher(cidrs: readonly string[]): (ip: number) => boolean {
  const nets: [number, number][] = [];
  for (const cidr of cidrs) {
    const [base, len] = cidr.split('/');
    const b = parseIpv4(base ?? '');
    const bits = len === undefined ? 32 : Number(len);
    if (b === undefined || !(Number.isInteger(bits) && bits >= 0 && bits <= 32)) continue;
    const mask = bits === 0 ? 0 : bits === 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
    nets.push([mask, (b & mask) >>> 0]);
  }
  return (ip) => nets.some(([mask, net]) => ((ip & mask) >>> 0) === net);
}

export function inCidr(ip: string, cidr: string): boolean {
  const a = parseIpv4(ip);
  return a !== undefined && cidrMatcher([cidr])(a);
}

/**
 * The service ports the proxy programs, from the API objects (pure; inputs are not mutated).
 * Skipped like upstream: ExternalName and headless Services, non-IPv4 cluster IPs, and slices
 * that are not IPv4. Sorted by name so the output is stable.
 */
export function servicePorts(services: readonly Service[], slices: readonly EndpointSlice[], node: ProxyNodeInfo): ProxyServicePort[] {
  const allowed = node.endpointCidrs ?? [...(node.clusterCidr ? [node.clusterCidr] : []), ...node.nodeIPs.map((ip) => `${ip}/32`)];
  const isAllowed = cidrMatcher(allowed);
  const slicesBySvc = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc || s.addressType !== 'IPv4') continue;
    const key = `${s.metadata.namespace ?? ''}/${svc}`;
    const list = slicesBySvc.get(key) ?? [];
    list.push(s);
    slicesBySvc.set(key, list);
  }
  const out: ProxyServicePort[] = [];
  for (const svc of services) {
    const spec = svc.spec;
    if (!spec || spec.type === 'ExternalName') continue;
    const clusterIP = spec.clusterIP ?? '';
    if (!clusterIP || clusterIP === 'None' || parseIpv4(clusterIP) === undefined) continue;
    const namespace = svc.metadata.namespace ?? 'default';
    const service = svc.metadata.name ?? '';
    const affinitySeconds = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) : 0;
    const externalType = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
    for (const p of spec.ports ?? []) {
      const portName = p.name ?? '';
      const protocol = (p.protocol ?? 'TCP').toLowerCase();
      const byEndpoint = new Map<string, ProxyEndpoint>();
      for (const slice of slicesBySvc.get(`${namespace}/${service}`) ?? []) {
        const sp = (slice.ports ?? []).find((x) => (x.name ?? '') === portName && (x.protocol ?? 'TCP').toLowerCase() === protocol);
        if (!sp?.port) continue;
        for (const e of slice.endpoints ?? []) {
          const ip = e.addresses?.[0];
          const addr = ip ? parseIpv4(ip) : undefined;
          if (!ip || addr === undefined || !isAllowed(addr)) continue;
          const ready = e.conditions?.ready ?? true;
          const ep: ProxyEndpoint = {
            ip,
            port: sp.port,
            endpoint: `${ip}:${sp.port}`,
            ready,
            serving: e.conditions?.serving ?? ready,
            terminating: e.conditions?.terminating ?? false,
            local: e.nodeName !== undefined && e.nodeName === node.nodeName,
          };
          const prev = byEndpoint.get(ep.endpoint);
          if (!prev || (!prev.ready && ep.ready)) byEndpoint.set(ep.endpoint, ep);
        }
      }
      const nodePort = externalType ? (p.nodePort ?? 0) : 0;
      const loadBalancerIPs = spec.type === 'LoadBalancer' ? lbIPs(svc) : [];
      out.push({
        name: portName ? `${namespace}/${service}:${portName}` : `${namespace}/${service}`,
        namespace,
        service,
        protocol,
        clusterIP,
        port: p.port,
        nodePort,
        loadBalancerIPs,
        loadBalancerSourceRanges: spec.type === 'LoadBalancer' ? (spec.loadBalancerSourceRanges ?? []).map((r) => r.trim()).filter((r) => parseIpv4(r.split('/')[0]!) !== undefined) : [],
        affinitySeconds,
        internalLocal: spec.internalTrafficPolicy === 'Local',
        externalLocal: (nodePort > 0 || loadBalancerIPs.length > 0) && spec.externalTrafficPolicy === 'Local',
        endpoints: [...byEndpoint.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0)),
      });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.protocol < b.protocol ? -1 : 1));
}

/**
 * servicePorts across syncs: a Service whose object and EndpointSlice objects are the very ones
 * of the last call (an informer replaces an object when it changes) keeps its ProxyServicePorts,
 * the same objects, so the rule caches reuse its rules without comparing contents. Equal output
 * to servicePorts (tested).
 */
export class ServicePortTracker {
  #prev = new Map<Service, { slices: EndpointSlice[]; ports: ProxyServicePort[] }>();
  #nodeKey = '';

  ports(services: readonly Service[], slices: readonly EndpointSlice[], node: ProxyNodeInfo): ProxyServicePort[] {
    const nodeKey = JSON.stringify(node);
    if (nodeKey !== this.#nodeKey) (this.#prev.clear(), (this.#nodeKey = nodeKey));
    const bySvc = new Map<string, EndpointSlice[]>();
    for (const sl of slices) {
      const svc = sl.metadata.labels?.[SERVICE_NAME_LABEL];
      if (!svc) continue;
      const key = `${sl.metadata.namespace ?? ''}/${svc}`;
      const list = bySvc.get(key);
      if (list) list.push(sl);
      else bySvc.set(key, [sl]);
    }
    const next = new Map<Service, { slices: EndpointSlice[]; ports: ProxyServicePort[] }>();
    const out: ProxyServicePort[] = [];
    for (const svc of services) {
      const own = bySvc.get(`${svc.metadata.namespace ?? 'default'}/${svc.metadata.name ?? ''}`) ?? [];
      const prev = this.#prev.get(svc);
      const same = prev !== undefined && prev.slices.length === own.length && prev.slices.every((x, i) => x === own[i]);
      const entry = same ? prev : { slices: own, ports: servicePorts([svc], own, node) };
      next.set(svc, entry);
      out.push(...entry.ports);
    }
    this.#prev = next;
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.protocol < b.protocol ? -1 : 1));
  }
}

/** Upstream skips ingress of ipMode Proxy (the load balancer proxies to the nodes itself) and of the other family. */
function lbIPs(svc: Service): string[] {
  const ips = (svc.status?.loadBalancer?.ingress ?? []).filter((i) => i.ip && i.ipMode !== 'Proxy' && parseIpv4(i.ip) !== undefined).map((i) => i.ip!);
  return [...new Set(ips)].sort();
}

function externallyAccessible(sp: ProxyServicePort): boolean {
  return sp.nodePort > 0 || sp.loadBalancerIPs.length > 0;
}
/** Cluster endpoints serve internal traffic with policy Cluster and all external traffic (short-circuits). */
function usesClusterEndpoints(sp: ProxyServicePort): boolean {
  return !sp.internalLocal || externallyAccessible(sp);
}
function usesLocalEndpoints(sp: ProxyServicePort): boolean {
  return sp.internalLocal || (sp.externalLocal && externallyAccessible(sp));
}

export interface CategorizedEndpoints {
  cluster: ProxyEndpoint[];
  local: ProxyEndpoint[];
  /** Every endpoint some rule of this node may DNAT to (the KUBE-SEP chains). */
  reachable: ProxyEndpoint[];
  /** Some usable endpoint exists anywhere in the cluster. */
  hasEndpoints: boolean;
}

/**
 * Upstream's CategorizeEndpoints: ready endpoints, or serving-and-terminating ones when none is
 * ready (separately for the cluster-wide and the node-local set).
 */
export function categorizeEndpoints(sp: ProxyServicePort): CategorizedEndpoints {
  const eps = sp.endpoints;
  let cluster: ProxyEndpoint[] = [];
  let local: ProxyEndpoint[] = [];
  let hasEndpoints = false;
  if (usesClusterEndpoints(sp)) {
    cluster = eps.filter((e) => e.ready);
    if (cluster.length === 0) cluster = eps.filter((e) => e.serving && e.terminating);
    if (cluster.length > 0) hasEndpoints = true;
  }
  if (!usesLocalEndpoints(sp)) return { cluster, local, reachable: cluster, hasEndpoints };
  if (eps.some((e) => e.ready || (e.serving && e.terminating))) hasEndpoints = true;
  local = eps.filter((e) => e.local && e.ready);
  if (local.length === 0) local = eps.filter((e) => e.local && e.serving && e.terminating);
  if (!usesClusterEndpoints(sp)) return { cluster, local, reachable: local, hasEndpoints };
  const seen = new Set(cluster.map((e) => e.endpoint));
  return { cluster, local, reachable: [...cluster, ...local.filter((e) => !seen.has(e.endpoint))], hasEndpoints };
}

/** What a service port's rules are made of, in either mode (upstream's syncProxyRules preamble). */
export interface TrafficPlan extends CategorizedEndpoints {
  /** The cluster policy chain (KUBE-SVC / service-) is used. */
  usesClusterChain: boolean;
  /** The local policy chain (KUBE-SVL / local-) is used. */
  usesLocalChain: boolean;
  /** Internal (cluster IP) traffic has endpoints under its policy. */
  hasInternal: boolean;
  /** External (NodePort, load balancer) traffic has endpoints under its policy. */
  hasExternal: boolean;
  /** The external chain (KUBE-EXT / external-) is used. */
  usesExtChain: boolean;
}

export function trafficPlan(sp: ProxyServicePort): TrafficPlan {
  const c = categorizeEndpoints(sp);
  return {
    ...c,
    usesClusterChain: c.cluster.length > 0 && usesClusterEndpoints(sp),
    usesLocalChain: c.local.length > 0 && usesLocalEndpoints(sp),
    hasInternal: c.hasEndpoints && (!sp.internalLocal || c.local.length > 0),
    hasExternal: c.hasEndpoints && (!sp.externalLocal || c.local.length > 0),
    usesExtChain: c.hasEndpoints && externallyAccessible(sp),
  };
}

/** A chain and its rules (tokens after `-A <chain>`). */
export interface Chain {
  name: string;
  rules: string[][];
}

export interface ProxyRules {
  filter: Chain[];
  nat: Chain[];
}

const comment = (text: string) => ['-m', 'comment', '--comment', text];

/**
 * Every chain the proxy owns, with its rules, for the given service ports (pure). Top-level
 * chains come first in each table, then per-service chains in service order.
 */
export function buildProxyRules(ports: readonly ProxyServicePort[], node: ProxyNodeInfo): ProxyRules {
  return mergeRules([headRules(), ...ports.map((sp) => servicePortRules(sp, node)), tailRules(node)]);
}

/** Collects rules per chain, in the order chains are first named. */
function ruleSet() {
  const f = new Map<string, string[][]>();
  const n = new Map<string, string[][]>();
  const add = (m: Map<string, string[][]>) => (chain: string, ...rule: string[]) => {
    let list = m.get(chain);
    if (!list) m.set(chain, (list = []));
    list.push(rule);
  };
  const chains = (m: Map<string, string[][]>) => [...m].map(([name, rules]) => ({ name, rules }));
  return {
    nat: add(n),
    filter: add(f),
    declare: (chain: string) => n.has(chain) || n.set(chain, []),
    rules: (): ProxyRules => ({ filter: chains(f), nat: chains(n) }),
  };
}

/**
 * Joins rule fragments: the top-level chains first (TOP_LEVEL_CHAINS order), each with the rules
 * of every fragment in fragment order, then the other chains in the order they first appear.
 */
export function mergeRules(parts: readonly ProxyRules[]): ProxyRules {
  const out: ProxyRules = { filter: [], nat: [] };
  for (const table of ['filter', 'nat'] as const) {
    const m = new Map<string, string[][]>(TOP_LEVEL_CHAINS[table].map((c) => [c, []]));
    for (const part of parts) {
      for (const c of part[table]) {
        const list = m.get(c.name);
        if (list) list.push(...c.rules);
        else m.set(c.name, [...c.rules]);
      }
    }
    out[table] = [...m].map(([name, rules]) => ({ name, rules }));
  }
  return out;
}

const MASQ_MARK_MATCH = `${MASQUERADE_MARK}/${MASQUERADE_MARK}`;

/** The rules before any service's: masquerade marking and SNAT. */
export function headRules(): ProxyRules {
  const { nat, rules } = ruleSet();
  const mark = MASQ_MARK_MATCH;
  nat(KUBE_POSTROUTING, '-m', 'mark', '!', '--mark', mark, '-j', 'RETURN');
  nat(KUBE_POSTROUTING, '-j', 'MARK', '--xor-mark', MASQUERADE_MARK);
  nat(KUBE_POSTROUTING, ...comment('kubernetes service traffic requiring SNAT'), '-j', 'MASQUERADE', '--random-fully');
  nat(KUBE_MARK_MASQ, '-j', 'MARK', '--or-mark', MASQUERADE_MARK);
  return rules();
}

/**
 * One service port's rules (pure): its contributions to the top-level chains and its own
 * chains. buildProxyRules is headRules + these in port order + tailRules, merged.
 */
export function servicePortRules(sp: ProxyServicePort, node: ProxyNodeInfo): ProxyRules {
  const { nat, filter, declare, rules } = ruleSet();
  const notLocal = node.clusterCidr ? ['!', '-s', node.clusterCidr] : undefined;
  const isLocal = node.clusterCidr ? ['-s', node.clusterCidr] : undefined;
  const proto = ['-m', sp.protocol, '-p', sp.protocol];
  const { cluster, local, reachable, hasEndpoints, usesClusterChain, usesLocalChain, hasInternal, hasExternal, usesExtChain } = trafficPlan(sp);
  const svcChain = serviceChainName(sp, 'KUBE-SVC-');
  const svlChain = serviceChainName(sp, 'KUBE-SVL-');
  const extChain = serviceChainName(sp, 'KUBE-EXT-');
  const internalChain = sp.internalLocal ? svlChain : svcChain;
  const externalPolicyChain = sp.externalLocal ? svlChain : svcChain;

  let internalFilter: [string, string] | undefined;
  let externalFilter: [string, string] | undefined;
  if (!hasEndpoints) {
    internalFilter = externalFilter = [`${sp.name} has no endpoints`, 'REJECT'];
  } else {
    if (!hasInternal) internalFilter = [`${sp.name} has no local endpoints`, 'DROP'];
    if (!hasExternal) externalFilter = [`${sp.name} has no local endpoints`, 'DROP'];
  }

  // Policy chains first, then the external chain, then endpoint chains (declaration order).
  if (usesClusterChain) declare(svcChain);
  if (usesLocalChain) declare(svlChain);
  if (usesExtChain) declare(extChain);

  // The cluster IP.
  const clusterIPMatch = [...comment(`${sp.name} cluster IP`), ...proto, '-d', sp.clusterIP, '--dport', String(sp.port)];
  if (hasInternal) {
    nat(KUBE_SERVICES, ...clusterIPMatch, '-j', internalChain);
    if (notLocal) nat(internalChain, ...clusterIPMatch, ...notLocal, '-j', KUBE_MARK_MASQ);
  } else {
    filter(KUBE_SERVICES, ...comment(internalFilter![0]), ...proto, '-d', sp.clusterIP, '--dport', String(sp.port), '-j', internalFilter![1]);
  }

  // The external chain: masquerade, and for policy Local the short-circuits of pod and host traffic.
  if (usesExtChain) {
    if (!sp.externalLocal) {
      nat(extChain, ...comment(`masquerade traffic for ${sp.name} external destinations`), '-j', KUBE_MARK_MASQ);
    } else {
      if (isLocal) nat(extChain, ...comment(`pod traffic for ${sp.name} external destinations`), ...isLocal, '-j', svcChain);
      nat(extChain, ...comment(`masquerade LOCAL traffic for ${sp.name} external destinations`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', KUBE_MARK_MASQ);
      nat(extChain, ...comment(`route LOCAL traffic for ${sp.name} external destinations`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', svcChain);
    }
    if (hasExternal) nat(extChain, '-j', externalPolicyChain);
  }

  // Load-balancer ingress IPs: to the external chain (through the KUBE-FW chain when source
  // ranges are set: what it does not let through keeps its address and is dropped in filter
  // KUBE-PROXY-FIREWALL), or rejected/dropped in filter as NodePorts are.
  const usesFWChain = hasEndpoints && sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  const fwChain = serviceChainName(sp, 'KUBE-FW-');
  for (const lbip of sp.loadBalancerIPs) {
    if (hasEndpoints) nat(KUBE_SERVICES, ...comment(`${sp.name} loadbalancer IP`), ...proto, '-d', lbip, '--dport', String(sp.port), '-j', usesFWChain ? fwChain : extChain);
    if (usesFWChain) filter(KUBE_PROXY_FIREWALL, ...comment(`${sp.name} traffic not accepted by ${fwChain}`), ...proto, '-d', lbip, '--dport', String(sp.port), '-j', 'DROP');
  }
  if (usesFWChain) {
    for (const cidr of sp.loadBalancerSourceRanges) nat(fwChain, ...comment(`${sp.name} loadbalancer IP`), '-s', cidr, '-j', extChain);
    // The node's own requests to an address of its own come from that address.
    if (sp.loadBalancerSourceRanges.some((c) => node.nodeIPs.some((ip) => inCidr(ip, c)))) {
      for (const lbip of sp.loadBalancerIPs) nat(fwChain, ...comment(`${sp.name} loadbalancer IP`), '-s', lbip, '-j', extChain);
    }
    nat(fwChain, ...comment(`other traffic to ${sp.name} will be dropped by KUBE-PROXY-FIREWALL`));
  }
  if (externalFilter) {
    for (const lbip of sp.loadBalancerIPs) {
      filter(KUBE_EXTERNAL_SERVICES, ...comment(externalFilter[0]), ...proto, '-d', lbip, '--dport', String(sp.port), '-j', externalFilter[1]);
    }
  }

  // NodePort.
  if (sp.nodePort > 0) {
    if (hasEndpoints) nat(KUBE_NODEPORTS, ...comment(sp.name), ...proto, '--dport', String(sp.nodePort), '-j', extChain);
    if (externalFilter) {
      filter(KUBE_EXTERNAL_SERVICES, ...comment(externalFilter[0]), '-m', 'addrtype', '--dst-type', 'LOCAL', ...proto, '--dport', String(sp.nodePort), '-j', externalFilter[1]);
    }
  }

  // Policy chains → endpoint chains.
  const toEndpoints = (chain: string, eps: ProxyEndpoint[]) => {
    if (sp.affinitySeconds > 0) {
      for (const e of eps) {
        const sep = endpointChainName(sp, e.endpoint);
        nat(chain, ...comment(`${sp.name} -> ${e.endpoint}`), '-m', 'recent', '--name', sep, '--rcheck', '--seconds', String(sp.affinitySeconds), '--reap', '-j', sep);
      }
    }
    eps.forEach((e, i) => {
      const stat = i < eps.length - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', probability(eps.length - i)] : [];
      nat(chain, ...comment(`${sp.name} -> ${e.endpoint}`), ...stat, '-j', endpointChainName(sp, e.endpoint));
    });
  };
  if (usesClusterChain) toEndpoints(svcChain, cluster);
  if (usesLocalChain) toEndpoints(svlChain, local);

  // Endpoint chains: hairpin masquerade, affinity, DNAT.
  for (const e of reachable) {
    const sep = endpointChainName(sp, e.endpoint);
    nat(sep, ...comment(sp.name), '-s', e.ip, '-j', KUBE_MARK_MASQ);
    // Pod traffic to an endpoint outside the pod network and off this node (the API server on
    // the hosts' link): masqueraded, as that host has no route back to pod addresses.
    if (isLocal && !inCidr(e.ip, node.clusterCidr!) && !node.nodeIPs.includes(e.ip)) nat(sep, ...comment(`${sp.name} pod traffic off the pod network`), ...isLocal, '-j', KUBE_MARK_MASQ);
    const affinity = sp.affinitySeconds > 0 ? ['-m', 'recent', '--name', sep, '--set'] : [];
    nat(sep, ...comment(sp.name), ...affinity, ...proto, '-j', 'DNAT', '--to-destination', e.endpoint);
  }
  const out = rules();
  return node.endpointChains === false ? inlineEndpointChains(out) : out;
}

/** The rules after every service's: the NodePort catch-all and the forward rules. */
export function tailRules(node: ProxyNodeInfo): ProxyRules {
  const { nat, filter, rules } = ruleSet();
  const mark = MASQ_MARK_MATCH;
  // NodePorts last in KUBE-SERVICES, on the node's addresses only.
  for (const ip of node.nodeIPs) {
    nat(KUBE_SERVICES, ...comment('kubernetes service nodeports; NOTE: this must be the last rule in this chain'), '-d', ip, '-j', KUBE_NODEPORTS);
  }

  filter(KUBE_FORWARD, '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP');
  filter(KUBE_FORWARD, ...comment('kubernetes forwarding rules'), '-m', 'mark', '--mark', mark, '-j', 'ACCEPT');
  filter(KUBE_FORWARD, ...comment('kubernetes forwarding conntrack rule'), '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
  return rules();
}

/**
 * The compact shape (`endpointChains: false`): every KUBE-SEP chain of a fragment is folded into
 * the chains that jump to it, so a Service costs one or two chains instead of one per endpoint
 * (iptables-nft spends its time per rule per chain: 43k lines in 11k chains restore in ~7 s
 * here, in 1.1k chains in ~0.6 s). A jump `<match> -j SEP` becomes `<match> <DNAT rule's matches>
 * -j DNAT ...` (an affinity `--rcheck` jump becomes `--update`, refreshing the entry as the
 * SEP chain's `--set` did); the SEP chain's masquerade-mark rules move before the policy chain's
 * first endpoint rule. Departure from upstream: those marks then apply whichever endpoint is
 * chosen, so an endpoint reaching its own Service is masqueraded even when another endpoint
 * serves it. A SEP chain of any other shape is kept as it is.
 */
export function inlineEndpointChains(rules: ProxyRules): ProxyRules {
  const isMark = (r: readonly string[]) => r.length >= 2 && r[r.length - 2] === '-j' && r[r.length - 1] === KUBE_MARK_MASQ;
  const dnatAt = (r: readonly string[]) => r.indexOf('-j') >= 0 && r[r.indexOf('-j') + 1] === 'DNAT';
  const seps = new Map<string, { marks: string[][]; dnat: string[] }>();
  for (const c of rules.nat) {
    if (!c.name.startsWith('KUBE-SEP-') || c.rules.length === 0) continue;
    const last = c.rules[c.rules.length - 1]!;
    const head = c.rules.slice(0, -1);
    if (!dnatAt(last) || !head.every(isMark)) continue;
    // The DNAT rule without its comment (the policy chain's rule carries one).
    const dnat = last[0] === '-m' && last[1] === 'comment' ? last.slice(4) : [...last];
    seps.set(c.name, { marks: head, dnat });
  }
  if (seps.size === 0) return rules;
  const nat: Chain[] = [];
  for (const c of rules.nat) {
    if (seps.has(c.name)) continue;
    const target = (r: readonly string[]) => (r.length >= 2 && r[r.length - 2] === '-j' ? seps.get(r[r.length - 1]!) : undefined);
    const first = c.rules.findIndex((r) => target(r) !== undefined);
    if (first < 0) {
      nat.push(c);
      continue;
    }
    const out = c.rules.slice(0, first);
    const seen = new Set<string>();
    for (const r of c.rules) {
      for (const m of target(r)?.marks ?? []) {
        const key = m.join(' ');
        if (!seen.has(key)) (seen.add(key), out.push(m));
      }
    }
    for (const r of c.rules.slice(first)) {
      const sep = target(r);
      if (!sep) {
        out.push(r);
        continue;
      }
      const matches = r.slice(0, -2);
      const i = matches.indexOf('--rcheck');
      if (i >= 0) {
        matches[i] = '--update';
        // The DNAT rule's `-m recent --name SEP --set` is then redundant.
        const dnat = [...sep.dnat];
        const j = dnat.indexOf('recent');
        if (j > 0 && dnat[j - 1] === '-m' && dnat[j + 3] === '--set') dnat.splice(j - 1, 5);
        out.push([...matches, ...dnat]);
      } else {
        out.push([...matches, ...sep.dnat]);
      }
    }
    nat.push({ name: c.name, rules: out });
  }
  return { filter: rules.filter, nat };
}

/** One rule as an iptables-restore line (`-A chain ...`), quoting words with blanks or quotes. */
export function ruleLine(chain: string, rule: readonly string[]): string {
  const words = rule.map((t) => (t === '' || /[\s"\\']/.test(t) ? `"${t.replace(/[\\"]/g, (m) => '\\' + m)}"` : t));
  return `-A ${chain} ${words.join(' ')}`;
}

/** What a sync wrote, per table and chain: the text of its rules (for the next partial sync). */
export type WrittenChains = { filter: Map<string, string>; nat: Map<string, string> };

/** A rule inserted into a built-in chain: `iptables -I <hook> 1 <rule>` or appended. */
export interface JumpRule {
  table: 'filter' | 'nat';
  hook: string;
  rule: string[];
  /** Upstream prepends every jump; KUBE-FORWARD (which ACCEPTs) goes after the guard instead. */
  position: 'first' | 'last';
}

/** The jumps from the built-in chains (upstream's iptablesJumpChains, as far as Bosun needs them). */
export const JUMP_RULES: readonly JumpRule[] = [
  { table: 'filter', hook: 'INPUT', rule: ['-m', 'conntrack', '--ctstate', 'NEW', ...comment('kubernetes externally-visible service portals'), '-j', KUBE_EXTERNAL_SERVICES], position: 'first' },
  { table: 'filter', hook: 'FORWARD', rule: ['-m', 'conntrack', '--ctstate', 'NEW', ...comment('kubernetes externally-visible service portals'), '-j', KUBE_EXTERNAL_SERVICES], position: 'first' },
  { table: 'filter', hook: 'FORWARD', rule: ['-m', 'conntrack', '--ctstate', 'NEW', ...comment('kubernetes service portals'), '-j', KUBE_SERVICES], position: 'first' },
  { table: 'filter', hook: 'OUTPUT', rule: ['-m', 'conntrack', '--ctstate', 'NEW', ...comment('kubernetes service portals'), '-j', KUBE_SERVICES], position: 'first' },
  { table: 'filter', hook: 'FORWARD', rule: [...comment('kubernetes forwarding rules'), '-j', KUBE_FORWARD], position: 'last' },
  ...(['INPUT', 'OUTPUT', 'FORWARD'] as const).map((hook): JumpRule => ({ table: 'filter', hook, rule: ['-m', 'conntrack', '--ctstate', 'NEW', ...comment('kubernetes load balancer firewall'), '-j', KUBE_PROXY_FIREWALL], position: 'first' })),
  { table: 'nat', hook: 'OUTPUT', rule: [...comment('kubernetes service portals'), '-j', KUBE_SERVICES], position: 'first' },
  { table: 'nat', hook: 'PREROUTING', rule: [...comment('kubernetes service portals'), '-j', KUBE_SERVICES], position: 'first' },
  { table: 'nat', hook: 'POSTROUTING', rule: [...comment('kubernetes postrouting rules'), '-j', KUBE_POSTROUTING], position: 'first' },
];

export interface RenderOptions {
  /** Chains written by the last successful sync; absent: a full sync. */
  previous?: WrittenChains;
  /** Service chains that exist in the kernel (full sync): those not wanted are deleted. */
  existing?: { filter: Iterable<string>; nat: Iterable<string> };
  /** Jump rules to add (those missing from the built-in chains). */
  jumps?: readonly JumpRule[];
  /**
   * Also leave out top-level chains (KUBE-SERVICES…) whose rules equal `previous`: an
   * EndpointSlice change then rewrites only its service's chains, not the ~1,000-rule
   * KUBE-SERVICES (40 ms of iptables-restore at 1,000 Services). Upstream rewrites them always.
   */
  skipUnchangedTopLevel?: boolean;
}

export interface Rendered {
  text: string;
  written: WrittenChains;
  /** Service chains rewritten (for logs and tests). */
  changed: number;
  /** Stale service chains deleted. */
  deleted: number;
}

/**
 * The iptables-restore input (for `--noflush`) that brings the kernel from `opts.previous` to
 * `rules` (pure). Top-level chains are always rewritten whole; a per-service chain only when it
 * is new or its rules changed (upstream's partial sync); service chains written before (or
 * present in `opts.existing`) and no longer wanted are flushed and deleted.
 */
export function renderRestore(rules: ProxyRules, opts: RenderOptions = {}): Rendered {
  return restoreScript(renderChains(rules), opts);
}

/** Chains as restore text: each chain's `-A` lines joined with newlines ('' for none), in order. */
export interface RenderedChains {
  filter: [string, string][];
  nat: [string, string][];
}

export function renderChains(rules: ProxyRules): RenderedChains {
  const table = (chains: readonly Chain[]): [string, string][] => chains.map((c) => [c.name, c.rules.map((r) => ruleLine(c.name, r)).join('\n')]);
  return { filter: table(rules.filter), nat: table(rules.nat) };
}

/** renderRestore on chains already rendered (see ProxyRuleCache in incremental.ts). */
export function restoreScript(chains: RenderedChains, opts: RenderOptions = {}): Rendered {
  const written: WrittenChains = { filter: new Map(), nat: new Map() };
  let text = '';
  let changed = 0;
  let deleted = 0;
  for (const table of ['filter', 'nat'] as const) {
    const decl: string[] = [];
    const body: string[] = [];
    const wanted = written[table];
    const previous = opts.previous?.[table];
    for (const [name, joined] of chains[table]) {
      wanted.set(name, joined);
      // Unchanged chains are mostly the very same string: the comparison is cheap.
      const same = previous !== undefined && previous.get(name) === joined;
      const service = isServiceChain(name);
      if (same && (service || opts.skipUnchangedTopLevel)) continue;
      if (service) changed++;
      decl.push(`:${name} - [0:0]`);
      if (joined) body.push(joined);
    }
    for (const j of opts.jumps ?? []) {
      if (j.table !== table) continue;
      const line = ruleLine(j.hook, j.rule);
      body.push(j.position === 'first' ? line.replace(/^-A (\S+)/, '-I $1 1') : line);
    }
    const stale = new Set<string>();
    for (const name of previous?.keys() ?? []) if (!wanted.has(name) && isServiceChain(name)) stale.add(name);
    for (const name of opts.existing?.[table] ?? []) if (!wanted.has(name) && isServiceChain(name)) stale.add(name);
    for (const name of [...stale].sort()) {
      decl.push(`:${name} - [0:0]`);
      body.push(`-X ${name}`);
      deleted++;
    }
    text += `*${table}\n${[...decl, ...body].map((l) => l + '\n').join('')}COMMIT\n`;
  }
  return { text, written, changed, deleted };
}

/**
 * conntrack deletions after a sync (upstream's UDP clean-up): for a UDP port whose endpoint
 * went away, the flows NATed to it (by cluster IP, and by NodePort); for a UDP port that had no
 * endpoint and now has one, every flow to its cluster IP (they hold REJECT state). Pure; each
 * entry is the argument list of one `conntrack -D` call.
 */
export function conntrackCleanup(prev: readonly ProxyServicePort[], next: readonly ProxyServicePort[]): string[][] {
  const out: string[][] = [];
  const key = (sp: ProxyServicePort) => `${sp.name}|${sp.protocol}`;
  const nextByKey = new Map(next.map((sp) => [key(sp), sp]));
  const seen = new Set<string>();
  const push = (args: string[]) => {
    const k = args.join(' ');
    if (!seen.has(k)) (seen.add(k), out.push(args));
  };
  for (const old of prev) {
    if (old.protocol !== 'udp') continue;
    const cur = nextByKey.get(key(old));
    const before = categorizeEndpoints(old).reachable;
    const after = new Set(cur ? categorizeEndpoints(cur).reachable.map((e) => e.endpoint) : []);
    for (const e of before) {
      if (after.has(e.endpoint)) continue;
      push(['-D', '-p', 'udp', '--orig-dst', old.clusterIP, '--dst-nat', e.ip]);
      if (old.nodePort > 0) push(['-D', '-p', 'udp', '--dport', String(old.nodePort), '--dst-nat', e.ip]);
      for (const lbip of old.loadBalancerIPs) push(['-D', '-p', 'udp', '--orig-dst', lbip, '--dst-nat', e.ip]);
    }
  }
  const prevByKey = new Map(prev.map((sp) => [key(sp), sp]));
  for (const cur of next) {
    if (cur.protocol !== 'udp') continue;
    const old = prevByKey.get(key(cur));
    if (old && !categorizeEndpoints(old).hasEndpoints && categorizeEndpoints(cur).hasEndpoints) push(['-D', '-p', 'udp', '--orig-dst', cur.clusterIP]);
  }
  return out;
}
