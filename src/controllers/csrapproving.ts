/**
 * The csrapproving controller: approves node certificate requests automatically, as upstream's
 * (pkg/controller/certificates/approver), through the approval subresource with reason
 * AutoApproved:
 *
 * - nodeclient: a `kubernetes.io/kube-apiserver-client-kubelet` request for O=system:nodes,
 *   CN=system:node:NAME, no SANs, usages {digital signature, client auth} (optionally key
 *   encipherment), from a bootstrap token user (group system:bootstrappers) or system:masters;
 * - selfnodeclient: the same request from the node itself (requester == CN, group system:nodes):
 *   a node renewing its client certificate.
 *
 * Upstream decides "may this requester" with a SubjectAccessReview of
 * certificatesigningrequests/nodeclient and /selfnodeclient, granted by RBAC's default bindings
 * (bootstrappers → nodeclient, system:nodes → selfnodeclient). Bosun has no RBAC yet (every
 * authenticated user is allowed everything), so this controller checks those default bindings'
 * groups itself; a SubjectAccessReview would approve everyone.
 *
 * Beyond upstream (which leaves serving certificates to an external approver, as kubeadm
 * documents): a `kubernetes.io/kubelet-serving` request from the node itself (requester == CN,
 * group system:nodes), whose DNS SANs are only the node's name and which has IP SANs or DNS SANs
 * only, with serving usages, is approved too, so `bosun agent --token` gets its serving
 * certificate without a manual `kubectl certificate approve`. Its IP SANs are not checked against
 * the node's addresses (the Node may not exist yet when the first one is requested).
 *
 * Requests already Approved or Denied are left alone; nothing else is ever denied.
 */
import type { CertificateSigningRequest } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import { readCsr, type CsrFacts } from '../pki/csr.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';
import { signerKubeletClient, signerKubeletServing, signerValidationError } from './csrsigning.ts';

export interface ApprovalDecision {
  approve: boolean;
  /** Why (the condition's message when approved). */
  message: string;
}

const nodePrefix = 'system:node:';

/** Whether `csr` (with its parsed request) is approved automatically, and why. Pure. */
export function approvalDecision(csr: CertificateSigningRequest, req: CsrFacts): ApprovalDecision {
  const no = (message: string): ApprovalDecision => ({ approve: false, message });
  if (!req.signatureValid) return no('the request signature does not verify');
  const usages = csr.spec.usages ?? [];
  const groups = csr.spec.groups ?? [];
  const self = csr.spec.username === req.commonName && groups.includes('system:nodes');
  if (csr.spec.signerName === signerKubeletClient) {
    const why = signerValidationError(signerKubeletClient, usages, req);
    if (why) return no(`not a node client certificate request: ${why}`);
    if (self) return { approve: true, message: 'Auto approving self kubelet client certificate after SubjectAccessReview.' };
    if (groups.includes('system:bootstrappers') || groups.includes('system:masters')) return { approve: true, message: 'Auto approving kubelet client certificate after SubjectAccessReview.' };
    return no('the requester may not request node client certificates');
  }
  if (csr.spec.signerName === signerKubeletServing) {
    const why = signerValidationError(signerKubeletServing, usages, req);
    if (why) return no(`not a node serving certificate request: ${why}`);
    if (!self) return no('only the node itself may request its serving certificate');
    const node = req.commonName.slice(nodePrefix.length);
    if (req.dnsNames.some((d) => d !== node)) return no(`DNS names other than the node name ${JSON.stringify(node)}`);
    return { approve: true, message: 'Auto approving kubelet serving certificate for the node itself.' };
  }
  return no('not a node certificate request');
}

export function startCsrApprovingController(ctx: ControllerContext): void {
  const csrs = ctx.informers.typedInformerFor(resources.certificateSigningRequests);
  const cs = clientset(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'csrapproving-controller', workers: 2, waitFor: [csrs] });
  const pending = (c: CertificateSigningRequest) => !(c.status?.conditions ?? []).some((x) => x.type === 'Approved' || x.type === 'Denied');
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
    const d = approvalDecision(cached, req);
    if (!d.approve) return;
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
