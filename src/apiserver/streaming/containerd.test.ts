/**
 * The streaming path against containerd's real CRI streaming server: a private containerd, a
 * host-network pod with busybox containers, the agent server whose backend asks the CRI for
 * Exec/Attach/PortForward URLs, the API server, and the real kubectl (1.27: SPDY proxied raw at
 * both hops; 1.33: WebSocket translated to SPDY, port-forward tunneled). Covers exec (output,
 * stdin, stderr, exit codes, a TTY and its size through `script`), cp, attach and port-forward.
 * Needs root, containerd and busybox-static; skipped otherwise. Cleans up its pods and files.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import https from 'node:https';
import { spawn } from 'node:child_process';
import { ensurePki, issueClientCert, issueServingCert, kubeconfigYaml, type Pki } from '../../pki/index.ts';
import { openStore } from '../../storage/index.ts';
import type { Store } from '../../storage/types.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { ApiServer } from '../server.ts';
import { bootstrap } from '../bootstrap.ts';
import { startAgentServer, HttpError, type AgentBackend, type AgentServer } from '../../kubelet/server/index.ts';
import { importImages, killPods, startContainerd, type Containerd } from '../../kubelet/containerd/index.ts';
import { buildBusyboxImage, buildPauseImage, BUSYBOX_IMAGE, PAUSE_IMAGE } from '../../kubelet/images/index.ts';
import { CriClient } from '../../kubelet/cri/index.ts';

const kubectlPath = (minor: string) => `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`;
const kubectlVersions = ['27', '33'].filter((v) => fs.existsSync(kubectlPath(v)));

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !['/usr/bin/containerd', '/usr/local/bin/containerd'].some((p) => fs.existsSync(p))
      ? 'containerd is not installed'
      : !fs.existsSync('/bin/busybox')
        ? 'busybox-static is not installed'
        : !kubectlVersions.length
          ? 'no kubectl'
          : false;

describe('streaming to containerd’s CRI streaming server', { skip }, () => {
  const cgroupParent = `/bosun-streaming-test-${process.pid}`;
  const ac = new AbortController();
  let dir: string;
  let pki: Pki;
  let store: Store;
  let api: ApiServer;
  let port: number;
  let kubeconfig: string;
  let containerd: Containerd | undefined;
  let cri: CriClient | undefined;
  let agent: AgentServer | undefined;
  let sandboxId = '';
  const containers = new Map<string, string>();
  let echoPort = 0;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-streaming-cri-'));
    pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
    fs.writeFileSync(path.join(dir, 'registries.yaml'), 'mirrors:\n  docker.io:\n    endpoint: ["http://127.0.0.1:5999"]\n');
    const pause = path.join(dir, 'pause.tar');
    const busybox = path.join(dir, 'busybox.tar');
    await buildPauseImage(pause, { cacheDir: path.join(dir, 'cache') });
    await buildBusyboxImage(busybox);
    containerd = await startContainerd({ dir: path.join(dir, 'containerd'), cniConfDir: path.join(dir, 'cni'), sandboxImage: PAUSE_IMAGE, registriesFile: path.join(dir, 'registries.yaml'), log: () => {} }, ac.signal);
    await importImages(containerd.socket, [pause, busybox]);
    cri = await CriClient.connect(containerd.socket, { timeoutMs: 20_000 });

    // A free port on the host for the echo server the pod runs (host network).
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    echoPort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));

    const sandboxConfig = {
      metadata: { name: 'p1', uid: 'uid-p1', namespace: 'default', attempt: 0 },
      hostname: '',
      log_directory: path.join(dir, 'pods', 'p1'),
      labels: {},
      linux: { cgroup_parent: cgroupParent, security_context: { namespace_options: { network: 'NODE' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } } },
    };
    ({ pod_sandbox_id: sandboxId } = await cri.runPodSandbox({ config: sandboxConfig }));
    const run = async (name: string, command: string[], extra: { stdin?: boolean; stdin_once?: boolean } = {}) => {
      const { container_id } = await cri!.createContainer({
        pod_sandbox_id: sandboxId,
        config: { metadata: { name, attempt: 0 }, image: { image: BUSYBOX_IMAGE }, command, log_path: `${name}/0.log`, ...extra },
        sandbox_config: sandboxConfig,
      });
      await cri!.startContainer({ container_id });
      containers.set(name, container_id);
    };
    await run('main', ['sh', '-c', 'echo hello from busybox; exec sleep 3600']);
    await run('echo', ['nc', '-ll', '-p', String(echoPort), '-e', '/bin/cat']);
    await run('once', ['cat'], { stdin: true, stdin_once: true });

    const serving = await issueServingCert(pki, { name: 'agent-serving', commonName: 'node-1', sans: ['127.0.0.1'] });
    const kubeletClient = await issueClientCert(pki, { name: 'kubelet-client', commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] });
    const podObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p1', namespace: 'default' },
      spec: { nodeName: 'node-1', containers: [...containers.keys()].map((name) => ({ name, image: 'busybox', stdin: name === 'once', stdinOnce: name === 'once' })) },
    };
    const containerId = (c: string) => {
      const id = containers.get(c);
      if (!id) throw new HttpError(400, `container ${c} is not running`);
      return id;
    };
    const backend: AgentBackend = {
      exec: async (r) => (await cri!.exec({ container_id: containerId(r.container), cmd: r.command, tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr })).url,
      attach: async (r) => (await cri!.attach({ container_id: containerId(r.container), tty: r.tty, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr })).url,
      portForward: async (r) => (await cri!.portForward({ pod_sandbox_id: sandboxId, port: r.ports ?? [] })).url,
      async containerLogs(r, out) {
        const file = path.join(dir, 'pods', 'p1', r.container, '0.log');
        for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) out.write(`${line.split(' ').slice(3).join(' ')}\n`);
      },
      pods: () => [podObject],
      statsSummary: async () => ({}),
      metrics: async () => '',
    };
    agent = await startAgentServer({ bindAddress: '127.0.0.1', port: 0, tls: { ...serving, caPem: pki.caCertPem }, backend, log: () => {} }, ac.signal);

    store = await openStore(undefined, dir);
    api = new ApiServer({ store, resources: builtinResources, tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem }, port: 0, kubeletClient: { ...kubeletClient, caPem: pki.caCertPem } });
    port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
    kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(kubeconfig, kubeconfigYaml({ server: `https://127.0.0.1:${port}`, caPem: pki.caCertPem, certPem: pki.adminCertPem, keyPem: pki.adminKeyPem }));
    const call = (method: string, p: string, body: unknown, type = 'application/json') =>
      new Promise<number>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, method, path: p, agent: false, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem, headers: { 'content-type': type } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    assert.equal(await call('POST', '/api/v1/nodes', { metadata: { name: 'node-1' } }), 201);
    await call('PATCH', '/api/v1/nodes/node-1/status', { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: agent.port } } } }, 'application/merge-patch+json');
    // No serviceaccount controller here: the pod's account is made by hand (ServiceAccount admission needs it).
    assert.equal(await call('POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'default' } }), 201);
    assert.equal(await call('POST', '/api/v1/namespaces/default/pods', podObject), 201);
    await call('PATCH', '/api/v1/namespaces/default/pods/p1/status', { status: { phase: 'Running' } }, 'application/merge-patch+json');
  });

  after(async () => {
    ac.abort();
    await agent?.close();
    await api?.close();
    await store?.close();
    if (cri && sandboxId) {
      await cri.stopPodSandbox({ pod_sandbox_id: sandboxId }).catch(() => {});
      await cri.removePodSandbox({ pod_sandbox_id: sandboxId }).catch(() => {});
    }
    cri?.close();
    await containerd?.stop();
    if (dir) {
      await killPods(path.join(dir, 'containerd')).catch(() => {});
      for (const h of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : []) {
        try {
          fs.rmdirSync(path.join('/sys/fs/cgroup', h, cgroupParent));
        } catch {
          // not there (or not a directory in this hierarchy)
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  function kubectl(minor: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn(kubectlPath(minor), ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      p.stdin.end(input);
    });
  }

  const cases: { name: string; args: string[]; input?: string; code: number; stdout?: string; stderr?: string | RegExp }[] = [
    { name: 'logs', args: ['logs', 'p1', '-c', 'main'], code: 0, stdout: 'hello from busybox\n' },
    { name: 'exec prints', args: ['exec', 'p1', '-c', 'main', '--', 'echo', 'real', 'exec'], code: 0, stdout: 'real exec\n' },
    { name: 'exec keeps stderr apart', args: ['exec', 'p1', '-c', 'main', '--', 'sh', '-c', 'echo out; echo err >&2'], code: 0, stdout: 'out\n', stderr: 'err\n' },
    { name: 'exec passes the exit code on', args: ['exec', 'p1', '-c', 'main', '--', 'sh', '-c', 'exit 42'], code: 42, stderr: 'command terminated with exit code 42\n' },
    { name: 'exec -i carries stdin to its end', args: ['exec', '-i', 'p1', '-c', 'main', '--', 'sh', '-c', 'cat; echo done'], input: 'line one\nline two\n', code: 0, stdout: 'line one\nline two\ndone\n' },
    { name: 'exec of a missing command', args: ['exec', 'p1', '-c', 'main', '--', 'nosuchcommand'], code: 1, stderr: /nosuchcommand/ },
  ];

  for (const v of kubectlVersions) {
    for (const c of cases) {
      test(`kubectl 1.${v}: ${c.name}`, async () => {
        const r = await kubectl(v, c.args, c.input);
        assert.equal(r.code, c.code, JSON.stringify(r));
        if (c.stdout !== undefined) assert.equal(r.stdout, c.stdout, JSON.stringify(r));
        if (typeof c.stderr === 'string') assert.equal(r.stderr, c.stderr, JSON.stringify(r));
        if (c.stderr instanceof RegExp) assert.match(r.stderr, c.stderr, JSON.stringify(r));
      });
    }

    test(`kubectl 1.${v}: exec -t gets a terminal of the client's size`, async () => {
      // The size arrives as a resize event after the process started: give it a moment.
      const cmd = `stty rows 33 cols 99; ${kubectlPath(v)} --kubeconfig ${kubeconfig} exec -it p1 -c main -- sh -c 'sleep 1; stty size'`;
      const r = await new Promise<string>((resolve) => {
        const p = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
        p.on('close', () => {
          clearTimeout(timer);
          resolve(out);
        });
      });
      assert.match(r, /33 99/);
    });

    test(`kubectl 1.${v}: port-forward reaches a port in the pod`, async () => {
      const p = spawn(kubectlPath(v), ['--kubeconfig', kubeconfig, 'port-forward', 'pod/p1', `:${echoPort}`, '-v=4'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      try {
        const deadline = Date.now() + 20_000;
        let local = 0;
        while (!local && Date.now() < deadline) {
          const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(out);
          if (m) local = Number(m[1]);
          else await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(local, out);
        for (const word of ['ping', 'pong']) {
          const sock = net.connect(local, '127.0.0.1');
          const got = await new Promise<string>((resolve, reject) => {
            let t = '';
            sock.on('data', (d: Buffer) => {
              t += d.toString();
              if (t.includes(word)) resolve(t);
            });
            sock.on('error', reject);
            sock.write(`${word}\n`);
          });
          sock.destroy();
          assert.equal(got, `${word}\n`, out);
        }
        if (Number(v) >= 31) assert.doesNotMatch(out, /fallback/);
      } finally {
        p.kill('SIGTERM');
        await new Promise((r) => p.once('close', r));
      }
    });
  }

  for (const v of kubectlVersions) {
    test(`kubectl 1.${v}: cp copies a file in and out (tar over exec)`, async () => {
      const local = path.join(dir, `in-${v}.txt`);
      fs.writeFileSync(local, `copied with 1.${v}\n`);
      const put = await kubectl(v, ['cp', local, `p1:/tmp/in-${v}.txt`, '-c', 'main']);
      assert.equal(put.code, 0, JSON.stringify(put));
      const cat = await kubectl(v, ['exec', 'p1', '-c', 'main', '--', 'cat', `/tmp/in-${v}.txt`]);
      assert.equal(cat.stdout, `copied with 1.${v}\n`);
      const back = path.join(dir, `out-${v}.txt`);
      const get = await kubectl(v, ['cp', `p1:/tmp/in-${v}.txt`, back, '-c', 'main']);
      assert.equal(get.code, 0, JSON.stringify(get));
      assert.equal(fs.readFileSync(back, 'utf8'), `copied with 1.${v}\n`);
    });
  }

  test('attach -i reaches the container’s stdin (the container ends with it)', async () => {
    const r = await kubectl(kubectlVersions.at(-1)!, ['attach', '-i', 'p1', '-c', 'once'], 'attached\n');
    assert.match(r.stdout, /attached\n/, JSON.stringify(r));
  });
});
