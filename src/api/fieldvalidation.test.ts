import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pruneUnknownFields } from './fieldvalidation.ts';

const cases = [
  {
    name: 'a known configmap has no unknown fields',
    type: { group: '', version: 'v1', kind: 'ConfigMap' },
    obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', labels: { x: 'y' } }, data: { k: 'v' } },
    want: [],
  },
  {
    name: 'top-level, metadata and nested list fields are found in document order',
    type: { group: 'apps', version: 'v1', kind: 'Deployment' },
    obj: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', bogus: 1 },
      spec: { replicaz: 3, template: { spec: { containers: [{ name: 'a', image: 'b', imagePullPolice: 'x' }] } } },
    },
    want: ['metadata.bogus', 'spec.replicaz', 'spec.template.spec.containers[0].imagePullPolice'],
  },
  {
    name: 'map values are walked with the key in brackets',
    type: { group: '', version: 'v1', kind: 'Pod' },
    obj: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', resources: { limits: { cpu: '1' } } }], overhead: { cpu: '1' } } },
    want: [],
  },
  {
    name: 'opaque JSON in a CRD schema is not looked into',
    type: { group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition' },
    obj: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'a.b' }, spec: { versions: [{ name: 'v1', schema: { openAPIV3Schema: { type: 'object', default: { deep: { bogus: 1 } } } } }] } },
    want: [],
  },
  {
    name: 'kinds without a schema report nothing',
    type: { group: 'example.com', version: 'v1', kind: 'Widget' },
    obj: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, anything: 1 },
    want: [],
  },
];

for (const c of cases) {
  test(c.name, () => {
    const obj = structuredClone(c.obj) as never;
    assert.deepEqual(pruneUnknownFields(obj, c.type), c.want);
    assert.equal(JSON.stringify(obj).includes('replicaz') || JSON.stringify(obj).includes('imagePullPolice'), false);
  });
}
