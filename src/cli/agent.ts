/**
 * `bosun agent`: the node agent as its own process beside a server on this machine, with the
 * identity and serving certificate the server issued in its data dir (`tls/agent.*`,
 * `tls/agent-serving.*`) and the server's address from its kubeconfig. Joining other machines
 * comes with multi-node networking.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createClient, loadKubeconfig } from '../client/index.ts';
import { agentPrerequisites, runAgent } from '../kubelet/index.ts';
import type { EvictionThresholds } from '../kubelet/node.ts';

export interface AgentCommandConfig {
  dataDir: string;
  nodeName?: string;
  port: number;
  clusterCidr: string;
  eviction?: EvictionThresholds;
  /** The API server's URL; default the one in the data dir's kubeconfig. */
  server?: string;
}

export async function runAgentCommand(cfg: AgentCommandConfig, signal: AbortSignal): Promise<void> {
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  const missing = await agentPrerequisites();
  if (missing.length) throw new Error(`node agent cannot start: ${missing.join('; ')}`);
  const tls = path.join(cfg.dataDir, 'tls');
  const read = (f: string) => fs.readFile(path.join(tls, f), 'utf8');
  let files: string[];
  try {
    files = await Promise.all(['ca.crt', 'agent.crt', 'agent.key', 'agent-serving.crt', 'agent-serving.key'].map(read));
  } catch (err) {
    throw new Error(`no agent credentials in ${tls} (start \`bosun server --data-dir ${cfg.dataDir}\` once first): ${(err as Error).message}`);
  }
  const [ca, cert, key, servingCert, servingKey] = files as [string, string, string, string, string];
  const server = cfg.server ?? (await loadKubeconfig(path.join(cfg.dataDir, 'kubeconfig.yaml'))).server;
  const nodeName = (cfg.nodeName ?? os.hostname()).toLowerCase();
  const client = await createClient({ component: 'kubelet', connection: { server, ca, cert, key }, qps: 50, burst: 100 });
  try {
    await runAgent({ client, nodeName, dir: path.join(cfg.dataDir, 'agent'), clusterCidr: cfg.clusterCidr, port: cfg.port, eviction: cfg.eviction, tls: { certPem: servingCert, keyPem: servingKey, caPem: ca }, log }, signal);
  } finally {
    await client.transport.close();
  }
  log('agent stopped');
}
