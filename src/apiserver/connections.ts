/**
 * Connection timeouts for the API server's listener, as kube-apiserver's `http.Server` and Go's
 * HTTP/2 server apply them, so that anonymous clients cannot hold connections open for free:
 * - a TLS handshake must complete within the header timeout (Go bounds the handshake by the
 *   smallest of its read/write/header timeouts, which upstream leaves at ReadHeaderTimeout);
 * - HTTP/1.1: a request's headers must arrive within 32 s of the connection (or, on a kept-alive
 *   connection, of the request's first byte); a kept-alive connection idle for 90 s is closed;
 * - HTTP/2: the client preface and first SETTINGS must arrive within 10 s; a session with no
 *   open stream for 90 s is sent GOAWAY and closed. A session with an open stream (a watch) is
 *   never idle, however quiet it is.
 * Go checks the preface (10 s) and the first SETTINGS frame (2 s more) separately; Node does not
 * report the preface on its own, so both are covered by the one preface deadline here.
 */
import type http2 from 'node:http2';

/** Upstream `http.Server.ReadHeaderTimeout` (k8s.io/apiserver pkg/server/secure_serving.go). */
export const readHeaderTimeoutMs = 32_000;
/** Upstream `http.Server.IdleTimeout` and `http2.Server.IdleTimeout`. */
export const idleTimeoutMs = 90_000;
/** Go's HTTP/2 server `prefaceTimeout` (golang.org/x/net/http2). */
export const http2PrefaceTimeoutMs = 10_000;

export interface ConnectionTimeouts {
  /** TLS handshake deadline. Default: `readHeaderTimeoutMs`, as Go derives it. */
  tlsHandshakeMs: number;
  /** HTTP/1.1 request headers deadline. */
  readHeaderMs: number;
  /** Idle HTTP/1.1 keep-alive connection, or HTTP/2 session with no open stream. */
  idleMs: number;
  /** HTTP/2 client preface (and first SETTINGS) deadline. */
  http2PrefaceMs: number;
}

export function connectionTimeouts(overrides: Partial<ConnectionTimeouts> = {}): ConnectionTimeouts {
  const readHeaderMs = overrides.readHeaderMs ?? readHeaderTimeoutMs;
  return {
    tlsHandshakeMs: overrides.tlsHandshakeMs ?? readHeaderMs,
    readHeaderMs,
    idleMs: overrides.idleMs ?? idleTimeoutMs,
    http2PrefaceMs: overrides.http2PrefaceMs ?? http2PrefaceTimeoutMs,
  };
}

/** Options for `http2.createSecureServer` that carry the timeouts Node applies itself. */
export function secureServerTimeoutOptions(t: ConnectionTimeouts): { handshakeTimeout: number } {
  return { handshakeTimeout: t.tlsHandshakeMs };
}

/** The HTTP/1.1 fallback's fields on the server (Node's `http.Server` properties, read per connection). */
interface Http1Timeouts {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  keepAliveTimeoutBuffer?: number;
  connectionsCheckingInterval: number;
}

/**
 * Applies the timeouts to a server created with `allowHTTP1`; call before `listen` (Node reads
 * the checking interval when listening starts).
 */
export function installConnectionTimeouts(server: http2.Http2SecureServer, t: ConnectionTimeouts): void {
  const h1 = server as unknown as Http1Timeouts;
  // Node checks header deadlines on an interval; a tenth of the deadline (at most 1 s) keeps the
  // close within 10% of the deadline.
  h1.connectionsCheckingInterval = Math.max(10, Math.min(1000, Math.floor(t.readHeaderMs / 10)));
  h1.headersTimeout = t.readHeaderMs;
  // Upstream sets no ReadTimeout: a request body is bounded by the handlers, not by the connection.
  h1.requestTimeout = 0;
  h1.keepAliveTimeout = t.idleMs;
  // Node would add a second to the idle deadline it announces; Go announces none and closes at it.
  h1.keepAliveTimeoutBuffer = 0;
  server.on('session', (session) => watchSession(session, t));
}

/** The HTTP/2 preface deadline and the idle deadline (no open stream) of one session. */
function watchSession(session: http2.ServerHttp2Session, t: ConnectionTimeouts): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const preface = setTimeout(() => session.destroy(), t.http2PrefaceMs);
  preface.unref();
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      if (open === 0 && !session.closed) goAway(session);
    }, t.idleMs);
    idle.unref();
  };
  session.once('remoteSettings', () => {
    clearTimeout(preface);
    if (open === 0) armIdle();
  });
  session.on('stream', (stream) => {
    clearTimeout(preface);
    open++;
    clearTimeout(idle);
    idle = undefined;
    stream.once('close', () => {
      open--;
      if (open === 0 && !session.closed && !session.destroyed) armIdle();
    });
  });
  session.once('close', () => {
    clearTimeout(preface);
    clearTimeout(idle);
  });
}

/** How long a session told GOAWAY for idleness may take to close before it is destroyed. */
const goAwayGraceMs = 1000;

/** GOAWAY (NO_ERROR), then the socket is closed; a client that does not close it is cut off. */
function goAway(session: http2.ServerHttp2Session): void {
  session.close();
  const force = setTimeout(() => session.destroy(), goAwayGraceMs);
  force.unref();
  session.once('close', () => clearTimeout(force));
}
