/**
 * Tests for pod volumes on a real file system: the upstream directory layout, the atomic writer
 * (..data swap, per-key links, modes, refresh only on change), tmpfs mounts (run as root),
 * hostPath type checks, container mounts with subPath, teardown and usage accounting.
 */
import { after, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ConfigMap, Container, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Volume } from '../api/index.ts';
import { containerMounts, dirUsageBytes, setupVolumes, teardownVolumes } from './volumes.ts';
import type { VolumeContext, VolumeSources } from './volumes.ts';

const isRoot = process.getuid?.() === 0;
const rootOnly = { skip: isRoot ? false : 'needs root (tmpfs mounts, chown)' };

const tmpRoot = fsSync.mkdtempSync(path.join(os.tmpdir(), 'bosun-volumes-test-'));
after(async () => {
  await teardownVolumes(tmpRoot).catch(() => {});
  await fs.rm(tmpRoot, { recursive: true, force: true });
});

let seq = 0;
function podDir(t: TestContext): string {
  const dir = path.join(tmpRoot, `pod-${++seq}`);
  t.after(() => teardownVolumes(dir));
  return dir;
}

function makePod(volumes: Volume[], extra: Partial<NonNullable<Pod['spec']>> = {}, labels: Record<string, string> = { app: 'web' }): Pod {
  return {
    metadata: { name: 'web-1', namespace: 'ns1', uid: 'uid-1', labels, annotations: { 'a.io/b': 'x"y' } },
    spec: { containers: [{ name: 'main', resources: { limits: { cpu: '250m', memory: '32Mi' } } }], volumes, serviceAccountName: 'sa1', ...extra },
  };
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

interface Store extends VolumeSources {
  cms: Map<string, ConfigMap>;
  secrets: Map<string, Secret>;
  tokenRequests: unknown[];
}

function store(cms: ConfigMap[] = [], secrets: Secret[] = [], withTokens = true): Store {
  const s: Store = {
    cms: new Map(cms.map((c) => [c.metadata.name!, c])),
    secrets: new Map(secrets.map((c) => [c.metadata.name!, c])),
    tokenRequests: [],
    async getConfigMap(ns, name) {
      return ns === 'ns1' ? s.cms.get(name) : undefined;
    },
    async getSecret(ns, name) {
      return ns === 'ns1' ? s.secrets.get(name) : undefined;
    },
  };
  if (withTokens) {
    s.requestToken = async (req) => {
      s.tokenRequests.push(req);
      return `token-${s.tokenRequests.length}`;
    };
  }
  return s;
}

function ctx(sources: VolumeSources, more: Partial<VolumeContext> = {}): VolumeContext {
  return { sources, ...more };
}

async function mode(p: string): Promise<number> {
  return (await fs.stat(p)).mode & 0o7777;
}

async function mountOf(dir: string): Promise<{ fsType: string } | undefined> {
  const real = await fs.realpath(dir);
  const lines = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === real);
  const last = lines.at(-1);
  return last ? { fsType: last.split(' - ')[1]!.split(' ')[0]! } : undefined;
}

async function tmpfsSize(dir: string): Promise<number> {
  const st = await fs.statfs(dir);
  return st.blocks * st.bsize;
}

const cfg: ConfigMap = {
  metadata: { name: 'cfg', namespace: 'ns1' },
  data: { 'app.conf': 'level=debug\n', other: 'o' },
  binaryData: { blob: Buffer.from([0, 1, 2, 255]).toString('base64') },
};
const sec: Secret = { metadata: { name: 'sec', namespace: 'ns1' }, data: { password: b64('hunter2'), user: b64('admin') } };

// ---- emptyDir ----

test('emptyDir: a world-writable directory in the upstream layout, left alone once ready', async (t) => {
  const dir = podDir(t);
  const pod = makePod([{ name: 'scratch', emptyDir: {} }]);
  const vols = await setupVolumes(pod, dir, ctx(store()));
  const want = path.join(dir, 'volumes', 'kubernetes.io~empty-dir', 'scratch');
  assert.deepEqual(vols.get('scratch'), { hostPath: want, readOnly: false });
  assert.equal(await mode(want), 0o777);
  await fs.writeFile(path.join(want, 'f'), 'data');
  await fs.chmod(want, 0o700);
  await setupVolumes(pod, dir, ctx(store()));
  assert.equal(await mode(want), 0o700, 'a second setup does not reset the directory');
  assert.equal(await fs.readFile(path.join(want, 'f'), 'utf8'), 'data');
});

const memoryCases: Array<{ name: string; sizeLimit?: string; podLimit?: string; nodeMem?: string; want: number }> = [
  { name: 'sizeLimit wins when smallest', sizeLimit: '1Mi', podLimit: '8Mi', nodeMem: '64Mi', want: 2 ** 20 },
  { name: 'the pod memory limit when no sizeLimit', podLimit: '2Mi', nodeMem: '64Mi', want: 2 * 2 ** 20 },
  { name: 'node allocatable memory otherwise', nodeMem: '3Mi', want: 3 * 2 ** 20 },
  { name: 'a sizeLimit above the pod limit is lowered to it', sizeLimit: '16Mi', podLimit: '4Mi', want: 4 * 2 ** 20 },
];
for (const c of memoryCases) {
  test(`emptyDir medium Memory: tmpfs sized by ${c.name}`, rootOnly, async (t) => {
    const dir = podDir(t);
    const pod = makePod([{ name: 'mem', emptyDir: { medium: 'Memory', ...(c.sizeLimit ? { sizeLimit: c.sizeLimit } : {}) } }]);
    pod.spec!.containers[0]!.resources = c.podLimit ? { limits: { memory: c.podLimit } } : {};
    const vols = await setupVolumes(pod, dir, ctx(store(), c.nodeMem ? { nodeAllocatableMemory: c.nodeMem } : {}));
    const v = vols.get('mem')!;
    assert.equal(v.medium, 'Memory');
    assert.equal((await mountOf(v.hostPath))?.fsType, 'tmpfs');
    assert.equal(await tmpfsSize(v.hostPath), c.want);
    await setupVolumes(pod, dir, ctx(store(), c.nodeMem ? { nodeAllocatableMemory: c.nodeMem } : {}));
    const real = await fs.realpath(v.hostPath);
    const count = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === real).length;
    assert.equal(count, 1, 'setup again does not stack a second mount');
  });
}

test('emptyDir with a hugepages medium is refused clearly', async (t) => {
  await assert.rejects(setupVolumes(makePod([{ name: 'hp', emptyDir: { medium: 'HugePages-2Mi' } }]), podDir(t), ctx(store())), {
    message: 'MountVolume.SetUp failed for volume "hp" : Bosun does not support the HugePages-2Mi emptyDir medium yet',
  });
});

// ---- configMap and the atomic writer ----

test('configMap: ..data points at a timestamped dir, each key is a link into it', async (t) => {
  const dir = podDir(t);
  const vols = await setupVolumes(makePod([{ name: 'conf', configMap: { name: 'cfg' } }]), dir, ctx(store([cfg])));
  const v = vols.get('conf')!;
  assert.equal(v.hostPath, path.join(dir, 'volumes', 'kubernetes.io~configmap', 'conf'));
  assert.equal(v.readOnly, true);
  const target = await fs.readlink(path.join(v.hostPath, '..data'));
  assert.match(target, /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\w+$/);
  assert.deepEqual((await fs.readdir(v.hostPath)).sort(), ['..data', target, 'app.conf', 'blob', 'other'].sort());
  assert.equal(await fs.readlink(path.join(v.hostPath, 'app.conf')), '..data/app.conf');
  assert.equal(await fs.readFile(path.join(v.hostPath, 'app.conf'), 'utf8'), 'level=debug\n');
  assert.deepEqual([...(await fs.readFile(path.join(v.hostPath, 'blob')))], [0, 1, 2, 255]);
  assert.equal(await mode(path.join(v.hostPath, 'app.conf')), 0o644);
  assert.equal(await mode(path.join(v.hostPath, target)), 0o755);
});

test('configMap: items select keys and paths, modes from items or defaultMode', async (t) => {
  const dir = podDir(t);
  const vol: Volume = {
    name: 'conf',
    configMap: { name: 'cfg', defaultMode: 0o400, items: [{ key: 'app.conf', path: 'etc/app/app.conf', mode: 0o600 }, { key: 'other', path: 'o.txt' }] },
  };
  const v = (await setupVolumes(makePod([vol]), dir, ctx(store([cfg])))).get('conf')!;
  assert.deepEqual((await fs.readdir(v.hostPath)).filter((n) => !n.startsWith('..')).sort(), ['etc', 'o.txt']);
  assert.equal(await fs.readlink(path.join(v.hostPath, 'etc')), '..data/etc');
  assert.equal(await fs.readFile(path.join(v.hostPath, 'etc/app/app.conf'), 'utf8'), 'level=debug\n');
  assert.equal(await mode(path.join(v.hostPath, 'etc/app/app.conf')), 0o600);
  assert.equal(await mode(path.join(v.hostPath, 'o.txt')), 0o400);
});

test('configMap refresh: unchanged content is not rewritten; a change swaps ..data and prunes old keys', async (t) => {
  const dir = podDir(t);
  const s = store([structuredClone(cfg)]);
  const pod = makePod([{ name: 'conf', configMap: { name: 'cfg' } }]);
  const v = (await setupVolumes(pod, dir, ctx(s))).get('conf')!;
  const first = await fs.readlink(path.join(v.hostPath, '..data'));
  await setupVolumes(pod, dir, ctx(s));
  assert.equal(await fs.readlink(path.join(v.hostPath, '..data')), first, 'no write without a change');

  s.cms.set('cfg', { metadata: cfg.metadata, data: { 'app.conf': 'level=info\n', added: 'new' } });
  await setupVolumes(pod, dir, ctx(s));
  const second = await fs.readlink(path.join(v.hostPath, '..data'));
  assert.notEqual(second, first);
  assert.deepEqual((await fs.readdir(v.hostPath)).sort(), ['..data', second, 'added', 'app.conf'].sort(), 'old ts dir and removed keys are gone');
  assert.equal(await fs.readFile(path.join(v.hostPath, 'app.conf'), 'utf8'), 'level=info\n');
});

test('configMap: an open file keeps the old content while ..data moves on', async (t) => {
  const dir = podDir(t);
  const s = store([structuredClone(cfg)]);
  const pod = makePod([{ name: 'conf', configMap: { name: 'cfg' } }]);
  const v = (await setupVolumes(pod, dir, ctx(s))).get('conf')!;
  const fh = await fs.open(path.join(v.hostPath, 'other'));
  t.after(() => fh.close());
  s.cms.set('cfg', { metadata: cfg.metadata, data: { other: 'changed' } });
  await setupVolumes(pod, dir, ctx(s));
  assert.equal(await fh.readFile('utf8'), 'o');
  assert.equal(await fs.readFile(path.join(v.hostPath, 'other'), 'utf8'), 'changed');
});

const refErrorCases: Array<{ name: string; vol: Volume; error?: string; files?: string[] }> = [
  { name: 'a missing configmap fails', vol: { name: 'v', configMap: { name: 'nope' } }, error: 'MountVolume.SetUp failed for volume "v" : configmap "nope" not found' },
  { name: 'a missing optional configmap is an empty volume', vol: { name: 'v', configMap: { name: 'nope', optional: true } }, files: [] },
  {
    name: 'a missing configmap key fails',
    vol: { name: 'v', configMap: { name: 'cfg', items: [{ key: 'k', path: 'k' }] } },
    error: 'MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: k',
  },
  { name: 'a missing key of an optional configmap is skipped', vol: { name: 'v', configMap: { name: 'cfg', optional: true, items: [{ key: 'k', path: 'k' }, { key: 'other', path: 'x' }] } }, files: ['x'] },
  {
    name: 'an item path with .. fails',
    vol: { name: 'v', configMap: { name: 'cfg', items: [{ key: 'other', path: '../escape' }] } },
    error: "MountVolume.SetUp failed for volume \"v\" : invalid path: must not contain '..': ../escape",
  },
  { name: 'a missing secret fails', vol: { name: 'v', secret: { secretName: 'nope' } }, error: 'MountVolume.SetUp failed for volume "v" : secret "nope" not found' },
  {
    name: 'a missing secret key fails',
    vol: { name: 'v', secret: { secretName: 'sec', items: [{ key: 'k', path: 'k' }] } },
    error: 'MountVolume.SetUp failed for volume "v" : references non-existent secret key: k',
  },
];
for (const c of refErrorCases) {
  test(`references: ${c.name}`, c.vol.secret ? rootOnly : {}, async (t) => {
    const run = setupVolumes(makePod([c.vol]), podDir(t), ctx(store([cfg], [sec])));
    if (c.error) {
      await assert.rejects(run, { message: c.error });
    } else {
      const v = (await run).get('v')!;
      assert.deepEqual((await fs.readdir(v.hostPath)).filter((n) => !n.startsWith('..')), c.files);
    }
  });
}

// ---- secret ----

test('secret: decoded files on a tmpfs, defaultMode applied', rootOnly, async (t) => {
  const dir = podDir(t);
  const v = (await setupVolumes(makePod([{ name: 'creds', secret: { secretName: 'sec', defaultMode: 0o440 } }]), dir, ctx(store([], [sec])))).get('creds')!;
  assert.equal(v.hostPath, path.join(dir, 'volumes', 'kubernetes.io~secret', 'creds'));
  assert.equal(v.readOnly, true);
  assert.equal((await mountOf(v.hostPath))?.fsType, 'tmpfs');
  assert.equal(await fs.readFile(path.join(v.hostPath, 'password'), 'utf8'), 'hunter2');
  assert.equal(await mode(path.join(v.hostPath, 'user')), 0o440);
});

// ---- downwardAPI ----

test('downwardAPI: fields as upstream formats them, refreshed when labels change', async (t) => {
  const dir = podDir(t);
  const vol: Volume = {
    name: 'info',
    downwardAPI: {
      items: [
        { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
        { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
        { path: 'app', fieldRef: { fieldPath: "metadata.labels['app']" } },
        { path: 'mem', resourceFieldRef: { containerName: 'main', resource: 'limits.memory', divisor: '1Mi' } },
        { path: 'cpu', resourceFieldRef: { containerName: 'main', resource: 'limits.cpu', divisor: '1m' }, mode: 0o600 },
      ],
    },
  };
  const pod = makePod([vol], {}, { app: 'web', tier: 'front' });
  const v = (await setupVolumes(pod, dir, ctx(store()))).get('info')!;
  assert.equal(v.hostPath, path.join(dir, 'volumes', 'kubernetes.io~downward-api', 'info'));
  const read = (n: string) => fs.readFile(path.join(v.hostPath, n), 'utf8');
  assert.equal(await read('labels'), 'app="web"\ntier="front"');
  assert.equal(await read('annotations'), 'a.io/b="x\\"y"');
  assert.equal(await read('name'), 'web-1');
  assert.equal(await read('app'), 'web');
  assert.equal(await read('mem'), '32');
  assert.equal(await read('cpu'), '250');
  assert.equal(await mode(path.join(v.hostPath, 'cpu')), 0o600);

  pod.metadata.labels = { app: 'web2' };
  await setupVolumes(pod, dir, ctx(store()));
  assert.equal(await read('labels'), 'app="web2"');
  assert.equal(await read('app'), 'web2');
});

test('downwardAPI: a bad field fails with the upstream message', async (t) => {
  const vol: Volume = { name: 'info', downwardAPI: { items: [{ path: 'x', fieldRef: { fieldPath: 'spec.containers' } }] } };
  await assert.rejects(setupVolumes(makePod([vol]), podDir(t), ctx(store())), {
    message: 'MountVolume.SetUp failed for volume "info" : field label not supported: spec.containers',
  });
});

// ---- projected ----

const projected: Volume = {
  name: 'kube-api-access',
  projected: {
    defaultMode: 0o644,
    sources: [
      { serviceAccountToken: { path: 'token', expirationSeconds: 3607, audience: 'api' } },
      { configMap: { name: 'cfg', items: [{ key: 'other', path: 'ca.crt' }] } },
      { secret: { name: 'sec', items: [{ key: 'user', path: 'user' }] } },
      { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
    ],
  },
};

test('projected: all sources in one tmpfs volume, the token requested once and reused', rootOnly, async (t) => {
  const dir = podDir(t);
  const s = store([cfg], [sec]);
  const v = (await setupVolumes(makePod([projected]), dir, ctx(s))).get('kube-api-access')!;
  assert.equal(v.hostPath, path.join(dir, 'volumes', 'kubernetes.io~projected', 'kube-api-access'));
  assert.equal((await mountOf(v.hostPath))?.fsType, 'tmpfs');
  const read = (n: string) => fs.readFile(path.join(v.hostPath, n), 'utf8');
  assert.deepEqual([await read('token'), await read('ca.crt'), await read('user'), await read('namespace')], ['token-1', 'o', 'admin', 'ns1']);
  assert.deepEqual(s.tokenRequests, [{ namespace: 'ns1', serviceAccount: 'sa1', audience: 'api', expirationSeconds: 3607, podName: 'web-1', podUid: 'uid-1' }]);
  await setupVolumes(makePod([projected]), dir, ctx(s));
  assert.equal(s.tokenRequests.length, 1, 'a fresh token is reused');
  assert.equal(await mode(path.join(v.hostPath, 'token')), 0o644);
});

test('projected with fsGroup: files group-owned, the token 0640', rootOnly, async (t) => {
  const dir = podDir(t);
  const v = (await setupVolumes(makePod([projected], { securityContext: { fsGroup: 1234 } }), dir, ctx(store([cfg], [sec])))).get('kube-api-access')!;
  const st = await fs.stat(path.join(v.hostPath, 'token'));
  assert.equal(st.gid, 1234);
  assert.equal(st.mode & 0o777, 0o640);
  assert.equal((await fs.stat(path.join(v.hostPath, 'ca.crt'))).mode & 0o777, 0o644);
});

test('projected: a token without a token source fails clearly', rootOnly, async (t) => {
  await assert.rejects(setupVolumes(makePod([projected]), podDir(t), ctx(store([cfg], [sec], false))), {
    message:
      'MountVolume.SetUp failed for volume "kube-api-access" : cannot project a serviceAccountToken into volume "kube-api-access": the node agent has no token source (requestToken)',
  });
});

test('projected: several failing sources are listed together', async (t) => {
  const vol: Volume = { name: 'p', projected: { sources: [{ configMap: { name: 'a' } }, { secret: { name: 'b' } }] } };
  await assert.rejects(setupVolumes(makePod([vol]), podDir(t), ctx(store())), {
    message: 'MountVolume.SetUp failed for volume "p" : [configmap "a" not found, secret "b" not found]',
  });
});

// ---- hostPath ----

const hostDir = path.join(tmpRoot, 'host');
fsSync.mkdirSync(hostDir);
fsSync.writeFileSync(path.join(hostDir, 'file'), 'x');
const sockPath = path.join(hostDir, 'sock');
const sockServer = net.createServer().listen(sockPath);
after(() => new Promise<void>((r) => sockServer.close(() => r())));
const blockDevice = ['/dev/loop0', '/dev/vda', '/dev/sda'].find((p) => fsSync.statSync(p, { throwIfNoEntry: false })?.isBlockDevice());

const hostPathCases: Array<{ name: string; path: string; type?: string; error?: string; skip?: boolean; check?: (p: string) => Promise<void> }> = [
  { name: 'no type checks nothing', path: path.join(hostDir, 'absent') },
  {
    name: 'DirectoryOrCreate creates a 0755 directory',
    path: path.join(hostDir, 'made/deep'),
    type: 'DirectoryOrCreate',
    check: async (p) => {
      const st = await fs.stat(p);
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o777 & ~0o755, 0, 'no more than 0755');
    },
  },
  { name: 'DirectoryOrCreate on a file fails', path: path.join(hostDir, 'file'), type: 'DirectoryOrCreate', error: `hostPath type check failed: ${hostDir}/file is not a directory, it's a File` },
  { name: 'Directory accepts a directory', path: hostDir, type: 'Directory' },
  { name: 'Directory must exist', path: path.join(hostDir, 'absent'), type: 'Directory', error: `hostPath ${hostDir}/absent doesn't exist` },
  { name: 'FileOrCreate creates an empty file', path: path.join(hostDir, 'new-file'), type: 'FileOrCreate', check: async (p) => assert.equal((await fs.stat(p)).size, 0) },
  { name: 'FileOrCreate keeps an existing file', path: path.join(hostDir, 'file'), type: 'FileOrCreate', check: async (p) => assert.equal(await fs.readFile(p, 'utf8'), 'x') },
  { name: 'File on a directory fails', path: hostDir, type: 'File', error: `hostPath type check failed: ${hostDir} is not a file, it's a Directory` },
  { name: 'Socket accepts a unix socket', path: sockPath, type: 'Socket' },
  { name: 'Socket on a file fails', path: path.join(hostDir, 'file'), type: 'Socket', error: `hostPath type check failed: ${hostDir}/file is not a socket file, it's a File` },
  { name: 'CharDevice accepts /dev/null', path: '/dev/null', type: 'CharDevice' },
  { name: 'BlockDevice on a character device fails', path: '/dev/null', type: 'BlockDevice', error: "hostPath type check failed: /dev/null is not a block device, it's a CharDevice" },
  { name: 'BlockDevice accepts a block device', path: blockDevice ?? '/nonexistent', type: 'BlockDevice', skip: !blockDevice },
  { name: 'an unknown type fails', path: hostDir, type: 'Bogus', error: 'Bogus is an invalid volume type' },
];
for (const c of hostPathCases) {
  test(`hostPath: ${c.name}`, { skip: c.skip ? 'no block device here' : false }, async (t) => {
    const run = setupVolumes(makePod([{ name: 'h', hostPath: { path: c.path, ...(c.type ? { type: c.type } : {}) } }]), podDir(t), ctx(store()));
    if (c.error) {
      await assert.rejects(run, { message: `MountVolume.SetUp failed for volume "h" : ${c.error}` });
    } else {
      assert.deepEqual((await run).get('h'), { hostPath: c.path, readOnly: false });
      await c.check?.(c.path);
    }
  });
}

// ---- unsupported ----

test('unsupported volume types fail clearly while the others are still set up', async (t) => {
  const dir = podDir(t);
  const vols: Volume[] = [
    { name: 'share', nfs: { server: 'nfs.local', path: '/x' } },
    { name: 'scratch', emptyDir: {} },
    { name: 'disk', csi: { driver: 'example.com/csi' } },
  ];
  await assert.rejects(setupVolumes(makePod(vols), dir, ctx(store())), {
    message:
      'MountVolume.SetUp failed for volume "share" : Bosun does not support nfs volumes yet\n' +
      'MountVolume.SetUp failed for volume "disk" : Bosun does not support csi volumes yet',
  });
  assert.ok(fsSync.existsSync(path.join(dir, 'volumes', 'kubernetes.io~empty-dir', 'scratch')));
});

// ---- persistentVolumeClaim and ephemeral ----

/** Claims and volumes in ns1 as the API would answer (NotFound with its message). */
function withClaims(base: Store, claims: PersistentVolumeClaim[], volumes: PersistentVolume[]): Store & { claims: Map<string, PersistentVolumeClaim>; fetches: number } {
  const s = Object.assign(base, { claims: new Map(claims.map((c) => [c.metadata.name!, c])), fetches: 0 });
  s.getPersistentVolumeClaim = async (ns: string, name: string) => {
    s.fetches++;
    const c = ns === 'ns1' ? s.claims.get(name) : undefined;
    if (!c) throw new Error(`persistentvolumeclaims "${name}" not found`);
    return c;
  };
  s.getPersistentVolume = async (name: string) => {
    const v = volumes.find((x) => x.metadata.name === name);
    if (!v) throw new Error(`persistentvolumes "${name}" not found`);
    return v;
  };
  return s;
}

function claimObj(name: string, o: { volume?: string; phase?: string; uid?: string; deleting?: boolean; owner?: string } = {}): PersistentVolumeClaim {
  return {
    metadata: {
      name,
      namespace: 'ns1',
      uid: o.uid ?? `uid-${name}`,
      ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}),
      ...(o.owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'web-1', uid: o.owner, controller: true }] } : {}),
    },
    spec: { volumeName: o.volume ?? `pv-${name}` },
    status: { phase: o.phase ?? 'Bound' },
  };
}

function volumeObj(name: string, claimUid: string | undefined, source: Partial<NonNullable<PersistentVolume['spec']>>): PersistentVolume {
  return { metadata: { name }, spec: { ...(claimUid ? { claimRef: { kind: 'PersistentVolumeClaim', namespace: 'ns1', name: 'x', uid: claimUid } } : {}), ...source } };
}

const unable = (vols: string, detail: string) => `Unable to attach or mount volumes: unmounted volumes=[${vols}], unattached volumes=[], failed to process volumes=[${vols}]: ${detail}`;

test("persistentVolumeClaim: the bound volume's hostPath (DirectoryOrCreate made), read-only from the pod's volume source", async (t) => {
  const dir = podDir(t);
  const data = path.join(tmpRoot, `pv-data-${seq}`);
  const sources = withClaims(store(), [claimObj('data'), claimObj('logs')], [
    volumeObj('pv-data', 'uid-data', { hostPath: { path: data, type: 'DirectoryOrCreate' } }),
    volumeObj('pv-logs', 'uid-logs', { local: { path: tmpRoot } }),
  ]);
  const pod = makePod([
    { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
    { name: 'logs', persistentVolumeClaim: { claimName: 'logs', readOnly: true } },
  ]);
  const vols = await setupVolumes(pod, dir, ctx(sources));
  assert.deepEqual(vols.get('data'), { hostPath: data, readOnly: false });
  assert.deepEqual(vols.get('logs'), { hostPath: tmpRoot, readOnly: true });
  assert.ok((await fs.stat(data)).isDirectory());
  const mounts = containerMounts({ name: 'main', volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'logs', mountPath: '/logs' }] }, vols);
  assert.deepEqual(mounts.map((m) => [m.host_path, m.readonly]), [[data, false], [tmpRoot, true]]);
});

const claimFailures: Array<{ name: string; claims: PersistentVolumeClaim[]; volumes: PersistentVolume[]; want: string }> = [
  { name: 'a missing claim', claims: [], volumes: [], want: unable('data', 'error processing PVC ns1/c: failed to fetch PVC from API server: persistentvolumeclaims "c" not found') },
  { name: 'a claim not yet bound', claims: [claimObj('c', { phase: 'Pending', volume: '' })], volumes: [], want: unable('data', 'error processing PVC ns1/c: PVC is not bound') },
  { name: 'a claim being deleted', claims: [claimObj('c', { deleting: true })], volumes: [], want: unable('data', 'error processing PVC ns1/c: PVC is being deleted') },
  { name: 'a Bound claim naming no volume', claims: [claimObj('c', { volume: '' })], volumes: [], want: unable('data', 'error processing PVC ns1/c: PVC has empty pvc.Spec.VolumeName') },
  { name: 'a missing volume', claims: [claimObj('c')], volumes: [], want: unable('data', 'error processing PVC ns1/c: failed to fetch PV pv-c from API server: persistentvolumes "pv-c" not found') },
  {
    name: 'a volume not claimed back',
    claims: [claimObj('c')],
    volumes: [volumeObj('pv-c', undefined, { hostPath: { path: '/tmp' } })],
    want: unable('data', 'error processing PVC ns1/c: found PV object pv-c but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim'),
  },
  {
    name: "a volume claimed by another claim's uid",
    claims: [claimObj('c')],
    volumes: [volumeObj('pv-c', 'uid-other', { hostPath: { path: '/tmp' } })],
    want: unable('data', 'error processing PVC ns1/c: found PV object pv-c but its pv.Spec.ClaimRef.UID uid-other does not point to claim.UID uid-c'),
  },
  {
    name: 'a Block volume used in volumeMounts',
    claims: [claimObj('c')],
    volumes: [volumeObj('pv-c', 'uid-c', { hostPath: { path: '/tmp' }, volumeMode: 'Block' })],
    want: unable('data', 'volume data has volumeMode Block, but is specified in volumeMounts'),
  },
];
for (const c of claimFailures) {
  test(`persistentVolumeClaim: ${c.name} fails as upstream's FailedMount says, and nothing is set up`, async (t) => {
    const dir = podDir(t);
    const pod = makePod([{ name: 'data', persistentVolumeClaim: { claimName: 'c' } }, { name: 'scratch', emptyDir: {} }]);
    pod.spec!.containers[0]!.volumeMounts = [{ name: 'data', mountPath: '/data' }];
    await assert.rejects(setupVolumes(pod, dir, ctx(withClaims(store(), c.claims, c.volumes))), { message: c.want });
    assert.equal(fsSync.existsSync(path.join(dir, 'volumes', 'kubernetes.io~empty-dir', 'scratch')), false);
  });
}

test('persistentVolumeClaim: every unresolved claim is listed, sorted, failures joined by "; "', async (t) => {
  const dir = podDir(t);
  const pod = makePod([{ name: 'zeta', persistentVolumeClaim: { claimName: 'z' } }, { name: 'alpha', persistentVolumeClaim: { claimName: 'a' } }]);
  await assert.rejects(setupVolumes(pod, dir, ctx(withClaims(store(), [claimObj('a', { phase: 'Pending' })], []))), {
    message: unable('alpha zeta', 'error processing PVC ns1/z: failed to fetch PVC from API server: persistentvolumeclaims "z" not found; error processing PVC ns1/a: PVC is not bound'),
  });
});

test("persistentVolumeClaim: a local volume's missing path and an unsupported volume source name the PersistentVolume", async (t) => {
  const dir = podDir(t);
  const missing = path.join(tmpRoot, 'no-such-disk');
  const sources = withClaims(store(), [claimObj('a'), claimObj('b')], [volumeObj('pv-a', 'uid-a', { local: { path: missing } }), volumeObj('pv-b', 'uid-b', { nfs: { server: 's', path: '/' } })]);
  const pod = makePod([{ name: 'a', persistentVolumeClaim: { claimName: 'a' } }, { name: 'b', persistentVolumeClaim: { claimName: 'b' } }]);
  await assert.rejects(setupVolumes(pod, dir, ctx(sources)), {
    message: `MountVolume.NewMounter initialization failed for volume "pv-a" : path "${missing}" does not exist\nMountVolume.SetUp failed for volume "pv-b" : Bosun does not support nfs volumes yet`,
  });
});

test('persistentVolumeClaim: resolved once per pod (a claim deleted later does not disturb it) until teardown', async (t) => {
  const dir = podDir(t);
  const sources = withClaims(store(), [claimObj('data')], [volumeObj('pv-data', 'uid-data', { hostPath: { path: tmpRoot } })]);
  const pod = makePod([{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]);
  await setupVolumes(pod, dir, ctx(sources));
  sources.claims.set('data', claimObj('data', { deleting: true }));
  assert.deepEqual((await setupVolumes(pod, dir, ctx(sources))).get('data'), { hostPath: tmpRoot, readOnly: false });
  assert.equal(sources.fetches, 1);
  await teardownVolumes(dir);
  await assert.rejects(setupVolumes(pod, dir, ctx(sources)), { message: unable('data', 'error processing PVC ns1/data: PVC is being deleted') });
});

test('ephemeral: the claim <pod>-<volume> is used only when the pod controls it', async (t) => {
  const dir = podDir(t);
  const pod = makePod([{ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'] } } } }]);
  const volumes = [volumeObj('pv-web-1-scratch', 'uid-web-1-scratch', { hostPath: { path: tmpRoot } })];
  await assert.rejects(setupVolumes(pod, dir, ctx(withClaims(store(), [claimObj('web-1-scratch', { owner: 'someone-else' })], volumes))), {
    message: unable('scratch', 'PVC ns1/web-1-scratch was not created for pod ns1/web-1 (pod is not owner)'),
  });
  const vols = await setupVolumes(pod, dir, ctx(withClaims(store(), [claimObj('web-1-scratch', { owner: 'uid-1' })], volumes)));
  assert.deepEqual(vols.get('scratch'), { hostPath: tmpRoot, readOnly: false });
});

test('persistentVolumeClaim: without a claim source the node says so', async (t) => {
  const dir = podDir(t);
  await assert.rejects(setupVolumes(makePod([{ name: 'data', persistentVolumeClaim: { claimName: 'c' } }]), dir, ctx(store())), {
    message: unable('data', 'error processing PVC ns1/c: the node agent has no source of claims'),
  });
});

// ---- container mounts ----

test('containerMounts: paths, read-only, propagation, subPath', async (t) => {
  const dir = podDir(t);
  const pod = makePod([
    { name: 'scratch', emptyDir: {} },
    { name: 'conf', configMap: { name: 'cfg' } },
  ]);
  const vols = await setupVolumes(pod, dir, ctx(store([cfg])));
  const scratch = vols.get('scratch')!.hostPath;
  const conf = vols.get('conf')!.hostPath;
  await fs.chmod(scratch, 0o770);
  await fs.symlink('/etc', path.join(scratch, 'escape'));
  await fs.mkdir(path.join(scratch, 'inner'));
  await fs.symlink('inner', path.join(scratch, 'hop'));
  const c = (volumeMounts: Container['volumeMounts']): Container => ({ name: 'main', volumeMounts });
  const ts = await fs.readlink(path.join(conf, '..data'));
  const env = [{ key: 'POD', value: 'web-1' }];

  const cases: Array<{ name: string; mounts: Container['volumeMounts']; want?: object[]; error?: string }> = [
    {
      name: 'a plain mount is read-write and private',
      mounts: [{ name: 'scratch', mountPath: '/data' }],
      want: [{ container_path: '/data', host_path: scratch, readonly: false, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE' }],
    },
    { name: 'readOnly on the mount', mounts: [{ name: 'scratch', mountPath: '/d', readOnly: true }], want: [{ readonly: true }] },
    { name: 'a configMap volume is always read-only', mounts: [{ name: 'conf', mountPath: '/etc/app' }], want: [{ readonly: true, host_path: conf }] },
    {
      name: 'propagation modes map to the CRI',
      mounts: [
        { name: 'scratch', mountPath: '/a', mountPropagation: 'HostToContainer' },
        { name: 'scratch', mountPath: '/b', mountPropagation: 'Bidirectional' },
        { name: 'scratch', mountPath: '/c', mountPropagation: 'None' },
      ],
      want: [{ propagation: 'PROPAGATION_HOST_TO_CONTAINER' }, { propagation: 'PROPAGATION_BIDIRECTIONAL' }, { propagation: 'PROPAGATION_PRIVATE' }],
    },
    { name: 'a missing subPath is created', mounts: [{ name: 'scratch', mountPath: '/s', subPath: 'a/b' }], want: [{ host_path: path.join(scratch, 'a/b') }] },
    { name: 'subPathExpr expands with the env', mounts: [{ name: 'scratch', mountPath: '/s', subPathExpr: 'logs/$(POD)' }], want: [{ host_path: path.join(scratch, 'logs/web-1') }] },
    { name: 'a subPath symlink inside the volume resolves', mounts: [{ name: 'scratch', mountPath: '/s', subPath: 'hop' }], want: [{ host_path: path.join(scratch, 'inner') }] },
    { name: 'a configMap key subPath resolves into the data dir', mounts: [{ name: 'conf', mountPath: '/f', subPath: 'other' }], want: [{ host_path: path.join(conf, ts, 'other'), readonly: true }] },
    { name: 'a subPath symlink out of the volume is refused', mounts: [{ name: 'scratch', mountPath: '/s', subPath: 'escape/passwd' }], error: 'failed to prepare subPath for volumeMount "scratch" of container "main"' },
    { name: 'a subPath with .. is refused', mounts: [{ name: 'scratch', mountPath: '/s', subPath: 'a/../../x' }], error: "unable to provision SubPath `a/../../x`: must not contain '..'" },
    { name: 'an absolute subPath is refused', mounts: [{ name: 'scratch', mountPath: '/s', subPath: '/etc' }], error: 'error SubPath `/etc` must not be an absolute path' },
    { name: 'a subPathExpr with an unknown variable fails', mounts: [{ name: 'scratch', mountPath: '/s', subPathExpr: '$(B)/$(A)' }], error: 'missing value for A, B' },
    { name: 'an unknown volume fails', mounts: [{ name: 'nope', mountPath: '/n' }], error: 'cannot find volume "nope" to mount into container "main"' },
    { name: 'an unknown propagation fails', mounts: [{ name: 'scratch', mountPath: '/p', mountPropagation: 'Sideways' }], error: 'invalid MountPropagation mode: "Sideways"' },
  ];
  for (const tc of cases) {
    await t.test(tc.name, () => {
      if (tc.error) {
        assert.throws(() => containerMounts(c(tc.mounts), vols, { env }), { message: tc.error });
        return;
      }
      const got = containerMounts(c(tc.mounts), vols, { env });
      assert.equal(got.length, tc.want!.length);
      tc.want!.forEach((w, i) => assert.deepEqual({ ...got[i], ...w }, got[i]));
    });
  }
  assert.equal(await mode(path.join(scratch, 'a/b')), 0o770, 'created subPath directories take the volume mode');
});

// ---- teardown and usage ----

test('teardownVolumes unmounts tmpfs volumes and removes the pod dir', rootOnly, async (t) => {
  const dir = podDir(t);
  const vols = await setupVolumes(
    makePod([
      { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      { name: 'creds', secret: { secretName: 'sec' } },
    ]),
    dir,
    ctx(store([], [sec])),
  );
  assert.equal((await mountOf(vols.get('mem')!.hostPath))?.fsType, 'tmpfs');
  await teardownVolumes(dir);
  assert.equal(fsSync.existsSync(dir), false);
  const real = await fs.realpath(tmpRoot);
  const left = (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(path.join(real, path.basename(dir))));
  assert.deepEqual(left, []);
  await teardownVolumes(dir);
});

test('dirUsageBytes: allocated bytes, hard links once, bounded by maxEntries', async (t) => {
  const dir = path.join(tmpRoot, `usage-${++seq}`);
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(path.join(dir, 'sub'), { recursive: true });
  await fs.writeFile(path.join(dir, 'a'), Buffer.alloc(64 * 1024, 1));
  await fs.writeFile(path.join(dir, 'sub', 'b'), Buffer.alloc(32 * 1024, 1));
  await fs.link(path.join(dir, 'a'), path.join(dir, 'a-link'));
  const blocks = async (p: string) => (await fs.lstat(p)).blocks * 512;
  const want = (await blocks(dir)) + (await blocks(path.join(dir, 'sub'))) + (await blocks(path.join(dir, 'a'))) + (await blocks(path.join(dir, 'sub', 'b')));
  assert.ok(want >= 96 * 1024);
  assert.equal(await dirUsageBytes(dir), want);
  // root + a, a-link, sub, sub/b = 5 entries: a bound of 5 sees them all, 4 misses one.
  assert.equal(await dirUsageBytes(dir, { maxEntries: 5 }), want);
  assert.ok((await dirUsageBytes(dir, { maxEntries: 4 })) < want);
  assert.equal(await dirUsageBytes(dir, { maxEntries: 1 }), await blocks(dir));
  assert.equal(await dirUsageBytes(path.join(dir, 'missing')), 0);
});
