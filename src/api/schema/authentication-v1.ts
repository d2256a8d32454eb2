/** Schema of authentication.k8s.io/v1 (io.k8s.api.authentication.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['TokenReview', 'TokenRequest', 'SelfSubjectReview'],
  types: {
    BoundObjectReference: { kind: '1 string', apiVersion: '2 string', name: '3 string', uid: '4 string' },
    ExtraValue: '[]string',
    SelfSubjectReview: { metadata: '1 meta.v1.ObjectMeta', status: '2 SelfSubjectReviewStatus' },
    SelfSubjectReviewStatus: { userInfo: '1 UserInfo' },
    TokenRequest: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 TokenRequestSpec ! req',
      status: '3 TokenRequestStatus',
    },
    TokenRequestSpec: {
      audiences: '1 []string ! req list=atomic',
      expirationSeconds: '4 *int64 !',
      boundObjectRef: '3 *BoundObjectReference !',
    },
    TokenRequestStatus: { token: '1 string ! req', expirationTimestamp: '2 Time ! req' },
    TokenReview: { metadata: '1 meta.v1.ObjectMeta', spec: '2 TokenReviewSpec ! req', status: '3 TokenReviewStatus' },
    TokenReviewSpec: { token: '1 string', audiences: '2 []string list=atomic' },
    TokenReviewStatus: {
      authenticated: '1 bool',
      user: '2 UserInfo',
      audiences: '4 []string list=atomic',
      error: '3 string',
    },
    UserInfo: {
      username: '1 string',
      uid: '2 string',
      groups: '3 []string list=atomic',
      extra: '4 map[string]ExtraValue',
    },
  },
} satisfies SchemaFile;
