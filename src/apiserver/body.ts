/**
 * Request bodies: reading with a size limit and decoding by Content-Type (JSON, YAML,
 * Kubernetes protobuf) into a plain object; and the PATCH body types.
 *
 * Bounds, as upstream: nesting deeper than 10,000 (JSON depth, go-yaml flow level and indents) is
 * a 400 found by a linear pre-scan before any recursive step runs; YAML alias expansion is bounded
 * by go-yaml's ratio. YAML is decoded in a worker thread (the parser recurses and costs far more
 * per byte than JSON.parse), so no body holds the event loop for longer than JSON.parse would.
 * Decode errors read as upstream's: an object body that does not decode is `the object provided
 * is unrecognized (must be of type Namespace): <decoder error> (<summary>)`.
 */
import { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { Worker } from 'node:worker_threads';
import { badRequest, statusError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { decodeKubeProtobuf } from '../api/protobuf.ts';
import { duplicateJsonFields } from '../api/duplicates.ts';
import { goJsonKind, goJsonSyntaxError, jsonDepthExceeded, valueDepthError } from '../api/jsonscan.ts';
import type { YamlResult } from './yamldecode.ts';

export { maxJsonDepth } from '../api/jsonscan.ts';
export { maxYamlFlowLevel, maxYamlIndents } from './yamldecode.ts';

export type Request = IncomingMessage | Http2ServerRequest;

/** Upstream's default maximum request body (3 MiB). */
export const maxBodyBytes = 3 * 1024 * 1024;

/**
 * The whole body, refused past `limit` bytes (413). Read through the stream's events: an async
 * iterator costs several promises and listeners per request on the busiest path. A request
 * closed before its end rejects.
 */
export function readBody(req: Request, limit = maxBodyBytes): Promise<Buffer> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(prematureClose());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      finish(statusError('RequestEntityTooLarge', 'Request entity too large: limit is 3145728'));
      // HTTP/1: the rest is read and dropped, the connection then carries the 413 (a destroyed
      // request would take its socket along). HTTP/2: the stream is reset, the 413 still sent.
      if (req instanceof IncomingMessage) req.resume();
      else req.destroy();
    };
    const onEnd = () => finish();
    const onClose = () => finish(prematureClose());
    // Stays after the end (finish once settled changes nothing): a later error of the stream
    // must not become an uncaught one.
    req.on('error', finish);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
}

/**
 * Keys repeated in a body, which decoding resolves to the last value: JSON repeats by path
 * (`json`), YAML repeats as upstream's YAML decoder words them (`yaml`: `line 12: key "paused"
 * already set in map`).
 */
export interface Duplicates {
  json: string[];
  yaml: string[];
}

/** How an object body is decoded: the kind it must be (for upstream's error text), and a sink for repeated keys. */
export interface DecodeOptions {
  /** The kind served at the URL (`Namespace`); errors name it as upstream does. */
  kind?: string;
  /** Repeated keys are collected here (for fieldValidation). */
  dups?: Duplicates;
}

/** The Go type upstream decodes `apiVersion`/`kind` into first (serializer/json meta.go), as Go prints it. */
const typeMetaGoType = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }';

/** Upstream's summarizeData: the first 30 bytes, as text when the body starts with `{`, else in hex. */
export function summarizeBody(body: Buffer, max = 30): string {
  if (body.length === 0) return '<empty>';
  const more = body.length > max ? ' ...' : '';
  const head = body.subarray(0, max);
  return body[0] === 0x7b ? head.toString('utf8') + more : head.toString('hex') + more;
}

/**
 * Decodes an object body. Throws 415 for unknown media types and 400 for bodies that do not
 * decode, worded as upstream's create/update handlers (`the object provided is unrecognized
 * (must be of type <kind>): ...`). Resolves after YAML bodies have been decoded off the event loop.
 */
export async function decodeObject(body: Buffer, contentType: string | undefined, opts: DecodeOptions = {}): Promise<KubeObject> {
  const type = mediaType(contentType);
  const unrecognized = (err: string): never => {
    if (!opts.kind) throw badRequest(err);
    throw badRequest(`the object provided is unrecognized (must be of type ${opts.kind}): ${err} (${summarizeBody(body)})`);
  };
  let value: unknown;
  switch (type) {
    case 'application/json':
    case '':
      value = decodeJsonText(body.toString('utf8'), opts.dups, (msg) => unrecognized(`couldn't get version/kind; json parse error: ${msg}`));
      break;
    case 'application/yaml':
    case 'application/x-yaml':
    case 'text/yaml': {
      const r = await decodeYamlOffThread(body.toString('utf8'));
      if (!r.ok) unrecognized(r.stage === 'yaml' ? `error converting YAML to JSON: ${r.message}` : `couldn't get version/kind; json parse error: ${r.message}`);
      else {
        value = JSON.parse(r.json);
        if (opts.dups) opts.dups.yaml.push(...r.duplicates);
      }
      break;
    }
    case 'application/vnd.kubernetes.protobuf':
      try {
        value = decodeKubeProtobuf(body);
      } catch (err) {
        throw badRequest(`the body of the request could not be decoded as protobuf: ${(err as Error).message}`);
      }
      {
        const tooDeep = valueDepthError(value);
        if (tooDeep) throw badRequest(`the body of the request could not be decoded as protobuf: ${tooDeep}`);
      }
      break;
    default:
      throw statusError(
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
      );
  }
  // As Go decoding `null` into a struct: nothing set.
  if (value === null) value = {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    unrecognized(`couldn't get version/kind; json parse error: json: cannot unmarshal ${goJsonKind(value)} into Go value of type ${typeMetaGoType}`);
  }
  const obj = value as KubeObject;
  for (const f of ['apiVersion', 'kind'] as const) {
    const v = obj[f];
    if (v !== undefined && v !== null && typeof v !== 'string') {
      unrecognized(`couldn't get version/kind; json parse error: json: cannot unmarshal ${goJsonKind(v)} into Go struct field .${f} of type string`);
    }
  }
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) {
    const kind = opts.kind ?? String(obj.kind ?? '');
    const version = String(obj.apiVersion ?? '').split('/').pop() ?? '';
    throw badRequest(
      `${kind} in version ${JSON.stringify(version)} cannot be handled as a ${kind}: json: cannot unmarshal ${goJsonKind(obj.metadata)} into Go struct field ${kind}.metadata of type v1.ObjectMeta`,
    );
  }
  return obj;
}

/**
 * A JSON body (patches, apply configurations, DeleteOptions) as a value. Nesting past 10,000 and
 * malformed text are 400s with Go's decoder message (`invalid character '[' exceeded max depth`).
 */
export function parseJson(body: Buffer | string, dups?: Duplicates): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  return decodeJsonText(text, dups, (msg) => {
    throw badRequest(msg);
  });
}

/** Depth pre-scan, JSON.parse, then duplicates; `fail` receives Go's message for a bad text. */
function decodeJsonText(text: string, dups: Duplicates | undefined, fail: (msg: string) => never): unknown {
  let value: unknown;
  if (jsonDepthExceeded(text)) fail(goJsonSyntaxError(text) ?? 'exceeded max depth');
  try {
    value = JSON.parse(text);
  } catch (err) {
    fail(goJsonSyntaxError(text) ?? (err as Error).message);
  }
  if (dups) dups.json.push(...duplicateJsonFields(text));
  return value;
}

/**
 * A YAML body (server-side apply) as a JSON value; repeated keys are collected into `dups` (the
 * last one wins). Errors are 400s: `error converting YAML to JSON: yaml: ...`.
 */
export async function parseYamlBody(text: string, dups?: Duplicates): Promise<unknown> {
  const r = await decodeYamlOffThread(text);
  if (!r.ok) throw badRequest(r.stage === 'yaml' ? `error converting YAML to JSON: ${r.message}` : r.message);
  if (dups) dups.yaml.push(...r.duplicates);
  return JSON.parse(r.json);
}

// ---- the YAML worker pool -------------------------------------------------------------------

/** Stack of a YAML worker: enough for the parser at upstream's 10,000 levels of nesting. */
export const yamlWorkerStackMb = 64;
/** Heap of a YAML worker: a document that needs more is refused, and only that worker restarts. */
export const yamlWorkerHeapMb = 512;
/** Workers decoding YAML at once (each decodes one body at a time; others queue). */
export const yamlWorkers = 2;

interface Job {
  id: number;
  text: string;
  resolve: (r: YamlResult) => void;
}

interface PoolWorker {
  worker: Worker;
  job: Job | undefined;
}

const pool: PoolWorker[] = [];
const waiting: Job[] = [];
let nextJob = 0;

/** Decodes one YAML document in a worker thread (see yamldecode.ts); never rejects. */
export function decodeYamlOffThread(text: string): Promise<YamlResult> {
  return new Promise((resolve) => {
    waiting.push({ id: nextJob++, text, resolve });
    dispatch();
  });
}

function dispatch(): void {
  while (waiting.length) {
    let w = pool.find((p) => !p.job);
    if (!w && pool.length < yamlWorkers) w = spawn();
    if (!w) return;
    const job = waiting.shift()!;
    w.job = job;
    w.worker.ref(); // a decode in flight keeps the process alive; an idle worker does not
    w.worker.postMessage({ id: job.id, text: job.text });
  }
}

function spawn(): PoolWorker {
  const worker = new Worker(new URL('./yaml-worker.ts', import.meta.url), {
    resourceLimits: { stackSizeMb: yamlWorkerStackMb, maxOldGenerationSizeMb: yamlWorkerHeapMb },
  });
  const p: PoolWorker = { worker, job: undefined };
  pool.push(p);
  worker.on('message', (m: { id: number; result: YamlResult }) => {
    const job = p.job;
    p.job = undefined;
    worker.unref();
    if (job && job.id === m.id) job.resolve(m.result);
    dispatch();
  });
  const gone = (err?: Error): void => {
    const i = pool.indexOf(p);
    if (i >= 0) pool.splice(i, 1);
    const job = p.job;
    p.job = undefined;
    if (job) {
      const why = err && (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'the document needs too much memory' : `decoding failed: ${err?.message ?? 'worker exited'}`;
      job.resolve({ ok: false, stage: 'yaml', message: `yaml: ${why}` });
    }
    dispatch();
  };
  worker.on('error', gone);
  worker.on('exit', () => gone());
  worker.unref(); // after the listeners, which ref it again
  return p;
}
