/**
 * `npm run bench`: prints the figures the issues ask for (never asserts on them).
 * Control plane: start-to-ready, ConfigMap creates/s with p50/p99 at 1/16/64 concurrent HTTPS
 * clients, LIST of 10,000 ConfigMaps, watch delivery to 100 watchers, raw store writes/s,
 * server RSS idle and after load; 1 KB ConfigMap creates at 64 HTTP/2 clients against bare etcd puts
 * (bench/createrate.ts); 1,000 Deployments through the controllers; simulated nodes Ready, a
 * 10,000-replica Deployment Running and deleted, and RSS, at 1,000 and 5,000 nodes (bench/scale.ts); the scheduler through the API and upstream's scheduler_perf
 * workloads in one process; pod startup latency and agent CPU/RSS on the real node (bench/agent.ts);
 * cluster DNS queries/s with dnsperf (bench/dns.ts); creates/s of a user under RBAC against
 * AlwaysAllow (bench/authz.ts); the latency one validating webhook adds (bench/webhook.ts); a
 * 1,000-pod Job and a 100-node DaemonSet rollout beside the same work by Deployments (bench/workloads.ts).
 * Everything runs on loopback or in the project's own pod network and is bounded in count and time.
 */
import { agentFor, call } from './http.ts';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import https from 'node:https';
import { startServer, type ServerHandle } from '../test/e2e/harness.ts';
import { credsFromKubeconfig, type Creds } from '../test/e2e/api.ts';
import { benchStore } from './store.ts';
import { benchOpenApi, benchPatches } from './patch.ts';
import { benchControllers } from './controllers.ts';
import { benchScale } from './scale.ts';
import { benchWorkloads } from './workloads.ts';
import { benchScheduler } from './scheduler.ts';
import { benchSchedulerPerf } from './scheduler-perf.ts';
import { benchAgent } from './agent.ts';
import { benchProxy } from './proxy.ts';
import { benchDns } from './dns.ts';
import { benchServiceRate } from './servicerate.ts';
import { benchAuthz } from './authz.ts';
import { benchWebhook } from './webhook.ts';

const figures: [string, string][] = [];
function record(name: string, value: string): void {
  figures.push([name, value]);
  process.stdout.write(`${name.padEnd(58)} ${value}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : 0;
}

/** The node server process (bin/bosun execs node, so the child pid is node's). */
function serverPid(s: ServerHandle): number {
  return s.proc.pid!;
}

async function benchStartup(): Promise<void> {
  const times: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-bench-start-'));
    let t0 = performance.now();
    let s = await startServer({ dataDir: dir });
    times.push(performance.now() - t0);
    await s.stop();
    t0 = performance.now();
    s = await startServer({ dataDir: dir });
    warm.push(performance.now() - t0);
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  record('start to ready, fresh data dir (median of 3)', `${median(times).toFixed(0)} ms`);
  record('start to ready, existing data dir (median of 3)', `${median(warm).toFixed(0)} ms`);
}

async function benchCreates(s: ServerHandle, creds: Creds): Promise<void> {
  for (const clients of [1, 16, 64]) {
    const ns = `bench-create-${clients}`;
    const agent0 = agentFor(creds);
    await call(creds, agent0, 'POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
    const total = clients === 1 ? 1000 : 4000;
    const perClient = Math.ceil(total / clients);
    const lat: number[] = [];
    const deadline = Date.now() + 60_000;
    // Connections (TLS handshakes with client certificates) are set up before timing starts.
    const agents = Array.from({ length: clients }, () => agentFor(creds));
    await Promise.all(agents.map((a) => call(creds, a, 'GET', `/api/v1/namespaces/${ns}`)));
    const t0 = performance.now();
    await Promise.all(
      agents.map(async (agent, c) => {
        for (let i = 0; i < perClient && Date.now() < deadline; i++) {
          const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${c}-${i}` }, data: { key: 'value', n: String(i) } });
          const st = performance.now();
          const r = await call(creds, agent, 'POST', `/api/v1/namespaces/${ns}/configmaps`, body);
          lat.push(performance.now() - st);
          if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.body}`);
        }
        agent.destroy();
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    record(`ConfigMap creates, ${clients} client(s)`, `${(lat.length / secs).toFixed(0)}/s  p50 ${pct(lat, 50).toFixed(1)} ms  p99 ${pct(lat, 99).toFixed(1)} ms`);
    agent0.destroy();
  }
  record('server RSS after create load', `${rssMb(serverPid(s)).toFixed(0)} MB`);
}

async function benchList(creds: Creds): Promise<void> {
  const ns = 'bench-list';
  const agent = agentFor(creds);
  await call(creds, agent, 'POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
  const agents = Array.from({ length: 32 }, () => agentFor(creds));
  let next = 0;
  await Promise.all(
    agents.map(async (a) => {
      for (;;) {
        const i = next++;
        if (i >= 10_000) return;
        const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `item-${i}`, labels: { app: 'bench' } }, data: { key: 'value' } });
        const r = await call(creds, a, 'POST', `/api/v1/namespaces/${ns}/configmaps`, body);
        if (r.status !== 201) throw new Error(`create failed: ${r.status} ${r.body}`);
      }
    }),
  );
  for (const a of agents) a.destroy();
  // The namespace holds the bench's 10,000 and the kube-root-ca.crt ConfigMap every namespace gets.
  const ours = (items: { metadata: { labels?: Record<string, string> } }[]) => items.filter((o) => o.metadata.labels?.['app'] === 'bench').length;
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await call(creds, agent, 'GET', `/api/v1/namespaces/${ns}/configmaps`);
    times.push(performance.now() - t0);
    bytes = r.body.length;
    const n = ours(JSON.parse(r.body).items);
    if (n !== 10_000) throw new Error(`list returned ${n} of the 10,000 items`);
  }
  record('LIST 10,000 ConfigMaps (median of 5)', `${median(times).toFixed(0)} ms, ${(bytes / 1024 / 1024).toFixed(2)} MB`);
  const paged: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    let cont = '';
    do {
      const r = await call(creds, agent, 'GET', `/api/v1/namespaces/${ns}/configmaps?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      cont = JSON.parse(r.body).metadata.continue ?? '';
    } while (cont);
    paged.push(performance.now() - t0);
  }
  record('LIST 10,000 ConfigMaps in pages of 500 (median of 3)', `${median(paged).toFixed(0)} ms`);
  agent.destroy();
}

async function benchWatch(creds: Creds): Promise<void> {
  const ns = 'bench-watch';
  const agent = agentFor(creds);
  await call(creds, agent, 'POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
  const watchers = 100;
  const events = 200;
  const sent = new Map<string, number>();
  const delays: number[] = [];
  let received = 0;
  const reqs: import('node:http').ClientRequest[] = [];
  await Promise.all(
    Array.from({ length: watchers }, () => new Promise<void>((resolve, reject) => {
      const url = new URL(`/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=0`, creds.server);
      const req = https.request(url, { agent: new https.Agent({ ca: creds.ca, cert: creds.cert, key: creds.key }), headers: { accept: 'application/json' } }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            const ev = JSON.parse(line);
            const t = sent.get(ev.object.metadata.name);
            if (t !== undefined) {
              delays.push(performance.now() - t);
              received++;
            }
          }
        });
        resolve();
      });
      req.on('error', reject);
      req.end();
      reqs.push(req);
    })),
  );
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < events; i++) {
    const name = `w-${i}`;
    sent.set(name, performance.now());
    await call(creds, agent, 'POST', `/api/v1/namespaces/${ns}/configmaps`, JSON.stringify({ metadata: { name } }));
  }
  const deadline = Date.now() + 20_000;
  while (received < watchers * events && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const r of reqs) r.destroy();
  agent.destroy();
  record(`watch delivery, ${watchers} watchers x ${events} events`, `p50 ${pct(delays, 50).toFixed(1)} ms  p99 ${pct(delays, 99).toFixed(1)} ms  (${received}/${watchers * events} delivered)`);
}

async function main(): Promise<void> {
  process.stdout.write(`Bosun benchmarks on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n\n`);
  await benchStartup();
  try {
    await benchAgent(record);
  } catch (err) {
    record('pod startup latency', `failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  try {
    await benchDns(record);
  } catch (err) {
    record('cluster DNS queries/s (dnsperf, Service names, UDP)', `failed: ${(err as Error).message}`);
  }
  try {
    await benchProxy(record);
  } catch (err) {
    record('service proxy rules', `failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  try {
    await benchServiceRate(record);
  } catch (err) {
    record('request rate through a ClusterIP', `failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  try {
    await benchAuthz(record);
  } catch (err) {
    record('creates/s under RBAC', `failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  try {
    await benchWebhook(record);
  } catch (err) {
    record('latency of a validating webhook', `failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  await import('./etcd.ts').then((m) => m.benchEtcd(record)).catch((err: Error) => ((process.exitCode = 1), record('ConfigMap creates/s on a 3-member etcd', `failed: ${err.message}`)));
  await import('./createrate.ts').then((m) => m.benchCreateRate(record)).catch((err: Error) => ((process.exitCode = 1), record('1 KB ConfigMap creates against bare etcd puts', `failed: ${err.message}`)));
  await import('./crd.ts').then((m) => m.benchCrd(record)).catch((err: Error) => ((process.exitCode = 1), record('custom resource / ConfigMap creates/s', `failed: ${err.message}`)));
  const s = await startServer();
  const creds = credsFromKubeconfig(s.kubeconfig);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    record('server RSS idle', `${rssMb(serverPid(s)).toFixed(0)} MB`);
    await benchCreates(s, creds);
    await benchList(creds);
    await benchWatch(creds);
    await benchOpenApi(creds, record);
    record('server RSS after load', `${rssMb(serverPid(s)).toFixed(0)} MB`);
  } finally {
    await s.stop();
  }
  // Patch throughput is the API's own: without controllers reacting to every change.
  const bare = await startServer({ args: ['--disable-controller-manager'] });
  try {
    await benchPatches(credsFromKubeconfig(bare.kubeconfig), record);
  } finally {
    await bare.stop();
  }
  for (const [k, v] of Object.entries(await benchStore())) record(`store: ${k}`, v);
  await benchControllers(record);
  try {
    await benchScale(record);
  } catch (err) {
    record('scale (simulated nodes, a large Deployment)', `failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  try {
    await benchWorkloads(record);
  } catch (err) {
    record('workload controllers (Job, DaemonSet)', `failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  try {
    await benchScheduler(record);
  } catch (err) {
    record('SchedulingBasic via the API', `failed: ${(err as Error).message}`);
  }
  try {
    await benchSchedulerPerf(record);
  } catch (err) {
    record('scheduler_perf', `failed: ${(err as Error).message}`);
  }
}

await main();
