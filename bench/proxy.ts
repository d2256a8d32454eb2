/**
 * Service proxy figures: rule generation (Services + EndpointSlices → iptables-restore text) and
 * `iptables-restore --noflush` for 1,000 Services × 10 endpoints, full and incremental (one
 * Service's endpoints changed: upstream's partial sync). Medians of 5 (generation) and 3 (restore) runs.
 * The chains are loaded without any jump from the built-in chains, so they never see a packet,
 * and are removed at the end. The iptables part needs root and no service proxy running on
 * this machine (run it under the agent lock); otherwise only generation is measured.
 * Run alone: flock /tmp/bosun-agent.lock node bench/proxy.ts
 */
import type { EndpointSlice, Service } from '../src/api/index.ts';
import { buildProxyRules, removeProxyRules, renderRestore, servicePorts, type ProxyNodeInfo } from '../src/proxy/index.ts';
import { readTable, restore } from '../src/network/iptables.ts';

const services = 1000;
const endpointsPer = 10;
const runs = 5;
/** A full restore of ~43,000 lines takes seconds on nf_tables: fewer runs keep the lock short. */
const restoreRuns = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fixtures(variant: number): { svcs: Service[]; slices: EndpointSlice[] } {
  const svcs: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < services; i++) {
    const name = `svc-${i}`;
    svcs.push({ metadata: { namespace: 'bench', name }, spec: { type: i % 10 === 0 ? 'NodePort' : 'ClusterIP', clusterIP: `10.43.${100 + (i >> 8)}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: i % 10 === 0 ? 30000 + i : undefined }] } });
    const eps = Array.from({ length: endpointsPer }, (_, k) => {
      const n = i * endpointsPer + k + (i === 0 ? variant : 0); // variant moves service 0's endpoints
      return { addresses: [`10.42.${(n >> 8) & 255}.${n & 255}`], conditions: { ready: true }, nodeName: 'bench-node' };
    });
    slices.push({ metadata: { namespace: 'bench', name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: eps });
  }
  return { svcs, slices };
}

const node: ProxyNodeInfo = { nodeName: 'bench-node', nodeIPs: ['10.42.0.1'], clusterCidr: '10.42.0.0/16' };

function generate(variant: number, previous?: ReturnType<typeof renderRestore>['written']) {
  const { svcs, slices } = fixtures(variant);
  const t0 = performance.now();
  const out = renderRestore(buildProxyRules(servicePorts(svcs, slices, node), node), { previous });
  return { out, ms: performance.now() - t0 };
}

export async function benchProxy(record: (name: string, value: string) => void): Promise<void> {
  const label = `${services} Services x ${endpointsPer} endpoints`;
  const gen: number[] = [];
  const genPartial: number[] = [];
  let full = generate(0);
  for (let r = 0; r < runs; r++) {
    full = generate(0);
    gen.push(full.ms);
    genPartial.push(generate(r + 1, full.out.written).ms);
  }
  const lines = full.out.text.split('\n').length;
  record(`proxy rule generation, ${label}, full (median of ${runs})`, `${median(gen).toFixed(0)} ms, ${lines} lines`);
  record(`proxy rule generation, one Service changed (median of ${runs})`, `${median(genPartial).toFixed(0)} ms`);

  if (process.getuid?.() !== 0) {
    record('proxy iptables-restore', 'skipped (needs root)');
    return;
  }
  if ((await readTable('nat')).has('KUBE-SERVICES')) {
    record('proxy iptables-restore', 'skipped (a service proxy runs on this machine)');
    return;
  }
  try {
    const fullMs: number[] = [];
    const partialMs: number[] = [];
    let written = full.out.written;
    for (let r = 0; r < restoreRuns; r++) {
      const f = generate(0);
      let t0 = performance.now();
      await restore(f.out.text);
      fullMs.push(performance.now() - t0);
      const p = generate(r + 1, f.out.written);
      t0 = performance.now();
      await restore(p.out.text);
      partialMs.push(performance.now() - t0);
      written = p.out.written;
      const back = generate(0, written); // return to the base state before the next full run
      await restore(back.out.text);
    }
    record(`proxy iptables-restore, ${label}, full (median of ${restoreRuns})`, `${median(fullMs).toFixed(0)} ms`);
    record(`proxy iptables-restore, one Service changed (median of ${restoreRuns})`, `${median(partialMs).toFixed(0)} ms`);
  } finally {
    await removeProxyRules();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchProxy((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
