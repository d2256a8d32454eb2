/**
 * Tests for single probe attempts against real local servers on 127.0.0.1: an HTTP(S) server with
 * status codes, redirects, slow and large answers; a TCP listener; a gRPC health server; and a
 * child_process exec standing in for exec in a container.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import type { Container, Probe } from '../api/index.ts';
import { MAX_PROBE_BODY_BYTES, PROBE_USER_AGENT, probeOnce, resolveContainerPort } from './probes.ts';
import type { ProbeContext, ProbeResult } from './probes.ts';
import { freePort } from '../storage/etcdtest.ts';

const host = '127.0.0.1';
const sockets = new Set<net.Socket>();

function track(server: net.Server): void {
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
}

function listen(server: net.Server): Promise<number> {
  track(server);
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port)));
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}


let loopRequests = 0;
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  switch (url.pathname) {
    case '/ok':
      res.end('all good');
      return;
    case '/created':
      res.writeHead(201).end('made');
      return;
    case '/fail':
      res.writeHead(500).end('secret details');
      return;
    case '/missing':
      res.writeHead(404).end();
      return;
    case '/hop':
      res.writeHead(302, { Location: '/ok' }).end();
      return;
    case '/hop-abs':
      res.writeHead(301, { Location: `http://${req.headers.host}/ok` }).end();
      return;
    case '/hop-fail':
      res.writeHead(307, { Location: '/fail' }).end();
      return;
    case '/elsewhere':
      res.writeHead(302, { Location: `http://localhost:${url.searchParams.get('port')}/ok` }).end('moved away');
      return;
    case '/no-location':
      res.writeHead(302).end('nowhere');
      return;
    case '/loop':
      loopRequests++;
      res.writeHead(302, { Location: '/loop' }).end();
      return;
    case '/echo':
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ headers: req.headers, rawHeaders: req.rawHeaders }));
      return;
    case '/big':
      res.end(Buffer.alloc(100 * 1024, 'a'));
      return;
    case '/slow':
      return; // never answers
    case '/slow-body':
      res.writeHead(200);
      res.write('partial');
      return; // never ends
    default:
      res.writeHead(404).end();
  }
}

let httpServer: http.Server;
let httpsServer: https.Server;
let tcpServer: net.Server;
let httpPort = 0;
let httpsPort = 0;
let tcpPort = 0;
let closedPort = 0;
const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-probe-test-'));

before(async () => {
  httpServer = http.createServer(handler);
  httpPort = await listen(httpServer);
  const key = path.join(certDir, 'key.pem');
  const cert = path.join(certDir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  httpsServer = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, handler);
  httpsPort = await listen(httpsServer);
  tcpServer = net.createServer((s) => s.end());
  tcpPort = await listen(tcpServer);
  // A port nothing listens on, below the ephemeral range: a port listen(0) gave and took back
  // could be handed to another test's listen(0) meanwhile (it once answered these probes).
  closedPort = await freePort();
});

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all([close(httpServer), close(httpsServer), close(tcpServer)]);
  fs.rmSync(certDir, { recursive: true, force: true });
});

const container: Container = {
  name: 'app',
  ports: [
    { name: 'http', containerPort: 0 },
    { name: 'tcp', containerPort: 0 },
  ],
  env: [
    { name: 'GREETING', value: 'hello' },
    { name: 'FROM', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ],
};

/** A local stand-in for exec in a container: /bin/sh with a kill on timeout. */
function localExec(cmd: string[], timeoutSeconds: number): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve, reject) => {
    execFile(cmd[0]!, cmd.slice(1), { encoding: 'buffer', timeout: timeoutSeconds * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err && (err as { killed?: boolean }).killed) {
        reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
        return;
      }
      if (err && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ exitCode: err ? (err.code as unknown as number) : 0, stdout, stderr });
    });
  });
}

function ctx(more: Partial<ProbeContext> = {}): ProbeContext {
  const c = structuredClone(container);
  c.ports![0]!.containerPort = httpPort;
  c.ports![1]!.containerPort = tcpPort;
  return { podIP: host, container: c, exec: localExec, ...more };
}

// ---- http ----

type Want = ProbeResult | ((r: ProbeResult) => void);

/** Cases are built when run, once the servers' ports are known. */
const httpCases: Array<{ name: string; probe: () => Probe; want: () => Want }> = [
  { name: '200 succeeds with the body as output', probe: () => ({ httpGet: { path: '/ok', port: httpPort } }), want: () => ({ result: 'success', output: 'all good' }) },
  { name: '201 succeeds', probe: () => ({ httpGet: { path: '/created', port: httpPort } }), want: () => ({ result: 'success', output: 'made' }) },
  {
    name: '500 fails without leaking the body',
    probe: () => ({ httpGet: { path: '/fail', port: httpPort } }),
    want: () => ({ result: 'failure', output: 'HTTP probe failed with statuscode: 500' }),
  },
  { name: '404 fails', probe: () => ({ httpGet: { path: '/missing', port: httpPort } }), want: () => ({ result: 'failure', output: 'HTTP probe failed with statuscode: 404' }) },
  { name: 'a named port resolves', probe: () => ({ httpGet: { path: '/ok', port: 'http' } }), want: () => ({ result: 'success', output: 'all good' }) },
  { name: 'a numeric string port resolves', probe: () => ({ httpGet: { path: '/ok', port: String(httpPort) } }), want: () => ({ result: 'success', output: 'all good' }) },
  {
    name: 'an unknown named port is an error',
    probe: () => ({ httpGet: { path: '/ok', port: 'nope' } }),
    want: () => ({ result: 'unknown', output: 'strconv.Atoi: parsing "nope": invalid syntax' }),
  },
  { name: 'a same-host relative redirect is followed', probe: () => ({ httpGet: { path: '/hop', port: httpPort } }), want: () => ({ result: 'success', output: 'all good' }) },
  { name: 'a same-host absolute redirect is followed', probe: () => ({ httpGet: { path: '/hop-abs', port: httpPort } }), want: () => ({ result: 'success', output: 'all good' }) },
  {
    name: 'a redirect to a failing page fails',
    probe: () => ({ httpGet: { path: '/hop-fail', port: httpPort } }),
    want: () => ({ result: 'failure', output: 'HTTP probe failed with statuscode: 500' }),
  },
  {
    name: 'a redirect to another host is not followed: success with a warning',
    probe: () => ({ httpGet: { path: `/elsewhere?port=${httpPort}`, port: httpPort } }),
    want: () => ({ result: 'success', warning: true, output: 'Probe terminated redirects, Response body: moved away' }),
  },
  {
    name: 'a 3xx without Location is a warning',
    probe: () => ({ httpGet: { path: '/no-location', port: httpPort } }),
    want: () => ({ result: 'success', warning: true, output: 'Probe terminated redirects, Response body: nowhere' }),
  },
  {
    name: 'a redirect loop stops after 10 requests',
    probe: () => {
      loopRequests = 0;
      return { httpGet: { path: '/loop', port: httpPort } };
    },
    want: () => (r) => {
      assert.deepEqual(r, { result: 'failure', output: 'Get "/loop": stopped after 10 redirects' });
      assert.equal(loopRequests, 10);
    },
  },
  {
    name: 'the body is read up to 10 KiB',
    probe: () => ({ httpGet: { path: '/big', port: httpPort } }),
    want: () => (r) => {
      assert.equal(r.result, 'success');
      assert.equal(r.output.length, MAX_PROBE_BODY_BYTES);
    },
  },
  {
    name: 'a refused connection fails as Go words it',
    probe: () => ({ httpGet: { path: '/', port: closedPort } }),
    want: () => ({ result: 'failure', output: `Get "http://${host}:${closedPort}/": dial tcp ${host}:${closedPort}: connect: connection refused` }),
  },
  {
    name: 'an empty path leaves no slash in the URL',
    probe: () => ({ httpGet: { port: closedPort } }),
    want: () => ({ result: 'failure', output: `Get "http://${host}:${closedPort}": dial tcp ${host}:${closedPort}: connect: connection refused` }),
  },
  {
    name: 'no answer within the timeout fails awaiting headers',
    probe: () => ({ httpGet: { path: '/slow', port: httpPort }, timeoutSeconds: 1 }),
    want: () => ({
      result: 'failure',
      output: `Get "http://${host}:${httpPort}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
    }),
  },
  {
    name: 'a body that stalls is a probe error',
    probe: () => ({ httpGet: { path: '/slow-body', port: httpPort }, timeoutSeconds: 1 }),
    want: () => ({ result: 'unknown', output: 'context deadline exceeded (Client.Timeout or context cancellation while reading body)' }),
  },
  {
    name: 'HTTPS skips certificate verification',
    probe: () => ({ httpGet: { path: '/ok', port: httpsPort, scheme: 'HTTPS' } }),
    want: () => ({ result: 'success', output: 'all good' }),
  },
  {
    name: 'HTTPS against a plain HTTP server fails',
    probe: () => ({ httpGet: { path: '/ok', port: httpPort, scheme: 'HTTPS' } }),
    want: () => ({ result: 'failure', output: `Get "https://${host}:${httpPort}/ok": tls: first record does not look like a TLS handshake` }),
  },
  {
    name: 'an unsupported scheme fails',
    probe: () => ({ httpGet: { path: '/ok', port: httpPort, scheme: 'FTP' } }),
    want: () => ({ result: 'failure', output: `Get "ftp://${host}:${httpPort}/ok": unsupported protocol scheme "ftp"` }),
  },
];
for (const c of httpCases) {
  test(`httpGet: ${c.name}`, async () => {
    const r = await probeOnce(c.probe(), ctx());
    const want = c.want();
    if (typeof want === 'function') want(r);
    else assert.deepEqual(r, want);
  });
}

test('httpGet: host overrides the pod IP', async () => {
  const r = await probeOnce({ httpGet: { path: '/ok', port: httpPort, host } }, ctx({ podIP: '127.0.0.9' }));
  assert.deepEqual(r, { result: 'success', output: 'all good' });
});

test('httpGet: request headers as upstream sends them', async () => {
  const get = async (httpHeaders: Array<{ name: string; value: string }>) => {
    const r = await probeOnce({ httpGet: { path: '/echo', port: httpPort, httpHeaders } }, ctx());
    assert.equal(r.result, 'success');
    return JSON.parse(r.output) as { headers: Record<string, string>; rawHeaders: string[] };
  };
  const plain = await get([{ name: 'X-Custom', value: 'one' }]);
  assert.equal(plain.headers['user-agent'], PROBE_USER_AGENT);
  assert.equal(plain.headers.accept, '*/*');
  assert.equal(plain.headers.host, `${host}:${httpPort}`);
  assert.equal(plain.headers.connection, 'close');
  assert.equal(plain.headers['x-custom'], 'one');
  assert.equal(plain.headers['accept-encoding'], undefined);

  const custom = await get([
    { name: 'user-agent', value: 'mine' },
    { name: 'Accept', value: '' },
    { name: 'Host', value: 'svc.example' },
    { name: 'X-Multi', value: 'a' },
    { name: 'x-multi', value: 'b' },
  ]);
  assert.equal(custom.headers['user-agent'], 'mine');
  assert.equal(custom.headers.accept, undefined, 'an empty Accept removes the header');
  assert.equal(custom.headers.host, 'svc.example');
  assert.equal(custom.headers['x-multi'], 'a, b');
});

test('httpGet: an abort cancels a pending probe', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const r = await probeOnce({ httpGet: { path: '/slow', port: httpPort }, timeoutSeconds: 30 }, ctx({ signal: ac.signal }));
  assert.deepEqual(r, { result: 'unknown', output: 'probe canceled' });
});

// ---- tcp ----

test('tcpSocket: a listener succeeds with no output', async () => {
  assert.deepEqual(await probeOnce({ tcpSocket: { port: tcpPort } }, ctx()), { result: 'success', output: '' });
  assert.deepEqual(await probeOnce({ tcpSocket: { port: 'tcp' } }, ctx()), { result: 'success', output: '' });
  assert.deepEqual(await probeOnce({ tcpSocket: { port: tcpPort, host } }, ctx({ podIP: '127.0.0.9' })), { result: 'success', output: '' });
});

test('tcpSocket: a refused connection fails as Go words it', async () => {
  assert.deepEqual(await probeOnce({ tcpSocket: { port: closedPort } }, ctx()), {
    result: 'failure',
    output: `dial tcp ${host}:${closedPort}: connect: connection refused`,
  });
});

test('resolveContainerPort: numbers, names and bounds', () => {
  const c: Container = { name: 'c', ports: [{ name: 'web', containerPort: 8080 }] };
  assert.equal(resolveContainerPort(80, c), 80);
  assert.equal(resolveContainerPort('web', c), 8080);
  assert.equal(resolveContainerPort('9090', c), 9090);
  assert.throws(() => resolveContainerPort(0, c), { message: 'invalid port number: 0' });
  assert.throws(() => resolveContainerPort(70000, c), { message: 'invalid port number: 70000' });
  assert.throws(() => resolveContainerPort('db', c), { message: 'strconv.Atoi: parsing "db": invalid syntax' });
});

// ---- exec ----

const execCases: Array<{ name: string; probe: Probe; exec?: ProbeContext['exec']; want: Want }> = [
  { name: 'exit 0 succeeds with the output', probe: { exec: { command: ['/bin/sh', '-c', 'echo ok'] } }, want: { result: 'success', output: 'ok\n' } },
  {
    name: 'a non-zero exit fails with stdout then stderr',
    probe: { exec: { command: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'] } },
    want: { result: 'failure', output: 'out\nerr\n' },
  },
  {
    name: 'the command is expanded with literal env values only',
    probe: { exec: { command: ['/bin/sh', '-c', "echo '$(GREETING) [$(FROM)] $(NONE)'"] } },
    want: { result: 'success', output: 'hello [] $(NONE)\n' },
  },
  {
    name: 'a command outliving the timeout fails',
    probe: { exec: { command: ['/bin/sh', '-c', 'sleep 5'] }, timeoutSeconds: 1 },
    want: { result: 'failure', output: 'command "/bin/sh -c sleep 5" timed out' },
  },
  {
    name: 'an exec that never answers is cut at the timeout',
    probe: { exec: { command: ['hang'] }, timeoutSeconds: 1 },
    exec: () => new Promise(() => {}),
    want: { result: 'failure', output: 'command "hang" timed out' },
  },
  {
    name: 'an exec that cannot run is a probe error',
    probe: { exec: { command: ['/nonexistent/binary'] } },
    want: (r) => {
      assert.equal(r.result, 'unknown');
      assert.match(r.output, /ENOENT/);
    },
  },
  {
    name: 'output is kept up to 10 KiB',
    probe: { exec: { command: ['/bin/sh', '-c', 'head -c 20000 /dev/zero | tr "\\0" x'] } },
    want: (r) => {
      assert.equal(r.result, 'success');
      assert.equal(r.output, 'x'.repeat(10 * 1024));
    },
  },
];
for (const c of execCases) {
  test(`exec: ${c.name}`, async () => {
    const r = await probeOnce(c.probe, ctx(c.exec ? { exec: c.exec } : {}));
    if (typeof c.want === 'function') c.want(r);
    else assert.deepEqual(r, c.want);
  });
}

test('a probe without a handler is unknown', async () => {
  assert.deepEqual(await probeOnce({ periodSeconds: 1 }, ctx()), { result: 'unknown', output: 'missing probe handler for app' });
});

// ---- grpc ----

/** grpc.health.v1 as protobufjs JSON: the test server is built by @grpc/proto-loader, an oracle independent of the agent's codec. */
const healthJson = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
                },
                Health: { methods: { Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' } } },
              },
            },
          },
        },
      },
    },
  },
} as unknown as Parameters<typeof fromJSON>[0];

let grpcServer: grpc.Server;
let bareServer: grpc.Server;
let grpcPort = 0;
let barePort = 0;
const userAgents: string[] = [];

function startGrpc(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
}

before(async () => {
  const pkg = grpc.loadPackageDefinition(fromJSON(healthJson, { keepCase: true, enums: String })) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  grpcServer = new grpc.Server();
  grpcServer.addService(pkg.grpc.health.v1.Health.service, {
    Check(call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<{ status: string }>) {
      userAgents.push(String(call.metadata.get('user-agent')[0] ?? ''));
      const service = call.request.service ?? ''; // proto3: an empty string is not on the wire, as Go's kubelet sends it
      if (service === '') cb(null, { status: 'SERVING' });
      else if (service === 'down') cb(null, { status: 'NOT_SERVING' });
      else if (service === 'slow') return;
      else cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' } as grpc.ServiceError);
    },
  });
  grpcPort = await startGrpc(grpcServer);
  bareServer = new grpc.Server();
  barePort = await startGrpc(bareServer);
});

after(() => {
  grpcServer.forceShutdown();
  bareServer.forceShutdown();
});

const grpcCases: Array<{ name: string; port: () => number; service?: string; want: () => ProbeResult }> = [
  { name: 'SERVING succeeds', port: () => grpcPort, want: () => ({ result: 'success', output: 'service healthy' }) },
  { name: 'NOT_SERVING fails', port: () => grpcPort, service: 'down', want: () => ({ result: 'failure', output: 'service unhealthy (responded with "NOT_SERVING")' }) },
  {
    name: 'an unknown service fails with the status',
    port: () => grpcPort,
    service: 'nope',
    want: () => ({ result: 'failure', output: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service' }),
  },
  {
    name: 'a server without the health service fails',
    port: () => barePort,
    want: () => ({
      result: 'failure',
      output: 'error: this server does not implement the grpc health protocol (grpc.health.v1.Health): The server does not implement the method /grpc.health.v1.Health/Check',
    }),
  },
  { name: 'a check that never answers times out', port: () => grpcPort, service: 'slow', want: () => ({ result: 'failure', output: 'timeout: health rpc did not complete within 1s' }) },
  {
    name: 'a refused connection times out connecting',
    port: () => closedPort,
    want: () => ({ result: 'failure', output: `timeout: failed to connect service "${host}:${closedPort}" within 1s: context deadline exceeded` }),
  },
];
for (const c of grpcCases) {
  test(`grpc: ${c.name}`, async () => {
    const probe: Probe = { grpc: { port: c.port(), ...(c.service !== undefined ? { service: c.service } : {}) }, timeoutSeconds: 1 };
    assert.deepEqual(await probeOnce(probe, ctx()), c.want());
  });
}

test('grpc: the probe identifies itself as kube-probe', () => {
  assert.ok(userAgents.length > 0);
  assert.ok(userAgents.every((ua) => ua.startsWith(PROBE_USER_AGENT)), userAgents.join('; '));
});
