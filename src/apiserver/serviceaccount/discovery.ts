/**
 * Service-account issuer discovery, as upstream's pkg/serviceaccount/openidmetadata.go and
 * pkg/routes/openidmetadata.go:
 *
 * - `GET /.well-known/openid-configuration`: {issuer, jwks_uri, response_types_supported
 *   ["id_token"], subject_types_supported ["public"], id_token_signing_alg_values_supported (the
 *   keys' algorithms, sorted)}, `application/json`.
 * - `GET /openid/v1/jwks`: {keys: [{use "sig", kty, kid, alg, n, e | crv, x, y}]} of every
 *   verification key, `application/jwk-set+json`.
 * - Both with `Cache-Control: public, max-age=3600` (the key getter's cache age).
 * - jwks_uri is --service-account-jwks-uri when given (it must be https), else
 *   `https://<external address>/openid/v1/jwks` (the API server's advertised host:port), whatever
 *   the issuer. The issuer must be an https URL without query or fragment; otherwise upstream
 *   does not serve the documents at all (openIdMetadata throws its message and the integrator
 *   logs it and leaves the paths out).
 *
 * The documents are rendered once (the keys are static); serving them is a lookup.
 */
import { publicJwk, type VerificationKey } from './keys.ts';

export const openIdConfigPath = '/.well-known/openid-configuration';
export const jwksPath = '/openid/v1/jwks';
export const jsonContentType = 'application/json';
export const jwksContentType = 'application/jwk-set+json';
/** Upstream's static key getter's GetCacheAgeMaxSeconds. */
export const discoveryMaxAgeSeconds = 3600;

export interface OpenIdMetadataOptions {
  /** The first --service-account-issuer. */
  issuer: string;
  /** --service-account-jwks-uri. */
  jwksUri?: string;
  /** The API server's external `host:port` (IPv6 in brackets), used when jwksUri is not given. */
  externalAddress?: string;
  /** The verification keys (--service-account-key-file). */
  keys: readonly VerificationKey[];
}

/** Both documents, rendered. */
export interface OpenIdMetadata {
  configJson: string;
  keysetJson: string;
  maxAgeSeconds: number;
}

/** Go's url.Parse view of what we check: scheme (lower case), query, fragment. */
function urlParts(raw: string): { scheme: string; query: string; fragment: string } {
  const hash = raw.indexOf('#');
  const fragment = hash >= 0 ? raw.slice(hash + 1) : '';
  const rest = hash >= 0 ? raw.slice(0, hash) : raw;
  if (rest.startsWith(':')) throw new Error(`parse ${JSON.stringify(raw)}: missing protocol scheme`);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
  const q = rest.indexOf('?');
  return { scheme: m ? m[1]!.toLowerCase() : '', query: q >= 0 ? rest.slice(q + 1) : '', fragment };
}

/**
 * Renders the discovery documents. Throws an Error with upstream's message when the issuer is
 * not an https URL without query and fragment, when neither jwksUri nor externalAddress is
 * given or they make no https URL, or when there are no keys.
 */
export function openIdMetadata(opts: OpenIdMetadataOptions): OpenIdMetadata {
  const { issuer } = opts;
  if (!issuer) throw new Error('empty issuer URL');
  if (!opts.jwksUri && !opts.externalAddress) throw new Error('either the JWKS URI or the default external address, or both, must be set');
  const iss = urlParts(issuer);
  if (iss.scheme !== 'https') throw new Error(`issuer URL must use https scheme, got: ${issuer}`);
  if (iss.query) throw new Error(`issuer URL may not include a query, got: ${issuer}`);
  if (iss.fragment) throw new Error(`issuer URL may not include a fragment, got: ${issuer}`);
  let jwksUri = opts.jwksUri;
  if (!jwksUri) {
    const addr = opts.externalAddress!;
    jwksUri = `https://${addr}${jwksPath}`;
    let ok = !/[/?#@\s]/.test(addr);
    if (ok) {
      try {
        new URL(jwksUri);
      } catch {
        ok = false;
      }
    }
    if (!ok) throw new Error(`attempted to build jwks_uri from external address ${addr}, but could not construct a valid URL. Error: got ${jwksUri}, expected https://${addr}${jwksPath}`);
  } else if (urlParts(jwksUri).scheme !== 'https') {
    throw new Error(`jwksURI requires https scheme, parsed as: ${jwksUri}`);
  }
  if (opts.keys.length === 0) throw new Error('no keys provided for validating keyset');
  const jwks = opts.keys.map(publicJwk);
  const algs = [...new Set(jwks.map((k) => k.alg))].sort();
  const config = {
    issuer,
    jwks_uri: jwksUri,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
  };
  return { configJson: JSON.stringify(config), keysetJson: JSON.stringify({ keys: jwks }), maxAgeSeconds: discoveryMaxAgeSeconds };
}

/** A response to write as it is. */
export interface DiscoveryResponse {
  headers: Record<string, string>;
  body: string;
}

/**
 * The 200 response for a GET of one of the two discovery paths (exact paths, as upstream's
 * routes), or undefined for any other path.
 */
export function openIdMetadataResponse(meta: OpenIdMetadata, path: string): DiscoveryResponse | undefined {
  const cacheControl = `public, max-age=${meta.maxAgeSeconds}`;
  if (path === openIdConfigPath) return { headers: { 'content-type': jsonContentType, 'cache-control': cacheControl }, body: meta.configJson };
  if (path === jwksPath) return { headers: { 'content-type': jwksContentType, 'cache-control': cacheControl }, body: meta.keysetJson };
  return undefined;
}
