/**
 * A pod's resource requests as the scheduler and the kubelet's admission count them (upstream's
 * resourcehelper.PodRequests): the sum of containers, the peak of init containers (sidecars
 * counted beside what follows them), plus overhead; and its QoS class (upstream's
 * ComputePodQOS), which the API server records and the node agent acts on.
 */
import type { Pod, PodSpec, Quantity } from './index.ts';
import { parseQuantity } from './quantity.ts';

/** Amounts by resource name: cpu in milli-units (milliCPU), the rest in base units. */
export interface Resources {
  milliCPU: number;
  memory: number;
  pods: number;
  [name: string]: number;
}

/** Adds `requests` (scaled) into `into`. */
export function addRequests(into: Resources, requests: Record<string, Quantity>, scale = 1): void {
  for (const [k, v] of Object.entries(requests)) {
    const q = parseQuantity(v) ?? 0;
    if (k === 'cpu') into.milliCPU += Math.round(q * 1000) * scale;
    else if (k === 'memory') into.memory += q * scale;
    else into[k] = (into[k] ?? 0) + q * scale;
  }
}

/** Requests per pod object: informer objects are never changed in place, so they can be cached. */
const requestsCache = new WeakMap<Pod, Resources>();

/** A pod's effective requests: max(sum of containers, each init container) + overhead, as upstream. */
export function podRequests(pod: Pod): Resources {
  const hit = requestsCache.get(pod);
  if (hit) return hit;
  const r = computeRequests(pod);
  requestsCache.set(pod, r);
  return r;
}

function computeRequests(pod: Pod): Resources {
  const spec = pod.spec;
  const sum: Resources = { milliCPU: 0, memory: 0, pods: 1 };
  for (const c of spec?.containers ?? []) addRequests(sum, c.resources?.requests ?? {});
  // Sidecars (init containers with restartPolicy Always) run beside everything after them; each
  // plain init container runs alone with the sidecars started before it.
  const sidecars: Resources = { milliCPU: 0, memory: 0, pods: 0 };
  const initPeak: Resources = { milliCPU: 0, memory: 0, pods: 0 };
  for (const c of spec?.initContainers ?? []) {
    const one: Resources = { milliCPU: 0, memory: 0, pods: 0 };
    addRequests(one, c.resources?.requests ?? {});
    if (c.restartPolicy === 'Always') {
      for (const k of Object.keys(one)) sidecars[k] = (sidecars[k] ?? 0) + one[k]!;
      for (const k of Object.keys(sidecars)) initPeak[k] = Math.max(initPeak[k] ?? 0, sidecars[k]!);
    } else {
      for (const k of Object.keys(one)) initPeak[k] = Math.max(initPeak[k] ?? 0, one[k]! + (sidecars[k] ?? 0));
    }
  }
  for (const k of Object.keys(sidecars)) if (k !== 'pods') sum[k] = (sum[k] ?? 0) + sidecars[k]!;
  for (const k of Object.keys(initPeak)) if (k !== 'pods' && initPeak[k]! > (sum[k] ?? 0)) sum[k] = initPeak[k]!;
  addRequests(sum, spec?.overhead ?? {});
  return sum;
}


export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** Upstream ComputePodQOS over init and regular containers (cpu and memory only). */
export function podQOSClass(spec: PodSpec | undefined): QOSClass {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const [name, q] of Object.entries(c.resources?.requests ?? {})) {
      if (name !== 'cpu' && name !== 'memory') continue;
      const v = parseQuantity(q) ?? 0;
      if (v > 0) requests.set(name, (requests.get(name) ?? 0) + v);
    }
    const found = new Set<string>();
    for (const [name, q] of Object.entries(c.resources?.limits ?? {})) {
      if (name !== 'cpu' && name !== 'memory') continue;
      const v = parseQuantity(q) ?? 0;
      if (v > 0) {
        found.add(name);
        limits.set(name, (limits.get(name) ?? 0) + v);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (lim === undefined || Math.abs(lim - req) > Math.abs(lim) * 1e-12) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
