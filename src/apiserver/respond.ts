/**
 * Response writing: the one place that turns results and errors into HTTP responses.
 * Content negotiation picks JSON (default), YAML, or a meta.k8s.io Table /
 * PartialObjectMetadata rendering from the Accept header, as kube-apiserver does.
 */
import { stringify as toYaml } from 'yaml';
import { StatusError, internalError } from '../api/errors.ts';
import type { Status } from '../api/types.ts';
import { canonical } from '../api/schema/canonical.ts';

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

const goEscaped = /[<>&\u2028\u2029]/;
const goEscapes: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/**
 * JSON text as Go's encoding/json writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped (they
 * only ever occur inside strings of JSON.stringify's output, so the text can be rewritten as a
 * whole; a scan finds none in the usual body at well under 1 ms per 5 MB).
 */
export function goJson(text: string): string {
  return goEscaped.test(text) ? text.replace(/[<>&\u2028\u2029]/g, (c) => goEscapes[c]!) : text;
}

/**
 * strconv.ParseBool, which upstream uses for `pretty` alone (not the parameter codec's rule of
 * ./params.ts): 1 t T TRUE true True are true, anything else false.
 */
function parseGoBool(v: string): boolean {
  return v === '1' || v === 't' || v === 'T' || v === 'TRUE' || v === 'true' || v === 'True';
}

/**
 * Whether the response is pretty-printed, as upstream decides: the `pretty` query parameter when
 * given and non-empty, else a human client's User-Agent (curl, Wget, browsers).
 */
export function wantsPretty(req: { url?: string; headers?: Record<string, unknown> } | undefined): boolean {
  if (!req) return false;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q >= 0 && url.includes('pretty', q)) {
    const v = new URLSearchParams(url.slice(q + 1)).get('pretty');
    if (v) return parseGoBool(v);
  }
  const ua = req.headers?.['user-agent'];
  return typeof ua === 'string' && (ua.startsWith('curl') || ua.startsWith('Wget') || ua.startsWith('Mozilla/5.0'));
}

/** The request a Node response answers (HTTP/1 and HTTP/2 compatibility responses both carry it). */
function requestOf(res: Response): { url?: string; headers?: Record<string, unknown> } | undefined {
  return (res as { req?: { url?: string; headers?: Record<string, unknown> } }).req;
}

/**
 * Writes a JSON body as upstream's serializer does: Go's escaping, and a final newline
 * (json.Encoder) — or, for a pretty request, indented by two spaces without the newline
 * (json.MarshalIndent).
 */
export function writeJsonString(res: Response, code: number, body: string, headers?: Record<string, string>): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { 'content-type': jsonType, ...headers });
  if (wantsPretty(requestOf(res))) res.end(goJson(JSON.stringify(JSON.parse(body), null, 2)));
  else res.end(`${goJson(body)}\n`);
}

/**
 * Writes a non-API object as upstream's WriteRawJSON does (/version, the root path list):
 * always indented by two spaces, no final newline, whatever the request asks.
 */
export function writeRawJson(res: Response, code: number, obj: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(code, { 'content-type': jsonType });
  res.end(goJson(JSON.stringify(obj, null, 2)));
}

/**
 * Writes an object as JSON (in the key order it has: API objects are made canonical by the
 * caller, see api/schema/canonical.ts) or YAML. YAML is written as upstream's does it (JSON
 * converted to YAML, which sorts every map's keys).
 */
export function writeObject(res: Response, code: number, obj: unknown, format: OutputFormat = { kind: 'json' }, headers?: Record<string, string>): void {
  if (format.kind === 'yaml') {
    if (res.headersSent) return void res.end();
    res.writeHead(code, { 'content-type': 'application/yaml', ...headers });
    res.end(toYaml(obj, { sortMapEntries: true }));
    return;
  }
  writeJsonString(res, code, JSON.stringify(obj), headers);
}

/** Writes an error as a metav1.Status (in Go's field order); unknown errors become 500 InternalError. */
export function writeError(res: Response, err: unknown): void {
  const se = err instanceof StatusError ? err : internalError(err);
  if (!(err instanceof StatusError)) console.error('internal error:', err);
  const headers: Record<string, string> = {};
  const retry = se.status.details?.retryAfterSeconds;
  if (retry) headers['retry-after'] = String(retry);
  writeJsonString(res, se.status.code, JSON.stringify(canonical(se.status as unknown as Record<string, unknown>)), headers);
}

/** A success Status in Go's field order (details before code). */
export function successStatus(details?: Status['details'], code = 200): Status {
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' } as Status;
  if (details) s.details = details;
  s.code = code;
  return s;
}
