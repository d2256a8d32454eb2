/**
 * Service proxy figures: rule generation (Services + EndpointSlices → iptables-restore text) and
 * `iptables-restore --noflush` for 1,000 Services × 10 endpoints, full and incremental (one
 * Service's endpoints changed: upstream's partial sync), in both rule shapes: upstream's (one
 * KUBE-SEP chain per endpoint) and the compact one the agent uses (`endpointChains: false`).
 * Incremental generation goes through ServicePortTracker and ProxyRuleCache, as the agent's
 * sync does (unchanged objects are the same objects, as in an informer). Medians of 5 (generation) and 3 (restore; 1 for upstream's shape) runs.
 * The chains are loaded without any jump from the built-in chains, so they never see a packet,
 * and are removed at the end. The iptables part needs root and no service proxy running on
 * this machine (run it under the agent lock); otherwise only generation is measured.
 * The nftables mode (`--proxy-mode nftables`) is measured the same way, each figure from
 * Service and EndpointSlice objects to the transaction applied (servicePorts, generation and
 * `nft -f`), with its base chains loaded as regular chains (no hooks: no packet sees them).
 * Run alone: flock /tmp/bosun-agent.lock node bench/proxy.ts
 */
import type { EndpointSlice, Service } from '../src/api/index.ts';
import { NFT_TABLE, nftApply, nftDeleteChains, NftRuleCache, removeNftProxyRules, ProxyRuleCache, removeProxyRules, ServicePortTracker, type NftWritten, type ProxyNodeInfo, type WrittenChains } from '../src/proxy/index.ts';
import { run } from '../src/network/exec.ts';
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

function slice(i: number, variant: number): EndpointSlice {
  const name = `svc-${i}`;
  const eps = Array.from({ length: endpointsPer }, (_, k) => {
    const n = i * endpointsPer + k + variant; // variant moves the endpoints
    return { addresses: [`10.42.${(n >> 8) & 255}.${n & 255}`], conditions: { ready: true }, nodeName: 'bench-node' };
  });
  return { metadata: { namespace: 'bench', name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: eps };
}

const base = (() => {
  const svcs: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < services; i++) {
    svcs.push({ metadata: { namespace: 'bench', name: `svc-${i}` }, spec: { type: i % 10 === 0 ? 'NodePort' : 'ClusterIP', clusterIP: `10.43.${100 + (i >> 8)}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: i % 10 === 0 ? 30000 + i : undefined }] } });
    slices.push(slice(i, 0));
  }
  return { svcs, slices };
})();

/** The informer caches after `variant` changes of service 0's slice: every other object is the one of before, as in an informer. */
function fixtures(variant: number): { svcs: Service[]; slices: EndpointSlice[] } {
  return variant === 0 ? base : { svcs: base.svcs, slices: [slice(0, variant), ...base.slices.slice(1)] };
}

/** Upstream's shape and partial sync (the agent's default); the compact shape, unchanged top-level chains left out. */
const shapes = [
  ['upstream shape', { nodeName: 'bench-node', nodeIPs: ['10.42.0.1'], clusterCidr: '10.42.0.0/16', endpointChains: true }, false],
  ['compact shape', { nodeName: 'bench-node', nodeIPs: ['10.42.0.1'], clusterCidr: '10.42.0.0/16', endpointChains: false }, true],
] as const satisfies readonly (readonly [string, ProxyNodeInfo, boolean])[];

/** The agent's sync keeps one ServicePortTracker beside its cache. */
const trackers = new WeakMap<object, ServicePortTracker>();

/** One sync's generation; a fresh cache generates everything (a full sync of a starting proxy). */
function generate(node: ProxyNodeInfo, variant: number, cache = new ProxyRuleCache(), previous?: WrittenChains, skipUnchangedTopLevel = false, tracker = trackers.get(cache) ?? new ServicePortTracker()) {
  trackers.set(cache, tracker);
  const { svcs, slices } = fixtures(variant);
  const t0 = performance.now();
  const out = cache.render(tracker.ports(svcs, slices, node), node, { previous, skipUnchangedTopLevel });
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
  const nftTable = await run('nft', ['list', 'table', 'ip', NFT_TABLE]).catch(() => undefined);
  await benchNft(record, canRestore && nftTable !== undefined && nftTable.code !== 0);
}

/** nftables mode: sync latency from the objects to the applied transaction, full and for one changed Service. */
async function benchNft(record: (name: string, value: string) => void, canApply: boolean): Promise<void> {
  const node: ProxyNodeInfo = { nodeName: 'bench-node', nodeIPs: ['10.42.0.1'], clusterCidr: '10.42.0.0/16', podCidr: '10.42.0.0/24' };
  const label = `${services} Services x ${endpointsPer} endpoints`;
  const hookless = (text: string) => text.replace(/ \{ type \w+ hook \w+ priority \S+ ; policy accept ; \}/g, '');
  const sync = (cache: NftRuleCache, variant: number, previous?: NftWritten) => {
    const tracker = trackers.get(cache) ?? new ServicePortTracker();
    trackers.set(cache, tracker);
    const { svcs, slices } = fixtures(variant);
    const t0 = performance.now();
    const out = cache.render(tracker.ports(svcs, slices, node), node, { previous });
    return { out, ms: performance.now() - t0 };
  };
  const gen: number[] = [];
  const genPartial: number[] = [];
  let chains = 0;
  for (let r = 0; r < runs; r++) {
    const cache = new NftRuleCache();
    const f = sync(cache, 0);
    chains = f.out.written.chains.size;
    gen.push(f.ms);
    genPartial.push(sync(cache, r + 1, f.out.written).ms);
  }
  record(`nftables mode generation, ${label}, full (median of ${runs})`, `${median(gen).toFixed(0)} ms, ${chains} service chains`);
  record(`nftables mode generation, one Service changed (median of ${runs})`, `${median(genPartial).toFixed(1)} ms`);
  if (!canApply) {
    record('nftables mode nft -f', process.getuid?.() === 0 ? 'skipped (a service proxy runs on this machine)' : 'skipped (needs root)');
    return;
  }
  const fullMs: number[] = [];
  const partialMs: number[] = [];
  try {
    for (let r = 0; r < 3; r++) {
      await removeNftProxyRules();
      const cache = new NftRuleCache();
      let t0 = performance.now();
      const f = sync(cache, 0);
      await nftApply(hookless(f.out.text));
      fullMs.push(performance.now() - t0);
      let written = f.out.written;
      const partial: number[] = [];
      for (let k = 1; k <= 5; k++) {
        t0 = performance.now();
        const p = sync(cache, k, written);
        await nftApply(p.out.text);
        partial.push(performance.now() - t0);
        await nftApply(nftDeleteChains(p.out.stale));
        written = p.out.written;
      }
      partialMs.push(median(partial));
    }
  } finally {
    await removeNftProxyRules();
  }
  record(`nftables mode sync (objects → nft -f applied), full (median of 3)`, `${median(fullMs).toFixed(0)} ms`);
  record(`nftables mode sync, one Service's endpoints changed (median of 3×5)`, `${median(partialMs).toFixed(0)} ms`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchProxy((name, value) => process.stdout.write(`${name.padEnd(58)} ${value}\n`));
}
