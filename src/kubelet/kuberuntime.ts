/**
 * Pods in terms of the CRI (upstream's kuberuntime): the labels and annotations that tie sandboxes
 * and containers to pods (the same keys as upstream, so state survives an agent restart — the
 * runtime is the only record), the sandbox and container configurations made from a pod spec, and
 * the runtime's view of every pod read back in one relist.
 */
import path from 'node:path';
import type { Container, Pod } from '../api/index.ts';
import { parseQuantity } from '../api/quantity.ts';
import { podQOSClass, type QOSClass } from '../api/podresources.ts';
import type { RuntimeService } from './cri/index.ts';
import { podDnsConfig, type DnsEvent } from '../dns/index.ts';
import type { ContainerConfig, ContainerStatus as CriContainerStatus, In, Mount, PodSandbox, PodSandboxConfig, PodSandboxStatus } from './cri/types.ts';

export const labels = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
  containerType: 'io.kubernetes.container.type',
} as const;

export const annotations = {
  restartCount: 'io.kubernetes.container.restartCount',
  terminationMessagePath: 'io.kubernetes.container.terminationMessagePath',
  terminationMessagePolicy: 'io.kubernetes.container.terminationMessagePolicy',
  gracePeriod: 'io.kubernetes.pod.terminationGracePeriod',
  hash: 'io.kubernetes.container.hash',
} as const;

/** Where a pod's container logs live: `<logRoot>/<ns>_<name>_<uid>` as upstream's /var/log/pods. */
export function podLogDir(logRoot: string, pod: Pod): string {
  return path.join(logRoot, `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`);
}

/** A container's log file, relative to the pod log dir: `<container>/<attempt>.log`. */
export function containerLogPath(container: string, attempt: number): string {
  return `${container}/${attempt}.log`;
}

/** The pod's QoS class: what the API server recorded in status.qosClass, else computed as upstream. */
export function qosClass(pod: Pod): QOSClass {
  const s = pod.status?.qosClass;
  if (s === 'Guaranteed' || s === 'Burstable' || s === 'BestEffort') return s;
  return podQOSClass(pod.spec);
}

/** The pod's cgroup parent (cgroupfs driver), as upstream's kubepods hierarchy. */
export function podCgroupParent(pod: Pod): string {
  const qos = qosClass(pod);
  const uid = pod.metadata.uid!;
  return qos === 'Guaranteed' ? `/kubepods/pod${uid}` : `/kubepods/${qos.toLowerCase()}/pod${uid}`;
}

/** Upstream's CPU shares from milli-CPU (min 2, 1024 per CPU). */
export function milliCpuToShares(milli: number): number {
  if (milli === 0) return 2;
  return Math.max(2, Math.floor((milli * 1024) / 1000));
}

/** CFS quota for a limit (period 100 ms; min 1 ms), as upstream. */
export function milliCpuToQuota(milli: number, period = 100_000): number {
  if (milli === 0) return 0;
  return Math.max(1000, Math.floor((milli * period) / 1000));
}

export interface SandboxContext {
  logRoot: string;
  attempt: number;
  /** Host resolv.conf contents for dnsPolicy Default (and ClusterFirst on the host network). */
  dns: { servers: string[]; searches: string[]; options: string[] };
  /** The cluster DNS (`--cluster-dns`, `--cluster-domain`) for ClusterFirst; absent: none (pods fall back to Default). */
  clusterDns?: { servers: string[]; domain: string };
  /** Receives the pod's DNS warnings (DNSConfigForming, MissingClusterDNS). */
  onDnsEvent?: (e: DnsEvent) => void;
}

export function sandboxConfig(pod: Pod, ctx: SandboxContext): In<PodSandboxConfig> & { log_directory: string } {
  const spec = pod.spec!;
  const meta = pod.metadata;
  const hostNetwork = !!spec.hostNetwork;
  const portMappings = [];
  for (const c of spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      portMappings.push({ protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP', container_port: p.containerPort, host_port: p.hostPort, host_ip: p.hostIP ?? '' });
    }
  }
  const { events: dnsEvents, ...dnsConfig } = podDnsConfig(pod, { host: ctx.dns, clusterDns: ctx.clusterDns?.servers ?? [], clusterDomain: ctx.clusterDns?.domain ?? '' });
  for (const e of dnsEvents) ctx.onDnsEvent?.(e);
  let hostname = spec.hostname ?? meta.name!;
  if (hostNetwork) hostname = '';
  return {
    metadata: { name: meta.name!, uid: meta.uid!, namespace: meta.namespace!, attempt: ctx.attempt },
    hostname,
    log_directory: podLogDir(ctx.logRoot, pod),
    dns_config: dnsConfig,
    port_mappings: portMappings,
    labels: { ...(meta.labels ?? {}), [labels.podName]: meta.name!, [labels.podNamespace]: meta.namespace!, [labels.podUid]: meta.uid! },
    annotations: { ...(meta.annotations ?? {}) },
    linux: {
      cgroup_parent: podCgroupParent(pod),
      security_context: {
        namespace_options: {
          network: hostNetwork ? 'NODE' : 'POD',
          pid: spec.hostPID ? 'NODE' : spec.shareProcessNamespace ? 'POD' : 'CONTAINER',
          ipc: spec.hostIPC ? 'NODE' : 'POD',
        },
        privileged: [...(spec.containers ?? []), ...(spec.initContainers ?? [])].some((c) => c.securityContext?.privileged),
        run_as_user: spec.securityContext?.runAsUser !== undefined ? { value: String(spec.securityContext.runAsUser) } : undefined,
        supplemental_groups: (spec.securityContext?.supplementalGroups ?? []).map(String),
      },
      sysctls: Object.fromEntries((spec.securityContext?.sysctls ?? []).map((s) => [s.name, s.value])),
    },
  };
}

export interface ContainerContext {
  attempt: number;
  restartCount: number;
  env: Array<{ key: string; value: string }>;
  command: string[];
  args: string[];
  mounts: In<Mount>[];
  imageRef: string;
  /** Host file bound at the container's terminationMessagePath. */
  terminationMessageFile?: string;
  sandboxConfig: In<PodSandboxConfig>;
}

export function containerConfig(pod: Pod, c: Container, ctx: ContainerContext): In<ContainerConfig> {
  const limits = c.resources?.limits ?? {};
  const requests = c.resources?.requests ?? {};
  const cpuReq = Math.round((parseQuantity(requests['cpu'] ?? limits['cpu']) ?? 0) * 1000);
  const cpuLim = Math.round((parseQuantity(limits['cpu']) ?? 0) * 1000);
  const memLim = Math.round(parseQuantity(limits['memory']) ?? 0);
  const sc = { ...(pod.spec?.securityContext ?? {}), ...(c.securityContext ?? {}) } as NonNullable<Container['securityContext']> & { runAsUser?: number; runAsGroup?: number };
  const mounts = [...ctx.mounts];
  if (ctx.terminationMessageFile) {
    mounts.push({ container_path: c.terminationMessagePath ?? '/dev/termination-log', host_path: ctx.terminationMessageFile, readonly: false, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE' });
  }
  const meta = pod.metadata;
  return {
    metadata: { name: c.name, attempt: ctx.attempt },
    image: { image: ctx.imageRef },
    command: ctx.command,
    args: ctx.args,
    working_dir: c.workingDir ?? '',
    envs: ctx.env,
    mounts,
    labels: { [labels.podName]: meta.name!, [labels.podNamespace]: meta.namespace!, [labels.podUid]: meta.uid!, [labels.containerName]: c.name },
    annotations: {
      [annotations.restartCount]: String(ctx.restartCount),
      [annotations.terminationMessagePath]: c.terminationMessagePath ?? '/dev/termination-log',
      [annotations.terminationMessagePolicy]: c.terminationMessagePolicy ?? 'File',
      [annotations.gracePeriod]: String(pod.spec?.terminationGracePeriodSeconds ?? 30),
    },
    log_path: containerLogPath(c.name, ctx.attempt),
    stdin: !!c.stdin,
    stdin_once: !!c.stdinOnce,
    tty: !!c.tty,
    linux: {
      resources: {
        cpu_period: cpuLim ? '100000' : '0',
        cpu_quota: String(milliCpuToQuota(cpuLim)),
        cpu_shares: String(milliCpuToShares(cpuReq)),
        memory_limit_in_bytes: String(memLim),
        // Never negative: this machine cannot lower oom_score_adj (see NODE.md).
        oom_score_adj: String(oomScoreAdj(pod, c)),
      },
      security_context: {
        capabilities: { add_capabilities: c.securityContext?.capabilities?.add ?? [], drop_capabilities: c.securityContext?.capabilities?.drop ?? [] },
        privileged: !!c.securityContext?.privileged,
        namespace_options: ctx.sandboxConfig.linux?.security_context?.namespace_options,
        run_as_user: sc.runAsUser !== undefined ? { value: String(sc.runAsUser) } : undefined,
        run_as_group: sc.runAsGroup !== undefined ? { value: String(sc.runAsGroup) } : undefined,
        readonly_rootfs: !!c.securityContext?.readOnlyRootFilesystem,
        no_new_privs: c.securityContext?.allowPrivilegeEscalation === false,
      },
    },
  };
}

/** Upstream's OOM score adjustment by QoS, clamped to ≥ 0 (Guaranteed gets 0 instead of -997). */
function oomScoreAdj(pod: Pod, c: Container): number {
  const qos = qosClass(pod);
  if (qos === 'Guaranteed') return 0;
  if (qos === 'BestEffort') return 1000;
  const memReq = parseQuantity(c.resources?.requests?.['memory']) ?? 0;
  const total = memoryCapacityBytes || 1;
  const adj = 1000 - Math.floor((1000 * memReq) / total);
  return Math.min(999, Math.max(2, adj));
}

let memoryCapacityBytes = 0;
/** The node's memory capacity, used for Burstable OOM scores. */
export function setMemoryCapacity(bytes: number): void {
  memoryCapacityBytes = bytes;
}

/** One pod as the runtime sees it: its sandboxes (newest first) and containers (newest first). */
export interface RuntimePod {
  uid: string;
  namespace: string;
  name: string;
  sandboxes: PodSandbox[];
  containers: CriContainerStatus[];
}

/** Every pod the runtime knows, by uid (a relist: one ListPodSandbox + ListContainers, and ContainerStatus for containers whose state changed). */
export class RuntimeCache {
  #cri: RuntimeService;
  #statuses = new Map<string, { state: string; status: CriContainerStatus }>();
  #sandboxStatus = new Map<string, { state: string; status: PodSandboxStatus }>();
  pods = new Map<string, RuntimePod>();

  constructor(cri: RuntimeService) {
    this.#cri = cri;
  }

  /** Reads the runtime again; returns the uids whose state changed since the last relist. */
  async relist(): Promise<Set<string>> {
    const [{ items: sandboxes }, { containers }] = await Promise.all([this.#cri.listPodSandbox({}), this.#cri.listContainers({})]);
    const next = new Map<string, RuntimePod>();
    const changed = new Set<string>();
    const seen = new Set<string>();
    for (const sb of sandboxes ?? []) {
      const uid = sb.labels?.[labels.podUid] ?? sb.metadata?.uid;
      if (!uid) continue;
      let p = next.get(uid);
      if (!p) next.set(uid, (p = { uid, namespace: sb.metadata?.namespace ?? '', name: sb.metadata?.name ?? '', sandboxes: [], containers: [] }));
      p.sandboxes.push(sb);
    }
    for (const c of containers ?? []) {
      const uid = c.labels?.[labels.podUid];
      if (!uid) continue;
      seen.add(c.id);
      let p = next.get(uid);
      if (!p) next.set(uid, (p = { uid, namespace: c.labels?.[labels.podNamespace] ?? '', name: c.labels?.[labels.podName] ?? '', sandboxes: [], containers: [] }));
      let cached = this.#statuses.get(c.id);
      if (!cached || cached.state !== c.state) {
        try {
          const { status } = await this.#cri.containerStatus({ container_id: c.id, verbose: false });
          if (!status) continue;
          cached = { state: c.state, status };
          this.#statuses.set(c.id, cached);
        } catch {
          continue; // removed meanwhile
        }
        changed.add(uid);
      }
      p.containers.push(cached.status);
    }
    for (const id of this.#statuses.keys()) if (!seen.has(id)) this.#statuses.delete(id);
    for (const p of next.values()) {
      p.sandboxes.sort((a, b) => Number(BigInt(b.created_at) - BigInt(a.created_at)));
      p.containers.sort((a, b) => Number(BigInt(b.created_at) - BigInt(a.created_at)));
      const old = this.pods.get(p.uid);
      if (!old || fingerprint(old) !== fingerprint(p)) changed.add(p.uid);
    }
    for (const uid of this.pods.keys()) if (!next.has(uid)) changed.add(uid);
    this.pods = next;
    return changed;
  }

  /** Refreshes one container's status at once (after the agent changed it). */
  async refreshContainer(id: string): Promise<CriContainerStatus | undefined> {
    try {
      const { status } = await this.#cri.containerStatus({ container_id: id, verbose: false });
      if (!status) return undefined;
      this.#statuses.set(id, { state: status.state, status });
      return status;
    } catch {
      return undefined;
    }
  }

  /** The sandbox's status (network address), cached per sandbox state. */
  async sandboxStatus(id: string, state: string): Promise<PodSandboxStatus | undefined> {
    const hit = this.#sandboxStatus.get(id);
    if (hit && hit.state === state) return hit.status;
    try {
      const { status } = await this.#cri.podSandboxStatus({ pod_sandbox_id: id, verbose: false });
      if (!status) return undefined;
      this.#sandboxStatus.set(id, { state, status });
      return status;
    } catch {
      return undefined;
    }
  }

  /** Records a sandbox the agent just created, without a relist. */
  async addSandbox(id: string): Promise<PodSandbox | undefined> {
    let status: PodSandboxStatus | null;
    try {
      ({ status } = await this.#cri.podSandboxStatus({ pod_sandbox_id: id, verbose: false }));
    } catch {
      return undefined;
    }
    if (!status) return undefined;
    this.#sandboxStatus.set(id, { state: status.state, status });
    const sb: PodSandbox = { id, metadata: status.metadata, state: status.state, created_at: status.created_at, labels: status.labels, annotations: status.annotations, runtime_handler: status.runtime_handler };
    const p = this.#podFor(status.labels?.[labels.podUid] ?? status.metadata?.uid ?? '', status.metadata?.namespace ?? '', status.metadata?.name ?? '');
    p.sandboxes = [sb, ...p.sandboxes.filter((s) => s.id !== id)];
    return sb;
  }

  /** Records a container the agent just created or changed, without a relist. */
  async updateContainer(id: string): Promise<CriContainerStatus | undefined> {
    const status = await this.refreshContainer(id);
    if (!status) return undefined;
    const p = this.#podFor(status.labels?.[labels.podUid] ?? '', status.labels?.[labels.podNamespace] ?? '', status.labels?.[labels.podName] ?? '');
    p.containers = [status, ...p.containers.filter((c) => c.id !== id)].sort((a, b) => Number(BigInt(b.created_at) - BigInt(a.created_at)));
    return status;
  }

  #podFor(uid: string, namespace: string, name: string): RuntimePod {
    let p = this.pods.get(uid);
    if (!p) {
      p = { uid, namespace, name, sandboxes: [], containers: [] };
      // A new map: callers may be iterating the old one.
      this.pods = new Map(this.pods).set(uid, p);
    }
    return p;
  }

  /** Drops a removed pod from the cache. */
  forgetPod(uid: string): void {
    const next = new Map(this.pods);
    next.delete(uid);
    this.pods = next;
  }

  forgetSandbox(id: string): void {
    this.#sandboxStatus.delete(id);
  }
}

function fingerprint(p: RuntimePod): string {
  return p.sandboxes.map((s) => `${s.id}:${s.state}`).join(',') + '|' + p.containers.map((c) => `${c.id}:${c.state}`).join(',');
}
