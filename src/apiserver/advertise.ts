/**
 * The API server's advertise address (`--advertise-address`): the address pods reach it at,
 * published in the `kubernetes` Service's Endpoints (endpointreconciler.ts).
 * - `defaultAdvertiseAddress`: the flag, else the built-in node agent's node IP (its pod bridge
 *   gateway) when the agent runs, else the bind address unless it is a wildcard or loopback.
 * - `runAdvertiser`: when the address is not covered by the bind address, the server also
 *   listens there, but only once the address sits on a Bosun bridge of this machine (the agent
 *   creates it; until then binding fails): servers never bind wildcard or external addresses.
 *   Then the endpoint reconciler runs until the signal aborts.
 */
import os from 'node:os';
import type { ApiServer } from './server.ts';
import { KubernetesEndpointReconciler } from './endpointreconciler.ts';
import { canonicalIP } from '../pki/sans.ts';

/** How often the advertiser looks for the bridge address to appear. */
export const bridgeAddressPollMs = 500;
/** Interface names of the bridges the project creates (the pod bridge `bosun0`). */
export const bosunInterfacePrefix = 'bosun';

export function isWildcard(addr: string): boolean {
  return addr === '' || addr === '0.0.0.0' || addr === '::';
}

export function isLoopback(addr: string): boolean {
  const ip = canonicalIP(addr);
  return ip === '::1' || (!!ip && ip.startsWith('127.'));
}

/** The advertise address to use, or undefined when there is none pods could reach. */
export function defaultAdvertiseAddress(opts: { flag?: string; agentNodeIP?: string; bindAddress: string }): string | undefined {
  if (opts.flag) return canonicalIP(opts.flag) ?? opts.flag;
  if (opts.agentNodeIP) return canonicalIP(opts.agentNodeIP) ?? opts.agentNodeIP;
  if (!isWildcard(opts.bindAddress) && !isLoopback(opts.bindAddress)) return canonicalIP(opts.bindAddress);
  return undefined;
}

/** Whether a listener on `bindAddress` already accepts connections to `address`. */
export function bindCovers(bindAddress: string, address: string): boolean {
  if (bindAddress === '::') return true;
  if (bindAddress === '0.0.0.0' || bindAddress === '') return !address.includes(':');
  return canonicalIP(bindAddress) === canonicalIP(address);
}

/** Whether `address` is assigned to one of this machine's Bosun bridges. */
export function onBosunBridge(address: string, interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): boolean {
  const want = canonicalIP(address);
  for (const [name, list] of Object.entries(interfaces)) {
    if (!name.startsWith(bosunInterfacePrefix)) continue;
    if ((list ?? []).some((a) => canonicalIP(a.address) === want)) return true;
  }
  return false;
}

export interface AdvertiserOptions {
  address: string;
  port: number;
  bindAddress: string;
  hostname: string;
  /**
   * Publish only once this server listens on the address (the default node IP, whose bridge
   * the agent is about to create); false: publish at once (an address given explicitly, which
   * may be reached through something else).
   */
  waitForListener: boolean;
  log: (msg: string) => void;
  /** The endpoint reconciler's interval (tests); default upstream's 10 s. */
  intervalMs?: number;
}

/** Listens on the advertise address when needed, and keeps the `kubernetes` endpoints. */
export async function runAdvertiser(api: ApiServer, opts: AdvertiserOptions, signal: AbortSignal): Promise<void> {
  const listening = bindCovers(opts.bindAddress, opts.address) ? Promise.resolve(true) : listenWhenBridged(api, opts, signal);
  if (opts.waitForListener && !(await listening)) return;
  const reconciler = new KubernetesEndpointReconciler(api, { address: opts.address, port: opts.port, hostname: opts.hostname, log: opts.log, intervalMs: opts.intervalMs });
  opts.log(`advertising the API server at ${hostPort(opts.address, opts.port)} (lease kube-system/${reconciler.leaseName})`);
  await reconciler.run(signal);
  await listening;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Resolves true once the server also listens on the address; false when the signal aborts first. */
async function listenWhenBridged(api: ApiServer, opts: AdvertiserOptions, signal: AbortSignal): Promise<boolean> {
  let reported = '';
  while (!signal.aborted) {
    if (onBosunBridge(opts.address)) {
      try {
        await api.listenAlso(opts.address);
        opts.log(`API server also listening on https://${hostPort(opts.address, opts.port)} (advertise address)`);
        return true;
      } catch (err) {
        const msg = (err as Error).message;
        if (msg !== reported) opts.log(`listening on the advertise address ${opts.address}: ${msg}; retrying`);
        reported = msg;
      }
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, bridgeAddressPollMs);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
  return false;
}
