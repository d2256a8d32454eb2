/**
 * Kernel settings the pod network depends on. `net.bridge.bridge-nf-call-iptables` must be 1
 * so that traffic between pods on one bridge passes iptables (Service DNAT between pods, and
 * the guard). `net.ipv4.ip_forward` is only reported: the bridge plugin (isGateway) turns it
 * on for the whole host at the first pod, which is why the guard must exist before that.
 */
import fs from 'node:fs/promises';
import { NetworkError, run } from './exec.ts';

export const BRIDGE_NF_CALL_IPTABLES = '/proc/sys/net/bridge/bridge-nf-call-iptables';
export const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

export interface KernelNetworkStatus {
  /** Always true on return (ensureBridgeNetfilter throws otherwise). */
  bridgeNfCallIptables: true;
  /** Whether the host forwards IPv4 now (false until the first pod on a fresh host). */
  ipForward: boolean;
  /** What was done: `loaded br_netfilter`, `set bridge-nf-call-iptables=1`. */
  actions: string[];
}

async function readSysctl(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes sure bridge-nf-call-iptables is 1, loading br_netfilter (modprobe) when the sysctl
 * is absent. Throws ERR_NETWORK_KERNEL, saying why, when that is impossible. Idempotent.
 */
export async function ensureBridgeNetfilter(): Promise<KernelNetworkStatus> {
  const actions: string[] = [];
  let value = await readSysctl(BRIDGE_NF_CALL_IPTABLES);
  if (value === undefined) {
    const r = await run('modprobe', ['br_netfilter']).catch((e: unknown) => ({ code: -1, stdout: '', stderr: (e as Error).message }));
    value = await readSysctl(BRIDGE_NF_CALL_IPTABLES);
    if (value === undefined) {
      throw new NetworkError('ERR_NETWORK_KERNEL', `br_netfilter is not loaded and modprobe br_netfilter failed (${r.stderr.trim() || `exit ${r.code}`}); load it on the host`);
    }
    actions.push('loaded br_netfilter');
  }
  if (value !== '1') {
    try {
      await fs.writeFile(BRIDGE_NF_CALL_IPTABLES, '1\n');
    } catch (err) {
      throw new NetworkError('ERR_NETWORK_KERNEL', `cannot set net.bridge.bridge-nf-call-iptables=1: ${(err as Error).message}`, { cause: err });
    }
    if ((await readSysctl(BRIDGE_NF_CALL_IPTABLES)) !== '1') {
      throw new NetworkError('ERR_NETWORK_KERNEL', 'net.bridge.bridge-nf-call-iptables does not stay 1');
    }
    actions.push('set bridge-nf-call-iptables=1');
  }
  return { bridgeNfCallIptables: true, ipForward: (await readSysctl(IP_FORWARD)) === '1', actions };
}
