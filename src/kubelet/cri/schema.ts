/**
 * A small parser for the proto3 files the kubelet speaks (api.proto, the gRPC health proto): it
 * turns the text into resolved tables of messages, enums and services that ./codec.ts encodes
 * and decodes with. It replaces @grpc/proto-loader + protobufjs at run time, which cost the
 * agent about 12 MB resident for one file.
 *
 * Understood: `syntax = "proto3"`, `package`, messages (nested too), enums (nested too), fields
 * with scalar, enum and message types, `repeated` (packed by default; `[packed = false]`
 * honoured), `map<k, v>`, `oneof`, `service`/`rpc` (with `stream`), and comments, `option`,
 * `reserved` and field options, which are skipped. Anything else (`import`, proto2, proto3
 * `optional`, `extend`, groups) is rejected with the line it is on, so a newer proto cannot be
 * half-understood silently. Type names resolve as protoc does for well-formed files: innermost
 * scope first, `.a.b.C` fully qualified.
 */

export type ScalarType =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

/** Wire type of each scalar: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit. */
export const SCALAR_WIRE: Readonly<Record<ScalarType, number>> = {
  double: 1,
  float: 5,
  int32: 0,
  uint32: 0,
  sint32: 0,
  fixed32: 5,
  sfixed32: 5,
  int64: 0,
  uint64: 0,
  sint64: 0,
  fixed64: 1,
  sfixed64: 1,
  bool: 0,
  string: 2,
  bytes: 2,
};

const MAP_KEY_TYPES = new Set<string>(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool', 'string']);

export interface EnumType {
  readonly kind: 'enum';
  readonly fullName: string;
  /** Value by name. */
  readonly values: ReadonlyMap<string, number>;
  /** First name declared for each number. */
  readonly names: ReadonlyMap<number, string>;
  /** The first value's name: the proto3 default. */
  readonly defaultName: string;
}

export interface Field {
  readonly name: string;
  readonly number: number;
  /** For a map field, the value type. */
  readonly type: ScalarType | EnumType | MessageType;
  readonly repeated: boolean;
  /** Repeated scalars (numeric, bool, enum) written packed. */
  readonly packed: boolean;
  /** For a map field, the key type. */
  readonly mapKey?: ScalarType;
  /** The oneof this field belongs to. */
  readonly oneof?: string;
  /** Wire type of one value of this field. */
  readonly wire: number;
}

export interface MessageType {
  readonly kind: 'message';
  readonly fullName: string;
  /** Ascending by number. */
  readonly fields: readonly Field[];
  readonly byNumber: ReadonlyMap<number, Field>;
  readonly oneofs: readonly string[];
}

export interface Method {
  readonly name: string;
  readonly requestType: MessageType;
  readonly responseType: MessageType;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

export interface Service {
  readonly fullName: string;
  readonly methods: readonly Method[];
}

export interface ProtoSchema {
  readonly package: string;
  /** By full name (`runtime.v1.ContainerStatus`). */
  readonly messages: ReadonlyMap<string, MessageType>;
  readonly enums: ReadonlyMap<string, EnumType>;
  readonly services: ReadonlyMap<string, Service>;
}

// ---------------------------------------------------------------- tokens

interface Token {
  readonly text: string;
  readonly line: number;
}

const TOKEN =
  /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[A-Za-z_.][\w.]*|[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|[{}[\]()<>;=,:]/y;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(src);
    if (!m) throw new SyntaxError(`api proto line ${line}: unexpected character ${JSON.stringify(src[at])}`);
    const text = m[0];
    const c = text[0]!;
    if (!/\s/.test(c) && !(c === '/' && (text[1] === '/' || text[1] === '*'))) out.push({ text, line });
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) line++;
  }
  return out;
}

// ---------------------------------------------------------------- parsing

interface RawField {
  name: string;
  number: number;
  typeName: string;
  repeated: boolean;
  packed: boolean | undefined;
  mapKey?: string;
  oneof?: string;
  line: number;
}

interface RawMessage {
  fullName: string;
  fields: RawField[];
  oneofs: string[];
}

interface RawMethod {
  name: string;
  request: string;
  response: string;
  requestStream: boolean;
  responseStream: boolean;
  line: number;
}

const IDENT = /^[A-Za-z_][\w]*$/;

/** Parses proto3 source into resolved tables. Throws a SyntaxError naming the line on anything it does not support. */
export function parseProto(src: string): ProtoSchema {
  const toks = tokenize(src);
  let i = 0;
  const line = () => (toks[Math.min(i, toks.length - 1)]?.line ?? 0);
  const fail = (msg: string): never => {
    throw new SyntaxError(`proto line ${line()}: ${msg}`);
  };
  const peek = () => toks[i]?.text;
  const next = (): string => toks[i++]?.text ?? fail('unexpected end of file');
  const expect = (t: string) => {
    const got = next();
    if (got !== t) fail(`expected ${JSON.stringify(t)}, found ${JSON.stringify(got)}`);
  };
  const ident = (): string => {
    const t = next();
    if (!IDENT.test(t)) fail(`expected a name, found ${JSON.stringify(t)}`);
    return t;
  };
  const int = (): number => {
    const t = next();
    const n = Number(t);
    if (!/^[-+]?(?:0[xX][0-9a-fA-F]+|\d+)$/.test(t) || !Number.isSafeInteger(n)) fail(`expected an integer, found ${JSON.stringify(t)}`);
    return n;
  };
  /** Skips an option value (a constant or an aggregate `{ ... }`). */
  const skipValue = () => {
    if (peek() !== '{') return void next();
    let depth = 0;
    do {
      const t = next();
      if (t === '{') depth++;
      else if (t === '}') depth--;
    } while (depth > 0);
  };
  /** `[a = 1, (b).c = "x"]`: returns the simple options' raw values. */
  const fieldOptions = (): Map<string, string> => {
    const opts = new Map<string, string>();
    if (peek() !== '[') return opts;
    next();
    for (;;) {
      let name = '';
      while (peek() !== '=') name += next();
      expect('=');
      if (peek() !== '{') opts.set(name, peek()!);
      skipValue();
      const t = next();
      if (t === ']') return opts;
      if (t !== ',') fail(`expected "," or "]" in field options, found ${JSON.stringify(t)}`);
    }
  };
  const skipStatement = () => {
    while (peek() !== ';') skipValue();
    next();
  };

  let pkg = '';
  const messages: RawMessage[] = [];
  const enums: EnumType[] = [];
  const services: { fullName: string; methods: RawMethod[] }[] = [];

  const parseEnum = (scope: string) => {
    const fullName = qualify(scope, ident());
    const values = new Map<string, number>();
    const names = new Map<number, string>();
    expect('{');
    while (peek() !== '}') {
      const t = peek();
      if (t === ';') next();
      else if (t === 'option' || t === 'reserved') skipStatement();
      else {
        const name = ident();
        expect('=');
        const n = int();
        fieldOptions();
        expect(';');
        if (values.has(name)) fail(`duplicate enum value ${name}`);
        values.set(name, n);
        if (!names.has(n)) names.set(n, name);
      }
    }
    next();
    const first = values.entries().next().value;
    if (!first) fail(`enum ${fullName} has no values`);
    if (first![1] !== 0) fail(`the first value of enum ${fullName} must be 0 in proto3`);
    enums.push({ kind: 'enum', fullName, values, names, defaultName: first![0] });
  };

  const parseField = (msg: RawMessage, typeName: string, repeated: boolean, oneof?: string) => {
    const fieldLine = line();
    const name = ident();
    expect('=');
    const number = int();
    const opts = fieldOptions();
    expect(';');
    const packed = opts.has('packed') ? opts.get('packed') === 'true' : undefined;
    msg.fields.push({ name, number, typeName, repeated, packed, ...(oneof ? { oneof } : {}), line: fieldLine });
  };

  const parseMessage = (scope: string) => {
    const msg: RawMessage = { fullName: qualify(scope, ident()), fields: [], oneofs: [] };
    messages.push(msg);
    expect('{');
    for (;;) {
      const t = next();
      if (t === '}') break;
      if (t === ';') continue;
      if (t === 'message') parseMessage(msg.fullName);
      else if (t === 'enum') parseEnum(msg.fullName);
      else if (t === 'option' || t === 'reserved' || t === 'extensions') skipStatement();
      else if (t === 'map') {
        expect('<');
        const key = next();
        if (!MAP_KEY_TYPES.has(key)) fail(`map key type ${key} is not allowed`);
        expect(',');
        const value = next();
        if (value === 'map') fail('a map value cannot be a map');
        expect('>');
        const before = msg.fields.length;
        parseField(msg, value, false);
        msg.fields[before]!.mapKey = key;
      } else if (t === 'oneof') {
        const name = ident();
        msg.oneofs.push(name);
        expect('{');
        for (;;) {
          const u = next();
          if (u === '}') break;
          if (u === ';') continue;
          if (u === 'option') skipStatement();
          else if (u === 'repeated' || u === 'map' || u === 'optional') fail(`${u} is not allowed in a oneof`);
          else parseField(msg, u, false, name);
        }
      } else if (t === 'repeated') parseField(msg, next(), true);
      else if (t === 'optional' || t === 'required' || t === 'group' || t === 'extend') fail(`${JSON.stringify(t)} is not supported`);
      else parseField(msg, t, false);
    }
  };

  const parseService = () => {
    const svc = { fullName: qualify(pkg, ident()), methods: [] as RawMethod[] };
    services.push(svc);
    expect('{');
    for (;;) {
      const t = next();
      if (t === '}') break;
      if (t === ';') continue;
      if (t === 'option') {
        skipStatement();
        continue;
      }
      if (t !== 'rpc') fail(`expected "rpc", found ${JSON.stringify(t)}`);
      const methodLine = line();
      const name = ident();
      const side = (): [string, boolean] => {
        expect('(');
        let stream = false;
        let type = next();
        if (type === 'stream' && peek() !== ')') {
          stream = true;
          type = next();
        }
        expect(')');
        return [type, stream];
      };
      const [request, requestStream] = side();
      expect('returns');
      const [response, responseStream] = side();
      if (peek() === '{') {
        next();
        while (peek() !== '}') {
          if (next() === 'option') skipStatement();
        }
        next();
      } else expect(';');
      svc.methods.push({ name, request, response, requestStream, responseStream, line: methodLine });
    }
  };

  while (i < toks.length) {
    const t = next();
    if (t === ';') continue;
    if (t === 'syntax') {
      expect('=');
      const s = next();
      if (s !== '"proto3"' && s !== "'proto3'") fail(`only proto3 is supported, not ${s}`);
      expect(';');
    } else if (t === 'package') {
      pkg = next();
      expect(';');
    } else if (t === 'option') skipStatement();
    else if (t === 'message') parseMessage(pkg);
    else if (t === 'enum') parseEnum(pkg);
    else if (t === 'service') parseService();
    else fail(`${JSON.stringify(t)} is not supported`);
  }

  return resolve(pkg, messages, enums, services);
}

function qualify(scope: string, name: string): string {
  return scope ? `${scope}.${name}` : name;
}

const SCALARS = new Set<string>(Object.keys(SCALAR_WIRE));

function resolve(
  pkg: string,
  rawMessages: RawMessage[],
  enumList: EnumType[],
  rawServices: { fullName: string; methods: RawMethod[] }[],
): ProtoSchema {
  const messages = new Map<string, MessageType>();
  const enums = new Map<string, EnumType>();
  const taken = (name: string) => {
    if (messages.has(name) || enums.has(name)) throw new SyntaxError(`proto: ${name} is declared twice`);
  };
  // Message objects exist before their fields so that fields can refer to any message.
  const shells = rawMessages.map((raw) => {
    taken(raw.fullName);
    const shell = { kind: 'message' as const, fullName: raw.fullName, fields: [] as Field[], byNumber: new Map<number, Field>(), oneofs: raw.oneofs };
    messages.set(raw.fullName, shell);
    return shell;
  });
  for (const e of enumList) {
    taken(e.fullName);
    enums.set(e.fullName, e);
  }
  const lookup = (scope: string, name: string, line: number): EnumType | MessageType => {
    if (name.startsWith('.')) {
      const t = messages.get(name.slice(1)) ?? enums.get(name.slice(1));
      if (t) return t;
    } else {
      for (let s = scope; ; s = s.slice(0, Math.max(s.lastIndexOf('.'), 0))) {
        const full = qualify(s, name);
        const t = messages.get(full) ?? enums.get(full);
        if (t) return t;
        if (!s) break;
      }
    }
    throw new SyntaxError(`proto line ${line}: unknown type ${name}`);
  };

  rawMessages.forEach((raw, k) => {
    const shell = shells[k]!;
    for (const f of [...raw.fields].sort((a, b) => a.number - b.number)) {
      if (f.number < 1 || f.number > 0x1fffffff || (f.number >= 19000 && f.number <= 19999)) {
        throw new SyntaxError(`proto line ${f.line}: field number ${f.number} is out of range`);
      }
      if (shell.byNumber.has(f.number)) throw new SyntaxError(`proto line ${f.line}: field number ${f.number} is used twice`);
      if (shell.fields.some((g) => g.name === f.name)) throw new SyntaxError(`proto line ${f.line}: field ${f.name} is declared twice`);
      const type: Field['type'] = SCALARS.has(f.typeName) ? (f.typeName as ScalarType) : lookup(raw.fullName, f.typeName, f.line);
      const wire = typeof type === 'string' ? SCALAR_WIRE[type] : type.kind === 'enum' ? 0 : 2;
      const packable = f.repeated && !f.mapKey && wire !== 2;
      const field: Field = {
        name: f.name,
        number: f.number,
        type,
        repeated: f.repeated,
        packed: packable && f.packed !== false,
        ...(f.mapKey ? { mapKey: f.mapKey as ScalarType } : {}),
        ...(f.oneof ? { oneof: f.oneof } : {}),
        wire,
      };
      shell.fields.push(field);
      shell.byNumber.set(f.number, field);
    }
  });

  const services = new Map<string, Service>();
  for (const raw of rawServices) {
    const message = (name: string, line: number): MessageType => {
      const t = lookup(pkg, name, line);
      if (t.kind !== 'message') throw new SyntaxError(`proto line ${line}: ${name} is not a message`);
      return t;
    };
    services.set(raw.fullName, {
      fullName: raw.fullName,
      methods: raw.methods.map((m) => ({
        name: m.name,
        requestType: message(m.request, m.line),
        responseType: message(m.response, m.line),
        requestStream: m.requestStream,
        responseStream: m.responseStream,
      })),
    });
  }
  return { package: pkg, messages, enums, services };
}
