/**
 * The certificate admission plugins against the real authorizer chain (system:masters, then RBAC)
 * over the bootstrap policy with Bosun's additions plus a few test roles: who may approve and
 * sign for which signer, the domain wildcard, the old object's signer deciding, and the
 * system:masters subject restriction, with upstream's messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateSigningRequest, ClusterRole, ClusterRoleBinding, KubeObject, UserInfo } from '../../api/index.ts';
import type { Operation, ResourceDef } from '../../api/resource.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { StatusError } from '../../api/errors.ts';
import { createCsr } from '../../pki/csr.ts';
import { authorize } from '../authz/index.ts';
import { buildAuthorizers } from '../authz/modes.ts';
import { createRbacSource } from '../authz/rbac.ts';
import { bootstrapPolicy, bosunPolicy } from '../authz/bootstrappolicy.ts';
import { certificateApprovalPlugin, certificatePlugins, certificateSigningPlugin, certificateSubjectRestrictionPlugin } from './certificates.ts';
import type { AdmissionAttributes } from './types.ts';

// ---- the authorizer: bootstrap policy + test roles, through RBAC ----

const signerRole = (name: string, verbs: string[], signers: string[]): ClusterRole => ({
  metadata: { name },
  rules: [{ apiGroups: ['certificates.k8s.io'], resources: ['signers'], verbs, resourceNames: signers }],
});
const bindUser = (name: string, role: string, user: string): ClusterRoleBinding => ({
  metadata: { name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
});
const testRoles: ClusterRole[] = [
  { metadata: { name: 'csr-creator' }, rules: [{ apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests', 'certificatesigningrequests/approval', 'certificatesigningrequests/status'], verbs: ['create', 'get', 'update'] }] },
  signerRole('approve-kubernetes-io', ['approve'], ['kubernetes.io/*']),
  signerRole('approve-example-foo', ['approve'], ['example.com/foo']),
  signerRole('sign-kubernetes-io', ['sign'], ['kubernetes.io/*']),
];
const testBindings: ClusterRoleBinding[] = [
  bindUser('creator', 'csr-creator', 'creator'),
  bindUser('wildcard-approver', 'approve-kubernetes-io', 'wildcard'),
  bindUser('foo-approver', 'approve-example-foo', 'foo'),
  bindUser('wildcard-signer', 'sign-kubernetes-io', 'signer'),
];
const upstream = bootstrapPolicy();
const bosun = bosunPolicy();
const fixed = (l: readonly unknown[]) => () => ({ rv: 1, objects: l as KubeObject[] });
const rbac = createRbacSource({
  clusterRoles: fixed([...upstream.clusterRoles, ...bosun.clusterRoles, ...testRoles]),
  roles: fixed([...upstream.roles, ...bosun.roles]),
  clusterRoleBindings: fixed([...upstream.clusterRoleBindings, ...bosun.clusterRoleBindings, ...testBindings]),
  roleBindings: fixed([...upstream.roleBindings, ...bosun.roleBindings]),
});
const authorizers = buildAuthorizers(['RBAC'], { rbac });
const deps = { authorize: (a: Parameters<typeof authorize>[1]) => authorize(authorizers, a) };

// ---- fixtures ----

const user = (username: string, ...groups: string[]): UserInfo => ({ username, groups: [...groups, 'system:authenticated'] });
const admin = user('kubernetes-admin', 'system:masters');
// The identity Bosun's controller manager runs the CSR controllers as (--use-service-account-credentials).
const certificateController = user('system:serviceaccount:kube-system:certificate-controller', 'system:serviceaccounts', 'system:serviceaccounts:kube-system');

const csrDef = builtinResources.find((d) => d.group === 'certificates.k8s.io' && d.plural === 'certificatesigningrequests')!;
const podDef = builtinResources.find((d) => d.group === '' && d.plural === 'pods')!;

function csr(signerName: string, o: { name?: string; generateName?: string; certificate?: string; request?: string; approved?: boolean } = {}): CertificateSigningRequest {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: o.generateName ? { generateName: o.generateName } : { name: o.name ?? 'c1' },
    spec: { request: o.request ?? '', signerName, usages: ['client auth'], username: 'someone', groups: ['system:authenticated'] },
    status: { certificate: o.certificate, conditions: o.approved ? [{ type: 'Approved', status: 'True', reason: 'R' }] : undefined },
  };
}

function attrs(op: Operation, subresource: string, who: UserInfo, object: CertificateSigningRequest, oldObject?: CertificateSigningRequest, def: ResourceDef = csrDef): AdmissionAttributes {
  return {
    operation: op,
    def,
    version: 'v1',
    namespace: '',
    name: op === 'CREATE' ? '' : (object.metadata.name ?? ''),
    subresource,
    object: object as unknown as KubeObject,
    oldObject: oldObject as unknown as KubeObject | undefined,
    user: who,
    dryRun: false,
  };
}

async function outcome(p: Promise<void> | void): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof StatusError) return `${err.status.code} ${err.status.reason}: ${err.status.message}`;
    throw err;
  }
}

const approvalDenied = (signer: string, name = 'c1') =>
  `403 Forbidden: certificatesigningrequests.certificates.k8s.io "${name}" is forbidden: user not permitted to approve requests with signerName "${signer}"`;
const signDenied = (signer: string) =>
  `403 Forbidden: certificatesigningrequests.certificates.k8s.io "c1" is forbidden: user not permitted to sign requests with signerName "${signer}"`;

// ---- CertificateApproval ----

const approve = (who: UserInfo, signer: string, newSigner = signer) => attrs('UPDATE', 'approval', who, csr(newSigner, { approved: true }), csr(signer));

const approvals: { name: string; a: AdmissionAttributes; want: string }[] = [
  { name: 'system:masters may approve for any signer', a: approve(admin, 'example.com/anything'), want: 'ok' },
  { name: 'the certificate controller may approve node client certificates (upstream certificate-controller role)', a: approve(certificateController, 'kubernetes.io/kube-apiserver-client-kubelet'), want: 'ok' },
  { name: "the certificate controller may approve nodes' serving certificates (Bosun's bosun:kubelet-serving-approver)", a: approve(certificateController, 'kubernetes.io/kubelet-serving'), want: 'ok' },
  { name: 'the certificate controller may not approve kube-apiserver-client requests', a: approve(certificateController, 'kubernetes.io/kube-apiserver-client'), want: approvalDenied('kubernetes.io/kube-apiserver-client') },
  { name: 'a user who may only create and update CSRs may not approve', a: approve(user('creator'), 'kubernetes.io/kube-apiserver-client'), want: approvalDenied('kubernetes.io/kube-apiserver-client') },
  { name: 'approve on kubernetes.io/* covers every kubernetes.io signer', a: approve(user('wildcard'), 'kubernetes.io/kubelet-serving'), want: 'ok' },
  { name: 'approve on kubernetes.io/* does not cover another domain', a: approve(user('wildcard'), 'example.com/foo'), want: approvalDenied('example.com/foo') },
  { name: 'approve on one signer name allows that signer', a: approve(user('foo'), 'example.com/foo'), want: 'ok' },
  { name: 'approve on one signer name does not allow its sibling', a: approve(user('foo'), 'example.com/bar'), want: approvalDenied('example.com/bar') },
  { name: "the existing object's signer decides, not the one in the request", a: approve(user('foo'), 'example.com/bar', 'example.com/foo'), want: approvalDenied('example.com/bar') },
  { name: 'an update of the CSR itself is not this plugin\'s business', a: attrs('UPDATE', '', user('creator'), csr('example.com/bar'), csr('example.com/bar')), want: 'ok' },
  { name: 'an approval subresource of another resource is not checked', a: attrs('UPDATE', 'approval', user('creator'), csr('example.com/bar'), csr('example.com/bar'), podDef), want: 'ok' },
];
for (const c of approvals) {
  test(`CertificateApproval: ${c.name}`, async () => assert.equal(await outcome(certificateApprovalPlugin(deps).validate!(c.a)), c.want));
}

// ---- CertificateSigning ----

const sign = (who: UserInfo, signer: string, certificate: string | undefined = 'Y2VydA==', before?: string) =>
  attrs('UPDATE', 'status', who, csr(signer, { approved: true, certificate }), csr(signer, { approved: true, certificate: before }));

const signings: { name: string; a: AdmissionAttributes; want: string }[] = [
  ...['kubernetes.io/kube-apiserver-client', 'kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving', 'kubernetes.io/legacy-unknown'].map((s) => ({
    name: `the certificate controller may issue for ${s}`,
    a: sign(certificateController, s),
    want: 'ok',
  })),
  { name: 'the certificate controller may not issue for another signer', a: sign(certificateController, 'example.com/foo'), want: signDenied('example.com/foo') },
  { name: 'a user without sign may not set the certificate', a: sign(user('creator'), 'kubernetes.io/kube-apiserver-client'), want: signDenied('kubernetes.io/kube-apiserver-client') },
  { name: 'nor replace it', a: sign(user('creator'), 'kubernetes.io/kube-apiserver-client', 'bmV3', 'b2xk'), want: signDenied('kubernetes.io/kube-apiserver-client') },
  { name: 'nor remove it', a: sign(user('creator'), 'kubernetes.io/kube-apiserver-client', undefined, 'b2xk'), want: signDenied('kubernetes.io/kube-apiserver-client') },
  { name: 'a status update that keeps the certificate needs no sign permission', a: sign(user('creator'), 'kubernetes.io/kube-apiserver-client', 'b2xk', 'b2xk'), want: 'ok' },
  { name: 'sign on kubernetes.io/* covers a kubernetes.io signer', a: sign(user('signer'), 'kubernetes.io/kube-apiserver-client'), want: 'ok' },
  { name: 'the approval subresource is not this plugin\'s business', a: attrs('UPDATE', 'approval', user('creator'), csr('x.io/y', { certificate: 'Y2VydA==' }), csr('x.io/y')), want: 'ok' },
];
for (const c of signings) {
  test(`CertificateSigning: ${c.name}`, async () => assert.equal(await outcome(certificateSigningPlugin(deps).validate!(c.a)), c.want));
}

// ---- CertificateSubjectRestriction ----

const requestFor = async (organizations: string[]) => Buffer.from((await createCsr({ subject: { commonName: 'x', organizations } })).csrPem).toString('base64');

test('CertificateSubjectRestriction: system:masters is refused only for kube-apiserver-client, at creation', async () => {
  const masters = await requestFor(['devs', 'system:masters']);
  const plain = await requestFor(['devs']);
  const plugin = certificateSubjectRestrictionPlugin();
  const refused = `403 Forbidden: certificatesigningrequests.certificates.k8s.io "c1" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`;
  assert.equal(await outcome(plugin.validate!(attrs('CREATE', '', admin, csr('kubernetes.io/kube-apiserver-client', { request: masters })))), refused, 'even for system:masters');
  assert.equal(
    await outcome(plugin.validate!(attrs('CREATE', '', admin, csr('kubernetes.io/kube-apiserver-client', { request: masters, generateName: 'csr-' })))),
    refused.replace('"c1"', '"csr-"'),
    'named by generateName before a name is given',
  );
  assert.equal(await outcome(plugin.validate!(attrs('CREATE', '', admin, csr('kubernetes.io/kube-apiserver-client', { request: plain })))), 'ok');
  assert.equal(await outcome(plugin.validate!(attrs('CREATE', '', admin, csr('example.com/foo', { request: masters })))), 'ok', 'another signer');
  assert.equal(await outcome(plugin.validate!(attrs('UPDATE', '', admin, csr('kubernetes.io/kube-apiserver-client', { request: masters }), csr('kubernetes.io/kube-apiserver-client', { request: masters })))), 'ok', 'not on update');
});

test('CertificateSubjectRestriction: an unparsable request is Forbidden', async () => {
  const bad = csr('kubernetes.io/kube-apiserver-client', { request: Buffer.from('not pem').toString('base64') });
  assert.equal(
    await outcome(certificateSubjectRestrictionPlugin().validate!(attrs('CREATE', '', admin, bad))),
    '403 Forbidden: certificatesigningrequests.certificates.k8s.io "c1" is forbidden: failed to parse CSR: PEM block type must be CERTIFICATE REQUEST',
  );
});

test('the plugins come in upstream order with upstream names', () => {
  assert.deepEqual(certificatePlugins(deps).map((p) => p.name), ['CertificateApproval', 'CertificateSigning', 'CertificateSubjectRestriction']);
});

test('an authorizer that fails counts as not allowed', async () => {
  const failing = certificateApprovalPlugin({ authorize: () => Promise.reject(new Error('boom')) });
  assert.equal(await outcome(failing.validate!(approve(user('foo'), 'example.com/foo'))), approvalDenied('example.com/foo'));
});
