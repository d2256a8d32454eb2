/**
 * The API server on etcd (issue 17), on a three-member loopback etcd started with etcdtest.ts:
 * (1) bare etcd puts/s with 64 concurrent requests (~5 s, bounded count), p50/p99, with the etcd3
 *     client and with the store's own lean HTTP/2 client (etcdconn.ts, round robin over the members);
 * (2) `bosun server --datastore-endpoint <the 3 members>`: ConfigMap creates/s through the API at 64
 *     concurrent clients (HTTP/2), p50/p99, the server's CPU ms per create (from /proc), and the
 *     ratio to (1) (target ≥ 0.8, p99 ≤ 100 ms);
 * (3) a second API server on the same etcd (sharing the first one's tls/ folder) and the latency of
 *     watch events: create on server A, watch on server B, p50/p99 over 500 events from A's
 *     acknowledgement to B's event (target p99 ≤ 50 ms).
 * Bounded in count and time; every process is stopped at the end. Nothing is asserted.
 * `node bench/etcd.ts` prints the figures; `benchEtcd(record)` is for bench/run.ts.
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import etcd3 from 'etcd3';
import { startServer, type ServerHandle } from '../test/e2e/harness.ts';
import { credsFromKubeconfig } from '../test/e2e/api.ts';
import { h2Send, h2Session } from './http.ts';
import { startEtcdCluster, type EtcdCluster } from '../src/storage/etcdtest.ts';
import { EtcdConn } from '../src/storage/etcdconn.ts';
import { encodePut } from '../src/storage/etcdwire.ts';

const concurrency = 64;
const maxOps = 20_000;
const maxMs = 5000;
const watchEvents = 500;

type Record = (name: string, value: string) => void;

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

/** Runs `op(i)` with `concurrency` workers until `n` ops or `ms` elapse; answers ops/s and latencies. */
export async function load(n: number, ms: number, op: (i: number) => Promise<unknown>): Promise<{ rate: number; lat: number[] }> {
  let next = 0;
  let done = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n || performance.now() > deadline) return;
        const s = performance.now();
        await op(i);
        lat.push(performance.now() - s);
        done++;
      }
    }),
  );
  return { rate: done / ((performance.now() - t0) / 1000), lat };
}

const cmValue = (name: string): string =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'default' },
    data: { key: 'value', other: 'some more text to make the value about two hundred bytes' },
  });


async function created(s: http2.ClientHttp2Session, ns: string, name: string): Promise<void> {
  const r = await h2Send(s, 'POST', `/api/v1/namespaces/${ns}/configmaps`, cmValue(name).replace('"default"', JSON.stringify(ns)));
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.body.slice(0, 300)}`);
}

/** (1) Bare etcd puts of the same ~200-byte values. */
async function barePuts(cluster: EtcdCluster): Promise<{ rate: number; p50: number; p99: number }> {
  const client = new etcd3.Etcd3({ hosts: cluster.endpoints });
  try {
    const value = Buffer.from(cmValue('bench'));
    const { rate, lat } = await load(maxOps, maxMs, (i) => client.put(`/bench/bare/k${i}`).value(value).exec());
    return { rate, p50: pct(lat, 50), p99: pct(lat, 99) };
  } finally {
    client.close();
  }
}

/** (1b) The same puts with the lean HTTP/2 gRPC client the store uses, round robin over the members. */
async function barePutsLean(cluster: EtcdCluster): Promise<{ rate: number; p50: number; p99: number }> {
  const conns = cluster.endpoints.map((e) => new EtcdConn(e));
  try {
    const value = Buffer.from(cmValue('bench'));
    const { rate, lat } = await load(maxOps, maxMs, (i) => conns[i % conns.length]!.unary('/etcdserverpb.KV/Put', encodePut({ key: Buffer.from(`/bench/lean/k${i}`), value }), 5000));
    return { rate, p50: pct(lat, 50), p99: pct(lat, 99) };
  } finally {
    for (const c of conns) c.close();
  }
}

/** User + system CPU ticks (1/100 s) of a process so far. */
export function cpuTicks(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return NaN;
  }
}

/** (2) ConfigMap creates through one API server on etcd. */
async function apiCreates(server: ServerHandle): Promise<{ rate: number; p50: number; p99: number; cpuMs: number }> {
  const creds = credsFromKubeconfig(server.kubeconfig);
  const sessions = Array.from({ length: 8 }, () => h2Session(creds));
  try {
    // Warm up (connections, caches).
    await Promise.all(Array.from({ length: 64 }, (_, i) => created(sessions[i % 8]!, 'default', `warm-${i}`)));
    const t0 = cpuTicks(server.proc.pid);
    const { rate, lat } = await load(maxOps, maxMs, (i) => created(sessions[i % 8]!, 'default', `cm-${i}`));
    const cpuMs = ((cpuTicks(server.proc.pid) - t0) * 10) / lat.length;
    return { rate, p50: pct(lat, 50), p99: pct(lat, 99), cpuMs };
  } finally {
    for (const s of sessions) s.close();
  }
}

/** (3) Create on A, watch on B: from A's acknowledgement to B's ADDED event. */
async function watchLatency(a: ServerHandle, b: ServerHandle): Promise<{ p50: number; p99: number; n: number }> {
  const ca = credsFromKubeconfig(a.kubeconfig);
  const cb = credsFromKubeconfig(b.kubeconfig);
  const sa = h2Session(ca);
  const sb = h2Session(cb);
  const ns = 'bench-watch';
  try {
    const nsBody = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const r = await h2Send(sa, 'POST', '/api/v1/namespaces', nsBody);
    if (r.status !== 201 && r.status !== 409) throw new Error(`namespace: ${r.status} ${r.body}`);
    const list = await h2Send(sb, 'GET', `/api/v1/namespaces/${ns}/configmaps`);
    const rv = (JSON.parse(list.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const acked = new Map<string, number>();
    const seen = new Map<string, number>();
    let buf = '';
    const req = sb.request({ ':method': 'GET', ':path': `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${rv}`, accept: 'application/json' });
    let allSeen: () => void = () => {};
    const done = new Promise<void>((resolve) => (allSeen = resolve));
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      const now = performance.now();
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
        if (ev.type === 'ADDED') seen.set(ev.object.metadata.name, now);
        if (seen.size >= watchEvents) allSeen();
      }
    });
    req.on('error', () => {});
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    // A steady stream: 8 writers, so events are not all queued behind one another.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= watchEvents) return;
          const name = `w-${i}`;
          await created(sa, ns, name);
          acked.set(name, performance.now());
          await new Promise((r) => setTimeout(r, 5));
        }
      }),
    );
    await Promise.race([done, new Promise((r) => setTimeout(r, Math.max(5000, 30_000 - (performance.now() - t0))))]);
    req.close();
    const lat: number[] = [];
    for (const [name, t] of acked) {
      const s = seen.get(name);
      if (s !== undefined) lat.push(Math.max(0, s - t));
    }
    return { p50: pct(lat, 50), p99: pct(lat, 99), n: lat.length };
  } finally {
    sa.close();
    sb.close();
  }
}

export async function benchEtcd(record: Record): Promise<void> {
  const cluster = await startEtcdCluster({ members: 3, name: 'bosun-bench' });
  const dirB = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-bench-b-'));
  let a: ServerHandle | null = null;
  let b: ServerHandle | null = null;
  try {
    const bare = await barePuts(cluster);
    record('etcd (3 members): bare puts/s, 64 concurrent', `${bare.rate.toFixed(0)}/s p50 ${bare.p50.toFixed(1)} ms p99 ${bare.p99.toFixed(1)} ms`);
    const lean = await barePutsLean(cluster);
    record('etcd (3 members): bare puts/s, lean client', `${lean.rate.toFixed(0)}/s p50 ${lean.p50.toFixed(1)} ms p99 ${lean.p99.toFixed(1)} ms`);
    const args = ['--datastore-endpoint', cluster.endpoints.join(','), '--disable-controller-manager', '--disable-scheduler'];
    a = await startServer({ args, timeoutMs: 60_000 });
    const api = await apiCreates(a);
    record('etcd: API ConfigMap creates/s, 64 concurrent', `${api.rate.toFixed(0)}/s p50 ${api.p50.toFixed(1)} ms p99 ${api.p99.toFixed(1)} ms`);
    record('etcd: API server CPU per create', `${api.cpuMs.toFixed(2)} ms`);
    record('etcd: API creates / bare puts (target ≥ 0.8)', (api.rate / bare.rate).toFixed(2));
    record('etcd: API creates / bare puts, lean client', (api.rate / lean.rate).toFixed(2));
    // B shares A's CA and keys: A's tls/ folder, and A's token when the server keeps one (the
    // bootstrap data in etcd is encrypted with it, as k3s does).
    fs.cpSync(path.join(a.dataDir, 'tls'), path.join(dirB, 'tls'), { recursive: true });
    const tokenFile = path.join(a.dataDir, 'server', 'token');
    const token = fs.existsSync(tokenFile) ? ['--token', fs.readFileSync(tokenFile, 'utf8').trim()] : [];
    b = await startServer({ dataDir: dirB, args: [...args, ...token], timeoutMs: 60_000 });
    const w = await watchLatency(a, b);
    record('etcd: watch latency, create on A → event on B', `p50 ${w.p50.toFixed(1)} ms p99 ${w.p99.toFixed(1)} ms (${w.n}/${watchEvents} events)`);
  } finally {
    await b?.stop().catch(() => {});
    await a?.stop().catch(() => {});
    await cluster.stop();
    fs.rmSync(dirB, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchEtcd((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
