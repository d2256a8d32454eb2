/** authentication.k8s.io/v1 review kinds: TokenReview and SelfSubjectReview, never stored. */
import type { ResourceDef } from '../resource.ts';
import { review } from './_mk.ts';

const authn = { group: 'authentication.k8s.io', version: 'v1', ...review };

export const resources: ResourceDef[] = [
  { ...authn, kind: 'SelfSubjectReview', plural: 'selfsubjectreviews', singular: 'selfsubjectreview', namespaced: false },
  { ...authn, kind: 'TokenReview', plural: 'tokenreviews', singular: 'tokenreview', namespaced: false },
];
