/**
 * The user a client certificate stands for, as Kubernetes' x509 authenticator maps it:
 * the subject's common name is the user name, its organization (O) values are the groups.
 * This says nothing about trust: verifying the chain is the TLS layer's job (check
 * `socket.authorized` before asking).
 */
import { X509Certificate as NodeX509 } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { subjectOf } from './x509.ts';

export interface CertificateUser {
  username: string;
  groups: string[];
}

/**
 * A certificate as Node's `getPeerCertificate()` returns it, a `crypto.X509Certificate`, PEM
 * text, or DER bytes.
 */
export type CertificateInput = PeerCertificate | NodeX509 | string | Uint8Array;

/**
 * CN → username, O values (in order) → groups. With several CN attributes the last one counts
 * (as Go's pkix.Name does). Answers null when there is no certificate or its CN is empty — no
 * user, like upstream. Throws when PEM or DER input does not parse.
 * Node's `PeerCertificate.subject` holds a string for one value and an array for several;
 * both are accepted. No groups are added (e.g. system:authenticated is the caller's business).
 */
export function userFromCertificate(cert: CertificateInput): CertificateUser | null {
  let cns: string[];
  let orgs: string[];
  if (typeof cert === 'string' || cert instanceof Uint8Array || cert instanceof NodeX509) {
    const s = subjectOf((cert instanceof NodeX509 ? cert : new NodeX509(cert)).raw);
    cns = s.commonName === undefined ? [] : [s.commonName];
    orgs = s.organizations;
  } else {
    const subject = (cert as { subject?: Record<string, string | string[] | undefined> }).subject;
    if (!subject) return null;
    cns = values(subject.CN);
    orgs = values(subject.O);
  }
  const username = cns[cns.length - 1];
  if (!username) return null;
  return { username, groups: orgs };
}

function values(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? [...v] : [v];
}
