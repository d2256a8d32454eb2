/** Schema of events.k8s.io/v1 (io.k8s.api.events.v1): every type, in the notation of ./notation.ts. */
import type { SchemaFile } from './notation.ts';

export default {
  kinds: ['Event', 'EventList'],
  types: {
    Event: {
      metadata: '1 meta.v1.ObjectMeta !',
      eventTime: '2 MicroTime ! req',
      series: '3 *EventSeries',
      reportingController: '4 string',
      reportingInstance: '5 string',
      action: '6 string',
      reason: '7 string',
      regarding: '8 core.v1.ObjectReference',
      related: '9 *core.v1.ObjectReference',
      note: '10 string',
      type: '11 string',
      deprecatedSource: '12 core.v1.EventSource',
      deprecatedFirstTimestamp: '13 Time',
      deprecatedLastTimestamp: '14 Time',
      deprecatedCount: '15 int32',
    },
    EventList: { metadata: '1 meta.v1.ListMeta', items: '2 []Event ! req' },
    EventSeries: { count: '1 int32 ! req', lastObservedTime: '2 MicroTime ! req' },
  },
} satisfies SchemaFile;
