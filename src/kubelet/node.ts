/**
 * The node as the kubelet reports it: registration (labels, pod CIDR), capacity and allocatable
 * read from this machine minus the eviction reserve, addresses, nodeInfo, images, the pressure
 * and Ready conditions, and the kubelet Lease in kube-node-lease renewed every 10 s.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import type { ContainerImage, Node, NodeCondition, NodeStatus } from '../api/index.ts';
import { isAlreadyExists } from '../api/errors.ts';
import type { Clientset } from '../client/index.ts';
import { parseQuantity } from '../api/quantity.ts';
import type { ImageService } from './cri/index.ts';

/** Hard eviction thresholds (upstream's defaults), subtracted from capacity for allocatable. */
export interface EvictionThresholds {
  memoryAvailableBytes: number;
  /** As written, for messages (e.g. 100Mi). */
  memoryAvailableText: string;
  nodefsAvailableFraction: number;
}
export const defaultEviction: EvictionThresholds = { memoryAvailableBytes: 100 * 1024 * 1024, memoryAvailableText: '100Mi', nodefsAvailableFraction: 0.1 };

/**
 * Parses upstream's `--eviction-hard` form (`memory.available<100Mi,nodefs.available<10%`); the
 * signals not given keep their defaults. Other signals and operators are refused.
 */
export function parseEvictionHard(text: string): EvictionThresholds {
  const out = { ...defaultEviction };
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z.]+)<(.+)$/.exec(part);
    if (!m) throw new Error(`invalid eviction threshold ${JSON.stringify(part)}: want SIGNAL<QUANTITY`);
    const [, signal, value] = m as unknown as [string, string, string];
    if (signal === 'memory.available') {
      const bytes = value.endsWith('%') ? undefined : parseQuantity(value);
      if (bytes === undefined || bytes < 0) throw new Error(`invalid memory.available threshold ${JSON.stringify(value)}: want a quantity such as 100Mi`);
      out.memoryAvailableBytes = bytes;
      out.memoryAvailableText = value;
    } else if (signal === 'nodefs.available') {
      const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
      if (!pct || Number(pct[1]) > 100) throw new Error(`invalid nodefs.available threshold ${JSON.stringify(value)}: want a percentage such as 10%`);
      out.nodefsAvailableFraction = Number(pct[1]) / 100;
    } else {
      throw new Error(`eviction signal ${signal} is not supported (memory.available and nodefs.available are)`);
    }
  }
  return out;
}
/** Images reported in node status (upstream's nodeStatusMaxImages). */
const maxImages = 50;
export const kubeletVersion = 'v1.33.0';
const arch = process.arch === 'x64' ? 'amd64' : process.arch;

export interface MachineInfo {
  cpus: number;
  memoryBytes: number;
  fsBytes: number;
  machineID: string;
  systemUUID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
}

async function readTrim(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return '';
  }
}

export async function machineInfo(rootDir: string): Promise<MachineInfo> {
  const st = await fs.statfs(rootDir);
  const osRelease = await readTrim('/etc/os-release');
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? 'Linux';
  return {
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    fsBytes: st.blocks * st.bsize,
    machineID: await readTrim('/etc/machine-id'),
    systemUUID: (await readTrim('/sys/class/dmi/id/product_uuid')).toLowerCase(),
    bootID: await readTrim('/proc/sys/kernel/random/boot_id'),
    kernelVersion: os.release(),
    osImage: pretty,
  };
}

const ki = (bytes: number) => `${Math.floor(bytes / 1024)}Ki`;

export interface NodeConfig {
  name: string;
  nodeIP: string;
  podCidr: string;
  kubeletPort: number;
  maxPods: number;
  runtimeVersion: string;
  labels?: Record<string, string>;
}

export function capacityOf(m: MachineInfo, maxPods: number, ev: EvictionThresholds = defaultEviction): { capacity: Record<string, string>; allocatable: Record<string, string> } {
  const capacity = { cpu: String(m.cpus), memory: ki(m.memoryBytes), pods: String(maxPods), 'ephemeral-storage': ki(m.fsBytes), 'hugepages-1Gi': '0', 'hugepages-2Mi': '0' };
  const allocatable = {
    ...capacity,
    memory: ki(Math.max(0, m.memoryBytes - ev.memoryAvailableBytes)),
    'ephemeral-storage': String(Math.floor(m.fsBytes * (1 - ev.nodefsAvailableFraction))),
  };
  return { capacity, allocatable };
}

export interface Pressure {
  memory: boolean;
  disk: boolean;
  pid: boolean;
  /** memory.available as upstream computes it (MemAvailable), bytes. */
  memoryAvailableBytes: number;
}

/** Current pressure, from the same signals as upstream's eviction manager (memory.available, nodefs.available, pid). */
export async function readPressure(rootDir: string, ev: EvictionThresholds = defaultEviction): Promise<Pressure> {
  const meminfo = await readTrim('/proc/meminfo');
  const avail = Number(/^MemAvailable:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) * 1024;
  const st = await fs.statfs(rootDir);
  const pidMax = Number(await readTrim('/proc/sys/kernel/pid_max')) || 32768;
  let procs = 0;
  try {
    procs = (await fs.readdir('/proc')).filter((d) => /^\d+$/.test(d)).length;
  } catch {}
  return {
    memory: avail > 0 && avail < ev.memoryAvailableBytes,
    disk: st.bavail / st.blocks < ev.nodefsAvailableFraction,
    pid: procs > pidMax * 0.9,
    memoryAvailableBytes: avail,
  };
}

export function nodeConditions(prev: NodeCondition[] | undefined, p: Pressure, ready: { ok: boolean; message: string }, now: string): NodeCondition[] {
  const cond = (type: string, isTrue: boolean, t: [string, string], f: [string, string]): NodeCondition => {
    const status = isTrue ? 'True' : 'False';
    const old = prev?.find((c) => c.type === type);
    const [reason, message] = isTrue ? t : f;
    return { type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now };
  };
  return [
    cond('MemoryPressure', p.memory, ['KubeletHasInsufficientMemory', 'kubelet has insufficient memory available'], ['KubeletHasSufficientMemory', 'kubelet has sufficient memory available']),
    cond('DiskPressure', p.disk, ['KubeletHasDiskPressure', 'kubelet has disk pressure'], ['KubeletHasNoDiskPressure', 'kubelet has no disk pressure']),
    cond('PIDPressure', p.pid, ['KubeletHasInsufficientPID', 'kubelet has insufficient PID available'], ['KubeletHasSufficientPID', 'kubelet has sufficient PID available']),
    cond('Ready', ready.ok, ['KubeletReady', 'kubelet is posting ready status'], ['KubeletNotReady', ready.message]),
  ];
}

export async function nodeImages(images: ImageService): Promise<ContainerImage[]> {
  const { images: list } = await images.listImages({});
  return (list ?? [])
    .map((i) => ({ names: [...(i.repo_digests ?? []), ...(i.repo_tags ?? [])], sizeBytes: Number(i.size ?? 0) }))
    .filter((i) => i.names.length)
    .sort((a, b) => b.sizeBytes - a.sizeBytes)
    .slice(0, maxImages);
}

export function nodeStatus(cfg: NodeConfig, m: MachineInfo, conditions: NodeCondition[], images: ContainerImage[]): NodeStatus {
  const { capacity, allocatable } = capacityOf(m, cfg.maxPods);
  return {
    capacity,
    allocatable,
    conditions,
    addresses: [
      { type: 'InternalIP', address: cfg.nodeIP },
      { type: 'Hostname', address: cfg.name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: cfg.kubeletPort } },
    nodeInfo: {
      machineID: m.machineID,
      systemUUID: m.systemUUID,
      bootID: m.bootID,
      kernelVersion: m.kernelVersion,
      osImage: m.osImage,
      containerRuntimeVersion: cfg.runtimeVersion,
      kubeletVersion,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: arch,
    },
    images,
  } as NodeStatus;
}

export function nodeLabels(cfg: NodeConfig): Record<string, string> {
  return {
    'beta.kubernetes.io/arch': arch,
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': arch,
    'kubernetes.io/hostname': cfg.name,
    'kubernetes.io/os': 'linux',
    ...(cfg.labels ?? {}),
  };
}

/** Registers the node (or takes over an existing one); returns its pod CIDR (an existing one wins). */
export async function registerNode(cs: Clientset, cfg: NodeConfig): Promise<string> {
  try {
    await cs.nodes.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: cfg.name, labels: nodeLabels(cfg), annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
      spec: { podCIDR: cfg.podCidr, podCIDRs: [cfg.podCidr] },
    } as Node);
    return cfg.podCidr;
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  const existing = await cs.nodes.get(cfg.name);
  const patch: Record<string, unknown> = { metadata: { labels: nodeLabels(cfg) } };
  if (!existing.spec?.podCIDR) patch['spec'] = { podCIDR: cfg.podCidr, podCIDRs: [cfg.podCidr] };
  await cs.nodes.patch(cfg.name, patch, { type: 'merge' });
  return existing.spec?.podCIDR || cfg.podCidr;
}
