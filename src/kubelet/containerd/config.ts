/**
 * Where a private containerd keeps its files, and its config.toml (version 2, containerd 1.6).
 *
 * Everything lives under one directory `dir` (root, state, runc state, temp, log, pid file)
 * except two things containerd 1.6 does not let us move: shim sockets (/run/containerd/s) and,
 * when `dir` is too long for a unix socket path, the gRPC socket itself (then under
 * /run/bosun/<hash of dir>/, see `containerdPaths`). Two instances on two dirs never collide.
 */

import { createHash } from 'node:crypto';
import path from 'node:path';

/** Longest gRPC socket path we place under `dir`: sun_path holds 107 bytes and containerd adds ".ttrpc". */
export const MAX_SOCKET_PATH = 100;
/** Where sockets go when `dir` is too long; one subdirectory per dir (hash of its absolute path). */
export const SHORT_SOCKET_ROOT = '/run/bosun';

/** Namespace the CRI plugin keeps its containers and images in. */
export const CRI_NAMESPACE = 'k8s.io';

export interface ContainerdPaths {
  dir: string;
  config: string;
  root: string;
  state: string;
  temp: string;
  /** runc's state root (the shim appends the namespace). */
  runcRoot: string;
  socket: string;
  log: string;
  pidFile: string;
}

/** The file layout for a containerd under `dir`; pure, so cleanup code can recompute it. */
export function containerdPaths(dir: string): ContainerdPaths {
  const abs = path.resolve(dir);
  let socket = path.join(abs, 'containerd.sock');
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    const hash = createHash('sha256').update(abs).digest('hex').slice(0, 16);
    socket = path.join(SHORT_SOCKET_ROOT, hash, 'containerd.sock');
  }
  return {
    dir: abs,
    config: path.join(abs, 'config.toml'),
    root: path.join(abs, 'root'),
    state: path.join(abs, 'state'),
    temp: path.join(abs, 'tmp'),
    runcRoot: path.join(abs, 'runc'),
    socket,
    log: path.join(abs, 'containerd.log'),
    pidFile: path.join(abs, 'containerd.pid'),
  };
}

/** The gRPC socket of the containerd under `dir` (see `containerdPaths`). */
export function containerdSocket(dir: string): string {
  return containerdPaths(dir).socket;
}

/**
 * Registry settings in k3s's registries.yaml shape: `mirrors` maps a registry host to the
 * endpoints to pull from instead; `configs` holds TLS and credentials per endpoint host.
 */
export interface RegistriesConfig {
  mirrors?: Record<string, { endpoint?: string[] }>;
  configs?: Record<
    string,
    {
      auth?: { username?: string; password?: string; auth?: string; identity_token?: string };
      tls?: { ca_file?: string; cert_file?: string; key_file?: string; insecure_skip_verify?: boolean };
    }
  >;
}

export interface ConfigOptions {
  cniBinDir: string;
  cniConfDir: string;
  sandboxImage: string;
  /** Path of the runc binary (crun refuses cgroup v1 hybrid hosts). */
  runc: string;
  registries?: RegistriesConfig;
}

/**
 * Plugins a CRI node does not use: other snapshotters (overlayfs only) and "opt" (which would
 * create /opt/containerd on the host). The v1 runtime ("io.containerd.runtime.v1.linux") looks
 * unused but must stay: containerd 1.6's tasks service, and so the CRI plugin, require it.
 * Disabling plugins saves no measurable start time (~0.13 s either way); it keeps the log quiet.
 */
export const DISABLED_PLUGINS = [
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.internal.v1.opt',
];

/**
 * config.toml for a private containerd. Choices beyond the paths:
 * - restrict_oom_score_adj: required where root lacks CAP_SYS_RESOURCE (negative adj fails in runc);
 * - disable_apparmor, enable_selinux = false: no LSM profiles are loaded or applied;
 * - netns_mounts_under_state_dir: pod network namespaces under <state>, not /var/run/netns;
 * - stream server on 127.0.0.1, port "0" (kernel-chosen; the Exec/Attach URLs carry it);
 * - enable_unprivileged_ports / _icmp, as k3s and containerd 2 default (pods' own netns only);
 * - runc v2 shim with its own runc Root, cgroupfs driver.
 */
export function containerdConfig(paths: ContainerdPaths, opts: ConfigOptions): string {
  const q = (s: string) => JSON.stringify(s);
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# Written by bosun; rewritten at every start.
version = 2
root = ${q(paths.root)}
state = ${q(paths.state)}
temp = ${q(paths.temp)}
oom_score = 0
disabled_plugins = [${DISABLED_PLUGINS.map(q).join(', ')}]

[grpc]
  address = ${q(paths.socket)}
  max_recv_message_size = 16777216
  max_send_message_size = 16777216

[${cri}]
  sandbox_image = ${q(opts.sandboxImage)}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  max_container_log_line_size = 16384

[${cri}.cni]
  bin_dir = ${q(opts.cniBinDir)}
  conf_dir = ${q(opts.cniConfDir)}
  max_conf_num = 1

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  BinaryName = ${q(opts.runc)}
  Root = ${q(paths.runcRoot)}
  SystemdCgroup = false
${registryConfig(opts.registries ?? {})}`;
}

/** containerd 1.6's (deprecated but supported) registry.mirrors / registry.configs tables. */
function registryConfig(reg: RegistriesConfig): string {
  const q = (s: string) => JSON.stringify(s);
  const base = 'plugins."io.containerd.grpc.v1.cri".registry';
  const out: string[] = [];
  const table = (name: string, values: Record<string, unknown> | undefined, keys: string[]) => {
    const entries = Object.entries(values ?? {}).filter(([k, v]) => keys.includes(k) && v !== undefined && v !== '');
    if (!entries.length) return;
    out.push(`\n[${name}]`);
    for (const [k, v] of entries) {
      const value = Array.isArray(v) ? `[${v.map((x) => q(String(x))).join(', ')}]` : typeof v === 'boolean' ? String(v) : q(String(v));
      out.push(`  ${k} = ${value}`);
    }
  };
  for (const [host, m] of Object.entries(reg.mirrors ?? {})) table(`${base}.mirrors.${q(host)}`, { endpoint: m?.endpoint ?? [] }, ['endpoint']);
  for (const [host, c] of Object.entries(reg.configs ?? {})) {
    table(`${base}.configs.${q(host)}.auth`, c?.auth, ['username', 'password', 'auth', 'identity_token']);
    table(`${base}.configs.${q(host)}.tls`, c?.tls, ['ca_file', 'cert_file', 'key_file', 'insecure_skip_verify']);
  }
  return out.length ? out.join('\n') + '\n' : '';
}
