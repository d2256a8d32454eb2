/**
 * End to end through `bin/bosun server`: a DELETE on the all-namespaces path of a namespaced
 * resource is refused (405) and deletes nothing; the ready line counts from the launch.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startServer, kubectlOk, root, until, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request } from './api.ts';

const servers: ServerHandle[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

test('DELETE /api/v1/configmaps is 405 MethodNotAllowed and no ConfigMap is deleted', async () => {
  const s = await startServer({ args: ['--disable-controller-manager', '--disable-scheduler'] });
  servers.push(s);
  const creds = credsFromKubeconfig(s.kubeconfig);
  await kubectlOk(s, '', ['create', 'namespace', 'keep']);
  await kubectlOk(s, '', ['create', 'configmap', 'one', '-n', 'default', '--from-literal=a=1']);
  await kubectlOk(s, '', ['create', 'configmap', 'two', '-n', 'keep', '--from-literal=b=2']);
  const before = (await request(creds, 'GET', '/api/v1/configmaps')).json().items.length;
  const r = await request(creds, 'DELETE', '/api/v1/configmaps');
  assert.equal(r.status, 405);
  assert.deepEqual(r.json(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'the server does not allow this method on the requested resource',
    reason: 'MethodNotAllowed',
    details: {},
    code: 405,
  });
  const afterList = (await request(creds, 'GET', '/api/v1/configmaps')).json();
  assert.equal(afterList.items.length, before);
  const names = afterList.items.map((c: { metadata: { namespace: string; name: string } }) => `${c.metadata.namespace}/${c.metadata.name}`);
  assert.ok(names.includes('default/one') && names.includes('keep/two'), names.join(' '));
  assert.equal((await request(creds, 'PUT', '/api/v1/namespaces/default/configmaps', { body: '{}' })).status, 405);
});

test('the ready line counts from the launch, before Node and the modules were loaded', async () => {
  // A launch 100 s ago, as bin/bosun would pass it: the line must count from there.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-e2e-start-'));
  const launched = BigInt(Date.now() - 100_000) * 1_000_000n;
  const node = path.join(root, 'node_modules/node/bin/node');
  const proc = spawn(node, ['--disable-warning=ExperimentalWarning', path.join(root, 'src/cli/main.ts'), 'server', '--data-dir', dataDir, '--https-listen-port', '0', '--disable-agent', '--disable-controller-manager', '--disable-scheduler'], {
    env: { ...process.env, BOSUN_LAUNCHED_AT_NS: String(launched) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const ms = await until('the ready line', async () => {
      const m = /API server ready at \S+ \((\d+) ms\)/.exec(out);
      return m ? Number(m[1]) : null;
    }, { timeoutMs: 30_000, detail: () => out });
    assert.ok(ms >= 100_000, `ready line says ${ms} ms`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
