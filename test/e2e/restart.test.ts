/**
 * No action before the caches have synced: `bosun server --virtual-nodes 2` with a Deployment
 * whose pods all run is stopped (SIGTERM) and started again on the same data directory. The
 * restarted controllers must not create or delete a single pod: the pods keep their UIDs, a
 * watch on them sees no ADDED or DELETED event, and the ReplicaSet gets no new
 * SuccessfulCreate/SuccessfulDelete events. "Long enough" is proven, not slept: a probe
 * Deployment created after the restart must have run its pod (so the ReplicaSet controller is
 * running and has worked through the sets it listed at start), and then a few more seconds pass.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { startServer, kubectlOk, until, waitForServiceAccount, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request, type Creds } from './api.ts';

const v = '33';
const ns = 'restart';
const replicas = 4;
let server: ServerHandle | undefined;

after(async () => {
  await server?.stop();
});

interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  status?: { phase?: string };
}

async function webPods(creds: Creds): Promise<Pod[]> {
  const r = await request(creds, 'GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { items: Pod[] }).items;
}

/** Sum of the counts of the ReplicaSet controller's create/delete events in the namespace. */
async function podEvents(creds: Creds): Promise<{ create: number; del: number }> {
  const r = await request(creds, 'GET', `/api/v1/namespaces/${ns}/events`);
  const items = (JSON.parse(r.body) as { items: { reason: string; count?: number; involvedObject: { kind: string; name: string } }[] }).items;
  const sum = (reason: string) => items.filter((e) => e.reason === reason && e.involvedObject.kind === 'ReplicaSet' && e.involvedObject.name.startsWith('web-')).reduce((n, e) => n + (e.count ?? 1), 0);
  return { create: sum('SuccessfulCreate'), del: sum('SuccessfulDelete') };
}

/** Collects the types of watch events on the web pods from now on. */
function watchPods(creds: Creds, fromRv: string) {
  const events: string[] = [];
  const req = https.request(new URL(`/api/v1/namespaces/${ns}/pods?watch=true&labelSelector=app%3Dweb&resourceVersion=${fromRv}`, creds.server), { ca: creds.ca, cert: creds.cert, key: creds.key }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; ) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line) events.push(`${(JSON.parse(line) as { type: string; object: { metadata?: { name?: string } } }).type} ${(JSON.parse(line) as { object: { metadata?: { name?: string } } }).object.metadata?.name ?? ''}`);
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return { events, stop: () => req.destroy() };
}

const allRunning = (ps: Pod[], n: number) => ps.length === n && ps.every((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);

test('a restarted server neither creates nor deletes pods of a settled Deployment', async () => {
  server = await startServer({ args: ['--virtual-nodes', '2'] });
  let creds = credsFromKubeconfig(server.kubeconfig);
  await kubectlOk(server, v, ['create', 'namespace', ns]);
  // The pods wait for the namespace's default ServiceAccount.
  await waitForServiceAccount(server, ns);
  await kubectlOk(server, v, ['-n', ns, 'create', 'deployment', 'web', '--image', 'registry.k8s.io/pause:3.10', '--replicas', String(replicas)]);
  const before = await until('the pods Running', async () => {
    const ps = await webPods(creds);
    return allRunning(ps, replicas) ? ps : null;
  }, { timeoutMs: 60_000 });
  // The recorder writes events asynchronously: wait until all creates are on record.
  const eventsBefore = await until('the create events recorded', async () => {
    const e = await podEvents(creds);
    return e.create === replicas ? e : null;
  }, { timeoutMs: 30_000 });

  const dataDir = server.dataDir;
  assert.equal(await server.stop('SIGTERM'), 0, server.output());
  server = await startServer({ dataDir, args: ['--virtual-nodes', '2'] });
  creds = credsFromKubeconfig(server.kubeconfig);
  // Watch from right after start-up, before the controllers have had the time to do anything.
  const list = await request(creds, 'GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);
  const watch = watchPods(creds, (JSON.parse(list.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
  try {
    await kubectlOk(server, v, ['-n', ns, 'create', 'deployment', 'probe', '--image', 'registry.k8s.io/pause:3.10']);
    await until('the probe pod Running (the controllers are at work)', async () => {
      const r = await request(creds, 'GET', `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dprobe`);
      return allRunning((JSON.parse(r.body) as { items: Pod[] }).items, 1);
    }, { timeoutMs: 90_000, detail: () => server!.output() });
    // A wrong create would be followed by a delete within about a second: leave time for both.
    await new Promise((r) => setTimeout(r, 3000));
    const after = await webPods(creds);
    assert.deepEqual(after.map((p) => p.metadata.uid).sort(), before.map((p) => p.metadata.uid).sort(), 'pods were replaced');
    assert.deepEqual(watch.events.filter((e) => e.startsWith('ADDED') || e.startsWith('DELETED')), [], 'pods were created or deleted after the restart');
    assert.deepEqual(await podEvents(creds), eventsBefore, 'the ReplicaSet controller created or deleted pods after the restart');
  } finally {
    watch.stop();
  }
});
