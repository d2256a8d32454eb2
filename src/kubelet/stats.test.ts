/**
 * Tests for the Summary API: node figures against this machine's real /proc, /sys and statfs;
 * pod and container figures from handcrafted CRI ListContainerStats entries over real temporary
 * directories (volumes and logs measured against du and find); cgroup v1/v2 layouts from fixtures.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile, link, readFile, statfs, symlink } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  StatsProvider,
  statsSummary,
  diskUsage,
  parseNetDev,
  networkStats,
  cpuFromProcStat,
  MIN_CPU_WINDOW_MS,
  CPU_CACHE_TTL_MS,
  DU_CACHE_MS,
  type StatsSources,
} from './stats.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bosun-stats-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NS = 1_000_000_000n;
const T0 = 1_700_000_000n * NS; // 2023-11-14T22:13:20Z

/** A CRI ContainerStats entry as proto-loader gives it (keepCase, longs: String, defaults: true). */
function criStats(id: string, o: { at?: bigint; cpu?: bigint; nanoCores?: bigint; ws?: number; usage?: number; rss?: number; faults?: number; layer?: number; layerInodes?: number; mount?: string; noCpu?: boolean; noMemory?: boolean } = {}) {
  const at = String(o.at ?? T0);
  const v = (x: number | bigint | undefined) => (x === undefined ? null : { value: String(x) });
  return {
    attributes: { id, metadata: { name: id, attempt: 0 }, labels: {}, annotations: {} },
    cpu: o.noCpu ? null : { timestamp: at, usage_core_nano_seconds: v(o.cpu ?? 0n), usage_nano_cores: v(o.nanoCores), psi: null },
    memory: o.noMemory
      ? null
      : {
          timestamp: at,
          working_set_bytes: v(o.ws ?? 0),
          available_bytes: null,
          usage_bytes: v(o.usage),
          rss_bytes: v(o.rss),
          page_faults: v(o.faults),
          major_page_faults: null,
          psi: null,
        },
    writable_layer: { timestamp: at, fs_id: { mountpoint: o.mount ?? '' }, used_bytes: v(o.layer ?? 0), inodes_used: v(o.layerInodes ?? 0) },
    swap: null,
    io: null,
  };
}

function sources(over: Partial<StatsSources> = {}): StatsSources {
  return { nodeName: 'n1', startTime: '2024-01-01T00:00:00.5Z', pods: [], containerStats: [], rootDir: dir, imageFsDir: dir, ...over };
}

/** Figures of a filesystem other processes may be writing to: equal give or take 256 MiB. */
function near(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 256 * 1024 * 1024, `${what}: ${got} vs ${want}`);
}

const du = (p: string) => Number(execFileSync('du', ['-s', '-x', '-B1', p], { encoding: 'utf8' }).split('\t')[0]);
const countInodes = (p: string) => execFileSync('find', [p, '-xdev'], { encoding: 'utf8' }).trim().split('\n').length;

test('node stats come from this machine', async () => {
  const s = await new StatsProvider().summary(sources());
  const n = s.node;
  assert.equal(n.nodeName, 'n1');
  assert.equal(n.startTime, '2024-01-01T00:00:00Z');
  assert.deepEqual(s.pods, []);

  // CPU: cumulative busy time from /proc/stat; no rate from a single sample.
  assert.ok(n.cpu && n.cpu.usageCoreNanoSeconds! > 0);
  assert.equal(n.cpu.usageNanoCores, undefined);
  assert.match(n.cpu.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  // Memory: working set = usage - inactive file, available = MemTotal - working set.
  const m = n.memory!;
  const memTotal = Number(/MemTotal:\s+(\d+)/.exec(await readFile('/proc/meminfo', 'utf8'))![1]) * 1024;
  assert.ok(m.usageBytes! > 0 && m.workingSetBytes! <= m.usageBytes!);
  assert.equal(m.availableBytes! + m.workingSetBytes!, memTotal);
  assert.ok(m.rssBytes! > 0 && m.pageFaults! > 0 && m.majorPageFaults! >= 0);

  // Network: cAdvisor's interfaces (no lo), eth0 inlined when the machine has one.
  const names = (n.network!.interfaces ?? []).map((i) => i.name);
  assert.ok(!names.includes('lo'));
  const procNames = parseNetDev(await readFile('/proc/net/dev', 'utf8')).map((i) => i.name);
  assert.equal(n.network!.name, procNames.includes('eth0') ? 'eth0' : '');
  if (procNames.includes('eth0')) assert.ok(n.network!.rxBytes! > 0);

  // Filesystems: statfs of the root and image directories.
  const st = await statfs(dir);
  assert.equal(n.fs!.capacityBytes, st.blocks * st.bsize);
  assert.equal(n.fs!.inodes, st.files);
  assert.equal(n.fs!.inodesUsed, n.fs!.inodes! - n.fs!.inodesFree!);
  near(n.fs!.usedBytes!, (st.blocks - st.bfree) * st.bsize, 'node fs used');
  near(n.fs!.availableBytes!, st.bavail * st.bsize, 'node fs available');
  assert.equal(n.runtime!.imageFs!.capacityBytes, st.blocks * st.bsize);
  assert.deepEqual(n.runtime!.containerFs, n.runtime!.imageFs);

  // Rlimit: min(pid_max, threads-max) and the task count.
  const pidMax = Number(await readFile('/proc/sys/kernel/pid_max', 'utf8'));
  const threadsMax = Number(await readFile('/proc/sys/kernel/threads-max', 'utf8'));
  assert.equal(n.rlimit!.maxpid, Math.min(pidMax, threadsMax));
  assert.ok(n.rlimit!.curproc! > 0);
});

test('node usageNanoCores appears once two samples are MIN_CPU_WINDOW_MS apart', async () => {
  const p = new StatsProvider();
  await p.summary(sources());
  const soon = await p.summary(sources());
  assert.equal(soon.node.cpu!.usageNanoCores, undefined, 'not over a window of a few milliseconds');
  await sleep(MIN_CPU_WINDOW_MS + 100);
  const later = await p.summary(sources());
  const rate = later.node.cpu!.usageNanoCores!;
  assert.ok(rate >= 0 && rate <= cpus().length * 1e9 * 1.05, `rate ${rate}`);
});

test('imageFs used bytes and inodes come from the CRI ImageFsInfo entry when given', async () => {
  const s = await new StatsProvider().summary(sources({ imageFsUsage: { timestamp: '1', used_bytes: { value: '12345' }, inodes_used: { value: '67' } } }));
  assert.equal(s.node.runtime!.imageFs!.usedBytes, 12345);
  assert.equal(s.node.runtime!.imageFs!.inodesUsed, 67);
});

test('pod and container stats from CRI entries, volumes, logs and etc-hosts', async () => {
  const root = path.join(dir, 'kubelet');
  const uid = 'uid-1';
  await mkdir(path.join(root, 'pods', uid), { recursive: true });
  await writeFile(path.join(root, 'pods', uid, 'etc-hosts'), '127.0.0.1 localhost\n');
  const vol = path.join(root, 'pods', uid, 'volumes', 'kubernetes.io~empty-dir', 'data');
  await mkdir(path.join(vol, 'sub', 'deeper'), { recursive: true });
  await writeFile(path.join(vol, 'a'), Buffer.alloc(10_000, 1));
  await writeFile(path.join(vol, 'sub', 'b'), Buffer.alloc(70_000, 2));
  await link(path.join(vol, 'sub', 'b'), path.join(vol, 'sub', 'deeper', 'b-again')); // counted once
  await symlink('a', path.join(vol, 'link'));
  const logDir = path.join(dir, 'logs', 'ns_web_uid-1', 'app');
  await mkdir(logDir, { recursive: true });
  await writeFile(path.join(logDir, '0.log'), 'x'.repeat(5000));
  const pvc = path.join(dir, 'pvc');
  await mkdir(pvc);

  const pod: StatsSources['pods'][number] = {
    namespace: 'ns',
    name: 'web',
    uid,
    startTime: '2024-02-03T04:05:06Z',
    sandboxId: 'sb1',
    netDev:
      'Inter-|   Receive                                                |  Transmit\n' +
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
      '    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n' +
      '  eth0:    2000      20    3    0    0     0          0         0     4000      40    5    0    0     0       0          0\n',
    containers: [
      { name: 'app', startTime: '2024-02-03T04:05:07Z', containerId: 'c-app', logDir },
      { name: 'side', startTime: '2024-02-03T04:05:08Z', containerId: 'c-side' },
      { name: 'gone', startTime: '2024-02-03T04:05:09Z', containerId: 'c-gone' }, // no CRI stats: left out
    ],
    volumes: [
      { name: 'data', path: vol },
      { name: 'claim', path: pvc, ephemeral: false, pvcRef: { name: 'claim-1', namespace: 'ns' } },
    ],
  };
  const noStats: StatsSources['pods'][number] = { namespace: 'ns', name: 'idle', uid: 'uid-2', startTime: '2024-02-03T04:05:06Z', sandboxId: 'sb2', containers: [{ name: 'x', startTime: '2024-02-03T04:05:06Z', containerId: 'c-none' }] };

  const p = new StatsProvider();
  const first = await p.summary(
    sources({
      rootDir: root,
      pods: [pod, noStats],
      containerStats: [
        criStats('c-app', { cpu: 5n * NS, ws: 1000, usage: 3000, rss: 800, faults: 7, layer: 4096, layerInodes: 3, mount: dir }),
        criStats('c-side', { cpu: 1n * NS, ws: 500, noCpu: false }),
      ],
    }),
  );
  assert.equal(first.pods.length, 1, 'a pod without container stats is not listed');
  const ps = first.pods[0]!;
  assert.deepEqual(ps.podRef, { name: 'web', namespace: 'ns', uid });
  assert.equal(ps.startTime, '2024-02-03T04:05:06Z');
  assert.deepEqual(ps.containers.map((c) => c.name), ['app', 'side']);
  const app = ps.containers[0]!;
  assert.deepEqual(app.cpu, { time: '2023-11-14T22:13:20Z', usageCoreNanoSeconds: 5e9 });
  assert.deepEqual(app.memory, { time: '2023-11-14T22:13:20Z', workingSetBytes: 1000, usageBytes: 3000, rssBytes: 800, pageFaults: 7 });
  const st = await statfs(dir);
  near(app.rootfs!.availableBytes!, st.bavail * st.bsize, 'rootfs available');
  assert.deepEqual(app.rootfs, {
    time: '2023-11-14T22:13:20Z',
    usedBytes: 4096,
    inodesUsed: 3,
    availableBytes: app.rootfs!.availableBytes,
    capacityBytes: st.blocks * st.bsize,
    inodesFree: app.rootfs!.inodesFree,
    inodes: st.files,
  });
  assert.equal(app.logs!.usedBytes, du(logDir));
  assert.equal(app.logs!.inodesUsed, countInodes(logDir));
  assert.equal(ps.containers[1]!.logs, undefined);

  // Pod CPU and memory are the containers' sums.
  assert.equal(ps.cpu!.usageCoreNanoSeconds, 6e9);
  assert.equal(ps.memory!.workingSetBytes, 1500);
  assert.equal(ps.memory!.usageBytes, 3000);

  // Network from the pod's /proc/net/dev, lo left out, eth0 inlined.
  assert.deepEqual(
    { ...ps.network, time: undefined },
    { time: undefined, name: 'eth0', rxBytes: 2000, rxErrors: 3, txBytes: 4000, txErrors: 5, interfaces: [{ name: 'eth0', rxBytes: 2000, rxErrors: 3, txBytes: 4000, txErrors: 5 }] },
  );

  // Volumes: the emptyDir measured like du (hard link once), the PVC by statfs.
  const [data, claim] = ps.volume!;
  assert.equal(data!.name, 'data');
  assert.equal(data!.usedBytes, du(vol));
  assert.equal(data!.inodesUsed, countInodes(vol) - 1 /* find lists the hard link twice */);
  assert.equal(data!.capacityBytes, st.blocks * st.bsize);
  assert.equal(claim!.name, 'claim');
  assert.deepEqual(claim!.pvcRef, { name: 'claim-1', namespace: 'ns' });
  near(claim!.usedBytes!, (st.blocks - st.bfree) * st.bsize, 'pvc used');

  // Ephemeral storage: rootfs + logs + ephemeral volumes + etc-hosts (not the PVC).
  const hosts = du(path.join(root, 'pods', uid, 'etc-hosts'));
  const eph = ps['ephemeral-storage']!;
  assert.equal(eph.usedBytes, 4096 + 0 + app.logs!.usedBytes! + data!.usedBytes! + hosts);
  assert.equal(eph.inodesUsed, 3 + 0 + app.logs!.inodesUsed! + data!.inodesUsed! + 1);
  assert.equal(eph.capacityBytes, st.blocks * st.bsize);

  // The JSON has upstream's field names.
  const json = JSON.parse(JSON.stringify(first));
  assert.ok('ephemeral-storage' in json.pods[0] && 'volume' in json.pods[0] && 'podRef' in json.pods[0]);

  // A second sample ten seconds of runtime time later gives the containers' rates.
  const second = await p.summary(
    sources({
      rootDir: root,
      pods: [pod],
      containerStats: [
        criStats('c-app', { at: T0 + 10n * NS, cpu: 5n * NS + 2_500_000_000n, ws: 1000, mount: dir }),
        criStats('c-side', { at: T0 + 10n * NS, cpu: 1n * NS, ws: 500 }),
      ],
    }),
  );
  const [app2, side2] = second.pods[0]!.containers;
  assert.equal(app2!.cpu!.usageNanoCores, 250_000_000);
  assert.equal(side2!.cpu!.usageNanoCores, 0);
  assert.equal(second.pods[0]!.cpu!.usageNanoCores, 250_000_000);
});

const cpuCases: Array<{ name: string; entries: Array<ReturnType<typeof criStats>>; want: Array<number | undefined> }> = [
  {
    name: 'the runtime-supplied usage_nano_cores is used as it is',
    entries: [criStats('c', { cpu: 1n, nanoCores: 42n }), criStats('c', { at: T0 + 5n * NS, cpu: 2n, nanoCores: 7n })],
    want: [42, 7],
  },
  {
    name: 'a counter that went backwards (a restarted container) restarts the sampling',
    entries: [criStats('c', { cpu: 10n * NS }), criStats('c', { at: T0 + 5n * NS, cpu: 1n * NS }), criStats('c', { at: T0 + 10n * NS, cpu: 2n * NS })],
    want: [undefined, undefined, 200_000_000],
  },
  {
    name: 'a sample less than the window after the last one reuses the last rate',
    entries: [criStats('c', { cpu: 0n }), criStats('c', { at: T0 + 2n * NS, cpu: 1n * NS }), criStats('c', { at: T0 + 2n * NS + 10_000_000n, cpu: 9n * NS })],
    want: [undefined, 500_000_000, 500_000_000],
  },
];
for (const c of cpuCases) {
  test(c.name, async () => {
    const p = new StatsProvider();
    const got: Array<number | undefined> = [];
    for (const e of c.entries) {
      const s = await p.summary(sources({ pods: [{ namespace: 'n', name: 'p', uid: 'u', startTime: '2024-01-01T00:00:00Z', sandboxId: 's', containers: [{ name: 'c', startTime: '2024-01-01T00:00:00Z', containerId: 'c' }] }], containerStats: [e] }));
      got.push(s.pods[0]!.containers[0]!.cpu!.usageNanoCores);
    }
    assert.deepEqual(got, c.want);
  });
}

test('missing CPU and memory sections read as zero, as upstream', async () => {
  const s = await new StatsProvider().summary(
    sources({
      pods: [{ namespace: 'n', name: 'p', uid: 'u', startTime: '2024-01-01T00:00:00Z', sandboxId: 's', containers: [{ name: 'c', startTime: '2024-01-01T00:00:00Z', containerId: 'c' }] }],
      containerStats: [criStats('c', { noCpu: true, noMemory: true })],
    }),
  );
  const c = s.pods[0]!.containers[0]!;
  assert.equal(c.cpu!.usageCoreNanoSeconds, 0);
  assert.equal(c.cpu!.usageNanoCores, 0);
  assert.equal(c.memory!.workingSetBytes, 0);
});

test('a pod netns path finds the interfaces of a process in that namespace', async () => {
  // This process's own network namespace stands in for a pod's.
  const s = await new StatsProvider().summary(
    sources({
      pods: [{ namespace: 'n', name: 'p', uid: 'u', startTime: '2024-01-01T00:00:00Z', sandboxId: 's', netnsPath: '/proc/self/ns/net', containers: [{ name: 'c', startTime: '2024-01-01T00:00:00Z', containerId: 'c' }] }],
      containerStats: [criStats('c')],
    }),
  );
  const want = networkStats(parseNetDev(await readFile('/proc/self/net/dev', 'utf8')), 'x');
  assert.deepEqual(
    (s.pods[0]!.network!.interfaces ?? []).map((i) => i.name),
    (want.interfaces ?? []).map((i) => i.name),
  );
});

/** A fake /proc + cgroup tree. */
async function fixture(name: string, files: Record<string, string>): Promise<string> {
  const root = path.join(dir, 'fx-' + name);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  }
  return root;
}

const MEMINFO = 'MemTotal:       1000 kB\nMemFree:         400 kB\nInactive(file):  100 kB\n';
const memCases: Array<{ name: string; files: Record<string, string>; want: Record<string, number | undefined> }> = [
  {
    name: 'cgroup v1: usage_in_bytes, total_inactive_file, total_rss, pgfault',
    files: {
      'proc/meminfo': MEMINFO,
      'cg/memory/memory.usage_in_bytes': '600000\n',
      'cg/memory/memory.stat': 'rss 1\npgfault 11\npgmajfault 2\ntotal_rss 5000\ntotal_inactive_file 100000\ntotal_pgfault 99\n',
    },
    want: { usageBytes: 600000, workingSetBytes: 500000, availableBytes: 1024000 - 500000, rssBytes: 5000, pageFaults: 11, majorPageFaults: 2 },
  },
  {
    name: 'cgroup v2 with memory.current: inactive_file and anon',
    files: {
      'proc/meminfo': MEMINFO,
      'cg/memory.current': '700000\n',
      'cg/memory.stat': 'anon 3000\ninactive_file 200000\npgfault 5\npgmajfault 1\n',
    },
    want: { usageBytes: 700000, workingSetBytes: 500000, availableBytes: 1024000 - 500000, rssBytes: 3000, pageFaults: 5, majorPageFaults: 1 },
  },
  {
    name: 'cgroup v2 root without memory.current: MemTotal - MemFree, meminfo inactive file',
    files: { 'proc/meminfo': MEMINFO },
    want: { usageBytes: 600 * 1024, workingSetBytes: 500 * 1024, availableBytes: 500 * 1024, rssBytes: undefined, pageFaults: undefined, majorPageFaults: undefined },
  },
  {
    name: 'working set never goes below zero',
    files: { 'proc/meminfo': MEMINFO, 'cg/memory/memory.usage_in_bytes': '10\n', 'cg/memory/memory.stat': 'total_inactive_file 50\n' },
    want: { usageBytes: 10, workingSetBytes: 0, availableBytes: 1024000, rssBytes: undefined, pageFaults: undefined, majorPageFaults: undefined },
  },
];
for (const c of memCases) {
  test(`node memory, ${c.name}`, async () => {
    const root = await fixture(c.name.replace(/\W+/g, '-'), c.files);
    const s = await new StatsProvider({ procRoot: path.join(root, 'proc'), cgroupRoot: path.join(root, 'cg') }).summary(sources());
    const { time, ...m } = s.node.memory!;
    assert.match(time, /Z$/);
    assert.deepEqual(m, Object.fromEntries(Object.entries(c.want).filter(([, v]) => v !== undefined)));
  });
}

test('missing /proc files leave their sections out instead of failing', async () => {
  const root = await fixture('empty', { 'proc/.keep': '' });
  const s = await new StatsProvider({ procRoot: path.join(root, 'proc'), cgroupRoot: path.join(root, 'cg') }).summary(sources());
  assert.equal(s.node.cpu, undefined);
  assert.equal(s.node.memory, undefined);
  assert.equal(s.node.network, undefined);
  assert.deepEqual(Object.keys(s.node.rlimit!), ['time']);
  assert.ok(s.node.fs);
});

test('container memory fields the CRI entry lacks come from its cgroup (v1 and v2)', async () => {
  const root = await fixture('cgmem', {
    'proc/meminfo': MEMINFO,
    'cg/memory/memory.usage_in_bytes': '1\n',
    'cg/memory/kubepods/pod1/c1/memory.usage_in_bytes': '9000\n',
    'cg/memory/kubepods/pod1/c1/memory.stat': 'total_rss 4000\ntotal_inactive_file 1000\npgfault 12\npgmajfault 3\n',
    'cg/kubepods/pod1/c2/memory.current': '8000\n',
    'cg/kubepods/pod1/c2/memory.stat': 'anon 2000\ninactive_file 500\npgfault 6\npgmajfault 0\n',
  });
  const s = await new StatsProvider({ procRoot: path.join(root, 'proc'), cgroupRoot: path.join(root, 'cg') }).summary(
    sources({
      pods: [
        {
          namespace: 'n', name: 'p', uid: 'u', startTime: '2024-01-01T00:00:00Z', sandboxId: 's',
          containers: [
            { name: 'c1', startTime: '2024-01-01T00:00:00Z', containerId: 'c1', cgroupPath: '/kubepods/pod1/c1' },
            { name: 'c2', startTime: '2024-01-01T00:00:00Z', containerId: 'c2', cgroupPath: '/kubepods/pod1/c2' },
          ],
        },
      ],
      containerStats: [criStats('c1', { ws: 7777 }), criStats('c2', { ws: 6666 })],
    }),
  );
  const [c1, c2] = s.pods[0]!.containers;
  assert.deepEqual({ ...c1!.memory, time: 0 }, { time: 0, workingSetBytes: 7777, usageBytes: 9000, rssBytes: 4000, pageFaults: 12, majorPageFaults: 3 });
  assert.deepEqual({ ...c2!.memory, time: 0 }, { time: 0, workingSetBytes: 6666, usageBytes: 8000, rssBytes: 2000, pageFaults: 6, majorPageFaults: 0 });
});

const netCases: Array<{ name: string; text: string; want: Array<{ name: string; rx: number; tx: number }>; def: string }> = [
  {
    name: 'lo, veth and docker interfaces are left out; eth0 is the default',
    text:
      'Inter-| Receive | Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n' +
      '    lo: 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0\n' +
      'vethab12: 2 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n' +
      'docker0: 3 0 0 0 0 0 0 0 3 0 0 0 0 0 0 0\n' +
      '  eth0: 4 0 0 0 0 0 0 0 5 0 0 0 0 0 0 0\n' +
      'bosun0: 6 0 0 0 0 0 0 0 7 0 0 0 0 0 0 0\n',
    want: [{ name: 'eth0', rx: 4, tx: 5 }, { name: 'bosun0', rx: 6, tx: 7 }],
    def: 'eth0',
  },
  {
    name: 'without eth0 the inlined default has an empty name',
    text: 'ens3: 10 0 1 0 0 0 0 0 20 0 2 0 0 0 0 0\n',
    want: [{ name: 'ens3', rx: 10, tx: 20 }],
    def: '',
  },
  { name: 'malformed lines are ignored', text: 'eth0: 1 2 3\nnot a line\n', want: [], def: '' },
];
for (const c of netCases) {
  test(`network: ${c.name}`, () => {
    const n = networkStats(parseNetDev(c.text), 't');
    assert.deepEqual((n.interfaces ?? []).map((i) => ({ name: i.name, rx: i.rxBytes, tx: i.txBytes })), c.want);
    assert.equal(n.name, c.def);
  });
}

const procStatCases: Array<{ text: string; want: bigint | undefined }> = [
  { text: 'cpu  100 2 30 9999 50 4 5 6 7 8\ncpu0 1 1 1 1\n', want: (100n + 2n + 30n + 4n + 5n + 6n) * 10_000_000n },
  { text: 'cpu  1 2 3\n', want: undefined },
  { text: 'intr 1 2\n', want: undefined },
];
for (const c of procStatCases) {
  test(`cpuFromProcStat(${JSON.stringify(c.text.split('\n')[0])})`, () => assert.equal(cpuFromProcStat(c.text), c.want));
}

test('diskUsage stops at its entry bound and says it is incomplete', async () => {
  const d = path.join(dir, 'many');
  await mkdir(d);
  for (let i = 0; i < 300; i++) await writeFile(path.join(d, `f${i}`), 'x');
  const full = await diskUsage(d);
  assert.deepEqual({ inodes: full.inodes, complete: full.complete }, { inodes: 301, complete: true });
  const capped = await diskUsage(d, { maxEntries: 100 });
  assert.equal(capped.complete, false);
  assert.ok(capped.inodes <= 101, `inodes ${capped.inodes}`);
  assert.deepEqual(await diskUsage(path.join(dir, 'absent')), { bytes: 0, inodes: 0, complete: true });
});

test('a du measurement is reused for DU_CACHE_MS, then taken again', async () => {
  let now = 1_700_000_000_000;
  const p = new StatsProvider({ now: () => now });
  const v = path.join(dir, 'cached-vol');
  await mkdir(v);
  await writeFile(path.join(v, 'a'), Buffer.alloc(8192, 1));
  const src = sources({
    pods: [{ namespace: 'n', name: 'p', uid: 'u', startTime: '2024-01-01T00:00:00Z', sandboxId: 's', volumes: [{ name: 'v', path: v }], containers: [{ name: 'c', startTime: '2024-01-01T00:00:00Z', containerId: 'c' }] }],
    containerStats: [criStats('c')],
  });
  const used = async () => (await p.summary(src)).pods[0]!.volume![0]!.usedBytes;
  const first = await used();
  await writeFile(path.join(v, 'b'), Buffer.alloc(65536, 1));
  now += DU_CACHE_MS - 1;
  assert.equal(await used(), first, 'reused within the period');
  now += 2;
  assert.equal(await used(), du(v), 'measured again after it');
});

test('CPU samples not refreshed for CPU_CACHE_TTL_MS are forgotten', async () => {
  let now = 1_700_000_000_000;
  const p = new StatsProvider({ now: () => now });
  const pod = (present: boolean): StatsSources['pods'] =>
    present ? [{ namespace: 'n', name: 'p', uid: 'u', startTime: '2024-01-01T00:00:00Z', sandboxId: 's', containers: [{ name: 'c', startTime: '2024-01-01T00:00:00Z', containerId: 'c' }] }] : [];
  await p.summary(sources({ pods: pod(true), containerStats: [criStats('c', { cpu: 0n })] }));
  now += CPU_CACHE_TTL_MS + 1;
  await p.summary(sources()); // the container is gone long enough: its sample is dropped
  const back = await p.summary(sources({ pods: pod(true), containerStats: [criStats('c', { at: T0 + 700n * NS, cpu: 7n * NS })] }));
  assert.equal(back.pods[0]!.containers[0]!.cpu!.usageNanoCores, undefined);
});

test('statsSummary uses one process-wide provider', async () => {
  const s = await statsSummary(sources({ nodeName: 'n2' }));
  assert.equal(s.node.nodeName, 'n2');
});
