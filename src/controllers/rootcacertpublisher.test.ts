/** The root CA publisher's decisions: the ConfigMap it wants and when an existing one is rewritten. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootCaDescription, rootCaNeedsUpdate, wantedRootCaConfigMap } from './rootcacertpublisher.ts';

const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('the wanted ConfigMap is kube-root-ca.crt with ca.crt and upstream\'s description', () => {
  assert.deepEqual(wantedRootCaConfigMap('team', ca), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kube-root-ca.crt', namespace: 'team', annotations: { 'kubernetes.io/description': rootCaDescription } },
    data: { 'ca.crt': ca },
  });
});

test('an existing ConfigMap is rewritten when its data or annotation differ, not otherwise', () => {
  const ok = wantedRootCaConfigMap('team', ca);
  assert.equal(rootCaNeedsUpdate(ok, ca), false);
  assert.equal(rootCaNeedsUpdate({ ...ok, data: { 'ca.crt': 'other' } }, ca), true);
  assert.equal(rootCaNeedsUpdate({ ...ok, data: { 'ca.crt': ca, extra: 'x' } }, ca), true);
  assert.equal(rootCaNeedsUpdate({ ...ok, metadata: { ...ok.metadata, annotations: {} } }, ca), true);
  assert.equal(rootCaNeedsUpdate({ ...ok, binaryData: { b: 'AA==' } }, ca), true);
});
