/**
 * The pod status the kubelet reports, computed from the runtime's view (upstream's
 * generateAPIPodStatus + getPhase): container statuses with state, lastState, restartCount, image
 * and ids; the phase; the kubelet-owned conditions (PodReadyToStartContainers, Initialized,
 * ContainersReady, Ready) with transition times kept while a condition does not change. Pure:
 * the caller supplies the runtime view, probe results and the reasons containers are waiting.
 */
import type { Container, ContainerState, ContainerStatus, Pod, PodCondition, PodStatus } from '../api/index.ts';
import type { ContainerStatus as CriContainerStatus } from './cri/types.ts';
import { annotations, type RuntimePod } from './kuberuntime.ts';

export interface StatusInputs {
  pod: Pod;
  runtime?: RuntimePod;
  /** The ready sandbox's IPs (empty while there is none). */
  podIPs: string[];
  hostIPs: string[];
  sandboxReady: boolean;
  /** Why a container is not running: ContainerCreating, PodInitializing, CrashLoopBackOff, ErrImagePull, ... */
  waiting: Map<string, { reason: string; message?: string }>;
  /** Readiness per container name (true once the readiness probe succeeded; no probe = ready when running). */
  ready: Map<string, boolean>;
  /** Startup probe passed per container name (no probe = started when running). */
  started: Map<string, boolean>;
  /** Pods rejected or finished by the kubelet: the final phase, reason and message. */
  terminal?: { phase: 'Failed' | 'Succeeded'; reason?: string; message?: string };
  /**
   * The kubelet has stopped the pod for good (it is being deleted and none of its containers
   * runs): upstream's podIsTerminal, which makes the phase terminal whatever the restart policy.
   */
  podIsTerminal?: boolean;
  startTime: string;
  now: string;
}

const ns = (t: string | number | undefined): string | undefined => {
  if (t === undefined || t === '0' || t === 0) return undefined;
  const n = BigInt(t);
  if (n <= 0n) return undefined;
  return new Date(Number(n / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, 'Z');
};

/** The containerd:// id as upstream reports it. */
export const containerId = (id: string) => `containerd://${id}`;

function terminatedState(c: CriContainerStatus): ContainerState {
  const exitCode = Number(c.exit_code ?? 0);
  return {
    terminated: {
      exitCode,
      reason: c.reason || (exitCode === 0 ? 'Completed' : 'Error'),
      ...(c.message ? { message: c.message } : {}),
      startedAt: ns(c.started_at) ?? null,
      finishedAt: ns(c.finished_at) ?? null,
      containerID: containerId(c.id),
    },
  } as ContainerState;
}

function restartCountOf(c: CriContainerStatus | undefined): number {
  return Number(c?.annotations?.[annotations.restartCount] ?? 0) || 0;
}

/** The runtime's containers of one name, newest first. */
export function containersNamed(rt: RuntimePod | undefined, name: string): CriContainerStatus[] {
  return (rt?.containers ?? []).filter((c) => c.metadata?.name === name);
}

function containerStatus(spec: Container, inputs: StatusInputs, kind: 'init' | 'regular' | 'ephemeral'): ContainerStatus {
  const [cur, prev] = containersNamed(inputs.runtime, spec.name);
  const waiting = inputs.waiting.get(spec.name);
  const base = { name: spec.name, image: spec.image ?? '', imageID: '', ready: false, restartCount: restartCountOf(cur), started: false } as ContainerStatus;
  if (!cur) {
    return { ...base, state: { waiting: { reason: waiting?.reason ?? (kind === 'regular' && hasPendingInit(inputs) ? 'PodInitializing' : 'ContainerCreating'), ...(waiting?.message ? { message: waiting.message } : {}) } } };
  }
  const withIds = { ...base, image: imageName(cur, spec), imageID: cur.image_ref ?? '', containerID: containerId(cur.id) };
  if (cur.state === 'CONTAINER_RUNNING') {
    const started = inputs.started.get(spec.name) ?? true;
    const ready = started && (inputs.ready.get(spec.name) ?? true);
    return {
      ...withIds,
      state: { running: { startedAt: ns(cur.started_at) ?? inputs.now } },
      ...(prev ? { lastState: terminatedState(prev) } : {}),
      ready: kind === 'init' && spec.restartPolicy !== 'Always' ? false : ready,
      started,
    };
  }
  if (cur.state === 'CONTAINER_CREATED') {
    return { ...withIds, state: { waiting: { reason: waiting?.reason ?? 'ContainerCreating' } }, ...(prev ? { lastState: terminatedState(prev) } : {}) };
  }
  // Exited (or unknown): waiting to restart (back-off), or terminated for good.
  if (waiting) {
    return { ...withIds, state: { waiting: { reason: waiting.reason, ...(waiting.message ? { message: waiting.message } : {}) } }, lastState: terminatedState(cur) };
  }
  return { ...withIds, state: terminatedState(cur), ...(prev ? { lastState: terminatedState(prev) } : {}) };
}

/** The image as the spec names it, as upstream reports it (the runtime's normalized name). */
function imageName(c: CriContainerStatus, spec: Container): string {
  const img = c.image?.image ?? '';
  if (img && !img.startsWith('sha256:')) return img;
  return normalizeImage(spec.image ?? '');
}

/** docker.io normalization: `busybox:1.36` → `docker.io/library/busybox:1.36`; no tag → `:latest`. */
export function normalizeImage(ref: string): string {
  if (!ref) return ref;
  let name = ref;
  let suffix = '';
  const at = name.indexOf('@');
  if (at >= 0) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  }
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  if (slash < 0) name = `docker.io/library/${name}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') name = `docker.io/${name}`;
  const lastSlash = name.lastIndexOf('/');
  if (!suffix && !name.slice(lastSlash).includes(':')) name += ':latest';
  return name + suffix;
}

function hasPendingInit(inputs: StatusInputs): boolean {
  for (const c of inputs.pod.spec?.initContainers ?? []) {
    const [cur] = containersNamed(inputs.runtime, c.name);
    if (c.restartPolicy === 'Always') {
      if (!cur || cur.state !== 'CONTAINER_RUNNING' || !(inputs.started.get(c.name) ?? true)) return true;
      continue;
    }
    if (!cur || cur.state !== 'CONTAINER_EXITED' || Number(cur.exit_code) !== 0) return true;
  }
  return false;
}

/** Upstream's getPhase over the statuses just computed. */
export function podPhase(pod: Pod, init: ContainerStatus[], regular: ContainerStatus[], podIsTerminal = false): string {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  let pendingInit = 0;
  let failedInit = 0;
  const specInit = pod.spec?.initContainers ?? [];
  for (const [i, s] of init.entries()) {
    if (specInit[i]?.restartPolicy === 'Always') {
      if (!s.started) pendingInit++;
      continue;
    }
    const t = s.state?.terminated;
    if (t && t.exitCode === 0) continue;
    if (t || (s.state?.waiting && s.lastState?.terminated)) {
      if (policy === 'Never') failedInit++;
      else pendingInit++;
      continue;
    }
    pendingInit++;
  }
  if (failedInit > 0) return 'Failed';
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of regular) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) {
        stopped++;
        if (s.lastState.terminated.exitCode === 0) succeeded++;
      } else waiting++;
    }
  }
  if (pendingInit > 0 && running === 0) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    // A pod the kubelet stopped for good ends Succeeded or Failed, as upstream's kubelet reports
    // it since 1.27 (a Job then sees a deleted OnFailure pod fail).
    if (podIsTerminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'OnFailure') return 'Running';
    return 'Failed';
  }
  return 'Pending';
}

function condition(prev: PodCondition[] | undefined, type: string, status: 'True' | 'False', now: string, reason?: string, message?: string): PodCondition {
  const old = prev?.find((c) => c.type === type);
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : now;
  return { type, status, lastProbeTime: null, lastTransitionTime, ...(reason ? { reason } : {}), ...(message ? { message } : {}) } as PodCondition;
}

const kubeletConditions = new Set(['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready']);

export function computePodStatus(inputs: StatusInputs): PodStatus {
  const { pod, now } = inputs;
  const prev = pod.status?.conditions;
  const init = (pod.spec?.initContainers ?? []).map((c) => containerStatus(c, inputs, 'init'));
  const regular = (pod.spec?.containers ?? []).map((c) => containerStatus(c, inputs, 'regular'));
  const ephemeral = (pod.spec?.ephemeralContainers ?? []).map((c) => {
    const s = containerStatus(c as Container, inputs, 'ephemeral');
    // Ephemeral containers are never ready and carry no started flag upstream.
    const { started: _started, ...rest } = s;
    return { ...rest, ready: false };
  });
  let phase = inputs.terminal?.phase ?? podPhase(pod, init, regular, inputs.podIsTerminal);
  // A pod that reached a terminal phase never leaves it (upstream keeps it).
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') phase = pod.status.phase;
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const incompleteInit = (pod.spec?.initContainers ?? [])
    .filter((c, i) => (c.restartPolicy === 'Always' ? !init[i]!.started : init[i]!.state?.terminated?.exitCode !== 0))
    .map((c) => c.name);
  const unready = (pod.spec?.containers ?? []).filter((_, i) => !regular[i]!.ready).map((c) => c.name);
  const sidecarsUnready = (pod.spec?.initContainers ?? []).filter((c, i) => c.restartPolicy === 'Always' && !init[i]!.ready).map((c) => c.name);
  const allUnready = [...sidecarsUnready, ...unready];
  const gates = pod.spec?.readinessGates ?? [];
  const gatesUnready = gates.filter((g) => !(prev ?? []).some((c) => c.type === g.conditionType && c.status === 'True')).map((g) => g.conditionType);
  const conditions: PodCondition[] = [];
  conditions.push(condition(prev, 'PodReadyToStartContainers', inputs.sandboxReady && !terminal ? 'True' : 'False', now));
  if (incompleteInit.length && !(terminal && phase === 'Succeeded')) {
    conditions.push(condition(prev, 'Initialized', 'False', now, 'ContainersNotInitialized', `containers with incomplete status: [${incompleteInit.join(' ')}]`));
  } else conditions.push(condition(prev, 'Initialized', 'True', now));
  if (terminal && phase === 'Succeeded') {
    conditions.push(condition(prev, 'Ready', 'False', now, 'PodCompleted'));
    conditions.push(condition(prev, 'ContainersReady', 'False', now, 'PodCompleted'));
  } else if (allUnready.length || terminal) {
    const msg = `containers with unready status: [${allUnready.join(' ')}]`;
    conditions.push(condition(prev, 'Ready', 'False', now, 'ContainersNotReady', msg));
    conditions.push(condition(prev, 'ContainersReady', 'False', now, 'ContainersNotReady', msg));
  } else if (gatesUnready.length) {
    conditions.push(condition(prev, 'Ready', 'False', now, 'ReadinessGatesNotReady', `corresponding condition of pod readiness gate "${gatesUnready[0]}" does not exist.`));
    conditions.push(condition(prev, 'ContainersReady', 'True', now));
  } else {
    conditions.push(condition(prev, 'Ready', 'True', now));
    conditions.push(condition(prev, 'ContainersReady', 'True', now));
  }
  for (const c of prev ?? []) if (!kubeletConditions.has(c.type)) conditions.push(c);
  const status: PodStatus = {
    phase,
    conditions: orderConditions(conditions),
    ...(inputs.terminal?.reason ? { reason: inputs.terminal.reason } : {}),
    ...(inputs.terminal?.message ? { message: inputs.terminal.message } : {}),
    hostIP: inputs.hostIPs[0],
    hostIPs: inputs.hostIPs.map((ip) => ({ ip })),
    ...(inputs.podIPs.length ? { podIP: inputs.podIPs[0], podIPs: inputs.podIPs.map((ip) => ({ ip })) } : {}),
    startTime: inputs.startTime,
    ...(init.length ? { initContainerStatuses: init } : {}),
    containerStatuses: regular,
    qosClass: pod.status?.qosClass,
    ...(ephemeral.length ? { ephemeralContainerStatuses: ephemeral } : {}),
  };
  return status;
}

const conditionOrder = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];
function orderConditions(cs: PodCondition[]): PodCondition[] {
  const rank = (t: string) => {
    const i = conditionOrder.indexOf(t);
    return i < 0 ? conditionOrder.length : i;
  };
  return [...cs].sort((a, b) => rank(a.type) - rank(b.type));
}
