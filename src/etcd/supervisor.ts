/**
 * The server side of joining and snapshots: k3s's supervisor endpoints (pkg/server/router.go,
 * pkg/etcd/snapshot_handler.go), served by the API server before authentication for its own
 * paths. Every path authenticates with the server token as HTTP basic auth `server:<password>`
 * (compared in constant time); anything else is 401 with a `WWW-Authenticate: Basic` challenge.
 *
 *   GET  /v1-bosun/server-bootstrap  the bootstrap data (bootstrap.ts), encrypted with the token
 *                                    password: application/octet-stream
 *   POST /v1-bosun/etcd/members      `{ "name", "peerURL" }` (≤ 4 KiB): adds an etcd member and
 *                                    answers `{ "members": [MemberInfo] }` (cluster.ts: id, name,
 *                                    peerURLs, clientURLs, isLearner; the new member's name is ''
 *                                    until it starts), from which the joiner builds
 *                                    --initial-cluster with cluster.ts's initialClusterFor
 *   GET  /db/snapshot                `{ "items": [SnapshotInfo] }`
 *   POST /db/snapshot                k3s's SnapshotRequest `{ "operation": "save"|"list"|"prune"|
 *                                    "delete", "name": [..], "retention": N }` (≤ 64 KiB); save,
 *                                    prune and delete answer k3s's SnapshotResult
 *                                    `{ "created": [SnapshotInfo], "deleted": [names] }`
 *
 * Errors are metav1.Status JSON with their code (400 bad body, 401, 405 other methods, 409 a
 * save already running, 413 body too large, 500 failures, 504 body not received in time).
 * Bounds: request bodies are read for at most `bodyTimeoutMs`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from '../apiserver/body.ts';
import { writeError, writeJsonString, type Response } from '../apiserver/respond.ts';
import { badRequest, isStatusError, methodNotAllowed, statusError, unauthorized } from '../api/errors.ts';
import { encryptBootstrap, readBootstrapFiles } from './bootstrap.ts';
import { checkSnapshotName, defaultSnapshotRetention, deleteSnapshots, listSnapshots as listSnapshotFiles, onDemandSnapshotName, pruneSnapshots, type SnapshotInfo } from './snapshot.ts';
import { serverTokenUser, tokenPassword } from './token.ts';
import type { MemberInfo } from './cluster.ts';

export const bootstrapPath = '/v1-bosun/server-bootstrap';
export const membersPath = '/v1-bosun/etcd/members';
export const snapshotPath = '/db/snapshot';
/** Most a member-add request body may weigh. */
export const maxMemberBodyBytes = 4 * 1024;
/** Most a snapshot request body may weigh. */
export const maxSnapshotBodyBytes = 64 * 1024;
/** How long a request body may take to arrive. */
export const bodyTimeoutMs = 10_000;

/** What the member manager answers for each member (src/etcd/cluster.ts's MemberInfo fits). */
export type MemberListEntry = Pick<MemberInfo, 'name' | 'peerURLs'> & Partial<MemberInfo>;

/** A member as sent to the joiner: cluster.ts's MemberInfo, every field present. */
export function memberOnWire(m: MemberListEntry): MemberInfo {
  return { id: String(m.id ?? ''), name: String(m.name ?? ''), peerURLs: [...(m.peerURLs ?? [])].map(String), clientURLs: [...(m.clientURLs ?? [])].map(String), isLearner: Boolean(m.isLearner) };
}

export interface SupervisorDeps {
  dataDir: string;
  /** The current server token (full or bare; its password is what clients must present). */
  serverToken: () => string;
  /** The embedded etcd member manager; absent: member add answers 400. */
  etcd?: { addMember(name: string, peerURL: string): Promise<MemberListEntry[]> };
  /** Saves a snapshot (saveSnapshot bound to the store); absent: save answers 400. */
  snapshot?: (name?: string) => Promise<SnapshotInfo>;
  /** Lists snapshots; default: the files in the data dir's snapshot directory. */
  listSnapshots?: () => Promise<SnapshotInfo[]>;
  /** Deletes snapshots by name, answering those deleted; default: from the snapshot directory. */
  deleteSnapshots?: (names: string[]) => Promise<string[]>;
  /** Applies retention to one name prefix, answering those deleted; default: the snapshot directory. */
  pruneSnapshots?: (retention: number, name: string) => Promise<string[]>;
  log?: (msg: string) => void;
}

export type SupervisorHandler = (req: Request, res: Response, path: string) => Promise<boolean>;

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Whether the request carries `server:<password>` basic credentials. */
export function hasServerCredentials(authorization: string | string[] | undefined, token: string): boolean {
  const h = Array.isArray(authorization) ? authorization[0] : authorization;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h ?? '');
  if (!m) return false;
  let password: string;
  try {
    password = tokenPassword(token);
  } catch {
    return false;
  }
  const got = Buffer.from(m[1]!, 'base64').toString('utf8');
  return timingSafeEqual(sha(got), sha(`${serverTokenUser}:${password}`));
}

/** Reads a body of at most `limit` bytes within `timeoutMs`. */
export async function readBoundedBody(req: Request, limit: number, timeoutMs = bodyTimeoutMs): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw statusError('RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', finish);
      if (err) {
        req.resume();
        reject(err);
      } else resolve(Buffer.concat(chunks));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) finish(statusError('RequestEntityTooLarge', `Request entity too large: limit is ${limit}`));
      else chunks.push(c);
    };
    const onEnd = () => finish();
    const timer = setTimeout(() => finish(statusError('Timeout', `the request body was not received within ${timeoutMs / 1000}s`)), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', finish);
  });
}

function parseJsonBody(body: Buffer): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badRequest(`invalid JSON body: ${(err as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('the body must be a JSON object');
  return v as Record<string, unknown>;
}

function writeJson(res: Response, code: number, obj: unknown): void {
  writeJsonString(res, code, JSON.stringify(obj));
}

/** Validates a member add request. */
export function checkMemberRequest(v: Record<string, unknown>): { name: string; peerURL: string } {
  const { name, peerURL } = v;
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) throw badRequest('name: a member name must be a lowercase RFC 1123 subdomain');
  if (typeof peerURL !== 'string') throw badRequest('peerURL: Required value');
  let u: URL;
  try {
    u = new URL(peerURL);
  } catch {
    throw badRequest(`peerURL: Invalid value: ${JSON.stringify(peerURL)}: not a URL`);
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || !u.port || u.pathname !== '/' || u.search || u.username) {
    throw badRequest(`peerURL: Invalid value: ${JSON.stringify(peerURL)}: want https://HOST:PORT`);
  }
  return { name, peerURL: `${u.protocol}//${u.host}` };
}

/** Builds the handler (see the file comment). Concurrent requests are independent. */
export function supervisorHandler(deps: SupervisorDeps): SupervisorHandler {
  const log = deps.log ?? (() => {});
  const list = deps.listSnapshots ?? (() => listSnapshotFiles(deps.dataDir));
  const del = deps.deleteSnapshots ?? ((names: string[]) => deleteSnapshots(deps.dataDir, names));
  const prune = deps.pruneSnapshots ?? ((retention: number, name: string) => pruneSnapshots(deps.dataDir, retention, { name }));
  let saving = false;

  async function snapshotOp(req: Request, res: Response): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'GET') return writeJson(res, 200, { items: await list() });
    if (method !== 'POST') throw methodNotAllowed(method, { group: 'bosun.io', resource: 'snapshot' });
    const body = parseJsonBody(await readBoundedBody(req, maxSnapshotBodyBytes));
    const names = body['name'] === undefined ? [] : body['name'];
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw badRequest('name: must be a list of strings');
    const retention = body['retention'];
    if (retention !== undefined && (typeof retention !== 'number' || !Number.isInteger(retention))) throw badRequest('retention: must be an integer');
    for (const n of names as string[]) {
      try {
        checkSnapshotName(n);
      } catch (err) {
        throw badRequest((err as Error).message);
      }
    }
    switch (body['operation']) {
      case 'list':
        return writeJson(res, 200, { items: await list() });
      case 'save': {
        if (!deps.snapshot) throw badRequest('this server cannot take snapshots of its datastore');
        if (saving) throw statusError('Conflict', 'snapshot save already in progress');
        saving = true;
        try {
          const info = await deps.snapshot(names[0] as string | undefined);
          log(`etcd-snapshot: saved ${info.name} (${info.size} bytes)`);
          return writeJson(res, 200, { created: [info], deleted: [] });
        } finally {
          saving = false;
        }
      }
      case 'delete': {
        if (!names.length) throw badRequest('no snapshots given for removal');
        const deleted = await del(names as string[]);
        log(`etcd-snapshot: deleted ${deleted.join(', ') || 'nothing'}`);
        return writeJson(res, 200, { created: [], deleted });
      }
      case 'prune': {
        const deleted = await prune((retention as number | undefined) ?? defaultSnapshotRetention, (names[0] as string | undefined) ?? onDemandSnapshotName);
        log(`etcd-snapshot: pruned ${deleted.join(', ') || 'nothing'}`);
        return writeJson(res, 200, { created: [], deleted });
      }
      default:
        throw badRequest('invalid snapshot operation');
    }
  }

  return async (req, res, path) => {
    if (path !== bootstrapPath && path !== membersPath && path !== snapshotPath) return false;
    try {
      if (!hasServerCredentials(req.headers['authorization'], deps.serverToken())) {
        req.resume();
        const e = unauthorized();
        writeJsonString(res, e.code, JSON.stringify(e.status), { 'www-authenticate': 'Basic realm="bosun"' });
        return true;
      }
      const method = req.method ?? 'GET';
      if (path === bootstrapPath) {
        if (method !== 'GET') throw methodNotAllowed(method, { group: 'bosun.io', resource: 'server-bootstrap' });
        const blob = encryptBootstrap(await readBootstrapFiles(deps.dataDir), tokenPassword(deps.serverToken()));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
        res.end(blob);
        log('supervisor: served the bootstrap data');
      } else if (path === membersPath) {
        if (method !== 'POST') throw methodNotAllowed(method, { group: 'bosun.io', resource: 'members' });
        const { name, peerURL } = checkMemberRequest(parseJsonBody(await readBoundedBody(req, maxMemberBodyBytes)));
        if (!deps.etcd) throw badRequest('this server does not run an embedded etcd member (start the first server with --cluster-init)');
        const members = await deps.etcd.addMember(name, peerURL);
        log(`supervisor: added etcd member ${name} at ${peerURL}`);
        writeJson(res, 200, { members: members.map(memberOnWire) });
      } else {
        await snapshotOp(req, res);
      }
    } catch (err) {
      if (!isStatusError(err)) log(`supervisor: ${path}: ${(err as Error).message}`);
      writeError(res, isStatusError(err) ? err : statusError('InternalError', (err as Error).message));
    }
    return true;
  };
}
