/**
 * Validation of a custom resource against the structural schema of its CRD version, as upstream's
 * customResourceStrategy.Validate does after pruning and defaulting:
 *   1. kube-openapi's `validate.SchemaValidator` (pkg/validation/validate: type, format, enum,
 *      numbers, strings, arrays, objects, allOf/anyOf/oneOf/not), its errors turned into field
 *      errors as apiextensions' `kubeOpenAPIResultToFieldErrors` does;
 *   2. embedded resources' apiVersion/kind/metadata (schema/objectmeta/validation.go);
 *   3. x-kubernetes-list-type set/map uniqueness (schema/listtype/validation.go).
 *
 * A schema is compiled once into a tree of closures (`compileValidator`); validating walks the
 * object once per stage. Differences from upstream, on purpose:
 *   - errors come in schema declaration order (Go iterates maps in random order);
 *   - anyOf/oneOf report the errors of the first failing alternative (upstream: of the one with
 *     the highest internal match count, the first one on ties);
 *   - `pattern` is a JavaScript RegExp (upstream: Go RE2; both reject look-around in CRDs as
 *     RE2 cannot compile it, here it compiles);
 *   - formats are checked by small JavaScript equivalents of strfmt's checks.
 */
import { isIP } from 'node:net';
import type { JSONSchemaProps } from '../../api/index.ts';
import type { StatusCause } from '../../api/types.ts';
import {
  duplicate,
  fieldError,
  invalidValue,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isPathSegmentName,
  jsonEqual,
  notSupported,
  required,
  tooMany,
  validateAnnotations,
  validateLabels,
} from '../../api/validation.ts';
import { isJsonObject } from '../../util/json.ts';

// ---- kube-openapi's error model ---------------------------------------------------------------

/** kube-openapi error codes that apiextensions maps to specific field error types. */
type Code = 'type' | 'required' | 'enum' | 'tooLong' | 'maxItems' | 'tooManyProps' | 'other' | 'plain';

/** One kube-openapi error: `name` is the validator's path ('spec.replicas'); `plain` ones are not *errors.Validation. */
interface OAErr {
  code: Code;
  name: string;
  value: unknown;
  message: string;
  valid?: number;
  values?: unknown[];
}

type Sink = OAErr[];

function add(out: Sink, e: OAErr): void {
  // Result.AddErrors keeps messages unique.
  for (const x of out) if (x.message === e.message) return;
  out.push(e);
}

function inPath(path: string): string {
  return `${path} in body`;
}

/** Go's %q for the strings these messages quote (JSON's escaping is close enough for ASCII). */
function q(s: string): string {
  return JSON.stringify(s);
}

/** Go's %v for a float64 (or int64) bound. */
function num(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const s = String(n);
  return s.replace(/e\+?(-?)(\d)$/, 'e+$10$2').replace('e+-', 'e-');
}

function invalidType(path: string, typeName: string, value: string): OAErr {
  return { code: 'type', name: path, value, message: `${inPath(path)} must be of type ${typeName}: ${q(value)}` };
}

function other(path: string, value: unknown, message: string): OAErr {
  return { code: 'other', name: path, value, message };
}

function plain(message: string): OAErr {
  return { code: 'plain', name: '', value: '', message };
}

/** The JSON type kube-openapi infers from a decoded value (int64 for whole numbers, as Go's decoder). */
function jsonType(v: unknown): 'boolean' | 'string' | 'integer' | 'number' | 'array' | 'object' | 'null' {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'string';
    case 'number':
      // Go decodes a JSON number as int64 when it fits, else float64.
      return Number.isInteger(v) && Math.abs(v) < 9223372036854775808 ? 'integer' : 'number';
    default:
      return Array.isArray(v) ? 'array' : 'object';
  }
}

// ---- formats ----------------------------------------------------------------------------------

const uuidRe = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const uuid3Re = /^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const uuid4Re = /^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i;
const uuid5Re = /^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i;
const hostnameRe = /^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$/u;
const macRe = /^([0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\2){4}[0-9a-fA-F]{2}|([0-9a-fA-F]{2}([:-])){7}[0-9a-fA-F]{2}|([0-9a-fA-F]{2}([:-])){19}[0-9a-fA-F]{2}|([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}|([0-9a-fA-F]{4}\.){3}[0-9a-fA-F]{4}|([0-9a-fA-F]{4}\.){9}[0-9a-fA-F]{4})$/;
const dateRe = /^(\d{4})-(\d{2})-(\d{2})$/;
const dateTimeRe = /^(\d{4})-(\d{2})-(\d{2})([Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;
const durationRe = /^((\d+(\.\d+)?)\s*(ns|us|µs|μs|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)\s*)+$/;
const goDurationRe = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$|^[-+]?0$/;

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return d <= days;
}

function isCIDR(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  const v = isIP(ip);
  if (!v || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (v === 4 ? 32 : 128);
}

function luhnish(s: string): boolean {
  const d = s.replace(/\D/g, '');
  return /^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$/.test(d);
}

function isbn10(s: string): boolean {
  return /^(?:[0-9]{9}X|[0-9]{10})$/.test(s.replace(/[\s-]/g, ''));
}
function isbn13(s: string): boolean {
  return /^(?:[0-9]{13})$/.test(s.replace(/[\s-]/g, ''));
}

/** The string formats CRDs support (apiextensions' supportedVersionedFormats), normalized without '-'. */
const formatChecks: Record<string, (s: string) => boolean> = {
  bsonobjectid: (s) => /^[0-9a-fA-F]{24}$/.test(s),
  uri: (s) => {
    if (s.startsWith('/')) return true;
    if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) return false;
    try {
      new URL(s);
      return true;
    } catch {
      return false;
    }
  },
  email: (s) => /^[^\s@<>]+@[^\s@<>]+$/.test(s) || /^[^<>]*<[^\s@<>]+@[^\s@<>]+>$/.test(s),
  hostname: (s) => s.length <= 255 && hostnameRe.test(s),
  ipv4: (s) => isIP(s) !== 0 && s.includes('.'),
  ipv6: (s) => isIP(s) !== 0 && s.includes(':'),
  cidr: isCIDR,
  mac: (s) => macRe.test(s),
  uuid: (s) => uuidRe.test(s),
  uuid3: (s) => uuid3Re.test(s),
  uuid4: (s) => uuid4Re.test(s),
  uuid5: (s) => uuid5Re.test(s),
  isbn: (s) => isbn10(s) || isbn13(s),
  isbn10,
  isbn13,
  creditcard: luhnish,
  ssn: (s) => /^\d{3}[- ]?\d{2}[- ]?\d{4}$/.test(s),
  hexcolor: (s) => /^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(s),
  rgbcolor: (s) => /^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$/.test(s),
  byte: (s) => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s),
  password: () => true,
  date: (s) => {
    const m = dateRe.exec(s);
    return !!m && validDate(Number(m[1]), Number(m[2]), Number(m[3]));
  },
  duration: (s) => goDurationRe.test(s) || durationRe.test(s),
  datetime: (s) => {
    const m = dateTimeRe.exec(s);
    if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return false;
    if (m[4] === undefined) return true;
    return Number(m[5]) < 24 && Number(m[6]) < 60 && Number(m[7]) < 61;
  },
  k8sshortname: (s) => isDNS1123Label(s).length === 0,
  k8slongname: (s) => isDNS1123Subdomain(s).length === 0,
};

/**
 * The format kube-openapi checks after apiextensions strips unsupported ones (StripUnsupportedFormats):
 * string formats from the list above, int32/int64 for integers, float/double for numbers.
 */
function effectiveFormat(s: JSONSchemaProps, types: readonly string[]): string {
  const f = s.format ?? '';
  if (!f) return '';
  const t = types.length === 1 ? types[0] : '';
  switch (t) {
    case '':
    case 'string':
      return Object.hasOwn(formatChecks, f.replaceAll('-', '')) ? f : '';
    case 'integer':
      return f === 'int32' || f === 'int64' ? f : '';
    case 'number':
      return f === 'float' || f === 'double' ? f : '';
    default:
      return '';
  }
}

// ---- the compiled validator -------------------------------------------------------------------

/** Validates `data` found at `path`, appending kube-openapi errors to `out`. */
type Check = (data: unknown, path: string, out: Sink) => void;

const INT32 = [-2147483648, 2147483647] as const;
const FLOAT32_MAX = 3.4028234663852886e38;

function rangeError(v: number, typeName: string, format: string, prefix: string, path: string): OAErr | undefined {
  let ok = true;
  if (typeName === 'integer') {
    if (!Number.isInteger(v)) ok = false;
    else if (format === 'int32') ok = v >= INT32[0] && v <= INT32[1];
    else ok = v >= -9223372036854775808 && v <= 9223372036854775807;
  } else if (format === 'float') ok = Math.abs(v) <= FLOAT32_MAX;
  if (ok) return undefined;
  return plain(
    format
      ? `${prefix} value must be of type ${typeName} with format ${format} in ${path}`
      : `${prefix} value must be of type ${typeName} (default format) in ${path}`,
  );
}

function isWhole(x: number): boolean {
  return Math.abs(x - Math.round(x)) < 1e-9 * Math.max(1, Math.abs(x));
}

function compile(s: JSONSchemaProps): Check {
  const types: string[] = s['x-kubernetes-int-or-string'] ? ['integer', 'string'] : s.type ? [s.type] : [];
  const nullable = s.nullable === true;
  const format = effectiveFormat(s, types);
  const typeName = types.join(',');
  const hasType = types.length > 0;

  // type validator (applies when a type or a format is set)
  const typeCheck: Check | undefined =
    hasType || format
      ? (data, path, out) => {
          const t = jsonType(data);
          if (t === 'null') {
            if (hasType && !nullable) add(out, invalidType(path, typeName, 'null'));
            return;
          }
          if (t !== 'string' && t !== 'array' && format !== '') {
            const dataFormat = t === 'integer' ? 'int64' : t === 'number' ? 'float64' : '';
            const isIntFloat = t === 'integer' && types.includes('number');
            if (!(types.includes(t) || dataFormat === format || isIntFloat || (format === 'int64' && t === 'integer'))) {
              add(out, invalidType(path, format, dataFormat));
              return;
            }
          }
          if (!(types.includes('number') || types.includes('integer')) && format !== '' && (t === 'string' || t === 'array')) return;
          if (!(types.includes(t) || (t === 'integer' && types.includes('number')))) add(out, invalidType(path, typeName, t));
        }
      : undefined;

  // schema props validator (allOf, oneOf, anyOf, not)
  const anyOf = s.anyOf?.map(compile);
  const oneOf = s.oneOf?.map(compile);
  const allOf = s.allOf?.map(compile);
  const not = s.not ? compile(s.not) : undefined;
  const propsCheck: Check | undefined =
    anyOf?.length || oneOf?.length || allOf?.length || not
      ? (data, path, out) => {
          if (anyOf?.length) {
            let best: Sink | undefined;
            let ok = false;
            for (const c of anyOf) {
              const r: Sink = [];
              c(data, path, r);
              if (!r.length) {
                ok = true;
                best = undefined;
                break;
              }
              best ??= r;
            }
            if (!ok) add(out, plain(`${q(path)} must validate at least one schema (anyOf)`));
            if (best) for (const e of best) add(out, e);
          }
          if (oneOf?.length) {
            let best: Sink | undefined;
            let validated = 0;
            for (const c of oneOf) {
              const r: Sink = [];
              c(data, path, r);
              if (!r.length) {
                validated++;
                best = undefined;
                continue;
              }
              if (validated === 0) best ??= r;
            }
            if (validated !== 1) {
              add(out, plain(`${q(path)} must validate one and only one schema (oneOf). ${validated === 0 ? 'Found none valid' : `Found ${validated} valid alternatives`}`));
              if (best) for (const e of best) add(out, e);
            }
          }
          if (allOf?.length) {
            let validated = 0;
            for (const c of allOf) {
              const r: Sink = [];
              c(data, path, r);
              if (!r.length) validated++;
              for (const e of r) add(out, e);
            }
            if (validated !== allOf.length) add(out, plain(`${q(path)} must validate all the schemas (allOf)${validated === 0 ? '. None validated' : ''}`));
          }
          if (not) {
            const r: Sink = [];
            not(data, path, r);
            if (!r.length) add(out, plain(`${q(path)} must not validate the schema (not)`));
          }
        }
      : undefined;

  // string validator
  const maxLength = s.maxLength;
  const minLength = s.minLength;
  let pattern: RegExp | undefined;
  let patternError: string | undefined;
  if (s.pattern) {
    try {
      pattern = new RegExp(s.pattern, 'u');
    } catch {
      try {
        pattern = new RegExp(s.pattern);
      } catch (e) {
        patternError = `${s.pattern}, but pattern is invalid: ${(e as Error).message}`;
      }
    }
  }
  const strCheck: Check | undefined =
    maxLength !== undefined || minLength !== undefined || s.pattern
      ? (data, path, out) => {
          const str = data as string;
          if (maxLength !== undefined || minLength !== undefined) {
            let n = 0;
            for (const _ of str) n++;
            if (maxLength !== undefined && n > maxLength) {
              add(out, { code: 'tooLong', name: path, value: str, valid: maxLength, message: `${inPath(path)} should be at most ${maxLength} chars long` });
              return;
            }
            if (minLength !== undefined && n < minLength) {
              add(out, other(path, str, `${inPath(path)} should be at least ${minLength} chars long`));
              return;
            }
          }
          if (patternError) add(out, other(path, str, `${inPath(path)} should match '${patternError}'`));
          else if (pattern && !pattern.test(str)) add(out, other(path, str, `${inPath(path)} should match '${s.pattern}'`));
        }
      : undefined;

  // format validator
  const fmtFn = format ? formatChecks[format.replaceAll('-', '')] : undefined;
  const fmtCheck: Check | undefined = fmtFn
    ? (data, path, out) => {
        if (!fmtFn(data as string)) add(out, invalidType(path, format, data as string));
      }
    : undefined;

  // number validator
  const numType = types.length === 1 && (types[0] === 'integer' || types[0] === 'number') ? types[0] : '';
  const numFormat = numType === 'integer' ? (format === 'int32' || format === 'int64' ? format : '') : numType === 'number' ? (format === 'float' || format === 'double' ? format : '') : '';
  const { multipleOf, maximum, minimum } = s;
  const exclMax = s.exclusiveMaximum === true;
  const exclMin = s.exclusiveMinimum === true;
  const numCheck: Check = (data, path, out) => {
    const v = data as number;
    const r = rangeError(v, numType, numFormat, 'Checked', path);
    if (r) add(out, r);
    if (multipleOf !== undefined) {
      if (multipleOf <= 0) add(out, other(path, multipleOf, `factor MultipleOf declared for ${path} must be positive: ${num(multipleOf)}`));
      else if (Number.isInteger(v) && Number.isInteger(multipleOf) ? v % multipleOf !== 0 : !isWhole(v / multipleOf))
        add(out, other(path, v, `${inPath(path)} should be a multiple of ${num(multipleOf)}`));
    }
    if (minimum !== undefined && ((!exclMin && v < minimum) || (exclMin && v <= minimum)))
      add(out, other(path, v, `${inPath(path)} should be ${exclMin ? 'greater than' : 'greater than or equal to'} ${num(minimum)}`));
    if (maximum !== undefined && ((!exclMax && v > maximum) || (exclMax && v >= maximum)))
      add(out, other(path, v, `${inPath(path)} should be ${exclMax ? 'less than' : 'less than or equal to'} ${num(maximum)}`));
  };

  // slice validator
  const itemsSchema = Array.isArray(s.items) ? undefined : s.items;
  const items = itemsSchema ? compile(itemsSchema) : undefined;
  const tupleItems = Array.isArray(s.items) ? s.items.map(compile) : undefined;
  const { maxItems, minItems } = s;
  const unique = s.uniqueItems === true;
  const sliceCheck: Check = (data, path, out) => {
    const arr = data as unknown[];
    if (items) for (let i = 0; i < arr.length; i++) items(arr[i], `${path}[${i}]`, out);
    if (tupleItems) for (let i = 0; i < tupleItems.length && i < arr.length; i++) tupleItems[i]!(arr[i], `${path}[${i}]`, out);
    if (minItems !== undefined && arr.length < minItems) add(out, other(path, arr.length, `${inPath(path)} should have at least ${minItems} items`));
    if (maxItems !== undefined && arr.length > maxItems)
      add(out, { code: 'maxItems', name: path, value: arr.length, valid: maxItems, message: `${inPath(path)} should have at most ${maxItems} items` });
    if (unique) {
      outer: for (let i = 1; i < arr.length; i++)
        for (let j = 0; j < i; j++)
          if (jsonEqual(arr[i], arr[j])) {
            add(out, other(path, undefined, `${inPath(path)} shouldn't contain duplicates`));
            break outer;
          }
    }
  };

  // common validator (enum)
  const enumValues = s.enum?.length ? s.enum : undefined;
  const enumCheck: Check | undefined = enumValues
    ? (data, path, out) => {
        for (const e of enumValues) if (jsonEqual(data ?? null, e)) return;
        add(out, { code: 'enum', name: path, value: data ?? null, values: enumValues, message: `${inPath(path)} should be one of ${goList(enumValues)}` });
      }
    : undefined;

  // object validator
  const props = s.properties ? Object.entries(s.properties).map(([k, p]) => [k, compile(p)] as const) : [];
  const propNames = new Set(s.properties ? Object.keys(s.properties) : []);
  const ap = s.additionalProperties;
  const apForbid = ap === false;
  const apCheck = typeof ap === 'object' && ap !== null ? compile(ap) : undefined;
  const patternProps = s.patternProperties ? Object.entries(s.patternProperties).map(([k, p]) => [new RegExp(k), compile(p)] as const) : [];
  const req = s.required ?? [];
  const { maxProperties, minProperties } = s;
  const objCheck: Check = (data, path, out) => {
    const obj = data as Record<string, unknown>;
    const prefix = path === '' ? '' : `${path}.`;
    if (minProperties !== undefined || maxProperties !== undefined) {
      const n = Object.keys(obj).length;
      if (minProperties !== undefined && n < minProperties) add(out, other(path, n, `${inPath(path)} should have at least ${minProperties} properties`));
      if (maxProperties !== undefined && n > maxProperties)
        add(out, { code: 'tooManyProps', name: path, value: n, valid: maxProperties, message: `${inPath(path)} should have at most ${maxProperties} properties` });
    }
    if (apForbid) {
      for (const k in obj) {
        if (propNames.has(k) || patternProps.some(([re]) => re.test(k))) continue;
        add(out, other(path, k, `${path}.${k} in body is a forbidden property`));
      }
    } else if (apCheck || patternProps.length) {
      for (const k in obj) {
        if (propNames.has(k)) continue;
        let matched = false;
        for (const [re, c] of patternProps)
          if (re.test(k)) {
            matched = true;
            c(obj[k], `${path}.${k}`, out);
          }
        if (!matched && apCheck) apCheck(obj[k], `${path}.${k}`, out);
      }
    }
    for (const [k, c] of props) if (Object.hasOwn(obj, k)) c(obj[k], prefix + k, out);
    for (const k of req) if (!Object.hasOwn(obj, k)) add(out, { code: 'required', name: `${path}.${k}`, value: undefined, message: `${path}.${k} in body is required` });
  };
  const hasObj = minProperties !== undefined || maxProperties !== undefined || apForbid || !!apCheck || patternProps.length > 0 || props.length > 0 || req.length > 0;
  const hasNum = multipleOf !== undefined || maximum !== undefined || minimum !== undefined || numFormat !== '' || numType === 'integer';
  const hasSlice = !!items || !!tupleItems || maxItems !== undefined || minItems !== undefined || unique;

  return (data, path, out) => {
    if (data === null || data === undefined) {
      typeCheck?.(null, path, out);
      enumCheck?.(null, path, out);
      return;
    }
    typeCheck?.(data, path, out);
    propsCheck?.(data, path, out);
    const t = typeof data;
    if (t === 'string') {
      strCheck?.(data, path, out);
      fmtCheck?.(data, path, out);
    } else if (t === 'number') {
      if (hasNum) numCheck(data, path, out);
    } else if (Array.isArray(data)) {
      if (hasSlice) sliceCheck(data, path, out);
    }
    enumCheck?.(data, path, out);
    if (t === 'object' && !Array.isArray(data) && hasObj) objCheck(data, path, out);
  };
}

/** Go's %v of a []interface{} (only used inside messages that apiextensions replaces). */
function goList(values: unknown[]): string {
  return `[${values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' ')}]`;
}

/** apiextensions' kubeOpenAPIResultToFieldErrors: one field error per kube-openapi error. */
function toCause(e: OAErr): StatusCause {
  const field = e.name && e.name !== '.' ? e.name.replace(/^\./, '') : '<nil>';
  switch (e.code) {
    case 'required':
      return required(field);
    case 'enum':
      return notSupported(
        field,
        e.value,
        (e.values ?? []).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
      );
    case 'tooLong':
      return fieldError('FieldValueTooLong', field, `Too long: may not be more than ${e.valid} ${e.valid === 1 ? 'byte' : 'bytes'}`);
    case 'maxItems':
    case 'tooManyProps':
      return tooMany(field, e.value as number, e.valid!);
    case 'type': {
      const c = invalidValue(field, e.value ?? '', e.message);
      return { ...c, reason: 'FieldValueTypeInvalid' };
    }
    case 'plain':
      return invalidValue('<nil>', '', e.message);
    default:
      return invalidValue(field, e.value ?? '', e.message);
  }
}

// ---- embedded resources (objectmeta.Validate) and list types (listtype) ------------------------

/** Walks the object along the schema for the checks that are not kube-openapi's. */
type Walk = (data: unknown, path: string, out: StatusCause[]) => void;

function child(path: string, k: string): string {
  return path ? `${path}.${k}` : k;
}

const groupVersionRe = /^[^/]*(\/[^/]*)?$/;

function validateEmbedded(x: Record<string, unknown>, path: string, out: StatusCause[]): void {
  if (!Object.hasOwn(x, 'apiVersion')) out.push(required(child(path, 'apiVersion')));
  if (!Object.hasOwn(x, 'kind')) out.push(required(child(path, 'kind')));
  for (const k of Object.keys(x)) {
    const v = x[k];
    if (k === 'apiVersion') {
      const f = child(path, 'apiVersion');
      if (typeof v !== 'string') out.push(invalidValue(f, v, 'must be a string'));
      else if (!v) out.push(invalidValue(f, v, 'must not be empty'));
      else if (!groupVersionRe.test(v)) out.push(invalidValue(f, v, `unexpected GroupVersion string: ${v}`));
    } else if (k === 'kind') {
      const f = child(path, 'kind');
      if (typeof v !== 'string') out.push(invalidValue(f, v, 'must be a string'));
      else if (!v) out.push(invalidValue(f, v, 'must not be empty'));
      else {
        const errs = isDNS1035Label(v.toLowerCase());
        if (errs.length) out.push(invalidValue(f, v, `may have mixed case, but should otherwise match: ${errs.join(',')}`));
      }
    } else if (k === 'metadata') {
      validateEmbeddedMeta(v, child(path, 'metadata'), out);
    }
  }
}

/** ValidateObjectMeta for an embedded resource's metadata (name as a path segment, as upstream). */
function validateEmbeddedMeta(v: unknown, f: string, out: StatusCause[]): void {
  if (!isJsonObject(v)) {
    out.push(invalidValue(f, v, 'json: cannot unmarshal into Go value of type v1.ObjectMeta'));
    return;
  }
  const name = v['name'];
  if (typeof name === 'string' && name) for (const m of isPathSegmentName(name)) out.push(invalidValue(`${f}.name`, name, m));
  const gen = v['generateName'];
  if (typeof gen === 'string' && gen) for (const m of isPathSegmentName(gen).filter((m) => m !== `may not be '${gen}'`)) out.push(invalidValue(`${f}.generateName`, gen, m));
  const ns = v['namespace'];
  if (typeof ns === 'string' && ns) for (const m of isDNS1123Label(ns)) out.push(invalidValue(`${f}.namespace`, ns, m));
  out.push(...validateLabels(v['labels'], `${f}.labels`));
  out.push(...validateAnnotations(v['annotations'], `${f}.annotations`));
}

function setDuplicates(arr: readonly unknown[]): number[] {
  if (arr.length <= 1) return [];
  const seen = new Map<string, number>();
  const dups: number[] = [];
  for (let i = 0; i < arr.length; i++) {
    const x = arr[i];
    const key = typeof x === 'object' && x !== null ? `c${JSON.stringify(canonical(x))}` : `s${typeof x}:${String(x)}`;
    const n = seen.get(key);
    if (n === undefined) seen.set(key, 1);
    else {
      seen.set(key, n + 1);
      if (n === 1) dups.push(i);
    }
  }
  return dups;
}

/** Sorted keys, as Go's encoding/json marshals maps. */
function canonical(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(canonical);
  if (isJsonObject(x)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(x).sort()) o[k] = canonical(x[k]);
    return o;
  }
  return x;
}

const unspecified = Symbol('unspecified');

function validateListMap(s: JSONSchemaProps, arr: readonly unknown[], path: string, out: StatusCause[]): void {
  for (let i = 0; i < arr.length; i++) {
    const x = arr[i];
    if (x !== null && !isJsonObject(x)) {
      out.push(invalidValue(`${path}[${i}]`, x, 'must be an object for an array of list-type map'));
      return;
    }
  }
  if (arr.length <= 1) return;
  const keys = s['x-kubernetes-list-map-keys'] ?? [];
  if (keys.length === 1) {
    const kf = keys[0]!;
    const vals = arr.map((x) => (x === null || !Object.hasOwn(x as object, kf) ? unspecified : (x as Record<string, unknown>)[kf]));
    const dups = setDuplicates(vals.map((v) => (v === unspecified ? { '\u0000unspecified': true } : v)));
    for (const i of dups) out.push(duplicate(`${path}[${i}]`, vals[i] === unspecified ? {} : { [kf]: vals[i] }));
    return;
  }
  const vals = arr.map((x) => {
    const key: Record<string, unknown> = {};
    if (x !== null) for (const kf of keys) if (Object.hasOwn(x as object, kf)) key[kf] = (x as Record<string, unknown>)[kf];
    return key;
  });
  for (const i of setDuplicates(vals)) out.push(duplicate(`${path}[${i}]`, vals[i]));
}

/**
 * One walk for objectmeta.Validate and listtype.ValidateListSetsAndMaps. Upstream runs them as
 * two passes (all embedded-resource errors, then all list errors); `stage` selects one.
 */
function compileWalk(s: JSONSchemaProps, stage: 'meta' | 'list', memo: Map<JSONSchemaProps, Walk | null>): Walk | null {
  if (memo.has(s)) return memo.get(s)!;
  memo.set(s, null);
  const props = new Map<string, Walk>();
  if (s.properties) for (const [k, p] of Object.entries(s.properties)) {
    const w = compileWalk(p, stage, memo);
    if (w) props.set(k, w);
  }
  const ap = typeof s.additionalProperties === 'object' && s.additionalProperties !== null ? compileWalk(s.additionalProperties, stage, memo) : null;
  const items = s.items && !Array.isArray(s.items) ? compileWalk(s.items, stage, memo) : null;
  const embedded = stage === 'meta' && s['x-kubernetes-embedded-resource'] === true;
  const listType = stage === 'list' ? s['x-kubernetes-list-type'] : undefined;
  const hasList = listType === 'set' || listType === 'map';
  if (!props.size && !ap && !items && !embedded && !hasList) return null;
  const w: Walk = (data, path, out) => {
    if (Array.isArray(data)) {
      if (listType === 'set') for (const i of setDuplicates(data)) out.push(duplicate(`${path}[${i}]`, data[i]));
      else if (listType === 'map') validateListMap(s, data, path, out);
      if (items) for (let i = 0; i < data.length; i++) items(data[i], `${path}[${i}]`, out);
    } else if (isJsonObject(data)) {
      if (embedded) validateEmbedded(data, path, out);
      if (!props.size && !ap) return;
      for (const k of Object.keys(data)) {
        const p = props.get(k);
        if (p) p(data[k], child(path, k), out);
        else if (ap && !(s.properties && Object.hasOwn(s.properties, k))) ap(data[k], `${path}[${k}]`, out);
      }
    }
  };
  memo.set(s, w);
  return w;
}

// ---- public API -------------------------------------------------------------------------------

/** A compiled validator of whole custom resources; safe to reuse and share (no state). */
export type CustomResourceValidator = (obj: unknown) => StatusCause[];

/**
 * Compiles `schema` once (per CRD version) into a validator; errors in upstream's order of
 * stages: OpenAPI schema, then embedded resources, then list-type set/map duplicates.
 */
export function compileValidator(schema: JSONSchemaProps): CustomResourceValidator {
  const oa = compile(schema);
  // The root is an embedded resource for objectmeta validation only to check nested ones:
  // upstream calls objectmeta.Validate with isResourceRoot=false on the whole object.
  const meta = compileWalk(schema, 'meta', new Map());
  const list = compileWalk(schema, 'list', new Map());
  return (obj) => {
    const errs: Sink = [];
    oa(obj, '', errs);
    const out = errs.map(toCause);
    meta?.(obj, '', out);
    list?.(obj, '', out);
    return out;
  };
}

const cache = new WeakMap<JSONSchemaProps, CustomResourceValidator>();

/**
 * Validates `obj` (a whole custom resource) against the structural schema of its version, as
 * upstream does after defaulting and pruning: field paths and messages as upstream
 * ('spec.replicas', 'Invalid value: "string": spec.replicas in body must be of type integer: "string"').
 * Root `metadata` is checked only against what the schema says of it (name/generateName); the
 * generic machinery validates ObjectMeta. Compiles `schema` on first use (cached per schema object).
 */
export function validateCustomResource(schema: JSONSchemaProps, obj: unknown): StatusCause[] {
  let v = cache.get(schema);
  if (!v) {
    v = compileValidator(schema);
    cache.set(schema, v);
  }
  return v(obj);
}

/**
 * kube-openapi validation of one value found at `path` in an object (CRD default validation:
 * a `default` is checked as the value of its field); field paths are then `fieldPrefix` followed
 * by what comes after `path` ('...properties[spec].properties[replicas].default').
 */
export function validateValueAt(schema: JSONSchemaProps, value: unknown, path: string, fieldPrefix: string): StatusCause[] {
  const errs: Sink = [];
  compile(schema)(value, path, errs);
  return errs.map((e) => {
    const c = toCause(e);
    if (c.field === '<nil>') return c;
    const f = c.field ?? '';
    return { ...c, field: f === path ? fieldPrefix : f.startsWith(path) ? fieldPrefix + f.slice(path.length) : f };
  });
}
