/**
 * Runs the host tools the pod network needs (ip, iptables, iptables-restore, CNI plugins) and
 * collects their output. Commands never go through a shell; failures carry the command line,
 * exit status and stderr in a NetworkError.
 */
import { spawn } from 'node:child_process';

/** Stable codes of the errors this component throws besides ERR_INVALID_CONFIG. */
export type NetworkErrorCode =
  | 'ERR_NETWORK_COMMAND' // a host tool (ip, iptables) failed or could not be started
  | 'ERR_NETWORK_KERNEL' // a kernel setting the pod network needs cannot be made
  | 'ERR_CNI_PLUGIN'; // a CNI plugin failed or is missing

export class NetworkError extends Error {
  readonly code: NetworkErrorCode;
  /** For ERR_CNI_PLUGIN: the error code the plugin reported (CNI spec), if any. */
  readonly cniCode: number | undefined;
  constructor(code: NetworkErrorCode, message: string, options?: { cause?: unknown; cniCode?: number }) {
    super(message, options);
    this.code = code;
    this.cniCode = options?.cniCode;
    this.name = 'NetworkError';
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGKILL) after this long. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/**
 * Runs `cmd args` and resolves with its exit code and output whatever the code; rejects with
 * ERR_NETWORK_COMMAND only when it cannot be started, times out or is aborted.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], signal: opts.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // the command may exit before reading its input
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new NetworkError('ERR_NETWORK_COMMAND', `${cmd}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut || code === null) {
        reject(new NetworkError('ERR_NETWORK_COMMAND', `${cmd} ${args.join(' ')}: ${timedOut ? 'timed out' : `killed by ${sig}`} ${stderr}`.trim()));
        return;
      }
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run, but rejects with ERR_NETWORK_COMMAND when the exit code is not 0. Answers stdout. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new NetworkError('ERR_NETWORK_COMMAND', `${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}
