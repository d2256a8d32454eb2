/**
 * Runs a CNI network configuration list the way a container runtime does (libcni's
 * conventions): ADD and CHECK run the plugins in order, DEL in reverse; each plugin gets the
 * list's name and cniVersion, the previous result as `prevResult`, and `runtimeConfig` for the
 * capabilities it declares. Used by tests and tools; in a running node containerd's CRI
 * plugin does this itself.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { BosunError } from '../util/errors.ts';
import type { CniConfList, CniPluginConf } from './config.ts';
import { NetworkError, run } from './exec.ts';

export const DEFAULT_CNI_BIN_DIR = '/usr/lib/cni';
/** Per-plugin time limit unless given; upstream has none besides the caller's context. */
export const DEFAULT_CNI_PLUGIN_TIMEOUT_MS = 120_000;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** A CNI result (spec 1.0.0; the fields Bosun reads). */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

export interface CniExecOptions {
  containerId: string;
  /** Path of the network namespace, e.g. `/var/run/netns/x`. */
  netns: string;
  /** Interface name inside the namespace, e.g. `eth0`. */
  ifName: string;
  /** Directories searched for plugin binaries, in order. Default `/usr/lib/cni`. */
  binDirs?: string[];
  /** CNI_ARGS (`K=V;K=V`). */
  args?: Record<string, string>;
  /** Values for declared capabilities, e.g. `{ portMappings: [...] }`, passed as runtimeConfig. */
  capabilityArgs?: Record<string, unknown>;
  /** For DEL and CHECK: the result ADD answered (DEL works without it, CHECK does not). */
  prevResult?: CniResult;
  /** Per-plugin time limit; the plugin is killed when it runs out. Default 120 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The configuration one plugin of `list` receives on stdin. */
export function pluginConfig(list: CniConfList, plugin: CniPluginConf, prevResult: CniResult | undefined, capabilityArgs: Record<string, unknown> = {}): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult) conf['prevResult'] = prevResult;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && capabilityArgs[cap] !== undefined) runtimeConfig[cap] = capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) conf['runtimeConfig'] = runtimeConfig;
  return conf;
}

async function findPlugin(type: string, binDirs: readonly string[]): Promise<string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(type)) throw new BosunError('ERR_INVALID_CONFIG', `CNI plugin type ${JSON.stringify(type)} is not a file name`);
  for (const dir of binDirs) {
    const file = path.join(dir, type);
    try {
      await fs.access(file, fs.constants.X_OK);
      return file;
    } catch {}
  }
  throw new NetworkError('ERR_CNI_PLUGIN', `CNI plugin ${type} not found in ${binDirs.join(':')}`);
}

async function execPlugin(command: CniCommand, conf: Record<string, unknown>, opts: CniExecOptions): Promise<string> {
  const binDirs = opts.binDirs ?? [DEFAULT_CNI_BIN_DIR];
  const type = String(conf['type']);
  const file = await findPlugin(type, binDirs);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CNI_COMMAND: command,
    CNI_CONTAINERID: opts.containerId,
    CNI_NETNS: opts.netns,
    CNI_IFNAME: opts.ifName,
    CNI_ARGS: Object.entries(opts.args ?? {}).map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_PATH: binDirs.join(':'),
  };
  const r = await run(file, [], { input: JSON.stringify(conf), env, timeoutMs: opts.timeoutMs ?? DEFAULT_CNI_PLUGIN_TIMEOUT_MS, signal: opts.signal });
  if (r.code !== 0) {
    let cniCode: number | undefined;
    let msg = r.stderr.trim() || r.stdout.trim();
    try {
      const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
      cniCode = e.code;
      msg = [e.msg, e.details].filter(Boolean).join(': ') || msg;
    } catch {}
    throw new NetworkError('ERR_CNI_PLUGIN', `CNI ${command} ${type} (network ${String(conf['name'])}) failed${cniCode !== undefined ? ` with code ${cniCode}` : ''}: ${msg}`, { cniCode });
  }
  return r.stdout;
}

/**
 * Runs `command` for every plugin of `conflist`. ADD answers the last plugin's result (pass
 * it as `prevResult` to DEL and CHECK); DEL and CHECK answer undefined. Stops at the first
 * failing plugin with ERR_CNI_PLUGIN (`cniCode` from the plugin). After a failed ADD the
 * caller should DEL to release what the earlier plugins set up. DEL is idempotent.
 */
export async function cniExec(command: CniCommand, conflist: CniConfList, opts: CniExecOptions): Promise<CniResult | undefined> {
  switch (command) {
    case 'ADD': {
      let prev: CniResult | undefined;
      for (const p of conflist.plugins) {
        const out = await execPlugin('ADD', pluginConfig(conflist, p, prev, opts.capabilityArgs), opts);
        try {
          prev = JSON.parse(out) as CniResult;
        } catch (err) {
          throw new NetworkError('ERR_CNI_PLUGIN', `CNI ADD ${p.type} printed no JSON result: ${out.slice(0, 200)}`, { cause: err });
        }
      }
      return prev;
    }
    case 'DEL':
      for (const p of [...conflist.plugins].reverse()) await execPlugin('DEL', pluginConfig(conflist, p, opts.prevResult, opts.capabilityArgs), opts);
      return undefined;
    case 'CHECK':
      if (conflist.disableCheck) return undefined;
      if (!opts.prevResult) throw new BosunError('ERR_INVALID_CONFIG', 'CNI CHECK needs the result of ADD (prevResult)');
      for (const p of conflist.plugins) await execPlugin('CHECK', pluginConfig(conflist, p, opts.prevResult, opts.capabilityArgs), opts);
      return undefined;
  }
}
