/**
 * `bosun controller-manager`: the controller manager as its own process, talking to an API
 * server through a kubeconfig (the same code `bosun server` runs in-process). Leader-elected, so
 * several can run against one API server.
 */
import { createClient } from '../client/index.ts';
import { runControllerManager } from '../controllers/manager.ts';
import type { ControllerConfig } from '../controllers/context.ts';

export interface ControllerManagerConfig {
  kubeconfig: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  controllers?: string[];
  config?: Partial<ControllerConfig>;
  /** Client-side rate limit toward the API server (--kube-api-qps / --kube-api-burst). */
  qps?: number;
  burst?: number;
}

export async function runControllerManagerCommand(cfg: ControllerManagerConfig, signal: AbortSignal): Promise<void> {
  const client = await createClient({ kubeconfig: cfg.kubeconfig, component: 'kube-controller-manager', qps: cfg.qps, burst: cfg.burst });
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  try {
    await runControllerManager(
      {
        client,
        leaseDurationMs: cfg.leaseDurationMs,
        renewDeadlineMs: cfg.renewDeadlineMs,
        retryPeriodMs: cfg.retryPeriodMs,
        enabled: cfg.controllers,
        config: cfg.config,
        log,
      },
      signal,
    );
  } finally {
    await client.transport.close();
  }
  log('controller-manager stopped');
}
