/**
 * host-gw routing between nodes on one link (flannel's host-gw backend): a route to every other
 * node's pod range via that node's InternalIP, kept in step with the Nodes. Routes Bosun adds
 * carry their own protocol number (`proto 0xb0`), so only those are ever replaced or removed.
 * Only ranges inside the cluster's pod range are routed, never this node's own range, and only
 * via an IPv4 address that is not this node's: a Node object cannot steer other traffic.
 * The whole cluster range is also routed `unreachable` (less specific than this node's bridge
 * route and the other nodes' routes): a pod address no node holds never follows a default route
 * off the machine, which the guard's hosts-link exemption would otherwise let through.
 */
import { cidrCovers, cidrsOverlap, parseCidr, parseIpv4 } from './cidr.ts';
import { NetworkError, run, runOk } from './exec.ts';
import { compareStrings } from '../util/compare.ts';

/** The routing protocol number marking Bosun's host-gw routes (`ip route … proto 176`). */
export const ROUTE_PROTO = '176';

/** What routing needs of a Node (the typed Node fits). */
export interface RoutedNode {
  metadata: { name?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: { type: string; address: string }[] };
}

export interface DesiredRoutesOptions {
  /** This node: never routed to. */
  nodeName: string;
  /** This node's pod range: no other node's range may overlap it. */
  podCidr: string;
  /** This node's InternalIP: never a gateway. */
  nodeIP: string;
  /** The cluster's pod range: only ranges inside it are routed. */
  clusterCidr: string;
}

/**
 * The routes this node should have: pod range → gateway, for every other node with an IPv4
 * pod range inside the cluster range and an InternalIP (pure). When two nodes claim one range,
 * the first by name wins.
 */
export function desiredRoutes(nodes: readonly RoutedNode[], opts: DesiredRoutesOptions): Map<string, string> {
  const cluster = parseCidr(opts.clusterCidr, 'clusterCidr');
  const own = parseCidr(opts.podCidr, 'podCidr');
  const out = new Map<string, string>();
  const sorted = [...nodes].sort((a, b) => compareStrings(a.metadata.name ?? '', b.metadata.name ?? ''));
  for (const n of sorted) {
    if (n.metadata.name === opts.nodeName) continue;
    const via = n.status?.addresses?.find((a) => a.type === 'InternalIP' && parseIpv4(a.address) !== undefined)?.address;
    if (!via || via === opts.nodeIP) continue;
    const ranges = n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
    for (const r of ranges) {
      let c;
      try {
        c = parseCidr(r);
      } catch {
        continue; // IPv6 or malformed
      }
      if (!cidrCovers(cluster, c) || cidrsOverlap(c, own) || out.has(c.text)) continue;
      if ([...out.keys()].some((k) => cidrsOverlap(parseCidr(k), c))) continue;
      out.set(c.text, via);
    }
  }
  return out;
}

/** The gateway value that stands for an `unreachable` route. */
export const UNREACHABLE = 'unreachable';

/** Bosun's host-gw routes now in the main table: destination → gateway (or UNREACHABLE). */
export async function listRoutes(): Promise<Map<string, string>> {
  const text = await runOk('ip', ['-4', '-o', 'route', 'show', 'table', 'main', 'proto', ROUTE_PROTO]);
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) via (\S+)/.exec(line.trim()) ?? /^unreachable (\S+)/.exec(line.trim());
    if (m) out.set(m[1]!.includes('/') ? m[1]! : `${m[1]}/32`, m[2] ?? UNREACHABLE);
  }
  return out;
}

/**
 * Makes Bosun's routes exactly `want`: `ip route replace` for missing or changed ones, delete
 * for the rest of Bosun's. Other routes are never touched. Answers what changed; a route that
 * cannot be set (gateway not on a connected link) is reported in `failed`, the rest applied.
 */
export async function syncRoutes(want: ReadonlyMap<string, string>): Promise<{ added: string[]; removed: string[]; failed: string[] }> {
  const have = await listRoutes();
  const added: string[] = [];
  const removed: string[] = [];
  const failed: string[] = [];
  for (const [dst, via] of want) {
    if (have.get(dst) === via) continue;
    const r = await run('ip', via === UNREACHABLE ? ['route', 'replace', UNREACHABLE, dst, 'proto', ROUTE_PROTO] : ['route', 'replace', dst, 'via', via, 'proto', ROUTE_PROTO]);
    if (r.code === 0) added.push(`${dst} via ${via}`);
    else failed.push(`${dst} via ${via}: ${r.stderr.trim()}`);
  }
  for (const dst of have.keys()) {
    if (want.has(dst)) continue;
    const r = await run('ip', have.get(dst) === UNREACHABLE ? ['route', 'del', UNREACHABLE, dst, 'proto', ROUTE_PROTO] : ['route', 'del', dst, 'proto', ROUTE_PROTO]);
    if (r.code === 0) removed.push(dst);
    else failed.push(`del ${dst}: ${r.stderr.trim()}`);
  }
  return { added, removed, failed };
}

/** Removes every Bosun host-gw route. Idempotent. */
export async function removeRoutes(): Promise<void> {
  await syncRoutes(new Map());
}

/** The interface holding the IPv4 address `ip` (the hosts' link of a node). Throws ERR_NETWORK_COMMAND when none does. */
export async function linkOf(ip: string): Promise<string> {
  return (await linkNetworkOf(ip)).link;
}

/** The interface holding `ip` and that address's on-link network (e.g. eth0, 10.44.0.0/24). */
export async function linkNetworkOf(ip: string): Promise<{ link: string; cidr: string }> {
  const text = await runOk('ip', ['-4', '-o', 'addr', 'show']);
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+([0-9.]+)\/(\d+)/.exec(line);
    if (m && m[2] === ip) return { link: m[1]!, cidr: parseCidr(`${ip}/${m[3]}`).text };
  }
  throw new NetworkError('ERR_NETWORK_COMMAND', `no interface of this host has the address ${ip} (--node-ip must be an address of this host)`);
}

export interface RouteSyncerOptions extends DesiredRoutesOptions {
  /** The Nodes as the agent's cache holds them. */
  nodes: () => readonly RoutedNode[];
  /** Full resync period (repairs routes removed by hand). Default 30 s. */
  resyncMs?: number;
  log?: (msg: string) => void;
}

/**
 * Keeps the routes in step with the Nodes: `poke()` after every Node event; syncs run one at a
 * time, and pokes during a sync coalesce into one more. `run(signal)` resolves after the signal
 * aborted and Bosun's routes were removed.
 */
export class RouteSyncer {
  #o: RouteSyncerOptions;
  #pending = false;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: RouteSyncerOptions) {
    this.#o = opts;
  }

  poke(): void {
    if (this.#stopped) return;
    this.#pending = true;
    this.#running ??= this.#loop().finally(() => (this.#running = undefined));
  }

  async #loop(): Promise<void> {
    const log = this.#o.log ?? (() => {});
    while (this.#pending && !this.#stopped) {
      this.#pending = false;
      try {
        const want = desiredRoutes(this.#o.nodes(), this.#o);
        want.set(parseCidr(this.#o.clusterCidr).text, UNREACHABLE);
        const r = await syncRoutes(want);
        for (const a of r.added) log(`routes: ${a}`);
        for (const d of r.removed) log(`routes: removed ${d}`);
        for (const f of r.failed) log(`routes: failed ${f}`);
      } catch (err) {
        log(`routes: ${(err as Error).message}`);
      }
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const timer = setInterval(() => this.poke(), this.#o.resyncMs ?? 30_000);
    this.poke();
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearInterval(timer);
    this.#stopped = true;
    await this.#running;
    await removeRoutes().catch((err: unknown) => this.#o.log?.(`routes: ${(err as Error).message}`));
  }
}
