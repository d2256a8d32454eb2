/**
 * Streaming through the API server to the node agent and containerd, with kubectl 1.27 (SPDY) and
 * 1.33 (WebSocket): logs (follow, tail, timestamps), exec with and without stdin and exit codes,
 * attach, cp both ways, port-forward, `run -i --rm`, debug, and nodes/proxy (stats summary,
 * healthz, pods, metrics).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Pod } from '../../src/api/index.ts';
import { spawn } from 'node:child_process';
import { kubectl, kubectlBackground, kubectlOk, kubectlPath, kubectlVersions, until, useServer, waitForServiceAccount, type ServerHandle, getPod } from './harness.ts';
import { agentSupported, busyboxImage } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
let server!: ServerHandle;
if (!skip) useServer({ agent: true }, (s) => (server = s));
const newest = kubectlVersions.at(-1)!;

const pod = (name: string) => getPod(server, name);

async function runPod(name: string, command: string[], extra: Record<string, unknown> = {}): Promise<Pod> {
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
  const manifest = { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: busyboxImage, command, ...extra }] } };
  await kubectlOk(server, newest, ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
  return until(`pod ${name} Ready`, async () => {
    const p = await pod(name);
    return p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
  }, { timeoutMs: 60_000, detail: () => server.output().slice(-2000) });
}

test('setup: a chatty pod and a shell pod', { skip }, async () => {
  await runPod('chatty', ['sh', '-c', 'for i in 1 2 3 4 5; do echo line $i; done; echo err >&2; while true; do sleep 0.3; echo tick; done']);
  await runPod('shell', ['sh', '-c', 'mkdir -p /www && echo served > /www/index.html && httpd -p 8080 -h /www && sleep 3600'], { stdin: true, tty: false });
});

for (const v of kubectlVersions) {
  test(`kubectl ${v} logs: whole, --tail, --timestamps, --limit-bytes, -f`, { skip }, async () => {
    const all = await kubectlOk(server, v, ['logs', 'chatty']);
    // stdout and stderr reach the log through two pipes: their relative order is not fixed.
    const lines = all.split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('line ')), ['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
    assert.ok(lines.indexOf('err') >= 0 && lines.indexOf('err') < lines.indexOf('tick'), all);
    const tail = await kubectlOk(server, v, ['logs', 'chatty', '--tail=1']);
    assert.equal(tail, 'tick\n');
    const ts = await kubectlOk(server, v, ['logs', 'chatty', '--timestamps', '--tail=1']);
    assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick\n$/);
    const limited = await kubectlOk(server, v, ['logs', 'chatty', '--limit-bytes=9']);
    assert.equal(limited, all.slice(0, 9));
    const follow = kubectlBackground(server, v, ['logs', '-f', 'chatty', '--tail=0']);
    try {
      await follow.waitFor((o) => (o.match(/tick/g) ?? []).length >= 2, 20_000);
    } finally {
      follow.stop();
    }
    const r = await kubectl(server, v, ['logs', 'chatty', '-c', 'nope']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container nope is not valid for pod chatty/);
  });

  test(`kubectl ${v} exec: output, stdin, exit codes`, { skip }, async () => {
    assert.equal(await kubectlOk(server, v, ['exec', 'shell', '--', 'echo', 'hi']), 'hi\n');
    assert.equal(await kubectlOk(server, v, ['exec', '-i', 'shell', '--', 'cat'], { input: 'from stdin\n' }), 'from stdin\n');
    const r = await kubectl(server, v, ['exec', 'shell', '--', 'sh', '-c', 'echo out; echo oops >&2; exit 7']);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'out\n');
    assert.match(r.stderr, /oops/);
    const missing = await kubectl(server, v, ['exec', 'shell', '--', 'no-such-binary']);
    assert.notEqual(missing.code, 0);
  });

  test(`kubectl ${v} cp copies a file into the pod and back`, { skip }, async () => {
    const dir = await fs.mkdtemp('/tmp/bosun-cp-');
    const src = path.join(dir, 'in.txt');
    await fs.writeFile(src, `payload ${v}\n`.repeat(1000));
    await kubectlOk(server, v, ['cp', src, `shell:/tmp/in-${v}.txt`]);
    assert.equal((await kubectlOk(server, v, ['exec', 'shell', '--', 'wc', '-c', `/tmp/in-${v}.txt`])).trim().split(/\s+/)[0], String((`payload ${v}\n`).length * 1000));
    const back = path.join(dir, 'back.txt');
    await kubectlOk(server, v, ['cp', `shell:/tmp/in-${v}.txt`, back]);
    assert.equal(await fs.readFile(back, 'utf8'), await fs.readFile(src, 'utf8'));
    await fs.rm(dir, { recursive: true, force: true });
  });

  test(`kubectl ${v} port-forward reaches the pod's port`, { skip }, async () => {
    const pf = kubectlBackground(server, v, ['port-forward', 'pod/shell', ':8080']);
    try {
      const out = await pf.waitFor((o) => /Forwarding from 127\.0\.0\.1:\d+/.test(o), 20_000);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const body = await httpGet(port);
      assert.match(body, /served/);
      assert.match(await httpGet(port), /served/, 'a second connection works too');
    } finally {
      pf.stop();
    }
  });

  test(`kubectl ${v} attach sees the container's output and feeds its stdin`, { skip }, async () => {
    const name = `attach-${v}`;
    await runPod(name, ['sh', '-c', 'while read l; do echo "got $l"; done'], { stdin: true });
    const child = spawn(kubectlPath(v), ['--kubeconfig', server.kubeconfig, 'attach', '-i', name], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      child.stdin.write('one\n');
      await until('the first answer', async () => out.includes('got one'), { timeoutMs: 20_000, detail: () => out });
      child.stdin.write('two\n');
      await until('the second answer', async () => out.includes('got two'), { timeoutMs: 20_000, detail: () => out });
    } finally {
      child.kill();
    }
    await kubectlOk(server, v, ['delete', 'pod', name, '--grace-period=0', '--force']);
  });
}

test('kubectl run -i --rm runs a command, prints its output and removes the pod', { skip }, async () => {
  const r = await kubectl(server, newest, ['run', 'once', '-i', '--rm', '--restart=Never', `--image=${busyboxImage}`, '--', 'sh', '-c', 'sleep 2; echo hello from run'], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /hello from run/);
  await until('the pod is gone', async () => !(await pod('once')));
});

test('kubectl debug adds an ephemeral container that runs', { skip }, async () => {
  const r = await kubectl(server, newest, ['debug', 'shell', `--image=${busyboxImage}`, '--container=dbg', '--', 'sh', '-c', 'echo debugging; sleep 30'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const p = await until('the ephemeral container runs', async () => {
    const p = await pod('shell');
    return p?.status?.ephemeralContainerStatuses?.find((s) => s.name === 'dbg' && s.state?.running) ? p : undefined;
  }, { timeoutMs: 60_000 });
  assert.equal(p.spec?.ephemeralContainers?.[0]?.name, 'dbg');
  await until('its log', async () => (await kubectl(server, newest, ['logs', 'shell', '-c', 'dbg'])).stdout.includes('debugging'));
});

test('nodes/proxy serves the agent: stats summary, healthz, pods, metrics', { skip }, async () => {
  const node = (await kubectlOk(server, newest, ['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  const summary = JSON.parse(await kubectlOk(server, newest, ['get', '--raw', `/api/v1/nodes/${node}/proxy/stats/summary`])) as {
    node: { nodeName: string; cpu: { usageCoreNanoSeconds: number }; memory: { workingSetBytes: number }; fs: { capacityBytes: number }; network?: unknown };
    pods: Array<{ podRef: { name: string }; containers: Array<{ name: string; cpu?: unknown; memory?: { workingSetBytes?: number } }>; network?: unknown }>;
  };
  assert.equal(summary.node.nodeName, node);
  assert.ok(summary.node.cpu.usageCoreNanoSeconds > 0);
  assert.ok(summary.node.memory.workingSetBytes > 0);
  assert.ok(summary.node.fs.capacityBytes > 0);
  const chatty = summary.pods.find((p) => p.podRef.name === 'chatty');
  assert.ok(chatty, 'pod chatty in the summary');
  assert.ok((chatty.containers[0]?.memory?.workingSetBytes ?? 0) > 0);
  assert.ok(chatty.network, 'pod network stats from its namespace');
  assert.equal((await kubectlOk(server, newest, ['get', '--raw', `/api/v1/nodes/${node}/proxy/healthz`])).trim(), 'ok');
  const pods = JSON.parse(await kubectlOk(server, newest, ['get', '--raw', `/api/v1/nodes/${node}/proxy/pods`])) as { kind: string; items: Pod[] };
  assert.equal(pods.kind, 'PodList');
  assert.ok(pods.items.some((p) => p.metadata.name === 'chatty'));
  assert.match(await kubectlOk(server, newest, ['get', '--raw', `/api/v1/nodes/${node}/proxy/metrics`]), /kubelet_running_pods \d+/);
});

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n'));
    let data = '';
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}
