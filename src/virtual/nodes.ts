/**
 * Simulated nodes (as KWOK does): N nodes that look real to the control plane. Each is registered
 * with the usual labels (hostname, os, arch, a zone and region spread over three zones),
 * capacity and allocatable, a pod CIDR, and the Ready condition; its kubelet Lease in
 * kube-node-lease is renewed every leaseRenewMs. Pods bound to a simulated node start at once:
 * Running, Ready, with an IP from the node's pod CIDR. Pods whose restartPolicy is Never or
 * OnFailure and that are controlled by a Job (or annotated) finish after a run duration with an
 * exit code, or restart with crash-loop back-off (nodes-simulation.ts has the conventions and
 * statuses); each running pod has at most one timer for its next change, and a change is
 * written only against the pod version it was computed from. Pods being deleted are removed
 * once their containers have stopped: one second after the deletion, or at the end of a shorter
 * grace period (never later than the grace period allows); one that finalizers keep is first
 * reported Failed with its containers terminated.
 * Used in-process by `bosun server --virtual-nodes N` and as `bosun virtual-nodes`.
 *
 * Like the kubelet, simulated nodes never give up on the API server: every failed write (a
 * conflict, 429, 5xx, a refused connection, even a 403 while kube-node-lease is being deleted) is
 * logged and retried with backoff until the signal aborts; `runVirtualNodes` rejects only for a
 * bad option. As the kubelet's status manager, they report again what the node controller
 * overwrote while heartbeats were late: a node's Ready condition, a running pod's readiness. Pod status is patched without touching fields the API server computed
 * (`status.qosClass` stays as admission set it).
 */
import type { ContainerStatus, Node, NodeCondition, Pod, PodCondition, PodStatus } from '../api/index.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../api/errors.ts';
import { InformerFactory, clientset, renewNodeLease, resources, sleepUnlessAborted, type RestClient } from '../client/index.ts';
import { nextTransitionAt, stoppedStatus, transition } from './nodes-simulation.ts';
import { startLocalPathProvisioner } from '../kubelet/localpath.ts';

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

/** Retry backoff of failed writes: 200 ms doubling to 7 s (the kubelet's node registration backoff). */
export const retryInitialMs = 200;
export const retryMaxMs = 7_000;

/** The delay before retry number `attempt` (0-based). */
export function retryDelay(attempt: number): number {
  return Math.min(retryMaxMs, retryInitialMs * 2 ** Math.min(attempt, 16));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Runs `fn` until it succeeds or `signal` aborts, logging each failure; true when it succeeded. */
export async function retrying(what: string, fn: () => Promise<void>, opts: { signal: AbortSignal; log: (msg: string) => void }): Promise<boolean> {
  for (let attempt = 0; !opts.signal.aborted; attempt++) {
    try {
      await fn();
      return true;
    } catch (err) {
      if (opts.signal.aborted) break;
      opts.log(`virtual nodes: ${what}: ${message(err)} (retrying)`);
      await sleepUnlessAborted(retryDelay(attempt), { signal: opts.signal });
    }
  }
  return false;
}

/** Lease renewals in flight at once. */
const renewConcurrency = 32;

/**
 * Pod writes (start, ready, finish, stop, delete) in flight at once. Unbounded, a burst (1,000
 * Job pods finishing within a second) flooded the API server in this process so that its own
 * watchers fell behind and were closed as unresponsive, stalling every node for its informer's
 * back-off; bounded, the same Job runs through in a third of the time.
 */
export const podWriteConcurrency = 32;

/** Whether the pod reached Succeeded or Failed. */
const isTerminal = (pod: Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** Whether every container of the pod is running (not restarting after a crash). */
const allRunning = (pod: Pod) => (pod.status?.containerStatuses ?? []).every((c) => !c.state || !!c.state.running);

/** Whether a pod's or a node's Ready condition is True. */
const isReady = (o: Pod | Node) => {
  const conditions: readonly (PodCondition | NodeCondition)[] = o.status?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
};

const rfc3339 = (ms = Date.now()) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The Node object of simulated node `index`. */
export function virtualNode(name: string, index: number, opts: Pick<VirtualNodesOptions, 'cpu' | 'memory' | 'pods'>): Node {
  const capacity = { cpu: opts.cpu ?? '32', memory: opts.memory ?? '256Gi', pods: String(opts.pods ?? 110), 'ephemeral-storage': '1Ti' };
  const now = rfc3339();
  const cond = (type: string, status: string, reason: string, message: string): NodeCondition => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
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
        { type: 'InternalIP', address: internalIP(index) },
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

/** Node `index`'s InternalIP (its pods' hostIP). */
function internalIP(index: number): string {
  return `10.${128 + (((index + 1) >> 16) & 63)}.${((index + 1) >> 8) & 255}.${(index + 1) & 255}`;
}

/** Node `index`'s pod CIDR: a /24 inside 10.244.0.0/14 (16,384 nodes). */
export function podCidr(index: number): string {
  return `10.${244 + ((index >> 8) & 3)}.${index & 255}.0/24`;
}

/** Registers the nodes and keeps them alive until `signal` aborts. */
export async function runVirtualNodes(opts: VirtualNodesOptions, signal: AbortSignal): Promise<void> {
  const { client } = opts;
  const cs = clientset(client);
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new RangeError(`virtual nodes: count must be a non-negative integer, got ${opts.count}`);
  const prefix = opts.prefix ?? 'virtual-node-';
  const log = opts.log ?? (() => {});
  const names = Array.from({ length: opts.count }, (_, i) => `${prefix}${i}`);
  const index = new Map(names.map((n, i) => [n, i]));
  const nextIp = new Map<string, number>();

  // Register (or refresh) every node and its Lease, a few at a time. Each step is retried on
  // its own: the status is a merge patch (no resourceVersion), so nothing that touches the Node
  // meanwhile (the node controller's taints, a label) can make it fail with a conflict.
  const retry = (what: string, fn: () => Promise<void>) => retrying(what, fn, { signal, log });
  const renewLease = (name: string) => renewNodeLease(cs, name);
  await forEachLimit(names, 32, async (name) => {
    const node = virtualNode(name, index.get(name)!, opts);
    // Registered with its status, as the kubelet registers (a Node keeps its status on create);
    // a node that exists already (a restart) has its status posted.
    let existed = false;
    await retry(`registering node ${name}`, async () => {
      try {
        await cs.nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: node.metadata, spec: node.spec, status: node.status });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        existed = true;
      }
    });
    if (existed) {
      await retry(`status of node ${name}`, async () => {
        await cs.nodes.patchStatus(name, { status: node.status }, { type: 'merge' });
      });
    }
    await retry(`lease ${name}`, () => renewLease(name));
  });
  if (signal.aborted) return;
  log(`virtual nodes: ${names.length} registered`);

  // Pods on our nodes: start them, run those that finish (nodes-simulation.ts), and finish their
  // deletion after the grace period.
  const informers = new InformerFactory(client, { log });
  const pods = informers.typedInformerFor(resources.pods);
  // Local-path volumes of claims scheduled to our nodes, as each node agent provisions its own
  // (kubelet/localpath.ts); nothing is written to disk. Immediate claims go to a node at random.
  const localPath = startLocalPathProvisioner({
    client,
    informers,
    ownsNode: (n) => index.has(n),
    root: () => '/var/lib/bosun/agent/storage',
    immediateNode: () => names[Math.floor(Math.random() * names.length)]!,
    identity: 'virtual-nodes',
    signal,
    log,
  });
  const deleting = new Map<string, NodeJS.Timeout>();
  const starting = new Set<string>();
  /** The next simulated change of a running pod (its containers exiting or restarting), by pod key. */
  const transitions = new Map<string, { uid: string; at: number; timer: NodeJS.Timeout }>();
  const podWrites = limiter(podWriteConcurrency);

  const handle = (pod: Pod) => {
    const node = pod.spec?.nodeName ?? '';
    if (!index.has(node)) return;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (pod.metadata.deletionTimestamp) {
      cancelTransition(key);
      if (deleting.has(key)) return;
      // Deleted for good but kept by finalizers, with its final status reported: nothing left to do.
      if (pod.metadata.deletionGracePeriodSeconds === 0 && pod.metadata.finalizers?.length && isTerminal(pod)) return;
      const due = Date.parse(pod.metadata.deletionTimestamp) - Date.now();
      const timer = setTimeout(() => {
        void retry(`deleting ${key}`, () => podWrites(async () => {
          const live = pods.store.get(key);
          if (!live || live.metadata.uid !== pod.metadata.uid) return; // gone already
          try {
            // Its object outlives the containers (finalizers): report how they ended, as the kubelet does.
            if (live.metadata.finalizers?.length && !isTerminal(live)) {
              await cs.pods.patchStatus(pod.metadata.name!, { status: stoppedStatus(live, Date.now()) }, { type: 'merge', namespace: pod.metadata.namespace });
            }
            if (live.metadata.deletionGracePeriodSeconds === 0) return;
            await cs.pods.delete(pod.metadata.name!, { namespace: pod.metadata.namespace, gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
          } catch (err) {
            if (!isNotFound(err) && !isConflict(err)) throw err;
          }
        })).finally(() => deleting.delete(key));
      }, Math.max(0, Math.min(due, stopMs)));
      timer.unref();
      deleting.set(key, timer);
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Running') scheduleTransition(key, pod);
    else cancelTransition(key);
    if (phase === 'Running' && !isReady(pod) && allRunning(pod) && !starting.has(key)) {
      // Marked not ready by the node controller while heartbeats were late: as the kubelet's
      // status manager, report the containers ready again.
      starting.add(key);
      void retry(`reporting ${key} ready`, () => podWrites(async () => {
        const live = pods.store.get(key);
        if (!live || live.metadata.uid !== pod.metadata.uid || live.metadata.deletionTimestamp || isReady(live) || !allRunning(live)) return;
        await markReady(live);
      })).finally(() => settled(key, pod));
      return;
    }
    if (phase === 'Running' || phase === 'Succeeded' || phase === 'Failed' || starting.has(key)) return;
    starting.add(key);
    void retry(`starting ${key}`, () => podWrites(async () => {
      const live = pods.store.get(key);
      // Started by an earlier attempt, deleted, or replaced meanwhile: nothing to do.
      if (!live || live.metadata.uid !== pod.metadata.uid || live.metadata.deletionTimestamp || live.status?.phase === 'Running') return;
      await start(live, node);
    })).finally(() => settled(key, pod));
  };

  /** An operation on a pod finished: look again if the pod changed meanwhile (events were ignored). */
  function settled(key: string, seen: Pod): void {
    starting.delete(key);
    const latest = pods.store.get(key);
    if (latest && latest.metadata.resourceVersion !== seen.metadata.resourceVersion) handle(latest);
  }

  /** Arms (or moves) the timer of the running pod's next simulated change; none for pods that do not finish. */
  function scheduleTransition(key: string, pod: Pod): void {
    const at = nextTransitionAt(pod);
    const cur = transitions.get(key);
    if (cur && cur.uid === pod.metadata.uid && cur.at === at) return;
    cancelTransition(key);
    if (at === undefined) return;
    const uid = pod.metadata.uid!;
    const timer = setTimeout(() => fireTransition(key, uid), Math.max(0, at - Date.now()));
    timer.unref();
    transitions.set(key, { uid, at, timer });
  }

  function cancelTransition(key: string): void {
    const cur = transitions.get(key);
    if (!cur) return;
    clearTimeout(cur.timer);
    transitions.delete(key);
  }

  /**
   * Applies the change due for the pod as the cache has it now, preconditioned on that version:
   * when the cache was behind (a conflict), the newer version's event schedules it again.
   */
  function fireTransition(key: string, uid: string): void {
    transitions.delete(key);
    void retry(`running ${key}`, () => podWrites(async () => {
      const live = pods.store.get(key);
      if (!live || live.metadata.uid !== uid || live.metadata.deletionTimestamp) return;
      const at = nextTransitionAt(live);
      if (at === undefined) return;
      if (at > Date.now()) return scheduleTransition(key, live);
      const status = transition(live, Date.now());
      if (!status) return;
      try {
        await cs.pods.patchStatus(live.metadata.name!, { metadata: { resourceVersion: live.metadata.resourceVersion }, status }, { type: 'merge', namespace: live.metadata.namespace });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }));
  }

  async function start(pod: Pod, node: string): Promise<void> {
    const i = index.get(node)!;
    const n = (nextIp.get(node) ?? 1) + 1;
    nextIp.set(node, n > 254 ? 2 : n);
    const ip = podCidr(i).replace(/\.0\/24$/, `.${n}`);
    const now = rfc3339();
    const containers = (pod.spec?.containers ?? []).map((c): ContainerStatus => ({
      name: c.name,
      // Validation requires an image; '' only to satisfy the type.
      image: c.image ?? '',
      imageID: `virtual://${c.image}`,
      containerID: `virtual://${pod.metadata.uid}/${c.name}`,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    }));
    const status: PodStatus = {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: internalIP(i),
      startTime: now,
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now })),
      containerStatuses: containers,
    };
    try {
      // A merge patch: fields the API server owns (qosClass) are left as they are.
      await cs.pods.patchStatus(pod.metadata.name!, { status }, { type: 'merge', namespace: pod.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async function markReady(pod: Pod): Promise<void> {
    const now = rfc3339();
    const conditions = ['Ready', 'ContainersReady'].map((type): PodCondition => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now }));
    try {
      // Strategic merge: conditions merge by type, the others stay.
      await cs.pods.patchStatus(pod.metadata.name!, { status: { conditions } }, { type: 'strategic', namespace: pod.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  pods.addEventHandler({
    onAdd: handle,
    onUpdate: (_o, n) => handle(n),
    onDelete: (p) => cancelTransition(`${p.metadata.namespace}/${p.metadata.name}`),
  });

  // Node status, as the kubelet posts it: a node of ours whose Ready condition is not True (the
  // node controller set it Unknown while heartbeats were late) gets its conditions posted again.
  const nodes = informers.typedInformerFor(resources.nodes, { labelSelector: 'node.bosun.dev/virtual=true' });
  const posting = new Set<string>();
  const checkNode = (node: Node) => {
    const name = node.metadata.name!;
    if (!index.has(name) || posting.has(name) || isReady(node)) return;
    posting.add(name);
    void retry(`status of node ${name}`, async () => {
      const live = nodes.store.get(name);
      if (!live || isReady(live)) return;
      const { conditions } = virtualNode(name, index.get(name)!, opts).status ?? {};
      await cs.nodes.patchStatus(name, { status: { conditions } }, { type: 'strategic' });
    }).finally(() => {
      posting.delete(name);
      const live = nodes.store.get(name);
      if (live && live.metadata.resourceVersion !== node.metadata.resourceVersion) checkNode(live);
    });
  };
  nodes.addEventHandler({ onAdd: checkNode, onUpdate: (_o, n) => checkNode(n) });
  informers.start(signal);

  // Heartbeats: one pass over every Lease each renewal period. Passes never overlap: on a busy
  // API server a slow pass is followed at once by the next instead of piling requests up (which
  // starved renewals until nodes went NotReady at 1,000 nodes).
  const renewMs = opts.leaseRenewMs ?? 10_000;
  while (!signal.aborted) {
    const started = Date.now();
    // A failed renewal is tried again at the next pass (well inside the 40 s lease).
    await forEachLimit(names, renewConcurrency, (n) => (signal.aborted ? Promise.resolve() : renewLease(n).catch((err: unknown) => log(`virtual nodes: lease ${n}: ${message(err)}`))));
    await sleepUnlessAborted(Math.max(0, renewMs - (Date.now() - started)), { signal });
  }
  for (const t of deleting.values()) clearTimeout(t);
  for (const t of transitions.values()) clearTimeout(t.timer);
  await localPath.stopped;
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

/** Runs at most `n` of the functions given to it at once, the others in order as slots free up. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    // A freed slot is handed to the next waiter directly, so `active` never exceeds n.
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
