/**
 * Usage on simulated nodes (label `node.bosun.dev/virtual=true`, src/virtual/nodes.ts), which
 * run nothing and have no kubelet to scrape: each running container of a Running pod uses what
 * the pod's annotations say — `metrics.bosun.dev/cpu` (e.g. `250m`) and
 * `metrics.bosun.dev/memory` (e.g. `64Mi`), per container — else a small default (1m CPU, 4Mi);
 * a node uses the sum over its Running pods plus a small base for its own agent and runtime
 * (50m CPU, 128Mi). Containers are the pod's containers and its sidecars (init containers with
 * restartPolicy Always), as a kubelet would report the running ones. An annotation that is not a
 * non-negative quantity is ignored (the default applies).
 *
 * Pure functions over the pods and nodes the metrics server's informers hold; a scrape calls
 * them once per simulated node (pods found through the informer's node-name index).
 */
import type { Node, Pod } from '../api/index.ts';
import type { NodeSample, PodSample } from './storage.ts';
import { addUsage, bytesOf, nanoCoresOf, type Usage } from './usage.ts';

/** The label simulated nodes carry. */
export const virtualNodeLabel = 'node.bosun.dev/virtual';
/** Per-container usage annotations on pods bound to simulated nodes. */
export const cpuAnnotation = 'metrics.bosun.dev/cpu';
export const memoryAnnotation = 'metrics.bosun.dev/memory';

/** A simulated container's usage without annotations: 1m CPU, 4Mi. */
export const defaultContainerUsage: Usage = { cpuNanoCores: 1_000_000, memoryBytes: 4 * 1024 * 1024 };
/** A simulated node's own usage besides its pods: 50m CPU, 128Mi. */
export const nodeBaseUsage: Usage = { cpuNanoCores: 50_000_000, memoryBytes: 128 * 1024 * 1024 };

/** Whether a node is simulated (no kubelet endpoint to scrape). */
export function isSimulated(node: Node): boolean {
  return node.metadata.labels?.[virtualNodeLabel] === 'true';
}

/** The names of a pod's containers that run while it is Running: containers and sidecars. */
export function runningContainerNames(pod: Pod): string[] {
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name);
  return [...sidecars, ...(pod.spec?.containers ?? []).map((c) => c.name)];
}

/** One container's usage from the pod's annotations (the same for each of its containers). */
export function containerUsage(pod: Pod): Usage {
  const a = pod.metadata.annotations ?? {};
  const cpu = a[cpuAnnotation] !== undefined ? nanoCoresOf(a[cpuAnnotation]) : undefined;
  const memory = a[memoryAnnotation] !== undefined ? bytesOf(a[memoryAnnotation]) : undefined;
  return { cpuNanoCores: cpu ?? defaultContainerUsage.cpuNanoCores, memoryBytes: memory ?? defaultContainerUsage.memoryBytes };
}

/** A Running pod's usage sample at `nowMs` over `windowMs`; undefined for a pod that is not Running. */
export function simulatedPod(pod: Pod, nowMs: number, windowMs: number): PodSample | undefined {
  if (pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp) return undefined;
  const usage = containerUsage(pod);
  return { timestampMs: nowMs, windowMs, containers: runningContainerNames(pod).map((name) => ({ name, usage })) };
}

/**
 * Usage of a simulated node and of its pods: the node's sample is its base plus every Running
 * pod's containers. `pods` are the pods bound to the node (others are ignored).
 */
export function simulatedNode(node: Node, pods: readonly Pod[], nowMs: number, windowMs: number): { node: NodeSample; pods: Map<string, PodSample> } {
  let total = nodeBaseUsage;
  const out = new Map<string, PodSample>();
  for (const pod of pods) {
    if (pod.spec?.nodeName !== node.metadata.name) continue;
    const s = simulatedPod(pod, nowMs, windowMs);
    if (!s) continue;
    out.set(`${pod.metadata.namespace}/${pod.metadata.name}`, s);
    for (const c of s.containers) total = addUsage(total, c.usage);
  }
  return { node: { timestampMs: nowMs, windowMs, usage: total }, pods: out };
}
