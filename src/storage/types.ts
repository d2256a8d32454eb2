/**
 * The Store contract: a revisioned key-value store with etcd semantics.
 *
 * - One global, monotonic revision. Every successful write (create, update, delete)
 *   gets the next revision; a key remembers the revision that created it and the
 *   revision of its last change (`createRevision`, `modRevision`).
 * - Compare-and-swap writes never throw on a lost race: they return `{ ok: false, current }`
 *   as a failed etcd transaction does.
 * - `list` reads a consistent snapshot at one revision (the current one by default),
 *   in key order, with `limit` and a continue key.
 * - `watch` yields every change under a prefix after `fromRevision`, in revision order,
 *   batched; it subscribes first and then catches up, so nothing is missed or duplicated.
 *   A `fromRevision` older than the compacted revision throws `ERR_STORE_COMPACTED`.
 * - A write is acknowledged (its promise resolves) only once it is durable.
 * Values are bytes; the store never looks inside them.
 */

export interface KeyValue {
  key: string;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
}

export interface GetOptions {
  /** Read the key as of this revision (0 or absent: current). */
  revision?: number;
}

export interface ListOptions {
  /** Snapshot revision (0 or absent: current). Older than compacted → ERR_STORE_COMPACTED. */
  revision?: number;
  /** At most this many items (0 or absent: all). */
  limit?: number;
  /** Start strictly after this key (the last key of the previous page). */
  after?: string;
  /** Only count the keys; `items` is empty. */
  countOnly?: boolean;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list was read at. */
  revision: number;
  /** Whether keys remain after the last item. */
  more: boolean;
  /** Number of keys under the prefix after `after` at `revision` (including the returned ones). */
  count: number;
}

export type WriteResult =
  | { ok: true; kv: KeyValue }
  | { ok: false; current: KeyValue | null };

export interface DeleteResult {
  ok: boolean;
  /** On success: the value deleted (its last state). On failure: the current value, or null if absent. */
  current: KeyValue | null;
  /** On success: the revision of the delete. */
  revision: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  /** For 'put': the new value; for 'delete': the key with the tombstone's modRevision and the last value. */
  kv: KeyValue;
  /** The value before this change, when there was one. */
  prevKv?: KeyValue;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Also wake with an empty batch when idle, carrying the current revision (progress notify). */
  progressIntervalMs?: number;
  /**
   * On-demand progress (etcd's RequestProgress): the store sets `request` on this object to a
   * function that makes the watch deliver, soon, an empty batch with the current revision when
   * no events are pending — so a quiet watcher learns how far the store has got.
   */
  progress?: { request?: () => void };
}

export interface WatchBatch {
  events: WatchEvent[];
  /** The store revision this batch brings the watcher up to. */
  revision: number;
}

export interface Reader {
  get(key: string, opts?: GetOptions): Promise<KeyValue | null>;
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  currentRevision(): Promise<number>;
}

export interface WriteOptions {
  /**
   * The key is deleted (a normal delete, with its event) about this many seconds after the write
   * (etcd: a lease, shared by writes close in time; upstream stores Events this way with --event-ttl).
   * An update without it keeps the key forever.
   */
  ttlSeconds?: number;
}

export interface Writer {
  /** Creates `key` if absent; otherwise `{ ok: false, current }`. */
  create(key: string, value: Uint8Array, opts?: WriteOptions): Promise<WriteResult>;
  /** Replaces `key` if its modRevision equals `expectedModRevision`; otherwise `{ ok: false, current }`. */
  update(key: string, value: Uint8Array, expectedModRevision: number, opts?: WriteOptions): Promise<WriteResult>;
  /** Deletes `key`, if present and (when given) its modRevision equals `expectedModRevision`. */
  delete(key: string, expectedModRevision?: number): Promise<DeleteResult>;
}

export interface Watcher {
  /** Changes under `prefix` with revision > `fromRevision`; ends when the signal aborts or the store closes. */
  watch(prefix: string, fromRevision: number, opts?: WatchOptions): AsyncIterable<WatchBatch>;
}

export interface Store extends Reader, Writer, Watcher {
  /** Drops history older than `revision` (current values are kept). */
  compact(revision: number): Promise<void>;
  /** The oldest revision still readable (history before it is compacted). */
  compactedRevision(): Promise<number>;
  /**
   * Writes a consistent copy of the whole store to `file` (written under a temporary name, then
   * renamed): SQLite a database that opens as a store, etcd its backend snapshot (`etcdctl
   * snapshot restore` reads it). Answers the file's size and the revision it holds.
   */
  snapshot?(file: string): Promise<{ size: number; revision: number }>;
  close(): Promise<void>;
}
