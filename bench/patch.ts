/**
 * Patch and apply figures (issue 3): strategic-merge-patch and server-side-apply throughput on
 * Deployments through HTTPS, and the OpenAPI documents' size and serve time (first and cached).
 * Bounded in time; never asserts.
 */
import https from 'node:https';
import type { Creds } from '../test/e2e/api.ts';

type Call = (method: string, path: string, body?: string, headers?: Record<string, string>) => Promise<{ status: number; body: string }>;

export function caller(creds: Creds): Call {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: creds.ca, cert: creds.cert, key: creds.key });
  return (method, p, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = https.request(new URL(p, creds.server), { method, agent, headers: { 'content-type': 'application/json', accept: 'application/json', ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
}

function deployment(name: string, image: string, replicas: number): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'web', image, ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }] }] },
      },
    },
  };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

/** Runs `op(client, i)` from `clients` concurrent clients for `ms`; returns ops/s and latencies. */
async function drive(creds: Creds, clients: number, ms: number, op: (call: Call, client: number, i: number) => Promise<void>): Promise<{ rate: number; lat: number[] }> {
  const lat: number[] = [];
  const end = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const call = caller(creds);
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        await op(call, c, i);
        lat.push(performance.now() - t);
      }
    }),
  );
  return { rate: lat.length / ((performance.now() - started) / 1000), lat };
}

export async function benchPatches(creds: Creds, record: (name: string, value: string) => void): Promise<void> {
  const call = caller(creds);
  const ns = 'bench-patch';
  await call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
  const clients = 8;
  for (let c = 0; c < clients; c++) {
    await call('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, JSON.stringify(deployment(`smp-${c}`, 'busybox:1', 1)));
  }
  const smp = await drive(creds, clients, 3000, async (cl, c, i) => {
    const patch = { spec: { template: { spec: { containers: [{ name: 'web', image: `busybox:${i}` }] } } }, metadata: { annotations: { n: String(i) } } };
    const r = await cl('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/smp-${c}`, JSON.stringify(patch), { 'content-type': 'application/strategic-merge-patch+json' });
    if (r.status !== 200) throw new Error(`strategic merge patch failed: ${r.status} ${r.body}`);
  });
  record(`strategic merge patch of a Deployment, ${clients} clients`, `${smp.rate.toFixed(0)}/s  p50 ${pct(smp.lat, 50).toFixed(1)} ms  p99 ${pct(smp.lat, 99).toFixed(1)} ms`);
  const ssa = await drive(creds, clients, 3000, async (cl, c, i) => {
    const body = JSON.stringify(deployment(`ssa-${c}`, `busybox:${i}`, 1 + (i % 3)));
    const r = await cl('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/ssa-${c}?fieldManager=bench`, body, { 'content-type': 'application/apply-patch+yaml' });
    if (r.status !== 200 && r.status !== 201) throw new Error(`apply failed: ${r.status} ${r.body}`);
  });
  record(`server-side apply of a Deployment, ${clients} clients`, `${ssa.rate.toFixed(0)}/s  p50 ${pct(ssa.lat, 50).toFixed(1)} ms  p99 ${pct(ssa.lat, 99).toFixed(1)} ms`);
}

export async function benchOpenApi(creds: Creds, record: (name: string, value: string) => void): Promise<void> {
  const call = caller(creds);
  const docs: [string, string, Record<string, string>][] = [
    ['/openapi/v2 (JSON)', '/openapi/v2', { accept: 'application/json' }],
    ['/openapi/v2 (protobuf)', '/openapi/v2', { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' }],
    ['/openapi/v3/api/v1', '/openapi/v3/api/v1', { accept: 'application/json' }],
    ['/openapi/v3/apis/apps/v1', '/openapi/v3/apis/apps/v1', { accept: 'application/json' }],
  ];
  for (const [name, p, headers] of docs) {
    let t = performance.now();
    const first = await call('GET', p, undefined, headers);
    const cold = performance.now() - t;
    if (first.status !== 200) {
      record(`OpenAPI ${name}`, `not served (${first.status})`);
      continue;
    }
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      await call('GET', p, undefined, headers);
      warm.push(performance.now() - t);
    }
    record(`OpenAPI ${name}`, `${(Buffer.byteLength(first.body) / 1024).toFixed(0)} KiB, first ${cold.toFixed(0)} ms, cached ${pct(warm, 50).toFixed(1)} ms`);
  }
}
