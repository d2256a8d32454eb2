/**
 * The API server: HTTPS (HTTP/2 and HTTP/1.1) in front of the request pipeline
 *   authenticate (x509, tokens, else anonymous) → impersonate → route → authorize →
 *   (admission and storage inside the ResourceStore).
 * Non-resource endpoints: /healthz /livez /readyz /version, discovery, /openapi.
 * One ResourceStore (with its watch cache) per declared resource; every component other than
 * this one reaches the store only through here. Resources an in-process component answers
 * (the metrics server's metrics.k8s.io) are routed and authorized alike, then handed to it
 * (metricsapi.ts).
 * The listener bounds idle and slow connections (connections.ts); every resource path is checked
 * against upstream's routes (routes.ts) before a handler runs; large bodies are gzipped for
 * clients that accept it (compress.ts); impersonation is authorized item by item (authn/impersonation.ts).
 * The connect subresources (pods/log, exec, attach, portforward, proxy; services/proxy;
 * nodes/proxy) go through the
 * same pipeline and are then served by streaming/ toward the node agent. Upgrade requests
 * (SPDY, WebSocket) arrive over HTTP/1.1 as the server's 'upgrade' event; they get a response
 * object on their socket so that every error is written as for any other request.
 */
import { LocalTransport, type LocalIdentity } from './local.ts';
import type { IncomingMessage } from 'node:http';
import { http } from '../util/http.ts';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Store } from '../storage/types.ts';
import type { ResourceDef } from '../api/resource.ts';
import type { KubeObject, StatusCause, UserInfo } from '../api/types.ts';
import { forbidden, routeNotFound, statusError, unauthorized } from '../api/errors.ts';
import { ResourceRegistry, type ServedResource } from './registry.ts';
import { ResourceStore } from './rest.ts';
import { parseRequestInfo, type RequestInfo } from './requestinfo.ts';
import { writeError, writeJsonString, writeObject, type Response } from './respond.ts';
import { buildDiscovery, wantsAggregated, type DiscoveryDocs } from './discovery.ts';
import { type HandlerContext, handleResource } from './handlers.ts';
import { AdmissionChain, type AdmissionPlugin } from './admission/types.ts';
import { namespaceLifecycle } from './admission/namespacelifecycle.ts';
import { defaultTolerationSeconds, priorityAdmission, serviceAccountAdmission } from './admission/pods.ts';
import { authenticate, x509Authenticator, type Authenticator } from './authn/index.ts';
import { anonymousAuthenticator, presentedCredentials } from './authn/anonymous.ts';
import { distinctHeaders, impersonate } from './authn/impersonation.ts';
import { auditedResponse, sourceIPs, type Auditor, type AuditRecorder } from './audit/index.ts';
import { authorize, privilegedGroup, alwaysAllowAuthenticated, type Authorizer, type AuthorizationAttributes } from './authz/index.ts';
import { reviewHandler } from './reviews.ts';
import { OpenApi } from './openapi.ts';
import { allocateServiceAddresses, defaultNodePortRange, defaultServiceCIDR } from '../api/groups/core-services.ts';
import { ServiceAddressClaims, type ServiceAddresses } from './serviceclaims.ts';
import type { Request } from './body.ts';
import { connectionTimeouts, installConnectionTimeouts, secureServerTimeoutOptions, type ConnectionTimeouts } from './connections.ts';
import { acceptsGzip, gzipResponse } from './compress.ts';
import { pageNotFound, probeWithin, serveHealth, type HealthCheck } from './healthz.ts';
import { checkRoute, routeShape } from './routes.ts';
import { connectDeclaration, connectOptions, serveConnect, type KubeletClientConfig } from './streaming/index.ts';
import type { Node, Pod } from '../api/index.ts';
import type { WatchCache } from './watchcache.ts';
import { serveProvided, type ProvidedResource } from './metricsapi.ts';
import type { RemoteDiscovery } from './discovery.ts';
import { CrdController, crdFinalizing } from '../apiextensions/controller.ts';
import type { ConverterDeps } from '../apiextensions/conversion.ts';

/** A watch cache's objects at one generation, listed the first time they are read. */
class CacheListing {
  readonly rv: number;
  #cache: WatchCache | undefined;
  #objects: readonly KubeObject[] | undefined;
  constructor(rv: number, cache: WatchCache) {
    this.rv = rv;
    this.#cache = cache;
  }
  get objects(): readonly KubeObject[] {
    let objects = this.#objects;
    if (!objects) {
      objects = this.#objects = this.#cache!.list().map((c) => c.obj);
      this.#cache = undefined;
    }
    return objects;
  }
}

/** The admission plugins the API server makes itself (over its own caches), by upstream's names. */
export interface BuiltinAdmission {
  NamespaceLifecycle: AdmissionPlugin;
  ServiceAccount: AdmissionPlugin;
  Priority: AdmissionPlugin;
  DefaultTolerationSeconds: AdmissionPlugin;
}

export interface ApiServerOptions {
  store: Store;
  resources: readonly ResourceDef[];
  tls: { certPem: string; keyPem: string; caPem: string };
  bindAddress?: string;
  port?: number;
  authenticators?: Authenticator[];
  /** Requests without credentials run as system:anonymous (upstream's --anonymous-auth); default false. */
  anonymousAuth?: boolean;
  authorizers?: Authorizer[];
  /** serviceaccounts/{name}/token (TokenRequest); absent: 503. */
  tokenRequest?: HandlerContext['tokenRequest'];
  /** TokenReview: a bearer token's user and audiences (default: the authenticators, no audiences). */
  reviewToken?: (token: string, audiences: readonly string[]) => Promise<{ user?: UserInfo; audiences?: string[]; error?: string }>;
  /** Audit logging (--audit-policy-file, --audit-log-path); absent: none. */
  auditor?: Auditor;
  /** Service account issuer discovery (`/.well-known/openid-configuration`, `/openid/v1/jwks`): path → response. */
  openIdDiscovery?: (path: string) => { headers: Record<string, string>; body: string } | undefined;
  /** SelfSubjectRulesReview's status for a user in a namespace; default: everything or nothing by asking the authorizers about `*`. */
  rulesReview?: (user: UserInfo, namespace: string) => Record<string, unknown>;
  /**
   * Admission plugins: a list runs after the built-in ones (BuiltinAdmission, in that order); a
   * function receives the built-in ones and answers the whole chain in its order.
   */
  admission?: AdmissionPlugin[] | ((builtin: BuiltinAdmission) => AdmissionPlugin[]);
  /** Reported by /version. */
  version?: { major: string; minor: string; gitVersion: string };
  log?: (msg: string) => void;
  /** Connection deadlines; default upstream's (tests set small ones). */
  connectionTimeouts?: Partial<ConnectionTimeouts>;
  /**
   * Credentials toward node agents (a kubelet-client certificate and the CA their serving
   * certificates are checked against). Without them the connect subresources answer 503.
   */
  kubeletClient?: KubeletClientConfig;
  /**
   * Resources a component in this process answers (the metrics server's metrics.k8s.io nodes
   * and pods): in discovery and authorized as any resource, never stored (./metricsapi.ts).
   */
  providedResources?: readonly ProvidedResource[];
  /**
   * API aggregation (src/aggregator): requests under /apis/<group>/<version> of a remote
   * APIService are handed to `serve` once authorized (it answers undefined for the rest), and
   * remote group-versions are merged into discovery.
   */
  aggregator?: {
    serve(p: { req: Request; res: Response; info: RequestInfo; user: UserInfo; upgrade?: { socket: Duplex; head: Buffer } }): Promise<void> | undefined;
    readonly discovery: RemoteDiscovery;
  };
  /** Where a Service's webhook listens (CRD conversion webhooks), as for admission webhooks. */
  resolveService?: ConverterDeps['resolveService'];
  /**
   * The server's own endpoints beside the API (k3s's supervisor: `/v1-bosun/...` for servers
   * joining, `/db/snapshot`), asked before authentication for paths under those prefixes; they
   * authenticate with the server token themselves. Answers false for a path it does not serve.
   */
  supervisor?: (req: Request, res: Response, path: string) => Promise<boolean>;
  /** How long an Event lives after its last write (upstream's --event-ttl); default 1 h, 0: forever. */
  eventTtlSeconds?: number;
}

/** Upstream's --event-ttl default. */
export const defaultEventTtlSeconds = 3600;

export const serverVersion = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.0+bosun',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.24.0',
  compiler: 'gc',
  platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

/**
 * What one HTTP/2 session may hold in memory (MB), queued output included, before Node refuses
 * it new streams (ENHANCE_YOUR_CALM). Node's default of 10 MB is less than a few watches each
 * with `maxUnackedChars` in flight (watch.ts), as the in-process components' sessions have;
 * this keeps a bound per session that those never reach.
 */
export const maxSessionMemoryMb = 128;

export class ApiServer {
  readonly registry: ResourceRegistry;
  readonly storages = new Map<ResourceDef, ResourceStore>();
  #opts: ApiServerOptions;
  #server: http2.Http2SecureServer | null = null;
  #discoveryDocs: DiscoveryDocs;
  #openapiDocs: OpenApi;
  /** The registry generation the discovery and OpenAPI documents were built at. */
  #docsGeneration = -1;
  #authenticators: Authenticator[];
  #authorizers: Authorizer[];
  #ready = false;
  #stopping = false;
  #health: ReadonlyMap<string, readonly HealthCheck[]>;
  #sessions = new Set<http2.ServerHttp2Session>();
  #admission: AdmissionChain;
  #sockets = new Set<TLSSocket>();
  #extraListeners: net.Server[] = [];
  /** cacheList's objects, per kind, for the cache generation they were listed at. */
  readonly #cacheLists = new Map<ResourceDef, CacheListing>();
  /** Write marks shared by every store (read-your-writes for lists). */
  readonly #writeMarks = new Map<string, number>();
  /** The apiextensions controllers (CRDs served at run time). */
  #crds: CrdController | undefined;
  /** Resources answered by in-process components, by declaration. */
  readonly #provided = new Map<ResourceDef, ProvidedResource>();

  constructor(opts: ApiServerOptions) {
    this.#opts = opts;
    this.registry = new ResourceRegistry(opts.resources);
    this.#discoveryDocs = buildDiscovery(this.registry, opts.aggregator?.discovery);
    this.#openapiDocs = new OpenApi(this.registry);
    this.#authenticators = opts.authenticators ?? [x509Authenticator];
    this.#authorizers = opts.authorizers ?? [privilegedGroup, alwaysAllowAuthenticated];
    this.#health = this.#healthChecks();
    const namespaces = () => this.storages.get(this.registry.byKind('', 'Namespace')!);
    const priorityClasses = () => {
      const def = this.registry.byKind('scheduling.k8s.io', 'PriorityClass');
      return def ? this.storageFor(def).cache.list().map((c) => c.obj) : [];
    };
    const builtin: BuiltinAdmission = {
      NamespaceLifecycle: namespaceLifecycle((name) => namespaces()?.cache.get(namespaces()!.key('', name))?.obj),
      ServiceAccount: serviceAccountAdmission((ns, name) => {
        const def = this.registry.byKind('', 'ServiceAccount');
        return def ? this.storages.get(def)?.cache.get(this.storages.get(def)!.key(ns, name))?.obj : undefined;
      }),
      Priority: priorityAdmission(priorityClasses),
      DefaultTolerationSeconds: defaultTolerationSeconds,
    };
    const plugins = typeof opts.admission === 'function' ? opts.admission(builtin) : [...Object.values(builtin), ...(opts.admission ?? [])];
    const admission = (this.#admission = new AdmissionChain(plugins));
    const writeMarks = this.#writeMarks;
    for (const def of this.registry.defs()) {
      const services = def.group === '' && def.kind === 'Service' ? this.#serviceAllocator(def) : undefined;
      const allocate = services?.allocate;
      const afterDelete = services?.release;
      // Events expire an hour after their last write (upstream's --event-ttl), core and events.k8s.io alike.
      const ttlSeconds = def.kind === 'Event' && (def.group === '' || def.group === 'events.k8s.io') ? (opts.eventTtlSeconds ?? defaultEventTtlSeconds) || undefined : undefined;
      this.storages.set(def, new ResourceStore(def, opts.store, { admission, allocate, afterDelete, writeMarks, ttlSeconds }));
    }
    const crdDef = this.registry.byKind('apiextensions.k8s.io', 'CustomResourceDefinition');
    if (crdDef) {
      crdDef.finalizing = crdFinalizing;
      this.#crds = new CrdController(
        {
          crds: this.storageFor(crdDef),
          serve: (def, versions) => this.#serveCustom(def, versions),
          reserve: async (def, versions) => {
            this.registry.remove(def);
            this.#addCustom(def, versions);
            await this.#restartStore(def);
          },
          unserve: (def) => {
            this.registry.remove(def);
            this.storages.get(def)?.cache.stop();
            this.storages.delete(def);
          },
          storageFor: (def) => this.storageFor(def),
          log: (m) => (opts.log ?? ((x: string) => process.stderr.write(`bosun: ${x}\n`)))(`apiextensions: ${m}`),
        },
        { resolveService: opts.resolveService ?? (async (_ns, name) => Promise.reject(new Error(`service "${name}" not found`))) },
      );
    }
    for (const p of opts.providedResources ?? []) {
      this.registry.add(p.def, { provided: true, openapi: p.openapi });
      this.#provided.set(p.def, p);
    }
  }

  /** A custom resource's declaration, served from now on: its store and watch cache first, then the routes. */
  async #serveCustom(def: ResourceDef, versions: NonNullable<Parameters<ResourceRegistry['add']>[1]>['versions']): Promise<void> {
    const store = this.#customStore(def);
    this.storages.set(def, store);
    await store.cache.ready();
    if (this.storages.get(def) !== store) return; // unserved meanwhile
    this.#addCustom(def, versions);
  }

  /** A custom resource's store, its watch cache started (filling). */
  #customStore(def: ResourceDef): ResourceStore {
    const store = new ResourceStore(def, this.#opts.store, { admission: this.#admission, writeMarks: this.#writeMarks });
    store.cache.start();
    return store;
  }

  /** A new store (and watch cache) for a declaration whose strategy changed; the old one stops once the new one is filled. */
  async #restartStore(def: ResourceDef): Promise<void> {
    const old = this.storages.get(def);
    if (!old) return;
    const store = this.#customStore(def);
    await store.cache.ready();
    if (this.storages.get(def) !== old) return store.cache.stop(); // unserved or replaced meanwhile
    this.storages.set(def, store);
    old.cache.stop();
  }

  /** Registers a custom resource's versions; a path a built-in (or another) resource serves stays theirs, as upstream's handler chain decides. */
  #addCustom(def: ResourceDef, versions: NonNullable<Parameters<ResourceRegistry['add']>[1]>['versions']): void {
    const free = (versions ?? []).filter((v) => {
      const taken = this.registry.get(def.group, v.served.version, def.plural);
      return !taken || taken.def === def;
    });
    if (free.length < (versions ?? []).length) (this.#opts.log ?? (() => {}))(`apiextensions: ${def.plural}.${def.group}: a version is already served by another resource; not serving it`);
    if (free.length) this.registry.add(def, { versions: free });
  }

  /** Discovery documents, rebuilt when the registry changed (CRDs served or unserved). */
  get #discovery(): DiscoveryDocs {
    this.#refreshDocs();
    return this.#discoveryDocs;
  }

  get #openapi(): OpenApi {
    this.#refreshDocs();
    return this.#openapiDocs;
  }

  #refreshDocs(): void {
    if (this.#docsGeneration === this.registry.generation) return;
    this.#docsGeneration = this.registry.generation;
    this.#discoveryDocs = buildDiscovery(this.registry, this.#opts.aggregator?.discovery);
    this.#openapiDocs.invalidate();
  }

  /**
   * Cluster IPs and node ports, allocated against the services already stored (this server's
   * cache, read consistently), then claimed in the store so that another API server cannot give
   * out the same address at the same moment (./serviceclaims.ts). An address another server
   * claimed meanwhile counts as used and the allocation runs again: an address the client asked
   * for is then refused as upstream refuses an allocated one.
   */
  #serviceAllocator(def: ResourceDef) {
    const claims = new ServiceAddressClaims(this.#opts.store, async (ns, name) => (await this.storageFor(def).getFromStore(ns, name))?.obj);
    const opts = { serviceCIDR: defaultServiceCIDR, nodePortRange: defaultNodePortRange };
    const allocate = async (svc: KubeObject, old: KubeObject | undefined, ctx: { dryRun: boolean }): Promise<StatusCause[]> => {
      const pristine = structuredClone(svc['spec']);
      const taken: ServiceAddresses = { ips: [], ports: [] };
      for (let attempt = 0; ; attempt++) {
        const existing = this.storageFor(def).cache.list().map((c) => c.obj);
        // Addresses claimed by other servers' Services this server has not seen yet.
        if (taken.ips.length || taken.ports.length) existing.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: '', namespace: '' }, spec: { clusterIPs: taken.ips, ports: taken.ports.map((nodePort) => ({ nodePort })) } } as KubeObject);
        const causes = allocateServiceAddresses(svc, existing, opts);
        if (causes.length || ctx.dryRun) return causes;
        const lost = await claims.claim(svc, old);
        if (!lost.ips.length && !lost.ports.length) return [];
        if (attempt >= 8) return [{ reason: 'FieldValueInvalid', field: 'spec.clusterIPs', message: 'Internal error: failed to allocate a service address: every candidate was taken meanwhile' }];
        taken.ips.push(...lost.ips);
        taken.ports.push(...lost.ports);
        svc['spec'] = structuredClone(pristine);
      }
    };
    return { allocate, release: (svc: KubeObject) => claims.release(svc) };
  }

  storageFor(def: ResourceDef): ResourceStore {
    const s = this.storages.get(def);
    if (!s) throw new Error(`no storage for ${def.plural}`);
    return s;
  }

  /** Starts the watch caches and the HTTPS listener; resolves with the bound port once ready. */
  async start(opts: { beforeReady?: (port: number) => Promise<void> } = {}): Promise<number> {
    for (const s of this.storages.values()) if (!s.def.review) s.cache.start();
    await Promise.all([...this.storages.values()].filter((s) => !s.def.review).map((s) => s.cache.ready()));
    // Custom resources of the CRDs already established are served before the server is ready.
    await this.#crds?.start();
    const timeouts = connectionTimeouts(this.#opts.connectionTimeouts);
    const server = http2.createSecureServer({
      ...secureServerTimeoutOptions(timeouts),
      allowHTTP1: true,
      cert: this.#opts.tls.certPem,
      key: this.#opts.tls.keyPem,
      ca: this.#opts.tls.caPem,
      requestCert: true,
      rejectUnauthorized: false,
      settings: { maxConcurrentStreams: 1000 },
      maxSessionMemory: maxSessionMemoryMb,
    });
    installConnectionTimeouts(server, timeouts);
    server.on('request', (req, res) => void this.#handle(req, res as unknown as Response));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    server.on('session', (s) => {
      this.#sessions.add(s);
      s.on('close', () => this.#sessions.delete(s));
    });
    server.on('secureConnection', (sock: TLSSocket) => {
      this.#sockets.add(sock);
      sock.on('close', () => this.#sockets.delete(sock));
    });
    server.on('tlsClientError', () => {});
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#opts.port ?? 6443, this.#opts.bindAddress ?? '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    await opts.beforeReady?.(port);
    this.#ready = true;
    return port;
  }

  /**
   * Serves `pair` as the serving certificate from the next TLS handshake on (certificate
   * rotation, pki/rotation.ts): the listener's secure context is replaced, with the same CA for
   * client certificates; connections already open keep their session. Before start() the
   * listener is created with it.
   */
  setServingCertificate(pair: { certPem: string; keyPem: string }): void {
    const tls = { ...this.#opts.tls, certPem: pair.certPem, keyPem: pair.keyPem };
    this.#server?.setSecureContext({ cert: tls.certPem, key: tls.keyPem, ca: tls.caPem });
    this.#opts = { ...this.#opts, tls };
  }

  /**
   * Serves on `host` too, on the bound port with the same TLS and handlers (connections accepted
   * there are handed to the main server): for an advertise address the main listener does not
   * cover. Call after start(). Rejects with the listen error, e.g. EADDRNOTAVAIL while the
   * address does not exist yet.
   */
  async listenAlso(host: string): Promise<void> {
    const server = this.#server;
    if (!server) throw new Error('listenAlso before start');
    const port = (server.address() as AddressInfo).port;
    const extra = net.createServer((sock) => server.emit('connection', sock));
    await new Promise<void>((resolve, reject) => {
      extra.once('error', reject);
      extra.listen(port, host, () => resolve());
    });
    extra.on('error', () => {});
    this.#extraListeners.push(extra);
  }

  async close(): Promise<void> {
    this.#ready = false;
    this.#stopping = true;
    for (const l of this.#extraListeners.splice(0)) l.close();
    this.#crds?.stop();
    for (const s of this.storages.values()) s.cache.stop();
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.#sessions) s.close();
      for (const s of this.#sockets) s.destroy();
      setTimeout(resolve, 2000).unref();
    });
  }

  /** An HTTP/1.1 upgrade request: handled as any request, with a response on its socket. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.on('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    void this.#handle(req, res, { socket, head });
  }

  /**
   * A client transport served by this server in this process (local.ts): the request path is the
   * network one without the connection; `identity.user` stands for a client certificate's identity.
   */
  localTransport(identity: LocalIdentity): LocalTransport {
    return new LocalTransport((req, res, user) => this.#handle(req, res as unknown as Response, undefined, user), identity);
  }

  async #handle(req: Request, res: Response, upgrade?: { socket: Duplex; head: Buffer }, localUser?: UserInfo): Promise<void> {
    const receivedAt = performance.timeOrigin + performance.now();
    const plain = res;
    if (acceptsGzip(req.headers['accept-encoding'])) res = gzipResponse(res);
    try {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const path = url.pathname;
      const query = url.searchParams;
      if (path === '/livez' || path === '/healthz' || path === '/readyz' || path.startsWith('/livez/') || path.startsWith('/readyz/') || path.startsWith('/healthz/')) {
        return await this.#serveHealth(path, query, res);
      }
      // k3s's unauthenticated CA bundle: a joining agent checks it against its token's CA hash.
      if (path === '/cacerts' && (req.method === 'GET' || req.method === 'HEAD')) {
        plain.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(this.#opts.tls.caPem)) });
        plain.end(req.method === 'HEAD' ? undefined : this.#opts.tls.caPem);
        return;
      }
      if (this.#opts.supervisor && (path.startsWith('/v1-bosun/') || path === '/db/snapshot') && (await this.#opts.supervisor(req, plain, path))) return;
      // Over HTTP/2 every stream's req.socket is a new proxy; the session's is one per connection,
      // so the client certificate is read once per connection (authn/index.ts caches by socket).
      const socket = ((req as { stream?: { session?: { socket?: TLSSocket } } }).stream?.session?.socket ?? (req.socket as TLSSocket | undefined)) ?? undefined;
      const areq = { socket, headers: req.headers as Record<string, string | string[] | undefined> };
      let user = localUser ?? (await authenticate(this.#authenticators, areq));
      // Credentials presented and refused are 401, never anonymous (upstream's union + anonymous).
      if (!user && this.#opts.anonymousAuth && !presentedCredentials(areq)) user = anonymousAuthenticator.authenticate(areq) as UserInfo;
      if (!user) throw unauthorized();
      const method = req.method ?? 'GET';
      const info = parseRequestInfo(method, path, query);
      // Audit (--audit-policy-file): one recorder per request the policy logs; the response is followed.
      const rec = this.#opts.auditor?.begin({
        ...info,
        auditID: req.headers['audit-id'] as string | undefined,
        requestURI: req.url ?? '/',
        user,
        sourceIPs: sourceIPs(req.headers as Record<string, string | string[] | undefined>, req.socket?.remoteAddress),
        userAgent: req.headers['user-agent'] as string | undefined,
        longRunning: info.verb === 'watch' || info.verb === 'proxy' || ['attach', 'exec', 'proxy', 'log', 'portforward'].includes(info.subresource),
        receivedAt,
      });
      if (rec) res = auditedResponse(res, rec);
      // Impersonate-* headers: each item authorized (verb impersonate), then the request runs as that user.
      const as = await impersonate(distinctHeaders(req.rawHeaders), user, (a) => authorize(this.#authorizers, a));
      if (as) {
        user = as;
        rec?.impersonated(as);
      }
      await this.#authorize(user, info, rec ?? undefined);
      const aggregated = this.#opts.aggregator?.serve({ req, res, info, user, upgrade });
      if (aggregated) return await aggregated;
      if (!info.isResourceRequest) return this.#nonResource(req, res, info, path);
      const served = this.#route(path, info, method, res);
      if (!served) return;
      const provided = served.provided && this.#provided.get(served.def);
      if (provided) return await serveProvided({ req, res, info, query, served, provided });
      if (connectDeclaration(served.def.subresources?.connect, info.subresource)) {
        // Upstream admits connect requests (not the log getter) as CONNECT with the options object.
        if (info.subresource !== 'log') {
          const attrs = { operation: 'CONNECT' as const, def: served.def, version: served.version, namespace: info.namespace, name: info.name, subresource: info.subresource, object: connectOptions(info, query), user, dryRun: false };
          await this.#admission.admit(attrs);
          await this.#admission.validate(attrs);
        }
        return await serveConnect({
          req,
          res: plain,
          upgrade,
          info,
          query,
          getPod: async (ns, name) => (await this.storageFor(served.def).get(ns, name)) as unknown as Pod,
          getNode: async (name) => (await this.storageFor(this.registry.byKind('', 'Node')!).get('', name)) as unknown as Node,
          getObject: async (gk, ns, name) => {
            const def = this.registry.byKind(gk.group, gk.kind);
            if (!def) throw routeNotFound();
            return this.storageFor(def).get(ns, name);
          },
          kubelet: this.#opts.kubeletClient,
          log: this.#opts.log ?? (() => {}),
        });
      }
      await handleResource({
        req,
        res,
        info,
        query,
        user,
        served,
        storage: this.storageFor(served.def),
        review: (s, obj, u, ns) => this.#review(s, obj, u, ns),
        tokenRequest: this.#opts.tokenRequest,
        audit: rec ?? undefined,
        storageOf: (group, plural) => {
          const def = this.registry.defs().find((d) => d.group === group && d.plural === plural);
          return def ? this.storageFor(def) : undefined;
        },
      });
    } catch (err) {
      writeError(res, err);
    }
  }

  async #authorize(user: UserInfo, info: RequestInfo, rec?: AuditRecorder): Promise<void> {
    const attrs: AuthorizationAttributes = {
      user,
      verb: info.verb,
      isResourceRequest: info.isResourceRequest,
      apiGroup: info.apiGroup,
      apiVersion: info.apiVersion,
      resource: info.resource,
      subresource: info.subresource,
      // Upstream's request info names a namespace object's own namespace (so a RoleBinding in
      // namespace foo may grant `get namespaces` on foo).
      namespace: info.isResourceRequest && info.apiGroup === '' && info.resource === 'namespaces' && info.name ? info.name : info.namespace,
      name: info.name,
      path: info.path,
    };
    const d = await authorize(this.#authorizers, attrs);
    rec?.authorized(d.decision, d.reason);
    if (d.decision === 'allow') return;
    if (!info.isResourceRequest) {
      throw statusError('Forbidden', `forbidden: User "${user.username}" cannot ${info.verb} path "${info.path}"`);
    }
    const scope = attrs.namespace ? ` in the namespace "${attrs.namespace}"` : ' at the cluster scope';
    const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
    throw forbidden(
      { group: info.apiGroup, resource: info.resource },
      info.name,
      `User "${user.username}" cannot ${info.verb} resource "${resource}" in API group "${info.apiGroup}"${scope}${d.reason ? `: ${d.reason}` : ''}`,
    );
  }

  /**
   * One kind's objects as its watch cache holds them, with a key that changes only when they do
   * (for indexes built over them, e.g. RBAC's); the objects are listed only when read.
   */
  cacheList(group: string, kind: string): { rv: number; objects: readonly KubeObject[] } {
    const def = this.registry.byKind(group, kind);
    if (!def) return { rv: 0, objects: [] };
    const cache = this.storageFor(def).cache;
    const rv = cache.generation;
    // Admission plugins read their configurations on every write: one listing per generation,
    // its array made only when read.
    const hit = this.#cacheLists.get(def);
    if (hit?.rv === rv) return hit;
    const listing = new CacheListing(rv, cache);
    this.#cacheLists.set(def, listing);
    return listing;
  }

  /** Authorization decision for reviews (SubjectAccessReview and friends). */
  authorizeAttrs(attrs: AuthorizationAttributes) {
    return authorize(this.#authorizers, attrs);
  }

  #review(served: ServedResource, obj: KubeObject, user: UserInfo, namespace: string): Promise<KubeObject> {
    return reviewHandler(served, obj, user, namespace, {
      authorize: (a) => this.authorizeAttrs(a),
      rulesReview: this.#opts.rulesReview,
      reviewToken: this.#opts.reviewToken,
      authenticateToken: async (token) => {
        const u = await authenticate(this.#authenticators, { socket: undefined, headers: { authorization: `Bearer ${token}` } });
        return u;
      },
    });
  }

  /**
   * The served resource a resource request goes to, once its path and method match one of
   * upstream's routes (routes.ts). Otherwise answers as upstream and returns undefined: a group
   * the server does not serve falls through to the not-found handler (`404 page not found`);
   * under a served prefix, no route is a 404 Status and a route without this method a 405.
   */
  #route(path: string, info: RequestInfo, method: string, res: Response): ServedResource | undefined {
    if (info.apiPrefix === 'apis' && !this.registry.groups().some((g) => g.group === info.apiGroup)) {
      writeText(res, pageNotFound());
      return undefined;
    }
    const segments = path.split('/').filter(Boolean).slice(info.apiPrefix === 'apis' ? 3 : 2).map(decodeSegment);
    const shape = routeShape(segments);
    const served = shape ? this.registry.get(info.apiGroup, info.apiVersion, shape.resource) : undefined;
    if (!shape || !served) throw routeNotFound();
    checkRoute(served, shape, method);
    return served;
  }

  /**
   * The checks behind /healthz, /livez and /readyz, by upstream's names: ping, log, etcd (the
   * store answers), poststarthook/bootstrap-controller (bootstrap objects written); /readyz also
   * etcd-readiness, informer-sync (watch caches filled) and shutdown (not stopping).
   */
  #healthChecks(): ReadonlyMap<string, readonly HealthCheck[]> {
    const store = this.#opts.store;
    const ping: HealthCheck = { name: 'ping', check: () => null };
    const log: HealthCheck = { name: 'log', check: () => null };
    const etcd: HealthCheck = { name: 'etcd', check: () => probeWithin(() => store.currentRevision()) };
    const bootstrapped: HealthCheck = { name: 'poststarthook/bootstrap-controller', check: () => (this.#ready || this.#stopping ? null : 'not finished') };
    const live = [ping, log, etcd, bootstrapped];
    const ready = [
      ping,
      log,
      etcd,
      { name: 'etcd-readiness', check: () => probeWithin(() => store.currentRevision()) },
      { name: 'informer-sync', check: () => (this.#server ? null : 'watch caches not synced') },
      { name: 'shutdown', check: () => (this.#stopping ? 'process is shutting down' : null) },
      bootstrapped,
    ];
    return new Map([
      ['healthz', live],
      ['livez', live],
      ['readyz', ready],
    ]);
  }

  async #serveHealth(path: string, query: URLSearchParams, res: Response): Promise<void> {
    writeText(res, (await serveHealth(path, query, this.#health)) ?? pageNotFound());
  }

  #nonResource(req: Request, res: Response, info: RequestInfo, path: string): void {
    const accept = req.headers['accept'] as string | undefined;
    if (path === '/version' || path === '/version/') return writeObject(res, 200, { ...serverVersion, ...this.#opts.version });
    const oidc = req.method === 'GET' ? this.#opts.openIdDiscovery?.(path) : undefined;
    if (oidc) {
      res.writeHead(200, { ...oidc.headers, 'content-length': String(Buffer.byteLength(oidc.body)) });
      return void res.end(oidc.body);
    }
    if (path === '/api' || path === '/api/' || path === '/apis' || path === '/apis/') {
      const agg = wantsAggregated(accept);
      const legacy = path.startsWith('/api') && !path.startsWith('/apis');
      if (agg) {
        const doc = this.#discovery.aggregated(legacy, agg);
        return writeJsonString(res, 200, doc.body, {
          'content-type': `application/json;g=apidiscovery.k8s.io;v=${agg};as=APIGroupDiscoveryList`,
          etag: doc.etag,
          vary: 'Accept',
        });
      }
      if (legacy) {
        const host = (req.headers[':authority'] as string | undefined) ?? (req.headers['host'] as string | undefined) ?? '127.0.0.1:6443';
        return writeObject(res, 200, this.#discovery.apiVersions(host), undefined, { vary: 'Accept' });
      }
      return writeObject(res, 200, this.#discovery.apiGroupList(), undefined, { vary: 'Accept' });
    }
    if (info.apiPrefix === 'apis' && !info.apiVersion && info.apiGroup === '' ) {
      const group = path.split('/').filter(Boolean)[1] ?? '';
      const g = this.#discovery.apiGroup(group);
      if (g) return writeObject(res, 200, g);
    }
    if (info.apiPrefix && info.apiVersion) {
      const doc = this.#discovery.resourceList(info.apiGroup, info.apiVersion);
      if (doc) return writeObject(res, 200, doc);
    }
    if (path.startsWith('/openapi/')) {
      const r = this.#openapi.serve(path, new URL(req.url ?? '/', 'https://localhost').searchParams, req.headers as Record<string, string | string[] | undefined>);
      if (r) {
        res.writeHead(r.status, r.headers);
        res.end(r.body);
        return;
      }
    }
    // Under /api and a served group's /apis/<group>, upstream's go-restful web services answer a
    // 404 Status; anything else reaches its not-found handler's plain `404 page not found`.
    const segs = path.split('/').filter(Boolean);
    const servedPrefix = segs[0] === 'api' || (segs[0] === 'apis' && segs.length > 1 && this.registry.groups().some((g) => g.group === segs[1]));
    if (servedPrefix) return writeError(res, routeNotFound());
    writeText(res, pageNotFound());
  }
}

function writeText(res: Response, r: { status: number; headers: Record<string, string>; body: string }): void {
  if (res.headersSent) return void res.end();
  res.writeHead(r.status, r.headers);
  res.end(r.body);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

