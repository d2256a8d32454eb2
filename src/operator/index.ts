/**
 * `bosun/operator`: a small controller-runtime for Bosun (and any Kubernetes API server), on top
 * of the client library (src/client). A Manager owns the client, shared informers, leader
 * election and health endpoints; `controllerFor(mgr, res)` builds a Controller from For / Owns /
 * Watches with predicates; reconcilers return `{requeue, requeueAfter}` or throw (a
 * `TerminalError` is not retried); helpers cover owner references, finalizers, create-or-update,
 * status updates with conflict retry and conditions; `startTestCluster()` runs a whole cluster
 * (API server, controllers, scheduler, simulated nodes) in the test's process; `generateTypes`
 * (and `node src/operator/gen-types.ts crd.yaml`) turns a CRD's schema into TypeScript types.
 *
 *   import { createManager, controllerFor, resources } from 'bosun/operator';
 *
 * See each module's header for its contract.
 */
export { createManager, Manager, defaultResyncMs, defaultGracefulShutdownTimeoutMs, type CacheReader, type Checker, type LeaderElectionConfig, type ManagerOptions } from './manager.ts';
export { controllerFor, Builder, type BuilderOptions } from './builder.ts';
export { Controller, defaultCacheSyncTimeoutMs, type ControllerOptions } from './controller.ts';
export { runnable, type Runnable, type RunnableContext } from './runnable.ts';
export { TerminalError, isTerminalError, terminalError, requestFor, requestKey, requestOf, type ReconcileContext, type ReconcileFunc, type Reconciler, type Request, type Result } from './reconcile.ts';
export { enqueueForObject, enqueueForOwner, enqueueFromMap, type Enqueue, type EventHandler } from './handler.ts';
export { and, annotationsChanged, generationChanged, labelsChanged, not, objectMatches, or, resourceVersionChanged, type Predicate } from './predicate.ts';
export {
  AlreadyOwnedError,
  addFinalizer,
  containsFinalizer,
  createOrPatch,
  createOrUpdate,
  getControllerOf,
  isControlledBy,
  mergePatch,
  removeFinalizer,
  removeOwnerReference,
  setControllerReference,
  setOwnerReference,
  type MutateFn,
  type OperationResult,
} from './controllerutil.ts';
export { retryOnConflict, updateStatus, defaultRetry, type Backoff } from './status.ts';
export { setStatusCondition, removeStatusCondition, findStatusCondition, isStatusConditionTrue, isStatusConditionFalse, nowTime, type Condition, type ConditionInput, type ConditionLike, type ConditionStatus } from './conditions.ts';
export { startTestCluster, type TestCluster, type TestClusterOptions } from './testcluster.ts';
export { generateTypes, parseCrds, type GenerateOptions } from './gen-types.ts';
// The client library pieces operators use directly.
export { createClient, clientset, resourceClient, descriptor, resources, objectKey, type Client, type ResourceDescriptor, type RestClient, type SharedInformer, type Recorder } from '../client/index.ts';
export { isAlreadyExists, isConflict, isNotFound, isStatusError, StatusError } from '../api/errors.ts';
export type * from '../api/index.ts';
