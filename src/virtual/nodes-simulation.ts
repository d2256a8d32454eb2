/**
 * How simulated nodes run pods that finish: pure functions from a pod to when its next
 * simulated state change is due and what its status becomes then, as the kubelet would report
 * it. Conventions (Bosun's, documented in the README):
 *
 * - Only pods whose restartPolicy is Never or OnFailure finish: pods controlled by a Job after
 *   `simulation.bosun.dev/run-duration` (a Go duration, default 1s), other pods only when that
 *   annotation is set; every container exits with `simulation.bosun.dev/exit-code` (default 0).
 * - Exit 0, or any code with restartPolicy Never: the containers are terminated (reason
 *   Completed or Error, with exitCode, startedAt, finishedAt), the pod Succeeded or Failed, not
 *   ready (Ready False with reason PodCompleted, or ContainersNotReady).
 * - A non-zero code with OnFailure restarts the containers as the kubelet does: restartCount
 *   goes up, the exit is kept in lastState, the first restart is immediate and later ones wait
 *   in CrashLoopBackOff (not ready) 10 s doubling to 5 min; the restarted containers run for the
 *   run duration again.
 * - A pod that is deleted while it still carries finalizers (so its object outlives its
 *   containers) ends Failed with its running containers terminated (exit 143, Error), as the
 *   kubelet reports a pod it stopped.
 */
import type { ContainerStatus, Pod, PodCondition, PodStatus } from '../api/index.ts';
import { parseDurationMs } from '../api/duration.ts';

export const runDurationAnnotation = 'simulation.bosun.dev/run-duration';
export const exitCodeAnnotation = 'simulation.bosun.dev/exit-code';
/** How long a Job's pods run without the annotation. */
export const defaultJobRunMs = 1_000;
/** The kubelet's crash-loop backoff: 10 s doubling to 5 min. */
export const crashLoopInitialMs = 10_000;
export const crashLoopMaxMs = 300_000;
/** The exit code of a container stopped with SIGTERM. */
export const stoppedExitCode = 143;

/** A Go duration (`1s`, `1m30s`, `250ms`, `0`) in ms; undefined when malformed or negative. */
export function parseGoDurationMs(v: string): number | undefined {
  const ms = parseDurationMs(v.trim());
  return ms === undefined || ms < 0 ? undefined : ms;
}

export interface Simulation {
  runMs: number;
  exitCode: number;
}

/** How a pod's containers run, or undefined for pods that run until deleted. */
export function podSimulation(pod: Pod): Simulation | undefined {
  const policy = pod.spec?.restartPolicy;
  if (policy !== 'Never' && policy !== 'OnFailure') return undefined;
  const annotations = pod.metadata.annotations ?? {};
  const text = annotations[runDurationAnnotation];
  let runMs: number | undefined;
  if (text !== undefined) runMs = parseGoDurationMs(text);
  else if (pod.metadata.ownerReferences?.some((r) => r.controller && r.kind === 'Job')) runMs = defaultJobRunMs;
  if (runMs === undefined) return undefined;
  const code = Number(annotations[exitCodeAnnotation] ?? '0');
  return { runMs, exitCode: Number.isInteger(code) && code >= 0 && code <= 255 ? code : 0 };
}

/** The wait before restart number `restarts` (1-based): none for the first, then 10 s doubling to 5 min. */
export function crashLoopDelay(restarts: number): number {
  if (restarts <= 1) return 0;
  return Math.min(crashLoopMaxMs, crashLoopInitialMs * 2 ** Math.min(restarts - 2, 16));
}

const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const parse = (t: string | null | undefined) => (t ? Date.parse(t) : NaN);

/** When the pod's next simulated change is due (ms since the epoch), or undefined when none is. */
export function nextTransitionAt(pod: Pod): number | undefined {
  const sim = podSimulation(pod);
  if (!sim || pod.metadata.deletionTimestamp || pod.status?.phase !== 'Running') return undefined;
  const statuses = pod.status.containerStatuses ?? [];
  if (!statuses.length) return undefined;
  const waiting = statuses.find((s) => s.state?.waiting?.reason === 'CrashLoopBackOff');
  if (waiting) {
    const finished = parse(waiting.lastState?.terminated?.finishedAt);
    return Number.isNaN(finished) ? undefined : finished + crashLoopDelay(waiting.restartCount);
  }
  if (!statuses.every((s) => s.state?.running)) return undefined;
  const started = Math.max(...statuses.map((s) => parse(s.state!.running!.startedAt)));
  return Number.isNaN(started) ? undefined : started + sim.runMs;
}

/**
 * The status fields (phase, containerStatuses, conditions) the pod moves to at `now`: its
 * containers exit, or restart after back-off; undefined when none. Fields the API server owns
 * (qosClass) are never included.
 */
export function transition(pod: Pod, now: number): PodStatus | undefined {
  const sim = podSimulation(pod);
  const statuses = pod.status?.containerStatuses ?? [];
  if (!sim || !statuses.length) return undefined;
  const at = rfc3339(now);
  if (statuses.some((s) => s.state?.waiting?.reason === 'CrashLoopBackOff')) {
    const containers = statuses.map((s): ContainerStatus => ({ ...s, state: { running: { startedAt: at } }, ready: true, started: true }));
    return { containerStatuses: containers, conditions: kubeletConditions(pod, { running: true, ready: true }, at) };
  }
  const exit = (s: ContainerStatus) => ({
    exitCode: sim.exitCode,
    reason: sim.exitCode === 0 ? 'Completed' : 'Error',
    startedAt: s.state?.running?.startedAt ?? at,
    finishedAt: at,
    ...(s.containerID ? { containerID: s.containerID } : {}),
  });
  if (sim.exitCode !== 0 && pod.spec?.restartPolicy === 'OnFailure') {
    const restarts = Math.max(...statuses.map((s) => s.restartCount)) + 1;
    const delay = crashLoopDelay(restarts);
    const containers = statuses.map((s): ContainerStatus => ({
      ...s,
      restartCount: restarts,
      lastState: { terminated: exit(s) },
      ...(delay === 0
        ? { state: { running: { startedAt: at } }, ready: true, started: true }
        : {
            state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${delay / 1000}s restarting failed container=${s.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` } },
            ready: false,
            started: false,
          }),
    }));
    return { containerStatuses: containers, conditions: kubeletConditions(pod, { running: true, ready: delay === 0 }, at) };
  }
  const containers = statuses.map((s): ContainerStatus => ({ ...s, state: { terminated: exit(s) }, ready: false, started: false }));
  const phase = sim.exitCode === 0 ? 'Succeeded' : 'Failed';
  return { phase, containerStatuses: containers, conditions: kubeletConditions(pod, { running: false, ready: false, succeeded: phase === 'Succeeded' }, at) };
}

/** The status of a pod whose containers were stopped because it is deleted (see the file comment). */
export function stoppedStatus(pod: Pod, now: number): PodStatus {
  const at = rfc3339(now);
  const containers = (pod.status?.containerStatuses ?? []).map((s): ContainerStatus => {
    if (s.state?.terminated) return { ...s, ready: false, started: false };
    const startedAt = s.state?.running?.startedAt;
    return { ...s, state: { terminated: { exitCode: stoppedExitCode, reason: 'Error', ...(startedAt ? { startedAt } : {}), finishedAt: at, ...(s.containerID ? { containerID: s.containerID } : {}) } }, ready: false, started: false };
  });
  return { phase: 'Failed', containerStatuses: containers, conditions: kubeletConditions(pod, { running: false, ready: false }, at) };
}

const kubeletOwned = new Set(['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady']);
const order = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];

/** The pod's conditions with the kubelet's four set for the new state; others (PodScheduled, DisruptionTarget) kept. */
function kubeletConditions(pod: Pod, s: { running: boolean; ready: boolean; succeeded?: boolean }, at: string): PodCondition[] {
  const prev = pod.status?.conditions ?? [];
  const cond = (type: string, status: string, reason?: string, message?: string): PodCondition => {
    const old = prev.find((c) => c.type === type);
    return { type, status, lastProbeTime: null, lastTransitionTime: old?.status === status ? old.lastTransitionTime : at, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
  };
  const names = (pod.spec?.containers ?? []).map((c) => c.name).join(' ');
  const notReady = s.succeeded ? ['PodCompleted', undefined] : ['ContainersNotReady', `containers with unready status: [${names}]`];
  const out: PodCondition[] = [
    cond('PodReadyToStartContainers', s.running ? 'True' : 'False'),
    cond('Initialized', 'True'),
    s.ready ? cond('Ready', 'True') : cond('Ready', 'False', notReady[0], notReady[1]),
    s.ready ? cond('ContainersReady', 'True') : cond('ContainersReady', 'False', notReady[0], notReady[1]),
    ...prev.filter((c) => !kubeletOwned.has(c.type)),
  ];
  const rank = (t: string) => (order.includes(t) ? order.indexOf(t) : order.length);
  return out.sort((a, b) => rank(a.type) - rank(b.type));
}
