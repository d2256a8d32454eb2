/** Schema of node.k8s.io/v1 (io.k8s.api.node.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['RuntimeClass', 'RuntimeClassList'],
  types: {
    Overhead: { podFixed: '1 map[string]Quantity' },
    RuntimeClass: {
      metadata: '1 meta.v1.ObjectMeta',
      handler: '2 string ! req',
      overhead: '3 *Overhead',
      scheduling: '4 *Scheduling',
    },
    RuntimeClassList: { metadata: '1 meta.v1.ListMeta', items: '2 []RuntimeClass ! req' },
    Scheduling: { nodeSelector: '1 map[string]string map=atomic', tolerations: '2 []core.v1.Toleration list=atomic' },
  },
} satisfies SchemaFile;
