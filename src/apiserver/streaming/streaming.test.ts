/**
 * The streaming path end to end, in process: the API server (temporary store) with kubelet-client
 * credentials, a Node whose addresses point at the agent's HTTPS server, the agent server over a
 * fake backend and a fake CRI streaming server (kubelet/server/testing.ts). The real kubectl
 * (oldest and newest available) runs logs, exec (SPDY for 1.27, WebSocket v5 translated to SPDY
 * for 1.33), attach, port-forward (SPDY, and SPDY tunneled in WebSocket for 1.33) and
 * `get --raw …/nodes/N/proxy/…`; raw requests check upstream's wording for errors, discovery,
 * and the WebSocket protocol details kubectl cannot drive (TTY resize, v4, half-close).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import https from 'node:https';
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';
import { ensurePki, issueClientCert, issueServingCert, kubeconfigYaml, type Pki } from '../../pki/index.ts';
import { openStore } from '../../storage/index.ts';
import type { Store } from '../../storage/types.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { ApiServer } from '../server.ts';
import { bootstrap } from '../bootstrap.ts';
import { startAgentServer, type AgentServer } from '../../kubelet/server/index.ts';
import { HttpError } from '../../kubelet/server/backend.ts';
import { fakeBackend, fakeLog, startFakeCri, type FakeCri } from '../../kubelet/server/testing.ts';
import { maxAgentErrorBytes } from './connect.ts';
import { statusError } from '../../api/errors.ts';

const kubectlPath = (minor: string) => `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`;
const kubectlVersions = ['27', '33'].filter((v) => fs.existsSync(kubectlPath(v)));

let dir: string;
let pki: Pki;
let store: Store;
let api: ApiServer;
let port: number;
let kubeconfig: string;
let cri: FakeCri;
let agent: AgentServer;
let echo: net.Server;
const abort = new AbortController();

const podSpec = (containers: string[], nodeName?: string) => ({
  ...(nodeName ? { nodeName } : {}),
  containers: containers.map((name) => ({ name, image: 'busybox' })),
});
const pods = [
  { metadata: { name: 'p1', namespace: 'default' }, spec: podSpec(['c1'], 'node-1') },
  { metadata: { name: 'multi', namespace: 'default' }, spec: podSpec(['a', 'b'], 'node-1') },
  { metadata: { name: 'waiting', namespace: 'default' }, spec: podSpec(['c'], 'node-1') },
  { metadata: { name: 'noisy', namespace: 'default' }, spec: podSpec(['c'], 'node-1') },
  { metadata: { name: 'unbound', namespace: 'default' }, spec: podSpec(['c']) },
  { metadata: { name: 'lost', namespace: 'default' }, spec: podSpec(['c'], 'node-gone') },
];

const creds = () => ({ ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem });

function call(method: string, p: string, opts: { body?: unknown; type?: string; headers?: Record<string, string>; port?: number } = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      { host: '127.0.0.1', port: opts.port ?? port, method, path: p, agent: false, ...creds(), headers: { accept: 'application/json', ...(body ? { 'content-type': opts.type ?? 'application/json' } : {}), ...opts.headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-streaming-test-'));
  pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
  const serving = await issueServingCert(pki, { name: 'agent-serving', commonName: 'node-1', sans: ['127.0.0.1'] });
  const kubeletClient = await issueClientCert(pki, { name: 'kubelet-client', commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] });
  store = await openStore(undefined, dir);
  api = new ApiServer({
    store,
    resources: builtinResources,
    tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem },
    port: 0,
    kubeletClient: { ...kubeletClient, caPem: pki.caCertPem },
    admission: [
      {
        name: 'DenyForbiddenCommand',
        validate(a) {
          if (a.operation === 'CONNECT' && a.subresource === 'exec' && (a.object as { command?: string[] }).command?.[0] === 'forbidden') {
            throw statusError('Forbidden', 'pods "p1" is forbidden: the command "forbidden" is not allowed');
          }
        },
      },
    ],
  });
  port = await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
  kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(kubeconfig, kubeconfigYaml({ server: `https://127.0.0.1:${port}`, caPem: pki.caCertPem, certPem: pki.adminCertPem, keyPem: pki.adminKeyPem }));

  // A pod port (80) that echoes, for port-forward.
  echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  cri = await startFakeCri();
  const backend = fakeBackend({
    pods,
    cri,
    portMap: { 80: (echo.address() as net.AddressInfo).port },
    logs: {
      'default/p1/c1': fakeLog(['one', 'two']),
      'default/multi/a': fakeLog(['from a']),
      'default/multi/b': fakeLog(['from b']),
      'default/waiting/c': fakeLog([], { error: new HttpError(400, 'container "c" in pod "waiting" is waiting to start: ContainerCreating') }),
      'default/noisy/c': fakeLog([], { error: new HttpError(400, 'n'.repeat(maxAgentErrorBytes + 1000)) }),
    },
  });
  agent = await startAgentServer({ bindAddress: '127.0.0.1', port: 0, tls: { ...serving, caPem: pki.caCertPem }, backend, log: () => {} }, abort.signal);

  assert.equal((await call('POST', '/api/v1/nodes', { body: { metadata: { name: 'node-1' } } })).status, 201);
  const status = { status: { addresses: [{ type: 'Hostname', address: 'node-1' }, { type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: agent.port } } } };
  assert.equal((await call('PATCH', '/api/v1/nodes/node-1/status', { body: status, type: 'application/merge-patch+json' })).status, 200);
  // No serviceaccount controller here: the pods' account is made by hand (ServiceAccount admission needs it).
  assert.equal((await call('POST', '/api/v1/namespaces/default/serviceaccounts', { body: { metadata: { name: 'default' } } })).status, 201);
  for (const p of pods) assert.equal((await call('POST', '/api/v1/namespaces/default/pods', { body: p })).status, 201, p.metadata.name);
  await call('PATCH', '/api/v1/namespaces/default/pods/p1/status', { body: { status: { phase: 'Running' } }, type: 'application/merge-patch+json' });
});

after(async () => {
  abort.abort();
  await agent?.close();
  await cri?.close();
  echo?.close();
  await api?.close();
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kubectl(minor: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(kubectlPath(minor), ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(opts.input);
  });
}

const cases: { name: string; args: string[]; input?: string; code: number; stdout?: string | RegExp; stderr?: string | RegExp }[] = [
  { name: 'logs of a pod', args: ['logs', 'p1'], code: 0, stdout: 'one\ntwo\n' },
  { name: 'logs --tail', args: ['logs', 'p1', '--tail=1'], code: 0, stdout: 'two\n' },
  { name: 'logs -c of one of several containers', args: ['logs', 'multi', '-c', 'b'], code: 0, stdout: 'from b\n' },
  { name: 'logs of an unknown container (kubectl checks it first)', args: ['logs', 'p1', '-c', 'nosuch'], code: 1, stderr: 'error: container nosuch is not valid for pod p1\n' },
  { name: 'logs of a pod not bound yet are empty (upstream answers 204)', args: ['logs', 'unbound'], code: 0, stdout: '' },
  { name: 'logs of a missing pod', args: ['logs', 'nopod'], code: 1, stderr: /pods "nopod" not found/ },
  { name: 'logs of a container the agent says is waiting', args: ['logs', 'waiting'], code: 1, stderr: 'Error from server (BadRequest): container "c" in pod "waiting" is waiting to start: ContainerCreating\n' },
  { name: 'logs of a pod on a node that does not exist', args: ['logs', 'lost'], code: 1, stderr: 'Error from server (NotFound): nodes "node-gone" not found\n' },
  { name: 'node proxy: healthz', args: ['get', '--raw', '/api/v1/nodes/node-1/proxy/healthz'], code: 0, stdout: 'ok' },
  { name: 'node proxy: metrics', args: ['get', '--raw', '/api/v1/nodes/node-1/proxy/metrics'], code: 0, stdout: /^# HELP kubelet_running_pods/ },
  { name: 'node proxy: stats/summary', args: ['get', '--raw', '/api/v1/nodes/node-1/proxy/stats/summary'], code: 0, stdout: /"nodeName":"node-1"/ },
  { name: 'node proxy: the agent’s 404', args: ['get', '--raw', '/api/v1/nodes/node-1/proxy/nosuch'], code: 1, stderr: /NotFound/ },
  { name: 'node proxy: a missing node', args: ['get', '--raw', '/api/v1/nodes/nosuch/proxy/healthz'], code: 1, stderr: 'Error from server (NotFound): nodes "nosuch" not found\n' },
  { name: 'exec runs a command', args: ['exec', 'p1', '--', 'echo', 'hello', 'there'], code: 0, stdout: 'hello there\n' },
  { name: 'exec passes the exit code on', args: ['exec', 'p1', '--', 'sh', '-c', 'exit 3'], code: 3, stderr: 'command terminated with exit code 3\n' },
  { name: 'exec -i carries stdin to its end', args: ['exec', '-i', 'p1', '--', 'cat'], input: 'abc\ndef\n', code: 0, stdout: 'abc\ndef\n' },
  { name: 'exec of an unknown container', args: ['exec', 'p1', '-c', 'nosuch', '--', 'echo'], code: 1, stderr: /container nosuch is not valid for pod p1/ },
  { name: 'exec in a pod without a node', args: ['exec', 'unbound', '--', 'echo'], code: 1, stderr: /pod unbound does not have a host assigned/ },
  { name: 'exec is admitted as CONNECT with its PodExecOptions', args: ['exec', 'p1', '--', 'forbidden'], code: 1, stderr: /pods "p1" is forbidden: the command "forbidden" is not allowed/ },
  { name: 'exec of a runtime failure reports it', args: ['exec', 'p1', '--', 'fail', 'boom'], code: 1, stderr: /error executing command in container: boom/ },
  { name: 'attach -i copies stdin through', args: ['attach', '-i', 'p1'], input: 'attached\n', code: 0, stdout: /attached\n/ },
];

for (const v of kubectlVersions) {
  for (const c of cases) {
    test(`kubectl 1.${v}: ${c.name}`, async () => {
      const r = await kubectl(v, c.args, { input: c.input });
      const show = JSON.stringify(r);
      assert.equal(r.code, c.code, show);
      if (typeof c.stdout === 'string') assert.equal(r.stdout, c.stdout, show);
      if (c.stdout instanceof RegExp) assert.match(r.stdout, c.stdout, show);
      if (typeof c.stderr === 'string') assert.equal(r.stderr, c.stderr, show);
      if (c.stderr instanceof RegExp) assert.match(r.stderr, c.stderr, show);
    });
  }

  test(`kubectl 1.${v}: port-forward carries a TCP connection both ways`, async () => {
    const p = spawn(kubectlPath(v), ['--kubeconfig', kubeconfig, 'port-forward', 'pod/p1', ':80', '-v=4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 20_000;
      let local = 0;
      while (!local && Date.now() < deadline) {
        const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 80/.exec(out);
        if (m) local = Number(m[1]);
        else await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(local, out);
      for (const word of ['first', 'second']) {
        const sock = net.connect(local, '127.0.0.1');
        const got = await new Promise<string>((resolve, reject) => {
          let t = '';
          sock.on('data', (d: Buffer) => {
            t += d.toString();
            if (t.length >= word.length) resolve(t);
          });
          sock.on('error', reject);
          sock.write(word);
        });
        sock.destroy();
        assert.equal(got, word, out);
      }
      // kubectl ≥ 1.31 tunnels SPDY through a WebSocket; it must not have fallen back to SPDY.
      if (Number(v) >= 31) {
        assert.match(out, /negotiated protocol: portforward\.k8s\.io/);
        assert.doesNotMatch(out, /fallback/);
      }
    } finally {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('close', r));
    }
  });
}

for (const v of kubectlVersions.filter((x) => Number(x) >= 30)) {
  test(`kubectl 1.${v}: exec speaks WebSocket v5 (translated), without falling back to SPDY`, async () => {
    const r = await kubectl(v, ['exec', 'p1', '-v=4', '--', 'echo', 'ws']);
    assert.equal(r.stdout, 'ws\n');
    assert.match(r.stderr, /The subprotocol is v5\.channel\.k8s\.io/);
    assert.doesNotMatch(r.stderr, /fallback/i);
  });
}

// ---- raw requests: upstream's errors --------------------------------------------------------------

const raw: { name: string; method?: string; path: string; status: number; json?: Record<string, unknown>; text?: string }[] = [
  {
    name: 'a log of a pod with several containers needs one named',
    path: '/api/v1/namespaces/default/pods/multi/log',
    status: 400,
    json: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'a container name must be specified for pod multi, choose one of: [a b]', reason: 'BadRequest', code: 400 },
  },
  {
    name: 'negative tailLines is invalid',
    path: '/api/v1/namespaces/default/pods/p1/log?tailLines=-1',
    status: 422,
    json: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'PodLogOptions "p1" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
      reason: 'Invalid',
      details: { name: 'p1', kind: 'PodLogOptions', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: -1: must be greater than or equal to 0', field: 'tailLines' }] },
      code: 422,
    },
  },
  {
    name: 'sinceSeconds and sinceTime together are forbidden',
    path: '/api/v1/namespaces/default/pods/p1/log?sinceSeconds=10&sinceTime=2024-01-01T00:00:00Z',
    status: 422,
    json: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'PodLogOptions "p1" is invalid: []: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified',
      reason: 'Invalid',
      details: { name: 'p1', kind: 'PodLogOptions', causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified', field: '[]' }] },
      code: 422,
    },
  },
  {
    name: 'a log of an unknown container',
    path: '/api/v1/namespaces/default/pods/p1/log?container=nosuch',
    status: 400,
    json: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'container nosuch is not valid for pod p1', reason: 'BadRequest', code: 400 },
  },
  { name: 'a log of a pod without a node is 204', path: '/api/v1/namespaces/default/pods/unbound/log', status: 204, text: '' },
  { name: 'logs answer GET only', method: 'POST', path: '/api/v1/namespaces/default/pods/p1/log', status: 405 },
  {
    name: 'exec without an upgrade is a 400',
    method: 'POST',
    path: '/api/v1/namespaces/default/pods/p1/exec?command=ls&stdout=true',
    status: 400,
    json: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Upgrade request required', reason: 'BadRequest', code: 400 },
  },
  { name: 'exec answers GET and POST only', method: 'PUT', path: '/api/v1/namespaces/default/pods/p1/exec', status: 405 },
  { name: 'a node proxy with a path keeps the query', path: '/api/v1/nodes/node-1/proxy/healthz?verbose', status: 200, text: '[+]ping ok\n[+]log ok\n[+]syncloop ok\nhealthz check passed\n' },
  { name: 'a node proxy id must be name, name:port or scheme:name:port', path: '/api/v1/nodes/a:b:c:d/proxy/healthz', status: 400 },
];
for (const c of raw) {
  test(`raw: ${c.name}`, async () => {
    const r = await call(c.method ?? 'GET', c.path);
    assert.equal(r.status, c.status, r.text);
    if (c.json) assert.deepEqual(JSON.parse(r.text), c.json);
    if (c.text !== undefined) assert.equal(r.text, c.text);
  });
}

test('an agent’s error body is read up to maxAgentErrorBytes (bound)', async () => {
  const r = await call('GET', '/api/v1/namespaces/default/pods/noisy/log');
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.text).message, 'n'.repeat(maxAgentErrorBytes));
});

test('discovery lists the connect subresources with upstream’s kinds and verbs', async () => {
  const list = JSON.parse((await call('GET', '/api/v1')).text) as { resources: { name: string; kind: string; verbs: string[]; namespaced: boolean }[] };
  const pick = (n: string) => {
    const r = list.resources.find((x) => x.name === n);
    return r && { kind: r.kind, verbs: r.verbs, namespaced: r.namespaced };
  };
  assert.deepEqual(
    ['pods/attach', 'pods/exec', 'pods/log', 'pods/portforward', 'nodes/proxy'].map(pick),
    [
      { kind: 'PodAttachOptions', verbs: ['create', 'get'], namespaced: true },
      { kind: 'PodExecOptions', verbs: ['create', 'get'], namespaced: true },
      { kind: 'Pod', verbs: ['get'], namespaced: true },
      { kind: 'PodPortForwardOptions', verbs: ['create', 'get'], namespaced: true },
      { kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'], namespaced: false },
    ],
  );
  // Upstream lists a resource's subresources in path order.
  const podSubresources = list.resources.filter((r) => r.name.startsWith('pods/')).map((r) => r.name);
  assert.deepEqual(podSubresources, [...podSubresources].sort());
  for (const n of ['pods/attach', 'pods/binding', 'pods/eviction', 'pods/exec', 'pods/log', 'pods/portforward', 'pods/status']) assert.ok(podSubresources.includes(n), n);
  const agg = JSON.parse((await call('GET', '/api', { headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' } })).text);
  const podsAgg = agg.items[0].versions[0].resources.find((r: { resource: string }) => r.resource === 'pods');
  assert.deepEqual(
    podsAgg.subresources.find((s: { subresource: string }) => s.subresource === 'exec'),
    { subresource: 'exec', responseKind: { group: '', version: 'v1', kind: 'PodExecOptions' }, verbs: ['create', 'get'] },
  );
});

// ---- WebSocket details kubectl cannot drive --------------------------------------------------------

interface WsRun {
  channels: { ch: number; text: string }[];
  closeCode: number;
  protocol: string;
}

function wsExec(query: string, protocol: string, send: (ws: WebSocket) => void): Promise<WsRun> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/api/v1/namespaces/default/pods/p1/exec?${query}`, [protocol], { ...creds() });
    const channels: { ch: number; text: string }[] = [];
    ws.on('open', () => send(ws));
    ws.on('message', (data: Buffer) => channels.push({ ch: data[0]!, text: data.subarray(1).toString() }));
    ws.on('close', (code) => resolve({ channels, closeCode: code, protocol: ws.protocol }));
    ws.on('error', reject);
  });
}

const success = JSON.stringify({ metadata: {}, status: 'Success' });

test('WebSocket v5: a TTY resize reaches the command as SPDY resize JSON', async () => {
  const r = await wsExec('command=size&stdin=true&stdout=true&tty=true', 'v5.channel.k8s.io', (ws) => ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":120,"Height":40}')])));
  assert.equal(r.protocol, 'v5.channel.k8s.io');
  assert.deepEqual(r.channels, [
    { ch: 1, text: '' },
    { ch: 1, text: '120x40\n' },
    { ch: 3, text: success },
  ]);
  assert.equal(r.closeCode, 1000);
});

test('WebSocket v5: the close signal ends stdin', async () => {
  const r = await wsExec('command=cat&stdin=true&stdout=true', 'v5.channel.k8s.io', (ws) => {
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('typed')]));
    ws.send(Buffer.from([255, 0]));
  });
  assert.deepEqual(r.channels.map((c) => c.ch), [1, 1, 3]);
  assert.equal(r.channels[1]!.text, 'typed');
  assert.equal(r.channels[2]!.text, success);
});

test('WebSocket v4 (binary) is translated too: stderr on its own channel, exit codes as upstream', async () => {
  const r = await wsExec('command=sh&command=-c&command=exit 7&stdout=true&stderr=true', 'v4.channel.k8s.io', () => {});
  assert.equal(r.protocol, 'v4.channel.k8s.io');
  assert.deepEqual(r.channels.at(-1), {
    ch: 3,
    text: JSON.stringify({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: command terminated with exit code 7',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '7' }] },
    }),
  });
  const err = await wsExec('command=stderr&command=oops&stdout=true&stderr=true', 'v4.channel.k8s.io', () => {});
  assert.deepEqual(err.channels.filter((c) => c.ch === 2 && c.text), [{ ch: 2, text: 'oops\n' }]);
});

test('without kubelet-client credentials the connect subresources answer 503', async () => {
  const bare = new ApiServer({ store, resources: builtinResources, tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem }, port: 0 });
  const p = await bare.start();
  try {
    const r = await call('GET', '/api/v1/namespaces/default/pods/p1/log', { port: p });
    assert.equal(r.status, 503);
    assert.equal(JSON.parse(r.text).reason, 'ServiceUnavailable');
  } finally {
    await bare.close();
  }
});

test('an agent that cannot be reached: logs, node proxy and exec say so in upstream’s words', async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const dead = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  await call('POST', '/api/v1/nodes', { body: { metadata: { name: 'node-dead' } } });
  await call('PATCH', '/api/v1/nodes/node-dead/status', { body: { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: dead } } } }, type: 'application/merge-patch+json' });
  await call('POST', '/api/v1/namespaces/default/pods', { body: { metadata: { name: 'ondead', namespace: 'default' }, spec: podSpec(['c'], 'node-dead') } });
  const logs = await call('GET', '/api/v1/namespaces/default/pods/ondead/log');
  assert.equal(logs.status, 500);
  assert.deepEqual(JSON.parse(logs.text), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `Get "https://127.0.0.1:${dead}/containerLogs/default/ondead/c": dial tcp 127.0.0.1:${dead}: connect: connection refused`,
    code: 500,
  });
  const proxy = await call('GET', '/api/v1/nodes/node-dead/proxy/healthz');
  assert.equal(proxy.status, 503);
  assert.equal(JSON.parse(proxy.text).message, `error trying to reach service: dial tcp 127.0.0.1:${dead}: connect: connection refused`);
  for (const v of kubectlVersions) {
    const r = await kubectl(v, ['exec', 'ondead', '--', 'echo']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`dial tcp 127\\.0\\.0\\.1:${dead}: connect: connection refused`), `1.${v}: ${r.stderr}`);
  }
});
