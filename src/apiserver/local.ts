/**
 * The in-process transport: how the controller manager, the scheduler, the simulated nodes, the
 * metrics server and the node agent that run inside `bosun server` reach their own API server
 * without TLS, HTTP/2 framing or JSON between them (upstream's kube-apiserver gives its own
 * loopback clients a similar shortcut). It implements the client library's `Transport`, so a
 * component cannot tell it from the network one.
 *
 * Contract:
 * - Every request goes through the server's whole request path: authentication (a component's
 *   certificate identity is given as the user it proves, a bearer token is checked by the
 *   server's authenticators on every request, as over HTTPS), authorization, admission, audit,
 *   the handlers and their bounds. Only the connection is left out.
 * - Answers are bytes, as over the network, with two exceptions that share the watch cache's
 *   frozen objects instead of copies: JSON lists asked for with `TransportRequest.shared`, and
 *   every watch event (when no conversion applies). Readers must never mutate them (they are
 *   deep-frozen; a write throws); the informers, the only watchers, hand them out as shared.
 * - A watch's queue is bounded (`maxQueuedEvents` objects, or `maxQueuedChars` of text): past
 *   it the server's watch waits for the consumer, and the watch cache ends a watcher that stays
 *   behind, exactly as over HTTP/2 with a full stream window.
 * - `close()` ends every open watch and refuses later calls.
 */
import { Readable, Writable } from 'node:stream';
import type { UserInfo } from '../api/types.ts';
import type { QueryParams, Transport, TransportRequest, TransportResponse, WatchEvent, WatchStream } from '../client/transport.ts';
import { queryString, timeoutError, watchQuery } from '../client/transport.ts';
import { statusErrorFromResponse } from '../client/errors.ts';
import type { Request } from './body.ts';

/** Events a watch may have queued for a consumer that has not taken them before the server waits. */
export const maxQueuedEvents = 1024;
/** The same bound for a watch answered as text (a conversion or another format). */
export const maxQueuedChars = 4 * 1024 * 1024;

/** Who the requests of one local transport run as. */
export interface LocalIdentity {
  /** The user the requests run as, as the component's client certificate would prove it (CN → username, O → groups). */
  user?: UserInfo;
  /** Current credentials, read per request: a bearer token is authenticated by the server on every request. */
  credentials?: () => { token?: string };
  userAgent?: string;
  /** Default timeout of a request (not of a watch once it is answered), ms. Default 60 000. */
  timeoutMs?: number;
}

/** The server's side: serves one request (authenticating it unless `user` is given). */
export type LocalServe = (req: Request, res: LocalResponse, user: UserInfo | undefined) => Promise<void>;

/** The user a client certificate with this subject proves (the x509 authenticator's mapping). */
export function certificateUser(commonName: string, organizations: readonly string[] = []): UserInfo {
  return { username: commonName, groups: [...organizations, 'system:authenticated'] };
}

/** A JSON watch event handed over as objects. */
export interface LocalEvent {
  type: string;
  object: unknown;
}

/**
 * The response a handler writes into: bytes as any Node response, or (where the handler knows
 * the answer is shareable) objects through `sendObject` and `sendEvents`.
 */
export class LocalResponse extends Writable {
  statusCode = 0;
  headers: Record<string, string> = {};
  headersSent = false;
  /** The request, for handlers that read it from the response (pretty printing). */
  readonly req: { url?: string; headers?: Record<string, unknown> };
  /** Objects may be handed over instead of JSON (the client accepts shared frozen objects). */
  readonly acceptsObjects: boolean;
  /** The client asked for JSON: an object of its own (a copy) may be handed over instead. */
  readonly acceptsCopies: boolean;
  object: unknown = undefined;
  #chunks: Buffer[] = [];
  #onHead: (() => void) | null = null;
  #watch: LocalWatchStream | null = null;
  #early: LocalEvent[] = [];

  constructor(req: { url?: string; headers?: Record<string, unknown> }, acceptsObjects: boolean, acceptsCopies = acceptsObjects) {
    super({ decodeStrings: false, highWaterMark: maxQueuedChars });
    this.req = req;
    this.acceptsObjects = acceptsObjects;
    this.acceptsCopies = acceptsCopies;
  }

  writeHead(code: number, headers?: Record<string, string | string[] | number>): this {
    if (this.headersSent) return this;
    this.statusCode = code;
    for (const [k, v] of Object.entries(headers ?? {})) this.headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    this.headersSent = true;
    this.#onHead?.();
    return this;
  }

  setHeader(name: string, value: string | number | readonly string[]): this {
    this.headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    return this;
  }

  getHeader(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }

  removeHeader(name: string): void {
    delete this.headers[name.toLowerCase()];
  }

  flushHeaders(): void {
    if (!this.headersSent) this.writeHead(this.statusCode || 200);
  }

  /** The whole answer as one shared object (a list of cached objects). */
  sendObject(code: number, obj: unknown, headers?: Record<string, string>): void {
    this.writeHead(code, { 'content-type': 'application/json', ...headers });
    this.object = obj;
    this.end();
  }

  /** Watch events as objects; false when the consumer's queue is full (wait for 'drain'). */
  sendEvents(events: LocalEvent[]): boolean {
    if (!this.headersSent) this.flushHeaders();
    if (this.destroyed) return true;
    const w = this.#watch;
    if (w) return w.pushEvents(events);
    // Before the transport has attached its stream (the handler runs on at once after the head).
    for (const e of events) this.#early.push(e);
    return true;
  }

  /** Resolves once the response is complete (ended, or destroyed). */
  finished(): Promise<void> {
    if (this.writableFinished || this.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.once('finish', resolve);
      this.once('close', resolve);
    });
  }

  /** Resolves once the status line is known. */
  head(): Promise<void> {
    if (this.headersSent) return Promise.resolve();
    return new Promise((resolve) => (this.#onHead = resolve));
  }

  /** Routes later chunks and events to a watch stream. */
  attach(w: LocalWatchStream): void {
    this.#watch = w;
    for (const c of this.#chunks.splice(0)) w.pushText(c);
    if (this.#early.length) w.pushEvents(this.#early.splice(0));
  }

  body(): Buffer {
    return this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.headersSent) this.writeHead(200);
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#watch) this.#watch.pushText(buf, cb);
    else {
      this.#chunks.push(buf);
      cb();
    }
  }
}

/** Watch events from a local response: objects as handed over, or parsed from newline-delimited JSON. */
class LocalWatchStream implements WatchStream {
  #res: LocalResponse;
  #queue: WatchEvent[] = [];
  #text = '';
  #chars = 0;
  /** Write callbacks held back while the text queue is full. */
  #held: (() => void)[] = [];
  #blocked = false;
  #wake: (() => void) | null = null;
  #ended = false;
  #closed = false;
  #signal: AbortSignal | undefined;
  #onAbort = () => this.close();
  #onClose: () => void;

  constructor(res: LocalResponse, signal: AbortSignal | undefined, onClose: () => void) {
    this.#res = res;
    this.#signal = signal;
    this.#onClose = onClose;
    const end = () => {
      this.#ended = true;
      this.#notify();
    };
    res.on('finish', end);
    res.on('close', end);
    if (signal?.aborted) this.close();
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  pushEvents(events: LocalEvent[]): boolean {
    if (this.#closed) return true;
    for (const e of events) this.#queue.push(e as WatchEvent);
    this.#notify();
    if (this.#queue.length < maxQueuedEvents) return true;
    this.#blocked = true;
    return false;
  }

  pushText(chunk: Buffer, cb?: () => void): void {
    if (this.#closed) return void cb?.();
    this.#text += chunk.toString('utf8');
    let start = 0;
    let nl: number;
    while ((nl = this.#text.indexOf('\n', start)) >= 0) {
      const line = this.#text.slice(start, nl);
      start = nl + 1;
      if (line.trim()) this.#queue.push(JSON.parse(line) as WatchEvent);
    }
    if (start) this.#text = this.#text.slice(start);
    this.#chars += chunk.length;
    this.#notify();
    if (!cb) return;
    if (this.#chars < maxQueuedChars) cb();
    else this.#held.push(cb);
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** The consumer took everything queued: let the server go on. */
  #drained(): void {
    this.#chars = 0;
    for (const cb of this.#held.splice(0)) cb();
    if (this.#blocked) {
      this.#blocked = false;
      this.#res.emit('drain');
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#signal?.removeEventListener('abort', this.#onAbort);
    for (const cb of this.#held.splice(0)) cb();
    if (!this.#res.destroyed) this.#res.destroy();
    this.#onClose();
    this.#notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    try {
      for (;;) {
        if (this.#closed) return;
        if (this.#queue.length) {
          const batch = this.#queue;
          this.#queue = [];
          this.#drained();
          for (const ev of batch) {
            if (this.#closed) return;
            yield ev;
          }
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.close();
    }
  }
}

/**
 * `p`, unless `timeoutMs` (0: none) passes or `signal` aborts first (then rejects with the
 * timeout or the abort reason); leaves no timer or listener behind.
 */
async function withDeadline<T>(p: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        if (timeoutMs > 0) timer = setTimeout(() => reject(timeoutError(timeoutMs)), timeoutMs);
        if (signal) {
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    // Informers pass one long-lived signal to every watch they open: leave no listener behind.
    if (onAbort) signal!.removeEventListener('abort', onAbort);
  }
}

/** A client `Transport` served by the API server in this process. */
export class LocalTransport implements Transport {
  #serve: LocalServe;
  #id: LocalIdentity;
  #closed = false;
  #watches = new Set<LocalWatchStream>();

  constructor(serve: LocalServe, identity: LocalIdentity) {
    this.#serve = serve;
    this.#id = identity;
  }

  #request(method: string, path: string, query: QueryParams | undefined, body: string | Uint8Array | undefined, contentType: string | undefined, accept: string | undefined): Request {
    const url = path + queryString(query);
    const headers: Record<string, string> = { accept: accept ?? 'application/json' };
    if (this.#id.userAgent) headers['user-agent'] = this.#id.userAgent;
    if (body !== undefined) headers['content-type'] = contentType ?? 'application/json';
    const token = this.#id.credentials?.().token;
    if (token) headers['authorization'] = `Bearer ${token}`;
    const rawHeaders = Object.entries(headers).flat();
    const chunks = body === undefined ? [] : [typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength)];
    return Object.assign(Readable.from(chunks), { method, url, headers, rawHeaders, httpVersion: '2.0' }) as unknown as Request;
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    if (this.#closed) throw new Error('transport is closed');
    if (req.signal?.aborted) throw req.signal.reason;
    const r = this.#request(req.method, req.path, req.query, req.body, req.contentType, req.accept);
    const json = (req.accept ?? 'application/json') === 'application/json';
    const res = new LocalResponse(r, !!req.shared && json, json);
    try {
      await withDeadline(this.#serve(r, res, this.#id.user).then(() => res.finished()), req.timeoutMs ?? this.#id.timeoutMs ?? 60_000, req.signal);
    } catch (err) {
      res.destroy();
      throw err;
    }
    const out: TransportResponse = { status: res.statusCode, headers: res.headers, body: res.object === undefined ? res.body() : new Uint8Array(0) };
    if (res.object !== undefined) out.object = res.object;
    return out;
  }

  async watch(path: string, query: QueryParams, opts: { signal?: AbortSignal } = {}): Promise<WatchStream> {
    if (this.#closed) throw new Error('transport is closed');
    const signal = opts.signal;
    if (signal?.aborted) throw signal.reason;
    const r = this.#request('GET', path, watchQuery(query), undefined, undefined, 'application/json');
    const res = new LocalResponse(r, true);
    const served = this.#serve(r, res, this.#id.user);
    try {
      await withDeadline(Promise.race([res.head(), served.then(() => res.head())]), this.#id.timeoutMs ?? 60_000, signal);
    } catch (err) {
      res.destroy();
      throw err;
    }
    if (res.statusCode !== 200) {
      await res.finished();
      throw statusErrorFromResponse(res.statusCode, res.body());
    }
    const stream = new LocalWatchStream(res, signal, () => this.#watches.delete(stream));
    this.#watches.add(stream);
    res.attach(stream);
    if (this.#closed) stream.close();
    return stream;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of [...this.#watches]) w.close();
  }
}

/** The response when it takes an object of the client's own instead of JSON (an in-process client asked for JSON). */
export function copySink(res: unknown): LocalResponse | null {
  return res instanceof LocalResponse && res.acceptsCopies ? res : null;
}

/** True when the response takes shared objects (an in-process client asked for JSON). */
export function objectSink(res: unknown): LocalResponse | null {
  return res instanceof LocalResponse && res.acceptsObjects ? res : null;
}

