/**
 * Guard rules: nothing addressed to the pod or service ranges, and nothing sent from the pod
 * range, may leave this machine. Once a pod bridge with isGateway exists the host forwards,
 * and a packet for an address with no rule would follow the default route out; the guard
 * rejects it instead. Install it before the first pod exists; remove it after the last.
 *
 * Layout (one chain per bridge, `BOSUN-GUARD-<bridge>`, in two tables):
 * - filter: jumped to from FORWARD, and from OUTPUT for connections not DNAT'ed. Traffic that
 *   leaves through lo or a Bosun bridge (`bosun+`, or the given bridge) returns; otherwise
 *   pod-range sources and pod/service-range destinations are REJECTed with
 *   icmp-admin-prohibited, so a connect fails at once with EHOSTUNREACH.
 * - mangle: jumped to from POSTROUTING, same tests, DROP. This is the backstop for host
 *   traffic DNAT'ed in nat OUTPUT (a Service reached from the host): filter OUTPUT still sees
 *   the output interface chosen before the DNAT (measured: eth0 for a DNAT to a bridged pod),
 *   so it cannot judge that packet, while POSTROUTING sees the interface really used.
 * With `hostLink` (host-gw between nodes on one link), traffic to the pod range may leave
 * through that link too: each node routes only other nodes' pod ranges there, via their
 * InternalIPs; everything else leaving is still rejected. With `hostLinkCidr` too, traffic to
 * the hosts' link network (the other nodes and the API server) may leave through that link:
 * replies of pods to NodePort clients on other nodes, and pod traffic to the API server.
 * Every rule lives in Bosun's own chains; the only rules outside them are the three jumps.
 * Bosun bridges are exempt by prefix so that two Bosun instances on one machine (two
 * bridges, overlapping ranges) do not reject each other's pod traffic; such a bridge has no
 * uplink, so traffic through it stays on the machine.
 */
import { isDeepStrictEqual } from 'node:util';
import { BosunError } from '../util/errors.ts';
import { cidrsOverlap, parseCidr } from './cidr.ts';
import { checkBridgeName } from './config.ts';
import { jumpsTo, quoteLine, readTable, restore } from './iptables.ts';

export interface GuardOptions {
  /** The cluster's pod range (all nodes), e.g. `10.42.0.0/16`. */
  podCidr: string;
  /** The Service range, e.g. `10.43.0.0/16`. */
  serviceCidr: string;
  /** The pod bridge of this node, e.g. `bosun0`. */
  bridge: string;
  /** Chain name (≤ 28 characters). Default `BOSUN-GUARD-<bridge>`. */
  chain?: string;
  /**
   * The hosts' link (the interface holding this node's InternalIP) when nodes route pod
   * ranges to each other over it (host-gw): traffic to the pod range may leave through it.
   */
  hostLink?: string;
  /**
   * The on-link network of `hostLink` (e.g. `10.44.0.0/24`): traffic to it may leave through
   * `hostLink`. Must not overlap the pod or service range.
   */
  hostLinkCidr?: string;
}

export const GUARD_CHAIN_PREFIX = 'BOSUN-GUARD-';
/** Interface pattern (iptables wildcard) of Bosun bridges, all local to this machine. */
export const BOSUN_BRIDGE_PATTERN = 'bosun+';
export const GUARD_REJECT_WITH = 'icmp-admin-prohibited';
const CHAIN_NAME = /^[A-Za-z0-9_.-]{1,28}$/;

/** The guard chain name for `opts` (validated). */
export function guardChainName(opts: Pick<GuardOptions, 'bridge' | 'chain'>): string {
  const chain = opts.chain ?? GUARD_CHAIN_PREFIX + checkBridgeName(opts.bridge);
  if (!CHAIN_NAME.test(chain) || /^(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING)$/.test(chain)) {
    throw new BosunError('ERR_INVALID_CONFIG', `guard chain name ${JSON.stringify(chain)} must be 1-28 characters of [A-Za-z0-9_.-] and not a built-in chain`);
  }
  return chain;
}

/** One table's share of the guard: the chain's rules and the jumps into it. */
export interface GuardTable {
  table: 'filter' | 'mangle';
  chain: string;
  /** Rules of the chain, as `iptables -S` prints them (tokens, starting `-A <chain>`). */
  rules: string[][];
  /** Jump rules, as `iptables -S` prints them (tokens, starting `-A <hook>`). */
  jumps: string[][];
}

/** The exact rules the guard consists of (pure; validates the options). */
export function guardRules(opts: GuardOptions): GuardTable[] {
  const chain = guardChainName(opts);
  const bridge = checkBridgeName(opts.bridge);
  const pods = parseCidr(opts.podCidr, 'podCidr');
  const services = parseCidr(opts.serviceCidr, 'serviceCidr');
  if (cidrsOverlap(pods, services)) {
    throw new BosunError('ERR_INVALID_CONFIG', `podCidr ${pods.text} and serviceCidr ${services.text} overlap`);
  }
  const link = opts.hostLink && opts.hostLinkCidr ? parseCidr(opts.hostLinkCidr, 'hostLinkCidr') : undefined;
  if (link && (cidrsOverlap(link, pods) || cidrsOverlap(link, services))) {
    throw new BosunError('ERR_INVALID_CONFIG', `the hosts' link network ${link.text} overlaps podCidr ${pods.text} or serviceCidr ${services.text}`);
  }
  const comment = (text: string) => ['-m', 'comment', '--comment', `bosun guard: ${text}`];
  const stays = [
    ['-o', 'lo', ...comment('loopback stays on this machine'), '-j', 'RETURN'],
    ['-o', BOSUN_BRIDGE_PATTERN, ...comment('Bosun bridges stay on this machine'), '-j', 'RETURN'],
    ...(bridge.startsWith(BOSUN_BRIDGE_PATTERN.slice(0, -1)) ? [] : [['-o', bridge, ...comment('the pod bridge stays on this machine'), '-j', 'RETURN']]),
    ...(opts.hostLink ? [['-d', pods.text, '-o', checkBridgeName(opts.hostLink), ...comment('pod traffic between nodes over the hosts link'), '-j', 'RETURN']] : []),
    ...(link ? [['-d', link.text, '-o', checkBridgeName(opts.hostLink!), ...comment('the hosts link network stays on that link'), '-j', 'RETURN']] : []),
  ];
  const blocked = (verdict: string[]) => [
    ['-s', pods.text, ...comment('pod traffic may not leave this machine'), ...verdict],
    ['-d', pods.text, ...comment('pod addresses are only on this machine'), ...verdict],
    ['-d', services.text, ...comment('service addresses are only on this machine'), ...verdict],
  ];
  const jump = ['-m', 'comment', '--comment', `bosun guard ${bridge}`, '-j', chain];
  const inChain = (rules: string[][]) => rules.map((r) => ['-A', chain, ...r]);
  return [
    {
      table: 'filter',
      chain,
      rules: inChain([...stays, ...blocked(['-j', 'REJECT', '--reject-with', GUARD_REJECT_WITH])]),
      jumps: [
        ['-A', 'FORWARD', ...jump],
        ['-A', 'OUTPUT', '-m', 'conntrack', '!', '--ctstate', 'DNAT', ...jump],
      ],
    },
    {
      table: 'mangle',
      chain,
      rules: inChain([...stays, ...blocked(['-j', 'DROP'])]),
      jumps: [['-A', 'POSTROUTING', ...jump]],
    },
  ];
}

function hookOf(rule: readonly string[]): string {
  return rule[1]!;
}

/**
 * Installs the guard, or corrects it to exactly the rules of `guardRules(opts)`.
 * Idempotent: when the rules are already in place nothing is written (rule handles stay).
 * A changed chain is replaced in one iptables-restore transaction, so there is no moment
 * without a guard; stale or duplicate jumps into the chain are removed, a missing jump is
 * inserted first in its hook. Callers serialize calls for the same bridge.
 */
export async function installGuardRules(opts: GuardOptions): Promise<void> {
  const tables = guardRules(opts);
  let script = '';
  for (const t of tables) {
    const lines: string[] = [];
    const rules = await readTable(t.table);
    const current = rules.get(t.chain);
    if (!current || !isDeepStrictEqual(current, t.rules)) {
      lines.push(`:${t.chain} - [0:0]`, ...t.rules.map(quoteLine));
    }
    for (const hook of new Set(t.jumps.map(hookOf))) {
      const want = t.jumps.filter((j) => hookOf(j) === hook);
      const have = (rules.get(hook) ?? []).filter((r) => jumpsTo(r, t.chain));
      const kept = new Set<number>();
      for (const w of want) {
        const i = have.findIndex((h, k) => !kept.has(k) && isDeepStrictEqual(h, w));
        if (i >= 0) kept.add(i);
        else lines.push(quoteLine(['-I', hook, '1', ...w.slice(2)]));
      }
      have.forEach((h, k) => kept.has(k) || lines.push(quoteLine(['-D', ...h.slice(1)])));
    }
    if (lines.length > 0) script += `*${t.table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  if (script) await restore(script);
}

/**
 * Removes the guard of `opts.bridge` (or `opts.chain`): every jump into its chains, then the
 * chains, in one transaction per table. Idempotent; other rules are never touched.
 */
export async function removeGuardRules(opts: Pick<GuardOptions, 'bridge' | 'chain'>): Promise<void> {
  const chain = guardChainName(opts);
  let script = '';
  for (const table of ['filter', 'mangle']) {
    const rules = await readTable(table);
    if (!rules.has(chain)) continue;
    const lines: string[] = [];
    for (const [from, list] of rules) {
      if (from !== chain) for (const r of list) if (jumpsTo(r, chain)) lines.push(quoteLine(['-D', ...r.slice(1)]));
    }
    lines.push(`-F ${chain}`, `-X ${chain}`);
    script += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  if (script) await restore(script);
}
