/**
 * The `bosun` command line: turns flags into one config object per command and calls the
 * command's `run`. The only place that knows every component.
 */
import { Command, Option } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { runServer } from './server.ts';

function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/bosun' : path.join(os.homedir(), '.bosun');
}

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

const program = new Command();
program.name('bosun').description('A small-footprint Kubernetes-compatible container orchestrator').showHelpAfterError();

program
  .command('server')
  .description('Run the control plane (API server on an embedded store) and, unless disabled, the node agent')
  .option('--data-dir <dir>', 'folder for state, certificates and the kubeconfig', defaultDataDir())
  .addOption(new Option('--https-listen-port <port>', 'HTTPS port of the API server').default(6443).argParser((v) => parsePort(v)))
  .option('--bind-address <address>', 'address the API server listens on', '127.0.0.1')
  .option('--tls-san <name>', 'extra host name or IP for the serving certificate (repeatable)', collect, [] as string[])
  .option('--write-kubeconfig <file>', 'where to write the admin kubeconfig (default: DATA_DIR/kubeconfig.yaml)')
  .option('--datastore-endpoint <endpoint>', 'datastore: empty for embedded SQLite in the data dir, or sqlite://PATH')
  .option('--disable-agent', 'run the control plane only (no node agent)', false)
  .action(async (opts: { dataDir: string; httpsListenPort: number; bindAddress: string; tlsSan: string[]; writeKubeconfig?: string; datastoreEndpoint?: string; disableAgent: boolean }) => {
    const ac = new AbortController();
    let signals = 0;
    const stop = (sig: string) => {
      signals++;
      if (signals > 1) process.exit(1);
      process.stderr.write(`bosun: ${sig} received, shutting down\n`);
      ac.abort();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    const dataDir = path.resolve(opts.dataDir);
    await runServer(
      {
        dataDir,
        port: opts.httpsListenPort,
        bindAddress: opts.bindAddress,
        tlsSans: opts.tlsSan,
        kubeconfigPath: path.resolve(opts.writeKubeconfig ?? path.join(dataDir, 'kubeconfig.yaml')),
        datastoreEndpoint: opts.datastoreEndpoint,
        disableAgent: opts.disableAgent,
      },
      ac.signal,
    );
  });

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid port: ${v}`);
  return n;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`bosun: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
