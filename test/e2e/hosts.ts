/**
 * Extra "hosts" on this machine for multi-node tests: each host is a network namespace
 * (`bosun-h1`, `bosun-h2`, …) joined by a veth pair to the bridge `bosunhosts0` in the root
 * namespace (10.44.0.1/24; host N is 10.44.0.1N, with no default route), running `bin/bosun agent`
 * inside it (`nsenter --net`, see startHost) with its own data dir — so its own containerd, CNI state, `bosun0`
 * bridge, iptables and routes, all per namespace — and `--node-ip 10.44.0.1N`. Each host joins as
 * a real node does: `bosun agent --server https://10.44.0.1:PORT --token <server/node-token>`
 * (TLS bootstrap: CA pinned by the token, client and serving certificates through CSRs).
 *
 * Use (under `flock /tmp/bosun-agent.lock`):
 *   await removeHosts();                       // leftovers of a crashed run
 *   await createHostsBridge();                 // before the server: it binds 10.44.0.1
 *   const server = await startServer({ args: ['--bind-address', HOSTS_GATEWAY] });   // url https://10.44.0.1:PORT
 *   const h1 = await startHost(server, 1);     // node `bosun-h1`, ready
 *   …
 *   await stopHosts([h1, …]); await server.stop(); await removeHosts();
 * Everything is removed by `removeHosts()` even after failures: agents, their containerd and
 * pods, the namespaces (with their bridges, rules and routes), the veths and the bridge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { killPods, unmountUnder } from '../../src/kubelet/containerd/index.ts';
import { run, runOk } from '../../src/network/exec.ts';
import { bosunBin } from './harness.ts';
import { prepareAgent } from './node.ts';

export const HOSTS_BRIDGE = 'bosunhosts0';
export const HOSTS_GATEWAY = '10.44.0.1';
export const HOSTS_PREFIX = 24;
/** Hosts 1..MAX_HOSTS (10.44.0.11 … 10.44.0.19). */
export const MAX_HOSTS = 9;

export interface Host {
  index: number;
  /** Namespace and node name, `bosun-hN`. */
  name: string;
  ip: string;
  dataDir: string;
  proc: ChildProcess;
  output(): string;
}

const running = new Map<string, Host>();
process.on('exit', () => {
  for (const h of running.values()) h.proc.kill('SIGKILL');
});

export const hostName = (i: number) => `bosun-h${i}`;
export const hostIP = (i: number) => `10.44.0.1${i}`;
/** The root namespace's end of host i's veth pair. */
const rootEnd = (i: number) => `bhv${i}`;

/** The root-namespace bridge the hosts hang on, with the address the API server binds. Idempotent. */
export async function createHostsBridge(): Promise<void> {
  if ((await run('ip', ['link', 'show', 'dev', HOSTS_BRIDGE])).code !== 0) await runOk('ip', ['link', 'add', HOSTS_BRIDGE, 'type', 'bridge']);
  const addrs = await runOk('ip', ['-o', '-4', 'addr', 'show', 'dev', HOSTS_BRIDGE]);
  if (!addrs.includes(` ${HOSTS_GATEWAY}/${HOSTS_PREFIX} `)) await runOk('ip', ['addr', 'add', `${HOSTS_GATEWAY}/${HOSTS_PREFIX}`, 'dev', HOSTS_BRIDGE]);
  await runOk('ip', ['link', 'set', HOSTS_BRIDGE, 'up']);
}

/** A namespace joined to the bridge: eth0 = 10.44.0.1N/24, lo up, no default route. */
async function createNamespace(i: number): Promise<void> {
  const ns = hostName(i);
  await runOk('ip', ['netns', 'add', ns]);
  await runOk('ip', ['link', 'add', rootEnd(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await runOk('ip', ['link', 'set', rootEnd(i), 'master', HOSTS_BRIDGE, 'up']);
  await runOk('ip', ['-n', ns, 'addr', 'add', `${hostIP(i)}/${HOSTS_PREFIX}`, 'dev', 'eth0']);
  await runOk('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/** The server's node token (`<data-dir>/server/node-token`), what a joining agent passes as --token. */
export async function nodeToken(serverDataDir: string): Promise<string> {
  return (await fs.readFile(path.join(serverDataDir, 'server', 'node-token'), 'utf8')).trim();
}

/** Makes host `i` (1..9) and starts its agent; resolves once the agent reports its node ready. */
export async function startHost(server: { dataDir: string; url: string }, i: number, opts: { timeoutMs?: number; args?: string[] } = {}): Promise<Host> {
  if (!(i >= 1 && i <= MAX_HOSTS)) throw new RangeError(`host index ${i} not in 1..${MAX_HOSTS}`);
  const name = hostName(i);
  const ip = hostIP(i);
  await createNamespace(i);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `bosun-${name}-`));
  const token = await nodeToken(server.dataDir);
  await prepareAgent(dataDir);
  return runInHost({ index: i, name, ip, dataDir }, name, ['agent', '--server', server.url, '--token', token, '--data-dir', dataDir, '--node-name', name, '--node-ip', ip, ...(opts.args ?? [])], {
    what: 'agent',
    ready: new RegExp(`agent: node ${name} ready`),
    timeoutMs: opts.timeoutMs,
  });
}

/**
 * Spawns `bin/bosun ARGS` in host `h`'s namespace — `nsenter --net`, not `ip netns exec`: the
 * latter remounts /sys for the namespace, which hides the cgroup mounts under /sys/fs/cgroup that
 * runc needs ("no cgroup mount found in mountinfo") — keeps it in `running` under `key` (so
 * removeHosts() ends it), and resolves once its output matches `ready`.
 */
async function runInHost(h: Omit<Host, 'proc' | 'output'>, key: string, args: string[], opts: { what: string; ready: RegExp; timeoutMs?: number; detached?: boolean }): Promise<Host> {
  const proc = spawn('nsenter', [`--net=/var/run/netns/${h.name}`, '--', bosunBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const host: Host = { ...h, proc, output: () => out };
  running.set(key, host);
  proc.on('exit', () => running.delete(key));
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  while (!opts.ready.test(out)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${opts.what} of ${h.name} exited early (${proc.exitCode ?? proc.signalCode}):\n${out}`);
    if (Date.now() > deadline) throw new Error(`${opts.what} of ${h.name} did not become ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return host;
}

/** A `bosun server` running in host i's namespace (see startServerHost). */
export interface ServerHost extends Host {
  /** https://10.44.0.1N:6443 */
  url: string;
  /** The admin kubeconfig (server https://10.44.0.1N:6443). */
  kubeconfig: string;
}

/**
 * Makes host `i` (1..9) and starts `bosun server` in it on 10.44.0.1N:6443 (its embedded etcd, if
 * any, on that address too), with `args` (e.g. `--cluster-init`, or `--server URL --token T`);
 * resolves once the API server is ready. The server runs without a node agent unless `args` ask
 * otherwise. Killed with the hosts by removeHosts().
 */
export async function startServerHost(i: number, args: readonly string[], opts: { timeoutMs?: number; dataDir?: string } = {}): Promise<ServerHost> {
  if (!(i >= 1 && i <= MAX_HOSTS)) throw new RangeError(`host index ${i} not in 1..${MAX_HOSTS}`);
  const name = hostName(i);
  const ip = hostIP(i);
  if (!existsSync(`/var/run/netns/${name}`)) await createNamespace(i);
  const dataDir = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), `bosun-${name}-`)));
  const kubeconfig = path.join(dataDir, 'kubeconfig.yaml');
  // Its own process group, so that a test can kill -9 the server with everything it started.
  const host = await runInHost({ index: i, name, ip, dataDir }, `${name}-server`, ['server', '--data-dir', dataDir, '--node-name', name, '--bind-address', ip, '--advertise-address', ip, '--disable-agent', ...args], {
    what: 'server',
    ready: /API server ready at/,
    timeoutMs: opts.timeoutMs,
    detached: true,
  });
  return { ...host, url: `https://${ip}:6443`, kubeconfig };
}

/** Runs a command inside host i's network namespace (e.g. kubectl through the agent's load balancer). */
export function inHost(i: number, cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('nsenter', [`--net=/var/run/netns/${hostName(i)}`, '--', cmd, ...args]);
}

/** Stops the agents (SIGTERM, then SIGKILL after 15 s). */
export async function stopHosts(hosts: readonly Host[]): Promise<void> {
  await Promise.all(
    hosts.map(async (h) => {
      if (h.proc.exitCode !== null || h.proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => h.proc.once('exit', () => resolve()));
      h.proc.kill('SIGTERM');
      const timer = setTimeout(() => h.proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/**
 * Removes every host (1..9) whether or not this process made it: agents still running, their
 * containerd and pods, the namespaces (and with them each host's bridge, iptables rules and
 * routes), the veths, the bridge, and the hosts' data dirs. Safe to call any time, repeatedly.
 */
export async function removeHosts(): Promise<void> {
  await stopHosts([...running.values()]);
  const dirs = (await fs.readdir(os.tmpdir()).catch(() => [] as string[])).filter((d) => /^bosun-bosun-h\d-/.test(d)).map((d) => path.join(os.tmpdir(), d));
  for (const dir of dirs) {
    await killPods(path.join(dir, 'agent', 'containerd')).catch((err: unknown) => console.error(`hosts cleanup: ${(err as Error).message}`));
    await unmountUnder([dir], (msg) => console.error(`hosts cleanup: ${msg}`));
  }
  for (let i = 1; i <= MAX_HOSTS; i++) {
    const ns = hostName(i);
    if (existsSync(`/var/run/netns/${ns}`)) {
      // Processes still inside (a stray agent or containerd) keep the namespace alive: end them.
      const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {}
      }
      await run('ip', ['netns', 'del', ns]);
    }
    if ((await run('ip', ['link', 'show', 'dev', rootEnd(i)])).code === 0) await run('ip', ['link', 'del', 'dev', rootEnd(i)]);
  }
  if ((await run('ip', ['link', 'show', 'dev', HOSTS_BRIDGE])).code === 0) await run('ip', ['link', 'del', 'dev', HOSTS_BRIDGE]);
  for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
}
