/**
 * Per-controller credentials for the controller manager (`--use-service-account-credentials`), as
 * upstream's DynamicControllerClientBuilder (k8s.io/controller-manager/pkg/clientbuilder,
 * client_builder_dynamic.go) with client-go's cached, resettable token source:
 *  - a controller's identity is the ServiceAccount `kube-system/<name>`; it is created with the
 *    manager's own client when missing (its namespace too when that is missing; failing to create
 *    the namespace is only logged, as upstream tolerates it);
 *  - its token comes from the TokenRequest API (`serviceaccounts/<name>/token`), asking
 *    `tokenExpirationSeconds`; the lifetime is the answer's expirationTimestamp less now, at least
 *    10 minutes (clock skew), and the token is renewed once `tokenLeewayPercent` of it is left;
 *    each renewal gets-or-creates the ServiceAccount again, so a deleted one comes back;
 *  - the controller's client connects with the server address and CA only (upstream's
 *    AnonymousClientConfig: never the manager's certificate or token), sends the current token on
 *    every request (the transport's `credentials` source) and a User-Agent ending in
 *    `/system:serviceaccount:kube-system:<name>`;
 *  - a 401 answer to a request that started after the token in use was obtained renews it at once
 *    (upstream's ResetTokenOlderThan); the failed request itself is not repeated.
 * Departure: upstream fetches a token on the first request that needs one (the request waits; a
 * failure fails it after four tries). Here `client()` hands out a client only once its first token
 * is there (retrying with backoff until then), and later tokens are fetched in the background
 * ahead of expiry: a failed renewal is logged and retried with backoff (`renewBackoff`) while the
 * previous token stays in use, as client-go keeps a cached token it cannot rotate.
 * One client per ServiceAccount, shared by every controller that asks for that name.
 */
import type { ServiceAccount, TokenRequest } from '../api/index.ts';
import { isAlreadyExists, isNotFound, isStatusError } from '../api/errors.ts';
import {
  Http2Transport,
  clientset,
  createClient,
  realClock,
  resources,
  sleep,
  userAgent,
  type ClusterConnection,
  type Clock,
  type QueryParams,
  type RestClient,
  type TimerHandle,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  type WatchStream,
} from '../client/index.ts';

/** Upstream's defaultExpirationSeconds: the lifetime asked of each TokenRequest. */
export const tokenExpirationSeconds = 3600;
/** Upstream's defaultLeewayPercent: the share of a token's lifetime left when it is renewed. */
export const tokenLeewayPercent = 20;
/** A shorter lifetime in an answer is taken as clock skew and pinned to this (upstream's 10 minutes). */
export const minTokenLifetimeMs = 10 * 60_000;
/** Retries of a failed token request: upstream's first step (500 ms, doubling), capped at a minute (Bosun's bound). */
export const renewBackoff = { initialMs: 500, factor: 2, maxMs: 60_000 } as const;

/** The user name of a ServiceAccount (upstream's serviceaccount.MakeUsername). */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * How long a token obtained at `nowMs` and expiring at `expiresAtMs` lives (at least
 * `minTokenLifetimeMs`; an unparsable expiry counts as too short) and after how long it is
 * renewed: when `leewayPercent` of the lifetime is left.
 */
export function tokenSchedule(expiresAtMs: number, nowMs: number, leewayPercent = tokenLeewayPercent): { lifetimeMs: number; renewAfterMs: number } {
  const given = expiresAtMs - nowMs;
  const lifetimeMs = Number.isFinite(given) && given >= minTokenLifetimeMs ? given : minTokenLifetimeMs;
  return { lifetimeMs, renewAfterMs: lifetimeMs - Math.floor((lifetimeMs * leewayPercent) / 100) };
}

/**
 * The ServiceAccount `namespace/name`, created when missing (upstream's getOrCreateServiceAccount).
 * Errors are the API's, except that a namespace that cannot be created is only logged.
 */
export async function getOrCreateServiceAccount(client: RestClient, namespace: string, name: string, log: (msg: string) => void = () => {}): Promise<ServiceAccount> {
  const cs = clientset(client);
  try {
    return await cs.serviceAccounts.get(name, { namespace });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  // The manager may not be allowed to create namespaces: only try when the namespace is surely missing.
  const nsMissing = await cs.namespaces.get(namespace).then(() => false, (err: unknown) => isNotFound(err));
  if (nsMissing) {
    await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }).catch((err: unknown) => {
      if (!isAlreadyExists(err)) log(`controller-manager: create non-exist namespace ${namespace}: ${(err as Error).message}`);
    });
  }
  try {
    return await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { namespace, name } }, { namespace });
  } catch (err) {
    // Another manager created it meanwhile.
    if (isAlreadyExists(err)) return await cs.serviceAccounts.get(name, { namespace });
    throw err;
  }
}

/** A transport for a controller's client from its current credentials and User-Agent (an in-process transport). */
export type TransportFactory = (identity: { credentials: () => { token?: string }; userAgent: string }) => Transport;

export interface ControllerCredentialsOptions {
  /** The manager's own client: creates the ServiceAccounts and requests their tokens. */
  client: RestClient;
  /** Where controllers' clients connect; its client certificate, key and token are not used. */
  connection: ClusterConnection;
  /** Builds the controllers' transports instead of connecting to `connection`. */
  transportFor?: TransportFactory;
  /** Namespace of the ServiceAccounts. Default kube-system. */
  namespace?: string;
  /** The User-Agent's component (`bosun-<component>/v1.33.0/<user>`). Default kube-controller-manager. */
  component?: string;
  /** Each controller client's rate limit (createClient's defaults when absent). */
  qps?: number;
  burst?: number;
  /** Defaults `tokenExpirationSeconds` and `tokenLeewayPercent`. */
  expirationSeconds?: number;
  leewayPercent?: number;
  /** Times token renewals and retries (not the clients' rate limiters). */
  clock?: Clock;
  log?: (msg: string) => void;
}

/** What is known of a ServiceAccount's credentials (the token itself is not exposed). */
export interface CredentialState {
  /** `system:serviceaccount:<namespace>:<name>`. */
  username: string;
  /** Clock times (ms) of the current token: obtained, renewal due, expiry as taken (see tokenSchedule). */
  obtainedAt: number;
  renewAt: number;
  expiresAt: number;
  /** Tokens obtained so far (1 after the first). */
  tokens: number;
}

interface Entry {
  name: string;
  username: string;
  token: string;
  state: CredentialState | undefined;
  timer: TimerHandle | undefined;
  /** A background renewal under way (at most one per entry). */
  renewing: Promise<void> | undefined;
}

/**
 * Clients for controllers, each with its own ServiceAccount's token. `client()` may be called
 * concurrently; `close()` stops every renewal and closes every client it handed out.
 */
export class ControllerCredentials {
  #opts: ControllerCredentialsOptions;
  #namespace: string;
  #clock: Clock;
  #log: (msg: string) => void;
  #entries = new Map<string, Entry>();
  #ready = new Map<string, Promise<RestClient>>();
  #clients: RestClient[] = [];
  #closing = new AbortController();

  constructor(opts: ControllerCredentialsOptions) {
    this.#opts = opts;
    this.#namespace = opts.namespace ?? 'kube-system';
    this.#clock = opts.clock ?? realClock;
    this.#log = opts.log ?? (() => {});
  }

  /**
   * A client acting as the ServiceAccount `name`, once its first token is there: the
   * ServiceAccount and the token are retried with backoff (each failure logged) until they can be
   * had. Concurrent calls for one name share the first call's promise (and its signal). Rejects
   * only when that signal aborts or on close(); a later call then starts again.
   */
  client(name: string, signal?: AbortSignal): Promise<RestClient> {
    let ready = this.#ready.get(name);
    if (!ready) {
      const e: Entry = { name, username: serviceAccountUsername(this.#namespace, name), token: '', state: undefined, timer: undefined, renewing: undefined };
      this.#entries.set(name, e);
      const p = this.#first(e, signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal);
      // A caller that gave up leaves no unhandled rejection, and no entry: the next call starts afresh.
      p.catch(() => {
        if (this.#ready.get(name) !== p) return;
        this.#ready.delete(name);
        this.#entries.delete(name);
      });
      this.#ready.set(name, (ready = p));
    }
    return ready;
  }

  /** The credentials of `name` (undefined until its first token). */
  state(name: string): CredentialState | undefined {
    const s = this.#entries.get(name)?.state;
    return s && { ...s };
  }

  /** Stops renewing and closes every client handed out. Idempotent. */
  async close(): Promise<void> {
    this.#closing.abort(new Error('controller credentials closed'));
    for (const e of this.#entries.values()) if (e.timer !== undefined) this.#clock.clearTimeout(e.timer);
    const clients = this.#clients.splice(0);
    await Promise.all(clients.map((c) => c.transport.close()));
  }

  async #first(e: Entry, signal: AbortSignal): Promise<RestClient> {
    await this.#withBackoff(e, signal, 'getting');
    const o = this.#opts;
    const conn = o.connection;
    const ua = `${userAgent(o.component ?? 'kube-controller-manager')}/${e.username}`;
    const http = o.transportFor
      ? o.transportFor({ credentials: () => ({ token: e.token }), userAgent: ua })
      : new Http2Transport({
          server: conn.server,
          ca: conn.ca,
          insecureSkipTlsVerify: conn.insecureSkipTlsVerify,
          tlsServerName: conn.tlsServerName,
          userAgent: ua,
          credentials: () => ({ token: e.token }),
          log: o.log,
        });
    const transport = new ResettingTransport(http, this.#clock, (startedAt) => {
      if (e.state && e.state.obtainedAt < startedAt) this.#renewSoon(e, 'the API server answered 401');
    });
    const client = await createClient({ component: o.component ?? 'kube-controller-manager', transport, qps: o.qps, burst: o.burst });
    if (this.#closing.signal.aborted) {
      await transport.close();
      throw this.#closing.signal.reason;
    }
    this.#clients.push(client);
    return client;
  }

  /** Renews until it succeeds or `signal` aborts (then throws its reason), logging each failure. */
  async #withBackoff(e: Entry, signal: AbortSignal, what: string): Promise<void> {
    let delay: number = renewBackoff.initialMs;
    for (;;) {
      signal.throwIfAborted();
      try {
        await this.#renew(e);
        return;
      } catch (err) {
        signal.throwIfAborted();
        this.#log(`controller-manager: ${what} a token for ${this.#namespace}/${e.name} failed: ${errorText(err)}; retrying in ${delay} ms`);
        await sleep(delay, { clock: this.#clock, signal });
        delay = Math.min(delay * renewBackoff.factor, renewBackoff.maxMs);
      }
    }
  }

  /** One attempt: the ServiceAccount (created when missing), then a token; schedules the next renewal. */
  async #renew(e: Entry): Promise<void> {
    const o = this.#opts;
    await getOrCreateServiceAccount(o.client, this.#namespace, e.name, this.#log);
    const request: TokenRequest = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: { name: e.name }, spec: { audiences: [], expirationSeconds: o.expirationSeconds ?? tokenExpirationSeconds } };
    const answer = await o.client.create<TokenRequest>(resources.serviceAccounts, request, { namespace: this.#namespace, subresource: 'token' });
    const token = answer.status?.token;
    if (!token) throw new Error('the TokenRequest answer has no token');
    if (this.#closing.signal.aborted) return;
    const now = this.#clock.now();
    const { lifetimeMs, renewAfterMs } = tokenSchedule(Date.parse(answer.status?.expirationTimestamp ?? ''), now, o.leewayPercent ?? tokenLeewayPercent);
    e.token = token;
    e.state = { username: e.username, obtainedAt: now, renewAt: now + renewAfterMs, expiresAt: now + lifetimeMs, tokens: (e.state?.tokens ?? 0) + 1 };
    if (e.timer !== undefined) this.#clock.clearTimeout(e.timer);
    e.timer = this.#clock.setTimeout(() => {
      e.timer = undefined;
      this.#renewSoon(e, 'due');
    }, renewAfterMs);
    if (typeof e.timer === 'object' && 'unref' in e.timer) e.timer.unref();
  }

  /** Starts a background renewal unless one is under way or the credentials are closed. */
  #renewSoon(e: Entry, why: string): void {
    if (e.renewing || this.#closing.signal.aborted || !e.state) return;
    if (e.timer !== undefined) {
      this.#clock.clearTimeout(e.timer);
      e.timer = undefined;
    }
    if (why !== 'due') this.#log(`controller-manager: renewing the token of ${this.#namespace}/${e.name}: ${why}`);
    e.renewing = this.#withBackoff(e, this.#closing.signal, 'renewing')
      .catch(() => {}) // only on close
      .finally(() => (e.renewing = undefined));
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A transport that reports a 401 (an answer, or a refused watch) with the time its request
 * started, so that a token older than the request is renewed (client-go's tokenSourceTransport).
 */
class ResettingTransport implements Transport {
  #inner: Transport;
  #clock: Clock;
  #onUnauthorized: (startedAt: number) => void;

  constructor(inner: Transport, clock: Clock, onUnauthorized: (startedAt: number) => void) {
    this.#inner = inner;
    this.#clock = clock;
    this.#onUnauthorized = onUnauthorized;
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const startedAt = this.#clock.now();
    const res = await this.#inner.request(req);
    if (res.status === 401) this.#onUnauthorized(startedAt);
    return res;
  }

  async watch(path: string, query: QueryParams, opts?: { signal?: AbortSignal }): Promise<WatchStream> {
    const startedAt = this.#clock.now();
    try {
      return await this.#inner.watch(path, query, opts);
    } catch (err) {
      if (isStatusError(err) && err.status.code === 401) this.#onUnauthorized(startedAt);
      throw err;
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
