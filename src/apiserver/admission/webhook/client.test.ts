// Real HTTPS exchanges on 127.0.0.1 with a CA made for the test.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { answerError, cachedAgents, cleanPath, closeAgents, maxResponseBytes, post, targetFor } from './client.ts';
import { makeTls } from './testing.ts';

const tls = await makeTls(['hook.webhooks.svc']);
const otherTls = await makeTls();

let reply: (res: import('node:http').ServerResponse, path: string) => void = (res) => res.end('{}');
const seen: { path: string; host?: string; servername?: string }[] = [];
const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
  seen.push({ path: req.url ?? '', host: req.headers.host, servername: (req.socket as unknown as { servername?: string }).servername || undefined });
  req.resume();
  req.on('end', () => reply(res, req.url ?? ''));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
after(() => {
  closeAgents();
  server.closeAllConnections();
  server.close();
});

const noServices = () => undefined;
const urlTarget = (path = '/validate', caPem = tls.caPem) => targetFor({ url: `https://127.0.0.1:${port}${path}`, caPem }, { timeoutSeconds: 10, resolveService: noServices });

test('paths are cleaned as Go path.Join does', () => {
  assert.equal(cleanPath(''), '/');
  assert.equal(cleanPath('/validate/'), '/validate');
  assert.equal(cleanPath('a//b/./c/../d'), '/a/b/d');
});

test('a URL webhook is called at its path with the timeout in the query', async () => {
  reply = (res) => res.end('{"ok":true}');
  const t = urlTarget('/validate');
  assert.equal(t.url, `https://127.0.0.1:${port}/validate?timeout=10s`);
  const a = await post(t, '{}', { timeoutMs: 2000 });
  assert.equal(a.status, 200);
  assert.equal(a.body.toString(), '{"ok":true}');
  assert.equal(seen.at(-1)!.path, '/validate?timeout=10s');
});

test('a service webhook dials the resolved address with the service name for TLS and Host', async () => {
  reply = (res) => res.end('{}');
  const asked: unknown[] = [];
  const t = targetFor(
    { service: { namespace: 'webhooks', name: 'hook', path: '/mutate', port: 8443 }, caPem: tls.caPem },
    {
      timeoutSeconds: 5,
      resolveService: (ns, name, p) => {
        asked.push([ns, name, p]);
        return { host: '127.0.0.1', port };
      },
    },
  );
  assert.equal(t.url, 'https://hook.webhooks.svc:8443/mutate?timeout=5s');
  await post(t, '{}', { timeoutMs: 2000 });
  assert.deepEqual(asked, [['webhooks', 'hook', 8443]]);
  assert.deepEqual(seen.at(-1), { path: '/mutate?timeout=5s', host: 'hook.webhooks.svc:8443', servername: 'hook.webhooks.svc' });
});

test('a missing service fails as upstream: service "x" not found', async () => {
  const t = targetFor({ service: { namespace: 'webhooks', name: 'gone' } }, { timeoutSeconds: 10, resolveService: noServices });
  await assert.rejects(post(t, '{}', { timeoutMs: 1000 }), { message: 'Post "https://gone.webhooks.svc:443/?timeout=10s": service "gone" not found' });
});

test('a resolver that throws gives its reason', async () => {
  const t = targetFor({ service: { namespace: 'webhooks', name: 'hook' } }, {
    timeoutSeconds: 10,
    resolveService: () => {
      throw new Error('no service port 443 found for service "hook"');
    },
  });
  await assert.rejects(post(t, '{}', { timeoutMs: 1000 }), { message: 'Post "https://hook.webhooks.svc:443/?timeout=10s": no service port 443 found for service "hook"' });
});

test('a refused connection reads as Go dial error', async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const p = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const t = targetFor({ url: `https://127.0.0.1:${p}/x`, caPem: tls.caPem }, { timeoutSeconds: 10, resolveService: noServices });
  await assert.rejects(post(t, '{}', { timeoutMs: 1000 }), { message: `Post "https://127.0.0.1:${p}/x?timeout=10s": dial tcp 127.0.0.1:${p}: connect: connection refused` });
});

test('a server certificate from another CA is refused', async () => {
  await assert.rejects(post(urlTarget('/x', otherTls.caPem), '{}', { timeoutMs: 2000 }), {
    message: `Post "https://127.0.0.1:${port}/x?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
  });
});

test('a server name the certificate does not hold is refused', async () => {
  const t = targetFor({ service: { namespace: 'other', name: 'hook' }, caPem: tls.caPem }, { timeoutSeconds: 10, resolveService: () => ({ host: '127.0.0.1', port }) });
  await assert.rejects(post(t, '{}', { timeoutMs: 2000 }), /x509: certificate is valid for 127\.0\.0\.1, hook\.webhooks\.svc, not hook\.other\.svc$/);
});

test('past the deadline the call fails with context deadline exceeded', async () => {
  reply = (res) => setTimeout(() => res.end('{}'), 500);
  await assert.rejects(post(urlTarget('/slow'), '{}', { timeoutMs: 100 }), { message: `Post "https://127.0.0.1:${port}/slow?timeout=10s": context deadline exceeded` });
});

test('a body still arriving at the deadline fails the same way', async () => {
  reply = (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"partial":');
    setTimeout(() => res.end('1}'), 500);
  };
  await assert.rejects(post(urlTarget('/trickle'), '{}', { timeoutMs: 150 }), { message: `Post "https://127.0.0.1:${port}/trickle?timeout=10s": context deadline exceeded` });
});

test('an answer of exactly the limit is read; one byte more fails', async () => {
  const limit = 1000;
  reply = (res, path) => res.end('x'.repeat(path.startsWith('/over') ? limit + 1 : limit));
  const a = await post(urlTarget('/at'), '{}', { timeoutMs: 2000, maxBytes: limit });
  assert.equal(a.body.length, limit);
  await assert.rejects(post(urlTarget('/over'), '{}', { timeoutMs: 2000, maxBytes: limit }), { message: `Post "https://127.0.0.1:${port}/over?timeout=10s": the response body exceeds the limit of ${limit} bytes` });
  assert.equal(maxResponseBytes, 3 * 1024 * 1024);
});

test('connections are kept in one agent per CA bundle', async () => {
  closeAgents();
  reply = (res) => res.end('{}');
  await post(urlTarget('/a'), '{}', { timeoutMs: 2000 });
  await post(urlTarget('/b'), '{}', { timeoutMs: 2000 });
  assert.equal(cachedAgents(), 1);
});

test('configurations that cannot be called say why', () => {
  assert.throws(() => targetFor({}, { timeoutSeconds: 10, resolveService: noServices }), { message: 'webhook configuration must have either service or URL' });
  assert.throws(() => targetFor({ url: 'http://x/y' }, { timeoutSeconds: 10, resolveService: noServices }), /scheme must be https/);
  assert.throws(() => targetFor({ url: 'https://x', caPem: 'junk' }, { timeoutSeconds: 10, resolveService: noServices }), { message: 'unable to load root certificates: unable to parse bytes as PEM block' });
});

const answer = (status: number, body: string, contentType = 'application/json') => ({ status, contentType, body: Buffer.from(body) });
const errorCases = [
  { name: 'a success is no error', a: answer(200, '{}'), want: undefined },
  { name: 'a Status body gives its message', a: answer(403, '{"kind":"Status","status":"Failure","message":"nope"}'), want: 'nope' },
  { name: '404 without a Status', a: answer(404, 'not here', 'text/plain'), want: 'the server could not find the requested resource' },
  { name: 'a 500 quotes its text', a: answer(500, ' boom \n', 'text/plain'), want: 'an error on the server ("boom") has prevented the request from succeeding' },
  { name: 'a 500 with JSON is unknown', a: answer(502, '{"a":1}'), want: 'an error on the server ("unknown") has prevented the request from succeeding' },
  { name: 'another code', a: answer(302, ''), want: 'the server responded with the status code 302 but did not return more information' },
];
for (const c of errorCases) test(`answerError: ${c.name}`, () => assert.equal(answerError(c.a), c.want));
