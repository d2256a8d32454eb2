/**
 * The connect subresources' options, decoded from the query as upstream's parameter codec does
 * (PodLogOptions, PodExecOptions, PodAttachOptions, PodPortForwardOptions), validated as
 * upstream validates them, and turned into the kubelet's query; and the container a request
 * addresses, chosen and checked as upstream's pod strategy does (pkg/registry/core/pod/strategy.go).
 * Pure functions: they throw StatusErrors with upstream's wording, no I/O.
 */
import { badRequest, invalid } from '../../api/errors.ts';
import type { Pod } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import type { RequestInfo } from '../requestinfo.ts';
import { boolParam, int64Param } from '../params.ts';

export interface LogOptions {
  container: string;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  sinceSeconds?: number;
  /** RFC 3339, as given (validated). */
  sinceTime?: string;
  tailLines?: number;
  limitBytes?: number;
  insecureSkipTLSVerifyBackend: boolean;
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Decodes PodLogOptions (400 for values the codec cannot parse), then validates them (422). */
export function logOptions(q: URLSearchParams, podName: string): LogOptions {
  const sinceTime = q.get('sinceTime') || undefined;
  if (sinceTime !== undefined && (!rfc3339.test(sinceTime) || Number.isNaN(Date.parse(sinceTime)))) {
    throw badRequest(`parsing time ${JSON.stringify(sinceTime)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(sinceTime)} as "2006"`);
  }
  const opts: LogOptions = {
    container: q.get('container') ?? '',
    follow: boolParam(q, 'follow') ?? false,
    previous: boolParam(q, 'previous') ?? false,
    timestamps: boolParam(q, 'timestamps') ?? false,
    sinceSeconds: int64Param(q, 'sinceSeconds'),
    sinceTime,
    tailLines: int64Param(q, 'tailLines'),
    limitBytes: int64Param(q, 'limitBytes'),
    insecureSkipTLSVerifyBackend: boolParam(q, 'insecureSkipTLSVerifyBackend') ?? false,
  };
  const causes = [];
  if (opts.tailLines !== undefined && opts.tailLines < 0) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${opts.tailLines}: must be greater than or equal to 0`, field: 'tailLines' });
  }
  if (opts.limitBytes !== undefined && opts.limitBytes < 1) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${opts.limitBytes}: must be greater than 0`, field: 'limitBytes' });
  }
  if (opts.sinceSeconds !== undefined && opts.sinceTime !== undefined) {
    causes.push({ reason: 'FieldValueForbidden', message: 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified', field: '[]' });
  } else if (opts.sinceSeconds !== undefined && opts.sinceSeconds < 1) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${opts.sinceSeconds}: must be greater than 0`, field: 'sinceSeconds' });
  }
  if (causes.length) throw invalid({ group: '', kind: 'PodLogOptions' }, podName, causes);
  return opts;
}

/** The kubelet's /containerLogs query for these options (upstream LogLocation's, keys sorted). */
export function logQuery(o: LogOptions): string {
  const p: [string, string][] = [];
  if (o.follow) p.push(['follow', 'true']);
  if (o.limitBytes !== undefined) p.push(['limitBytes', String(o.limitBytes)]);
  if (o.previous) p.push(['previous', 'true']);
  if (o.sinceSeconds !== undefined) p.push(['sinceSeconds', String(o.sinceSeconds)]);
  if (o.sinceTime !== undefined) p.push(['sinceTime', new Date(Date.parse(o.sinceTime)).toISOString().replace(/\.\d{3}Z$/, 'Z')]);
  if (o.tailLines !== undefined) p.push(['tailLines', String(o.tailLines)]);
  if (o.timestamps) p.push(['timestamps', 'true']);
  return new URLSearchParams(p).toString();
}

export interface StreamOptions {
  container: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** exec only. */
  command: string[];
}

/** Decodes PodExecOptions (`exec`) or PodAttachOptions (`attach`). */
export function streamOptions(q: URLSearchParams, kind: 'exec' | 'attach'): StreamOptions {
  return {
    container: q.get('container') ?? '',
    stdin: boolParam(q, 'stdin') ?? false,
    stdout: boolParam(q, 'stdout') ?? false,
    stderr: boolParam(q, 'stderr') ?? false,
    tty: boolParam(q, 'tty') ?? false,
    command: kind === 'exec' ? q.getAll('command') : [],
  };
}

/** The kubelet's query for exec/attach (upstream streamParams: input/output/error/tty = 1, command…). */
export function streamQuery(o: StreamOptions): string {
  const p: [string, string][] = [];
  for (const c of o.command) p.push(['command', c]);
  if (o.stderr) p.push(['error', '1']);
  if (o.stdin) p.push(['input', '1']);
  if (o.stdout) p.push(['output', '1']);
  if (o.tty) p.push(['tty', '1']);
  return new URLSearchParams(p).toString();
}

/** Decodes PodPortForwardOptions' `ports` (each value may hold several, comma-separated). */
export function portForwardPorts(q: URLSearchParams): number[] {
  const out: number[] = [];
  for (const v of q.getAll('ports')) {
    for (const s of v.split(',')) {
      const t = s.trim();
      if (!/^[+-]?\d+$/.test(t) || Number(t) > 2147483647 || Number(t) < -2147483648) {
        throw badRequest(`ports: invalid value ${JSON.stringify(t)}: strconv.ParseInt: parsing ${JSON.stringify(t)}: invalid syntax`);
      }
      out.push(Number(t));
    }
  }
  return out;
}

/** The kubelet's query for port-forward: `port=80,443` when ports were given. */
export function portForwardQuery(ports: readonly number[]): string {
  return ports.length ? new URLSearchParams([['port', ports.join(',')]]).toString() : '';
}

/** Every container name of the pod: init containers, containers, ephemeral containers. */
function containerNames(pod: Pod): string[] {
  const s = pod.spec;
  return [...(s?.initContainers ?? []), ...(s?.containers ?? []), ...(s?.ephemeralContainers ?? [])].map((c) => c.name);
}

/**
 * The container a request addresses (upstream validateContainer): the one given, which must
 * exist; else the only container; else 400 naming the choices.
 */
export function chooseContainer(pod: Pod, container: string): string {
  const name = pod.metadata.name ?? '';
  if (!container) {
    const containers = pod.spec?.containers ?? [];
    if (containers.length === 1) return containers[0]!.name;
    if (containers.length === 0) throw badRequest(`a container name must be specified for pod ${name}`);
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containerNames(pod).join(' ')}]`);
  }
  if (!containerNames(pod).includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  return container;
}

/**
 * The options object a connect request is admitted with (operation CONNECT), as upstream hands
 * admission the decoded PodExecOptions, PodAttachOptions, PodPortForwardOptions or
 * NodeProxyOptions. Lenient: values that do not decode are left out (the handler reports them).
 */
export function connectOptions(info: RequestInfo, q: URLSearchParams): KubeObject {
  const base = { apiVersion: 'v1', metadata: {} };
  switch (info.subresource) {
    case 'exec':
    case 'attach': {
      const o = streamOptions(q, info.subresource);
      const { command, ...rest } = o;
      return { ...base, kind: info.subresource === 'exec' ? 'PodExecOptions' : 'PodAttachOptions', ...rest, ...(info.subresource === 'exec' ? { command } : {}) };
    }
    case 'portforward': {
      let ports: number[] = [];
      try {
        ports = portForwardPorts(q);
      } catch {
        // reported by the handler
      }
      return { ...base, kind: 'PodPortForwardOptions', ports };
    }
    default:
      return { ...base, kind: `${info.resource === 'nodes' ? 'Node' : info.resource === 'services' ? 'Service' : 'Pod'}ProxyOptions`, path: info.parts.slice(3).join('/') };
  }
}
