/**
 * Custom resource cost (issue 16): creates/s of a custom resource against ConfigMap creates/s
 * on the same server, at the same concurrency (32 HTTP/2 clients, one session each), the same
 * object count (3,000 per round) and the same request body size. The CRD is a realistic one: its
 * v1 schema has 20 fields under spec (strings, integers, booleans, an enum, a nested object, a
 * list) and 2 `x-kubernetes-validations` CEL rules, so every create pays for pruning, defaulting,
 * schema validation and CEL, as upstream's apiextensions-apiserver's does. Rounds alternate between
 * the two kinds (one warm-up round each, then 3 measured rounds each; the median round counts), so
 * a machine that warms up or slows down touches both. Printed: both rates, p50/p99 latencies, the
 * ratio (target >= 0.8) and the server's CPU milliseconds per create.
 * The CRD must become Established (the CRD controller) before its resource is served; the bench
 * waits for that, bounded, and fails naming the conditions it saw otherwise.
 * Run alone: node bench/crd.ts   (BENCH_CRD_PROFILE=1 also writes a server CPU profile to the cwd)
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import { startServer } from '../test/e2e/harness.ts';
import { credsFromKubeconfig } from '../test/e2e/api.ts';
import { h2Send, h2Session } from './http.ts';

const clients = 32;
const perRound = 3000;
const warmupRounds = 1;
const measuredRounds = 3;
const establishedTimeoutMs = 30_000;
const group = 'bench.bosun.dev';
const plural = 'widgets';
const ns = 'bench-crd';

interface Reply {
  status: number;
  body: string;
}


async function ok(s: http2.ClientHttp2Session, method: string, path: string, body?: unknown): Promise<Reply> {
  const r = await h2Send(s, method, path, body === undefined ? undefined : JSON.stringify(body));
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return r;
}

const str = { type: 'string' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };

/** The CRD: 20 properties under spec, 2 CEL rules (one across fields, one over the list). */
export const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['image', 'minReplicas', 'maxReplicas'],
                'x-kubernetes-validations': [
                  { rule: 'self.minReplicas <= self.maxReplicas', message: 'minReplicas must not exceed maxReplicas' },
                  { rule: "self.tags.all(t, t.size() <= 32 && !t.startsWith('-'))", message: 'tags are at most 32 characters and do not start with -' },
                ],
                properties: {
                  image: { ...str, maxLength: 256 },
                  command: str,
                  owner: str,
                  team: str,
                  description: { ...str, maxLength: 1024 },
                  region: { ...str, pattern: '^[a-z]+-[a-z]+-[0-9]$' },
                  minReplicas: { ...int, minimum: 0 },
                  maxReplicas: { ...int, minimum: 1, maximum: 1000 },
                  port: { ...int, format: 'int32', minimum: 1, maximum: 65535 },
                  priority: { ...int, default: 0 },
                  paused: bool,
                  debug: { ...bool, default: false },
                  exposed: bool,
                  tier: { ...str, enum: ['gold', 'silver', 'bronze'] },
                  resources: {
                    type: 'object',
                    properties: { cpu: str, memory: str, gpus: int },
                  },
                  tags: { type: 'array', maxItems: 16, items: str },
                  labelsCopy: { type: 'object', additionalProperties: str },
                  revision: int,
                  checksum: str,
                  schedule: str,
                },
              },
              status: { type: 'object', properties: { ready: bool, observedGeneration: int } },
            },
          },
        },
      },
    ],
  },
};

function widget(name: string): Record<string, unknown> {
  return {
    apiVersion: `${group}/v1`,
    kind: 'Widget',
    metadata: { name },
    spec: {
      image: 'registry.example.com/team/widget:1.2.3',
      command: '/bin/widget --serve',
      owner: 'alice',
      team: 'platform',
      description: 'a widget created by the custom resource benchmark',
      region: 'eu-west-1',
      minReplicas: 1,
      maxReplicas: 5,
      port: 8080,
      paused: false,
      exposed: true,
      tier: 'gold',
      resources: { cpu: '250m', memory: '128Mi', gpus: 0 },
      tags: ['bench', 'crd', 'widget'],
      labelsCopy: { app: 'widget', env: 'bench' },
      revision: 7,
      checksum: 'sha256:0123456789abcdef',
      schedule: '*/5 * * * *',
    },
  };
}

/** A ConfigMap whose JSON body is exactly as long as the Widget's of the same name. */
function configMap(name: string): Record<string, unknown> {
  const target = JSON.stringify(widget(name)).length;
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { image: 'registry.example.com/team/widget:1.2.3', owner: 'alice', pad: '' } };
  cm.data.pad = 'x'.repeat(Math.max(0, target - JSON.stringify(cm).length));
  return cm;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 100 Hz). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Waits (bounded) for the CRD's Established condition and for its resource to answer a create. */
async function waitServed(s: http2.ClientHttp2Session): Promise<void> {
  const deadline = Date.now() + establishedTimeoutMs;
  let conditions = 'none';
  for (;;) {
    const r = await h2Send(s, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`);
    if (r.status === 200) {
      const crd = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };
      conditions = JSON.stringify(crd.status?.conditions ?? []);
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
    } else conditions = `GET answered ${r.status}`;
    if (Date.now() > deadline) throw new Error(`CRD ${plural}.${group} not Established after ${establishedTimeoutMs / 1000} s; conditions: ${conditions}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Established: the handler may still be catching up; the first create must not 404 for long.
  for (;;) {
    const r = await h2Send(s, 'POST', `/apis/${group}/v1/namespaces/${ns}/${plural}`, JSON.stringify(widget('probe')));
    if (r.status === 201 || r.status === 409) break;
    if (r.status !== 404 || Date.now() > deadline) throw new Error(`creating a Widget after Established: ${r.status} ${r.body}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The figures are only meaningful if the schema and both CEL rules are enforced on create.
  const bad = widget('probe-invalid') as { spec: Record<string, unknown> };
  Object.assign(bad.spec, { minReplicas: 9, tags: ['-x'] });
  const r = await h2Send(s, 'POST', `/apis/${group}/v1/namespaces/${ns}/${plural}`, JSON.stringify(bad));
  const causes = r.status === 422 ? ((JSON.parse(r.body) as { details?: { causes?: unknown[] } }).details?.causes?.length ?? 0) : 0;
  if (causes !== 2) throw new Error(`a Widget breaking both CEL rules was not refused with 2 causes: ${r.status} ${r.body}`);
}

interface Round {
  rate: number;
  lat: number[];
  cpuMsPerCreate: number;
}

async function round(pid: number, sessions: http2.ClientHttp2Session[], path: string, make: (name: string) => Record<string, unknown>, prefix: string): Promise<Round> {
  const per = Math.ceil(perRound / sessions.length);
  // Bodies are built before timing: the clients' JSON work is not the server's.
  const bodies = sessions.map((_, c) => Array.from({ length: per }, (_, i) => JSON.stringify(make(`${prefix}-${c}-${i}`))));
  const lat: number[] = [];
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await Promise.all(
    sessions.map(async (s, c) => {
      for (const body of bodies[c]!) {
        const t = performance.now();
        const r = await h2Send(s, 'POST', path, body);
        lat.push(performance.now() - t);
        if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.body}`);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { rate: lat.length / secs, lat, cpuMsPerCreate: ((cpuSeconds(pid) - c0) * 1000) / lat.length };
}

/**
 * How long a CRD change takes to be live (issue 16: within 1 s): a new printer column is added
 * (JSON patch) and a Table list of the resource is polled every 20 ms until it shows the column.
 * Five changes, with the objects the rounds created stored; median and max in ms.
 */
async function crdUpdateLatency(s: http2.ClientHttp2Session): Promise<{ median: number; max: number }> {
  const times: number[] = [];
  const table = { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' };
  for (let i = 0; i < 5; i++) {
    const col = `Probe${i}`;
    const patch = [{ op: 'add', path: '/spec/versions/0/additionalPrinterColumns', value: [{ name: col, type: 'string', jsonPath: '.spec.name' }] }];
    const t0 = performance.now();
    const r = await h2Send(s, 'PATCH', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`, JSON.stringify(patch), { 'content-type': 'application/json-patch+json' });
    if (r.status !== 200) throw new Error(`patching the CRD: ${r.status} ${r.body}`);
    for (;;) {
      const t = await h2Send(s, 'GET', `/apis/${group}/v1/namespaces/${ns}/${plural}?limit=1`, undefined, table);
      if (t.status === 200 && t.body.includes(`"name":"${col}"`)) break;
      if (performance.now() - t0 > 30_000) throw new Error(`column ${col} not shown 30 s after the CRD change`);
      await new Promise((res) => setTimeout(res, 20));
    }
    times.push(performance.now() - t0);
  }
  return { median: median(times), max: Math.max(...times) };
}

export async function benchCrd(record: (name: string, value: string) => void): Promise<void> {
  const profile = process.env.BENCH_CRD_PROFILE === '1';
  const prev = process.env.NODE_OPTIONS;
  if (profile) process.env.NODE_OPTIONS = `${prev ?? ''} --cpu-prof --cpu-prof-dir=${process.cwd()}`.trim();
  const server = await startServer();
  if (profile) {
    if (prev === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = prev;
  }
  const creds = credsFromKubeconfig(server.kubeconfig);
  const admin = h2Session(creds);
  const sessions: http2.ClientHttp2Session[] = [];
  try {
    await ok(admin, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
    await ok(admin, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', widgetCrd);
    await waitServed(admin);
    const bodyBytes = JSON.stringify(widget('w-0-0')).length;
    if (JSON.stringify(configMap('w-0-0')).length !== bodyBytes) throw new Error('ConfigMap and Widget bodies differ in size');
    for (let i = 0; i < clients; i++) sessions.push(h2Session(creds));
    await Promise.all(sessions.map((s) => ok(s, 'GET', `/api/v1/namespaces/${ns}`)));
    const pid = server.proc.pid!;
    const cm: Round[] = [];
    const cr: Round[] = [];
    for (let r = 0; r < warmupRounds + measuredRounds; r++) {
      const a = await round(pid, sessions, `/api/v1/namespaces/${ns}/configmaps`, configMap, `r${r}`);
      const b = await round(pid, sessions, `/apis/${group}/v1/namespaces/${ns}/${plural}`, widget, `r${r}`);
      if (r >= warmupRounds) {
        cm.push(a);
        cr.push(b);
      }
    }
    const mid = (rs: Round[]) => rs.find((x) => x.rate === median(rs.map((y) => y.rate)))!;
    const [c, w] = [mid(cm), mid(cr)];
    const show = (x: Round) => `${x.rate.toFixed(0)}/s  p50 ${pct(x.lat, 50).toFixed(1)} ms  p99 ${pct(x.lat, 99).toFixed(1)} ms  CPU ${x.cpuMsPerCreate.toFixed(2)} ms/create`;
    const what = `${clients} HTTP/2 clients, ${perRound} x ${bodyBytes} B`;
    record(`ConfigMap creates, ${what}`, show(c));
    record(`custom resource creates (20-field schema, 2 CEL rules), same`, show(w));
    record('custom resource / ConfigMap creates/s (target >= 0.8)', `${(w.rate / c.rate).toFixed(2)}  (CPU per create ${(w.cpuMsPerCreate / c.cpuMsPerCreate).toFixed(2)}x)`);
    const live = await crdUpdateLatency(admin);
    record(`a CRD change live (new printer column listed), ${cr.length * perRound + perRound} objects stored`, `median ${live.median.toFixed(0)} ms, max ${live.max.toFixed(0)} ms (target <= 1000 ms)`);
  } finally {
    for (const s of sessions) s.close();
    admin.close();
    await server.stop();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchCrd((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
