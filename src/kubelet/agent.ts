/**
 * The node agent's pod lifecycle (upstream's kubelet SyncPod / SyncTerminatingPod): one worker per
 * pod, serialized, driven by the API (pods bound to this node, watched), by the runtime (a relist
 * every second, upstream's PLEG), by probe results and by timers (back-off expiry, a periodic
 * resync). Each sync reads the desired pod and the runtime's state and takes the next steps:
 * sandbox, then init containers in order (sidecars stay running), then containers; restarts by
 * the restart policy with back-off; graceful termination with preStop hooks; the status computed
 * from the runtime and patched when it changed. The runtime is the only record: after a restart
 * the agent adopts what runs and removes what no pod owns.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Container, Pod, Secret } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { podRequests } from '../api/podresources.ts';
import { parseQuantity } from '../api/quantity.ts';
import { formatDuration } from '../api/duration.ts';
import { rfc3339, sleepUnlessAborted, type Clientset, type Recorder } from '../client/index.ts';
import { isNotFound as isCriNotFound, type ImageService, type RuntimeService } from './cri/index.ts';
import type { AuthConfig, ContainerStatus as CriContainerStatus, In, PodSandboxConfig } from './cri/types.ts';
import { annotations, containerConfig, qosClass, RuntimeCache, sandboxConfig, type RuntimePod } from './kuberuntime.ts';
import { computePodStatus, containersNamed, normalizeImage } from './status.ts';
import { containerEnv, expandCommandAndArgs, type EnvSources } from './env.ts';
import { containerMounts, dirUsageBytes, setupVolumes, teardownVolumes, type VolumeSources } from './volumes.ts';
import { probeOnce } from './probes.ts';
import { writeContainerLogs } from './logs.ts';

/** Restart back-off: 10 s doubling to 5 min, reset after 10 min of running (upstream's). */
export const backoffInitialMs = 10_000;
export const backoffMaxMs = 300_000;
const backoffResetMs = 600_000;
/** How often every pod is synced even without events (refreshes configMap/secret volumes). */
const resyncMs = 10_000;
/** Runtime relist period (upstream's PLEG: 1 s). */
const relistMs = 1_000;
/**
 * Pods started at once (sandbox and first containers). Starting one is CPU-bound in containerd,
 * runc and the CNI plugins (~0.35 s of CPU here): thirty at once on two cores all finish together
 * after ~15 s, while a few at a time finish in arrival order, most of them far sooner. Upstream
 * has no such limit.
 */
const startConcurrency = Math.max(2, Math.min(8, os.availableParallelism()));

/** A counting semaphore (FIFO). */
class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiters.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

export interface PodManagerOptions {
  nodeName: string;
  nodeIP: string;
  cs: Clientset;
  runtime: RuntimeService;
  images: ImageService;
  recorder: Recorder;
  /** <data-dir>/agent: pods/<uid>/ for volumes, logs/ for container logs. */
  rootDir: string;
  allocatable: () => Record<string, string>;
  /** The node's labels, for node-side admission of nodeSelector. */
  nodeLabels: Record<string, string>;
  /** Whether the node is under memory pressure (BestEffort pods are not admitted then). */
  memoryPressure?: () => boolean;
  dns: { servers: string[]; searches: string[]; options: string[] };
  /** The cluster DNS for ClusterFirst pods (addresses, cluster domain); absent: pods fall back to `dns`. */
  clusterDns?: { servers: string[]; domain: string };
  getConfigMap: EnvSources['getConfigMap'];
  getSecret: EnvSources['getSecret'];
  /** Bound service account tokens (TokenRequest) for projected serviceAccountToken volumes. */
  requestToken?: VolumeSources['requestToken'];
  log: (msg: string) => void;
}

/** A back-off entry per key (container restarts, image pulls). */
class Backoff {
  #entries = new Map<string, { delay: number; last: number }>();
  /** The ms left of the back-off since `since`, 0 when the next try may go. */
  remaining(key: string, since: number, now = Date.now()): number {
    const e = this.#entries.get(key);
    if (!e) return 0;
    if (now - e.last > backoffResetMs + e.delay) {
      this.#entries.delete(key);
      return 0;
    }
    return Math.max(0, since + e.delay - now);
  }
  current(key: string): number {
    return this.#entries.get(key)?.delay ?? 0;
  }
  next(key: string, now = Date.now()): void {
    const e = this.#entries.get(key);
    const delay = e ? Math.min(backoffMaxMs, e.delay * 2) : backoffInitialMs;
    this.#entries.set(key, { delay, last: now });
  }
  forgetPrefix(prefix: string): void {
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k);
  }
}

interface ProbeState {
  containerId: string;
  timers: NodeJS.Timeout[];
  stopped: boolean;
}

interface PodWorker {
  uid: string;
  pod?: Pod;
  startTime: string;
  waiting: Map<string, { reason: string; message?: string }>;
  ready: Map<string, boolean>;
  started: Map<string, boolean>;
  probes: Map<string, ProbeState>;
  terminal?: { phase: 'Failed' | 'Succeeded'; reason?: string; message?: string };
  admitted: boolean;
  running: boolean;
  dirty: boolean;
  timer?: NodeJS.Timeout;
  timerAt?: number;
  lastStatus?: string;
  /** Containers killed on purpose (liveness failure): restarted regardless of exit code under OnFailure. */
  killedForRestart: Set<string>;
  /** A deletion is being carried out. */
  terminating?: Promise<void>;
  /** The pod object is gone from the API: runtime state is being removed. */
  removed: boolean;
  /** Set when the agent evicted the pod: the DisruptionTarget condition's message. */
  disruption?: string;
  /** The ready sandbox's IPs, once known. */
  podIPs?: string[];
  lastPullFailure?: number;
}

/** Result of a step that could not proceed: wait (and retry after ms, if given). */
class Wait extends Error {
  retryMs?: number;
  constructor(reason: string, retryMs?: number) {
    super(reason);
    this.retryMs = retryMs;
  }
}

export class PodManager {
  #o: PodManagerOptions;
  #workers = new Map<string, PodWorker>();
  #rt: RuntimeCache;
  #backoff = new Backoff();
  #starts = new Semaphore(startConcurrency);
  #signal: AbortSignal;
  #logRoot: string;

  constructor(opts: PodManagerOptions, signal: AbortSignal) {
    this.#o = opts;
    this.#rt = new RuntimeCache(opts.runtime);
    this.#signal = signal;
    this.#logRoot = path.join(opts.rootDir, 'logs', 'pods');
  }

  get runtimeCache(): RuntimeCache {
    return this.#rt;
  }

  /** Pods this agent runs, by uid (the latest objects seen). */
  pods(): Pod[] {
    return [...this.#workers.values()].flatMap((w) => (w.pod && !w.removed ? [w.pod] : []));
  }

  runtimePod(uid: string): RuntimePod | undefined {
    return this.#rt.pods.get(uid);
  }

  /** The first relist: what runs already (adopted, not restarted). */
  async start(): Promise<void> {
    await this.#rt.relist();
  }

  /** A pod bound to this node was added or changed. */
  upsert(pod: Pod): void {
    const uid = pod.metadata.uid!;
    let w = this.#workers.get(uid);
    if (!w) {
      w = {
        uid,
        startTime: pod.status?.startTime ?? rfc3339(Date.now()),
        waiting: new Map(),
        ready: new Map(),
        started: new Map(),
        probes: new Map(),
        admitted: !!pod.status?.startTime || this.#rt.pods.has(uid),
        running: false,
        dirty: false,
        killedForRestart: new Set(),
        removed: false,
      };
      this.#workers.set(uid, w);
    }
    w.pod = pod;
    this.#schedule(w, 0);
  }

  /** A pod left the API: its containers and sandbox are removed. */
  remove(pod: Pod): void {
    const w = this.#workers.get(pod.metadata.uid!);
    if (!w) return;
    w.removed = true;
    this.#schedule(w, 0);
  }

  /** Relists the runtime every second and syncs the pods whose state changed; removes orphans. */
  async runRelist(isKnown: (uid: string) => boolean, synced: () => boolean): Promise<void> {
    let lastResync = Date.now();
    while (!this.#signal.aborted) {
      await sleepUnlessAborted(relistMs, { signal: this.#signal });
      if (this.#signal.aborted) break;
      let changed: Set<string>;
      try {
        changed = await this.#rt.relist();
      } catch (err) {
        this.#o.log(`agent: relist failed: ${(err as Error).message}`);
        continue;
      }
      const resync = Date.now() - lastResync >= resyncMs;
      if (resync) lastResync = Date.now();
      for (const w of this.#workers.values()) if (resync || changed.has(w.uid)) this.#schedule(w, 0);
      if (!synced()) continue;
      for (const rp of this.#rt.pods.values()) {
        if (this.#workers.has(rp.uid) || isKnown(rp.uid)) continue;
        await this.#removeRuntimePod(rp).catch((err: unknown) => this.#o.log(`agent: removing orphaned pod ${rp.namespace}/${rp.name}: ${(err as Error).message}`));
      }
    }
  }

  /** Stops probe timers (pods keep running: the agent adopts them after a restart). */
  stop(): void {
    for (const w of this.#workers.values()) {
      if (w.timer) clearTimeout(w.timer);
      for (const p of w.probes.values()) this.#stopProbes(p);
    }
  }

  // ---- the pod worker ------------------------------------------------------------------------

  #schedule(w: PodWorker, delayMs: number): void {
    if (this.#signal.aborted) return;
    if (delayMs > 0) {
      const at = Date.now() + delayMs;
      if (w.timer && w.timerAt! <= at) return;
      if (w.timer) clearTimeout(w.timer);
      w.timerAt = at;
      w.timer = setTimeout(() => {
        w.timer = undefined;
        this.#schedule(w, 0);
      }, delayMs);
      return;
    }
    if (w.running) {
      w.dirty = true;
      return;
    }
    w.running = true;
    void this.#run(w);
  }

  async #run(w: PodWorker): Promise<void> {
    try {
      do {
        w.dirty = false;
        try {
          const retry = await this.#sync(w);
          if (retry !== undefined) this.#schedule(w, retry);
        } catch (err) {
          if (this.#signal.aborted) break;
          if (err instanceof Wait) {
            if (err.retryMs !== undefined) this.#schedule(w, err.retryMs);
          } else {
            const pod = w.pod?.metadata;
            this.#o.log(`agent: syncing pod ${pod?.namespace}/${pod?.name}: ${(err as Error).stack ?? err}`);
            this.#schedule(w, 2_000);
          }
        }
      } while (w.dirty && !this.#signal.aborted);
    } finally {
      w.running = false;
    }
  }

  /** One sync of a pod; returns ms until it wants to run again (back-off expiry), if any. */
  async #sync(w: PodWorker): Promise<number | undefined> {
    const pod = w.pod!;
    if (w.removed) {
      const rp = this.#rt.pods.get(w.uid);
      if (rp) await this.#removeRuntimePod(rp, pod);
      for (const p of w.probes.values()) this.#stopProbes(p);
      if (w.timer) clearTimeout(w.timer);
      this.#workers.delete(w.uid);
      this.#backoff.forgetPrefix(`${w.uid}/`);
      await teardownVolumes(this.#podDir(w.uid)).catch(() => {});
      return undefined;
    }
    if (pod.metadata.deletionTimestamp) {
      await this.#terminate(w, gracePeriodOf(pod));
      await this.#reportStatus(w);
      try {
        await this.#o.cs.pods.delete(pod.metadata.name!, { namespace: pod.metadata.namespace, gracePeriodSeconds: 0, preconditions: { uid: w.uid } });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
      return undefined;
    }
    if (!w.admitted) {
      const rejection = this.#admit(pod);
      w.admitted = true;
      if (rejection) {
        w.terminal = { phase: 'Failed', reason: rejection.reason, message: rejection.message };
        this.#o.recorder.event(pod, 'Warning', rejection.reason, rejection.message);
        await this.#reportStatus(w);
        return undefined;
      }
    }
    const phase = pod.status?.phase;
    if (w.terminal || phase === 'Succeeded' || phase === 'Failed') {
      // Finished pods keep their status; anything still running stops (sidecars, the sandbox).
      // An evicted pod's containers are killed at once (a hard eviction threshold).
      await this.#stopAll(w, w.disruption ? 0 : gracePeriodOf(pod));
      await this.#reportStatus(w);
      return undefined;
    }
    let retry: number | undefined;
    try {
      // A pod's first start (sandbox and containers) waits its turn; later syncs do not.
      const starting = !this.#rt.pods.get(w.uid)?.sandboxes.some((s) => s.state === 'SANDBOX_READY');
      retry = starting ? await this.#starts.run(() => this.#syncRunning(w, pod)) : await this.#syncRunning(w, pod);
    } finally {
      await this.#reportStatus(w);
    }
    return retry;
  }

  #podDir(uid: string): string {
    return path.join(this.#o.rootDir, 'pods', uid);
  }

  /** Node-side admission (upstream's predicate admit handler): resources and node selector. */
  #admit(pod: Pod): { reason: string; message: string } | undefined {
    const alloc = this.#o.allocatable();
    const used = { milliCPU: 0, memory: 0, pods: 0 } as Record<string, number>;
    for (const w of this.#workers.values()) {
      const p = w.pod;
      if (!p || p.metadata.uid === pod.metadata.uid || !w.admitted || w.terminal || w.removed) continue;
      if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      const r = podRequests(p);
      for (const [k, v] of Object.entries(r)) used[k] = (used[k] ?? 0) + v;
    }
    const want = podRequests(pod);
    const cap: Record<string, number> = { milliCPU: Math.round((parseQuantity(alloc['cpu']) ?? 0) * 1000), memory: parseQuantity(alloc['memory']) ?? 0, pods: parseQuantity(alloc['pods']) ?? 110 };
    const names: Record<string, string> = { milliCPU: 'cpu', memory: 'memory', pods: 'pods' };
    for (const k of ['pods', 'milliCPU', 'memory']) {
      const need = want[k] ?? 0;
      if (need === 0 && k !== 'pods') continue;
      if ((used[k] ?? 0) + need > cap[k]!) {
        const name = names[k]!;
        if (k === 'pods') return { reason: 'OutOfpods', message: `Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: ${used[k] ?? 0}, capacity: ${cap[k]}` };
        return { reason: `OutOf${name}`, message: `Pod was rejected: Node didn't have enough resource: ${name}, requested: ${Math.round(need)}, used: ${Math.round(used[k] ?? 0)}, capacity: ${Math.round(cap[k]!)}` };
      }
    }
    if (this.#o.memoryPressure?.() && qosClass(pod) === 'BestEffort') {
      return { reason: 'Evicted', message: 'The node had condition: [MemoryPressure]. ' };
    }
    const sel = pod.spec?.nodeSelector ?? {};
    const nodeLabels = this.#o.nodeLabels;
    for (const [k, v] of Object.entries(sel)) {
      if (nodeLabels[k] !== v) return { reason: 'NodeAffinity', message: "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector" };
    }
    return undefined;
  }


  async #syncRunning(w: PodWorker, pod: Pod): Promise<number | undefined> {
    // Volumes first (configMap/secret contents refreshed on every sync).
    let volumes: Awaited<ReturnType<typeof setupVolumes>>;
    try {
      volumes = await setupVolumes(pod, this.#podDir(w.uid), {
        sources: {
          getConfigMap: this.#o.getConfigMap,
          getSecret: this.#o.getSecret,
          requestToken: this.#o.requestToken,
          // Claims and their volumes as the node reads them (the Node authorizer's pod → claim → volume edges).
          getPersistentVolumeClaim: (ns, name) => this.#o.cs.persistentVolumeClaims.get(name, { namespace: ns }),
          getPersistentVolume: (name) => this.#o.cs.persistentVolumes.get(name),
        },
        podIP: pod.status?.podIP,
        hostIP: this.#o.nodeIP,
      });
    } catch (err) {
      const msg = (err as Error).message;
      this.#o.recorder.event(pod, 'Warning', 'FailedMount', msg);
      throw new Wait(msg, 2_000);
    }
    // emptyDir sizeLimit, as upstream's eviction manager enforces it: the pod is evicted.
    for (const v of pod.spec?.volumes ?? []) {
      const limit = v.emptyDir?.sizeLimit;
      const mounted = volumes.get(v.name);
      if (!limit || !mounted) continue;
      const used = await dirUsageBytes(mounted.hostPath);
      if (used > (parseQuantity(limit) ?? Infinity)) {
        const message = `Usage of EmptyDir volume "${v.name}" exceeds the limit "${limit}". `;
        w.terminal = { phase: 'Failed', reason: 'Evicted', message };
        this.#o.recorder.event(pod, 'Warning', 'Evicted', message);
        await this.#stopAll(w, gracePeriodOf(pod));
        return undefined;
      }
    }
    const rp = this.#rt.pods.get(w.uid);
    let sandbox = rp?.sandboxes.find((s) => s.state === 'SANDBOX_READY');
    let podIPs: string[] = [];
    // The sandbox's configuration, made once per sync (the containers are created against it).
    let sbConfig: ReturnType<typeof sandboxConfig> | undefined;
    if (!sandbox) {
      if (rp?.containers.some((c) => c.state === 'CONTAINER_RUNNING')) {
        // The sandbox died under running containers: start over, as upstream does.
        await this.#stopAll(w, 2);
      }
      const attempt = rp?.sandboxes.length ?? 0;
      const config = (sbConfig = sandboxConfig(pod, { logRoot: this.#logRoot, attempt, dns: this.#o.dns, clusterDns: this.#o.clusterDns, onDnsEvent: (e) => this.#o.recorder.event(pod, 'Warning', e.reason, e.message) }));
      await fs.mkdir(config.log_directory, { recursive: true });
      let id: string;
      try {
        ({ pod_sandbox_id: id } = await this.#o.runtime.runPodSandbox({ config, runtime_handler: '' }));
      } catch (err) {
        const msg = `Failed to create pod sandbox: ${(err as Error).message}`;
        this.#o.recorder.event(pod, 'Warning', 'FailedCreatePodSandBox', msg);
        throw new Wait(msg, 5_000);
      }
      sandbox = await this.#rt.addSandbox(id);
      if (!sandbox) throw new Wait('sandbox vanished', 1_000);
    }
    const sbStatus = await this.#rt.sandboxStatus(sandbox.id, sandbox.state);
    const net = sbStatus?.network;
    if (pod.spec?.hostNetwork) podIPs = [this.#o.nodeIP];
    else if (net?.ip) podIPs = [net.ip, ...(net.additional_ips ?? []).map((i) => i.ip)];
    w.podIPs = podIPs;
    sbConfig ??= sandboxConfig(pod, { logRoot: this.#logRoot, attempt: Number(sandbox.metadata?.attempt ?? 0), dns: this.#o.dns, clusterDns: this.#o.clusterDns });
    const ctx: StartContext = { w, pod, sandboxId: sandbox.id, sbConfig, volumes, podIPs };

    let retry: number | undefined;
    const want = (ms: number | undefined) => {
      if (ms !== undefined && (retry === undefined || ms < retry)) retry = ms;
    };
    // Init containers, in order; sidecars keep running beside what follows.
    for (const c of pod.spec?.initContainers ?? []) {
      const cur = this.#latest(w.uid, c.name);
      if (c.restartPolicy === 'Always') {
        if (!cur || cur.state !== 'CONTAINER_RUNNING') {
          want(await this.#startOrBackoff(ctx, c, cur, true));
          return retry;
        }
        this.#ensureProbes(w, pod, c, cur);
        if (!(w.started.get(c.name) ?? true)) return retry;
        continue;
      }
      if (!cur) {
        want(await this.#startOrBackoff(ctx, c, undefined, false));
        return retry;
      }
      if (cur.state === 'CONTAINER_RUNNING' || cur.state === 'CONTAINER_CREATED') return retry;
      if (Number(cur.exit_code) === 0) continue;
      // A failed init container: the pod fails under Never, else the init container restarts.
      if ((pod.spec?.restartPolicy ?? 'Always') === 'Never') {
        await this.#stopAll(w, gracePeriodOf(pod));
        return retry;
      }
      want(await this.#startOrBackoff(ctx, c, cur, true));
      return retry;
    }
    // Containers.
    const policy = pod.spec?.restartPolicy ?? 'Always';
    let active = 0;
    for (const c of pod.spec?.containers ?? []) {
      const cur = this.#latest(w.uid, c.name);
      if (cur?.state === 'CONTAINER_RUNNING') {
        active++;
        this.#ensureProbes(w, pod, c, cur);
        continue;
      }
      if (cur?.state === 'CONTAINER_CREATED') {
        active++;
        continue;
      }
      const restart = !cur || policy === 'Always' || (policy === 'OnFailure' && (Number(cur.exit_code) !== 0 || w.killedForRestart.has(cur.id)));
      if (!restart) {
        w.waiting.delete(c.name);
        continue;
      }
      active++;
      want(await this.#startOrBackoff(ctx, c, cur, !!cur));
    }
    // Ephemeral containers: started once, never restarted.
    for (const ec of pod.spec?.ephemeralContainers ?? []) {
      const c = ec as unknown as Container;
      if (!this.#latest(w.uid, c.name)) want(await this.#startOrBackoff(ctx, c, undefined, false));
    }
    if (active === 0 && (pod.spec?.containers ?? []).length > 0) {
      // Every container finished for good: stop sidecars and the sandbox; the phase is final.
      await this.#stopAll(w, gracePeriodOf(pod));
    }
    return retry;
  }

  #latest(uid: string, name: string): CriContainerStatus | undefined {
    return containersNamed(this.#rt.pods.get(uid), name)[0];
  }

  /** Starts container `c` unless its restart back-off runs; returns ms until the back-off ends. */
  async #startOrBackoff(ctx: StartContext, c: Container, cur: CriContainerStatus | undefined, isRestart: boolean): Promise<number | undefined> {
    const { w, pod } = ctx;
    const key = `${w.uid}/${c.name}`;
    if (cur && isRestart) {
      const finished = Number(BigInt(cur.finished_at || '0') / 1_000_000n) || Date.now();
      const left = this.#backoff.remaining(key, finished);
      if (left > 0) {
        const delay = this.#backoff.current(key);
        w.waiting.set(c.name, { reason: 'CrashLoopBackOff', message: `back-off ${formatDuration(Math.round(delay / 1000) * 1e9)} restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${w.uid})` });
        return left;
      }
      this.#backoff.next(key);
    }
    const restartCount = cur ? Number(cur.annotations?.[annotations.restartCount] ?? 0) + 1 : 0;
    const attempt = cur ? Number(cur.metadata?.attempt ?? 0) + 1 : 0;
    // Image.
    let imageRef: string;
    try {
      imageRef = await this.#ensureImage(ctx, c);
    } catch (err) {
      if (err instanceof Wait) return err.retryMs;
      throw err;
    }
    // Environment, command, mounts.
    let env: Array<{ key: string; value: string }>;
    try {
      ({ env } = await containerEnv(pod, c, {
        sources: { getConfigMap: this.#o.getConfigMap, getSecret: this.#o.getSecret },
        podIP: ctx.podIPs[0],
        podIPs: ctx.podIPs,
        hostIP: this.#o.nodeIP,
        hostIPs: [this.#o.nodeIP],
        nodeAllocatable: this.#o.allocatable() as { cpu: string; memory: string },
      }));
    } catch (err) {
      const msg = (err as Error).message;
      w.waiting.set(c.name, { reason: 'CreateContainerConfigError', message: msg });
      this.#o.recorder.event(pod, 'Warning', 'Failed', `Error: ${msg}`);
      return 2_000;
    }
    const { command, args } = expandCommandAndArgs(c, env);
    const mounts = containerMounts(c, ctx.volumes);
    const termDir = path.join(this.#podDir(w.uid), 'containers', c.name);
    await fs.mkdir(termDir, { recursive: true });
    const termFile = path.join(termDir, `${attempt}`);
    await fs.writeFile(termFile, '');
    const config = containerConfig(pod, c, { attempt, restartCount, env, command, args, mounts, imageRef, terminationMessageFile: termFile, sandboxConfig: ctx.sbConfig });
    let id: string;
    try {
      ({ container_id: id } = await this.#o.runtime.createContainer({ pod_sandbox_id: ctx.sandboxId, config, sandbox_config: ctx.sbConfig }));
    } catch (err) {
      const msg = (err as Error).message;
      w.waiting.set(c.name, { reason: 'CreateContainerError', message: msg });
      this.#o.recorder.event(pod, 'Warning', 'Failed', `Error: ${msg}`);
      return 5_000;
    }
    this.#o.recorder.event(pod, 'Normal', 'Created', `Created container: ${c.name}`);
    try {
      await this.#o.runtime.startContainer({ container_id: id });
    } catch (err) {
      const msg = (err as Error).message;
      w.waiting.delete(c.name);
      this.#o.recorder.event(pod, 'Warning', 'Failed', `Error: ${msg}`);
      await this.#rt.updateContainer(id);
      return undefined;
    }
    this.#o.recorder.event(pod, 'Normal', 'Started', `Started container ${c.name}`);
    w.waiting.delete(c.name);
    w.ready.delete(c.name);
    w.started.delete(c.name);
    // postStart hook: a failure kills the container (upstream's FailedPostStartHook).
    const post = c.lifecycle?.postStart;
    if (post) {
      const r = await this.#runHandler(post, id, c, ctx.podIPs[0] ?? '', gracePeriodOf(pod));
      if (r) {
        this.#o.recorder.event(pod, 'Warning', 'FailedPostStartHook', r);
        await this.#o.runtime.stopContainer({ container_id: id, timeout: String(gracePeriodOf(pod)) }).catch(() => {});
      }
    }
    const st = await this.#rt.updateContainer(id);
    if (st?.state === 'CONTAINER_RUNNING') this.#ensureProbes(w, pod, c, st);
    return undefined;
  }

  async #ensureImage(ctx: StartContext, c: Container): Promise<string> {
    const { w, pod } = ctx;
    const image = c.image ?? '';
    const ref = normalizeImage(image);
    const policy = c.imagePullPolicy ?? (/:latest$/.test(ref) || !/[:@][^/]*$/.test(image) ? 'Always' : 'IfNotPresent');
    let present: string | undefined;
    try {
      present = (await this.#o.images.imageStatus({ image: { image: ref }, verbose: false })).image?.id || undefined;
    } catch {}
    if (policy === 'Never') {
      if (present) {
        this.#o.recorder.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return present;
      }
      const msg = `Container image "${image}" is not present with pull policy of Never`;
      w.waiting.set(c.name, { reason: 'ErrImageNeverPull', message: msg });
      this.#o.recorder.event(pod, 'Warning', 'ErrImageNeverPull', msg);
      throw new Wait(msg, 10_000);
    }
    if (present && policy === 'IfNotPresent') {
      this.#o.recorder.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
      return present;
    }
    const key = `${w.uid}/${c.name}/image`;
    const reason = w.waiting.get(c.name)?.reason;
    if (reason === 'ErrImagePull' || reason === 'ImagePullBackOff') {
      const left = this.#backoff.remaining(key, w.lastPullFailure ?? 0);
      if (left > 0) {
        if (reason === 'ErrImagePull') this.#o.recorder.event(pod, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
        w.waiting.set(c.name, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` });
        throw new Wait('image pull back-off', left);
      }
    }
    this.#o.recorder.event(pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const started = Date.now();
    try {
      const auth = await this.#pullAuth(pod, ref);
      const { image_ref } = await this.#o.images.pullImage({ image: { image: ref }, auth, sandbox_config: ctx.sbConfig });
      this.#o.recorder.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${((Date.now() - started) / 1000).toFixed(3)}s`);
      this.#backoff.forgetPrefix(key);
      return image_ref;
    } catch (err) {
      const msg = `Failed to pull image "${image}": ${(err as Error).message}`;
      this.#backoff.next(key);
      w.lastPullFailure = Date.now();
      w.waiting.set(c.name, { reason: 'ErrImagePull', message: msg });
      this.#o.recorder.event(pod, 'Warning', 'Failed', msg);
      this.#o.recorder.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      throw new Wait(msg, this.#backoff.current(key));
    }
  }

  /** Credentials from the pod's imagePullSecrets for the image's registry (dockerconfigjson / dockercfg). */
  async #pullAuth(pod: Pod, ref: string): Promise<AuthConfig | undefined> {
    const host = ref.split('/')[0]!;
    for (const s of pod.spec?.imagePullSecrets ?? []) {
      if (!s.name) continue;
      let secret: Secret | undefined;
      try {
        secret = await this.#o.getSecret(pod.metadata.namespace!, s.name);
      } catch {
        continue;
      }
      const raw = secret?.data?.['.dockerconfigjson'] ?? secret?.data?.['.dockercfg'];
      if (!raw) continue;
      try {
        const parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as { auths?: Record<string, { username?: string; password?: string; auth?: string }> } & Record<string, { username?: string; password?: string; auth?: string }>;
        const auths = parsed.auths ?? parsed;
        for (const [server, a] of Object.entries(auths)) {
          const h = server.replace(/^https?:\/\//, '').split('/')[0];
          if (h !== host && !(host === 'docker.io' && /(^|\.)docker\.io$/.test(h ?? ''))) continue;
          let { username, password } = a;
          if (!username && a.auth) [username, password] = Buffer.from(a.auth, 'base64').toString('utf8').split(/:(.*)/s) as [string, string];
          // No server_address: containerd then offers the credentials to whichever endpoint serves the
          // image (a registries.yaml mirror included); the registry was matched above.
          return { username: username ?? '', password: password ?? '', auth: '', server_address: '', identity_token: '', registry_token: '' };
        }
      } catch {}
    }
    return undefined;
  }

  // ---- eviction ------------------------------------------------------------------------------

  /**
   * Evicts one pod under memory pressure, ranked as upstream's rankMemoryPressure: pods using more
   * than they request first, then lower priority, then the most usage above requests. The pod's
   * containers are killed at once (a hard threshold) and it fails with reason Evicted.
   */
  async evictForMemoryPressure(info: { threshold: string; availableBytes: number; usage: Map<string, Map<string, number>> }): Promise<void> {
    const candidates = [...this.#workers.values()].filter((w) => {
      const p = w.pod;
      return p && !w.removed && !w.terminal && !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && this.#rt.pods.get(w.uid)?.containers.some((c) => c.state === 'CONTAINER_RUNNING');
    });
    if (!candidates.length) return;
    const ranked = candidates.map((w) => {
      const usage = [...(info.usage.get(w.uid)?.values() ?? [])].reduce((a, b) => a + b, 0);
      const request = podRequests(w.pod!).memory;
      return { w, usage, request, exceeds: usage > request, priority: w.pod!.spec?.priority ?? 0 };
    });
    ranked.sort((a, b) => Number(b.exceeds) - Number(a.exceeds) || a.priority - b.priority || b.usage - b.request - (a.usage - a.request));
    const victim = ranked[0]!;
    const pod = victim.w.pod!;
    // Upstream names the container using the most memory.
    let top = '';
    let topUsage = -1;
    for (const [name, bytes] of info.usage.get(victim.w.uid) ?? []) if (bytes > topUsage) [top, topUsage] = [name, bytes];
    const ki = (b: number) => `${Math.round(b / 1024)}Ki`;
    const req = (pod.spec?.containers ?? []).find((c) => c.name === top)?.resources?.requests?.['memory'] ?? '0';
    let message = `The node was low on resource: memory. Threshold quantity: ${info.threshold}, available: ${ki(info.availableBytes)}. `;
    if (top) message += `Container ${top} was using ${ki(topUsage)}, request is ${req}, has larger consumption of memory. `;
    this.#o.log(`agent: evicting ${pod.metadata.namespace}/${pod.metadata.name}: ${message}`);
    victim.w.terminal = { phase: 'Failed', reason: 'Evicted', message };
    victim.w.disruption = message;
    this.#o.recorder.event(pod, 'Warning', 'Evicted', message);
    this.#schedule(victim.w, 0);
  }

  // ---- probes --------------------------------------------------------------------------------

  #ensureProbes(w: PodWorker, pod: Pod, c: Container, st: CriContainerStatus): void {
    const have = w.probes.get(c.name);
    if (have && have.containerId === st.id) return;
    if (have) this.#stopProbes(have);
    const state: ProbeState = { containerId: st.id, timers: [], stopped: false };
    w.probes.set(c.name, state);
    if (c.startupProbe) w.started.set(c.name, false);
    else w.started.set(c.name, true);
    if (c.readinessProbe) w.ready.set(c.name, false);
    else w.ready.delete(c.name);
    const kinds: Array<['startup' | 'liveness' | 'readiness', NonNullable<Container['livenessProbe']>]> = [];
    if (c.startupProbe) kinds.push(['startup', c.startupProbe]);
    if (c.livenessProbe) kinds.push(['liveness', c.livenessProbe]);
    if (c.readinessProbe) kinds.push(['readiness', c.readinessProbe]);
    for (const [kind, probe] of kinds) this.#probeLoop(w, pod, c, state, kind, probe);
  }

  #probeLoop(w: PodWorker, pod: Pod, c: Container, state: ProbeState, kind: 'startup' | 'liveness' | 'readiness', probe: NonNullable<Container['livenessProbe']>): void {
    const period = (probe.periodSeconds ?? 10) * 1000;
    const successThreshold = probe.successThreshold ?? 1;
    const failureThreshold = probe.failureThreshold ?? 3;
    let successes = 0;
    let failures = 0;
    const tick = async () => {
      if (state.stopped || this.#signal.aborted) return;
      // Liveness and readiness wait for the startup probe.
      if (kind !== 'startup' && w.started.get(c.name) === false) return schedule(period);
      if (kind === 'startup' && w.started.get(c.name) === true) return;
      const r = await probeOnce(probe, {
        podIP: w.podIPs?.[0] ?? '',
        container: c,
        exec: async (cmd, timeoutSeconds) => {
          const res = await this.#o.runtime.execSync({ container_id: state.containerId, cmd, timeout: String(timeoutSeconds) });
          return { exitCode: Number(res.exit_code), stdout: Buffer.from(res.stdout ?? []), stderr: Buffer.from(res.stderr ?? []) };
        },
      }).catch((err: unknown) => ({ result: 'failure' as const, output: (err as Error).message }));
      if (state.stopped) return;
      if (r.result === 'success') {
        failures = 0;
        successes++;
      } else {
        successes = 0;
        failures++;
        const label = kind[0]!.toUpperCase() + kind.slice(1);
        this.#o.recorder.event(pod, 'Warning', 'Unhealthy', `${label} probe failed: ${r.output}`.trimEnd());
      }
      if (kind === 'readiness') {
        const now = w.ready.get(c.name) ?? false;
        if (!now && successes >= successThreshold) this.#setProbe(w, 'ready', c.name, true);
        else if (now && failures >= failureThreshold) this.#setProbe(w, 'ready', c.name, false);
      } else if (kind === 'startup') {
        if (successes >= 1) {
          this.#setProbe(w, 'started', c.name, true);
          return;
        }
        if (failures >= failureThreshold) {
          this.#killForRestart(w, pod, c, state, `Container ${c.name} failed startup probe, will be restarted`);
          return;
        }
      } else if (failures >= failureThreshold) {
        this.#killForRestart(w, pod, c, state, `Container ${c.name} failed liveness probe, will be restarted`);
        return;
      }
      schedule(period);
    };
    const schedule = (ms: number) => {
      if (state.stopped) return;
      const t = setTimeout(() => {
        tick().catch((err: unknown) => this.#o.log(`agent: ${kind} probe of ${pod.metadata.namespace}/${pod.metadata.name} container ${c.name}: ${(err as Error).message}`));
      }, ms);
      state.timers.push(t);
      if (state.timers.length > 8) state.timers.splice(0, state.timers.length - 8);
    };
    schedule((probe.initialDelaySeconds ?? 0) * 1000);
  }

  #setProbe(w: PodWorker, what: 'ready' | 'started', name: string, value: boolean): void {
    w[what].set(name, value);
    this.#schedule(w, 0);
  }

  #killForRestart(w: PodWorker, pod: Pod, c: Container, state: ProbeState, message: string): void {
    this.#stopProbes(state);
    w.killedForRestart.add(state.containerId);
    this.#o.recorder.event(pod, 'Normal', 'Killing', message);
    const grace = c.livenessProbe?.terminationGracePeriodSeconds ?? gracePeriodOf(pod);
    this.#killContainer(pod, c, state.containerId, grace)
      .catch((err: unknown) => {
        if (!isCriNotFound(err)) this.#o.log(`agent: stopping ${pod.metadata.namespace}/${pod.metadata.name} container ${c.name}: ${(err as Error).message}`);
      })
      .finally(() => this.#schedule(w, 0));
  }

  #stopProbes(p: ProbeState): void {
    p.stopped = true;
    for (const t of p.timers) clearTimeout(t);
    p.timers = [];
  }

  // ---- termination ---------------------------------------------------------------------------

  /** Runs a lifecycle handler; returns an error message, or undefined on success. */
  async #runHandler(h: NonNullable<NonNullable<Container['lifecycle']>['preStop']>, containerId: string, c: Container, podIP: string, timeoutSec: number): Promise<string | undefined> {
    if (h.sleep) {
      await sleepUnlessAborted(Math.min(h.sleep.seconds, timeoutSec) * 1000, { signal: this.#signal });
      return undefined;
    }
    const probe = { ...h, timeoutSeconds: Math.max(1, timeoutSec) } as NonNullable<Container['livenessProbe']>;
    const r = await probeOnce(probe, {
      podIP,
      container: c,
      exec: async (cmd, t) => {
        const res = await this.#o.runtime.execSync({ container_id: containerId, cmd, timeout: String(t) });
        return { exitCode: Number(res.exit_code), stdout: Buffer.from(res.stdout ?? []), stderr: Buffer.from(res.stderr ?? []) };
      },
    }).catch((err: unknown) => ({ result: 'failure' as const, output: (err as Error).message }));
    if (r.result === 'success') return undefined;
    return r.output || 'hook failed';
  }

  /** Stops one container: preStop hook, then SIGTERM and SIGKILL after what is left of the grace period. */
  async #killContainer(pod: Pod, c: Container | undefined, id: string, graceSec: number): Promise<void> {
    const started = Date.now();
    const pre = c?.lifecycle?.preStop;
    if (pre && graceSec > 0) {
      const err = await this.#runHandler(pre, id, c!, pod.status?.podIP ?? '', graceSec);
      if (err) this.#o.recorder.event(pod, 'Warning', 'FailedPreStopHook', `PreStopHook failed: ${err}`);
    }
    const left = Math.max(graceSec > 0 ? 2 : 0, graceSec - Math.floor((Date.now() - started) / 1000));
    await this.#o.runtime.stopContainer({ container_id: id, timeout: String(left) });
  }

  /** Stops every running container (containers, then sidecars in reverse order) and the sandbox. */
  async #stopAll(w: PodWorker, graceSec: number): Promise<void> {
    const pod = w.pod!;
    const rp = this.#rt.pods.get(w.uid);
    if (!rp) return;
    for (const p of w.probes.values()) this.#stopProbes(p);
    w.probes.clear();
    const specs = new Map<string, Container>();
    for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) specs.set(c.name, c);
    const running = rp.containers.filter((c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED');
    const sidecarNames = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name);
    const first = running.filter((c) => !sidecarNames.includes(c.metadata?.name ?? ''));
    const kill = async (c: CriContainerStatus) => {
      const spec = specs.get(c.metadata?.name ?? '');
      this.#o.recorder.event(pod, 'Normal', 'Killing', `Stopping container ${c.metadata?.name}`);
      await this.#killContainer(pod, c.state === 'CONTAINER_RUNNING' ? spec : undefined, c.id, graceSec).catch((err: unknown) => {
        if (!isCriNotFound(err)) throw err;
      });
    };
    await Promise.all(first.map(kill));
    for (const name of [...sidecarNames].reverse()) {
      for (const c of running.filter((r) => r.metadata?.name === name)) await kill(c);
    }
    for (const sb of rp.sandboxes) {
      if (sb.state !== 'SANDBOX_READY') continue;
      await this.#o.runtime.stopPodSandbox({ pod_sandbox_id: sb.id }).catch((err: unknown) => {
        if (!isCriNotFound(err)) throw err;
      });
      this.#rt.forgetSandbox(sb.id);
      await this.#rt.addSandbox(sb.id);
    }
    for (const c of running) await this.#rt.updateContainer(c.id);
  }

  async #terminate(w: PodWorker, graceSec: number): Promise<void> {
    if (!w.terminating) {
      w.terminating = this.#stopAll(w, graceSec).finally(() => {
        w.terminating = undefined;
      });
    }
    await w.terminating;
  }

  /** Removes a pod's containers, sandboxes, logs and cgroups from the runtime and the disk. */
  async #removeRuntimePod(rp: RuntimePod, pod?: Pod): Promise<void> {
    for (const c of rp.containers) {
      if (c.state === 'CONTAINER_RUNNING') await this.#o.runtime.stopContainer({ container_id: c.id, timeout: String(pod ? 0 : 2) }).catch(() => {});
      await this.#o.runtime.removeContainer({ container_id: c.id }).catch((err: unknown) => {
        if (!isCriNotFound(err)) throw err;
      });
    }
    for (const sb of rp.sandboxes) {
      await this.#o.runtime.stopPodSandbox({ pod_sandbox_id: sb.id }).catch(() => {});
      await this.#o.runtime.removePodSandbox({ pod_sandbox_id: sb.id }).catch((err: unknown) => {
        if (!isCriNotFound(err)) throw err;
      });
      this.#rt.forgetSandbox(sb.id);
    }
    await fs.rm(path.join(this.#logRoot, `${rp.namespace}_${rp.name}_${rp.uid}`), { recursive: true, force: true });
    await teardownVolumes(this.#podDir(rp.uid)).catch(() => {});
    await removePodCgroups(rp.uid);
    this.#rt.forgetPod(rp.uid);
  }

  // ---- status --------------------------------------------------------------------------------

  async #reportStatus(w: PodWorker): Promise<void> {
    const pod = w.pod!;
    const rp = this.#rt.pods.get(w.uid);
    const sb = rp?.sandboxes[0];
    const status = computePodStatus({
      pod,
      runtime: rp,
      podIPs: w.podIPs ?? (pod.status?.podIP ? (pod.status.podIPs ?? []).map((p) => p.ip!) : []),
      hostIPs: [this.#o.nodeIP],
      sandboxReady: sb?.state === 'SANDBOX_READY',
      waiting: w.waiting,
      ready: w.ready,
      started: w.started,
      terminal: w.terminal,
      podIsTerminal: !!pod.metadata.deletionTimestamp && !!rp?.containers.length && !rp.containers.some((c) => c.state === 'CONTAINER_RUNNING'),
      startTime: w.startTime,
      now: rfc3339(Date.now()),
    });
    if (w.disruption && !status.conditions?.some((c) => c.type === 'DisruptionTarget')) {
      status.conditions = [...(status.conditions ?? []), { type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message: w.disruption, lastProbeTime: null, lastTransitionTime: rfc3339(Date.now()) } as NonNullable<typeof status.conditions>[number]];
    }
    // Termination messages of finished containers (the file the container wrote).
    await this.#fillTerminationMessages(w, status);
    const json = JSON.stringify(status);
    if (json === w.lastStatus) return;
    try {
      const updated = await this.#o.cs.pods.patchStatus(pod.metadata.name!, { status }, { type: 'merge', namespace: pod.metadata.namespace });
      w.lastStatus = json;
      if (w.pod && updated.metadata.resourceVersion && (!w.pod.metadata.resourceVersion || Number(updated.metadata.resourceVersion) > Number(w.pod.metadata.resourceVersion))) w.pod = updated;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  async #fillTerminationMessages(w: PodWorker, status: ReturnType<typeof computePodStatus>): Promise<void> {
    const specs = [...(w.pod?.spec?.initContainers ?? []), ...(w.pod?.spec?.containers ?? [])];
    for (const cs of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
      for (const st of [cs.state?.terminated, cs.lastState?.terminated]) {
        if (!st || st.message) continue;
        const rt = this.#rt.pods.get(w.uid)?.containers.find((c) => `containerd://${c.id}` === st.containerID);
        if (!rt) continue;
        const file = path.join(this.#podDir(w.uid), 'containers', cs.name, String(rt.metadata?.attempt ?? 0));
        let msg = '';
        try {
          msg = (await fs.readFile(file, 'utf8')).slice(0, 4096);
        } catch {}
        const spec = specs.find((s) => s.name === cs.name);
        if (!msg && spec?.terminationMessagePolicy === 'FallbackToLogsOnError' && st.exitCode !== 0 && rt.log_path) {
          msg = await tailFile(rt.log_path, 80, 2048);
        }
        if (msg) st.message = msg;
      }
    }
  }

  /** The container's log file and whether it still runs (for the log endpoint). */
  containerLog(uid: string, name: string, previous: boolean): { file: string; running: () => boolean } | undefined {
    const all = containersNamed(this.#rt.pods.get(uid), name);
    const c = previous ? all[1] : all[0];
    if (!c?.log_path) return undefined;
    const id = c.id;
    return {
      file: c.log_path,
      running: () => this.#rt.pods.get(uid)?.containers.find((x) => x.id === id)?.state === 'CONTAINER_RUNNING',
    };
  }
}

interface StartContext {
  w: PodWorker;
  pod: Pod;
  sandboxId: string;
  sbConfig: In<PodSandboxConfig>;
  volumes: Map<string, { hostPath: string; readOnly: boolean }>;
  podIPs: string[];
}


function gracePeriodOf(pod: Pod): number {
  return pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
}

/** The last `lines` log lines of a container (at most `maxBytes`, the end kept), as upstream's FallbackToLogsOnError takes them. */
async function tailFile(file: string, lines: number, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  try {
    await writeContainerLogs(file, { tailLines: lines }, out, { signal: new AbortController().signal });
  } catch {
    return '';
  }
  const all = Buffer.concat(chunks);
  return all.subarray(Math.max(0, all.length - maxBytes)).toString('utf8');
}

/** Pod cgroup directories left behind by the runtime (cgroup v1 and v2). */
async function removePodCgroups(uid: string): Promise<void> {
  const roots = ['/sys/fs/cgroup'];
  let controllers: string[] = [];
  try {
    controllers = await fs.readdir('/sys/fs/cgroup');
  } catch {
    return;
  }
  const dirs: string[] = [];
  for (const ctl of controllers.length ? controllers : ['']) {
    for (const qos of ['', 'burstable', 'besteffort']) dirs.push(path.join(roots[0]!, ctl, 'kubepods', qos, `pod${uid}`));
  }
  for (const d of dirs) {
    try {
      const subs = await fs.readdir(d, { withFileTypes: true });
      for (const s of subs) if (s.isDirectory()) await fs.rmdir(path.join(d, s.name)).catch(() => {});
      await fs.rmdir(d);
    } catch {}
  }
}

