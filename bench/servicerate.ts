/**
 * Request rate through a Service's ClusterIP against straight to the pod IP (issue 13: ratio
 * ≥ 0.9). One busybox httpd pod behind a ClusterIP Service on the real node; `ab` (apache2-utils)
 * on the host opens a new connection per request, so every request goes through the proxy's
 * DNAT and a new conntrack entry, as a pod's would. Each way runs 3 × 3 s, alternating, and the
 * medians are compared. Bounded: every wait gives up after a minute; the pods, the pod network and
 * the proxy's rules are removed at the end.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { startServer } from '../test/e2e/harness.ts';
import { credsFromKubeconfig } from '../test/e2e/api.ts';
import { busyboxImage } from '../test/e2e/node.ts';
import { caller } from './patch.ts';

const run = promisify(execFile);

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Requests per second `ab` reports for `seconds` of requests from 8 clients. */
async function rate(url: string, seconds: number): Promise<number> {
  const { stdout } = await run('ab', ['-q', '-t', String(seconds), '-n', '1000000', '-c', '8', '-s', '5', url], { timeout: (seconds + 30) * 1000 });
  const m = /Requests per second:\s+([\d.]+)/.exec(stdout);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  if (!m) throw new Error(`ab printed no rate: ${stdout.slice(-400)}`);
  if (failed > 0) throw new Error(`ab: ${failed} failed requests to ${url}`);
  return Number(m[1]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchServiceRate(record: (name: string, value: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) {
    record('request rate through a ClusterIP', 'skipped (the node agent needs root)');
    return;
  }
  for (const mode of ['iptables', 'nftables'] as const) await benchMode(record, mode);
}

async function benchMode(record: (name: string, value: string) => void, mode: 'iptables' | 'nftables'): Promise<void> {
  const server = await startServer({ agent: true, args: ['--disable-scheduler', '--node-name', 'bench', '--proxy-mode', mode] });
  const call = caller(credsFromKubeconfig(server.kubeconfig));
  try {
    const pod = {
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        nodeName: 'bench',
        terminationGracePeriodSeconds: 0,
        containers: [{ name: 'c', image: busyboxImage, command: ['sh', '-c', 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www'], ports: [{ containerPort: 80 }] }],
      },
    };
    const r = await call('POST', '/api/v1/namespaces/default/pods', JSON.stringify(pod));
    if (r.status !== 201) throw new Error(`create pod: ${r.status} ${r.body}`);
    const s = await call('POST', '/api/v1/namespaces/default/services', JSON.stringify({ metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } }));
    if (s.status !== 201) throw new Error(`create service: ${s.status} ${s.body}`);
    const clusterIP = (JSON.parse(s.body) as { spec: { clusterIP: string } }).spec.clusterIP;
    const podIP = await until('the pod Ready', async () => {
      const p = JSON.parse((await call('GET', '/api/v1/namespaces/default/pods/web')).body) as { status?: { podIP?: string; conditions?: { type: string; status: string }[] } };
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p.status.podIP : undefined;
    });
    // The proxy has programmed the Service once a request through it succeeds.
    await until('the ClusterIP answering', async () => ((await run('wget', ['-q', '-T', '2', '-O', '-', `http://${clusterIP}/`]).catch(() => ({ stdout: '' }))).stdout.includes('hello') ? true : undefined));
    const direct: number[] = [];
    const viaService: number[] = [];
    for (let i = 0; i < 3; i++) {
      direct.push(await rate(`http://${podIP}/`, 3));
      viaService.push(await rate(`http://${clusterIP}/`, 3));
    }
    const d = median(direct);
    const v = median(viaService);
    record(`HTTP requests/s from the host, new connection each, 8 clients: pod IP / ClusterIP (${mode} mode)`, `${d.toFixed(0)}/s / ${v.toFixed(0)}/s, ratio ${(v / d).toFixed(2)}`);
  } finally {
    await server.stop(); // removes the pods and the pod network too
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchServiceRate((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
