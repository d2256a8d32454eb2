/**
 * Scale on one machine (issue 18), measured as a user would: one `bosun server` with every
 * controller, the scheduler and `--virtual-nodes N`. Prints, for each size: the time until all N
 * simulated nodes are Ready (from the server's "ready"), until a Deployment of R replicas is all
 * Running, until it is deleted and its pods are gone, and the server's RSS idle, with the nodes,
 * and with the pods. A second round grows to P pods in Deployments of R (one after another) for
 * the RSS at that size.
 *
 * Progress is followed cheaply, so that the bench is not the load: nodes with a watch, pods
 * through their Deployments' status (available replicas) and, while deleting, a one-item page
 * of the namespace's pods (its remaining count); the pods are checked Running page by page at
 * the end. Every phase has a deadline; a missed one is printed as FAILED with how far it got.
 * `BOSUN_SCALE=nodes:replicas:pods[,…]` chooses the sizes (default 1000:10000:10000,5000:10000:50000);
 * `BOSUN_SCALE_PROFILE=dir` runs the server with `--cpu-prof --cpu-prof-dir dir`;
 * `BOSUN_SCALE_LOG=file` keeps the server's output in `file.<nodes>`.
 */
import fs from 'node:fs';
import type http2 from 'node:http2';
import { startServer, type ServerHandle } from '../test/e2e/harness.ts';
import { credsFromKubeconfig, jsonLines } from '../test/e2e/api.ts';
import { h2Send, h2Session } from './http.ts';
import { machineSpeedMs } from './calibrate.ts';
import type { Deployment, Node, Pod } from '../src/api/index.ts';

export interface ScaleSize {
  nodes: number;
  replicas: number;
  pods: number;
}

export function parseSizes(spec: string | undefined): ScaleSize[] {
  const def = '1000:10000:10000,5000:10000:50000';
  return (spec || def).split(',').map((s) => {
    const [nodes, replicas, pods] = s.split(':').map(Number);
    if (!nodes || !replicas) throw new Error(`BOSUN_SCALE: bad size ${JSON.stringify(s)} (nodes:replicas:pods)`);
    return { nodes, replicas, pods: Math.max(pods || replicas, replicas) };
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Follows a watch stream's objects into `seen` (name → object), reconnecting from the last resourceVersion. */
class Follower<T extends { metadata: { name?: string; namespace?: string; resourceVersion?: string } }> {
  readonly seen = new Map<string, T>();
  #rv = '';
  #closed = false;
  #req: http2.ClientHttp2Stream | null = null;
  #onChange: () => void = () => {};
  /** Called with each object the watch reports changed or added, and its previous state. */
  onObject: (obj: T, prev: T | undefined) => void = () => {};

  #session: () => http2.ClientHttp2Session;
  #path: string;

  constructor(session: () => http2.ClientHttp2Session, path: string) {
    this.#session = session;
    this.#path = path;
    this.#open();
  }

  #open(): void {
    if (this.#closed) return;
    const sep = this.#path.includes('?') ? '&' : '?';
    // Without a version the watch starts with every object again: forget what was seen.
    if (!this.#rv) this.seen.clear();
    const req = this.#session().request({ ':method': 'GET', ':path': `${this.#path}${sep}watch=true&allowWatchBookmarks=true${this.#rv ? `&resourceVersion=${this.#rv}` : ''}`, accept: 'application/json' });
    this.#req = req;
    const split = jsonLines<{ type: string; object: T }>((ev) => {
      if (ev.type === 'ERROR') {
        this.#rv = '';
        return;
      }
      this.#rv = ev.object.metadata.resourceVersion ?? this.#rv;
      if (ev.type === 'BOOKMARK') return;
      const key = `${ev.object.metadata.namespace ?? ''}/${ev.object.metadata.name}`;
      if (ev.type === 'DELETED') this.seen.delete(key);
      else {
        const prev = this.seen.get(key);
        this.seen.set(key, ev.object);
        this.onObject(ev.object, prev);
      }
    });
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      split(d);
      this.#onChange();
    });
    const again = () => {
      if (this.#req === req && !this.#closed) setTimeout(() => this.#open(), 200);
    };
    req.on('end', again);
    req.on('error', again);
  }

  /** Resolves when `cond` holds (checked after each batch of events, and every second), or at the deadline with false. */
  until(cond: () => boolean, deadlineMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearInterval(tick);
        clearTimeout(stop);
        this.#onChange = () => {};
        resolve(v);
      };
      const check = () => {
        if (cond()) done(true);
      };
      const tick = setInterval(check, 1000);
      const stop = setTimeout(() => done(false), Math.max(0, deadlineMs - Date.now()));
      this.#onChange = check;
      check();
    });
  }

  close(): void {
    this.#closed = true;
    this.#req?.close();
  }
}

export const nodeReady = (n: Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const podRunning = (p: Pod) => !!p.spec?.nodeName && p.status?.phase === 'Running' && !p.metadata.deletionTimestamp;

function deployment(name: string, replicas: number): string {
  return JSON.stringify({
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
    },
  });
}

export async function benchScale(record: (name: string, value: string) => void, sizes = parseSizes(process.env['BOSUN_SCALE'])): Promise<void> {
  for (const size of sizes) await benchOneSize(record, size);
}

async function benchOneSize(record: (name: string, value: string) => void, { nodes, replicas, pods }: ScaleSize): Promise<void> {
  const progress = (msg: string) => process.stderr.write(`  [scale ${nodes}] ${msg}\n`);
  const profileDir = process.env['BOSUN_SCALE_PROFILE'];
  const prefix = `${nodes} nodes:`;
  record(`${prefix} machine speed before (a fixed JavaScript loop; lower is faster)`, `${machineSpeedMs()} ms`);
  const s: ServerHandle = await startServer({ args: ['--virtual-nodes', String(nodes), '--disable', 'metrics-server'], timeoutMs: 60_000, ...(profileDir ? { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } } : {}) });
  const pid = s.proc.pid!;
  const creds = credsFromKubeconfig(s.kubeconfig);
  let session = h2Session(creds);
  const sess = () => {
    if (session.closed || session.destroyed) session = h2Session(creds);
    return session;
  };
  const send = async (method: string, path: string, body?: string, headers?: Record<string, string>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await h2Send(sess(), method, path, body, headers);
      } catch (err) {
        if (attempt >= 5) throw err;
        session.destroy();
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const nodeWatch = new Follower<Node>(sess, '/api/v1/nodes?labelSelector=node.bosun.dev%2Fvirtual%3Dtrue');
  /** Available replicas of the bench's Deployments, and pods left in the namespace, polled. */
  const polled = { available: 0, podsLeft: -1 };
  const getJson = async <T>(path: string): Promise<T> => {
    const r = await send('GET', path);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as T;
  };
  const pollAvailable = async () => {
    const list = await getJson<{ items: Deployment[] }>('/apis/apps/v1/namespaces/bench-scale/deployments');
    polled.available = list.items.reduce((n, d) => n + (d.status?.availableReplicas ?? 0), 0);
  };
  const pollLeft = async () => {
    const page = await getJson<{ items: Pod[]; metadata: { remainingItemCount?: number } }>('/api/v1/namespaces/bench-scale/pods?limit=1');
    polled.podsLeft = page.items.length + (page.metadata.remainingItemCount ?? 0);
  };
  /** Resolves true once `cond` holds after a poll (every 500 ms), false at the deadline. */
  const poll = async (fn: () => Promise<void>, cond: () => boolean, deadline: number): Promise<boolean> => {
    for (;;) {
      await fn();
      if (cond()) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const runningPods = async (): Promise<number> => {
    let running = 0;
    let cont = '';
    do {
      const page = await getJson<{ items: Pod[]; metadata: { continue?: string } }>(`/api/v1/namespaces/bench-scale/pods?limit=1000${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      running += page.items.filter(podRunning).length;
      cont = page.metadata.continue ?? '';
    } while (cont);
    return running;
  };
  const count = <T>(m: Map<string, T>, f: (x: T) => boolean) => {
    let n = 0;
    for (const x of m.values()) if (f(x)) n++;
    return n;
  };
  const phase = async (name: string, wait: (deadline: number) => Promise<boolean>, limitMs: number, report: () => string): Promise<number | undefined> => {
    const t0 = Date.now();
    const timer = setInterval(() => progress(`${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s, ${report()}`), 10_000);
    const ok = await wait(t0 + limitMs);
    clearInterval(timer);
    const secs = (Date.now() - t0) / 1000;
    if (!ok) {
      record(`${prefix} ${name}`, `FAILED after ${secs.toFixed(0)} s: ${report()}`);
      return undefined;
    }
    return secs;
  };
  try {
    const readySecs = await phase(`${nodes} simulated nodes Ready`, (deadline) => nodeWatch.until(() => count(nodeWatch.seen, nodeReady) >= nodes, deadline), 180_000, () => `${count(nodeWatch.seen, nodeReady)}/${nodes} Ready`);
    if (readySecs === undefined) return;
    record(`${prefix} ${nodes} simulated nodes Ready after the server's ready`, `${readySecs.toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 3000));
    record(`${prefix} server RSS / CPU with the nodes`, `${rssMb(pid).toFixed(0)} MB / ${cpuSeconds(pid).toFixed(1)} s`);
    // A stall shows as Ready nodes turning NotReady (their leases or status not written in time).
    let notReady = 0;
    nodeWatch.onObject = (n, prev) => {
      if (prev && nodeReady(prev) && !nodeReady(n)) notReady++;
    };
    const stalls = (during: string) => {
      if (notReady) record(`${prefix} Ready nodes turned NotReady ${during}`, String(notReady));
      notReady = 0;
    };
    await send('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: 'bench-scale' } }));

    let cpu0 = cpuSeconds(pid);
    let r = await send('POST', '/apis/apps/v1/namespaces/bench-scale/deployments', deployment('big', replicas));
    if (r.status !== 201) throw new Error(`create deployment: ${r.status} ${r.body}`);
    const upSecs = await phase(`Deployment of ${replicas} Running`, (deadline) => poll(pollAvailable, () => polled.available >= replicas, deadline), 600_000, () => `${polled.available} available`);
    if (upSecs === undefined) return;
    const running = await runningPods();
    if (running !== replicas) record(`${prefix} Deployment of ${replicas} Running`, `FAILED: available, but ${running} pods Running`);
    const d = JSON.parse((await send('GET', '/apis/apps/v1/namespaces/bench-scale/deployments/big')).body) as Deployment;
    record(`${prefix} Deployment of ${replicas} replicas until all Running`, `${upSecs.toFixed(1)} s (${(replicas / upSecs).toFixed(0)} pods/s; server CPU ${(cpuSeconds(pid) - cpu0).toFixed(1)} s; status: ${d.status?.availableReplicas ?? 0} available)`);
    record(`${prefix} server RSS with ${replicas} pods`, `${rssMb(pid).toFixed(0)} MB`);
    stalls(`during the rollout of ${replicas}`);

    cpu0 = cpuSeconds(pid);
    r = await send('DELETE', '/apis/apps/v1/namespaces/bench-scale/deployments/big?propagationPolicy=Background');
    if (r.status !== 200 && r.status !== 202) throw new Error(`delete deployment: ${r.status} ${r.body}`);
    const downSecs = await phase(`Deployment of ${replicas} deleted`, (deadline) => poll(pollLeft, () => polled.podsLeft === 0, deadline), 600_000, () => `${polled.podsLeft} pods left`);
    if (downSecs === undefined) return;
    record(`${prefix} Deployment of ${replicas} deleted until no pod is left`, `${downSecs.toFixed(1)} s (server CPU ${(cpuSeconds(pid) - cpu0).toFixed(1)} s)`);
    stalls('during the deletion');

    if (pods > replicas) {
      // One Deployment after another, each once the previous ones are available (a burst of all
      // at once measures the backlog, not the size).
      const n = Math.ceil(pods / replicas);
      cpu0 = cpuSeconds(pid);
      const t0 = Date.now();
      for (let i = 0; i < n; i++) {
        r = await send('POST', '/apis/apps/v1/namespaces/bench-scale/deployments', deployment(`big-${i}`, Math.min(replicas, pods - i * replicas)));
        if (r.status !== 201) throw new Error(`create deployment: ${r.status} ${r.body}`);
        const want = Math.min(pods, (i + 1) * replicas);
        const secs = await phase(`${want} pods Running`, (deadline) => poll(pollAvailable, () => polled.available >= want, deadline), 600_000, () => `${polled.available} available`);
        if (secs === undefined) return;
        progress(`${want} pods available; server RSS ${rssMb(pid).toFixed(0)} MB`);
      }
      const manySecs = (Date.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 5000));
      record(`${prefix} ${pods} pods in ${n} Deployments until all Running`, `${manySecs.toFixed(1)} s (server CPU ${(cpuSeconds(pid) - cpu0).toFixed(1)} s)`);
      record(`${prefix} server RSS with ${pods} pods`, `${rssMb(pid).toFixed(0)} MB`);
      stalls(`with ${pods} pods`);
    }
  } finally {
    nodeWatch.close();
    session.close();
    await s.stop();
    const logFile = process.env['BOSUN_SCALE_LOG'];
    if (logFile) fs.writeFileSync(`${logFile}.${nodes}`, s.output());
  }
}

if (import.meta.main) {
  await benchScale((name, value) => process.stdout.write(`${name.padEnd(70)} ${value}\n`));
}
