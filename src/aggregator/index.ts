/**
 * API aggregation, as kube-aggregator inside kube-apiserver: APIServices
 * (apiregistration.k8s.io/v1, declared in src/api/groups/apiregistration.ts) say which
 * group-versions this API server answers itself (Local: no spec.service) and which it proxies to
 * another server behind a Service. This component
 *   - proxies requests under /apis/<group>/<version> of a remote APIService (proxy.ts), after the
 *     API server authenticated and authorized them: 503 `service unavailable` while the
 *     APIService is not Available;
 *   - keeps the Available condition of every APIService (available.ts, backend.ts): checks run
 *     when APIServices, Services or EndpointSlices change and every `resyncMs` (upstream's 30 s);
 *   - registers a Local APIService for each served group-version upstream lists
 *     (priorities.ts), for Bosun's metrics.k8s.io/v1beta1 and for every CustomResourceDefinition
 *     group-version (as autoregister and crdregistration: label
 *     kube-aggregator.kubernetes.io/automanaged `onstart` / `true`), and deletes automanaged
 *     `true` ones whose group-version has not been served for `staleAfterMs`;
 *   - feeds remote group-versions into discovery (`discovery`, for apiserver/discovery.ts): the
 *     backend's aggregated document (or legacy list) fetched after each passed check, Stale when
 *     the check fails.
 * It runs in the API server process over the server's watch caches (level-based: every round
 * recomputes from the caches). `serve` is on the request path and costs one map lookup when the
 * group-version is not remote.
 */
import type { Duplex } from 'node:stream';
import type { APIService, EndpointSlice, Service } from '../api/index.ts';
import type { ResourceDef } from '../api/resource.ts';
import type { KubeObject, UserInfo } from '../api/types.ts';
import type { Request } from '../apiserver/body.ts';
import type { RemoteDiscovery, RemoteGroup } from '../apiserver/discovery.ts';
import type { RequestInfo } from '../apiserver/requestinfo.ts';
import type { Response } from '../apiserver/respond.ts';
import { compareVersions } from '../apiserver/registry.ts';
import { isAvailable, localCondition, notAvailable, passed, serviceCondition, withCondition, type Condition } from './available.ts';
import { discoveryCheck, fetchResources } from './backend.ts';
import { builtinPriority, crdPriority, localGroupPriority } from './priorities.ts';
import { plainError, proxyRequest, type ProxyTarget } from './proxy.ts';

export { authConfigMap, authConfigMapData, authConfigMapName, authConfigMapNamespace, publishAuthConfigMap } from './authconfigmap.ts';

/** The API server as the aggregator sees it (ApiServer satisfies it). */
export interface AggregatorHost {
  readonly registry: {
    readonly generation: number;
    groups(): readonly { group: string; versions: readonly string[] }[];
    byKind(group: string, kind: string): ResourceDef | undefined;
  };
  cacheList(group: string, kind: string): { rv: number; objects: readonly KubeObject[] };
  storageFor(def: ResourceDef): ApiServiceStore;
}

/** The writes the aggregator makes to APIServices (the API server's ResourceStore). */
export interface ApiServiceStore {
  create(namespace: string, obj: KubeObject, ctx: WriteContext): Promise<KubeObject>;
  update(namespace: string, name: string, mutate: (cur: KubeObject | null) => KubeObject, ctx: WriteContext, opts?: { subresource?: string }): Promise<{ obj: KubeObject }>;
  delete(namespace: string, name: string, p: { preconditions?: { uid?: string } }, ctx: WriteContext): Promise<unknown>;
}

interface WriteContext {
  user: UserInfo;
  dryRun: boolean;
  version: string;
}

export interface AggregatorOptions {
  /** The API server, once made (the aggregator is built before it). */
  host: () => AggregatorHost;
  /** The front-proxy client certificate, read per use. */
  proxyClient: () => { certPem: string; keyPem: string };
  /** A ready endpoint of a Service port (throws when there is none; undefined: no such Service). */
  resolveService(namespace: string, name: string, port: number): { host: string; port: number } | undefined;
  log?: (msg: string) => void;
  /** Full re-check period; default 30 s. */
  resyncMs?: number;
  /** How often the caches are looked at for changes; default 1 s. */
  pollMs?: number;
  /** How long a CRD's group-version must be gone before its APIService is deleted; default 5 s. */
  staleAfterMs?: number;
}

export const automanagedLabel = 'kube-aggregator.kubernetes.io/automanaged';
const group = 'apiregistration.k8s.io';
const kind = 'APIService';
const writer: WriteContext = { user: { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] }, dryRun: false, version: 'v1' };

interface RemoteEntry {
  svc: APIService;
  available: boolean;
}

interface DiscoveryEntry {
  resources: readonly unknown[];
  freshness: 'Current' | 'Stale';
}

export class Aggregator {
  readonly discovery: RemoteDiscovery;
  #opts: AggregatorOptions;
  #remoteRv = -1;
  /** Remote APIServices by `group/version`. */
  #remote = new Map<string, RemoteEntry>();
  #docs = new Map<string, DiscoveryEntry>();
  #generation = 0;
  #missingSince = new Map<string, number>();

  constructor(opts: AggregatorOptions) {
    this.#opts = opts;
    const self = this;
    this.discovery = {
      get generation() {
        self.#refresh();
        return self.#generation;
      },
      groups: () => this.#remoteGroups(),
      localPriority: localGroupPriority,
    };
  }

  /** Rebuilds the remote map when the APIService cache moved. */
  #refresh(): void {
    const list = this.#opts.host().cacheList(group, kind);
    if (list.rv === this.#remoteRv) return;
    this.#remoteRv = list.rv;
    const next = new Map<string, RemoteEntry>();
    for (const o of list.objects) {
      const svc = o as unknown as APIService;
      if (!svc.spec?.service) continue;
      next.set(`${svc.spec.group ?? ''}/${svc.spec.version ?? ''}`, { svc, available: isAvailable(svc) });
    }
    this.#remote = next;
    this.#generation++;
  }

  /**
   * Serves a request when its group-version belongs to a remote APIService: the returned promise
   * settles when the proxied response is done. Undefined: not remote, the API server handles it.
   */
  /** A proxied request found a backend unreachable: availability is checked again at the next poll. */
  #recheck = false;

  serve(p: { req: Request; res: Response; info: RequestInfo; user: UserInfo; upgrade?: { socket: Duplex; head: Buffer } }): Promise<void> | undefined {
    const { info } = p;
    if (info.apiPrefix !== 'apis' || !info.apiVersion) return undefined;
    this.#refresh();
    if (!this.#remote.size) return undefined;
    const entry = this.#remote.get(`${info.apiGroup}/${info.apiVersion}`);
    if (!entry) return undefined;
    if (!entry.available) return Promise.resolve(plainError(p.res, 503, 'service unavailable'));
    let target: ProxyTarget | undefined;
    try {
      target = this.#target(entry.svc);
    } catch (err) {
      this.#opts.log?.(`aggregator: resolving ${entry.svc.metadata.name}: ${(err as Error).message}`);
    }
    if (!target) return Promise.resolve(plainError(p.res, 503, 'service unavailable'));
    return proxyRequest({ req: p.req, res: p.res, target, user: p.user, upgrade: p.upgrade, onUnreachable: () => (this.#recheck = true) });
  }

  /** Where an APIService's backend is reached now (throws when its Service has no endpoint). */
  #target(svc: APIService): ProxyTarget | undefined {
    const ref = svc.spec!.service!;
    const at = this.#opts.resolveService(ref.namespace ?? '', ref.name ?? '', ref.port ?? 443);
    if (!at) return undefined;
    const ca = svc.spec?.caBundle ? Buffer.from(svc.spec.caBundle, 'base64').toString('utf8') : undefined;
    return { host: at.host, port: at.port, serverName: `${ref.name}.${ref.namespace}.svc`, ca, insecureSkipTLSVerify: !!svc.spec?.insecureSkipTLSVerify, clientCert: this.#opts.proxyClient() };
  }

  #remoteGroups(): RemoteGroup[] {
    this.#refresh();
    const byGroup = new Map<string, { priority: number; versions: { svc: APIService; vp: number }[] }>();
    for (const { svc } of this.#remote.values()) {
      const g = svc.spec?.group ?? '';
      if (!g) continue;
      let e = byGroup.get(g);
      if (!e) byGroup.set(g, (e = { priority: 0, versions: [] }));
      e.priority = Math.max(e.priority, svc.spec?.groupPriorityMinimum ?? 0);
      e.versions.push({ svc, vp: svc.spec?.versionPriority ?? 0 });
    }
    return [...byGroup].map(([name, e]) => ({
      group: name,
      priority: e.priority,
      versions: e.versions
        .sort((a, b) => b.vp - a.vp || compareVersions(a.svc.spec?.version ?? '', b.svc.spec?.version ?? ''))
        .map(({ svc }) => {
          const d = this.#docs.get(svc.metadata.name ?? '');
          return { version: svc.spec?.version ?? '', resources: d?.resources ?? [], freshness: d?.freshness ?? 'Stale' };
        }),
    }));
  }

  /** Runs registration and availability rounds until the signal aborts. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const resyncMs = this.#opts.resyncMs ?? 30_000;
    const pollMs = this.#opts.pollMs ?? 1000;
    let seen = '';
    let lastFull = 0;
    while (!signal.aborted) {
      try {
        const host = this.#opts.host();
        const fp = `${host.registry.generation}/${host.cacheList(group, kind).rv}/${host.cacheList('', 'Service').rv}/${host.cacheList('discovery.k8s.io', 'EndpointSlice').rv}`;
        const now = Date.now();
        // A backend a proxied request could not reach is checked at the next poll, not only at the resync.
        if (fp !== seen || now - lastFull >= resyncMs || this.#recheck) {
          this.#recheck = false;
          seen = fp;
          lastFull = now;
          await this.registerLocal(now);
          await this.checkAll();
        }
      } catch (err) {
        this.#opts.log?.(`aggregator: ${(err as Error).message}`);
      }
      await sleep(pollMs, signal);
    }
  }

  /** The Local APIServices the registry calls for, by name. */
  desiredLocal(): Map<string, APIService> {
    const out = new Map<string, APIService>();
    for (const g of this.#opts.host().registry.groups()) {
      for (const v of g.versions) {
        const builtin = builtinPriority(g.group, v);
        const p = builtin ?? crdPriority;
        const name = `${v}.${g.group}`;
        out.set(name, {
          apiVersion: `${group}/v1`,
          kind,
          metadata: { name, labels: { [automanagedLabel]: builtin ? 'onstart' : 'true' } },
          spec: { group: g.group, version: v, groupPriorityMinimum: p.group, versionPriority: p.version },
        });
      }
    }
    return out;
  }

  /** One autoregister round: creates missing Local APIServices, deletes stale automanaged ones. */
  async registerLocal(now = Date.now()): Promise<void> {
    const host = this.#opts.host();
    const def = host.registry.byKind(group, kind);
    if (!def) return;
    const store = host.storageFor(def);
    const desired = this.desiredLocal();
    const existing = new Map(host.cacheList(group, kind).objects.map((o) => [o.metadata.name ?? '', o as unknown as APIService]));
    for (const [name, want] of desired) {
      this.#missingSince.delete(name);
      if (existing.has(name)) continue;
      try {
        await store.create('', want as unknown as KubeObject, writer);
      } catch (err) {
        if ((err as { status?: { reason?: string } }).status?.reason !== 'AlreadyExists') this.#opts.log?.(`aggregator: registering APIService ${name}: ${(err as Error).message}`);
      }
    }
    const staleAfter = this.#opts.staleAfterMs ?? 5000;
    for (const [name, svc] of existing) {
      if (desired.has(name) || svc.spec?.service || svc.metadata.labels?.[automanagedLabel] !== 'true') continue;
      const since = this.#missingSince.get(name) ?? now;
      this.#missingSince.set(name, since);
      if (now - since < staleAfter) continue;
      try {
        await store.delete('', name, { preconditions: { uid: svc.metadata.uid } }, writer);
        this.#missingSince.delete(name);
      } catch (err) {
        this.#opts.log?.(`aggregator: removing APIService ${name}: ${(err as Error).message}`);
      }
    }
  }

  /** One availability round over every APIService; discovery documents of the available are refetched. */
  async checkAll(): Promise<void> {
    const host = this.#opts.host();
    const def = host.registry.byKind(group, kind);
    if (!def) return;
    const store = host.storageFor(def);
    const services = host.cacheList('', 'Service').objects as unknown as Service[];
    const slices = host.cacheList('discovery.k8s.io', 'EndpointSlice').objects as unknown as EndpointSlice[];
    const lookups = {
      service: (ns: string, name: string) => services.find((s) => s.metadata.namespace === ns && s.metadata.name === name),
      endpointSlices: (ns: string, name: string) => slices.filter((s) => s.metadata.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === name),
    };
    const all = host.cacheList(group, kind).objects as unknown as APIService[];
    const names = new Set(all.map((s) => s.metadata.name ?? ''));
    for (const k of this.#docs.keys()) if (!names.has(k)) this.#docs.delete(k);
    await Promise.all(all.map((svc) => this.#check(svc, store, lookups)));
  }

  async #check(svc: APIService, store: ApiServiceStore, lookups: Parameters<typeof serviceCondition>[1]): Promise<void> {
    const name = svc.metadata.name ?? '';
    let c: Condition;
    if (!svc.spec?.service) c = localCondition;
    else {
      c = serviceCondition(svc, lookups) ?? (await this.#probe(svc));
      const prev = this.#docs.get(name);
      if (c.status === 'True') {
        try {
          const resources = await fetchResources(this.#target(svc)!, svc.spec.group ?? '', svc.spec.version ?? '');
          this.#setDoc(name, { resources, freshness: 'Current' });
        } catch (err) {
          this.#opts.log?.(`aggregator: discovery of ${name}: ${(err as Error).message}`);
          this.#setDoc(name, { resources: prev?.resources ?? [], freshness: 'Stale' });
        }
      } else this.#setDoc(name, { resources: prev?.resources ?? [], freshness: 'Stale' });
    }
    const status = withCondition(svc, c, new Date().toISOString().replace(/\.\d+Z$/, 'Z'));
    if (!status) return;
    try {
      await store.update('', name, (cur) => {
        if (!cur) throw new Error(`APIService ${name} is gone`);
        const next = structuredClone(cur) as unknown as APIService;
        next.status = withCondition(next, c, new Date().toISOString().replace(/\.\d+Z$/, 'Z')) ?? next.status;
        return next as unknown as KubeObject;
      }, writer, { subresource: 'status' });
    } catch (err) {
      this.#opts.log?.(`aggregator: status of APIService ${name}: ${(err as Error).message}`);
    }
  }

  async #probe(svc: APIService): Promise<Condition> {
    let target: ProxyTarget | undefined;
    try {
      target = this.#target(svc);
    } catch (err) {
      return notAvailable('FailedDiscoveryCheck', (err as Error).message);
    }
    if (!target) return notAvailable('ServiceNotFound', `service/${svc.spec!.service!.name} in ${JSON.stringify(svc.spec!.service!.namespace)} is not present`);
    const failure = await discoveryCheck(target, svc.spec?.group ?? '', svc.spec?.version ?? '');
    return failure ? notAvailable('FailedDiscoveryCheck', failure) : passed;
  }

  #setDoc(name: string, d: DiscoveryEntry): void {
    const prev = this.#docs.get(name);
    if (prev && prev.freshness === d.freshness && JSON.stringify(prev.resources) === JSON.stringify(d.resources)) return;
    this.#docs.set(name, d);
    this.#generation++;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
