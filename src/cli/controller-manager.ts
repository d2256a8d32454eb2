/**
 * `bosun controller-manager`: the controller manager as its own process, talking to an API
 * server through a kubeconfig (the same code `bosun server` runs in-process). Leader-elected, so
 * several can run against one API server. As kubeadm runs upstream's, controllers use their own
 * ServiceAccounts' credentials unless `--use-service-account-credentials=false`; the kubeconfig's
 * identity then serves only leader election, the shared informers and obtaining those credentials
 * (upstream's system:kube-controller-manager role allows exactly that).
 */
import fs from 'node:fs/promises';
import { createClient, loadKubeconfig } from '../client/index.ts';
import type { ClusterSigning } from '../controllers/csrsigning.ts';
import { keyMatches } from '../pki/x509.ts';
import { runControllerManager } from '../controllers/manager.ts';
import type { ControllerConfig } from '../controllers/context.ts';

export interface ControllerManagerConfig {
  kubeconfig: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  controllers?: string[];
  config?: Partial<ControllerConfig>;
  /** --cluster-signing-cert-file / --cluster-signing-key-file: the CA csrsigning signs with (both or neither). */
  signingFiles?: { cert?: string; key?: string };
  /** Client-side rate limit toward the API server (--kube-api-qps / --kube-api-burst), per client. */
  qps?: number;
  burst?: number;
  /**
   * --use-service-account-credentials: "If true, use individual service account credentials for
   * each controller." Default true (upstream's flag defaults to false; kubeadm sets it).
   */
  useServiceAccountCredentials?: boolean;
  /** --service-account-private-key-file: the key legacy token Secrets are signed with; none: serviceaccount-token is off. */
  serviceAccountPrivateKeyFile?: string;
}

export async function runControllerManagerCommand(cfg: ControllerManagerConfig, signal: AbortSignal): Promise<void> {
  let clusterSigning: ClusterSigning | undefined;
  if (cfg.signingFiles) {
    const { cert, key } = cfg.signingFiles;
    if (!cert || !key) throw new Error('--cluster-signing-cert-file and --cluster-signing-key-file go together');
    const [certPem, keyPem] = await Promise.all([fs.readFile(cert, 'utf8'), fs.readFile(key, 'utf8')]).catch((err: unknown) => {
      throw new Error(`cannot read the cluster signing CA: ${(err as Error).message}`);
    });
    if (!keyMatches(certPem, keyPem)) throw new Error(`${key} is not the private key of ${cert}`);
    clusterSigning = { certPem, keyPem };
  }
  const serviceAccountPrivateKeyPem = cfg.serviceAccountPrivateKeyFile
    ? await fs.readFile(cfg.serviceAccountPrivateKeyFile, 'utf8').catch((err: unknown) => {
      throw new Error(`cannot read --service-account-private-key-file: ${(err as Error).message}`);
    })
    : undefined;
  const connection = await loadKubeconfig(cfg.kubeconfig);
  const client = await createClient({ connection, component: 'kube-controller-manager', qps: cfg.qps, burst: cfg.burst });
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
        clusterSigning,
        serviceAccountPrivateKeyPem,
        useServiceAccountCredentials: cfg.useServiceAccountCredentials ?? true,
        // Controllers' clients: the server and its CA only (upstream's AnonymousClientConfig).
        connection: { server: connection.server, ca: connection.ca, insecureSkipTlsVerify: connection.insecureSkipTlsVerify, tlsServerName: connection.tlsServerName },
        qps: cfg.qps,
        burst: cfg.burst,
        log,
      },
      signal,
    );
  } finally {
    await client.transport.close();
  }
  log('controller-manager stopped');
}
