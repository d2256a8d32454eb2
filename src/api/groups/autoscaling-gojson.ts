/**
 * JSON read and written the way Go's encoding/json does it for the typed structs upstream's
 * autoscaling/v1 round-trip annotations hold (pkg/apis/autoscaling/v1/conversion.go): keys match
 * a field exactly or ignoring case (the last matching key wins), unknown keys are ignored, `null`
 * is the zero value, and a value of the wrong JSON type fails the whole decode (upstream then
 * ignores the annotation). Writing escapes `<`, `>`, `&`, U+2028 and U+2029 as json.Marshal does.
 */
import { canonicalQuantity } from './quantity-canonical.ts';

export type J = Record<string, any>;

/** A value that Go's json.Unmarshal would refuse for the field's type. */
export class GoJsonTypeError extends Error {}

function fail(what: string, v: unknown): never {
  throw new GoJsonTypeError(`cannot unmarshal ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v} into ${what}`);
}

/** The value of struct field `name` in a decoded JSON object: exact or case-insensitive key, last one wins. */
export function field(o: J, name: string): unknown {
  const lower = name.toLowerCase();
  let out: unknown;
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) out = o[k];
  return out;
}

/** A struct or pointer to struct: undefined for absent or null. */
export function obj(v: unknown, what: string): J | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) fail(what, v);
  return v as J;
}

/** A slice: undefined for absent or null (a nil slice). */
export function arr(v: unknown, what: string): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(what, v);
  return v;
}

/** A string field: '' for absent or null. */
export function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(what, v);
  return v;
}

/** A *string field: undefined for absent or null. */
export function optStr(v: unknown, what: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, what);
}

/** An integer field of the given bit size (*int32, int64 ...): undefined for absent or null. */
export function int(v: unknown, what: string, bits: 32 | 64 = 32): number | undefined {
  if (v === undefined || v === null) return undefined;
  const max = bits === 32 ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number' || !Number.isInteger(v) || v > max || v < -max - 1) fail(what, v);
  return v;
}

/** A resource.Quantity (quoted or bare, as its UnmarshalJSON takes it), canonical: undefined for absent or null. */
export function qty(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const c = typeof v === 'string' || typeof v === 'number' ? canonicalQuantity(v) : undefined;
  if (c === undefined) fail(what, v);
  return c;
}

/** A metav1.Time: undefined for absent or null; anything but an RFC 3339 string fails. */
export function time(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(Date.parse(v))) fail(what, v);
  return v;
}

/** A quantity as json.Marshal writes a resource.Quantity (its canonical string). */
export function quantityOut(v: unknown): string {
  return canonicalQuantity(v) ?? String(v);
}

/** Whether a quantity is zero (how a non-pointer Quantity left unset reads back). */
export function isZeroQuantity(v: unknown): boolean {
  return canonicalQuantity(v) === '0';
}

/** json.Marshal's text for a value: compact, with its HTML-safe escapes. */
export function marshal(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * json.Unmarshal of an annotation into a Go type through `decode`; undefined when the text is not
 * JSON or does not fit the type, as upstream's conversion then ignores the annotation.
 */
export function unmarshal<T>(text: string | undefined, decode: (v: unknown) => T): T | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  try {
    return decode(parsed);
  } catch (err) {
    if (err instanceof GoJsonTypeError) return undefined;
    throw err;
  }
}
