/**
 * The kubelet's `/metrics/resource` (pkg/kubelet/metrics/collectors/resource_metrics.go): node,
 * pod and container CPU and memory in Prometheus text format 0.0.4, rendered from a stats
 * summary (upstream reads its summary provider's CPU and memory stats). Metric names, help
 * texts, label order and stability markers as upstream; families in upstream's describe order,
 * each with its HELP and TYPE lines and samples sorted by labels, as the Prometheus registry
 * gathers them. Cumulative CPU is in core-seconds, memory the working set in bytes, a
 * container's start time in seconds since the epoch; `scrape_error` and `resource_scrape_error`
 * are 0 (1 when the summary failed).
 *
 * Sample timestamps: upstream stamps each with its stats' time. Bosun's summary carries
 * RFC 3339 times of whole seconds, too coarse for the rate metrics-server derives from two
 * scrapes, so every sample is stamped with `takenAtMs`, the time the summary was taken (ms).
 * Pure function.
 */

interface CpuLike {
  usageCoreNanoSeconds?: number;
}
interface MemLike {
  workingSetBytes?: number;
}
/** The parts of a stats/v1alpha1 Summary this reads. */
export interface SummaryLike {
  node?: { cpu?: CpuLike; memory?: MemLike };
  pods?: Array<{
    podRef: { name: string; namespace: string };
    cpu?: CpuLike;
    memory?: MemLike;
    containers?: Array<{ name: string; startTime?: string; cpu?: CpuLike; memory?: MemLike }>;
  }>;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  stability: 'STABLE' | 'ALPHA';
  samples: { labels: string; value: number; timestamp?: number }[];
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const containerLabels = (c: string, pod: string, ns: string) => `container="${escape(c)}",namespace="${escape(ns)}",pod="${escape(pod)}"`;
const podLabels = (pod: string, ns: string) => `namespace="${escape(ns)}",pod="${escape(pod)}"`;

/** Go's strconv.FormatFloat(v, 'g', -1, 64) as the Prometheus text encoder writes values. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const exp = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)));
  // Go's shortest %g: exponent form below 1e-4 and from 1e6 on, with at least two exponent digits.
  if (exp < -4 || exp >= 6) {
    const [m, e] = v.toExponential().split('e');
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(v);
}

/** Renders `/metrics/resource` from a summary (undefined: the summary failed). */
export function renderResourceMetrics(summary: SummaryLike | undefined, takenAtMs: number): string {
  const fam = (name: string, help: string, type: Family['type'], stability: Family['stability']): Family => ({ name, help, type, stability, samples: [] });
  const nodeCpu = fam('node_cpu_usage_seconds_total', 'Cumulative cpu time consumed by the node in core-seconds', 'counter', 'STABLE');
  const nodeMem = fam('node_memory_working_set_bytes', 'Current working set of the node in bytes', 'gauge', 'STABLE');
  const start = fam('container_start_time_seconds', 'Start time of the container since unix epoch in seconds', 'gauge', 'STABLE');
  const cCpu = fam('container_cpu_usage_seconds_total', 'Cumulative cpu time consumed by the container in core-seconds', 'counter', 'STABLE');
  const cMem = fam('container_memory_working_set_bytes', 'Current working set of the container in bytes', 'gauge', 'STABLE');
  const pCpu = fam('pod_cpu_usage_seconds_total', 'Cumulative cpu time consumed by the pod in core-seconds', 'counter', 'STABLE');
  const pMem = fam('pod_memory_working_set_bytes', 'Current working set of the pod in bytes', 'gauge', 'STABLE');
  const scrapeError = fam('scrape_error', '1 if there was an error while getting container metrics, 0 otherwise', 'gauge', 'ALPHA');
  const resourceScrapeError = fam('resource_scrape_error', '1 if there was an error while getting container metrics, 0 otherwise', 'gauge', 'STABLE');
  const errors = summary ? 0 : 1;
  scrapeError.samples.push({ labels: '', value: errors });
  resourceScrapeError.samples.push({ labels: '', value: errors });
  if (summary) {
    const cpuNs = summary.node?.cpu?.usageCoreNanoSeconds;
    if (cpuNs !== undefined) nodeCpu.samples.push({ labels: '', value: cpuNs / 1e9, timestamp: takenAtMs });
    const ws = summary.node?.memory?.workingSetBytes;
    if (ws !== undefined) nodeMem.samples.push({ labels: '', value: ws, timestamp: takenAtMs });
    for (const pod of summary.pods ?? []) {
      const { name, namespace } = pod.podRef;
      for (const c of pod.containers ?? []) {
        const labels = containerLabels(c.name, name, namespace);
        const started = c.startTime ? Date.parse(c.startTime) : NaN;
        if (started > 0) start.samples.push({ labels, value: started / 1000 });
        if (c.cpu?.usageCoreNanoSeconds !== undefined) cCpu.samples.push({ labels, value: c.cpu.usageCoreNanoSeconds / 1e9, timestamp: takenAtMs });
        if (c.memory?.workingSetBytes !== undefined) cMem.samples.push({ labels, value: c.memory.workingSetBytes, timestamp: takenAtMs });
      }
      if (pod.cpu?.usageCoreNanoSeconds !== undefined) pCpu.samples.push({ labels: podLabels(name, namespace), value: pod.cpu.usageCoreNanoSeconds / 1e9, timestamp: takenAtMs });
      if (pod.memory?.workingSetBytes !== undefined) pMem.samples.push({ labels: podLabels(name, namespace), value: pod.memory.workingSetBytes, timestamp: takenAtMs });
    }
  }
  // The registry gathers families sorted by name, samples sorted by label values.
  const families = [nodeCpu, nodeMem, start, cCpu, cMem, pCpu, pMem, scrapeError, resourceScrapeError].sort((a, b) => (a.name < b.name ? -1 : 1));
  let out = '';
  for (const f of families) {
    if (!f.samples.length) continue;
    out += `# HELP ${f.name} [${f.stability}] ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    f.samples.sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0));
    for (const s of f.samples) out += `${f.name}${s.labels ? `{${s.labels}}` : ''} ${formatValue(s.value)}${s.timestamp !== undefined ? ` ${Math.round(s.timestamp)}` : ''}\n`;
  }
  return out;
}
