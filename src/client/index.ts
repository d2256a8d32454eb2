/**
 * The client library every component but the API server uses: a REST client over a transport,
 * shared informers, the work queue, leader election and the event recorder. `createClient`
 * builds the usual stack from a kubeconfig or explicit connection settings:
 *
 *   const client = await createClient({ kubeconfig, component: 'controller-manager' });
 *   const pod = await clientset(client).pods.get('web-0', { namespace: 'default' }); // a Pod
 *   const pods = informers.typedInformerFor(resources.pods); // SharedInformer<Pod>
 *
 * Objects are typed by the generated API types (src/api); the untyped calls
 * (`client.get(resources.pods, …)`, `informerFor(…)`) still give `KubeObject`.
 *
 * See each module's header for its contract.
 */
import { loadKubeconfig, type ClusterConnection } from './kubeconfig.ts';
import { RestClient } from './rest.ts';
import { Http2Transport, type CredentialSet, type Transport } from './transport.ts';
import type { Clock } from './clock.ts';

export { realClock, FakeClock, sleep, sleepUnlessAborted, type Clock, type TimerHandle } from './clock.ts';
export { statusErrorFromResponse, statusErrorFromWatchObject, statusFromObject, isResourceExpired } from './errors.ts';
export { loadKubeconfig, parseKubeconfig, resolveSelection, type ClusterConnection, type KubeconfigSelection } from './kubeconfig.ts';
export {
  Http2Transport,
  queryString,
  type Http2TransportOptions,
  type QueryParams,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  type WatchEvent,
  type WatchStream,
} from './transport.ts';
export {
  RestClient,
  apiVersionOf,
  resourcePath,
  type Client,
  type DeleteCollectionOptions,
  type DeleteOptions,
  type GetOptions,
  type ListOptions,
  type PatchOptions,
  type PatchType,
  type Reader,
  type ResourceDescriptor,
  type RestClientOptions,
  type StatusWriter,
  type WatchOptions,
  type WriteOptions,
  type Writer,
} from './rest.ts';
export { resources, descriptor, type BuiltinResource, type ResourceOf } from './resources.ts';
export { clientset, resourceClient, type Clientset, type ObjectFor, type ResourceClient } from './typed.ts';
export {
  CacheStore,
  deepFreeze,
  IndexNamespace,
  IndexNodeName,
  IndexOwnerUid,
  namespaceIndex,
  objectKey,
  ownerUidIndex,
  podNodeNameIndex,
  splitKey,
  type IndexFunc,
  type Indexer,
  type Indexers,
  type Store,
} from './store.ts';
export {
  InformerFactory,
  SharedInformer,
  waitForCacheSync,
  type HandlerRegistration,
  type InformerFactoryOptions,
  type InformerOptions,
  type InformerSelection,
  type ListerWatcher,
  type ResourceEventHandler,
} from './informer.ts';
export {
  TokenBucket,
  bucketRateLimiter,
  defaultControllerRateLimiter,
  itemExponentialRateLimiter,
  maxOfRateLimiters,
  type RateLimiter,
  type TokenBucketOptions,
} from './ratelimit.ts';
export {
  WorkQueue,
  runWorkers,
  TerminalError,
  isTerminalError,
  type DelayingQueue,
  type Queue,
  type RateLimitingQueue,
  type ReconcileResult,
  type RunWorkersOptions,
  type WorkQueueOptions,
} from './queue.ts';
export { renewNodeLease } from './nodelease.ts';
export { LeaderElector, microTime, defaultIdentity, type LeaderElectionCallbacks, type LeaderElectionOptions, type LeaderElectionRecord } from './leaderelection.ts';
export { EventRecorder, referenceTo, rfc3339, type EventRecorderOptions, type EventType, type ObjectReference, type Recorder } from './events.ts';

/** The Kubernetes version the client speaks, for User-Agent. */
export const clientVersion = 'v1.33.0';

/** `bosun-<component>/v1.33.0`. */
export function userAgent(component: string): string {
  return `bosun-${component}/${clientVersion}`;
}

export interface CreateClientOptions {
  /** Component name for User-Agent (`bosun-<component>/v1.33.0`). */
  component: string;
  /** A kubeconfig file (its current context, or `context`). */
  kubeconfig?: string;
  context?: string;
  /** Explicit connection settings (instead of a kubeconfig). */
  connection?: ClusterConnection;
  /** A ready transport (e.g. in-process); `kubeconfig`/`connection` are then ignored. */
  transport?: Transport;
  /** Overrides the User-Agent built from `component`. */
  userAgent?: string;
  /** Client-side rate limit. Defaults 200 qps, burst 400. */
  qps?: number;
  burst?: number;
  /** Default request timeout (ms). Default 60 000. */
  timeoutMs?: number;
  /** Current credentials, read per request (rotated certificates, refreshed tokens); see Http2TransportOptions. */
  credentials?: () => CredentialSet;
  clock?: Clock;
  log?: (msg: string) => void;
}

/** A REST client for `component` over HTTP/2 (or the given transport). Close it with `client.transport.close()`. */
export async function createClient(opts: CreateClientOptions): Promise<RestClient> {
  let transport = opts.transport;
  if (!transport) {
    const conn = opts.connection ?? (opts.kubeconfig ? await loadKubeconfig(opts.kubeconfig, { context: opts.context }) : undefined);
    if (!conn) throw new TypeError('createClient needs a kubeconfig, a connection or a transport');
    transport = new Http2Transport({ ...conn, userAgent: opts.userAgent ?? userAgent(opts.component), timeoutMs: opts.timeoutMs, credentials: opts.credentials, log: opts.log });
  }
  return new RestClient(transport, { qps: opts.qps, burst: opts.burst, clock: opts.clock });
}
