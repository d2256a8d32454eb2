/**
 * Protobuf encoding and decoding driven by the tables of ./schema.ts, and gRPC method
 * definitions built from them for @grpc/grpc-js.
 *
 * Decoding gives exactly the plain objects @grpc/proto-loader gives with
 * `{keepCase: true, longs: String, enums: String, defaults: true, oneofs: true}` (types.ts and
 * every caller rely on them): snake_case names as declared, every field present, int64 family as
 * decimal strings (uint64 unsigned), enums by name (an unknown number stays a number), absent
 * sub-messages null, repeated fields [], maps {} (keys as strings), bytes as Buffers (copies),
 * a set oneof member plus `{[oneof]: memberName}` (unset members absent). Keys come in
 * proto-loader's order: repeated fields, maps, then the others, each by number. As protobufjs
 * does, a non-repeated message field seen twice keeps the last one (Go merges them; no runtime
 * splits a message). A value whose wire type does not match its field is skipped as unknown, as
 * Go does; unknown fields of every wire type, groups included, are skipped.
 *
 * Encoding accepts what proto-loader's `fromObject` accepts from callers: int64 as decimal
 * strings, numbers or bigints; enums as names or numbers; bytes as Uint8Arrays, byte arrays or
 * base64 strings; null or undefined for absent. It writes what Go's marshaller writes: fields
 * ascending by number, proto3 zero values left out (a oneof member is written whenever set),
 * messages whenever set (even `{}`), repeated numeric fields packed, map entries with key and
 * value in the object's key order; fractional numbers are truncated, as protobufjs does. Values
 * of the wrong type, unknown enum names and out-of-range integers throw a TypeError naming the
 * field, where protobufjs would drop or wrap them.
 *
 * Bounds: grpc-js limits message sizes (client.ts); nesting (messages and groups) is limited to
 * MAX_NESTING_DEPTH both ways; every length is checked against the enclosing message.
 */

import type * as grpc from '@grpc/grpc-js';
import { BosunError } from '../../util/errors.ts';
import type { EnumType, Field, MessageType, ProtoSchema, ScalarType } from './schema.ts';

/** Deepest nesting of messages (and unknown groups) decoded or encoded: protoc's default recursion limit. */
export const MAX_NESTING_DEPTH = 100;

type Obj = Record<string, unknown>;

// ---------------------------------------------------------------- decoding

interface Cursor {
  readonly buf: Buffer;
  pos: number;
  end: number;
}

function decodeError(message: string): BosunError {
  return new BosunError('ERR_PROTOBUF_DECODE', `cannot decode protobuf: ${message}`);
}

/** Decodes one message. Throws a BosunError ERR_PROTOBUF_DECODE on malformed input. */
export function decode(type: MessageType, bytes: Uint8Array): Obj {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const c: Cursor = { buf, pos: 0, end: buf.length };
  return readMessage(type, c, 0);
}

/** The low 32 bits of a varint (as an unsigned number); the rest of it is consumed. */
function varint32(c: Cursor): number {
  let v = 0;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.end) throw decodeError('truncated varint');
    const b = c.buf[c.pos++]!;
    if (i < 5) v |= (b & 0x7f) << (7 * i);
    if (b < 0x80) return v >>> 0;
  }
  throw decodeError('varint longer than 10 bytes');
}

function varint64(c: Cursor): bigint {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.end) throw decodeError('truncated varint');
    const b = c.buf[c.pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (7 * i - 32);
    if (b < 0x80) return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  }
  throw decodeError('varint longer than 10 bytes');
}

function take(c: Cursor, n: number): number {
  const at = c.pos;
  if (n > c.end - at) throw decodeError('truncated message');
  c.pos = at + n;
  return at;
}

function readLength(c: Cursor): number {
  const n = varint32(c);
  if (n > c.end - c.pos) throw decodeError('length exceeds the enclosing message');
  return n;
}

/** Skips one value of `wire` type (a whole group for wire type 3). */
function skip(c: Cursor, wire: number, number: number, depth: number): void {
  switch (wire) {
    case 0:
      varint64(c);
      return;
    case 1:
      take(c, 8);
      return;
    case 2:
      take(c, readLength(c));
      return;
    case 5:
      take(c, 4);
      return;
    case 3: {
      // A group is one level deeper than the message holding it.
      if (depth + 1 >= MAX_NESTING_DEPTH) throw decodeError(`nesting deeper than ${MAX_NESTING_DEPTH}`);
      for (;;) {
        const tag = varint32(c);
        if ((tag & 7) === 4) {
          if (tag >>> 3 !== number) throw decodeError('mismatched end of group');
          return;
        }
        skip(c, tag & 7, tag >>> 3, depth + 1);
      }
    }
    default:
      throw decodeError(`invalid wire type ${wire}`);
  }
}

function readScalar(t: ScalarType, c: Cursor): unknown {
  switch (t) {
    case 'string': {
      const n = readLength(c);
      return c.buf.toString('utf8', take(c, n), c.pos);
    }
    case 'bytes': {
      const n = readLength(c);
      const at = take(c, n);
      return Buffer.from(c.buf.subarray(at, at + n));
    }
    case 'bool':
      return varint64(c) !== 0n;
    case 'int32':
      return varint32(c) | 0;
    case 'uint32':
      return varint32(c);
    case 'sint32': {
      const n = varint32(c);
      return (n >>> 1) ^ -(n & 1);
    }
    case 'int64':
      return BigInt.asIntN(64, varint64(c)).toString();
    case 'uint64':
      return varint64(c).toString();
    case 'sint64': {
      const n = varint64(c);
      return ((n >> 1n) ^ -(n & 1n)).toString();
    }
    case 'fixed32':
      return c.buf.readUInt32LE(take(c, 4));
    case 'sfixed32':
      return c.buf.readInt32LE(take(c, 4));
    case 'fixed64':
      return c.buf.readBigUInt64LE(take(c, 8)).toString();
    case 'sfixed64':
      return c.buf.readBigInt64LE(take(c, 8)).toString();
    case 'double':
      return c.buf.readDoubleLE(take(c, 8));
    case 'float':
      return c.buf.readFloatLE(take(c, 4));
  }
}

function readValue(f: Field, c: Cursor, depth: number): unknown {
  const t = f.type;
  if (typeof t === 'string') return readScalar(t, c);
  if (t.kind === 'enum') {
    const n = varint32(c) | 0;
    return t.names.get(n) ?? n;
  }
  const n = readLength(c);
  const end = c.end;
  c.end = c.pos + n;
  const v = readMessage(t, c, depth + 1);
  c.end = end;
  return v;
}

function scalarDefault(t: ScalarType): unknown {
  switch (t) {
    case 'string':
      return '';
    case 'bytes':
      return Buffer.alloc(0);
    case 'bool':
      return false;
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return '0';
    default:
      return 0;
  }
}

function fieldDefault(f: Field): unknown {
  const t = f.type;
  if (typeof t === 'string') return scalarDefault(t);
  return t.kind === 'enum' ? t.defaultName : null;
}

/** Key order of a decoded message, as proto-loader's: repeated, maps, then the rest (oneof members only when set). */
const layouts = new WeakMap<MessageType, readonly Field[]>();
function layout(type: MessageType): readonly Field[] {
  let l = layouts.get(type);
  if (!l) {
    const rest = type.fields.filter((f) => !f.oneof);
    l = [...rest.filter((f) => f.repeated), ...rest.filter((f) => f.mapKey), ...rest.filter((f) => !f.repeated && !f.mapKey)];
    layouts.set(type, l);
  }
  return l;
}

function readMessage(type: MessageType, c: Cursor, depth: number): Obj {
  if (depth >= MAX_NESTING_DEPTH) throw decodeError(`nesting deeper than ${MAX_NESTING_DEPTH}`);
  const out: Obj = {};
  for (const f of layout(type)) out[f.name] = f.repeated ? [] : f.mapKey ? {} : fieldDefault(f);
  while (c.pos < c.end) {
    const tag = varint32(c);
    const number = tag >>> 3;
    const wire = tag & 7;
    if (number === 0) throw decodeError('field number 0');
    const f = type.byNumber.get(number);
    if (!f) skip(c, wire, number, depth);
    else if (f.mapKey) {
      if (wire !== 2) skip(c, wire, number, depth);
      else readMapEntry(f, out[f.name] as Obj, c, depth);
    } else if (f.repeated) {
      const list = out[f.name] as unknown[];
      if (wire === 2 && f.wire !== 2) {
        const end = c.end;
        const n = readLength(c);
        c.end = c.pos + n;
        while (c.pos < c.end) list.push(readValue(f, c, depth));
        c.end = end;
      } else if (wire === f.wire) list.push(readValue(f, c, depth));
      else skip(c, wire, number, depth);
    } else if (wire !== f.wire) skip(c, wire, number, depth);
    else {
      out[f.name] = readValue(f, c, depth);
      if (f.oneof) {
        // Setting one member of a oneof clears the others.
        for (const g of type.fields) if (g.oneof === f.oneof && g !== f) delete out[g.name];
        out[f.oneof] = f.name;
      }
    }
  }
  return out;
}

function readMapEntry(f: Field, map: Obj, c: Cursor, depth: number): void {
  const end = c.end;
  const n = readLength(c);
  c.end = c.pos + n;
  const keyType = f.mapKey!;
  const keyWire = keyType === 'string' ? 2 : keyType.includes('fixed') ? (keyType.endsWith('64') ? 1 : 5) : 0;
  let key: unknown = scalarDefault(keyType);
  let value: unknown;
  while (c.pos < c.end) {
    const tag = varint32(c);
    if (tag === ((1 << 3) | keyWire)) key = readScalar(keyType, c);
    else if (tag >>> 3 === 2 && (tag & 7) === f.wire) value = readValue(f, c, depth);
    else skip(c, tag & 7, tag >>> 3, depth);
  }
  c.end = end;
  if (value === undefined) {
    const t = f.type;
    value = typeof t === 'string' || t.kind === 'enum' ? fieldDefault(f) : readMessage(t, { buf: c.buf, pos: 0, end: 0 }, depth + 1);
  }
  const k = String(key);
  if (k === '__proto__') Object.defineProperty(map, k, { value, enumerable: true, writable: true, configurable: true });
  else map[k] = value;
}

// ---------------------------------------------------------------- encoding

/** A growable output buffer. Length prefixes are written after their content, shifting it when they need more than a byte. */
class Writer {
  buf = Buffer.allocUnsafe(256);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(n: number): void {
    this.ensure(5);
    while (n > 0x7f) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }
  /** An unsigned 64-bit value. */
  varint64(v: bigint): void {
    if (v <= 0xffffffffn) return this.varint(Number(v));
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }
  tag(number: number, wire: number): void {
    this.varint(((number << 3) | wire) >>> 0);
  }
  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
  /** Starts a length-delimited value; returns the mark for `close`. */
  open(): number {
    this.ensure(1);
    return this.pos++;
  }
  close(mark: number): void {
    const len = this.pos - mark - 1;
    let size = 1;
    while (len >= 2 ** (7 * size)) size++;
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(mark + size, mark + 1, this.pos);
      this.pos += size - 1;
    }
    const end = this.pos;
    this.pos = mark;
    this.varint(len);
    this.pos = end;
  }
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Encodes `value` (a plain object of the message's shape). Throws a TypeError on values of the wrong type. */
export function encode(type: MessageType, value: object): Buffer {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${type.fullName}: object expected`);
  }
  const w = new Writer();
  writeMessage(w, type, value as Obj, 0, type.fullName);
  return w.finish();
}

function writeMessage(w: Writer, type: MessageType, obj: Obj, depth: number, at: string): void {
  if (depth >= MAX_NESTING_DEPTH) throw new TypeError(`${at}: nesting deeper than ${MAX_NESTING_DEPTH}`);
  for (const f of type.fields) {
    const v = obj[f.name];
    if (v == null) continue;
    const where = `${at}.${f.name}`;
    if (f.mapKey) writeMap(w, f, v, depth, where);
    else if (f.repeated) {
      if (!Array.isArray(v)) throw new TypeError(`${where}: array expected`);
      if (v.length === 0) continue;
      if (f.packed) {
        w.tag(f.number, 2);
        const mark = w.open();
        for (let i = 0; i < v.length; i++) writeValue(w, f, v[i], depth, `${where}[${i}]`, false);
        w.close(mark);
      } else {
        for (let i = 0; i < v.length; i++) {
          w.tag(f.number, f.wire);
          writeValue(w, f, v[i], depth, `${where}[${i}]`, false);
        }
      }
    } else {
      // A oneof member is written whenever set, zero or not: that is what tells the members apart.
      const mark = w.pos;
      w.tag(f.number, f.wire);
      if (!writeValue(w, f, v, depth, where, !f.oneof)) w.pos = mark;
    }
  }
}

function writeMap(w: Writer, f: Field, v: unknown, depth: number, at: string): void {
  if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${at}: object expected`);
  const map = v as Obj;
  const keyType = f.mapKey!;
  const keyField: Field = { name: 'key', number: 1, type: keyType, repeated: false, packed: false, wire: keyType === 'string' ? 2 : keyType.includes('fixed') ? (keyType.endsWith('64') ? 1 : 5) : 0 };
  for (const k of Object.keys(map)) {
    w.tag(f.number, 2);
    const mark = w.open();
    w.tag(1, keyField.wire);
    writeValue(w, keyField, keyType === 'bool' ? k === 'true' : k, depth, `${at}[${JSON.stringify(k)}]`, false);
    w.tag(2, f.wire);
    const value = map[k];
    if (value == null) throw new TypeError(`${at}[${JSON.stringify(k)}]: value expected`);
    writeValue(w, f, value, depth, `${at}[${JSON.stringify(k)}]`, false);
    w.close(mark);
  }
}

/** Writes one value (its tag already written). Returns false when `omitZero` and the value is proto3's zero, writing nothing. */
function writeValue(w: Writer, f: Field, v: unknown, depth: number, at: string, omitZero: boolean): boolean {
  const t = f.type;
  if (v == null) throw new TypeError(`${at}: value expected`);
  if (typeof t !== 'string') {
    if (t.kind === 'enum') {
      const n = enumNumber(t, v, at);
      if (omitZero && n === 0) return false;
      writeInt32(w, n);
      return true;
    }
    if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${at}: object expected`);
    const mark = w.open();
    writeMessage(w, t, v as Obj, depth + 1, at);
    w.close(mark);
    return true;
  }
  switch (t) {
    case 'string': {
      const s = String(v);
      if (omitZero && s === '') return false;
      w.string(s);
      return true;
    }
    case 'bytes': {
      const b = bytesOf(v, at);
      if (omitZero && b.length === 0) return false;
      w.bytes(b);
      return true;
    }
    case 'bool': {
      const b = Boolean(v);
      if (omitZero && !b) return false;
      w.varint(b ? 1 : 0);
      return true;
    }
    case 'double':
    case 'float': {
      const n = Number(v);
      if (omitZero && Object.is(n, 0)) return false;
      w.ensure(8);
      w.pos = t === 'double' ? w.buf.writeDoubleLE(n, w.pos) : w.buf.writeFloatLE(n, w.pos);
      return true;
    }
    case 'int32':
    case 'sint32':
    case 'sfixed32':
    case 'uint32':
    case 'fixed32': {
      const n = int32Of(t, v, at);
      if (omitZero && n === 0) return false;
      if (t === 'int32') writeInt32(w, n);
      else if (t === 'sint32') w.varint(((n << 1) ^ (n >> 31)) >>> 0);
      else if (t === 'uint32') w.varint(n);
      else {
        w.ensure(4);
        w.pos = t === 'fixed32' ? w.buf.writeUInt32LE(n, w.pos) : w.buf.writeInt32LE(n, w.pos);
      }
      return true;
    }
    default: {
      const n = int64Of(t, v, at);
      if (omitZero && n === 0n) return false;
      if (t === 'int64' || t === 'uint64') w.varint64(BigInt.asUintN(64, n));
      else if (t === 'sint64') w.varint64(BigInt.asUintN(64, (n << 1n) ^ (n >> 63n)));
      else {
        w.ensure(8);
        w.pos = t === 'fixed64' ? w.buf.writeBigUInt64LE(n, w.pos) : w.buf.writeBigInt64LE(n, w.pos);
      }
      return true;
    }
  }
}

/** int32 values are sign-extended to 64 bits on the wire (negative ones take 10 bytes). */
function writeInt32(w: Writer, n: number): void {
  if (n >= 0) w.varint(n);
  else w.varint64(BigInt.asUintN(64, BigInt(n)));
}

function enumNumber(t: EnumType, v: unknown, at: string): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new TypeError(`${at}: ${v} is not a ${t.fullName} number`);
    return v;
  }
  const n = typeof v === 'string' ? t.values.get(v) : undefined;
  if (n === undefined) throw new TypeError(`${at}: ${JSON.stringify(v)} is not a ${t.fullName} value`);
  return n;
}

function bytesOf(v: unknown, at: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  throw new TypeError(`${at}: bytes expected (Uint8Array or base64 string)`);
}

const INT32_RANGE: Record<string, readonly [number, number]> = {
  int32: [-0x80000000, 0x7fffffff],
  sint32: [-0x80000000, 0x7fffffff],
  sfixed32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  fixed32: [0, 0xffffffff],
};

function int32Of(t: ScalarType, v: unknown, at: string): number {
  const n = Math.trunc(typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : typeof v === 'bigint' ? Number(v) : NaN);
  const [min, max] = INT32_RANGE[t]!;
  if (!Number.isInteger(n) || n < min || n > max) throw new TypeError(`${at}: ${String(v)} is not a ${t}`);
  return n;
}

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const MAX_UINT64 = 2n ** 64n - 1n;

function int64Of(t: ScalarType, v: unknown, at: string): bigint {
  let n: bigint | undefined;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) n = BigInt(v.trim());
  else if ((typeof v === 'number' || (typeof v === 'string' && v.trim() !== '')) && Number.isFinite(Number(v))) {
    n = BigInt(Math.trunc(Number(v))); // as protobufjs: fractions are truncated
  }
  const unsigned = t === 'uint64' || t === 'fixed64';
  if (n === undefined || n > (unsigned ? MAX_UINT64 : MAX_INT64) || n < (unsigned ? 0n : MIN_INT64)) {
    throw new TypeError(`${at}: ${typeof v === 'string' ? JSON.stringify(v) : String(v)} is not a ${t}`);
  }
  return n;
}

// ---------------------------------------------------------------- gRPC

/**
 * grpc-js method definitions of one service (`runtime.v1.RuntimeService`), by rpc name, with
 * paths `/<service>/<rpc>` and this codec as (de)serializer on both sides.
 */
export function serviceDefinition(schema: ProtoSchema, service: string): Record<string, grpc.MethodDefinition<object, Obj>> {
  const svc = schema.services.get(service);
  if (!svc) throw new Error(`service ${service} is not declared`);
  const out: Record<string, grpc.MethodDefinition<object, Obj>> = {};
  for (const m of svc.methods) {
    out[m.name] = {
      path: `/${svc.fullName}/${m.name}`,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      requestSerialize: (v: object) => encode(m.requestType, v),
      requestDeserialize: (b: Buffer) => decode(m.requestType, b),
      responseSerialize: (v: object) => encode(m.responseType, v),
      responseDeserialize: (b: Buffer) => decode(m.responseType, b),
      originalName: m.name[0]!.toLowerCase() + m.name.slice(1),
    };
  }
  return out;
}
