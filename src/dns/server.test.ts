import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import type { EndpointSlice, Service } from '../api/index.ts';
import { ClusterView } from './records.ts';
import { Forwarder } from './forward.ts';
import { DnsHandler, DnsServer } from './server.ts';
import { queryPacket, queryTcp, queryUdp, rcodeOf } from './client.ts';

/** A fake upstream resolver on 127.0.0.1 (UDP and TCP): `a.example.test` A, everything else NXDOMAIN. */
async function fakeUpstream(opts: { silent?: boolean } = {}) {
  let sock = dgram.createSocket('udp4');
  const asked: string[] = [];
  const reply = (msg: Buffer, transport: string): Buffer | undefined => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    asked.push(`${question.name} ${question.type}${transport}`);
    if (opts.silent) return undefined;
    const known = question.name.toLowerCase() === 'a.example.test' || question.name.toLowerCase() === 'example.test';
    return dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
      questions: q.questions,
      answers: known && question.type === 'A' ? [{ name: question.name, type: 'A', class: 'IN', ttl: 300, data: '192.0.2.1' }] : [],
      authorities: known ? [] : [{ name: 'example.test', type: 'SOA', class: 'IN', ttl: 60, data: { mname: 'ns.example.test', rname: 'h.example.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 30 } }],
    });
  };
  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    const r = reply(msg, '');
    if (r) sock.send(r, rinfo.port, rinfo.address);
  };
  sock.on('message', onMessage);
  const tcp = net.createServer((c) => {
    c.on('error', () => {});
    c.once('data', (d: Buffer) => {
      const r = reply(d.subarray(2, 2 + d.readUInt16BE(0)), ' tcp');
      if (!r) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(r.length);
      c.end(Buffer.concat([len, r]));
    });
  });
  // UDP on a free port, then TCP on the same number; another process may hold that TCP port: try again.
  for (let attempt = 1; ; attempt++) {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const bound = await new Promise<boolean>((resolve, reject) => {
      tcp.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' && attempt < 10 ? resolve(false) : reject(err)));
      tcp.listen(sock.address().port, '127.0.0.1', () => resolve(true));
    });
    if (bound) break;
    await new Promise<void>((r) => sock.close(() => r()));
    sock = dgram.createSocket('udp4');
    sock.on('message', onMessage);
  }
  return {
    port: sock.address().port,
    asked,
    close: () => {
      sock.close();
      tcp.close();
    },
  };
}

function view(): ClusterView {
  const v = new ClusterView();
  v.upsertNamespace('default');
  const svc = (name: string, spec: Service['spec']): Service => ({ metadata: { namespace: 'default', name }, spec });
  v.upsertService(svc('web', { clusterIP: '10.43.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
  v.upsertService(svc('ext', { type: 'ExternalName', externalName: 'a.example.test' }));
  v.upsertService(svc('big', { clusterIP: 'None' }));
  const slice: EndpointSlice = {
    metadata: { namespace: 'default', name: 'big-1', labels: { 'kubernetes.io/service-name': 'big' } },
    addressType: 'IPv4',
    endpoints: Array.from({ length: 100 }, (_, i) => ({ addresses: [`10.42.1.${i + 1}`], conditions: { ready: true } })),
  };
  v.upsertSlice(slice);
  return v;
}

async function start(opts: { upstreamPort: number; ready?: () => boolean; maxInFlight?: number; attemptTimeoutMs?: number; maxConnections?: number; idleTimeoutMs?: number }) {
  const forwarder = new Forwarder({ upstreams: [{ host: '127.0.0.1', port: opts.upstreamPort }], maxInFlight: opts.maxInFlight, attemptTimeoutMs: opts.attemptTimeoutMs ?? 1000 });
  const v = view();
  const handler = new DnsHandler({ view: v, zone: { domain: 'cluster.local', dnsIP: '10.43.0.10' }, forwarder, ready: opts.ready });
  const server = new DnsServer(handler, { maxConnections: opts.maxConnections, idleTimeoutMs: opts.idleTimeoutMs });
  const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
  const close = async () => {
    await server.close();
    forwarder.close();
  };
  return { port, handler, forwarder, view: v, close, at: { host: '127.0.0.1', port } };
}

const up = await fakeUpstream();
const s = await start({ upstreamPort: up.port });
after(async () => {
  await s.close();
  up.close();
});

const ips = (p: DecodedPacket) => (p.answers ?? []).filter((a) => a.type === 'A').map((a) => (a as { data: unknown }).data);

test('a Service name resolves over UDP, authoritatively, with the question echoed', async () => {
  const r = await queryUdp(queryPacket('web.default.svc.cluster.local', 'A'), s.at);
  assert.equal(rcodeOf(r), 'NOERROR');
  assert.ok(r.flag_aa);
  assert.ok(r.flag_rd && r.flag_ra);
  assert.deepEqual(ips(r), ['10.43.0.20']);
  assert.equal(r.questions?.[0]?.name, 'web.default.svc.cluster.local');
});

test('a Service name resolves over TCP', async () => {
  const r = await queryTcp(queryPacket('web.default.svc.cluster.local', 'A'), s.at);
  assert.deepEqual(ips(r), ['10.43.0.20']);
});

test('an unknown cluster name is NXDOMAIN with the SOA in the authority section', async () => {
  const r = await queryUdp(queryPacket('nope.default.svc.cluster.local', 'A'), s.at);
  assert.equal(rcodeOf(r), 'NXDOMAIN');
  assert.equal(r.authorities?.[0]?.type, 'SOA');
  assert.equal(r.authorities?.[0]?.ttl, 5);
});

test('other names go to the upstream resolver and are cached for their TTL', async () => {
  const before = up.asked.filter((a) => a === 'a.example.test A').length;
  const r1 = await queryUdp(queryPacket('a.example.test', 'A'), s.at);
  const r2 = await queryUdp(queryPacket('a.example.test', 'A'), s.at);
  assert.deepEqual(ips(r1), ['192.0.2.1']);
  assert.deepEqual(ips(r2), ['192.0.2.1']);
  assert.ok(!r1.flag_aa);
  assert.equal(up.asked.filter((a) => a === 'a.example.test A').length - before, 1);
});

test('an upstream NXDOMAIN is passed on (and cached with the SOA minimum)', async () => {
  const r = await queryUdp(queryPacket('gone.example.test', 'A'), s.at);
  assert.equal(rcodeOf(r), 'NXDOMAIN');
  await queryUdp(queryPacket('gone.example.test', 'A'), s.at);
  assert.equal(up.asked.filter((a) => a === 'gone.example.test A').length, 1);
});

test('an ExternalName Service answers its CNAME and the target’s address', async () => {
  const r = await queryUdp(queryPacket('ext.default.svc.cluster.local', 'A'), s.at);
  assert.deepEqual(
    (r.answers ?? []).map((a) => [a.type, (a as { data: unknown }).data]),
    [
      ['CNAME', 'a.example.test'],
      ['A', '192.0.2.1'],
    ],
  );
});

test('a UDP answer larger than 512 bytes is truncated with TC set; TCP gives all of it', async () => {
  const u = await queryUdp(queryPacket('big.default.svc.cluster.local', 'A'), s.at);
  assert.ok(u.flag_tc);
  assert.ok(u.size <= 512, `${u.size} bytes`);
  assert.ok((u.answers ?? []).length > 0 && (u.answers ?? []).length < 100);
  const e = await queryUdp(queryPacket('big.default.svc.cluster.local', 'A', 1232), s.at);
  assert.ok(e.flag_tc);
  assert.ok(e.size <= 1232 && e.size > 512, `${e.size} bytes`);
  const t = await queryTcp(queryPacket('big.default.svc.cluster.local', 'A'), s.at);
  assert.ok(!t.flag_tc);
  assert.equal((t.answers ?? []).length, 100);
});

test('a truncated UDP answer keeps as many records as fit', async () => {
  // 512 bytes: header 12 + question (35) + n answers of 16 bytes (compressed owner).
  const u = await queryUdp(queryPacket('big.default.svc.cluster.local', 'A'), s.at);
  assert.equal(u.size + 16 > 512, true, 'one more record would not fit');
});

test('a malformed query gets FORMERR; a response is dropped', async () => {
  const bad = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f]);
  const r = await queryUdp(bad, s.at);
  assert.equal(r.id, 0x1234);
  assert.equal(rcodeOf(r), 'FORMERR');
  const response = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'x', type: 'A' }] });
  await assert.rejects(queryUdp(response, { ...s.at, timeoutMs: 300 }), /no DNS reply/);
});

test('other opcodes get NOTIMP', async () => {
  const b = dnsPacket.encode(queryPacket('web.default.svc.cluster.local', 'A'));
  b[2] = (b[2]! & 0x87) | (2 << 3); // STATUS
  assert.equal(rcodeOf(await queryUdp(b, s.at)), 'NOTIMP');
});

test('cluster names answer SERVFAIL until the view is synced', async () => {
  let ready = false;
  const x = await start({ upstreamPort: up.port, ready: () => ready });
  try {
    assert.equal(rcodeOf(await queryUdp(queryPacket('web.default.svc.cluster.local', 'A'), x.at)), 'SERVFAIL');
    ready = true;
    assert.equal(rcodeOf(await queryUdp(queryPacket('web.default.svc.cluster.local', 'A'), x.at)), 'NOERROR');
  } finally {
    await x.close();
  }
});

test('a silent upstream gives SERVFAIL after the attempt deadline; a full forwarder REFUSED', async () => {
  const silent = await fakeUpstream({ silent: true });
  const x = await start({ upstreamPort: silent.port, attemptTimeoutMs: 300, maxInFlight: 1 });
  try {
    const first = queryUdp(queryPacket('slow.example.test', 'A'), x.at);
    const second = await queryUdp(queryPacket('other.example.test', 'A'), x.at);
    assert.equal(rcodeOf(second), 'REFUSED');
    assert.equal(rcodeOf(await first), 'SERVFAIL');
  } finally {
    await x.close();
    silent.close();
  }
});

test('TCP: idle connections are closed, and connections beyond the limit refused', async () => {
  const x = await start({ upstreamPort: up.port, idleTimeoutMs: 200, maxConnections: 2 });
  try {
    const closed = (c: net.Socket) => new Promise<void>((r) => c.on('close', () => r()));
    const a = net.connect(x.at);
    const b = net.connect(x.at);
    await Promise.all([a, b].map((c) => new Promise((r) => c.on('connect', r))));
    const c = net.connect(x.at);
    c.on('error', () => {});
    const t0 = Date.now();
    await closed(c); // the third is dropped at once
    assert.ok(Date.now() - t0 < 150, 'the connection over the limit closes before the idle timeout');
    await Promise.all([closed(a), closed(b)]); // the idle ones after 200 ms
  } finally {
    await x.close();
  }
});

test('TCP: several queries on one connection are all answered', async () => {
  const sock = net.connect(s.at);
  await new Promise((r) => sock.on('connect', r));
  const frames = ['web', 'nope', 'web'].map((n, i) => {
    const body = dnsPacket.encode({ ...queryPacket(`${n}.default.svc.cluster.local`, 'A'), id: i + 1 });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(body.length);
    return Buffer.concat([len, body]);
  });
  sock.write(Buffer.concat(frames));
  const ids: number[] = [];
  let buf = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        const n = buf.readUInt16BE(0);
        ids.push(dnsPacket.decode(buf.subarray(2, n + 2)).id!);
        buf = buf.subarray(n + 2);
      }
      if (ids.length === 3) resolve();
    });
  });
  sock.destroy();
  assert.deepEqual(ids.sort(), [1, 2, 3]);
});

test('repeated cluster queries come from the answer cache with their own id and letter case, until the view changes', async () => {
  const x = await start({ upstreamPort: up.port });
  try {
    const first = await queryUdp({ ...queryPacket('web.default.svc.cluster.local', 'A'), id: 7 }, x.at);
    const before = x.handler.stats.queries;
    const second = await queryUdp({ ...queryPacket('WEB.default.SVC.cluster.local', 'A'), id: 9 }, x.at);
    assert.equal(x.handler.stats.queries, before + 1);
    assert.equal(first.id, 7);
    assert.equal(second.id, 9);
    assert.equal(second.questions?.[0]?.name, 'WEB.default.SVC.cluster.local');
    assert.deepEqual(ips(second), ['10.43.0.20']);
    x.view.upsertService({ metadata: { namespace: 'default', name: 'web' }, spec: { clusterIP: '10.43.0.99', ports: [{ name: 'http', port: 80 }] } });
    assert.deepEqual(ips(await queryUdp(queryPacket('web.default.svc.cluster.local', 'A'), x.at)), ['10.43.0.99']);
    // With EDNS the answer differs (an OPT record): cached apart.
    const edns = await queryUdp(queryPacket('web.default.svc.cluster.local', 'A', 1232), x.at);
    assert.ok((edns.additionals ?? []).some((a) => a.type === 'OPT'));
    const plain = await queryUdp(queryPacket('web.default.svc.cluster.local', 'A'), x.at);
    assert.ok(!(plain.additionals ?? []).some((a) => a.type === 'OPT'));
  } finally {
    await x.close();
  }
});

test('a query over TCP is forwarded over TCP', async () => {
  const r = await queryTcp(queryPacket('a.example.test', 'AAAA'), s.at);
  assert.equal(rcodeOf(r), 'NOERROR');
  assert.ok(up.asked.includes('a.example.test AAAA tcp'));
});
