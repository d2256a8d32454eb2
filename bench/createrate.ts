/**
 * Writes through the API against bare etcd on the same machine (issue 18): Debian's etcd (one
 * member, started here) takes puts of 1 KB values from 64 concurrent requests; then a whole
 * `bosun server` (embedded SQLite, every controller and the scheduler) takes ConfigMap creates
 * with 1 KB of data from 64 HTTP/2 clients (a session each, as 64 client-go clients would
 * connect). Prints both rates, p50/p99, the server's CPU per create and the ratio (target ≥ 1,
 * p99 ≤ 50 ms). Bounded: 20,000 operations or 5 s per measurement; everything is stopped at the end.
 */
import etcd3 from 'etcd3';
import type http2 from 'node:http2';
import { startServer } from '../test/e2e/harness.ts';
import { credsFromKubeconfig } from '../test/e2e/api.ts';
import { h2Send, h2Session } from './http.ts';
import { startEtcdCluster } from '../src/storage/etcdtest.ts';
import { cpuTicks, load, pct } from './etcd.ts';

const clients = 64;
const maxOps = 20_000;
const maxMs = 5000;
/** 1 KB of data, as the figures use. */
const data = { payload: 'x'.repeat(1024) };

function configMap(name: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
}

export async function benchCreateRate(record: (name: string, value: string) => void): Promise<void> {
  const cluster = await startEtcdCluster({ members: 1, name: 'bosun-bench-rate' });
  let bare: { rate: number; p50: number; p99: number };
  try {
    const client = new etcd3.Etcd3({ hosts: cluster.endpoints });
    try {
      const value = Buffer.from(configMap('bench'));
      await Promise.all(Array.from({ length: clients }, (_, i) => client.put(`/bench/warm/k${i}`).value(value).exec()));
      const { rate, lat } = await load(maxOps, maxMs, (i) => client.put(`/bench/bare/k${i}`).value(value).exec());
      bare = { rate, p50: pct(lat, 50), p99: pct(lat, 99) };
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
  }
  record('bare etcd (1 member) puts of 1 KB, 64 concurrent', `${bare.rate.toFixed(0)}/s p50 ${bare.p50.toFixed(1)} ms p99 ${bare.p99.toFixed(1)} ms`);

  const server = await startServer({ timeoutMs: 60_000 });
  const sessions: http2.ClientHttp2Session[] = [];
  try {
    const creds = credsFromKubeconfig(server.kubeconfig);
    for (let i = 0; i < clients; i++) sessions.push(h2Session(creds));
    const create = async (s: http2.ClientHttp2Session, name: string) => {
      const r = await h2Send(s, 'POST', '/api/v1/namespaces/default/configmaps', configMap(name));
      if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.body.slice(0, 300)}`);
    };
    await Promise.all(sessions.map((s, i) => create(s, `warm-${i}`)));
    const t0 = cpuTicks(server.proc.pid);
    const { rate, lat } = await load(maxOps, maxMs, (i) => create(sessions[i % clients]!, `cm-${i}`));
    const cpuMs = ((cpuTicks(server.proc.pid) - t0) * 10) / lat.length;
    record('API ConfigMap creates of 1 KB, 64 HTTP/2 clients', `${rate.toFixed(0)}/s p50 ${pct(lat, 50).toFixed(1)} ms p99 ${pct(lat, 99).toFixed(1)} ms, server CPU ${cpuMs.toFixed(2)} ms per create`);
    record('API creates / bare etcd puts (target ≥ 1)', (rate / bare.rate).toFixed(2));
  } finally {
    for (const s of sessions) s.close();
    await server.stop();
  }
}

if (import.meta.main) {
  await benchCreateRate((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
