/**
 * The controller manager: every controller of `controllers` (by upstream name) run on one shared
 * informer factory, only while this process holds the `kube-system/kube-controller-manager`
 * Lease. Losing the lease stops every controller (their signal aborts) and the manager goes
 * back to contending, so two managers against one API server never both act.
 */
import { startResourceQuotaController } from './resourcequota.ts';
import { startRootCaCertPublisher, type RootCaContext } from './rootcacertpublisher.ts';
import { startClusterRoleAggregationController } from './clusterroleaggregation.ts';
import { EventRecorder, InformerFactory, LeaderElector, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerConfig, type ControllerContext, type ControllerStart } from './context.ts';
import { startReplicaSetController, startReplicationControllerController } from './replicaset.ts';
import { startDeploymentController } from './deployment.ts';
import { startEndpointsController, startEndpointSliceController } from './endpoints.ts';
import { startServiceAccountController } from './serviceaccount.ts';
import { startNamespaceController } from './namespace.ts';
import { startGarbageCollector } from './garbagecollector.ts';
import { startPodGCController } from './podgc.ts';
import { startNodeLifecycleController } from './nodelifecycle.ts';
import { startDisruptionController } from './disruption.ts';
import { startSystemNamespacesController } from './systemnamespaces.ts';
import { startCsrApprovingController } from './csrapproving.ts';
import { startCsrSigningController, type ClusterSigning, type CsrSigningContext } from './csrsigning.ts';
import { startNodeIpamController } from './nodeipam.ts';
import { startServiceLBController } from './servicelb.ts';

/** Every controller, by the name upstream's --controllers flag uses. */
export const controllers: Record<string, ControllerStart> = {
  deployment: startDeploymentController,
  replicaset: startReplicaSetController,
  replicationcontroller: startReplicationControllerController,
  endpoint: startEndpointsController,
  endpointslice: startEndpointSliceController,
  serviceaccount: startServiceAccountController,
  namespace: startNamespaceController,
  garbagecollector: startGarbageCollector,
  podgc: startPodGCController,
  nodelifecycle: startNodeLifecycleController,
  disruption: startDisruptionController,
  nodeipam: startNodeIpamController,
  // Upstream runs this one in kube-apiserver; see systemnamespaces.ts.
  systemnamespaces: startSystemNamespacesController,
  csrapproving: startCsrApprovingController,
  csrsigning: startCsrSigningController,
  // k3s's name (`--disable servicelb`); upstream's service controller with Bosun as the load balancer.
  servicelb: startServiceLBController,
  'clusterrole-aggregation': startClusterRoleAggregationController,
  'root-ca-certificate-publisher': startRootCaCertPublisher,
  resourcequota: startResourceQuotaController,
};

export interface ControllerManagerOptions {
  client: RestClient;
  /** Leader election identity; default `<hostname>_<uuid>`. */
  identity?: string;
  /** Upstream defaults 15 s / 10 s / 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Names to run (default: all of `controllers`). */
  enabled?: readonly string[];
  /** Overrides of the controllers' tunables. */
  config?: Partial<ControllerConfig>;
  /** The CA csrsigning signs with (upstream's --cluster-signing-cert-file/--cluster-signing-key-file); none: it does nothing. */
  clusterSigning?: ClusterSigning;
  /** The CA published as kube-root-ca.crt (upstream's --root-ca-file); default the signing CA. */
  rootCaPem?: string;
  log?: (msg: string) => void;
}

/** Runs until `signal` aborts; resolves once everything has stopped. */
export async function runControllerManager(opts: ControllerManagerOptions, signal: AbortSignal): Promise<void> {
  const log = opts.log ?? (() => {});
  // A bad --controllers flag ends the process with a clear message, before anything runs.
  const unknown = (opts.enabled ?? []).filter((n) => !(n in controllers));
  if (unknown.length) throw new RangeError(`unknown controller${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${Object.keys(controllers).join(', ')})`);
  let running: Promise<void> = Promise.resolve();
  // One elector per term: after leadership is lost, campaign again with a fresh one.
  while (!signal.aborted) {
    const elector = new LeaderElector({
      client: opts.client,
      namespace: 'kube-system',
      name: 'kube-controller-manager',
      identity: opts.identity,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
      log,
      onStartedLeading: (leading) => {
        running = runControllers(opts, leading, log);
      },
      onNewLeader: (id) => log(`controller-manager: leader is ${id}`),
    });
    await elector.run(signal);
    await running;
    if (!signal.aborted) log('controller-manager: leadership lost; campaigning again');
  }
}

async function runControllers(opts: ControllerManagerOptions, signal: AbortSignal, log: (msg: string) => void): Promise<void> {
  const informers = new InformerFactory(opts.client, { log });
  const recorders = new Map<string, EventRecorder>();
  const ctx: ControllerContext & CsrSigningContext & RootCaContext = {
    clusterSigning: opts.clusterSigning,
    rootCaPem: opts.rootCaPem ?? opts.clusterSigning?.certPem,
    client: opts.client,
    config: { ...defaultControllerConfig, ...opts.config },
    informers,
    signal,
    log,
    recorder(component) {
      let r = recorders.get(component);
      if (!r) recorders.set(component, (r = new EventRecorder(opts.client, { component, log })));
      return r;
    },
  };
  const names = opts.enabled ?? Object.keys(controllers);
  for (const name of names) {
    controllers[name]!(ctx);
  }
  informers.start(signal);
  log(`controller-manager: started ${names.join(', ') || 'no controllers'}`);
  if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  await informers.stopped();
  await Promise.all([...recorders.values()].map((r) => r.close()));
}
