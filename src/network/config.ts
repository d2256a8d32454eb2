/**
 * The CNI network configuration Bosun hands to containerd's CRI plugin: one conflist in a
 * conf dir of Bosun's own, read by containerd (max_conf_num = 1, so it must be the only file
 * there). containerd attaches loopback itself (go-cni's built-in `cni-loopback` network on
 * `lo`), so the list holds only the pod interface: bridge + host-local IPAM, then portmap.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { BosunError } from '../util/errors.ts';
import { readFileIfExists, writeFileAtomic } from '../util/fs.ts';
import { parseCidr } from './cidr.ts';

/** The CNI network name; host-local keeps its reservations in `<dataDir>/<NETWORK_NAME>`. */
export const NETWORK_NAME = 'bosun';
/** File name of the conflist in the conf dir (containerd takes the first file in sort order). */
export const CONFLIST_NAME = '10-bosun.conflist';
export const DEFAULT_BRIDGE = 'bosun0';
/** CNI spec version; the plugins (1.1.1) and containerd 1.6's libcni both speak 1.0.0. */
export const CNI_VERSION = '1.0.0';

export interface CniConfigOptions {
  /** Directory containerd reads (`[plugins."io.containerd.grpc.v1.cri".cni] conf_dir`). */
  confDir: string;
  /** This node's pod range, e.g. `10.42.0.0/24`; the bridge takes its first address as gateway. */
  podCidr: string;
  /** Absolute directory where host-local keeps address reservations. */
  dataDir: string;
  /** Bridge device name, 1–15 characters. Default `bosun0`. */
  bridge?: string;
  /** MTU of the bridge and pod interfaces. Default: the plugin's (the kernel's, 1500). */
  mtu?: number;
  /**
   * Masquerade pod traffic to addresses outside the node's pod range (bridge plugin ipMasq).
   * Default false: while the guard rules are installed every packet it would rewrite is
   * rejected in FORWARD before nat POSTROUTING, so it would only cost two nat rules per pod
   * (measured here: about 40 ms more per ADD and 35 ms per DEL). Turn it on together with
   * any guard that lets pods reach beyond the machine.
   */
  ipMasq?: boolean;
}

/** A CNI network configuration list (the subset Bosun writes and cniExec runs). */
export interface CniConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: CniPluginConf[];
}

export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

const BRIDGE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Validates a bridge (interface) name; throws ERR_INVALID_CONFIG. */
export function checkBridgeName(bridge: string): string {
  if (!BRIDGE_NAME.test(bridge) || bridge === '.' || bridge === '..') {
    throw new BosunError('ERR_INVALID_CONFIG', `bridge name ${JSON.stringify(bridge)} must be 1-15 characters of [A-Za-z0-9_.-]`);
  }
  return bridge;
}

/** Builds the conflist for `opts` (pure; validates and canonicalizes the pod range). */
export function buildCniConfList(opts: Omit<CniConfigOptions, 'confDir'>): CniConfList {
  const subnet = parseCidr(opts.podCidr, 'podCidr');
  if (subnet.prefix > 30) throw new BosunError('ERR_INVALID_CONFIG', `podCidr ${subnet.text} leaves no room for pods`);
  if (!path.isAbsolute(opts.dataDir)) throw new BosunError('ERR_INVALID_CONFIG', `dataDir ${JSON.stringify(opts.dataDir)} must be absolute`);
  const bridge = checkBridgeName(opts.bridge ?? DEFAULT_BRIDGE);
  if (opts.mtu !== undefined && !(Number.isInteger(opts.mtu) && opts.mtu >= 576 && opts.mtu <= 65535)) {
    throw new BosunError('ERR_INVALID_CONFIG', `mtu ${opts.mtu} must be an integer in 576..65535`);
  }
  return {
    cniVersion: CNI_VERSION,
    name: NETWORK_NAME,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        hairpinMode: true,
        ipMasq: opts.ipMasq ?? false,
        ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: subnet.text }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: opts.dataDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/**
 * Writes `<confDir>/10-bosun.conflist` atomically (creating confDir) and answers its path.
 * Idempotent: when the file already holds the same configuration it is left untouched, so
 * containerd's watcher sees no change. Throws ERR_INVALID_CONFIG for bad options.
 */
export async function writeCniConfig(opts: CniConfigOptions): Promise<string> {
  const text = JSON.stringify(buildCniConfList(opts), null, 2) + '\n';
  const file = path.join(opts.confDir, CONFLIST_NAME);
  await fs.mkdir(opts.confDir, { recursive: true });
  if ((await readFileIfExists(file)) !== text) await writeFileAtomic(file, text);
  return file;
}

/** Reads and minimally validates a conflist file. */
export async function readCniConfList(file: string): Promise<CniConfList> {
  const list = JSON.parse(await fs.readFile(file, 'utf8')) as CniConfList;
  if (typeof list?.name !== 'string' || typeof list.cniVersion !== 'string' || !Array.isArray(list.plugins)) {
    throw new BosunError('ERR_INVALID_CONFIG', `${file} is not a CNI conflist`);
  }
  return list;
}
