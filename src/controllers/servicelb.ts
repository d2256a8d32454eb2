/**
 * ServiceLB, Bosun's built-in load balancer for Services of `type: LoadBalancer` (as k3s's
 * servicelb, behind upstream's service controller): every such Service without a
 * `loadBalancerClass` gets `status.loadBalancer.ingress` = the InternalIPs of the Ready,
 * schedulable nodes (not labelled `node.kubernetes.io/exclude-from-external-load-balancers`),
 * sorted, each with `ipMode: VIP`. The node agents' service proxies then answer on those
 * addresses at the Service's ports (src/proxy/rules.ts, KUBE-EXT chains).
 *  - A Service with a `loadBalancerClass` belongs to another implementation and is left alone,
 *    as upstream's service controller does.
 *  - The ingress follows the nodes: a node that joins, leaves, turns NotReady or unschedulable
 *    re-syncs every LoadBalancer Service (events `UpdatedLoadBalancer`); no node at all leaves
 *    the Service pending (`UnAvailableLoadBalancer` warning).
 *  - A Service that stops being a LoadBalancer has its ingress cleared (the API server clears it
 *    too on the type change) and gets `DeletingLoadBalancer`/`DeletedLoadBalancer`.
 * Cost: each node event compares only that node's contribution (its InternalIPs while it may
 * serve, else none) with the one last seen, so heartbeats of thousands of nodes cost O(1) each;
 * the ingress is rebuilt (O(nodes)) only after a contribution changed and only when a
 * LoadBalancer Service needs it.
 * Departures from k3s: no svclb DaemonSet with host ports (the proxy's iptables rules serve the
 * addresses), and no `service.kubernetes.io/load-balancer-cleanup` finalizer (nothing outside
 * the cluster to clean up, and a finalizer would block deletion while the controller is disabled).
 */
import type { LoadBalancerIngress, Node, Service } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { jsonEqual, keyOf, startQueue, type ReconcileResult } from './controller-utils.ts';

/** Upstream's label that keeps a node out of load balancers' backends. */
export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** The event source of upstream's service controller. */
export const SERVICE_CONTROLLER_COMPONENT = 'service-controller';

/** A Service this controller implements: type LoadBalancer and no loadBalancerClass. */
export function wantsLoadBalancer(svc: Service): boolean {
  return svc.spec?.type === 'LoadBalancer' && !svc.spec.loadBalancerClass;
}

/** A node that may serve load-balancer traffic: Ready, schedulable, not excluded by label. */
export function isLoadBalancerNode(node: Node): boolean {
  if (node.metadata.deletionTimestamp || node.spec?.unschedulable) return false;
  if (node.metadata.labels?.[EXCLUDE_FROM_LB_LABEL] !== undefined) return false;
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The InternalIPs a node gives the ingress: none unless it is a load-balancer node. */
export function nodeIngressIPs(node: Node): string[] {
  if (!isLoadBalancerNode(node)) return [];
  const out: string[] = [];
  for (const a of node.status?.addresses ?? []) if (a.type === 'InternalIP' && a.address) out.push(a.address);
  return out;
}

/** The ingress for the given nodes: their InternalIPs, sorted numerically-as-text and deduplicated, ipMode VIP. */
export function loadBalancerIngress(nodes: readonly Node[]): LoadBalancerIngress[] {
  const ips = new Set<string>();
  for (const n of nodes) for (const ip of nodeIngressIPs(n)) ips.add(ip);
  return ingressFor(ips);
}

/** Sorted (two IPv4 addresses numerically, others as text) and wrapped as ingress entries. */
function ingressFor(ips: Iterable<string>): LoadBalancerIngress[] {
  const keyed = [...ips].map((ip) => ({ ip, v4: ipv4Number(ip) }));
  keyed.sort((a, b) => (a.v4 !== undefined && b.v4 !== undefined ? a.v4 - b.v4 : a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  return keyed.map(({ ip }) => ({ ip, ipMode: 'VIP' }));
}

/** A dotted-quad address as a number (for sorting), else undefined. */
function ipv4Number(ip: string): number | undefined {
  const p = ip.split('.');
  if (p.length !== 4) return undefined;
  let n = 0;
  for (const x of p) {
    const v = Number(x);
    if (!Number.isInteger(v)) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function ingressOf(svc: Service): LoadBalancerIngress[] {
  return svc.status?.loadBalancer?.ingress ?? [];
}

export function startServiceLBController(ctx: ControllerContext): void {
  const services = ctx.informers.typedInformerFor(resources.services);
  const nodes = ctx.informers.typedInformerFor(resources.nodes);
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder(SERVICE_CONTROLLER_COMPONENT);
  const queue = startQueue(ctx, sync, { name: 'service-lb-controller', workers: 2, waitFor: [services, nodes] });
  /** Services whose ingress this controller set: a type change away from LoadBalancer is reported for them. */
  const ensured = new Set<string>();

  const onService = (s: Service) => queue.add(keyOf(s));
  services.addEventHandler({ onAdd: onService, onUpdate: (_o, n) => onService(n), onDelete: (s) => ensured.delete(keyOf(s)) });
  // Each node's contribution to the ingress as last seen (name → its IPs joined; absent: none).
  // A change of one re-syncs every LoadBalancer Service (the sync compares first); a heartbeat
  // that changes nothing costs one comparison.
  const contributions = new Map<string, string>();
  let ingress: LoadBalancerIngress[] | undefined;
  const currentIngress = (): LoadBalancerIngress[] => {
    if (ingress) return ingress;
    const ips = new Set<string>();
    for (const c of contributions.values()) for (const ip of c.split(',')) ips.add(ip);
    return (ingress = ingressFor(ips));
  };
  const onNode = (n: Node, gone = false) => {
    const name = n.metadata.name ?? '';
    const ips = gone ? '' : nodeIngressIPs(n).join(',');
    if ((contributions.get(name) ?? '') === ips) return;
    if (ips) contributions.set(name, ips);
    else contributions.delete(name);
    ingress = undefined;
    for (const s of services.store.list()) if (wantsLoadBalancer(s) || ensured.has(keyOf(s))) queue.add(keyOf(s));
  };
  nodes.addEventHandler({ onAdd: (n) => onNode(n), onUpdate: (_o, n) => onNode(n), onDelete: (n) => onNode(n, true) });

  async function sync(key: string): Promise<ReconcileResult | void> {
    const svc = services.store.get(key);
    if (!svc) {
      ensured.delete(key);
      return;
    }
    const current = ingressOf(svc);
    if (!wantsLoadBalancer(svc)) {
      // Another class's Service is someone else's; a former LoadBalancer of ours is cleaned up.
      if (svc.spec?.type === 'LoadBalancer' || !ensured.has(key)) return;
      recorder.event(svc, 'Normal', 'DeletingLoadBalancer', 'Deleting load balancer');
      if (current.length && !(await writeIngress(svc, []))) return { requeueAfter: 100 };
      ensured.delete(key);
      recorder.event(svc, 'Normal', 'DeletedLoadBalancer', 'Deleted load balancer');
      return;
    }
    const want = currentIngress();
    if (want.length === 0) recorder.event(svc, 'Warning', 'UnAvailableLoadBalancer', 'There are no available nodes for LoadBalancer');
    if (jsonEqual(current, want)) {
      if (want.length) ensured.add(key);
      return;
    }
    const nodeUpdate = current.length > 0 && want.length > 0;
    if (!nodeUpdate) recorder.event(svc, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer');
    if (!(await writeIngress(svc, want))) return { requeueAfter: 100 };
    if (want.length) ensured.add(key);
    if (nodeUpdate) recorder.event(svc, 'Normal', 'UpdatedLoadBalancer', `Updated load balancer with new hosts`);
    else if (want.length) recorder.event(svc, 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer');
    ctx.log(`service-lb-controller: ${key}: ingress ${want.map((i) => i.ip).join(', ') || '<none>'}`);
  }

  /** Writes the ingress through the status subresource; false on a conflict (retry on a fresher cache). */
  async function writeIngress(svc: Service, ingress: LoadBalancerIngress[]): Promise<boolean> {
    const status = { ...svc.status, loadBalancer: ingress.length ? { ingress } : {} };
    try {
      await cs.services.updateStatus({ ...svc, status }, { namespace: svc.metadata.namespace });
      return true;
    } catch (err) {
      if (isNotFound(err)) return true;
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
