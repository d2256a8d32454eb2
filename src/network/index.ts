/**
 * The pod network of a Bosun node: the CNI conflist containerd's CRI plugin runs (bridge +
 * host-local + portmap), guard rules that keep pod and Service traffic on this machine, the
 * kernel settings they need, tear-down, and a CNI runner for tests and tools.
 *
 * Order at node start: preparePodNetwork (bridge netfilter, guard, then the conflist; until
 * the conflist exists containerd's CRI reports the network not ready and creates no pod).
 */
import { BosunError } from '../util/errors.ts';
import { cidrCovers, parseCidr } from './cidr.ts';
import type { CniConfigOptions } from './config.ts';
import { buildCniConfList, DEFAULT_BRIDGE, writeCniConfig } from './config.ts';
import type { GuardOptions } from './guard.ts';
import { guardRules, installGuardRules } from './guard.ts';
import type { KernelNetworkStatus } from './kernel.ts';
import { ensureBridgeNetfilter } from './kernel.ts';

export { buildCniConfList, writeCniConfig, readCniConfList, CONFLIST_NAME, NETWORK_NAME, DEFAULT_BRIDGE, CNI_VERSION } from './config.ts';
export type { CniConfigOptions, CniConfList, CniPluginConf } from './config.ts';
export { guardRules, guardChainName, installGuardRules, removeGuardRules, GUARD_CHAIN_PREFIX, BOSUN_BRIDGE_PATTERN, GUARD_REJECT_WITH } from './guard.ts';
export type { GuardOptions, GuardTable } from './guard.ts';
export { ensureBridgeNetfilter } from './kernel.ts';
export type { KernelNetworkStatus } from './kernel.ts';
export { removeNetwork } from './remove.ts';
export { parseCidr, formatIpv4, type Ipv4Cidr } from './cidr.ts';
export { ensureBridge, removeBridge, type BridgeOptions } from './bridge.ts';
export { RouteSyncer, desiredRoutes, syncRoutes, listRoutes, removeRoutes, linkOf, linkNetworkOf, ROUTE_PROTO, UNREACHABLE, type RoutedNode, type RouteSyncerOptions } from './routes.ts';
export type { RemoveNetworkOptions } from './remove.ts';
export { cniExec, DEFAULT_CNI_BIN_DIR } from './cniexec.ts';
export type { CniCommand, CniExecOptions, CniResult } from './cniexec.ts';
export { NetworkError } from './exec.ts';
export type { NetworkErrorCode } from './exec.ts';

export interface PreparePodNetworkOptions extends CniConfigOptions {
  /** The cluster's pod range (all nodes) for the guard, e.g. `10.42.0.0/16`; podCidr is this node's. */
  clusterCidr: string;
  serviceCidr: string;
  /** The hosts' link for host-gw routing between nodes (see GuardOptions.hostLink). */
  hostLink?: string;
  /** The hosts' link network (see GuardOptions.hostLinkCidr). */
  hostLinkCidr?: string;
}

/**
 * Readies this node for pods, in the safe order: bridge-nf-call-iptables on, guard rules in
 * place, then the conflist. Idempotent; call it at every agent start. Throws
 * ERR_NETWORK_KERNEL, ERR_NETWORK_COMMAND or ERR_INVALID_CONFIG, having written no conflist.
 */
export async function preparePodNetwork(opts: PreparePodNetworkOptions): Promise<{ conflist: string; kernel: KernelNetworkStatus }> {
  const cluster = parseCidr(opts.clusterCidr, 'clusterCidr');
  const node = parseCidr(opts.podCidr, 'podCidr');
  if (!cidrCovers(cluster, node)) throw new BosunError('ERR_INVALID_CONFIG', `podCidr ${node.text} is not inside clusterCidr ${cluster.text}`);
  const guard: GuardOptions = { podCidr: cluster.text, serviceCidr: opts.serviceCidr, bridge: opts.bridge ?? DEFAULT_BRIDGE, hostLink: opts.hostLink, hostLinkCidr: opts.hostLinkCidr };
  buildCniConfList(opts); // validate everything before changing the host
  guardRules(guard);
  const kernel = await ensureBridgeNetfilter();
  await installGuardRules(guard);
  return { conflist: await writeCniConfig(opts), kernel };
}
