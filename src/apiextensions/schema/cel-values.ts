/**
 * Custom resource data as CEL values for x-kubernetes-validations, as upstream's
 * apiserver/pkg/cel/common/values.go (UnstructuredToVal): the schema decides each value's type
 * (integer → int, number → double even when whole, int-or-string → int or string, strings with
 * format byte/duration/date/date-time → bytes/duration/timestamp), objects expose only their
 * declared properties under escaped names, maps (additionalProperties) keep their keys, an
 * embedded resource is an object with apiVersion/kind/metadata, null is null only where the
 * schema is nullable. Also the runtime meter: lists count every element walked (comprehensions
 * and list functions), which stands in for cel-go's actual cost (see cel-compile.ts), and the
 * optional values `oldSelf` takes under optionalOldSelf (`hasValue()`, `value()`, `orValue()`,
 * `or()`, `optional.of()`, `optional.none()`).
 *
 * Not covered: set and map lists compare element by element (upstream ignores their order in
 * `==`), and preserve-unknown data without a type is not visible at all (as upstream declares it).
 */
import { CelScalar, celError, celFunc, celMap, celMethod, type CelFunc } from '@bufbuild/cel';
import { fromJson } from '@bufbuild/protobuf';
import { DurationSchema, TimestampSchema } from '@bufbuild/protobuf/wkt';
import type { JSONSchemaProps } from '../../api/index.ts';
import { Opaque, opaqueOf } from '../../apiserver/admission/policy/lib/opaque.ts';
import { additional, escapeFieldName, items, withTypeAndObjectMeta } from './cel-model.ts';
import { isJsonObject } from '../../util/json.ts';

/** cel-go's message when a program's cost goes over its limit. */
export const costLimitMessage = 'operation cancelled: actual cost limit exceeded';

/** One evaluation's running cost; throws once over `limit`. */
export class Meter {
  cost = 0;
  limit = Number.POSITIVE_INFINITY;
  /** What one walked list element costs (the rule's per-iteration estimate). */
  weight = 1;
  add(n: number): void {
    this.cost += n;
    if (this.cost > this.limit) throw new Error(costLimitMessage);
  }
}

const listBrand = Symbol.for('@bufbuild/cel/list');

/** A list of converted values whose walks are charged to a meter. */
class MeteredList {
  readonly #items: readonly unknown[];
  readonly #meter: Meter;
  constructor(v: readonly unknown[], meter: Meter) {
    this.#items = v;
    this.#meter = meter;
  }
  get size(): number {
    return this.#items.length;
  }
  get(i: number): unknown {
    return i < 0 || i >= this.#items.length ? undefined : this.#items[i];
  }
  *values(): IterableIterator<unknown> {
    this.#meter.add(this.#items.length * this.#meter.weight);
    yield* this.#items;
  }
  [Symbol.iterator](): IterableIterator<unknown> {
    return this.values();
  }
}
Object.defineProperty(MeteredList.prototype, listBrand, { value: {} });


function stringValue(v: string, format: string | undefined): unknown {
  try {
    switch (format) {
      case 'duration':
        return fromJson(DurationSchema, /^-?\d+(\.\d+)?s$/.test(v) ? v : goDuration(v));
      case 'date':
        return fromJson(TimestampSchema, `${v}T00:00:00Z`);
      case 'date-time':
        return fromJson(TimestampSchema, v);
      case 'byte':
        return new Uint8Array(Buffer.from(v, 'base64'));
    }
  } catch (err) {
    return celError(`Invalid ${format === 'date-time' ? 'date-time formatted string' : format === 'date' ? 'date formatted string' : format === 'byte' ? 'byte formatted string' : 'duration'} ${v}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return v;
}

const unitSeconds: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** A Go duration string (`1h30m`, `-2.5s`) as protobuf JSON seconds (`5400s`). */
function goDuration(v: string): string {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(v);
  if (!m && v !== '0') throw new Error(`time: invalid duration "${v}"`);
  let total = 0;
  for (const part of v.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * unitSeconds[part[2]!]!;
  return `${m?.[1] === '-' ? -total : total}s`;
}

/**
 * `v` as the CEL value its schema makes of it; lists are metered by `meter`. `root`: the
 * schema is a resource root (or an embedded resource), which always has apiVersion, kind and
 * metadata.name/generateName.
 */
/** withTypeAndObjectMeta per schema, made once (schemas are immutable while served). */
const resourceSchemas = new WeakMap<JSONSchemaProps, JSONSchemaProps>();
function resourceSchema(s: JSONSchemaProps): JSONSchemaProps {
  let out = resourceSchemas.get(s);
  if (!out) resourceSchemas.set(s, (out = withTypeAndObjectMeta(s)));
  return out;
}

export function toCelValue(v: unknown, s: JSONSchemaProps, meter: Meter, root = false): unknown {
  if (v === null || v === undefined) return s.nullable ? null : celError('invalid data, got null for schema with nullable=false');
  if (s['x-kubernetes-int-or-string']) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    return celError('invalid data, expected XIntOrString value to be either a string or integer');
  }
  switch (s.type) {
    case 'object': {
      if (!isJsonObject(v)) return celError('invalid data, expected a map for the provided schema with type=object');
      const m = new Map<string, unknown>();
      if (root || s['x-kubernetes-embedded-resource'] || s.properties) {
        const props = (root || s['x-kubernetes-embedded-resource'] ? resourceSchema(s) : s).properties ?? {};
        for (const k in v) {
          const ps = props[k];
          const x = v[k];
          if (!ps || x === undefined) continue;
          const f = escapeFieldName(k);
          if (f !== undefined) m.set(f, toCelValue(x, ps, meter, ps['x-kubernetes-embedded-resource'] === true));
        }
      } else {
        const ap = additional(s);
        if (ap) for (const k in v) if (v[k] !== undefined) m.set(k, toCelValue(v[k], ap, meter, ap['x-kubernetes-embedded-resource'] === true));
      }
      return celMap(m as Map<string, never>);
    }
    case 'array': {
      if (!Array.isArray(v)) return celError('invalid data, expected an array for the provided schema with type=array');
      const it = items(s);
      if (!it) return celError('invalid array type, expected Items with a non-empty Schema');
      const embedded = it['x-kubernetes-embedded-resource'] === true;
      return new MeteredList(
        v.map((x) => toCelValue(x, it, meter, embedded)),
        meter,
      );
    }
    case 'string':
      return typeof v === 'string' ? stringValue(v, s.format) : celError(`invalid data, expected string, got ${typeof v}`);
    case 'number':
      return typeof v === 'number' ? v : celError(`invalid data, expected float, got ${typeof v}`);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : celError(`invalid data, expected int, got ${typeof v}`);
    case 'boolean':
      return typeof v === 'boolean' ? v : celError(`invalid data, expected bool, got ${typeof v}`);
  }
  return v;
}

// ---- optional values (cel-go's optional types, for optionalOldSelf) ----------------------------

/** An optional value: `optional.of(v)` or `optional.none()`. */
export class Optional extends Opaque {
  readonly typeName = 'optional_type';
  readonly present: boolean;
  readonly inner: unknown;
  constructor(present: boolean, inner?: unknown) {
    super();
    this.present = present;
    this.inner = inner;
  }
}

export const optionalNone = new Optional(false);

const D = CelScalar.DYN;
const opt = (fn: string, v: unknown) => opaqueOf(Optional, fn, v);

/** The optional-type functions rules may call. */
export const optionalFuncs: readonly CelFunc[] = [
  celFunc('optional.of', [D], D, (v: unknown) => new Optional(true, v) as never),
  celFunc('optional.none', [], D, () => optionalNone as never),
  celMethod('hasValue', D, [], CelScalar.BOOL, function (this: unknown) {
    return opt('hasValue', this).present;
  }),
  celMethod('value', D, [], D, function (this: unknown) {
    const o = opt('value', this);
    if (!o.present) throw new Error('optional.none() dereference');
    return o.inner as never;
  }),
  celMethod('orValue', D, [D], D, function (this: unknown, x: unknown) {
    const o = opt('orValue', this);
    return (o.present ? o.inner : x) as never;
  }),
  celMethod('or', D, [D], D, function (this: unknown, x: unknown) {
    const o = opt('or', this);
    return (o.present ? o : opt('or', x)) as never;
  }),
];
