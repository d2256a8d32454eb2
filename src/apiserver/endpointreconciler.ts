/**
 * The `kubernetes` Service's Endpoints and EndpointSlice, kept by the API servers themselves as
 * upstream's lease endpoint reconciler does (pkg/controlplane/reconcilers/lease.go and
 * endpointsadapter.go): every API server holds a lease naming its advertise address, renews it
 * on an interval, and on every pass writes `default/kubernetes` Endpoints and EndpointSlice so
 * that they list exactly the addresses of the unexpired leases, with this server's port named
 * `https`. An edit by anyone else is undone on the next pass.
 *
 * Leases: upstream keeps its master leases as TTL keys in etcd, beside the API; Bosun's stores
 * have no TTL keys, so the lease is an API object instead: one kube-system Lease per API server,
 * `apiserver-<id>`, labelled as upstream's API server identity leases
 * (`apiserver.kubernetes.io/identity: kube-apiserver`, `kubernetes.io/hostname`), the address in
 * the annotation `bosun.dev/advertise-address`. Its duration is upstream's endpoint reconciler
 * TTL (15 s, renewed every 10 s) rather than the identity lease's hour, so that a dead server
 * leaves the Endpoints within seconds. Expired leases are deleted (upstream's lease GC).
 *
 * Shapes as upstream writes them: Endpoints labelled `endpointslice.kubernetes.io/skip-mirror:
 * "true"`, one subset with the addresses sorted and the port; the EndpointSlice `kubernetes`
 * labelled only `kubernetes.io/service-name: kubernetes` (no managed-by label, so the
 * EndpointSlice controller leaves it alone), addressType of the address family, one ready
 * endpoint per address. The Service has no selector. Like upstream, a pass that finds no
 * address at all leaves the objects as they are rather than erase every endpoint.
 *
 * Concurrency: one pass at a time (run() is sequential); writes go through the storage with
 * compare-and-swap, and a lost race is retried on the next pass. Idempotent.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import type { ApiServer } from './server.ts';
import type { UserInfo } from '../api/types.ts';
import type { Endpoints, EndpointSlice, Lease } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import type { ResourceStore } from './rest.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../api/errors.ts';
import { copyJson } from '../util/freeze.ts';

/** Upstream's DefaultEndpointReconcilerInterval. */
export const endpointReconcileIntervalMs = 10_000;
/** Upstream's DefaultEndpointReconcilerTTL: how long a lease holds without renewal. */
export const apiServerLeaseSeconds = 15;
export const identityLabel = 'apiserver.kubernetes.io/identity';
export const advertiseAnnotation = 'bosun.dev/advertise-address';
const leaseNamespace = 'kube-system';
const serviceNamespace = 'default';
const serviceName = 'kubernetes';

const system: UserInfo = { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };
const writeCtx = { user: system, dryRun: false, version: 'v1' };

export interface EndpointReconcilerOptions {
  /** This server's advertise address (IPv4 or IPv6). */
  address: string;
  /** The port this server serves on (the Endpoints' `https` port). */
  port: number;
  /** Host name, for the lease's `kubernetes.io/hostname` label. */
  hostname: string;
  /** Lease name; default `apiserver-` + a hash of host name, address and port. */
  leaseName?: string;
  intervalMs?: number;
  clock?: () => number;
  log?: (msg: string) => void;
}

/** `apiserver-<26 base32 characters>` of a hash of what identifies this server. */
export function apiServerLeaseName(hostname: string, address: string, port: number): string {
  const digest = crypto.createHash('sha256').update(`${hostname}\n${address}\n${port}`).digest();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `apiserver-${out}`;
}

/** RFC 3339 with microseconds, as metav1.MicroTime serializes. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Whether a lease is still held at `now` (renewTime + duration in the future). */
export function leaseLive(lease: Lease, now: number): boolean {
  const renew = Date.parse(lease.spec?.renewTime ?? '');
  const seconds = lease.spec?.leaseDurationSeconds ?? 0;
  return Number.isFinite(renew) && renew + seconds * 1000 > now;
}

/** Sorts addresses as upstream's sets.List (byte order of the text). */
function sortedUnique(ips: Iterable<string>): string[] {
  return [...new Set(ips)].sort();
}

/** The Endpoints upstream's adapter writes for these addresses (metadata taken from `current`). */
export function desiredEndpoints(current: Endpoints | undefined, ips: readonly string[], port: number): Endpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { ...(current?.metadata ?? { name: serviceName, namespace: serviceNamespace }), labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: ips.map((ip) => ({ ip })), ports: [{ name: 'https', port, protocol: 'TCP' }] }],
  };
}

/** The EndpointSlice upstream's adapter writes for these addresses (one address family). */
export function desiredSlice(current: EndpointSlice | undefined, ips: readonly string[], port: number): EndpointSlice {
  const v6 = ips.length > 0 && ips.every((ip) => net.isIPv6(ip));
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { ...(current?.metadata ?? { name: serviceName, namespace: serviceNamespace }), labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: v6 ? 'IPv6' : 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Keeps this server's lease and the `kubernetes` Endpoints/EndpointSlice. `run` passes every
 * interval until the signal aborts, then removes this server's lease and address (upstream's
 * RemoveEndpoints on shutdown) unless it is the last one.
 */
export class KubernetesEndpointReconciler {
  #api: ApiServer;
  #opts: Required<Omit<EndpointReconcilerOptions, 'log'>> & { log: (msg: string) => void };

  constructor(api: ApiServer, opts: EndpointReconcilerOptions) {
    this.#api = api;
    this.#opts = {
      leaseName: opts.leaseName ?? apiServerLeaseName(opts.hostname, opts.address, opts.port),
      intervalMs: opts.intervalMs ?? endpointReconcileIntervalMs,
      clock: opts.clock ?? Date.now,
      log: opts.log ?? (() => {}),
      address: opts.address,
      port: opts.port,
      hostname: opts.hostname,
    };
  }

  get leaseName(): string {
    return this.#opts.leaseName;
  }

  #storage(group: string, kind: string): ResourceStore {
    const def = this.#api.registry.byKind(group, kind);
    if (!def) throw new Error(`no ${kind} resource`);
    return this.#api.storageFor(def);
  }

  /** Renews this server's lease (creating it when missing). */
  async renewLease(): Promise<void> {
    const leases = this.#storage('coordination.k8s.io', 'Lease');
    const now = microTime(this.#opts.clock());
    const name = this.#opts.leaseName;
    const labels = { [identityLabel]: 'kube-apiserver', 'kubernetes.io/hostname': this.#opts.hostname };
    const annotations = { [advertiseAnnotation]: this.#opts.address };
    await leases.update(
      leaseNamespace,
      name,
      (cur) => {
        const lease = (cur ? structuredClone(cur) : { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: leaseNamespace } }) as unknown as Lease;
        lease.metadata.labels = { ...lease.metadata.labels, ...labels };
        lease.metadata.annotations = { ...lease.metadata.annotations, ...annotations };
        lease.spec = { ...lease.spec, holderIdentity: name, leaseDurationSeconds: apiServerLeaseSeconds, renewTime: now, acquireTime: lease.spec?.acquireTime ?? now };
        return lease as unknown as KubeObject;
      },
      writeCtx,
      { forceAllowCreate: true },
    );
  }

  /** The advertise addresses of the unexpired API server leases; expired ones are deleted. */
  async liveAddresses(exclude?: string): Promise<string[]> {
    const leases = this.#storage('coordination.k8s.io', 'Lease');
    const now = this.#opts.clock();
    const out: string[] = [];
    for (const c of leases.cache.list()) {
      const lease = c.obj as unknown as Lease;
      if (lease.metadata.namespace !== leaseNamespace || lease.metadata.labels?.[identityLabel] !== 'kube-apiserver') continue;
      const addr = lease.metadata.annotations?.[advertiseAnnotation];
      if (!addr || lease.metadata.name === exclude) continue;
      if (leaseLive(lease, now)) {
        out.push(addr);
        continue;
      }
      try {
        await leases.delete(leaseNamespace, lease.metadata.name!, { preconditions: { resourceVersion: lease.metadata.resourceVersion } }, writeCtx);
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    return sortedUnique(out);
  }

  /** Writes the Endpoints and EndpointSlice for `ips` where they differ. No addresses: no write. */
  async sync(ips: readonly string[]): Promise<void> {
    if (!ips.length) return;
    const port = this.#opts.port;
    const endpoints = this.#storage('', 'Endpoints');
    const curEp = endpoints.cache.get(endpoints.key(serviceNamespace, serviceName))?.obj as unknown as Endpoints | undefined;
    const wantEp = desiredEndpoints(curEp, ips, port);
    if (!curEp || !same(curEp.subsets, wantEp.subsets) || !same(curEp.metadata.labels, wantEp.metadata.labels)) {
      if (curEp) this.#opts.log(`resetting endpoints for the kubernetes service to ${ips.join(', ')}:${port}`);
      await this.#write(endpoints, curEp, wantEp as unknown as KubeObject);
    }
    const slices = this.#storage('discovery.k8s.io', 'EndpointSlice');
    // Any other slice claiming the kubernetes service is removed, as upstream's adapter does.
    for (const c of slices.cache.list()) {
      const s = c.obj as unknown as EndpointSlice;
      if (s.metadata.namespace !== serviceNamespace || s.metadata.labels?.['kubernetes.io/service-name'] !== serviceName || s.metadata.name === serviceName) continue;
      try {
        await slices.delete(serviceNamespace, s.metadata.name!, {}, writeCtx);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const curSlice = slices.cache.get(slices.key(serviceNamespace, serviceName))?.obj as unknown as EndpointSlice | undefined;
    const wantSlice = desiredSlice(curSlice, ips, port);
    if (
      !curSlice ||
      curSlice.addressType !== wantSlice.addressType ||
      !same(curSlice.endpoints, wantSlice.endpoints) ||
      !same(curSlice.ports, wantSlice.ports) ||
      !same(curSlice.metadata.labels, wantSlice.metadata.labels)
    ) {
      if (curSlice && curSlice.addressType !== wantSlice.addressType) {
        await slices.delete(serviceNamespace, serviceName, {}, writeCtx).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
        await this.#write(slices, undefined, { ...wantSlice, metadata: { name: serviceName, namespace: serviceNamespace, labels: wantSlice.metadata.labels } } as unknown as KubeObject);
      } else {
        await this.#write(slices, curSlice, wantSlice as unknown as KubeObject);
      }
    }
  }

  async #write(storage: ResourceStore, current: unknown, want: KubeObject): Promise<void> {
    try {
      if (!current) await storage.create(serviceNamespace, want, writeCtx);
      else await storage.update(serviceNamespace, serviceName, () => copyJson(want), writeCtx);
    } catch (err) {
      // Another server (or a client) got there first: the next pass sees its write.
      if (!isAlreadyExists(err) && !isConflict(err) && !isNotFound(err)) throw err;
    }
  }

  /** One pass: renew the lease, then make the objects list the live addresses. */
  async reconcile(): Promise<void> {
    await this.renewLease();
    const ips = await this.liveAddresses();
    if (!ips.includes(this.#opts.address)) ips.push(this.#opts.address);
    await this.sync(sortedUnique(ips));
  }

  /** Passes every interval until `signal` aborts; then withdraws this server. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.reconcile();
      } catch (err) {
        this.#opts.log(`kubernetes service endpoints: ${(err as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, this.#opts.intervalMs);
        function done() {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
    }
    await this.withdraw().catch((err: unknown) => this.#opts.log(`kubernetes service endpoints: withdrawing: ${(err as Error).message}`));
  }

  /** Deletes this server's lease and its address from the objects (kept when it is the last). */
  async withdraw(): Promise<void> {
    const leases = this.#storage('coordination.k8s.io', 'Lease');
    try {
      await leases.delete(leaseNamespace, this.#opts.leaseName, {}, writeCtx);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await this.sync(await this.liveAddresses(this.#opts.leaseName));
  }
}
