/**
 * Writing compiled policy rules to the nf_tables `iptables` (filter table), and removing them.
 * Every rule lives in chains named `BOSUN-NWPLCY*`; the only rules outside them are the jumps
 * (HOOK_JUMPS: FORWARD, and INPUT for DNS to the node), inserted first so that no ACCEPT of
 * another component (kube-proxy style forward chains) runs before policy. Pod traffic on the
 * node crosses the bridge with bridge-nf-call-iptables on, and traffic to other nodes is
 * routed: both pass FORWARD. Traffic the node itself sends (probes) passes OUTPUT only and is
 * never filtered here. The bridge's INPUT path is filtered for DNS to the node only.
 */
import { jumpsTo, quoteLine, readTable, restore, type TableRules } from '../network/iptables.ts';
import { CHAIN_PREFIX, DNS_CHAIN, MAIN_CHAIN, type CompiledRules } from './compile.ts';

const JUMP_COMMENT = 'bosun network policy';

/** The jumps from built-in chains into ours (tokens after `-A <hook>`), each inserted first. */
export const HOOK_JUMPS: readonly { hook: string; rule: readonly string[] }[] = [
  { hook: 'FORWARD', rule: ['-m', 'comment', '--comment', JUMP_COMMENT, '-j', MAIN_CHAIN] },
  { hook: 'INPUT', rule: ['-p', 'udp', '-m', 'udp', '--dport', '53', '-m', 'comment', '--comment', `${JUMP_COMMENT}: DNS to the node`, '-j', DNS_CHAIN] },
  { hook: 'INPUT', rule: ['-p', 'tcp', '-m', 'tcp', '--dport', '53', '-m', 'comment', '--comment', `${JUMP_COMMENT}: DNS to the node`, '-j', DNS_CHAIN] },
];

function valueAfter(rule: readonly string[], flag: string): string | undefined {
  const i = rule.indexOf(flag);
  return i >= 0 ? rule[i + 1] : undefined;
}

/** Whether the jump is in place: same hook, target and protocol (not token-exact: `-S` may reorder). */
function hooked(current: TableRules, j: (typeof HOOK_JUMPS)[number]): boolean {
  const target = valueAfter(j.rule, '-j')!;
  return (current.get(j.hook) ?? []).some((r) => jumpsTo(r, target) && valueAfter(r, '-p') === valueAfter(j.rule, '-p'));
}

function isOurs(chain: string): boolean {
  return chain === MAIN_CHAIN || chain.startsWith(CHAIN_PREFIX);
}

/** The body of the restore script for `rules` (chain declarations flush them; then their rules). */
export function renderRules(rules: CompiledRules): string[] {
  const lines = rules.chains.map((c) => `:${c.name} - [0:0]`);
  for (const c of rules.chains) for (const r of c.rules) lines.push(quoteLine(['-A', c.name, ...r]));
  return lines;
}

/**
 * The iptables-restore script that brings the filter table (as read in `current`) to `rules`:
 * the chains rewritten, a missing hook jump inserted first, chains of ours no longer wanted
 * flushed and deleted. One transaction; other chains are never touched.
 */
export function restoreScript(rules: CompiledRules, current: TableRules): string {
  const lines = renderRules(rules);
  const wanted = new Set(rules.chains.map((c) => c.name));
  for (const j of HOOK_JUMPS) if (!hooked(current, j)) lines.push(quoteLine(['-I', j.hook, '1', ...j.rule]));
  const stale = [...current.keys()].filter((c) => isOurs(c) && !wanted.has(c));
  for (const c of stale) lines.unshift(`:${c} - [0:0]`);
  for (const c of stale) lines.push(`-X ${c}`);
  return `*filter\n${lines.join('\n')}\nCOMMIT\n`;
}

/** What `applyRules` needs from the host; tests pass fakes. */
export interface IptablesIO {
  readTable(table: string): Promise<TableRules>;
  restore(script: string): Promise<void>;
}

export const hostIptables: IptablesIO = { readTable, restore };

/**
 * Brings the host to `rules`. Skips the write when the same rule body was applied last
 * (`last`), the hook jump is in place and no stale chain of ours is left; returns the body
 * applied (pass it back as `last`). Callers serialize calls.
 */
export async function applyRules(rules: CompiledRules, last: string | undefined, io: IptablesIO = hostIptables): Promise<string> {
  const body = renderRules(rules).join('\n');
  const current = await io.readTable('filter');
  const wanted = new Set(rules.chains.map((c) => c.name));
  const hooks = HOOK_JUMPS.every((j) => hooked(current, j));
  const stale = [...current.keys()].some((c) => isOurs(c) && !wanted.has(c));
  const present = [...wanted].every((c) => current.has(c));
  if (body === last && hooks && !stale && present) return body;
  await io.restore(restoreScript(rules, current));
  return body;
}

/**
 * Removes every policy rule of this node: the jumps into `BOSUN-NWPLCY` from any other chain,
 * then all `BOSUN-NWPLCY*` chains, in one transaction. Idempotent; other rules stay.
 */
export async function removeNetworkPolicyRules(io: IptablesIO = hostIptables): Promise<void> {
  const current = await io.readTable('filter');
  const ours = [...current.keys()].filter(isOurs);
  if (ours.length === 0) return;
  const lines: string[] = [];
  for (const [chain, list] of current) {
    if (isOurs(chain)) continue;
    for (const r of list) if (ours.some((c) => jumpsTo(r, c))) lines.push(quoteLine(['-D', ...r.slice(1)]));
  }
  for (const c of ours) lines.push(`:${c} - [0:0]`);
  for (const c of ours) lines.push(`-X ${c}`);
  await io.restore(`*filter\n${lines.join('\n')}\nCOMMIT\n`);
}
