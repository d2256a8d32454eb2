import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileJsonPath } from './jsonpath.ts';
import { tableFor } from './serving.ts';

const obj = {
  metadata: { name: 'a', labels: { 'app.kubernetes.io/name': 'db' }, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { replicas: 3, engine: 'postgres', tags: ['x', 'y', 'z'], nested: { on: true } },
  status: {
    conditions: [
      { type: 'Progressing', status: 'False' },
      { type: 'Ready', status: 'True', count: 2 },
    ],
  },
};

test('fields, quoted keys, indexes, slices and wildcards', () => {
  assert.deepEqual(compileJsonPath('.spec.replicas').find(obj), [3]);
  assert.deepEqual(compileJsonPath(".metadata.labels['app.kubernetes.io/name']").find(obj), ['db']);
  assert.deepEqual(compileJsonPath('.spec.tags[0]').find(obj), ['x']);
  assert.deepEqual(compileJsonPath('.spec.tags[-1]').find(obj), ['z']);
  assert.deepEqual(compileJsonPath('.spec.tags[0:2]').find(obj), ['x', 'y']);
  assert.deepEqual(compileJsonPath('.spec.tags[*]').find(obj), ['x', 'y', 'z']);
  assert.deepEqual(compileJsonPath('.spec.nested.on').find(obj), [true]);
  assert.deepEqual(compileJsonPath('.spec.missing.deeper').find(obj), []);
});

test('filters compare with a literal or test presence', () => {
  assert.deepEqual(compileJsonPath('.status.conditions[?(@.type=="Ready")].status').find(obj), ['True']);
  assert.deepEqual(compileJsonPath(".status.conditions[?(@.type!='Ready')].type").find(obj), ['Progressing']);
  assert.deepEqual(compileJsonPath('.status.conditions[?(@.count>1)].type').find(obj), ['Ready']);
  assert.deepEqual(compileJsonPath('.status.conditions[?(@.count)].type').find(obj), ['Ready']);
});

test('a path that does not parse is refused with upstream wording', () => {
  assert.throws(() => compileJsonPath('.spec[?(@.a=~"x")]'), /unrecognized column definition/);
  assert.throws(() => compileJsonPath('spec'), /unrecognized column definition/);
});

test('printer columns: typed cells, nil for absent values, ages for dates, Age by default', () => {
  const t = tableFor({
    name: 'v1',
    served: true,
    storage: true,
    additionalPrinterColumns: [
      { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Tags', type: 'string', jsonPath: '.spec.tags' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Created', type: 'date', jsonPath: '.metadata.creationTimestamp', priority: 1 },
    ],
  });
  assert.deepEqual(t.columns.map((c) => [c.name, c.type, c.priority]), [['Name', 'string', 0], ['Replicas', 'integer', 0], ['Ready', 'string', 0], ['Tags', 'string', 0], ['Phase', 'string', 0], ['Created', 'date', 1]]);
  const now = Date.parse('2026-01-01T00:05:00Z');
  assert.deepEqual(t.row(obj as never, now), ['a', 3, 'True', '["x","y","z"]', null, '5m']);
  const plain = tableFor({ name: 'v1', served: true, storage: true });
  assert.deepEqual(plain.columns.map((c) => c.name), ['Name', 'Age']);
  assert.deepEqual(plain.row(obj as never, now), ['a', '5m']);
});
