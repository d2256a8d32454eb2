/**
 * The transport: how the REST client reaches an API server. A small interface — one request,
 * one watch stream, close — so an in-process transport can later stand in for the network.
 *
 * `Http2Transport` is the network one: HTTP/2 over TLS, verifying the server against the
 * cluster CA and presenting the component's client certificate (or a bearer token). One session
 * is shared by all requests and watches; on GOAWAY, close or error the next request opens a new
 * one (streams already running on the old session finish there). A request that failed before
 * any answer arrived is retried once on a fresh session when that is safe (GET, or a stream the
 * server refused). A session with open streams is pinged periodically and dropped when a ping
 * goes unanswered, so a vanished server ends its watches. An idle session does not keep the
 * process alive.
 *
 * Errors: an HTTP answer is returned as is by `request` (the REST layer maps it to a
 * StatusError); `watch` throws the StatusError itself when the server refuses the watch.
 * Connection failures reject with Node's error; aborts with the signal's reason; timeouts with
 * a DOMException named 'TimeoutError'.
 */
import http2 from 'node:http2';
import type { KubeObject, Status } from '../api/types.ts';
import type { ClusterConnection } from './kubeconfig.ts';
import { statusErrorFromResponse } from './errors.ts';

export type QueryParams = URLSearchParams | Record<string, string | number | boolean | undefined>;

export interface TransportRequest {
  method: string;
  /** Absolute path, e.g. /api/v1/namespaces/default/pods/p (no query). */
  path: string;
  query?: QueryParams;
  body?: string | Uint8Array;
  /** Default application/json when there is a body. */
  contentType?: string;
  /** Default application/json. */
  accept?: string;
  signal?: AbortSignal;
  /** Overrides the transport's default request timeout (ms); 0 = none. */
  timeoutMs?: number;
  /**
   * The caller takes shared, frozen objects: an in-process transport may answer a JSON list with
   * the API server's cached objects (`TransportResponse.object`) instead of bytes. Never mutate them.
   */
  shared?: boolean;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
  /** The decoded answer, when an in-process transport handed over shared objects (then `body` is empty). */
  object?: unknown;
}

export type WatchEvent<T = KubeObject> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: T }
  | { type: 'ERROR'; object: Status };

/**
 * Watch events in arrival order. Ends when the server ends the watch; `close()` ends it early.
 * Event objects may be shared with other readers in this process (an in-process transport hands
 * out the API server's cached, frozen objects): never mutate them.
 */
export interface WatchStream<T = KubeObject> extends AsyncIterable<WatchEvent<T>> {
  close(): void;
}

export interface Transport {
  request(req: TransportRequest): Promise<TransportResponse>;
  /** Opens a watch (GET with `watch=true` added). Rejects with a StatusError when refused. */
  watch(path: string, query: QueryParams, opts?: { signal?: AbortSignal }): Promise<WatchStream>;
  /** Ends every session; later calls reject. */
  close(): Promise<void>;
}

/** A watch's query: `query` with `watch=true` added (a copy). */
export function watchQuery(query: QueryParams): URLSearchParams {
  const q = query instanceof URLSearchParams ? new URLSearchParams(query) : new URLSearchParams(queryString(query).slice(1));
  q.set('watch', 'true');
  return q;
}

/** `?a=1&b=x` for the defined entries ('' when none). */
export function queryString(q: QueryParams | undefined): string {
  if (!q) return '';
  const p = q instanceof URLSearchParams ? q : new URLSearchParams();
  if (!(q instanceof URLSearchParams)) for (const [k, v] of Object.entries(q)) if (v !== undefined) p.append(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface Http2TransportOptions extends ClusterConnection {
  /** Sent as User-Agent. */
  userAgent?: string;
  /** Default timeout of a request (not of a watch once it is answered), ms. Default 60 000. */
  timeoutMs?: number;
  /** How often a session with open streams is pinged, ms. Default 30 000. */
  pingIntervalMs?: number;
  /** A ping unanswered this long drops the session, ms. Default 15 000. */
  pingTimeoutMs?: number;
  /**
   * Current credentials, read for every request: a rotated client certificate makes later
   * requests open a new session with it (streams on the old one finish there); a token is sent
   * as it is now. Overrides `cert`, `key` and `token` where it returns them.
   */
  credentials?: () => CredentialSet;
  log?: (msg: string) => void;
}

/** A client certificate and its key, and/or a bearer token. */
export interface CredentialSet {
  cert?: string;
  key?: string;
  token?: string;
}

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** Errors that mean the request never reached the server: safe to retry on a new session. */
function neverSent(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION') return true;
  if (code === 'ERR_HTTP2_STREAM_ERROR' && /REFUSED_STREAM/.test(String((err as Error).message))) return true;
  return false;
}

function connectionLevel(err: unknown): boolean {
  if (err instanceof DOMException) return false; // abort or timeout
  const code = (err as { code?: string } | null)?.code ?? '';
  return code.startsWith('ERR_HTTP2_') || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNREFUSED';
}

/** A request's timeout, as every transport reports it. */
export function timeoutError(ms: number): DOMException {
  return new DOMException(`request timed out after ${ms} ms`, 'TimeoutError');
}

interface SessionState {
  active: number;
  ping: ReturnType<typeof setInterval> | null;
  /** The client certificate the session presented. */
  cert: string | undefined;
}

export class Http2Transport implements Transport {
  #origin: string;
  #basePath: string;
  #opts: Http2TransportOptions;
  #session: http2.ClientHttp2Session | null = null;
  #sessions = new Map<http2.ClientHttp2Session, SessionState>();
  #closed = false;
  #opened = 0;
  #log: (msg: string) => void;

  constructor(opts: Http2TransportOptions) {
    let url: URL;
    try {
      url = new URL(opts.server);
    } catch {
      throw new TypeError(`invalid server URL ${JSON.stringify(opts.server)}`);
    }
    if (url.protocol !== 'https:') throw new TypeError(`server URL must be https: ${opts.server}`);
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#opts = opts;
    this.#log = opts.log ?? (() => {});
  }

  get server(): string {
    return this.#origin + this.#basePath;
  }

  /** How many sessions this transport has opened so far (1 while the first one lasts). */
  get sessionsOpened(): number {
    return this.#opened;
  }

  #getSession(): http2.ClientHttp2Session {
    if (this.#closed) throw new Error('transport is closed');
    const o = this.#opts;
    const creds = o.credentials?.();
    const cert = creds?.cert ?? o.cert;
    const cur = this.#session;
    if (cur && !cur.closed && !cur.destroyed) {
      if (this.#sessions.get(cur)?.cert === cert) return cur;
      // Rotated certificate: new requests go to a new session; the old one ends when its streams do.
      this.#session = null;
      cur.close();
    }
    const session = http2.connect(this.#origin, {
      ca: o.ca,
      cert,
      key: creds?.key ?? o.key,
      rejectUnauthorized: !o.insecureSkipTlsVerify,
      ...(o.tlsServerName ? { servername: o.tlsServerName } : {}),
    });
    this.#opened++;
    const state: SessionState = { active: 0, ping: null, cert };
    this.#sessions.set(session, state);
    const drop = () => {
      if (this.#session === session) this.#session = null;
    };
    session.on('error', (err) => {
      this.#log(`http2 session to ${this.#origin}: ${err.message}`);
      drop();
    });
    session.on('goaway', drop);
    session.on('close', () => {
      drop();
      if (state.ping) clearInterval(state.ping);
      this.#sessions.delete(session);
    });
    session.unref();
    const every = o.pingIntervalMs ?? 30_000;
    if (every > 0) {
      state.ping = setInterval(() => this.#ping(session, state), every);
      state.ping.unref();
    }
    this.#session = session;
    return session;
  }

  #ping(session: http2.ClientHttp2Session, state: SessionState): void {
    if (state.active === 0 || session.destroyed || session.closed) return;
    const limit = this.#opts.pingTimeoutMs ?? 15_000;
    const t = setTimeout(() => {
      this.#log(`http2 session to ${this.#origin}: ping unanswered after ${limit} ms; dropping it`);
      if (this.#session === session) this.#session = null;
      session.destroy();
    }, limit);
    t.unref();
    try {
      session.ping((err) => {
        clearTimeout(t);
        if (err && !session.destroyed) {
          if (this.#session === session) this.#session = null;
          session.destroy();
        }
      });
    } catch {
      clearTimeout(t);
    }
  }

  #begin(session: http2.ClientHttp2Session): void {
    const st = this.#sessions.get(session);
    if (!st) return;
    if (st.active++ === 0 && !session.destroyed) session.ref();
  }

  #end(session: http2.ClientHttp2Session): void {
    const st = this.#sessions.get(session);
    if (!st) return;
    if (--st.active === 0 && !session.destroyed) session.unref();
  }

  #headers(method: string, path: string, query: QueryParams | undefined, accept: string | undefined, contentType: string | undefined): http2.OutgoingHttpHeaders {
    const h: http2.OutgoingHttpHeaders = {
      ':method': method,
      ':path': this.#basePath + path + queryString(query),
      accept: accept ?? 'application/json',
    };
    if (this.#opts.userAgent) h['user-agent'] = this.#opts.userAgent;
    if (contentType) h['content-type'] = contentType;
    const token = this.#opts.credentials?.().token ?? this.#opts.token;
    if (token) h['authorization'] = `Bearer ${token}`;
    return h;
  }

  /** Opens a stream, retrying once on a fresh session if the current one was already unusable. */
  #open(headers: http2.OutgoingHttpHeaders, endStream: boolean): { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream } {
    for (let attempt = 0; ; attempt++) {
      const session = this.#getSession();
      try {
        const stream = session.request(headers, { endStream });
        this.#begin(session);
        trackStream(session, stream);
        stream.once('close', () => this.#end(session));
        return { session, stream };
      } catch (err) {
        if (this.#session === session) this.#session = null;
        if (attempt > 0 || !neverSent(err)) throw err;
      }
    }
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const idempotent = req.method === 'GET' || req.method === 'HEAD';
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#requestOnce(req);
      } catch (err) {
        const e = err as { answered?: boolean };
        const retry = attempt === 0 && !e.answered && !req.signal?.aborted && (neverSent(err) || (idempotent && connectionLevel(err)));
        if (!retry) throw err;
      }
    }
  }

  #requestOnce(req: TransportRequest): Promise<TransportResponse> {
    if (req.signal?.aborted) return Promise.reject(req.signal.reason);
    const body = req.body;
    const headers = this.#headers(req.method, req.path, req.query, req.accept, body !== undefined ? (req.contentType ?? 'application/json') : undefined);
    const { stream } = this.#open(headers, body === undefined);
    const timeoutMs = req.timeoutMs ?? this.#opts.timeoutMs ?? 60_000;
    return new Promise<TransportResponse>((resolve, reject) => {
      let status = 0;
      let resHeaders: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (err: unknown, value?: TransportResponse) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        if (err) {
          if (err && typeof err === 'object' && !(err instanceof DOMException)) (err as { answered?: boolean }).answered = status !== 0;
          reject(err);
        } else resolve(value!);
      };
      const onAbort = () => {
        finish(req.signal!.reason);
        stream.close(NGHTTP2_CANCEL);
      };
      const timer = timeoutMs > 0
        ? setTimeout(() => {
            finish(timeoutError(timeoutMs));
            stream.close(NGHTTP2_CANCEL);
          }, timeoutMs)
        : null;
      req.signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('response', (h) => {
        status = Number(h[':status']);
        resHeaders = h as Record<string, string | string[] | undefined>;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        // A session torn down under the stream (its connection closed) can end it with no answer.
        if (status === 0) finish(Object.assign(new Error('stream ended before a response arrived (connection closed)'), { code: 'ECONNRESET' }));
        else finish(undefined, { status, headers: resHeaders, body: Buffer.concat(chunks) });
      });
      stream.on('error', (err) => finish(err));
      stream.on('close', () => {
        if (settled) return;
        const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM;
        const err = Object.assign(new Error(`stream closed before the response completed (code ${stream.rstCode})`), {
          code: refused ? 'ERR_HTTP2_STREAM_ERROR' : 'ERR_HTTP2_STREAM_CANCEL',
        });
        if (refused) err.message += ' REFUSED_STREAM';
        finish(err);
      });
      if (body !== undefined) stream.end(body);
    });
  }

  async watch(path: string, query: QueryParams, opts: { signal?: AbortSignal } = {}): Promise<WatchStream> {
    const signal = opts.signal;
    if (signal?.aborted) throw signal.reason;
    const q = watchQuery(query);
    const headers = this.#headers('GET', path, q, 'application/json', undefined);
    const { stream } = this.#open(headers, true);
    const timeoutMs = this.#opts.timeoutMs ?? 60_000;
    const status = await new Promise<number>((resolve, reject) => {
      let done = false;
      const finish = (err: unknown, code?: number) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        stream.off('response', onResponse);
        stream.off('error', onError);
        stream.off('close', onClose);
        if (err) reject(err);
        else resolve(code!);
      };
      const onAbort = () => {
        finish(signal!.reason);
        stream.close(NGHTTP2_CANCEL);
      };
      const onResponse = (h: http2.IncomingHttpHeaders) => finish(undefined, Number(h[':status']));
      const onError = (err: Error) => finish(err);
      const onClose = () => finish(Object.assign(new Error(`watch stream closed before the response (code ${stream.rstCode})`), { code: 'ERR_HTTP2_STREAM_CANCEL' }));
      const timer = timeoutMs > 0
        ? setTimeout(() => {
            finish(timeoutError(timeoutMs));
            stream.close(NGHTTP2_CANCEL);
          }, timeoutMs)
        : null;
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('response', onResponse);
      stream.on('error', onError);
      stream.on('close', onClose);
    });
    if (status !== 200) {
      const chunks: Buffer[] = [];
      try {
        for await (const c of stream) chunks.push(c as Buffer);
      } catch {
        // the status alone will do
      }
      throw statusErrorFromResponse(status, Buffer.concat(chunks));
    }
    return new Http2WatchStream(stream, signal, () => this.#closed);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#session = null;
    const all = [...this.#sessions.keys()];
    await Promise.all(
      all.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed) return resolve();
            // Not unref'd: a session whose graceful close never completes would otherwise let the
            // process end with this promise pending, and the caller's code after close() unrun.
            const t = setTimeout(() => {
              s.destroy();
              resolve();
            }, 1000);
            s.close(() => {
              clearTimeout(t);
              resolve();
            });
            // Streams still open (watches) would hold a graceful close forever: cancel them.
            for (const st of streamsOf(s)) st.close(NGHTTP2_CANCEL);
          }),
      ),
    );
  }
}

// Open streams per session, to cancel on close (Node keeps no public list).
const openStreams = new WeakMap<http2.ClientHttp2Session, Set<http2.ClientHttp2Stream>>();
function streamsOf(s: http2.ClientHttp2Session): Set<http2.ClientHttp2Stream> {
  return openStreams.get(s) ?? new Set();
}
function trackStream(s: http2.ClientHttp2Session, st: http2.ClientHttp2Stream): void {
  let set = openStreams.get(s);
  if (!set) openStreams.set(s, (set = new Set()));
  set.add(st);
  st.once('close', () => set.delete(st));
}

/** Newline-delimited JSON watch events from one HTTP/2 stream; ends quietly when closed by this side. */
class Http2WatchStream implements WatchStream {
  #stream: http2.ClientHttp2Stream;
  #signal: AbortSignal | undefined;
  #closed = false;
  #transportClosed: () => boolean;
  #onAbort = () => this.close();

  constructor(stream: http2.ClientHttp2Stream, signal: AbortSignal | undefined, transportClosed: () => boolean) {
    this.#stream = stream;
    this.#signal = signal;
    this.#transportClosed = transportClosed;
    // Errors surface through iteration; this keeps one arriving before iteration starts from
    // being an unhandled 'error' event.
    stream.on('error', () => {});
    if (signal?.aborted) this.close();
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (!this.#stream.destroyed) this.#stream.close(NGHTTP2_CANCEL);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of this.#stream) {
        if (this.#closed) return;
        buf += decoder.decode(chunk as Buffer, { stream: true });
        let start = 0;
        let nl: number;
        const events: WatchEvent[] = [];
        while ((nl = buf.indexOf('\n', start)) >= 0) {
          const line = buf.slice(start, nl);
          start = nl + 1;
          if (line.trim()) events.push(JSON.parse(line) as WatchEvent);
        }
        buf = start ? buf.slice(start) : buf;
        for (const ev of events) {
          if (this.#closed) return;
          yield ev;
        }
      }
      const rest = buf + decoder.decode();
      if (rest.trim() && !this.#closed) yield JSON.parse(rest) as WatchEvent;
    } catch (err) {
      // Ended by us (close, abort) or by closing the transport: a normal end.
      if (this.#closed || this.#transportClosed()) return;
      throw err;
    } finally {
      this.close();
    }
  }
}
