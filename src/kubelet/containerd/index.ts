/**
 * A private containerd for the node agent: start it with a generated config, stop it, and clean
 * up after it (`killPods`), plus image import through `ctr`.
 *
 * Lifecycle, as k3s runs its containerd: the daemon is our child process, but its shims
 * (containerd-shim-runc-v2, one per pod, each in its own process group) and the containers keep
 * running when it stops, so a restarted agent adopts them. An agent that died without stopping
 * its containerd leaves it running; the next `startContainerd` on the same dir finds it by its
 * pid file and command line and stops it first (it would otherwise hold the metadata lock).
 * Pods are only ever torn down by the kubelet through the CRI, or by `killPods`.
 */

import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { containerdConfig, containerdPaths, CRI_NAMESPACE, SHORT_SOCKET_ROOT, type RegistriesConfig } from './config.ts';

export {
  containerdPaths,
  containerdSocket,
  containerdConfig,
  CRI_NAMESPACE,
  DISABLED_PLUGINS,
  MAX_SOCKET_PATH,
  SHORT_SOCKET_ROOT,
} from './config.ts';
export type { ContainerdPaths, ConfigOptions, RegistriesConfig } from './config.ts';

const run = promisify(execFile);

/** How long `stop` waits after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 10_000;
/** How long `startContainerd` waits for the socket to accept connections. */
export const START_TIMEOUT_MS = 30_000;
/** How long `startContainerd` looks for the streaming server's port once the socket is up. */
const STREAM_DISCOVERY_MS = 1_000;

export interface ContainerdOptions {
  /** Directory for all of this containerd's files, e.g. <data-dir>/agent/containerd. */
  dir: string;
  /** CNI plugin binaries (default /usr/lib/cni). */
  cniBinDir?: string;
  cniConfDir: string;
  /** Reference of the (locally imported) pause image. */
  sandboxImage: string;
  log: (msg: string) => void;
  /** containerd binary (default "containerd" on PATH). */
  binary?: string;
  /** runc binary (default /usr/sbin/runc). */
  runc?: string;
  /** k3s-style registries.yaml (mirrors, configs); ignored when absent. */
  registriesFile?: string;
}

export interface Containerd {
  /** Absolute path of the gRPC (CRI) socket. */
  socket: string;
  pid: number;
  /** host:port of the CRI streaming server (exec/attach/port-forward), if it was found. */
  streamAddress?: string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the daemon exited. Idempotent. Pods keep running. */
  stop(): Promise<void>;
  /** Resolves with the exit code (null when killed by a signal) whenever the daemon exits. */
  exited: Promise<number | null>;
}

/**
 * Writes <dir>/config.toml and starts containerd; resolves once its socket accepts connections
 * (typically 0.1–0.5 s). Its stdout and stderr are appended to <dir>/containerd.log.
 * Rejects (with the log's tail) if it exits or the socket does not come up within 30 s.
 * Aborting `signal` stops it.
 */
export async function startContainerd(opts: ContainerdOptions, signal: AbortSignal): Promise<Containerd> {
  signal.throwIfAborted();
  const paths = containerdPaths(opts.dir);
  const binary = opts.binary ?? 'containerd';
  await Promise.all([paths.root, paths.state, paths.temp, path.dirname(paths.socket)].map((d) => mkdir(d, { recursive: true, mode: 0o711 })));
  await stopStale(paths.pidFile, paths.config, opts.log);
  await rm(paths.socket, { force: true });
  await writeFile(
    paths.config,
    containerdConfig(paths, {
      cniBinDir: opts.cniBinDir ?? '/usr/lib/cni',
      cniConfDir: opts.cniConfDir,
      sandboxImage: opts.sandboxImage,
      runc: opts.runc ?? '/usr/sbin/runc',
      registries: await readRegistries(opts.registriesFile),
    }),
  );

  const logFd = openSync(paths.log, 'a');
  // --address repeats the config's socket so that the daemon's command line names it (killPods, stopStale).
  const child = spawn(binary, ['--config', paths.config, '--address', paths.socket], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let stopRequested = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (!stopRequested) opts.log(`containerd (pid ${child.pid}) exited unexpectedly: ${code ?? sig}`);
      // Only our own pid file: a newer containerd on this dir may have replaced it.
      void readFile(paths.pidFile, 'utf8')
        .then((text) => (Number(text.trim()) === child.pid ? rm(paths.pidFile, { force: true }) : undefined))
        .catch(() => {})
        .finally(() => resolve(code));
    }),
  );
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot run containerd (${binary}): ${err.message}`, { cause: err }))),
  );
  spawnError.catch(() => {});
  const pid = await Promise.race([new Promise<number>((resolve) => child.once('spawn', () => resolve(child.pid!))), spawnError]);
  await writeFile(paths.pidFile, `${pid}\n`);
  opts.log(`containerd started (pid ${pid}, socket ${paths.socket}, log ${paths.log})`);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      signal.removeEventListener('abort', onAbort);
      if (child.exitCode !== null || child.signalCode !== null) return void (await exited);
      stopRequested = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
      opts.log(`containerd (pid ${child.pid}) stopped`);
    })());
  function onAbort() {
    void stop();
  }
  signal.addEventListener('abort', onAbort, { once: true });

  const end = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (await canConnect(paths.socket)) break;
    const gone = child.exitCode !== null || child.signalCode !== null;
    if (gone || Date.now() > end || signal.aborted) {
      await stop();
      const why = gone ? `exited (${child.exitCode ?? child.signalCode})` : signal.aborted ? 'was aborted' : 'did not open its socket in time';
      throw new Error(`containerd ${why}; last log lines:\n${await tail(paths.log, 20)}`);
    }
    await sleep(20);
  }
  const streamAddress = await findStreamAddress(pid);
  return { socket: paths.socket, pid, streamAddress, stop, exited };
}

/**
 * Imports OCI/Docker image archives into the CRI namespace (`ctr -n k8s.io images import`),
 * one after the other. Rejects naming the file and ctr's output on the first failure.
 */
export async function importImages(socket: string, files: string[], opts: { ctr?: string } = {}): Promise<void> {
  for (const file of files) {
    try {
      await run(opts.ctr ?? 'ctr', ['--address', socket, '-n', CRI_NAMESPACE, 'images', 'import', file], { timeout: 300_000 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; code?: unknown; message: string };
      const out = (e.stderr || e.stdout || e.message).trim();
      throw new Error(`importing image archive ${file} into containerd at ${socket} failed (${e.code}): ${out}`, { cause: err });
    }
  }
}

/**
 * Kills everything a containerd left running and unmounts what it mounted, for tests and for
 * uninstall: the daemon itself if still running (its command line carries `--address <socket>`),
 * the containers of every shim whose command line carries `-address <socket>` (runc delete
 * --force, in the runc root named by the shim's bundle), the shims, and every mount under the
 * containerd's state dir (rootfs overlays, sandbox shm, pod netns) — and, given the dir, under it,
 * and any runc container still in its runc root. Shim sockets under /run/containerd/s go too.
 * Files stay (remove the dir afterwards). Safe to call repeatedly and when nothing runs.
 * Not done: CNI teardown (IPAM leases in the CNI plugin's data dir stay) and pod cgroup parents.
 */
export async function killPods(socketOrDir: string, opts: { log?: (msg: string) => void; runc?: string } = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  const runc = opts.runc ?? '/usr/sbin/runc';
  const isDir = await stat(socketOrDir).then((s) => s.isDirectory(), () => !/\.sock$/.test(socketOrDir));
  const paths = isDir ? containerdPaths(socketOrDir) : undefined;
  const socket = paths?.socket ?? socketOrDir.replace(/^unix:\/\//, '');

  const procs = await processesFor(socket);
  await Promise.all(procs.filter((p) => p.kind === 'daemon').map((p) => (log(`killing containerd ${p.pid}`), killAndWait(p.pid, 2_000))));

  // Shim cwd = its pod's bundle, <state>/io.containerd.runtime.v2.task/<namespace>/<id>.
  const states = new Set<string>(paths ? [paths.state] : []);
  const runcRoots = new Set<string>(paths ? [path.join(paths.runcRoot, CRI_NAMESPACE)] : []);
  const shims = procs.filter((p) => p.kind === 'shim');
  for (const p of shims) {
    const bundle = await readlink(`/proc/${p.pid}/cwd`).catch(() => undefined);
    if (!bundle) continue;
    const taskDir = path.dirname(path.dirname(bundle));
    if (path.basename(taskDir) === 'io.containerd.runtime.v2.task') states.add(path.dirname(taskDir));
    const options = await readFile(path.join(bundle, 'options.json'), 'utf8').then(JSON.parse, () => ({}));
    runcRoots.add(path.join(options.root || '/run/containerd/runc', p.namespace ?? CRI_NAMESPACE));
  }
  await Promise.all(
    [...runcRoots].map(async (root) => {
      const ids = await readdir(root).catch(() => [] as string[]);
      await Promise.all(
        ids.map((id) => {
          log(`deleting container ${id}`);
          return run(runc, ['--root', root, 'delete', '--force', id]).catch((err) => log(`runc delete ${id}: ${err.stderr || err.message}`));
        }),
      );
    }),
  );
  await Promise.all(shims.map((p) => (log(`killing shim ${p.pid}`), killAndWait(p.pid, 0))));

  for (const state of states) {
    const tasks = path.join(state, 'io.containerd.runtime.v2.task');
    for (const ns of await readdir(tasks).catch(() => [] as string[])) {
      for (const id of await readdir(path.join(tasks, ns)).catch(() => [] as string[])) {
        const address = await readFile(path.join(tasks, ns, id, 'address'), 'utf8').catch(() => '');
        const sock = address.trim().replace(/^unix:\/\//, '');
        if (sock.startsWith('/run/containerd/s/')) await rm(sock, { force: true });
      }
    }
  }
  await unmountUnder([...states, ...(paths ? [paths.dir] : [])], log);
  if (paths && path.dirname(paths.socket).startsWith(SHORT_SOCKET_ROOT + '/')) {
    await rm(path.dirname(paths.socket), { recursive: true, force: true });
    await rmdir(SHORT_SOCKET_ROOT).catch(() => {}); // only if no other instance uses it
  }
}

// ---------------------------------------------------------------- helpers

async function readRegistries(file: string | undefined): Promise<RegistriesConfig | undefined> {
  if (!file) return undefined;
  const text = await readFile(file, 'utf8').catch((err) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  try {
    // Loaded only when there is a file: the YAML parser costs the agent several MB.
    const { parse: parseYaml } = await import('yaml');
    return (parseYaml(text) ?? {}) as RegistriesConfig;
  } catch (err) {
    throw new Error(`cannot parse registries file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function tail(file: string, lines: number): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Running and not a zombie (a killed orphan may wait a while for its new parent to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** SIGTERM (or SIGKILL when graceMs is 0), then SIGKILL after graceMs; waits until gone (max 5 s more). */
async function killAndWait(pid: number, graceMs: number): Promise<void> {
  const signalSafe = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {}
  };
  signalSafe(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  const end = Date.now() + graceMs;
  while (alive(pid) && Date.now() < end) await sleep(20);
  if (!alive(pid)) return;
  signalSafe('SIGKILL');
  const hard = Date.now() + 5_000;
  while (alive(pid) && Date.now() < hard) await sleep(20);
}

async function cmdline(pid: number | string): Promise<string[]> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return raw.split('\0').filter(Boolean);
}

/** A containerd left by a previous agent on this dir (pid file + its config on the command line). */
async function stopStale(pidFile: string, config: string, log: (msg: string) => void): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  const argv = await cmdline(pid);
  if (path.basename(argv[0] ?? '') !== 'containerd' || !argv.includes(config)) return;
  log(`stopping containerd ${pid} left running by a previous agent`);
  await killAndWait(pid, STOP_GRACE_MS);
}

interface Proc {
  pid: number;
  kind: 'daemon' | 'shim';
  namespace?: string;
}

/** The daemon (`--address S`) and shims (`-address S`) serving socket S. */
async function processesFor(socket: string): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await cmdline(entry);
    const exe = path.basename(argv[0] ?? '');
    const flag = (name: string) => {
      const i = argv.indexOf(name);
      return i >= 0 ? argv[i + 1] : undefined;
    };
    if (exe.startsWith('containerd-shim') && flag('-address') === socket) {
      out.push({ pid: Number(entry), kind: 'shim', namespace: flag('-namespace') });
    } else if (exe === 'containerd' && flag('--address') === socket) {
      out.push({ pid: Number(entry), kind: 'daemon' });
    }
  }
  return out;
}

/**
 * Unmounts (lazily) everything mounted at or below any of `dirs`, deepest first: also what a node
 * agent's data dir keeps mounted once its pods are killed without being torn down (their volumes).
 */
export async function unmountUnder(dirs: string[], log: (msg: string) => void = () => {}): Promise<void> {
  for (const mp of await mountsUnder(dirs)) {
    await run('umount', ['-l', mp]).catch((err) => log(`umount ${mp}: ${err.stderr || err.message}`));
  }
}

/** Mount points at or below any of `dirs`, deepest first (from /proc/self/mountinfo). */
async function mountsUnder(dirs: string[]): Promise<string[]> {
  if (!dirs.length) return [];
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const points = new Set<string>();
  for (const line of info.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = unescape(mp);
    if (dirs.some((d) => p === d || p.startsWith(d + '/'))) points.add(p);
  }
  return [...points].sort((a, b) => b.length - a.length);
}

/**
 * The streaming server's host:port: containerd's only TCP listener on 127.0.0.1, found by
 * matching the socket inodes of its fds against /proc/net/tcp. Undefined if not found soon.
 */
async function findStreamAddress(pid: number): Promise<string | undefined> {
  const end = Date.now() + STREAM_DISCOVERY_MS;
  do {
    const inodes = new Set<string>();
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
      if (m) inodes.add(m[1]!);
    }
    const tcp = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
    for (const line of tcp.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] local address (hex ip:port), f[3] state (0A = LISTEN), f[9] inode
      if (f[3] !== '0A' || !inodes.has(f[9] ?? '')) continue;
      const [ipHex, portHex] = f[1]!.split(':');
      if (ipHex !== '0100007F') continue;
      return `127.0.0.1:${parseInt(portHex!, 16)}`;
    }
    await sleep(20);
  } while (Date.now() < end);
  return undefined;
}
