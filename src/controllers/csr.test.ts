/**
 * The CSR controllers: node request recognition and the approval decision as tables, the
 * signers' rules and certificate windows; then the csrapproving controller against the in-process
 * API server (temporary SQLite store, RBAC over the bootstrap policy, the certificate admission
 * plugins), running as the certificate-controller ServiceAccount, with CSRs created by client-certificate
 * users: its SubjectAccessReviews decide.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CertificateSigningRequest, ClusterRole, ClusterRoleBinding } from '../api/index.ts';
import { isAlreadyExists } from '../api/errors.ts';
import { builtinResources } from '../api/groups/index.ts';
import { ApiServer } from '../apiserver/server.ts';
import { bootstrap } from '../apiserver/bootstrap.ts';
import { authorize } from '../apiserver/authz/index.ts';
import { buildAuthorizers } from '../apiserver/authz/modes.ts';
import { createRbacSource, rbacGroup } from '../apiserver/authz/rbac.ts';
import { certificatePlugins } from '../apiserver/admission/certificates.ts';
import { EventRecorder, InformerFactory, clientset, createClient, type RestClient } from '../client/index.ts';
import { ensurePki, issueClientCert, type Pki } from '../pki/index.ts';
import { createCsr, type CsrFacts } from '../pki/csr.ts';
import { openStore } from '../storage/index.ts';
import type { Store } from '../storage/types.ts';
import { defaultControllerConfig, type ControllerContext } from './context.ts';
import { approvalDecision, recognize, startCsrApprovingController, type NodeCsrPermission } from './csrapproving.ts';
import { certificateWindow, isApproved, isFinished, signerApiServerClient, signerKubeletClient, signerKubeletServing, signerValidationError } from './csrsigning.ts';

function facts(o: Partial<CsrFacts> = {}): CsrFacts {
  return { commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: [], ipAddresses: [], emailAddresses: [], uris: [], signatureValid: true, ...o };
}

function csr(o: { signer?: string; usages?: string[]; username?: string; groups?: string[]; conditions?: { type: string; status: string }[]; certificate?: string } = {}): CertificateSigningRequest {
  return {
    metadata: { name: 'c' },
    spec: { request: '', signerName: o.signer ?? signerKubeletClient, usages: o.usages ?? ['digital signature', 'client auth'], username: o.username ?? 'system:bootstrap:abcdef', groups: o.groups ?? ['system:bootstrappers', 'system:authenticated'] },
    status: { conditions: o.conditions, certificate: o.certificate },
  };
}

const self = { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const serving = { ...self, signer: signerKubeletServing, usages: ['digital signature', 'server auth'] };

const recognitions: { name: string; csr: CertificateSigningRequest; req: CsrFacts; want: NodeCsrPermission[] }[] = [
  { name: 'a node client request from a bootstrap token asks nodeclient', csr: csr(), req: facts(), want: ['nodeclient'] },
  { name: 'with key encipherment too', csr: csr({ usages: ['key encipherment', 'digital signature', 'client auth'] }), req: facts(), want: ['nodeclient'] },
  { name: 'a request whose requester is its CN asks selfnodeclient first, then nodeclient', csr: csr(self), req: facts(), want: ['selfnodeclient', 'nodeclient'] },
  { name: 'self is the requester being the CN, whatever its groups (the review judges them)', csr: csr({ username: 'system:node:n1', groups: ['system:authenticated'] }), req: facts(), want: ['selfnodeclient', 'nodeclient'] },
  { name: 'a node asking for another node asks nodeclient only', csr: csr({ username: 'system:node:n2', groups: ['system:nodes'] }), req: facts(), want: ['nodeclient'] },
  { name: 'server auth usage is not a node client request', csr: csr({ usages: ['digital signature', 'server auth'] }), req: facts(), want: [] },
  { name: 'another organization is not a node client request', csr: csr(), req: facts({ organizations: ['system:masters'] }), want: [] },
  { name: 'a client request with SANs is not a node client request', csr: csr(), req: facts({ dnsNames: ['n1'] }), want: [] },
  { name: 'a CN without system:node: is not a node client request', csr: csr(), req: facts({ commonName: 'n1' }), want: [] },
  { name: 'a bad request signature is never recognized', csr: csr(self), req: facts({ signatureValid: false }), want: [] },
  { name: 'a serving request by the node for itself asks selfnodeserver', csr: csr(serving), req: facts({ dnsNames: ['n1'], ipAddresses: ['10.42.0.1'] }), want: ['selfnodeserver'] },
  { name: 'a serving request with IP SANs only asks selfnodeserver', csr: csr(serving), req: facts({ ipAddresses: ['10.42.0.1'] }), want: ['selfnodeserver'] },
  { name: 'a serving request from a bootstrap token is not recognized', csr: csr({ signer: signerKubeletServing, usages: ['digital signature', 'server auth'] }), req: facts({ dnsNames: ['n1'] }), want: [] },
  { name: 'a serving request for another DNS name is not recognized', csr: csr(serving), req: facts({ dnsNames: ['n1', 'kubernetes'] }), want: [] },
  { name: 'a serving request without SANs is not recognized', csr: csr(serving), req: facts(), want: [] },
  { name: 'a serving request with client usages is not recognized', csr: csr({ ...serving, usages: ['digital signature', 'client auth'] }), req: facts({ dnsNames: ['n1'] }), want: [] },
  { name: 'another signer is not recognized', csr: csr({ signer: signerApiServerClient }), req: facts(), want: [] },
];
for (const c of recognitions) {
  test(`recognize: ${c.name}`, () => assert.deepEqual(recognize(c.csr, c.req).map((r) => r.permission), c.want));
}

const decisions: { name: string; csr: CertificateSigningRequest; granted: NodeCsrPermission[]; want: { approve: boolean; message: string; tried: NodeCsrPermission[] } }[] = [
  { name: 'a renewal allowed selfnodeclient is approved as a self renewal', csr: csr(self), granted: ['selfnodeclient', 'nodeclient'], want: { approve: true, message: 'Auto approving self kubelet client certificate after SubjectAccessReview.', tried: ['selfnodeclient'] } },
  { name: 'a renewal refused selfnodeclient falls back to nodeclient', csr: csr(self), granted: ['nodeclient'], want: { approve: true, message: 'Auto approving kubelet client certificate after SubjectAccessReview.', tried: ['selfnodeclient', 'nodeclient'] } },
  { name: 'refused every review: not approved, with upstream\'s words', csr: csr(self), granted: [], want: { approve: false, message: 'recognized csr "c" as [selfnodeclient nodeclient] but subject access review was not approved', tried: ['selfnodeclient', 'nodeclient'] } },
  { name: 'selfnodeclient does not grant a bootstrap request', csr: csr(), granted: ['selfnodeclient'], want: { approve: false, message: 'recognized csr "c" as [nodeclient] but subject access review was not approved', tried: ['nodeclient'] } },
  { name: 'nothing recognized: no review at all', csr: csr({ signer: signerApiServerClient }), granted: ['nodeclient'], want: { approve: false, message: 'not a node certificate request', tried: [] } },
];
for (const c of decisions) {
  test(`approvalDecision: ${c.name}`, async () => {
    const asked: NodeCsrPermission[] = [];
    const d = await approvalDecision(c.csr, facts(), async (p) => (asked.push(p), c.granted.includes(p)));
    assert.deepEqual(d, c.want);
    assert.deepEqual(asked, c.want.tried, 'reviews asked in order, only as far as needed');
  });
}

const signerRules: { name: string; signer: string; usages: string[]; req: CsrFacts; error?: RegExp }[] = [
  { name: 'kube-apiserver-client takes any subject with client auth', signer: signerApiServerClient, usages: ['client auth', 'digital signature'], req: facts({ commonName: 'alice', organizations: [] }) },
  { name: 'kube-apiserver-client needs client auth', signer: signerApiServerClient, usages: ['digital signature'], req: facts(), error: /must include "client auth"/ },
  { name: 'kube-apiserver-client refuses server auth', signer: signerApiServerClient, usages: ['client auth', 'server auth'], req: facts(), error: /invalid usages/ },
  { name: 'kubelet-serving refuses email SANs', signer: signerKubeletServing, usages: ['digital signature', 'server auth'], req: facts({ dnsNames: ['n1'], emailAddresses: ['a@b'] }), error: /forbidden/ },
  { name: 'kube-apiserver-client-kubelet refuses IP SANs', signer: signerKubeletClient, usages: ['digital signature', 'client auth'], req: facts({ ipAddresses: ['10.0.0.1'] }), error: /not allowed/ },
  { name: 'an unknown signer is refused', signer: 'example.com/x', usages: ['client auth'], req: facts(), error: /unrecognized signerName/ },
];
for (const c of signerRules) {
  test(`signer rules: ${c.name}`, () => {
    const why = signerValidationError(c.signer, c.usages, c.req);
    if (c.error) assert.match(why ?? '', c.error);
    else assert.equal(why, undefined);
  });
}

test('approved, denied and finished requests', () => {
  assert.equal(isApproved(csr({ conditions: [{ type: 'Approved', status: 'True' }] })), true);
  assert.equal(isApproved(csr({ conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] })), false);
  assert.equal(isFinished(csr({ conditions: [{ type: 'Failed', status: 'True' }] })), true);
  assert.equal(isFinished(csr({ certificate: 'x' })), true);
  assert.equal(isFinished(csr()), false);
});

const now = new Date('2026-01-01T00:00:00Z');
const farCa = new Date('2036-01-01T00:00:00Z');
const year = 365 * 24 * 3600 * 1000;
const windows: { name: string; expirationSeconds?: number; caNotAfter?: Date; want: { notBefore: string; notAfter: string } }[] = [
  { name: 'the signing duration by default, backdated 5 minutes', want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' } },
  { name: 'expirationSeconds shortens it; a short lifetime keeps its length', expirationSeconds: 600, want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2026-01-01T00:05:00.000Z' } },
  { name: 'a lifetime of 8 hours or more is not shortened by the backdate', expirationSeconds: 8 * 3600, want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2026-01-01T08:00:00.000Z' } },
  { name: 'expirationSeconds never lengthens it', expirationSeconds: 10 * 365 * 24 * 3600, want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' } },
  { name: 'never past the CA', caNotAfter: new Date('2026-02-01T00:00:00Z'), want: { notBefore: '2025-12-31T23:55:00.000Z', notAfter: '2026-02-01T00:00:00.000Z' } },
];
for (const c of windows) {
  test(`certificate window: ${c.name}`, () => {
    const w = certificateWindow(now, { durationMs: year, expirationSeconds: c.expirationSeconds, caNotAfter: c.caNotAfter ?? farCa });
    assert.deepEqual({ notBefore: w.notBefore.toISOString(), notAfter: w.notAfter.toISOString() }, c.want);
  });
}

describe('csrapproving controller with SubjectAccessReviews', () => {
  let dir = '';
  let store: Store;
  let api: ApiServer;
  let pki: Pki;
  let admin: RestClient;
  let controller: RestClient;
  let informers: InformerFactory;
  const clients: RestClient[] = [];
  const recorders: EventRecorder[] = [];
  const ac = new AbortController();
  let logs = '';

  const until = async <T>(what: string, fn: () => Promise<T | undefined | false>): Promise<T> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; controller log:\n${logs}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const connection = (port: number, cert: { certPem: string; keyPem: string }) => ({ server: `https://127.0.0.1:${port}`, ca: pki.caCertPem, cert: cert.certPem, key: cert.keyPem });
  let port = 0;
  /** A client authenticated by a certificate for `commonName` in `groups`. */
  const clientAs = async (name: string, commonName: string, groups: string[]) => {
    const c = await createClient({ component: 'csr-test', connection: connection(port, await issueClientCert(pki, { name, commonName, organizations: groups })) });
    clients.push(c);
    return c;
  };
  /** Creates a CSR as `as` for a fresh key with `subject`, and returns its name. */
  const request = async (as: RestClient, name: string, o: { signer: string; commonName: string; organizations: string[]; usages: string[]; sans?: string[] }) => {
    const { csrPem } = await createCsr({ subject: { commonName: o.commonName, organizations: o.organizations }, sans: o.sans });
    await clientset(as).certificateSigningRequests.create({ apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name }, spec: { request: Buffer.from(csrPem).toString('base64'), signerName: o.signer, usages: o.usages } });
    return name;
  };
  const get = (name: string) => clientset(admin).certificateSigningRequests.get(name);
  const approvedMessage = async (name: string) => (await get(name)).status?.conditions?.find((c) => c.type === 'Approved')?.message;
  const nodeClient = (commonName: string) => ({ signer: signerKubeletClient, commonName, organizations: ['system:nodes'], usages: ['digital signature', 'client auth'] });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-csr-test-'));
    pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
    store = await openStore(undefined, dir);
    const rbac = createRbacSource({
      clusterRoles: () => api.cacheList(rbacGroup, 'ClusterRole'),
      roles: () => api.cacheList(rbacGroup, 'Role'),
      clusterRoleBindings: () => api.cacheList(rbacGroup, 'ClusterRoleBinding'),
      roleBindings: () => api.cacheList(rbacGroup, 'RoleBinding'),
    });
    const authorizers = buildAuthorizers(['RBAC'], { rbac });
    api = new ApiServer({
      store,
      resources: builtinResources,
      tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem },
      port: 0,
      authorizers,
      admission: certificatePlugins({ authorize: (a) => authorize(authorizers, a) }),
    });
    port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
    admin = await createClient({ component: 'csr-test', connection: connection(port, { certPem: pki.adminCertPem, keyPem: pki.adminKeyPem }) });
    clients.push(admin);
    // Test scaffolding, standing in for the Node authorizer: anyone authenticated may create CSRs.
    const crb = (name: string, role: string, kind: 'User' | 'Group', subject: string): ClusterRoleBinding => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: role },
      subjects: [{ apiGroup: rbacGroup, kind, name: subject }],
    });
    await clientset(admin).clusterRoleBindings.create(crb('test:csr-creators', 'system:node-bootstrapper', 'Group', 'system:authenticated'));
    // The serving extension's grant to nodes, proposed for Bosun's bootstrap policy (tolerated when present there).
    const proposed: [ClusterRole[], ClusterRoleBinding[]] = [
      [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'system:certificates.k8s.io:certificatesigningrequests:selfnodeserver' }, rules: [{ apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/selfnodeserver'], verbs: ['create'] }] }],
      [crb('bosun:node-autoapprove-serving-certificate', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeserver', 'Group', 'system:nodes')],
    ];
    const ignoreExisting = (err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    };
    for (const r of proposed[0]) await clientset(admin).clusterRoles.create(r).catch(ignoreExisting);
    for (const b of proposed[1]) await clientset(admin).clusterRoleBindings.create(b).catch(ignoreExisting);

    // The identity the controller manager gives the CSR controllers (--use-service-account-credentials),
    // here by a client certificate with the ServiceAccount's user name and groups.
    controller = await clientAs('certificate-controller', 'system:serviceaccount:kube-system:certificate-controller', ['system:serviceaccounts', 'system:serviceaccounts:kube-system']);
    informers = new InformerFactory(controller, {});
    const ctx: ControllerContext = {
      client: controller,
      config: defaultControllerConfig,
      informers,
      signal: ac.signal,
      log: (m) => (logs += `${m}\n`),
      recorder(component) {
        const r = new EventRecorder(controller, { component });
        recorders.push(r);
        return r;
      },
    };
    startCsrApprovingController(ctx);
    informers.start(ac.signal);
  });
  after(async () => {
    ac.abort();
    await informers?.stopped();
    await Promise.all(recorders.map((r) => r.close()));
    await Promise.all(clients.map((c) => c.transport.close()));
    await api?.close();
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a bootstrap token user gets a node client certificate approved (nodeclient)', async () => {
    const joiner = await clientAs('bootstrapper', 'system:bootstrap:abcdef', ['system:bootstrappers', 'system:bootstrappers:bosun:default-node-token']);
    const name = await request(joiner, 'join-n1', nodeClient('system:node:n1'));
    assert.equal(await until('join-n1 approved', () => approvedMessage(name)), 'Auto approving kubelet client certificate after SubjectAccessReview.');
    assert.equal((await get(name)).status?.conditions?.[0]?.reason, 'AutoApproved');
  });

  test('a node renewing its own client certificate is approved (selfnodeclient)', async () => {
    const node = await clientAs('node-n2', 'system:node:n2', ['system:nodes']);
    const name = await request(node, 'renew-n2', nodeClient('system:node:n2'));
    assert.equal(await until('renew-n2 approved', () => approvedMessage(name)), 'Auto approving self kubelet client certificate after SubjectAccessReview.');
  });

  test('a node gets its own serving certificate approved (selfnodeserver)', async () => {
    const node = await clientAs('node-n3', 'system:node:n3', ['system:nodes']);
    const name = await request(node, 'serving-n3', { signer: signerKubeletServing, commonName: 'system:node:n3', organizations: ['system:nodes'], usages: ['digital signature', 'server auth'], sans: ['n3', '10.0.0.3'] });
    assert.equal(await until('serving-n3 approved', () => approvedMessage(name)), 'Auto approving self kubelet server certificate after SubjectAccessReview.');
  });

  test('requesters the reviews refuse are left pending, and retried', async () => {
    // An ordinary user asking for a node's client certificate; a user named like a node but not
    // in system:nodes asking for its own client and serving certificates.
    const alice = await clientAs('alice', 'alice', []);
    const impostor = await clientAs('impostor', 'system:node:n4', []);
    await request(alice, 'alice-n1', nodeClient('system:node:n1'));
    await request(impostor, 'impostor-client', nodeClient('system:node:n4'));
    await request(impostor, 'impostor-serving', { signer: signerKubeletServing, commonName: 'system:node:n4', organizations: ['system:nodes'], usages: ['digital signature', 'server auth'], sans: ['n4'] });
    const refused = (name: string, tried: string) => new RegExp(`reconcile ${name}: recognized csr "${name}" as \\[${tried}\\] but subject access review was not approved \\(retry [2-9]`);
    await until('alice-n1 refused twice', async () => refused('alice-n1', 'nodeclient').test(logs));
    await until('impostor-client refused twice', async () => refused('impostor-client', 'selfnodeclient nodeclient').test(logs));
    await until('impostor-serving refused twice', async () => refused('impostor-serving', 'selfnodeserver').test(logs));
    for (const name of ['alice-n1', 'impostor-client', 'impostor-serving']) assert.equal((await get(name)).status?.conditions, undefined, name);
  });
});
