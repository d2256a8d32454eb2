/**
 * Anonymous requests, as upstream's anonymous authenticator (apiserver
 * authentication/request/anonymous) and the way kube-apiserver chains it
 * (pkg/kubeapiserver/authenticator/config.go):
 *
 * - With `--anonymous-auth` (default true) a request no authenticator claims is served as user
 *   system:anonymous in group system:unauthenticated; authorization then decides what it may do
 *   (RBAC's system:public-info-viewer binding names system:unauthenticated, so /healthz and
 *   /version stay open).
 * - Upstream puts the anonymous authenticator after the others with "fail on error": an
 *   authenticator that rejects credentials the client presented (a bearer token no token
 *   authenticator knows, a client certificate that does not verify) returns an error, and the
 *   error wins over anonymous. So a request carrying bad credentials is 401 `Unauthorized`
 *   whether or not anonymous access is on; only a request that presents none becomes anonymous.
 *   Here authenticators answer "no opinion" for credentials they do not accept, so the
 *   integrator applies the rule with presentedCredentials:
 *
 *     user = await authenticate(chain, req)
 *     if (!user && presentedCredentials(req)) throw unauthorized()
 *     if (!user && anonymousAuth) user = anonymousAuthenticator.authenticate(req)
 *     if (!user) throw unauthorized()
 *
 * Not covered: the structured authentication configuration's anonymous conditions (anonymous
 * allowed only on listed paths).
 */
import type { UserInfo } from '../../api/types.ts';
import type { AuthRequest, Authenticator } from './index.ts';
import { parseBearerToken } from './tokenfile.ts';

export const anonymousUser = 'system:anonymous';
export const unauthenticatedGroup = 'system:unauthenticated';

/** Always answers system:anonymous (a fresh object each time); place it last, and only with --anonymous-auth. */
export const anonymousAuthenticator: Authenticator = {
  name: 'anonymous',
  authenticate: (): UserInfo => ({ username: anonymousUser, groups: [unauthenticatedGroup] }),
};

/**
 * Whether the request presents credentials that upstream would reject with an error rather
 * than pass over: an `Authorization: Bearer <token>` header with a non-empty token (parsed as
 * upstream's bearertoken authenticator: `Basic ...`, `Bearer` alone or `Bearer  x` are not
 * tokens), or a TLS client certificate that failed verification. When no authenticator accepted
 * the request and this is true, the answer is 401, never anonymous.
 */
export function presentedCredentials(req: AuthRequest): boolean {
  if (parseBearerToken(req.headers['authorization']) !== undefined) return true;
  const sock = req.socket;
  if (sock && !sock.authorized) {
    const cert = sock.getPeerCertificate?.();
    if (cert && Object.keys(cert).length > 0) return true;
  }
  return false;
}
