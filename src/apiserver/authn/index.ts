/**
 * Authentication stage: each authenticator looks at the request and answers a user, no
 * opinion (null), or an error. The first user wins; with none the request is 401.
 * The x509 authenticator maps a verified client certificate to CN → username, O → groups.
 */
import type { TLSSocket } from 'node:tls';
import { unauthorized } from '../../api/errors.ts';
import type { UserInfo } from '../../api/types.ts';
import { userFromCertificate, type CertificateUser } from '../../pki/index.ts';

export interface AuthRequest {
  socket: TLSSocket | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export interface Authenticator {
  readonly name: string;
  authenticate(req: AuthRequest): UserInfo | null | Promise<UserInfo | null>;
}

/** A connection's client certificate, read once: it cannot change during a TLS session. */
interface PeerIdentity {
  user: CertificateUser | null;
  notBefore: number;
  notAfter: number;
}

const peers = new WeakMap<TLSSocket, PeerIdentity>();

function peerIdentity(sock: TLSSocket): PeerIdentity {
  let id = peers.get(sock);
  if (!id) {
    // getPeerCertificate() builds a new object with every field each call; once per connection.
    const cert = sock.getPeerCertificate();
    id = { user: userFromCertificate(cert), notBefore: Date.parse(cert.valid_from), notAfter: Date.parse(cert.valid_to) };
    peers.set(sock, id);
  }
  return id;
}

/**
 * Client certificates verified against the cluster CA (the TLS layer verifies the chain at the
 * handshake). As upstream verifies the certificate at every request, a certificate that expired
 * while its connection stayed open is refused (401) from then on.
 */
export const x509Authenticator: Authenticator = {
  name: 'x509',
  authenticate(req) {
    const sock = req.socket;
    if (!sock || !sock.authorized) return null;
    const id = peerIdentity(sock);
    if (!id.user) return null;
    const now = Date.now();
    if (now < id.notBefore || now > id.notAfter) throw unauthorized();
    return { username: id.user.username, groups: [...id.user.groups, 'system:authenticated'] };
  },
};

export async function authenticate(authenticators: readonly Authenticator[], req: AuthRequest): Promise<UserInfo | null> {
  for (const a of authenticators) {
    const u = await a.authenticate(req);
    if (u) return u;
  }
  return null;
}
