/**
 * Certificate signing requests through kubectl, for each built-in signer
 * (kube-apiserver-client, kube-apiserver-client-kubelet, kubelet-serving): `kubectl certificate
 * approve` issues a certificate from the cluster CA and `deny` leaves none; issued client
 * certificates authenticate (`kubectl auth whoami`). And the certificate admission plugins, with
 * upstream's messages: a user who may create CSRs and write their approval and status
 * subresources but holds no `approve` / `sign` on signers is refused by CertificateApproval and
 * CertificateSigning, and may approve once granted `approve` on `kubernetes.io/*`; a
 * kube-apiserver-client request for O=system:masters is refused at creation
 * (CertificateSubjectRestriction). (The TLS bootstrap, expirationSeconds and the signer's
 * Failed condition are join.test.ts's.)
 *
 * Run: node --test test/e2e/certificates.test.ts
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CertificateSigningRequest } from '../../src/api/index.ts';
import { createCsr, signCsr } from '../../src/pki/csr.ts';
import { kubeconfigYaml } from '../../src/pki/index.ts';
import { kubectl, kubectlOk, kubectlVersions, until, useServer, type ServerHandle } from './harness.ts';

const newest = kubectlVersions.at(-1)!;

const signers = {
  client: { signer: 'kubernetes.io/kube-apiserver-client', usages: ['digital signature', 'client auth'] },
  kubelet: { signer: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['digital signature', 'client auth'] },
  serving: { signer: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'] },
} as const;

function csrJson(name: string, csrPem: string, signer: string, usages: readonly string[]): string {
  return JSON.stringify({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request: Buffer.from(csrPem).toString('base64'), signerName: signer, usages },
  });
}

const rbac = 'rbac.authorization.k8s.io';
const clusterRole = (name: string, rules: object[]) => ({ apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name }, rules });
const bindUser = (name: string, role: string, user: string) => ({
  apiVersion: `${rbac}/v1`,
  kind: 'ClusterRoleBinding',
  metadata: { name },
  subjects: [{ kind: 'User', name: user, apiGroup: rbac }],
  roleRef: { kind: 'ClusterRole', name: role, apiGroup: rbac },
});
const list = (...items: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

describe('certificate signing requests and their admission', () => {
  let server!: ServerHandle;
  useServer({}, (s) => (server = s));

  const caPem = () => fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.crt'), 'utf8');
  const getCsr = async (as: { kubeconfig: string }, name: string) => JSON.parse(await kubectlOk(as, newest, ['get', 'csr', name, '-o', 'json'])) as CertificateSigningRequest;
  const issued = async (name: string) => {
    const b64 = await until(`${name} issued`, async () => (await getCsr(server, name)).status?.certificate, { timeoutMs: 30_000 });
    return Buffer.from(b64, 'base64').toString('utf8');
  };
  /** A kubeconfig file for a client certificate. */
  const kubeconfigFor = (file: string, certPem: string, keyPem: string) => {
    const p = path.join(server.dataDir, `${file}.kubeconfig`);
    fs.writeFileSync(p, kubeconfigYaml({ server: server.url, caPem: caPem(), certPem, keyPem }), { mode: 0o600 });
    return { kubeconfig: p };
  };
  /** A client certificate for `name` signed directly with the cluster CA in the data dir. */
  const userFromCa = async (name: string) => {
    const { csrPem, keyPem } = await createCsr({ subject: { commonName: name } });
    const ca = { certPem: caPem(), keyPem: fs.readFileSync(path.join(server.dataDir, 'tls', 'ca.key'), 'utf8') };
    const now = Date.now();
    const certPem = await signCsr(csrPem, ca, { usages: ['digital signature', 'client auth'], notBefore: new Date(now - 60_000), notAfter: new Date(now + 3600_000) });
    return kubeconfigFor(name, certPem, keyPem);
  };
  const whoami = async (as: { kubeconfig: string }) => JSON.parse(await kubectlOk(as, newest, ['auth', 'whoami', '-o', 'json'])).status.userInfo as { username: string; groups: string[] };
  const assertDenied = async (name: string) => {
    await kubectlOk(server, newest, ['certificate', 'deny', name]);
    const denied = await getCsr(server, name);
    assert.deepEqual(denied.status?.conditions?.map((c) => c.type), ['Denied']);
    assert.match(await kubectlOk(server, newest, ['get', 'csr', name]), /\sDenied\s*$/m);
    return denied;
  };

  // A user who may create and read CSRs and read and write their approval and status subresources (so RBAC
  // lets the writes through), but holds nothing on signers: the admission plugins decide.
  let requester!: { kubeconfig: string };
  test('setup: the requester, with a client certificate from the cluster CA', async () => {
    await kubectlOk(server, newest, ['apply', '-f', '-'], {
      input: list(
        clusterRole('csr-requester', [
          { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'], verbs: ['create', 'get', 'list'] },
          { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval', 'certificatesigningrequests/status'], verbs: ['get', 'update', 'patch'] },
        ]),
        bindUser('csr-requester', 'csr-requester', 'requester'),
      ),
    });
    requester = await userFromCa('requester');
    assert.deepEqual(await whoami(requester), { username: 'requester', groups: ['system:authenticated'] });
  });

  test('kube-apiserver-client: approve issues a client certificate that authenticates; deny issues none', async () => {
    const carol = await createCsr({ subject: { commonName: 'carol', organizations: ['devs', 'qa'] } });
    const dave = await createCsr({ subject: { commonName: 'dave' } });
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrJson('client-carol', carol.csrPem, signers.client.signer, signers.client.usages) });
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrJson('client-dave', dave.csrPem, signers.client.signer, signers.client.usages) });
    assert.match(await kubectlOk(server, newest, ['certificate', 'approve', 'client-carol']), /certificatesigningrequest\.certificates\.k8s\.io\/client-carol approved/);
    const cert = await issued('client-carol');
    assert.ok(new X509Certificate(cert).checkIssued(new X509Certificate(caPem())), 'issued by the cluster CA');
    assert.deepEqual(await whoami(kubeconfigFor('carol', cert, carol.keyPem)), { username: 'carol', groups: ['devs', 'qa', 'system:authenticated'] });
    assert.equal((await assertDenied('client-dave')).status?.certificate, undefined);
  });

  test('kube-apiserver-client-kubelet: approve issues a node client certificate that authenticates as the node; deny issues none', async () => {
    // Created by the requester, whom the csrapproving controller's review refuses (no nodeclient
    // permission), so the requests wait for kubectl.
    const w1 = await createCsr({ subject: { commonName: 'system:node:w1', organizations: ['system:nodes'] } });
    const w2 = await createCsr({ subject: { commonName: 'system:node:w2', organizations: ['system:nodes'] } });
    await kubectlOk(requester, newest, ['create', '-f', '-'], { input: csrJson('kubelet-w1', w1.csrPem, signers.kubelet.signer, signers.kubelet.usages) });
    await kubectlOk(requester, newest, ['create', '-f', '-'], { input: csrJson('kubelet-w2', w2.csrPem, signers.kubelet.signer, signers.kubelet.usages) });
    await until('the controller refused kubelet-w1', async () => /recognized csr "kubelet-w1" as \[nodeclient\] but subject access review was not approved/.test(server.output()), { timeoutMs: 30_000 });
    assert.match(await kubectlOk(server, newest, ['get', 'csr', 'kubelet-w1']), /kubernetes\.io\/kube-apiserver-client-kubelet\s+requester\s+\S+\s+Pending/);
    assert.match(await kubectlOk(server, newest, ['certificate', 'approve', 'kubelet-w1']), /approved/);
    const cert = await issued('kubelet-w1');
    assert.match(new X509Certificate(cert).subject, /CN=system:node:w1/);
    assert.deepEqual(await whoami(kubeconfigFor('w1', cert, w1.keyPem)), { username: 'system:node:w1', groups: ['system:nodes', 'system:authenticated'] });
    assert.equal((await assertDenied('kubelet-w2')).status?.certificate, undefined);
  });

  test('kubelet-serving: approve issues a serving certificate with the requested SANs; deny issues none', async () => {
    // Requested by the admin for a node: not the node itself, so never approved automatically.
    const w1 = await createCsr({ subject: { commonName: 'system:node:w1', organizations: ['system:nodes'] }, sans: ['w1', '10.0.0.9'] });
    const w2 = await createCsr({ subject: { commonName: 'system:node:w2', organizations: ['system:nodes'] }, sans: ['w2'] });
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrJson('serving-w1', w1.csrPem, signers.serving.signer, signers.serving.usages) });
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrJson('serving-w2', w2.csrPem, signers.serving.signer, signers.serving.usages) });
    assert.match(await kubectlOk(server, newest, ['certificate', 'approve', 'serving-w1']), /approved/);
    const cert = new X509Certificate(await issued('serving-w1'));
    assert.equal(cert.subjectAltName, 'DNS:w1, IP Address:10.0.0.9');
    assert.ok(cert.checkIssued(new X509Certificate(caPem())), 'issued by the cluster CA');
    assert.match(await kubectlOk(server, newest, ['get', 'csr', 'serving-w1']), /Approved,Issued/);
    assert.equal((await assertDenied('serving-w2')).status?.certificate, undefined);
  });

  test('CertificateApproval: a user without approve on the signer cannot approve or deny, until granted kubernetes.io/*', async () => {
    const req = await createCsr({ subject: { commonName: 'erin' } });
    await kubectlOk(requester, newest, ['create', '-f', '-'], { input: csrJson('erin', req.csrPem, signers.client.signer, signers.client.usages) });
    for (const verb of ['approve', 'deny']) {
      const r = await kubectl(requester, newest, ['certificate', verb, 'erin']);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim(), 'Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "erin" is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"');
    }
    assert.equal((await getCsr(server, 'erin')).status?.conditions, undefined, 'nothing recorded');
    await kubectlOk(server, newest, ['apply', '-f', '-'], {
      input: list(
        clusterRole('kubernetes-io-approver', [{ apiGroups: ['certificates.k8s.io'], resources: ['signers'], resourceNames: ['kubernetes.io/*'], verbs: ['approve'] }]),
        bindUser('requester-approves', 'kubernetes-io-approver', 'requester'),
      ),
    });
    await until('the requester may approve', async () => (await kubectl(requester, newest, ['certificate', 'approve', 'erin'])).code === 0);
    assert.match(new X509Certificate(await issued('erin')).subject, /CN=erin/);
  });

  test('CertificateSigning: a user without sign on the signer cannot set status.certificate', async () => {
    const req = await createCsr({ subject: { commonName: 'frank' } });
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrJson('frank', req.csrPem, 'example.com/manual', signers.client.usages) });
    await kubectlOk(server, newest, ['certificate', 'approve', 'frank']);
    const forged = JSON.stringify({ status: { certificate: Buffer.from(caPem()).toString('base64') } });
    const r = await kubectl(requester, newest, ['patch', 'csr', 'frank', '--subresource', 'status', '--type', 'merge', '-p', forged]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), 'Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "frank" is forbidden: user not permitted to sign requests with signerName "example.com/manual"');
    assert.equal((await getCsr(server, 'frank')).status?.certificate, undefined);
    // The admin (system:masters) signs for any signer: an external signer's job done by hand.
    await kubectlOk(server, newest, ['patch', 'csr', 'frank', '--subresource', 'status', '--type', 'merge', '-p', forged]);
    assert.match(await kubectlOk(server, newest, ['get', 'csr', 'frank']), /Approved,Issued/);
  });

  test('CertificateSubjectRestriction: a kube-apiserver-client request for O=system:masters is refused at creation', async () => {
    const req = await createCsr({ subject: { commonName: 'mallory', organizations: ['system:masters'] } });
    for (const as of [server, requester]) {
      const r = await kubectl(as, newest, ['create', '-f', '-'], { input: csrJson('masters', req.csrPem, signers.client.signer, signers.client.usages) });
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim(), 'Error from server (Forbidden): error when creating "STDIN": certificatesigningrequests.certificates.k8s.io "masters" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed');
    }
    assert.equal((await kubectl(server, newest, ['get', 'csr', 'masters'])).code, 1);
    // Another signer may carry the organization (its own policy decides).
    await kubectlOk(server, newest, ['create', '-f', '-'], { input: csrJson('masters-elsewhere', req.csrPem, 'example.com/manual', signers.client.usages) });
  });
});
