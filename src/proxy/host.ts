/**
 * The service proxy's side effects on the host: reading what exists, applying a restore script
 * with `iptables-restore --noflush` (nf_tables iptables only) or an `nft -f` transaction (the
 * nftables mode's one table), conntrack deletions, and the removal of every chain and jump the
 * proxy owns. Only chains named by rules.ts, and the table of nft.ts, are touched.
 */
import { NetworkError, run } from '../network/exec.ts';
import { jumpsTo, readTable, restore } from '../network/iptables.ts';
import { isServiceChain, JUMP_RULES, TOP_LEVEL_CHAINS, type JumpRule } from './rules.ts';
import { NFT_TABLE, parseNftNames } from './nft.ts';

export { restore };

/** What a full sync needs to know of the kernel: existing service chains, missing jumps. */
export async function inspectHost(): Promise<{ existing: { filter: string[]; nat: string[] }; missingJumps: JumpRule[] }> {
  const filter = await readTable('filter');
  const nat = await readTable('nat');
  const tables = { filter, nat };
  const missingJumps = JUMP_RULES.filter((j) => {
    const target = j.rule[j.rule.length - 1]!;
    return !(tables[j.table].get(j.hook) ?? []).some((r) => jumpsTo(r, target));
  });
  return { existing: { filter: [...filter.keys()].filter(isServiceChain), nat: [...nat.keys()].filter(isServiceChain) }, missingJumps };
}

/**
 * Runs `conntrack` with each argument list. "0 flow entries" (exit 1) is not an error; other
 * failures are reported through `log` and do not stop the rest.
 */
export async function deleteConntrack(calls: readonly string[][], log: (msg: string) => void): Promise<void> {
  for (const args of calls) {
    const r = await run('conntrack', args, { timeoutMs: 10_000 }).catch((err: unknown) => ({ code: -1, stdout: '', stderr: (err as Error).message }));
    if (r.code !== 0 && !/0 flow entries/.test(r.stderr)) log(`proxy: conntrack ${args.join(' ')}: ${r.stderr.trim()}`);
  }
}

/**
 * Removes every rule and chain of the service proxy from the nat and filter tables: the jumps
 * from built-in chains, then the chains. Idempotent; chains of other programs are untouched.
 * Call it only when no proxy runs on this machine (uninstall, test clean-up).
 */
export async function removeProxyRules(): Promise<void> {
  let script = '';
  for (const table of ['filter', 'nat'] as const) {
    const rules = await readTable(table);
    const own = [...rules.keys()].filter((c) => isServiceChain(c) || (TOP_LEVEL_CHAINS[table] as readonly string[]).includes(c));
    if (own.length === 0) continue;
    const ownSet = new Set(own);
    const lines: string[] = [];
    for (const [from, list] of rules) {
      if (ownSet.has(from)) continue;
      for (const r of list) if (own.some((c) => jumpsTo(r, c))) lines.push(deleteLine(r));
    }
    for (const c of own) lines.push(`-F ${c}`);
    for (const c of own) lines.push(`-X ${c}`);
    script += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  if (script) await restore(script);
}

function deleteLine(rule: readonly string[]): string {
  return ['-D', ...rule.slice(1)].map((t) => (t === '' || /[\s"\\']/.test(t) ? `"${t.replace(/[\\"]/g, (m) => '\\' + m)}"` : t)).join(' ');
}

/** Runs one `nft -f -` transaction; throws with nft's message when it fails (nothing applied). */
export async function nftApply(script: string): Promise<void> {
  if (!script) return;
  const r = await run('nft', ['-f', '-'], { input: script, timeoutMs: 60_000 });
  if (r.code !== 0) throw new NetworkError('ERR_NETWORK_COMMAND', `nft -f exited ${r.code}: ${r.stderr.trim().slice(0, 2000)}`);
}

/** The service chains and affinity sets of the nftables mode's table (empty when it does not exist). */
export async function nftInspect(): Promise<{ chains: string[]; sets: string[] }> {
  const chains = await run('nft', ['-t', 'list', 'chains', 'ip']);
  const sets = await run('nft', ['-t', 'list', 'sets', 'ip']);
  if (chains.code !== 0 || sets.code !== 0) throw new NetworkError('ERR_NETWORK_COMMAND', `nft list: ${(chains.stderr || sets.stderr).trim()}`);
  return { chains: parseNftNames(chains.stdout, 'chain'), sets: parseNftNames(sets.stdout, 'set') };
}

/** Deletes the nftables mode's table (`ip kube-proxy`) with everything in it; idempotent. */
export async function removeNftProxyRules(): Promise<void> {
  const r = await run('nft', ['delete', 'table', 'ip', NFT_TABLE]).catch(() => undefined);
  if (r && r.code !== 0 && !/No such file or directory/.test(r.stderr)) throw new NetworkError('ERR_NETWORK_COMMAND', `nft delete table ip ${NFT_TABLE}: ${r.stderr.trim()}`);
}
