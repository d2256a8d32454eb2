/** Schema of coordination.k8s.io/v1 (io.k8s.api.coordination.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['Lease', 'LeaseList'],
  types: {
    Lease: { metadata: '1 meta.v1.ObjectMeta', spec: '2 LeaseSpec' },
    LeaseList: { metadata: '1 meta.v1.ListMeta', items: '2 []Lease ! req' },
    LeaseSpec: {
      holderIdentity: '1 *string',
      leaseDurationSeconds: '2 *int32',
      acquireTime: '3 *MicroTime',
      renewTime: '4 *MicroTime',
      leaseTransitions: '5 *int32',
      strategy: '6 *string',
      preferredHolder: '7 *string',
    },
  },
} satisfies SchemaFile;
