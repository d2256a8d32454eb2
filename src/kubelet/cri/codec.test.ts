/**
 * The CRI protobuf codec against @grpc/proto-loader (a devDependency, the oracle): for every
 * message type in api.proto the parsed tables match protobufjs's reflection, encodings are
 * byte-identical where both write the same fields, and decoding gives the very objects
 * proto-loader gives (same values, same key order) for full, empty and zero-valued messages,
 * with unknown fields of every wire type, packed and unpacked repeated scalars, negative
 * integers, maps and nesting. Plus the bounds and the errors.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSync, type MessageTypeDefinition, type PackageDefinition } from '@grpc/proto-loader';
import { BosunError } from '../../util/errors.ts';
import { decode, encode, MAX_NESTING_DEPTH, serviceDefinition } from './codec.ts';
import { parseProto, type Field, type MessageType, type ProtoSchema, type ScalarType } from './schema.ts';

const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
const protoFile = fileURLToPath(new URL('./api.proto', import.meta.url));
const schema = parseProto(readFileSync(protoFile, 'utf8'));
const oracle = loadSync(protoFile, OPTIONS);

type OracleType = Omit<MessageTypeDefinition<object, object>, 'serialize' | 'deserialize'> & { serialize(v: object): Buffer; deserialize(b: Buffer): Record<string, unknown> };
const oracleOf = (def: PackageDefinition, name: string) => def[name] as unknown as OracleType;

/** Loads a proto given as text through both the oracle and our parser. */
function both(src: string): { ours: ProtoSchema; theirs: PackageDefinition } {
  const dir = mkdtempSync(path.join(tmpdir(), 'bosun-proto-'));
  try {
    writeFileSync(path.join(dir, 't.proto'), src);
    return { ours: parseProto(src), theirs: loadSync(path.join(dir, 't.proto'), OPTIONS) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Same values and the same key order, all the way down. */
function assertSame(actual: unknown, expected: unknown, what: string): void {
  assert.deepStrictEqual(actual, expected, what);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), `${what}: key order`);
}

// ---------------------------------------------------------------- sample values

function scalarSample(t: ScalarType, k: number): unknown {
  switch (t) {
    case 'string':
      return `s${k}-é✓`;
    case 'bytes':
      return Buffer.from([k, 0, 255, 128]);
    case 'bool':
      return true;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return k % 2 ? -(k + 1) * 1000 : 2147483647;
    case 'uint32':
    case 'fixed32':
      return 4000000000 + k;
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return k % 2 ? '-9223372036854775808' : `-${k + 12345}`;
    case 'uint64':
    case 'fixed64':
      return k % 2 ? '18446744073709551615' : `${k + 9007199254740993}`;
    case 'double':
      return -1.25 - k;
    case 'float':
      return 0.5 + k;
  }
}

function valueSample(f: Field, k: number, depth: number): unknown {
  const t = f.type;
  if (typeof t === 'string') return scalarSample(t, k);
  if (t.kind === 'enum') {
    const nonZero = [...t.values].filter(([, n]) => n !== 0).map(([name]) => name);
    return nonZero[k % nonZero.length];
  }
  return fullSample(t, depth + 1, k);
}

/** Every field set to a non-zero value (nested messages a few levels deep, then `{}`). */
function fullSample(type: MessageType, depth = 0, seed = 1): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (depth > 3) return out;
  for (const f of type.fields) {
    const k = seed + f.number;
    if (f.mapKey) out[f.name] = { a: valueSample(f, k, depth), 'b/c': valueSample(f, k + 1, depth) };
    else if (f.repeated) out[f.name] = [valueSample(f, k, depth), valueSample(f, k + 1, depth)];
    else out[f.name] = valueSample(f, k, depth);
  }
  return out;
}

/** Every scalar and enum field set to its zero value, messages to `{}`, repeated to one zero item. */
function zeroSample(type: MessageType): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of type.fields) {
    const t = f.type;
    const zero = typeof t === 'string' ? (t === 'bytes' ? Buffer.alloc(0) : t === 'string' ? '' : t === 'bool' ? false : t.endsWith('64') ? '0' : 0) : t.kind === 'enum' ? t.defaultName : {};
    out[f.name] = f.mapKey ? { '': zero } : f.repeated ? [zero] : zero;
  }
  return out;
}

// ---------------------------------------------------------------- raw wire helpers for hand-made input

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const tag = (n: number, wire: number) => varint(BigInt((n << 3) | wire));
const len = (bytes: number[]) => [...varint(BigInt(bytes.length)), ...bytes];

/** One unknown field of every wire type, groups nested, at numbers no message uses. */
const unknownFields = Buffer.from([
  ...tag(1000, 0), ...varint(-1n),
  ...tag(1001, 1), 1, 2, 3, 4, 5, 6, 7, 8,
  ...tag(1002, 2), ...len([0xde, 0xad, 0xbe, 0xef]),
  ...tag(1003, 3), ...tag(1, 0), 5, ...tag(2, 3), ...tag(1, 2), ...len([65]), ...tag(2, 4), ...tag(1003, 4),
  ...tag(1004, 5), 9, 9, 9, 9,
]);

// ---------------------------------------------------------------- tests

const messageTypes = [...schema.messages.values()];

test('api.proto parses into the messages, fields and services protobufjs sees', () => {
  const labels: Record<string, string> = { LABEL_OPTIONAL: 'optional', LABEL_REPEATED: 'repeated' };
  const typeNames: Record<string, string> = {
    TYPE_DOUBLE: 'double', TYPE_FLOAT: 'float', TYPE_INT64: 'int64', TYPE_UINT64: 'uint64', TYPE_INT32: 'int32',
    TYPE_FIXED64: 'fixed64', TYPE_FIXED32: 'fixed32', TYPE_BOOL: 'bool', TYPE_STRING: 'string', TYPE_BYTES: 'bytes',
    TYPE_UINT32: 'uint32', TYPE_SFIXED32: 'sfixed32', TYPE_SFIXED64: 'sfixed64', TYPE_SINT32: 'sint32', TYPE_SINT64: 'sint64',
  };
  const oracleMessages = Object.entries(oracle).filter(([, d]) => (d as { format?: string }).format === 'Protocol Buffer 3 DescriptorProto');
  const oracleNames = oracleMessages.map(([n]) => n).filter((n) => !n.endsWith('Entry')).sort();
  assert.deepEqual([...schema.messages.keys()].sort(), oracleNames);
  const parentOf = (name: string) => name.slice(0, name.lastIndexOf('.'));
  const [nestedEnums, topEnums] = [...schema.enums.keys()].reduce<[string[], string[]]>(([n, t], e) => (schema.messages.has(parentOf(e)) ? [[...n, e], t] : [n, [...t, e]]), [[], []]);
  assert.deepEqual(topEnums.sort(), Object.keys(oracle).filter((n) => (oracle[n] as { format?: string }).format?.includes('EnumDescriptorProto')).sort());
  for (const e of nestedEnums) {
    const parent = (oracle[parentOf(e)] as unknown as { type: { enumType: { name: string; value: { name: string; number: number }[] }[] } }).type;
    const theirs = parent.enumType.find((t) => t.name === e.slice(e.lastIndexOf('.') + 1));
    assert.deepEqual([...schema.enums.get(e)!.values], theirs?.value.map((v) => [v.name, v.number]), e);
  }
  for (const [name, e] of schema.enums) {
    if (nestedEnums.includes(name)) continue;
    const theirs = (oracle[name] as unknown as { type: { value: { name: string; number: number }[] } }).type;
    assert.deepEqual([...e.values], theirs.value.map((v) => [v.name, v.number]), name);
  }
  type FieldDesc = { name: string; number: number; label: string; type: string; typeName: string };
  type MessageDesc = { name: string; field: FieldDesc[]; nestedType: MessageDesc[]; options: { mapEntry?: boolean } | null };
  for (const type of messageTypes) {
    const desc = (oracle[type.fullName] as unknown as { type: MessageDesc }).type;
    const scopes = type.fullName.split('.').map((_, i, parts) => parts.slice(0, parts.length - i).join('.'));
    // protobufjs keeps a type name as written (relative to the message); resolve it as protoc would.
    const resolve = (name: string) => typeNames[name] ?? [...scopes.map((s) => `${s}.${name}`), name].find((n) => schema.messages.has(n) || schema.enums.has(n)) ?? name;
    const theirs = desc.field
      .map((f) => {
        const entry = desc.nestedType.find((n) => n.name === f.typeName && n.options?.mapEntry);
        if (entry) {
          const [k, v] = [1, 2].map((i) => entry.field.find((e) => e.number === i)!);
          return `${f.number} ${f.name} map<${typeNames[k!.type]}, ${resolve(v!.typeName || v!.type)}>`;
        }
        return `${f.number} ${f.name} ${labels[f.label]} ${resolve(f.typeName || f.type)}`;
      })
      .sort();
    const ours = type.fields
      .map((f) => {
        const t = typeof f.type === 'string' ? f.type : f.type.fullName;
        return f.mapKey ? `${f.number} ${f.name} map<${f.mapKey}, ${t}>` : `${f.number} ${f.name} ${f.repeated ? 'repeated' : 'optional'} ${t}`;
      })
      .sort();
    assert.deepEqual(ours, theirs, type.fullName);
  }
  for (const svc of ['RuntimeService', 'ImageService']) {
    const ours = serviceDefinition(schema, `runtime.v1.${svc}`);
    const theirs = oracle[`runtime.v1.${svc}`] as Record<string, { path: string; requestStream: boolean; responseStream: boolean; originalName: string }>;
    assert.deepEqual(Object.keys(ours), Object.keys(theirs));
    for (const [name, m] of Object.entries(ours)) {
      const t = theirs[name]!;
      assert.deepEqual([m.path, m.requestStream, m.responseStream, m.originalName], [t.path, t.requestStream, t.responseStream, t.originalName], name);
    }
  }
});

describe('every message type, compared with proto-loader', () => {
  for (const type of messageTypes) {
    test(type.fullName, () => {
      const o = oracleOf(oracle, type.fullName);
      // All fields set: identical bytes, identical decoding of either side's bytes.
      const full = fullSample(type);
      const theirBytes = o.serialize(full);
      const ourBytes = encode(type, full);
      assert.deepEqual(ourBytes, theirBytes, 'encoding with all fields set');
      const want = o.deserialize(theirBytes);
      assertSame(decode(type, theirBytes), want, 'decoding proto-loader bytes');
      assertSame(decode(type, ourBytes), want, 'round trip');
      assertSame(decode(type, encode(type, want)), want, 'round trip of a decoded object');

      // Nothing set.
      assertSame(decode(type, encode(type, {})), o.deserialize(Buffer.alloc(0)), 'empty message');
      assert.equal(encode(type, {}).length, 0);

      // Zero values: proto-loader writes them, we leave them out (as Go does); both decode alike.
      const zero = zeroSample(type);
      const theirZero = o.serialize(zero);
      assertSame(decode(type, encode(type, zero)), o.deserialize(theirZero), 'zero values');
      assertSame(decode(type, theirZero), o.deserialize(theirZero), 'decoding proto-loader zero values');

      // Unknown fields of every wire type, before and after the known ones.
      const withUnknown = Buffer.concat([unknownFields, theirBytes, unknownFields]);
      assertSame(decode(type, withUnknown), want, 'unknown fields skipped');
      assertSame(o.deserialize(withUnknown), want, 'the oracle skips them too');
    });
  }
});

describe('scalars on the wire', () => {
  const portForward = schema.messages.get('runtime.v1.PortForwardRequest')!; // repeated int32 port = 2
  const secCtx = schema.messages.get('runtime.v1.LinuxSandboxSecurityContext')!; // repeated int64 supplemental_groups = 5
  const pfOracle = oracleOf(oracle, 'runtime.v1.PortForwardRequest');
  const scOracle = oracleOf(oracle, 'runtime.v1.LinuxSandboxSecurityContext');

  test('repeated scalars decode packed, unpacked and mixed; they are written packed', () => {
    const unpacked = Buffer.from([...tag(2, 0), ...varint(80n), ...tag(2, 0), ...varint(-1n)]);
    const packed = Buffer.from([...tag(2, 2), ...len([...varint(80n), ...varint(-1n)])]);
    const mixed = Buffer.concat([packed, unpacked]);
    for (const [name, bytes] of [['unpacked', unpacked], ['packed', packed], ['mixed', mixed]] as const) {
      assertSame(decode(portForward, bytes), pfOracle.deserialize(bytes), name);
    }
    assert.deepEqual(decode(portForward, mixed).port, [80, -1, 80, -1]);
    assert.deepEqual(encode(portForward, { port: [80, -1] }), packed);
    const groups = Buffer.from([...tag(5, 0), ...varint(-5n), ...tag(5, 2), ...len([...varint(2n ** 40n), 0])]);
    assertSame(decode(secCtx, groups), scOracle.deserialize(groups), 'int64 mixed');
    assert.deepEqual(decode(secCtx, groups).supplemental_groups, ['-5', '1099511627776', '0']);
  });

  test('negative int32 and int64 take ten bytes and come back', () => {
    const idm = schema.messages.get('runtime.v1.PortMapping')!; // int32 container_port = 2
    const bytes = encode(idm, { container_port: -1 });
    assert.deepEqual(bytes, Buffer.from([...tag(2, 0), ...varint(-1n)]));
    assert.equal(bytes.length, 11);
    assert.equal(decode(idm, bytes).container_port, -1);
    const res = schema.messages.get('runtime.v1.LinuxContainerResources')!;
    for (const v of ['-1', '-9223372036854775808', '9223372036854775807', '0']) {
      const b = encode(res, { oom_score_adj: v });
      assert.deepEqual(b, oracleOf(oracle, 'runtime.v1.LinuxContainerResources').serialize(v === '0' ? {} : { oom_score_adj: v }));
      assert.equal(decode(res, b).oom_score_adj, v);
    }
  });

  test('int64 accepts decimal strings, numbers and bigints; enums names and numbers', () => {
    const res = schema.messages.get('runtime.v1.LinuxContainerResources')!;
    const want = encode(res, { cpu_quota: '-50000' });
    for (const v of [-50000, -50000n, ' -50000 ', -50000.7]) assert.deepEqual(encode(res, { cpu_quota: v }), want, String(v));
    const ns = schema.messages.get('runtime.v1.NamespaceOption')!;
    assert.deepEqual(encode(ns, { network: 'NODE' }), encode(ns, { network: 2 }));
    assert.equal(decode(ns, encode(ns, { network: 7 })).network, 7, 'an unknown enum number stays a number, as proto-loader gives it');
    assert.equal(oracleOf(oracle, 'runtime.v1.NamespaceOption').deserialize(encode(ns, { network: 7 })).network, 7);
  });

  test('values of the wrong type are refused with the field named', () => {
    const cfg = schema.messages.get('runtime.v1.ContainerConfig')!;
    const cases: { name: string; value: object; want: RegExp }[] = [
      { name: 'an unknown enum name', value: { linux: { security_context: { namespace_options: { network: 'HOST' } } } }, want: /ContainerConfig\.linux\.security_context\.namespace_options\.network: "HOST" is not a runtime\.v1\.NamespaceMode value/ },
      { name: 'a non-numeric int64', value: { linux: { resources: { cpu_shares: 'lots' } } }, want: /cpu_shares: "lots" is not a int64/ },
      { name: 'an int64 out of range', value: { linux: { resources: { cpu_shares: '9223372036854775808' } } }, want: /is not a int64/ },
      { name: 'a uint32 below zero', value: { linux: { security_context: { run_as_group: null }, resources: null }, metadata: { attempt: -1 } }, want: /metadata\.attempt: -1 is not a uint32/ },
      { name: 'a list that is not an array', value: { args: 'sh' }, want: /ContainerConfig\.args: array expected/ },
      { name: 'a message that is not an object', value: { metadata: 'x' }, want: /ContainerConfig\.metadata: object expected/ },
      { name: 'a map that is not an object', value: { labels: ['a'] }, want: /ContainerConfig\.labels: object expected/ },
    ];
    for (const c of cases) assert.throws(() => encode(cfg, c.value), c.want, c.name);
    assert.throws(() => encode(cfg, [] as unknown as object), /object expected/);
  });

  test('maps keep the last value of a key and accept __proto__ as a plain key', () => {
    const img = schema.messages.get('runtime.v1.ImageSpec')!; // map<string, string> annotations = 2
    const entry = (k: string, v: string) => [...tag(2, 2), ...len([...tag(1, 2), ...len([...Buffer.from(k)]), ...tag(2, 2), ...len([...Buffer.from(v)])])];
    const bytes = Buffer.from([...entry('a', '1'), ...entry('a', '2'), ...entry('__proto__', 'x'), ...tag(2, 2), ...len([])]);
    const got = decode(img, bytes);
    assertSame(got, oracleOf(oracle, 'runtime.v1.ImageSpec').deserialize(bytes), 'as proto-loader');
    assert.equal(Object.getPrototypeOf(got.annotations), Object.prototype);
    assert.deepEqual(Object.keys(got.annotations as object), ['a', '__proto__', '']);
  });
});

describe('bounds and malformed input', () => {
  const status = schema.messages.get('runtime.v1.ContainerStatus')!;
  const cases: { name: string; bytes: number[] }[] = [
    { name: 'a truncated varint', bytes: [...tag(1, 0), 0x80] },
    { name: 'a length past the end', bytes: [...tag(2, 2), 10, 1, 2] },
    { name: 'a nested length past its message', bytes: [...tag(2, 2), ...len([...tag(1, 2), 5, 65]), 65, 65, 65, 65] },
    { name: 'a truncated fixed64', bytes: [...tag(1000, 1), 1, 2, 3] },
    { name: 'an end group without a start', bytes: [...tag(1000, 4)] },
    { name: 'a group that never ends', bytes: [...tag(1000, 3), ...tag(1, 0), 1] },
    { name: 'a group ended by another number', bytes: [...tag(1000, 3), ...tag(1001, 4)] },
    { name: 'wire type 6', bytes: [...tag(1000, 6)] },
    { name: 'field number 0', bytes: [0, 0] },
    { name: 'a varint of eleven bytes', bytes: [...tag(1000, 0), ...Array(10).fill(0xff), 1] },
  ];
  for (const c of cases) {
    test(`${c.name} is refused`, () => {
      assert.throws(() => decode(status, Buffer.from(c.bytes)), (err) => err instanceof BosunError && err.code === 'ERR_PROTOBUF_DECODE');
    });
  }

  test(`unknown groups nest at most ${MAX_NESTING_DEPTH} deep`, () => {
    const nest = (n: number) => Buffer.from([...Array(n).fill(tag(1000, 3)).flat(), ...Array(n).fill(tag(1000, 4)).flat()]);
    assert.doesNotThrow(() => decode(status, nest(MAX_NESTING_DEPTH - 1)));
    assert.throws(() => decode(status, nest(MAX_NESTING_DEPTH)), /nesting deeper than 100/);
  });

  test(`messages nest at most ${MAX_NESTING_DEPTH} deep, both ways`, () => {
    const { ours } = both('syntax = "proto3"; message Node { Node child = 1; int32 n = 2; }');
    const node = ours.messages.get('Node')!;
    const chain = (n: number) => {
      let v: Record<string, unknown> = { n: 1 };
      for (let i = 1; i < n; i++) v = { child: v };
      return v;
    };
    const ok = encode(node, chain(MAX_NESTING_DEPTH));
    let levels = 0;
    for (let v: unknown = decode(node, ok); v; v = (v as { child: unknown }).child) levels++;
    assert.equal(levels, MAX_NESTING_DEPTH);
    assert.throws(() => encode(node, chain(MAX_NESTING_DEPTH + 1)), /nesting deeper than 100/);
    let bytes: number[] = [...tag(2, 0), 1];
    for (let i = 0; i < MAX_NESTING_DEPTH; i++) bytes = [...tag(1, 2), ...len(bytes)];
    assert.throws(() => decode(node, Buffer.from(bytes)), /nesting deeper than 100/);
    const cyclic: Record<string, unknown> = {};
    cyclic.child = cyclic;
    assert.throws(() => encode(node, cyclic), /nesting deeper than 100/);
  });
});

describe('proto features api.proto does not use yet', () => {
  const src = `
    // comment
    syntax = "proto3";
    package t.v1;
    option go_package = "x";
    /* block
       comment */
    message Outer {
      message Inner { string s = 1; Kind k = 2; }
      enum Kind { A = 0; B = 1; C = 2 [deprecated = true]; }
      reserved 20, 21 to 25;
      reserved "gone";
      Inner inner = 1;
      repeated Inner inners = 2;
      map<int32, Inner> by_num = 3;
      map<bool, Kind> by_flag = 4;
      map<uint64, string> by_big = 5;
      oneof choice {
        string name = 6;
        int64 count = 7;
        Inner detail = 8;
      }
      repeated uint32 loose = 9 [packed = false];
      repeated Kind kinds = 10;
      sint32 z32 = 11;
      sint64 z64 = 12;
      fixed32 f32 = 13;
      sfixed64 sf64 = 14;
      float ratio = 15;
      .t.v1.Outer.Inner qualified = 16;
    }
    service S { rpc Get(Outer) returns (Outer); rpc Watch(Outer) returns (stream Outer) { option deprecated = true; } }
  `;
  const { ours, theirs } = both(src);
  const outer = ours.messages.get('t.v1.Outer')!;
  const o = oracleOf(theirs, 't.v1.Outer');

  const cases: { name: string; value: Record<string, unknown> }[] = [
    { name: 'nested message and enum', value: { inner: { s: 'x', k: 'B' }, qualified: { k: 'C' } } },
    { name: 'repeated messages and enums', value: { inners: [{ s: 'a' }, {}], kinds: ['C', 'A', 'B'] } },
    // Only a `true` bool key: protobufjs writes the key "false" as true (Boolean("false")).
    { name: 'maps with int and bool keys and message values', value: { by_num: { '-3': { s: 'neg' }, 7: { k: 'B' } }, by_flag: { true: 'B' } } },
    { name: 'oneof: a string', value: { name: 'n' } },
    { name: 'oneof: an int64', value: { count: '-7' } },
    { name: 'oneof: a message', value: { detail: { s: 'd' } } },
    { name: 'oneof: a zero value is still set', value: { count: '0' } },
    { name: 'unpacked repeated', value: { loose: [1, 4000000000] } },
    { name: 'zigzag and fixed', value: { z32: -5, z64: '-9223372036854775808', f32: 4294967295, sf64: '-2', ratio: 0.25 } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const theirBytes = o.serialize(c.value);
      assert.deepEqual(encode(outer, c.value), theirBytes, 'same bytes');
      assertSame(decode(outer, theirBytes), o.deserialize(theirBytes), 'same object');
    });
  }

  test('a false bool map key stays false', () => {
    assert.deepEqual(decode(outer, encode(outer, { by_flag: { false: 'C', true: 'B' } })).by_flag, { false: 'C', true: 'B' });
  });

  test('uint64 map keys decode as decimal strings (proto-loader gives a hash there)', () => {
    assert.deepEqual(decode(outer, encode(outer, { by_big: { '18446744073709551615': 'max' } })).by_big, { '18446744073709551615': 'max' });
  });

  test('a later oneof member replaces an earlier one', () => {
    const bytes = Buffer.concat([encode(outer, { name: 'n' }), encode(outer, { count: '3' })]);
    const got = decode(outer, bytes);
    assert.equal(got.choice, 'count');
    assert.equal(got.count, '3');
    assert.ok(!('name' in got));
  });

  test('services carry streaming flags and paths', () => {
    const def = serviceDefinition(ours, 't.v1.S');
    assert.equal(def.Get!.path, '/t.v1.S/Get');
    assert.deepEqual([def.Watch!.requestStream, def.Watch!.responseStream], [false, true]);
  });

  const rejected: { name: string; src: string; want: RegExp }[] = [
    { name: 'proto2', src: 'syntax = "proto2"; message A {}', want: /only proto3/ },
    { name: 'no syntax line (proto2)', src: 'message A { required string a = 1; }', want: /"required" is not supported/ },
    { name: 'imports', src: 'syntax = "proto3"; import "x.proto";', want: /line 1: "import" is not supported/ },
    { name: 'proto3 optional', src: 'syntax = "proto3";\nmessage A {\n optional string a = 1; }', want: /line 3: "optional" is not supported/ },
    { name: 'an unknown type', src: 'syntax = "proto3"; message A { B b = 1; }', want: /unknown type B/ },
    { name: 'a duplicate field number', src: 'syntax = "proto3"; message A { string a = 1; string b = 1; }', want: /field number 1 is used twice/ },
    { name: 'an enum not starting at 0', src: 'syntax = "proto3"; enum E { X = 1; }', want: /must be 0/ },
    { name: 'a float map key', src: 'syntax = "proto3"; message A { map<double, string> m = 1; }', want: /map key type double/ },
    { name: 'an unterminated message', src: 'syntax = "proto3"; message A { string a = 1;', want: /unexpected end of file/ },
  ];
  for (const c of rejected) test(`${c.name} is rejected`, () => assert.throws(() => parseProto(c.src), c.want));
});
