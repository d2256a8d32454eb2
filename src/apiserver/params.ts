/**
 * Query parameters decoded as upstream's parameter codec does. One parser per Go type, used by
 * every handler, so that `watch=True`, `force=TRUE` or `pretty=` mean what they mean upstream.
 */
import { badRequest } from '../api/errors.ts';

/**
 * A boolean parameter (upstream `Convert_Slice_string_To_bool`): absent is `undefined`; the
 * first value `0` or case-insensitive `false` is false; any other value — `true`, `True`, `1`,
 * `yes`, even the empty string — is true.
 */
export function boolParam(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  return !(v === '0' || v.toLowerCase() === 'false');
}

/** A boolean parameter that is false when absent. */
export function flag(q: URLSearchParams, name: string): boolean {
  return boolParam(q, name) ?? false;
}

const int64Max = 9223372036854775807n;
const int64Min = -9223372036854775808n;

/** Why strconv.ParseInt(text, 10, 64) would fail — `syntax` or `range` — or null when it would not. */
export function int64Error(text: string): 'syntax' | 'range' | null {
  if (!/^[+-]?\d+$/.test(text)) return 'syntax';
  const n = BigInt(text);
  return n > int64Max || n < int64Min ? 'range' : null;
}

/**
 * An int64 parameter (upstream `Convert_Slice_string_To_int64`, strconv.ParseInt base 10):
 * absent or empty is `undefined`; anything that is not a base-10 integer within int64 is a 400.
 * Values beyond 2^53 are returned as the nearest double (they only ever mean "very large").
 */
export function int64Param(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const why = int64Error(v);
  if (why === 'syntax') throw badRequest(`${name}: invalid value ${JSON.stringify(v)}: strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  if (why === 'range') throw badRequest(`${name}: invalid value ${JSON.stringify(v)}: strconv.ParseInt: parsing ${JSON.stringify(v)}: value out of range`);
  return Number(v);
}
