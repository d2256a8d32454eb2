/**
 * EtcdStore: the Store contract on a real etcd cluster (v3 API over gRPC), with the semantics of
 * k8s.io/apiserver/pkg/storage/etcd3. The hot path (Range, Txn, DeleteRange, Compact, LeaseGrant,
 * Watch) uses the lean HTTP/2 gRPC client of etcdconn.ts with the hand-written protobuf of
 * etcdwire.ts; the npm `etcd3` client is kept for the maintenance snapshot only.
 *
 * - store.go: create is one transaction `If(CreateRevision(key) == 0) Then(Put) Else(Get)`, update
 *   `If(ModRevision(key) == expected) Then(Put) Else(Get)`, delete `If(ModRevision == expected)
 *   Then(DeleteRange prevKv) Else(Get)` (unconditional: one DeleteRange with prevKv). A lost race
 *   answers `{ ok: false, current }` from the same round trip. Reads are linearizable Ranges
 *   (`revision`, `limit`, `count_only`; keys sorted by etcd); etcd's count and more are the
 *   contract's. Compacted and future revisions map to ERR_STORE_COMPACTED / ERR_STORE_FUTURE_REVISION.
 * - watcher.go: each watch is its own gRPC Watch stream from `fromRevision + 1` with prev_kv and
 *   progress_notify; one batch per etcd watch response (batches queued while the consumer is busy
 *   are merged); a cancel with `compact_revision` ends the watch with ERR_STORE_COMPACTED. Progress
 *   (`progressIntervalMs` when idle, and `progress.request`) sends etcd's WatchProgressRequest; its
 *   reply (no events) becomes an empty batch with the header revision. If the stream breaks (a
 *   member died), the watch re-opens on another member from the next revision: no gap, no duplicate.
 *   Caveat (etcd 3.4): a progress reply can overtake events of the same instant; a batch's revision
 *   never goes back, so such late events arrive in a batch whose revision is the earlier progress one.
 * - compact.go: every `compactIntervalMs` (default 5 min) the compactor runs the `compact_rev_key`
 *   transaction `If(Version(compact_rev_key) == t) Then(Put(rev)) Else(Get)`; only the server whose
 *   transaction succeeds compacts to the revision it saw one interval earlier, so several API
 *   servers on one etcd compact once per interval. The compacted revision reported is the highest
 *   one this store knows of (its own compactions, compact_rev_key, watch cancels).
 * - lease_manager.go: TTL writes attach a lease; a lease is reused for writes within a window
 *   (5 % of the TTL, at most 60 s; at most 1000 keys per lease), its TTL extended by that window.
 *
 * Failover: the client knows every endpoint and picks one per request; a member that fails is
 * skipped for a while (circuit breaker). A request that fails because a member is unreachable, the
 * leader changed or a deadline passed is retried (with backoff, for up to `retryTimeoutMs`) on
 * another member. Writes are compare-and-swap transactions, so a retry never applies twice; when a
 * retried write whose first attempt may have applied comes back "lost", the store checks whether
 * the current value is the one it wrote (create: equal bytes; update: equal bytes at a newer
 * modRevision) and then reports success with it. A retried delete whose first attempt applied
 * answers `{ ok: false, current: null }` (the key is gone either way).
 *
 * Values are returned as Buffers (Uint8Array subclasses) owned by the caller.
 */
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import type { Etcd3, IOptions } from 'etcd3';
import { EtcdConn, type BidiStream, type EtcdConnTls } from './etcdconn.ts';
import * as wire from './etcdwire.ts';
import { BosunError } from '../util/errors.ts';
import { sameBytes } from '../util/compare.ts';
import type {
  DeleteResult,
  GetOptions,
  KeyValue,
  ListOptions,
  ListResult,
  Store,
  WatchBatch,
  WatchEvent,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from './types.ts';

export interface EtcdTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface EtcdStoreOptions {
  /** Client URLs (`http://h:2379`, `https://h:2379`); all are used, one picked per request. */
  endpoints: string[];
  tls?: EtcdTlsFiles;
  /** Automatic compaction period (upstream --etcd-compaction-interval); 0 disables it. Default 5 minutes. */
  compactIntervalMs?: number;
  /** Deadline of one request to one member. Default 5 s. */
  callTimeoutMs?: number;
  /** How long a failing request keeps being retried on other members. Default 20 s. */
  retryTimeoutMs?: number;
  /** A watcher with more undelivered events than this is ended with ERR_STORE_COMPACTED. Default 20,000. */
  maxWatchPending?: number;
  /** Diagnostics (compactions, failovers). Default: none. */
  log?: (msg: string) => void;
}

/** The key the compactors of all API servers coordinate on (upstream's compactRevKey). */
export const compactRevKey = 'compact_rev_key';
/** Upstream leaseManager defaults. */
export const leaseReuseDurationSeconds = 60;
export const leaseReuseDurationPercent = 0.05;
export const leaseMaxObjectCount = 1000;

/** Published on `bosun.store.compact` after each compaction this store runs: `{ from, to, ms }`. */
export const etcdCompactChannel = diagnostics.channel('bosun.store.compact');

const DEFAULT_COMPACT_MS = 5 * 60_000;
const RETRY_MIN_MS = 25;
const MEMBER_DOWN_MS = 1000;
const RETRY_MAX_MS = 1000;
const WATCH_RETRY_MAX_MS = 2000;
const EMPTY = Buffer.alloc(0);
const ZERO = Buffer.from([0]);

/** Opens an etcd store and checks that the cluster answers (reads the current compaction state). */
export async function openEtcdStore(opts: EtcdStoreOptions): Promise<EtcdStore> {
  const store = new EtcdStore(opts);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

interface GrpcError extends Error {
  code?: number;
  details?: string;
}
interface Member {
  conn: EtcdConn;
  /** Skipped by the round robin until then (it refused a connection). */
  downUntil: number;
}
interface Duplex {
  on(ev: string, fn: (...args: any[]) => void): unknown;
}

const KV = '/etcdserverpb.KV/';
const P_RANGE = KV + 'Range';
const P_TXN = KV + 'Txn';
const P_DELETE = KV + 'DeleteRange';
const P_COMPACT = KV + 'Compact';
const P_LEASE_GRANT = '/etcdserverpb.Lease/LeaseGrant';
const P_WATCH = '/etcdserverpb.Watch/Watch';
const WATCH_PROGRESS = wire.encodeWatchProgress();

export class EtcdStore implements Store {
  readonly endpoints: readonly string[];
  /** etcd3's client for the maintenance snapshot, loaded on first use (its module load is costly). */
  #client: Etcd3 | null = null;
  #clientOptions: IOptions;
  #members: Member[];
  #rr = 0;
  #opts: Required<Omit<EtcdStoreOptions, 'tls' | 'log'>> & { log: (m: string) => void };
  #closed = false;
  #compacted = 0;
  #watches = new Set<EtcdWatch>();
  #timer: NodeJS.Timeout | null = null;
  #compactTime = 0;
  #compactRev = 0;
  #lease: { id: bigint; expiresAt: number; count: number } | null = null;
  #leaseGrant: Promise<bigint> | null = null;

  constructor(opts: EtcdStoreOptions) {
    if (!opts.endpoints.length) throw new BosunError('ERR_INVALID_CONFIG', 'no etcd endpoints');
    this.endpoints = opts.endpoints;
    this.#opts = {
      endpoints: opts.endpoints,
      compactIntervalMs: opts.compactIntervalMs ?? DEFAULT_COMPACT_MS,
      callTimeoutMs: opts.callTimeoutMs ?? 5000,
      retryTimeoutMs: opts.retryTimeoutMs ?? 20_000,
      maxWatchPending: opts.maxWatchPending ?? 20_000,
      log: opts.log ?? (() => {}),
    };
    const callTimeout = this.#opts.callTimeoutMs;
    const options: IOptions = {
      hosts: opts.endpoints.map((e) => e.replace(/^etcd:\/\//, 'http://')),
      // Retries are ours (see the file comment), with a fresh member per attempt. No circuit
      // breaker: while a leader election runs every member fails, and a breaker would then hold
      // all of them shut for seconds after the cluster is back.
      faultHandling: { global: passThrough as never, host: () => passThrough as never },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeout }),
      grpcOptions: { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000, 'grpc.max_receive_message_length': -1 } as never,
    };
    const tls = opts.tls;
    if (tls && (tls.caFile || tls.certFile || tls.keyFile)) {
      options.credentials = {
        rootCertificate: tls.caFile ? fs.readFileSync(tls.caFile) : (undefined as never),
        privateKey: tls.keyFile ? fs.readFileSync(tls.keyFile) : undefined,
        certChain: tls.certFile ? fs.readFileSync(tls.certFile) : undefined,
      };
    }
    this.#clientOptions = options;
    // The hot path: one lean HTTP/2 connection per member, round robin (skipping members that
    // just refused connections).
    const connTls: EtcdConnTls | undefined = options.credentials
      ? { ca: options.credentials.rootCertificate || undefined, cert: options.credentials.certChain, key: options.credentials.privateKey }
      : undefined;
    this.#members = opts.endpoints.map((e) => ({ conn: new EtcdConn(e, connTls), downUntil: 0 }));
  }

  /** Reads the compaction state and starts the compactor. Called by openEtcdStore. */
  async start(): Promise<void> {
    const r = await this.#call(P_RANGE, wire.encodeRange({ key: Buffer.from(compactRevKey) }));
    const kv = wire.decodeRange(r.res).kvs[0];
    if (kv) this.#noteCompacted(Number(kv.value.toString()) || 0);
    this.#schedule();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /**
   * One request, retried on other members while the failure is transient. `retried` tells a write
   * that an earlier attempt may have been applied.
   */
  async #call(path: string, frame: Buffer): Promise<{ res: Buffer; retried: boolean }> {
    this.#assertOpen();
    let retried = false;
    let delay = RETRY_MIN_MS;
    let deadline = 0;
    for (;;) {
      try {
        const res = await this.#unary(path, frame);
        return { res, retried };
      } catch (err) {
        if (this.#closed) throw new BosunError('ERR_STORE_CLOSED', undefined, { cause: err });
        const mapped = mapError(err);
        if (mapped) throw mapped;
        if (!isTransient(err)) throw err;
        const now = Date.now();
        if (!deadline) deadline = now + this.#opts.retryTimeoutMs;
        if (now >= deadline) throw err;
        if (!retried) this.#opts.log(`etcd: ${path.slice(path.lastIndexOf('.') + 1)} failed, retrying on another member: ${String((err as Error).message)}`);
        retried = true;
        await sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
        if (this.#closed) throw new BosunError('ERR_STORE_CLOSED', undefined, { cause: err });
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new BosunError('ERR_STORE_CLOSED');
  }

  /** One unary call on the next member in turn. */
  async #unary(path: string, frame: Buffer): Promise<Buffer> {
    const members = this.#members;
    const now = Date.now();
    let m = members[this.#rr++ % members.length]!;
    for (let i = 1; m.downUntil > now && i < members.length; i++) m = members[this.#rr++ % members.length]!;
    if (this.#rr > 1e9) this.#rr = 0;
    try {
      return await m.conn.unary(path, frame, this.#opts.callTimeoutMs);
    } catch (err) {
      // Refused or dropped connections (not etcd's own "unavailable" answers): skip the member a while.
      const e = err as GrpcError;
      if (e.code === 14 && !String(e.details).startsWith('etcdserver:')) m.downUntil = Date.now() + MEMBER_DOWN_MS;
      throw err;
    }
  }

  /** The next member in turn for a stream (skipping members that just refused connections). */
  #pick(): Member {
    const members = this.#members;
    const now = Date.now();
    let m = members[this.#rr++ % members.length]!;
    for (let i = 1; m.downUntil > now && i < members.length; i++) m = members[this.#rr++ % members.length]!;
    return m;
  }

  #noteCompacted(rev: number): void {
    if (rev > this.#compacted) this.#compacted = rev;
  }

  // ---- reads ---------------------------------------------------------------------------------

  async currentRevision(): Promise<number> {
    // A one-key range: its header carries the store revision (a linearizable read).
    const { res } = await this.#call(P_RANGE, wire.encodeRange({ key: ZERO, limit: 1, countOnly: true }));
    return wire.decodeRange(res).revision;
  }

  async compactedRevision(): Promise<number> {
    this.#assertOpen();
    return this.#compacted;
  }

  async get(key: string, opts: GetOptions = {}): Promise<KeyValue | null> {
    const frame = wire.encodeRange({ key: Buffer.from(key), revision: opts.revision || 0 });
    const kv = (await this.#read(frame, opts.revision)).kvs[0];
    return kv ? toKv(kv, key) : null;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const end = prefixEnd(prefix);
    let start = prefix === '' ? ZERO : Buffer.from(prefix);
    if (opts.after !== undefined && opts.after >= prefix) {
      const a = Buffer.from(opts.after);
      if (Buffer.compare(a, end) >= 0 && end !== ZERO) return { items: [], revision: opts.revision || (await this.currentRevision()), more: false, count: 0 };
      start = Buffer.concat([a, ZERO]);
    }
    const limit = opts.limit && opts.limit > 0 ? Math.floor(opts.limit) : 0;
    const frame = wire.encodeRange({ key: start, rangeEnd: end, revision: opts.revision || 0, limit, countOnly: !!opts.countOnly });
    const res = await this.#read(frame, opts.revision);
    const revision = opts.revision || res.revision;
    const count = res.count;
    if (opts.countOnly) return { items: [], revision, more: false, count };
    const raw = res.kvs;
    const items: KeyValue[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) items[i] = toKv(raw[i]!);
    return { items, revision, more: res.more, count };
  }

  async #read(frame: Buffer, revision: number | undefined): Promise<wire.RangeRes> {
    try {
      return wire.decodeRange((await this.#call(P_RANGE, frame)).res);
    } catch (err) {
      if (revision && (err as BosunError).code === 'ERR_STORE_COMPACTED') this.#noteCompacted(revision + 1);
      throw err;
    }
  }

  // ---- writes --------------------------------------------------------------------------------

  async create(key: string, value: Uint8Array, opts?: WriteOptions): Promise<WriteResult> {
    checkWrite(key, value);
    const k = Buffer.from(key);
    const lease = opts?.ttlSeconds ? await this.#leaseFor(opts.ttlSeconds) : 0n;
    const frame = wire.encodeTxn({
      compare: [{ result: wire.CMP_EQUAL, target: wire.TARGET_CREATE, key: k, number: 0 }],
      success: [{ put: { key: k, value, lease } }],
      failure: [{ range: { key: k } }],
    });
    const out = await this.#call(P_TXN, frame);
    const retried = out.retried;
    const res = wire.decodeTxn(out.res);
    if (res.succeeded) {
      const rev = res.revision;
      return { ok: true, kv: { key, value, createRevision: rev, modRevision: rev } };
    }
    const raw = res.responses[0]?.range?.kvs[0];
    const current = raw ? toKv(raw, key) : null;
    // Our earlier attempt may have created it: the same bytes mean it did (or an equal write won).
    if (retried && current && sameBytes(current.value, value)) return { ok: true, kv: current };
    return { ok: false, current };
  }

  async update(key: string, value: Uint8Array, expectedModRevision: number, opts?: WriteOptions): Promise<WriteResult> {
    checkWrite(key, value);
    const k = Buffer.from(key);
    if (!(expectedModRevision > 0)) return { ok: false, current: await this.get(key) };
    const lease = opts?.ttlSeconds ? await this.#leaseFor(opts.ttlSeconds) : 0n;
    const frame = wire.encodeTxn({
      compare: [{ result: wire.CMP_EQUAL, target: wire.TARGET_MOD, key: k, number: expectedModRevision }],
      // A keys-only range after the put reads the create revision in the same transaction.
      success: [{ put: { key: k, value, lease } }, { range: { key: k, keysOnly: true } }],
      failure: [{ range: { key: k } }],
    });
    const out = await this.#call(P_TXN, frame);
    const retried = out.retried;
    const res = wire.decodeTxn(out.res);
    if (res.succeeded) {
      const rev = res.revision;
      const created = res.responses[1]?.range?.kvs[0]?.createRevision ?? rev;
      return { ok: true, kv: { key, value, createRevision: created, modRevision: rev } };
    }
    const raw = res.responses[0]?.range?.kvs[0];
    const current = raw ? toKv(raw, key) : null;
    if (retried && current && current.modRevision > expectedModRevision && sameBytes(current.value, value)) return { ok: true, kv: current };
    return { ok: false, current };
  }

  async delete(key: string, expectedModRevision?: number): Promise<DeleteResult> {
    this.#assertOpen();
    if (typeof key !== 'string' || key === '') throw new TypeError('a store key must be a non-empty string');
    const k = Buffer.from(key);
    if (expectedModRevision === undefined) {
      const res = wire.decodeDeleteRange((await this.#call(P_DELETE, wire.encodeDeleteRange({ key: k, prevKv: true }))).res);
      const prev = res.prevKvs[0];
      if (!prev || res.deleted === 0) return { ok: false, current: null, revision: 0 };
      return { ok: true, current: toKv(prev, key), revision: res.revision };
    }
    if (!(expectedModRevision > 0)) return { ok: false, current: await this.get(key), revision: 0 };
    const frame = wire.encodeTxn({
      compare: [{ result: wire.CMP_EQUAL, target: wire.TARGET_MOD, key: k, number: expectedModRevision }],
      success: [{ deleteRange: { key: k, prevKv: true } }],
      failure: [{ range: { key: k } }],
    });
    const res = wire.decodeTxn((await this.#call(P_TXN, frame)).res);
    if (res.succeeded) {
      const prev = res.responses[0]?.deleteRange?.prevKvs[0];
      return { ok: true, current: prev ? toKv(prev, key) : null, revision: res.revision };
    }
    const raw = res.responses[0]?.range?.kvs[0];
    return { ok: false, current: raw ? toKv(raw, key) : null, revision: 0 };
  }

  /** A lease for a key that should expire `ttl` seconds from now (upstream leaseManager.GetLease). */
  async #leaseFor(ttlSeconds: number): Promise<bigint> {
    const ttl = Math.max(1, Math.ceil(ttlSeconds));
    for (;;) {
      const now = Date.now();
      const reuse = Math.min(leaseReuseDurationSeconds, Math.floor(leaseReuseDurationPercent * ttl));
      const prev = this.#lease;
      if (prev && prev.count < leaseMaxObjectCount) {
        const valid = now + ttl * 1000 < prev.expiresAt;
        const sufficient = now + (ttl + reuse) * 1000 > prev.expiresAt;
        if (valid && sufficient) {
          prev.count++;
          return prev.id;
        }
      }
      if (this.#leaseGrant) {
        await this.#leaseGrant.catch(() => {});
        continue;
      }
      const grant = (async () => {
        const res = wire.decodeLeaseGrant((await this.#call(P_LEASE_GRANT, wire.encodeLeaseGrant(ttl + reuse))).res);
        if (res.error) throw new Error(`etcd lease grant: ${res.error}`);
        this.#lease = { id: res.id, expiresAt: now + (ttl + reuse) * 1000, count: 1 };
        return res.id;
      })();
      this.#leaseGrant = grant;
      try {
        return await grant;
      } finally {
        this.#leaseGrant = null;
      }
    }
  }

  // ---- watch ---------------------------------------------------------------------------------

  watch(prefix: string, fromRevision: number, opts: WatchOptions = {}): AsyncIterable<WatchBatch> {
    return this.#watch(prefix, fromRevision, opts);
  }

  async *#watch(prefix: string, from: number, opts: WatchOptions): AsyncGenerator<WatchBatch> {
    if (opts.signal?.aborted) return;
    this.#assertOpen();
    if (from < this.#compacted) throw compactedError(from, this.#compacted);
    const w = new EtcdWatch(() => this.#pick(), prefix, from, opts, this.#opts.maxWatchPending, this.#opts.log, (rev) => this.#noteCompacted(rev));
    this.#watches.add(w);
    try {
      for (;;) {
        const batch = await w.next();
        if (!batch) return;
        yield batch;
      }
    } finally {
      w.end();
      this.#watches.delete(w);
    }
  }

  // ---- compaction ----------------------------------------------------------------------------

  /** Compacts etcd's history before `revision` (keyspace compaction, not physical). Idempotent. */
  async compact(revision: number): Promise<void> {
    this.#assertOpen();
    try {
      await this.#call(P_COMPACT, wire.encodeCompaction(revision, false));
    } catch (err) {
      if ((err as BosunError).code !== 'ERR_STORE_COMPACTED') throw err;
      return;
    }
    this.#noteCompacted(revision);
  }

  /**
   * One round of upstream's compactor: the `compact_rev_key` transaction, then (if this store won
   * the round) a compaction to the revision seen one round earlier. Answers the compacted
   * revision known afterwards. Exposed for tests; the timer calls it every interval.
   */
  async runCompaction(): Promise<number> {
    const t = this.#compactTime;
    const rev = this.#compactRev;
    const key = Buffer.from(compactRevKey);
    const frame = wire.encodeTxn({
      compare: [{ result: wire.CMP_EQUAL, target: wire.TARGET_VERSION, key, number: t }],
      success: [{ put: { key, value: Buffer.from(String(rev)) } }],
      failure: [{ range: { key } }],
    });
    const res = wire.decodeTxn((await this.#call(P_TXN, frame)).res);
    this.#compactRev = res.revision;
    if (!res.succeeded) {
      const kv = res.responses[0]?.range?.kvs[0];
      this.#compactTime = kv ? kv.version : 0;
      if (kv) this.#noteCompacted(Number(kv.value.toString()) || 0);
      return this.#compacted;
    }
    this.#compactTime = t + 1;
    if (rev === 0) return this.#compacted; // no compaction on the first round
    const t0 = performance.now();
    const before = this.#compacted;
    await this.compact(rev);
    this.#opts.log(`etcd: compacted rev (${rev}), endpoints (${this.endpoints.join(',')})`);
    if (etcdCompactChannel.hasSubscribers) etcdCompactChannel.publish({ from: before, to: rev, ms: performance.now() - t0 });
    return this.#compacted;
  }

  #schedule(): void {
    if (this.#opts.compactIntervalMs <= 0 || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.runCompaction()
        .catch((err) => {
          if (!this.#closed) this.#opts.log(`etcd: endpoint (${this.endpoints.join(',')}) compact failed: ${String((err as Error)?.message ?? err)}`);
        })
        .finally(() => this.#schedule());
    }, this.#opts.compactIntervalMs);
    this.#timer.unref();
  }

  // ---- snapshots -----------------------------------------------------------------------------

  /**
   * Streams a member's backend snapshot (etcd's Maintenance.Snapshot) to `file`, through a
   * temporary file renamed at the end. Answers the size and the store revision at the snapshot.
   */
  async snapshot(file: string): Promise<{ size: number; revision: number }> {
    // One member per attempt, each member in turn: a dead member fails its attempt (etcd3's own
    // choice of member kept returning to one that was down).
    const raw = this.#clientOptions.hosts;
    const hosts = Array.isArray(raw) ? raw : [raw];
    const attempts = Math.max(5, 2 * hosts.length);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#snapshotOnce(file, hosts[(attempt - 1) % hosts.length]!);
      } catch (err) {
        if (attempt >= attempts || this.#closed) throw err;
        this.#opts.log?.(`etcd: snapshot attempt ${attempt} failed (${(err as Error).message}); trying again`);
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  async #snapshotOnce(file: string, host: string): Promise<{ size: number; revision: number }> {
    this.#assertOpen();
    const revision = await this.currentRevision();
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.part-${process.pid}`);
    const out = fs.createWriteStream(tmp, { mode: 0o600 });
    let size = 0;
    let headerRev = 0;
    let client: Etcd3 | null = null;
    try {
      const mod = await import('etcd3');
      if (this.#closed) throw new BosunError('ERR_STORE_CLOSED');
      client = this.#client = new mod.default.Etcd3({ ...this.#clientOptions, hosts: [host] });
      const stream = (await client.maintenance.snapshot()) as unknown as Duplex;
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (msg: { header?: { revision: string } | null; blob: Buffer }) => {
          if (msg.header && !headerRev) headerRev = Number(msg.header.revision) || 0;
          if (msg.blob.length) {
            size += msg.blob.length;
            if (!out.write(msg.blob)) {
              (stream as unknown as { pause(): void }).pause();
              out.once('drain', () => (stream as unknown as { resume(): void }).resume());
            }
          }
        });
        stream.on('error', reject);
        stream.on('end', resolve);
      });
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      const fd = fs.openSync(tmp, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (err) {
      out.destroy();
      fs.rmSync(tmp, { force: true });
      throw err;
    } finally {
      client?.close();
      if (this.#client === client) this.#client = null;
    }
    return { size, revision: Math.max(revision, headerRev) };
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Stops the compactor, ends every watch (they finish normally) and closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const w of this.#watches) w.end();
    this.#watches.clear();
    for (const m of this.#members) m.conn.close();
    this.#client?.close();
    this.#client = null;
  }
}

/** One watch: a gRPC Watch stream, re-opened from the next revision when it breaks. */
class EtcdWatch {
  readonly #pick: () => Member;
  readonly #key: Buffer;
  readonly #end: Buffer;
  readonly #opts: WatchOptions;
  readonly #max: number;
  readonly #log: (m: string) => void;
  readonly #onCompacted: (rev: number) => void;
  readonly #prefix: string;
  /** The next revision the watch needs (fromRevision + 1, then after each delivered batch). */
  #next: number;
  /** The revision of the last batch queued; batch revisions never go back. */
  #rev: number;
  #events: WatchEvent[] = [];
  #progress = 0;
  #wake: (() => void) | null = null;
  #ended = false;
  #error: unknown = null;
  #stream: BidiStream | null = null;
  #member: Member | null = null;
  #created = false;
  #progressWanted = false;
  #idleTimer: NodeJS.Timeout | null = null;
  #retryDelay = RETRY_MIN_MS;

  constructor(
    pick: () => Member,
    prefix: string,
    from: number,
    opts: WatchOptions,
    max: number,
    log: (m: string) => void,
    onCompacted: (rev: number) => void,
  ) {
    this.#pick = pick;
    this.#prefix = prefix;
    this.#key = prefix === '' ? ZERO : Buffer.from(prefix);
    this.#end = prefixEnd(prefix);
    this.#opts = opts;
    this.#max = max;
    this.#log = log;
    this.#onCompacted = onCompacted;
    this.#next = from + 1;
    this.#rev = from;
    opts.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (opts.progress) opts.progress.request = () => this.#requestProgress();
    void this.#open();
  }

  #onAbort = (): void => this.end();

  #open(): void {
    if (this.#ended) return;
    const m = this.#pick();
    this.#member = m;
    this.#created = false;
    const stream: BidiStream = m.conn.stream(
      P_WATCH,
      (msg) => {
        if (this.#stream !== stream) return;
        let r: wire.WatchRes;
        try {
          r = wire.decodeWatch(msg);
        } catch (err) {
          this.#retry(err);
          return;
        }
        this.#onResponse(stream, r);
      },
      (err) => {
        if (this.#stream !== stream) return;
        const e = err as GrpcError | null;
        if (e && e.code === 14 && !String(e.details).startsWith('etcdserver:')) m.downUntil = Date.now() + MEMBER_DOWN_MS;
        this.#retry(err ?? new Error('etcd watch stream ended'));
      },
    );
    this.#stream = stream;
    stream.write(wire.encodeWatchCreate({ key: this.#key, rangeEnd: this.#end, startRevision: this.#next, prevKv: true, progressNotify: true }));
  }

  #retry(err: unknown): void {
    const old = this.#stream;
    this.#stream = null;
    this.#created = false;
    if (old) {
      try {
        old.cancel();
      } catch {}
    }
    if (this.#ended) return;
    this.#log(`etcd: watch on ${this.#prefix} broke (${String((err as Error)?.message ?? err)}); re-opening from revision ${this.#next}`);
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(delay * 2, WATCH_RETRY_MAX_MS);
    setTimeout(() => this.#open(), delay).unref();
  }

  #onResponse(stream: BidiStream, r: wire.WatchRes): void {
    if (this.#stream !== stream || this.#ended) return;
    if (r.canceled) {
      const compactRev = r.compactRevision;
      if (compactRev > 0) {
        this.#onCompacted(compactRev);
        this.end(compactedError(this.#next - 1, compactRev));
        return;
      }
      this.#retry(new Error(`watch canceled: ${r.cancelReason || 'no reason given'}`));
      return;
    }
    if (r.created) {
      this.#created = true;
      this.#retryDelay = RETRY_MIN_MS;
      if (this.#progressWanted) this.#sendProgress();
      this.#armIdle();
      return;
    }
    const raw = r.events;
    if (raw.length) {
      for (let i = 0; i < raw.length; i++) this.#events.push(toEvent(raw[i]!));
      const last = raw[raw.length - 1]!.kv.modRevision;
      this.#next = last + 1;
      if (last > this.#rev) this.#rev = last;
      if (this.#events.length > this.#max) {
        this.end(new BosunError('ERR_STORE_COMPACTED', `the watch on ${this.#prefix} fell more than ${this.#max} events behind; re-list`));
        return;
      }
    } else {
      // A progress notification: nothing under the prefix up to the header revision.
      const rev = r.revision;
      if (rev >= this.#next) this.#next = rev + 1;
      if (rev > this.#rev) this.#rev = rev;
      this.#progress = this.#rev;
    }
    this.#armIdle();
    this.#wake?.();
  }

  #requestProgress(): void {
    this.#progressWanted = true;
    if (this.#created) this.#sendProgress();
  }

  #sendProgress(): void {
    this.#progressWanted = false;
    try {
      this.#stream?.write(WATCH_PROGRESS);
    } catch {}
  }

  /** With progressIntervalMs: ask for progress after that long without a response. */
  #armIdle(): void {
    const ms = this.#opts.progressIntervalMs ?? 0;
    if (ms <= 0 || this.#ended) return;
    if (this.#idleTimer) this.#idleTimer.refresh();
    else {
      this.#idleTimer = setTimeout(() => {
        this.#idleTimer = null;
        if (this.#created) this.#sendProgress();
        else this.#progressWanted = true;
      }, ms);
      this.#idleTimer.unref();
    }
  }

  /** The next batch (queued responses merged), or null once ended; throws the watch's error. */
  async next(): Promise<WatchBatch | null> {
    for (;;) {
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return null;
      }
      if (this.#events.length) {
        const events = this.#events;
        this.#events = [];
        this.#progress = 0;
        return { events, revision: this.#rev };
      }
      if (this.#progress) {
        const revision = this.#progress;
        this.#progress = 0;
        return { events: [], revision };
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
  }

  /** Ends the watch: `next` answers null (or throws `err`); the stream is cancelled. */
  end(err?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err ?? null;
    this.#events = [];
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    const s = this.#stream;
    this.#stream = null;
    if (s) {
      try {
        s.cancel();
      } catch {}
    }
    this.#wake?.();
  }
}

// ---- helpers -------------------------------------------------------------------------------

function toKv(raw: wire.Kv, key?: string): KeyValue {
  return {
    key: key ?? raw.key.toString(),
    value: raw.value,
    createRevision: raw.createRevision,
    modRevision: raw.modRevision,
  };
}

function toEvent(raw: wire.Event): WatchEvent {
  const key = raw.kv.key.toString();
  const prevKv = raw.prevKv ? toKv(raw.prevKv, key) : undefined;
  if (raw.type === 1) {
    // etcd's tombstone has no value or create revision: the contract's carries the last ones.
    const kv: KeyValue = { key, value: prevKv?.value ?? EMPTY, createRevision: prevKv?.createRevision ?? 0, modRevision: raw.kv.modRevision };
    return prevKv ? { type: 'delete', kv, prevKv } : { type: 'delete', kv };
  }
  const kv = toKv(raw.kv, key);
  // A put that (re)creates a key has no previous value in the contract.
  return prevKv && prevKv.createRevision === kv.createRevision ? { type: 'put', kv, prevKv } : { type: 'put', kv };
}

/** The smallest key after every key starting with `prefix` (etcd's GetPrefixRangeEnd); '\0' for all keys. */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = b.subarray(0, i + 1);
      end[i]! += 1;
      return end;
    }
  }
  return ZERO;
}

function checkWrite(key: string, value: Uint8Array): void {
  if (typeof key !== 'string' || key === '') throw new TypeError('a store key must be a non-empty string');
  if (!(value instanceof Uint8Array)) throw new TypeError('a store value must be a Uint8Array');
}

function compactedError(rev: number, compacted: number): BosunError {
  return new BosunError('ERR_STORE_COMPACTED', `revision ${rev} has been compacted (oldest readable: ${compacted})`);
}

/** etcd's answers that are contract errors (mvcc/ErrCompacted, ErrFutureRev). */
function mapError(err: unknown): BosunError | null {
  const msg = String((err as Error)?.message ?? '');
  if (msg.includes('required revision has been compacted')) return new BosunError('ERR_STORE_COMPACTED', 'the requested revision has been compacted', { cause: err });
  if (msg.includes('required revision is a future revision')) return new BosunError('ERR_STORE_FUTURE_REVISION', 'the requested revision is newer than the store', { cause: err });
  return null;
}

/** A cockatiel-shaped policy that just runs the call (etcd3's pool only calls `execute`). */
const passThrough = {
  execute: async (fn: (ctx: { signal: AbortSignal; attempt: number }) => unknown) => fn({ signal: neverAborted, attempt: 0 }),
};
const neverAborted = new AbortController().signal;

/** Failures another member (or a later attempt) may not have: unreachable, no leader, timeouts. */
function isTransient(err: unknown): boolean {
  const code = (err as GrpcError | null)?.code;
  // UNAVAILABLE (etcd's leader changed, no leader, timeouts, too many requests too), DEADLINE_EXCEEDED, CANCELLED.
  if (code === 14 || code === 4 || code === 1) return true;
  const msg = String((err as Error)?.message ?? '');
  return /UNAVAILABLE|DEADLINE_EXCEEDED|Deadline exceeded|leader changed|no leader|request timed out|too many requests|Broken circuit|circuit breaker is open|CANCELLED|Cancelled on client|ECONNREFUSED|ECONNRESET|Connection dropped|No connection established|RST_STREAM|timed out waiting/i.test(msg);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
