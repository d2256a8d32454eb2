/**
 * Authentication stage: each authenticator looks at the request and answers a user, no
 * opinion (null), or an error. The first user wins; with none the request is 401.
 * The x509 authenticator maps a verified client certificate to CN → username, O → groups.
 */
import type { TLSSocket } from 'node:tls';
import type { UserInfo } from '../../api/types.ts';
import { userFromCertificate } from '../../pki/index.ts';

export interface AuthRequest {
  socket: TLSSocket | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export interface Authenticator {
  readonly name: string;
  authenticate(req: AuthRequest): UserInfo | null | Promise<UserInfo | null>;
}

/** Client certificates verified against the cluster CA (the TLS layer does the verification). */
export const x509Authenticator: Authenticator = {
  name: 'x509',
  authenticate(req) {
    const sock = req.socket;
    if (!sock || !sock.authorized) return null;
    const u = userFromCertificate(sock.getPeerCertificate());
    if (!u) return null;
    return { username: u.username, groups: [...u.groups, 'system:authenticated'] };
  },
};

export async function authenticate(authenticators: readonly Authenticator[], req: AuthRequest): Promise<UserInfo | null> {
  for (const a of authenticators) {
    const u = await a.authenticate(req);
    if (u) return u;
  }
  return null;
}
