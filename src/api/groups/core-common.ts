/**
 * Helpers shared by the core/v1, events.k8s.io and discovery.k8s.io declarations (core-*.ts,
 * core.ts, events.ts, discovery.ts): loose access to plain JSON objects, the table columns every
 * kind repeats, quantity and resource-name checks as upstream's core validation helpers do them,
 * config-key rules, and small update hooks. Pure functions; nothing here keeps state.
 */
import { copyJson } from '../../util/freeze.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import type { TableColumn } from '../resource.ts';
import { age } from '../printers.ts';
import { invalidValue, isQualifiedName } from '../validation.ts';
import { milliValue, parseQuantity } from '../quantity.ts';

/** A JSON object read loosely: kinds are plain data, so fields are checked where they are used. */
export type J = Record<string, any>;

export function isObj(v: unknown): v is J {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The value when it is an object, else an empty (detached) object. */
export function obj(v: unknown): J {
  return isObj(v) ? v : {};
}

/** The value when it is an array, else an empty array. */
export function arr(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

/** The value when it is a string, else ''. */
export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** parent[key] as an object, created when absent or not an object. */
export function ensureObj(parent: J, key: string): J {
  const v = parent[key];
  if (isObj(v)) return v;
  const o: J = {};
  parent[key] = o;
  return o;
}

/** Number of own keys of a map-like value (0 when not an object). */
export function mapSize(v: unknown): number {
  return isObj(v) ? Object.keys(v).length : 0;
}

/** Current time as metav1.Time serializes it (RFC 3339, second precision). */
export function nowRfc3339(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A mutable deep copy of (part of) an API object. */
export function clone<T>(v: T): T {
  return copyJson(v);
}

// ---- tables ----------------------------------------------------------------------------------

export const nameColumn: TableColumn = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  priority: 0,
};

export const ageColumn: TableColumn = {
  name: 'Age',
  type: 'string',
  description: 'Time since the object was created (metadata.creationTimestamp).',
  priority: 0,
};

/** A string column; priority 1 shows only with -o wide. */
export function col(name: string, description: string, priority: 0 | 1 = 0, type: TableColumn['type'] = 'string'): TableColumn {
  return { name, type, description, priority };
}

export function ageOf(o: KubeObject, now: number): string {
  return age(o.metadata.creationTimestamp, now);
}

/** A quantity as a cell: the stored string, or '0' when absent (resource.Quantity's zero value). */
export function quantityCell(q: unknown): string {
  if (typeof q === 'string') return q;
  if (typeof q === 'number') return String(q);
  return '0';
}

// ---- quantities ------------------------------------------------------------------------------

export const quantityFormatError =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** Display form of a quantity value inside a message. */
export function qs(q: unknown): string {
  return typeof q === 'number' ? String(q) : String(q ?? '');
}

/** A quantity that does not parse (upstream rejects it while decoding). */
export function validateQuantitySyntax(q: unknown, field: string): StatusCause[] {
  return parseQuantity(q) === undefined ? [invalidValue(field, q, quantityFormatError)] : [];
}

/** Upstream ValidateResourceQuantityValue: parses, is not negative, and is whole for integer resources. */
export function validateResourceQuantityValue(resource: string, q: unknown, field: string): StatusCause[] {
  const v = parseQuantity(q);
  if (v === undefined) return [invalidValue(field, q, quantityFormatError)];
  const out: StatusCause[] = [];
  if (v < 0) out.push(invalidValue(field, qs(q), 'must be greater than or equal to 0'));
  if (isIntegerResourceName(resource) && milliValue(q) % 1000 !== 0) out.push(invalidValue(field, qs(q), 'must be an integer'));
  return out;
}

// ---- resource names (upstream pkg/apis/core/helper) --------------------------------------------

const standardResources = new Set([
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'pods',
  'services',
  'replicationcontrollers',
  'resourcequotas',
  'secrets',
  'configmaps',
  'persistentvolumeclaims',
  'storage',
  'requests.storage',
  'services.nodeports',
  'services.loadbalancers',
]);

const standardQuotaResources = new Set([
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.storage',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'pods',
  'services',
  'replicationcontrollers',
  'resourcequotas',
  'secrets',
  'persistentvolumeclaims',
  'configmaps',
  'services.nodeports',
  'services.loadbalancers',
]);

const integerResources = new Set([
  'pods',
  'services',
  'replicationcontrollers',
  'resourcequotas',
  'secrets',
  'configmaps',
  'persistentvolumeclaims',
  'services.nodeports',
  'services.loadbalancers',
]);

const standardContainerResources = new Set(['cpu', 'memory', 'ephemeral-storage']);

export function isHugePageResourceName(name: string): boolean {
  return name.startsWith('hugepages-');
}

function isQuotaHugePageResourceName(name: string): boolean {
  return name.startsWith('hugepages-') || name.startsWith('requests.hugepages-');
}

/** Unprefixed, or prefixed with a kubernetes.io domain. */
export function isNativeResource(name: string): boolean {
  if (!name.includes('/')) return true;
  const prefix = name.split('/')[0]!;
  return prefix === 'kubernetes.io' || prefix.endsWith('.kubernetes.io');
}

export function isExtendedResourceName(name: string): boolean {
  if (isNativeResource(name) || name.startsWith('requests.')) return false;
  return isQualifiedName(`requests.${name}`).length === 0;
}

export function isIntegerResourceName(name: string): boolean {
  return integerResources.has(name) || isExtendedResourceName(name);
}

export function isOvercommitAllowed(name: string): boolean {
  return isNativeResource(name) && !isHugePageResourceName(name);
}

/** Upstream validateResourceName: a qualified name; unprefixed names must be standard. */
export function validateResourceName(name: string, field: string): StatusCause[] {
  const errs = isQualifiedName(name).map((m) => invalidValue(field, name, m));
  if (errs.length) return errs;
  if (!name.includes('/') && !(standardResources.has(name) || isQuotaHugePageResourceName(name))) {
    return [invalidValue(field, name, 'must be a standard resource type or fully qualified')];
  }
  return [];
}

export function validateQuotaResourceName(name: string, field: string): StatusCause[] {
  const errs = validateResourceName(name, field);
  if (!name.includes('/') && !(standardQuotaResources.has(name) || isQuotaHugePageResourceName(name))) {
    errs.push(invalidValue(field, name, 'must be a standard resource for quota'));
  }
  return errs;
}

export function validateContainerResourceName(name: string, field: string): StatusCause[] {
  const errs = validateResourceName(name, field);
  if (!name.includes('/')) {
    if (!(standardContainerResources.has(name) || isHugePageResourceName(name))) {
      errs.push(invalidValue(field, name, 'must be a standard resource for containers'));
    }
  } else if (!isNativeResource(name) && !isExtendedResourceName(name)) {
    errs.push(invalidValue(field, name, "doesn't follow extended resource name standard"));
  }
  return errs;
}

// ---- config keys (upstream IsConfigMapKey) ----------------------------------------------------

const configKeyRe = /^[-._a-zA-Z0-9]+$/;

export function isConfigMapKey(key: string): string[] {
  const errs: string[] = [];
  if (key.length > 253) errs.push('must be no more than 253 characters');
  if (!configKeyRe.test(key)) {
    errs.push(
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    );
  }
  if (key === '.') errs.push("must not be '.'");
  else if (key === '..') errs.push("must not be '..'");
  else if (key.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

// ---- update hooks ----------------------------------------------------------------------------

/** Main-resource update of a kind with a status subresource: the stored status is kept. */
export function keepStatus(o: KubeObject, old: KubeObject): void {
  if (old['status'] === undefined) delete o['status'];
  else o['status'] = clone(old['status']);
}

/** Status update: everything but status comes from the stored object (as the generic default does). */
export function keepAllButStatus(o: KubeObject, old: KubeObject): void {
  for (const k of Object.keys(o)) if (k !== 'status' && k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') delete o[k];
  for (const k of Object.keys(old)) if (k !== 'status' && k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') o[k] = clone(old[k]);
  const m = o.metadata;
  if (old.metadata.ownerReferences) m.ownerReferences = old.metadata.ownerReferences;
  else delete m.ownerReferences;
  if (old.metadata.finalizers) m.finalizers = old.metadata.finalizers;
  else delete m.finalizers;
}

/** Same namespace and name (the object being written and its stored self). */
export function sameObject(a: KubeObject, b: KubeObject): boolean {
  return (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '') && a.metadata.name === b.metadata.name;
}
