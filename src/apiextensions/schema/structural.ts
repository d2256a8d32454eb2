/**
 * CRD schema checks, as upstream's apiextensions validation of `openAPIV3Schema`:
 *   - ValidateCustomResourceDefinitionOpenAPISchema (pkg/apis/apiextensions/validation): unsupported
 *     keywords ($ref, id, definitions, dependencies, patternProperties, additionalItems, items
 *     arrays, type null), uniqueItems, additionalProperties with properties, x-kubernetes-*
 *     consistency (list-type, list-map-keys, map-type, preserve-unknown-fields, embedded inside
 *     metadata), defaults forbidden in top-level metadata;
 *   - ValidateStructural (pkg/apiserver/schema/validation.go, complete.go): `type` at every level
 *     unless int-or-string / preserve-unknown-fields, no additionalProperties at the root, metadata
 *     at the root only name/generateName, value validations inside allOf/anyOf/oneOf/not may not
 *     set types, defaults, descriptions, extensions, and must only name specified properties;
 *     sorted by error text as upstream;
 *   - ValidateDefaults (schema/defaulting/validation.go): a default must validate against its
 *     schema and must not be pruned.
 * Field paths as upstream's field.Path: '<fldPath>.properties[spec].type'.
 */
import type { JSONSchemaProps } from '../../api/index.ts';
import type { StatusCause } from '../../api/types.ts';
import { forbidden, invalidValue, notSupported, required } from '../../api/validation.ts';
import { pruneObject } from './pruning.ts';
import { validateValueAt } from './validation.ts';

const openapiV3Types = ['array', 'boolean', 'integer', 'number', 'object', 'string'];
const metaFields = new Set(['apiVersion', 'kind', 'metadata']);

type Level = 'root' | 'item' | 'field';

function causeText(c: StatusCause): string {
  return `${c.field}: ${c.message}`;
}

/** Whether the schema (or any part) uses a default or an x-kubernetes extension (upstream: then it must be structural). */
export function schemaHasDefaults(s: JSONSchemaProps | undefined): boolean {
  return someSchema(s, (x) => x.default !== undefined);
}

export function schemaHasKubernetesExtensions(s: JSONSchemaProps | undefined): boolean {
  return someSchema(
    s,
    (x) =>
      x['x-kubernetes-preserve-unknown-fields'] !== undefined ||
      x['x-kubernetes-embedded-resource'] === true ||
      x['x-kubernetes-int-or-string'] === true ||
      (x['x-kubernetes-list-map-keys']?.length ?? 0) > 0 ||
      x['x-kubernetes-list-type'] !== undefined ||
      x['x-kubernetes-map-type'] !== undefined ||
      (x['x-kubernetes-validations']?.length ?? 0) > 0,
  );
}

function someSchema(s: JSONSchemaProps | undefined, pred: (s: JSONSchemaProps) => boolean): boolean {
  if (!s || typeof s !== 'object') return false;
  if (pred(s)) return true;
  const kids: (JSONSchemaProps | undefined)[] = [s.not, ...(s.allOf ?? []), ...(s.anyOf ?? []), ...(s.oneOf ?? [])];
  if (s.properties) kids.push(...Object.values(s.properties));
  if (typeof s.additionalProperties === 'object') kids.push(s.additionalProperties);
  if (Array.isArray(s.items)) kids.push(...s.items);
  else kids.push(s.items);
  return kids.some((k) => someSchema(k, pred));
}

// ---- ValidateCustomResourceDefinitionOpenAPISchema --------------------------------------------

interface Ssv {
  allowDefaults: boolean;
  disallowDefaultsReason: string;
  insideResourceMeta: boolean;
}

function openAPISchemaErrors(s: JSONSchemaProps | undefined, p: string, ssv: Ssv, isRoot: boolean, out: StatusCause[]): void {
  if (!s || typeof s !== 'object') return;
  // specStandardValidatorV3.validate
  if (s.type && !openapiV3Types.includes(s.type)) out.push(notSupported(`${p}.type`, s.type, openapiV3Types));
  if (s.default !== undefined && !ssv.allowDefaults) out.push(forbidden(`${p}.default`, `must not be set${ssv.disallowDefaultsReason ? ` ${ssv.disallowDefaultsReason}` : ''}`));
  if (s.id) out.push(forbidden(`${p}.id`, 'id is not supported'));
  if (s.additionalItems !== undefined) out.push(forbidden(`${p}.additionalItems`, 'additionalItems is not supported'));
  if (s.patternProperties && Object.keys(s.patternProperties).length) out.push(forbidden(`${p}.patternProperties`, 'patternProperties is not supported'));
  if (s.definitions && Object.keys(s.definitions).length) out.push(forbidden(`${p}.definitions`, 'definitions is not supported'));
  if (s.dependencies && Object.keys(s.dependencies).length) out.push(forbidden(`${p}.dependencies`, 'dependencies is not supported'));
  if (s.$ref) out.push(forbidden(`${p}.$ref`, '$ref is not supported'));
  if (s.type === 'null') out.push(forbidden(`${p}.type`, 'type cannot be set to null, use nullable as an alternative'));
  if (Array.isArray(s.items)) out.push(forbidden(`${p}.items`, 'items must be a schema object and not an array'));
  if (ssv.insideResourceMeta && s['x-kubernetes-embedded-resource']) out.push(forbidden(`${p}.x-kubernetes-embedded-resource`, 'must not be used inside of resource meta'));

  if (s.uniqueItems) out.push(forbidden(`${p}.uniqueItems`, 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic'));
  const hasProps = !!s.properties && Object.keys(s.properties).length > 0;
  if (s.additionalProperties !== undefined) {
    if (hasProps && (s.additionalProperties === false || typeof s.additionalProperties === 'object'))
      out.push(forbidden(`${p}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
    if (typeof s.additionalProperties === 'object') {
      const sub = ssv.insideResourceMeta ? { ...ssv, allowDefaults: false, disallowDefaultsReason: 'inside additionalProperties applying to object metadata' } : ssv;
      openAPISchemaErrors(s.additionalProperties, `${p}.additionalProperties`, sub, false, out);
    }
  }
  if (s.properties)
    for (const [k, v] of Object.entries(s.properties)) {
      let sub = ssv;
      if ((isRoot || s['x-kubernetes-embedded-resource']) && metaFields.has(k)) {
        sub = { ...sub, insideResourceMeta: true };
        if (isRoot) sub = { ...sub, allowDefaults: false, disallowDefaultsReason: `in top-level ${k}` };
      }
      openAPISchemaErrors(v, `${p}.properties[${k}]`, sub, false, out);
    }
  openAPISchemaErrors(s.not, `${p}.not`, ssv, false, out);
  s.allOf?.forEach((x, i) => openAPISchemaErrors(x, `${p}.allOf[${i}]`, ssv, false, out));
  s.oneOf?.forEach((x, i) => openAPISchemaErrors(x, `${p}.oneOf[${i}]`, ssv, false, out));
  s.anyOf?.forEach((x, i) => openAPISchemaErrors(x, `${p}.anyOf[${i}]`, ssv, false, out));
  if (s.items) {
    if (Array.isArray(s.items)) s.items.forEach((x, i) => openAPISchemaErrors(x, `${p}.items[${i}]`, ssv, false, out));
    else openAPISchemaErrors(s.items, `${p}.items`, ssv, false, out);
  }

  const pu = s['x-kubernetes-preserve-unknown-fields'];
  if (pu === false) out.push(invalidValue(`${p}.x-kubernetes-preserve-unknown-fields`, false, 'must be true or undefined'));
  const mapType = s['x-kubernetes-map-type'];
  if (mapType !== undefined && s.type !== 'object') {
    if (!s.type) out.push(required(`${p}.type`, 'must be object if x-kubernetes-map-type is specified'));
    else out.push(invalidValue(`${p}.type`, s.type, 'must be object if x-kubernetes-map-type is specified'));
  }
  if (mapType !== undefined && mapType !== 'atomic' && mapType !== 'granular') out.push(notSupported(`${p}.x-kubernetes-map-type`, mapType, ['atomic', 'granular']));
  const listType = s['x-kubernetes-list-type'];
  const items = s.items && !Array.isArray(s.items) ? s.items : undefined;
  if (listType !== undefined && s.type !== 'array') {
    if (!s.type) out.push(required(`${p}.type`, 'must be array if x-kubernetes-list-type is specified'));
    else out.push(invalidValue(`${p}.type`, s.type, 'must be array if x-kubernetes-list-type is specified'));
  } else if (listType === 'set' && items) {
    if (items.type === 'object' && items['x-kubernetes-map-type'] !== 'atomic')
      out.push(invalidValue(`${p}.items.x-kubernetes-map-type`, items['x-kubernetes-map-type'] ?? null, 'must be atomic as item of a list with x-kubernetes-list-type=set'));
    if (items.type === 'array' && items['x-kubernetes-list-type'] !== 'atomic')
      out.push(invalidValue(`${p}.items.x-kubernetes-list-type`, items['x-kubernetes-list-type'] ?? null, 'must be atomic as item of a list with x-kubernetes-list-type=set'));
  }
  if (listType !== undefined && !['atomic', 'set', 'map'].includes(listType)) out.push(notSupported(`${p}.x-kubernetes-list-type`, listType, ['atomic', 'set', 'map']));
  const keys = s['x-kubernetes-list-map-keys'] ?? [];
  if (keys.length > 0 && listType !== 'map') {
    if (listType === undefined) out.push(required(`${p}.x-kubernetes-list-type`, 'must be map if x-kubernetes-list-map-keys is non-empty'));
    else out.push(invalidValue(`${p}.x-kubernetes-list-type`, listType, 'must be map if x-kubernetes-list-map-keys is non-empty'));
  }
  if (listType === 'map') {
    if (!keys.length) out.push(required(`${p}.x-kubernetes-list-map-keys`, 'must not be empty if x-kubernetes-list-type is map'));
    if (!s.items) out.push(required(`${p}.items`, 'must have a schema if x-kubernetes-list-type is map'));
    else if (Array.isArray(s.items)) out.push(invalidValue(`${p}.items`, s.items, 'must only have a single schema if x-kubernetes-list-type is map'));
    else if (items!.type !== 'object') out.push(invalidValue(`${p}.items.type`, items!.type ?? '', "must be object if parent array's x-kubernetes-list-type is map"));
    else {
      const props = items!.properties ?? {};
      let allKnown = true;
      for (const k of keys) {
        const ks = Object.hasOwn(props, k) ? props[k] : undefined;
        if (!ks) allKnown = false;
        else if (!['string', 'integer', 'number', 'boolean'].includes(ks.type ?? '') && !ks['x-kubernetes-int-or-string'])
          out.push(invalidValue(`${p}.items.properties[${k}].type`, items!.type, "must be a scalar type if parent array's x-kubernetes-list-type is map"));
      }
      if (!allKnown) out.push(invalidValue(`${p}.x-kubernetes-list-map-keys`, keys, 'entries must all be names of item properties'));
      if (new Set(keys).size !== keys.length) out.push(invalidValue(`${p}.x-kubernetes-list-map-keys`, keys, 'must not contain duplicate entries'));
      // validateMapListKeysMaybeOptional
      for (const k of keys) {
        const ks = Object.hasOwn(props, k) ? props[k] : undefined;
        if (!ks) continue;
        if (ks.default === undefined && !(items!.required ?? []).includes(k))
          out.push(required(`${p}.items.properties[${k}].default`, 'this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property'));
        if (ks.nullable) out.push(forbidden(`${p}.items.properties[${k}].nullable`, 'this property is in x-kubernetes-list-map-keys, so it cannot be nullable'));
      }
    }
  }
  if ((listType === 'set' || listType === 'map') && items?.nullable) out.push(forbidden(`${p}.items.nullable`, `cannot be nullable when x-kubernetes-list-type is ${listType}`));
  const rules = s['x-kubernetes-validations'] ?? [];
  rules.forEach((r, i) => {
    const rp = `${p}.x-kubernetes-validations[${i}]`;
    if (!r.rule) out.push(required(`${rp}.rule`, 'rule is not specified'));
    if (r.message !== undefined) {
      if (r.message === '' || !r.message.trim()) out.push(invalidValue(`${rp}.message`, r.message, 'must be non-empty if specified'));
      else if (/[\r\n]/.test(r.message)) out.push(invalidValue(`${rp}.message`, r.message, 'must not contain line breaks'));
    } else if (r.rule && /[\r\n]/.test(r.rule) && !r.messageExpression) out.push(required(`${rp}.message`, 'message must be specified if rule contains line breaks'));
    if (r.messageExpression !== undefined && !r.messageExpression.trim()) out.push(required(`${rp}.messageExpression`, 'messageExpression must be non-empty if specified'));
    if (r.reason !== undefined && !['FieldValueDuplicate', 'FieldValueForbidden', 'FieldValueInvalid', 'FieldValueRequired'].includes(r.reason))
      out.push(notSupported(`${rp}.reason`, r.reason, ['FieldValueDuplicate', 'FieldValueForbidden', 'FieldValueInvalid', 'FieldValueRequired']));
    if (r.fieldPath !== undefined) {
      if (!r.fieldPath.trim()) out.push(invalidValue(`${rp}.fieldPath`, r.fieldPath, 'must be non-empty if specified'));
      else if (/[\r\n]/.test(r.fieldPath)) out.push(invalidValue(`${rp}.fieldPath`, r.fieldPath, 'must not contain line breaks'));
    }
  });
}

// ---- ValidateStructural -----------------------------------------------------------------------

function isIntOrStringAnyOf(anyOf: JSONSchemaProps[] | undefined): boolean {
  return !!anyOf && anyOf.length === 2 && isOnly(anyOf[0]!, 'integer') && isOnly(anyOf[1]!, 'string');
}
function isOnly(s: JSONSchemaProps, type: string): boolean {
  return s.type === type && Object.keys(s).length === 1;
}

function structuralInvariants(s: JSONSchemaProps | undefined, lvl: Level, p: string, out: StatusCause[]): void {
  if (!s || typeof s !== 'object') return;
  const items = s.items && !Array.isArray(s.items) ? s.items : undefined;
  if (s.type === 'array' && !items) out.push(required(`${p}.items`, 'must be specified'));
  structuralInvariants(items, 'item', `${p}.items`, out);
  if (s.properties) for (const [k, v] of Object.entries(s.properties)) structuralInvariants(v, 'field', `${p}.properties[${k}]`, out);
  const ap = s.additionalProperties;
  if (ap !== undefined && ap !== false) {
    if (lvl === 'root') out.push(forbidden(`${p}.additionalProperties`, 'must not be used at the root'));
    if (typeof ap === 'object') structuralInvariants(ap, 'field', `${p}.additionalProperties`, out);
  }
  const ios = s['x-kubernetes-int-or-string'] === true;
  const pu = s['x-kubernetes-preserve-unknown-fields'] === true;
  const emb = s['x-kubernetes-embedded-resource'] === true;
  if (ios && pu) out.push(invalidValue(`${p}.x-kubernetes-preserve-unknown-fields`, true, 'must be false if x-kubernetes-int-or-string is true'));
  if (ios && emb) out.push(invalidValue(`${p}.x-kubernetes-embedded-resource`, true, 'must be false if x-kubernetes-int-or-string is true'));
  const skipAnyOf = isIntOrStringAnyOf(s.anyOf);
  const skipFirstAllOfAnyOf = !!s.allOf?.length && isIntOrStringAnyOf(s.allOf[0]!.anyOf);
  valueValidation(s, skipAnyOf, skipFirstAllOfAnyOf, p, out);
  const checkMetadata = lvl === 'root' || emb;
  if (emb && s.type !== 'object') {
    if (!s.type) out.push(required(`${p}.type`, 'must be object if x-kubernetes-embedded-resource is true'));
    else out.push(invalidValue(`${p}.type`, s.type, 'must be object if x-kubernetes-embedded-resource is true'));
  } else if (!s.type && !ios && !pu) {
    out.push(
      required(
        `${p}.type`,
        lvl === 'root' ? 'must not be empty at the root' : lvl === 'item' ? 'must not be empty for specified array items' : 'must not be empty for specified object fields',
      ),
    );
  }
  if (emb && ap !== undefined && ap !== false) out.push(forbidden(`${p}.additionalProperties`, 'must not be used if x-kubernetes-embedded-resource is set'));
  if (lvl === 'root' && s.type && s.type !== 'object') out.push(invalidValue(`${p}.type`, s.type, 'must be object at the root'));
  const props = s.properties ?? {};
  if (checkMetadata && Object.hasOwn(props, 'kind') && props['kind']!.type !== 'string') out.push(invalidValue(`${p}.properties[kind].type`, props['kind']!.type ?? '', 'must be string'));
  if (checkMetadata && Object.hasOwn(props, 'apiVersion') && props['apiVersion']!.type !== 'string')
    out.push(invalidValue(`${p}.properties[apiVersion].type`, props['apiVersion']!.type ?? '', 'must be string'));
  if (Object.hasOwn(props, 'metadata')) {
    const m = props['metadata']!;
    const mp = `${p}.properties[metadata]`;
    if (checkMetadata && m.type !== 'object') out.push(invalidValue(`${mp}.type`, m.type ?? '', 'must be object'));
    if (lvl === 'root') {
      const rest: Record<string, unknown> = { ...m };
      delete rest['type'];
      delete rest['default'];
      const mprops = m.properties ? Object.keys(m.properties) : [];
      if (mprops.length && mprops.every((k) => k === 'name' || k === 'generateName')) delete rest['properties'];
      // Anything else (even a description or value validations) makes it non-structural.
      const structuralKeys = Object.keys(rest).filter((k) => rest[k] !== undefined);
      if (structuralKeys.length) out.push(forbidden(mp, 'must not specify anything other than name and generateName, but metadata is implicitly specified'));
    }
  }
  if (emb && !pu && Object.keys(props).length === 0) out.push(required(`${p}.properties`, 'must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields'));
}

function valueValidation(s: JSONSchemaProps, skipAnyOf: boolean, skipFirstAllOfAnyOf: boolean, p: string, out: StatusCause[]): void {
  if (!skipAnyOf) s.anyOf?.forEach((x, i) => nested(x, false, `${p}.anyOf[${i}]`, out));
  s.allOf?.forEach((x, i) => nested(x, skipFirstAllOfAnyOf && i === 0, `${p}.allOf[${i}]`, out));
  s.oneOf?.forEach((x, i) => nested(x, false, `${p}.oneOf[${i}]`, out));
  if (s.not) nested(s.not, false, `${p}.not`, out);
  if (s.pattern) {
    try {
      new RegExp(s.pattern, 'u');
    } catch (e) {
      try {
        new RegExp(s.pattern);
      } catch {
        out.push(invalidValue(`${p}.pattern`, s.pattern, `must be a valid regular expression, but isn't: ${(e as Error).message}`));
      }
    }
  }
}

/** validateNestedValueValidation: what a schema inside allOf/anyOf/oneOf/not may not set. */
function nested(v: JSONSchemaProps, skipAnyOf: boolean, p: string, out: StatusCause[]): void {
  valueValidation(v, skipAnyOf, false, p, out);
  if (v.items && !Array.isArray(v.items)) nested(v.items, false, `${p}.items`, out);
  if (v.properties) for (const [k, x] of Object.entries(v.properties)) nested(x, false, `${p}.properties[${k}]`, out);
  if (v.type) out.push(forbidden(`${p}.type`, 'must be empty to be structural'));
  if (v.additionalProperties !== undefined) out.push(forbidden(`${p}.additionalProperties`, 'must be undefined to be structural'));
  if (v.default !== undefined) out.push(forbidden(`${p}.default`, 'must be undefined to be structural'));
  if (v.title) out.push(forbidden(`${p}.title`, 'must be empty to be structural'));
  if (v.description) out.push(forbidden(`${p}.description`, 'must be empty to be structural'));
  if (v.nullable) out.push(forbidden(`${p}.nullable`, 'must be false to be structural'));
  if (v['x-kubernetes-preserve-unknown-fields']) out.push(forbidden(`${p}.x-kubernetes-preserve-unknown-fields`, 'must be false to be structural'));
  if (v['x-kubernetes-embedded-resource']) out.push(forbidden(`${p}.x-kubernetes-embedded-resource`, 'must be false to be structural'));
  if (v['x-kubernetes-int-or-string']) out.push(forbidden(`${p}.x-kubernetes-int-or-string`, 'must be false to be structural'));
  if (v['x-kubernetes-list-map-keys']?.length) out.push(forbidden(`${p}.x-kubernetes-list-map-keys`, 'must be empty to be structural'));
  if (v['x-kubernetes-list-type'] !== undefined) out.push(forbidden(`${p}.x-kubernetes-list-type`, 'must be undefined to be structural'));
  if (v['x-kubernetes-map-type'] !== undefined) out.push(forbidden(`${p}.x-kubernetes-map-type`, 'must be undefined to be structural'));
  if (v['x-kubernetes-validations']?.length) out.push(forbidden(`${p}.x-kubernetes-validations`, 'must be empty to be structural'));
  if (v.properties && Object.hasOwn(v.properties, 'metadata')) out.push(forbidden(`${p}.properties[metadata]`, 'must not be specified in a nested context'));
}

/** validateStructuralCompleteness: properties and items named in value validations must exist in the structural part. */
function completeness(v: JSONSchemaProps, s: JSONSchemaProps | undefined, sp: string, vp: string, out: StatusCause[], top: boolean): void {
  if (!s) {
    out.push(required(sp, `because it is defined in ${vp}`));
    return;
  }
  const recurse = (x: JSONSchemaProps, xp: string): void => completeness(x, s, sp, xp, out, false);
  if (v.not) recurse(v.not, `${vp}.not`);
  v.allOf?.forEach((x, i) => recurse(x, `${vp}.allOf[${i}]`));
  v.anyOf?.forEach((x, i) => recurse(x, `${vp}.anyOf[${i}]`));
  v.oneOf?.forEach((x, i) => recurse(x, `${vp}.oneOf[${i}]`));
  if (top) return;
  const sItems = s.items && !Array.isArray(s.items) ? s.items : undefined;
  if (v.items && !Array.isArray(v.items)) completeness(v.items, sItems, `${sp}.items`, `${vp}.items`, out, false);
  if (v.properties)
    for (const [k, x] of Object.entries(v.properties)) {
      const sf = s.properties && Object.hasOwn(s.properties, k) ? s.properties[k] : undefined;
      if (!sf) out.push(required(`${sp}.properties[${k}]`, `because it is defined in ${vp}.properties[${k}]`));
      else completeness(x, sf, `${sp}.properties[${k}]`, `${vp}.properties[${k}]`, out, false);
    }
}

function walkCompleteness(s: JSONSchemaProps | undefined, p: string, out: StatusCause[]): void {
  if (!s || typeof s !== 'object') return;
  completeness(s, s, p, p, out, true);
  if (s.items && !Array.isArray(s.items)) walkCompleteness(s.items, `${p}.items`, out);
  if (s.properties) for (const [k, v] of Object.entries(s.properties)) walkCompleteness(v, `${p}.properties[${k}]`, out);
  if (typeof s.additionalProperties === 'object') walkCompleteness(s.additionalProperties, `${p}.additionalProperties`, out);
}

/**
 * Upstream's ValidateStructural: structural-schema violations under `fldPath`
 * ('spec.versions[0].schema.openAPIV3Schema'), sorted by error text as upstream sorts them.
 */
export function validateStructural(schema: JSONSchemaProps, fldPath: string): StatusCause[] {
  const out: StatusCause[] = [];
  structuralInvariants(schema, 'root', fldPath, out);
  walkCompleteness(schema, fldPath, out);
  return out.sort((a, b) => (causeText(a) < causeText(b) ? -1 : causeText(a) > causeText(b) ? 1 : 0));
}

// ---- ValidateDefaults -------------------------------------------------------------------------

function validateDefaults(s: JSONSchemaProps | undefined, p: string, objPath: string, out: StatusCause[]): void {
  if (!s || typeof s !== 'object') return;
  if (s.default !== undefined) {
    const dp = `${p}.default`;
    const errs = validateValueAt(s, s.default, objPath || '.', dp);
    out.push(...errs);
    if (!errs.length && s.default !== null && typeof s.default === 'object') {
      const pruned = structuredClone(s.default);
      const embedded = s['x-kubernetes-embedded-resource'] === true;
      const probe = embedded ? pruned : { x: pruned };
      const paths = pruneObject(embedded ? s : { type: 'object', properties: { x: s } }, probe);
      if (paths.length) out.push(invalidValue(dp, s.default, 'must not have unknown fields'));
    }
  }
  if (s.properties) for (const [k, v] of Object.entries(s.properties)) validateDefaults(v, `${p}.properties[${k}]`, objPath ? `${objPath}.${k}` : k, out);
  if (typeof s.additionalProperties === 'object') validateDefaults(s.additionalProperties, `${p}.additionalProperties`, `${objPath}[*]`, out);
  if (s.items && !Array.isArray(s.items)) validateDefaults(s.items, `${p}.items`, `${objPath}[*]`, out);
}

/**
 * Everything upstream checks of a version's `openAPIV3Schema` except CEL (celSchemaErrors):
 * the OpenAPI schema rules, then (when the schema must be structural) ValidateStructural, and
 * only when that passes, the defaults. `statusEnabled`: the status subresource is on (root may
 * then only hold type/properties/required/description/... as upstream's allowedAtRootSchema).
 */
export function validateCRDSchema(schema: JSONSchemaProps, fldPath: string, opts: { statusEnabled?: boolean; requireStructural?: boolean } = {}): StatusCause[] {
  const out: StatusCause[] = [];
  if (opts.statusEnabled) {
    const allowed = new Set(['description', 'type', 'required', 'properties', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-validations', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type', 'x-kubernetes-map-type', 'nullable']);
    for (const [k, v] of Object.entries(schema)) {
      if (v === undefined || v === false || v === '' || (Array.isArray(v) && !v.length)) continue;
      if (k === 'type') {
        if (v !== 'object') {
          out.push(invalidValue(`${fldPath}.type`, v, 'only "object" is allowed as the type at the root of the schema if the status subresource is enabled'));
          break;
        }
        continue;
      }
      if (!allowed.has(k)) {
        out.push(
          invalidValue(
            fldPath,
            schema,
            'only [description type required properties x-kubernetes-preserve-unknown-fields x-kubernetes-validations] fields are allowed at the root of the schema if the status subresource is enabled',
          ),
        );
        break;
      }
    }
  }
  if (schema.nullable) out.push(forbidden(`${fldPath}.nullable`, 'nullable cannot be true at the root'));
  const structural = opts.requireStructural !== false;
  if (structural) {
    const serr = validateStructural(schema, fldPath);
    if (serr.length) out.push(...serr);
    else validateDefaults(schema, fldPath, '', out);
  }
  openAPISchemaErrors(schema, fldPath, { allowDefaults: true, disallowDefaultsReason: '', insideResourceMeta: false }, true, out);
  return out;
}
