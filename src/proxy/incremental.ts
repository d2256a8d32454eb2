/**
 * Incremental rule generation: each service port's chains are rendered once and reused while
 * what they depend on (the ProxyServicePort itself and the node info) is unchanged, so a sync
 * after one Service changed costs that Service's rules plus the joining of the top-level chains
 * (upstream's partial sync does the same for its per-service chains). The output is, by
 * contract, exactly `renderRestore(buildProxyRules(ports, node), opts)` (tested in
 * incremental.test.ts).
 */
import { headRules, renderChains, restoreScript, servicePortRules, tailRules, TOP_LEVEL_CHAINS, type ProxyNodeInfo, type ProxyServicePort, type Rendered, type RenderedChains, type RenderOptions } from './rules.ts';

interface Entry {
  /** Everything the chains depend on, serialized. */
  key: string;
  /** The port the chains were made from (or found equal to). */
  sp: ProxyServicePort;
  chains: RenderedChains;
}

/** Per-sync counters of the cache. */
export interface CacheStats {
  /** Service ports whose rules were reused. */
  reused: number;
  /** Service ports whose rules were generated. */
  generated: number;
}

export class ProxyRuleCache {
  #entries = new Map<string, Entry>();
  #nodeKey = '';
  #fixed: { head: RenderedChains; tail: RenderedChains } | undefined;
  last: CacheStats = { reused: 0, generated: 0 };

  /** `renderRestore(buildProxyRules(ports, node), opts)`, reusing the rules of unchanged ports. */
  render(ports: readonly ProxyServicePort[], node: ProxyNodeInfo, opts: RenderOptions = {}): Rendered {
    const nodeKey = JSON.stringify(node);
    if (nodeKey !== this.#nodeKey || !this.#fixed) {
      this.#entries.clear();
      this.#nodeKey = nodeKey;
      this.#fixed = { head: renderChains(headRules()), tail: renderChains(tailRules(node)) };
    }
    const stats: CacheStats = { reused: 0, generated: 0 };
    const next = new Map<string, Entry>();
    const parts: RenderedChains[] = [this.#fixed.head];
    for (const sp of ports) {
      const id = `${sp.name}|${sp.protocol}`;
      let entry = next.get(id) ?? this.#entries.get(id);
      // The same object (ServicePortTracker) needs no comparison of contents.
      const key = entry?.sp === sp ? entry.key : JSON.stringify(sp);
      if (entry?.key === key) {
        stats.reused++;
        entry = { ...entry, sp };
      } else {
        entry = { key, sp, chains: renderChains(servicePortRules(sp, node)) };
        stats.generated++;
      }
      next.set(id, entry);
      parts.push(entry.chains);
    }
    parts.push(this.#fixed.tail);
    this.#entries = next;
    this.last = stats;
    return restoreScript(mergeRendered(parts), opts);
  }

  /** Forgets everything (the next render generates every port's rules). */
  clear(): void {
    this.#entries.clear();
    this.#fixed = undefined;
  }
}

/** mergeRules on rendered chains: top-level chains first, each the join of every part's lines. */
export function mergeRendered(parts: readonly RenderedChains[]): RenderedChains {
  const out: RenderedChains = { filter: [], nat: [] };
  for (const table of ['filter', 'nat'] as const) {
    const top = new Map<string, string[]>(TOP_LEVEL_CHAINS[table].map((c) => [c, []]));
    const other = new Map<string, string>();
    for (const part of parts) {
      for (const [name, text] of part[table]) {
        const list = top.get(name);
        if (list) {
          if (text) list.push(text);
        } else {
          const prev = other.get(name);
          // Service chains are unique to a port; a repeated name joins as mergeRules does.
          other.set(name, prev === undefined || !prev ? text : text ? `${prev}\n${text}` : prev);
        }
      }
    }
    out[table] = [...[...top].map(([name, texts]): [string, string] => [name, texts.join('\n')]), ...other];
  }
  return out;
}
