/**
 * The REST client: every API verb, generic over a resource descriptor
 * `{group, version, resource, kind, namespaced}`, on top of a `Transport`.
 *
 * Contract:
 * - Objects are plain JSON in and out, typed by the caller's `T` (any `ApiObject`: a generated
 *   type such as `Pod`, or the untyped `KubeObject`, the default); inputs are never modified.
 *   `./typed.ts` infers `T` from the resource (`clientset(client).pods.get(...)` is a `Pod`).
 * - Any answer other than 2xx throws a `StatusError` rebuilt from the server's Status (reason,
 *   code, details), so callers test with `isNotFound`, `isConflict`, ... (api/errors.ts).
 *   Network failures throw Node's error; aborts the signal's reason.
 * - Requests (watches included) pass a client-side token bucket first (default 200 qps, burst
 *   400, as a generous client-go QPS/Burst). A 429 — or a 5xx carrying Retry-After — is retried
 *   after the advertised delay, up to `maxRetries` times.
 * - `list` fills in `apiVersion`/`kind` on items that lack them, so listed objects look like
 *   watched ones.
 * Namespaced resources need a namespace for get/create/update/patch/delete (from the options or
 * the object); list, watch and deleteCollection without one span all namespaces.
 */
import type { ApiObject } from '../api/index.ts';
import type { KubeList, KubeObject, Status } from '../api/types.ts';
import { realClock, sleep, type Clock } from './clock.ts';
import { statusErrorFromResponse } from './errors.ts';
import { TokenBucket } from './ratelimit.ts';
import type { QueryParams, Transport, TransportRequest, TransportResponse, WatchStream } from './transport.ts';

/** Which resource a call is about. `group` is '' for the core group. */
export interface ResourceDescriptor {
  readonly group: string;
  readonly version: string;
  /** The plural resource name in URLs, e.g. 'pods'. */
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export interface GetOptions {
  namespace?: string;
  resourceVersion?: string;
  /** e.g. 'status', 'scale'. */
  subresource?: string;
  signal?: AbortSignal;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  timeoutSeconds?: number;
  signal?: AbortSignal;
  /** The caller takes shared, frozen items (see TransportRequest.shared): never mutate them. */
  shared?: boolean;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'NotOlderThan';
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface WriteOptions {
  namespace?: string;
  /** e.g. 'status', 'scale', 'binding', 'eviction'. */
  subresource?: string;
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  signal?: AbortSignal;
}

/** json: RFC 6902; merge: RFC 7386; strategic: Kubernetes SMP; apply: server-side apply. */
export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface PatchOptions extends WriteOptions {
  type: PatchType;
  /** Server-side apply only: take ownership of conflicting fields. */
  force?: boolean;
}

export interface DeleteOptions {
  namespace?: string;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface DeleteCollectionOptions extends DeleteOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface Reader {
  get<T extends ApiObject = KubeObject>(res: ResourceDescriptor, name: string, opts?: GetOptions): Promise<T>;
  list<T extends ApiObject = KubeObject>(res: ResourceDescriptor, opts?: ListOptions): Promise<KubeList<T>>;
  watch<T extends ApiObject = KubeObject>(res: ResourceDescriptor, opts?: WatchOptions): Promise<WatchStream<T>>;
}

export interface Writer {
  create<T extends ApiObject = KubeObject>(res: ResourceDescriptor, obj: NoInfer<T>, opts?: WriteOptions): Promise<T>;
  update<T extends ApiObject = KubeObject>(res: ResourceDescriptor, obj: NoInfer<T>, opts?: WriteOptions): Promise<T>;
  patch<T extends ApiObject = KubeObject>(res: ResourceDescriptor, name: string, patch: unknown, opts: PatchOptions): Promise<T>;
  /** Resolves to the server's answer: the object (when finalizers or a grace period keep it) or a Status. */
  delete(res: ResourceDescriptor, name: string, opts?: DeleteOptions): Promise<KubeObject | Status>;
  deleteCollection(res: ResourceDescriptor, opts?: DeleteCollectionOptions): Promise<KubeList | Status>;
}

export interface StatusWriter {
  updateStatus<T extends ApiObject = KubeObject>(res: ResourceDescriptor, obj: NoInfer<T>, opts?: WriteOptions): Promise<T>;
  patchStatus<T extends ApiObject = KubeObject>(res: ResourceDescriptor, name: string, patch: unknown, opts: PatchOptions): Promise<T>;
}

/** The whole client. `request` is the escape hatch for paths outside the resource model. */
export interface Client extends Reader, Writer, StatusWriter {
  request(req: TransportRequest): Promise<TransportResponse>;
}

export function apiVersionOf(res: Pick<ResourceDescriptor, 'group' | 'version'>): string {
  return res.group ? `${res.group}/${res.version}` : res.version;
}

/** The URL path of a resource, collection or subresource. */
export function resourcePath(res: ResourceDescriptor, where: { namespace?: string; name?: string; subresource?: string } = {}): string {
  let p = res.group ? `/apis/${res.group}/${res.version}` : `/api/${res.version}`;
  if (res.namespaced && where.namespace) p += `/namespaces/${encodeURIComponent(where.namespace)}`;
  p += `/${res.resource}`;
  if (where.name !== undefined) {
    if (!where.name) throw new TypeError(`${res.resource}: a name is required`);
    p += `/${encodeURIComponent(where.name)}`;
  }
  if (where.subresource) p += `/${where.subresource}`;
  return p;
}

const patchContentTypes: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface RestClientOptions {
  /** Client-side rate limit, requests per second (Infinity: none). Default 200. */
  qps?: number;
  /** Default 400. */
  burst?: number;
  /** Retries of a 429 (or a 5xx with Retry-After). Default 3. */
  maxRetries?: number;
  clock?: Clock;
}

export class RestClient implements Client {
  readonly transport: Transport;
  #bucket: TokenBucket;
  #maxRetries: number;
  #clock: Clock;

  constructor(transport: Transport, opts: RestClientOptions = {}) {
    this.transport = transport;
    this.#clock = opts.clock ?? realClock;
    this.#bucket = new TokenBucket({ qps: opts.qps ?? 200, burst: opts.burst ?? 400, clock: this.#clock });
    this.#maxRetries = opts.maxRetries ?? 3;
  }

  /** Sends one request (rate limited, 429s retried) and returns the raw answer, whatever its status. */
  async request(req: TransportRequest): Promise<TransportResponse> {
    for (let attempt = 0; ; attempt++) {
      await this.#bucket.wait(req.signal);
      const res = await this.transport.request(req);
      const retryAfter = header(res, 'retry-after');
      const retriable = res.status === 429 || (res.status >= 500 && retryAfter !== undefined);
      if (!retriable || attempt >= this.#maxRetries) return res;
      const secs = Number(retryAfter ?? 1);
      await sleep(Math.min(10, Number.isFinite(secs) && secs >= 0 ? secs : 1) * 1000, { clock: this.#clock, signal: req.signal });
    }
  }

  /** `request`, then: 2xx → the decoded body; otherwise → throws the StatusError. */
  async #call<R>(req: TransportRequest): Promise<R> {
    const res = await this.request(req);
    if (res.status < 200 || res.status >= 300) throw statusErrorFromResponse(res.status, res.body, header(res, 'retry-after'));
    if (res.object !== undefined) return res.object as R;
    if (!res.body.length) return undefined as R;
    return JSON.parse(Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength).toString('utf8')) as R;
  }

  async get<T extends ApiObject = KubeObject>(res: ResourceDescriptor, name: string, opts: GetOptions = {}): Promise<T> {
    return this.#call<T>({
      method: 'GET',
      path: resourcePath(res, { namespace: nsFor(res, opts.namespace, undefined, 'get'), name, subresource: opts.subresource }),
      query: { resourceVersion: opts.resourceVersion },
      signal: opts.signal,
    });
  }

  async list<T extends ApiObject = KubeObject>(res: ResourceDescriptor, opts: ListOptions = {}): Promise<KubeList<T>> {
    const list = await this.#call<KubeList<T>>({
      method: 'GET',
      path: resourcePath(res, { namespace: opts.namespace }),
      query: {
        labelSelector: opts.labelSelector || undefined,
        fieldSelector: opts.fieldSelector || undefined,
        limit: opts.limit,
        continue: opts.continue || undefined,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
        timeoutSeconds: opts.timeoutSeconds,
      },
      signal: opts.signal,
      shared: opts.shared,
    });
    list.items ??= [];
    list.metadata ??= {};
    const apiVersion = apiVersionOf(res);
    const items = list.items;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item.apiVersion !== undefined && item.kind !== undefined) continue;
      // A shared item is frozen: its copy gets the type.
      items[i] = { ...item, apiVersion: item.apiVersion ?? apiVersion, kind: item.kind ?? res.kind };
    }
    return list;
  }

  async watch<T extends ApiObject = KubeObject>(res: ResourceDescriptor, opts: WatchOptions = {}): Promise<WatchStream<T>> {
    await this.#bucket.wait(opts.signal);
    const query: QueryParams = {
      labelSelector: opts.labelSelector || undefined,
      fieldSelector: opts.fieldSelector || undefined,
      resourceVersion: opts.resourceVersion,
      resourceVersionMatch: opts.resourceVersionMatch,
      allowWatchBookmarks: opts.allowWatchBookmarks ? 'true' : undefined,
      sendInitialEvents: opts.sendInitialEvents === undefined ? undefined : String(opts.sendInitialEvents),
      timeoutSeconds: opts.timeoutSeconds,
    };
    return (await this.transport.watch(resourcePath(res, { namespace: opts.namespace }), query, { signal: opts.signal })) as unknown as WatchStream<T>;
  }

  async create<T extends ApiObject = KubeObject>(res: ResourceDescriptor, obj: NoInfer<T>, opts: WriteOptions = {}): Promise<T> {
    const namespace = nsFor(res, opts.namespace, obj, 'create');
    // A subresource create (binding, eviction) is addressed to the parent object by name.
    const name = opts.subresource ? (obj.metadata?.name ?? '') : undefined;
    return this.#call<T>({
      method: 'POST',
      path: resourcePath(res, { namespace, name, subresource: opts.subresource }),
      query: writeQuery(opts),
      body: JSON.stringify(withTypeMeta(res, obj, !opts.subresource)),
      signal: opts.signal,
    });
  }

  async update<T extends ApiObject = KubeObject>(res: ResourceDescriptor, obj: NoInfer<T>, opts: WriteOptions = {}): Promise<T> {
    return this.#call<T>({
      method: 'PUT',
      path: resourcePath(res, { namespace: nsFor(res, opts.namespace, obj, 'update'), name: obj.metadata?.name ?? '', subresource: opts.subresource }),
      query: writeQuery(opts),
      body: JSON.stringify(withTypeMeta(res, obj, opts.subresource !== 'scale')),
      signal: opts.signal,
    });
  }

  async updateStatus<T extends ApiObject = KubeObject>(res: ResourceDescriptor, obj: NoInfer<T>, opts: WriteOptions = {}): Promise<T> {
    return this.update(res, obj, { ...opts, subresource: 'status' });
  }

  async patch<T extends ApiObject = KubeObject>(res: ResourceDescriptor, name: string, patch: unknown, opts: PatchOptions): Promise<T> {
    if (opts.type === 'apply' && !opts.fieldManager) throw new TypeError('server-side apply needs a fieldManager');
    const query = writeQuery(opts);
    if (opts.force !== undefined && opts.type === 'apply') query['force'] = String(opts.force);
    return this.#call<T>({
      method: 'PATCH',
      path: resourcePath(res, { namespace: nsFor(res, opts.namespace, undefined, 'patch'), name, subresource: opts.subresource }),
      query,
      body: typeof patch === 'string' ? patch : JSON.stringify(patch),
      contentType: patchContentTypes[opts.type],
      signal: opts.signal,
    });
  }

  async patchStatus<T extends ApiObject = KubeObject>(res: ResourceDescriptor, name: string, patch: unknown, opts: PatchOptions): Promise<T> {
    return this.patch<T>(res, name, patch, { ...opts, subresource: 'status' });
  }

  async delete(res: ResourceDescriptor, name: string, opts: DeleteOptions = {}): Promise<KubeObject | Status> {
    return this.#call({
      method: 'DELETE',
      path: resourcePath(res, { namespace: nsFor(res, opts.namespace, undefined, 'delete'), name }),
      body: JSON.stringify(deleteBody(opts)),
      signal: opts.signal,
    });
  }

  async deleteCollection(res: ResourceDescriptor, opts: DeleteCollectionOptions = {}): Promise<KubeList | Status> {
    return this.#call({
      method: 'DELETE',
      path: resourcePath(res, { namespace: opts.namespace }),
      query: { labelSelector: opts.labelSelector || undefined, fieldSelector: opts.fieldSelector || undefined },
      body: JSON.stringify(deleteBody(opts)),
      signal: opts.signal,
    });
  }
}

function header(res: TransportResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function nsFor(res: ResourceDescriptor, explicit: string | undefined, obj: ApiObject | undefined, verb: string): string | undefined {
  if (!res.namespaced) return undefined;
  const ns = explicit || obj?.metadata?.namespace;
  if (!ns) throw new TypeError(`${verb} ${res.resource}: a namespace is required`);
  if (explicit && obj?.metadata?.namespace && obj.metadata.namespace !== explicit) {
    throw new TypeError(`${verb} ${res.resource}: the object's namespace ${obj.metadata.namespace} differs from ${explicit}`);
  }
  return ns;
}

function writeQuery(opts: WriteOptions): Record<string, string | undefined> {
  return {
    dryRun: opts.dryRun ? 'All' : undefined,
    fieldManager: opts.fieldManager,
    fieldValidation: opts.fieldValidation,
  };
}

/** The object with apiVersion/kind filled in when absent (a shallow copy; the input is untouched). */
function withTypeMeta<T extends ApiObject>(res: ResourceDescriptor, obj: T, fill: boolean): T {
  if (!fill || (obj.apiVersion !== undefined && obj.kind !== undefined)) return obj;
  return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(res), kind: obj.kind ?? res.kind };
}

function deleteBody(opts: DeleteOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
  if (opts.propagationPolicy) body['propagationPolicy'] = opts.propagationPolicy;
  if (opts.gracePeriodSeconds !== undefined) body['gracePeriodSeconds'] = opts.gracePeriodSeconds;
  if (opts.preconditions) body['preconditions'] = opts.preconditions;
  if (opts.dryRun) body['dryRun'] = ['All'];
  return body;
}
