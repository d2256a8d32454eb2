/**
 * containerd's file layout and generated config: socket path bounds, the settings this machine
 * kind requires, and k3s-style registry tables. Pure; no root needed.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerdConfig, containerdPaths, MAX_SOCKET_PATH, SHORT_SOCKET_ROOT, type ConfigOptions } from './config.ts';

const base: ConfigOptions = { cniBinDir: '/usr/lib/cni', cniConfDir: '/d/cni', sandboxImage: 'registry.k8s.io/pause:3.10', runc: '/usr/sbin/runc' };

test('sockets stay under the unix path limit', () => {
  const long = '/var/lib/' + 'x'.repeat(120) + '/agent/containerd';
  const cases = [
    { name: 'a short dir keeps its socket', dir: '/d/agent/containerd', want: '/d/agent/containerd/containerd.sock' },
    { name: 'a relative dir is made absolute', dir: 'rel', want: `${process.cwd()}/rel/containerd.sock` },
    { name: 'a long dir moves the socket to /run/bosun', dir: long, want: /^\/run\/bosun\/[0-9a-f]{16}\/containerd\.sock$/ },
  ];
  for (const c of cases) {
    const p = containerdPaths(c.dir);
    if (typeof c.want === 'string' && c.want.length <= MAX_SOCKET_PATH) assert.equal(p.socket, c.want, c.name);
    else if (c.want instanceof RegExp) assert.match(p.socket, c.want, c.name);
    assert.ok(Buffer.byteLength(p.socket) <= MAX_SOCKET_PATH, c.name);
  }
  assert.notEqual(containerdPaths(long).socket, containerdPaths(long + '2').socket, 'two long dirs do not collide');
  assert.equal(containerdPaths(long).socket, containerdPaths(long + '/').socket, 'the same dir gives the same socket');
  assert.ok(containerdPaths(long).socket.startsWith(SHORT_SOCKET_ROOT + '/'));
});

test('the config carries the settings this node needs', () => {
  const p = containerdPaths('/d/c');
  const toml = containerdConfig(p, base);
  const want = [
    'version = 2',
    'root = "/d/c/root"',
    'state = "/d/c/state"',
    'address = "/d/c/containerd.sock"',
    'sandbox_image = "registry.k8s.io/pause:3.10"',
    'restrict_oom_score_adj = true',
    'enable_selinux = false',
    'disable_apparmor = true',
    'stream_server_address = "127.0.0.1"',
    'stream_server_port = "0"',
    'bin_dir = "/usr/lib/cni"',
    'conf_dir = "/d/cni"',
    'max_conf_num = 1',
    'snapshotter = "overlayfs"',
    'runtime_type = "io.containerd.runc.v2"',
    'BinaryName = "/usr/sbin/runc"',
    'Root = "/d/c/runc"',
    'SystemdCgroup = false',
  ];
  const lines = toml.split('\n').map((l) => l.trim());
  for (const w of want) assert.ok(lines.includes(w), w);
  assert.ok(!toml.includes('registry.mirrors'));
  assert.ok(!toml.includes('runtime.v1.linux'), 'the v1 runtime stays enabled: the CRI plugin needs it');
});

test('registries become mirror, TLS and auth tables', () => {
  const toml = containerdConfig(containerdPaths('/d/c'), {
    ...base,
    registries: {
      mirrors: { 'docker.io': { endpoint: ['http://127.0.0.1:5000'] } },
      configs: {
        '127.0.0.1:5000': { tls: { insecure_skip_verify: true }, auth: { username: 'u', password: 'p"q' } },
      },
    },
  });
  const r = 'plugins."io.containerd.grpc.v1.cri".registry';
  const want = [
    `[${r}.mirrors."docker.io"]`,
    'endpoint = ["http://127.0.0.1:5000"]',
    `[${r}.configs."127.0.0.1:5000".tls]`,
    'insecure_skip_verify = true',
    `[${r}.configs."127.0.0.1:5000".auth]`,
    'username = "u"',
    'password = "p\\"q"',
  ];
  const lines = toml.split('\n').map((l) => l.trim());
  for (const w of want) assert.ok(lines.includes(w), w);
});
