/**
 * Cluster DNS figures: queries/s answered for Service names, measured with Debian's `dnsperf`
 * (5 s per run, median of 3) against the node agent's DNS component (src/dns: the same handler,
 * server and ClusterView the agent runs) on 127.0.0.1 with 1,000 Services and 100 headless
 * Services of 3 endpoints each. Cluster names only: nothing is forwarded, nothing leaves the machine.
 * Skipped (recorded as such) when dnsperf is missing (`apt-get install -y dnsperf`).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterView } from '../src/dns/records.ts';
import { Forwarder } from '../src/dns/forward.ts';
import { DnsHandler, DnsServer } from '../src/dns/server.ts';

const services = 1000;
const headless = 100;
const runSeconds = 5;
const runs = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function dnsperf(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('dnsperf', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('exit', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

export async function benchDns(record: (name: string, value: string) => void): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v dnsperf']).status !== 0) {
    record('cluster DNS queries/s (dnsperf)', 'skipped: dnsperf is not installed');
    return;
  }
  const view = new ClusterView();
  view.upsertNamespace('default');
  for (let i = 0; i < services; i++) {
    view.upsertService({ metadata: { namespace: 'default', name: `svc-${i}` }, spec: { clusterIP: `10.43.${(i >> 8) + 1}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
  }
  for (let i = 0; i < headless; i++) {
    view.upsertService({ metadata: { namespace: 'default', name: `hl-${i}` }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } });
    view.upsertSlice({
      metadata: { namespace: 'default', name: `hl-${i}-x`, labels: { 'kubernetes.io/service-name': `hl-${i}` } },
      addressType: 'IPv4',
      endpoints: [1, 2, 3].map((j) => ({ addresses: [`10.42.${i}.${j}`], hostname: `hl-${i}-${j}`, conditions: { ready: true } })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  }
  const forwarder = new Forwarder({ upstreams: [] });
  const server = new DnsServer(new DnsHandler({ view, zone: { domain: 'cluster.local' }, forwarder }));
  const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-dnsperf-'));
  const file = path.join(dir, 'queries');
  const lines: string[] = [];
  for (let i = 0; i < services; i++) lines.push(`svc-${i}.default.svc.cluster.local A`);
  for (let i = 0; i < headless; i++) lines.push(`hl-${i}.default.svc.cluster.local A`, `_http._tcp.hl-${i}.default.svc.cluster.local SRV`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  try {
    const qps: number[] = [];
    let lost = 0;
    for (let r = 0; r < runs; r++) {
      const out = await dnsperf(['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(runSeconds), '-c', '4', '-q', '200', '-t', '2'], (runSeconds + 10) * 1000);
      const m = /Queries per second:\s+([\d.]+)/.exec(out);
      if (!m) throw new Error(`dnsperf gave no figure:\n${out.slice(-1500)}`);
      qps.push(Number(m[1]));
      lost += Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? 0);
    }
    record('cluster DNS queries/s (dnsperf, Service names, UDP)', `${median(qps).toFixed(0)} /s  (runs ${qps.map((q) => q.toFixed(0)).join(', ')}; lost ${lost})`);
  } finally {
    await server.close();
    forwarder.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// `node bench/dns.ts` runs this bench alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  await benchDns((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
