/**
 * Generates src/api/generated/types.ts — a TypeScript type for every API type of the schema data
 * files (./index.ts, notation in ./notation.ts) — so that components read `pod.spec?.containers`
 * instead of walking untyped maps. Run `npm run gen:types`; `generated.test.ts` fails when the
 * committed file differs from what this produces.
 *
 * Mapping (the JSON form Go writes):
 *   - every type is a plain data type alias (object literal types, so that they are assignable to
 *     `Record<string, unknown>` and `KubeObject`): no classes, no methods;
 *   - string → string, int32/int64/double → number, bool → boolean, bytes → string (base64);
 *     Time/MicroTime/Duration/Quantity → string, IntOrString → number | string,
 *     RawExtension/FieldsV1 → Record<string, unknown>, apiextensions JSON → unknown;
 *     []T → T[], map[string]T → Record<string, T>;
 *   - a field is required only when Go always writes it and OpenAPI requires it (`! req`, not a
 *     pointer); every other field is optional. A kind's `metadata` is required (the API server
 *     always sets it) and each kind gets `kind?`/`apiVersion?` (Go's TypeMeta);
 *   - `| null` where Go writes null: a pointer without omitempty, and a non-pointer Time or
 *     MicroTime (Go's zero time is null: `creationTimestamp: null`);
 *   - an inline (embedded) struct's fields are flattened into the outer type, a direct field
 *     winning as in Go; a `oneof` type is the union of its members' types; a named list is an
 *     array type; an empty struct is `Record<string, never>`.
 *
 * Naming: a type is named as its Go type. A name declared by several group-versions goes bare to
 * one of them — a registered kind before a type that is not one; then, within one group, the
 * newest version (upstream's preferred one); then the group-version listed first in
 * `groupVersions` (meta, core, apps, …) — and is also exported by every one of them with the
 * group-version as a PascalCase prefix (`CoreV1Event` = `Event`, `EventsV1Event`,
 * `AutoscalingV1HorizontalPodAutoscaler`, `HorizontalPodAutoscaler` = `AutoscalingV2…`).
 */
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import { getType, groupVersions, jsonProperties, schemaFile, type FieldDef, type GroupVersionInfo, type MessageDef, type TypeDef, type TypeRef } from './index.ts';

/** Where the generated file lives, relative to the repository root. */
export const generatedPath = 'src/api/generated/types.ts';

/** The command that regenerates it (named in its header). */
export const generateCommand = 'npm run gen:types';

/** Aliases for the well-known types (JSON has none: the name would shadow the global). */
const specialAliases: Record<string, string> = {
  Time: 'string',
  MicroTime: 'string',
  Duration: 'string',
  Quantity: 'string',
  IntOrString: 'number | string',
  RawExtension: 'Record<string, unknown>',
  FieldsV1: 'Record<string, unknown>',
};

const scalarTs: Record<string, string> = { string: 'string', int32: 'number', int64: 'number', double: 'number', bool: 'boolean', bytes: 'string' };

interface Decl {
  gv: GroupVersionInfo;
  name: string;
  def: TypeDef;
  kind: boolean;
}

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** `autoscaling.v2` → `AutoscalingV2`. */
export function prefixOf(gv: GroupVersionInfo): string {
  return gv.ref.split('.').map(pascal).join('');
}

/** Orders Kubernetes versions newest first: v2 > v1 > v1beta2 > v1beta1 > v1alpha1. */
function versionRank(v: string): number {
  const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
  if (!m) return -1;
  const stage = m[2] === 'alpha' ? 0 : m[2] === 'beta' ? 1 : 2;
  return Number(m[1]) * 10_000 + stage * 1000 + Number(m[3] ?? 0);
}

/** Every declaration, in groupVersions then data-file order, and the TypeScript name of each. */
function collect(): { decls: Decl[]; names: Map<string, string>; aliases: Map<Decl, string[]> } {
  const decls: Decl[] = [];
  for (const gv of groupVersions) {
    const file = schemaFile(gv);
    const kinds = new Set(file.kinds);
    for (const name of Object.keys(file.types)) {
      const def = getType(`${gv.ref}.${name}`);
      if (!def) throw new Error(`schema: no type ${gv.ref}.${name}`);
      decls.push({ gv, name, def, kind: kinds.has(name) });
    }
  }
  const groupIndex = new Map<string, number>();
  groupVersions.forEach((gv, i) => {
    if (!groupIndex.has(gv.group)) groupIndex.set(gv.group, i);
  });
  const byName = new Map<string, Decl[]>();
  for (const d of decls) byName.set(d.name, [...(byName.get(d.name) ?? []), d]);
  const names = new Map<string, string>(); // full OpenAPI name → TypeScript name
  const aliases = new Map<Decl, string[]>(); // the bare-named declaration → its prefixed aliases
  const taken = new Set<string>([...byName.keys(), ...Object.keys(specialAliases)]);
  for (const [name, group] of byName) {
    if (Object.hasOwn(specialAliases, name)) throw new Error(`schema type ${name} collides with a well-known type alias`);
    if (group.length === 1) {
      names.set(group[0]!.def.name, name);
      continue;
    }
    const ranked = [...group].sort(
      (a, b) =>
        Number(b.kind) - Number(a.kind) ||
        groupIndex.get(a.gv.group)! - groupIndex.get(b.gv.group)! ||
        versionRank(b.gv.version) - versionRank(a.gv.version),
    );
    ranked.forEach((d, i) => {
      const prefixed = `${prefixOf(d.gv)}${name}`;
      if (taken.has(prefixed)) throw new Error(`type name ${prefixed} (${d.gv.ref}.${name}) is already taken`);
      taken.add(prefixed);
      if (i === 0) {
        names.set(d.def.name, name);
        aliases.set(d, [prefixed]);
      } else names.set(d.def.name, prefixed);
    });
  }
  return { decls, names, aliases };
}

function refTs(ref: TypeRef, names: ReadonlyMap<string, string>): string {
  switch (ref.kind) {
    case 'scalar':
      return scalarTs[ref.scalar]!;
    case 'special':
      return ref.special === 'JSON' ? 'unknown' : ref.special;
    case 'message': {
      const n = names.get(ref.name);
      if (!n) throw new Error(`schema: reference to unknown type ${ref.name}`);
      return n;
    }
    case 'list': {
      const elem = refTs(ref.elem, names);
      return /[ |&]/.test(elem) ? `(${elem})[]` : `${elem}[]`;
    }
    case 'map':
      return `Record<string, ${refTs(ref.value, names)}>`;
  }
}

const identifier = /^[A-Za-z_$][\w$]*$/;
const quote = (s: string) => `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
const propName = (name: string) => (identifier.test(name) ? name : quote(name));

function fieldLine(name: string, field: FieldDef, kind: boolean, names: ReadonlyMap<string, string>): string {
  let type = refTs(field.type, names);
  const isTime = field.type.kind === 'special' && (field.type.special === 'Time' || field.type.special === 'MicroTime');
  const nullable = (field.pointer && !field.omitEmpty) || (isTime && !field.pointer);
  if (nullable) type += ' | null';
  const required = (kind && name === 'metadata') || (!field.omitEmpty && field.required && !field.pointer);
  return `  ${propName(name)}${required ? '' : '?'}: ${type};`;
}

function messageTs(tsName: string, def: MessageDef, kind: boolean, names: ReadonlyMap<string, string>): string {
  if (def.oneof) {
    const members = def.fields.map((f) => refTs(f.type, names));
    return `export type ${tsName} = ${members.join(' | ')};`;
  }
  const props = jsonProperties(def);
  if (!props.size && !kind) return `export type ${tsName} = Record<string, never>;`;
  const lines: string[] = [];
  if (kind && !props.has('kind')) lines.push('  kind?: string;');
  if (kind && !props.has('apiVersion')) lines.push('  apiVersion?: string;');
  for (const [name, { field }] of props) lines.push(fieldLine(name, field, kind, names));
  return `export type ${tsName} = {\n${lines.join('\n')}\n};`;
}

/** The whole generated file. Deterministic: same schema, same text. */
export function generateTypes(): string {
  const { decls, names, aliases } = collect();
  const out: string[] = [
    '/**',
    ` * API object types, generated from the schema files (src/api/schema) by \`${generateCommand}\``,
    ' * (src/api/schema/gen-types.ts, which documents the mapping and the naming rule). Do not edit.',
    ' */',
    '',
    '// ---- well-known types ----',
    '',
  ];
  for (const [name, ts] of Object.entries(specialAliases)) out.push(`export type ${name} = ${ts};`);
  let current: GroupVersionInfo | undefined;
  for (const d of decls) {
    if (d.gv !== current) {
      current = d.gv;
      out.push('', `// ---- ${d.gv.group || 'core'}/${d.gv.version} ----`, '');
    }
    const tsName = names.get(d.def.name)!;
    if (d.def.kind === 'list') out.push(`export type ${tsName} = ${refTs({ kind: 'list', elem: d.def.elem }, names)};`);
    else out.push(messageTs(tsName, d.def, d.kind, names));
    for (const alias of aliases.get(d) ?? []) out.push(`export type ${alias} = ${tsName};`);
  }
  // Kinds whose objects carry ObjectMeta, by apiVersion/kind: typed resource descriptors look
  // their object type up here.
  out.push('', '// ---- object kinds by apiVersion/kind ----', '', 'export interface ObjectKinds {');
  for (const d of decls) {
    if (!d.kind || d.def.kind !== 'message') continue;
    const meta = d.def.byJson.get('metadata');
    if (meta?.type.kind !== 'message' || !meta.type.name.endsWith('.meta.v1.ObjectMeta')) continue;
    const apiVersion = d.gv.group ? `${d.gv.group}/${d.gv.version}` : d.gv.version;
    out.push(`  ${quote(`${apiVersion}/${d.name}`)}: ${names.get(d.def.name)!};`);
  }
  out.push('}', '');
  return out.join('\n');
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = path.join(fileURLToPath(new URL('../../../', import.meta.url)), generatedPath);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, generateTypes());
  process.stdout.write(`wrote ${generatedPath}\n`);
}
