/**
 * The PodSecurity plugin's configuration, as upstream's PodSecurityConfiguration
 * (pod-security.admission.config.k8s.io/v1; the `defaults` keys are upstream's JSON keys, so a
 * parsed admission configuration file can be passed as is): default levels and versions
 * (privileged and latest when unset), and exempt usernames, namespaces and runtime classes.
 * `resolveConfig` applies upstream's defaulting and validation once, at plugin construction,
 * and throws an Error listing upstream's field errors for an invalid configuration.
 */
import type { StatusCause } from '../../../api/types.ts';
import { duplicate, invalidValue, isDNS1123Label, isDNS1123Subdomain } from '../../../api/validation.ts';
import { aggregateErrorString, parseLevel, parseVersion, type LevelVersion, type Policy } from './levels.ts';

export interface PodSecurityDefaults {
  enforce?: string;
  'enforce-version'?: string;
  audit?: string;
  'audit-version'?: string;
  warn?: string;
  'warn-version'?: string;
}

export interface PodSecurityExemptions {
  usernames?: readonly string[];
  namespaces?: readonly string[];
  runtimeClasses?: readonly string[];
}

export interface PodSecurityConfiguration {
  apiVersion?: string;
  kind?: string;
  defaults?: PodSecurityDefaults;
  exemptions?: PodSecurityExemptions;
}

/** The configuration after defaulting and validation. */
export interface ResolvedConfig {
  defaults: Policy;
  exemptUsernames: ReadonlySet<string>;
  exemptNamespaces: ReadonlySet<string>;
  exemptRuntimeClasses: ReadonlySet<string>;
}

function uniqueNames(field: string, names: readonly string[] | undefined, check: (s: string) => string[], errs: StatusCause[]): Set<string> {
  const seen = new Set<string>();
  (names ?? []).forEach((n, i) => {
    const msgs = check(n);
    if (msgs.length) errs.push(invalidValue(`${field}[${i}]`, n, msgs.join(', ')));
    else if (seen.has(n)) errs.push(duplicate(`${field}[${i}]`, n));
    else seen.add(n);
  });
  return seen;
}

/** Defaults and validates `config` (absent: everything privileged, nothing exempt). */
export function resolveConfig(config: PodSecurityConfiguration = {}): ResolvedConfig {
  const d = config.defaults ?? {};
  const errs: StatusCause[] = [];
  const mode = (levelKey: 'enforce' | 'audit' | 'warn'): LevelVersion => {
    const levelValue = d[levelKey] || 'privileged';
    const versionKey = `${levelKey}-version` as const;
    const versionValue = d[versionKey] || 'latest';
    const l = parseLevel(levelValue);
    if (l.error) errs.push(invalidValue(`defaults.${levelKey}`, levelValue, l.error));
    const v = parseVersion(versionValue);
    if (v.error) errs.push(invalidValue(`defaults.${versionKey}`, versionValue, v.error));
    return { level: l.level, version: v.version };
  };
  const defaults: Policy = { enforce: mode('enforce'), warn: mode('warn'), audit: mode('audit') };
  const ex = config.exemptions ?? {};
  const exemptNamespaces = uniqueNames('exemptions.namespaces', ex.namespaces, isDNS1123Label, errs);
  const exemptRuntimeClasses = uniqueNames('exemptions.runtimeClasses', ex.runtimeClasses, isDNS1123Subdomain, errs);
  const exemptUsernames = uniqueNames('exemptions.usernames', ex.usernames, (u) => (u ? [] : ['username must not be empty']), errs);
  if (errs.length) throw new Error(`PodSecurity invalid: ${aggregateErrorString(errs)}`);
  return { defaults, exemptUsernames, exemptNamespaces, exemptRuntimeClasses };
}
