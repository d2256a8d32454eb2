/**
 * The Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`) of built-in kinds,
 * driven by the schema (./schema). A body is the 4-byte magic `k8s\0` followed by a
 * runtime.Unknown message: { typeMeta = 1 { apiVersion = 1, kind = 2 }, raw = 2,
 * contentEncoding = 3, contentType = 4 }, where `raw` is the object's own message.
 *
 * Decoding yields the plain JSON object that Go's JSON encoder prints for the same Go value:
 * fields in Go declaration order after `kind` and `apiVersion`; non-pointer scalars at their zero
 * value left out when the JSON tag has omitempty and printed otherwise; pointer scalars kept even
 * when zero; non-pointer structs always printed (`{}` when empty), as Go prints them; int64 as JS
 * numbers (exact within ±2^53); bytes as base64. Where Go prints `null` (a nil slice or map
 * without omitempty, a zero Time such as an unset metadata.creationTimestamp, an empty
 * RawExtension) the key is left out: JSON decoding treats null and absent alike.
 *
 * Encoding is the inverse and writes what Go's generated marshallers write: fields ascending by
 * number, every non-pointer scalar and struct even when zero, map entries sorted by key, repeated
 * scalars unpacked. For objects decoded from Go's bytes, encode(decode(bytes)) gives the bytes
 * back. The wire reader and writer are hand-written: varint, 64-bit, length-delimited and 32-bit
 * are all the Kubernetes messages use, and a generic library would not know Go's JSON rules.
 */
import type { KubeObject } from './types.ts';
import { BosunError } from '../util/errors.ts';
import { getMessage, getType, typeForKind } from './schema/index.ts';
import type { FieldDef, ListDef, MessageDef, Scalar, Special, TypeRef } from './schema/index.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { isJsonObject } from '../util/json.ts';

export { formatDuration, parseDuration };

const magic = [0x6b, 0x38, 0x73, 0x00] as const;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Decodes a Kubernetes protobuf body into the JSON form of the object. Throws ERR_PROTOBUF_DECODE. */
export function decodeKubeProtobuf(body: Uint8Array): KubeObject {
  if (body.length < 4 || magic.some((b, i) => body[i] !== b)) {
    throw decodeError('the body does not start with the Kubernetes protobuf magic number');
  }
  try {
    const unknown = readUnknown({ buf: body, pos: 4, end: body.length });
    if (unknown.contentEncoding !== '') {
      throw decodeError(`unsupported content encoding ${JSON.stringify(unknown.contentEncoding)}`);
    }
    const { apiVersion, kind } = unknown;
    const slash = apiVersion.indexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = apiVersion.slice(slash + 1);
    const def = typeForKind(group, version, kind);
    if (!def) throw decodeError(`no protobuf type for kind ${JSON.stringify(kind)} of ${JSON.stringify(apiVersion)}`);
    const raw = unknown.raw ?? new Uint8Array(0);
    const msg = readMessage(def, { buf: raw, pos: 0, end: raw.length });
    return { kind, apiVersion, ...messageToJson(msg) } as KubeObject;
  } catch (err) {
    if (err instanceof BosunError) throw err;
    throw decodeError((err as Error).message, err);
  }
}

/**
 * Encodes an object of a built-in kind (apiVersion and kind set) as a Kubernetes protobuf body.
 * Throws a TypeError for an unknown kind or a value of the wrong JSON type.
 */
export function encodeKubeProtobuf(obj: KubeObject): Uint8Array {
  const apiVersion = obj.apiVersion ?? '';
  const kind = obj.kind ?? '';
  const slash = apiVersion.indexOf('/');
  const def = typeForKind(slash < 0 ? '' : apiVersion.slice(0, slash), apiVersion.slice(slash + 1), kind);
  if (!def) throw new TypeError(`no protobuf type for kind ${JSON.stringify(kind)} of ${JSON.stringify(apiVersion)}`);
  const w = new Writer();
  for (const b of magic) w.byte(b);
  const typeMeta = new Writer();
  typeMeta.tag(1, WIRE_LEN).string(apiVersion);
  typeMeta.tag(2, WIRE_LEN).string(kind);
  w.tag(1, WIRE_LEN).bytes(typeMeta.finish());
  w.tag(2, WIRE_LEN).bytes(encodeMessage(def, obj, '').finish());
  w.tag(3, WIRE_LEN).string('');
  w.tag(4, WIRE_LEN).string('');
  return w.finish();
}

function decodeError(message: string, cause?: unknown): BosunError {
  return new BosunError('ERR_PROTOBUF_DECODE', message, cause === undefined ? undefined : { cause });
}

// ---------------------------------------------------------------------------------------------
// Wire reading

interface Cursor {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
}

/** A varint as two unsigned 32-bit halves. */
function readVarint64(c: Cursor): [lo: number, hi: number] {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.end) throw new Error('truncated varint');
    const b = c.buf[c.pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (7 * i - 32);
    if (b < 0x80) return [lo >>> 0, hi >>> 0];
  }
  throw new Error('varint too long');
}

function readUint32(c: Cursor): number {
  return readVarint64(c)[0];
}

function int64Of(lo: number, hi: number): number {
  if (hi & 0x80000000) return -((~hi >>> 0) * 0x100000000 + (~lo >>> 0) + 1);
  return hi * 0x100000000 + lo;
}

function readLength(c: Cursor): Cursor {
  const len = readUint32(c);
  const start = c.pos;
  if (len > c.end - start) throw new Error('truncated length-delimited field');
  c.pos = start + len;
  return { buf: c.buf, pos: start, end: start + len };
}

function skip(c: Cursor, wire: number): void {
  switch (wire) {
    case WIRE_VARINT:
      readVarint64(c);
      return;
    case WIRE_FIXED64:
      c.pos += 8;
      break;
    case WIRE_LEN:
      readLength(c);
      return;
    case WIRE_FIXED32:
      c.pos += 4;
      break;
    default:
      throw new Error(`unsupported wire type ${wire}`);
  }
  if (c.pos > c.end) throw new Error('truncated field');
}

const utf8 = new TextDecoder();

function readString(c: Cursor): string {
  const s = readLength(c);
  return utf8.decode(s.buf.subarray(s.pos, s.end));
}

function readBytes(c: Cursor): Uint8Array {
  const s = readLength(c);
  return s.buf.subarray(s.pos, s.end);
}

function readTag(c: Cursor): [number, number] {
  const tag = readUint32(c);
  const number = tag >>> 3;
  if (number === 0) throw new Error('field number 0');
  return [number, tag & 7];
}

function readUnknown(c: Cursor): { apiVersion: string; kind: string; raw?: Uint8Array; contentEncoding: string } {
  let apiVersion = '';
  let kind = '';
  let raw: Uint8Array | undefined;
  let contentEncoding = '';
  while (c.pos < c.end) {
    const [number, wire] = readTag(c);
    if (number === 1 && wire === WIRE_LEN) {
      const tm = readLength(c);
      while (tm.pos < tm.end) {
        const [n, w] = readTag(tm);
        if (n === 1 && w === WIRE_LEN) apiVersion = readString(tm);
        else if (n === 2 && w === WIRE_LEN) kind = readString(tm);
        else skip(tm, w);
      }
    } else if (number === 2 && wire === WIRE_LEN) raw = readBytes(c);
    else if (number === 3 && wire === WIRE_LEN) contentEncoding = readString(c);
    else skip(c, wire);
  }
  return { apiVersion, kind, raw, contentEncoding };
}

// ---------------------------------------------------------------------------------------------
// Decoding: protobuf → decoded values (per field) → Go's JSON

/** A decoded message before it is turned into JSON: values by field. */
interface Decoded {
  readonly def: MessageDef;
  readonly values: Map<FieldDef, unknown>;
}

/** Reads a message, merging into `into` when a message field occurs more than once (protobuf rule). */
function readMessage(def: MessageDef, c: Cursor, into?: Decoded): Decoded {
  const msg = into ?? { def, values: new Map<FieldDef, unknown>() };
  while (c.pos < c.end) {
    const [number, wire] = readTag(c);
    const field = def.byNumber.get(number);
    if (!field) {
      skip(c, wire); // unknown fields are ignored, as Go does
      continue;
    }
    readField(msg, field, wire, c);
  }
  return msg;
}

function readField(msg: Decoded, field: FieldDef, wire: number, c: Cursor): void {
  const type = field.type;
  const where = () => `${msg.def.shortName}.${field.name}`;
  switch (type.kind) {
    case 'list': {
      let list = msg.values.get(field) as unknown[] | undefined;
      if (!list) msg.values.set(field, (list = []));
      const elem = type.elem;
      if (elem.kind === 'scalar' && wire === WIRE_LEN && elem.scalar !== 'string' && elem.scalar !== 'bytes') {
        const packed = readLength(c); // packed repeated scalars
        while (packed.pos < packed.end) list.push(readScalar(elem.scalar, wireOf(elem.scalar), packed, where));
      } else {
        list.push(readValue(elem, wire, c, undefined, where));
      }
      return;
    }
    case 'map': {
      if (wire !== WIRE_LEN) throw wireError(where(), wire);
      let map = msg.values.get(field) as Map<string, unknown> | undefined;
      if (!map) msg.values.set(field, (map = new Map()));
      const entry = readLength(c);
      let key = '';
      let value: unknown;
      while (entry.pos < entry.end) {
        const [n, w] = readTag(entry);
        if (n === 1 && w === WIRE_LEN) key = readString(entry);
        else if (n === 2) value = readValue(type.value, w, entry, value, where);
        else skip(entry, w);
      }
      map.set(key, value === undefined ? zeroValue(type.value) : value);
      return;
    }
    default:
      msg.values.set(field, readValue(type, wire, c, msg.values.get(field), where));
  }
}

function wireOf(scalar: Scalar): number {
  return scalar === 'double' ? WIRE_FIXED64 : scalar === 'string' || scalar === 'bytes' ? WIRE_LEN : WIRE_VARINT;
}

function wireError(where: string, wire: number): Error {
  return new Error(`${where}: unexpected wire type ${wire}`);
}

/** One value of a (non-list, non-map) type; `previous` is merged into for messages. */
function readValue(type: TypeRef, wire: number, c: Cursor, previous: unknown, where: () => string): unknown {
  switch (type.kind) {
    case 'scalar':
      return readScalar(type.scalar, wire, c, where);
    case 'special':
      if (wire !== WIRE_LEN) throw wireError(where(), wire);
      return readSpecial(type.special, readLength(c));
    case 'message': {
      if (wire !== WIRE_LEN) throw wireError(where(), wire);
      const def = getType(type.name);
      if (!def) throw new Error(`${where()}: no type ${type.name}`);
      const sub = readLength(c);
      if (def.kind === 'list') {
        // a named list: message { repeated items = 1 }
        const holderDef = listHolder(def);
        const items = holderDef.fields[0]!;
        const holder: Decoded = { def: holderDef, values: new Map([[items, Array.isArray(previous) ? previous : []]]) };
        readMessage(holderDef, sub, holder);
        return holder.values.get(items);
      }
      return readMessage(def, sub, previous as Decoded | undefined);
    }
    default:
      throw new Error(`${where()}: nested ${type.kind} is not supported`);
  }
}

function readScalar(scalar: Scalar, wire: number, c: Cursor, where: () => string): unknown {
  if (wire !== wireOf(scalar)) throw wireError(where(), wire);
  switch (scalar) {
    case 'string':
      return readString(c);
    case 'bytes':
      return readBytes(c);
    case 'bool': {
      const [lo, hi] = readVarint64(c);
      return lo !== 0 || hi !== 0;
    }
    case 'int32':
      return readVarint64(c)[0] | 0;
    case 'int64': {
      const [lo, hi] = readVarint64(c);
      return int64Of(lo, hi);
    }
    case 'double': {
      if (c.end - c.pos < 8) throw new Error('truncated double');
      const v = new DataView(c.buf.buffer, c.buf.byteOffset + c.pos, 8).getFloat64(0, true);
      c.pos += 8;
      return v;
    }
  }
}

/** Reads the small well-known messages into their JSON form (undefined where Go prints null). */
function readSpecial(special: Special, c: Cursor): unknown {
  const fields = new Map<number, unknown>();
  while (c.pos < c.end) {
    const [n, w] = readTag(c);
    if (w === WIRE_VARINT) fields.set(n, readVarint64(c));
    else if (w === WIRE_LEN) fields.set(n, readBytes(c));
    else skip(c, w);
  }
  const int = (n: number): number => {
    const v = fields.get(n) as [number, number] | undefined;
    return v ? int64Of(v[0], v[1]) : 0;
  };
  const text = (n: number): string => {
    const v = fields.get(n);
    return v instanceof Uint8Array ? utf8.decode(v) : '';
  };
  switch (special) {
    case 'Time':
    case 'MicroTime':
      if (fields.size === 0 || (int(1) === zeroTimeSeconds && int(2) === 0)) return undefined; // Go prints null
      return formatTime(int(1), int(2) | 0, special === 'MicroTime');
    case 'Duration':
      return formatDuration(int(1));
    case 'Quantity':
      return text(1);
    case 'IntOrString':
      return int(1) === 1 ? text(3) : int(2) | 0;
    case 'RawExtension':
    case 'FieldsV1':
    case 'JSON': {
      const raw = fields.get(1);
      if (!(raw instanceof Uint8Array) || raw.length === 0) return undefined;
      if (special === 'RawExtension' && magic.every((b, i) => raw[i] === b)) return decodeKubeProtobuf(raw);
      return JSON.parse(utf8.decode(raw));
    }
  }
}

const listHolders = new Map<string, MessageDef>();

/** The message a named list is wrapped in on the wire: { repeated <elem> items = 1 }. */
function listHolder(list: ListDef): MessageDef {
  let def = listHolders.get(list.name);
  if (!def) {
    const items: FieldDef = {
      name: 'items',
      number: 1,
      type: { kind: 'list', elem: list.elem },
      pointer: false,
      omitEmpty: true,
      required: false,
      inline: false,
    };
    def = {
      kind: 'message',
      name: list.name,
      shortName: list.shortName,
      fields: [items],
      byNumberOrder: [items],
      byNumber: new Map([[1, items]]),
      byJson: new Map([['items', items]]),
      oneof: false,
    };
    listHolders.set(list.name, def);
  }
  return def;
}

/** The value a map entry without a value field holds (Go's zero value). */
function zeroValue(type: TypeRef): unknown {
  switch (type.kind) {
    case 'scalar':
      return type.scalar === 'bytes' ? new Uint8Array(0) : scalarZero(type.scalar);
    case 'message': {
      const def = getType(type.name);
      return def?.kind === 'message' ? { def, values: new Map() } : [];
    }
    case 'special':
      return specialZero(type.special);
    default:
      return undefined;
  }
}

/** Go's JSON for a zero well-known value; undefined where Go prints null. */
function specialZero(special: Special): unknown {
  return special === 'Quantity' ? '0' : special === 'IntOrString' ? 0 : special === 'Duration' ? '0s' : undefined;
}

function scalarZero(scalar: Scalar): unknown {
  return scalar === 'string' ? '' : scalar === 'bool' ? false : scalar === 'bytes' ? undefined : 0;
}

/** The message type of an inline (embedded) field. */
function inlineType(field: FieldDef): MessageDef {
  if (field.type.kind !== 'message') throw new Error(`inline field ${field.name} is not a message`);
  return getMessage(field.type.name);
}

function messageToJson(msg: Decoded): Record<string, unknown> {
  const def = msg.def;
  if (def.oneof) throw new Error(`${def.shortName}: a oneof type has no object form`);
  const out: Record<string, unknown> = {};
  for (const field of def.fields) {
    const value = msg.values.get(field);
    if (field.inline) {
      const inner = (value as Decoded | undefined) ?? { def: inlineType(field), values: new Map() };
      for (const [k, v] of Object.entries(messageToJson(inner))) if (!(k in out)) out[k] = v;
      continue;
    }
    const json = value === undefined ? absentJson(field) : fieldJson(field, value);
    if (json !== undefined) out[field.name] = json;
  }
  return out;
}

/** What Go prints for a field absent from the message (undefined: nothing, or null). */
function absentJson(field: FieldDef): unknown {
  if (field.pointer) return undefined;
  const type = field.type;
  switch (type.kind) {
    case 'scalar':
      return field.omitEmpty ? undefined : scalarZero(type.scalar);
    case 'special':
      return specialZero(type.special);
    case 'message': {
      const def = getType(type.name);
      if (def?.kind !== 'message' || def.oneof) return undefined;
      return messageToJson({ def, values: new Map() }); // Go prints structs even with omitempty
    }
    default:
      return undefined; // nil slice or map
  }
}

function fieldJson(field: FieldDef, value: unknown): unknown {
  const type = field.type;
  if (type.kind === 'scalar' && !field.pointer && field.omitEmpty && isZeroScalar(value)) return undefined;
  if (type.kind === 'list' && (value as unknown[]).length === 0) return undefined;
  return valueJson(type, value);
}

function isZeroScalar(value: unknown): boolean {
  return value === '' || value === 0 || value === false || (value instanceof Uint8Array && value.length === 0);
}

function valueJson(type: TypeRef, value: unknown): unknown {
  switch (type.kind) {
    case 'scalar':
      if (!(value instanceof Uint8Array)) return value;
      return Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64');
    case 'special':
      return value;
    // inside lists and maps, Go's null (a zero Time, an empty RawExtension) stays null
    case 'list':
      return (value as unknown[]).map((v) => valueJson(type.elem, v) ?? null);
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value as Map<string, unknown>) out[k] = valueJson(type.value, v) ?? null;
      return out;
    }
    case 'message': {
      if (Array.isArray(value)) {
        const def = getType(type.name);
        return def?.kind === 'list' ? value.map((v) => valueJson(def.elem, v)) : value;
      }
      const msg = value as Decoded;
      return msg.def.oneof ? oneofJson(msg) : messageToJson(msg);
    }
  }
}

/** JSONSchemaPropsOr{Array,Bool,StringArray}: a non-empty list, else the message, else the bool. */
function oneofJson(msg: Decoded): unknown {
  const fields = msg.def.fields;
  for (const f of fields) {
    const v = msg.values.get(f);
    if (f.type.kind === 'list' && Array.isArray(v) && v.length > 0) return valueJson(f.type, v);
  }
  for (const f of fields) {
    const v = msg.values.get(f);
    if (f.type.kind === 'message' && v !== undefined) return valueJson(f.type, v);
  }
  for (const f of fields) {
    if (f.type.kind === 'scalar' && f.type.scalar === 'bool') return msg.values.get(f) ?? false;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Encoding: JSON → protobuf

/** A growable byte buffer with the protobuf primitives. */
class Writer {
  #buf = new Uint8Array(256);
  #len = 0;

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  byte(b: number): this {
    this.#reserve(1);
    this.#buf[this.#len++] = b;
    return this;
  }

  /** A varint of a signed integer within ±2^53 (negative numbers take ten bytes, as in Go). */
  varint(n: number): this {
    if (n >= 0 && n < 0x80000000) {
      this.#reserve(5);
      while (n >= 0x80) {
        this.#buf[this.#len++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      this.#buf[this.#len++] = n;
      return this;
    }
    let hi = Math.floor(n / 0x100000000);
    let lo = n - hi * 0x100000000;
    hi >>>= 0;
    lo >>>= 0;
    this.#reserve(10);
    while (hi !== 0 || lo >= 0x80) {
      this.#buf[this.#len++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.#buf[this.#len++] = lo;
    return this;
  }

  tag(number: number, wire: number): this {
    return this.varint(number * 8 + wire);
  }

  bytes(b: Uint8Array): this {
    this.varint(b.length);
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  string(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }

  double(d: number): this {
    this.#reserve(8);
    new DataView(this.#buf.buffer, this.#len, 8).setFloat64(0, d, true);
    this.#len += 8;
    return this;
  }

  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

function encodeMessage(def: MessageDef, obj: unknown, path: string): Writer {
  const w = new Writer();
  if (obj !== undefined && obj !== null && !isJsonObject(obj)) throw new TypeError(`${path || def.shortName}: expected an object`);
  const o = (obj ?? {}) as Record<string, unknown>;
  for (const field of def.byNumberOrder) {
    const at = path ? `${path}.${field.name}` : field.name;
    if (field.inline) {
      // an embedded struct: its JSON fields live in this same object
      w.tag(field.number, WIRE_LEN).bytes(encodeMessage(inlineType(field), o, path).finish());
      continue;
    }
    const v = o[field.name];
    encodeField(w, field, v, at);
  }
  return w;
}

function encodeField(w: Writer, field: FieldDef, v: unknown, at: string): void {
  const type = field.type;
  const present = v !== undefined && v !== null;
  switch (type.kind) {
    case 'list':
      if (!present) return;
      if (!Array.isArray(v)) throw new TypeError(`${at}: expected an array`);
      for (const item of v) encodeValue(w, field.number, type.elem, item, at);
      return;
    case 'map': {
      if (!present) return;
      if (!isJsonObject(v)) throw new TypeError(`${at}: expected an object`);
      for (const key of Object.keys(v).sort()) {
        const entry = new Writer();
        entry.tag(1, WIRE_LEN).string(key);
        const value = v[key];
        // Go writes the value of every entry, except a nil []byte
        if (!(type.value.kind === 'scalar' && type.value.scalar === 'bytes' && (value === null || value === undefined))) {
          encodeValue(entry, 2, type.value, value, `${at}.${key}`);
        }
        w.tag(field.number, WIRE_LEN).bytes(entry.finish());
      }
      return;
    }
    case 'scalar':
      // Go writes non-pointer scalars always, pointers and []byte when set
      if (!present && (field.pointer || type.scalar === 'bytes')) return;
      encodeValue(w, field.number, type, v, at);
      return;
    case 'special':
    case 'message':
      if (!present && field.pointer) return;
      if (!present && type.kind === 'message' && getType(type.name)?.kind === 'list') return; // nil named list
      encodeValue(w, field.number, type, v, at);
      return;
  }
}

function encodeValue(w: Writer, number: number, type: TypeRef, v: unknown, at: string): void {
  switch (type.kind) {
    case 'scalar':
      encodeScalar(w, number, type.scalar, v, at);
      return;
    case 'special':
      w.tag(number, WIRE_LEN).bytes(encodeSpecial(type.special, v, at));
      return;
    case 'message': {
      const def = getType(type.name);
      if (!def) throw new TypeError(`${at}: no type ${type.name}`);
      if (def.kind === 'list') {
        if (v !== undefined && v !== null && !Array.isArray(v)) throw new TypeError(`${at}: expected an array`);
        const inner = new Writer();
        for (const item of (v as unknown[] | null | undefined) ?? []) encodeValue(inner, 1, def.elem, item, at);
        w.tag(number, WIRE_LEN).bytes(inner.finish());
        return;
      }
      const body = def.oneof ? encodeOneof(def, v, at) : encodeMessage(def, v, at);
      w.tag(number, WIRE_LEN).bytes(body.finish());
      return;
    }
    default:
      throw new TypeError(`${at}: nested ${type.kind} is not supported`);
  }
}

function encodeScalar(w: Writer, number: number, scalar: Scalar, v: unknown, at: string): void {
  const value = v === undefined || v === null ? scalarZero(scalar) : v;
  switch (scalar) {
    case 'string':
      if (typeof value !== 'string') throw new TypeError(`${at}: expected a string`);
      w.tag(number, WIRE_LEN).string(value);
      return;
    case 'bytes':
      if (typeof value !== 'string') throw new TypeError(`${at}: expected a base64 string`);
      w.tag(number, WIRE_LEN).bytes(Buffer.from(value, 'base64'));
      return;
    case 'bool':
      if (typeof value !== 'boolean') throw new TypeError(`${at}: expected a boolean`);
      w.tag(number, WIRE_VARINT).varint(value ? 1 : 0);
      return;
    case 'int32':
    case 'int64':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${at}: expected an integer`);
      w.tag(number, WIRE_VARINT).varint(scalar === 'int32' ? value | 0 : value);
      return;
    case 'double':
      if (typeof value !== 'number') throw new TypeError(`${at}: expected a number`);
      w.tag(number, WIRE_FIXED64).double(value);
      return;
  }
}

function encodeSpecial(special: Special, v: unknown, at: string): Uint8Array {
  const w = new Writer();
  const present = v !== undefined && v !== null;
  switch (special) {
    case 'Time':
    case 'MicroTime': {
      if (!present) break; // the zero time is an empty message
      if (typeof v !== 'string') throw new TypeError(`${at}: expected an RFC 3339 time`);
      const t = parseTime(v);
      if (!t) throw new TypeError(`${at}: invalid RFC 3339 time ${JSON.stringify(v)}`);
      if (t.seconds === zeroTimeSeconds && t.nanos === 0) break;
      // Go keeps whole seconds of a Time and microseconds of a MicroTime
      w.tag(1, WIRE_VARINT).varint(t.seconds);
      w.tag(2, WIRE_VARINT).varint(special === 'Time' ? 0 : t.nanos - (t.nanos % 1000));
      break;
    }
    case 'Duration': {
      const nanos = present ? parseDuration(v) : 0;
      if (nanos === undefined) throw new TypeError(`${at}: invalid duration ${JSON.stringify(v)}`);
      w.tag(1, WIRE_VARINT).varint(nanos);
      break;
    }
    case 'Quantity':
      if (present && typeof v !== 'string' && typeof v !== 'number') throw new TypeError(`${at}: expected a quantity`);
      w.tag(1, WIRE_LEN).string(present ? String(v) : '0');
      break;
    case 'IntOrString':
      if (present && typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) {
        throw new TypeError(`${at}: expected an integer or a string`);
      }
      w.tag(1, WIRE_VARINT).varint(typeof v === 'string' ? 1 : 0);
      w.tag(2, WIRE_VARINT).varint(typeof v === 'number' ? v | 0 : 0);
      w.tag(3, WIRE_LEN).string(typeof v === 'string' ? v : '');
      break;
    case 'RawExtension':
    case 'FieldsV1':
    case 'JSON':
      if (present) w.tag(1, WIRE_LEN).string(JSON.stringify(v));
      break;
  }
  return w.finish();
}

function encodeOneof(def: MessageDef, v: unknown, at: string): Writer {
  const w = new Writer();
  for (const f of def.byNumberOrder) {
    const t = f.type;
    if (t.kind === 'list') {
      if (Array.isArray(v)) for (const item of v) encodeValue(w, f.number, t.elem, item, at);
    } else if (t.kind === 'message') {
      if (isJsonObject(v)) encodeValue(w, f.number, t, v, at);
    } else if (t.kind === 'scalar' && t.scalar === 'bool') {
      // Go sets the bool when the value is a schema (JSONSchemaPropsOrBool)
      w.tag(f.number, WIRE_VARINT).varint(v === true || isJsonObject(v) ? 1 : 0);
    }
  }
  if (v !== undefined && v !== null && !Array.isArray(v) && !isJsonObject(v) && typeof v !== 'boolean') {
    throw new TypeError(`${at}: expected an object, an array or a boolean`);
  }
  return w;
}

// ---------------------------------------------------------------------------------------------
// Times and durations in Go's text forms

/** Go's zero time.Time (0001-01-01T00:00:00Z) in Unix seconds. */
const zeroTimeSeconds = -62135596800;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** RFC 3339 in UTC: seconds for Time, microseconds for MicroTime (Go's formats). */
function formatTime(seconds: number, nanos: number, micro: boolean): string {
  const d = new Date(seconds * 1000);
  const base =
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  return micro ? `${base}.${pad(Math.floor(nanos / 1000), 6)}Z` : `${base}Z`;
}

const timePattern = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function parseTime(s: string): { seconds: number; nanos: number } | undefined {
  const m = timePattern.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(ms)) return undefined;
  let seconds = Math.floor(ms / 1000);
  if (m[9]) seconds -= (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 3600 + Number(m[11]) * 60);
  const nanos = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
  return { seconds, nanos };
}

