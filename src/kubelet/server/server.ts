/**
 * The node agent's HTTPS server: the kubelet's endpoints that the API server reaches, with the
 * kubelet's paths, query parameters, status codes and wording (pkg/kubelet/server/server.go):
 *   /containerLogs/{ns}/{pod}/{container}      GET, streamed
 *   /exec|/attach/{ns}/{pod}[/{uid}]/{container} GET or POST, upgraded and proxied to the CRI
 *   /portForward/{ns}/{pod}[/{uid}]            GET or POST, likewise
 *   /healthz[/ping|/log|/syncloop]  /pods  /stats/summary  /metrics  /metrics/resource
 * and `404 page not found` for anything else. Both sides are authenticated: the client must
 * present a certificate from the cluster CA (the TLS handshake fails otherwise) and be allowed
 * by `authorize` (default: CN kube-apiserver-kubelet-client or group system:masters).
 *
 * exec/attach/portForward ask the backend for the CRI streaming URL and then proxy the client's
 * upgrade to it byte for byte (as the kubelet does when it does not redirect): WebSocket
 * translation is the API server's job, so a SPDY or WebSocket client reaches the CRI server as
 * it came.
 *
 * Bounds, as the kubelet's http.Server: request headers at most 1 MiB; a kept-alive connection
 * idle for 90 s is closed; a plain request (logs with follow included) ends after 4 h, as the
 * kubelet's ReadTimeout/WriteTimeout cut it; an upgraded session idle for 4 h is closed.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../../util/http.ts';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { Writable, type Duplex } from 'node:stream';
import { userFromCertificate } from '../../pki/user.ts';
import { BackendError, proxyUpgrade, type UpgradeRequest } from '../../util/upgrade.ts';
import { HttpError, type AgentBackend } from './backend.ts';
import { renderResourceMetrics, type SummaryLike } from './resourcemetrics.ts';

/** The kubelet's MaxHeaderBytes. */
export const maxHeaderBytes = 1 << 20;
/** The kubelet's IdleTimeout for kept-alive connections. */
export const keepAliveIdleMs = 90_000;
/** The kubelet's ReadTimeout and WriteTimeout: the longest a plain request may take. */
export const maxRequestDurationMs = 4 * 60 * 60 * 1000;
/** The kubelet's StreamIdleTimeout for upgraded sessions. */
export const streamIdleTimeoutMs = 4 * 60 * 60 * 1000;

/** Who may use the agent's API (upstream: the API server's kubelet-client identity). */
export const apiServerClientName = 'kube-apiserver-kubelet-client';

export type AgentAuthorizer = (user: { name: string; groups: string[] }, req: { verb: string; path: string }) => boolean;

export interface AgentServerOptions {
  bindAddress: string;
  /** 0 picks a free port. */
  port: number;
  /** Serving certificate and key; `caPem` verifies client certificates. */
  tls: { certPem: string; keyPem: string; caPem: string };
  authorize?: AgentAuthorizer;
  backend: AgentBackend;
  log: (m: string) => void;
  /** Deadlines (tests set small ones); defaults are the constants above. */
  limits?: Partial<{ keepAliveIdleMs: number; maxRequestDurationMs: number; streamIdleTimeoutMs: number }>;
}

export interface AgentServer {
  port: number;
  /**
   * Serves `pair` from the next TLS handshake on (a rotated serving certificate), with the same
   * CA for client certificates; connections already open keep theirs.
   */
  setCertificate(pair: { certPem: string; keyPem: string }): void;
  /** Stops listening and closes every connection, streaming sessions included. Idempotent. */
  close(): Promise<void>;
}

/** The default authorizer: the API server's kubelet-client identity or a cluster admin. */
export const defaultAuthorize: AgentAuthorizer = (user) => user.name === apiServerClientName || user.groups.includes('system:masters');

/** Starts the server; it stops when `signal` aborts (or `close()` is called). */
export async function startAgentServer(opts: AgentServerOptions, signal: AbortSignal): Promise<AgentServer> {
  const limits = {
    keepAliveIdleMs: opts.limits?.keepAliveIdleMs ?? keepAliveIdleMs,
    maxRequestDurationMs: opts.limits?.maxRequestDurationMs ?? maxRequestDurationMs,
    streamIdleTimeoutMs: opts.limits?.streamIdleTimeoutMs ?? streamIdleTimeoutMs,
  };
  const server = https.createServer({
    cert: opts.tls.certPem,
    key: opts.tls.keyPem,
    ca: opts.tls.caPem,
    requestCert: true,
    rejectUnauthorized: true,
    maxHeaderSize: maxHeaderBytes,
    requestTimeout: 0,
  });
  server.keepAliveTimeout = limits.keepAliveIdleMs;
  // Node would add a second to the idle deadline it announces; Go closes at it.
  (server as unknown as { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer = 0;
  const sockets = new Set<Socket>();
  server.on('secureConnection', (s: TLSSocket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  const handler = new Handler(opts, limits);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => void handler.request(req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void handler.upgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  opts.log(`agent: serving the kubelet API on ${opts.bindAddress}:${port}`);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }));
  if (signal.aborted) await close();
  else signal.addEventListener('abort', () => void close(), { once: true });
  const setCertificate = (pair: { certPem: string; keyPem: string }) => server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, ca: opts.tls.caPem });
  return { port, close, setCertificate };
}

/** The kubelet's authorization subresource for a path (stats, metrics, log, else proxy). */
function subresourceOf(path: string): string {
  const under = (p: string) => path === p || path.startsWith(`${p}/`);
  if (under('/stats')) return 'stats';
  if (under('/metrics')) return 'metrics';
  if (under('/logs')) return 'log';
  if (under('/checkpoint')) return 'checkpoint';
  return 'proxy';
}

const verbs: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** A plain-text answer (as Go's http.Error: newline added, nosniff). */
function textError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    // Already streaming: the kubelet appends the error to the body.
    if (!res.writableEnded) res.end(message);
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers });
  res.end(`${message}\n`);
}

/** The body go-restful's WriteError writes: the message as is. */
function restfulError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end(message);
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(message);
}

interface PodLike {
  metadata?: { name?: string; namespace?: string; uid?: string };
  spec?: { containers?: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
}

class Handler {
  #opts: AgentServerOptions;
  #limits: { maxRequestDurationMs: number; streamIdleTimeoutMs: number };

  constructor(opts: AgentServerOptions, limits: { maxRequestDurationMs: number; streamIdleTimeoutMs: number }) {
    this.#opts = opts;
    this.#limits = limits;
  }

  /** Authenticates and authorizes; answers 401/403 itself and returns false when refused. */
  #admit(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const sock = req.socket as TLSSocket;
    const user = sock.authorized ? userFromCertificate(sock.getPeerCertificate()) : null;
    if (!user) {
      restfulError(res, 401, 'Unauthorized');
      return false;
    }
    const verb = verbs[req.method ?? ''] ?? '';
    const who = { name: user.username, groups: user.groups };
    if ((this.#opts.authorize ?? defaultAuthorize)(who, { verb, path })) return true;
    restfulError(res, 403, `Forbidden (user=${user.username}, verb=${verb}, resource=nodes, subresource(s)=[${subresourceOf(path)}])\n`);
    return false;
  }

  async request(req: IncomingMessage, res: ServerResponse, upgrade?: UpgradeRequest): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    const path = url.pathname;
    let deadline: NodeJS.Timeout | undefined;
    if (!upgrade && this.#limits.maxRequestDurationMs > 0) {
      deadline = setTimeout(() => req.socket.destroy(), this.#limits.maxRequestDurationMs);
      deadline.unref();
      res.on('close', () => clearTimeout(deadline));
    }
    try {
      if (!this.#admit(req, res, path)) return;
      await this.#route(req, res, url, upgrade);
    } catch (err) {
      // As the kubelet's streaming.WriteError and go-restful's WriteError: the message as is.
      this.#opts.log(`agent: ${req.method} ${path}: ${(err as Error).message}`);
      restfulError(res, err instanceof HttpError ? err.status : 500, (err as Error).message);
    }
  }

  /** An HTTP/1.1 upgrade: served as a request, with a response object on its socket. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.on('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    return this.request(req, res, { req, socket, head });
  }

  async #route(req: IncomingMessage, res: ServerResponse, url: URL, upgrade: UpgradeRequest | undefined): Promise<void> {
    const path = url.pathname;
    const parts = path.split('/').slice(1).map(decodeSegment);
    const method = req.method ?? 'GET';
    const only = (...allowed: string[]) => {
      if (allowed.includes(method)) return true;
      textError(res, 405, 'Method Not Allowed', { allow: allowed.join(', ') });
      return false;
    };
    switch (parts[0]) {
      case 'healthz':
        if (parts.length === 1 || (parts.length === 2 && ['ping', 'log', 'syncloop'].includes(parts[1]!))) return this.#healthz(res, url, parts[1]);
        break;
      case 'pods':
        if (parts.length === 1 && only('GET')) return this.#pods(res);
        if (parts.length === 1) return;
        break;
      case 'stats':
        if (parts.length === 2 && parts[1] === 'summary' && only('GET')) return this.#json(res, await this.#opts.backend.statsSummary());
        if (parts.length === 2 && parts[1] === 'summary') return;
        break;
      case 'metrics':
        if (parts.length === 1 && only('GET')) return this.#metrics(res);
        if (parts.length === 2 && parts[1] === 'resource' && only('GET')) return this.#resourceMetrics(res);
        if (parts.length === 1 || (parts.length === 2 && parts[1] === 'resource')) return;
        break;
      case 'containerLogs':
        if (parts.length === 4 && only('GET')) return this.#containerLogs(req, res, url, parts[1]!, parts[2]!, parts[3]!);
        if (parts.length === 4) return;
        break;
      case 'exec':
      case 'attach':
        if ((parts.length === 4 || parts.length === 5) && only('GET', 'POST')) {
          return this.#remoteCommand(req, res, url, parts[0], parts[1]!, parts[2]!, parts[parts.length - 1]!, upgrade);
        }
        if (parts.length === 4 || parts.length === 5) return;
        break;
      case 'portForward':
        if ((parts.length === 3 || parts.length === 4) && only('GET', 'POST')) return this.#portForward(req, res, url, parts[1]!, parts[2]!, parts[3], upgrade);
        if (parts.length === 3 || parts.length === 4) return;
        break;
    }
    textError(res, 404, '404 page not found');
  }

  #healthz(res: ServerResponse, url: URL, check: string | undefined): void {
    const checks = check ? [check] : ['ping', 'log', 'syncloop'];
    const verbose = url.searchParams.has('verbose');
    const body = verbose && !check ? `${checks.map((c) => `[+]${c} ok`).join('\n')}\nhealthz check passed\n` : 'ok';
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
    res.end(body);
  }

  #pods(res: ServerResponse): void {
    this.#json(res, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.#opts.backend.pods() });
  }

  #json(res: ServerResponse, obj: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  }

  async #metrics(res: ServerResponse): Promise<void> {
    const text = await this.#opts.backend.metrics();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(text);
  }

  /** `/metrics/resource` from the stats summary; a failed summary is `resource_scrape_error 1`, as upstream. */
  async #resourceMetrics(res: ServerResponse): Promise<void> {
    let summary: SummaryLike | undefined;
    try {
      summary = (await this.#opts.backend.statsSummary()) as SummaryLike;
    } catch (err) {
      this.#opts.log(`agent: /metrics/resource: ${(err as Error).message}`);
    }
    const text = renderResourceMetrics(summary, Date.now());
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(text);
  }

  #findPod(namespace: string, name: string): PodLike | undefined {
    return (this.#opts.backend.pods() as PodLike[]).find((p) => p?.metadata?.namespace === namespace && p.metadata.name === name);
  }

  async #containerLogs(req: IncomingMessage, res: ServerResponse, url: URL, namespace: string, podName: string, container: string): Promise<void> {
    if (!podName) return restfulError(res, 400, '{"message": "Missing podID."}');
    if (!container) return restfulError(res, 400, '{"message": "Missing container name."}');
    if (!namespace) return restfulError(res, 400, '{"message": "Missing podNamespace."}');
    const q = new URLSearchParams(url.searchParams);
    // The old "tail" parameter; "all" means no limit.
    const tail = q.get('tail');
    if (tail) {
      q.delete('tailLines');
      if (tail !== 'all') q.set('tailLines', tail);
    }
    const opts = decodeLogQuery(q);
    if (opts === 'undecodable') return restfulError(res, 400, '{"message": "Unable to decode query."}');
    if (opts === 'invalid') return restfulError(res, 422, '{"message": "Invalid request."}');
    const pod = this.#findPod(namespace, podName);
    if (!pod) return restfulError(res, 404, `pod ${JSON.stringify(podName)} does not exist`);
    const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].map((c) => c.name);
    if (!names.includes(container)) return restfulError(res, 404, `container ${JSON.stringify(container)} not found in pod ${JSON.stringify(podName)}`);

    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const out = new LogSink(res);
    try {
      await this.#opts.backend.containerLogs({ namespace, pod: podName, container, ...opts }, out, abort.signal);
    } catch (err) {
      if (abort.signal.aborted) return;
      if (err instanceof HttpError && !out.started) return restfulError(res, err.status, err.message);
      return restfulError(res, 400, (err as Error).message);
    }
    out.finish();
  }

  async #remoteCommand(req: IncomingMessage, res: ServerResponse, url: URL, kind: 'exec' | 'attach', namespace: string, podName: string, container: string, upgrade: UpgradeRequest | undefined): Promise<void> {
    const q = url.searchParams;
    const tty = q.get('tty') === '1';
    const stdin = q.get('input') === '1';
    const stdout = q.get('output') === '1';
    const stderr = q.get('error') === '1' && !tty;
    if (!stdin && !stdout && !stderr) return restfulError(res, 400, 'you must specify at least 1 of stdin, stdout, stderr');
    if (!this.#findPod(namespace, podName)) return restfulError(res, 404, 'pod does not exist');
    const streams = { namespace, pod: podName, container, stdin, stdout, stderr, tty };
    const criUrl = kind === 'exec' ? await this.#opts.backend.exec({ ...streams, command: q.getAll('command') }) : await this.#opts.backend.attach(streams);
    await this.#proxy(res, criUrl, upgrade);
  }

  async #portForward(req: IncomingMessage, res: ServerResponse, url: URL, namespace: string, podName: string, uid: string | undefined, upgrade: UpgradeRequest | undefined): Promise<void> {
    let ports: number[] = [];
    if (isWebSocket(req)) {
      const parsed = parsePorts(url.searchParams.getAll('port'));
      if (typeof parsed === 'string') return restfulError(res, 400, parsed);
      ports = parsed;
    }
    const pod = this.#findPod(namespace, podName);
    if (!pod) return restfulError(res, 404, 'pod does not exist');
    if (uid && pod.metadata?.uid !== uid) return restfulError(res, 404, 'pod not found');
    const criUrl = await this.#opts.backend.portForward({ namespace, pod: podName, ports });
    await this.#proxy(res, criUrl, upgrade);
  }

  /** The kubelet's UpgradeAwareHandler toward the CRI: upgrade required; errors as its responder writes them. */
  async #proxy(res: ServerResponse, criUrl: string, upgrade: UpgradeRequest | undefined): Promise<void> {
    if (!upgrade || !String(upgrade.req.headers['connection'] ?? '').toLowerCase().includes('upgrade')) return textError(res, 500, 'Upgrade request required');
    try {
      await proxyUpgrade(upgrade, { url: new URL(criUrl) }, { idleTimeoutMs: this.#limits.streamIdleTimeoutMs });
    } catch (err) {
      if (!(err instanceof BackendError)) throw err;
      textError(res, 500, err.message.startsWith('invalid upgrade response') ? err.message : `error dialing backend: ${err.message}`);
    }
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function isWebSocket(req: IncomingMessage): boolean {
  return String(req.headers['upgrade'] ?? '').toLowerCase() === 'websocket' && String(req.headers['connection'] ?? '').toLowerCase().includes('upgrade');
}

/** The kubelet's NewV4Options for WebSocket clients: `port` values, comma-separated, 1–65535. */
function parsePorts(values: string[]): number[] | string {
  if (!values.length) return 'query parameter "port" is required';
  const out: number[] = [];
  for (const v of values) {
    if (!v) return 'query parameter "port" cannot be empty';
    for (const p of v.split(',')) {
      if (!/^\d+$/.test(p) || Number(p) > 65535) return `unable to parse ${JSON.stringify(v)} as a port: strconv.ParseUint: parsing ${JSON.stringify(p)}: ${/^\d+$/.test(p) ? 'value out of range' : 'invalid syntax'}`;
      if (Number(p) < 1) return `port ${JSON.stringify(v)} must be > 0`;
      out.push(Number(p));
    }
  }
  return out;
}

type LogQuery = {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  sinceTime?: string;
  limitBytes?: number;
};

/** PodLogOptions from the query as the kubelet's codec reads them, then its validation. */
function decodeLogQuery(q: URLSearchParams): LogQuery | 'undecodable' | 'invalid' {
  const bool = (n: string) => {
    const v = q.get(n);
    return v !== null && v !== '0' && v.toLowerCase() !== 'false';
  };
  const int = (n: string): number | undefined | null => {
    const v = q.get(n);
    if (v === null || v === '') return undefined;
    return /^[+-]?\d+$/.test(v) ? Number(v) : null;
  };
  const tailLines = int('tailLines');
  const sinceSeconds = int('sinceSeconds');
  const limitBytes = int('limitBytes');
  const sinceTime = q.get('sinceTime') || undefined;
  if (tailLines === null || sinceSeconds === null || limitBytes === null) return 'undecodable';
  if (sinceTime !== undefined && Number.isNaN(Date.parse(sinceTime))) return 'undecodable';
  if ((tailLines !== undefined && tailLines < 0) || (limitBytes !== undefined && limitBytes < 1)) return 'invalid';
  if (sinceSeconds !== undefined && (sinceTime !== undefined || sinceSeconds < 1)) return 'invalid';
  return { follow: bool('follow'), previous: bool('previous'), timestamps: bool('timestamps'), tailLines, sinceSeconds, sinceTime, limitBytes };
}

/**
 * The writable handed to the backend for a log: headers go out with the first byte (so a
 * failure before it can still be a status), every write is flushed, and the backend is held
 * back while the client is slow.
 */
class LogSink extends Writable {
  #res: ServerResponse;
  started = false;

  constructor(res: ServerResponse) {
    super();
    this.#res = res;
  }

  #start(): void {
    if (this.started || this.#res.headersSent) return;
    this.started = true;
    this.#res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#start();
    if (this.#res.destroyed) return cb();
    if (this.#res.write(chunk)) cb();
    else this.#res.once('drain', () => cb());
  }

  /** Ends the response (an empty log is a 200 with no body). */
  finish(): void {
    this.#start();
    if (!this.#res.writableEnded) this.#res.end();
  }
}
