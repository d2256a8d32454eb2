/**
 * The certificate admission plugins, as upstream's plugin/pkg/admission/certificates
 * ({approval,signing,subjectrestriction} and util.go's IsAuthorizedForSignerName), all validating:
 *
 * - CertificateApproval: an UPDATE of `certificatesigningrequests/approval` needs the `approve`
 *   verb on the synthetic resource `signers` (group certificates.k8s.io, apiVersion `*`, cluster
 *   scope) named after the request's signer, or after its domain wildcard (`kubernetes.io/*`).
 *   The signer is the EXISTING object's, so a request cannot rename it to pass.
 * - CertificateSigning: an UPDATE of `certificatesigningrequests/status` that changes
 *   `status.certificate` needs `sign` on `signers` the same way (v1.33: only the certificate is
 *   compared; later releases also compare conditions).
 * - CertificateSubjectRestriction: creating a CSR for `kubernetes.io/kube-apiserver-client`
 *   whose request has the organization `system:masters` is refused (such a certificate would be
 *   a cluster admin's).
 *
 * Refusals are 403 Forbidden with upstream's texts, named as admission.NewForbidden names them
 * (the object's name, else its generateName, else "Unknown"). An authorizer that fails counts as
 * "not allowed", as upstream logs and moves on.
 */
import { forbidden, type StatusError } from '../../api/errors.ts';
import type { CertificateSigningRequest } from '../../api/index.ts';
import { readCsr } from '../../pki/csr.ts';
import type { AuthorizationAttributes, Decision } from '../authz/index.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';

export const certificatesGroup = 'certificates.k8s.io';
const csrResource = 'certificatesigningrequests';
export const kubeAPIServerClientSignerName = 'kubernetes.io/kube-apiserver-client';
const privilegedGroup = 'system:masters';

/** What the authorization-based plugins need: the API server's authorizer chain. */
export interface CertificateAdmissionDeps {
  authorize(attrs: AuthorizationAttributes): Promise<Decision>;
}

const isCsr = (a: AdmissionAttributes) => a.def.group === certificatesGroup && a.def.plural === csrResource;

function forbid(a: AdmissionAttributes, message: string): StatusError {
  const meta = a.object?.metadata;
  const name = meta?.name || meta?.generateName || 'Unknown';
  return forbidden({ group: a.def.group, resource: a.def.plural }, name, message);
}

/** The authorization question for `verb` on the signer `name` (a signer name or `domain/*`). */
export function signerAttributes(user: AdmissionAttributes['user'], verb: string, name: string): AuthorizationAttributes {
  return { user, verb, isResourceRequest: true, apiGroup: certificatesGroup, apiVersion: '*', resource: 'signers', subresource: '', namespace: '', name, path: '' };
}

/**
 * Whether the user may `verb` the signer: asked for the signer's own name first, then for its
 * domain (the part before the first `/`) followed by `/*`.
 */
export async function isAuthorizedForSignerName(deps: CertificateAdmissionDeps, user: AdmissionAttributes['user'], verb: string, signerName: string): Promise<boolean> {
  const names = [signerName, `${signerName.split('/')[0]}/*`];
  for (const name of names) {
    try {
      if ((await deps.authorize(signerAttributes(user, verb, name))).decision === 'allow') return true;
    } catch {
      // An authorizer error is a "no", as upstream's.
    }
  }
  return false;
}

/** The object a CSR plugin reads, or Forbidden as upstream's type assertion fails. */
function csrOf(a: AdmissionAttributes, o: AdmissionAttributes['object']): CertificateSigningRequest {
  if (!o) throw forbid(a, 'expected type CertificateSigningRequest, got: <nil>');
  return o as unknown as CertificateSigningRequest;
}

/** CertificateApproval: `approve` on the signer for an update of the approval subresource. */
export function certificateApprovalPlugin(deps: CertificateAdmissionDeps): AdmissionPlugin {
  return {
    name: 'CertificateApproval',
    validate(a) {
      if (a.operation !== 'UPDATE' || a.subresource !== 'approval' || !isCsr(a)) return;
      return approve(a);
    },
  };

  async function approve(a: AdmissionAttributes): Promise<void> {
    const signerName = csrOf(a, a.oldObject).spec?.signerName ?? '';
    if (!(await isAuthorizedForSignerName(deps, a.user, 'approve', signerName))) {
      throw forbid(a, `user not permitted to approve requests with signerName ${JSON.stringify(signerName)}`);
    }
  }
}

/** CertificateSigning: `sign` on the signer for a status update that changes status.certificate. */
export function certificateSigningPlugin(deps: CertificateAdmissionDeps): AdmissionPlugin {
  return {
    name: 'CertificateSigning',
    validate(a) {
      if (a.operation !== 'UPDATE' || a.subresource !== 'status' || !isCsr(a)) return;
      return sign(a);
    },
  };

  async function sign(a: AdmissionAttributes): Promise<void> {
    const old = csrOf(a, a.oldObject);
    const csr = csrOf(a, a.object);
    if ((old.status?.certificate ?? undefined) === (csr.status?.certificate ?? undefined)) return;
    const signerName = old.spec?.signerName ?? '';
    if (!(await isAuthorizedForSignerName(deps, a.user, 'sign', signerName))) {
      throw forbid(a, `user not permitted to sign requests with signerName ${JSON.stringify(signerName)}`);
    }
  }
}

/** CertificateSubjectRestriction: no kube-apiserver-client certificate for the system:masters group. */
export function certificateSubjectRestrictionPlugin(): AdmissionPlugin {
  return {
    name: 'CertificateSubjectRestriction',
    validate(a) {
      if (a.operation !== 'CREATE' || a.subresource !== '' || !isCsr(a)) return;
      return restrictSubject(a);
    },
  };

  async function restrictSubject(a: AdmissionAttributes): Promise<void> {
    const csr = csrOf(a, a.object);
    if (csr.spec?.signerName !== kubeAPIServerClientSignerName) return;
    let organizations: string[];
    try {
      organizations = (await readCsr(Buffer.from(csr.spec.request ?? '', 'base64').toString('utf8'))).organizations;
    } catch (err) {
      throw forbid(a, `failed to parse CSR: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (organizations.includes(privilegedGroup)) {
      throw forbid(a, `use of ${kubeAPIServerClientSignerName} signer with ${privilegedGroup} group is not allowed`);
    }
  }
}

/** The three plugins in upstream's order (CertificateApproval, CertificateSigning, CertificateSubjectRestriction). */
export function certificatePlugins(deps: CertificateAdmissionDeps): AdmissionPlugin[] {
  return [certificateApprovalPlugin(deps), certificateSigningPlugin(deps), certificateSubjectRestrictionPlugin()];
}
