/**
 * The kubelet's Summary API (`GET /stats/summary`): node and pod resource usage in upstream's
 * stats/v1alpha1 shape, computed on demand from /proc, the cgroup tree, statfs, and the CRI
 * ListContainerStats answer the caller passes in.
 *
 * What upstream takes from cAdvisor is read here directly: node CPU from /proc/stat, node memory
 * from the root memory cgroup (v1: memory.usage_in_bytes and memory.stat, working set = usage -
 * total_inactive_file, cAdvisor's rule; v2: memory.current, or MemTotal - MemFree at the root
 * where there is none), node network from /proc/net/dev without cAdvisor's ignored interfaces
 * (lo, veth*, docker*), filesystems from statfs. Container and pod figures follow upstream's CRI
 * stats provider: container CPU and memory from the CRI entry (memory fields the entry lacks are
 * read from the container's cgroup when `cgroupPath` is given), pod CPU and memory summed over
 * its containers, rootfs from the writable layer, logs and emptyDir-like volumes measured du-like,
 * ephemeral-storage = rootfs + logs + ephemeral volumes + etc-hosts.
 *
 * usageNanoCores needs two samples: a `StatsProvider` remembers the previous one per container
 * (and for the node) and derives the rate when a new sample is at least MIN_CPU_WINDOW_MS later;
 * until then the field is absent (upstream's behaviour before its first two samples). Samples not
 * refreshed for CPU_CACHE_TTL_MS are forgotten.
 *
 * Departures: no systemContainers, swap, PSI, accelerators or process_stats; pod-level log files
 * beside the container log directories are not counted; a volume walk is bounded (DU_BUDGET_MS,
 * DU_MAX_ENTRIES) and its result reused for DU_CACHE_MS, so a huge emptyDir is under-counted
 * rather than stalling the agent; without a CRI ImageFsInfo entry, imageFs.usedBytes is the
 * whole filesystem's use.
 */
import { lstat, opendir, readFile, readdir, readlink, stat, statfs } from 'node:fs/promises';
import path from 'node:path';

// ---- the v1alpha1 types (field names and JSON shape as upstream) ----

export interface CPUStats {
  time: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}
export interface MemoryStats {
  time: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}
export interface InterfaceStats {
  name: string;
  rxBytes?: number;
  rxErrors?: number;
  txBytes?: number;
  txErrors?: number;
}
/** The default interface (eth0) is inlined; `name` is "" when there is none, as upstream's JSON. */
export interface NetworkStats extends InterfaceStats {
  time: string;
  interfaces?: InterfaceStats[];
}
export interface FsStats {
  time: string;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}
export interface VolumeStats extends FsStats {
  name?: string;
  pvcRef?: { name: string; namespace: string };
}
export interface ContainerStats {
  name: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  rootfs?: FsStats;
  logs?: FsStats;
}
export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerStats[];
  cpu?: CPUStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  volume?: VolumeStats[];
  'ephemeral-storage'?: FsStats;
}
export interface RuntimeStats {
  imageFs?: FsStats;
  containerFs?: FsStats;
}
export interface RlimitStats {
  time: string;
  maxpid?: number;
  curproc?: number;
}
export interface NodeStats {
  nodeName: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  fs?: FsStats;
  runtime?: RuntimeStats;
  rlimit?: RlimitStats;
}
export interface Summary {
  node: NodeStats;
  pods: PodStats[];
}

// ---- inputs ----

export interface StatsSources {
  nodeName: string;
  /** When the node's stats collection started (RFC 3339). */
  startTime: string;
  pods: Array<{
    namespace: string;
    name: string;
    uid: string;
    startTime: string;
    sandboxId: string;
    /** The pod's network namespace (e.g. /var/run/netns/cni-...): its /proc/net/dev is found through a process in it. */
    netnsPath?: string;
    /** The contents of /proc/net/dev as seen inside the pod; wins over netnsPath. */
    netDev?: string;
    containers: Array<{
      name: string;
      startTime: string;
      containerId: string;
      /** The container's cgroup path below each hierarchy's mount (memory fields the CRI entry lacks come from it). */
      cgroupPath?: string;
      /** The container's log directory (<pod log dir>/<container name>), measured for `logs`. */
      logDir?: string;
    }>;
    /** Volumes to report. `ephemeral` (default true: emptyDir, configMap, secret, ...) is measured du-like and counts
     * toward ephemeral-storage; others report their filesystem's statfs figures. */
    volumes?: Array<{ name: string; path: string; ephemeral?: boolean; pvcRef?: { name: string; namespace: string } }>;
  }>;
  /** CRI ListContainerStats entries, raw as @grpc/proto-loader gives them (keepCase, longs: String). */
  containerStats: Array<any>;
  /** The kubelet's root directory: its filesystem is the node fs; pods/<uid>/etc-hosts lives below it. */
  rootDir: string;
  /** The runtime's image store: its filesystem is runtime.imageFs. */
  imageFsDir: string;
  /** Optional CRI ImageFsInfo `image_filesystems[0]` entry (raw), for imageFs used bytes and inodes. */
  imageFsUsage?: any;
}

export interface StatsProviderOptions {
  /** Defaults '/proc' and '/sys/fs/cgroup' (tests point them at fixtures). */
  procRoot?: string;
  cgroupRoot?: string;
  /** The clock (milliseconds since the epoch) for sample times and cache ages; default Date.now. */
  now?: () => number;
}

/** A usageNanoCores rate is derived only over at least this much time between samples. */
export const MIN_CPU_WINDOW_MS = 1000;
/** A CPU sample not refreshed for this long is forgotten (upstream's defaultCachePeriod). */
export const CPU_CACHE_TTL_MS = 10 * 60 * 1000;
/** A volume or log directory measurement is reused for this long (upstream's volume stats period). */
export const DU_CACHE_MS = 60 * 1000;
/** Time and entry bounds of one du-like walk. */
export const DU_BUDGET_MS = 1000;
export const DU_MAX_ENTRIES = 200_000;
/** Interfaces cAdvisor leaves out of network stats. */
const IGNORED_INTERFACE_PREFIXES = ['lo', 'veth', 'docker'];
const DEFAULT_INTERFACE = 'eth0';
/** /proc/stat counts in USER_HZ ticks (100 on Linux). */
const NS_PER_TICK = 10_000_000;

interface CpuSample {
  usage: bigint; // core-nanoseconds
  at: bigint; // nanoseconds since the epoch
  nanoCores?: number;
}

interface DuResult {
  at: number;
  bytes: number;
  inodes: number;
}

/**
 * Computes summaries, remembering what a rate needs (CPU samples) and what is costly (du-like
 * walks). Calls may overlap; each is independent apart from those caches.
 */
export class StatsProvider {
  #proc: string;
  #cgroup: string;
  #now: () => number;
  #cpu = new Map<string, CpuSample & { seen: number }>();
  #du = new Map<string, DuResult>();
  #duRunning = new Map<string, Promise<DuResult>>();

  constructor(opts: StatsProviderOptions = {}) {
    this.#proc = opts.procRoot ?? '/proc';
    this.#cgroup = opts.cgroupRoot ?? '/sys/fs/cgroup';
    this.#now = opts.now ?? Date.now;
  }

  /** The Summary for `src`. Sources that cannot be read leave their section out; it never throws for them. */
  async summary(src: StatsSources): Promise<Summary> {
    const nowMs = this.#now();
    const fsCache = new Map<string, Promise<FsStats | undefined>>();
    const fsOf = (dir: string) => {
      let p = fsCache.get(dir);
      if (!p) fsCache.set(dir, (p = fsStatsOf(dir, nowMs)));
      return p;
    };
    const [rootFs, imageFs, node] = await Promise.all([fsOf(src.rootDir), fsOf(src.imageFsDir), this.#nodeStats(src, nowMs)]);
    if (rootFs) node.fs = rootFs;
    if (imageFs) {
      const runtimeFs: FsStats = { ...imageFs };
      const used = u64(src.imageFsUsage?.used_bytes);
      const inodesUsed = u64(src.imageFsUsage?.inodes_used);
      if (used !== undefined) runtimeFs.usedBytes = used;
      if (inodesUsed !== undefined) runtimeFs.inodesUsed = inodesUsed;
      node.runtime = { imageFs: runtimeFs, containerFs: runtimeFs };
    }

    const byId = new Map<string, any>();
    for (const s of src.containerStats) {
      const id = s?.attributes?.id;
      if (typeof id === 'string') byId.set(id, s);
    }
    const netns = new NetnsLookup(this.#proc);
    const all = await Promise.all(src.pods.map((pod) => this.#podStats(pod, byId, rootFs, fsOf, netns, src.rootDir, nowMs)));
    const pods = all.filter((p): p is PodStats => p !== undefined);
    this.#forgetStale(nowMs);
    return { node, pods };
  }

  async #nodeStats(src: StatsSources, nowMs: number): Promise<NodeStats> {
    const time = metaTime(nowMs);
    const node: NodeStats = { nodeName: src.nodeName, startTime: canonical(src.startTime) };
    const [procStat, mem, netDev, rlimit] = await Promise.all([
      readText(path.join(this.#proc, 'stat')),
      this.#nodeMemory(time),
      readText(path.join(this.#proc, 'net/dev')),
      this.#rlimit(time),
    ]);
    const usage = procStat !== undefined ? cpuFromProcStat(procStat) : undefined;
    if (usage !== undefined) {
      const cpu: CPUStats = { time, usageCoreNanoSeconds: Number(usage) };
      const rate = this.#rate('node', usage, BigInt(nowMs) * 1_000_000n, nowMs);
      if (rate !== undefined) cpu.usageNanoCores = rate;
      node.cpu = cpu;
    }
    if (mem) node.memory = mem;
    if (netDev !== undefined) node.network = networkStats(parseNetDev(netDev), time);
    if (rlimit) node.rlimit = rlimit;
    return node;
  }

  /** Node memory as cAdvisor reports the root cgroup. */
  async #nodeMemory(time: string): Promise<MemoryStats | undefined> {
    const meminfo = parseKeyValues((await readText(path.join(this.#proc, 'meminfo'))) ?? '', 1024);
    const total = meminfo.get('MemTotal');
    let usage: number | undefined;
    let stat: Map<string, number>;
    let inactiveKey: string;
    let rssKey: string;
    const v1 = path.join(this.#cgroup, 'memory');
    const v1Usage = await readNumber(path.join(v1, 'memory.usage_in_bytes'));
    if (v1Usage !== undefined) {
      usage = v1Usage;
      stat = parseKeyValues((await readText(path.join(v1, 'memory.stat'))) ?? '');
      inactiveKey = 'total_inactive_file';
      rssKey = 'total_rss';
    } else {
      usage = await readNumber(path.join(this.#cgroup, 'memory.current'));
      if (usage === undefined && total !== undefined && meminfo.has('MemFree')) usage = total - meminfo.get('MemFree')!;
      stat = parseKeyValues((await readText(path.join(this.#cgroup, 'memory.stat'))) ?? '');
      inactiveKey = 'inactive_file';
      rssKey = 'anon';
      if (!stat.has('inactive_file') && meminfo.has('Inactive(file)')) stat.set('inactive_file', meminfo.get('Inactive(file)')!);
    }
    if (usage === undefined) return undefined;
    const inactive = stat.get(inactiveKey);
    const workingSet = inactive === undefined ? usage : Math.max(0, usage - inactive);
    const m: MemoryStats = { time, usageBytes: usage, workingSetBytes: workingSet };
    if (total !== undefined && total >= workingSet) m.availableBytes = total - workingSet;
    if (stat.has(rssKey)) m.rssBytes = stat.get(rssKey);
    if (stat.has('pgfault')) m.pageFaults = stat.get('pgfault');
    if (stat.has('pgmajfault')) m.majorPageFaults = stat.get('pgmajfault');
    return m;
  }

  /** Upstream's pidlimit.Stats: min(pid_max, threads-max), and the task count from /proc/loadavg. */
  async #rlimit(time: string): Promise<RlimitStats | undefined> {
    const [pidMax, threadsMax, loadavg] = await Promise.all([
      readNumber(path.join(this.#proc, 'sys/kernel/pid_max')),
      readNumber(path.join(this.#proc, 'sys/kernel/threads-max')),
      readText(path.join(this.#proc, 'loadavg')),
    ]);
    const r: RlimitStats = { time };
    const limits = [pidMax, threadsMax].filter((x): x is number => x !== undefined);
    if (limits.length > 0) r.maxpid = Math.min(...limits);
    const tasks = loadavg?.trim().split(/\s+/)[3]?.split('/')[1];
    if (tasks !== undefined && /^\d+$/.test(tasks)) r.curproc = Number(tasks);
    return r;
  }

  async #podStats(
    pod: StatsSources['pods'][number],
    byId: Map<string, any>,
    rootFs: FsStats | undefined,
    fsOf: (dir: string) => Promise<FsStats | undefined>,
    netns: NetnsLookup,
    rootDir: string,
    nowMs: number,
  ): Promise<PodStats | undefined> {
    const containers: ContainerStats[] = [];
    for (const c of pod.containers) {
      const s = byId.get(c.containerId);
      if (!s) continue; // upstream lists what the runtime has stats for
      containers.push(await this.#containerStats(c, s, rootFs, fsOf, nowMs));
    }
    if (containers.length === 0) return undefined; // as upstream: a pod appears through its containers' stats
    const ps: PodStats = {
      podRef: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
      startTime: canonical(pod.startTime),
      containers,
    };
    sumCpuMemory(ps);

    const netDev = pod.netDev ?? (pod.netnsPath ? await netns.netDev(pod.netnsPath) : undefined);
    if (netDev !== undefined) ps.network = networkStats(parseNetDev(netDev), metaTime(nowMs));

    const ephemeralVolumes: VolumeStats[] = [];
    const persistentVolumes: VolumeStats[] = [];
    for (const v of pod.volumes ?? []) {
      const fs = await fsOf(v.path);
      if (!fs) continue;
      const vs: VolumeStats = { ...fs, name: v.name };
      if (v.pvcRef) vs.pvcRef = { name: v.pvcRef.name, namespace: v.pvcRef.namespace };
      if (v.ephemeral ?? true) {
        const du = await this.#duCached(v.path, nowMs);
        vs.usedBytes = du.bytes;
        vs.inodesUsed = du.inodes;
        vs.time = metaTime(du.at);
        ephemeralVolumes.push(vs);
      } else {
        persistentVolumes.push(vs);
      }
    }
    if (ephemeralVolumes.length + persistentVolumes.length > 0) ps.volume = [...ephemeralVolumes, ...persistentVolumes];

    if (rootFs) {
      const eph: FsStats = {
        time: rootFs.time,
        availableBytes: rootFs.availableBytes,
        capacityBytes: rootFs.capacityBytes,
        inodesFree: rootFs.inodesFree,
        inodes: rootFs.inodes,
      };
      for (const c of containers) {
        if (!c.rootfs) continue;
        eph.time = laterTime(eph.time, c.rootfs.time);
        eph.inodesUsed = addUsage(eph.inodesUsed, c.rootfs.inodesUsed);
        eph.usedBytes = addUsage(eph.usedBytes, c.rootfs.usedBytes);
        if (c.logs) {
          eph.usedBytes = addUsage(eph.usedBytes, c.logs.usedBytes);
          eph.inodesUsed = addUsage(eph.inodesUsed, c.logs.inodesUsed);
          eph.time = laterTime(eph.time, c.logs.time);
        }
      }
      for (const v of ephemeralVolumes) {
        eph.usedBytes = addUsage(eph.usedBytes, v.usedBytes);
        eph.inodesUsed = addUsage(eph.inodesUsed, v.inodesUsed);
        eph.time = laterTime(eph.time, v.time);
      }
      const hosts = await lstat(path.join(rootDir, 'pods', pod.uid, 'etc-hosts')).catch(() => undefined);
      if (hosts) {
        eph.usedBytes = addUsage(eph.usedBytes, hosts.blocks * 512);
        eph.inodesUsed = addUsage(eph.inodesUsed, 1);
      }
      ps['ephemeral-storage'] = dropUndefined(eph);
    }
    return ps;
  }

  async #containerStats(
    c: StatsSources['pods'][number]['containers'][number],
    s: any,
    rootFs: FsStats | undefined,
    fsOf: (dir: string) => Promise<FsStats | undefined>,
    nowMs: number,
  ): Promise<ContainerStats> {
    const out: ContainerStats = { name: c.name, startTime: canonical(c.startTime) };

    if (s.cpu) {
      const cpu: CPUStats = { time: nsTime(s.cpu.timestamp, nowMs) };
      const usage = u64Big(s.cpu.usage_core_nano_seconds);
      if (usage !== undefined) cpu.usageCoreNanoSeconds = Number(usage);
      const given = u64(s.cpu.usage_nano_cores);
      if (given !== undefined) cpu.usageNanoCores = given;
      else if (usage !== undefined) {
        const at = s.cpu.timestamp ? BigInt(s.cpu.timestamp) : BigInt(nowMs) * 1_000_000n;
        const rate = this.#rate(c.containerId, usage, at, nowMs);
        if (rate !== undefined) cpu.usageNanoCores = rate;
      }
      out.cpu = cpu;
    } else {
      out.cpu = { time: metaTime(nowMs), usageCoreNanoSeconds: 0, usageNanoCores: 0 };
    }

    const memory: MemoryStats = { time: s.memory ? nsTime(s.memory.timestamp, nowMs) : metaTime(nowMs) };
    if (s.memory) {
      const fields: Array<[keyof MemoryStats, string]> = [
        ['availableBytes', 'available_bytes'],
        ['usageBytes', 'usage_bytes'],
        ['workingSetBytes', 'working_set_bytes'],
        ['rssBytes', 'rss_bytes'],
        ['pageFaults', 'page_faults'],
        ['majorPageFaults', 'major_page_faults'],
      ];
      for (const [k, crik] of fields) {
        const v = u64(s.memory[crik]);
        if (v !== undefined) (memory as any)[k] = v;
      }
    }
    if (c.cgroupPath && (memory.usageBytes === undefined || memory.rssBytes === undefined || memory.pageFaults === undefined)) {
      const cg = await this.#cgroupMemory(c.cgroupPath);
      if (cg) {
        for (const k of ['usageBytes', 'workingSetBytes', 'rssBytes', 'pageFaults', 'majorPageFaults'] as const) {
          if (memory[k] === undefined && cg[k] !== undefined) memory[k] = cg[k];
        }
      }
    }
    if (memory.workingSetBytes === undefined) memory.workingSetBytes = 0;
    out.memory = memory;

    const wl = s.writable_layer;
    const rootfs: FsStats = { time: wl ? nsTime(wl.timestamp, nowMs) : metaTime(nowMs) };
    if (wl) {
      const used = u64(wl.used_bytes);
      const inodes = u64(wl.inodes_used);
      if (used !== undefined) rootfs.usedBytes = used;
      if (inodes !== undefined) rootfs.inodesUsed = inodes;
      const mount = wl.fs_id?.mountpoint;
      const fs = typeof mount === 'string' && mount !== '' ? await fsOf(mount) : undefined;
      if (fs) {
        rootfs.availableBytes = fs.availableBytes;
        rootfs.capacityBytes = fs.capacityBytes;
        rootfs.inodesFree = fs.inodesFree;
        rootfs.inodes = fs.inodes;
      }
    }
    out.rootfs = dropUndefined(rootfs);

    if (c.logDir) {
      const du = await this.#duCached(c.logDir, nowMs);
      const logs: FsStats = { time: metaTime(du.at), usedBytes: du.bytes, inodesUsed: du.inodes };
      if (rootFs) {
        logs.availableBytes = rootFs.availableBytes;
        logs.capacityBytes = rootFs.capacityBytes;
        logs.inodesFree = rootFs.inodesFree;
        logs.inodes = rootFs.inodes;
      }
      out.logs = dropUndefined(logs);
    }
    return out;
  }

  /** A container cgroup's memory figures, cAdvisor's way (v1 hierarchy totals, or v2). */
  async #cgroupMemory(cgroupPath: string): Promise<Partial<MemoryStats> | undefined> {
    const v1dir = path.join(this.#cgroup, 'memory', cgroupPath);
    let usage = await readNumber(path.join(v1dir, 'memory.usage_in_bytes'));
    let stat: Map<string, number>;
    let inactiveKey = 'total_inactive_file';
    let rssKey = 'total_rss';
    if (usage !== undefined) {
      stat = parseKeyValues((await readText(path.join(v1dir, 'memory.stat'))) ?? '');
    } else {
      const v2dir = path.join(this.#cgroup, cgroupPath);
      usage = await readNumber(path.join(v2dir, 'memory.current'));
      if (usage === undefined) return undefined;
      stat = parseKeyValues((await readText(path.join(v2dir, 'memory.stat'))) ?? '');
      inactiveKey = 'inactive_file';
      rssKey = 'anon';
    }
    const inactive = stat.get(inactiveKey);
    return {
      usageBytes: usage,
      workingSetBytes: inactive === undefined ? usage : Math.max(0, usage - inactive),
      rssBytes: stat.get(rssKey),
      pageFaults: stat.get('pgfault'),
      majorPageFaults: stat.get('pgmajfault'),
    };
  }

  /**
   * usageNanoCores for `id` from the remembered sample and this one (upstream's
   * getAndUpdateContainerUsageNanoCores, with a minimum window so back-to-back calls do not
   * produce a rate over a few milliseconds). Undefined until a rate can be had.
   */
  #rate(id: string, usage: bigint, at: bigint, nowMs: number): number | undefined {
    const prev = this.#cpu.get(id);
    if (!prev || usage < prev.usage) {
      this.#cpu.set(id, { usage, at, seen: nowMs });
      return undefined;
    }
    const window = at - prev.at;
    if (window < BigInt(MIN_CPU_WINDOW_MS) * 1_000_000n) {
      prev.seen = nowMs;
      return prev.nanoCores;
    }
    const nanoCores = Math.floor((Number(usage - prev.usage) / Number(window)) * 1e9);
    this.#cpu.set(id, { usage, at, nanoCores, seen: nowMs });
    return nanoCores;
  }

  #forgetStale(nowMs: number): void {
    for (const [id, s] of this.#cpu) if (nowMs - s.seen > CPU_CACHE_TTL_MS) this.#cpu.delete(id);
    for (const [p, d] of this.#du) if (nowMs - d.at > DU_CACHE_MS) this.#du.delete(p);
  }

  /** A du-like measurement of `dir`, reused for DU_CACHE_MS; concurrent callers share one walk. */
  async #duCached(dir: string, nowMs: number): Promise<DuResult> {
    const hit = this.#du.get(dir);
    if (hit && nowMs - hit.at < DU_CACHE_MS) return hit;
    let running = this.#duRunning.get(dir);
    if (!running) {
      running = diskUsage(dir)
        .then((r) => {
          const res = { at: this.#now(), bytes: r.bytes, inodes: r.inodes };
          this.#du.set(dir, res);
          return res;
        })
        .finally(() => this.#duRunning.delete(dir));
      this.#duRunning.set(dir, running);
    }
    return running;
  }
}

const shared = new StatsProvider();

/** The Summary for `src`, from a process-wide StatsProvider (so usageNanoCores appears from the second call on). */
export async function statsSummary(src: StatsSources): Promise<Summary> {
  return shared.summary(src);
}

// ---- helpers ----

/**
 * Bytes (allocated blocks, as du) and inodes used below `dir`, not crossing into other
 * filesystems, hard links counted once. Stops early (under-counting) past DU_BUDGET_MS or
 * DU_MAX_ENTRIES. A missing directory measures 0.
 */
export async function diskUsage(
  dir: string,
  bounds: { budgetMs?: number; maxEntries?: number } = {},
): Promise<{ bytes: number; inodes: number; complete: boolean }> {
  const deadline = Date.now() + (bounds.budgetMs ?? DU_BUDGET_MS);
  const maxEntries = bounds.maxEntries ?? DU_MAX_ENTRIES;
  const root = await lstat(dir).catch(() => undefined);
  if (!root) return { bytes: 0, inodes: 0, complete: true };
  let bytes = root.blocks * 512;
  let inodes = 1;
  if (!root.isDirectory()) return { bytes, inodes, complete: true };
  const seen = new Set<number>();
  const stack = [dir];
  let entries = 0;
  let truncated = false;
  while (stack.length > 0) {
    if (Date.now() > deadline || entries >= maxEntries) return { bytes, inodes, complete: false };
    const d = stack.pop()!;
    let names: string[];
    try {
      names = [];
      for await (const e of await opendir(d, { bufferSize: 256 })) {
        names.push(e.name);
        if (entries + names.length >= maxEntries) {
          truncated = true;
          break; // (breaking closes the directory)
        }
      }
    } catch {
      continue; // vanished or unreadable meanwhile
    }
    for (let i = 0; i < names.length; i += 64) {
      if (Date.now() > deadline || entries >= maxEntries) return { bytes, inodes, complete: false };
      const batch = names.slice(i, i + 64).map((n) => path.join(d, n));
      const sts = await Promise.all(batch.map((p) => lstat(p).catch(() => undefined)));
      for (let j = 0; j < batch.length; j++) {
        const st = sts[j];
        if (!st || st.dev !== root.dev) continue;
        entries++;
        if (st.nlink > 1 && !st.isDirectory()) {
          if (seen.has(st.ino)) continue;
          seen.add(st.ino);
        }
        bytes += st.blocks * 512;
        inodes++;
        if (st.isDirectory()) stack.push(batch[j]!);
      }
    }
  }
  return { bytes, inodes, complete: !truncated };
}

/** Finds a process in a network namespace (by the namespace file's inode) to read its /proc/<pid>/net/dev. */
class NetnsLookup {
  #proc: string;
  #byInode: Promise<Map<number, number>> | undefined;
  constructor(proc: string) {
    this.#proc = proc;
  }
  async netDev(netnsPath: string): Promise<string | undefined> {
    const st = await stat(netnsPath).catch(() => undefined);
    if (!st) return undefined;
    this.#byInode ??= this.#scan();
    const pid = (await this.#byInode).get(st.ino);
    return pid === undefined ? undefined : readText(path.join(this.#proc, String(pid), 'net/dev'));
  }
  async #scan(): Promise<Map<number, number>> {
    const m = new Map<number, number>();
    const names = await readdir(this.#proc).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((n) => /^\d+$/.test(n))
        .map(async (n) => {
          const link = await readlink(path.join(this.#proc, n, 'ns/net')).catch(() => undefined);
          const ino = link ? /^net:\[(\d+)\]$/.exec(link)?.[1] : undefined;
          if (ino !== undefined && !m.has(Number(ino))) m.set(Number(ino), Number(n));
        }),
    );
    return m;
  }
}

async function fsStatsOf(dir: string, nowMs: number): Promise<FsStats | undefined> {
  try {
    const s = await statfs(dir);
    return {
      time: metaTime(nowMs),
      availableBytes: s.bavail * s.bsize,
      capacityBytes: s.blocks * s.bsize,
      usedBytes: (s.blocks - s.bfree) * s.bsize,
      inodesFree: s.ffree,
      inodes: s.files,
      inodesUsed: s.files - s.ffree,
    };
  } catch {
    return undefined;
  }
}

/** Busy core-nanoseconds from /proc/stat's `cpu` line: user+nice+system+irq+softirq+steal. */
export function cpuFromProcStat(text: string): bigint | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const fields = line.trim().split(/\s+/).slice(1);
  if (fields.length < 4 || !fields.every((x) => /^\d+$/.test(x))) return undefined;
  const f = fields.map((x) => BigInt(x));
  const [user = 0n, nice = 0n, system = 0n, , , irq = 0n, softirq = 0n, steal = 0n] = f;
  return (user + nice + system + irq + softirq + steal) * BigInt(NS_PER_TICK);
}

/** Parses /proc/net/dev: name, rx bytes/errors (fields 1, 3), tx bytes/errors (fields 9, 11). */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (name === '' || f.length < 16 || !f.every((x) => /^\d+$/.test(x))) continue;
    out.push({ name, rxBytes: Number(f[0]), rxErrors: Number(f[2]), txBytes: Number(f[8]), txErrors: Number(f[10]) });
  }
  return out;
}

/** NetworkStats over the interfaces cAdvisor keeps; eth0, if present, inlined as the default. */
export function networkStats(ifaces: InterfaceStats[], time: string): NetworkStats {
  const kept = ifaces.filter((i) => !IGNORED_INTERFACE_PREFIXES.some((p) => i.name.toLowerCase().startsWith(p)));
  const def = kept.find((i) => i.name === DEFAULT_INTERFACE);
  const n: NetworkStats = { time, ...(def ?? { name: '' }) };
  if (kept.length > 0) n.interfaces = kept;
  return n;
}

/** Upstream's fallback when there is no pod cgroup: the pod's CPU and memory are its containers' sums. */
function sumCpuMemory(ps: PodStats): void {
  for (const cs of ps.containers) {
    if (cs.cpu) {
      const p = (ps.cpu ??= { time: cs.cpu.time });
      p.time = cs.cpu.time;
      p.usageCoreNanoSeconds = (p.usageCoreNanoSeconds ?? 0) + (cs.cpu.usageCoreNanoSeconds ?? 0);
      p.usageNanoCores = (p.usageNanoCores ?? 0) + (cs.cpu.usageNanoCores ?? 0);
    }
    if (cs.memory) {
      const p = (ps.memory ??= { time: cs.memory.time });
      p.time = cs.memory.time;
      for (const k of ['availableBytes', 'usageBytes', 'workingSetBytes', 'rssBytes', 'pageFaults', 'majorPageFaults'] as const) {
        p[k] = (p[k] ?? 0) + (cs.memory[k] ?? 0);
      }
    }
  }
}

function addUsage(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a + b;
}

function laterTime(a: string, b: string): string {
  return b > a ? b : a; // same fixed-width UTC form: string order is time order
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

/** A CRI UInt64Value (`{ value: '123' }`; an absent value is 0 in proto3) as a number. */
function u64(w: any): number | undefined {
  const b = u64Big(w);
  return b === undefined ? undefined : Number(b);
}
function u64Big(w: any): bigint | undefined {
  if (w === null || w === undefined || typeof w !== 'object') return undefined;
  const v = w.value;
  if (v === undefined || v === null || v === '') return 0n;
  try {
    return BigInt(v);
  } catch {
    return undefined;
  }
}

/** metav1.Time's JSON form: UTC, whole seconds. */
function metaTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
/** A CRI nanosecond timestamp (string) as metav1.Time; now when absent or zero. */
function nsTime(ns: unknown, nowMs: number): string {
  try {
    const n = BigInt(ns as string);
    if (n > 0n) return metaTime(Number(n / 1_000_000n));
  } catch {
    // fall through
  }
  return metaTime(nowMs);
}
/** An RFC 3339 time re-written in metav1.Time's form (left as it is if unparsable). */
function canonical(s: string): string {
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? s : metaTime(ms);
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}
async function readNumber(file: string): Promise<number | undefined> {
  const t = (await readText(file))?.trim();
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
}
/** `key value [unit]` lines (memory.stat, /proc/meminfo with `scale` 1024 for kB) as a map. */
function parseKeyValues(text: string, scale = 1): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2) continue;
    const key = f[0]!.endsWith(':') ? f[0]!.slice(0, -1) : f[0]!;
    if (/^\d+$/.test(f[1]!)) m.set(key, Number(f[1]) * (f[2] === 'kB' ? scale : 1));
  }
  return m;
}
