/**
 * Structural sharing of repeated parts: equal parts of separately decoded objects become one
 * object, different ones stay apart, small ones are left alone, and a watch cache fed two pods
 * of one template hands out frozen objects that share their containers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Interner, emptyObject, maxSharedStringChars, minInternChars, stringTableSize } from './intern.ts';
import { WatchCache } from './watchcache.ts';
import { openSqliteStore } from '../storage/sqlite.ts';
import type { KubeObject } from '../api/types.ts';

function pod(name: string, image: string, node: string): Record<string, unknown> {
  return JSON.parse(JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'web', 'pod-template-hash': 'abc123' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc123', uid: 'u-1', controller: true }], managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', time: `2026-12-06T00:00:0${name.length % 10}Z`, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } } }] },
    spec: { nodeName: node, containers: [{ name: 'c', image, resources: { requests: { cpu: '10m' } } }], tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }] },
  }));
}

test('equal parts of two objects become one; different parts and per-object fields stay apart', () => {
  const t = new Interner();
  const a = pod('a', 'nginx:1', 'n1');
  const b = pod('b', 'nginx:1', 'n2');
  const c = pod('c', 'nginx:2', 'n1');
  t.object(a);
  t.object(b);
  t.object(c);
  const spec = (o: Record<string, unknown>) => o['spec'] as Record<string, unknown>;
  const meta = (o: Record<string, unknown>) => o['metadata'] as Record<string, unknown>;
  assert.equal(spec(a)['containers'], spec(b)['containers']);
  assert.notEqual(spec(a)['containers'], spec(c)['containers']);
  assert.equal(spec(a)['tolerations'], spec(c)['tolerations']);
  assert.equal(meta(a)['labels'], meta(b)['labels']);
  assert.equal(meta(a)['ownerReferences'], meta(c)['ownerReferences']);
  const mf = (o: Record<string, unknown>) => (meta(o)['managedFields'] as Record<string, unknown>[])[0]!;
  assert.equal(mf(a)['fieldsV1'], mf(b)['fieldsV1']);
  assert.notEqual(mf(a), mf(b), 'an entry with its own time is not shared, only its field set');
  assert.equal(spec(a)['nodeName'], 'n1');
  assert.equal(spec(b)['nodeName'], 'n2');
});

test('parts shorter than the threshold are not entered', () => {
  const t = new Interner();
  const small = { a: 'b' };
  assert.ok(JSON.stringify(small).length < minInternChars);
  assert.equal(t.part(small), small);
  assert.equal(t.size, 0);
  assert.notEqual(t.part({ a: 'b' }), small);
});

test('a pod template shares its parts with its pods', () => {
  const t = new Interner();
  const p = pod('p', 'nginx:1', 'n1');
  const rs = { metadata: { name: 'web-abc123' }, spec: { template: { metadata: {}, spec: JSON.parse(JSON.stringify({ containers: [{ name: 'c', image: 'nginx:1', resources: { requests: { cpu: '10m' } } }] })) } } };
  t.object(p);
  t.object(rs);
  assert.equal((rs.spec.template.spec as Record<string, unknown>)['containers'], (p['spec'] as Record<string, unknown>)['containers']);
});

test('the watch cache hands out frozen objects that share repeated parts', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-intern-'));
  const store = openSqliteStore(path.join(dir, 'db'));
  const cache = new WatchCache(store, '/registry/pods/', { decode: (v, rv) => ({ ...JSON.parse(Buffer.from(v).toString()), metadata: { ...JSON.parse(Buffer.from(v).toString()).metadata, resourceVersion: String(rv) } }) as KubeObject, interner: new Interner() });
  try {
    await store.create('/registry/pods/default/a', Buffer.from(JSON.stringify(pod('a', 'nginx:1', 'n1'))));
    await store.create('/registry/pods/default/b', Buffer.from(JSON.stringify(pod('b', 'nginx:1', 'n2'))));
    cache.start();
    await cache.ready();
    const a = cache.get('/registry/pods/default/a')!.obj as unknown as { spec: { containers: unknown[] } };
    const b = cache.get('/registry/pods/default/b')!.obj as unknown as { spec: { containers: unknown[] } };
    assert.equal(a.spec.containers, b.spec.containers);
    assert.ok(Object.isFrozen(a.spec.containers) && Object.isFrozen(a.spec.containers[0]));
  } finally {
    cache.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('long parts are matched by their digest: equal ones shared, different ones apart', () => {
  const t = new Interner();
  const long = (ip: string) => JSON.parse(JSON.stringify({ 'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:lastProbeTime': {}, 'f:lastTransitionTime': {}, 'f:status': {}, 'f:type': {} } }, 'f:podIPs': { [`k:{"ip":"${ip}"}`]: { '.': {}, 'f:ip': {} } } } }));
  const a = long('10.42.0.1'), b = long('10.42.0.1'), c = long('10.42.0.2');
  assert.ok(JSON.stringify(a).length > 128);
  assert.equal(t.part(a), a);
  assert.equal(t.part(b), a);
  assert.equal(t.part(c), c);
  assert.equal(t.size, 2);
});

test('freeze shares short strings and empty objects, keeps long strings, and freezes all', () => {
  const t = new Interner();
  const make = (name: string) => JSON.parse(JSON.stringify({ metadata: { name, managedFields: [{ manager: 'm', fieldsV1: { 'f:spec': { 'f:x': {}, 'f:y': {} } } }] }, status: { image: 'registry.k8s.io/pause:3.10', note: 'x'.repeat(maxSharedStringChars + 1), list: [{}, 'registry.k8s.io/pause:3.10'] } }));
  const a = t.freeze(make('a'));
  const b = t.freeze(make('b'));
  const leaf = (o: { metadata: { managedFields: { fieldsV1: Record<string, Record<string, unknown>> }[] } }) => o.metadata.managedFields[0]!.fieldsV1['f:spec']!['f:x'];
  assert.equal(leaf(a), emptyObject);
  assert.equal(a.status.list[0], emptyObject);
  assert.deepEqual(a, make('a'));
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.status) && Object.isFrozen(a.status.list) && Object.isFrozen(a.metadata.managedFields[0]));
  assert.equal(b.metadata.name, 'b');
  // Shared strings are not observable as identity in JavaScript; the table's use is: a string
  // it returns for an equal one is the first one given.
  const s1 = ['registry', 'k8s.io'].join('.');
  const s2 = ['registry', 'k8s.io'].join('.');
  assert.equal(t.string(s1), t.string(s2));
});

test('the string table is bounded: at its size it is emptied and starts again', () => {
  const t = new Interner();
  for (let i = 0; i < stringTableSize; i++) t.string(`s${i}`);
  assert.equal(t.strings, stringTableSize);
  t.string('s0');
  assert.equal(t.strings, stringTableSize, 'a string it holds is found, not added');
  t.string('one more');
  assert.equal(t.strings, 1);
  t.string('x'.repeat(maxSharedStringChars + 1));
  assert.equal(t.strings, 1, 'longer strings are not entered');
});
