/**
 * The csrapproving controller: approves node certificate requests automatically, as upstream's
 * (pkg/controller/certificates/approver, sarapprove.go), through the approval subresource with
 * reason AutoApproved. A request is first RECOGNIZED (what kind of node request it is), then the
 * REQUESTER is asked about with a SubjectAccessReview (authorization.k8s.io/v1, created through
 * the controller's own client) for `create` on a synthetic subresource of
 * certificatesigningrequests (group certificates.k8s.io), for the CSR's spec.username, uid, groups
 * and extra. Recognizers are tried in order; the first whose review is allowed approves:
 *
 * 1. selfnodeclient: a `kubernetes.io/kube-apiserver-client-kubelet` request for O=system:nodes,
 *    CN=system:node:NAME, no SANs, usages {digital signature, client auth} (optionally key
 *    encipherment), whose requester is its CN — a node renewing its client certificate;
 * 2. nodeclient: the same request from anyone — a bootstrap token user joining a node;
 * 3. selfnodeserver (Bosun's extension, below).
 *
 * RBAC decides who passes: upstream's roles `system:certificates.k8s.io:certificatesigningrequests:
 * {nodeclient,selfnodeclient}`, bound by Bosun's bootstrap policy to the node token's group and
 * to system:nodes (kubeadm's bindings); system:masters passes every review. The approval itself
 * passes the CertificateApproval admission plugin as the controller's identity: `approve` on the
 * signer (upstream's certificate-controller role for the kubelet client signer).
 *
 * Beyond upstream, whose current approver leaves serving certificates to an external approver (as
 * kubeadm documents): a `kubernetes.io/kubelet-serving` request whose requester is its CN, that
 * meets the signer's rules (node subject, DNS or IP SANs, serving usages) and whose DNS SANs are
 * only the node's name, is recognized as `selfnodeserver` and approved when the requester may
 * `create` `certificatesigningrequests/selfnodeserver` — the subresource and message of upstream's
 * own approver in v1.8–v1.10 (its RotateKubeletServerCertificate recognizer), so the permission
 * is granted the same way as the client ones (a ClusterRole
 * `system:certificates.k8s.io:certificatesigningrequests:selfnodeserver` bound to system:nodes).
 * This lets `bosun agent --token` get its serving certificate without a manual
 * `kubectl certificate approve`. Its IP SANs are not checked against the node's addresses (the
 * Node may not exist yet when the first one is requested).
 *
 * Requests already Approved or Denied, or issued, are left alone; nothing is ever denied. A
 * request recognized but refused by every review is retried with the queue's backoff (upstream's
 * ignorable error), so a binding granted later still takes effect.
 */
import type { CertificateSigningRequest, SubjectAccessReview } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { clientset, descriptor, resources, type RestClient } from '../client/index.ts';
import { readCsr, type CsrFacts } from '../pki/csr.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';
import { signerKubeletClient, signerKubeletServing, signerValidationError } from './csrsigning.ts';

/** The synthetic subresources of certificatesigningrequests a requester is reviewed for. */
export type NodeCsrPermission = 'selfnodeclient' | 'nodeclient' | 'selfnodeserver';

/** One way a request may be approved: the permission its requester needs, and the condition's message. */
export interface Recognition {
  permission: NodeCsrPermission;
  message: string;
}

export interface ApprovalDecision {
  approve: boolean;
  /** The condition's message when approved; otherwise why not. */
  message: string;
  /** The permissions reviewed, in order. */
  tried: NodeCsrPermission[];
}

const nodePrefix = 'system:node:';

/**
 * The recognitions that fit `csr` (with its parsed request), in the order they are to be
 * reviewed; empty when it is no node request this controller approves. Pure.
 */
export function recognize(csr: CertificateSigningRequest, req: CsrFacts): Recognition[] {
  if (!req.signatureValid) return [];
  const usages = csr.spec.usages ?? [];
  const self = csr.spec.username === req.commonName;
  if (csr.spec.signerName === signerKubeletClient) {
    if (signerValidationError(signerKubeletClient, usages, req)) return [];
    const out: Recognition[] = [];
    if (self) out.push({ permission: 'selfnodeclient', message: 'Auto approving self kubelet client certificate after SubjectAccessReview.' });
    out.push({ permission: 'nodeclient', message: 'Auto approving kubelet client certificate after SubjectAccessReview.' });
    return out;
  }
  if (csr.spec.signerName === signerKubeletServing) {
    if (!self || signerValidationError(signerKubeletServing, usages, req)) return [];
    const node = req.commonName.slice(nodePrefix.length);
    if (req.dnsNames.some((d) => d !== node)) return [];
    return [{ permission: 'selfnodeserver', message: 'Auto approving self kubelet server certificate after SubjectAccessReview.' }];
  }
  return [];
}

/**
 * Whether `csr` is approved: the first recognition whose permission `mayCreate` grants decides.
 * `mayCreate` is asked in order and only as far as needed; its errors propagate.
 */
export async function approvalDecision(csr: CertificateSigningRequest, req: CsrFacts, mayCreate: (permission: NodeCsrPermission) => Promise<boolean>): Promise<ApprovalDecision> {
  const tried: NodeCsrPermission[] = [];
  for (const r of recognize(csr, req)) {
    tried.push(r.permission);
    if (await mayCreate(r.permission)) return { approve: true, message: r.message, tried };
  }
  const message = tried.length ? `recognized csr ${JSON.stringify(csr.metadata.name ?? '')} as [${tried.join(' ')}] but subject access review was not approved` : 'not a node certificate request';
  return { approve: false, message, tried };
}

const subjectAccessReviews = descriptor({ group: 'authorization.k8s.io', version: 'v1', resource: 'subjectaccessreviews', kind: 'SubjectAccessReview', namespaced: false });

/**
 * Asks the API server whether the CSR's requester may `create` the permission's subresource of
 * certificatesigningrequests (a SubjectAccessReview; the caller needs `create` on
 * subjectaccessreviews).
 */
export async function requesterMay(client: RestClient, csr: CertificateSigningRequest, permission: NodeCsrPermission): Promise<boolean> {
  const sar: SubjectAccessReview = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: {},
    spec: {
      user: csr.spec.username,
      uid: csr.spec.uid,
      groups: csr.spec.groups,
      extra: csr.spec.extra,
      resourceAttributes: { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', subresource: permission, verb: 'create' },
    },
  };
  const review = await client.create<SubjectAccessReview>(subjectAccessReviews, sar);
  return review.status?.allowed === true;
}

export function startCsrApprovingController(ctx: ControllerContext): void {
  const csrs = ctx.informers.typedInformerFor(resources.certificateSigningRequests);
  const cs = clientset(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'csrapproving-controller', workers: 2, waitFor: [csrs] });
  const pending = (c: CertificateSigningRequest) => !c.status?.certificate && !(c.status?.conditions ?? []).some((x) => x.type === 'Approved' || x.type === 'Denied');
  const enqueue = (c: CertificateSigningRequest) => {
    if ((c.spec.signerName === signerKubeletClient || c.spec.signerName === signerKubeletServing) && pending(c)) queue.add(c.metadata.name!);
  };
  csrs.addEventHandler({ onAdd: enqueue, onUpdate: (_o, c) => enqueue(c) });

  async function sync(name: string): Promise<void> {
    const cached = csrs.store.get(name);
    if (!cached || !pending(cached)) return;
    let req: CsrFacts;
    try {
      req = await readCsr(Buffer.from(cached.spec.request, 'base64').toString('utf8'));
    } catch {
      return; // Unparsable: not ours to judge; the signer fails it if approved by hand.
    }
    const d = await approvalDecision(cached, req, (p) => requesterMay(ctx.client, cached, p));
    if (!d.approve) {
      // Recognized but not allowed: retried with backoff, as upstream's ignorable error.
      if (d.tried.length) throw new Error(d.message);
      return;
    }
    const csr = structuredClone(cached);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    csr.status = { ...csr.status, conditions: [...(csr.status?.conditions ?? []), { type: 'Approved', status: 'True', reason: 'AutoApproved', message: d.message, lastUpdateTime: now, lastTransitionTime: now }] };
    try {
      await cs.certificateSigningRequests.update(csr, { subresource: 'approval' });
      ctx.log(`csrapproving: approved ${name} (${csr.spec.username})`);
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return;
      throw err;
    }
  }
}
