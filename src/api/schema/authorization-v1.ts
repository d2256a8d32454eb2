/** Schema of authorization.k8s.io/v1 (io.k8s.api.authorization.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['SelfSubjectRulesReview', 'SelfSubjectAccessReview', 'SubjectAccessReview', 'LocalSubjectAccessReview'],
  types: {
    ExtraValue: '[]string',
    FieldSelectorAttributes: {
      rawSelector: '1 string',
      requirements: '2 []meta.v1.FieldSelectorRequirement list=atomic',
    },
    LabelSelectorAttributes: {
      rawSelector: '1 string',
      requirements: '2 []meta.v1.LabelSelectorRequirement list=atomic',
    },
    LocalSubjectAccessReview: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 SubjectAccessReviewSpec ! req',
      status: '3 SubjectAccessReviewStatus',
    },
    NonResourceAttributes: { path: '1 string', verb: '2 string' },
    NonResourceRule: { verbs: '1 []string ! req list=atomic', nonResourceURLs: '2 []string list=atomic' },
    ResourceAttributes: {
      namespace: '1 string',
      verb: '2 string',
      group: '3 string',
      version: '4 string',
      resource: '5 string',
      subresource: '6 string',
      name: '7 string',
      fieldSelector: '8 *FieldSelectorAttributes',
      labelSelector: '9 *LabelSelectorAttributes',
    },
    ResourceRule: {
      verbs: '1 []string ! req list=atomic',
      apiGroups: '2 []string list=atomic',
      resources: '3 []string list=atomic',
      resourceNames: '4 []string list=atomic',
    },
    SelfSubjectAccessReview: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 SelfSubjectAccessReviewSpec ! req',
      status: '3 SubjectAccessReviewStatus',
    },
    SelfSubjectAccessReviewSpec: {
      resourceAttributes: '1 *ResourceAttributes',
      nonResourceAttributes: '2 *NonResourceAttributes',
    },
    SelfSubjectRulesReview: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 SelfSubjectRulesReviewSpec ! req',
      status: '3 SubjectRulesReviewStatus',
    },
    SelfSubjectRulesReviewSpec: { namespace: '1 string' },
    SubjectAccessReview: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 SubjectAccessReviewSpec ! req',
      status: '3 SubjectAccessReviewStatus',
    },
    SubjectAccessReviewSpec: {
      resourceAttributes: '1 *ResourceAttributes',
      nonResourceAttributes: '2 *NonResourceAttributes',
      user: '3 string',
      groups: '4 []string list=atomic',
      extra: '5 map[string]ExtraValue',
      uid: '6 string',
    },
    SubjectAccessReviewStatus: {
      allowed: '1 bool ! req',
      denied: '4 bool',
      reason: '2 string',
      evaluationError: '3 string',
    },
    SubjectRulesReviewStatus: {
      resourceRules: '1 []ResourceRule ! req list=atomic',
      nonResourceRules: '2 []NonResourceRule ! req list=atomic',
      incomplete: '3 bool ! req',
      evaluationError: '4 string',
    },
  },
} satisfies SchemaFile;
