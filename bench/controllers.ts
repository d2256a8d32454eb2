/**
 * Controller figures (issue 4): 1,000 Deployments of 5 replicas each against a server whose
 * controller manager runs as its own process (`bosun controller-manager`), with the bench playing
 * the kubelet (it marks every new pod Running and Ready). Prints the time until every Deployment
 * is available, the controller manager's CPU seconds and RSS, and the server's RSS. Bounded: it
 * gives up after 5 minutes.
 */
import fs from 'node:fs';
import https from 'node:https';
import { spawn } from 'node:child_process';
import { startServer, bosunBin } from '../test/e2e/harness.ts';
import { credsFromKubeconfig, jsonLines, type Creds } from '../test/e2e/api.ts';
import { caller } from './patch.ts';
import type { Deployment, KubeList, Pod } from '../src/api/index.ts';

const deployments = 1000;
const replicas = 5;
const limitMs = 5 * 60_000;

function procStats(pid: number): { cpuSeconds: number; rssMb: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds: ticks / 100, rssMb: rss ? Number(rss[1]) / 1024 : 0 };
}

/** Marks each new pod Running and Ready, from a watch on all pods; at most `inFlight` writes at a time. */
function fakeKubelet(creds: Creds, signal: AbortSignal): void {
  const calls = Array.from({ length: 16 }, () => caller(creds));
  const pending: { ns: string; name: string }[] = [];
  let busy = 0;
  let ip = 0;
  const pump = () => {
    while (busy < calls.length && pending.length) {
      const p = pending.shift()!;
      const call = calls[busy]!;
      busy++;
      const n = ip++;
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const status = {
        status: {
          phase: 'Running',
          podIP: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
          conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
        },
      };
      void call('PATCH', `/api/v1/namespaces/${p.ns}/pods/${p.name}/status`, JSON.stringify(status), { 'content-type': 'application/merge-patch+json' })
        .catch(() => {})
        .finally(() => {
          busy--;
          pump();
        });
    }
  };
  const req = https.request(new URL('/api/v1/pods?watch=true&allowWatchBookmarks=false', creds.server), { ca: creds.ca, cert: creds.cert, key: creds.key, signal }, (res) => {
    const split = jsonLines<{ type: string; object: Pod }>((ev) => {
      if (ev.type === 'ADDED') pending.push({ ns: ev.object.metadata.namespace!, name: ev.object.metadata.name! });
    });
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      split(d);
      pump();
    });
  });
  req.on('error', () => {});
  req.end();
}

export async function benchControllers(record: (name: string, value: string) => void): Promise<void> {
  const s = await startServer({ args: ['--disable-controller-manager', '--disable-scheduler'] });
  const creds = credsFromKubeconfig(s.kubeconfig);
  const cm = spawn(bosunBin, ['controller-manager', '--kubeconfig', s.kubeconfig], { stdio: 'ignore' });
  const ac = new AbortController();
  try {
    const call = caller(creds);
    await call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: 'bench-deploy' } }));
    fakeKubelet(creds, ac.signal);
    await new Promise((r) => setTimeout(r, 1000));
    const before = procStats(cm.pid!);
    const started = performance.now();
    const clients = Array.from({ length: 16 }, () => caller(creds));
    let next = 0;
    await Promise.all(
      clients.map(async (c) => {
        for (let i = next++; i < deployments; i = next++) {
          const name = `d${i}`;
          const body = {
            metadata: { name },
            spec: {
              replicas,
              selector: { matchLabels: { app: name } },
              template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } },
            },
          };
          const r = await c('POST', '/apis/apps/v1/namespaces/bench-deploy/deployments', JSON.stringify(body));
          if (r.status !== 201) throw new Error(`create deployment: ${r.status} ${r.body}`);
        }
      }),
    );
    let available = 0;
    while (performance.now() - started < limitMs) {
      const list = JSON.parse((await call('GET', '/apis/apps/v1/namespaces/bench-deploy/deployments')).body) as KubeList<Deployment>;
      available = list.items.filter((d) => d.status?.availableReplicas === replicas).length;
      if (available === deployments) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const secs = (performance.now() - started) / 1000;
    const after = procStats(cm.pid!);
    record(
      `${deployments} Deployments x ${replicas} replicas until all available`,
      available === deployments ? `${secs.toFixed(1)} s` : `${available}/${deployments} after ${secs.toFixed(0)} s (gave up)`,
    );
    record('controller manager CPU during it', `${(after.cpuSeconds - before.cpuSeconds).toFixed(1)} s`);
    record('controller manager RSS after it', `${after.rssMb.toFixed(0)} MB`);
    record(`server RSS with ${deployments * replicas} pods`, `${procStats(s.proc.pid!).rssMb.toFixed(0)} MB`);
  } finally {
    ac.abort();
    cm.kill('SIGTERM');
    await s.stop();
  }
}
