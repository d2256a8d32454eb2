/**
 * Response writing: the one place that turns results and errors into HTTP responses.
 * Content negotiation picks JSON (default), YAML, or a meta.k8s.io Table /
 * PartialObjectMetadata rendering from the Accept header, as kube-apiserver does.
 */
import { stringify as toYaml } from 'yaml';
import { StatusError, internalError } from '../api/errors.ts';
import type { Status } from '../api/types.ts';

/** The part of Node's HTTP/1 and HTTP/2 compatibility responses that handlers use. */
export interface Response {
  writeHead(code: number, headers?: Record<string, string>): unknown;
  write(chunk: string | Uint8Array): boolean;
  end(chunk?: string | Uint8Array): unknown;
  on(event: 'close', fn: () => void): unknown;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
}

export type OutputFormat =
  | { kind: 'json' }
  | { kind: 'yaml' }
  | { kind: 'table'; version: 'v1' | 'v1beta1' }
  | { kind: 'partial'; version: 'v1' | 'v1beta1'; list: boolean }
  | { kind: 'protobuf' };

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

function parseAccept(accept: string | undefined): MediaRange[] {
  if (!accept) return [{ type: 'application/json', params: {} }];
  const out: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [type, ...rest] = part.trim().split(';');
    if (!type) continue;
    const params: Record<string, string> = {};
    for (const p of rest) {
      const i = p.indexOf('=');
      if (i > 0) params[p.slice(0, i).trim()] = p.slice(i + 1).trim();
    }
    out.push({ type: type.trim().toLowerCase(), params });
  }
  return out;
}

/**
 * Chooses the output format for a resource response. `allowTransform` is false for requests
 * (like watch of non-table) where only the object formats apply.
 */
export function negotiate(accept: string | undefined, opts: { list: boolean }): OutputFormat | null {
  for (const m of parseAccept(accept)) {
    const as = m.params['as'];
    if (as) {
      if (m.params['g'] !== 'meta.k8s.io') continue;
      const v = m.params['v'] === 'v1beta1' ? 'v1beta1' : m.params['v'] === 'v1' ? 'v1' : null;
      if (!v) continue;
      if (as === 'Table') return { kind: 'table', version: v };
      if (as === 'PartialObjectMetadata' && !opts.list) return { kind: 'partial', version: v, list: false };
      if (as === 'PartialObjectMetadataList' && opts.list) return { kind: 'partial', version: v, list: true };
      continue;
    }
    switch (m.type) {
      case 'application/json':
      case 'application/*':
      case '*/*':
      case 'application/json-patch+json':
      case 'application/merge-patch+json':
        return { kind: 'json' };
      case 'application/yaml':
        return { kind: 'yaml' };
      case 'application/vnd.kubernetes.protobuf':
        continue; // we answer JSON where the client accepts it
    }
  }
  return null;
}

const jsonType = 'application/json';

export function writeJsonString(res: Response, code: number, body: string, headers?: Record<string, string>): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { 'content-type': jsonType, ...headers });
  res.end(body);
}

export function writeObject(res: Response, code: number, obj: unknown, format: OutputFormat = { kind: 'json' }, headers?: Record<string, string>): void {
  if (format.kind === 'yaml') {
    if (res.headersSent) return void res.end();
    res.writeHead(code, { 'content-type': 'application/yaml', ...headers });
    res.end(toYaml(obj));
    return;
  }
  writeJsonString(res, code, JSON.stringify(obj), headers);
}

/** Writes an error as a metav1.Status; unknown errors become 500 InternalError. */
export function writeError(res: Response, err: unknown): void {
  const se = err instanceof StatusError ? err : internalError(err);
  if (!(err instanceof StatusError)) console.error('internal error:', err);
  const headers: Record<string, string> = {};
  const retry = se.status.details?.retryAfterSeconds;
  if (retry) headers['retry-after'] = String(retry);
  writeJsonString(res, se.status.code, JSON.stringify(se.status), headers);
}

export function successStatus(details?: Status['details']): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 };
  if (details) s.details = details;
  return s;
}
