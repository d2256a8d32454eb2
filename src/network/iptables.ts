/**
 * Access to the nf_tables flavour of iptables (never iptables-legacy, whose tables cannot be
 * removed once created), plus the tokenizer and quoting that let rules read back with `-S`
 * be compared with, and fed back to, `iptables-restore`.
 */
import { NetworkError, run, runOk } from './exec.ts';

export interface Iptables {
  /** `iptables` binary (nf_tables backend). */
  readonly cmd: string;
  /** Its `iptables-restore`. */
  readonly restore: string;
}

let resolved: Promise<Iptables> | undefined;

async function resolveIptables(): Promise<Iptables> {
  const nft = await run('iptables-nft', ['--version']).catch(() => undefined);
  if (nft?.code === 0 && nft.stdout.includes('nf_tables')) return { cmd: 'iptables-nft', restore: 'iptables-nft-restore' };
  const plain = await run('iptables', ['--version']).catch(() => undefined);
  if (plain?.code === 0 && plain.stdout.includes('nf_tables')) return { cmd: 'iptables', restore: 'iptables-restore' };
  throw new NetworkError('ERR_NETWORK_COMMAND', 'no nf_tables iptables found (iptables-nft, or iptables with the nf_tables backend)');
}

/** The nf_tables iptables binaries; resolved once per process. */
export function iptables(): Promise<Iptables> {
  resolved ??= resolveIptables().catch((e: unknown) => {
    resolved = undefined;
    throw e;
  });
  return resolved;
}

/** One table as `iptables -S` shows it: chain name → its rules as token arrays. */
export type TableRules = Map<string, string[][]>;

/**
 * Reads every chain of `table` (built-in and user chains, each with its `-A` rules as token
 * arrays). A chain absent from the map does not exist. One iptables call.
 */
export async function readTable(table: string): Promise<TableRules> {
  const ipt = await iptables();
  const r = await run(ipt.cmd, ['-t', table, '-S']);
  if (r.code !== 0) throw new NetworkError('ERR_NETWORK_COMMAND', `${ipt.cmd} -t ${table} -S exited ${r.code}: ${r.stderr.trim()}`);
  const chains: TableRules = new Map();
  for (const line of r.stdout.split('\n')) {
    const t = tokenize(line);
    if (t.length < 2) continue;
    if (t[0] === '-P' || t[0] === '-N') {
      if (!chains.has(t[1]!)) chains.set(t[1]!, []);
    } else if (t[0] === '-A') {
      const rules = chains.get(t[1]!) ?? [];
      rules.push(t);
      chains.set(t[1]!, rules);
    }
  }
  return chains;
}

/** Applies an iptables-restore script with --noflush (one nf_tables transaction per table). */
export async function restore(script: string): Promise<void> {
  const ipt = await iptables();
  await runOk(ipt.restore, ['--noflush'], { input: script });
}

/** Splits an `iptables -S` line into arguments, honouring double quotes and backslash escapes. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (c === '"') {
      quoted = !quoted;
      has = true;
    } else if (!quoted && (c === ' ' || c === '\t')) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** Joins arguments into one iptables-restore line, quoting those with blanks or quotes. */
export function quoteLine(tokens: readonly string[]): string {
  return tokens.map((t) => (t === '' || /[\s"\\']/.test(t) ? `"${t.replace(/[\\"]/g, (m) => '\\' + m)}"` : t)).join(' ');
}

/** True when the rule's target (`-j` or `-g`) is `chain`. */
export function jumpsTo(rule: readonly string[], chain: string): boolean {
  for (let i = 0; i + 1 < rule.length; i++) if ((rule[i] === '-j' || rule[i] === '-g') && rule[i + 1] === chain) return true;
  return false;
}
