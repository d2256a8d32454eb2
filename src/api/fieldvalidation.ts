/**
 * Unknown fields of built-in kinds, found by walking an object against its type's schema.
 * Upstream decodes into Go structs, which drops unknown fields; with fieldValidation=Strict
 * they are an error and with Warn a warning. `pruneUnknownFields` does both jobs at once: it
 * removes the unknown fields in place and returns their paths ("spec.replicaz",
 * "spec.containers[0].imagePullPolice"), in document order.
 * Opaque values (RawExtension, JSON, FieldsV1) are not looked into.
 * It also drops empty lists and maps of `omitempty` fields, which Go's encoder never writes, so
 * that an object reads back as upstream would store it (a patch that removes the last owner
 * reference leaves no `ownerReferences: []`).
 */
import type { KubeObject } from './types.ts';
import { getMessage, jsonProperties, typeForKind, type MessageDef, type TypeRef } from './schema/index.ts';

/** Removes fields the kind's schema does not know; returns their paths. Kinds without a schema: []. */
export function pruneUnknownFields(obj: KubeObject, type: { group: string; version: string; kind: string }): string[] {
  const def = typeForKind(type.group, type.version, type.kind);
  if (!def) return [];
  const out: string[] = [];
  walkMessage(obj, def, '', out, true);
  return out;
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function walkMessage(value: unknown, def: MessageDef, path: string, out: string[], top = false): void {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return;
  const props = jsonProperties(def);
  const rec = value as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    const p = props.get(key);
    if (!p) {
      if (top && (key === 'apiVersion' || key === 'kind')) continue;
      out.push(join(path, key));
      delete rec[key];
      continue;
    }
    const v = rec[key];
    // (metadata.managedFields: [] stays: it asks the field manager to reset them, as in Go.)
    if (p.field.omitEmpty && (p.field.type.kind === 'list' || p.field.type.kind === 'map') && isEmptyCollection(v) && key !== 'managedFields') {
      delete rec[key];
      continue;
    }
    walk(v, p.field.type, join(path, key), out);
  }
}

function isEmptyCollection(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  return v !== null && typeof v === 'object' && Object.keys(v).length === 0;
}

function walk(value: unknown, t: TypeRef, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  switch (t.kind) {
    case 'scalar':
    case 'special':
      return;
    case 'message': {
      const def = getMessage(t.name);
      if (def.kind !== 'message') return;
      if (def.oneof) return;
      walkMessage(value, def, path, out);
      return;
    }
    case 'list':
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, t.elem, `${path}[${i}]`, out));
      return;
    case 'map':
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, t.value, `${path}[${k}]`, out);
      }
      return;
  }
}
