/**
 * OpenAPI v3 documents generated from the per-type schema and the served resources: the
 * /openapi/v3 index and one document per group-version (components.schemas named as upstream,
 * with x-kubernetes-* extensions; paths for every resource and verb, with the query parameters
 * kubectl looks for, fieldValidation among them). Resources provided by in-process components
 * (metrics.k8s.io, ./metricsapi.ts) and custom resources (src/apiextensions/openapi.ts) bring their
 * own definitions, whose references to built-in types are resolved here; a custom resource's paths
 * follow upstream's CRD builder (list answered with the List kind, a list across namespaces,
 * /scale carrying autoscaling/v1 Scale under the custom resource's group-version-kind, no
 * strategic merge patch) and a group-version of custom resources only is titled as
 * apiextensions-apiserver titles it. Built lazily on first request; after invalidate() only the
 * group-versions whose served entries changed are rebuilt (their hash in the /openapi/v3 index
 * changes with their content). /openapi/v2 (JSON, and the protobuf form kubectl asks for) is
 * derived from these documents (./openapi-v2.ts). Not yet: descriptions of built-in types.
 */
import { createHash } from 'node:crypto';
import type { ResourceRegistry, ServedResource } from './registry.ts';
import { getMessage, getType, groupVersions, schemaFile, typeForKind, type FieldDef, type TypeRef } from '../api/schema/index.ts';
import { encodeSwaggerParts, mergeSwagger, swaggerPart, type SwaggerPart } from './openapi-v2.ts';

type Schema = Record<string, unknown>;

/**
 * A resource's own definitions (ServedResource.openapi); custom resources' also carry their List's
 * name and their Swagger 2.0 forms (src/apiextensions/openapi.ts), which /openapi/v2 uses as-is.
 */
type ProvidedOpenApi = NonNullable<ServedResource['openapi']> & { listName?: string; v2?: Record<string, Schema> };
type CrdOpenApi = ProvidedOpenApi & { listName: string; v2: Record<string, Schema> };
const crdOf = (e: ServedResource): CrdOpenApi | undefined => {
  const o = e.openapi as ProvidedOpenApi | undefined;
  return o?.v2 && o.listName ? (o as CrdOpenApi) : undefined;
};

const specialSchemas: Record<string, { name: string; schema: Schema }> = {
  Quantity: { name: 'io.k8s.apimachinery.pkg.api.resource.Quantity', schema: { oneOf: [{ type: 'string' }, { type: 'number' }] } },
  // As upstream's v3 (OpenAPIV3OneOfTypes): no `type`, so `kubectl explain` names it <IntOrString>; v2 has type string.
  IntOrString: { name: 'io.k8s.apimachinery.pkg.util.intstr.IntOrString', schema: { oneOf: [{ type: 'integer' }, { type: 'string' }], format: 'int-or-string' } },
  Time: { name: 'io.k8s.apimachinery.pkg.apis.meta.v1.Time', schema: { type: 'string', format: 'date-time' } },
  MicroTime: { name: 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime', schema: { type: 'string', format: 'date-time' } },
  Duration: { name: 'io.k8s.apimachinery.pkg.apis.meta.v1.Duration', schema: { type: 'string' } },
  RawExtension: { name: 'io.k8s.apimachinery.pkg.runtime.RawExtension', schema: { type: 'object' } },
  FieldsV1: { name: 'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1', schema: { type: 'object' } },
  JSON: { name: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON', schema: { 'x-kubernetes-preserve-unknown-fields': true } },
};

const scalarSchemas: Record<string, Schema> = {
  string: { type: 'string' },
  int32: { type: 'integer', format: 'int32' },
  int64: { type: 'integer', format: 'int64' },
  bool: { type: 'boolean' },
  double: { type: 'number', format: 'double' },
  bytes: { type: 'string', format: 'byte' },
};

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** TypeMeta's fields, which every kind and list of kinds carries (upstream lists them in each schema). */
export const typeMetaProperties: Record<string, Schema> = {
  apiVersion: {
    description:
      'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
    type: 'string',
  },
  kind: {
    description:
      'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
    type: 'string',
  },
};

let kindTypeNames: ReadonlySet<string> | undefined;

/** Full names of the types that embed TypeMeta: every kind of every group-version, and its List. */
export function typesWithTypeMeta(): ReadonlySet<string> {
  if (kindTypeNames) return kindTypeNames;
  const out = new Set<string>();
  for (const gv of groupVersions) {
    for (const kind of schemaFile(gv).kinds) {
      if (kind === 'WatchEvent') continue; // upstream's WatchEvent has no TypeMeta
      for (const name of [`${gv.openapi}.${kind}`, `${gv.openapi}.${kind}List`]) if (getType(name)?.kind === 'message') out.add(name);
    }
  }
  kindTypeNames = out;
  return out;
}

class Builder {
  schemas: Record<string, Schema> = {};
  #pending: string[] = [];

  typeSchema(t: TypeRef): Schema {
    switch (t.kind) {
      case 'scalar':
        return { ...scalarSchemas[t.scalar] };
      case 'special': {
        const s = specialSchemas[t.special];
        if (!s) return { type: 'object' };
        this.schemas[s.name] ??= s.schema;
        return { allOf: [ref(s.name)] };
      }
      case 'message':
        this.#want(t.name);
        return { allOf: [ref(t.name)] };
      case 'list':
        return { type: 'array', items: this.typeSchema(t.elem) };
      case 'map':
        return { type: 'object', additionalProperties: this.typeSchema(t.value) };
    }
  }

  #want(name: string): void {
    if (!(name in this.schemas)) {
      this.schemas[name] = {};
      this.#pending.push(name);
    }
  }

  fieldSchema(f: FieldDef): Schema {
    const s = this.typeSchema(f.type);
    if (f.patchStrategy) s['x-kubernetes-patch-strategy'] = f.patchStrategy;
    if (f.patchMergeKey) s['x-kubernetes-patch-merge-key'] = f.patchMergeKey;
    if (f.listType) s['x-kubernetes-list-type'] = f.listType;
    if (f.listMapKeys) s['x-kubernetes-list-map-keys'] = f.listMapKeys;
    if (f.mapType) s['x-kubernetes-map-type'] = f.mapType;
    if (f.default !== undefined) s['default'] = f.default;
    return s;
  }

  message(name: string, gvk?: { group: string; version: string; kind: string }): void {
    this.#want(name);
    this.drain();
    if (gvk) this.schemas[name]!['x-kubernetes-group-version-kind'] = [gvk];
  }

  /**
   * A provided resource's own definitions (./metricsapi.ts), its kind marked with `gvk`; the
   * built-in types they reference (ObjectMeta, Time, Quantity, …) are added as for any kind.
   */
  provided(o: NonNullable<ServedResource['openapi']>, gvk: { group: string; version: string; kind: string }): void {
    const refs = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.add(x.replace('#/components/schemas/', ''));
          else walk(x);
        }
      }
    };
    for (const [name, s] of Object.entries(o.schemas)) {
      this.schemas[name] = structuredClone(s);
      walk(s);
    }
    this.schemas[o.name]!['x-kubernetes-group-version-kind'] = [gvk];
    for (const name of refs) {
      if (name in this.schemas) continue;
      const special = Object.values(specialSchemas).find((x) => x.name === name);
      if (special) this.schemas[name] = special.schema;
      else this.#want(name);
    }
    this.drain();
  }

  drain(): void {
    while (this.#pending.length) {
      const name = this.#pending.pop()!;
      const def = getType(name);
      if (!def) {
        this.schemas[name] = { type: 'object' };
        continue;
      }
      if (def.kind === 'list') {
        this.schemas[name] = { type: 'array', items: this.typeSchema(def.elem) };
        continue;
      }
      const properties: Record<string, Schema> = typesWithTypeMeta().has(name) ? { ...typeMetaProperties } : {};
      const required: string[] = [];
      const walk = (fields: readonly FieldDef[]) => {
        for (const f of fields) {
          if (f.inline && f.type.kind === 'message') {
            walk(getMessage(f.type.name).fields);
            continue;
          }
          properties[f.name] = this.fieldSchema(f);
          if (f.required) required.push(f.name);
        }
      };
      walk(def.fields);
      const s: Schema = { type: 'object', properties };
      if (required.length) s['required'] = required;
      if (def.structType) s['x-kubernetes-map-type'] = def.structType;
      if (def.oneof) this.schemas[name] = { 'x-kubernetes-preserve-unknown-fields': true };
      else this.schemas[name] = s;
    }
  }
}

const param = (name: string, inn: 'query' | 'path', type = 'string'): Schema => ({ name, in: inn, ...(inn === 'path' ? { required: true } : {}), schema: { type } });
const writeParams = [param('dryRun', 'query'), param('fieldManager', 'query'), param('fieldValidation', 'query'), param('pretty', 'query')];
const listParams = ['allowWatchBookmarks', 'continue', 'fieldSelector', 'labelSelector', 'limit', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents', 'timeoutSeconds', 'watch'].map((n) => param(n, 'query'));

const scaleName = 'io.k8s.api.autoscaling.v1.Scale';
const okWith = (typeName: string | undefined) => (typeName ? { '200': { description: 'OK', content: { 'application/json': { schema: ref(typeName) } } } } : { '200': { description: 'OK' } });
const bodyOf = (typeName: string | undefined) => (typeName ? { content: { 'application/json': { schema: ref(typeName) } } } : undefined);
const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
/** Custom resources take no strategic merge patch (upstream's CRD builder). */
const crdPatchTypes = patchTypes.filter((t) => t !== 'application/strategic-merge-patch+json');

/** `crd`: the resource is a custom resource whose List is `crd.listName`. */
function resourcePaths(e: ServedResource, typeName: string | undefined, crd?: { listName: string }): Record<string, Schema> {
  const d = e.def;
  const gvk = { group: d.group, version: e.version, kind: d.kind };
  const base = d.group ? `/apis/${d.group}/${e.version}` : `/api/${e.version}`;
  const coll = d.namespaced ? `${base}/namespaces/{namespace}/${d.plural}` : `${base}/${d.plural}`;
  const nsParam = d.namespaced ? [param('namespace', 'path')] : [];
  const body = bodyOf(typeName);
  const ok = okWith(typeName);
  const op = (action: string, verb: string, extra: Schema = {}) => ({
    operationId: `${verb}${d.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    responses: ok,
    ...extra,
  });
  const verbs = new Set(e.verbs);
  const paths: Record<string, Schema> = {};
  const c: Schema = { parameters: nsParam };
  const listOk = crd ? { responses: okWith(crd.listName) } : {};
  if (verbs.has('list')) c['get'] = op('list', 'list', { parameters: listParams, ...listOk });
  if (crd && d.namespaced && verbs.has('list')) {
    paths[`${base}/${d.plural}`] = { parameters: [], get: { ...op('list', 'list', { parameters: listParams, ...listOk }), operationId: `list${d.kind}ForAllNamespaces` } };
  }
  if (verbs.has('create')) c['post'] = op('post', 'create', { parameters: writeParams, requestBody: body });
  if (verbs.has('deletecollection')) c['delete'] = op('deletecollection', 'deleteCollection', { parameters: listParams });
  paths[coll] = c;
  if (e.def.review) return paths;
  const item: Schema = { parameters: [...nsParam, param('name', 'path')] };
  if (verbs.has('get')) item['get'] = op('get', 'read');
  if (verbs.has('update')) item['put'] = op('put', 'replace', { parameters: writeParams, requestBody: body });
  if (verbs.has('patch')) {
    item['patch'] = op('patch', 'patch', {
      parameters: [...writeParams, param('force', 'query', 'boolean')],
      requestBody: {
        content: Object.fromEntries((crd ? crdPatchTypes : patchTypes).map((t) => [t, { schema: { type: 'object' } }])),
      },
    });
  }
  if (verbs.has('delete')) item['delete'] = op('delete', 'delete', { parameters: [param('dryRun', 'query'), param('gracePeriodSeconds', 'query', 'integer'), param('propagationPolicy', 'query')] });
  paths[`${coll}/{name}`] = item;
  for (const sub of ['status', 'scale'] as const) {
    if (!e.def.subresources?.[sub]) continue;
    // Upstream's CRD builder keeps the custom resource's kind on /scale (its body is a Scale);
    // built-in /scale operations carry autoscaling/v1 Scale.
    const subGvk = sub === 'scale' && !crd ? { group: 'autoscaling', version: 'v1', kind: 'Scale' } : gvk;
    const subType = crd && sub === 'scale' ? scaleName : typeName;
    const subIo = crd ? { responses: okWith(subType) } : {};
    const subOp = (action: string, verb: string, extra: Schema = {}) => ({ ...op(action, verb, { ...subIo, ...extra }), operationId: `${verb}${d.kind}${sub === 'scale' ? 'Scale' : 'Status'}`, 'x-kubernetes-group-version-kind': subGvk });
    paths[`${coll}/{name}/${sub}`] = {
      parameters: [...nsParam, param('name', 'path')],
      get: subOp('get', 'read'),
      put: subOp('put', 'replace', { parameters: writeParams, ...(crd ? { requestBody: bodyOf(subType) } : {}) }),
      patch: subOp('patch', 'patch', { parameters: [...writeParams, param('force', 'query', 'boolean')] }),
    };
  }
  return paths;
}

export interface OpenApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** What kubectl sends for the protobuf form of /openapi/v2, and the type it is answered with. */
const v2ProtoAccept = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
const v2ProtoType = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/** One group-version's v3 document, the served entries it was built from, and its v2 part once made. */
interface GvDoc {
  served: readonly ServedResource[];
  body: string;
  hash: string;
  v2?: SwaggerPart;
}

const sameEntries = (a: readonly ServedResource[], b: readonly ServedResource[]) => a.length === b.length && a.every((e, i) => e === b[i]);
const sha512 = (s: string) => createHash('sha512').update(s).digest('hex').slice(0, 128).toUpperCase();

/**
 * The documents of one registry. A group-version's document is built on first request and kept
 * while the registry serves the same entries for it (a CRD served, changed or unserved replaces
 * its entries), so invalidate() rebuilds only what changed; /openapi/v2 is re-merged from the
 * per-group-version parts, of which only the changed ones are converted and encoded again.
 */
export class OpenApi {
  #registry: ResourceRegistry;
  #docs = new Map<string, GvDoc>();

  constructor(registry: ResourceRegistry) {
    this.#registry = registry;
  }

  #v2: { json?: string; proto?: Uint8Array; parts: SwaggerPart[]; etag: string } | undefined;

  /** Forget the merged documents (the registry changed); group-versions whose entries changed are rebuilt on next use. */
  invalidate(): void {
    for (const [key, d] of this.#docs) {
      const [group, version] = [key.slice(0, key.lastIndexOf('/')), key.slice(key.lastIndexOf('/') + 1)];
      if (!sameEntries(d.served, this.#registry.resourcesOf(group, version))) this.#docs.delete(key);
    }
    this.#v2 = undefined;
  }

  #swagger(): { json?: string; proto?: Uint8Array; parts: SwaggerPart[]; etag: string } {
    if (this.#v2) return this.#v2;
    const parts: SwaggerPart[] = [];
    const hashes: string[] = [];
    for (const g of this.#registry.groups()) {
      for (const v of g.versions) {
        const d = this.#gvDoc(g.group, v);
        if (!d) continue;
        if (!d.v2) {
          const given: Record<string, Schema> = {};
          for (const e of d.served) Object.assign(given, crdOf(e)?.v2);
          d.v2 = swaggerPart(JSON.parse(d.body) as Record<string, unknown>, { definitions: given });
        }
        parts.push(d.v2);
        hashes.push(d.hash);
      }
    }
    // A custom resource's v2 definitions derive from the same CRD version as its v3 ones, so
    // the group-version hashes identify the merged document.
    this.#v2 = { parts, etag: `"${sha512(hashes.join(','))}"` };
    return this.#v2;
  }

  #gvDoc(group: string, version: string): GvDoc | undefined {
    const key = `${group}/${version}`;
    const served = this.#registry.resourcesOf(group, version);
    const hit = this.#docs.get(key);
    if (hit && sameEntries(hit.served, served)) return hit;
    if (!served.length) {
      this.#docs.delete(key);
      return undefined;
    }
    const b = new Builder();
    let paths: Record<string, Schema> = {};
    let allCrds = true;
    for (const e of served) {
      const crd = crdOf(e);
      if (!crd) allCrds = false;
      const t = crd ? undefined : typeForKind(group, version, e.def.kind);
      if (t) b.message(t.name, { group, version, kind: e.def.kind });
      else if (e.openapi) b.provided(e.openapi, { group, version, kind: e.def.kind });
      paths = { ...paths, ...resourcePaths(e, t?.name ?? e.openapi?.name, crd) };
      if (e.def.subresources?.scale) b.message(scaleName, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
    }
    b.drain();
    // apiextensions-apiserver titles its per-group-version documents so.
    const info = allCrds ? { title: 'Kubernetes CRD Swagger', version: 'v0.1.0' } : { title: 'Kubernetes', version: 'v1.33.0' };
    const doc = { openapi: '3.0.0', info, paths, components: { schemas: b.schemas } };
    const body = JSON.stringify(doc);
    const out: GvDoc = { served: [...served], body, hash: sha512(body) };
    this.#docs.set(key, out);
    return out;
  }

  serve(path: string, query: URLSearchParams, headers: Record<string, string | string[] | undefined>): OpenApiResponse | null {
    if (path === '/openapi/v2' || path === '/openapi/v2/') {
      const v2 = this.#swagger();
      const accept = String(headers['accept'] ?? '');
      const proto = accept.includes(v2ProtoAccept) || accept.includes(v2ProtoType);
      const etag = proto ? `"proto-${v2.etag.slice(1)}` : v2.etag;
      if (headers['if-none-match'] === etag) return { status: 304, headers: { etag }, body: '' };
      if (proto) {
        v2.proto ??= encodeSwaggerParts(v2.parts);
        return { status: 200, headers: { 'content-type': v2ProtoType, etag }, body: v2.proto };
      }
      v2.json ??= JSON.stringify(mergeSwagger(v2.parts));
      return { status: 200, headers: { 'content-type': 'application/json', etag }, body: v2.json };
    }
    if (path === '/openapi/v3' || path === '/openapi/v3/') {
      const paths: Record<string, unknown> = {};
      for (const g of this.#registry.groups()) {
        for (const v of g.versions) {
          const doc = this.#gvDoc(g.group, v);
          if (!doc) continue;
          const p = g.group ? `apis/${g.group}/${v}` : `api/${v}`;
          paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${doc.hash}` };
        }
      }
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ paths }) };
    }
    const m = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/?$/.exec(path);
    if (!m) return null;
    const group = m[1] ? '' : m[2]!;
    const version = m[1] ?? m[3]!;
    const doc = this.#gvDoc(group, version);
    if (!doc) return null;
    const etag = `"${doc.hash}"`;
    const cache = query.get('hash') === doc.hash ? 'public, immutable' : 'no-cache, private';
    if (headers['if-none-match'] === etag) return { status: 304, headers: { etag, 'cache-control': cache }, body: '' };
    return { status: 200, headers: { 'content-type': 'application/json', etag, 'cache-control': cache }, body: doc.body };
  }
}
