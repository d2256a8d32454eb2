/**
 * Node agent figures (issue 12): pod startup latency — pod create to Ready seen by a watch — for
 * 30 busybox pods on the real node (created one after another, and then 30 at once), and the
 * agent's CPU and RSS while idle with 30 pods. The agent runs as its own process (`bosun agent`)
 * beside `bosun server --disable-agent`, so its figures exclude the control plane and containerd.
 * Bounded: every wait gives up after a minute; pods and the pod network are removed at the end.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { startServer, bosunBin } from '../test/e2e/harness.ts';
import { credsFromKubeconfig, type Creds } from '../test/e2e/api.ts';
import { cleanupAgent, prepareAgent } from '../test/e2e/node.ts';
import { caller } from './patch.ts';

const pods = 30;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** CPU ticks, RSS, and PSS (resident memory with pages shared with other processes — the Node binary's text, shared with the server — counted in part). */
function procStat(pid: number): { cpuTicks: number; rssMb: number; pssMb: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { cpuTicks: Number(fields[11]) + Number(fields[12]), rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024, pssMb: Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) / 1024 };
}

/** Ready times by pod name, from one watch on the namespace's pods. */
function readyWatch(creds: Creds, ns: string): { readyAt: Map<string, number>; close(): void } {
  const readyAt = new Map<string, number>();
  const req = https.request(new URL(`/api/v1/namespaces/${ns}/pods?watch=1`, creds.server), { ca: creds.ca, cert: creds.cert, key: creds.key }, (res) => {
    let buf = '';
    res.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const ev = JSON.parse(line) as { object: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } } };
        const o = ev.object;
        if (!readyAt.has(o.metadata.name) && o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) readyAt.set(o.metadata.name, performance.now());
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return { readyAt, close: () => req.destroy() };
}

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function podBody(name: string): string {
  return JSON.stringify({ metadata: { name }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] } });
}

export async function benchAgent(record: (name: string, value: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) {
    record('pod startup latency', 'skipped (the node agent needs root)');
    return;
  }
  const server = await startServer();
  const dataDir = server.dataDir;
  await prepareAgent(dataDir);
  const agent = spawn(bosunBin, ['agent', '--data-dir', dataDir, '--kubelet-port', '0', '--server', server.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  agent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  agent.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const creds = credsFromKubeconfig(server.kubeconfig);
  const call = caller(creds);
  try {
    await until('the agent ready', () => /agent: node \S+ ready/.test(out));
    for (const [label, ns, burst] of [
      ['one after another', 'bench-seq', false],
      ['30 at once', 'bench-burst', true],
    ] as const) {
      await call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
      // What the controller manager gives a new namespace and every pod needs: the default
      // ServiceAccount (ServiceAccount admission) and kube-root-ca.crt (the token volume).
      await until(`${ns}'s default ServiceAccount and kube-root-ca.crt`, async () =>
        (await call('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status === 200 && (await call('GET', `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`)).status === 200);
      const w = readyWatch(creds, ns);
      await new Promise((r) => setTimeout(r, 300));
      const created = new Map<string, number>();
      const create = async (i: number) => {
        const name = `p-${i}`;
        created.set(name, performance.now());
        const r = await call('POST', `/api/v1/namespaces/${ns}/pods`, podBody(name));
        if (r.status !== 201) throw new Error(`create: ${r.status} ${r.body}`);
      };
      if (burst) await Promise.all(Array.from({ length: pods }, (_, i) => create(i)));
      else {
        for (let i = 0; i < pods; i++) {
          await create(i);
          await until(`p-${i} Ready`, () => w.readyAt.has(`p-${i}`));
        }
      }
      await until('all Ready', () => w.readyAt.size >= pods, 120_000);
      w.close();
      const lat = [...created].map(([n, t]) => (w.readyAt.get(n)! - t) / 1000);
      record(`pod startup latency, ${pods} pods ${label}`, `p50 ${pct(lat, 50).toFixed(2)} s  p90 ${pct(lat, 90).toFixed(2)} s  p99 ${pct(lat, 99).toFixed(2)} s`);
      if (!burst) {
        // Idle with 30 pods: CPU over 10 s and RSS of the agent process.
        await new Promise((r) => setTimeout(r, 3000));
        const a = procStat(agent.pid!);
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 10_000));
        const b = procStat(agent.pid!);
        const cpu = (b.cpuTicks - a.cpuTicks) / 100 / ((performance.now() - t0) / 1000);
        record(`agent idle with ${pods} pods: CPU`, `${(cpu * 100).toFixed(1)} % of one core`);
        record(`agent idle with ${pods} pods: RSS`, `${b.rssMb.toFixed(0)} MB (PSS ${b.pssMb.toFixed(0)} MB)`);
      }
      await call('DELETE', `/api/v1/namespaces/${ns}/pods`);
      await until('the pods gone', async () => (JSON.parse((await call('GET', `/api/v1/namespaces/${ns}/pods`)).body) as { items: unknown[] }).items.length === 0, 120_000);
    }
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    await server.stop();
    await cleanupAgent(dataDir);
    fs.rmSync(path.join(dataDir), { recursive: true, force: true });
  }
}
