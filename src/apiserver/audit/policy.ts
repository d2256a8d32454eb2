/**
 * The audit policy (audit.k8s.io/v1 Policy, --audit-policy-file): parsing and validation as
 * upstream's policy reader and apis/audit/validation do, and the rule evaluation of
 * audit/policy/checker.go: rules are tried in order, the first whose users, userGroups, verbs,
 * namespaces, resources (`pods`, `pods/log`, `*`, `*\/status`, `pods/*`, resourceNames) or
 * nonResourceURLs (exact, `*`, or a `/prefix*`) all match decides the level; no match is None.
 * A rule's omitStages are the union of its own and the policy's; omitManagedFields on a rule
 * overrides the policy's.
 *
 * Decoding is lenient like upstream's (unknown fields are ignored); wrong types, an unknown
 * apiVersion or kind, field errors and a policy without rules are start-up errors
 * (ERR_INVALID_CONFIG) with upstream's wording where it has one. Evaluation allocates nothing:
 * each rule is compiled once into sets and a frozen result.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { BosunError } from '../../util/errors.ts';
import { isDNS1123Subdomain } from '../../api/validation.ts';
import { isJsonObject } from '../../util/json.ts';

export const auditLevels = ['None', 'Metadata', 'Request', 'RequestResponse'] as const;
export type Level = (typeof auditLevels)[number];

export const auditStages = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] as const;
export type Stage = (typeof auditStages)[number];

export interface GroupResources {
  group?: string;
  resources?: string[];
  resourceNames?: string[];
}

export interface PolicyRule {
  level: Level;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
  omitStages?: Stage[];
  omitManagedFields?: boolean;
}

export interface Policy {
  apiVersion: 'audit.k8s.io/v1';
  kind: 'Policy';
  metadata?: Record<string, unknown>;
  rules: PolicyRule[];
  omitStages?: Stage[];
  omitManagedFields?: boolean;
}

/**
 * What a rule is matched against: the authorizer attributes of the request (the authenticated
 * user, before impersonation). authz's AuthorizationAttributes fits as is.
 */
export interface PolicyAttributes {
  user?: { username: string; groups: readonly string[] };
  verb: string;
  isResourceRequest: boolean;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

/** The policy's answer for one request (upstream RequestAuditConfig with its level). */
export interface RequestAuditConfig {
  readonly level: Level;
  readonly omitStages: readonly Stage[];
  readonly omitManagedFields: boolean;
}

export interface PolicyChecker {
  /** The level and stages for a request: the first matching rule's, else None. Never throws. */
  policyFor(attrs: PolicyAttributes): RequestAuditConfig;
}

/** Whether level `a` records at least as much as `b` (upstream Level.GreaterOrEqual). */
export function levelAtLeast(a: Level, b: Level): boolean {
  return auditLevels.indexOf(a) >= auditLevels.indexOf(b);
}

// ---- loading -------------------------------------------------------------------------------

/** Reads and parses a policy file; errors name the file as upstream's LoadPolicyFromFile does. */
export function loadPolicyFile(file: string): Policy {
  if (!file) throw configError('file path not specified');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError(`failed to read file path ${JSON.stringify(file)}: ${(err as Error).message}`);
  }
  try {
    return parsePolicy(text);
  } catch (err) {
    throw configError(`${(err as Error).message}: from file ${file}`);
  }
}

/**
 * Parses an audit.k8s.io/v1 Policy from YAML or JSON and validates it. Throws a BosunError
 * (ERR_INVALID_CONFIG) whose message is upstream's: `failed decoding: ...`, the aggregated
 * field errors (`rules[0].level: Required value`), or `loaded illegal policy with 0 rules`.
 */
export function parsePolicy(text: string): Policy {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw configError(`failed decoding: ${(err as Error).message}`);
  }
  const policy = decodePolicy(doc);
  const errs = validatePolicy(policy);
  if (errs.length) throw configError(errs.length === 1 ? errs[0]! : `[${errs.join(', ')}]`);
  if (!policy.rules.length) throw configError('loaded illegal policy with 0 rules');
  return policy;
}

function configError(message: string): BosunError {
  return new BosunError('ERR_INVALID_CONFIG', message);
}

/** Type checks of the decoder (not strict: unknown fields are dropped). */
function decodePolicy(doc: unknown): Policy {
  const fail = (msg: string) => configError(`failed decoding: ${msg}`);
  if (!isJsonObject(doc)) throw fail(`couldn't get version/kind; json parse error: cannot unmarshal ${goKind(doc)} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`);
  const kind = doc['kind'];
  const apiVersion = doc['apiVersion'];
  if (typeof kind !== 'string' || !kind) throw fail("Object 'Kind' is missing in policy");
  if (typeof apiVersion !== 'string' || !apiVersion) throw fail("Object 'apiVersion' is missing in policy");
  if (apiVersion !== 'audit.k8s.io/v1' || kind !== 'Policy') {
    throw fail(`no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)} (want apiVersion audit.k8s.io/v1, kind Policy)`);
  }
  const out: Policy = { apiVersion, kind, rules: [] };
  const rules = doc['rules'];
  if (rules !== undefined && rules !== null) {
    if (!Array.isArray(rules)) throw fail(typeError('Policy.rules', rules, '[]v1.PolicyRule'));
    out.rules = rules.map((r, i) => decodeRule(r, `Policy.rules[${i}]`, fail));
  }
  const omit = stringList(doc['omitStages'], 'Policy.omitStages', fail);
  if (omit) out.omitStages = omit as Stage[];
  const omf = doc['omitManagedFields'];
  if (omf !== undefined && omf !== null) {
    if (typeof omf !== 'boolean') throw fail(typeError('Policy.omitManagedFields', omf, 'bool'));
    out.omitManagedFields = omf;
  }
  return out;
}

function decodeRule(r: unknown, where: string, fail: (m: string) => BosunError): PolicyRule {
  if (!isJsonObject(r)) throw fail(typeError(where, r, 'v1.PolicyRule'));
  const level = r['level'];
  if (level !== undefined && level !== null && typeof level !== 'string') throw fail(typeError(`${where}.level`, level, 'v1.Level'));
  const rule: PolicyRule = { level: (level ?? '') as Level };
  for (const f of ['users', 'userGroups', 'verbs', 'namespaces', 'nonResourceURLs', 'omitStages'] as const) {
    const v = stringList(r[f], `${where}.${f}`, fail);
    if (v) (rule as unknown as Record<string, string[]>)[f] = v;
  }
  const res = r['resources'];
  if (res !== undefined && res !== null) {
    if (!Array.isArray(res)) throw fail(typeError(`${where}.resources`, res, '[]v1.GroupResources'));
    rule.resources = res.map((g, j) => {
      const at = `${where}.resources[${j}]`;
      if (!isJsonObject(g)) throw fail(typeError(at, g, 'v1.GroupResources'));
      const out: GroupResources = {};
      const group = g['group'];
      if (group !== undefined && group !== null) {
        if (typeof group !== 'string') throw fail(typeError(`${at}.group`, group, 'string'));
        out.group = group;
      }
      const rs = stringList(g['resources'], `${at}.resources`, fail);
      if (rs) out.resources = rs;
      const names = stringList(g['resourceNames'], `${at}.resourceNames`, fail);
      if (names) out.resourceNames = names;
      return out;
    });
  }
  const omf = r['omitManagedFields'];
  if (omf !== undefined && omf !== null) {
    if (typeof omf !== 'boolean') throw fail(typeError(`${where}.omitManagedFields`, omf, 'bool'));
    rule.omitManagedFields = omf;
  }
  return rule;
}

function stringList(v: unknown, where: string, fail: (m: string) => BosunError): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw fail(typeError(where, v, '[]string'));
  for (const [i, s] of v.entries()) if (typeof s !== 'string') throw fail(typeError(`${where}[${i}]`, s, 'string'));
  return v as string[];
}

function typeError(where: string, v: unknown, goType: string): string {
  return `json: cannot unmarshal ${goKind(v)} into Go struct field ${where} of type ${goType}`;
}

function goKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

// ---- validation (apis/audit/validation) ----------------------------------------------------

/** Go's %#v of a []string, as field.Invalid prints a list value. */
function goStrings(v: readonly string[]): string {
  return `[]string{${v.map((s) => JSON.stringify(s)).join(', ')}}`;
}

/** The policy's field errors as upstream's field.Error strings, in upstream's order. */
export function validatePolicy(p: Policy): string[] {
  const errs: string[] = [];
  validateOmitStages(p.omitStages, 'omitStages', errs);
  for (const [i, rule] of p.rules.entries()) {
    const at = `rules[${i}]`;
    validateLevel(rule.level, `${at}.level`, errs);
    for (const [j, url] of (rule.nonResourceURLs ?? []).entries()) {
      if (url === '*') continue;
      const f = `${at}.nonResourceURLs[${j}]`;
      if (!url.startsWith('/')) errs.push(`${f}: Invalid value: ${JSON.stringify(url)}: non-resource URL rules must begin with a '/' character`);
      if (url !== '' && url.slice(0, -1).includes('*')) {
        errs.push(`${f}: Invalid value: ${JSON.stringify(url)}: non-resource URL wildcards '*' must be the final character of the rule`);
      }
    }
    for (const gr of rule.resources ?? []) {
      if (gr.group) {
        const msgs = isDNS1123Subdomain(gr.group);
        if (msgs.length) errs.push(`${at}.resources.group: Invalid value: ${JSON.stringify(gr.group)}: ${msgs.join(',')}`);
      }
      if (gr.resourceNames?.length && !gr.resources?.length) {
        errs.push(`${at}.resources.resourceNames: Invalid value: ${goStrings(gr.resourceNames)}: using resourceNames requires at least one resource`);
      }
    }
    validateOmitStages(rule.omitStages, `${at}.omitStages`, errs);
    if (rule.nonResourceURLs?.length && (rule.resources?.length || rule.namespaces?.length)) {
      errs.push(`${at}.nonResourceURLs: Invalid value: ${goStrings(rule.nonResourceURLs)}: rules cannot apply to both regular resources and non-resource URLs`);
    }
  }
  return errs;
}

function validateLevel(level: string, field: string, errs: string[]): void {
  if ((auditLevels as readonly string[]).includes(level)) return;
  if (level === '') errs.push(`${field}: Required value`);
  else errs.push(`${field}: Unsupported value: ${JSON.stringify(level)}: supported values: ${auditLevels.map((l) => JSON.stringify(l)).join(', ')}`);
}

function validateOmitStages(stages: readonly string[] | undefined, field: string, errs: string[]): void {
  for (const [i, s] of (stages ?? []).entries()) {
    if (!(auditStages as readonly string[]).includes(s)) {
      errs.push(`${field}[${i}]: Invalid value: ${JSON.stringify(s)}: allowed stages are ${auditStages.join(',')}`);
    }
  }
}

// ---- evaluation (audit/policy/checker.go) --------------------------------------------------

interface CompiledGroup {
  group: string;
  /** Empty: every resource of the group. */
  resources: readonly string[];
  /** null: any name. */
  names: ReadonlySet<string> | null;
}

interface CompiledRule {
  users: ReadonlySet<string> | null;
  groups: ReadonlySet<string> | null;
  verbs: ReadonlySet<string> | null;
  namespaces: ReadonlySet<string> | null;
  resources: readonly CompiledGroup[] | null;
  urls: readonly string[] | null;
  result: RequestAuditConfig;
}

const setOf = (v: readonly string[] | undefined): ReadonlySet<string> | null => (v?.length ? new Set(v) : null);

/** Compiles a (validated) policy into a checker. */
export function newPolicyChecker(policy: Policy): PolicyChecker {
  const policyStages = [...new Set(policy.omitStages ?? [])];
  const policyOmitManaged = policy.omitManagedFields ?? false;
  const rules: CompiledRule[] = policy.rules.map((r) => ({
    users: setOf(r.users),
    groups: setOf(r.userGroups),
    verbs: setOf(r.verbs),
    namespaces: setOf(r.namespaces),
    resources: r.resources?.length
      ? r.resources.map((g) => ({ group: g.group ?? '', resources: g.resources ?? [], names: setOf(g.resourceNames) }))
      : null,
    urls: r.nonResourceURLs?.length ? r.nonResourceURLs : null,
    result: Object.freeze({
      level: r.level,
      omitStages: Object.freeze([...new Set([...policyStages, ...(r.omitStages ?? [])])]),
      omitManagedFields: r.omitManagedFields ?? policyOmitManaged,
    }),
  }));
  const none: RequestAuditConfig = Object.freeze({ level: 'None', omitStages: Object.freeze(policyStages), omitManagedFields: policyOmitManaged });
  return {
    policyFor(attrs) {
      for (const r of rules) if (ruleMatches(r, attrs)) return r.result;
      return none;
    },
  };
}

function ruleMatches(r: CompiledRule, a: PolicyAttributes): boolean {
  if (r.users && (!a.user || !r.users.has(a.user.username))) return false;
  if (r.groups && (!a.user || !a.user.groups.some((g) => r.groups!.has(g)))) return false;
  if (r.verbs && !r.verbs.has(a.verb)) return false;
  if (r.namespaces || r.resources) return resourceMatches(r, a);
  if (r.urls) return !a.isResourceRequest && r.urls.some((spec) => pathMatches(a.path, spec));
  return true;
}

function pathMatches(path: string, spec: string): boolean {
  if (spec === '*' || spec === path) return true;
  return spec.endsWith('*') && path.startsWith(spec.replace(/\*+$/, ''));
}

function resourceMatches(r: CompiledRule, a: PolicyAttributes): boolean {
  if (!a.isResourceRequest) return false;
  // Cluster-scoped resources have the namespace "".
  if (r.namespaces && !r.namespaces.has(a.namespace)) return false;
  if (!r.resources) return true;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  for (const g of r.resources) {
    if (g.group !== a.apiGroup) continue;
    if (!g.resources.length) return true;
    if (g.names && !g.names.has(a.name)) continue;
    for (const res of g.resources) {
      if (res === '*' || res === combined) return true;
      if (a.subresource && res.startsWith('*/') && res.slice(2) === a.subresource) return true;
      if (res.endsWith('/*') && res.slice(0, -2) === a.resource) return true;
    }
  }
  return false;
}
