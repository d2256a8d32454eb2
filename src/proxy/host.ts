/**
 * The service proxy's side effects on the host: reading what exists, applying a restore script
 * with `iptables-restore --noflush` (nf_tables iptables only), conntrack deletions, and the
 * removal of every chain and jump the proxy owns. Only chains named by rules.ts are touched.
 */
import { run } from '../network/exec.ts';
import { jumpsTo, readTable, restore } from '../network/iptables.ts';
import { isServiceChain, JUMP_RULES, TOP_LEVEL_CHAINS, type JumpRule } from './rules.ts';

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
