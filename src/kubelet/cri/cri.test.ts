/**
 * The CRI client against a real, private containerd: images built and imported locally, a
 * host-network pod (no CNI needed) with a busybox container, exec, logs, stats, a containerd
 * restart that the pod survives, teardown, and `killPods` cleaning up a pod left running.
 * Needs root and containerd; skipped otherwise. Prints the lifecycle call times.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importImages, killPods, startContainerd, type Containerd } from '../containerd/index.ts';
import { buildBusyboxImage, buildPauseImage, BUSYBOX_IMAGE, PAUSE_IMAGE } from '../images/index.ts';
import { CriClient, CriError, isNotFound } from './index.ts';
import type { In, PodSandboxConfig } from './types.ts';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !['/usr/bin/containerd', '/usr/local/bin/containerd'].some((p) => existsSync(p))
      ? 'containerd is not installed'
      : !existsSync('/bin/busybox')
        ? 'busybox-static is not installed'
        : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await sleep(50);
  }
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const v = await fn();
  console.log(`  ${label}: ${(performance.now() - t).toFixed(0)} ms`);
  return v;
}

/** Pids whose command line carries `socket` (the daemon and its shims). */
async function processesFor(socket: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const argv = (await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv.includes(socket) && /containerd/.test(argv[0] ?? '')) pids.push(Number(e));
  }
  return pids;
}

async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => mp.startsWith(dir + '/'));
}

describe('CRI against a private containerd', { skip }, () => {
  const cgroupParent = `/bosun-cri-test-${process.pid}`;
  let dir: string;
  let logDir: string;
  let containerd: Containerd | undefined;
  let cri: CriClient | undefined;
  const ac = new AbortController();

  const start = () =>
    startContainerd(
      {
        dir: path.join(dir, 'containerd'),
        cniConfDir: path.join(dir, 'cni'),
        sandboxImage: PAUSE_IMAGE,
        registriesFile: path.join(dir, 'registries.yaml'),
        log: () => {},
      },
      ac.signal,
    );

  const sandboxConfig = (name: string): In<PodSandboxConfig> => ({
    metadata: { name, uid: `uid-${name}`, namespace: 'default', attempt: 0 },
    hostname: '',
    log_directory: path.join(logDir, name),
    labels: { 'io.kubernetes.pod.name': name },
    linux: {
      cgroup_parent: cgroupParent,
      security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
    },
  });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bosun-cri-'));
    logDir = path.join(dir, 'pods');
    // A mirror on loopback (nothing is pulled): containerd must accept the generated tables.
    await writeFile(
      path.join(dir, 'registries.yaml'),
      'mirrors:\n  docker.io:\n    endpoint: ["http://127.0.0.1:5999"]\nconfigs:\n  "127.0.0.1:5999":\n    tls: { insecure_skip_verify: true }\n',
    );
    const pause = path.join(dir, 'pause.tar');
    const busybox = path.join(dir, 'busybox.tar');
    await buildPauseImage(pause, { cacheDir: path.join(dir, 'cache') });
    await buildBusyboxImage(busybox);
    containerd = await timed('start containerd', start);
    await timed('import pause + busybox', () => importImages(containerd!.socket, [pause, busybox]));
    cri = await CriClient.connect(containerd.socket, { timeoutMs: 20_000 });
  });

  after(async () => {
    ac.abort();
    cri?.close();
    await containerd?.stop();
    if (dir) {
      await killPods(path.join(dir, 'containerd'));
      for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [] as string[])) {
        await rmdir(path.join('/sys/fs/cgroup', hierarchy, cgroupParent)).catch(() => {});
      }
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('Version and Status report a ready containerd', async () => {
    const v = await cri!.version();
    assert.equal(v.runtime_name, 'containerd');
    assert.equal(v.runtime_api_version, 'v1');
    const s = await cri!.status();
    const ready = s.status?.conditions.find((c) => c.type === 'RuntimeReady');
    assert.equal(ready?.status, true);
  });

  test('imported images are visible through the image service', async () => {
    const { images } = await cri!.listImages();
    const tags = images.flatMap((i) => i.repo_tags);
    assert.ok(tags.includes(BUSYBOX_IMAGE), tags.join(','));
    assert.ok(tags.includes(PAUSE_IMAGE), tags.join(','));
    const present = await cri!.imageStatus({ image: { image: BUSYBOX_IMAGE } });
    assert.match(present.image?.id ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.match(present.image?.size ?? '', /^[1-9]\d*$/);
    const absent = await cri!.imageStatus({ image: { image: 'docker.io/library/absent:1' } });
    assert.equal(absent.image, null);
    const fs = await cri!.imageFsInfo();
    assert.ok(fs.image_filesystems.length > 0);
  });

  let sandboxId = '';
  let containerId = '';

  test('a host-network pod runs a busybox container', async () => {
    const config = sandboxConfig('web');
    ({ pod_sandbox_id: sandboxId } = await timed('RunPodSandbox', () => cri!.runPodSandbox({ config })));
    const status = await cri!.podSandboxStatus({ pod_sandbox_id: sandboxId });
    assert.equal(status.status?.state, 'SANDBOX_READY');
    assert.equal(status.status?.linux?.namespaces?.options?.network, 'NODE');

    ({ container_id: containerId } = await timed('CreateContainer', () =>
      cri!.createContainer({
        pod_sandbox_id: sandboxId,
        config: {
          metadata: { name: 'main', attempt: 0 },
          image: { image: BUSYBOX_IMAGE },
          command: ['sh', '-c', 'trap "exit 0" TERM; echo hello from busybox; while true; do sleep 1; done'],
          envs: [{ key: 'GREETING', value: 'hi' }],
          log_path: 'main/0.log',
          labels: { 'io.kubernetes.container.name': 'main' },
        },
        sandbox_config: config,
      }),
    ));
    await timed('StartContainer', () => cri!.startContainer({ container_id: containerId }));
    const { status: cs } = await cri!.containerStatus({ container_id: containerId });
    assert.equal(cs?.state, 'CONTAINER_RUNNING');
    assert.notEqual(cs?.started_at, '0');
    assert.equal(cs?.log_path, path.join(logDir, 'web', 'main/0.log'));
    const { containers } = await cri!.listContainers({ filter: { pod_sandbox_id: sandboxId } });
    assert.deepEqual(
      containers.map((c) => [c.id, c.state, c.metadata?.name]),
      [[containerId, 'CONTAINER_RUNNING', 'main']],
    );
  });

  test('ExecSync returns output and exit codes', async () => {
    const cases = [
      { name: 'echo', cmd: ['echo', 'hi'], stdout: 'hi\n', stderr: '', exit: 0 },
      { name: 'env from the config', cmd: ['sh', '-c', 'echo $GREETING'], stdout: 'hi\n', stderr: '', exit: 0 },
      { name: 'stderr and a failure', cmd: ['sh', '-c', 'echo oops >&2; exit 3'], stdout: '', stderr: 'oops\n', exit: 3 },
    ];
    for (const c of cases) {
      const r = await timed(`ExecSync ${c.name}`, () => cri!.execSync({ container_id: containerId, cmd: c.cmd, timeout: '10' }));
      assert.deepEqual([r.stdout.toString(), r.stderr.toString(), r.exit_code], [c.stdout, c.stderr, c.exit], c.name);
    }
  });

  test('the container log is written in the CRI format', async () => {
    const file = path.join(logDir, 'web', 'main', '0.log');
    const line = await eventually('the log line', async () => {
      const text = await readFile(file, 'utf8');
      return text.split('\n').find((l) => l.endsWith('hello from busybox'));
    });
    const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/.exec(line);
    assert.ok(m, line);
    assert.match(m[1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    assert.ok(Math.abs(Date.parse(m[1]!) - Date.now()) < 60_000);
    assert.deepEqual([m[2], m[3], m[4]], ['stdout', 'F', 'hello from busybox']);
  });

  test('Exec, Attach and PortForward answer URLs on the loopback streaming server', async () => {
    const urls = [
      (await cri!.exec({ container_id: containerId, cmd: ['sh'], stdin: true, stdout: true })).url,
      (await cri!.attach({ container_id: containerId, stdout: true })).url,
      (await cri!.portForward({ pod_sandbox_id: sandboxId, port: [80] })).url,
    ];
    for (const u of urls) {
      const url = new URL(u);
      assert.equal(url.hostname, '127.0.0.1');
      assert.notEqual(url.port, '0');
      if (containerd!.streamAddress) assert.equal(url.host, containerd!.streamAddress);
    }
  });

  test('stats cover the container and the pod', async () => {
    const { stats } = await cri!.listContainerStats({ filter: { pod_sandbox_id: sandboxId } });
    assert.equal(stats.length, 1);
    assert.equal(stats[0]!.attributes?.id, containerId);
    assert.match(stats[0]!.cpu?.usage_core_nano_seconds?.value ?? '', /^\d+$/);
    assert.ok(Number(stats[0]!.memory?.working_set_bytes?.value) > 0);
    const one = await cri!.containerStats({ container_id: containerId });
    assert.equal(one.stats?.attributes?.metadata?.name, 'main');
    const pod = await cri!.podSandboxStats({ pod_sandbox_id: sandboxId });
    assert.equal(pod.stats?.attributes?.id, sandboxId);
    assert.ok(Number(pod.stats?.linux?.memory?.working_set_bytes?.value) > 0);
  });

  test('UpdateContainerResources changes the memory limit', async () => {
    await cri!.updateContainerResources({
      container_id: containerId,
      linux: { memory_limit_in_bytes: String(64 * 1024 * 1024), cpu_period: '100000', cpu_quota: '50000' },
    });
    const { status } = await cri!.containerStatus({ container_id: containerId });
    assert.equal(status?.resources?.linux?.memory_limit_in_bytes, String(64 * 1024 * 1024));
  });

  test('missing objects are NOT_FOUND errors', async () => {
    const calls = [
      () => cri!.containerStatus({ container_id: 'absent' }),
      () => cri!.podSandboxStatus({ pod_sandbox_id: 'absent' }),
      () => cri!.stopPodSandbox({ pod_sandbox_id: 'absent' }),
      () => cri!.execSync({ container_id: 'absent', cmd: ['true'] }),
    ];
    for (const call of calls) {
      await assert.rejects(call, (err) => err instanceof CriError && err.code === 5 && isNotFound(err));
    }
    // Removal is idempotent.
    await cri!.removeContainer({ container_id: 'absent' });
    await cri!.removePodSandbox({ pod_sandbox_id: 'absent' });
  });

  test('the pod keeps running while containerd restarts, and is adopted', async () => {
    const socket = containerd!.socket;
    await timed('containerd stop', () => containerd!.stop());
    assert.equal(await containerd!.exited, 0);
    const left = await processesFor(socket);
    assert.ok(left.length >= 1, 'the shim stays');
    containerd = await timed('containerd restart', start);
    assert.equal(containerd.socket, socket);
    cri!.close();
    cri = await CriClient.connect(containerd.socket, { timeoutMs: 20_000 });
    const { status } = await cri.containerStatus({ container_id: containerId });
    assert.equal(status?.state, 'CONTAINER_RUNNING');
    const r = await cri.execSync({ container_id: containerId, cmd: ['echo', 'still here'] });
    assert.equal(r.stdout.toString(), 'still here\n');
  });

  test('stop and remove tear the pod down', async () => {
    await timed('StopContainer', () => cri!.stopContainer({ container_id: containerId, timeout: '10' }));
    const { status } = await cri!.containerStatus({ container_id: containerId });
    assert.equal(status?.state, 'CONTAINER_EXITED');
    assert.equal(status?.exit_code, 0, 'the TERM trap ran');
    await timed('RemoveContainer', () => cri!.removeContainer({ container_id: containerId }));
    await timed('StopPodSandbox', () => cri!.stopPodSandbox({ pod_sandbox_id: sandboxId }));
    await timed('RemovePodSandbox', () => cri!.removePodSandbox({ pod_sandbox_id: sandboxId }));
    assert.deepEqual((await cri!.listPodSandbox()).items, []);
    assert.deepEqual((await cri!.listContainers()).containers, []);
  });

  test('killPods ends pods left running and unmounts their filesystems', async () => {
    const config = sandboxConfig('left');
    const { pod_sandbox_id } = await cri!.runPodSandbox({ config });
    const { container_id } = await cri!.createContainer({
      pod_sandbox_id,
      config: { metadata: { name: 'c' }, image: { image: BUSYBOX_IMAGE }, command: ['sleep', '3600'], log_path: 'c.log' },
      sandbox_config: config,
    });
    await cri!.startContainer({ container_id });
    const socket = containerd!.socket;
    cri!.close();
    cri = undefined;
    await containerd!.stop();
    containerd = undefined;
    assert.ok((await processesFor(socket)).length >= 1);
    assert.ok((await mountsUnder(dir)).length >= 1);

    await timed('killPods', () => killPods(path.join(dir, 'containerd')));
    assert.deepEqual(await processesFor(socket), []);
    assert.deepEqual(await mountsUnder(dir), []);
    const runcState = await readdir(path.join(dir, 'containerd', 'runc', 'k8s.io')).catch(() => []);
    assert.deepEqual(runcState, []);
  });
});
