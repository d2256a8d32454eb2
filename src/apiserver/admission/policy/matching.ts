/**
 * Which requests a policy's matchConstraints, or a binding's matchResources, select, as
 * upstream's admission/plugin/policy/matching (matching.go) and generic/policy_matcher.go:
 * - namespaceSelector and objectSelector first (the webhook predicates: a cluster-scoped request
 *   always passes the namespace selector, a Namespace is judged by its own labels, an unknown
 *   namespace is NotFound); a selector that does not match skips, even when the other failed;
 * - then excludeResourceRules (a match skips); then resourceRules (none: every resource), each
 *   a webhook rule plus `resourceNames` (empty: any name; else the request's name must be
 *   listed); under matchPolicy Equivalent (the v1 default) the rules are tried again against the
 *   other versions the resource is served in, and the policy then sees that version;
 * - a selector's error counts only for a request the rules select.
 * The answer names the resource and kind the policy sees, which is the request's own unless an
 * equivalent version matched.
 */
import type { StatusError } from '../../../api/errors.ts';
import type { MatchResources, NamedRuleWithOperations } from '../../../api/index.ts';
import { compileSelector, matchNamespaceSelector, matchObjectSelector, type CompiledSelector } from '../webhook/predicates.ts';
import { ruleMatches, servedVersions, type GroupVersionKind, type GroupVersionResource, type RequestView } from '../webhook/rules.ts';

/** MatchResources with its selectors parsed once. */
export interface CompiledMatch {
  readonly namespaceSelector: CompiledSelector;
  readonly objectSelector: CompiledSelector;
  readonly resourceRules: readonly NamedRuleWithOperations[];
  readonly excludeResourceRules: readonly NamedRuleWithOperations[];
  /** matchPolicy Equivalent (absent: the v1 default, Equivalent). */
  readonly equivalent: boolean;
}

export function compileMatch(m: MatchResources): CompiledMatch {
  return {
    namespaceSelector: compileSelector(m.namespaceSelector),
    objectSelector: compileSelector(m.objectSelector),
    resourceRules: m.resourceRules ?? [],
    excludeResourceRules: m.excludeResourceRules ?? [],
    equivalent: (m.matchPolicy ?? 'Equivalent') === 'Equivalent',
  };
}

/** The resource and kind the policy sees the request as. */
export interface Matched {
  resource: GroupVersionResource;
  kind: GroupVersionKind;
}

/** What the selectors need from the API server. */
export interface MatchLookups {
  /** A namespace's labels; undefined when the namespace does not exist. */
  namespaceLabels(name: string): Record<string, string> | undefined;
}

const nameMatches = (rule: NamedRuleWithOperations, name: string) => !rule.resourceNames?.length || rule.resourceNames.includes(name);

/** Upstream matchesResourceRules: the matched resource and kind, or undefined. */
function matchRules(rules: readonly NamedRuleWithOperations[], equivalent: boolean, view: RequestView): Matched | undefined {
  const name = view.attrs.name;
  for (const r of rules) {
    if (ruleMatches(r, view) && nameMatches(r, name)) return { resource: view.resource, kind: view.kind };
  }
  if (!equivalent) return undefined;
  const def = view.attrs.def;
  const others = servedVersions(def).filter((v) => v !== view.resource.version);
  for (const r of rules) {
    for (const version of others) {
      const resource = { ...view.resource, version };
      if (!ruleMatches(r, view, { resource }) || !nameMatches(r, name)) continue;
      // A subresource of another kind (Scale, Binding) keeps its kind; the resource's own kind follows the version.
      const kind = view.kind.kind === def.kind && view.kind.group === def.group ? { group: def.group, version, kind: def.kind } : view.kind;
      return { resource, kind };
    }
  }
  return undefined;
}

/**
 * Upstream Matcher.Matches: what the policy sees the request as, undefined when it does not
 * apply, or the StatusError of a selector that could not be used for a request it applies to.
 */
export function matchResources(m: CompiledMatch, view: RequestView, lookups: MatchLookups): Matched | undefined | StatusError {
  const ns = matchNamespaceSelector(m.namespaceSelector, view, lookups);
  if (ns === false) return undefined;
  const obj = matchObjectSelector(m.objectSelector, view);
  if (obj === false) return undefined;
  if (matchRules(m.excludeResourceRules, m.equivalent, view)) return undefined;
  const matched = m.resourceRules.length === 0 ? { resource: view.resource, kind: view.kind } : matchRules(m.resourceRules, m.equivalent, view);
  if (!matched) return undefined;
  if (ns !== true) return ns;
  if (obj !== true) return obj;
  return matched;
}
