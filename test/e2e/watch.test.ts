/**
 * Issue 11, the watch path end to end against `bin/bosun server`: clients that stop reading are
 * disconnected with bounded server memory while readers get every event; `timeoutSeconds` as
 * upstream (0 is the default, long values honoured, not an int64 is 400); a watch from a
 * version older than the cache's window is a 200 with one ERROR event carrying the 410; and
 * boolean parameters spelled as upstream accepts them.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { startServer, kubectl, kubectlVersions, until, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request, watch, type Creds } from './api.ts';

let server: ServerHandle;
let creds: Creds;

before(async () => {
  server = await startServer({ args: ['--disable-scheduler', '--disable-controller-manager'] });
  creds = credsFromKubeconfig(server.kubeconfig);
});

after(async () => {
  await server?.stop();
});

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function createNamespace(name: string): Promise<void> {
  const r = await request(creds, 'POST', '/api/v1/namespaces', { body: JSON.stringify({ metadata: { name } }) });
  assert.equal(r.status, 201, r.body);
}

/** A watch whose client reads the headers and then nothing: its socket is paused. */
function stalledWatch(path: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; resumeAndCount(): Promise<{ events: number; closed: boolean }> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, creds.server), { ca: creds.ca, cert: creds.cert, key: creds.key, agent: false, headers: { accept: 'application/json', ...headers } }, (res) => {
      res.pause();
      res.socket.pause();
      resolve({
        res,
        resumeAndCount: () => new Promise((done) => {
          let lines = 0;
          let t: ReturnType<typeof setTimeout>;
          const finish = (closed: boolean) => {
            clearTimeout(t);
            done({ events: lines, closed });
          };
          res.on('data', (d: Buffer) => {
            for (const b of d) if (b === 10) lines++;
          });
          res.on('close', () => finish(true));
          res.on('error', () => finish(true));
          t = setTimeout(() => {
            req.destroy();
            finish(false);
          }, 30_000);
          res.socket.resume();
          res.resume();
        }),
      });
    });
    req.on('error', (e) => reject(e));
    req.end();
  });
}

describe('slow watchers', () => {
  test('clients that stop reading are disconnected, server memory stays bounded, a reader gets every event', { timeout: 240_000 }, async (t) => {
    const ns = 'slow-watchers';
    await createNamespace(ns);
    const base = `/api/v1/namespaces/${ns}/configmaps`;
    const created = await request(creds, 'POST', base, { body: JSON.stringify({ metadata: { name: 'big' }, data: { i: '-1' } }) });
    assert.equal(created.status, 201, created.body);
    const from = created.json().metadata.resourceVersion;
    const updates = 100;
    const stalledCount = 20;
    // Half of them accept gzip, as kubectl does (the server wraps those responses).
    const stalled = await Promise.all(Array.from({ length: stalledCount }, (_, i) => stalledWatch(`${base}?watch=true&resourceVersion=${from}`, i % 2 ? { 'accept-encoding': 'gzip' } : {})));
    for (const s of stalled) assert.equal(s.res.statusCode, 200);
    const reading = watch(creds, `${base}?watch=true&resourceVersion=${from}`, (e) => e.length >= updates, 180_000);

    const pid = server.proc.pid!;
    const before = rssBytes(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
    const big = 'x'.repeat(512 * 1024);
    try {
      for (let i = 0; i < updates; i++) {
        const r = await request(creds, 'PUT', `${base}/big`, { body: JSON.stringify({ metadata: { name: 'big' }, data: { i: String(i), big } }) });
        assert.equal(r.status, 200, r.body);
      }
      const events = await reading;
      assert.deepEqual(events.map((e) => `${e.type} ${e.object.data.i}`), Array.from({ length: updates }, (_, i) => `MODIFIED ${i}`));
    } finally {
      clearInterval(sampler);
    }
    // Unbounded, the stalled watchers would buffer 20 x 100 x 512 KB (1000 MB; measured 1170 MB
    // before the fix). Bounded, the growth is the cache's window of these updates (about 200 MB).
    const grown = peak - before;
    t.diagnostic(`server RSS ${(before / 2 ** 20).toFixed(0)} MB before, peak ${(peak / 2 ** 20).toFixed(0)} MB`);
    assert.ok(grown < 0.6 * stalledCount * updates * big.length, `server RSS grew by ${(grown / 2 ** 20).toFixed(0)} MB`);
    await until('the server to log closing the unresponsive watchers', async () => /watcher close due to unresponsiveness/.test(server.output()), { timeoutMs: 30_000 });
    // Every stalled watch was cut: reading again, each ends before all updates arrive.
    const counts = await Promise.all(stalled.map((s) => s.resumeAndCount()));
    for (const c of counts) {
      assert.equal(c.closed, true, 'the server closed the stalled watch');
      assert.ok(c.events < updates, `a stalled watch received ${c.events} of ${updates} events`);
    }
  });
});

describe('timeoutSeconds', () => {
  for (const t of ['0', '2147484', '9223372036854775807']) {
    test(`timeoutSeconds=${t} keeps the watch open`, async () => {
      const ns = `timeout-${t.length}`;
      await createNamespace(ns);
      const events = watch(creds, `/api/v1/namespaces/${ns}/configmaps?watch=true&timeoutSeconds=${t}`, (e) => e.length >= 1, 20_000);
      await new Promise((r) => setTimeout(r, 1500));
      const r = await request(creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: JSON.stringify({ metadata: { name: 'later' } }) });
      assert.equal(r.status, 201);
      assert.deepEqual((await events).map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'later']]);
    });
  }

  test('timeoutSeconds=1 ends the watch', async () => {
    const r = await request(creds, 'GET', '/api/v1/configmaps?watch=true&resourceVersion=0&timeoutSeconds=1&fieldSelector=metadata.name=none');
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
  });

  test('a negative timeoutSeconds has already expired', async () => {
    const r = await request(creds, 'GET', '/api/v1/configmaps?watch=true&timeoutSeconds=-1&fieldSelector=metadata.name=none');
    assert.equal(r.status, 200);
  });

  for (const bad of ['abc', '1.5', '9223372036854775808']) {
    test(`timeoutSeconds=${bad} is a 400`, async () => {
      const r = await request(creds, 'GET', `/api/v1/configmaps?watch=true&timeoutSeconds=${bad}`);
      assert.equal(r.status, 400, r.body);
      assert.equal(r.json().reason, 'BadRequest');
    });
  }
});

describe('boolean parameters', () => {
  test('sendInitialEvents=yes and allowWatchBookmarks=True are true', async () => {
    const ns = 'watch-bools';
    await createNamespace(ns);
    await request(creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: JSON.stringify({ metadata: { name: 'one' } }) });
    const events = await watch(
      creds,
      `/api/v1/namespaces/${ns}/configmaps?watch=true&sendInitialEvents=yes&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=True`,
      (e) => e.some((x) => x.type === 'BOOKMARK'),
      10_000,
    );
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'one'], ['BOOKMARK', undefined]]);
    assert.equal(events[1].object.metadata.annotations['k8s.io/initial-events-end'], 'true');
  });

  test('sendInitialEvents=FALSE sends no initial state', async () => {
    const ns = 'watch-bools-false';
    await createNamespace(ns);
    await request(creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: JSON.stringify({ metadata: { name: 'old' } }) });
    const events = watch(creds, `/api/v1/namespaces/${ns}/configmaps?watch=true&sendInitialEvents=FALSE&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=0`, (e) => e.length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    await request(creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: JSON.stringify({ metadata: { name: 'new' } }) });
    assert.deepEqual((await events).map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'new']]);
  });

  test('sendInitialEvents=true with allowWatchBookmarks=false is a 400', async () => {
    const r = await request(creds, 'GET', '/api/v1/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=false');
    assert.equal(r.status, 400);
  });
});

describe('a watch from a version older than the cache window', () => {
  test('is a 200 carrying one ERROR event with the 410, for the API and kubectl', { timeout: 120_000 }, async () => {
    const ns = 'too-old';
    await createNamespace(ns);
    const first = (await request(creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: JSON.stringify({ metadata: { name: 'a' } }) })).json();
    await request(creds, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: JSON.stringify({ metadata: { name: 'b' } }) });
    // A restart starts the watch cache's window at the current revision.
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, args: ['--disable-scheduler', '--disable-controller-manager'] });
    creds = credsFromKubeconfig(server.kubeconfig);
    const rv = first.metadata.resourceVersion;
    const r = await request(creds, 'GET', `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}`);
    assert.equal(r.status, 200, r.body);
    const lines = r.body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(lines.length, 1, r.body);
    assert.equal(lines[0].type, 'ERROR');
    const status = lines[0].object;
    assert.deepEqual(Object.keys(status), ['kind', 'apiVersion', 'metadata', 'status', 'message', 'reason', 'code']);
    assert.deepEqual({ ...status, message: '' }, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: '', reason: 'Expired', code: 410 });
    assert.match(status.message, new RegExp(`^too old resource version: ${rv} \\(\\d+\\)$`));
    // kubectl sees the same stream: a 200 whose one line is the ERROR (an HTTP 410 would fail the command).
    for (const v of kubectlVersions) {
      const k = await kubectl(server, v, ['get', '--raw', `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}`], { timeoutMs: 20_000 });
      assert.equal(k.code, 0, k.stderr);
      assert.equal(JSON.parse(k.stdout).object.code, 410);
    }
  });
});
