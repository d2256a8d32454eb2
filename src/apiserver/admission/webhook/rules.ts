/**
 * Which requests a webhook's rules select, as upstream's admission/plugin/webhook/predicates/rules
 * and the rule part of generic/webhook.go ShouldCallHook:
 * - a rule matches when scope, operation, group, version and resource all match. `*` matches any
 *   operation, group or version; a resource entry is `pods` (the main resource only),
 *   `pods/status`, `pods/<star>`, `<star>` (every main resource), `<star>/status` or
 *   `<star>/<star>`, where <star> is `*`. Scope `Namespaced` takes requests with a
 *   namespace (never the Namespace object itself), `Cluster` the others and Namespaces, `*` all.
 * - matchPolicy Equivalent (the v1 default): when no rule matches the request's version, the
 *   rules are tried again, in order, against each other version the same resource is served in;
 *   the first match sends the webhook that version (and its kind). Exact never does.
 * - webhook and policy configurations themselves are exempt (upstream
 *   IsExemptAdmissionConfigurationResource), so a broken webhook cannot lock them.
 *
 * Bosun's equivalents are the versions one ResourceDef serves (its storage version and
 * `otherVersions`); upstream also counts the same resource in another group sharing its storage
 * (events.k8s.io Events), which this does not.
 */
import type { RuleWithOperations } from '../../../api/index.ts';
import type { ResourceDef } from '../../../api/resource.ts';
import type { AdmissionAttributes } from '../types.ts';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** The request as the matchers see it (upstream admission.Attributes), computed once per dispatch. */
export interface RequestView {
  attrs: AdmissionAttributes;
  resource: GroupVersionResource;
  subresource: string;
  kind: GroupVersionKind;
  /**
   * Upstream's attr.GetNamespace(): the request's namespace, or for the Namespace object itself
   * its own name (except on CREATE, whose URL carries none).
   */
  namespace: string;
  /** The request is for a core/v1 Namespace (namespaces or one of its subresources). */
  isNamespace: boolean;
}

/** What a matching webhook is sent: the resource and kind in the version its rules chose. */
export interface Invocation {
  resource: GroupVersionResource;
  subresource: string;
  kind: GroupVersionKind;
}

function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/**
 * The matchers' view of `attrs`. The kind is the resource's own in the request's version, except
 * for a subresource whose object is another kind (pods/binding sends a Binding, pods/eviction an
 * Eviction, a connect request its options object): then the object's own apiVersion and kind.
 */
export function requestView(attrs: AdmissionAttributes): RequestView {
  const def = attrs.def;
  const isNamespace = def.group === '' && def.plural === 'namespaces';
  let kind: GroupVersionKind = { group: def.group, version: attrs.version, kind: def.kind };
  const obj = attrs.object;
  if (attrs.subresource && obj && typeof obj.kind === 'string' && obj.kind !== def.kind && typeof obj.apiVersion === 'string') {
    kind = { ...parseApiVersion(obj.apiVersion), kind: obj.kind };
  }
  let namespace = attrs.namespace;
  if (isNamespace && !namespace && attrs.operation !== 'CREATE') namespace = attrs.name;
  return {
    attrs,
    resource: { group: def.group, version: attrs.version, resource: def.plural },
    subresource: attrs.subresource,
    kind,
    namespace,
    isNamespace,
  };
}

const exemptKinds = new Set([
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
]);

/** Webhooks are never called for admission configuration objects. */
export function isExempt(def: ResourceDef): boolean {
  return def.group === 'admissionregistration.k8s.io' && exemptKinds.has(def.kind);
}

const exactOrWildcard = (items: readonly string[] | undefined, want: string) => items !== undefined && items.some((i) => i === '*' || i === want);

function scopeMatches(scope: string | undefined, view: RequestView): boolean {
  if (scope === undefined || scope === '*') return true;
  if (scope === 'Namespaced') return !view.isNamespace && view.namespace !== '';
  if (scope === 'Cluster') return view.isNamespace || view.namespace === '';
  return false;
}

function resourceMatches(resources: readonly string[] | undefined, resource: string, subresource: string): boolean {
  for (const r of resources ?? []) {
    const i = r.indexOf('/');
    const res = i < 0 ? r : r.slice(0, i);
    const sub = i < 0 ? '' : r.slice(i + 1);
    if ((res === '*' || res === resource) && (sub === '*' || sub === subresource)) return true;
  }
  return false;
}

/** Whether one rule selects the request, taken as being for `opts.resource` (default the request's own; or an equivalent). */
export function ruleMatches(rule: RuleWithOperations, view: RequestView, opts: { resource?: GroupVersionResource } = {}): boolean {
  const gvr = opts.resource ?? view.resource;
  return (
    scopeMatches(rule.scope, view) &&
    exactOrWildcard(rule.operations, view.attrs.operation) &&
    exactOrWildcard(rule.apiGroups, gvr.group) &&
    exactOrWildcard(rule.apiVersions, gvr.version) &&
    resourceMatches(rule.resources, gvr.resource, view.subresource)
  );
}

/** The versions the request's resource is served in, storage version first. */
export function servedVersions(def: ResourceDef): string[] {
  const out = [def.version];
  for (const v of def.otherVersions ?? []) if (!out.includes(v.version)) out.push(v.version);
  return out;
}

/**
 * What the webhook is to be sent, or undefined when no rule selects the request. `equivalent`
 * is matchPolicy Equivalent.
 */
export function matchRules(view: RequestView, hook: { rules: readonly RuleWithOperations[]; equivalent: boolean }): Invocation | undefined {
  const { rules, equivalent } = hook;
  for (const r of rules) {
    if (ruleMatches(r, view)) return { resource: view.resource, subresource: view.subresource, kind: view.kind };
  }
  if (!equivalent) return undefined;
  const def = view.attrs.def;
  const others = servedVersions(def).filter((v) => v !== view.resource.version);
  if (others.length === 0) return undefined;
  for (const r of rules) {
    for (const version of others) {
      const gvr = { ...view.resource, version };
      if (!ruleMatches(r, view, { resource: gvr })) continue;
      // A subresource of another kind (Scale, Binding) keeps its own kind; the resource's kind follows the version.
      const kind = view.kind.kind === def.kind ? { group: def.group, version, kind: def.kind } : view.kind;
      return { resource: gvr, subresource: view.subresource, kind };
    }
  }
  return undefined;
}
