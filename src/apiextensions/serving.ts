/**
 * A CustomResourceDefinition made servable: the ResourceDef of its custom resources (storage
 * version, scope, names, subresources, strategy hooks) and one ServedVersion per served version,
 * as upstream's crdHandler builds its serving info per CRD. Every generic part of the API server
 * (handlers, watch cache, discovery, tables, field selectors, server-side apply) then serves
 * them like any other kind.
 *
 * The write path of a custom resource, as upstream's customResourceStrategy:
 *   decode → prune unknown fields (reported per fieldValidation) → default → (conversion to the
 *   storage version) → admission → validate (OpenAPI v3 schema, scale paths, CEL rules with
 *   oldSelf on update) → store.
 * With a status subresource, the main resource ignores status and /status changes only status;
 * generation moves on any change but metadata (and status, when it is a subresource).
 * Conversion: `None` rewrites apiVersion; `Webhook` goes through ./conversion.ts, asynchronously
 * (ServedVersion.remote), with converted objects cached per stored object.
 */
import type { CustomResourceDefinition, CustomResourceDefinitionVersion, CustomResourceColumnDefinition, JSONSchemaProps } from '../api/index.ts';
import type { ResourceDef, ScaleDef, ServedVersion, TableDef, ValidateContext } from '../api/resource.ts';
import type { KubeObject, StatusCause } from '../api/types.ts';
import type { MessageDef } from '../api/schema/index.ts';
import { statusError } from '../api/errors.ts';
import { age } from '../api/printers.ts';
import { compileJsonPath, type JsonPath } from './jsonpath.ts';
import { validateCustomResource, validateValueAt } from './schema/validation.ts';
import { applyDefaults } from './schema/defaulting.ts';
import { pruneObject } from './schema/pruning.ts';
import { applyTypes } from './schema/applytypes.ts';
import { compileRules, validateRules, type CompiledRules } from './schema/cel.ts';
import { crdOpenApi, type CrdOpenApi } from './openapi.ts';
import { validateScale } from './scale.ts';
import type { Converter } from './conversion.ts';

/** What the API server registers for one CRD. */
export interface CustomResourceServing {
  def: ResourceDef;
  /** Served versions, preferred first, each with its conversion and OpenAPI definitions. */
  versions: { served: ServedVersion; openapi: CrdOpenApi }[];
  /** Server-side apply types of every version (registered with registerDynamicTypes). */
  types: MessageDef[];
}

/** Per version: the compiled parts of its schema. */
interface VersionSchema {
  name: string;
  schema: JSONSchemaProps | undefined;
  rules: CompiledRules | undefined;
  typeName: string | undefined;
}

/** The condition of a CRD with this type, if any. */
export function crdCondition(crd: CustomResourceDefinition, type: string) {
  return crd.status?.conditions?.find((c) => c.type === type);
}

/** Kubernetes version priority order (GA > beta > alpha, higher numbers first), as upstream sorts CRD versions. */
import { compareVersions as versionPriority } from '../apiserver/registry.ts';

/** The schema of one version: the version's own, or (older CRDs) the spec-wide one. */
function versionSchema(v: CustomResourceDefinitionVersion): JSONSchemaProps | undefined {
  return v.schema?.openAPIV3Schema;
}

/** The ResourceDef and served versions of an Established CRD. */
export function customResourceServing(crd: CustomResourceDefinition, opts: { converter: Converter; terminating: () => boolean }): CustomResourceServing {
  const spec = crd.spec;
  const names = crd.status?.acceptedNames?.plural ? crd.status.acceptedNames : spec.names;
  const group = spec.group;
  const kind = names.kind;
  const plural = names.plural;
  const storage = spec.versions.find((v) => v.storage) ?? spec.versions[0]!;
  const typeBase = `crd.${group}.${plural}`;
  const types: MessageDef[] = [];
  const schemas = new Map<string, VersionSchema>();
  for (const v of spec.versions) {
    const schema = versionSchema(v);
    let typeName: string | undefined;
    if (schema) {
      const made = applyTypes(schema, `${typeBase}.${v.name}.${kind}`);
      if (made.length) {
        types.push(...made);
        typeName = made[0]!.name;
      }
    }
    schemas.set(v.name, { name: v.name, schema, rules: schema ? compileRules(schema) : undefined, typeName });
  }
  const storageSchema = schemas.get(storage.name)!;
  const sub = storage.subresources;
  const statusSub = Boolean(sub?.status);
  const scale: ScaleDef | undefined = sub?.scale
    ? { specReplicasPath: sub.scale.specReplicasPath, statusReplicasPath: sub.scale.statusReplicasPath, labelSelectorPath: sub.scale.labelSelectorPath ?? undefined }
    : undefined;
  const apiVersionOf = (v: string) => `${group}/${v}`;
  const storageApiVersion = apiVersionOf(storage.name);

  const def: ResourceDef = {
    group,
    version: storage.name,
    kind,
    plural,
    singular: names.singular || kind.toLowerCase(),
    namespaced: spec.scope === 'Namespaced',
    shortNames: names.shortNames?.length ? [...names.shortNames] : undefined,
    categories: names.categories?.length ? [...names.categories] : undefined,
    storagePrefix: `${group}/${plural}`,
    nameRule: 'subdomain',
    subresources: statusSub || scale ? { status: statusSub || undefined, scale } : undefined,
    allowUnconditionalUpdate: false,
    generation: statusSub ? true : (obj, old) => JSON.stringify(obj['status']) !== JSON.stringify(old['status']),
    table: tableFor(storage),
    fieldSelectors: selectableFieldsOf(storage),
    custom: {
      schemaType: storageSchema.typeName,
      unknownFields(obj, version) {
        const s = schemas.get(version)?.schema;
        return s ? pruneObject(s, obj) : [];
      },
      onRead(obj) {
        // Objects stored at an older version are defaulted by that version's schema.
        const v = typeof obj.apiVersion === 'string' ? obj.apiVersion.slice(group.length + 1) : storage.name;
        const s = schemas.get(v)?.schema;
        if (s) applyDefaults(s, obj);
      },
    },
    default(obj) {
      if (storageSchema.schema) applyDefaults(storageSchema.schema, obj);
    },
    prepareForCreate(obj) {
      if (opts.terminating()) {
        const err = statusError('MethodNotAllowed', `create not allowed while custom resource definition is terminating`);
        throw err;
      }
      if (statusSub) delete obj['status'];
    },
    prepareForUpdate(obj, old) {
      if (!statusSub) return;
      if (old['status'] === undefined) delete obj['status'];
      else obj['status'] = old['status'];
    },
    prepareForStatusUpdate(obj, old) {
      // Only status changes (upstream's customResourceStatusStrategy): everything else is the stored object's.
      for (const k of Object.keys(obj)) if (k !== 'status' && k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') delete obj[k];
      for (const [k, v] of Object.entries(old)) if (k !== 'status' && k !== 'metadata') obj[k] = v;
      const m = obj.metadata;
      const om = old.metadata;
      for (const f of ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const) {
        if (om[f] === undefined) delete m[f];
        else (m as Record<string, unknown>)[f] = om[f];
      }
    },
    validate(obj, ctx) {
      return validateVersion(storageSchema, obj, ctx, scale);
    },
  };

  const served = spec.versions.filter((v) => v.served);
  const remote = opts.converter.remote;
  /** Webhook conversions of stored objects, per object (cached objects are immutable) and version. */
  const converted = new WeakMap<KubeObject, Map<string, KubeObject>>();
  const versions = served.map((v) => {
    const apiVersion = apiVersionOf(v.name);
    const vs = schemas.get(v.name)!;
    const fromStorage = (obj: KubeObject): KubeObject => {
      if (obj.apiVersion === apiVersion) return obj;
      if (!remote) return { ...obj, apiVersion };
      const hit = converted.get(obj)?.get(apiVersion);
      if (!hit) throw statusError('InternalError', `conversion webhook for ${kindString(group, v.name, kind)} was not called for this object`);
      return hit;
    };
    const toStorage = (obj: KubeObject): KubeObject => (obj.apiVersion === storageApiVersion || remote ? obj : { ...obj, apiVersion: storageApiVersion });
    const sv: ServedVersion = {
      version: v.name,
      fromStorage,
      toStorage,
      table: tableFor(v),
      deprecated: v.deprecated || undefined,
      deprecationWarning: v.deprecated ? (v.deprecationWarning ?? defaultDeprecationWarning(v.name, spec.group, kind, spec.versions)) : undefined,
      schemaType: vs.typeName,
      // The storage version's defaults run once, in the store (def.default).
      default: v.name === storage.name ? undefined : (obj) => {
        if (vs.schema) applyDefaults(vs.schema, obj);
      },
      validate: (obj, ctx) => validateVersion(vs, obj, ctx, scale),
    };
    if (remote) {
      sv.remote = {
        async prepare(objs) {
          const need = objs.filter((o) => o.apiVersion !== apiVersion && !converted.get(o)?.has(apiVersion));
          if (!need.length) return;
          const out = await opts.converter.convert(need, apiVersion); // inputs are never changed; outputs are new
          need.forEach((o, i) => {
            let m = converted.get(o);
            if (!m) converted.set(o, (m = new Map()));
            const c = out[i]!;
            if (vs.schema) applyDefaults(vs.schema, c);
            m.set(apiVersion, c);
          });
        },
        async toStorageAsync(obj) {
          if (obj.apiVersion === storageApiVersion) return obj;
          const [out] = await opts.converter.convert([obj], storageApiVersion);
          return out!;
        },
      };
    }
    return { served: sv, openapi: crdOpenApi(crd, v.name) };
  });
  return { def, versions, types };
}

/** Upstream's default warning for a deprecated version: it names the newest served, non-deprecated newer version. */
function defaultDeprecationWarning(version: string, group: string, kind: string, all: readonly CustomResourceDefinitionVersion[]): string {
  let msg = `${group}/${version} ${kind} is deprecated`;
  const newer = all.filter((v) => v.served && !v.deprecated && versionPriority(version, v.name) > 0).map((v) => v.name).sort(versionPriority);
  if (newer.length) msg += `; use ${group}/${newer[0]} ${kind}`;
  return msg;
}

function kindString(group: string, version: string, kind: string): string {
  return `${group}/${version}, Kind=${kind}`;
}

function validateVersion(vs: VersionSchema, obj: KubeObject, ctx: ValidateContext, scale: ScaleDef | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  if (vs.schema) {
    if (ctx.subresource === 'status') {
      // A status write is checked against the status schema only (upstream's ValidateStatusUpdate).
      const status = vs.schema.properties?.['status'];
      if (status && obj['status'] !== undefined) out.push(...validateValueAt(status, obj['status'], 'status', 'status'));
    } else out.push(...validateCustomResource(vs.schema, obj));
  }
  if (scale) out.push(...validateScale(obj, scale, ctx));
  if (vs.rules && !vs.rules.empty) {
    // Upstream's hasBlockingErr: CEL rules assume a well-typed object.
    if (out.some((c) => blocking.has(c.reason ?? ''))) {
      out.push({ reason: 'FieldValueInvalid', field: '<nil>', message: 'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation' });
    } else out.push(...validateRules(vs.rules, obj, ctx.old));
  }
  return out;
}

const blocking = new Set(['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid']);

/** Upstream's default when a version declares no printer columns: Name and Age. */
const ageColumn: CustomResourceColumnDefinition = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** The Table of a version, from its additionalPrinterColumns (upstream's tableconvertor). */
export function tableFor(v: CustomResourceDefinitionVersion): TableDef {
  const cols = v.additionalPrinterColumns?.length ? v.additionalPrinterColumns : [ageColumn];
  const paths: (JsonPath | undefined)[] = cols.map((c) => {
    try {
      return compileJsonPath(c.jsonPath);
    } catch {
      return undefined;
    }
  });
  return {
    columns: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', priority: 0 },
      ...cols.map((c) => ({
        name: c.name,
        type: c.type as 'string',
        format: c.format || undefined,
        description: c.description || `Custom resource definition column (in JSONPath format): ${c.jsonPath}`,
        priority: (c.priority ?? 0) as 0 | 1,
      })),
    ],
    row(obj, now) {
      const cells: unknown[] = [obj.metadata.name ?? ''];
      cols.forEach((c, i) => {
        const found = paths[i]?.find(obj) ?? [];
        cells.push(found.length ? cell(c.type, found[0], now) : null);
      });
      return cells;
    },
  };
}

function cell(type: string, v: unknown, now: number): unknown {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'integer':
      return typeof v === 'number' ? Math.trunc(v) : null;
    case 'number':
      return typeof v === 'number' ? v : null;
    case 'boolean':
      return typeof v === 'boolean' ? v : null;
    case 'string':
      // client-go's jsonpath printing: strings as they are, anything else in its JSON form.
      return typeof v === 'string' ? v : JSON.stringify(v);
    case 'date':
      if (typeof v !== 'string') return null;
      return Number.isNaN(Date.parse(v)) ? '<invalid>' : age(v, now);
  }
  return null;
}

/** Field selectors on a version's selectableFields ('spec.color' for `.spec.color`), values as strings. */
function selectableFieldsOf(v: CustomResourceDefinitionVersion): ResourceDef['fieldSelectors'] {
  if (!v.selectableFields?.length) return undefined;
  const out: NonNullable<ResourceDef['fieldSelectors']> = {};
  for (const f of v.selectableFields) {
    const path = compileJsonPath(f.jsonPath);
    out[f.jsonPath.replace(/^\./, '')] = (obj) => {
      const [val] = path.find(obj);
      if (val === undefined || val === null) return undefined;
      return typeof val === 'string' ? val : String(val);
    };
  }
  return out;
}
