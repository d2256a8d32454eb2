/**
 * Tear-down of a node's pod network, for uninstall and tests: conflist, per-pod nat rules the
 * plugins left behind (pods never DELeted), the bridge, host-local reservations, and last the
 * guard. Run it only when no pod of this network is left.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { cidrContains, parseCidr } from './cidr.ts';
import type { Ipv4Cidr } from './cidr.ts';
import { CONFLIST_NAME, DEFAULT_BRIDGE, NETWORK_NAME, checkBridgeName } from './config.ts';
import { NetworkError, run } from './exec.ts';
import { removeGuardRules } from './guard.ts';
import { jumpsTo, quoteLine, readTable, restore } from './iptables.ts';
import { removeNetworkPolicyRules } from '../netpol/index.ts';
import { removeNftProxyRules, removeProxyRules } from '../proxy/index.ts';

export interface RemoveNetworkOptions {
  /** Bridge to delete. Default `bosun0`. */
  bridge?: string;
  /** host-local dataDir given to writeCniConfig; its `bosun` directory is removed. */
  dataDir: string;
  /** When given, the conflist written there is removed first (no new pods). */
  confDir?: string;
  /** The node's pod range: per-pod nat rules left for addresses in it are removed. */
  podCidr?: string;
  /** Guard chain, if not the default for the bridge. */
  chain?: string;
}

function valueAfter(rule: readonly string[], flag: string): string | undefined {
  const i = rule.indexOf(flag);
  return i >= 0 ? rule[i + 1] : undefined;
}

function targetOf(rule: readonly string[]): string | undefined {
  return valueAfter(rule, '-j');
}

/**
 * nat rules the bridge plugin (ipMasq) and portmap create per pod of the `bosun` network,
 * for pod addresses inside `pods`, with the chains they jump to. Shared chains are kept.
 */
async function leftoverPodNat(pods: Ipv4Cidr): Promise<string> {
  const mine = (rule: readonly string[], prefix: string) => valueAfter(rule, '--comment')?.startsWith(`${prefix}name: "${NETWORK_NAME}" id: `) ?? false;
  const nat = await readTable('nat');
  const lines: string[] = [];
  const chains: string[] = [];
  for (const r of nat.get('POSTROUTING') ?? []) {
    const src = valueAfter(r, '-s')?.replace(/\/32$/, '');
    const target = targetOf(r);
    if (mine(r, '') && src && cidrContains(pods, src) && target?.startsWith('CNI-')) {
      lines.push(quoteLine(['-D', ...r.slice(1)]));
      chains.push(target);
    }
  }
  for (const r of nat.get('CNI-HOSTPORT-DNAT') ?? []) {
    const target = targetOf(r);
    if (!mine(r, 'dnat ') || !target?.startsWith('CNI-DN-')) continue;
    const dn = nat.get(target) ?? [];
    const toPods = dn.some((d) => {
      const to = valueAfter(d, '--to-destination')?.split(':')[0];
      return to !== undefined && cidrContains(pods, to);
    });
    if (toPods && !dn.some((d) => jumpsTo(d, target))) {
      lines.push(quoteLine(['-D', ...r.slice(1)]));
      chains.push(target);
    }
  }
  for (const c of new Set(chains)) lines.push(`-F ${c}`, `-X ${c}`);
  return lines.length ? `*nat\n${lines.join('\n')}\nCOMMIT\n` : '';
}

/** Deletes a network device; absent is fine. */
export async function deleteLink(name: string): Promise<void> {
  const shown = await run('ip', ['link', 'show', 'dev', name]);
  if (shown.code !== 0) return;
  const r = await run('ip', ['link', 'del', 'dev', name]);
  if (r.code !== 0 && !/Cannot find device/.test(r.stderr)) {
    throw new NetworkError('ERR_NETWORK_COMMAND', `ip link del dev ${name} exited ${r.code}: ${r.stderr.trim()}`);
  }
}

/**
 * Removes the pod network of one bridge: conflist (if confDir), leftover per-pod nat rules
 * (if podCidr), the bridge link, host-local state, the network policy chains (src/netpol),
 * the service proxy chains and its nftables table (src/proxy), then the guard rules. Idempotent.
 */
export async function removeNetwork(opts: RemoveNetworkOptions): Promise<void> {
  const bridge = checkBridgeName(opts.bridge ?? DEFAULT_BRIDGE);
  if (opts.confDir) await fs.rm(path.join(opts.confDir, CONFLIST_NAME), { force: true });
  if (opts.podCidr) {
    const script = await leftoverPodNat(parseCidr(opts.podCidr, 'podCidr'));
    if (script) await restore(script);
  }
  await deleteLink(bridge);
  await fs.rm(path.join(opts.dataDir, NETWORK_NAME), { recursive: true, force: true });
  await removeNetworkPolicyRules();
  await removeProxyRules();
  await removeNftProxyRules();
  await removeGuardRules({ bridge, chain: opts.chain });
}
