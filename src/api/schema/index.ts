/**
 * The schema of every built-in Kubernetes type (Kubernetes 1.33), from the per-group-version data
 * files beside this one (notation: ./notation.ts).
 *
 * Loading is lazy so that importing this module costs nothing at start-up: a data file is loaded
 * (synchronously, with require) the first time one of its types or kinds is asked for, and a type
 * is parsed the first time it is asked for. Everything is cached for the life of the process.
 *
 * Types are named by their OpenAPI definition name ('io.k8s.api.core.v1.ConfigMap') or by the
 * short name the data files use ('core.v1.ConfigMap'); both work wherever a name is taken.
 * Returned definitions are shared: never mutate them.
 */
import { createRequire } from 'node:module';
import type { FieldDef, GroupVersionInfo, MessageDef, SchemaFile, TypeDef } from './notation.ts';
import { parseType } from './notation.ts';

export type {
  FieldDef,
  GroupVersionInfo,
  ListDef,
  MessageDef,
  Scalar,
  SchemaFile,
  Special,
  TypeDef,
  TypeRef,
} from './notation.ts';
export { specialTypes } from './notation.ts';

/** Every group-version with a data file (`<ref with '-' for '.'>.ts`), meta/v1 first. */
export const groupVersions: readonly GroupVersionInfo[] = [
  { ref: 'meta.v1', group: 'meta.k8s.io', version: 'v1', openapi: 'io.k8s.apimachinery.pkg.apis.meta.v1' },
  { ref: 'core.v1', group: '', version: 'v1', openapi: 'io.k8s.api.core.v1' },
  { ref: 'apps.v1', group: 'apps', version: 'v1', openapi: 'io.k8s.api.apps.v1' },
  { ref: 'batch.v1', group: 'batch', version: 'v1', openapi: 'io.k8s.api.batch.v1' },
  { ref: 'autoscaling.v1', group: 'autoscaling', version: 'v1', openapi: 'io.k8s.api.autoscaling.v1' },
  { ref: 'autoscaling.v2', group: 'autoscaling', version: 'v2', openapi: 'io.k8s.api.autoscaling.v2' },
  { ref: 'networking.v1', group: 'networking.k8s.io', version: 'v1', openapi: 'io.k8s.api.networking.v1' },
  { ref: 'rbac.v1', group: 'rbac.authorization.k8s.io', version: 'v1', openapi: 'io.k8s.api.rbac.v1' },
  { ref: 'storage.v1', group: 'storage.k8s.io', version: 'v1', openapi: 'io.k8s.api.storage.v1' },
  { ref: 'coordination.v1', group: 'coordination.k8s.io', version: 'v1', openapi: 'io.k8s.api.coordination.v1' },
  { ref: 'discovery.v1', group: 'discovery.k8s.io', version: 'v1', openapi: 'io.k8s.api.discovery.v1' },
  { ref: 'policy.v1', group: 'policy', version: 'v1', openapi: 'io.k8s.api.policy.v1' },
  { ref: 'scheduling.v1', group: 'scheduling.k8s.io', version: 'v1', openapi: 'io.k8s.api.scheduling.v1' },
  { ref: 'node.v1', group: 'node.k8s.io', version: 'v1', openapi: 'io.k8s.api.node.v1' },
  {
    ref: 'admissionregistration.v1',
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    openapi: 'io.k8s.api.admissionregistration.v1',
  },
  {
    ref: 'apiextensions.v1',
    group: 'apiextensions.k8s.io',
    version: 'v1',
    openapi: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1',
  },
  { ref: 'events.v1', group: 'events.k8s.io', version: 'v1', openapi: 'io.k8s.api.events.v1' },
  { ref: 'certificates.v1', group: 'certificates.k8s.io', version: 'v1', openapi: 'io.k8s.api.certificates.v1' },
  { ref: 'authentication.v1', group: 'authentication.k8s.io', version: 'v1', openapi: 'io.k8s.api.authentication.v1' },
  { ref: 'authorization.v1', group: 'authorization.k8s.io', version: 'v1', openapi: 'io.k8s.api.authorization.v1' },
  { ref: 'apiregistration.v1', group: 'apiregistration.k8s.io', version: 'v1', openapi: 'io.k8s.kube-aggregator.pkg.apis.apiregistration.v1' },
];

/** meta/v1 kinds every group-version also accepts (upstream registers them in each). */
const metaKindsEverywhere: ReadonlySet<string> = new Set([
  'Status',
  'WatchEvent',
  'DeleteOptions',
  'ListOptions',
  'GetOptions',
  'CreateOptions',
  'UpdateOptions',
  'PatchOptions',
]);

const byPrefix = new Map<string, GroupVersionInfo>();
const byGroupVersion = new Map<string, GroupVersionInfo>();
for (const gv of groupVersions) {
  byPrefix.set(gv.ref, gv);
  byPrefix.set(gv.openapi, gv);
  byGroupVersion.set(`${gv.group}/${gv.version}`, gv);
}

const resolvePrefix = (ref: string): string | undefined => byPrefix.get(ref)?.openapi;

// require() loads a data file synchronously on first use (Node loads ES modules and strips types
// for it), which a static import would do at start-up for every file.
const requireFile = createRequire(import.meta.url);
const files = new Map<GroupVersionInfo, SchemaFile>();

/** The data file of a group-version, loaded on first use. */
export function schemaFile(gv: GroupVersionInfo): SchemaFile {
  let file = files.get(gv);
  if (!file) {
    file = (requireFile(`./${gv.ref.replace('.', '-')}.ts`) as { default: SchemaFile }).default;
    files.set(gv, file);
  }
  return file;
}

const types = new Map<string, TypeDef | null>();

/** The type with this full or short name, or undefined. */
export function getType(name: string): TypeDef | undefined {
  const cached = types.get(name);
  if (cached !== undefined) return cached ?? undefined;
  const dot = name.lastIndexOf('.');
  const gv = dot < 0 ? undefined : byPrefix.get(name.slice(0, dot));
  const typeName = name.slice(dot + 1);
  const file = gv && schemaFile(gv);
  const decl = file && Object.hasOwn(file.types, typeName) ? file.types[typeName] : undefined;
  if (!gv || decl === undefined) {
    types.set(name, null);
    return undefined;
  }
  const def = parseType(typeName, decl, gv, resolvePrefix);
  types.set(def.name, def);
  types.set(def.shortName, def);
  return def;
}

/**
 * Types made at run time (a CustomResourceDefinition's schema, for server-side apply): found by
 * getType under their own names, never by typeForKind (custom resources stay unstructured
 * everywhere else: canonical JSON, protobuf, OpenAPI). Names must not collide with built-in ones.
 */
export function registerDynamicTypes(defs: readonly MessageDef[]): void {
  for (const d of defs) {
    types.set(d.name, d);
    if (d.shortName !== d.name) types.set(d.shortName, d);
  }
}

/** Forgets types registered by registerDynamicTypes. */
export function unregisterDynamicTypes(defs: readonly MessageDef[]): void {
  for (const d of defs) {
    if (types.get(d.name) === d) types.delete(d.name);
    if (types.get(d.shortName) === d) types.delete(d.shortName);
  }
}

/** The message type with this name; throws if there is none (a schema bug, not an input error). */
export function getMessage(name: string): MessageDef {
  const def = getType(name);
  if (def?.kind !== 'message') throw new Error(`schema: no message type ${name}`);
  return def;
}

/** The group-version ('' group for core), or undefined when it has no data file. */
export function groupVersionInfo(group: string, version: string): GroupVersionInfo | undefined {
  return byGroupVersion.get(`${group}/${version}`);
}

/**
 * The type of a kind of a group-version, or undefined when the group-version or kind is unknown.
 * The meta/v1 option kinds and Status are found in every known group-version.
 */
export function typeForKind(group: string, version: string, kind: string): MessageDef | undefined {
  const gv = byGroupVersion.get(`${group}/${version}`);
  if (!gv) return undefined;
  if (schemaFile(gv).kinds.includes(kind)) {
    const def = getType(`${gv.openapi}.${kind}`);
    return def?.kind === 'message' ? def : undefined;
  }
  if (metaKindsEverywhere.has(kind)) return getMessage(`meta.v1.${kind}`);
  return undefined;
}

/** Every type, in data-file order (loads and parses everything: for tests and OpenAPI). */
export function allTypes(): TypeDef[] {
  const out: TypeDef[] = [];
  for (const gv of groupVersions) {
    for (const name of Object.keys(schemaFile(gv).types)) out.push(mustGetType(`${gv.ref}.${name}`));
  }
  return out;
}

function mustGetType(name: string): TypeDef {
  const def = getType(name);
  if (!def) throw new Error(`schema: no type ${name}`);
  return def;
}

export function fieldByJson(def: MessageDef, jsonName: string): FieldDef | undefined {
  return def.byJson.get(jsonName);
}

export function fieldByNumber(def: MessageDef, number: number): FieldDef | undefined {
  return def.byNumber.get(number);
}

/** A JSON property of a message: the field, and the inline fields it is reached through. */
export interface JsonProperty {
  readonly field: FieldDef;
  /** Inline (embedded) fields from the outer message down to the one holding `field`; usually empty. */
  readonly via: readonly FieldDef[];
}

const propertyCache = new WeakMap<MessageDef, ReadonlyMap<string, JsonProperty>>();

/** The JSON properties of a message in JSON order, with inline members flattened into it. */
export function jsonProperties(def: MessageDef): ReadonlyMap<string, JsonProperty> {
  let props = propertyCache.get(def);
  if (props) return props;
  const out = new Map<string, JsonProperty>();
  for (const field of def.fields) {
    if (field.inline && field.type.kind === 'message') {
      for (const [name, inner] of jsonProperties(getMessage(field.type.name))) {
        if (!out.has(name)) out.set(name, { field: inner.field, via: [field, ...inner.via] });
      }
    } else {
      out.set(field.name, { field, via: [] }); // a direct field wins over an inlined one, as in Go
    }
  }
  props = out;
  propertyCache.set(def, props);
  return props;
}
