/**
 * Typed access to resources, as client-go's typed clientsets and informers: the object type of a
 * built-in resource is looked up from its descriptor (`resources.pods` → `Pod`, from the
 * generated `ObjectKinds` of src/api), so callers never name it and never read untyped maps.
 *
 *   const cs = clientset(client);
 *   const pod = await cs.pods.get('web-0', { namespace: 'default' });   // Pod
 *   const pods = informers.typedInformerFor(resources.pods);          // SharedInformer<Pod>
 *
 * A thin layer: every call goes to the generic client (./rest.ts) unchanged, so its contract
 * (errors, retries, namespaces) holds. Descriptors built at run time (CRDs) type as `KubeObject`
 * unless the caller names a type: `resourceClient<MyKind>(client, descriptor(...))`.
 */
import type { ApiObject, ObjectKinds } from '../api/index.ts';
import type { KubeList, KubeObject, Status } from '../api/types.ts';
import type { Client, DeleteCollectionOptions, DeleteOptions, GetOptions, ListOptions, PatchOptions, ResourceDescriptor, WatchOptions, WriteOptions } from './rest.ts';
import { resources, type BuiltinResource } from './resources.ts';
import type { WatchStream } from './transport.ts';

/** `<apiVersion>/<kind>`, the key of ObjectKinds. */
type KindKey<G extends string, V extends string, K extends string> = G extends '' ? `${V}/${K}` : `${G}/${V}/${K}`;

/** The object type of a resource descriptor: the generated type of its kind, else `KubeObject`. */
export type ObjectFor<D extends ResourceDescriptor> = D extends { readonly group: infer G extends string; readonly version: infer V extends string; readonly kind: infer K extends string }
  ? KindKey<G, V, K> extends keyof ObjectKinds
    ? ObjectKinds[KindKey<G, V, K>]
    : KubeObject
  : KubeObject;

/** The generic client's verbs bound to one resource and its object type. */
export interface ResourceClient<T extends ApiObject> {
  readonly resource: ResourceDescriptor;
  get(name: string, opts?: GetOptions): Promise<T>;
  list(opts?: ListOptions): Promise<KubeList<T>>;
  watch(opts?: WatchOptions): Promise<WatchStream<T>>;
  create(obj: T, opts?: WriteOptions): Promise<T>;
  update(obj: T, opts?: WriteOptions): Promise<T>;
  updateStatus(obj: T, opts?: WriteOptions): Promise<T>;
  patch(name: string, patch: unknown, opts: PatchOptions): Promise<T>;
  patchStatus(name: string, patch: unknown, opts: PatchOptions): Promise<T>;
  /** The object (when finalizers or a grace period keep it) or a Status. */
  delete(name: string, opts?: DeleteOptions): Promise<T | Status>;
  deleteCollection(opts?: DeleteCollectionOptions): Promise<KubeList<T> | Status>;
}

/** A client for one resource; `T` defaults to the descriptor's object type. */
export function resourceClient<D extends ResourceDescriptor, T extends ApiObject = ObjectFor<D>>(client: Client, res: D): ResourceClient<T> {
  return {
    resource: res,
    get: (name, opts) => client.get<T>(res, name, opts),
    list: (opts) => client.list<T>(res, opts),
    watch: (opts) => client.watch<T>(res, opts),
    create: (obj, opts) => client.create<T>(res, obj, opts),
    update: (obj, opts) => client.update<T>(res, obj, opts),
    updateStatus: (obj, opts) => client.updateStatus<T>(res, obj, opts),
    patch: (name, patch, opts) => client.patch<T>(res, name, patch, opts),
    patchStatus: (name, patch, opts) => client.patchStatus<T>(res, name, patch, opts),
    delete: (name, opts) => client.delete(res, name, opts) as Promise<T | Status>,
    deleteCollection: (opts) => client.deleteCollection(res, opts) as Promise<KubeList<T> | Status>,
  };
}

/** A typed client per built-in resource, by the names of `resources`. */
export type Clientset = { readonly [K in BuiltinResource]: ResourceClient<ObjectFor<(typeof resources)[K]>> };

/** Typed clients for every built-in resource over one client (created once, cheap to keep). */
export function clientset(client: Client): Clientset {
  const out: Partial<Record<BuiltinResource, ResourceClient<ApiObject>>> = {};
  for (const name of Object.keys(resources) as BuiltinResource[]) out[name] = resourceClient<ResourceDescriptor, ApiObject>(client, resources[name]);
  return Object.freeze(out) as unknown as Clientset;
}
