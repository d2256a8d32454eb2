/** The admission chain's order and the --enable/--disable-admission-plugins checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admissionFlagErrors, admissionOrder, orderAdmission } from './admission.ts';
import type { AdmissionPlugin } from '../apiserver/admission/types.ts';

const plugin = (name: string): AdmissionPlugin => ({ name });

test('plugins are put in upstream order, the escalation check first; disabled ones are left out', () => {
  const given = ['ResourceQuota', 'ValidatingAdmissionWebhook', 'PodSecurity', 'RBACEscalation', 'NamespaceLifecycle', 'LimitRanger', 'ServiceAccount', 'MutatingAdmissionWebhook'].map(plugin);
  assert.deepEqual(orderAdmission(given).map((p) => p.name), ['RBACEscalation', 'NamespaceLifecycle', 'LimitRanger', 'ServiceAccount', 'PodSecurity', 'MutatingAdmissionWebhook', 'ValidatingAdmissionWebhook', 'ResourceQuota']);
  assert.deepEqual(orderAdmission(given, ['PodSecurity', 'RBACEscalation']).map((p) => p.name), ['RBACEscalation', 'NamespaceLifecycle', 'LimitRanger', 'ServiceAccount', 'MutatingAdmissionWebhook', 'ValidatingAdmissionWebhook', 'ResourceQuota']);
  // The certificate plugins keep their relative order.
  assert.deepEqual(orderAdmission(['CertificateSubjectRestriction', 'CertificateApproval', 'CertificateSigning'].map(plugin)).map((p) => p.name), ['CertificateApproval', 'CertificateSigning', 'CertificateSubjectRestriction']);
  assert.throws(() => orderAdmission([plugin('Mystery')]), /Mystery has no place/);
});

test('flag checks: known plugins pass; upstream plugins Bosun lacks, unknown names and overlaps are refused', () => {
  assert.deepEqual(admissionFlagErrors([...admissionOrder], []), []);
  assert.deepEqual(admissionFlagErrors(['NodeRestriction'], ['PodSecurity', 'ResourceQuota']), []);
  assert.deepEqual(admissionFlagErrors(['AlwaysPullImages'], ['Nope']), [
    'enable-admission-plugins plugin "AlwaysPullImages" is upstream\'s but not built in Bosun',
    'disable-admission-plugins plugin "Nope" is unknown',
  ]);
  assert.deepEqual(admissionFlagErrors(['PodSecurity', 'LimitRanger'], ['LimitRanger', 'PodSecurity']), ['[LimitRanger PodSecurity] in enable-admission-plugins and disable-admission-plugins overlapped']);
});
