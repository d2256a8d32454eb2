/**
 * Service proxy figures: rule generation (Services + EndpointSlices → iptables-restore text) and
 * `iptables-restore --noflush` for 1,000 Services × 10 endpoints, full and incremental (one
 * Service's endpoints changed: upstream's partial sync), in both rule shapes: upstream's (one
 * KUBE-SEP chain per endpoint) and the compact one the agent uses (`endpointChains: false`).
 * Incremental generation goes through ProxyRuleCache, as the agent's sync does; it includes
 * servicePorts. Medians of 5 (generation) and 3 (restore; 1 for upstream's shape) runs.
 * The chains are loaded without any jump from the built-in chains, so they never see a packet,
 * and are removed at the end. The iptables part needs root and no service proxy running on
 * this machine (run it under the agent lock); otherwise only generation is measured.
 * Run alone: flock /tmp/bosun-agent.lock node bench/proxy.ts
 */
import type { EndpointSlice, Service } from '../src/api/index.ts';
import { ProxyRuleCache, removeProxyRules, servicePorts, type ProxyNodeInfo, type WrittenChains } from '../src/proxy/index.ts';
import { readTable, restore } from '../src/network/iptables.ts';

const services = 1000;
const endpointsPer = 10;
const runs = 5;
/** Upstream's shape restores (and removes) 11k chains in seconds on nf_tables: one run keeps the lock short. */
const restoreRunsOf = (node: ProxyNodeInfo) => (node.endpointChains === false ? 3 : 1);

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

/** Upstream's shape and partial sync; the agent's default (compact, unchanged top-level chains left out). */
const shapes = [
  ['upstream shape', { nodeName: 'bench-node', nodeIPs: ['10.42.0.1'], clusterCidr: '10.42.0.0/16', endpointChains: true }, false],
  ['compact shape', { nodeName: 'bench-node', nodeIPs: ['10.42.0.1'], clusterCidr: '10.42.0.0/16', endpointChains: false }, true],
] as const satisfies readonly (readonly [string, ProxyNodeInfo, boolean])[];

/** One sync's generation; a fresh cache generates everything (a full sync of a starting proxy). */
function generate(node: ProxyNodeInfo, variant: number, cache = new ProxyRuleCache(), previous?: WrittenChains, skipUnchangedTopLevel = false) {
  const { svcs, slices } = fixtures(variant);
  const t0 = performance.now();
  const out = cache.render(servicePorts(svcs, slices, node), node, { previous, skipUnchangedTopLevel });
  return { out, ms: performance.now() - t0 };
}

export async function benchProxy(record: (name: string, value: string) => void): Promise<void> {
  const label = `${services} Services x ${endpointsPer} endpoints`;
  const canRestore = process.getuid?.() === 0 && !(await readTable('nat')).has('KUBE-SERVICES');
  for (const [shape, node, skip] of shapes) {
    const gen: number[] = [];
    const genPartial: number[] = [];
    let full = generate(node, 0);
    for (let r = 0; r < runs; r++) {
      const cache = new ProxyRuleCache();
      full = generate(node, 0, cache);
      gen.push(full.ms);
      genPartial.push(generate(node, r + 1, cache, full.out.written, skip).ms);
    }
    const lines = full.out.text.split('\n').length;
    const chains = full.out.text.split('\n').filter((l) => l.startsWith(':')).length;
    record(`proxy rule generation, ${shape}, ${label}, full (median of ${runs})`, `${median(gen).toFixed(0)} ms, ${lines} lines, ${chains} chains`);
    record(`proxy rule generation, ${shape}, one Service changed (median of ${runs})`, `${median(genPartial).toFixed(1)} ms`);

    if (!canRestore) {
      record(`proxy iptables-restore, ${shape}`, process.getuid?.() === 0 ? 'skipped (a service proxy runs on this machine)' : 'skipped (needs root)');
      continue;
    }
    try {
      const fullMs: number[] = [];
      const partialMs: number[] = [];
      const readMs: number[] = [];
      const restoreRuns = restoreRunsOf(node);
      for (let r = 0; r < restoreRuns; r++) {
        const cache = new ProxyRuleCache();
        const f = generate(node, 0, cache);
        let t0 = performance.now();
        await restore(f.out.text);
        fullMs.push(performance.now() - t0);
        t0 = performance.now();
        await readTable('nat'); // what a full sync's host inspection reads
        readMs.push(performance.now() - t0);
        const p = generate(node, r + 1, cache, f.out.written, skip);
        t0 = performance.now();
        await restore(p.out.text);
        partialMs.push(performance.now() - t0);
        await removeProxyRules(); // the next full run starts from nothing, as a starting proxy
      }
      record(`proxy iptables-restore, ${shape}, full (median of ${restoreRuns})`, `${median(fullMs).toFixed(0)} ms`);
      record(`proxy iptables-restore, ${shape}, one Service changed (median of ${restoreRuns})`, `${median(partialMs).toFixed(0)} ms`);
      record(`proxy iptables -t nat -S (full-sync inspection), ${shape}`, `${median(readMs).toFixed(0)} ms`);
    } finally {
      await removeProxyRules();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchProxy((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
