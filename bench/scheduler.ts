/**
 * Scheduler figures (issue 5, first part): SchedulingBasic end to end through the API server —
 * `bosun virtual-nodes` registers 1,000 simulated nodes, then pods are created and the time until
 * every one is bound is measured (pods/s), after a warm-up of initial pods. The scheduler runs in
 * the server process. Bounded: it gives up after 3 minutes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { startServer, bosunBin } from '../test/e2e/harness.ts';
import { credsFromKubeconfig, type Creds } from '../test/e2e/api.ts';
import { caller } from './patch.ts';
import { machineSpeedMs } from './calibrate.ts';
import { nodeReady } from './scale.ts';
import type { Node } from '../src/api/index.ts';

const limitMs = 3 * 60_000;

/** Ready, with no taint that keeps pods off. */
const schedulable = (n: Node): boolean => nodeReady(n) && !(n.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');

async function createPods(creds: Creds, ns: string, prefix: string, count: number): Promise<void> {
  const clients = Array.from({ length: 16 }, () => caller(creds));
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      for (let i = next++; i < count; i = next++) {
        const body = { metadata: { name: `${prefix}-${i}` }, spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '100m', memory: '100Mi' } } }] } };
        const r = await c('POST', `/api/v1/namespaces/${ns}/pods`, JSON.stringify(body));
        if (r.status !== 201) throw new Error(`create pod: ${r.status} ${r.body}`);
      }
    }),
  );
}

async function waitBound(creds: Creds, ns: string, prefix: string, count: number, started: number): Promise<number> {
  const call = caller(creds);
  for (;;) {
    const list = JSON.parse((await call('GET', `/api/v1/namespaces/${ns}/pods`)).body) as { items: { metadata: { name: string }; spec: { nodeName?: string } }[] };
    const bound = list.items.filter((p) => p.metadata.name.startsWith(`${prefix}-`) && p.spec.nodeName).length;
    if (bound >= count || performance.now() - started > limitMs) return bound;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function benchScheduler(record: (name: string, value: string) => void, opts: { nodes?: number; initial?: number; measured?: number } = {}): Promise<void> {
  const nodes = opts.nodes ?? 1000;
  const initial = opts.initial ?? 1000;
  const measured = opts.measured ?? 2000;
  // Every controller runs: the node lifecycle controller lifts the nodes' not-ready taint, and the
  // service account controller makes the namespace's default ServiceAccount that pods need.
  record('machine speed before the scheduling bench (a fixed JavaScript loop; lower is faster)', `${machineSpeedMs()} ms`);
  const s = await startServer({});
  const creds = credsFromKubeconfig(s.kubeconfig);
  const vn = spawn(bosunBin, ['virtual-nodes', '--kubeconfig', s.kubeconfig, '--count', String(nodes)], { stdio: 'ignore' });
  try {
    const call = caller(creds);
    await call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: 'bench-sched' } }));
    const regStart = performance.now();
    // SchedulingBasic's nodes take pods from the start: wait until every node is Ready and the
    // node controller has lifted its not-ready taint (else the first pods meet tainted nodes).
    let registered = 0;
    for (;;) {
      const items = (JSON.parse((await call('GET', '/api/v1/nodes')).body) as { items: Node[] }).items;
      if (!registered && items.length >= nodes) registered = performance.now();
      if (items.filter(schedulable).length >= nodes || performance.now() - regStart > limitMs) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    record(`${nodes} simulated nodes registered / schedulable`, `${(((registered || performance.now()) - regStart) / 1000).toFixed(1)} s / ${((performance.now() - regStart) / 1000).toFixed(1)} s`);
    await createPods(creds, 'bench-sched', 'init', initial);
    await waitBound(creds, 'bench-sched', 'init', initial, performance.now());
    const started = performance.now();
    await createPods(creds, 'bench-sched', 'm', measured);
    const bound = await waitBound(creds, 'bench-sched', 'm', measured, started);
    const secs = (performance.now() - started) / 1000;
    record(
      `SchedulingBasic via the API: ${nodes} nodes, ${initial} initial, ${measured} measured pods`,
      bound >= measured ? `${(measured / secs).toFixed(0)} pods/s (create to bound)` : `${bound}/${measured} bound after ${secs.toFixed(0)} s (gave up)`,
    );
    const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${s.proc.pid}/status`, 'utf8'));
    record(`server RSS with ${nodes} nodes and ${initial + measured} pods`, `${rss ? (Number(rss[1]) / 1024).toFixed(0) : '?'} MB`);
  } finally {
    vn.kill('SIGTERM');
    await s.stop();
  }
}
