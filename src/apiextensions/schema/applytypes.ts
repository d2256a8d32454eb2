/**
 * Server-side apply types of a CRD version, from its structural schema, as upstream builds the
 * structured-merge-diff schema of a CRD (apiextensions' schema → kube-openapi schemaconv):
 *   - objects with properties → messages (fields in declaration order; omitEmpty false and
 *     pointer true, so apply never drops a value); x-kubernetes-map-type atomic → atomic struct;
 *   - objects with additionalProperties → maps (x-kubernetes-map-type, default granular);
 *   - arrays → lists with x-kubernetes-list-type / list-map-keys (default atomic);
 *   - x-kubernetes-int-or-string → IntOrString; string/integer/number/boolean → scalars;
 *   - the root and x-kubernetes-embedded-resource objects → apiVersion, kind and metadata
 *     (meta.v1.ObjectMeta) besides their properties;
 *   - x-kubernetes-preserve-unknown-fields (or no type) → a message flagged preserveUnknownFields:
 *     undeclared fields are "deduced" (maps granular, lists atomic), as upstream's untyped.
 */
import type { JSONSchemaProps } from '../../api/index.ts';
import type { FieldDef, MessageDef, TypeRef } from '../../api/schema/index.ts';

const objectMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

interface Ctx {
  out: MessageDef[];
}

function makeMessage(name: string, fields: FieldDef[], extra: { structType?: 'atomic' | 'granular'; preserveUnknownFields?: boolean }): MessageDef {
  const byNumber = new Map<number, FieldDef>();
  const byJson = new Map<string, FieldDef>();
  for (const f of fields) {
    byNumber.set(f.number, f);
    byJson.set(f.name, f);
  }
  return {
    kind: 'message',
    name,
    shortName: name,
    fields,
    byNumberOrder: fields,
    byNumber,
    byJson,
    oneof: false,
    ...(extra.structType ? { structType: extra.structType } : {}),
    ...(extra.preserveUnknownFields ? { preserveUnknownFields: true } : {}),
  };
}

function field(name: string, number: number, type: TypeRef, s: JSONSchemaProps | undefined): FieldDef {
  const f: { -readonly [K in keyof FieldDef]: FieldDef[K] } = { name, number, type, pointer: true, omitEmpty: false, required: false, inline: false };
  if (!s) return f;
  if (type.kind === 'list') {
    const lt = s['x-kubernetes-list-type'];
    f.listType = lt === 'set' || lt === 'map' ? lt : 'atomic';
    if (lt === 'map' && s['x-kubernetes-list-map-keys']?.length) f.listMapKeys = s['x-kubernetes-list-map-keys'];
  } else if (type.kind === 'map') {
    f.mapType = s['x-kubernetes-map-type'] === 'atomic' ? 'atomic' : 'granular';
  } else if (type.kind === 'message' && s['x-kubernetes-map-type'] === 'atomic') {
    f.structType = 'atomic';
  }
  return f;
}

/** The type of a value with schema `s`, registering the messages it needs under `name`. */
function typeOf(s: JSONSchemaProps | undefined, name: string, ctx: Ctx, root = false): TypeRef {
  if (!s) return message(undefined, name, ctx, false);
  if (s['x-kubernetes-int-or-string']) return { kind: 'special', special: 'IntOrString' };
  switch (s.type) {
    case 'string':
      return { kind: 'scalar', scalar: 'string' };
    case 'integer':
      return { kind: 'scalar', scalar: 'int64' };
    case 'number':
      return { kind: 'scalar', scalar: 'double' };
    case 'boolean':
      return { kind: 'scalar', scalar: 'bool' };
    case 'array': {
      const items = s.items && !Array.isArray(s.items) ? s.items : undefined;
      return { kind: 'list', elem: typeOf(items, `${name}.items`, ctx) };
    }
    default: {
      const ap = s.additionalProperties;
      const hasProps = !!s.properties && Object.keys(s.properties).length > 0;
      if (!root && !hasProps && !s['x-kubernetes-embedded-resource'] && typeof ap === 'object' && ap !== null)
        return { kind: 'map', value: typeOf(ap, `${name}.additionalProperties`, ctx) };
      if (!root && !hasProps && !s['x-kubernetes-embedded-resource'] && ap === true) return { kind: 'map', value: message(undefined, `${name}.additionalProperties`, ctx, false) };
      return message(s, name, ctx, root);
    }
  }
}

function message(s: JSONSchemaProps | undefined, name: string, ctx: Ctx, root: boolean): TypeRef {
  const fields: FieldDef[] = [];
  let n = 1;
  const embedded = root || s?.['x-kubernetes-embedded-resource'] === true;
  const props = s?.properties ?? {};
  if (embedded) {
    if (!Object.hasOwn(props, 'apiVersion')) fields.push(field('apiVersion', n++, { kind: 'scalar', scalar: 'string' }, undefined));
    if (!Object.hasOwn(props, 'kind')) fields.push(field('kind', n++, { kind: 'scalar', scalar: 'string' }, undefined));
    if (!Object.hasOwn(props, 'metadata')) fields.push(field('metadata', n++, { kind: 'message', name: objectMeta }, undefined));
  }
  for (const [k, p] of Object.entries(props)) {
    const type: TypeRef = embedded && k === 'metadata' ? { kind: 'message', name: objectMeta } : typeOf(p, `${name}.${k}`, ctx);
    fields.push(field(k, n++, type, p));
  }
  // No schema, no type (and not int-or-string), or preserve-unknown-fields: untyped members are deduced.
  const preserve = !s || s['x-kubernetes-preserve-unknown-fields'] === true || (!s.type && !s.properties);
  const structType = s?.['x-kubernetes-map-type'] === 'atomic' ? 'atomic' : undefined;
  ctx.out.push(makeMessage(name, fields, { structType, preserveUnknownFields: preserve }));
  return { kind: 'message', name };
}

/**
 * The message types server-side apply needs for one version of a CRD: the root type is named
 * `name` (first in the result), nested ones `${name}.<path>` ('.items', '.additionalProperties'
 * for list elements and map values); registered with registerDynamicTypes by the caller.
 * Honours x-kubernetes-list-type / list-map-keys / map-type, int-or-string, embedded resources
 * (metadata is meta.v1.ObjectMeta) and preserve-unknown-fields (deduced: maps granular, lists atomic).
 */
export function applyTypes(schema: JSONSchemaProps, name: string): MessageDef[] {
  const ctx: Ctx = { out: [] };
  typeOf({ ...schema, type: 'object' }, name, ctx, true);
  // typeOf registers children before their parent: put the root first.
  const root = ctx.out.pop()!;
  return [root, ...ctx.out];
}
