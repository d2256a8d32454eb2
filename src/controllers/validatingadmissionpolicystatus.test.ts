import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ValidatingAdmissionPolicy } from '../api/index.ts';
import { statusApply } from './validatingadmissionpolicystatus.ts';

const policy = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'p', generation: 3, resourceVersion: '9' }, spec: {}, status: { observedGeneration: 2 } } as ValidatingAdmissionPolicy;

test('the applied status holds the generation checked and the warnings, and nothing else of the policy', () => {
  assert.deepEqual(statusApply(policy, [{ fieldRef: 'spec.validations[0].expression', warning: 'w\n' }]), {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: 'p' },
    status: { observedGeneration: 3, typeChecking: { expressionWarnings: [{ fieldRef: 'spec.validations[0].expression', warning: 'w\n' }] } },
  });
});

test('without warnings, typeChecking is present and empty, as upstream applies it', () => {
  assert.deepEqual(statusApply(policy, []).status, { observedGeneration: 3, typeChecking: {} });
});
