/** Schema of scheduling.k8s.io/v1 (io.k8s.api.scheduling.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['PriorityClass', 'PriorityClassList'],
  types: {
    PriorityClass: {
      metadata: '1 meta.v1.ObjectMeta',
      value: '2 int32 ! req',
      globalDefault: '3 bool',
      description: '4 string',
      preemptionPolicy: '5 *string',
    },
    PriorityClassList: { metadata: '1 meta.v1.ListMeta', items: '2 []PriorityClass ! req' },
  },
} satisfies SchemaFile;
