/**
 * One admission request as the policies see it, made once and shared by every policy and
 * binding (upstream's versioned attributes, CreateAdmissionRequest, CreateNamespaceObject and the
 * caching authorizer of one dispatch):
 * - `object` and `oldObject` in the version a policy matched (Bosun keeps the storage version
 *   in attrs; another served version of the resource's own kind is made with the ResourceDef's
 *   conversion), in CEL form, made when first needed;
 * - `request`: the AdmissionRequest without uid and objects, its kind and resource the matched
 *   ones, requestKind and requestResource the request's own;
 * - `namespaceObject`: for a namespaced request (not a Namespace itself) its Namespace, with
 *   only name, generateName, namespace, uid, resourceVersion, generation, timestamps, labels,
 *   annotations, finalizers, spec and status, as upstream exposes it; an unknown namespace is
 *   NotFound (`namespaces "x" not found`), which refuses the request;
 * - the authorizer's session and `authorizer` value, when the plugin has an authorizer.
 */
import { notFound } from '../../../api/errors.ts';
import type { KubeObject } from '../../../api/types.ts';
import { toCel } from '../webhook/matchconditions.ts';
import { requestFields } from '../webhook/review.ts';
import type { GroupVersionKind, RequestView } from '../webhook/rules.ts';
import type { AuthzSession } from './engine.ts';
import type { AuthorizeFn } from './lib/authz.ts';
import type { Matched } from './matching.ts';

type EngineModule = typeof import('./engine.ts');

const namespaceMetaFields = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'finalizers'] as const;

/** Upstream CreateNamespaceObject: the Namespace fields policies may read. */
export function namespaceObjectFor(ns: KubeObject): Record<string, unknown> {
  const md = (ns.metadata ?? {}) as Record<string, unknown>;
  const metadata: Record<string, unknown> = {};
  for (const f of namespaceMetaFields) if (md[f] !== undefined && md[f] !== null) metadata[f] = md[f];
  return { metadata, spec: ns['spec'] ?? {}, status: ns['status'] ?? {} };
}

export class RequestState {
  readonly view: RequestView;
  readonly #namespace: (name: string) => KubeObject | undefined;
  readonly #authorize: AuthorizeFn | undefined;
  readonly #versions = new Map<string, { object: unknown; oldObject: unknown }>();
  readonly #requests = new Map<string, unknown>();
  #namespaceObject: unknown;
  #session: AuthzSession | undefined;
  #authorizer: unknown;

  constructor(view: RequestView, opts: { namespace(name: string): KubeObject | undefined; authorize?: AuthorizeFn }) {
    this.view = view;
    this.#namespace = opts.namespace;
    this.#authorize = opts.authorize;
  }

  /** The objects in `kind`'s version, in CEL form. */
  objects(kind: GroupVersionKind): { object: unknown; oldObject: unknown } {
    const key = `${kind.group}/${kind.version}/${kind.kind}`;
    let v = this.#versions.get(key);
    if (v) return v;
    const { attrs } = this.view;
    const def = attrs.def;
    const convertible = kind.kind === def.kind && kind.group === def.group && kind.version !== def.version;
    const served = convertible ? def.otherVersions?.find((s) => s.version === kind.version) : undefined;
    const conv = (o: KubeObject | undefined) => (o && served ? served.fromStorage(o) : o);
    v = { object: toCel(conv(attrs.object) ?? null), oldObject: toCel(conv(attrs.oldObject) ?? null) };
    this.#versions.set(key, v);
    return v;
  }

  /** The `request` variable for a policy that matched as `m`. */
  request(m: Matched): unknown {
    const key = `${m.resource.group}/${m.resource.version}/${m.resource.resource}/${m.kind.kind}`;
    let r = this.#requests.get(key);
    if (r === undefined) {
      r = toCel(requestFields(this.view, { resource: m.resource, subresource: this.view.subresource, kind: m.kind }));
      this.#requests.set(key, r);
    }
    return r;
  }

  /** The `namespaceObject` variable (null for cluster-scoped requests); throws NotFound for an unknown namespace. */
  namespaceObject(): unknown {
    if (this.#namespaceObject !== undefined) return this.#namespaceObject;
    const v = this.view;
    const name = v.isNamespace && v.kind.kind === 'Namespace' ? '' : v.namespace;
    if (!name) return (this.#namespaceObject = null);
    const ns = this.#namespace(name);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, name);
    return (this.#namespaceObject = toCel(namespaceObjectFor(ns)));
  }

  /** The authorization session (undefined without an authorizer). */
  session(engine: EngineModule): AuthzSession | undefined {
    if (!this.#authorize) return undefined;
    return (this.#session ??= engine.newAuthzSession(this.#authorize));
  }

  /** The `authorizer` variable (undefined without an authorizer). */
  authorizer(engine: EngineModule): unknown {
    const session = this.session(engine);
    if (!session) return undefined;
    if (this.#authorizer === undefined) {
      const v = this.view;
      this.#authorizer = engine.newAuthorizer(session, {
        user: v.attrs.user,
        requestResource: { group: v.resource.group, resource: v.resource.resource, subresource: v.subresource, namespace: v.namespace, name: v.attrs.name },
      });
    }
    return this.#authorizer;
  }
}
