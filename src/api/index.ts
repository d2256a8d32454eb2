/**
 * The object model's public entry for components above the API server (client, controllers,
 * scheduler, nodes): a plain-data type for every API type, generated from the schema files
 * (./generated/types.ts, `npm run gen:types`; naming rule in ./schema/gen-types.ts), and
 * `ApiObject`, what generic machinery (REST client, informers, caches) needs of any object.
 *
 * Types only: importing this module costs nothing at run time.
 */
import type { ObjectMeta } from './generated/types.ts';

export type * from './generated/types.ts';
export type { KubeList, KubeObject, UserInfo } from './types.ts';

/** The ObjectMeta fields generic code reads (client-go's metav1.Object, as data). */
export type ObjectMetaView = Pick<
  ObjectMeta,
  | 'name'
  | 'generateName'
  | 'namespace'
  | 'uid'
  | 'resourceVersion'
  | 'generation'
  | 'creationTimestamp'
  | 'deletionTimestamp'
  | 'labels'
  | 'annotations'
  | 'ownerReferences'
  | 'finalizers'
>;

/**
 * Any API object with ObjectMeta: every generated kind (`Pod`, `Deployment`, …) and the untyped
 * `KubeObject` are one. The client, informers and caches are generic over it.
 */
export interface ApiObject {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMetaView;
}
