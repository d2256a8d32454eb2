/**
 * Test helpers for the core group declarations: run a declaration's hooks in the order the generic
 * store runs them (create: prepareForCreate → default → validate; update: prepareForUpdate or
 * prepareForStatusUpdate, else the generic status default → default → validate with the old object), and summarize causes as
 * "field: reason" strings for table tests. Used by the *.test.ts files beside it only.
 */
import type { ResourceDef } from '../resource.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import { keepAllButStatus } from './core-common.ts';

/** An object whose fields tests read freely. */
export type TestObject = KubeObject & Record<string, any>;

/** A fresh object with metadata; `name` and `namespace` default to 'x' and 'default' (when namespaced). */
export function make(def: ResourceDef, fields: Record<string, unknown> = {}, meta: KubeObject['metadata'] = {}): TestObject {
  const metadata: KubeObject['metadata'] = { name: 'x', creationTimestamp: '2024-01-01T00:00:00Z', ...meta };
  if (def.namespaced && metadata.namespace === undefined) metadata.namespace = 'default';
  return structuredClone({ apiVersion: def.group ? `${def.group}/${def.version}` : def.version, kind: def.kind, metadata, ...fields });
}

export function create(def: ResourceDef, obj: KubeObject): { obj: TestObject; causes: StatusCause[] } {
  const o = structuredClone(obj);
  def.prepareForCreate?.(o);
  def.default?.(o);
  return { obj: o, causes: def.validate?.(o, { subresource: '' }) ?? [] };
}

export function update(def: ResourceDef, obj: KubeObject, old: KubeObject, subresource = ''): { obj: TestObject; causes: StatusCause[] } {
  const o = structuredClone(obj);
  const prev = structuredClone(old);
  if (subresource === 'status') (def.prepareForStatusUpdate ?? keepAllButStatus)(o, prev);
  else def.prepareForUpdate?.(o, prev);
  def.default?.(o);
  return { obj: o, causes: def.validate?.(o, { old: prev, subresource }) ?? [] };
}

/** Causes as "field: reason" strings, in order. */
export function summary(causes: StatusCause[]): string[] {
  return causes.map((c) => `${c.field ?? ''}: ${c.reason ?? ''}`);
}

/** Whole rows of cells at a fixed "now" one hour after the objects' creation. */
export const oneHourLater = Date.parse('2024-01-01T01:00:00Z');
