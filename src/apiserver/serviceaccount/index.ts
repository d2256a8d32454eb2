/**
 * ServiceAccount tokens on the API server side: the public entry of this folder. Keys
 * (keys.ts), token claims and verification (tokens.ts, jws.ts), the bearer-token authenticator
 * (authenticator.ts), the serviceaccounts/token subresource (tokenrequest.ts), issuer discovery
 * (discovery.ts) and the kube-apiserver flags (options.ts). Each file's comment says which
 * upstream behaviour it follows.
 */
export {
  algorithmFor,
  keyId,
  keySet,
  loadOrCreateSigningKey,
  parsePublicKeysPem,
  parseSigningKeyPem,
  publicJwk,
  readPublicKeysFile,
  readSigningKeyFile,
  signingKey,
  signingKeyFileName,
  verificationKey,
  type KeySet,
  type PublicJwk,
  type SigningAlgorithm,
  type SigningKey,
  type VerificationKey,
} from './keys.ts';
export {
  boundClaims,
  issueToken,
  legacyClaims,
  legacyIssuer,
  makeUsername,
  splitUsername,
  verifyBoundToken,
  verifyLegacyToken,
  verifyToken,
  type BoundClaims,
  type LegacyClaims,
  type VerifyResult,
} from './tokens.ts';
export {
  authenticateServiceAccountToken,
  serviceAccountAuthenticator,
  serviceAccountUser,
  type ServiceAccountAuthenticator,
  type ServiceAccountAuthenticatorOptions,
  type ServiceAccountLookups,
  type TokenAuthentication,
} from './authenticator.ts';
export { createTokenRequest, validateTokenRequest, type TokenRequestInput } from './tokenrequest.ts';
export {
  jwksPath,
  openIdConfigPath,
  openIdMetadata,
  openIdMetadataResponse,
  type DiscoveryResponse,
  type OpenIdMetadata,
  type OpenIdMetadataOptions,
} from './discovery.ts';
export {
  defaultServiceAccountIssuer,
  loadServiceAccountConfig,
  validateServiceAccountFlags,
  type ServiceAccountConfig,
  type ServiceAccountFlags,
} from './options.ts';
