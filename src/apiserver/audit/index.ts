/**
 * Audit logging, the component's entry (upstream's WithAudit filter with a policy checker and the
 * log backend): `createAuditor` reads the policy (--audit-policy-file) and opens the log
 * (--audit-log-path and its rotation flags); per request, `begin` evaluates the policy and, unless
 * the level is None (then it returns null and the request pays nothing more), records the
 * RequestReceived stage at once and returns a recorder for the rest of the request:
 *
 *   const rec = auditor.begin(info);                       // after authentication, before impersonation/authorization
 *   rec?.impersonated(user); rec?.authorized(d.decision, d.reason);
 *   rec?.requestObject(obj);                               // the decoded body (Metadata fills objectRef; Request+ logs it)
 *   rec?.responseStarted(code);                            // when headers go out (emitted for long-running requests only)
 *   rec?.end({ code, status, responseJson });              // ResponseComplete; or rec.panic(err)
 *
 * `auditedResponse(res, rec)` does the response half (responseStarted, end, the Audit-Id header)
 * for handlers that write through respond.ts's Response.
 *
 * Stages in the policy's omitStages are not written. Each stage is encoded when it happens (later
 * changes do not alter lines already queued). Lines go to the buffered writer of log.ts, which
 * never makes a request wait (see its comment for the drop policy). Recorders are not shared
 * between requests; `end` and `panic` are idempotent (the first one wins).
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject, Status, UserInfo } from '../../api/types.ts';
import { BosunError } from '../../util/errors.ts';
import { levelAtLeast, loadPolicyFile, newPolicyChecker, type Level, type Policy, type PolicyChecker, type RequestAuditConfig, type Stage } from './policy.ts';
import {
  annotate,
  auditUser,
  authorizationDecisionAnnotation,
  authorizationReasonAnnotation,
  compactJson,
  encodeEvent,
  eventString,
  microTime,
  newEvent,
  responseStatus,
  withoutManagedFields,
  type AuditEvent,
  type AuditRequestInfo,
  type RawObjects,
} from './events.ts';
import { AuditLogWriter, validateAuditLogOptions, type AuditLogStats } from './log.ts';
import type { Response } from '../respond.ts';

export type { AuditEvent, AuditRequestInfo, ObjectReference, ResponseStatus, AuditUser } from './events.ts';
export { encodeEvent, eventString, microTime, sourceIPs, truncateUserAgent } from './events.ts';
export type { Level, Stage, Policy, PolicyRule, PolicyAttributes, RequestAuditConfig, PolicyChecker } from './policy.ts';
export { parsePolicy, loadPolicyFile, newPolicyChecker } from './policy.ts';
export { AuditLogWriter, type AuditLogOptions, type AuditLogStats } from './log.ts';

export const auditFormats = ['legacy', 'json'] as const;
export type AuditFormat = (typeof auditFormats)[number];

export interface AuditorOptions {
  /** The policy file (--audit-policy-file); or give `policy` already parsed. */
  policyFile?: string;
  policy?: Policy;
  /** --audit-log-path; `-` is standard output. */
  logPath: string;
  /** --audit-log-maxsize (MB; 0: lumberjack's 100). */
  maxSizeMb?: number;
  /** --audit-log-maxbackup (0: keep all). */
  maxBackups?: number;
  /** --audit-log-maxage (days; 0: no limit). */
  maxAgeDays?: number;
  /** --audit-log-format; default json. */
  format?: AuditFormat;
  /** Queue bounds of the writer (log.ts defaults). */
  bufferSize?: number;
  maxBufferedChars?: number;
  /** Epoch milliseconds with fractions (microseconds); default performance.timeOrigin + performance.now(). */
  clock?: () => number;
  /** Told of write failures (the request is never failed for them). */
  onError?: (err: Error) => void;
  stdout?: { write(chunk: string): unknown };
}

export interface AuditorStats extends AuditLogStats {
  /** Events encoded and queued, by stage. */
  events: number;
}

/** The end of a request as the response writer saw it. */
export interface AuditResponse {
  /** The HTTP status code written. */
  code: number;
  /** The Status written for an error (or a Status success body): its bounded fields go to responseStatus. */
  status?: Status;
  /** The response object (RequestResponse level); default the `status`. */
  responseObject?: unknown;
  /** Or the response's JSON text as sent (application/json only), spliced in without re-serializing. */
  responseJson?: string;
}

export interface AuditRecorder {
  readonly auditID: string;
  readonly level: Level;
  /** Adds an annotation (first value of a key wins), e.g. admission's `<plugin>/<key>`. */
  annotate(key: string, value: string): void;
  /** Adds every entry (admission attributes' auditAnnotations). */
  annotateAll(annotations: Readonly<Record<string, string>> | undefined): void;
  /** The authorization filter's annotations: decision `allow` (for allow) or `forbid`, and the reason. */
  authorized(decision: 'allow' | 'deny' | 'noopinion', reason: string): void;
  /** The user the request acts as after impersonation. */
  impersonated(user: UserInfo): void;
  /** The decoded request object (create, update, delete options...); objectRef gains its name, uid and resourceVersion when the URL lacked them. */
  requestObject(obj: unknown): void;
  /** A patch body as received (JSON); logged at Request and above. */
  requestPatch(text: string): void;
  /** Response headers written: records the code; writes ResponseStarted for long-running requests. */
  responseStarted(code: number): void;
  /** ResponseComplete. Without an argument: the connection closed before anything was written (200, "Connection closed early"). */
  end(res?: AuditResponse): void;
  /** The handler failed unexpectedly: the Panic stage with a 500 status. */
  panic(err: unknown): void;
}

export interface Auditor {
  readonly checker: PolicyChecker;
  /** Evaluates the policy for a request; null when its level is None. Writes RequestReceived. */
  begin(info: AuditRequestInfo): AuditRecorder | null;
  /** Writes one event as given (e.g. for failed authentication); false when dropped. */
  event(ev: AuditEvent): boolean;
  readonly stats: AuditorStats;
  /** Resolves once everything queued so far is written. */
  flush(): Promise<void>;
  /** Writes out the queue and closes the file. */
  close(): Promise<void>;
}

const defaultClock = () => performance.timeOrigin + performance.now();

/**
 * Builds the auditor. Throws a BosunError (ERR_INVALID_CONFIG) for a missing or invalid policy
 * (`loading audit policy file: ...`), negative rotation numbers or an unknown format, with
 * upstream's messages. The log file is opened at the first event.
 */
export function createAuditor(opts: AuditorOptions): Auditor {
  const errs = validateAuditLogOptions(opts);
  const format = opts.format ?? 'json';
  if (!auditFormats.includes(format)) errs.push(`invalid audit log format ${format}, allowed formats are "${auditFormats.join(',')}"`);
  if (!opts.logPath) errs.push('--audit-log-path is required for the audit log');
  if (errs.length) throw new BosunError('ERR_INVALID_CONFIG', errs.join('; '));
  let policy = opts.policy;
  if (!policy) {
    try {
      policy = loadPolicyFile(opts.policyFile ?? '');
    } catch (err) {
      throw new BosunError('ERR_INVALID_CONFIG', `loading audit policy file: ${(err as Error).message}`);
    }
  }
  const checker = newPolicyChecker(policy);
  const clock = opts.clock ?? defaultClock;
  const writer = new AuditLogWriter({
    path: opts.logPath,
    maxSizeMb: opts.maxSizeMb,
    maxBackups: opts.maxBackups,
    maxAgeDays: opts.maxAgeDays,
    bufferSize: opts.bufferSize,
    maxBufferedChars: opts.maxBufferedChars,
    clock,
    onError: opts.onError,
    stdout: opts.stdout,
  });
  let events = 0;
  const write = (ev: AuditEvent, raw?: RawObjects): boolean => {
    events++;
    return writer.write(format === 'json' ? encodeEvent(ev, raw) : eventString(ev));
  };
  return {
    checker,
    begin(info) {
      const cfg = checker.policyFor(info);
      if (cfg.level === 'None') return null;
      return new Recorder(info, cfg, clock, write);
    },
    event: (ev) => write(ev),
    get stats() {
      return { ...writer.stats, events };
    },
    flush: () => writer.flush(),
    close: () => writer.close(),
  };
}

class Recorder implements AuditRecorder {
  readonly auditID: string;
  readonly level: Level;
  #ev: AuditEvent;
  #cfg: RequestAuditConfig;
  #clock: () => number;
  #write: (ev: AuditEvent, raw?: RawObjects) => boolean;
  #raw: RawObjects = {};
  #longRunning: boolean;
  #started = false;
  #done = false;

  constructor(info: AuditRequestInfo, cfg: RequestAuditConfig, clock: () => number, write: (ev: AuditEvent, raw?: RawObjects) => boolean) {
    this.auditID = info.auditID || randomUUID();
    this.level = cfg.level;
    this.#cfg = cfg;
    this.#clock = clock;
    this.#write = write;
    this.#longRunning = info.longRunning ?? false;
    this.#ev = newEvent(info, cfg.level, this.auditID, info.receivedAt ?? clock());
    this.#emit('RequestReceived');
  }

  #emit(stage: Stage): void {
    if (this.#cfg.omitStages.includes(stage)) return;
    const ev = this.#ev;
    ev.stage = stage;
    ev.stageTimestamp = stage === 'RequestReceived' ? ev.requestReceivedTimestamp : microTime(this.#clock());
    this.#write(ev, this.#raw);
  }

  #objectJson(obj: unknown): string {
    return JSON.stringify(this.#cfg.omitManagedFields ? withoutManagedFields(obj) : obj);
  }

  annotate(key: string, value: string): void {
    annotate(this.#ev, key, value);
  }

  annotateAll(annotations: Readonly<Record<string, string>> | undefined): void {
    if (annotations) for (const [k, v] of Object.entries(annotations)) annotate(this.#ev, k, v);
  }

  authorized(decision: 'allow' | 'deny' | 'noopinion', reason: string): void {
    annotate(this.#ev, authorizationDecisionAnnotation, decision === 'allow' ? 'allow' : 'forbid');
    annotate(this.#ev, authorizationReasonAnnotation, reason);
  }

  impersonated(user: UserInfo): void {
    this.#ev.impersonatedUser = auditUser(user);
  }

  requestObject(obj: unknown): void {
    if (obj === undefined || obj === null) return;
    const meta = (obj as Partial<KubeObject>).metadata;
    const ref = this.#ev.objectRef;
    if (ref && meta && typeof meta === 'object') {
      if (!ref.namespace && meta.namespace) ref.namespace = meta.namespace;
      if (!ref.name && meta.name) ref.name = meta.name;
      if (!ref.uid && meta.uid) ref.uid = meta.uid;
      if (!ref.resourceVersion && meta.resourceVersion) ref.resourceVersion = meta.resourceVersion;
    }
    if (levelAtLeast(this.level, 'Request')) this.#raw.requestObject = this.#objectJson(obj);
  }

  requestPatch(text: string): void {
    if (!levelAtLeast(this.level, 'Request')) return;
    const json = compactJson(text);
    if (json !== undefined) this.#raw.requestObject = json;
  }

  responseStarted(code: number): void {
    if (this.#started || this.#done) return;
    this.#started = true;
    this.#ev.responseStatus = { ...(this.#ev.responseStatus ?? { metadata: {} }), code };
    if (this.#longRunning) this.#emit('ResponseStarted');
  }

  end(res?: AuditResponse): void {
    if (this.#done) return;
    if (!res) {
      const faked = { metadata: {}, status: 'Success', message: 'Connection closed early', code: 200 } as const;
      if (!this.#ev.responseStatus && this.#longRunning) {
        this.#ev.responseStatus = { ...faked };
        this.#started = true;
        this.#emit('ResponseStarted');
      }
      this.#ev.responseStatus ??= { ...faked };
    } else {
      if (!this.#started) this.responseStarted(res.code);
      this.#ev.responseStatus = responseStatus(res.code, res.status);
      if (levelAtLeast(this.level, 'RequestResponse')) {
        const json = res.responseJson !== undefined ? compactJson(res.responseJson) : undefined;
        if (json !== undefined && !(this.#cfg.omitManagedFields && json.includes('"managedFields"'))) this.#raw.responseObject = json;
        else if (json !== undefined) this.#raw.responseObject = this.#objectJson(JSON.parse(json));
        else if ((res.responseObject ?? res.status) !== undefined) this.#raw.responseObject = this.#objectJson(res.responseObject ?? res.status);
      }
    }
    this.#done = true;
    this.#emit('ResponseComplete');
  }

  panic(err: unknown): void {
    if (this.#done) return;
    this.#done = true;
    const msg = err instanceof Error ? err.message : String(err);
    this.#ev.responseStatus = { metadata: {}, status: 'Failure', message: `APIServer panic'd: ${msg}`, reason: 'InternalError', code: 500 };
    this.#emit('Panic');
  }
}

/** The response as the server's handlers use it (respond.ts), with the optional flush gzipResponse adds. */
type Flushable = Response & { flushHeaders?: () => void };

/**
 * Wraps a response so that `rec` follows it (upstream's auditResponseWriter): `writeHead` records
 * the code (ResponseStarted for long-running requests) and adds the `Audit-Id` header; `end`
 * records ResponseComplete with the code and, for a Status body (errors, delete's Status), its
 * fields — parsed only then — and at RequestResponse the JSON body as sent (a body that is not
 * JSON text, such as protobuf or YAML, is left out). A response closed before `end` records
 * ResponseComplete on close ("Connection closed early" when nothing was written). Wrap outside
 * gzipResponse so the body is seen uncompressed.
 */
export function auditedResponse(res: Flushable, rec: AuditRecorder): Flushable & { flushHeaders(): void } {
  let code = 0;
  let ended = false;
  const started = (c: number) => {
    if (code) return;
    code = c;
    rec.responseStarted(c);
  };
  res.on('close', () => {
    if (ended) return;
    ended = true;
    rec.end(code ? { code } : undefined);
  });
  return {
    writeHead(c: number, headers?: Record<string, string>) {
      started(c);
      return res.writeHead(c, { ...headers, 'audit-id': rec.auditID });
    },
    write(chunk: string | Uint8Array) {
      started(200);
      return res.write(chunk);
    },
    flushHeaders() {
      res.flushHeaders?.();
    },
    end(chunk?: string | Uint8Array) {
      started(200);
      const out = res.end(chunk);
      if (!ended) {
        ended = true;
        rec.end(responseOf(code, chunk, rec.level));
      }
      return out;
    },
    on(event: 'close', fn: () => void) {
      return res.on(event, fn);
    },
    get headersSent() {
      return res.headersSent;
    },
    get writableEnded() {
      return res.writableEnded;
    },
  };
}

const statusPrefix = '{"kind":"Status"';

/** What the recorder needs from a body written whole: a Status's fields; JSON text at RequestResponse. */
function responseOf(code: number, chunk: string | Uint8Array | undefined, level: Level): AuditResponse {
  if (chunk === undefined || chunk.length === 0) return { code };
  const isJson = typeof chunk === 'string' ? chunk.startsWith('{') || chunk.startsWith('[') : chunk[0] === 0x7b || chunk[0] === 0x5b;
  if (!isJson) return { code };
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
  const out: AuditResponse = { code };
  if (text.startsWith(statusPrefix)) {
    try {
      out.status = JSON.parse(text) as Status;
    } catch {
      // not a whole Status: the code alone
    }
  }
  if (levelAtLeast(level, 'RequestResponse')) out.responseJson = text;
  return out;
}
