/**
 * Validation building blocks shared by every kind: field errors shaped as upstream's field.Error
 * (reason, "field: message"), and the name, label, annotation and qualified-name rules of
 * apimachinery. Each check returns a list of causes (empty = valid); callers concatenate.
 */
import type { StatusCause } from './types.ts';

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueNotFound'
  | 'InternalError';

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

export function fieldError(type: FieldErrorType, field: string, message: string): StatusCause {
  return { reason: type, message, field };
}

export const required = (field: string, detail = ''): StatusCause =>
  fieldError('FieldValueRequired', field, detail ? `Required value: ${detail}` : 'Required value');

export const invalidValue = (field: string, value: unknown, detail: string): StatusCause =>
  fieldError('FieldValueInvalid', field, `Invalid value: ${show(value)}${detail ? `: ${detail}` : ''}`);

export const notSupported = (field: string, value: unknown, supported: readonly string[]): StatusCause =>
  fieldError(
    'FieldValueNotSupported',
    field,
    `Unsupported value: ${show(value)}${supported.length ? `: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` : ''}`,
  );

export const duplicate = (field: string, value: unknown): StatusCause =>
  fieldError('FieldValueDuplicate', field, `Duplicate value: ${show(value)}`);

export const forbidden = (field: string, detail: string): StatusCause => fieldError('FieldValueForbidden', field, `Forbidden: ${detail}`);

export const tooLong = (field: string, max: number): StatusCause =>
  fieldError('FieldValueTooLong', field, `Too long: may not be more than ${max} bytes`);

export const tooMany = (field: string, actual: number, max: number): StatusCause =>
  fieldError('FieldValueTooMany', field, `Too many: ${actual}: must have at most ${max} items`);

export const notFoundField = (field: string, value: unknown): StatusCause =>
  fieldError('FieldValueNotFound', field, `Not found: ${show(value)}`);

/** `field is immutable` when `a` and `b` differ (deep comparison of JSON values). */
export function immutable(field: string, a: unknown, b: unknown): StatusCause[] {
  return jsonEqual(a, b) ? [] : [invalidValue(field, a, 'field is immutable')];
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const bk = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

// ---- names -----------------------------------------------------------------------------------

const dns1123LabelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123SubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035LabelRe = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedNameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Messages (not causes): empty when valid. */
export function isDNS1123Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!dns1123LabelRe.test(v))
    errs.push(
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    );
  return errs;
}

export function isDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push('must be no more than 253 characters');
  if (!dns1123SubdomainRe.test(v))
    errs.push(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  return errs;
}

export function isDNS1035Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!dns1035LabelRe.test(v))
    errs.push(
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
  return errs;
}

export function isPathSegmentName(v: string): string[] {
  if (v === '.' || v === '..') return [`may not be '${v}'`];
  const errs: string[] = [];
  for (const bad of ['/', '%']) if (v.includes(bad)) errs.push(`may not contain '${bad}'`);
  return errs;
}

/** A qualified name: optional DNS subdomain prefix and '/', then a name of at most 63 characters. */
export function isQualifiedName(v: string): string[] {
  const errs: string[] = [];
  const parts = v.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const m of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${m}`);
  } else {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !qualifiedNameRe.test(name))
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  return errs;
}

export function isLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!labelValueRe.test(v))
    errs.push(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    );
  return errs;
}

export function validateLabels(labels: unknown, field: string): StatusCause[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) return [invalidValue(field, labels, 'must be a map of strings')];
  const out: StatusCause[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const m of isQualifiedName(k)) out.push(invalidValue(field, k, m));
    if (typeof v !== 'string') out.push(invalidValue(`${field}[${k}]`, v, 'must be a string'));
    else for (const m of isLabelValue(v)) out.push(invalidValue(field, v, m));
  }
  return out;
}

const totalAnnotationSizeLimit = 256 * 1024;

export function validateAnnotations(annotations: unknown, field: string): StatusCause[] {
  if (annotations === undefined || annotations === null) return [];
  if (typeof annotations !== 'object' || Array.isArray(annotations)) return [invalidValue(field, annotations, 'must be a map of strings')];
  const out: StatusCause[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    for (const m of isQualifiedName(k.toLowerCase())) out.push(invalidValue(field, k, m));
    if (typeof v !== 'string') out.push(invalidValue(`${field}[${k}]`, v, 'must be a string'));
    size += k.length + (typeof v === 'string' ? v.length : 0);
  }
  if (size > totalAnnotationSizeLimit) out.push(tooLong(field, totalAnnotationSizeLimit));
  return out;
}

/** Validates a value against a name rule; returns messages. */
export function nameRuleMessages(rule: 'subdomain' | 'label' | 'dns1035' | 'path', v: string): string[] {
  switch (rule) {
    case 'subdomain':
      return isDNS1123Subdomain(v);
    case 'label':
      return isDNS1123Label(v);
    case 'dns1035':
      return isDNS1035Label(v);
    case 'path':
      return isPathSegmentName(v);
  }
}

export function isValidPortNum(p: unknown): boolean {
  return Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535;
}

const ianaSvcNameRe = /^[-a-z0-9]+$/;
/** IANA_SVC_NAME: 1-15 chars, lowercase alphanumeric and '-', at least one letter, no '--', no leading/trailing '-'. */
export function isValidPortName(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 15) errs.push('must be no more than 15 characters');
  if (!ianaSvcNameRe.test(v)) errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (v.includes('--')) errs.push("must not contain consecutive hyphens");
  if (!/[a-z]/.test(v)) errs.push('must contain at least one letter (a-z)');
  if (v.startsWith('-') || v.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** Reads a dotted path ('spec.template.spec') from a JSON object. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (!seg) continue;
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}
