/**
 * The resource declaration: every kind the API serves is declared once, as data, by a
 * `ResourceDef`. The API server's handlers, discovery, tables, field selectors, protobuf decoding
 * and (later) OpenAPI, strategic merge and server-side apply are generic over it; a
 * CustomResourceDefinition becomes a `ResourceDef` at run time.
 *
 * Strategy hooks are plain functions over plain JSON objects. They run in this order on a write:
 *   create: prepareForCreate → default → (admission) → validate
 *   update: prepareForUpdate(new, old) → default → (admission) → validate(new, { old })
 * and the generic machinery handles metadata (uid, timestamps, generation, resourceVersion).
 */
import type { KubeObject, StatusCause, UserInfo } from './types.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** Upstream's connect subresources (rest.Connecter): served by apiserver/streaming. */
export type ConnectSubresource = 'attach' | 'exec' | 'log' | 'portforward' | 'proxy';

export const allVerbs: readonly Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** How metadata.name is validated (upstream's NameValidation functions). */
export type NameRule =
  | 'subdomain' // DNS-1123 subdomain (most kinds)
  | 'label' // DNS-1123 label (namespaces)
  | 'dns1035' // DNS-1035 label (services)
  | 'path'; // path segment: anything but '.', '..', '/', '%' (rbac, ...)

/** A Table column, as meta.k8s.io/v1 TableColumnDefinition. priority 0 is shown by default, 1 with -o wide. */
export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description: string;
  priority: 0 | 1;
}

export interface TableDef {
  columns: TableColumn[];
  /** One cell per column; `now` is the reference time for ages (ms since epoch). */
  row(obj: KubeObject, now: number): unknown[];
}

export interface ScaleDef {
  /** JSON paths, as a CRD's scale subresource declares them. */
  specReplicasPath: string; // '.spec.replicas'
  statusReplicasPath: string; // '.status.replicas'
  labelSelectorPath?: string; // '.status.selector' or computed
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface ValidateContext {
  /** The stored object, on update. */
  old?: KubeObject;
  /** Which subresource is being written ('' for the main resource, 'status'). */
  subresource: string;
}

/** Another version served from the same storage, with conversions to and from the storage version. */
export interface ServedVersion {
  version: string;
  /** Storage version object → this version (a new object; do not mutate the input). */
  fromStorage(obj: KubeObject): KubeObject;
  /** This version's object → storage version (a new object). */
  toStorage(obj: KubeObject): KubeObject;
  /** This version's own table, when it differs. */
  table?: TableDef;
  default?(obj: KubeObject): void;
  validate?(obj: KubeObject, ctx: ValidateContext): StatusCause[];
  deprecated?: boolean;
  /** Upstream's deprecationWarning for a deprecated version (a CRD's; default: a generated one). */
  deprecationWarning?: string;
  /**
   * Conversion needs a round trip (a CRD's conversion webhook): handlers call `prepare` with the
   * stored objects before `fromStorage` reads them, and `toStorageAsync` instead of `toStorage`.
   */
  remote?: {
    prepare(objs: readonly KubeObject[]): Promise<void>;
    toStorageAsync(obj: KubeObject): Promise<KubeObject>;
  };
  /** This version's schema type for server-side apply (a CRD's, made at run time). */
  schemaType?: string;
}

export interface ResourceDef {
  group: string; // '' for core
  /** The storage version; also the preferred version unless `preferredVersion` says otherwise. */
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Default: allVerbs. Review kinds are ['create']. */
  verbs?: Verb[];
  /** Default: 'subdomain'. */
  nameRule?: NameRule;
  /** The store key segment after /registry/ (default: plural), as upstream: services → 'services/specs'. */
  storagePrefix?: string;
  /** Subresources served besides the main resource. */
  /** binding: pods/binding (assigns a node, as the scheduler does); eviction: pods/eviction. */
  /** connect: subresources streamed or proxied to the node agent (apiserver/streaming). */
  /** ephemeralContainers: pods/ephemeralcontainers (adds debug containers to a running pod). */
  /** approval: certificatesigningrequests/approval (writes only the Approved/Denied conditions, through `prepareForApprovalUpdate`). */
  /** token: serviceaccounts/token (TokenRequest, served by the API server's service account tokens). */
  subresources?: { status?: boolean; scale?: ScaleDef; binding?: boolean; eviction?: boolean; ephemeralContainers?: boolean; approval?: boolean; token?: boolean; connect?: readonly ConnectSubresource[] };
  /** Other versions served (e.g. autoscaling/v1 for v2 HPAs). */
  otherVersions?: ServedVersion[];
  /**
   * For a kind stored as another group's kind under the same prefix (events.k8s.io/v1 Events are
   * stored as core/v1 Events): conversions between this kind and the stored one.
   */
  storedAs?: { toStorage(obj: KubeObject): KubeObject; fromStorage(obj: KubeObject): KubeObject };
  /** Preferred version for discovery when not the storage version. */
  preferredVersion?: string;
  /**
   * Bump metadata.generation when anything outside metadata and status changes; a function adds
   * its own reasons to bump (a Deployment's annotations), on top of that rule.
   */
  generation?: boolean | ((obj: KubeObject, old: KubeObject) => boolean);

  /** Apply upstream defaults in place. Must be idempotent. */
  default?(obj: KubeObject): void;
  /** Validation beyond the generic metadata checks; field paths as upstream ('spec.replicas'). */
  validate?(obj: KubeObject, ctx: ValidateContext): StatusCause[];
  /** Reset fields a create may not set (e.g. status), in place; `user` is the requester (CSR's spec.username). */
  prepareForCreate?(obj: KubeObject, ctx?: { user?: UserInfo }): void;
  /** Carry over fields an update of the main resource may not change (e.g. status), in place on `obj`. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** For a status update: carry over everything but status (default: restore everything except `status` and metadata labels/annotations). */
  prepareForStatusUpdate?(obj: KubeObject, old: KubeObject): void;
  /** For an approval update (CSRs): carry over everything the approval subresource may not change. */
  prepareForApprovalUpdate?(obj: KubeObject, old: KubeObject): void;

  /**
   * Graceful deletion (pods): the grace period to wait before the object is really removed, given
   * the requested one (DeleteOptions.gracePeriodSeconds). 0 or absent: remove at once.
   */
  deleteGracePeriod?(obj: KubeObject, requested: number | undefined): number;
  /**
   * Called (in place) on an object whose deletion is pending: may set status (a namespace's
   * phase Terminating); returns whether something besides metadata.finalizers still holds the
   * deletion (a namespace's spec.finalizers).
   */
  finalizing?(obj: KubeObject): boolean;
  /**
   * What a delete without a propagation policy does to dependents: 'orphan' for kinds that kept
   * their pre-garbage-collector default (core/v1 ReplicationController, batch/v1 Job); absent:
   * background deletion of dependents.
   */
  defaultPropagation?: 'orphan';
  /** PUT of an absent object creates it (upstream AllowCreateOnUpdate: endpoints, leases, ...). */
  createOnUpdate?: boolean;
  /**
   * false: an update (PUT, or a status update) must carry a resourceVersion; without one (or
   * with "0") it is Invalid (upstream AllowUnconditionalUpdate false: leases, CRDs, webhook
   * configurations, ...). Default true: no resourceVersion means "whatever is current".
   */
  allowUnconditionalUpdate?: boolean;

  /** Table columns for `kubectl get`; default: Name, Age. */
  table?: TableDef;
  /** Field selectors beyond metadata.name and metadata.namespace, as upstream's GetAttrs. */
  fieldSelectors?: Record<string, (obj: KubeObject) => string | undefined>;

  /**
   * A custom resource's declaration (from a CRD): unstructured (no built-in schema type, no
   * protobuf, no strategic merge patch); `schemaType` names its storage version's run-time type
   * for managedFields; `unknownFields` prunes what the schema does not declare, returning the
   * paths for fieldValidation.
   */
  custom?: {
    schemaType?: string;
    unknownFields(obj: KubeObject, version: string): string[];
    /** Applied to every object read from the store (upstream defaults custom resources when decoding them). */
    onRead?(obj: KubeObject): void;
  };

  /** Protobuf message name for request bodies (default: derived from group, version, kind). */
  protoMessage?: string;

  /**
   * For review kinds (SubjectAccessReview, TokenReview, ...): nothing is stored; a create is
   * answered by this function with the object and its computed status.
   */
  review?: true;
}

/** '' group → 'v1'; otherwise 'group/version'. */
export function apiVersionOf(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}
