/**
 * Cluster-wide uniqueness of Service addresses (cluster IPs and node ports) between several API
 * servers on one store. Each server allocates from its own watch cache (read consistently), so
 * two servers creating Services at the same moment could pick the same address; upstream closes
 * that window in the store too (the RangeAllocation bitmap updated by compare-and-swap, and in
 * 1.33 an IPAddress object per cluster IP created if absent). Bosun keeps one claim key per
 * address, `/registry/bosun/serviceaddresses/{ips,nodeports}/<address>`, created if absent before
 * the Service is written. A claim whose Service is gone or no longer uses the address is stale and
 * taken over by compare-and-swap; a claim younger than `claimGraceMs` whose Service is not there
 * (yet) is held, since that Service may be in the middle of its create. A deleted Service's claims
 * are released with the delete (compare-and-swap on the claim, so a newer claimant keeps its own);
 * one left behind (a server died in between) is found stale by the next claimant.
 */
import type { KubeObject } from '../api/types.ts';
import type { Store } from '../storage/index.ts';

export const claimPrefix = '/registry/bosun/serviceaddresses/';
/** How long a claim without its Service is held for a create in flight. */
export const claimGraceMs = 30_000;

interface Claim {
  namespace: string;
  name: string;
  uid: string;
  /** When the claim was made (ms since the epoch). */
  at: number;
}

export interface ServiceAddresses {
  ips: string[];
  ports: number[];
}

/** The cluster IPs and node ports (health-check port included) a Service holds. */
export function addressesOf(svc: KubeObject | undefined): ServiceAddresses {
  const spec = (svc?.['spec'] ?? {}) as Record<string, unknown>;
  const ipList = Array.isArray(spec['clusterIPs']) && spec['clusterIPs'].length ? (spec['clusterIPs'] as unknown[]) : [spec['clusterIP']];
  const ips = ipList.filter((ip): ip is string => typeof ip === 'string' && ip !== '' && ip !== 'None');
  const ports: number[] = [];
  for (const p of Array.isArray(spec['ports']) ? spec['ports'] : []) {
    const n = (p as Record<string, unknown>)?.['nodePort'];
    if (typeof n === 'number' && n > 0) ports.push(n);
  }
  const hc = spec['healthCheckNodePort'];
  if (typeof hc === 'number' && hc > 0) ports.push(hc);
  return { ips, ports };
}

export class ServiceAddressClaims {
  #store: Store;
  #getService: (namespace: string, name: string) => Promise<KubeObject | undefined>;
  #clock: () => number;

  constructor(store: Store, getService: (namespace: string, name: string) => Promise<KubeObject | undefined>, clock: () => number = Date.now) {
    this.#store = store;
    this.#getService = getService;
    this.#clock = clock;
  }

  /**
   * Claims the addresses `svc` holds that `old` did not; answers those another Service holds
   * (nothing claimed for them), empty when every new address is this Service's.
   */
  async claim(svc: KubeObject, old: KubeObject | undefined): Promise<ServiceAddresses> {
    const mine = addressesOf(svc);
    const had = addressesOf(old);
    const lost: ServiceAddresses = { ips: [], ports: [] };
    const owner: Claim = { namespace: svc.metadata.namespace ?? '', name: svc.metadata.name ?? '', uid: svc.metadata.uid ?? '', at: this.#clock() };
    for (const ip of mine.ips) if (!had.ips.includes(ip) && !(await this.#claimOne(`${claimPrefix}ips/${ip}`, owner, (s) => addressesOf(s).ips.includes(ip)))) lost.ips.push(ip);
    for (const port of mine.ports) if (!had.ports.includes(port) && !(await this.#claimOne(`${claimPrefix}nodeports/${port}`, owner, (s) => addressesOf(s).ports.includes(port)))) lost.ports.push(port);
    return lost;
  }

  /** Releases the claims `svc` holds (after its delete), so that its addresses are free at once. */
  async release(svc: KubeObject): Promise<void> {
    const { ips, ports } = addressesOf(svc);
    const keys = [...ips.map((ip) => `${claimPrefix}ips/${ip}`), ...ports.map((p) => `${claimPrefix}nodeports/${p}`)];
    for (const key of keys) {
      const cur = await this.#store.get(key);
      if (!cur) continue;
      try {
        if ((JSON.parse(new TextDecoder().decode(cur.value)) as Claim).uid !== svc.metadata.uid) continue;
      } catch {}
      await this.#store.delete(key, cur.modRevision);
    }
  }

  async #claimOne(key: string, owner: Claim, uses: (svc: KubeObject) => boolean): Promise<boolean> {
    const value = new TextEncoder().encode(JSON.stringify(owner));
    for (let attempt = 0; attempt < 3; attempt++) {
      const created = await this.#store.create(key, value);
      if (created.ok) return true;
      const cur = created.current;
      if (!cur) continue;
      let holder: Claim | undefined;
      try {
        holder = JSON.parse(new TextDecoder().decode(cur.value)) as Claim;
      } catch {}
      if (holder && holder.uid === owner.uid) return true;
      if (holder) {
        const svc = await this.#getService(holder.namespace, holder.name);
        if (svc && svc.metadata.uid === holder.uid && uses(svc)) return false;
        if (!svc && owner.at - holder.at < claimGraceMs) return false;
      }
      // Stale: the holder is gone or moved on. Take it over unless someone else just did.
      const taken = await this.#store.update(key, value, cur.modRevision);
      if (taken.ok) return true;
    }
    return false;
  }
}
