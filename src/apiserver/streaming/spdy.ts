/**
 * SPDY/3.1 as Kubernetes speaks it (moby/spdystream, used by kubectl, the kubelet and the CRI
 * streaming servers): the framing of every frame type, header blocks compressed with zlib and
 * the SPDY/3 dictionary, and a connection that multiplexes streams over one socket.
 *
 * Header compression keeps one compression context per direction for the connection's life,
 * as the protocol requires. Both directions are done synchronously: each header block is one
 * raw deflate/inflate call whose preset dictionary is the context's window (the SPDY dictionary
 * followed by every header byte sent or received so far, its last 32 KiB), which is exactly
 * what a continuous zlib stream flushed with Z_SYNC_FLUSH after each block refers back to.
 *
 * Flow control: the receiving side accounts its window and sends WINDOW_UPDATE as data is
 * delivered. The sending side does not wait for window: spdystream peers (every peer this code
 * meets) never send WINDOW_UPDATE, so honouring the 64 KiB initial window would stall every
 * stream after 64 KiB. Memory stays bounded by TCP instead, as spdystream bounds it: a stream
 * whose reader lags pauses the whole socket (head-of-line, like spdystream's unbuffered
 * channels), and a writer waits for the socket to drain.
 *
 * Bounds (named constants below, each tested): frame size, decompressed header block size,
 * concurrent streams, per-stream read buffer, time to answer a new stream, connection idleness.
 */
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import zlib from 'node:zlib';

/** The largest frame (payload) accepted. spdystream peers write data in 32 KiB pieces. */
export const maxFrameBytes = 1 << 20;
/** The largest decompressed header block accepted (the kubelet's MaxHeaderBytes, 1 MiB). */
export const maxHeaderBlockBytes = 1 << 20;
/** Data written in frames of at most this many bytes. */
export const maxDataFrameBytes = 32 * 1024;
/** SPDY/3's initial flow-control window; also each stream's read buffer before the socket pauses. */
export const initialWindowBytes = 64 * 1024;
/** Streams open at once on one connection; more are refused (RST_STREAM REFUSED_STREAM). */
export const maxConcurrentStreams = 1000;
/** How long a new stream waits for SYN_REPLY (upstream createStreamResponseTimeout). */
export const createStreamTimeoutMs = 30_000;
/** A connection with no frame either way for this long is closed (kubelet's StreamIdleTimeout). */
export const streamIdleTimeoutMs = 4 * 60 * 60 * 1000;
/** How long a closed connection may take to flush what it still has to send before it is cut. */
export const closeLingerMs = 30_000;

export const FrameType = {
  synStream: 1,
  synReply: 2,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goAway: 7,
  headers: 8,
  windowUpdate: 9,
} as const;

export const RstStatus = {
  protocolError: 1,
  invalidStream: 2,
  refusedStream: 3,
  unsupportedVersion: 4,
  cancel: 5,
  internalError: 6,
  flowControlError: 7,
  streamInUse: 8,
  streamAlreadyClosed: 9,
  frameTooLarge: 11,
} as const;

export const GoAwayStatus = { ok: 0, protocolError: 1, internalError: 2 } as const;
export const SettingsId = { maxConcurrentStreams: 4, initialWindowSize: 7 } as const;

/** Header names are lower case; a name may carry several values (NUL-separated on the wire). */
export type SpdyHeaders = Record<string, string[]>;

export type SpdyFrame =
  | { type: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedTo: number; priority: number; fin: boolean; unidirectional: boolean; headers: SpdyHeaders }
  | { type: 'syn_reply'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; clear: boolean; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; fin: boolean; headers: SpdyHeaders }
  | { type: 'window_update'; streamId: number; delta: number }
  | { type: 'unknown'; frameType: number };

export type SpdyErrorCode =
  | 'ERR_SPDY_PROTOCOL' // malformed frame or header block
  | 'ERR_SPDY_FRAME_TOO_LARGE' // over maxFrameBytes or maxHeaderBlockBytes
  | 'ERR_SPDY_STREAM_RESET' // the peer reset the stream (or refused it)
  | 'ERR_SPDY_TIMEOUT' // no SYN_REPLY in time
  | 'ERR_SPDY_IDLE' // the connection was idle too long
  | 'ERR_SPDY_CLOSED'; // the connection is closed or going away

export class SpdyError extends Error {
  readonly code: SpdyErrorCode;
  constructor(code: SpdyErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'SpdyError';
  }
}

// ---- the SPDY/3 header dictionary ------------------------------------------------------------

const dictionaryWords = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date',
  'etag', 'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate',
  'proxy-authorization', 'range', 'referer', 'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'user-agent', 'vary', 'via', 'warning', 'www-authenticate', 'method', 'get', 'status', '200 OK', 'version',
  'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive', 'origin',
];
const dictionaryTail =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

/** The SPDY/3 zlib dictionary: each word with a 32-bit length prefix, then the tail as it is. */
export const headerDictionary: Buffer = Buffer.concat([
  ...dictionaryWords.map((w) => {
    const b = Buffer.alloc(4 + w.length);
    b.writeUInt32BE(w.length, 0);
    b.write(w, 4, 'latin1');
    return b;
  }),
  Buffer.from(dictionaryTail, 'latin1'),
]);

const windowBytes = 32 * 1024;

function adler32(buf: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const x of buf) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function slide(window: Buffer, added: Buffer): Buffer {
  const next = Buffer.concat([window, added]);
  return next.length > windowBytes ? next.subarray(next.length - windowBytes) : next;
}

// ---- header blocks -----------------------------------------------------------------------------

function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const names = Object.keys(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(names.length, 0);
  parts.push(count);
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from((headers[name] ?? []).join('\0'), 'utf8');
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(n.length, 0);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length, 0);
    parts.push(nl, n, vl, v);
  }
  return Buffer.concat(parts);
}

function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const bad = () => new SpdyError('ERR_SPDY_PROTOCOL', 'malformed SPDY header block');
  if (block.length < 4) throw bad();
  const count = block.readUInt32BE(0);
  let off = 4;
  const out: SpdyHeaders = {};
  for (let i = 0; i < count; i++) {
    if (off + 4 > block.length) throw bad();
    const nl = block.readUInt32BE(off);
    off += 4;
    if (nl === 0 || off + nl + 4 > block.length) throw bad();
    const name = block.toString('utf8', off, off + nl).toLowerCase();
    off += nl;
    const vl = block.readUInt32BE(off);
    off += 4;
    if (off + vl > block.length) throw bad();
    const values = block.toString('utf8', off, off + vl).split('\0');
    off += vl;
    (out[name] ??= []).push(...values);
  }
  return out;
}

/** The first value of a header, case-insensitively. */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers[name.toLowerCase()]?.[0];
}

// ---- framing -------------------------------------------------------------------------------------

/**
 * Serializes frames for one direction of one connection. Not reusable across connections: it
 * holds the header compression context. Throws SpdyError for values out of the protocol's range.
 */
export class FrameWriter {
  #window: Buffer = headerDictionary;
  #started = false;

  #compress(headers: SpdyHeaders): Buffer {
    const plain = encodeHeaderBlock(headers);
    const raw = zlib.deflateRawSync(plain, { dictionary: this.#window, finishFlush: zlib.constants.Z_SYNC_FLUSH, level: 9 });
    this.#window = slide(this.#window, plain);
    if (this.#started) return raw;
    this.#started = true;
    // The zlib stream header: deflate with a 32 KiB window, best compression, preset dictionary.
    const head = Buffer.alloc(6);
    head[0] = 0x78;
    head[1] = 0xf9;
    head.writeUInt32BE(adler32(headerDictionary), 2);
    return Buffer.concat([head, raw]);
  }

  encode(f: SpdyFrame): Buffer {
    switch (f.type) {
      case 'data': {
        if (f.data.length > 0xffffff) throw new SpdyError('ERR_SPDY_FRAME_TOO_LARGE', 'data frame too large');
        const b = Buffer.alloc(8 + f.data.length);
        b.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        b.writeUInt32BE(((f.fin ? 1 : 0) << 24) | f.data.length, 4);
        f.data.copy(b, 8);
        return b;
      }
      case 'syn_stream': {
        const block = this.#compress(f.headers);
        const body = Buffer.alloc(10);
        body.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        body.writeUInt32BE(f.associatedTo & 0x7fffffff, 4);
        body[8] = (f.priority & 7) << 5;
        body[9] = 0;
        return control(FrameType.synStream, (f.fin ? 1 : 0) | (f.unidirectional ? 2 : 0), Buffer.concat([body, block]));
      }
      case 'syn_reply':
      case 'headers': {
        const block = this.#compress(f.headers);
        const body = Buffer.alloc(4);
        body.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        return control(f.type === 'syn_reply' ? FrameType.synReply : FrameType.headers, f.fin ? 1 : 0, Buffer.concat([body, block]));
      }
      case 'rst_stream':
        return control(FrameType.rstStream, 0, words(f.streamId & 0x7fffffff, f.status));
      case 'settings': {
        const body = Buffer.alloc(4 + 8 * f.entries.length);
        body.writeUInt32BE(f.entries.length, 0);
        f.entries.forEach((e, i) => {
          body.writeUInt32BE(((e.flags & 0xff) << 24) | (e.id & 0xffffff), 4 + 8 * i);
          body.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
        });
        return control(FrameType.settings, f.clear ? 1 : 0, body);
      }
      case 'ping':
        return control(FrameType.ping, 0, words(f.id >>> 0));
      case 'goaway':
        return control(FrameType.goAway, 0, words(f.lastGoodStreamId & 0x7fffffff, f.status));
      case 'window_update':
        return control(FrameType.windowUpdate, 0, words(f.streamId & 0x7fffffff, f.delta & 0x7fffffff));
      case 'unknown':
        throw new SpdyError('ERR_SPDY_PROTOCOL', `cannot encode frame type ${f.frameType}`);
    }
  }
}

function words(...ws: number[]): Buffer {
  const b = Buffer.alloc(4 * ws.length);
  ws.forEach((w, i) => b.writeUInt32BE(w >>> 0, 4 * i));
  return b;
}

function control(type: number, flags: number, body: Buffer): Buffer {
  if (body.length > 0xffffff) throw new SpdyError('ERR_SPDY_FRAME_TOO_LARGE', 'control frame too large');
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | 3, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags & 0xff) << 24) | body.length, 4);
  return Buffer.concat([head, body]);
}

/**
 * Parses the byte stream of one direction of one connection into frames, in order. Holds at
 * most one incomplete frame. Throws SpdyError (ERR_SPDY_PROTOCOL, ERR_SPDY_FRAME_TOO_LARGE);
 * after a throw the reader is unusable, as the connection is.
 */
export class FrameReader {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #window: Buffer = headerDictionary;
  #started = false;
  #maxFrameBytes: number;
  #maxHeaderBlockBytes: number;

  constructor(opts: { maxFrameBytes?: number; maxHeaderBlockBytes?: number } = {}) {
    this.#maxFrameBytes = opts.maxFrameBytes ?? maxFrameBytes;
    this.#maxHeaderBlockBytes = opts.maxHeaderBlockBytes ?? maxHeaderBlockBytes;
  }

  /** Bytes held that do not yet make a whole frame. */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }

  /** Adds bytes; returns the frames they complete. */
  push(chunk: Buffer): SpdyFrame[] {
    if (chunk.length) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
    }
    const out: SpdyFrame[] = [];
    for (;;) {
      if (this.#pendingBytes < 8) break;
      const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
      this.#pending = [buf];
      const length = buf.readUInt32BE(4) & 0xffffff;
      if (length > this.#maxFrameBytes) throw new SpdyError('ERR_SPDY_FRAME_TOO_LARGE', `SPDY frame of ${length} bytes exceeds ${this.#maxFrameBytes}`);
      if (buf.length < 8 + length) break;
      const frame = buf.subarray(0, 8 + length);
      const rest = buf.subarray(8 + length);
      this.#pending = rest.length ? [rest] : [];
      this.#pendingBytes = rest.length;
      out.push(this.#parse(frame));
    }
    return out;
  }

  #decompress(block: Buffer): SpdyHeaders {
    let raw = block;
    if (!this.#started) {
      this.#started = true;
      if (raw.length < 2 || raw[0]! % 16 !== 8 || ((raw[0]! << 8) | raw[1]!) % 31 !== 0) throw new SpdyError('ERR_SPDY_PROTOCOL', 'bad zlib header in SPDY header block');
      raw = raw.subarray(raw[1]! & 0x20 ? 6 : 2);
    }
    let plain: Buffer;
    try {
      plain = zlib.inflateRawSync(raw, { dictionary: this.#window, finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: this.#maxHeaderBlockBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new SpdyError('ERR_SPDY_FRAME_TOO_LARGE', `SPDY header block exceeds ${this.#maxHeaderBlockBytes} bytes`);
      throw new SpdyError('ERR_SPDY_PROTOCOL', `cannot decompress SPDY header block: ${(err as Error).message}`);
    }
    this.#window = slide(this.#window, plain);
    return decodeHeaderBlock(plain);
  }

  #parse(frame: Buffer): SpdyFrame {
    const w0 = frame.readUInt32BE(0);
    const w1 = frame.readUInt32BE(4);
    const flags = w1 >>> 24;
    const body = frame.subarray(8);
    const bad = (what: string) => new SpdyError('ERR_SPDY_PROTOCOL', `malformed SPDY ${what} frame`);
    if (!(w0 & 0x80000000)) {
      const streamId = w0 & 0x7fffffff;
      if (streamId === 0) throw bad('data');
      return { type: 'data', streamId, fin: (flags & 1) !== 0, data: Buffer.from(body) };
    }
    const type = w0 & 0xffff;
    const need = (n: number, what: string) => {
      if (body.length < n) throw bad(what);
    };
    switch (type) {
      case FrameType.synStream: {
        need(10, 'SYN_STREAM');
        const streamId = body.readUInt32BE(0) & 0x7fffffff;
        if (streamId === 0) throw bad('SYN_STREAM');
        const headers = this.#decompress(body.subarray(10));
        return {
          type: 'syn_stream',
          streamId,
          associatedTo: body.readUInt32BE(4) & 0x7fffffff,
          priority: body[8]! >> 5,
          fin: (flags & 1) !== 0,
          unidirectional: (flags & 2) !== 0,
          headers,
        };
      }
      case FrameType.synReply:
      case FrameType.headers: {
        need(4, 'SYN_REPLY');
        const streamId = body.readUInt32BE(0) & 0x7fffffff;
        if (streamId === 0) throw bad('SYN_REPLY');
        const headers = this.#decompress(body.subarray(4));
        return { type: type === FrameType.synReply ? 'syn_reply' : 'headers', streamId, fin: (flags & 1) !== 0, headers };
      }
      case FrameType.rstStream:
        need(8, 'RST_STREAM');
        return { type: 'rst_stream', streamId: body.readUInt32BE(0) & 0x7fffffff, status: body.readUInt32BE(4) };
      case FrameType.settings: {
        need(4, 'SETTINGS');
        const n = body.readUInt32BE(0);
        need(4 + 8 * n, 'SETTINGS');
        const entries = [];
        for (let i = 0; i < n; i++) {
          const idw = body.readUInt32BE(4 + 8 * i);
          entries.push({ flags: idw >>> 24, id: idw & 0xffffff, value: body.readUInt32BE(8 + 8 * i) });
        }
        return { type: 'settings', clear: (flags & 1) !== 0, entries };
      }
      case FrameType.ping:
        need(4, 'PING');
        return { type: 'ping', id: body.readUInt32BE(0) };
      case FrameType.goAway:
        need(4, 'GOAWAY');
        return { type: 'goaway', lastGoodStreamId: body.readUInt32BE(0) & 0x7fffffff, status: body.length >= 8 ? body.readUInt32BE(4) : 0 };
      case FrameType.windowUpdate:
        need(8, 'WINDOW_UPDATE');
        return { type: 'window_update', streamId: body.readUInt32BE(0) & 0x7fffffff, delta: body.readUInt32BE(4) & 0x7fffffff };
      default:
        return { type: 'unknown', frameType: type };
    }
  }
}

// ---- connection and streams ----------------------------------------------------------------------

export interface SpdyConnectionOptions {
  /** The client opens odd-numbered streams and pings; the server even ones. */
  role: 'client' | 'server';
  /** Bytes already read from the socket (after an HTTP upgrade's response or request head). */
  head?: Buffer;
  /** Server role: a stream the peer opened; call `reply()` (or `reset()`) on it. */
  onStream?: (stream: SpdyStream) => void;
  /** Default `streamIdleTimeoutMs`; 0 disables. */
  idleTimeoutMs?: number;
  /** Send a PING this often (upstream's clients ping every 5 s); 0 (default) never. */
  pingIntervalMs?: number;
  /** Default `createStreamTimeoutMs`. */
  createStreamTimeoutMs?: number;
  /** Default `maxConcurrentStreams`. */
  maxConcurrentStreams?: number;
  /** Default `maxFrameBytes`. */
  maxFrameBytes?: number;
  /** Default `initialWindowBytes`: each stream's read buffer before the socket pauses. */
  streamBufferBytes?: number;
}

interface StreamOwner {
  sendData(id: number, data: Buffer, fin: boolean, cb: (err?: Error | null) => void): void;
  sendReply(id: number, headers: SpdyHeaders): void;
  sendReset(id: number, status: number): void;
  readResumed(stream: SpdyStream): void;
  finished(stream: SpdyStream): void;
}

/**
 * One SPDY stream: a Duplex whose readable side is the peer's data (ending at the peer's FIN)
 * and whose writable side sends DATA frames (`end()` sends FIN). `destroy()` resets it
 * (RST_STREAM CANCEL) unless both directions already finished. A reset by the peer, or the
 * connection closing, ends the readable side and closes the stream without an 'error' event
 * (`resetStatus` tells a reset apart); data written after that is discarded.
 */
export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: SpdyHeaders;
  #owner: StreamOwner;
  #replied: boolean;
  #waitingReply: (() => void)[] = [];
  #localFin = false;
  #remoteFin = false;
  #reset = false;
  #readBlocked = false;
  /** The RST_STREAM status the peer reset the stream with, if it did. */
  resetStatus: number | undefined;

  constructor(owner: StreamOwner, id: number, headers: SpdyHeaders, replied: boolean, highWaterMark: number) {
    super({ highWaterMark, allowHalfOpen: true });
    this.#owner = owner;
    this.id = id;
    this.headers = headers;
    this.#replied = replied;
  }

  /** Server role: accepts the stream (SYN_REPLY with these headers). Idempotent. */
  reply(headers: SpdyHeaders = {}): void {
    if (this.#replied || this.#reset) return;
    this.#replied = true;
    this.#owner.sendReply(this.id, headers);
    for (const f of this.#waitingReply.splice(0)) f();
  }

  /** Abandons the stream: RST_STREAM with `status` (default CANCEL), then destroy. */
  reset(status: number = RstStatus.cancel): void {
    if (!this.#reset && !(this.#localFin && this.#remoteFin)) {
      this.#reset = true;
      this.#owner.sendReset(this.id, status);
    }
    this.destroy();
  }

  override _read(): void {
    if (this.#readBlocked) {
      this.#readBlocked = false;
      this.#owner.readResumed(this);
    }
  }

  /** @internal The readable buffer is over its bound: the connection paused the socket. */
  blockRead(): void {
    this.#readBlocked = true;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const send = () => {
      if (this.#reset) return cb();
      this.#owner.sendData(this.id, chunk, false, cb);
    };
    if (this.#replied) send();
    else this.#waitingReply.push(send);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#localFin) return cb();
    const send = () => {
      if (this.#reset) return cb();
      this.#localFin = true;
      this.#owner.sendData(this.id, Buffer.alloc(0), true, (err) => {
        this.#maybeFinished();
        cb(err);
      });
    };
    if (this.#replied) send();
    else this.#waitingReply.push(send);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.#reset && !(this.#localFin && this.#remoteFin)) {
      this.#reset = true;
      this.#owner.sendReset(this.id, RstStatus.cancel);
    }
    this.#owner.finished(this);
    cb(err);
  }

  /** @internal The peer sent data (and maybe FIN). */
  remoteData(data: Buffer, fin: boolean): boolean {
    if (this.#remoteFin || this.#reset) return true;
    let more = true;
    if (data.length) more = this.push(data);
    if (fin) this.remoteEnd();
    return more;
  }

  /** @internal The peer finished its side. */
  remoteEnd(): void {
    if (this.#remoteFin) return;
    this.#remoteFin = true;
    this.push(null);
    this.#maybeFinished();
  }

  /** @internal The peer will not send (unidirectional stream from our side, or FIN on open). */
  markLocalDone(): void {
    this.#localFin = true;
  }

  /** @internal The peer reset the stream. */
  remoteReset(status: number): void {
    this.#reset = true;
    this.resetStatus = status;
    this.closeWhenRead();
  }

  /** @internal Ends the readable side and closes the stream once what it buffered was read. */
  closeWhenRead(): void {
    if (!this.#remoteFin) {
      this.#remoteFin = true;
      this.push(null);
    }
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  /** @internal SYN_REPLY arrived (client role). */
  replied(fin: boolean): void {
    this.#replied = true;
    for (const f of this.#waitingReply.splice(0)) f();
    if (fin) this.remoteEnd();
  }

  #maybeFinished(): void {
    if (this.#localFin && this.#remoteFin) this.#owner.finished(this);
  }
}

/**
 * A SPDY/3.1 connection over a socket (already upgraded). Emits 'close' once the socket closed,
 * with the error that ended it, if any. Streams left open when it closes are destroyed.
 */
export class SpdyConnection extends EventEmitter {
  readonly role: 'client' | 'server';
  #socket: Duplex;
  #reader: FrameReader;
  #writer = new FrameWriter();
  #streams = new Map<number, SpdyStream>();
  #pendingReplies = new Map<number, { resolve: (s: SpdyStream) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextStreamId: number;
  #lastPeerStreamId = 0;
  #nextPingId: number;
  #pings = new Map<number, { resolve: (ms: number) => void; sent: number }>();
  #opts: Required<Omit<SpdyConnectionOptions, 'head' | 'onStream' | 'role'>> & Pick<SpdyConnectionOptions, 'onStream'>;
  #blocked = new Set<SpdyStream>();
  #unacked = new Map<number, number>();
  #drainWaiters: (() => void)[] = [];
  #lastActivity = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #goingAway = false;
  #closed = false;
  #lingerTimer: NodeJS.Timeout | undefined;
  #owner: StreamOwner;

  constructor(socket: Duplex, opts: SpdyConnectionOptions) {
    super();
    this.role = opts.role;
    this.#socket = socket;
    this.#opts = {
      onStream: opts.onStream,
      idleTimeoutMs: opts.idleTimeoutMs ?? streamIdleTimeoutMs,
      pingIntervalMs: opts.pingIntervalMs ?? 0,
      createStreamTimeoutMs: opts.createStreamTimeoutMs ?? createStreamTimeoutMs,
      maxConcurrentStreams: opts.maxConcurrentStreams ?? maxConcurrentStreams,
      maxFrameBytes: opts.maxFrameBytes ?? maxFrameBytes,
      streamBufferBytes: opts.streamBufferBytes ?? initialWindowBytes,
    };
    this.#reader = new FrameReader({ maxFrameBytes: this.#opts.maxFrameBytes });
    this.#nextStreamId = opts.role === 'client' ? 1 : 2;
    this.#nextPingId = opts.role === 'client' ? 1 : 2;
    this.#owner = {
      sendData: (id, data, fin, cb) => this.#sendData(id, data, fin, cb),
      sendReply: (id, headers) => this.#send({ type: 'syn_reply', streamId: id, fin: false, headers }),
      sendReset: (id, status) => this.#send({ type: 'rst_stream', streamId: id, status }),
      readResumed: (s) => {
        this.#blocked.delete(s);
        if (!this.#blocked.size && !this.#closed) this.#socket.resume();
      },
      finished: (s) => this.#forget(s),
    };
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => {
      for (const f of this.#drainWaiters.splice(0)) f();
    });
    // The peer's end: ours follows once what we wrote is flushed (the socket does not allow half-open).
    socket.on('end', () => this.#onClosed(null));
    socket.on('error', (err: Error) => {
      socket.destroy();
      this.#onClosed(err);
    });
    socket.on('close', () => {
      clearTimeout(this.#lingerTimer);
      this.#onClosed(null);
    });
    this.#armIdle();
    if (this.#opts.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => void this.ping().catch(() => {}), this.#opts.pingIntervalMs);
      this.#pingTimer.unref();
    }
    if (opts.head?.length) queueMicrotask(() => this.#onData(opts.head!));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Streams currently open. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /**
   * Opens a stream (SYN_STREAM) and resolves once the peer accepts it (SYN_REPLY). Rejects with
   * ERR_SPDY_STREAM_RESET if refused, ERR_SPDY_TIMEOUT after `createStreamTimeoutMs`,
   * ERR_SPDY_CLOSED if the connection is closing.
   */
  createStream(headers: SpdyHeaders): Promise<SpdyStream> {
    if (this.#closed || this.#goingAway) return Promise.reject(new SpdyError('ERR_SPDY_CLOSED', 'SPDY connection is closed'));
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = new SpdyStream(this.#owner, id, headers, false, this.#opts.streamBufferBytes);
    this.#streams.set(id, stream);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pendingReplies.delete(id);
        stream.reset();
        reject(new SpdyError('ERR_SPDY_TIMEOUT', `timed out waiting for a reply to stream ${id}`));
      }, this.#opts.createStreamTimeoutMs);
      timer.unref();
      this.#pendingReplies.set(id, { resolve, reject, timer });
      stream.once('close', () => {
        const p = this.#pendingReplies.get(id);
        if (!p) return;
        this.#pendingReplies.delete(id);
        clearTimeout(p.timer);
        p.reject(
          stream.resetStatus !== undefined
            ? new SpdyError('ERR_SPDY_STREAM_RESET', `stream ${id} was refused (status ${stream.resetStatus})`)
            : new SpdyError('ERR_SPDY_CLOSED', `stream ${id} closed before it was accepted`),
        );
      });
      this.#send({ type: 'syn_stream', streamId: id, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headers });
    });
  }

  /** Sends a PING; resolves with the round-trip time in ms (never rejects; resolves -1 if closed). */
  ping(): Promise<number> {
    if (this.#closed) return Promise.resolve(-1);
    const id = this.#nextPingId;
    this.#nextPingId = this.#nextPingId > 0x7ffffffe ? this.#nextPingId - 0x7ffffffe : this.#nextPingId + 2;
    return new Promise((resolve) => {
      this.#pings.set(id, { resolve, sent: Date.now() });
      this.#send({ type: 'ping', id });
    });
  }

  /**
   * GOAWAY, then resets what is still open and ends the socket, which is cut if it cannot flush
   * within `closeLingerMs`. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    if (!this.#goingAway) {
      this.#goingAway = true;
      this.#send({ type: 'goaway', lastGoodStreamId: this.#lastPeerStreamId, status: GoAwayStatus.ok });
    }
    for (const s of [...this.#streams.values()]) s.reset();
    this.#socket.end();
    this.#onClosed(null);
  }

  /** Closes at once (no GOAWAY), failing open streams with `err`. */
  destroy(err?: Error): void {
    this.#socket.destroy();
    this.#onClosed(err ?? null);
  }

  #send(frame: SpdyFrame, cb?: (err?: Error | null) => void): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) {
      // The connection's 'close' event reports why; writers just stop.
      cb?.();
      return;
    }
    this.#lastActivity = Date.now();
    const ok = this.#socket.write(this.#writer.encode(frame));
    if (!cb) return;
    if (ok) cb();
    else this.#drainWaiters.push(() => cb());
  }

  #sendData(id: number, data: Buffer, fin: boolean, cb: (err?: Error | null) => void): void {
    if (!data.length) return this.#send({ type: 'data', streamId: id, fin, data }, cb);
    for (let off = 0; off < data.length; off += maxDataFrameBytes) {
      const piece = data.subarray(off, Math.min(data.length, off + maxDataFrameBytes));
      const last = off + maxDataFrameBytes >= data.length;
      this.#send({ type: 'data', streamId: id, fin: fin && last, data: piece }, last ? cb : undefined);
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#lastActivity = Date.now();
    let frames: SpdyFrame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (err) {
      this.#protocolError(err as Error);
      return;
    }
    for (const f of frames) {
      if (this.#closed) return;
      this.#handle(f);
    }
  }

  #protocolError(err: Error): void {
    if (this.#closed) return;
    try {
      this.#send({ type: 'goaway', lastGoodStreamId: this.#lastPeerStreamId, status: GoAwayStatus.protocolError });
    } catch {
      // the socket may be gone
    }
    this.#socket.destroy();
    this.#onClosed(err);
  }

  #handle(f: SpdyFrame): void {
    switch (f.type) {
      case 'data': {
        const s = this.#streams.get(f.streamId);
        if (!s) return;
        const more = s.remoteData(f.data, f.fin);
        if (f.data.length) this.#acknowledge(f.streamId, f.data.length);
        if (!more && !s.destroyed && !s.readableEnded) {
          s.blockRead();
          this.#blocked.add(s);
          this.#socket.pause();
        }
        return;
      }
      case 'syn_stream':
        return this.#onSynStream(f);
      case 'syn_reply': {
        const s = this.#streams.get(f.streamId);
        const p = this.#pendingReplies.get(f.streamId);
        if (p) {
          this.#pendingReplies.delete(f.streamId);
          clearTimeout(p.timer);
        }
        if (!s) return;
        s.replied(f.fin);
        p?.resolve(s);
        return;
      }
      case 'headers': {
        const s = this.#streams.get(f.streamId);
        if (s && f.fin) s.remoteEnd();
        return;
      }
      case 'rst_stream': {
        const s = this.#streams.get(f.streamId);
        const p = this.#pendingReplies.get(f.streamId);
        if (p) {
          this.#pendingReplies.delete(f.streamId);
          clearTimeout(p.timer);
          p.reject(new SpdyError('ERR_SPDY_STREAM_RESET', `stream ${f.streamId} was refused (status ${f.status})`));
        }
        if (!s) return;
        s.remoteReset(f.status);
        if (p) s.destroy();
        return;
      }
      case 'ping': {
        const ours = (f.id & 1) === (this.role === 'client' ? 1 : 0);
        if (!ours) return this.#send({ type: 'ping', id: f.id });
        const p = this.#pings.get(f.id);
        if (p) {
          this.#pings.delete(f.id);
          p.resolve(Date.now() - p.sent);
        }
        return;
      }
      case 'goaway':
        this.#goingAway = true;
        if (!this.#streams.size) this.close();
        return;
      case 'settings':
      case 'window_update':
      case 'unknown':
        return;
    }
  }

  #onSynStream(f: Extract<SpdyFrame, { type: 'syn_stream' }>): void {
    const fromPeer = (f.streamId & 1) === (this.role === 'server' ? 1 : 0);
    if (!fromPeer || f.streamId <= this.#lastPeerStreamId) {
      this.#send({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.protocolError });
      return;
    }
    this.#lastPeerStreamId = f.streamId;
    if (this.#goingAway || !this.#opts.onStream) {
      this.#send({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.refusedStream });
      return;
    }
    if (this.#streams.size >= this.#opts.maxConcurrentStreams) {
      this.#send({ type: 'rst_stream', streamId: f.streamId, status: RstStatus.refusedStream });
      return;
    }
    const s = new SpdyStream(this.#owner, f.streamId, f.headers, false, this.#opts.streamBufferBytes);
    this.#streams.set(f.streamId, s);
    if (f.unidirectional) {
      s.markLocalDone();
      s.end();
    }
    if (f.fin) s.remoteEnd();
    this.#opts.onStream(s);
  }

  /** Receive-side flow control: WINDOW_UPDATE once half the initial window was delivered. */
  #acknowledge(id: number, n: number): void {
    const total = (this.#unacked.get(id) ?? 0) + n;
    if (total >= initialWindowBytes / 2) {
      this.#unacked.delete(id);
      if (this.#streams.has(id)) this.#send({ type: 'window_update', streamId: id, delta: total });
    } else {
      this.#unacked.set(id, total);
    }
  }

  #forget(s: SpdyStream): void {
    if (this.#streams.get(s.id) !== s) return;
    this.#streams.delete(s.id);
    this.#unacked.delete(s.id);
    if (this.#blocked.delete(s) && !this.#blocked.size && !this.#closed) this.#socket.resume();
    if (this.#goingAway && !this.#streams.size && !this.#closed) this.close();
  }

  #armIdle(): void {
    const idle = this.#opts.idleTimeoutMs;
    if (!idle) return;
    const wait = Math.max(1, this.#lastActivity + idle - Date.now());
    this.#idleTimer = setTimeout(() => {
      if (this.#closed) return;
      if (Date.now() - this.#lastActivity >= idle) {
        this.destroy(new SpdyError('ERR_SPDY_IDLE', `SPDY connection idle for ${idle} ms`));
        return;
      }
      this.#armIdle();
    }, wait);
    this.#idleTimer.unref();
  }

  #onClosed(err: Error | null): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    clearInterval(this.#pingTimer);
    for (const p of this.#pings.values()) p.resolve(-1);
    this.#pings.clear();
    for (const [id, p] of this.#pendingReplies) {
      clearTimeout(p.timer);
      p.reject(err ?? new SpdyError('ERR_SPDY_CLOSED', `SPDY connection closed before stream ${id} was accepted`));
    }
    this.#pendingReplies.clear();
    // Streams whose peer side is still open end there (EOF, as spdystream closes their channels);
    // what they buffered stays readable.
    for (const s of [...this.#streams.values()]) s.closeWhenRead();
    this.#streams.clear();
    for (const f of this.#drainWaiters.splice(0)) f();
    if (!this.#socket.destroyed) {
      // Let what was written reach the peer, but not forever.
      this.#lingerTimer = setTimeout(() => this.#socket.destroy(), closeLingerMs);
      this.#lingerTimer.unref();
    }
    this.emit('close', err);
  }
}
