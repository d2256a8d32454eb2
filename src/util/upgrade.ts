/**
 * HTTP/1.1 upgrades toward a backend, and the raw upgrade proxy, as upstream's UpgradeAwareHandler
 * does it (k8s.io/apimachinery pkg/util/proxy/upgradeaware.go): the client's request is sent to
 * the backend with its headers; a 101 answer is relayed as the backend wrote it and the two
 * connections are then piped byte for byte until either side closes; a 4xx/5xx answer is
 * relayed and the connection closed; anything else is an error for the caller to report.
 *
 * Used by the API server (SPDY clients to the node agent) and by the node agent (to the CRI
 * streaming server), which is why this lives with the streaming code and is exported from its
 * index. Bounds: the backend must answer within `upgradeResponseTimeoutMs`; a failed upgrade's
 * body is relayed up to `maxRelayedErrorBytes` within `errorRelayTimeoutMs`; a piped
 * connection with no byte either way for `proxyIdleTimeoutMs` is closed.
 */
import { http } from './http.ts';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';

/** Time for the backend to accept the connection and answer the upgrade request. */
export const upgradeResponseTimeoutMs = 30_000;
/** Upstream's deadline for replaying a failed upgrade's response to the client. */
export const errorRelayTimeoutMs = 10_000;
/** The most of a failed upgrade's body relayed to the client. */
export const maxRelayedErrorBytes = 64 * 1024;
/** A proxied connection with no traffic either way for this long is closed (the kubelet's 4 h). */
export const proxyIdleTimeoutMs = 4 * 60 * 60 * 1000;

/** Where a request goes: an http(s) URL, and for https the trust and client identity. */
export interface UpstreamTarget {
  url: URL;
  tls?: { caPem?: string; certPem?: string; keyPem?: string; insecureSkipVerify?: boolean };
}

/** A client's upgrade request as Node hands it over ('upgrade' event). */
export interface UpgradeRequest {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

export type DialResult =
  | { upgraded: true; response: IncomingMessage; socket: Duplex; head: Buffer }
  | { upgraded: false; response: IncomingMessage };

/** Headers as Node's rawHeaders: name, value, name, value… (repeated names kept apart). */
export type RawHeaders = string[];

/**
 * Sends a request to `target` and resolves with the upgraded socket (101) or the response
 * (anything else, body unread). Rejects with a BackendError: `dial tcp HOST:PORT: …` for
 * connection failures (Go's wording), a timeout, or a TLS failure.
 */
export function dialUpgrade(target: UpstreamTarget, opts: { method: string; headers: RawHeaders | OutgoingHttpHeaders; timeoutMs?: number }): Promise<DialResult> {
  const url = target.url;
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (secure ? 443 : 80));
  const timeoutMs = opts.timeoutMs ?? upgradeResponseTimeoutMs;
  // Without a length Node would frame the (empty) body as chunked, and the terminating chunk
  // would reach the backend after its 101 as if it were stream data.
  let headers = opts.headers;
  if (Array.isArray(headers)) {
    if (!headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')) headers = ['Host', url.host, ...headers];
    if (!/^(GET|HEAD)$/i.test(opts.method)) headers = [...headers.filter((_, i, a) => !/^(content-length|transfer-encoding)$/i.test(a[i - (i % 2)]!)), 'Content-Length', '0'];
  } else {
    headers = { host: url.host, ...headers };
    if (!/^(GET|HEAD)$/i.test(opts.method)) headers['content-length'] = '0';
  }
  return new Promise((resolve, reject) => {
    const common = { host, port, method: opts.method, path: `${url.pathname}${url.search}`, headers: headers as OutgoingHttpHeaders, agent: false as const, setHost: false };
    const req = secure
      ? https.request({
          ...common,
          ca: target.tls?.caPem,
          cert: target.tls?.certPem,
          key: target.tls?.keyPem,
          rejectUnauthorized: !target.tls?.insecureSkipVerify,
          servername: isIp(host) ? undefined : host,
        })
      : http.request(common);
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new BackendError(`dial tcp ${hostPort(host, port)}: i/o timeout`));
    }, timeoutMs);
    timer.unref();
    req.on('upgrade', (response, socket, head) => {
      clearTimeout(timer);
      if (settled) return void socket.destroy();
      settled = true;
      resolve({ upgraded: true, response, socket, head });
    });
    req.on('response', (response) => {
      clearTimeout(timer);
      if (settled) return void response.destroy();
      settled = true;
      resolve({ upgraded: false, response });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(new BackendError(dialErrorMessage(err, host, port), err));
    });
    req.end();
  });
}

/** A failure to reach the backend; the message is in Go's words where the cause is known. */
export class BackendError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'BackendError';
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const errnoText: Record<string, string> = {
  ECONNREFUSED: 'connect: connection refused',
  EHOSTUNREACH: 'connect: no route to host',
  ENETUNREACH: 'connect: network is unreachable',
  ETIMEDOUT: 'i/o timeout',
  ECONNRESET: 'read: connection reset by peer',
};

function dialErrorMessage(err: NodeJS.ErrnoException, host: string, port: number): string {
  const known = err.code ? errnoText[err.code] : undefined;
  if (known) return `dial tcp ${hostPort(host, port)}: ${known}`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `dial tcp: lookup ${host}: no such host`;
  return err.message;
}

/**
 * The client's headers for the backend: Host and credentials dropped, X-Forwarded-For added.
 * An upgrade request carries no body: its framing headers are dropped (`dialUpgrade` sends
 * Content-Length: 0 where the method would otherwise be chunked).
 */
export function forwardedHeaders(req: IncomingMessage, target: UpstreamTarget, drop: readonly string[] = []): RawHeaders {
  const out: RawHeaders = ['Host', target.url.host];
  const skip = new Set(['host', 'authorization', 'x-forwarded-for', 'content-length', 'transfer-encoding', ...drop.map((d) => d.toLowerCase())]);
  const raw = req.rawHeaders;
  let forwardedFor = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === 'x-forwarded-for') forwardedFor = forwardedFor ? `${forwardedFor}, ${raw[i + 1]}` : raw[i + 1]!;
    if (skip.has(lower) || lower.startsWith('impersonate-')) continue;
    out.push(name, raw[i + 1]!);
  }
  const client = req.socket.remoteAddress?.replace(/^::ffff:/, '');
  if (client) out.push('X-Forwarded-For', forwardedFor ? `${forwardedFor}, ${client}` : client);
  return out;
}

/** The response head as the backend sent it (status line and headers in their order). */
export function responseHead(res: IncomingMessage, skip: readonly string[] = []): string {
  const drop = new Set(skip.map((s) => s.toLowerCase()));
  let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n`;
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    if (drop.has(res.rawHeaders[i]!.toLowerCase())) continue;
    head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  }
  return head;
}

/** Reads a response body up to `limit` bytes (the rest is dropped), within `timeoutMs`. */
export function readLimited(res: IncomingMessage, limit: number, timeoutMs = errorRelayTimeoutMs): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => {
      res.destroy();
      done();
    }, timeoutMs);
    timer.unref();
    res.on('data', (c: Buffer) => {
      if (n >= limit) return;
      const take = c.subarray(0, limit - n);
      chunks.push(take);
      n += take.length;
      if (n >= limit) res.destroy();
    });
    res.on('end', done);
    res.on('close', done);
    res.on('error', done);
  });
}

/**
 * Relays a failed upgrade's response to the client socket (status, headers, at most
 * `maxRelayedErrorBytes` of body) and closes it, as upstream replays the backend's answer.
 */
export async function relayResponse(res: IncomingMessage, socket: Duplex, timeoutMs = errorRelayTimeoutMs): Promise<void> {
  const body = await readLimited(res, maxRelayedErrorBytes, timeoutMs);
  const head = responseHead(res, ['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
  socket.end(Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'latin1'), body]));
  const t = setTimeout(() => socket.destroy(), timeoutMs);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}

/**
 * Pipes two sockets until either closes (then both are closed), and closes both after
 * `idleTimeoutMs` without a byte either way. `aHead`/`bHead`: bytes already read from one side,
 * written to the other first. Resolves when both are closed.
 */
export function pipeSockets(a: Duplex, b: Duplex, opts: { idleTimeoutMs?: number; aHead?: Buffer; bHead?: Buffer } = {}): Promise<void> {
  const idle = opts.idleTimeoutMs ?? proxyIdleTimeoutMs;
  let last = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => {
      if (Date.now() - last >= idle) return void finish();
      arm();
    }, Math.max(1, last + idle - Date.now()));
    timer.unref();
  };
  let finished = false;
  const closed = Promise.all([a, b].map((s) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())))));
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    a.destroy();
    b.destroy();
  };
  const wire = (from: Duplex, to: Duplex) => {
    from.on('data', (c: Buffer) => {
      last = Date.now();
      if (!to.write(c)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    // One direction ending ends the session (upstream closes both when either copy returns),
    // after what was written has been flushed.
    from.on('end', () => to.end(() => finish()));
    from.on('error', finish);
    from.on('close', () => {
      if (!to.writableNeedDrain || to.destroyed) finish();
      else to.once('drain', finish);
    });
  };
  if (opts.aHead?.length) b.write(opts.aHead);
  if (opts.bHead?.length) a.write(opts.bHead);
  wire(a, b);
  wire(b, a);
  if (idle > 0) arm();
  return closed.then(() => undefined);
}

/**
 * The raw upgrade proxy: sends the client's upgrade request to `target` and, on 101, relays the
 * answer and pipes the connections; on 4xx/5xx relays the answer and closes. Throws (before
 * touching the client socket) a BackendError when the backend cannot be reached, or
 * `invalid upgrade response: status code N` for any other answer: the caller reports those.
 * Resolves once the session is over.
 */
export async function proxyUpgrade(
  client: UpgradeRequest,
  target: UpstreamTarget,
  opts: { method?: string; headers?: RawHeaders; idleTimeoutMs?: number; responseTimeoutMs?: number; errorRelayTimeoutMs?: number } = {},
): Promise<void> {
  const dialed = await dialUpgrade(target, { method: opts.method ?? client.req.method ?? 'GET', headers: opts.headers ?? forwardedHeaders(client.req, target), timeoutMs: opts.responseTimeoutMs });
  if (!dialed.upgraded) {
    const status = dialed.response.statusCode ?? 0;
    if (status < 400) {
      dialed.response.destroy();
      throw new BackendError(`invalid upgrade response: status code ${status}`);
    }
    await relayResponse(dialed.response, client.socket, opts.errorRelayTimeoutMs);
    return;
  }
  client.socket.write(`${responseHead(dialed.response)}\r\n`);
  await pipeSockets(client.socket, dialed.socket, { idleTimeoutMs: opts.idleTimeoutMs, aHead: client.head, bHead: dialed.head });
}
