import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/types.ts';
import { enqueueForObject, enqueueForOwner, enqueueFromMap, type EventHandler } from './handler.ts';
import type { Request } from './reconcile.ts';

const db = { group: 'example.com', kind: 'Database', namespaced: true };
const owned = (refs: { apiVersion: string; kind: string; name: string; controller?: boolean }[], ns = 'ns'): KubeObject => ({
  metadata: { name: 'child', namespace: ns, ownerReferences: refs.map((r) => ({ uid: `u-${r.name}`, ...r })) },
});

function collect(h: EventHandler<KubeObject>, ev: 'create' | 'delete' | 'update', a: KubeObject, b?: KubeObject): Request[] {
  const out: Request[] = [];
  if (ev === 'update') h.update(a, b!, (r) => out.push(r));
  else h[ev](a, (r) => out.push(r));
  return out;
}

const cases: { name: string; handler: EventHandler<KubeObject>; ev: 'create' | 'delete' | 'update'; a: KubeObject; b?: KubeObject; want: Request[] }[] = [
  { name: 'enqueueForObject enqueues the object', handler: enqueueForObject(), ev: 'create', a: owned([]), want: [{ namespace: 'ns', name: 'child' }] },
  { name: 'enqueueForObject enqueues the new object of an update', handler: enqueueForObject(), ev: 'update', a: owned([]), b: { metadata: { name: 'other', namespace: 'ns' } }, want: [{ namespace: 'ns', name: 'other' }] },
  {
    name: 'enqueueForOwner enqueues the controller of the owner kind',
    handler: enqueueForOwner(db, { onlyController: true }),
    ev: 'create',
    a: owned([{ apiVersion: 'example.com/v1', kind: 'Database', name: 'db1', controller: true }, { apiVersion: 'example.com/v1', kind: 'Database', name: 'db2' }]),
    want: [{ namespace: 'ns', name: 'db1' }],
  },
  {
    name: 'enqueueForOwner without onlyController enqueues every owner of the kind',
    handler: enqueueForOwner(db),
    ev: 'delete',
    a: owned([{ apiVersion: 'example.com/v1', kind: 'Database', name: 'db1', controller: true }, { apiVersion: 'example.com/v2', kind: 'Database', name: 'db2' }]),
    want: [{ namespace: 'ns', name: 'db1' }, { namespace: 'ns', name: 'db2' }],
  },
  {
    name: 'enqueueForOwner ignores another group with the same kind',
    handler: enqueueForOwner(db),
    ev: 'create',
    a: owned([{ apiVersion: 'other.io/v1', kind: 'Database', name: 'db1', controller: true }]),
    want: [],
  },
  {
    name: 'enqueueForOwner of a cluster-scoped owner enqueues no namespace',
    handler: enqueueForOwner({ group: '', kind: 'Node', namespaced: false }),
    ev: 'create',
    a: owned([{ apiVersion: 'v1', kind: 'Node', name: 'n1', controller: true }]),
    want: [{ namespace: '', name: 'n1' }],
  },
  {
    name: 'enqueueForOwner enqueues the old and the new owner of an update',
    handler: enqueueForOwner(db, { onlyController: true }),
    ev: 'update',
    a: owned([{ apiVersion: 'example.com/v1', kind: 'Database', name: 'old', controller: true }]),
    b: owned([{ apiVersion: 'example.com/v1', kind: 'Database', name: 'new', controller: true }]),
    want: [{ namespace: 'ns', name: 'old' }, { namespace: 'ns', name: 'new' }],
  },
  {
    name: 'enqueueFromMap enqueues what the function maps to',
    handler: enqueueFromMap((o) => [{ namespace: 'x', name: `from-${o.metadata.name}` }]),
    ev: 'create',
    a: owned([]),
    want: [{ namespace: 'x', name: 'from-child' }],
  },
];

for (const c of cases) test(c.name, () => assert.deepStrictEqual(collect(c.handler, c.ev, c.a, c.b), c.want));
