/**
 * What every controller gets from the controller manager: its own API client (the identity of its
 * ServiceAccount under --use-service-account-credentials, else the manager's), the informer
 * factory shared by all controllers of the process (each resource watched once, with the
 * manager's own credentials, as upstream's shared informers), an event recorder per component
 * writing with the controller's client, the abort signal that ends its run (leadership lost or
 * shutdown), and a logger. A controller's start function registers its informers and handlers
 * and runs its workers until the signal aborts; it must not block.
 */
import type { InformerFactory, Recorder, RestClient } from '../client/index.ts';

/** Tunables with upstream's flag names and defaults (see `defaultControllerConfig`). */
export interface ControllerConfig {
  /** --node-monitor-period: how often node health is checked. */
  nodeMonitorPeriodMs: number;
  /** --node-monitor-grace-period: no heartbeat for this long makes a node's Ready Unknown. */
  nodeMonitorGracePeriodMs: number;
  /** --terminated-pod-gc-threshold: finished pods kept before the oldest are deleted. */
  terminatedPodGCThreshold: number;
  /** How often pod garbage collection runs (upstream gcCheckPeriod). */
  podGCPeriodMs: number;
  /** How long a pod's node must stay missing before the pod is force-deleted. */
  podGCOrphanQuarantineMs: number;
  /** --cluster-cidr: the pod range node IPAM splits into per-node blocks. */
  clusterCidr: string;
  /** --node-cidr-mask-size: the prefix length of each node's block. */
  nodeCidrMaskSize: number;
  /** --horizontal-pod-autoscaler-sync-period: how often every HPA is re-evaluated. */
  horizontalPodAutoscalerSyncPeriodMs: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization: the scale-down window when an HPA sets none. */
  horizontalPodAutoscalerDownscaleStabilizationMs: number;
  /** --horizontal-pod-autoscaler-tolerance: the usage ratio's distance from 1 below which nothing scales. */
  horizontalPodAutoscalerTolerance: number;
  /** --horizontal-pod-autoscaler-cpu-initialization-period: after a pod starts, CPU samples are skipped until one window follows readiness. */
  horizontalPodAutoscalerCpuInitializationPeriodMs: number;
  /** --horizontal-pod-autoscaler-initial-readiness-delay: a pod not ready this soon after start is taken as never ready yet. */
  horizontalPodAutoscalerInitialReadinessDelayMs: number;
}

export const defaultControllerConfig: ControllerConfig = {
  nodeMonitorPeriodMs: 5_000,
  nodeMonitorGracePeriodMs: 40_000,
  terminatedPodGCThreshold: 12_500,
  podGCPeriodMs: 20_000,
  podGCOrphanQuarantineMs: 40_000,
  clusterCidr: '10.42.0.0/16',
  nodeCidrMaskSize: 24,
  horizontalPodAutoscalerSyncPeriodMs: 15_000,
  horizontalPodAutoscalerDownscaleStabilizationMs: 300_000,
  horizontalPodAutoscalerTolerance: 0.1,
  horizontalPodAutoscalerCpuInitializationPeriodMs: 300_000,
  horizontalPodAutoscalerInitialReadinessDelayMs: 30_000,
};

export interface ControllerContext {
  /** The controller's own client: its writes (and events) are made as this identity. */
  client: RestClient;
  config: ControllerConfig;
  informers: InformerFactory;
  /** The recorder for a component name (`deployment-controller`, ...); one per name. */
  recorder(component: string): Recorder;
  signal: AbortSignal;
  log(msg: string): void;
}

/** Starts one controller: registers informers and handlers, starts workers, returns at once. */
export type ControllerStart = (ctx: ControllerContext) => void;

/** A controller as the manager knows it (upstream's ControllerDescriptor, reduced to what Bosun uses). */
export interface ControllerDescriptor {
  start: ControllerStart;
  /**
   * The ServiceAccount (in kube-system) whose credentials the controller runs with under
   * --use-service-account-credentials: the name upstream's controller passes to ClientOrDie, bound
   * to its `system:controller:<name>` ClusterRole by the bootstrap policy. Absent: always the
   * manager's own credentials (as upstream's tokens-controller, which mints the others' tokens).
   */
  serviceAccount?: string;
}
