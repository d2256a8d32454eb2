/** authorization.k8s.io/v1 review kinds: answered by the API server's authorizer, never stored. */
import type { ResourceDef } from '../resource.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import { invalidValue, required } from '../validation.ts';
import { review } from './_mk.ts';

const authz = { group: 'authorization.k8s.io', version: 'v1', ...review };

function validateAccess(o: KubeObject, needSubject: boolean): StatusCause[] {
  const spec = (o['spec'] ?? {}) as Record<string, unknown>;
  const out: StatusCause[] = [];
  const r = spec['resourceAttributes'];
  const n = spec['nonResourceAttributes'];
  if (!r && !n) out.push(required('spec.resourceAttributes', 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
  if (r && n) out.push(invalidValue('spec.nonResourceAttributes', n, 'cannot be specified in combination with resourceAttributes'));
  if (needSubject && !spec['user'] && !(Array.isArray(spec['groups']) && spec['groups'].length)) out.push(required('spec.user', 'at least one of user or group must be specified'));
  return out;
}

export const resources: ResourceDef[] = [
  { ...authz, kind: 'LocalSubjectAccessReview', plural: 'localsubjectaccessreviews', singular: 'localsubjectaccessreview', namespaced: true, validate: (o) => validateAccess(o, true) },
  { ...authz, kind: 'SelfSubjectAccessReview', plural: 'selfsubjectaccessreviews', singular: 'selfsubjectaccessreview', namespaced: false, validate: (o) => validateAccess(o, false) },
  { ...authz, kind: 'SelfSubjectRulesReview', plural: 'selfsubjectrulesreviews', singular: 'selfsubjectrulesreview', namespaced: false },
  { ...authz, kind: 'SubjectAccessReview', plural: 'subjectaccessreviews', singular: 'subjectaccessreview', namespaced: false, validate: (o) => validateAccess(o, true) },
];
