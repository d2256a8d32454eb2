/** The load balancer over real loopback TCP servers: forwarding, choice, failover, health, bounds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { LoadBalancer, type LoadBalancerOptions } from './index.ts';
import { ask, connect, deadPort, tagServer, until, type TagServer } from './testutil.ts';

type Ctx = { after(fn: () => unknown): void };

async function servers(t: Ctx, ...names: string[]): Promise<TagServer[]> {
  const out = await Promise.all(names.map((n) => tagServer(n)));
  t.after(() => Promise.all(out.map((s) => s.stop().catch(() => {}))));
  return out;
}

async function balancer(t: Ctx, opts: Partial<LoadBalancerOptions> & { servers: string[]; defaultServer: string }): Promise<{ lb: LoadBalancer; port: number; logs: string[] }> {
  const logs: string[] = [];
  const lb = new LoadBalancer({ name: 'test-load-balancer', listen: { host: '127.0.0.1', port: 0 }, healthIntervalMs: 0, failureThreshold: 1, log: (m) => logs.push(m), ...opts });
  t.after(() => lb.close());
  const port = await lb.start();
  await lb.checkNow(); // the first pass, begun by start()
  return { lb, port, logs };
}

test('forwards bytes both ways to the default server and reports it', async (t) => {
  const [a] = await servers(t, 'A');
  const { lb, port, logs } = await balancer(t, { servers: [a!.address], defaultServer: a!.address });
  assert.equal(lb.url(), `https://127.0.0.1:${port}`);
  const p = await connect(port);
  p.socket.write('one');
  await until(() => p.received() === 'A:one', 'the first answer');
  p.socket.write('two');
  await until(() => p.received() === 'A:oneA:two', 'the second answer');
  assert.deepEqual(lb.servers(), [{ address: a!.address, healthy: true, connections: 1, default: true, listed: true }]);
  p.socket.destroy();
  await until(() => lb.servers()[0]!.connections === 0 && a!.sockets.size === 0, 'both sides closed');
  assert.match(logs[0]!, new RegExp(`^Running load balancer test-load-balancer 127\\.0\\.0\\.1:${port} -> \\[${a!.address}\\] \\[default: ${a!.address}\\]$`));
});

test('passes a half-close on and still delivers the answer', async (t) => {
  const upstream = net.createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('end', () => s.end(`got ${got}`));
  });
  await new Promise<void>((r) => upstream.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  t.after(() => new Promise<void>((r) => upstream.close(() => r())));
  const address = `127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
  const { lb, port } = await balancer(t, { servers: [address], defaultServer: address });
  const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let answer = '';
  c.on('data', (d) => (answer += d));
  const closed = new Promise((r) => c.on('close', r));
  c.end('request');
  await closed;
  assert.equal(answer, 'got request');
  await until(() => lb.connections === 0, 'the pair closed');
});

test('sticks to the healthy default server whatever the list order', async (t) => {
  const [a, b, c] = await servers(t, 'A', 'B', 'C');
  const { port } = await balancer(t, { servers: [b!.address, c!.address, a!.address], defaultServer: a!.address });
  const answers = await Promise.all(Array.from({ length: 10 }, () => ask(port)));
  assert.deepEqual(new Set(answers), new Set(['A:hi']));
});

test('fails over when the default server refuses connections, and returns to it once healthy', async (t) => {
  const [a, b] = await servers(t, 'A', 'B');
  const { lb, port, logs } = await balancer(t, { servers: [a!.address, b!.address], defaultServer: a!.address });
  await a!.stop();
  assert.equal(await ask(port), 'B:hi');
  assert.equal(lb.servers().find((s) => s.address === a!.address)!.healthy, false);
  assert.ok(logs.some((l) => l.includes(`server ${a!.address} dial failed`)), logs.join('\n'));
  // Sticky on B while A is down: no dial to A any more.
  assert.equal(await ask(port), 'B:hi');
  await a!.restart();
  await lb.checkNow();
  assert.equal(lb.servers().find((s) => s.address === a!.address)!.healthy, true);
  assert.equal(await ask(port), 'A:hi');
});

test('sticks to the server it failed over to rather than hopping', async (t) => {
  const [a, b, c] = await servers(t, 'A', 'B', 'C');
  const { port } = await balancer(t, { servers: [a!.address, b!.address, c!.address], defaultServer: a!.address });
  await a!.stop();
  const first = await ask(port);
  const rest = await Promise.all(Array.from({ length: 8 }, () => ask(port)));
  assert.ok(first === 'B:hi' || first === 'C:hi', first);
  assert.deepEqual(new Set(rest), new Set([first]));
});

test('closes the connection when every server fails', async (t) => {
  const dead = `127.0.0.1:${await deadPort()}`;
  const dead2 = `127.0.0.1:${await deadPort()}`;
  const { lb, port } = await balancer(t, { servers: [dead, dead2], defaultServer: dead });
  assert.equal(await ask(port), '');
  assert.deepEqual(lb.servers().map((s) => s.healthy), [false, false]);
  assert.equal(lb.connections, 0);
});

test('a server failing its health check gets no new connections and its open ones are closed', async (t) => {
  const [a, b] = await servers(t, 'A', 'B');
  const health = new Map([[a!.address, true], [b!.address, true]]);
  const { lb, port, logs } = await balancer(t, { servers: [a!.address, b!.address], defaultServer: a!.address, healthCheck: async (s) => health.get(s) ?? false });
  const open = await connect(port);
  open.socket.write('x');
  await until(() => open.received() === 'A:x', 'the answer from A');
  health.set(a!.address, false); // A stalls: it still accepts, but fails its checks
  await lb.checkNow();
  await until(() => open.closed(), 'the connection to A closed');
  assert.equal(a!.sockets.size, 0);
  assert.ok(logs.some((l) => l.includes(`closing 1 connection(s) to ${a!.address}`)), logs.join('\n'));
  assert.equal(await ask(port), 'B:hi');
  health.set(a!.address, true);
  await lb.checkNow();
  assert.equal(await ask(port), 'A:hi');
});

test('a server is marked unhealthy after failureThreshold failed checks in a row; one success clears the count', async (t) => {
  const [a, b] = await servers(t, 'A', 'B');
  const results = [false, true, false, false];
  const { lb, port } = await balancer(t, { servers: [a!.address, b!.address], defaultServer: a!.address, failureThreshold: 2, healthCheck: async (s) => (s === a!.address ? (results.shift() ?? true) : true) });
  // start()'s pass took the first result (a failure).
  assert.equal(lb.servers()[0]!.healthy, true);
  await lb.checkNow(); // success: the count starts again
  await lb.checkNow(); // one failure
  assert.equal(lb.servers()[0]!.healthy, true);
  assert.equal(await ask(port), 'A:hi');
  await lb.checkNow(); // two in a row
  assert.equal(lb.servers()[0]!.healthy, false);
  assert.equal(await ask(port), 'B:hi');
  await lb.checkNow();
  assert.equal(lb.servers()[0]!.healthy, true);
});

test('a health check that hangs counts as failed after the health timeout', async (t) => {
  const [a, b] = await servers(t, 'A', 'B');
  const hang = (_s: string, signal: AbortSignal) => new Promise<boolean>((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  const { lb, port } = await balancer(t, {
    servers: [a!.address, b!.address],
    defaultServer: a!.address,
    healthTimeoutMs: 100,
    healthCheck: (s, signal) => (s === a!.address ? hang(s, signal) : Promise.resolve(true)),
  });
  await lb.checkNow();
  assert.deepEqual(lb.servers().map((s) => [s.address, s.healthy]), [[a!.address, false], [b!.address, true]]);
  assert.equal(await ask(port), 'B:hi');
});

test('periodic health checks run every healthIntervalMs', async (t) => {
  const [a, b] = await servers(t, 'A', 'B');
  let healthyA = true;
  const { lb } = await balancer(t, { servers: [a!.address, b!.address], defaultServer: a!.address, healthIntervalMs: 20, healthCheck: async (s) => s !== a!.address || healthyA });
  healthyA = false;
  await until(() => lb.servers()[0]!.healthy === false, 'A marked unhealthy by the timer');
  healthyA = true;
  await until(() => lb.servers()[0]!.healthy === true, 'A marked healthy again');
});

test('setServers adds servers, ignores duplicates, empty and invalid lists, and closes connections to removed ones', async (t) => {
  const [a, b, c] = await servers(t, 'A', 'B', 'C');
  const { lb, port, logs } = await balancer(t, { servers: [a!.address], defaultServer: a!.address });
  assert.equal(lb.setServers([a!.address, b!.address, b!.address]), true);
  assert.ok(logs.includes(`Updated load balancer test-load-balancer server addresses -> [${a!.address} ${b!.address}] [default: ${a!.address}]`), logs.join('\n'));
  assert.equal(lb.setServers([b!.address, a!.address]), false);
  assert.equal(lb.setServers([]), false);
  assert.equal(lb.setServers(['no-port', 'host:99999']), false);
  assert.deepEqual(lb.servers().map((s) => s.address), [a!.address, b!.address]);
  await a!.stop();
  const open = await connect(port);
  open.socket.write('x');
  await until(() => open.received() === 'B:x', 'the answer from B');
  assert.equal(lb.setServers([a!.address, c!.address]), true);
  await until(() => open.closed(), 'the connection to removed B closed');
  assert.deepEqual(lb.servers().map((s) => s.address), [a!.address, c!.address]);
  assert.equal(await ask(port), 'C:hi');
});

test('keeps the default server as a last resort when the list no longer names it', async (t) => {
  const [a, b] = await servers(t, 'A', 'B');
  const healthy = new Map([[a!.address, true], [b!.address, true]]);
  const { lb, port } = await balancer(t, { servers: [a!.address], defaultServer: a!.address, healthCheck: async (s) => healthy.get(s)! });
  const open = await connect(port);
  open.socket.write('x');
  await until(() => open.received() === 'A:x', 'the answer from A');
  lb.setServers([b!.address]);
  assert.deepEqual(lb.servers().map((s) => [s.address, s.listed, s.default]), [[b!.address, true, false], [a!.address, false, true]]);
  assert.equal(await ask(port), 'B:hi');
  // B healthy: the unlisted default's connections are closed so clients move to B.
  await lb.checkNow();
  await until(() => open.closed(), 'the connection to the unlisted default closed');
  // B down: the default is used again.
  healthy.set(b!.address, false);
  await lb.checkNow();
  assert.equal(await ask(port), 'A:hi');
});

test('a dial that does not connect within dialTimeoutMs fails over', async (t) => {
  // A listener that never accepts: once its backlog is full the kernel drops SYNs, so a dial hangs.
  const py = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => py.kill('SIGKILL'));
  const stalledPort = await new Promise<number>((resolve, reject) => {
    py.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    py.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  t.after(() => fillers.forEach((s) => s.destroy()));
  // Fill the backlog until a connect no longer completes.
  for (let i = 0; i < 8; i++) {
    const s = net.connect({ host: '127.0.0.1', port: stalledPort });
    s.on('error', () => {});
    fillers.push(s);
    const ok = await Promise.race([new Promise((r) => s.once('connect', () => r(true))), new Promise((r) => setTimeout(() => r(false), 200))]);
    if (!ok) break;
  }
  const [b] = await servers(t, 'B');
  const stalled = `127.0.0.1:${stalledPort}`;
  const { lb, port, logs } = await balancer(t, { servers: [stalled, b!.address], defaultServer: stalled, dialTimeoutMs: 150, healthCheck: async () => true });
  assert.equal(await ask(port), 'B:hi');
  assert.equal(lb.servers()[0]!.healthy, false);
  assert.ok(logs.some((l) => l.includes('no connection after 150 ms')), logs.join('\n'));
});

test('closes a connection idle for idleTimeoutMs, both sides', async (t) => {
  const [a] = await servers(t, 'A');
  const { lb, port } = await balancer(t, { servers: [a!.address], defaultServer: a!.address, idleTimeoutMs: 150 });
  const busy = await connect(port);
  const idle = await connect(port);
  idle.socket.write('x');
  busy.socket.write('y');
  await until(() => idle.received() === 'A:x' && a!.sockets.size === 2, 'both connected');
  const timer = setInterval(() => busy.socket.write('.'), 40);
  t.after(() => clearInterval(timer));
  await until(() => idle.closed(), 'the idle connection closed');
  assert.equal(busy.closed(), false);
  await until(() => a!.sockets.size === 1 && lb.connections === 1, 'the upstream side closed too');
  clearInterval(timer);
  busy.socket.destroy();
});

test('refuses connections over maxConnections and accepts again below it', async (t) => {
  const [a] = await servers(t, 'A');
  const { lb, port, logs } = await balancer(t, { servers: [a!.address], defaultServer: a!.address, maxConnections: 2 });
  const one = await connect(port);
  const two = await connect(port);
  one.socket.write('1');
  two.socket.write('2');
  await until(() => one.received() === 'A:1' && two.received() === 'A:2', 'two connections served');
  assert.equal(lb.connections, 2);
  assert.equal(await ask(port), '');
  assert.ok(logs.some((l) => l.includes('2 connections open (the most allowed)')), logs.join('\n'));
  one.socket.destroy();
  await until(() => lb.connections === 1, 'one connection left');
  assert.equal(await ask(port), 'A:hi');
  two.socket.destroy();
});

test('close() stops listening and closes every connection', async (t) => {
  const [a] = await servers(t, 'A');
  const { lb, port } = await balancer(t, { servers: [a!.address], defaultServer: a!.address });
  const open = await connect(port);
  open.socket.write('x');
  await until(() => open.received() === 'A:x', 'served');
  await lb.close();
  await until(() => open.closed() && a!.sockets.size === 0, 'closed both sides');
  await assert.rejects(connect(port), { code: 'ECONNREFUSED' });
  await lb.close();
});

test('rejects an invalid default server and a busy listen port', async (t) => {
  assert.throws(() => new LoadBalancer({ name: 'x', listen: { host: '127.0.0.1', port: 0 }, servers: [], defaultServer: 'nope' }), /invalid server address "nope": want host:port/);
  const [a] = await servers(t, 'A');
  const lb = new LoadBalancer({ name: 'x', listen: { host: '127.0.0.1', port: a!.port }, servers: [], defaultServer: a!.address });
  await assert.rejects(lb.start(), { code: 'EADDRINUSE' });
  await lb.close();
});
