/**
 * Decodes a kubelet's `/metrics/resource` answer (Prometheus text exposition) into one node's
 * points, as metrics-server's scraper/client/resource/decode.go: `node_cpu_usage_seconds_total`
 * and `node_memory_working_set_bytes` for the node; `container_cpu_usage_seconds_total`,
 * `container_memory_working_set_bytes` and `container_start_time_seconds` (labels container, pod,
 * namespace) for containers; every other series is ignored. A sample without a timestamp takes
 * the request's time. The node is left out unless it has a timestamp and non-zero CPU and
 * memory; a pod is left out when one of its containers lacks non-zero CPU or memory (upstream's
 * checkContainerMetrics).
 *
 * Bounds: the caller caps the body (scraper.ts); lines are parsed one by one without
 * backtracking; a malformed line is an error for the whole answer, as upstream's parser fails it.
 */
import { emptyBatch, type MetricsBatch, type MetricsPoint } from './storage.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

/** [A-Za-z0-9_] (and ':' in metric names). */
function isNameChar(c: number, colon: boolean): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (colon && c === 58);
}

/** Parses one sample line (`name{a="b"} 1.5 1700000000000`); throws on malformed input. */
export function parseSampleLine(line: string): Sample {
  let i = 0;
  const n = line.length;
  while (i < n && isNameChar(line.charCodeAt(i), true)) i++;
  const name = line.slice(0, i);
  if (!name) throw new Error(`invalid metric name in ${JSON.stringify(line)}`);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const start = i;
      while (i < n && isNameChar(line.charCodeAt(i), false)) i++;
      const label = line.slice(start, i);
      if (!label || line[i] !== '=' || line[i + 1] !== '"') throw new Error(`invalid label in ${JSON.stringify(line)}`);
      i += 2;
      let value = '';
      for (;;) {
        if (i >= n) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
        const c = line[i++]!;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          value += e === 'n' ? '\n' : (e ?? '');
        } else value += c;
      }
      labels[label] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (!rest[0]) throw new Error(`missing value in ${JSON.stringify(line)}`);
  const value = parseValue(rest[0]);
  if (Number.isNaN(value) && rest[0] !== 'NaN') throw new Error(`invalid value in ${JSON.stringify(line)}`);
  const sample: Sample = { name, labels, value };
  if (rest[1] !== undefined) {
    if (!/^-?\d+$/.test(rest[1])) throw new Error(`invalid timestamp in ${JSON.stringify(line)}`);
    sample.timestampMs = Number(rest[1]);
  }
  return sample;
}

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/** One node's points from its `/metrics/resource` text; `requestTimeMs` stands in for missing timestamps. */
export function decodeResourceMetrics(text: string, nodeName: string, requestTimeMs: number): MetricsBatch {
  const batch = emptyBatch();
  const node: MetricsPoint = { startTimeMs: 0, timestampMs: 0, cumulativeCpu: 0, memoryBytes: 0 };
  const pods = new Map<string, Map<string, MetricsPoint>>();
  const container = (s: Sample): MetricsPoint => {
    const key = `${s.labels['namespace'] ?? ''}/${s.labels['pod'] ?? ''}`;
    let p = pods.get(key);
    if (!p) pods.set(key, (p = new Map()));
    const name = s.labels['container'] ?? '';
    let c = p.get(name);
    if (!c) p.set(name, (c = { startTimeMs: 0, timestampMs: 0, cumulativeCpu: 0, memoryBytes: 0 }));
    return c;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = parseSampleLine(line);
    const at = s.timestampMs ?? requestTimeMs;
    switch (s.name) {
      case 'node_cpu_usage_seconds_total':
        node.cumulativeCpu = toNanos(s.value);
        node.timestampMs = at;
        break;
      case 'node_memory_working_set_bytes':
        node.memoryBytes = toCount(s.value);
        node.timestampMs = at;
        break;
      case 'container_cpu_usage_seconds_total': {
        const c = container(s);
        c.cumulativeCpu = toNanos(s.value);
        c.timestampMs = at;
        break;
      }
      case 'container_memory_working_set_bytes': {
        const c = container(s);
        c.memoryBytes = toCount(s.value);
        c.timestampMs = at;
        break;
      }
      case 'container_start_time_seconds':
        container(s).startTimeMs = Math.round(s.value * 1000);
        break;
    }
  }
  if (node.timestampMs && node.cumulativeCpu && node.memoryBytes) batch.nodes.set(nodeName, node);
  for (const [key, containers] of pods) {
    const complete = new Map<string, MetricsPoint>();
    let ok = true;
    for (const [name, c] of containers) {
      if (!c.timestampMs && !c.cumulativeCpu && !c.memoryBytes && !c.startTimeMs) continue;
      if (!c.cumulativeCpu || !c.memoryBytes) {
        ok = false;
        break;
      }
      complete.set(name, c);
    }
    if (ok && complete.size) batch.pods.set(key, complete);
  }
  return batch;
}

/** Seconds → nanoseconds, as a non-negative integer. */
function toNanos(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1e9) : 0;
}

function toCount(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}
