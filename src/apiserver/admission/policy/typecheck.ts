/**
 * ValidatingAdmissionPolicy type checking, as upstream's admission/plugin/policy/validating
 * (typechecking.go) with apiserver/pkg/cel/common (schemas.go SchemaDeclType) and the
 * validatingadmissionpolicy-status controller's use of it:
 * - the kinds to check come from spec.matchConstraints.resourceRules: a rule with a wildcard
 *   group or version is skipped, resources with `*` or `/` are left out, and each
 *   group/version/resource left is resolved to its kinds (at most 10, sorted by group, version,
 *   kind); a kind without a schema is not checked;
 * - each kind's OpenAPI schema becomes CEL types (SchemaDeclType): objects with their
 *   properties (names escaped as upstream escapes them; a resource root always has apiVersion,
 *   kind and metadata.name/generateName), maps from additionalProperties, lists, int-or-string as
 *   dyn, date-time as timestamp; a schema without a type (Quantity's oneOf, preserve-unknown
 *   JSON) is not exposed, so its field is undefined; object types are named
 *   `<Kind><nanoseconds>` and `<parent>.<field>`, `.@idx`, `.@elem` below it, as upstream names them;
 * - `object` and `oldObject` have the kind's type, `params` the paramKind's (declared only when
 *   that schema resolves, as in 1.33), `request` and `namespaceObject` upstream's hand-written
 *   types, `authorizer` the authz library's Authorizer, and `variables` an object whose fields are
 *   the variables compiled so far (each of its own output type; object types become dyn);
 * - only spec.validations[i].expression and .messageExpression are checked; each with issues
 *   gives an ExpressionWarning whose warning is, per kind, `<group>/<version>, Kind=<Kind>: ` and
 *   cel-go's issues, each kind's text ending in a newline, joined by newlines.
 * The checker is Bosun's own (celcheck.ts): @bufbuild/cel cannot type check.
 */
import type { ValidatingAdmissionPolicy, Variable } from '../../../api/index.ts';
import { formatIssues, T, tryCheckExpression, type CelType, type CheckEnv } from './celcheck.ts';
import { admissionStructs, functions, typeIdents } from './celdecls.ts';

import type { GroupVersionKind, GroupVersionResource } from '../webhook/rules.ts';
import { isJsonObject } from '../../../util/json.ts';

export type { GroupVersionKind, GroupVersionResource };

/** An OpenAPI v3 schema as JSON (its $refs resolved: see `resolveRefs`). */
export type OpenApiSchema = Record<string, unknown>;

/** Where kinds and schemas come from (upstream's RESTMapper and SchemaResolver). */
export interface SchemaResolver {
  /** The kinds a group/version/resource names; empty when nothing serves it. */
  kindsFor(gvr: GroupVersionResource): Promise<readonly GroupVersionKind[]>;
  /** The kind's schema with $refs resolved; undefined when it has none. */
  schemaFor(gvk: GroupVersionKind): Promise<OpenApiSchema | undefined>;
}

/** An entry of status.typeChecking.expressionWarnings. */
export interface ExpressionWarning {
  fieldRef: string;
  warning: string;
}

/** Upstream's maxTypesToCheck. */
export const maxTypesToCheck = 10;

/** Go's schema.GroupVersionKind.String(). */
export const gvkString = (g: GroupVersionKind): string => `${g.group}/${g.version}, Kind=${g.kind}`;

const compareGvk = (a: GroupVersionKind, b: GroupVersionKind) => (a.group !== b.group ? (a.group < b.group ? -1 : 1) : a.version !== b.version ? (a.version < b.version ? -1 : 1) : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);

/** The kinds a policy is checked against, as upstream's typesToCheck. */
export async function typesToCheck(policy: ValidatingAdmissionPolicy, resolver: SchemaResolver): Promise<GroupVersionKind[]> {
  const rules = policy.spec?.matchConstraints?.resourceRules ?? [];
  const found = new Map<string, GroupVersionKind>();
  const sorted = () => [...found.values()].sort(compareGvk);
  let count = 0;
  for (const rule of rules) {
    const groups = rule.apiGroups ?? [];
    const versions = rule.apiVersions ?? [];
    if (!groups.length || groups.some((g) => g.includes('*'))) continue;
    if (!versions.length || versions.some((v) => v.includes('*'))) continue;
    const resources = (rule.resources ?? []).filter((r) => !/[*/]/.test(r));
    if (!resources.length) continue;
    for (const group of [...groups].sort()) {
      for (const version of [...versions].sort()) {
        for (const resource of [...resources].sort()) {
          // As upstream: a resource that does not resolve (or fails to) is passed over.
          const kinds = await resolver.kindsFor({ group, version, resource }).catch(() => []);
          for (const gvk of kinds) {
            found.set(gvkString(gvk), gvk);
            if (++count === maxTypesToCheck) return sorted();
          }
        }
      }
    }
  }
  return sorted();
}

// ---- schemas to CEL types (SchemaDeclType) ---------------------------------------------------

/** A schema's CEL shape before naming (upstream's DeclType). */
type Decl = { kind: 'object'; fields: Map<string, Decl> } | { kind: 'list'; elem: Decl } | { kind: 'map'; value: Decl } | { kind: 'simple'; type: CelType };

const reserved = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

/** Escaped names, remembered (objects are converted on every write; their keys repeat). Bounded. */
const escapes = new Map<string, string | null>();
const maxEscapes = 4096;

/** Upstream's Escape: a property name as a CEL field name, or undefined when it cannot be one. */
export function escapeFieldName(name: string): string | undefined {
  const hit = escapes.get(name);
  if (hit !== undefined) return hit ?? undefined;
  const out = escapeUncached(name);
  if (escapes.size < maxEscapes) escapes.set(name, out ?? null);
  return out;
}

function escapeUncached(name: string): string | undefined {
  if (!name || /^[0-9]/.test(name)) return undefined;
  if (reserved.has(name)) return `__${name}__`;
  if (/[^A-Za-z0-9_./-]/.test(name)) return undefined;
  return name.replace(/__|[-./]/g, (s) => (s === '__' ? '__underscores__' : s === '.' ? '__dot__' : s === '-' ? '__dash__' : '__slash__'));
}

const typeOf = (s: OpenApiSchema): string => (Array.isArray(s['type']) ? String(s['type'][0] ?? '') : typeof s['type'] === 'string' ? s['type'] : '');
const typeContains = (s: unknown, t: string) => isJsonObject(s) && (Array.isArray(s['type']) ? s['type'].includes(t) : s['type'] === t);

/** Upstream's WithTypeAndObjectMeta: apiVersion, kind and metadata.name/generateName at a resource root. */
function withTypeAndObjectMeta(s: OpenApiSchema): OpenApiSchema {
  const props = isJsonObject(s['properties']) ? s['properties'] : undefined;
  const md = props?.['metadata'];
  const mdProps = isJsonObject(md) && isJsonObject(md['properties']) ? md['properties'] : undefined;
  if (props && typeContains(props['kind'], 'string') && typeContains(props['apiVersion'], 'string') && typeContains(md, 'object') && mdProps && typeContains(mdProps['name'], 'string') && typeContains(mdProps['generateName'], 'string')) return s;
  return {
    ...s,
    properties: {
      ...props,
      kind: { type: 'string' },
      apiVersion: { type: 'string' },
      metadata: { type: 'object', properties: { name: { type: 'string' }, generateName: { type: 'string' } } },
    },
  };
}

const embedded = (s: OpenApiSchema) => s['x-kubernetes-embedded-resource'] === true;

/** Upstream's SchemaDeclType; undefined for a schema CEL does not see. */
function schemaDecl(schema: OpenApiSchema, resourceRoot: boolean): Decl | undefined {
  if (schema['format'] === 'int-or-string' || schema['x-kubernetes-int-or-string'] === true) return { kind: 'simple', type: T.dyn };
  const s = resourceRoot ? withTypeAndObjectMeta(schema) : schema;
  switch (typeOf(s)) {
    case 'array': {
      const items = s['items'];
      if (!isJsonObject(items)) return undefined;
      const elem = schemaDecl(items, embedded(items));
      return elem && { kind: 'list', elem };
    }
    case 'object': {
      const ap = s['additionalProperties'];
      if (isJsonObject(ap)) {
        const value = schemaDecl(ap, embedded(ap));
        return value && { kind: 'map', value };
      }
      const fields = new Map<string, Decl>();
      for (const [name, prop] of Object.entries(isJsonObject(s['properties']) ? s['properties'] : {})) {
        if (!isJsonObject(prop)) continue;
        const d = schemaDecl(prop, embedded(prop));
        const field = escapeFieldName(name);
        if (d && field !== undefined) fields.set(field, d);
      }
      return { kind: 'object', fields };
    }
    case 'string':
      switch (s['format']) {
        case 'byte':
          return { kind: 'simple', type: T.bytes };
        case 'duration':
          return { kind: 'simple', type: T.duration };
        case 'date':
        case 'date-time':
          return { kind: 'simple', type: T.timestamp };
      }
      return { kind: 'simple', type: T.string };
    case 'boolean':
      return { kind: 'simple', type: T.bool };
    case 'number':
      return { kind: 'simple', type: T.double };
    case 'integer':
      return { kind: 'simple', type: T.int };
  }
  return undefined;
}

/** Names a Decl's object types as upstream's MaybeAssignTypeName does and registers their fields; its CEL type. */
function declCelType(d: Decl, name: string, structs: Map<string, ReadonlyMap<string, CelType>>): CelType {
  switch (d.kind) {
    case 'simple':
      return d.type;
    case 'list':
      return T.list(declCelType(d.elem, `${name}.@idx`, structs));
    case 'map':
      return T.map(T.string, declCelType(d.value, `${name}.@elem`, structs));
    case 'object': {
      const fields = new Map<string, CelType>();
      for (const [f, fd] of d.fields) fields.set(f, declCelType(fd, `${name}.${f}`, structs));
      structs.set(name, fields);
      return T.struct(name);
    }
  }
}

/** Upstream's generateUniqueTypeName: the kind and the nanoseconds of the current second. */
export function uniqueTypeName(kind: string): string {
  const ms = performance.timeOrigin + performance.now();
  return `${kind}${Math.floor((ms % 1000) * 1e6)}`;
}

/** The CEL type of a resource's schema (its object types registered in `structs`); undefined when CEL sees nothing. */
export function schemaCelType(schema: OpenApiSchema, rootName: string, structs: Map<string, ReadonlyMap<string, CelType>>): CelType | undefined {
  const d = schemaDecl(schema, true);
  return d && declCelType(d, rootName, structs);
}

// ---- checking --------------------------------------------------------------------------------

/** Upstream's convertCelTypeToDeclType: the type a variable has as a field of `variables`. */
function variableFieldType(t: CelType): CelType {
  switch (t.kind) {
    case 'any':
    case 'bool':
    case 'bytes':
    case 'double':
    case 'duration':
    case 'int':
    case 'null':
    case 'string':
    case 'timestamp':
    case 'uint':
      return t;
    case 'list':
      return T.list(variableFieldType(t.elem));
    case 'map':
      return T.map(variableFieldType(t.key), variableFieldType(t.value));
    default:
      return T.dyn;
  }
}

const variablesTypeName = 'kubernetes.variables';

/** The environment for one kind: its object type, the params type, and the variables compiled in order. */
function envFor(objectType: CelType, params: { type: CelType } | undefined, variables: readonly Variable[], baseStructs: ReadonlyMap<string, ReadonlyMap<string, CelType>>): CheckEnv {
  const structs = new Map(baseStructs);
  const vars = new Map<string, CelType>();
  structs.set(variablesTypeName, vars);
  const idents = new Map<string, CelType>(typeIdents);
  idents.set('object', objectType);
  idents.set('oldObject', objectType);
  idents.set('request', T.struct('kubernetes.AdmissionRequest'));
  idents.set('namespaceObject', T.struct('kubernetes.Namespace'));
  if (params) idents.set('params', params.type);
  idents.set('authorizer', T.struct('kubernetes.authorization.Authorizer'));
  idents.set('variables', T.struct(variablesTypeName));
  const env: CheckEnv = { idents, functions: functions(), structs };
  for (const v of variables) {
    const r = tryCheckExpression(v.expression, env);
    vars.set(v.name, r.internal !== undefined || r.issues.length ? T.dyn : variableFieldType(r.outputType));
  }
  return env;
}

export interface CheckOptions {
  /** The name of a kind's object type (default upstream's: the kind and the current nanoseconds). */
  typeName?: (kind: string) => string;
  /** Told of schemas that failed to resolve (other than by not existing). */
  log?: (msg: string) => void;
}

/**
 * Upstream's TypeChecker.Check: the warnings for status.typeChecking.expressionWarnings (empty
 * when there are none). As upstream, a kind whose schema fails to resolve is not checked (type
 * checking must not fail a policy), and such failures are only logged.
 */
export async function checkPolicy(policy: ValidatingAdmissionPolicy, resolver: SchemaResolver, opts: CheckOptions = {}): Promise<ExpressionWarning[]> {
  const name = opts.typeName ?? uniqueTypeName;
  const spec = policy.spec ?? {};
  const schemaOf = (gvk: GroupVersionKind) =>
    resolver.schemaFor(gvk).catch((err: unknown) => {
      opts.log?.(`cannot resolve the schema of ${gvkString(gvk)}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    });
  const kinds: { gvk: GroupVersionKind; schema: OpenApiSchema }[] = [];
  for (const gvk of await typesToCheck(policy, resolver)) {
    const schema = await schemaOf(gvk);
    if (schema) kinds.push({ gvk, schema });
  }
  if (kinds.length === 0) return [];
  const base = new Map<string, ReadonlyMap<string, CelType>>(admissionStructs);
  let params: { type: CelType } | undefined;
  const pk = spec.paramKind;
  if (pk?.apiVersion && pk.kind) {
    const i = pk.apiVersion.indexOf('/');
    const gvk = { group: i < 0 ? '' : pk.apiVersion.slice(0, i), version: i < 0 ? pk.apiVersion : pk.apiVersion.slice(i + 1), kind: pk.kind };
    const schema = gvk.version ? await schemaOf(gvk) : undefined;
    const type = schema && schemaCelType(schema, name(pk.kind), base);
    if (type) params = { type };
  }
  const envs = kinds.map(({ gvk, schema }) => {
    const structs = new Map(base);
    const objectType = schemaCelType(schema, name(gvk.kind), structs) ?? T.dyn;
    return { gvk, env: envFor(objectType, params, spec.variables ?? [], structs) };
  });
  const check = (expression: string): string | undefined => {
    const texts: string[] = [];
    for (const { gvk, env } of envs) {
      const r = tryCheckExpression(expression, env);
      // Upstream's TypeCheckingResult: issues, or an internal error of the type checking.
      if (r.internal !== undefined) texts.push(`${gvkString(gvk)}: type checking error: ${r.internal}\n`);
      else if (r.issues.length) texts.push(`${gvkString(gvk)}: ${formatIssues(expression, r)}\n`);
    }
    return texts.length ? texts.join('\n') : undefined;
  };
  const warnings: ExpressionWarning[] = [];
  (spec.validations ?? []).forEach((v, i) => {
    const w = check(v.expression);
    if (w !== undefined) warnings.push({ fieldRef: `spec.validations[${i}].expression`, warning: w });
    if (!v.messageExpression) return;
    const m = check(v.messageExpression);
    if (m !== undefined) warnings.push({ fieldRef: `spec.validations[${i}].messageExpression`, warning: m });
  });
  return warnings;
}

// ---- schemas from OpenAPI v3 documents and discovery -------------------------------------------

/** A $ref, or one wrapped in allOf (how kube-openapi keeps a field's description). */
function refOf(s: OpenApiSchema): string | undefined {
  if (typeof s['$ref'] === 'string') return s['$ref'];
  if (Array.isArray(s['allOf'])) {
    for (const a of s['allOf']) {
      const r = isJsonObject(a) ? refOf(a) : undefined;
      if (r) return r;
    }
  }
  return undefined;
}

/**
 * Upstream's PopulateRefs over a document's components.schemas: the named schema with every
 * $ref (also inside allOf) replaced by the schema it names; a reference back into itself becomes
 * `{type: object}`. Undefined when the name is not there.
 */
export function resolveRefs(schemas: Readonly<Record<string, unknown>>, name: string): OpenApiSchema | undefined {
  const byRef = (ref: string): OpenApiSchema | undefined => {
    const s = schemas[ref.replace(/^#\/components\/schemas\//, '')];
    return isJsonObject(s) ? s : undefined;
  };
  const visited = new Set<string>();
  const populate = (schema: OpenApiSchema): OpenApiSchema => {
    const ref = refOf(schema);
    if (ref !== undefined) {
      if (visited.has(ref)) return { type: 'object' };
      const resolved = byRef(ref);
      if (!resolved) throw new Error(`cannot resolve Ref ${JSON.stringify(ref)}: schema not found`);
      visited.add(ref);
      try {
        return populateChildren(resolved);
      } finally {
        visited.delete(ref);
      }
    }
    return populateChildren(schema);
  };
  const populateChildren = (s: OpenApiSchema): OpenApiSchema => {
    const out: OpenApiSchema = { ...s };
    if (isJsonObject(s['properties'])) out['properties'] = Object.fromEntries(Object.entries(s['properties']).map(([k, p]) => [k, isJsonObject(p) ? populate(p) : p]));
    if (isJsonObject(s['additionalProperties'])) out['additionalProperties'] = populate(s['additionalProperties']);
    if (isJsonObject(s['items'])) out['items'] = populate(s['items']);
    return out;
  };
  const root = schemas[name];
  if (!isJsonObject(root)) return undefined;
  visited.add(`#/components/schemas/${name}`);
  return populate(root);
}

/** What a discovery document lists (APIResourceList). */
interface ApiResourceList {
  resources?: { name: string; singularName?: string; kind: string }[];
}

/**
 * A SchemaResolver over the API server's discovery (`/api/v1`, `/apis/<group>/<version>`) and
 * OpenAPI v3 documents (`/openapi/v3/...`), as upstream's discovery RESTMapper and
 * ClientDiscoveryResolver: `get(path)` answers the decoded JSON, or undefined for a 404. Each
 * document is fetched once per resolver.
 */
export function discoveryResolver(get: (path: string) => Promise<unknown>): SchemaResolver {
  const docs = new Map<string, Promise<unknown>>();
  const fetch = (path: string) => {
    let d = docs.get(path);
    if (!d) docs.set(path, (d = get(path)));
    return d;
  };
  const gvPath = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);
  return {
    async kindsFor(gvr) {
      const list = (await fetch(`/${gvPath(gvr.group, gvr.version)}`)) as ApiResourceList | undefined;
      const r = list?.resources?.find((x) => !x.name.includes('/') && (x.name === gvr.resource || x.singularName === gvr.resource));
      return r ? [{ group: gvr.group, version: gvr.version, kind: r.kind }] : [];
    },
    async schemaFor(gvk) {
      const doc = (await fetch(`/openapi/v3/${gvPath(gvk.group, gvk.version)}`)) as { components?: { schemas?: Record<string, unknown> } } | undefined;
      const schemas = doc?.components?.schemas ?? {};
      for (const [name, s] of Object.entries(schemas)) {
        const gvks = isJsonObject(s) && Array.isArray(s['x-kubernetes-group-version-kind']) ? (s['x-kubernetes-group-version-kind'] as GroupVersionKind[]) : [];
        if (gvks.some((g) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind)) return resolveRefs(schemas, name);
      }
      return undefined;
    },
  };
}
