/**
 * Tests of etcdwire.ts against the etcd3 package's protobufjs definitions of etcd's rpc.proto and
 * kv.proto: requests encoded here decode there to the same fields, responses encoded there decode
 * here to the same fields (int64 beyond 2^32, lease IDs beyond 2^53, nested lengths beyond 127
 * bytes, unknown fields skipped), and gRPC framing split across chunks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as wire from './etcdwire.ts';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs') as typeof import('protobufjs');
const protoDir = path.join(path.dirname(require.resolve('etcd3/package.json')), 'proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(protoDir, path.basename(target));
root.loadSync('rpc.proto', { keepCase: true });
const T = (name: string) => root.lookupType(name);

/** The message of a frame (checking the 5-byte prefix). */
function unframe(frame: Buffer): Buffer {
  assert.equal(frame[0], 0);
  assert.equal(frame.readUInt32BE(1), frame.length - 5);
  return frame.subarray(5);
}

function decodeWith(type: string, frame: Buffer): any {
  return T(type).toObject(T(type).decode(unframe(frame)), { longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true });
}

function encodeWith(type: string, obj: object): Buffer {
  const t = T(type);
  return Buffer.from(t.encode(t.fromObject(obj)).finish());
}

const big = Buffer.alloc(300, 0x61);

test('RangeRequest encodes every field used', () => {
  const r = decodeWith('etcdserverpb.RangeRequest', wire.encodeRange({ key: Buffer.from('/a/'), rangeEnd: Buffer.from('/a0'), limit: 500, revision: 2 ** 40 + 3, keysOnly: true, countOnly: true, serializable: true }));
  assert.deepEqual([r.key.toString(), r.range_end.toString(), r.limit, r.revision, r.keys_only, r.count_only, r.serializable], ['/a/', '/a0', '500', String(2 ** 40 + 3), true, true, true]);
  const d = decodeWith('etcdserverpb.RangeRequest', wire.encodeRange({ key: Buffer.from([0]) }));
  assert.deepEqual([d.key, d.range_end.length, d.limit, d.revision, d.count_only], [Buffer.from([0]), 0, '0', '0', false]);
});

test('TxnRequest: compares (zero targets written), puts with leases, ranges, deletes, long nested values', () => {
  const lease = 7587883312345678901n;
  const frame = wire.encodeTxn({
    compare: [
      { result: wire.CMP_EQUAL, target: wire.TARGET_CREATE, key: Buffer.from('k'), number: 0 },
      { result: wire.CMP_EQUAL, target: wire.TARGET_MOD, key: Buffer.from('k'), number: 123456789012 },
      { result: wire.CMP_EQUAL, target: wire.TARGET_VERSION, key: Buffer.from('v'), number: 3 },
    ],
    success: [{ put: { key: Buffer.from('k'), value: big, lease } }, { range: { key: Buffer.from('k'), keysOnly: true } }],
    failure: [{ range: { key: Buffer.from('k') } }, { deleteRange: { key: Buffer.from('k'), prevKv: true } }],
  });
  const t = decodeWith('etcdserverpb.TxnRequest', frame);
  assert.equal(t.compare.length, 3);
  assert.deepEqual([t.compare[0].result, t.compare[0].target, t.compare[0].target_union, t.compare[0].create_revision], ['Equal', 'Create', 'create_revision', '0']);
  assert.deepEqual([t.compare[1].target, t.compare[1].target_union, t.compare[1].mod_revision], ['Mod', 'mod_revision', '123456789012']);
  assert.deepEqual([t.compare[2].target, t.compare[2].target_union, t.compare[2].version], ['Version', 'version', '3']);
  assert.equal(t.success[0].request, 'request_put');
  assert.deepEqual(t.success[0].request_put.value, big);
  assert.equal(t.success[0].request_put.lease, String(lease));
  assert.equal(t.success[1].request_range.keys_only, true);
  assert.equal(t.failure[0].request_range.key.toString(), 'k');
  assert.equal(t.failure[1].request_delete_range.prev_kv, true);
});

test('DeleteRange, Compaction, LeaseGrant and Watch requests', () => {
  const d = decodeWith('etcdserverpb.DeleteRangeRequest', wire.encodeDeleteRange({ key: Buffer.from('x'), prevKv: true }));
  assert.deepEqual([d.key.toString(), d.prev_kv], ['x', true]);
  const c = decodeWith('etcdserverpb.CompactionRequest', wire.encodeCompaction(99, true));
  assert.deepEqual([c.revision, c.physical], ['99', true]);
  const l = decodeWith('etcdserverpb.LeaseGrantRequest', wire.encodeLeaseGrant(63, 5n));
  assert.deepEqual([l.TTL, l.ID], ['63', '5']);
  const w = decodeWith('etcdserverpb.WatchRequest', wire.encodeWatchCreate({ key: Buffer.from('/p/'), rangeEnd: Buffer.from('/p0'), startRevision: 17, prevKv: true, progressNotify: true }));
  assert.equal(w.request_union, 'create_request');
  const cr = w.create_request;
  assert.deepEqual([cr.key.toString(), cr.range_end.toString(), cr.start_revision, cr.prev_kv, cr.progress_notify], ['/p/', '/p0', '17', true, true]);
  assert.equal(decodeWith('etcdserverpb.WatchRequest', wire.encodeWatchProgress()).request_union, 'progress_request');
  const cancel = decodeWith('etcdserverpb.WatchRequest', wire.encodeWatchCancel(4));
  assert.deepEqual([cancel.request_union, cancel.cancel_request.watch_id], ['cancel_request', '4']);
});

const header = { cluster_id: '18446744073709551000', member_id: '123', revision: String(2 ** 45 + 7), raft_term: '9' };
const kvObj = (k: string, v: Buffer, c: number, m: number) => ({ key: Buffer.from(k), value: v, create_revision: c, mod_revision: m, version: 2, lease: '7587883312345678901' });

test('RangeResponse and TxnResponse decode', () => {
  const r = wire.decodeRange(encodeWith('etcdserverpb.RangeResponse', { header, kvs: [kvObj('a', big, 5, 6), kvObj('b', Buffer.alloc(0), 7, 8)], more: true, count: 12 }));
  assert.equal(r.revision, 2 ** 45 + 7);
  assert.deepEqual([r.more, r.count, r.kvs.length], [true, 12, 2]);
  assert.deepEqual([r.kvs[0]!.key.toString(), r.kvs[0]!.value, r.kvs[0]!.createRevision, r.kvs[0]!.modRevision, r.kvs[0]!.version, r.kvs[0]!.lease], ['a', big, 5, 6, 2, 7587883312345678901n]);
  assert.equal(r.kvs[1]!.value.length, 0);

  const t = wire.decodeTxn(
    encodeWith('etcdserverpb.TxnResponse', {
      header,
      succeeded: true,
      responses: [
        { response_put: { header, prev_kv: kvObj('p', Buffer.from('old'), 1, 2) } },
        { response_range: { header, kvs: [kvObj('k', Buffer.from('v'), 3, 4)], count: 1 } },
        { response_delete_range: { header, deleted: 1, prev_kvs: [kvObj('d', Buffer.from('gone'), 5, 6)] } },
      ],
    }),
  );
  assert.deepEqual([t.revision, t.succeeded, t.responses.length], [2 ** 45 + 7, true, 3]);
  assert.equal(t.responses[0]!.put!.prevKv!.value.toString(), 'old');
  assert.equal(t.responses[1]!.range!.kvs[0]!.createRevision, 3);
  assert.deepEqual([t.responses[2]!.deleteRange!.deleted, t.responses[2]!.deleteRange!.prevKvs[0]!.value.toString()], [1, 'gone']);
  const f = wire.decodeTxn(encodeWith('etcdserverpb.TxnResponse', { header, succeeded: false, responses: [{ response_range: { header } }] }));
  assert.deepEqual([f.succeeded, f.responses[0]!.range!.kvs.length], [false, 0]);
});

test('DeleteRange, Compaction and LeaseGrant responses decode', () => {
  const d = wire.decodeDeleteRange(encodeWith('etcdserverpb.DeleteRangeResponse', { header, deleted: 1, prev_kvs: [kvObj('x', Buffer.from('1'), 1, 1)] }));
  assert.deepEqual([d.revision, d.deleted, d.prevKvs[0]!.key.toString()], [2 ** 45 + 7, 1, 'x']);
  assert.equal(wire.decodeHeaderOnly(encodeWith('etcdserverpb.CompactionResponse', { header })), 2 ** 45 + 7);
  const l = wire.decodeLeaseGrant(encodeWith('etcdserverpb.LeaseGrantResponse', { header, ID: '7587883312345678901', TTL: 63, error: '' }));
  assert.deepEqual([l.id, l.ttl, l.error], [7587883312345678901n, 63, '']);
});

test('WatchResponse decodes events, prev kvs, progress, created and compaction cancels', () => {
  const w = wire.decodeWatch(
    encodeWith('etcdserverpb.WatchResponse', {
      header,
      watch_id: 3,
      events: [
        { type: 'Put', kv: kvObj('/p/a', Buffer.from('new'), 10, 11), prev_kv: kvObj('/p/a', Buffer.from('old'), 10, 10) },
        { type: 'Delete', kv: { key: Buffer.from('/p/b'), mod_revision: 12 } },
      ],
    }),
  );
  assert.deepEqual([w.watchId, w.created, w.canceled, w.events.length], [3, false, false, 2]);
  assert.deepEqual([w.events[0]!.type, w.events[0]!.kv.value.toString(), w.events[0]!.prevKv!.value.toString()], [0, 'new', 'old']);
  assert.deepEqual([w.events[1]!.type, w.events[1]!.kv.key.toString(), w.events[1]!.kv.modRevision, w.events[1]!.prevKv], [1, '/p/b', 12, null]);
  const c = wire.decodeWatch(encodeWith('etcdserverpb.WatchResponse', { header, canceled: true, compact_revision: 77, cancel_reason: 'mvcc: required revision has been compacted' }));
  assert.deepEqual([c.canceled, c.compactRevision, c.cancelReason], [true, 77, 'mvcc: required revision has been compacted']);
  const p = wire.decodeWatch(encodeWith('etcdserverpb.WatchResponse', { header, created: true, fragment: true }));
  assert.deepEqual([p.created, p.fragment, p.events.length, p.revision], [true, true, 0, 2 ** 45 + 7]);
});

test('unknown fields are skipped', () => {
  // RangeResponse + field 15 (varint), 16 (length-delimited), 17 (fixed64), 18 (fixed32).
  const base = encodeWith('etcdserverpb.RangeResponse', { header, count: 4 });
  const extra = Buffer.from([0x78, 0x96, 0x01, 0x82, 0x01, 0x02, 0x61, 0x62, 0x89, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x95, 0x01, 1, 2, 3, 4]);
  const r = wire.decodeRange(Buffer.concat([extra, base, extra]));
  assert.deepEqual([r.revision, r.count], [2 ** 45 + 7, 4]);
  assert.throws(() => wire.decodeRange(Buffer.from([0x12, 0x05, 0x0a])), /truncated/);
});

test('FrameReader splits messages across and within chunks', () => {
  const a = wire.encodeRange({ key: big });
  const b = wire.encodeWatchProgress();
  const all = Buffer.concat([a, b, a]);
  for (const cut of [1, 4, 5, 6, 100, a.length, a.length + 2, all.length - 1]) {
    const fr = new wire.FrameReader();
    const out = [...fr.push(all.subarray(0, cut)), ...fr.push(all.subarray(cut))];
    assert.deepEqual(out, [a.subarray(5), b.subarray(5), a.subarray(5)], `cut at ${cut}`);
    assert.equal(fr.buffered, 0);
  }
  assert.throws(() => new wire.FrameReader().push(Buffer.from([1, 0, 0, 0, 0])), /compressed/);
});

test('requests are byte-for-byte what protobufjs writes for the same fields', () => {
  const frames: [string, Buffer][] = [
    ['etcdserverpb.RangeRequest', wire.encodeRange({ key: Buffer.from('/a/'), rangeEnd: Buffer.from('/a0'), limit: 2, revision: 9, countOnly: true })],
    ['etcdserverpb.DeleteRangeRequest', wire.encodeDeleteRange({ key: Buffer.from('/a/x'), prevKv: true })],
    ['etcdserverpb.LeaseGrantRequest', wire.encodeLeaseGrant(3600)],
    ['etcdserverpb.WatchRequest', wire.encodeWatchCreate({ key: Buffer.from('/'), rangeEnd: Buffer.from('0'), startRevision: 5, progressNotify: true, prevKv: true })],
    [
      'etcdserverpb.TxnRequest',
      wire.encodeTxn({
        compare: [{ result: wire.CMP_EQUAL, target: wire.TARGET_MOD, key: Buffer.from('k'), number: 2 ** 33 }],
        success: [{ put: { key: Buffer.from('k'), value: big, lease: 1234567890123456789n } }, { range: { key: Buffer.from('k'), keysOnly: true } }],
        failure: [{ range: { key: Buffer.from('k') } }],
      }),
    ],
  ];
  for (const [type, frame] of frames) {
    const t = T(type);
    const again = Buffer.from(t.encode(t.decode(unframe(frame))).finish());
    assert.deepEqual(again, unframe(frame), type);
  }
});
