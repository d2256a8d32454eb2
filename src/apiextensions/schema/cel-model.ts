/**
 * How a structural schema looks to x-kubernetes-validations rules, as upstream's
 * apiserver/pkg/cel/common (schemas.go SchemaDeclType) and apiextensions-apiserver
 * schema/cel/model: objects with their properties (names escaped: `__dash__`, `__dot__`, …;
 * keywords as `__in__`; names that cannot be escaped are left out), maps from
 * additionalProperties, lists, int-or-string as dyn, strings with formats byte, duration, date
 * and date-time as bytes, duration and timestamp; a schema without a type (preserve-unknown
 * JSON) is not exposed. A resource root (and an embedded resource) always has apiVersion, kind
 * and metadata.name/generateName. Each type also carries upstream's size bounds (MaxElements and
 * MinSerializedSize), which the cost estimate uses.
 *
 * Pure data: no CEL engine here (the checker's types come from celcheck.ts, which only parses).
 */
import type { JSONSchemaProps } from '../../api/index.ts';
import { T, type CelType } from '../../apiserver/admission/policy/celcheck.ts';
import { escapeFieldName } from '../../apiserver/admission/policy/typecheck.ts';

export { escapeFieldName };

/** Upstream's celconfig.MaxRequestSizeBytes. */
export const maxRequestSizeBytes = 3 * 1024 * 1024;

/** A schema node's CEL shape (upstream's DeclType). */
export interface Decl {
  readonly kind: 'object' | 'list' | 'map' | 'simple';
  /** The simple type (for 'simple'). */
  readonly type?: CelType;
  /** Object fields by escaped name. */
  readonly fields?: ReadonlyMap<string, Decl>;
  /** List element or map value. */
  readonly elem?: Decl;
  /** Upstream's MaxElements: list items, map entries or string bytes. */
  readonly maxElements: number;
  /** Upstream's MinSerializedSize. */
  readonly minSize: number;
}

export const items = (s: JSONSchemaProps): JSONSchemaProps | undefined => (s.items && !Array.isArray(s.items) ? s.items : undefined);
export const additional = (s: JSONSchemaProps): JSONSchemaProps | undefined => (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);

const meta: JSONSchemaProps = { type: 'object', properties: { name: { type: 'string' }, generateName: { type: 'string' } } };

/** Upstream's WithTypeAndObjectMeta. */
export function withTypeAndObjectMeta(s: JSONSchemaProps): JSONSchemaProps {
  const p = s.properties;
  const md = p?.['metadata'];
  if (p && p['kind']?.type === 'string' && p['apiVersion']?.type === 'string' && md?.type === 'object' && md.properties?.['name']?.type === 'string' && md.properties['generateName']?.type === 'string') return s;
  return { ...s, properties: { ...p, kind: { type: 'string' }, apiVersion: { type: 'string' }, metadata: meta } };
}

const simple = (type: CelType, minSize: number, maxElements = 0): Decl => ({ kind: 'simple', type, minSize, maxElements });
const nonNeg = (n: number) => (n < 0 ? 0 : n);

function stringMax(s: JSONSchemaProps): number {
  switch (s.format) {
    case 'duration':
    case 'date-time':
      return 32;
    case 'date':
      return 12;
  }
  return maxRequestSizeBytes - 2;
}

/** Upstream's SchemaDeclType; undefined for a schema CEL does not see. */
export function schemaDecl(schema: JSONSchemaProps, resourceRoot: boolean): Decl | undefined {
  if (schema['x-kubernetes-int-or-string']) return simple(T.dyn, 1, maxRequestSizeBytes - 2);
  const s = resourceRoot ? withTypeAndObjectMeta(schema) : schema;
  switch (s.type) {
    case 'array': {
      const it = items(s);
      if (!it) return undefined;
      const elem = schemaDecl(it, it['x-kubernetes-embedded-resource'] === true);
      if (!elem) return undefined;
      const max = s.maxItems !== undefined ? nonNeg(s.maxItems) : Math.floor((maxRequestSizeBytes - 2) / (elem.minSize + 1));
      return { kind: 'list', elem, maxElements: max, minSize: 2 };
    }
    case 'object': {
      const ap = additional(s);
      if (ap) {
        const elem = schemaDecl(ap, ap['x-kubernetes-embedded-resource'] === true);
        if (!elem) return undefined;
        const max = s.maxProperties !== undefined ? nonNeg(s.maxProperties) : Math.floor((maxRequestSizeBytes - 2) / (elem.minSize + 6));
        return { kind: 'map', elem, maxElements: max, minSize: 2 };
      }
      const fields = new Map<string, Decl>();
      const required = new Set(s.required ?? []);
      let minSize = 2;
      for (const [name, prop] of Object.entries(s.properties ?? {})) {
        const d = schemaDecl(prop, prop['x-kubernetes-embedded-resource'] === true);
        if (!d) continue;
        const f = escapeFieldName(name);
        if (f !== undefined) fields.set(f, d);
        if (required.has(name) && prop.default === undefined) minSize += name.length + d.minSize + 4;
      }
      return { kind: 'object', fields, maxElements: 0, minSize };
    }
    case 'string':
      switch (s.format) {
        case 'byte':
          return simple(T.bytes, 2, s.maxLength !== undefined ? nonNeg(s.maxLength) : stringMax(s));
        case 'duration':
          return simple(T.duration, 3, stringMax(s));
        case 'date':
          return simple(T.timestamp, 12, stringMax(s));
        case 'date-time':
          return simple(T.timestamp, 21, stringMax(s));
      }
      if (s.maxLength !== undefined) return simple(T.string, 2, nonNeg(s.maxLength) * 4);
      if (s.enum?.length) return simple(T.string, 2, Math.max(0, ...s.enum.map((e) => (typeof e === 'string' ? e.length : 0))));
      return simple(T.string, 2, stringMax(s));
    case 'boolean':
      return simple(T.bool, 4);
    case 'number':
      return simple(T.double, 1);
    case 'integer':
      return simple(T.int, 1);
  }
  return undefined;
}

/** The CEL type of a Decl, its object types named as upstream's MaybeAssignTypeName and registered in `structs`. */
export function declCelType(d: Decl, name: string, structs: Map<string, ReadonlyMap<string, CelType>>): CelType {
  switch (d.kind) {
    case 'simple':
      return d.type!;
    case 'list':
      return T.list(declCelType(d.elem!, `${name}.@idx`, structs));
    case 'map':
      return T.map(T.string, declCelType(d.elem!, `${name}.@elem`, structs));
    case 'object': {
      const fields = new Map<string, CelType>();
      for (const [f, fd] of d.fields!) fields.set(f, declCelType(fd, `${name}.${f}`, structs));
      structs.set(name, fields);
      return T.struct(name);
    }
  }
}

/** Upstream's generateUniqueSelfTypeName. */
export function uniqueSelfTypeName(): string {
  const ms = performance.timeOrigin + performance.now();
  return `selfType${Math.floor((ms % 1000) * 1e6)}`;
}

/** Upstream's MapIsCorrelatable: granular (the default) and atomic maps correlate old and new. */
export const mapIsCorrelatable = (mapType: string | undefined): boolean => mapType === undefined || mapType === 'granular' || mapType === 'atomic';
