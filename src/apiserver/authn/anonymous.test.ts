import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { anonymousAuthenticator, presentedCredentials } from './anonymous.ts';
import type { AuthRequest } from './index.ts';

test('the anonymous authenticator answers system:anonymous in system:unauthenticated, a fresh object each time', async () => {
  const req: AuthRequest = { socket: undefined, headers: {} };
  const u = await anonymousAuthenticator.authenticate(req);
  assert.deepEqual(u, { username: 'system:anonymous', groups: ['system:unauthenticated'] });
  u!.groups.push('system:masters');
  assert.deepEqual(await anonymousAuthenticator.authenticate(req), { username: 'system:anonymous', groups: ['system:unauthenticated'] });
  assert.equal(anonymousAuthenticator.name, 'anonymous');
});

/** A TLS socket as far as presentedCredentials looks at it. */
const socket = (authorized: boolean, cert: object) => ({ authorized, getPeerCertificate: () => cert }) as unknown as TLSSocket;

const cases: { name: string; req: AuthRequest; want: boolean }[] = [
  { name: 'no credentials at all', req: { socket: undefined, headers: {} }, want: false },
  { name: 'a bearer token', req: { socket: undefined, headers: { authorization: 'Bearer abc' } }, want: true },
  { name: 'a bearer token, scheme in lower case', req: { socket: undefined, headers: { authorization: 'bearer abc' } }, want: true },
  { name: 'Bearer without a token', req: { socket: undefined, headers: { authorization: 'Bearer' } }, want: false },
  { name: 'Bearer with two spaces (an empty token for upstream)', req: { socket: undefined, headers: { authorization: 'Bearer  abc' } }, want: false },
  { name: 'basic credentials (no authenticator reads them)', req: { socket: undefined, headers: { authorization: 'Basic YTpi' } }, want: false },
  { name: 'a TLS connection without a client certificate', req: { socket: socket(false, {}), headers: {} }, want: false },
  { name: 'a client certificate that verified', req: { socket: socket(true, { subject: { CN: 'x' } }), headers: {} }, want: false },
  { name: 'a client certificate that failed verification', req: { socket: socket(false, { subject: { CN: 'x' } }), headers: {} }, want: true },
];
for (const c of cases) {
  test(`presentedCredentials: ${c.name} → ${c.want}`, () => assert.equal(presentedCredentials(c.req), c.want));
}
