/**
 * The node's pod bridge, made before the first pod so the agent can serve on the bridge's
 * gateway address (the node's InternalIP: reachable from the host and from pods, never from
 * outside — the guard rules keep it so). The CNI bridge plugin then finds the bridge as it wants
 * it. Idempotent.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BridgeOptions {
  /** Interface name, e.g. bosun0. */
  name: string;
  /** The gateway address with its prefix, e.g. 10.42.0.1/24. */
  address: string;
}

export async function ensureBridge(opts: BridgeOptions): Promise<void> {
  try {
    await run('ip', ['link', 'show', 'dev', opts.name]);
  } catch {
    await run('ip', ['link', 'add', opts.name, 'type', 'bridge']).catch((err: { stderr?: string }) => {
      if (!/File exists/.test(err.stderr ?? '')) throw new Error(`creating bridge ${opts.name}: ${err.stderr ?? err}`);
    });
  }
  const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', opts.name]);
  if (!stdout.includes(` ${opts.address} `)) {
    await run('ip', ['addr', 'add', opts.address, 'dev', opts.name]).catch((err: { stderr?: string }) => {
      if (!/File exists/.test(err.stderr ?? '')) throw new Error(`address ${opts.address} on ${opts.name}: ${err.stderr ?? err}`);
    });
  }
  await run('ip', ['link', 'set', opts.name, 'up']);
}

/** Removes the bridge (pods must be gone). */
export async function removeBridge(name: string): Promise<void> {
  await run('ip', ['link', 'del', name]).catch(() => {});
}
