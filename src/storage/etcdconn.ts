/**
 * A lean gRPC client for etcd's hot path on `node:http2`: one HTTP/2 session per member (h2c for
 * `http://`, TLS with the store's CA and client certificate for `https://`), unary calls and
 * bidirectional streams with gRPC's HTTP/2 mapping (POST `/<service>/<method>`,
 * `content-type: application/grpc`, `te: trailers`, `grpc-timeout`, status in the `grpc-status` /
 * `grpc-message` trailers or in a trailers-only response). Messages are encoded by etcdwire.ts.
 *
 * Errors are GrpcCallError with grpc-js's shape (`code`, `details`, message `<code> <NAME>: <details>`),
 * so the store's retry rules treat them as they treated grpc-js errors: a refused or dropped
 * connection is UNAVAILABLE with details not starting with `etcdserver:`, a passed deadline
 * DEADLINE_EXCEEDED, a reset stream INTERNAL / UNAVAILABLE (REFUSED_STREAM) naming RST_STREAM.
 * A session that fails or is closed by the peer (GOAWAY) is replaced on the next call; keepalive
 * pings (every 30 s while calls or streams are open, 10 s to answer) destroy a session whose member
 * stopped answering. The session keeps the process alive only while calls or streams are open.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { FrameReader } from './etcdwire.ts';

export interface EtcdConnTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const CODE_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

export const UNAVAILABLE = 14;
export const DEADLINE_EXCEEDED = 4;
export const CANCELLED = 1;
export const INTERNAL = 13;

export class GrpcCallError extends Error {
  readonly code: number;
  readonly details: string;
  constructor(code: number, details: string) {
    super(`${code} ${CODE_NAMES[code] ?? 'UNKNOWN'}: ${details}`);
    this.code = code;
    this.details = details;
  }
}

const KEEPALIVE_MS = 30_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;
const WINDOW = 16 << 20;

const {
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_CONTENT_TYPE,
  HTTP2_HEADER_TE,
  NGHTTP2_CANCEL,
  NGHTTP2_REFUSED_STREAM,
} = http2.constants;

/** One member's connection: an HTTP/2 session, re-made after it fails. */
export class EtcdConn {
  readonly url: string;
  readonly #authority: string;
  readonly #tls: EtcdConnTls | undefined;
  #session: http2.ClientHttp2Session | null = null;
  #keepalive: NodeJS.Timeout | null = null;
  #closed = false;
  /** Unary calls in flight with their deadlines (checked by one timer per connection). */
  #inflight = new Set<Unary>();
  #deadlineTimer: NodeJS.Timeout | null = null;
  /** Calls and streams open: the session keeps the process alive only while there are some. */
  #active = 0;

  constructor(url: string, tls?: EtcdConnTls) {
    // `etcd://` and bare `host:port` endpoints are plain HTTP, as etcd's clients take them.
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url.replace(/^etcd:\/\//, 'http://') : `http://${url}`);
    this.url = url;
    this.#authority = `${u.protocol === 'https:' ? 'https' : 'http'}://${u.host}`;
    this.#tls = u.protocol === 'https:' ? (tls ?? {}) : undefined;
  }

  #connect(): http2.ClientHttp2Session {
    const s = this.#session;
    if (s && !s.closed && !s.destroyed) return s;
    const opts: http2.SecureClientSessionOptions = {
      settings: { initialWindowSize: WINDOW, enablePush: false },
      maxSessionMemory: 64,
    };
    if (this.#tls) {
      if (this.#tls.ca) opts.ca = this.#tls.ca;
      if (this.#tls.cert) opts.cert = this.#tls.cert;
      if (this.#tls.key) opts.key = this.#tls.key;
      opts.ALPNProtocols = ['h2'];
      // No SNI for an IP address (RFC 6066); the certificate is still checked against the IP.
      const host = new URL(this.#authority).hostname.replace(/^\[|\]$/g, '');
      if (net.isIP(host)) opts.servername = '';
    }
    const session = http2.connect(this.#authority, opts);
    session.on('error', () => {}); // streams report it
    session.on('connect', () => {
      try {
        session.setLocalWindowSize(WINDOW * 4);
      } catch {}
    });
    const drop = (): void => {
      if (this.#session === session) this.#session = null;
    };
    session.on('goaway', drop);
    session.on('close', drop);
    if (!this.#active) session.unref();
    this.#session = session;
    this.#armKeepalive();
    return session;
  }

  #armKeepalive(): void {
    if (this.#keepalive) return;
    this.#keepalive = setInterval(() => {
      const s = this.#session;
      // Only with calls or streams open: etcd's gRPC server counts pings on an idle connection as
      // abuse (keepalive enforcement without PermitWithoutStream) and sends GOAWAY too_many_pings.
      if (!s || s.destroyed || s.connecting || !this.#active) return;
      const timer = setTimeout(() => s.destroy(new Error('keepalive ping timed out')), KEEPALIVE_TIMEOUT_MS);
      timer.unref();
      try {
        s.ping((err) => {
          clearTimeout(timer);
          if (err && !s.destroyed) s.destroy(err);
        });
      } catch {
        clearTimeout(timer);
      }
    }, KEEPALIVE_MS);
    this.#keepalive.unref();
  }

  /** @internal counts a call or stream in (+1) or out (-1). */
  hold(d: number): void {
    this.#active += d;
    const s = this.#session;
    if (!s || s.destroyed) return;
    if (d > 0 && this.#active === 1) s.ref();
    else if (d < 0 && this.#active === 0) s.unref();
  }

  /** Request headers, built once per path and timeout (node copies them per request). */
  #headerCache = new Map<string, http2.OutgoingHttpHeaders>();

  #headers(path: string, timeoutMs: number): http2.OutgoingHttpHeaders {
    const k = `${path} ${timeoutMs}`;
    let h = this.#headerCache.get(k);
    if (!h) {
      h = this.#buildHeaders(path, timeoutMs);
      if (this.#headerCache.size < 64) this.#headerCache.set(k, h);
    }
    return h;
  }

  #buildHeaders(path: string, timeoutMs: number): http2.OutgoingHttpHeaders {
    const h: http2.OutgoingHttpHeaders = {
      [HTTP2_HEADER_METHOD]: 'POST',
      [HTTP2_HEADER_PATH]: path,
      [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      [HTTP2_HEADER_TE]: 'trailers',
    };
    if (timeoutMs > 0) h['grpc-timeout'] = `${Math.ceil(timeoutMs)}m`;
    return h;
  }

  /**
   * One unary call: `frame` is a whole gRPC frame (etcdwire's encoders); answers the response
   * message (without the prefix) or rejects with a GrpcCallError.
   */
  unary(path: string, frame: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new GrpcCallError(CANCELLED, 'connection closed'));
    return new Promise<Buffer>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.#connect().request(this.#headers(path, timeoutMs), { endStream: false });
      } catch (err) {
        this.#session?.destroy();
        this.#session = null;
        reject(new GrpcCallError(UNAVAILABLE, `connection: ${(err as Error).message}`));
        return;
      }
      this.hold(1);
      const call = new Unary(stream, resolve, reject, timeoutMs > 0 ? Date.now() + timeoutMs : Infinity, this);
      this.track(call, true);
      if (timeoutMs > 0 && !this.#deadlineTimer) this.#armDeadlines();
      stream.end(frame);
    });
  }

  #armDeadlines(): void {
    this.#deadlineTimer = setInterval(() => {
      if (!this.#inflight.size) {
        clearInterval(this.#deadlineTimer!);
        this.#deadlineTimer = null;
        return;
      }
      const now = Date.now();
      for (const c of this.#inflight) if (c.deadline <= now) c.expire();
    }, 50);
    this.#deadlineTimer.unref();
  }

  /**
   * A bidirectional stream (etcd's Watch): `onMessage` gets each response message, `onEnd` once
   * with the error that ended it (a GrpcCallError; `null` for OK).
   */
  stream(path: string, onMessage: (msg: Buffer) => void, onEnd: (err: GrpcCallError | null) => void): BidiStream {
    return new BidiStream(this, path, onMessage, onEnd);
  }

  /** @internal */
  track(c: Unary, add: boolean): void {
    if (add) this.#inflight.add(c);
    else if (this.#inflight.delete(c)) this.hold(-1);
  }

  /** @internal the session for a new stream (connecting when needed). */
  openStream(path: string): http2.ClientHttp2Stream {
    if (this.#closed) throw new GrpcCallError(CANCELLED, 'connection closed');
    try {
      return this.#connect().request(this.#headers(path, 0), { endStream: false });
    } catch (err) {
      this.#session?.destroy();
      this.#session = null;
      throw new GrpcCallError(UNAVAILABLE, `connection: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#keepalive) clearInterval(this.#keepalive);
    if (this.#deadlineTimer) clearInterval(this.#deadlineTimer);
    this.#keepalive = this.#deadlineTimer = null;
    for (const c of [...this.#inflight]) c.fail(new GrpcCallError(CANCELLED, 'connection closed'));
    this.#session?.destroy();
    this.#session = null;
  }
}

/** The status of a finished stream from its headers/trailers and RST code. */
function statusOf(status: string | undefined, message: string | undefined, stream: http2.ClientHttp2Stream, cause: Error | null): GrpcCallError | null {
  const rstCode = stream.rstCode ?? 0;
  if (status !== undefined) {
    const code = Number(status);
    if (code === 0) return null;
    return new GrpcCallError(code, message ? decodeMessage(message) : '');
  }
  if (cause) return new GrpcCallError(UNAVAILABLE, `connection: ${cause.message}`);
  // Streams of a session that went away are closed with CANCEL by node: the connection dropped.
  const session = stream.session;
  if (!session || session.closed || session.destroyed) return new GrpcCallError(UNAVAILABLE, 'connection: connection dropped');
  if (rstCode === NGHTTP2_REFUSED_STREAM) return new GrpcCallError(UNAVAILABLE, 'stream refused (RST_STREAM code 7)');
  if (rstCode === NGHTTP2_CANCEL) return new GrpcCallError(CANCELLED, 'stream cancelled (RST_STREAM code 8)');
  if (rstCode) return new GrpcCallError(INTERNAL, `received RST_STREAM with code ${rstCode}`);
  return new GrpcCallError(UNAVAILABLE, 'connection: stream closed without a status');
}

/** grpc-message is percent-encoded. */
function decodeMessage(m: string): string {
  if (!m.includes('%')) return m;
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}

class Unary {
  readonly deadline: number;
  readonly #stream: http2.ClientHttp2Stream;
  readonly #resolve: (b: Buffer) => void;
  readonly #reject: (e: GrpcCallError) => void;
  readonly #conn: EtcdConn;
  #chunks: Buffer[] = [];
  #len = 0;
  #status: string | undefined;
  #message: string | undefined;
  #cause: Error | null = null;
  #done = false;

  constructor(stream: http2.ClientHttp2Stream, resolve: (b: Buffer) => void, reject: (e: GrpcCallError) => void, deadline: number, conn: EtcdConn) {
    this.#stream = stream;
    this.#resolve = resolve;
    this.#reject = reject;
    this.deadline = deadline;
    this.#conn = conn;
    stream.on('response', this.#onHeaders);
    stream.on('trailers', this.#onHeaders);
    stream.on('data', this.#onData);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
  }

  #onHeaders = (h: http2.IncomingHttpHeaders): void => {
    const s = h['grpc-status'];
    if (s !== undefined) {
      this.#status = s as string;
      this.#message = h['grpc-message'] as string | undefined;
    }
  };

  #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#len += chunk.length;
  };

  #onError = (err: Error): void => {
    this.#cause ??= err;
  };

  #onClose = (): void => {
    if (this.#done) return;
    const err = statusOf(this.#status, this.#message, this.#stream, this.#status === undefined ? this.#cause : null);
    if (err) return this.fail(err);
    const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#len);
    if (buf.length < 5 || buf[0] !== 0) return this.fail(new GrpcCallError(INTERNAL, 'malformed gRPC response'));
    const len = buf.readUInt32BE(1);
    if (buf.length < 5 + len) return this.fail(new GrpcCallError(INTERNAL, 'truncated gRPC response'));
    this.#done = true;
    this.#conn.track(this, false);
    this.#resolve(buf.subarray(5, 5 + len));
  };

  expire(): void {
    this.fail(new GrpcCallError(DEADLINE_EXCEEDED, 'Deadline exceeded'));
  }

  fail(err: GrpcCallError): void {
    if (this.#done) return;
    this.#done = true;
    this.#conn.track(this, false);
    if (!this.#stream.closed) this.#stream.close(NGHTTP2_CANCEL);
    this.#reject(err);
  }
}

/** A bidirectional gRPC stream; `write` frames from etcdwire's encoders; `cancel` resets it. */
export class BidiStream {
  readonly #stream: http2.ClientHttp2Stream | null = null;
  readonly #conn: EtcdConn | null = null;
  #held = false;
  readonly #frames = new FrameReader();
  readonly #onMessage: (msg: Buffer) => void;
  readonly #onEnd: (err: GrpcCallError | null) => void;
  #status: string | undefined;
  #message: string | undefined;
  #cause: Error | null = null;
  #done = false;

  constructor(conn: EtcdConn, path: string, onMessage: (msg: Buffer) => void, onEnd: (err: GrpcCallError | null) => void) {
    this.#onMessage = onMessage;
    this.#onEnd = onEnd;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = conn.openStream(path);
    } catch (err) {
      queueMicrotask(() => this.#finish(err as GrpcCallError));
      return;
    }
    this.#stream = stream;
    this.#conn = conn;
    conn.hold(1);
    this.#held = true;
    const onHeaders = (h: http2.IncomingHttpHeaders): void => {
      const s = h['grpc-status'];
      if (s !== undefined) {
        this.#status = s as string;
        this.#message = h['grpc-message'] as string | undefined;
      }
    };
    stream.on('response', onHeaders);
    stream.on('trailers', onHeaders);
    stream.on('data', (chunk: Buffer) => {
      if (this.#done) return;
      let msgs: Buffer[];
      try {
        msgs = this.#frames.push(chunk);
      } catch (err) {
        this.#finish(new GrpcCallError(INTERNAL, (err as Error).message));
        return;
      }
      for (let i = 0; i < msgs.length && !this.#done; i++) this.#onMessage(msgs[i]!);
    });
    stream.on('error', (err: Error) => {
      this.#cause ??= err;
    });
    stream.on('close', () => {
      this.#finish(statusOf(this.#status, this.#message, stream, this.#status === undefined ? this.#cause : null) ?? new GrpcCallError(UNAVAILABLE, 'connection: stream ended'));
    });
  }

  #release(): void {
    if (this.#held) this.#conn?.hold(-1);
    this.#held = false;
  }

  #finish(err: GrpcCallError | null): void {
    this.#release();
    if (this.#done) return;
    this.#done = true;
    this.#onEnd(err);
  }

  write(frame: Buffer): void {
    const s = this.#stream;
    if (!s || this.#done || s.closed || s.destroyed) return;
    s.write(frame);
  }

  /** Resets the stream (RST_STREAM CANCEL); `onEnd` is not called afterwards. */
  cancel(): void {
    this.#done = true;
    this.#release();
    const s = this.#stream;
    if (s && !s.closed) s.close(NGHTTP2_CANCEL);
  }
}
