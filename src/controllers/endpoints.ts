/**
 * The Endpoints and EndpointSlice controllers: for every Service with a selector, the pods it
 * selects, with their IPs and the Service's ports resolved per pod (a named targetPort looked up
 * in the pod's container ports; pods without it are left out of that port's group).
 *  - Endpoints (same name as the Service): subsets grouped by resolved ports, ready pods in
 *    `addresses`, not-ready ones in `notReadyAddresses` (all ready with
 *    publishNotReadyAddresses), terminating pods left out; sorted as upstream packs them.
 *  - EndpointSlices (`kubernetes.io/service-name`, managed by `endpointslice-controller.k8s.io`,
 *    owned by the Service): one slice per distinct port set, at most 100 endpoints each, with
 *    ready/serving/terminating conditions, nodeName, zone and targetRef.
 * Services without a selector are left alone; what a deleted Service had is removed.
 */
import type { Endpoint, EndpointAddress, Endpoints, EndpointSlice, EndpointSubset, Pod, Service, ServicePort } from '../api/index.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../api/errors.ts';
import { IndexNamespace, clientset, resources, type SharedInformer } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { isPodReady, jsonEqual, keyOf, newControllerRef, nowRfc3339, podPhase, splitKey, startQueue, type ReconcileResult, type StartQueueOptions } from './controller-utils.ts';
import { compareStrings } from '../util/compare.ts';

interface ResolvedPort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

interface PodEndpoint {
  pod: Pod;
  ip: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  ports: ResolvedPort[];
  /** The pod's hostname when it is published: the pod names this Service as its subdomain (upstream's ShouldSetHostname). */
  hostname?: string;
}

const managedBy = 'endpointslice-controller.k8s.io';
const maxEndpointsPerSlice = 100;

/** The container port a Service port's targetPort names in this pod (numbers are taken as they are). */
export function resolvePort(pod: Pod, sp: ServicePort): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  const proto = sp.protocol ?? 'TCP';
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.name === tp && (p.protocol ?? 'TCP') === proto) return p.containerPort;
    }
  }
  return undefined;
}

function podIP(pod: Pod): string | undefined {
  return pod.status?.podIP || undefined;
}

/** The endpoints of a Service: its selected pods with IPs, ports resolved per pod. */
export function podEndpoints(svc: Service, pods: readonly Pod[]): PodEndpoint[] {
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const ports = svc.spec?.ports ?? [];
  const out: PodEndpoint[] = [];
  for (const pod of pods) {
    const ip = podIP(pod);
    const phase = podPhase(pod);
    if (!ip || phase === 'Succeeded' || phase === 'Failed') continue;
    const terminating = Boolean(pod.metadata.deletionTimestamp);
    const ready = isPodReady(pod);
    const resolved: ResolvedPort[] = [];
    for (const sp of ports) {
      const port = resolvePort(pod, sp);
      if (port === undefined) continue;
      const r: ResolvedPort = { name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' };
      if (sp.appProtocol) r.appProtocol = sp.appProtocol;
      resolved.push(r);
    }
    const e: PodEndpoint = { pod, ip, ready: publishNotReady || (ready && !terminating), serving: publishNotReady || ready, terminating, ports: resolved };
    const host = pod.spec?.hostname;
    if (host && pod.spec?.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace) e.hostname = host;
    out.push(e);
  }
  return out;
}

function address(e: PodEndpoint): EndpointAddress {
  const a: EndpointAddress = { ip: e.ip };
  const spec = e.pod.spec;
  if (e.hostname) a.hostname = e.hostname;
  if (spec?.nodeName) a.nodeName = spec.nodeName;
  a.targetRef = { kind: 'Pod', namespace: e.pod.metadata.namespace, name: e.pod.metadata.name, uid: e.pod.metadata.uid };
  return a;
}

const portKey = (ports: readonly ResolvedPort[]) => JSON.stringify([...ports].sort((a, b) => compareStrings(a.name, b.name) || a.port - b.port));

/** Endpoints subsets: one per distinct resolved port set, addresses sorted by IP (upstream RepackSubsets). */
/** Upstream's LessEndpointAddress: IPs in byte order, then addresses without a pod first, then the pods' UIDs. */
function byIp(a: EndpointAddress, b: EndpointAddress): number {
  const ip = compareStrings(a.ip, b.ip);
  if (ip) return ip;
  if (!a.targetRef || !b.targetRef) return Number(!!a.targetRef) - Number(!!b.targetRef);
  return compareStrings(a.targetRef.uid ?? '', b.targetRef.uid ?? '');
}

export function endpointSubsets(eps: readonly PodEndpoint[]): EndpointSubset[] {
  const groups = new Map<string, { ports: ResolvedPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const e of eps) {
    if (e.terminating || !e.ports.length) continue;
    const k = portKey(e.ports);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ports: [...e.ports].sort((a, b) => compareStrings(a.name, b.name) || a.port - b.port), ready: [], notReady: [] }));
    (e.ready ? g.ready : g.notReady).push(address(e));
  }
  const out: EndpointSubset[] = [];
  for (const g of groups.values()) {
    const s: EndpointSubset = {};
    if (g.ready.length) s.addresses = g.ready.sort(byIp);
    if (g.notReady.length) s.notReadyAddresses = g.notReady.sort(byIp);
    s.ports = g.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) }));
    out.push(s);
  }
  return out.sort((a, b) => compareStrings(JSON.stringify(a.ports), JSON.stringify(b.ports)));
}

function selectedPods(svc: Service, pods: SharedInformer<Pod>): Pod[] | null {
  const sel = svc.spec?.selector;
  if (!sel || !Object.keys(sel).length) return null;
  const m = labelSelectorFromObject({ matchLabels: sel });
  return pods.store.byIndex(IndexNamespace, svc.metadata.namespace ?? '').filter((p) => m.matches(p.metadata.labels));
}

/** Services in a pod's namespace whose selector matches the pod (before or after a change). */
function servicesFor(services: SharedInformer<Service>, pod: Pod): string[] {
  const out: string[] = [];
  for (const svc of services.store.byIndex(IndexNamespace, pod.metadata.namespace ?? '')) {
    const sel = svc.spec?.selector;
    if (!sel || !Object.keys(sel).length) continue;
    if (Object.entries(sel).every(([k, v]) => pod.metadata.labels?.[k] === v)) out.push(keyOf(svc));
  }
  return out;
}

/** The shared wiring of both endpoint controllers; workers wait for `more` informers' caches too. */
function watchServicesAndPods(ctx: ControllerContext, name: string, sync: (key: string) => Promise<ReconcileResult | void>, more: StartQueueOptions['waitFor']) {
  const services = ctx.informers.typedInformerFor(resources.services);
  const pods = ctx.informers.typedInformerFor(resources.pods);
  const queue = startQueue(ctx, sync, { name, workers: 5, waitFor: [services, pods, ...more] });
  const enqueue = (o: Service) => queue.add(keyOf(o));
  services.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: enqueue });
  pods.addEventHandler({
    onAdd: (p) => servicesFor(services, p).forEach((k) => queue.add(k)),
    onUpdate: (o, n) => new Set([...servicesFor(services, o), ...servicesFor(services, n)]).forEach((k) => queue.add(k)),
    onDelete: (p) => servicesFor(services, p).forEach((k) => queue.add(k)),
  });
  return { services, pods, queue };
}

export function startEndpointsController(ctx: ControllerContext): void {
  const endpoints = ctx.informers.typedInformerFor(resources.endpoints);
  const { services, pods } = watchServicesAndPods(ctx, 'endpoint-controller', sync, [endpoints]);
  const cs = clientset(ctx.client);

  async function sync(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const svc = services.store.get(key);
    const current = endpoints.store.get(key);
    if (!svc) {
      // The Service is gone: so are its Endpoints (unless someone else manages them).
      if (current) {
        try {
          await cs.endpoints.delete(name, { namespace, preconditions: { uid: current.metadata.uid } });
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        }
      }
      return;
    }
    const selected = selectedPods(svc, pods);
    if (!selected) return;
    const subsets = endpointSubsets(podEndpoints(svc, selected));
    const labels = { ...(svc.metadata.labels ?? {}), 'endpoints.kubernetes.io/managed-by': 'endpoint-controller' };
    if (current && jsonEqual(current.subsets ?? [], subsets) && jsonEqual(current.metadata.labels ?? {}, labels)) return;
    const ep: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: {
        name,
        namespace,
        labels,
        annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
        ...(current ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
    };
    if (subsets.length) ep.subsets = subsets;
    try {
      if (current) await cs.endpoints.update(ep, { namespace });
      else await cs.endpoints.create(ep, { namespace });
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) return { requeueAfter: 100 };
      if (isNotFound(err)) return;
      throw err;
    }
  }
}

/** The slices a Service should have: one per port set, at most 100 endpoints each. */
export function desiredSlices(svc: Service, eps: readonly PodEndpoint[], zoneOf: (node: string) => string | undefined): { ports: ResolvedPort[]; endpoints: Endpoint[] }[] {
  const groups = new Map<string, { ports: ResolvedPort[]; endpoints: Endpoint[] }>();
  const svcPorts = svc.spec?.ports ?? [];
  for (const e of eps) {
    if (svcPorts.length && !e.ports.length) continue;
    const k = portKey(e.ports);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ports: e.ports, endpoints: [] }));
    const ep: Endpoint = { addresses: [e.ip], conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating } };
    const spec = e.pod.spec;
    if (e.hostname) ep.hostname = e.hostname;
    const node = spec?.nodeName || undefined;
    if (node) {
      ep.nodeName = node;
      const zone = zoneOf(node);
      if (zone) ep.zone = zone;
    }
    ep.targetRef = { kind: 'Pod', namespace: e.pod.metadata.namespace, name: e.pod.metadata.name, uid: e.pod.metadata.uid };
    g.endpoints.push(ep);
  }
  const out: { ports: ResolvedPort[]; endpoints: Endpoint[] }[] = [];
  for (const g of groups.values()) {
    g.endpoints.sort((a, b) => compareStrings(String(a.addresses[0]), String(b.addresses[0])));
    for (let i = 0; i < Math.max(1, g.endpoints.length); i += maxEndpointsPerSlice) out.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + maxEndpointsPerSlice) });
  }
  if (!out.length) out.push({ ports: [], endpoints: [] });
  return out;
}

export function startEndpointSliceController(ctx: ControllerContext): void {
  const slices = ctx.informers.typedInformerFor(resources.endpointSlices, { labelSelector: `endpointslice.kubernetes.io/managed-by=${managedBy}` });
  const nodes = ctx.informers.typedInformerFor(resources.nodes);
  const { services, pods } = watchServicesAndPods(ctx, 'endpointslice-controller', sync, [slices, nodes]);
  const cs = clientset(ctx.client);
  const zoneOf = (node: string) => nodes.store.get(node)?.metadata.labels?.['topology.kubernetes.io/zone'];

  async function sync(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const svc = services.store.get(key);
    const existing = slices.store.byIndex(IndexNamespace, namespace).filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === name);
    const selected = svc ? selectedPods(svc, pods) : null;
    if (!svc || !selected) {
      // Slices of a deleted Service go with it (garbage collection also would, through the owner).
      for (const s of existing) await deleteSlice(s);
      return;
    }
    const want = desiredSlices(svc, podEndpoints(svc, selected), zoneOf);
    const ports = (p: ResolvedPort[]) => p.map((x) => ({ name: x.name, port: x.port, protocol: x.protocol, ...(x.appProtocol ? { appProtocol: x.appProtocol } : {}) }));
    // Reuse slices in place (same port set first), create what is missing, delete the rest.
    const unused = [...existing];
    for (const w of want) {
      const wantPorts = ports(w.ports);
      let i = unused.findIndex((s) => jsonEqual(s.ports ?? [], wantPorts));
      if (i < 0) i = unused.length ? 0 : -1;
      const labels = { ...(svc.metadata.labels ?? {}), 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': managedBy };
      const body: EndpointSlice = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { namespace, labels, ownerReferences: [{ ...newControllerRef(svc, 'Service', 'v1') }] },
        addressType: 'IPv4',
        endpoints: w.endpoints,
        ports: wantPorts,
      };
      if (i >= 0) {
        const cur = unused.splice(i, 1)[0]!;
        if (jsonEqual(cur.endpoints ?? [], w.endpoints) && jsonEqual(cur.ports ?? [], wantPorts) && jsonEqual(cur.metadata.labels ?? {}, labels)) continue;
        body.metadata = { ...body.metadata, name: cur.metadata.name, resourceVersion: cur.metadata.resourceVersion, annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': nowRfc3339() } };
        try {
          await cs.endpointSlices.update(body, { namespace });
        } catch (err) {
          if (isConflict(err) || isNotFound(err)) return { requeueAfter: 100 };
          throw err;
        }
      } else {
        body.metadata = { ...body.metadata, generateName: `${name}-` };
        await cs.endpointSlices.create(body, { namespace });
      }
    }
    for (const s of unused) await deleteSlice(s);
  }

  async function deleteSlice(s: EndpointSlice): Promise<void> {
    try {
      await cs.endpointSlices.delete(s.metadata.name!, { namespace: s.metadata.namespace, preconditions: { uid: s.metadata.uid } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}
