/** Schema of discovery.k8s.io/v1 (io.k8s.api.discovery.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['EndpointSlice', 'EndpointSliceList'],
  types: {
    Endpoint: {
      addresses: '1 []string ! req list=set',
      conditions: '2 EndpointConditions',
      hostname: '3 *string',
      targetRef: '4 *core.v1.ObjectReference',
      deprecatedTopology: '5 map[string]string',
      nodeName: '6 *string',
      zone: '7 *string',
      hints: '8 *EndpointHints',
    },
    EndpointConditions: { ready: '1 *bool', serving: '2 *bool', terminating: '3 *bool' },
    EndpointHints: { forZones: '1 []ForZone list=atomic', forNodes: '2 []ForNode list=atomic' },
    EndpointPort: {
      '@': 'struct=atomic',
      name: '1 *string',
      protocol: '2 *string',
      port: '3 *int32',
      appProtocol: '4 *string',
    },
    EndpointSlice: {
      metadata: '1 meta.v1.ObjectMeta',
      addressType: '4 string ! req',
      endpoints: '2 []Endpoint ! req list=atomic',
      ports: '3 []EndpointPort ! list=atomic',
    },
    EndpointSliceList: { metadata: '1 meta.v1.ListMeta', items: '2 []EndpointSlice ! req' },
    ForNode: { name: '1 string ! req' },
    ForZone: { name: '1 string ! req' },
  },
} satisfies SchemaFile;
