/** Small builders for declarations of kinds whose behaviour is names, scope and a table. */
import type { ResourceDef, TableColumn, TableDef } from '../resource.ts';
import type { KubeObject } from '../types.ts';
import { age } from '../printers.ts';

export const nameCol: TableColumn = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 };
export const ageCol: TableColumn = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 };

export function col(name: string, type: TableColumn['type'] = 'string', priority: 0 | 1 = 0): TableColumn {
  return { name, type, description: name, priority };
}

/** A table: Name, the given columns, then Age. */
export function table(cols: TableColumn[], cells: (o: KubeObject) => unknown[]): TableDef {
  return {
    columns: [nameCol, ...cols.filter((c) => c.priority === 0), ageCol, ...cols.filter((c) => c.priority === 1)],
    row: (o, now) => {
      const c = cells(o);
      const main = cols.map((x, i) => [x, c[i]] as const);
      return [o.metadata.name ?? '', ...main.filter(([x]) => x.priority === 0).map(([, v]) => v), age(o.metadata.creationTimestamp, now), ...main.filter(([x]) => x.priority === 1).map(([, v]) => v)];
    },
  };
}

export function def(d: ResourceDef): ResourceDef {
  return d;
}

export function g(o: unknown, ...path: string[]): unknown {
  let cur = o;
  for (const p of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export const review = { verbs: ['create'] as ResourceDef['verbs'], review: true as const };
