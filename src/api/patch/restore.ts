/**
 * Type errors in a patched object, found as upstream finds them after a patch: the patched map is
 * turned back into the typed object, and a value of the wrong JSON type fails there. Two wordings,
 * as upstream's patch handler has two paths (apiserver handlers/patch.go):
 * - strategic merge patch (unstructured converter): `cannot restore map from string`;
 * - JSON and merge patch (JSON decoder): `json: cannot unmarshal string into Go struct field
 *   ObjectMeta.metadata.labels of type map[string]string`.
 * Only structure is checked (objects, maps, lists); scalar types are left to validation.
 * `goValue` prints a value as Go's `%v` does, for the Invalid `patch` field error.
 */
import { goJsonKind } from '../jsonscan.ts';
import { getMessage, getType, type MessageDef, type TypeRef } from '../schema/index.ts';
import { isJsonObject } from '../../util/json.ts';

/** Go reflect kind of an unstructured (JSON) value. */
function reflectKind(v: unknown): string {
  if (Array.isArray(v)) return 'slice';
  if (typeof v === 'object') return 'map';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  return typeof v === 'boolean' ? 'bool' : 'string';
}

/** The last segment of an OpenAPI package: `io.k8s.api.core.v1.Pod` → `v1`. */
function goPackage(name: string): string {
  const parts = name.split('.');
  return parts[parts.length - 2] ?? '';
}

function goType(t: TypeRef): string {
  switch (t.kind) {
    case 'scalar':
      return { string: 'string', int32: 'int32', int64: 'int64', bool: 'bool', double: 'float64', bytes: '[]uint8' }[t.scalar];
    case 'special':
      return t.special === 'IntOrString' ? 'intstr.IntOrString' : t.special === 'Quantity' ? 'resource.Quantity' : `v1.${t.special}`;
    case 'list':
      return `[]${goType(t.elem)}`;
    case 'map':
      return `map[string]${goType(t.value)}`;
    case 'message': {
      const def = getType(t.name);
      if (def?.kind === 'list') return `[]${goType(def.elem)}`;
      return `${goPackage(t.name)}.${shortName(t.name)}`;
    }
  }
}

/**
 * A value of the wrong JSON type at `path` (the field's Go type `t`, in the struct `def`). The
 * Go names are worked out only for the message: the walk runs on every patched object.
 */
type Mismatch = { want: 'struct' | 'map' | 'slice'; value: unknown; def: MessageDef; path: string; t: TypeRef };

/** The last segment of a schema name: `io.k8s.api.core.v1.PodSpec` → `PodSpec`. */
function shortName(name: string): string {
  return name.split('.').pop() ?? name;
}

/** A map of a merge patch: the fields below it that the patch sets (undefined: all of them). */
type Changed = Record<string, unknown> | undefined;

/** A patch value as a map to descend into; undefined for a whole value (a list, a scalar) that the patch set. */
function asMap(v: unknown): Changed {
  return isJsonObject(v) ? v : undefined;
}

/**
 * The first structural mismatch, in Go field declaration order. With `changed` (a merge patch
 * over a stored object, which decodes), only the fields it sets are looked at.
 */
function firstMismatch(value: unknown, def: MessageDef, path: string, changed?: Changed): Mismatch | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  for (const f of def.fields) {
    if (f.inline && f.type.kind === 'message') {
      const inner = getMessage(f.type.name);
      const m = inner && firstMismatch(obj, inner, path, changed);
      if (m) return m;
      continue;
    }
    if (changed && changed[f.name] === undefined) continue;
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    const m = checkField(v, f.type, def, path ? `${path}.${f.name}` : f.name, changed && asMap(changed[f.name]));
    if (m) return m;
  }
  return undefined;
}

function checkField(v: unknown, t: TypeRef, struct: MessageDef, path: string, changed?: Changed): Mismatch | undefined {
  if (t.kind === 'scalar' || t.kind === 'special') return undefined;
  if (t.kind === 'map') {
    if (typeof v !== 'object' || Array.isArray(v)) return { want: 'map', value: v, def: struct, path, t };
    for (const [k, x] of Object.entries(v as object)) {
      if (x === null || (changed && changed[k] === undefined)) continue;
      const m = checkField(x, t.value, struct, path, changed && asMap(changed[k]));
      if (m) return m;
    }
    return undefined;
  }
  let elem: TypeRef | undefined;
  if (t.kind === 'list') elem = t.elem;
  if (t.kind === 'message') {
    const def = getType(t.name);
    if (def?.kind === 'list') elem = def.elem;
    else if (def?.kind === 'message') {
      if (typeof v !== 'object' || Array.isArray(v)) return { want: 'struct', value: v, def: struct, path, t };
      return firstMismatch(v, def, path, changed);
    }
  }
  if (elem) {
    if (!Array.isArray(v)) return { want: 'slice', value: v, def: struct, path, t };
    for (const x of v) {
      if (x === null) continue;
      const m = checkField(x, elem, struct, path);
      if (m) return m;
    }
  }
  return undefined;
}

/** The unstructured converter's error for `obj` as `typeName`, or undefined (strategic merge patch). */
export function restoreError(obj: unknown, typeName: string): string | undefined {
  const def = getType(typeName);
  if (def?.kind !== 'message') return undefined;
  const m = firstMismatch(obj, def, '');
  if (!m) return undefined;
  const kind = reflectKind(m.value);
  return m.want === 'struct' ? `cannot restore struct from: ${kind}` : `cannot restore ${m.want} from ${kind}`;
}

/**
 * The JSON decoder's error for `obj` as `typeName`, or undefined (JSON and merge patch). With
 * `mergePatch`, `obj` is that patch applied to an object that decodes: only what it sets can be
 * wrong, and only that is walked (the first mismatch is the same).
 */
export function unmarshalError(obj: unknown, typeName: string, mergePatch?: unknown): string | undefined {
  const def = getType(typeName);
  if (def?.kind !== 'message') return undefined;
  const m = firstMismatch(obj, def, '', asMap(mergePatch));
  if (!m) return undefined;
  return `json: cannot unmarshal ${goJsonKind(m.value)} into Go struct field ${shortName(m.def.name)}.${m.path} of type ${goType(m.t)}`;
}

/** A value as Go's `%v` prints a decoded JSON value: `map[a:1 b:[x y]]` (map keys sorted). */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o)
      .sort()
      .map((k) => `${k}:${goValue(o[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}
