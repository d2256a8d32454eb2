/**
 * The availability checks of kube-aggregator's remote availability controller
 * (controllers/status/remote): a remote APIService is Available when its Service exists, for a
 * ClusterIP Service the APIService's port is one of its ports and an EndpointSlice of it has a
 * ready endpoint with that port's name, and its discovery document answers 2xx. Reasons and
 * messages are upstream's: ServiceNotFound, ServicePortError, EndpointsNotFound,
 * MissingEndpoints, FailedDiscoveryCheck, Passed. Pure functions; the controller is index.ts.
 */
import type { APIService, EndpointSlice, Service } from '../api/index.ts';

export interface Condition {
  type: 'Available';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface ServiceLookups {
  service(namespace: string, name: string): Service | undefined;
  /** The EndpointSlices labelled kubernetes.io/service-name=<name> in the namespace. */
  endpointSlices(namespace: string, name: string): readonly EndpointSlice[];
}

/**
 * The condition the Service and its endpoints already decide (not Available), or undefined when
 * the discovery check comes next. `svc` must have spec.service.
 */
export function serviceCondition(svc: APIService, lookups: ServiceLookups): Condition | undefined {
  const ref = svc.spec!.service!;
  const ns = ref.namespace ?? '';
  const name = ref.name ?? '';
  const port = ref.port ?? 443;
  const service = lookups.service(ns, name);
  if (!service) return notAvailable('ServiceNotFound', `service/${name} in ${JSON.stringify(ns)} is not present`);
  if ((service.spec?.type ?? 'ClusterIP') !== 'ClusterIP') return undefined;
  const sp = (service.spec?.ports ?? []).find((p) => p.port === port);
  if (!sp) return notAvailable('ServicePortError', `service/${name} in ${JSON.stringify(ns)} is not listening on port ${port}`);
  const portName = sp.name ?? '';
  const slices = lookups.endpointSlices(ns, name);
  if (!slices.length) return notAvailable('EndpointsNotFound', `cannot find endpointslices for service/${name} in ${JSON.stringify(ns)}`);
  const ready = slices.some((s) => (s.endpoints ?? []).some((e) => e.conditions?.ready !== false) && (s.ports ?? []).some((p) => (p.name ?? '') === portName && p.port !== undefined));
  if (!ready) return notAvailable('MissingEndpoints', `endpointslices for service/${name} in ${JSON.stringify(ns)} have no addresses with port name ${JSON.stringify(portName)}`);
  return undefined;
}

export function notAvailable(reason: string, message: string): Condition {
  return { type: 'Available', status: 'False', reason, message };
}

export const passed: Condition = { type: 'Available', status: 'True', reason: 'Passed', message: 'all checks passed' };

export const localCondition: Condition = { type: 'Available', status: 'True', reason: 'Local', message: 'Local APIServices are always available' };

type StoredCondition = NonNullable<NonNullable<APIService['status']>['conditions']>[number];

/**
 * The status with `c` set as upstream's SetAPIServiceCondition does: the transition time moves
 * only when the status changes. Returns undefined when nothing changes.
 */
export function withCondition(svc: APIService, c: Condition, now: string): APIService['status'] | undefined {
  const conditions = [...(svc.status?.conditions ?? [])];
  const i = conditions.findIndex((x) => x.type === c.type);
  const old = i >= 0 ? conditions[i] : undefined;
  if (old && old.status === c.status && old.reason === c.reason && old.message === c.message) return undefined;
  const next: StoredCondition = { type: c.type, status: c.status, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now, reason: c.reason, message: c.message };
  if (i >= 0) conditions[i] = next;
  else conditions.push(next);
  return { ...svc.status, conditions };
}

export function isAvailable(svc: APIService): boolean {
  return svc.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') ?? false;
}
