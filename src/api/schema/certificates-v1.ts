/** Schema of certificates.k8s.io/v1 (io.k8s.api.certificates.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['CertificateSigningRequest', 'CertificateSigningRequestList'],
  types: {
    CertificateSigningRequest: {
      metadata: '1 meta.v1.ObjectMeta',
      spec: '2 CertificateSigningRequestSpec ! req',
      status: '3 CertificateSigningRequestStatus',
    },
    CertificateSigningRequestCondition: {
      type: '1 string ! req',
      status: '6 string ! req',
      reason: '2 string',
      message: '3 string',
      lastUpdateTime: '4 Time',
      lastTransitionTime: '5 Time',
    },
    CertificateSigningRequestList: { metadata: '1 meta.v1.ListMeta', items: '2 []CertificateSigningRequest ! req' },
    CertificateSigningRequestSpec: {
      request: '1 bytes ! req list=atomic',
      signerName: '7 string ! req',
      expirationSeconds: '8 *int32',
      usages: '5 []string list=atomic',
      username: '2 string',
      uid: '3 string',
      groups: '4 []string list=atomic',
      extra: '6 map[string]ExtraValue',
    },
    CertificateSigningRequestStatus: {
      conditions: '1 []CertificateSigningRequestCondition list=map keys=type',
      certificate: '2 bytes list=atomic',
    },
    ExtraValue: '[]string',
  },
} satisfies SchemaFile;
