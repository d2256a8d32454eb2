/**
 * `bosun controller-manager` as its own process with upstream's node IPAM and signing flags:
 * `--cluster-cidr`/`--node-cidr-mask-size` give nodes their pod ranges, and
 * `--cluster-signing-cert-file`/`--cluster-signing-key-file` let csrsigning issue certificates;
 * a key that does not belong to the certificate is refused at start.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CertificateSigningRequest, Node } from '../../src/api/index.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { startServer, bosunBin, kubectl, kubectlOk, kubectlVersions, until as waitUntil, type ServerHandle } from './harness.ts';

const newest = kubectlVersions[kubectlVersions.length - 1]!;
let server: ServerHandle;
let manager: ChildProcess;
let managerOut = '';
const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>) => waitUntil(what, fn, { detail: () => managerOut });

function runManager(args: string[]): ChildProcess {
  const p = spawn(bosunBin, ['controller-manager', '--kubeconfig', server.kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout!.on('data', (d: Buffer) => (managerOut += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (managerOut += d.toString()));
  return p;
}

before(async () => {
  server = await startServer({ args: ['--disable-controller-manager', '--disable-scheduler'] });
  const tls = path.join(server.dataDir, 'tls');
  manager = runManager([
    '--controllers', 'nodeipam,csrsigning',
    '--cluster-cidr', '10.99.0.0/16',
    '--node-cidr-mask-size', '26',
    '--cluster-signing-cert-file', path.join(tls, 'ca.crt'),
    '--cluster-signing-key-file', path.join(tls, 'ca.key'),
  ]);
});

after(async () => {
  manager?.kill('SIGTERM');
  if (manager && manager.exitCode === null) await new Promise((r) => manager.once('exit', r));
  await server?.stop();
});

test('--cluster-cidr and --node-cidr-mask-size: a new node gets its range from them', async () => {
  await kubectlOk(server, newest, ['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'cm-flags-1' } }) });
  const cidr = await until('a pod range', async () => (JSON.parse(await kubectlOk(server, newest, ['get', 'node', 'cm-flags-1', '-o', 'json'])) as Node).spec?.podCIDR);
  assert.equal(cidr, '10.99.0.0/26');
});

test('--cluster-signing-cert-file/--cluster-signing-key-file: an approved request is signed by that CA', async () => {
  const { csrPem } = await createCsr({ subject: { commonName: 'carol' } });
  const csr = { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name: 'carol' }, spec: { request: Buffer.from(csrPem).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] } };
  await kubectlOk(server, newest, ['create', '-f', '-'], { input: JSON.stringify(csr) });
  await kubectlOk(server, newest, ['certificate', 'approve', 'carol']);
  const issued = await until('carol issued', async () => (JSON.parse(await kubectlOk(server, newest, ['get', 'csr', 'carol', '-o', 'json'])) as CertificateSigningRequest).status?.certificate);
  const cert = new X509Certificate(Buffer.from(issued, 'base64'));
  const ca = new X509Certificate(fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.crt')));
  assert.match(cert.subject, /CN=carol/);
  assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'signed by the cluster CA');
});

test('a signing key that is not the certificate\'s, or only one of the two flags, is refused at start', async () => {
  const tls = path.join(server.dataDir, 'tls');
  for (const [args, message] of [
    [['--cluster-signing-cert-file', path.join(tls, 'ca.crt'), '--cluster-signing-key-file', path.join(tls, 'admin.key')], /is not the private key of/],
    [['--cluster-signing-cert-file', path.join(tls, 'ca.crt')], /go together/],
  ] as const) {
    managerOut = '';
    const p = runManager([...args]);
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    assert.notEqual(code, 0);
    assert.match(managerOut, message);
  }
  // kubectl still reaches the server: nothing else was disturbed.
  assert.equal((await kubectl(server, newest, ['get', 'node', 'cm-flags-1'])).code, 0);
});
