/**
 * The server's own certificates are renewed while it runs (pki/rotation.ts), with leaves living
 * 20 s (BOSUN_CERT_LIFETIME_SECONDS, for tests): the API server's serving certificate changes
 * under a running process, kubectl keeps working with the rewritten admin kubeconfig after the
 * first admin certificate expired (while a saved copy of the first kubeconfig is refused), and
 * the in-process controller manager, scheduler and simulated node keep working after their first
 * certificates expired: a Deployment created then gets its ReplicaSet and a Running pod. The
 * process is the same throughout (same pid, started once).
 *
 * The other two run the node agent (root only; run this file under
 * `flock /tmp/bosun-agent.lock`), in the server's process and as `bosun agent` beside it: after
 * the first agent serving certificate and the first kubelet-client certificate of the API server
 * expired, `kubectl logs` still reaches the agent and a pod created then becomes Ready.
 *
 * Most of each test is waiting for certificates to expire, so the first test (simulated nodes
 * only) runs at the same time as the two agent tests, which run one after the other (each has its
 * own server, data directory and free port; the agent tests share the machine's containerd and
 * so do not overlap). Every server here gets the same test lifetime, so the variable's brief
 * setting around a start can never leak a different value into another one.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import { bosunBin, kubectl, kubectlOk, kubectlVersions, startServer, until, getPod, isPodReady, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig } from './api.ts';
import { agentSupported, busyboxImage, cleanupAgent, prepareAgent } from './node.ts';

const newest = kubectlVersions.at(-1)!;
/** The leaf lifetime of every server here, in seconds: renewal starts at 70–90 % of it. */
const lifetime = 20;

/**
 * Starts a server whose leaf certificates live `lifetime` seconds (the variable is read at its
 * start only). Without the agent the process is spawned before `startServer` first awaits, so the
 * variable is set for no longer than that synchronous step.
 */
function startShortLived(opts: Parameters<typeof startServer>[0]): Promise<ServerHandle> {
  const saved = process.env['BOSUN_CERT_LIFETIME_SECONDS'];
  process.env['BOSUN_CERT_LIFETIME_SECONDS'] = String(lifetime);
  const started = startServer(opts);
  if (!opts?.agent) restore();
  return opts?.agent ? started.finally(restore) : started;
  function restore(): void {
    if (saved === undefined) delete process.env['BOSUN_CERT_LIFETIME_SECONDS'];
    else process.env['BOSUN_CERT_LIFETIME_SECONDS'] = saved;
  }
}

/** The certificate the API server presents to a new connection, verified against the cluster CA. */
function servingCert(server: ServerHandle, ca: Buffer): Promise<{ serial: string; notAfter: number }> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: server.port, ca, ALPNProtocols: ['h2'] }, () => {
      const c = sock.getPeerCertificate();
      sock.destroy();
      resolve({ serial: c.serialNumber, notAfter: Date.parse(c.valid_to) });
    });
    sock.on('error', reject);
  });
}

/** A certificate file's serial and end of validity. */
function certFile(file: string): { serial: string; notAfter: number } {
  const c = new X509Certificate(fs.readFileSync(file));
  return { serial: c.serialNumber, notAfter: c.validToDate.getTime() };
}

/** Waits until the wall clock is past `ms` (plus a second for the peers' one-second resolution). */
async function waitPast(ms: number): Promise<void> {
  while (Date.now() <= ms + 1_000) await new Promise((r) => setTimeout(r, 200));
}

describe('certificate renewal', { concurrency: true }, () => {
  test('leaf certificates are renewed while the server runs and taken into use without a restart', { timeout: 300_000 }, async () => {
    const server = await startShortLived({ args: ['--virtual-nodes', '1'], timeoutMs: 60_000 });
    const detail = () => server.output().slice(-4000);
    try {
      const pid = server.proc.pid;
      const tlsDir = path.join(server.dataDir, 'tls');
      const first = credsFromKubeconfig(server.kubeconfig);
      const firstKubeconfig = path.join(server.dataDir, 'first-kubeconfig.yaml');
      fs.copyFileSync(server.kubeconfig, firstKubeconfig);
      const firstServing = await servingCert(server, first.ca);
      const firstAdmin = new X509Certificate(first.cert!);
      const firstCm = certFile(path.join(tlsDir, 'controller-manager.crt'));
      const firstScheduler = certFile(path.join(tlsDir, 'scheduler.crt'));
      const firstVirtual = certFile(path.join(tlsDir, 'virtual-nodes.crt'));
      // The test lifetime applies: about 20 s left, not a year.
      assert.ok(firstServing.notAfter - Date.now() < (lifetime + 10) * 1000, `serving certificate ends ${new Date(firstServing.notAfter).toISOString()}`);

      // The listener serves a new certificate while the process runs; twice (renewal goes on).
      const seen = new Set([firstServing.serial]);
      await until('the serving certificate to be renewed twice', async () => {
        // A handshake that fails (never expected) is retried until the deadline, then reported.
        seen.add((await servingCert(server, first.ca).catch(() => ({ serial: firstServing.serial }))).serial);
        return seen.size >= 3;
      }, { timeoutMs: 120_000, detail });

      // Every first certificate has expired by now.
      await waitPast(Math.max(firstServing.notAfter, firstAdmin.validToDate.getTime(), firstCm.notAfter, firstScheduler.notAfter, firstVirtual.notAfter));
      const now = await servingCert(server, first.ca);
      assert.notEqual(now.serial, firstServing.serial);
      assert.ok(now.notAfter > Date.now(), 'the certificate served now is valid');

      // The admin kubeconfig was rewritten with a new, valid certificate; kubectl works with it.
      const current = new X509Certificate(credsFromKubeconfig(server.kubeconfig).cert!);
      assert.notEqual(current.serialNumber, firstAdmin.serialNumber);
      assert.equal(current.subject, firstAdmin.subject);
      assert.match(await kubectlOk(server, newest, ['get', 'namespaces', 'kube-system', '-o', 'name']), /^namespace\/kube-system$/m);
      // ... while the first kubeconfig's certificate is refused now.
      const stale = await kubectl({ kubeconfig: firstKubeconfig }, newest, ['get', 'namespaces']);
      assert.notEqual(stale.code, 0, stale.stdout);
      assert.match(stale.stderr, /Unauthorized/);

      // The controller manager, scheduler and simulated node run past their first certificates.
      for (const f of ['controller-manager', 'scheduler', 'virtual-nodes']) assert.notEqual(certFile(path.join(tlsDir, `${f}.crt`)).serial, { 'controller-manager': firstCm, scheduler: firstScheduler, 'virtual-nodes': firstVirtual }[f]!.serial, `${f}.crt renewed on disk`);
      await kubectlOk(server, newest, ['create', 'deployment', 'after-expiry', `--image=${busyboxImage}`]);
      await until('a ReplicaSet for the Deployment created after expiry', async () => {
        const r = await kubectl(server, newest, ['get', 'replicasets', '-l', 'app=after-expiry', '-o', 'name']);
        return r.code === 0 && r.stdout.trim() !== '';
      }, { timeoutMs: 60_000, detail });
      await until('its pod Running on the simulated node', async () => {
        const r = await kubectl(server, newest, ['get', 'pods', '-l', 'app=after-expiry', '-o', 'json']);
        if (r.code !== 0) return false;
        const pods = (JSON.parse(r.stdout) as { items: { spec?: { nodeName?: string }; status?: { phase?: string } }[] }).items;
        return pods.some((p) => p.spec?.nodeName?.startsWith('virtual-node-') && p.status?.phase === 'Running');
      }, { timeoutMs: 60_000, detail });

      // One process throughout.
      assert.equal(server.proc.exitCode, null);
      assert.equal(server.proc.pid, pid);
      assert.equal(server.output().match(/API server ready at/g)?.length, 1);
      assert.match(server.output(), /pki: serving\.crt renewed \(serial /);
      assert.match(server.output(), /pki: admin\.crt renewed \(serial /);
      assert.doesNotMatch(server.output(), /renewing \S+ failed/);
    } finally {
      await server.stop();
    }
  });

  const skipAgent = agentSupported() ? false : 'the node agent needs root';

  describe('with the node agent', { concurrency: 1 }, () => {
    test('the node agent’s serving certificate and the API server’s kubelet client certificate are renewed in place', { skip: skipAgent, timeout: 300_000 }, async (t) => {
      const server = await startShortLived({ agent: true, timeoutMs: 120_000 });
      const detail = () => server.output().slice(-4000);
      try {
        const pid = server.proc.pid;
        const tlsDir = path.join(server.dataDir, 'tls');
        const firstAgentServing = certFile(path.join(tlsDir, 'agent-serving.crt'));
        const firstKubeletClient = certFile(path.join(tlsDir, 'apiserver-kubelet-client.crt'));
        const firstAgent = certFile(path.join(tlsDir, 'agent.crt'));
        await waitForServiceAccount(server, 'default');
        await kubectlOk(server, newest, ['run', 'talker', `--image=${busyboxImage}`, '--', 'sh', '-c', 'echo hello from talker; sleep 3600']);
        await until('pod talker Ready', async () => isPodReady(await getPod(server, 'talker')), { timeoutMs: 90_000, detail });

        await waitPast(Math.max(firstAgentServing.notAfter, firstKubeletClient.notAfter, firstAgent.notAfter));
        assert.notEqual(certFile(path.join(tlsDir, 'agent-serving.crt')).serial, firstAgentServing.serial);
        assert.notEqual(certFile(path.join(tlsDir, 'apiserver-kubelet-client.crt')).serial, firstKubeletClient.serial);
        // API server → agent: both sides verify the other's certificate at the handshake.
        const failures: string[] = [];
        const logs = await until('kubectl logs through the agent', async () => {
          const r = await kubectl(server, newest, ['logs', 'talker'], { timeoutMs: 15_000 });
          if (r.code !== 0) failures.push(r.stderr.trim() || `exit ${r.code}`);
          return r.code === 0 ? r.stdout : undefined;
        }, { timeoutMs: 60_000, detail: () => `kubectl: ${failures.join('\n')}\n${detail()}` });
        if (failures.length) t.diagnostic(`kubectl logs failed ${failures.length} time(s) first: ${failures.join(' | ')}`);
        assert.match(logs, /hello from talker/);
        // The agent's own client: a pod created now still starts.
        await kubectlOk(server, newest, ['run', 'later', `--image=${busyboxImage}`, '--', 'sleep', '3600']);
        await until('pod later Ready', async () => isPodReady(await getPod(server, 'later')), { timeoutMs: 90_000, detail });
        assert.equal(server.proc.exitCode, null);
        assert.equal(server.proc.pid, pid);
        assert.doesNotMatch(server.output(), /renewing \S+ failed/);
      } finally {
        await server.stop();
      }
    });

    test('a separate bosun agent beside the server renews its own certificates in place', { skip: skipAgent, timeout: 300_000 }, async (t) => {
      const server = await startShortLived({ timeoutMs: 60_000 });
      await prepareAgent(server.dataDir);
      const saved = process.env['BOSUN_CERT_LIFETIME_SECONDS'];
      process.env['BOSUN_CERT_LIFETIME_SECONDS'] = String(lifetime);
      const agent = spawn(bosunBin, ['agent', '--data-dir', server.dataDir, '--kubelet-port', '0', '--node-name', 'solo'], { stdio: ['ignore', 'pipe', 'pipe'] });
      if (saved === undefined) delete process.env['BOSUN_CERT_LIFETIME_SECONDS'];
      else process.env['BOSUN_CERT_LIFETIME_SECONDS'] = saved;
      let out = '';
      agent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      agent.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const detail = () => `agent:\n${out.slice(-3000)}\nserver:\n${server.output().slice(-2000)}`;
      try {
        await until('the agent ready', async () => /agent: node solo ready/.test(out), { timeoutMs: 90_000, detail });
        const tlsDir = path.join(server.dataDir, 'tls');
        const firsts = ['agent-solo', 'agent-serving-solo', 'apiserver-kubelet-client'].map((n) => ({ n, ...certFile(path.join(tlsDir, `${n}.crt`)) }));
        assert.ok(firsts[1]!.notAfter - Date.now() < (lifetime + 10) * 1000, 'the agent issued its serving certificate with the test lifetime');
        await waitForServiceAccount(server, 'default');
        await kubectlOk(server, newest, ['run', 'solo-talker', `--image=${busyboxImage}`, '--', 'sh', '-c', 'echo hello from solo; sleep 3600']);
        await until('pod solo-talker Ready', async () => isPodReady(await getPod(server, 'solo-talker')), { timeoutMs: 90_000, detail });

        await waitPast(Math.max(...firsts.map((f) => f.notAfter)));
        for (const f of firsts) assert.notEqual(certFile(path.join(tlsDir, `${f.n}.crt`)).serial, f.serial, `${f.n}.crt renewed`);
        const failures: string[] = [];
        const logs = await until('kubectl logs through the agent', async () => {
          const r = await kubectl(server, newest, ['logs', 'solo-talker'], { timeoutMs: 15_000 });
          if (r.code !== 0) failures.push(r.stderr.trim() || `exit ${r.code}`);
          return r.code === 0 ? r.stdout : undefined;
        }, { timeoutMs: 60_000, detail: () => `kubectl: ${failures.join('\n')}\n${detail()}` });
        if (failures.length) t.diagnostic(`kubectl logs failed ${failures.length} time(s) first: ${failures.join(' | ')}`);
        assert.match(logs, /hello from solo/);
        await kubectlOk(server, newest, ['run', 'solo-later', `--image=${busyboxImage}`, '--', 'sleep', '3600']);
        await until('pod solo-later Ready', async () => isPodReady(await getPod(server, 'solo-later')), { timeoutMs: 90_000, detail });
        assert.equal(agent.exitCode, null, 'the agent never restarted');
        assert.equal(out.match(/agent: node solo ready/g)?.length, 1);
        assert.match(out, /pki: agent-serving-solo\.crt renewed/);
      } finally {
        if (agent.exitCode === null) agent.kill('SIGKILL');
        await server.stop();
        await cleanupAgent(server.dataDir);
      }
    });
  });
});
