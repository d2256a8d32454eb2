/**
 * End-to-end harness: starts `bin/bosun server` on a temporary data dir and a free port, waits
 * for the kubeconfig it prints, and runs the real kubectl against it. Every server started is
 * stopped when the test process ends.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import type { Pod } from '../../src/api/index.ts';
import { credsFromKubeconfig, request, type Creds } from './api.ts';
import { cleanupAgent, prepareAgent } from './node.ts';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bosunBin = path.join(root, 'bin/bosun');

/** kubectl binaries by minor version; '' is /usr/bin/kubectl. */
export function kubectlPath(minor: string): string {
  if (!minor) return '/usr/bin/kubectl';
  return `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`;
}

export const kubectlVersions = ['27', '33'].filter((v) => fs.existsSync(kubectlPath(v)));

export interface ServerHandle {
  dataDir: string;
  kubeconfig: string;
  url: string;
  port: number;
  proc: ChildProcess;
  output(): string;
  /** Stops the server; with an agent, then removes its pods and pod network unless keepPods. */
  stop(signal?: NodeJS.Signals, opts?: { keepPods?: boolean }): Promise<number | null>;
}

const running = new Set<ChildProcess>();
/** Data dirs this process made; removed when it ends (an agent's holds ~200 MB of images). */
const madeDirs = new Set<string>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
  // Never delete below a live mount (a pod kept running, containerd's snapshots): such a dir stays.
  let mounts = '';
  try {
    mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
  } catch {}
  for (const dir of madeDirs) {
    if (mounts.includes(` ${dir}/`) || mounts.includes(` ${dir} `)) continue;
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
});

/**
 * Starts `bin/bosun server`. Without `agent` the node agent is disabled; with it, the agent runs
 * on a free port, the busybox test image is placed in the agent's import folder first, start
 * waits for the agent's ready line, and stop() removes every pod container and the pod network
 * afterwards (pods outlive the server by design).
 */
export async function startServer(opts: { dataDir?: string; port?: number; args?: string[]; timeoutMs?: number; agent?: boolean; env?: Record<string, string> } = {}): Promise<ServerHandle> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-e2e-'));
  if (!opts.dataDir) madeDirs.add(dataDir);
  if (opts.agent) await prepareAgent(dataDir);
  const args = ['server', '--data-dir', dataDir, '--https-listen-port', String(opts.port ?? 0), ...(opts.agent ? ['--kubelet-port', '0'] : ['--disable-agent']), ...(opts.args ?? [])];
  const proc = spawn(bosunBin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  running.add(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => {
    running.delete(proc);
    resolve(code);
  }));
  const deadline = Date.now() + (opts.timeoutMs ?? (opts.agent ? 60_000 : 20_000));
  let url = '';
  while (Date.now() < deadline) {
    const m = /ready at (https:\/\/\S+)/.exec(out);
    if (m && out.includes('kubeconfig written to') && (!opts.agent || /agent: node \S+ ready/.test(out))) {
      url = m[1]!;
      break;
    }
    if (proc.exitCode !== null) throw new Error(`bosun server exited early (${proc.exitCode}):\n${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!url) {
    proc.kill('SIGKILL');
    throw new Error(`bosun server did not become ready:\n${out}`);
  }
  const kubeconfig = /kubeconfig written to (\S+)/.exec(out)![1]!;
  return {
    dataDir,
    kubeconfig,
    url,
    port: Number(new URL(url).port),
    proc,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM', stopOpts: { keepPods?: boolean } = {}) {
      if (proc.exitCode === null) proc.kill(signal);
      const code = await exited;
      if (opts.agent && !stopOpts.keepPods) await cleanupAgent(dataDir);
      return code;
    },
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl (minor version e.g. '33') with the server's kubeconfig. Never throws on exit codes. */
export function kubectl(server: { kubeconfig: string }, minor: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath(minor),
      ['--kubeconfig', server.kubeconfig, ...args],
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, KUBECONFIG: server.kubeconfig, HOME: path.dirname(server.kubeconfig), ...opts.env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) {
      child.stdin!.end(opts.input);
    }
  });
}

/** A pod as kubectl (newest version) reads it; undefined when it does not exist or kubectl fails. */
export async function getPod(server: { kubeconfig: string }, name: string, namespace = 'default'): Promise<Pod | undefined> {
  const r = await kubectl(server, kubectlVersions.at(-1)!, ['get', 'pod', name, '-n', namespace, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
}

/** Whether a pod's Ready condition is True. */
export const isPodReady = (p: Pod | undefined): boolean => !!p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** Like kubectl() but fails with the output when the exit code is not 0. */
export async function kubectlOk(server: { kubeconfig: string }, minor: string, args: string[], opts: { input?: string } = {}): Promise<string> {
  const r = await kubectl(server, minor, args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Starts a long-running kubectl (e.g. get -w) and collects its output. */
export function kubectlBackground(server: { kubeconfig: string }, minor: string, args: string[]) {
  const child = spawn(kubectlPath(minor), ['--kubeconfig', server.kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: path.dirname(server.kubeconfig) } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitFor(pred: (out: string) => boolean, timeoutMs = 10_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (pred(out)) return out;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`timed out waiting; output so far:\n${out}\nstderr:\n${err}`);
    },
    stop() {
      child.kill('SIGTERM');
    },
  };
}

/**
 * Polls `fn` every 100 ms until it returns something truthy, which it returns; fails after
 * `timeoutMs` naming what it waited for (and `detail()`, when given, e.g. a process's output).
 */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, opts: { timeoutMs?: number; detail?: () => string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${opts.detail ? `\n${opts.detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One server for a whole test file: started before its tests (`ready` receives it and the admin
 * credentials) and stopped after them.
 */
export function useServer(opts: Parameters<typeof startServer>[0], ready: (server: ServerHandle, creds: Creds) => void): void {
  let server: ServerHandle | undefined;
  before(async () => {
    server = await startServer(opts);
    ready(server, credsFromKubeconfig(server.kubeconfig));
  });
  after(async () => {
    // A server that died during the tests: show why (its tests failed with refused connections).
    if (server && server.proc.exitCode !== null) console.error(`bosun server exited early (${server.proc.exitCode}):\n${server.output().slice(-6000)}`);
    await server?.stop();
  });
}

/**
 * Waits until ServiceAccount `name` (default `default`) exists in `namespace`. The serviceaccount
 * controller creates `default` in every namespace shortly after the namespace, and pods are
 * refused until their service account exists (ServiceAccount admission), so a test creating pods
 * in a namespace it just made (or right after the server started) waits first, as upstream's e2e
 * framework does for every test namespace.
 */
export async function waitForServiceAccount(server: { kubeconfig: string }, namespace: string, opts: { name?: string; timeoutMs?: number } = {}): Promise<void> {
  const name = opts.name ?? 'default';
  const creds = credsFromKubeconfig(server.kubeconfig);
  await until(`serviceaccount ${namespace}/${name}`, async () => (await request(creds, 'GET', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}`)).status === 200, { timeoutMs: opts.timeoutMs ?? 60_000 });
}

/**
 * Creates ServiceAccount `name` (default `default`) in `namespace` unless it exists: for a server
 * run with --disable-controller-manager, where no controller makes it.
 */
export async function ensureServiceAccount(server: { kubeconfig: string }, namespace: string, name = 'default'): Promise<void> {
  const r = await request(credsFromKubeconfig(server.kubeconfig), 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, {
    body: JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } }),
  });
  if (r.status !== 201 && r.status !== 409) throw new Error(`creating serviceaccount ${namespace}/${name}: ${r.status} ${r.body}`);
}
