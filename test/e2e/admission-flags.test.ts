/**
 * `--disable-admission-plugins` and `--enable-admission-plugins` on `bin/bosun server`: a plugin
 * turned off no longer acts (PodSecurity lets a privileged pod into a `restricted` namespace);
 * a plugin of upstream's that Bosun lacks, an unknown name or the same name in both flags stops
 * the server at start with upstream's words.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bosunBin, kubectl, kubectlOk, kubectlVersions, startServer, waitForServiceAccount } from './harness.ts';

const v = kubectlVersions.at(-1)!;

test('with PodSecurity disabled a privileged pod is admitted to a restricted namespace', { timeout: 90_000 }, async () => {
  const s = await startServer({ args: ['--disable-scheduler', '--disable-admission-plugins', 'PodSecurity'] });
  try {
    await kubectlOk(s, v, ['create', 'namespace', 'secure']);
    await kubectlOk(s, v, ['label', 'namespace', 'secure', 'pod-security.kubernetes.io/enforce=restricted']);
    await waitForServiceAccount(s, 'secure');
    const privileged = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'root' }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } };
    const r = await kubectl(s, v, ['create', '-n', 'secure', '-f', '-'], { input: JSON.stringify(privileged) });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /PodSecurity/);
  } finally {
    await s.stop();
  }
});

test('unknown, not built and overlapping admission plugin names stop the server with a clear error', { timeout: 30_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-e2e-'));
  try {
    const proc = spawn(bosunBin, ['server', '--data-dir', dataDir, '--https-listen-port', '0', '--disable-agent', '--enable-admission-plugins', 'AlwaysPullImages,PodSecurity', '--disable-admission-plugins', 'PodSecurity,Bogus'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(out, /enable-admission-plugins plugin "AlwaysPullImages" is upstream's but not built in Bosun/);
    assert.match(out, /disable-admission-plugins plugin "Bogus" is unknown/);
    assert.match(out, /\[PodSecurity\] in enable-admission-plugins and disable-admission-plugins overlapped/);
    assert.doesNotMatch(out, /ready at/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
