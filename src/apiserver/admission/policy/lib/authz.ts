/**
 * The `authorizer` CEL variable, as upstream's apiserver/pkg/cel/library/authz.go:
 * `authorizer.path(p).check(verb)`, `authorizer.group(g).resource(r)` with `.subresource(s)`,
 * `.namespace(ns)`, `.name(n)`, `.fieldSelector(s)`, `.labelSelector(s)` and `.check(verb)`,
 * `authorizer.serviceAccount(ns, name)` (the same checks as that service account), and
 * `authorizer.requestResource` (a resource check for the request's own resource); a check's
 * decision answers `allowed()`, `reason()`, `errored()`, `error()`. Resource checks ask for API
 * version `*`, as upstream. Bosun's authorization attributes have no selectors, so
 * `fieldSelector` and `labelSelector` are accepted and not passed on.
 *
 * Authorization is asynchronous and CEL evaluation is not, so checks go through an
 * `AuthzSession` (one per admission request, caching decisions as upstream's caching
 * authorizer): a check whose decision is not known yet starts it and fails with
 * `PendingAuthorization`; the caller awaits `settle()` and evaluates again (CEL is free of side
 * effects, so the second run takes the same path and finds the decision).
 */
import { CelScalar, celMethod, type CelFunc } from '@bufbuild/cel';
import type { UserInfo } from '../../../../api/types.ts';
import type { AuthorizationAttributes, Decision } from '../../../authz/index.ts';
import { Opaque, opaqueOf } from './opaque.ts';

/** The authorization function the plugin is given (the server's authorizer chain). */
export type AuthorizeFn = (attrs: AuthorizationAttributes) => Decision | Promise<Decision>;

type Outcome = { decision: Decision; error?: undefined } | { decision?: undefined; error: string };

/** Thrown by a check whose decision is still being asked for. */
export class PendingAuthorization extends Error {
  constructor() {
    super('authorization decision pending');
    this.name = 'PendingAuthorization';
  }
}

function cacheKey(a: AuthorizationAttributes): string {
  const u = a.user;
  return JSON.stringify([u.username, u.uid ?? '', u.groups, u.extra ?? {}, a.verb, a.isResourceRequest, a.apiGroup, a.apiVersion, a.resource, a.subresource, a.namespace, a.name, a.path]);
}

/** Decisions for one admission request. */
export class AuthzSession {
  readonly #authorize: AuthorizeFn;
  readonly #known = new Map<string, Outcome>();
  readonly #pending = new Map<string, Promise<void>>();
  constructor(authorize: AuthorizeFn) {
    this.#authorize = authorize;
  }
  /** Checks started and not yet settled. */
  get pending(): number {
    return this.#pending.size;
  }
  /** The decision, or throws PendingAuthorization after starting to ask for it. */
  decide(attrs: AuthorizationAttributes): Outcome {
    const key = cacheKey(attrs);
    const known = this.#known.get(key);
    if (known) return known;
    if (!this.#pending.has(key)) {
      let res: Decision | Promise<Decision>;
      try {
        res = this.#authorize(attrs);
      } catch (err) {
        const o = { error: err instanceof Error ? err.message : String(err) };
        this.#known.set(key, o);
        return o;
      }
      if (!(res instanceof Promise)) {
        const o = { decision: res };
        this.#known.set(key, o);
        return o;
      }
      this.#pending.set(
        key,
        res.then(
          (decision) => void this.#known.set(key, { decision }),
          (err: unknown) => void this.#known.set(key, { error: err instanceof Error ? err.message : String(err) }),
        ),
      );
    }
    throw new PendingAuthorization();
  }
  /** Waits for every started check. */
  async settle(): Promise<void> {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    await Promise.all(all);
  }
}

/** The request's own resource, for `authorizer.requestResource`. */
export interface RequestResource {
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export class Authorizer extends Opaque {
  readonly typeName = 'kubernetes.authorization.Authorizer';
  readonly session: AuthzSession;
  readonly user: UserInfo;
  /** `authorizer.requestResource`, when the request names a resource. */
  readonly requestResource: ResourceCheck | undefined;
  constructor(session: AuthzSession, opts: { user: UserInfo; requestResource?: RequestResource }) {
    super();
    this.session = session;
    this.user = opts.user;
    this.requestResource = opts.requestResource && new ResourceCheck(this, { ...opts.requestResource, fieldSelector: '', labelSelector: '' });
  }
  override get(k: unknown): string | undefined {
    if (k === 'requestResource') return this.requestResource as never;
    return super.get(k);
  }
  override has(k: unknown): boolean {
    return k === 'requestResource' ? this.requestResource !== undefined : super.has(k);
  }
}

export class PathCheck extends Opaque {
  readonly typeName = 'kubernetes.authorization.PathCheck';
  readonly authorizer: Authorizer;
  readonly path: string;
  constructor(authorizer: Authorizer, path: string) {
    super();
    this.authorizer = authorizer;
    this.path = path;
  }
}

export class GroupCheck extends Opaque {
  readonly typeName = 'kubernetes.authorization.GroupCheck';
  readonly authorizer: Authorizer;
  readonly group: string;
  constructor(authorizer: Authorizer, group: string) {
    super();
    this.authorizer = authorizer;
    this.group = group;
  }
}

interface ResourceFields {
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  fieldSelector: string;
  labelSelector: string;
}

export class ResourceCheck extends Opaque {
  readonly typeName = 'kubernetes.authorization.ResourceCheck';
  readonly authorizer: Authorizer;
  readonly f: ResourceFields;
  constructor(authorizer: Authorizer, f: ResourceFields) {
    super();
    this.authorizer = authorizer;
    this.f = f;
  }
  with(change: Partial<ResourceFields>): ResourceCheck {
    return new ResourceCheck(this.authorizer, { ...this.f, ...change });
  }
}

export class AuthzDecision extends Opaque {
  readonly typeName = 'kubernetes.authorization.Decision';
  readonly outcome: Outcome;
  constructor(outcome: Outcome) {
    super();
    this.outcome = outcome;
  }
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const isSubdomain = (s: string) => s.length > 0 && s.length <= 253 && s.split('.').every((p) => dnsLabel.test(p));
const isLabel = (s: string) => s.length > 0 && s.length <= 63 && dnsLabel.test(s);

/** The user a ServiceAccount authenticates as (no uid: upstream's ServiceAccountInfo has none here). */
export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return { username: `system:serviceaccount:${namespace}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`] };
}

const blank = { isResourceRequest: false, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '', path: '' };

const S = CelScalar.STRING;
const D = CelScalar.DYN;

export const authzFuncs: CelFunc[] = [
  celMethod('path', D, [S], D, function (this: unknown, path: string) {
    const a = opaqueOf(Authorizer, 'path', this);
    if (path.trim() === '') throw new Error('path must not be empty');
    return new PathCheck(a, path) as never;
  }),
  celMethod('group', D, [S], D, function (this: unknown, group: string) {
    return new GroupCheck(opaqueOf(Authorizer, 'group', this), group) as never;
  }),
  celMethod('serviceAccount', D, [S, S], D, function (this: unknown, namespace: string, name: string) {
    const a = opaqueOf(Authorizer, 'serviceAccount', this);
    if (!isSubdomain(name)) throw new Error('Invalid service account name');
    if (!isLabel(namespace)) throw new Error('Invalid service account namespace');
    return new Authorizer(a.session, { user: serviceAccountUser(namespace, name) }) as never;
  }),
  celMethod('resource', D, [S], D, function (this: unknown, resource: string) {
    const g = opaqueOf(GroupCheck, 'resource', this);
    if (resource.trim() === '') throw new Error('resource must not be empty');
    return new ResourceCheck(g.authorizer, { group: g.group, resource, subresource: '', namespace: '', name: '', fieldSelector: '', labelSelector: '' }) as never;
  }),
  ...(['subresource', 'namespace', 'name', 'fieldSelector', 'labelSelector'] as const).map((field) =>
    celMethod(field, D, [S], D, function (this: unknown, v: string) {
      return opaqueOf(ResourceCheck, field, this).with({ [field]: v }) as never;
    }),
  ),
  celMethod('check', D, [S], D, function (this: unknown, verb: string) {
    if (this instanceof PathCheck) {
      const a = this.authorizer;
      return new AuthzDecision(a.session.decide({ ...blank, user: a.user, verb, path: this.path })) as never;
    }
    const r = opaqueOf(ResourceCheck, 'check', this);
    const a = r.authorizer;
    const attrs: AuthorizationAttributes = { ...blank, user: a.user, verb, isResourceRequest: true, apiGroup: r.f.group, apiVersion: '*', resource: r.f.resource, subresource: r.f.subresource, namespace: r.f.namespace, name: r.f.name };
    return new AuthzDecision(a.session.decide(attrs)) as never;
  }),
  celMethod('allowed', D, [], CelScalar.BOOL, function (this: unknown) {
    return opaqueOf(AuthzDecision, 'allowed', this).outcome.decision?.decision === 'allow';
  }),
  celMethod('reason', D, [], S, function (this: unknown) {
    return opaqueOf(AuthzDecision, 'reason', this).outcome.decision?.reason ?? '';
  }),
  celMethod('errored', D, [], CelScalar.BOOL, function (this: unknown) {
    return opaqueOf(AuthzDecision, 'errored', this).outcome.error !== undefined;
  }),
  celMethod('error', D, [], S, function (this: unknown) {
    return opaqueOf(AuthzDecision, 'error', this).outcome.error ?? '';
  }),
];
