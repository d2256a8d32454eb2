/**
 * Simulated nodes (as KWOK does): N nodes that look real to the control plane. Each is registered
 * with the usual labels (hostname, os, arch, a zone and region spread over three zones),
 * capacity and allocatable, a pod CIDR, and the Ready condition; its kubelet Lease in
 * kube-node-lease is renewed every leaseRenewMs. Pods bound to a simulated node start at once:
 * Running, Ready, with an IP from the node's pod CIDR. Pods being deleted are removed once their
 * containers have stopped: one second after the deletion, or at the end of a shorter grace
 * period (never later than the grace period allows).
 * Used in-process by `bosun server --virtual-nodes N` and as `bosun virtual-nodes`.
 */
import type { KubeObject } from '../api/types.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../api/errors.ts';
import { InformerFactory, microTime, resources, type RestClient } from '../client/index.ts';

export interface VirtualNodesOptions {
  client: RestClient;
  count: number;
  /** Node names are `<prefix><index>`; default 'virtual-node-'. */
  prefix?: string;
  cpu?: string;
  memory?: string;
  pods?: number;
  /** Lease renewal period; default 10 s (the kubelet's: a quarter of 40 s). */
  leaseRenewMs?: number;
  log?: (msg: string) => void;
}

const zones = ['zone-a', 'zone-b', 'zone-c'];
/** Simulated containers stop this long after SIGTERM, or at the end of a shorter grace period. */
const stopMs = 1000;
const region = 'region-1';

const rfc3339 = (ms = Date.now()) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The Node object of simulated node `index`. */
export function virtualNode(name: string, index: number, opts: Pick<VirtualNodesOptions, 'cpu' | 'memory' | 'pods'>): KubeObject {
  const capacity = { cpu: opts.cpu ?? '32', memory: opts.memory ?? '256Gi', pods: String(opts.pods ?? 110), 'ephemeral-storage': '1Ti' };
  const now = rfc3339();
  const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'beta.kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': zones[index % zones.length]!,
        'topology.kubernetes.io/region': region,
        'node.bosun.dev/virtual': 'true',
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: { podCIDR: podCidr(index), podCIDRs: [podCidr(index)] },
    status: {
      capacity,
      allocatable: capacity,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: `10.${128 + (((index + 1) >> 16) & 63)}.${((index + 1) >> 8) & 255}.${(index + 1) & 255}` },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: 'virtual',
        osImage: 'Bosun virtual node',
        containerRuntimeVersion: 'virtual://1.0.0',
        kubeletVersion: 'v1.33.0',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

/** Node `index`'s pod CIDR: a /24 inside 10.244.0.0/14 (16,384 nodes). */
export function podCidr(index: number): string {
  return `10.${244 + ((index >> 8) & 3)}.${index & 255}.0/24`;
}

/** Registers the nodes and keeps them alive until `signal` aborts. */
export async function runVirtualNodes(opts: VirtualNodesOptions, signal: AbortSignal): Promise<void> {
  const { client } = opts;
  const prefix = opts.prefix ?? 'virtual-node-';
  const log = opts.log ?? (() => {});
  const names = Array.from({ length: opts.count }, (_, i) => `${prefix}${i}`);
  const index = new Map(names.map((n, i) => [n, i]));
  const nextIp = new Map<string, number>();

  // Register (or refresh) every node and its Lease, a few at a time.
  await forEachLimit(names, 32, async (name) => {
    const node = virtualNode(name, index.get(name)!, opts);
    try {
      const created = await client.create(resources.nodes, { apiVersion: 'v1', kind: 'Node', metadata: node.metadata, spec: node['spec'] } as KubeObject);
      await client.updateStatus(resources.nodes, { ...created, status: node['status'] });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await client.patchStatus(resources.nodes, name, { status: node['status'] }, { type: 'merge' });
    }
    await renewLease(name);
  });
  log(`virtual nodes: ${names.length} registered`);

  async function renewLease(name: string): Promise<void> {
    const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime(Date.now()) };
    try {
      await client.patch(resources.leases, name, { spec }, { type: 'merge', namespace: 'kube-node-lease' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await client.create(resources.leases, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec } as KubeObject, { namespace: 'kube-node-lease' });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
  }

  // Pods on our nodes: start them, and finish their deletion after the grace period.
  const informers = new InformerFactory(client, { log });
  const pods = informers.informerFor(resources.pods);
  const deleting = new Map<string, NodeJS.Timeout>();
  const starting = new Set<string>();

  const handle = (pod: KubeObject) => {
    const node = String((pod['spec'] as { nodeName?: string } | undefined)?.nodeName ?? '');
    if (!index.has(node)) return;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (pod.metadata.deletionTimestamp) {
      if (deleting.has(key)) return;
      const due = Date.parse(pod.metadata.deletionTimestamp) - Date.now();
      const timer = setTimeout(() => {
        client
          .delete(resources.pods, pod.metadata.name!, { namespace: pod.metadata.namespace, gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } })
          .catch((err: unknown) => {
            if (!isNotFound(err) && !isConflict(err)) log(`virtual nodes: deleting ${key}: ${(err as Error).message}`);
          })
          .finally(() => deleting.delete(key));
      }, Math.max(0, Math.min(due, stopMs)));
      timer.unref();
      deleting.set(key, timer);
      return;
    }
    const phase = (pod['status'] as { phase?: string } | undefined)?.phase;
    if (phase === 'Running' || phase === 'Succeeded' || phase === 'Failed' || starting.has(key)) return;
    starting.add(key);
    void start(pod, node).finally(() => starting.delete(key));
  };

  async function start(pod: KubeObject, node: string): Promise<void> {
    const i = index.get(node)!;
    const n = (nextIp.get(node) ?? 1) + 1;
    nextIp.set(node, n > 254 ? 2 : n);
    const ip = podCidr(i).replace(/\.0\/24$/, `.${n}`);
    const now = rfc3339();
    const containers = ((pod['spec'] as { containers?: { name: string; image: string }[] }).containers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: `virtual://${c.image}`,
      containerID: `virtual://${pod.metadata.uid}/${c.name}`,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    }));
    const status = {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: (virtualNode(node, i, opts)['status'] as { addresses: { address: string }[] }).addresses[0]!.address,
      startTime: now,
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now })),
      containerStatuses: containers,
      qosClass: 'BestEffort',
    };
    try {
      await client.patchStatus(resources.pods, pod.metadata.name!, { status }, { type: 'merge', namespace: pod.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) log(`virtual nodes: starting ${pod.metadata.namespace}/${pod.metadata.name}: ${(err as Error).message}`);
    }
  }

  pods.addEventHandler({ onAdd: handle, onUpdate: (_o, n) => handle(n) });
  informers.start(signal);

  // Heartbeats, spread over the renewal period.
  const renewMs = opts.leaseRenewMs ?? 10_000;
  const timer = setInterval(() => {
    void forEachLimit(names, 16, (n) => renewLease(n).catch((err: unknown) => log(`virtual nodes: lease ${n}: ${(err as Error).message}`)));
  }, renewMs);
  timer.unref();
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  clearInterval(timer);
  for (const t of deleting.values()) clearTimeout(t);
  await informers.stopped();
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
    }),
  );
}
