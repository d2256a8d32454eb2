/**
 * The schema notation: how the per-group-version data files (core-v1.ts, apps-v1.ts, ...) declare
 * the Go API types, and its parser into the typed in-memory form. One source of truth per type for
 * protobuf, and later OpenAPI, strategic merge patch and server-side apply.
 *
 * A data file is a `SchemaFile`: the kinds its group-version registers and its types (the
 * group-version itself, its short prefix and OpenAPI prefix are a `GroupVersionInfo`, listed once in
 * ./index.ts, which loads each file on first use). A type is either
 *   - an object of fields, keyed by JSON name, each a string `'<protoNumber> <type> [flag ...]'`:
 *       ConfigMap: { metadata: '1 meta.v1.ObjectMeta', data: '2 map[string]string', immutable: '4 *bool' }
 *     Field order is the Go declaration order (the order Go's JSON encoder prints).
 *     The key '@' holds type-level flags: `struct=atomic|granular`; `oneof` (the JSON value is
 *     whichever field is set: an array for the repeated field, an object for the message field, a
 *     boolean for the bool field — apiextensions' JSONSchemaPropsOr{Array,Bool,StringArray}).
 *   - a string `'[]<elem>'`: a named list that protobuf wraps in a message `{ repeated items = 1 }`
 *     while JSON shows the bare array (metav1.Verbs, authentication's ExtraValue).
 *
 * Field types: `string int32 int64 bool double bytes`; the well-known types `Time MicroTime
 * Duration Quantity IntOrString RawExtension FieldsV1 JSON`; a message type by bare name (same
 * group-version) or `<group>.<version>.<Name>` (`meta.v1.ObjectMeta`, `core.v1.PodSpec`);
 * `*T` a Go pointer (kept in JSON even when zero); `[]T`; `map[string]T`.
 *
 * Flags: `!` the JSON tag has no omitempty; `req` required in OpenAPI; `inline` a Go embedded
 * struct (json ",inline") whose fields appear in this object in JSON while protobuf nests it as a
 * message (the key is then its protobuf name); `merge=<key>` patchMergeKey (and patchStrategy merge
 * unless `patch=` says otherwise); `patch=<strategy>` patchStrategy (e.g. `merge,retainKeys`);
 * `list=atomic|set|map`; `keys=a,b` list map keys; `map=atomic|granular`; `struct=atomic|granular`;
 * `default=<JSON value without spaces>` the declared (OpenAPI) default.
 */

export const scalarTypes = ['string', 'int32', 'int64', 'bool', 'double', 'bytes'] as const;
export type Scalar = (typeof scalarTypes)[number];

/** Well-known types with their own JSON form, and their OpenAPI definition names. */
export const specialTypes = {
  Time: 'io.k8s.apimachinery.pkg.apis.meta.v1.Time',
  MicroTime: 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime',
  Duration: 'io.k8s.apimachinery.pkg.apis.meta.v1.Duration',
  FieldsV1: 'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1',
  Quantity: 'io.k8s.apimachinery.pkg.api.resource.Quantity',
  IntOrString: 'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
  RawExtension: 'io.k8s.apimachinery.pkg.runtime.RawExtension',
  JSON: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON',
} as const;
export type Special = keyof typeof specialTypes;

/** A group-version whose types a data file declares. */
export interface GroupVersionInfo {
  /** Short prefix that type references use: 'core.v1', 'meta.v1', 'autoscaling.v2', ... */
  readonly ref: string;
  /** API group ('' for core) and version. */
  readonly group: string;
  readonly version: string;
  /** OpenAPI definition-name prefix: 'io.k8s.api.core.v1'. */
  readonly openapi: string;
}

/** One data file: the types of one API group-version. */
export interface SchemaFile {
  /** Kinds the group-version registers (each also a type name of this file). */
  readonly kinds: readonly string[];
  readonly types: { readonly [name: string]: TypeDecl };
}

export type TypeDecl = string | { readonly [field: string]: string };

export type TypeRef =
  | { readonly kind: 'scalar'; readonly scalar: Scalar }
  | { readonly kind: 'special'; readonly special: Special }
  | { readonly kind: 'message'; readonly name: string } // full (OpenAPI) type name
  | { readonly kind: 'list'; readonly elem: TypeRef }
  | { readonly kind: 'map'; readonly value: TypeRef };

export interface FieldDef {
  /** JSON name; for an inline field, its protobuf name (JSON has no key for it). */
  readonly name: string;
  readonly number: number;
  readonly type: TypeRef;
  /** Go pointer: present in JSON even when zero, absent when nil. */
  readonly pointer: boolean;
  /** json tag has omitempty (the opposite of the `!` flag). */
  readonly omitEmpty: boolean;
  readonly required: boolean;
  readonly inline: boolean;
  readonly patchStrategy?: string;
  readonly patchMergeKey?: string;
  readonly listType?: 'atomic' | 'set' | 'map';
  readonly listMapKeys?: readonly string[];
  readonly mapType?: 'atomic' | 'granular';
  readonly structType?: 'atomic' | 'granular';
  /** The declared default (+default), as JSON. */
  readonly default?: unknown;
}

export interface MessageDef {
  readonly kind: 'message';
  /** Full OpenAPI name: 'io.k8s.api.core.v1.ConfigMap'. */
  readonly name: string;
  /** Short name: 'core.v1.ConfigMap'. */
  readonly shortName: string;
  /** Declaration order. */
  readonly fields: readonly FieldDef[];
  /** Fields ascending by protobuf number (the order protobuf writes them). */
  readonly byNumberOrder: readonly FieldDef[];
  readonly byNumber: ReadonlyMap<number, FieldDef>;
  /** Direct fields by JSON name (inline fields under their protobuf name). */
  readonly byJson: ReadonlyMap<string, FieldDef>;
  readonly structType?: 'atomic' | 'granular';
  readonly oneof: boolean;
  /** Fields it does not declare are kept and treated as deduced (CRD x-kubernetes-preserve-unknown-fields). */
  readonly preserveUnknownFields?: boolean;
}

/** A named list: JSON array; protobuf message { repeated <elem> items = 1 }. */
export interface ListDef {
  readonly kind: 'list';
  readonly name: string;
  readonly shortName: string;
  readonly elem: TypeRef;
}

export type TypeDef = MessageDef | ListDef;

/** Resolves a qualified short prefix ('meta.v1') to its OpenAPI prefix, or undefined. */
export type ResolvePrefix = (ref: string) => string | undefined;

const scalarSet: ReadonlySet<string> = new Set(scalarTypes);

function fail(where: string, message: string): never {
  throw new Error(`schema ${where}: ${message}`);
}

export function parseTypeRef(text: string, file: GroupVersionInfo, resolve: ResolvePrefix, where: string): TypeRef {
  if (text.startsWith('[]')) return { kind: 'list', elem: parseTypeRef(text.slice(2), file, resolve, where) };
  if (text.startsWith('map[string]')) return { kind: 'map', value: parseTypeRef(text.slice(11), file, resolve, where) };
  if (scalarSet.has(text)) return { kind: 'scalar', scalar: text as Scalar };
  if (Object.hasOwn(specialTypes, text)) return { kind: 'special', special: text as Special };
  if (!/^[A-Za-z][\w.]*$/.test(text)) fail(where, `bad type '${text}'`);
  const dot = text.lastIndexOf('.');
  if (dot < 0) return { kind: 'message', name: `${file.openapi}.${text}` };
  const prefix = resolve(text.slice(0, dot));
  if (prefix === undefined) fail(where, `unknown group-version in '${text}'`);
  return { kind: 'message', name: `${prefix}.${text.slice(dot + 1)}` };
}

const structValues = new Set(['atomic', 'granular']);
const listValues = new Set(['atomic', 'set', 'map']);

export function parseField(key: string, spec: string, file: GroupVersionInfo, resolve: ResolvePrefix, where: string): FieldDef {
  const parts = spec.split(' ');
  const number = Number(parts[0]);
  if (!Number.isInteger(number) || number < 1) fail(where, `bad field number in '${spec}'`);
  let typeText = parts[1];
  if (typeText === undefined) fail(where, `missing type in '${spec}'`);
  const pointer = typeText.startsWith('*');
  if (pointer) typeText = typeText.slice(1);
  const type = parseTypeRef(typeText, file, resolve, where);
  if (pointer && (type.kind === 'list' || type.kind === 'map')) fail(where, `pointer to ${type.kind}`);
  const field: {
    -readonly [K in keyof FieldDef]: FieldDef[K];
  } = { name: key, number, type, pointer, omitEmpty: true, required: false, inline: false };
  for (const flag of parts.slice(2)) {
    const eq = flag.indexOf('=');
    const name = eq < 0 ? flag : flag.slice(0, eq);
    const value = eq < 0 ? '' : flag.slice(eq + 1);
    switch (name) {
      case '!':
        field.omitEmpty = false;
        break;
      case 'req':
        field.required = true;
        break;
      case 'inline':
        field.inline = true;
        break;
      case 'merge':
        field.patchMergeKey = value;
        field.patchStrategy ??= 'merge';
        break;
      case 'patch':
        field.patchStrategy = value;
        break;
      case 'list':
        if (!listValues.has(value)) fail(where, `bad list type '${value}'`);
        field.listType = value as FieldDef['listType'];
        break;
      case 'keys':
        field.listMapKeys = value.split(',');
        break;
      case 'map':
        if (!structValues.has(value)) fail(where, `bad map type '${value}'`);
        field.mapType = value as FieldDef['mapType'];
        break;
      case 'struct':
        if (!structValues.has(value)) fail(where, `bad struct type '${value}'`);
        field.structType = value as FieldDef['structType'];
        break;
      case 'default':
        try {
          field.default = JSON.parse(value);
        } catch {
          fail(where, `bad default '${value}'`);
        }
        break;
      default:
        fail(where, `unknown flag '${flag}'`);
    }
  }
  if (field.inline && type.kind !== 'message') fail(where, 'inline field is not a message');
  return field;
}

export function parseType(name: string, decl: TypeDecl, file: GroupVersionInfo, resolve: ResolvePrefix): TypeDef {
  const fullName = `${file.openapi}.${name}`;
  const shortName = `${file.ref}.${name}`;
  if (typeof decl === 'string') {
    if (!decl.startsWith('[]')) fail(shortName, `a type declared by a string must be a list, got '${decl}'`);
    return { kind: 'list', name: fullName, shortName, elem: parseTypeRef(decl.slice(2), file, resolve, shortName) };
  }
  const fields: FieldDef[] = [];
  let structType: MessageDef['structType'];
  let oneof = false;
  for (const [key, spec] of Object.entries(decl)) {
    if (key === '@') {
      for (const flag of spec.split(' ')) {
        if (flag === 'oneof') oneof = true;
        else if (flag.startsWith('struct=') && structValues.has(flag.slice(7))) structType = flag.slice(7) as MessageDef['structType'];
        else fail(shortName, `unknown type flag '${flag}'`);
      }
      continue;
    }
    fields.push(parseField(key, spec, file, resolve, `${shortName}.${key}`));
  }
  const byNumber = new Map<number, FieldDef>();
  const byJson = new Map<string, FieldDef>();
  for (const f of fields) {
    if (byNumber.has(f.number)) fail(shortName, `duplicate field number ${f.number}`);
    byNumber.set(f.number, f);
    byJson.set(f.name, f);
  }
  const byNumberOrder = [...fields].sort((a, b) => a.number - b.number);
  const def: MessageDef = { kind: 'message', name: fullName, shortName, fields, byNumberOrder, byNumber, byJson, oneof };
  return structType ? { ...def, structType } : def;
}
