/**
 * events.k8s.io/v1: Event, served from the core/v1 Event storage (the same 'events' prefix, stored
 * in the core/v1 shape) through `storedAs` conversions, as upstream does. Writes through this API
 * get upstream's strict validation (eventTime, reportingController, reportingInstance, action and
 * reason required; deprecated fields must stay unset; most fields immutable on update); the printer
 * and field selectors are the core ones over the converted object.
 */
import type { ResourceDef } from '../resource.ts';
import {
  coreEventRow,
  coreEventToEventsV1,
  defaultEventsV1Event,
  eventsV1FieldSelectors,
  eventsV1ToCoreEvent,
  eventTableColumns,
  validateCoreShapeEvent,
} from './core-events.ts';

export const eventsV1Event: ResourceDef = {
  group: 'events.k8s.io',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  singular: 'event',
  namespaced: true,
  shortNames: ['ev'],
  nameRule: 'subdomain',
  storagePrefix: 'events',
  storedAs: { toStorage: eventsV1ToCoreEvent, fromStorage: coreEventToEventsV1 },
  createOnUpdate: true,
  default: defaultEventsV1Event,
  validate(obj, ctx) {
    const core = eventsV1ToCoreEvent(obj);
    return validateCoreShapeEvent(core, 'events.k8s.io/v1', ctx.old ? eventsV1ToCoreEvent(ctx.old) : undefined);
  },
  table: { columns: eventTableColumns, row: (obj, now) => coreEventRow(eventsV1ToCoreEvent(obj), now) },
  fieldSelectors: eventsV1FieldSelectors,
};

export const resources: ResourceDef[] = [eventsV1Event];
