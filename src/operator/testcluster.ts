/**
 * An in-process test cluster, as controller-runtime's envtest — but with the real controllers:
 * `startTestCluster()` runs `bosun server`'s own wiring (src/cli/server.ts `runServer`) in this
 * process: the API server on 127.0.0.1 and a free port over embedded SQLite in a temporary
 * directory, the controller manager, the scheduler and N simulated nodes (src/virtual: pods
 * bound to them run at once, local-path volumes are provisioned), no node agent.
 *
 *   const cluster = await startTestCluster({ nodes: 2 });
 *   const mgr = await createManager({ client: cluster.client });   // or { kubeconfig: cluster.kubeconfig }
 *   ...
 *   await cluster.stop();
 *
 * Contract: resolves once the API server is ready and the admin kubeconfig is written (and, with
 * `waitForNodes`, the default, once every simulated node is Ready); rejects after `timeoutMs`
 * (default 60 s) or when the server fails first. `stop()` stops every component, waits for them,
 * closes the admin client and removes the temporary directory (unless `dataDir` was given);
 * calling it again does nothing. The components log to standard output, as `bosun server` does.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Node } from '../api/index.ts';
import { createClient, loadKubeconfig, resources, sleep, type RestClient } from '../client/index.ts';

export interface TestClusterOptions {
  /** Simulated nodes. Default 1. */
  nodes?: number;
  /** Keep state here (not removed by stop); default a new temporary directory. */
  dataDir?: string;
  /** Built-in components not to run, as `bosun server --disable` (servicelb, local-storage, metrics-server). Default metrics-server. */
  disable?: string[];
  /** Run the controller manager / scheduler (default true). */
  controllers?: boolean;
  scheduler?: boolean;
  /** Wait until every simulated node is Ready. Default true. */
  waitForNodes?: boolean;
  timeoutMs?: number;
}

export interface TestCluster {
  /** The admin kubeconfig file (for kubectl, or another client). */
  readonly kubeconfig: string;
  /** The API server's URL, https://127.0.0.1:PORT. */
  readonly url: string;
  readonly dataDir: string;
  /** An admin client, closed by `stop`. */
  readonly client: RestClient;
  /** The simulated nodes' names. */
  readonly nodes: readonly string[];
  stop(): Promise<void>;
}

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const { runServer } = await import('../cli/server.ts');
  const dataDir = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-testcluster-')));
  const kubeconfig = path.join(dataDir, 'kubeconfig.yaml');
  await fs.rm(kubeconfig, { force: true });
  const count = opts.nodes ?? 1;
  const ctl = new AbortController();
  let failed: unknown;
  let ended = false;
  const running = runServer(
    {
      dataDir,
      port: 0,
      bindAddress: '127.0.0.1',
      tlsSans: [],
      kubeconfigPath: kubeconfig,
      disableAgent: true,
      disableControllerManager: opts.controllers === false,
      disableScheduler: opts.scheduler === false,
      virtualNodes: count,
      disable: opts.disable ?? ['metrics-server'],
    },
    ctl.signal,
  ).then(
    () => void (ended = true),
    (err: unknown) => {
      ended = true;
      failed = err;
    },
  );
  let client: RestClient | undefined;
  const cleanup = async () => {
    ctl.abort();
    await running;
    await client?.transport.close();
    if (!opts.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const wait = async (what: string, ready: () => Promise<boolean>) => {
      for (;;) {
        if (failed) throw new Error(`test cluster failed to start: ${(failed as Error)?.message ?? failed}`, { cause: failed });
        if (ended) throw new Error('test cluster stopped while starting');
        if (await ready()) return;
        if (Date.now() > deadline) throw new Error(`test cluster: timed out waiting for ${what}`);
        await sleep(50);
      }
    };
    await wait('the API server', () => fs.access(kubeconfig).then(() => true, () => false));
    const connection = await loadKubeconfig(kubeconfig);
    client = await createClient({ component: 'testcluster', connection, qps: Infinity });
    const nodes = Array.from({ length: count }, (_, i) => `virtual-node-${i}`);
    if (opts.waitForNodes ?? true) {
      const c = client;
      await wait(`${count} Ready node(s)`, async () => {
        const list = await c.list<Node>(resources.nodes).catch(() => undefined);
        const ready = (list?.items ?? []).filter((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
        return ready.length >= count;
      });
    }
    let stopped: Promise<void> | undefined;
    return {
      kubeconfig,
      url: connection.server,
      dataDir,
      client,
      nodes,
      stop: () => (stopped ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
