/**
 * Keeps a load balancer's server list from the `default/kubernetes` Endpoints, as k3s's agent
 * tunnel does (pkg/agent/tunnel/tunnel.go): every ready address of every subset joined with
 * the subset's port (the one named `https`, else the first; 443 when none), watched through the
 * balancer itself with an informer limited to that one object. Upstream's API servers (and
 * Bosun's, src/apiserver/endpointreconciler.ts) list there exactly the live servers.
 *
 * An Endpoints object with no address, and its deletion, leave the list as it is (k3s ignores
 * them: an empty list would strand the agent). The balancer keeps its default server whatever
 * the list says.
 */
import type { Endpoints } from '../api/index.ts';
import { SharedInformer, resources, type ListerWatcher } from '../client/index.ts';
import { joinHostPort } from './address.ts';

/** The Endpoints' ready `host:port`s, in their order, without duplicates. */
export function apiServerAddresses(ep: Endpoints): string[] {
  const out: string[] = [];
  for (const subset of ep.subsets ?? []) {
    const port = subset.ports?.find((p) => p.name === 'https')?.port ?? subset.ports?.[0]?.port ?? 443;
    for (const a of subset.addresses ?? []) {
      const addr = joinHostPort(a.ip, port);
      if (!out.includes(addr)) out.push(addr);
    }
  }
  return out;
}

/** What watchApiServerEndpoints needs of a balancer. */
export interface ServerListTarget {
  setServers(servers: string[]): boolean | void;
}

export interface WatchEndpointsOptions {
  log?: (msg: string) => void;
  /** Informer retry delays (ms); default the informer's. */
  backoff?: { initialMs?: number; maxMs?: number };
}

/**
 * Watches `default/kubernetes` until `signal` aborts, handing each version's addresses to
 * `lb.setServers`. Resolves when stopped; never rejects (the informer retries on its own).
 */
export async function watchApiServerEndpoints(client: ListerWatcher, lb: ServerListTarget, signal: AbortSignal, opts: WatchEndpointsOptions = {}): Promise<void> {
  const informer = new SharedInformer<Endpoints>(client, resources.endpoints, {
    namespace: 'default',
    fieldSelector: 'metadata.name=kubernetes',
    log: opts.log,
    backoff: opts.backoff,
  });
  const update = (ep: Endpoints) => {
    if (ep.metadata.name !== 'kubernetes') return;
    const servers = apiServerAddresses(ep);
    if (servers.length) lb.setServers(servers);
  };
  informer.addEventHandler({ onAdd: update, onUpdate: (_old, ep) => update(ep) });
  await informer.run(signal);
}
