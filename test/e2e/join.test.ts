/**
 * Joining nodes with a token through the TLS bootstrap: the server's node token (pinning the CA,
 * backed by a bootstrap token Secret), bootstrap token authentication, the csrapproving and
 * csrsigning controllers seen through kubectl (`get csr`, `certificate approve|deny`), and — with
 * root, under the machine-wide agent lock — `bosun agent --server --token` joining for real: node
 * Ready, a pod running, `kubectl logs` through the API server; a wrong token refused with nothing
 * registered.
 *
 * Run: flock /tmp/bosun-agent.lock node --test test/e2e/join.test.ts
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CertificateSigningRequest } from '../../src/api/index.ts';
import { createClient, descriptor, resources } from '../../src/client/index.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { ensureAgentCredentials, pinnedCa } from '../../src/kubelet/bootstrap.ts';
import { bosunBin, isPodReady, getPod, kubectl, kubectlOk, kubectlVersions, startServer, until, useServer, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { agentSupported, busyboxImage, cleanupAgent, prepareAgent } from './node.ts';

const newest = kubectlVersions[kubectlVersions.length - 1]!;
const selfSubjectReviews = descriptor({ group: 'authentication.k8s.io', version: 'v1', resource: 'selfsubjectreviews', kind: 'SelfSubjectReview', namespaced: false });
const tokenRe = /^K10([0-9a-f]{64})::([a-z0-9]{6})\.([a-z0-9]{16})$/;

function csrYaml(name: string, csrPem: string, signer: string, usages: string[], expirationSeconds?: number): string {
  return JSON.stringify({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request: Buffer.from(csrPem).toString('base64'), signerName: signer, usages, ...(expirationSeconds ? { expirationSeconds } : {}) },
  });
}

async function getCsr(server: ServerHandle, name: string): Promise<CertificateSigningRequest> {
  return JSON.parse(await kubectlOk(server, newest, ['get', 'csr', name, '-o', 'json'])) as CertificateSigningRequest;
}

describe('node tokens and certificate requests', () => {
  let server!: ServerHandle;
  useServer({}, (s) => (server = s));

  test('the server writes a node token pinning its CA, backed by a bootstrap token Secret', async () => {
    const text = fs.readFileSync(path.join(server.dataDir, 'server', 'node-token'), 'utf8').trim();
    const m = tokenRe.exec(text);
    assert.ok(m, text);
    assert.equal(m[1], createHash('sha256').update(fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.crt'))).digest('hex'));
    assert.equal(fs.statSync(path.join(server.dataDir, 'server', 'node-token')).mode & 0o777, 0o600);
    const secret = JSON.parse(await kubectlOk(server, newest, ['get', 'secret', '-n', 'kube-system', `bootstrap-token-${m[2]}`, '-o', 'json']));
    assert.equal(secret.type, 'bootstrap.kubernetes.io/token');
    assert.equal(Buffer.from(secret.data['usage-bootstrap-authentication'], 'base64').toString(), 'true');
    assert.equal(await pinnedCa(server.url, text), fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.crt'), 'utf8'));
  });

  test('a bootstrap token authenticates as system:bootstrap:<id>; a wrong one is 401', async () => {
    const text = fs.readFileSync(path.join(server.dataDir, 'server', 'node-token'), 'utf8').trim();
    const [, , id, secret] = tokenRe.exec(text)!;
    const conn = { server: server.url, ca: fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.crt'), 'utf8') };
    const ok = await createClient({ component: 'e2e', connection: { ...conn, token: `${id}.${secret}` } });
    const bad = await createClient({ component: 'e2e', connection: { ...conn, token: `${id}.${'0'.repeat(16)}` } });
    try {
      const review = { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} };
      const me = (await ok.create(selfSubjectReviews, review as never)) as unknown as { status: { userInfo: { username: string; groups: string[] } } };
      assert.equal(me.status.userInfo.username, `system:bootstrap:${id}`);
      assert.deepEqual(me.status.userInfo.groups, ['system:bootstrappers', 'system:bootstrappers:bosun:default-node-token', 'system:authenticated']);
      await assert.rejects(bad.list(resources.namespaces), (err: { code?: number }) => err.code === 401);
    } finally {
      await ok.transport.close();
      await bad.transport.close();
    }
  });

  test('a wrong CA hash is refused before the token is sent', async () => {
    const text = fs.readFileSync(path.join(server.dataDir, 'server', 'node-token'), 'utf8').trim();
    const wrong = text.replace(/^K10./, (s) => (s.endsWith('0') ? 'K101' : 'K100'));
    await assert.rejects(pinnedCa(server.url, wrong), /does not match the token's CA hash/);
  });

  test('a joining node gets its client and serving certificates approved and issued', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-join-'));
    try {
      const token = fs.readFileSync(path.join(server.dataDir, 'server', 'node-token'), 'utf8');
      const creds = await ensureAgentCredentials({ server: server.url, token, dir, nodeName: 'joiner', nodeIP: '10.99.0.7', issueTimeoutMs: 30_000 });
      const client = new X509Certificate(creds.certPem);
      assert.match(client.subject, /CN=system:node:joiner/);
      const serving = new X509Certificate(creds.servingCertPem);
      assert.equal(serving.subjectAltName, 'DNS:joiner, IP Address:10.99.0.7');
      const out = await kubectlOk(server, newest, ['get', 'csr']);
      assert.match(out, /kubernetes\.io\/kube-apiserver-client-kubelet\s+system:bootstrap:\w+\s+\S+\s+Approved,Issued/);
      assert.match(out, /kubernetes\.io\/kubelet-serving\s+system:node:joiner\s+\S+\s+Approved,Issued/);
      const who = await kubectlOk({ kubeconfig: path.join(dir, 'kubelet.kubeconfig') }, newest, ['auth', 'whoami', '-o', 'json']);
      assert.equal(JSON.parse(who).status.userInfo.username, 'system:node:joiner');
      // A restart reuses what is stored: no new request.
      const before = (await kubectlOk(server, newest, ['get', 'csr', '-o', 'name'])).trim().split('\n').length;
      const again = await ensureAgentCredentials({ server: server.url, token, dir, nodeName: 'joiner', nodeIP: '10.99.0.7' });
      assert.equal(again.certPem, creds.certPem);
      assert.equal((await kubectlOk(server, newest, ['get', 'csr', '-o', 'name'])).trim().split('\n').length, before);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('kubectl certificate approve issues a client certificate honouring expirationSeconds; deny leaves none', async () => {
    const a = await createCsr({ subject: { commonName: 'alice', organizations: ['devs'] } });
    const d = await createCsr({ subject: { commonName: 'mallory' } });
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrYaml('alice', a.csrPem, 'kubernetes.io/kube-apiserver-client', ['digital signature', 'client auth'], 600) });
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrYaml('mallory', d.csrPem, 'kubernetes.io/kube-apiserver-client', ['client auth']) });
    assert.match(await kubectlOk(server, newest, ['get', 'csr', 'alice']), /\s10m\s+Pending/);
    for (const v of kubectlVersions) assert.match(await kubectlOk(server, v, ['certificate', 'approve', 'alice']), /approved/);
    await kubectlOk(server, newest, ['certificate', 'deny', 'mallory']);
    const issued = await until('alice issued', async () => (await getCsr(server, 'alice')).status?.certificate);
    const cert = new X509Certificate(Buffer.from(issued, 'base64'));
    assert.match(cert.subject, /CN=alice/);
    assert.equal((cert.validToDate.getTime() - cert.validFromDate.getTime()) / 1000, 600);
    assert.match(await kubectlOk(server, newest, ['get', 'csr', 'alice']), /Approved,Issued/);
    const denied = await getCsr(server, 'mallory');
    assert.deepEqual(denied.status?.conditions?.map((c) => c.type), ['Denied']);
    assert.equal(denied.status?.certificate, undefined);
    assert.match((await kubectl(server, newest, ['certificate', 'approve', 'mallory'])).stderr, /already Denied/);
    // The server's own rules (upstream's validation), past kubectl's client-side checks.
    const admin = await createClient({ component: 'e2e', kubeconfig: server.kubeconfig });
    try {
      const both = structuredClone(denied);
      both.status!.conditions!.push({ type: 'Approved', status: 'True', reason: 'Manual' });
      await assert.rejects(admin.update(resources.certificateSigningRequests, both, { subresource: 'approval' }), (err: Error) => /Approved and Denied conditions are mutually exclusive/.test(err.message));
      const removed = structuredClone(denied);
      removed.status!.conditions = [];
      await assert.rejects(admin.update(resources.certificateSigningRequests, removed, { subresource: 'approval' }), (err: Error) => /updates may not remove a condition of type "Denied"/.test(err.message));
      const forged = structuredClone(await getCsr(server, 'alice'));
      forged.status!.certificate = Buffer.from(a.csrPem).toString('base64');
      await assert.rejects(admin.update(resources.certificateSigningRequests, forged, { subresource: 'status' }), (err: Error) => /status\.certificate/.test(err.message));
    } finally {
      await admin.transport.close();
    }
  });

  test('a request the signer cannot honour is marked Failed', async () => {
    const c = await createCsr({ subject: { commonName: 'not-a-node', organizations: ['system:nodes'] } });
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrYaml('bad-node', c.csrPem, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth']) });
    await kubectlOk(server, newest, ['certificate', 'approve', 'bad-node']);
    const failed = await until('bad-node Failed', async () => (await getCsr(server, 'bad-node')).status?.conditions?.find((x) => x.type === 'Failed'));
    assert.equal(failed.reason, 'SignerValidationFailure');
    assert.equal((await getCsr(server, 'bad-node')).status?.certificate, undefined);
  });

  test('spec.expirationSeconds under 600 is invalid', async () => {
    const c = await createCsr({ subject: { commonName: 'short' } });
    const r = await kubectl(server, newest, ['create', '-f', '-'], { input: csrYaml('short', c.csrPem, 'kubernetes.io/kube-apiserver-client', ['client auth'], 599) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds/);
  });
});

const skip = agentSupported() ? false : 'the node agent needs root';

test('bosun agent --server --token joins: node Ready, a pod runs, kubectl logs works; a wrong token registers nothing', { skip, timeout: 120_000 }, async () => {
  const server = await startServer();
  const agentDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-e2e-agent-'));
  await prepareAgent(agentDir);
  const token = fs.readFileSync(path.join(server.dataDir, 'server', 'node-token'), 'utf8').trim();
  const start = (args: string[]) => {
    const p = spawn(bosunBin, ['agent', '--server', server.url, '--kubelet-port', '0', '--lb-server-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const o = { out: '', exited: new Promise<number | null>((resolve) => p.on('close', resolve)) };
    p.stdout!.on('data', (d: Buffer) => (o.out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (o.out += d.toString()));
    return { p, o };
  };
  const badDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-e2e-bad-'));
  const bad = start(['--token', token.replace(/::(\w{6})\.\w{16}$/, '::$1.0000000000000000'), '--data-dir', badDir, '--node-name', 'badjoin']);
  const { p: agent, o } = start(['--token', token, '--data-dir', agentDir, '--node-name', 'joined']);
  try {
    assert.equal(await bad.o.exited, 1, bad.o.out);
    assert.match(bad.o.out, /refused the token \(401 Unauthorized\)/);
    assert.equal((await kubectl(server, newest, ['get', 'node', 'badjoin'])).code, 1);
    await until('the joined agent ready', async () => /agent: node joined ready/.test(o.out), { timeoutMs: 60_000, detail: () => o.out });
    await until('node joined Ready', async () => {
      const n = JSON.parse(await kubectlOk(server, newest, ['get', 'node', 'joined', '-o', 'json']));
      return n.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    }, { timeoutMs: 30_000, detail: () => o.out });
    await waitForServiceAccount(server, 'default');
    await kubectlOk(server, newest, ['run', 'joined-pod', `--image=${busyboxImage}`, '--', 'sh', '-c', 'echo hello from the joined node; sleep 3600']);
    const pod = await until('joined-pod Ready', async () => {
      const p = await getPod(server, 'joined-pod');
      return isPodReady(p) ? p : undefined;
    }, { timeoutMs: 60_000, detail: () => o.out });
    assert.equal(pod.spec?.nodeName, 'joined');
    await until('kubectl logs through the API server', async () => /hello from the joined node/.test((await kubectl(server, newest, ['logs', 'joined-pod'])).stdout));
    assert.ok(fs.existsSync(path.join(agentDir, 'agent', 'tls', 'client-kubelet.crt')));
    agent.kill('SIGTERM');
    assert.equal(await o.exited, 0, o.out);
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL');
    if (bad.p.exitCode === null) bad.p.kill('SIGKILL');
    await server.stop();
    await cleanupAgent(agentDir);
    fs.rmSync(badDir, { recursive: true, force: true });
  }
});
