/**
 * The generic object-metadata rules every kind gets (upstream ValidateObjectMeta and
 * ValidateObjectMetaUpdate, and name generation): each check returns field errors.
 */
import type { ObjectMeta, StatusCause } from './types.ts';
import type { NameRule } from './resource.ts';
import { badRequest } from './errors.ts';
import { formatTime, parseTime, sameTime } from './times.ts';
import {
  forbidden,
  immutable,
  invalidValue,
  isDNS1123Label,
  isQualifiedName,
  nameRuleMessages,
  required,
  validateAnnotations,
  validateLabels,
  duplicate,
} from './validation.ts';

const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
const randomLength = 5;
const maxGeneratedNameLength = 63 - randomLength;

export function generateNameSuffix(): string {
  let s = '';
  for (let i = 0; i < randomLength; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

/** A name from generateName: the prefix (cut to 58 characters) plus 5 random characters. */
export function nameFromGenerateName(prefix: string): string {
  const p = prefix.length > maxGeneratedNameLength ? prefix.slice(0, maxGeneratedNameLength) : prefix;
  return p + generateNameSuffix();
}

export interface ObjectMetaOptions {
  namespaced: boolean;
  nameRule: NameRule;
  requestNamespace?: string;
}

export function validateObjectMeta(meta: ObjectMeta, opts: ObjectMetaOptions): StatusCause[] {
  const out: StatusCause[] = [];
  if (meta.generateName) {
    // The prefix is validated with a trailing character that a random suffix would add.
    const msgs = nameRuleMessages(opts.nameRule, meta.generateName.replace(/-$/, '') + (meta.generateName.endsWith('-') ? 'a' : ''));
    if (opts.nameRule !== 'path') for (const m of msgs) out.push(invalidValue('metadata.generateName', meta.generateName, m));
  }
  if (!meta.name) {
    if (!meta.generateName) out.push(required('metadata.name', 'name or generateName is required'));
  } else {
    for (const m of nameRuleMessages(opts.nameRule, meta.name)) out.push(invalidValue('metadata.name', meta.name, m));
  }
  if (opts.namespaced) {
    if (!meta.namespace) out.push(required('metadata.namespace', ''));
    else for (const m of isDNS1123Label(meta.namespace)) out.push(invalidValue('metadata.namespace', meta.namespace, m));
  } else if (meta.namespace) {
    out.push(forbidden('metadata.namespace', 'not allowed on this type'));
  }
  if (meta.generation !== undefined && meta.generation < 0) out.push(invalidValue('metadata.generation', meta.generation, 'must be greater than or equal to 0'));
  out.push(...validateLabels(meta.labels, 'metadata.labels'));
  out.push(...validateAnnotations(meta.annotations, 'metadata.annotations'));
  out.push(...validateOwnerReferences(meta.ownerReferences));
  out.push(...validateFinalizers(meta.finalizers));
  return out;
}

function validateOwnerReferences(refs: ObjectMeta['ownerReferences']): StatusCause[] {
  if (refs === undefined || refs === null) return [];
  if (!Array.isArray(refs)) return [invalidValue('metadata.ownerReferences', refs, 'must be a list')];
  const out: StatusCause[] = [];
  let controllers = 0;
  refs.forEach((r, i) => {
    const f = `metadata.ownerReferences[${i}]`;
    if (!r.apiVersion) out.push(invalidValue(`${f}.apiVersion`, r.apiVersion ?? '', 'version must not be empty'));
    if (!r.kind) out.push(invalidValue(`${f}.kind`, r.kind ?? '', 'kind must not be empty'));
    if (!r.name) out.push(invalidValue(`${f}.name`, r.name ?? '', 'name must not be empty'));
    if (!r.uid) out.push(invalidValue(`${f}.uid`, r.uid ?? '', 'uid must not be empty'));
    if (r.controller) controllers++;
  });
  if (controllers > 1) {
    out.push(invalidValue('metadata.ownerReferences', refs, 'Only one reference can have Controller set to true'));
  }
  return out;
}

function validateFinalizers(fins: ObjectMeta['finalizers']): StatusCause[] {
  if (fins === undefined || fins === null) return [];
  if (!Array.isArray(fins)) return [invalidValue('metadata.finalizers', fins, 'must be a list')];
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  fins.forEach((f, i) => {
    for (const m of isQualifiedName(f)) out.push(invalidValue(`metadata.finalizers[${i}]`, f, m));
    if (seen.has(f)) out.push(duplicate(`metadata.finalizers[${i}]`, f));
    seen.add(f);
  });
  return out;
}

/**
 * Upstream ValidateObjectMetaAccessorUpdate: no finalizer added once deletion started; name,
 * namespace, uid, creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds immutable.
 * Timestamps compare as instants (metav1.Time), never as text: `...24.000Z` is `...24Z`.
 */
export function validateObjectMetaUpdate(meta: ObjectMeta, old: ObjectMeta): StatusCause[] {
  const out: StatusCause[] = [];
  if (old.deletionTimestamp) {
    const added = (meta.finalizers ?? []).filter((f) => !(old.finalizers ?? []).includes(f));
    if (added.length) out.push(forbidden('metadata.finalizers', `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`));
  }
  out.push(...immutable('metadata.name', meta.name, old.name));
  out.push(...immutable('metadata.namespace', meta.namespace ?? '', old.namespace ?? ''));
  out.push(...immutable('metadata.uid', meta.uid, old.uid));
  out.push(...immutableTime('metadata.creationTimestamp', meta.creationTimestamp, old.creationTimestamp));
  out.push(...immutableTime('metadata.deletionTimestamp', meta.deletionTimestamp, old.deletionTimestamp));
  out.push(...immutable('metadata.deletionGracePeriodSeconds', meta.deletionGracePeriodSeconds ?? null, old.deletionGracePeriodSeconds ?? null));
  return out;
}

function immutableTime(field: string, a: string | null | undefined, b: string | null | undefined): StatusCause[] {
  if (sameTime(a, b)) return [];
  const t = typeof a === 'string' ? parseTime(a) : undefined;
  // Upstream prints the new value with Go's time.Time String().
  const shown = t ? `${formatTime(t).replace('T', ' ').replace('Z', '')} +0000 UTC` : (a ?? null);
  return [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${typeof shown === 'string' && t ? shown : JSON.stringify(shown)}: field is immutable` }];
}

/** Rejects an object whose namespace differs from the request's. */
export function checkNamespaceMatch(meta: ObjectMeta, requestNamespace: string): void {
  if (meta.namespace && requestNamespace && meta.namespace !== requestNamespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
}
