/**
 * kube-apiserver's service-account flags turned into one config, with upstream's checks and
 * messages (pkg/kubeapiserver/options/authentication.go, cmd/kube-apiserver options):
 *
 * - --service-account-issuer (repeatable; the first signs, all are accepted). Bosun's default is
 *   k3s's `https://kubernetes.default.svc.<cluster domain>`. Empty, duplicate, or `:`-holding
 *   values that are no URL are refused.
 * - --api-audiences: default the issuers (upstream's).
 * - --service-account-signing-key-file: default Bosun's generated `<keyDir>/service-account.key`
 *   (keys.ts); --service-account-key-file (repeatable): the verification keys, default the
 *   signing key's public half.
 * - --service-account-max-token-expiration: 0 = none, else 1 hour to 2^32 seconds.
 * - --service-account-jwks-uri: the discovery document's jwks_uri (must be https; checked by
 *   discovery.ts).
 *
 * Errors are BosunError ERR_INVALID_CONFIG: the CLI reports them at start-up.
 */
import { BosunError } from '../../util/errors.ts';
import { keySet, loadOrCreateSigningKey, readPublicKeysFile, readSigningKeyFile, type KeySet, type SigningKey, type VerificationKey } from './keys.ts';

export const defaultClusterDomain = 'cluster.local';

/** k3s's default issuer for a cluster domain. */
export function defaultServiceAccountIssuer(clusterDomain = defaultClusterDomain): string {
  return `https://kubernetes.default.svc.${clusterDomain}`;
}

/** The flags as given (absent = not given). */
export interface ServiceAccountFlags {
  issuers?: readonly string[];
  apiAudiences?: readonly string[];
  signingKeyFile?: string;
  keyFiles?: readonly string[];
  /** Seconds. */
  maxTokenExpirationSeconds?: number;
  jwksUri?: string;
}

export interface ServiceAccountConfig {
  issuers: string[];
  apiAudiences: string[];
  signingKey: SigningKey;
  /** Every verification key. */
  publicKeys: VerificationKey[];
  keys: KeySet;
  /** 0 = no limit. */
  maxExpirationSeconds: number;
  jwksUri?: string;
}

/** Whether a `:`-holding issuer parses as a URL the way Go's url.Parse would accept it. */
function parsesAsUrl(s: string): boolean {
  if (/[\x00-\x1f\x7f]/.test(s) || s.startsWith(':')) return false;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(s);
  if (!m) {
    // No scheme: Go refuses a colon in the first path segment.
    const slash = s.indexOf('/');
    return slash >= 0 && slash < s.indexOf(':');
  }
  if (!m[2]!.startsWith('//')) return true;
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

/** Upstream's checks of the flags; each message as kube-apiserver prints it. Empty = valid. */
export function validateServiceAccountFlags(flags: ServiceAccountFlags): string[] {
  const errs: string[] = [];
  const seen = new Set<string>();
  for (const issuer of flags.issuers ?? []) {
    if (issuer.includes(':') && !parsesAsUrl(issuer)) {
      errs.push(`service-account-issuer ${JSON.stringify(issuer)} contained a ':' but was not a valid URL`);
      continue;
    }
    if (issuer === '') {
      errs.push('service-account-issuer should not be an empty string');
      continue;
    }
    if (seen.has(issuer)) {
      errs.push(`service-account-issuer ${JSON.stringify(issuer)} is already specified`);
      continue;
    }
    seen.add(issuer);
  }
  const max = flags.maxTokenExpirationSeconds ?? 0;
  if (max !== 0 && (max < 3600 || max > 2 ** 32)) errs.push('the service-account-max-token-expiration must be between 1 hour and 2^32 seconds');
  return errs;
}

/**
 * The service-account config: flags checked, defaults applied, keys read (or the default
 * signing key created in `keyDir`). Throws ERR_INVALID_CONFIG with every flag error, or the
 * first key file error.
 */
export async function loadServiceAccountConfig(flags: ServiceAccountFlags, opts: { keyDir: string; clusterDomain?: string }): Promise<ServiceAccountConfig> {
  const errs = validateServiceAccountFlags(flags);
  if (errs.length) throw new BosunError('ERR_INVALID_CONFIG', errs.join('; '));
  const issuers = flags.issuers?.length ? [...flags.issuers] : [defaultServiceAccountIssuer(opts.clusterDomain)];
  const apiAudiences = flags.apiAudiences?.length ? [...flags.apiAudiences] : [...issuers];
  let signingKey: SigningKey;
  let publicKeys: VerificationKey[];
  try {
    signingKey = flags.signingKeyFile ? await readSigningKeyFile(flags.signingKeyFile) : await loadOrCreateSigningKey(opts.keyDir);
    publicKeys = flags.keyFiles?.length ? (await Promise.all(flags.keyFiles.map(readPublicKeysFile))).flat() : [{ kid: signingKey.kid, alg: signingKey.alg, key: signingKey.key }];
  } catch (err) {
    throw new BosunError('ERR_INVALID_CONFIG', (err as Error).message, { cause: err });
  }
  const config: ServiceAccountConfig = {
    issuers,
    apiAudiences,
    signingKey,
    publicKeys,
    keys: keySet(publicKeys),
    maxExpirationSeconds: flags.maxTokenExpirationSeconds ?? 0,
  };
  if (flags.jwksUri) config.jwksUri = flags.jwksUri;
  return config;
}
