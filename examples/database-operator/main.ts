/**
 * Runs the Database operator against any cluster:
 *
 *   node examples/database-operator/main.ts [--kubeconfig FILE] [--namespace NS]
 *        [--leader-elect] [--leader-election-namespace NS] [--health-probe-port PORT]
 *
 * The kubeconfig defaults to $KUBECONFIG, else ~/.kube/config. SIGTERM or SIGINT stops it
 * gracefully (in-flight reconciles finish, the leader lease is released).
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createManager } from 'bosun/operator';
import { addDatabaseController, component } from './operator.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    'leader-elect': { type: 'boolean', default: false },
    'leader-election-namespace': { type: 'string', default: 'default' },
    'health-probe-port': { type: 'string' },
  },
});

const kubeconfig = values.kubeconfig ?? process.env['KUBECONFIG']?.split(path.delimiter)[0] ?? path.join(os.homedir(), '.kube', 'config');
const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
const mgr = await createManager({
  kubeconfig,
  component,
  namespace: values.namespace,
  leaderElection: values['leader-elect'] ? { namespace: values['leader-election-namespace']!, name: 'database-operator.example.com' } : undefined,
  healthProbe: values['health-probe-port'] !== undefined ? { port: Number(values['health-probe-port']) } : undefined,
  log,
});
mgr.addHealthzCheck('ping', () => {});
addDatabaseController(mgr);

const stop = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort());
log(`${component}: starting (kubeconfig ${kubeconfig})`);
try {
  await mgr.start(stop.signal);
  log(`${component}: stopped`);
} catch (err) {
  log(`${component}: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await mgr.close();
}
