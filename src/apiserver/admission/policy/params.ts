/**
 * A binding's params, as upstream's generic/policy_dispatcher.go CollectParams and the param
 * informers of generic/policy_source.go:
 * - a policy without paramKind, or a binding without paramRef, is evaluated once with
 *   `params` null;
 * - a paramKind no served resource has is the policy's configuration error `failed to find
 *   resource referenced by paramKind: '<group>/<version>, Kind=<kind>'`;
 * - paramRef.name picks that object, paramRef.selector every object its labels select, in the
 *   paramRef's namespace or else the request's; for a cluster-scoped request and a namespaced
 *   param kind, and for a namespace given with a cluster-scoped one, the binding is misconfigured
 *   (upstream's messages);
 * - no param found: with parameterNotFoundAction Deny (the v1 default) the binding's
 *   configuration error `no params found for policy binding with \`Deny\` parameterNotFoundAction`;
 *   with Allow the binding is not evaluated.
 * `paramsFromRegistry` builds the lookup over the API server's resource declarations and caches.
 */
import type { LabelSelector, ParamKind, ParamRef } from '../../../api/index.ts';
import type { ResourceDef } from '../../../api/resource.ts';
import { labelSelectorFromObject } from '../../../api/selectors.ts';
import type { KubeObject } from '../../../api/types.ts';

/** What the plugin asks for: a binding's paramRef for the policy's paramKind. */
export interface ParamQuery {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name?: string;
  selector?: LabelSelector;
}

/**
 * Resolves a paramRef: the objects it names (in the paramKind's version), or undefined when no
 * served resource has that kind. Throws an Error whose message is upstream's reason when the
 * paramRef cannot be used (scope mismatches, a bad selector).
 */
export type ParamsLookup = (ref: ParamQuery, requestNamespace: string) => readonly KubeObject[] | undefined;

export type CollectedParams =
  | { params: readonly (KubeObject | null)[]; error?: undefined; policyError?: undefined }
  | { error: string; params?: undefined; policyError?: undefined }
  | { policyError: string; params?: undefined; error?: undefined };

function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** Go's schema.GroupVersionKind String(): `group/version, Kind=kind`. */
export function gvkString(paramKind: ParamKind): string {
  const { group, version } = parseApiVersion(paramKind.apiVersion ?? '');
  return `${group}/${version}, Kind=${paramKind.kind ?? ''}`;
}

/** The params to evaluate a binding with (see the file comment). */
export function collectParams(paramKind: ParamKind | undefined, paramRef: ParamRef | undefined, opts: { requestNamespace: string; lookup: ParamsLookup }): CollectedParams {
  if (!paramKind || !paramRef) return { params: [null] };
  const query: ParamQuery = { apiVersion: paramKind.apiVersion ?? '', kind: paramKind.kind ?? '' };
  if (paramRef.namespace) query.namespace = paramRef.namespace;
  if (paramRef.name) query.name = paramRef.name;
  if (paramRef.selector) query.selector = paramRef.selector;
  let found: readonly KubeObject[] | undefined;
  try {
    found = opts.lookup(query, opts.requestNamespace);
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
  if (found === undefined) return { policyError: `failed to find resource referenced by paramKind: '${gvkString(paramKind)}'` };
  if (found.length === 0) {
    if ((paramRef.parameterNotFoundAction ?? 'Deny') === 'Deny') return { error: 'no params found for policy binding with `Deny` parameterNotFoundAction' };
    return { params: [] };
  }
  return { params: found };
}

/** One param kind as the registry serves it. */
export interface ParamSource {
  namespaced: boolean;
  /** The objects in `namespace` (every namespace's when undefined). */
  list(namespace: string | undefined): readonly KubeObject[];
  /** Makes a listed object one of the requested version (when listing gives another). */
  convert?(obj: KubeObject): KubeObject;
}

/**
 * Upstream's lister logic over a resolver of param kinds: the namespace to look in, name or
 * selector, and upstream's errors.
 */
export function paramsLookup(resolve: (apiVersion: string, kind: string) => ParamSource | undefined): ParamsLookup {
  return (ref, requestNamespace) => {
    const src = resolve(ref.apiVersion, ref.kind);
    if (!src) return undefined;
    let namespace: string | undefined;
    if (src.namespaced) {
      namespace = ref.namespace || requestNamespace;
      if (!namespace) throw new Error('cannot use namespaced paramRef in policy binding that matches cluster-scoped resources');
    } else if (ref.namespace) {
      throw new Error('paramRef.namespace must not be provided for a cluster-scoped `paramKind`');
    }
    let found: KubeObject[];
    if (ref.name) {
      if (ref.selector) throw new Error('paramRef.name and paramRef.selector are mutually exclusive');
      found = src.list(namespace).filter((o) => o.metadata?.name === ref.name);
    } else if (ref.selector) {
      const sel = labelSelectorFromObject(ref.selector);
      found = src.list(namespace).filter((o) => sel.matches(o.metadata?.labels ?? {}));
    } else {
      throw new Error('one of name or selector must be provided');
    }
    const convert = src.convert;
    return convert ? found.map((o) => convert(o)) : found;
  };
}

/** What `paramsFromRegistry` reads: the resource declarations and their cached objects. */
export interface ParamRegistry {
  /** The declaration whose storage kind is `kind` in `group` (the API server registry's byKind). */
  byKind(group: string, kind: string): ResourceDef | undefined;
  /** The cached objects of a resource, in its storage version: one namespace's, or all. */
  list(def: ResourceDef, namespace: string | undefined): readonly KubeObject[];
}

/** A ParamsLookup over the registry: a kind must be served in the paramKind's version; objects are converted to it. */
export function paramsFromRegistry(registry: ParamRegistry): ParamsLookup {
  return paramsLookup((apiVersion, kind) => {
    const { group, version } = parseApiVersion(apiVersion);
    const def = registry.byKind(group, kind);
    if (!def) return undefined;
    const served = version === def.version ? undefined : def.otherVersions?.find((v) => v.version === version);
    if (version !== def.version && !served) return undefined;
    const src: ParamSource = { namespaced: def.namespaced, list: (ns) => registry.list(def, ns) };
    if (served) src.convert = (o) => served.fromStorage(o);
    return src;
  });
}
