/**
 * The service proxy's nftables mode (`--proxy-mode nftables`), as pure functions: the same
 * ProxyServicePort list as the iptables mode (rules.ts servicePorts) turned into `nft -f`
 * transactions for one table, `ip kube-proxy`, laid out as upstream's pkg/proxy/nftables:
 * base chains `filter-*`/`nat-*`, the `services` dispatch through the verdict maps
 * `service-ips` and `service-nodeports` (NodePorts on the `nodeport-ips` set), rejection
 * through `no-endpoint-services`/`no-endpoint-nodeports` and `reject-chain`,
 * `loadBalancerSourceRanges` through `firewall-ips` and per-service `firewall-*` chains,
 * `mark-for-masquerade`/`masquerading`, and per service port the policy chains `service-*` and
 * `local-*` and the `external-*` chain, named `<hash>-<namespace>/<name>/<protocol>/<port>`.
 *
 * One deliberate departure, for speed: no `endpoint-*` chain per endpoint (except for ClientIP
 * affinity, whose per-endpoint `affinity-*` sets need them, as upstream). A policy chain DNATs
 * straight to `numgen random mod N map { i : ip . port }`; the endpoint chain's hairpin rule
 * (`ip saddr <endpoint> jump mark-for-masquerade`) becomes one set, `hairpin-endpoints`
 * (`ip . ip` of every endpoint), matched after DNAT in `masquerading`: source = destination is
 * exactly an endpoint that reached itself. Only a pod of this node (or the node) can reach
 * itself, so the set holds `a . a` for every address of the node's pod range and the node's
 * addresses, written once (per endpoint only when the pod range is unknown or wider than /22):
 * an endpoint change then rewrites one chain and no set element (nft 1.0 dumps every chain of
 * the host before any element change: ~25 ms more here). At 1,000 Services × 10 endpoints that
 * is 1,100 chains instead of 11,100: a full transaction loads in ~0.4 s instead of ~1 s, one
 * Service's endpoint change in ~15 ms. Pod traffic DNATed off the pod network (the API server on
 * the hosts' link) is masqueraded by one rule (the iptables mode's per-endpoint rule).
 *
 * A full transaction (start, after a failure, hourly) rewrites everything; an incremental one
 * changes only the chains and map elements that differ from what the last one wrote. Stale
 * chains are flushed and deleted by a later transaction, as upstream (kernels before 6.2 keep a
 * chain referenced for a moment after the map element that pointed to it is gone).
 */
import { formatIpv4, parseCidr } from '../network/cidr.ts';
import { chainHash, inCidr, MASQUERADE_MARK, trafficPlan, type ProxyEndpoint, type ProxyNodeInfo, type ProxyServicePort } from './rules.ts';

export const NFT_TABLE = 'kube-proxy';
const T = `ip ${NFT_TABLE}`;

const SERVICES = 'services';
const SERVICE_IPS = 'service-ips';
const SERVICE_NODEPORTS = 'service-nodeports';
const NODEPORT_IPS = 'nodeport-ips';
const ENDPOINTS_CHECK = 'endpoints-check';
const NO_ENDPOINT_SERVICES = 'no-endpoint-services';
const NO_ENDPOINT_NODEPORTS = 'no-endpoint-nodeports';
const REJECT_CHAIN = 'reject-chain';
const FIREWALL_IPS = 'firewall-ips';
const FIREWALL_CHECK = 'firewall-check';
const MARK_MASQ = 'mark-for-masquerade';
const MASQUERADING = 'masquerading';
const HAIRPIN = 'hairpin-endpoints';
/** The widest pod range whose addresses are written to the hairpin set (1,022 pairs). */
const STATIC_HAIRPIN_MAX_PREFIX = 22;

/** Maps and sets whose elements the per-service rules fill (all flushed by a full transaction). */
const ELEMENT_HOLDERS: readonly [name: string, kind: 'map' | 'set', type: string, comment: string][] = [
  [SERVICE_IPS, 'map', 'ipv4_addr . inet_proto . inet_service : verdict', 'ClusterIP, ExternalIP and LoadBalancer IP traffic'],
  [SERVICE_NODEPORTS, 'map', 'inet_proto . inet_service : verdict', 'NodePort traffic'],
  [NO_ENDPOINT_SERVICES, 'map', 'ipv4_addr . inet_proto . inet_service : verdict', 'vmap to drop or reject packets to services with no endpoints'],
  [NO_ENDPOINT_NODEPORTS, 'map', 'inet_proto . inet_service : verdict', 'vmap to drop or reject packets to service nodeports with no endpoints'],
  [FIREWALL_IPS, 'map', 'ipv4_addr . inet_proto . inet_service : verdict', 'destinations that are subject to LoadBalancerSourceRanges'],
  [HAIRPIN, 'set', 'ipv4_addr . ipv4_addr', 'endpoint . endpoint: an endpoint reaching itself through its Service'],
];

/** Base chains: [name, type, hook, priority]. Filter chains see pre-DNAT addresses. */
const BASE_CHAINS: readonly [string, string, string, string][] = [
  ['filter-prerouting', 'filter', 'prerouting', '-110'],
  ['filter-input', 'filter', 'input', '-110'],
  ['filter-forward', 'filter', 'forward', '-110'],
  ['filter-output', 'filter', 'output', '-110'],
  ['nat-prerouting', 'nat', 'prerouting', 'dstnat'],
  ['nat-output', 'nat', 'output', '-100'],
  ['nat-postrouting', 'nat', 'postrouting', 'srcnat'],
];

/** Jumps from the base chains: [target, from, match]. */
const JUMPS: readonly [string, string, string][] = [
  [ENDPOINTS_CHECK, 'filter-input', 'ct state new '],
  [ENDPOINTS_CHECK, 'filter-forward', 'ct state new '],
  [ENDPOINTS_CHECK, 'filter-output', 'ct state new '],
  [FIREWALL_CHECK, 'filter-prerouting', 'ct state new '],
  [FIREWALL_CHECK, 'filter-output', 'ct state new '],
  [SERVICES, 'nat-output', ''],
  [SERVICES, 'nat-prerouting', ''],
  [MASQUERADING, 'nat-postrouting', ''],
];

const TOP_CHAINS = [ENDPOINTS_CHECK, FIREWALL_CHECK, SERVICES, MASQUERADING, MARK_MASQ, REJECT_CHAIN];

/** Upstream's per-service chain prefixes; every such chain name holds a `/`. */
export function isNftServiceChain(name: string): boolean {
  return name.includes('/');
}
export function isAffinitySet(name: string): boolean {
  return name.startsWith('affinity-');
}

/** `<8 hash chars>-<name>`, cut to 240 characters with `...` (upstream's hashAndTruncate). */
function hashAndTruncate(name: string): string {
  const out = `${chainHash(name).slice(0, 8)}-${name}`;
  return out.length > 240 ? `${out.slice(0, 237)}...` : out;
}

function portName(sp: ProxyServicePort): string {
  const i = sp.name.indexOf(':');
  return i < 0 ? '' : sp.name.slice(i + 1);
}

/** `HASH-namespace/name/protocol/port` (upstream's servicePortChainNameBase). */
export function nftChainBase(sp: ProxyServicePort): string {
  return hashAndTruncate(`${sp.namespace}/${sp.service}/${sp.protocol}/${portName(sp)}`);
}

/** `HASH-namespace/name/protocol/port__ip/port` (upstream's servicePortEndpointChainNameBase). */
export function nftEndpointBase(sp: ProxyServicePort, e: ProxyEndpoint): string {
  return hashAndTruncate(`${sp.namespace}/${sp.service}/${sp.protocol}/${portName(sp)}__${e.ip}/${e.port}`);
}

/** One service port's share of the table. */
export interface NftFragment {
  /** Its chains, in declaration order: name → its rules joined with ` ; ` ('' for none). */
  chains: [string, string][];
  /** Map and set elements: [map or set, key, value ('' in a set)]. */
  elements: [string, string, string][];
  /** Affinity sets: name → definition. */
  sets: [string, string][];
}

/** What a transaction left in the kernel, for the next incremental one. */
export interface NftWritten {
  chains: Map<string, string>;
  /** map or set → key → value. */
  elements: Map<string, Map<string, string>>;
  sets: Map<string, string>;
}

/** One service port's chains, elements and affinity sets (pure). */
export function nftServicePort(sp: ProxyServicePort, node: ProxyNodeInfo): NftFragment {
  const { cluster, local, reachable, hasEndpoints, usesClusterChain, usesLocalChain, hasInternal, hasExternal, usesExtChain } = trafficPlan(sp);
  const base = nftChainBase(sp);
  const svcChain = `service-${base}`;
  const svlChain = `local-${base}`;
  const extChain = `external-${base}`;
  const fwChain = `firewall-${base}`;
  const internalChain = sp.internalLocal ? svlChain : svcChain;
  const externalPolicyChain = sp.externalLocal ? svlChain : svcChain;
  const usesFWChain = sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  const affinity = sp.affinitySeconds > 0;
  const internalVerdict = !hasEndpoints ? `goto ${REJECT_CHAIN}` : 'drop';
  const externalVerdict = internalVerdict;

  const chains = new Map<string, string[]>();
  const declare = (c: string) => chains.has(c) || chains.set(c, []);
  const rule = (c: string, r: string) => {
    declare(c);
    chains.get(c)!.push(r);
  };
  const elements: [string, string, string][] = [];
  const sets: [string, string][] = [];
  const key3 = (ip: string) => `${ip} . ${sp.protocol} . ${sp.port}`;

  if (usesClusterChain) declare(svcChain);
  if (usesLocalChain) declare(svlChain);
  if (usesExtChain) declare(extChain);
  if (usesFWChain) declare(fwChain);

  // The cluster IP.
  if (hasInternal) elements.push([SERVICE_IPS, key3(sp.clusterIP), `goto ${internalChain}`]);
  else elements.push([NO_ENDPOINT_SERVICES, key3(sp.clusterIP), internalVerdict]);

  // Load-balancer ingress, behind the firewall chain when source ranges are set.
  if (usesFWChain) {
    const sources = [...sp.loadBalancerSourceRanges];
    if (sp.loadBalancerSourceRanges.some((c) => node.nodeIPs.some((ip) => inCidr(ip, c)))) sources.push(...sp.loadBalancerIPs);
    rule(fwChain, `ip saddr != { ${sources.join(', ')} } drop`);
  }
  for (const lbip of sp.loadBalancerIPs) {
    if (hasEndpoints) elements.push([SERVICE_IPS, key3(lbip), `goto ${extChain}`]);
    if (usesFWChain) elements.push([FIREWALL_IPS, key3(lbip), `goto ${fwChain}`]);
    if (!hasExternal) elements.push([NO_ENDPOINT_SERVICES, key3(lbip), externalVerdict]);
  }

  // The NodePort.
  if (sp.nodePort > 0) {
    if (hasEndpoints) elements.push([SERVICE_NODEPORTS, `${sp.protocol} . ${sp.nodePort}`, `goto ${extChain}`]);
    if (!hasExternal) elements.push([NO_ENDPOINT_NODEPORTS, `${sp.protocol} . ${sp.nodePort}`, externalVerdict]);
  }

  // Off-cluster traffic to the cluster IP is masqueraded.
  if (hasInternal && node.clusterCidr) rule(internalChain, `ip daddr ${sp.clusterIP} ${sp.protocol} dport ${sp.port} ip saddr != ${node.clusterCidr} jump ${MARK_MASQ}`);

  // The external chain: masquerade, and for policy Local the short-circuits of pod and host traffic.
  if (usesExtChain) {
    if (!sp.externalLocal) rule(extChain, `jump ${MARK_MASQ}`);
    else {
      if (node.clusterCidr) rule(extChain, `ip saddr ${node.clusterCidr} goto ${svcChain}`);
      rule(extChain, `fib saddr type local jump ${MARK_MASQ}`);
      rule(extChain, `fib saddr type local goto ${svcChain}`);
    }
    if (hasExternal) rule(extChain, `goto ${externalPolicyChain}`);
  }

  // Policy chains: straight DNAT, or through endpoint chains with ClientIP affinity.
  const epChain = (e: ProxyEndpoint) => `endpoint-${nftEndpointBase(sp, e)}`;
  const affSet = (e: ProxyEndpoint) => `affinity-${nftEndpointBase(sp, e)}`;
  const toEndpoints = (chain: string, eps: ProxyEndpoint[]) => {
    if (affinity) {
      for (const e of eps) rule(chain, `ip saddr @${affSet(e)} goto ${epChain(e)}`);
      rule(chain, `numgen random mod ${eps.length} vmap { ${eps.map((e, i) => `${i} : goto ${epChain(e)}`).join(', ')} }`);
    } else if (eps.length === 1) {
      rule(chain, `meta l4proto ${sp.protocol} dnat to ${eps[0]!.endpoint}`);
    } else {
      rule(chain, `meta l4proto ${sp.protocol} dnat ip addr . port to numgen random mod ${eps.length} map { ${eps.map((e, i) => `${i} : ${e.ip} . ${e.port}`).join(', ')} }`);
    }
  };
  if (usesClusterChain) toEndpoints(svcChain, cluster);
  if (usesLocalChain) toEndpoints(svlChain, local);

  for (const e of reachable) {
    if (affinity) {
      sets.push([affSet(e), `{ type ipv4_addr ; flags dynamic,timeout ; timeout ${sp.affinitySeconds}s ; }`]);
      rule(epChain(e), `update @${affSet(e)} { ip saddr }`);
      rule(epChain(e), `meta l4proto ${sp.protocol} dnat to ${e.endpoint}`);
    }
    if (!staticHairpin(node)) elements.push([HAIRPIN, `${e.ip} . ${e.ip}`, '']);
  }
  return { chains: [...chains].map(([name, rules]) => [name, rules.join(' ; ')]), elements, sets };
}

/** The node's pod range when its addresses make the hairpin set (see the file comment). */
function staticHairpin(node: ProxyNodeInfo): { base: number; prefix: number } | undefined {
  if (!node.podCidr) return undefined;
  const cidr = parseCidr(node.podCidr, 'podCidr');
  return cidr.prefix >= STATIC_HAIRPIN_MAX_PREFIX && cidr.prefix <= 30 ? cidr : undefined;
}

/** The table, its base and top-level chains, maps and sets, all flushed and refilled (full transactions). */
export function nftFixedPart(node: ProxyNodeInfo): string {
  const out: string[] = [`add table ${T} { comment "rules for kube-proxy" ; }`];
  for (const [name, type, hook, prio] of BASE_CHAINS) {
    out.push(`add chain ${T} ${name} { type ${type} hook ${hook} priority ${prio} ; policy accept ; }`, `flush chain ${T} ${name}`);
  }
  for (const c of TOP_CHAINS) out.push(`add chain ${T} ${c}`, `flush chain ${T} ${c}`);
  for (const [target, from, match] of JUMPS) out.push(`add rule ${T} ${from} ${match}jump ${target}`);
  out.push(`add set ${T} ${NODEPORT_IPS} { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }`, `flush set ${T} ${NODEPORT_IPS}`);
  if (node.nodeIPs.length) out.push(`add element ${T} ${NODEPORT_IPS} { ${node.nodeIPs.join(', ')} }`);
  for (const [name, kind, type, comment] of ELEMENT_HOLDERS) out.push(`add ${kind} ${T} ${name} { type ${type} ; comment "${comment}" ; }`, `flush ${kind} ${T} ${name}`);
  const range = staticHairpin(node);
  if (range) {
    const ips = [...node.nodeIPs];
    for (let n = range.base + 1; n < range.base + 2 ** (32 - range.prefix) - 1; n++) ips.push(formatIpv4(n));
    out.push(`add element ${T} ${HAIRPIN} { ${[...new Set(ips)].map((ip) => `${ip} . ${ip}`).join(', ')} }`);
  }
  const r = (c: string, rule: string) => out.push(`add rule ${T} ${c} ${rule}`);
  r(MARK_MASQ, `meta mark set meta mark or ${MASQUERADE_MARK}`);
  r(MASQUERADING, `ct status dnat ip saddr . ip daddr @${HAIRPIN} jump ${MARK_MASQ}`);
  if (node.clusterCidr) {
    const own = [node.clusterCidr, ...node.nodeIPs];
    r(MASQUERADING, `ct status dnat ip saddr ${node.clusterCidr} ip daddr != { ${own.join(', ')} } jump ${MARK_MASQ}`);
  }
  r(MASQUERADING, `meta mark & ${MASQUERADE_MARK} == 0 return`);
  r(MASQUERADING, `meta mark set meta mark ^ ${MASQUERADE_MARK}`);
  r(MASQUERADING, 'masquerade fully-random');
  r(REJECT_CHAIN, 'reject');
  r(ENDPOINTS_CHECK, `ip daddr . meta l4proto . th dport vmap @${NO_ENDPOINT_SERVICES}`);
  r(ENDPOINTS_CHECK, `ip daddr @${NODEPORT_IPS} meta l4proto . th dport vmap @${NO_ENDPOINT_NODEPORTS}`);
  r(FIREWALL_CHECK, `ip daddr . meta l4proto . th dport vmap @${FIREWALL_IPS}`);
  r(SERVICES, `ip daddr . meta l4proto . th dport vmap @${SERVICE_IPS}`);
  r(SERVICES, `ip daddr @${NODEPORT_IPS} meta l4proto . th dport vmap @${SERVICE_NODEPORTS}`);
  return out.join('\n');
}

export interface NftRenderOptions {
  /** What the last successful transaction wrote; absent: a full transaction. */
  previous?: NftWritten;
  /** Full transaction: service chains and affinity sets found in the kernel (those not wanted go). */
  existing?: { chains: Iterable<string>; sets: Iterable<string> };
}

export interface NftRendered {
  /** The `nft -f` input ('' when nothing changed). */
  text: string;
  written: NftWritten;
  /** Service chains written. */
  changed: number;
  /** Stale service chains flushed now: delete them with nftDeleteChains in a later transaction. */
  stale: string[];
}

/**
 * The transaction from `opts.previous` (or from anything, for a full one) to the given
 * fragments (pure). Order: new chains and sets declared, changed elements deleted, chains
 * rewritten, stale chains flushed, elements added, stale affinity sets deleted.
 */
export function nftTransaction(fixed: string, fragments: readonly NftFragment[], opts: NftRenderOptions = {}): NftRendered {
  const prev = opts.previous;
  const written: NftWritten = { chains: new Map(), elements: new Map(), sets: new Map() };
  for (const [name] of ELEMENT_HOLDERS) written.elements.set(name, new Map());
  for (const f of fragments) {
    for (const [name, text] of f.chains) written.chains.set(name, written.chains.has(name) ? `${written.chains.get(name)} ; ${text}` : text);
    for (const [holder, key, value] of f.elements) written.elements.get(holder)!.set(key, value);
    for (const [name, def] of f.sets) written.sets.set(name, def);
  }
  const out: string[] = prev ? [] : [fixed];
  // Declarations first: rules may jump to any chain of this transaction.
  for (const [name, def] of written.sets) if (prev?.sets.get(name) !== def) out.push(`add set ${T} ${name} ${def}`);
  let changed = 0;
  const rewrite: string[] = [];
  for (const [name, text] of written.chains) {
    if (prev && prev.chains.get(name) === text) continue;
    changed++;
    if (!prev?.chains.has(name)) out.push(`add chain ${T} ${name}`);
    rewrite.push(`flush chain ${T} ${name}`);
    // A rule block in `add chain` needs no chain cache; `add rule` makes nft dump every chain of
    // the host first (~12 ms at 1,100 chains here).
    if (text) rewrite.push(`add chain ${T} ${name} { ${text} ; }`);
  }
  // Elements gone or changed (a full transaction flushed them all).
  const adds: string[] = [];
  for (const [holder, kind] of ELEMENT_HOLDERS) {
    const want = written.elements.get(holder)!;
    const had = prev?.elements.get(holder);
    const del: string[] = [];
    const add: string[] = [];
    if (had) for (const [k, v] of had) if (want.get(k) !== v) del.push(k);
    for (const [k, v] of want) if (had?.get(k) !== v) add.push(kind === 'map' ? `${k} : ${v}` : k);
    if (del.length) out.push(`delete element ${T} ${holder} { ${del.join(', ')} }`);
    if (add.length) adds.push(`add element ${T} ${holder} { ${add.join(', ')} }`);
  }
  out.push(...rewrite);
  const staleChains = new Set<string>();
  for (const name of prev?.chains.keys() ?? []) if (!written.chains.has(name)) staleChains.add(name);
  for (const name of opts.existing?.chains ?? []) if (isNftServiceChain(name) && !written.chains.has(name)) staleChains.add(name);
  const stale = [...staleChains].sort();
  for (const name of stale) out.push(`flush chain ${T} ${name}`);
  out.push(...adds);
  const staleSets = new Set<string>();
  for (const name of prev?.sets.keys() ?? []) if (!written.sets.has(name)) staleSets.add(name);
  for (const name of opts.existing?.sets ?? []) if (isAffinitySet(name) && !written.sets.has(name)) staleSets.add(name);
  for (const name of [...staleSets].sort()) out.push(`delete set ${T} ${name}`);
  return { text: out.length ? `${out.join('\n')}\n` : '', written, changed, stale };
}

/** The transaction deleting chains flushed by an earlier one. */
export function nftDeleteChains(chains: readonly string[]): string {
  return chains.map((c) => `delete chain ${T} ${c}\n`).join('');
}

/**
 * Each service port's fragment rendered once and reused while the port (and the node info) is
 * unchanged, as ProxyRuleCache does for the iptables mode.
 */
export class NftRuleCache {
  #entries = new Map<string, { key: string; sp: ProxyServicePort; fragment: NftFragment }>();
  #nodeKey = '';
  #fixed = '';

  render(ports: readonly ProxyServicePort[], node: ProxyNodeInfo, opts: NftRenderOptions = {}): NftRendered {
    const nodeKey = JSON.stringify(node);
    if (nodeKey !== this.#nodeKey) {
      this.#entries.clear();
      this.#nodeKey = nodeKey;
      this.#fixed = nftFixedPart(node);
    }
    const next = new Map<string, { key: string; sp: ProxyServicePort; fragment: NftFragment }>();
    const fragments: NftFragment[] = [];
    for (const sp of ports) {
      const id = `${sp.name}|${sp.protocol}`;
      let entry = next.get(id) ?? this.#entries.get(id);
      // The same object (ServicePortTracker) needs no comparison of contents.
      const key = entry?.sp === sp ? entry.key : JSON.stringify(sp);
      if (entry?.key !== key) entry = { key, sp, fragment: nftServicePort(sp, node) };
      else if (entry.sp !== sp) entry = { ...entry, sp };
      next.set(id, entry);
      fragments.push(entry.fragment);
    }
    this.#entries = next;
    return nftTransaction(this.#fixed, fragments, opts);
  }
}

/**
 * Parses `nft -t list chains ip` / `nft -t list sets ip` output: the names of the chains or sets
 * of our table (other tables' are skipped).
 */
export function parseNftNames(listing: string, kind: 'chain' | 'set'): string[] {
  const names: string[] = [];
  let inTable = false;
  for (const line of listing.split('\n')) {
    const t = line.trim();
    const table = /^table (\S+) (\S+) \{$/.exec(t);
    if (table) {
      inTable = table[1] === 'ip' && table[2] === NFT_TABLE;
      continue;
    }
    if (!inTable) continue;
    const m = new RegExp(`^${kind} (\\S+) \\{`).exec(t);
    if (m) names.push(m[1]!);
  }
  return names;
}
