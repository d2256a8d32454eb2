/**
 * OpenAPI definitions of one served version of a CRD, as upstream's apiextensions-apiserver
 * builder (pkg/controller/openapi/builder) publishes them: the kind and its List under
 * reversed-group names ('com.example.v1.Database', 'com.example.v1.DatabaseList'), the version's
 * structural schema with `x-kubernetes-int-or-string` unfolded to anyOf, metadata replaced by a
 * reference to ObjectMeta, apiVersion and kind as TypeMeta describes them, embedded resources
 * given apiVersion/kind/metadata, `x-kubernetes-group-version-kind` and
 * `x-kubernetes-selectable-fields`. A schema that is not structural (or absent) is published as a
 * bare object, as upstream does.
 *
 * Two forms are built: `schemas` (OpenAPI v3, served under /openapi/v3 through the registry's
 * `openapi` field) and `v2` (Swagger 2.0 definitions for /openapi/v2, after upstream's v2
 * conversion, pkg/controller/openapi/v2: junctors dropped, nullable and
 * preserve-unknown-fields nodes left untyped and without properties, a preserve-unknown-fields
 * root reduced to `type: object` so kubectl's client-side validation lets anything through).
 * Runs when a CRD is served, not per request.
 */
import type { CustomResourceDefinition, JSONSchemaProps } from '../api/index.ts';
import { typeMetaProperties } from '../apiserver/openapi.ts';
import { isJsonObject } from '../util/json.ts';

type Schema = Record<string, unknown>;

/** What crdOpenApi returns: v3 component schemas, and their Swagger 2.0 forms by the same names. */
export interface CrdOpenApi {
  /** The kind's definition name. */
  name: string;
  /** The List's definition name. */
  listName: string;
  /** OpenAPI v3 component schemas (references `#/components/schemas/…`). */
  schemas: Record<string, Schema>;
  /** Swagger 2.0 definitions (references `#/definitions/…`), used as-is by /openapi/v2. */
  v2: Record<string, Schema>;
}

const objectMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const listMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';
const objectMetaDescription = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const listMetaDescription = 'Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';
const embeddedApiVersionDescription =
  'apiVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const embeddedKindDescription = 'kind is a string value representing the type of this object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';

/** Upstream's definition name for a group-version-kind: the group's labels reversed. */
export function gvkToModelName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

/** A reference in v3 form (wrapped in allOf when it has siblings, as kube-openapi's builder3) or v2 form. */
function metaRef(name: string, description: string, v2: boolean): Schema {
  return v2 ? { $ref: `#/definitions/${name}`, description } : { allOf: [{ $ref: `#/components/schemas/${name}` }], description };
}

/**
 * The OpenAPI v3 component schemas for one served version of a CRD (and their v2 forms); see
 * the file comment. `version` must be one of `crd.spec.versions`; an unknown version yields
 * the bare-object form. Pure: the CRD is not modified.
 */
export function crdOpenApi(crd: CustomResourceDefinition, version: string): CrdOpenApi {
  const { group, names } = crd.spec;
  const kind = names.kind;
  const listKind = names.listKind || `${kind}List`;
  const name = gvkToModelName(group, version, kind);
  const listName = gvkToModelName(group, version, listKind);
  const v = crd.spec.versions.find((x) => x.name === version);
  const schema = v?.schema?.openAPIV3Schema;
  const structural = schema ? toStructural(schema) : undefined;
  if (structural) unfold(structural);
  const gvk = [{ group, kind, version }];
  const selectable = v?.selectableFields?.length ? v.selectableFields.map((f) => ({ fieldPath: f.jsonPath.replace(/^\./, '') })) : undefined;

  const kindSchema = (v2: boolean): Schema => {
    let out: Schema;
    if (!structural) out = { type: 'object' };
    else if (v2 && (structural['x-kubernetes-preserve-unknown-fields'] === true || crd.spec.preserveUnknownFields === true)) out = { type: 'object' };
    else {
      out = structuredClone(structural);
      if (v2) toV2(out);
      const props = (out['properties'] ??= {}) as Record<string, Schema>;
      props['metadata'] = metaRef(objectMeta, objectMetaDescription, v2);
      props['apiVersion'] = { ...typeMetaProperties['apiVersion'] };
      props['kind'] = { ...typeMetaProperties['kind'] };
      addEmbedded(out, v2);
    }
    out['x-kubernetes-group-version-kind'] = gvk;
    if (selectable) out['x-kubernetes-selectable-fields'] = selectable;
    return out;
  };
  const listSchema = (v2: boolean): Schema => {
    const out: Schema = {
      description: `${listKind} is a list of ${kind}`,
      type: 'object',
      required: ['items'],
      properties: {
        apiVersion: { ...typeMetaProperties['apiVersion'] },
        items: {
          description: `List of ${names.plural}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`,
          type: 'array',
          items: { $ref: v2 ? `#/definitions/${name}` : `#/components/schemas/${name}` },
        },
        kind: { ...typeMetaProperties['kind'] },
        metadata: metaRef(listMeta, listMetaDescription, v2),
      },
      'x-kubernetes-group-version-kind': [{ group, kind: listKind, version }],
    };
    if (selectable) out['x-kubernetes-selectable-fields'] = selectable;
    return out;
  };
  return {
    name,
    listName,
    schemas: { [name]: kindSchema(false), [listName]: listSchema(false) },
    v2: { [name]: kindSchema(true), [listName]: listSchema(true) },
  };
}

// ---- structural schema ----------------------------------------------------------------------------

/** Keys a structural schema keeps (upstream's Generic, ValueValidation and extensions): strings omitted when empty, */
const strings = ['type', 'format', 'title', 'description', 'pattern', 'x-kubernetes-list-type', 'x-kubernetes-map-type'] as const;
/** values kept whatever they are (a default may be '' or false), */
const values = ['default', 'example', 'maximum', 'minimum', 'maxLength', 'minLength', 'maxItems', 'minItems', 'multipleOf', 'maxProperties', 'minProperties'] as const;
/** booleans only when true, lists only when not empty. */
const trueOnly = ['nullable', 'exclusiveMaximum', 'exclusiveMinimum', 'uniqueItems', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string'] as const;
const nonEmpty = ['enum', 'required', 'x-kubernetes-list-map-keys', 'x-kubernetes-validations'] as const;
/** Fields NewStructural refuses: such a schema is published as a bare object. */
const unsupported = ['id', '$schema', '$ref', 'patternProperties', 'dependencies', 'additionalItems', 'definitions'] as const;
const knownTypes = new Set(['array', 'boolean', 'integer', 'number', 'object', 'string']);

/**
 * The structural form of a CRD schema as plain OpenAPI (upstream's NewStructural then
 * ToKubeOpenAPI): only the keys a structural schema has, false booleans and empty lists
 * omitted. Undefined when the schema is not structural (unsupported fields, unknown types,
 * an items array, a node without a type that neither preserves unknown fields nor is
 * int-or-string).
 */
function toStructural(s: JSONSchemaProps, nested = false): Schema | undefined {
  for (const k of unsupported) if (s[k] !== undefined) return undefined;
  if (s.type !== undefined && s.type !== '' && !knownTypes.has(s.type)) return undefined;
  if (!nested && !s.type && !s['x-kubernetes-preserve-unknown-fields'] && !s['x-kubernetes-int-or-string']) return undefined;
  const out: Schema = {};
  for (const k of strings) if (s[k]) out[k] = s[k];
  for (const k of values) if (s[k] !== undefined && s[k] !== null) out[k] = s[k];
  for (const k of trueOnly) if (s[k] === true) out[k] = true;
  for (const k of nonEmpty) if (Array.isArray(s[k]) && s[k].length) out[k] = s[k];
  if (s.externalDocs && (s.externalDocs.description || s.externalDocs.url)) out['externalDocs'] = s.externalDocs;
  if (s.properties) {
    const props: Record<string, Schema> = {};
    for (const [n, p] of Object.entries(s.properties)) {
      const x = toStructural(p, nested);
      if (!x) return undefined;
      props[n] = x;
    }
    out['properties'] = props;
  }
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) return undefined;
    const x = toStructural(s.items, nested);
    if (!x) return undefined;
    out['items'] = x;
  }
  if (s.additionalProperties !== undefined) {
    if (typeof s.additionalProperties === 'boolean') out['additionalProperties'] = s.additionalProperties;
    else {
      const x = toStructural(s.additionalProperties, nested);
      if (!x) return undefined;
      out['additionalProperties'] = x;
    }
  }
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = s[k];
    if (!list?.length) continue;
    const xs: Schema[] = [];
    for (const j of list) {
      const x = toStructural(j, true);
      if (!x) return undefined;
      xs.push(x);
    }
    out[k] = xs;
  }
  if (s.not) {
    const x = toStructural(s.not, true);
    if (!x) return undefined;
    out['not'] = x;
  }
  return out;
}

const intOrStringAnyOf = (): Schema[] => [{ type: 'integer' }, { type: 'string' }];
const isIntOrStringAnyOf = (xs: unknown): boolean =>
  Array.isArray(xs) && xs.length === 2 && isJsonObject(xs[0]) && isJsonObject(xs[1]) && Object.keys(xs[0]).length === 1 && xs[0]['type'] === 'integer' && Object.keys(xs[1]).length === 1 && xs[1]['type'] === 'string';

/** Visits the structural nodes (not the ones under allOf/anyOf/oneOf/not), parents first. */
function visit(s: Schema, f: (s: Schema) => void): void {
  f(s);
  if (isJsonObject(s['properties'])) for (const p of Object.values(s['properties'])) visit(p as Schema, f);
  if (isJsonObject(s['items'])) visit(s['items'], f);
  if (isJsonObject(s['additionalProperties'])) visit(s['additionalProperties'], f);
}

/** Upstream's Unfold: `x-kubernetes-int-or-string` spelled out as anyOf integer/string. */
function unfold(root: Schema): void {
  visit(root, (s) => {
    if (s['x-kubernetes-int-or-string'] !== true) return;
    if (isIntOrStringAnyOf(s['anyOf'])) return;
    const allOf = s['allOf'];
    if (Array.isArray(allOf) && isJsonObject(allOf[0]) && isIntOrStringAnyOf(allOf[0]['anyOf'])) return;
    if (s['anyOf'] === undefined) s['anyOf'] = intOrStringAnyOf();
    else s['allOf'] = [{ anyOf: intOrStringAnyOf() }, ...((allOf as Schema[] | undefined) ?? [])];
  });
}

/**
 * Upstream's ToStructuralOpenAPIV2, in place: what Swagger 2.0 and kubectl's v2 validation
 * cannot take is dropped.
 */
function toV2(root: Schema): void {
  visit(root, (s) => {
    delete s['allOf'];
    delete s['anyOf'];
    delete s['oneOf'];
    delete s['not'];
    if (s['nullable'] === true) {
      delete s['type'];
      delete s['nullable'];
      delete s['items'];
      delete s['properties'];
    }
    if (s['x-kubernetes-preserve-unknown-fields'] === true) {
      delete s['items'];
      delete s['properties'];
    }
    if (s['type'] === 'array' && s['items'] === undefined) delete s['type'];
    if (s['x-kubernetes-preserve-unknown-fields'] === true && s['type'] === 'object') delete s['type'];
    const props = s['properties'];
    if (isJsonObject(props) && Array.isArray(s['required'])) {
      const req = (s['required'] as string[]).filter((f) => !(isJsonObject(props[f]) && (props[f] as Schema)['nullable'] === true));
      if (req.length) s['required'] = req;
      else delete s['required'];
    }
    if (isJsonObject(s['additionalProperties']) && s['additionalProperties']['nullable'] === true) delete s['required'];
  });
}

/**
 * Upstream's addEmbeddedProperties: nodes marked `x-kubernetes-embedded-resource` get
 * apiVersion, kind and metadata, and require apiVersion and kind; in v2 not below (or at) a
 * node that preserves unknown fields, where kubectl would then refuse the unknown ones.
 */
function addEmbedded(s: Schema, v2: boolean): void {
  if (isJsonObject(s['properties'])) for (const p of Object.values(s['properties'])) addEmbedded(p as Schema, v2);
  if (isJsonObject(s['items'])) addEmbedded(s['items'], v2);
  if (isJsonObject(s['additionalProperties'])) addEmbedded(s['additionalProperties'], v2);
  if (v2 && s['x-kubernetes-preserve-unknown-fields'] === true) return;
  if (s['x-kubernetes-embedded-resource'] !== true) return;
  const props = (s['properties'] ??= {}) as Record<string, Schema>;
  props['apiVersion'] = { ...typeMetaProperties['apiVersion'], description: embeddedApiVersionDescription };
  props['kind'] = { ...typeMetaProperties['kind'], description: embeddedKindDescription };
  props['metadata'] = metaRef(objectMeta, objectMetaDescription, v2);
  const req = Array.isArray(s['required']) ? [...(s['required'] as string[])] : [];
  if (!req.includes('kind')) req.push('kind');
  if (!req.includes('apiVersion')) req.push('apiVersion');
  s['required'] = req;
}
