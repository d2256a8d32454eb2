/**
 * The etcd v3 wire format for the store's hot path: hand-written protobuf encoding and decoding of
 * exactly the etcdserverpb / mvccpb messages EtcdStore uses, and gRPC message framing (a 5-byte
 * prefix: compressed flag 0, big-endian length). Field numbers follow etcd 3.4's
 * etcdserver/etcdserverpb/rpc.proto and mvcc/mvccpb/kv.proto:
 *
 * - requests: RangeRequest, PutRequest, DeleteRangeRequest, RequestOp, Compare, TxnRequest,
 *   CompactionRequest, LeaseGrantRequest, WatchRequest (create / cancel / progress);
 * - responses: ResponseHeader (only the revision is kept), mvccpb.KeyValue, RangeResponse,
 *   PutResponse, DeleteRangeResponse, ResponseOp, TxnResponse, LeaseGrantResponse, mvccpb.Event,
 *   WatchResponse.
 *
 * Revisions and counts are numbers (etcd revisions stay far below 2^53); lease IDs are bigints
 * (etcd's IDs use all 63 bits). Decoded bytes (keys, values) are views of the received buffer.
 * Unknown fields are skipped, as protobuf requires.
 */

// ---- requests ------------------------------------------------------------------------------

export interface RangeReq {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  limit?: number;
  revision?: number;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
}
export interface PutReq {
  key: Uint8Array;
  value: Uint8Array;
  lease?: bigint;
  prevKv?: boolean;
}
export interface DeleteRangeReq {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  prevKv?: boolean;
}
export type RequestOp = { range: RangeReq } | { put: PutReq } | { deleteRange: DeleteRangeReq };

/** Compare.CompareResult and Compare.CompareTarget values. */
export const CMP_EQUAL = 0;
export const CMP_GREATER = 1;
export const CMP_LESS = 2;
export const CMP_NOT_EQUAL = 3;
export const TARGET_VERSION = 0;
export const TARGET_CREATE = 1;
export const TARGET_MOD = 2;

/** A Compare on version, create_revision or mod_revision (the target_union field the target names). */
export interface CompareReq {
  result: number;
  target: number;
  key: Uint8Array;
  /** version, create_revision or mod_revision, after `target`. Always written (oneof presence). */
  number: number;
}
export interface TxnReq {
  compare: CompareReq[];
  success: RequestOp[];
  failure: RequestOp[];
}
export interface WatchCreateReq {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  startRevision?: number;
  progressNotify?: boolean;
  prevKv?: boolean;
  watchId?: number;
}

// ---- responses -----------------------------------------------------------------------------

export interface Kv {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: bigint;
}
export interface RangeRes {
  revision: number;
  kvs: Kv[];
  more: boolean;
  count: number;
}
export interface PutRes {
  revision: number;
  prevKv: Kv | null;
}
export interface DeleteRangeRes {
  revision: number;
  deleted: number;
  prevKvs: Kv[];
}
export interface ResponseOp {
  range?: RangeRes;
  put?: PutRes;
  deleteRange?: DeleteRangeRes;
}
export interface TxnRes {
  revision: number;
  succeeded: boolean;
  responses: ResponseOp[];
}
export interface LeaseGrantRes {
  revision: number;
  id: bigint;
  ttl: number;
  error: string;
}
/** mvccpb.Event: type 0 = PUT, 1 = DELETE. */
export interface Event {
  type: number;
  kv: Kv;
  prevKv: Kv | null;
}
export interface WatchRes {
  revision: number;
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  fragment: boolean;
  events: Event[];
}

// ---- writer --------------------------------------------------------------------------------

/**
 * A protobuf writer that builds a gRPC frame in place: the first 5 bytes are the frame prefix.
 * Nested messages are written after a 1-byte length placeholder that is widened on close when needed.
 */
class Writer {
  buf: Buffer;
  pos = 5;
  #stack: number[] = [];

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  #ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }

  varint(v: number): void {
    this.#ensure(10);
    const buf = this.buf;
    if (v < 0) {
      this.bigVarint(BigInt(v));
      return;
    }
    while (v > 0x7f) {
      buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[this.pos++] = v;
  }

  bigVarint(v: bigint): void {
    this.#ensure(10);
    let u = BigInt.asUintN(64, v);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.#ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** An int64/uint64/enum field; zero (the default) is not written unless `always`. */
  num(field: number, v: number | undefined, always = false): void {
    if (!v && !always) return;
    this.tag(field, 0);
    this.varint(v ?? 0);
  }

  bool(field: number, v: boolean | undefined): void {
    if (!v) return;
    this.tag(field, 0);
    this.buf[this.pos++] = 1;
  }

  fork(field: number): void {
    this.tag(field, 2);
    this.#ensure(1);
    this.#stack.push(this.pos);
    this.buf[this.pos++] = 0;
  }

  close(): void {
    const at = this.#stack.pop()!;
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.#ensure(extra);
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    this.pos += extra;
    let v = len;
    let p = at;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }

  /** The finished gRPC frame (prefix + message). */
  frame(): Buffer {
    const buf = this.buf;
    buf[0] = 0;
    buf.writeUInt32BE(this.pos - 5, 1);
    return buf.subarray(0, this.pos);
  }
}

function varintSize(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeRange(w: Writer, r: RangeReq): void {
  w.bytes(1, r.key);
  if (r.rangeEnd) w.bytes(2, r.rangeEnd);
  w.num(3, r.limit);
  w.num(4, r.revision);
  w.bool(7, r.serializable);
  w.bool(8, r.keysOnly);
  w.bool(9, r.countOnly);
}

function writePut(w: Writer, r: PutReq): void {
  w.bytes(1, r.key);
  if (r.value.length) w.bytes(2, r.value);
  if (r.lease) {
    w.tag(3, 0);
    w.bigVarint(r.lease);
  }
  w.bool(4, r.prevKv);
}

function writeDelete(w: Writer, r: DeleteRangeReq): void {
  w.bytes(1, r.key);
  if (r.rangeEnd) w.bytes(2, r.rangeEnd);
  w.bool(3, r.prevKv);
}

function writeOp(w: Writer, field: number, op: RequestOp): void {
  w.fork(field);
  if ('range' in op) {
    w.fork(1);
    writeRange(w, op.range);
  } else if ('put' in op) {
    w.fork(2);
    writePut(w, op.put);
  } else {
    w.fork(3);
    writeDelete(w, op.deleteRange);
  }
  w.close();
  w.close();
}

/** gRPC frames of the requests. */
export function encodeRange(r: RangeReq): Buffer {
  const w = new Writer(64 + r.key.length + (r.rangeEnd?.length ?? 0));
  writeRange(w, r);
  return w.frame();
}

export function encodePut(r: PutReq): Buffer {
  const w = new Writer(64 + r.key.length + r.value.length);
  writePut(w, r);
  return w.frame();
}

export function encodeDeleteRange(r: DeleteRangeReq): Buffer {
  const w = new Writer(64 + r.key.length);
  writeDelete(w, r);
  return w.frame();
}

export function encodeTxn(t: TxnReq): Buffer {
  const w = new Writer(256);
  for (const c of t.compare) {
    w.fork(1);
    w.num(1, c.result);
    w.num(2, c.target);
    w.bytes(3, c.key);
    // target_union: version = 4, create_revision = 5, mod_revision = 6 (Compare.CompareTarget order + 4).
    w.num(4 + c.target, c.number, true);
    w.close();
  }
  for (const op of t.success) writeOp(w, 2, op);
  for (const op of t.failure) writeOp(w, 3, op);
  return w.frame();
}

export function encodeCompaction(revision: number, physical = false): Buffer {
  const w = new Writer(32);
  w.num(1, revision);
  w.bool(2, physical);
  return w.frame();
}

export function encodeLeaseGrant(ttl: number, id = 0n): Buffer {
  const w = new Writer(32);
  w.num(1, ttl);
  if (id) {
    w.tag(2, 0);
    w.bigVarint(id);
  }
  return w.frame();
}

export function encodeWatchCreate(r: WatchCreateReq): Buffer {
  const w = new Writer(64 + r.key.length + (r.rangeEnd?.length ?? 0));
  w.fork(1);
  w.bytes(1, r.key);
  if (r.rangeEnd) w.bytes(2, r.rangeEnd);
  w.num(3, r.startRevision);
  w.bool(4, r.progressNotify);
  w.bool(6, r.prevKv);
  w.num(7, r.watchId);
  w.close();
  return w.frame();
}

export function encodeWatchCancel(watchId: number): Buffer {
  const w = new Writer(32);
  w.fork(2);
  w.num(1, watchId);
  w.close();
  return w.frame();
}

export function encodeWatchProgress(): Buffer {
  const w = new Writer(16);
  w.fork(3);
  w.close();
  return w.frame();
}

// ---- reader --------------------------------------------------------------------------------

/** A protobuf reader over `buf[pos, end)`. */
class Reader {
  readonly buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** A varint as a number (exact below 2^53). */
  varint(): number {
    const buf = this.buf;
    let b = buf[this.pos++]!;
    if (b < 0x80) return b;
    let v = b & 0x7f;
    let mul = 128;
    for (;;) {
      if (this.pos >= this.end) throw new Error('protobuf: truncated varint');
      b = buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  }

  bigVarint(): bigint {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error('protobuf: truncated varint');
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, v);
      shift += 7n;
    }
  }

  /** The end of a length-delimited field starting here; moves past its length. */
  sub(): number {
    const len = this.varint();
    const e = this.pos + len;
    if (e > this.end) throw new Error('protobuf: truncated message');
    return e;
  }

  bytes(): Buffer {
    const e = this.sub();
    const b = this.buf.subarray(this.pos, e);
    this.pos = e;
    return b;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        while (this.buf[this.pos++]! >= 0x80);
        break;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.sub();
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new Error(`protobuf: unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) throw new Error('protobuf: truncated message');
  }
}

const EMPTY = Buffer.alloc(0);

/** ResponseHeader: answers the revision (field 3). */
function readHeader(r: Reader, end: number): number {
  let rev = 0;
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 24) rev = r.varint();
    else r.skip(tag & 7);
  }
  return rev;
}

function readKv(r: Reader, end: number): Kv {
  const kv: Kv = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0, lease: 0n };
  while (r.pos < end) {
    const tag = r.varint();
    switch (tag) {
      case 10:
        kv.key = r.bytes();
        break;
      case 16:
        kv.createRevision = r.varint();
        break;
      case 24:
        kv.modRevision = r.varint();
        break;
      case 32:
        kv.version = r.varint();
        break;
      case 42:
        kv.value = r.bytes();
        break;
      case 48:
        kv.lease = r.bigVarint();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return kv;
}

function readRange(r: Reader, end: number): RangeRes {
  const res: RangeRes = { revision: 0, kvs: [], more: false, count: 0 };
  while (r.pos < end) {
    const tag = r.varint();
    switch (tag) {
      case 10: {
        const e = r.sub();
        res.revision = readHeader(r, e);
        break;
      }
      case 18: {
        const e = r.sub();
        res.kvs.push(readKv(r, e));
        break;
      }
      case 24:
        res.more = r.varint() !== 0;
        break;
      case 32:
        res.count = r.varint();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return res;
}

function readPut(r: Reader, end: number): PutRes {
  const res: PutRes = { revision: 0, prevKv: null };
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 10) res.revision = readHeader(r, r.sub());
    else if (tag === 18) res.prevKv = readKv(r, r.sub());
    else r.skip(tag & 7);
  }
  return res;
}

function readDelete(r: Reader, end: number): DeleteRangeRes {
  const res: DeleteRangeRes = { revision: 0, deleted: 0, prevKvs: [] };
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 10) res.revision = readHeader(r, r.sub());
    else if (tag === 16) res.deleted = r.varint();
    else if (tag === 26) res.prevKvs.push(readKv(r, r.sub()));
    else r.skip(tag & 7);
  }
  return res;
}

function readResponseOp(r: Reader, end: number): ResponseOp {
  const op: ResponseOp = {};
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 10) op.range = readRange(r, r.sub());
    else if (tag === 18) op.put = readPut(r, r.sub());
    else if (tag === 26) op.deleteRange = readDelete(r, r.sub());
    else r.skip(tag & 7);
  }
  return op;
}

function readEvent(r: Reader, end: number): Event {
  const ev: Event = { type: 0, kv: null as unknown as Kv, prevKv: null };
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 8) ev.type = r.varint();
    else if (tag === 18) ev.kv = readKv(r, r.sub());
    else if (tag === 26) ev.prevKv = readKv(r, r.sub());
    else r.skip(tag & 7);
  }
  if (!ev.kv) ev.kv = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0, lease: 0n };
  return ev;
}

/** Decoders of one message (without the gRPC prefix). */
export function decodeRange(buf: Buffer): RangeRes {
  return readRange(new Reader(buf), buf.length);
}

export function decodePut(buf: Buffer): PutRes {
  return readPut(new Reader(buf), buf.length);
}

export function decodeDeleteRange(buf: Buffer): DeleteRangeRes {
  return readDelete(new Reader(buf), buf.length);
}

export function decodeTxn(buf: Buffer): TxnRes {
  const r = new Reader(buf);
  const res: TxnRes = { revision: 0, succeeded: false, responses: [] };
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 10) res.revision = readHeader(r, r.sub());
    else if (tag === 16) res.succeeded = r.varint() !== 0;
    else if (tag === 26) res.responses.push(readResponseOp(r, r.sub()));
    else r.skip(tag & 7);
  }
  return res;
}

/** CompactionResponse: only a header. */
export function decodeHeaderOnly(buf: Buffer): number {
  const r = new Reader(buf);
  let rev = 0;
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 10) rev = readHeader(r, r.sub());
    else r.skip(tag & 7);
  }
  return rev;
}

export function decodeLeaseGrant(buf: Buffer): LeaseGrantRes {
  const r = new Reader(buf);
  const res: LeaseGrantRes = { revision: 0, id: 0n, ttl: 0, error: '' };
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 10) res.revision = readHeader(r, r.sub());
    else if (tag === 16) res.id = r.bigVarint();
    else if (tag === 24) res.ttl = r.varint();
    else if (tag === 34) res.error = r.bytes().toString();
    else r.skip(tag & 7);
  }
  return res;
}

export function decodeWatch(buf: Buffer): WatchRes {
  const r = new Reader(buf);
  const res: WatchRes = { revision: 0, watchId: 0, created: false, canceled: false, compactRevision: 0, cancelReason: '', fragment: false, events: [] };
  while (r.pos < r.end) {
    const tag = r.varint();
    switch (tag) {
      case 10:
        res.revision = readHeader(r, r.sub());
        break;
      case 16:
        res.watchId = r.varint();
        break;
      case 24:
        res.created = r.varint() !== 0;
        break;
      case 32:
        res.canceled = r.varint() !== 0;
        break;
      case 40:
        res.compactRevision = r.varint();
        break;
      case 50:
        res.cancelReason = r.bytes().toString();
        break;
      case 56:
        res.fragment = r.varint() !== 0;
        break;
      case 90:
        res.events.push(readEvent(r, r.sub()));
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return res;
}

// ---- gRPC framing --------------------------------------------------------------------------

/**
 * Splits a stream of chunks into gRPC messages. `push` answers the complete messages (views of
 * the chunk when a message fits in it, copies otherwise). Compressed messages are refused (the
 * client never offers compression).
 */
export class FrameReader {
  #pending: Buffer[] = [];
  #have = 0;

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf: Buffer;
    if (this.#have) {
      this.#pending.push(chunk);
      this.#have += chunk.length;
      buf = Buffer.concat(this.#pending, this.#have);
      this.#pending = [];
      this.#have = 0;
    } else buf = chunk;
    let pos = 0;
    while (buf.length - pos >= 5) {
      if (buf[pos] !== 0) throw new Error('grpc: compressed messages are not supported');
      const len = buf.readUInt32BE(pos + 1);
      if (buf.length - pos - 5 < len) break;
      out.push(buf.subarray(pos + 5, pos + 5 + len));
      pos += 5 + len;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.#pending.push(rest);
      this.#have = rest.length;
    }
    return out;
  }

  get buffered(): number {
    return this.#have;
  }
}
