/**
 * The csrsigning controller: issues certificates with the cluster CA for approved
 * CertificateSigningRequests of the built-in signers, as upstream's kube-controller-manager does
 * with --cluster-signing-cert-file / --cluster-signing-key-file:
 *
 *   kubernetes.io/kube-apiserver-client-kubelet   node client certificates (O=system:nodes, CN=system:node:NAME, no SANs)
 *   kubernetes.io/kubelet-serving                 node serving certificates (same subject, DNS/IP SANs, at least one)
 *   kubernetes.io/kube-apiserver-client           any client certificate
 *
 * A request is signed once it has Approved (and neither Denied nor Failed) and no certificate.
 * One that does not meet its signer's rules gets a Failed condition (reason
 * SignerValidationFailure) and is never signed. The lifetime is the signing duration (upstream's
 * --cluster-signing-duration, default one year), shortened by spec.expirationSeconds, never past
 * the CA's own expiry. Without a signing CA the controller does nothing (upstream's signers stay
 * off without their files). Level-based: a reconcile reads the cached CSR and writes status only.
 */
import type { CertificateSigningRequest, CertificateSigningRequestCondition } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import { readCsr, signCsr, type CsrFacts } from '../pki/csr.ts';
import { certFacts } from '../pki/x509.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';

export const signerKubeletClient = 'kubernetes.io/kube-apiserver-client-kubelet';
export const signerKubeletServing = 'kubernetes.io/kubelet-serving';
export const signerApiServerClient = 'kubernetes.io/kube-apiserver-client';

/** Upstream's --cluster-signing-duration default (8760h). */
export const defaultSigningDurationMs = 365 * 24 * 3600 * 1000;
/** Certificates start this long before they are signed, for clocks a little behind. */
export const backdateMs = 5 * 60 * 1000;
/** Below this lifetime the backdate is taken out of the lifetime instead of added to it. */
export const shortLifetimeMs = 8 * 3600 * 1000;

/** The CA the signers use, given to the controller manager (`ControllerManagerOptions.clusterSigning`). */
export interface ClusterSigning {
  certPem: string;
  keyPem: string;
  /** Default `defaultSigningDurationMs`. */
  durationMs?: number;
}

/** What the manager adds to the context for this controller (see manager.ts). */
export interface CsrSigningContext {
  clusterSigning?: ClusterSigning;
}

export function isApproved(csr: CertificateSigningRequest): boolean {
  const c = csr.status?.conditions ?? [];
  return c.some((x) => x.type === 'Approved') && !c.some((x) => x.type === 'Denied');
}

export function isFinished(csr: CertificateSigningRequest): boolean {
  const c = csr.status?.conditions ?? [];
  return c.some((x) => x.type === 'Denied' || x.type === 'Failed') || !!csr.status?.certificate;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const s = new Set(a);
  return s.size === new Set(b).size && b.every((x) => s.has(x));
}

const kubeletUsageSets = (eku: string) => [
  ['key encipherment', 'digital signature', eku],
  ['digital signature', eku],
];

/**
 * Why the request does not meet its signer's rules, or undefined when it does. Usages are the
 * CSR object's; subject and SANs the request's.
 */
export function signerValidationError(signerName: string, usages: readonly string[], req: CsrFacts): string | undefined {
  const nodeSubject = () => {
    if (req.organizations.length !== 1 || req.organizations[0] !== 'system:nodes') return 'subject organization is not system:nodes';
    if (!req.commonName.startsWith('system:node:') || req.commonName === 'system:node:') return 'subject common name does not begin with system:node:';
    return undefined;
  };
  switch (signerName) {
    case signerKubeletClient: {
      const why = nodeSubject();
      if (why) return why;
      if (req.dnsNames.length || req.emailAddresses.length || req.ipAddresses.length || req.uris.length) return 'subjectAltName extensions are not allowed';
      if (!kubeletUsageSets('client auth').some((s) => sameSet(s, usages))) return `usages did not match ${JSON.stringify(kubeletUsageSets('client auth'))}`;
      return undefined;
    }
    case signerKubeletServing: {
      const why = nodeSubject();
      if (why) return why;
      if (req.emailAddresses.length || req.uris.length) return 'email and URI subjectAltName extensions are forbidden';
      if (!req.dnsNames.length && !req.ipAddresses.length) return 'DNS or IP subjectAltName is required';
      if (!kubeletUsageSets('server auth').some((s) => sameSet(s, usages))) return `usages did not match ${JSON.stringify(kubeletUsageSets('server auth'))}`;
      return undefined;
    }
    case signerApiServerClient: {
      if (!usages.includes('client auth')) return 'usages must include "client auth"';
      const allowed = new Set(['digital signature', 'key encipherment', 'client auth']);
      const extra = usages.filter((u) => !allowed.has(u));
      if (extra.length) return `invalid usages ${JSON.stringify(extra)}: only "digital signature", "key encipherment" and "client auth" are allowed`;
      return undefined;
    }
    default:
      return `unrecognized signerName ${JSON.stringify(signerName)}`;
  }
}

/**
 * The validity window of a certificate signed at `now`: the signing duration, shortened by
 * `expirationSeconds`; started `backdateMs` early, and for lifetimes under `shortLifetimeMs` the
 * backdate comes out of the lifetime (so a 10-minute certificate lasts 10 minutes); never past
 * `caNotAfter`.
 */
export function certificateWindow(now: Date, opts: { durationMs: number; expirationSeconds?: number; caNotAfter: Date }): { notBefore: Date; notAfter: Date } {
  let ttl = opts.durationMs;
  if (opts.expirationSeconds !== undefined && opts.expirationSeconds * 1000 < ttl) ttl = opts.expirationSeconds * 1000;
  const notBefore = new Date(now.getTime() - backdateMs);
  let notAfter = new Date(now.getTime() + ttl - (ttl < shortLifetimeMs ? backdateMs : 0));
  if (notAfter > opts.caNotAfter) notAfter = opts.caNotAfter;
  return { notBefore, notAfter };
}

const handled = new Set([signerKubeletClient, signerKubeletServing, signerApiServerClient]);

export function startCsrSigningController(ctx: ControllerContext): void {
  const signing = (ctx as ControllerContext & CsrSigningContext).clusterSigning;
  if (!signing) {
    ctx.log('csrsigning: no cluster signing CA given; not signing certificates');
    return;
  }
  const caNotAfter = certFacts(signing.certPem).notAfter;
  const csrs = ctx.informers.typedInformerFor(resources.certificateSigningRequests);
  const cs = clientset(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'csrsigning-controller', workers: 2, waitFor: [csrs] });
  const enqueue = (c: CertificateSigningRequest) => {
    if (handled.has(c.spec.signerName) && isApproved(c) && !isFinished(c)) queue.add(c.metadata.name!);
  };
  csrs.addEventHandler({ onAdd: enqueue, onUpdate: (_o, c) => enqueue(c) });

  async function sync(name: string): Promise<void> {
    const cached = csrs.store.get(name);
    if (!cached || !handled.has(cached.spec.signerName) || !isApproved(cached) || isFinished(cached)) return;
    const csr = structuredClone(cached);
    const pem = Buffer.from(csr.spec.request, 'base64').toString('utf8');
    let facts: CsrFacts | undefined;
    let why: string | undefined;
    try {
      facts = await readCsr(pem);
      if (!facts.signatureValid) why = 'the request signature does not verify';
    } catch (err) {
      why = `unable to parse csr: ${(err as Error).message}`;
    }
    why ??= signerValidationError(csr.spec.signerName, csr.spec.usages ?? [], facts!);
    if (why) {
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const failed: CertificateSigningRequestCondition = { type: 'Failed', status: 'True', reason: 'SignerValidationFailure', message: why, lastUpdateTime: now, lastTransitionTime: now };
      csr.status = { ...csr.status, conditions: [...(csr.status?.conditions ?? []), failed] };
    } else {
      const window = certificateWindow(new Date(), { durationMs: signing!.durationMs ?? defaultSigningDurationMs, expirationSeconds: csr.spec.expirationSeconds, caNotAfter });
      const cert = await signCsr(pem, signing!, { usages: csr.spec.usages ?? [], ...window });
      csr.status = { ...csr.status, certificate: Buffer.from(cert).toString('base64') };
    }
    try {
      await cs.certificateSigningRequests.updateStatus(csr);
      ctx.log(why ? `csrsigning: ${name} failed: ${why}` : `csrsigning: signed ${name} (${csr.spec.signerName})`);
    } catch (err) {
      // A newer version is on its way through the informer; that event requeues it.
      if (isConflict(err) || isNotFound(err)) return;
      throw err;
    }
  }
}
