/**
 * Table output (meta.k8s.io Table) for `kubectl get`: the resource's declared columns, or
 * upstream's default (Name, Created At); rows carry the object as PartialObjectMetadata,
 * the full object, or nothing, per `includeObject`.
 */
import type { TableColumn, TableDef } from '../api/resource.ts';
import type { KubeObject } from '../api/types.ts';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const defaultTable: TableDef = {
  columns: [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    { name: 'Created At', type: 'date', description: 'The time the object was created.', priority: 0 },
  ],
  row: (obj) => [obj.metadata.name ?? '', obj.metadata.creationTimestamp ?? ''],
};

export function tableOf(def: TableDef | undefined): TableDef {
  return def ?? defaultTable;
}

export function partialObjectMetadata(obj: KubeObject, version: string): KubeObject {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata };
}

function rowObject(obj: KubeObject, include: IncludeObject, version: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return partialObjectMetadata(obj, version);
}

export interface TableOptions {
  include: IncludeObject;
  version: 'v1' | 'v1beta1';
  now: number;
  /** Omit column definitions (watch events after the first). */
  noHeaders?: boolean;
}

export function buildTable(
  table: TableDef,
  objects: readonly KubeObject[],
  meta: { resourceVersion?: string; continue?: string; remainingItemCount?: number },
  opts: TableOptions,
): Record<string, unknown> {
  const rows = objects.map((obj) => {
    const r: Record<string, unknown> = { cells: safeRow(table, obj, opts.now) };
    const o = rowObject(obj, opts.include, opts.version);
    if (o !== undefined) r['object'] = o;
    return r;
  });
  const metadata: Record<string, unknown> = {};
  if (meta.resourceVersion) metadata['resourceVersion'] = meta.resourceVersion;
  if (meta.continue) metadata['continue'] = meta.continue;
  if (meta.remainingItemCount !== undefined) metadata['remainingItemCount'] = meta.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata,
    columnDefinitions: opts.noHeaders ? null : table.columns.map(columnDef),
    rows,
  };
}

function columnDef(c: TableColumn): Record<string, unknown> {
  const d: Record<string, unknown> = { name: c.name, type: c.type, format: c.format ?? '', description: c.description, priority: c.priority };
  return d;
}

function safeRow(table: TableDef, obj: KubeObject, now: number): unknown[] {
  try {
    return table.row(obj, now);
  } catch {
    return table.columns.map((c, i) => (i === 0 ? (obj.metadata.name ?? '') : c.type === 'integer' || c.type === 'number' ? 0 : '<unknown>'));
  }
}
