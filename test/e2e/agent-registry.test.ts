/**
 * Image pulls through a real registry on loopback (Debian's docker-registry), configured in the
 * data dir's registries.yaml as k3s does: a pod whose image is only in the registry is pulled and
 * runs; a missing image gives ErrImagePull then ImagePullBackOff; `:latest` is pulled every time
 * (imagePullPolicy Always) while a tagged image present on the node is not.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Pod } from '../../src/api/index.ts';
import { busyboxLayer, layerTar, ociArch } from '../../src/kubelet/images/index.ts';
import { kubectlOk, kubectlVersions, startServer, until, waitForServiceAccount, type ServerHandle, getPod } from './harness.ts';
import { agentSupported } from './node.ts';

const skip = agentSupported() ? false : 'the node agent needs root';
const v = kubectlVersions.at(-1)!;
let server!: ServerHandle;
let registry: ChildProcess | undefined;
let authRegistry: ChildProcess | undefined;
let port = 0;
let authPort = 0;
/** The authenticated registry's name in image references (a mirror of 127.0.0.1:authPort). */
const authHost = 'private.bosun.test';
const basic = `Basic ${Buffer.from('puller:s3cret').toString('base64')}`;
/** The name pods use; registries.yaml points it at the loopback registry. */
const host = 'registry.bosun.test';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

const sha = (b: Buffer | string) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

/** Pushes a busybox image to the registry over the distribution API. */
async function push(repo: string, tag: string, opts: { port?: number; auth?: string } = {}): Promise<void> {
  const base = `http://127.0.0.1:${opts.port ?? port}/v2/${repo}`;
  const fetch = (url: string | URL, init: RequestInit) => globalThis.fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...(opts.auth ? { authorization: opts.auth } : {}) } });
  const tar = await layerTar(busyboxLayer());
  const layer = zlib.gzipSync(tar);
  const config = Buffer.from(JSON.stringify({ architecture: ociArch(), os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
  for (const blob of [layer, config]) {
    const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const loc = new URL(start.headers.get('location')!, base);
    loc.searchParams.set('digest', sha(blob));
    const put = await fetch(loc, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201, await put.text());
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  });
  const res = await fetch(`${base}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(res.status, 201, await res.text());
}

before(async () => {
  if (skip) return;
  port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-registry-'));
  await fs.writeFile(path.join(dir, 'config.yml'), `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/data}}\nhttp: {addr: 127.0.0.1:${port}}\n`);
  registry = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  await until('the registry answers', async () => (await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined))?.status === 200);
  await push('team/busybox', 'v1');
  await push('team/busybox', 'latest');
  // A second registry that requires a password (htpasswd, bcrypt).
  authPort = await freePort();
  const { execFileSync } = await import('node:child_process');
  execFileSync('htpasswd', ['-Bbc', path.join(dir, 'htpasswd'), 'puller', 's3cret'], { stdio: 'ignore' });
  await fs.writeFile(
    path.join(dir, 'auth.yml'),
    `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/auth-data}}\nhttp: {addr: 127.0.0.1:${authPort}}\nauth: {htpasswd: {realm: bosun, path: ${dir}/htpasswd}}\n`,
  );
  authRegistry = spawn('docker-registry', ['serve', path.join(dir, 'auth.yml')], { stdio: 'ignore' });
  await until('the private registry answers', async () => (await fetch(`http://127.0.0.1:${authPort}/v2/`).catch(() => undefined))?.status === 401);
  await push('team/secret', 'v1', { port: authPort, auth: basic });
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-e2e-'));
  await fs.writeFile(
    path.join(dataDir, 'registries.yaml'),
    `mirrors:\n  "${host}":\n    endpoint:\n      - "http://127.0.0.1:${port}"\n  "${authHost}":\n    endpoint:\n      - "http://127.0.0.1:${authPort}"\n`,
  );
  server = await startServer({ dataDir, agent: true });
  // Pods wait for the default ServiceAccount (the serviceaccount controller makes it).
  await waitForServiceAccount(server, 'default');
});

after(async () => {
  await server?.stop();
  registry?.kill();
  authRegistry?.kill();
});

const pod = (name: string) => getPod(server, name);

test('a pod whose image is only in the registry is pulled and runs', { skip }, async () => {
  await kubectlOk(server, v, ['run', 'pulled', `--image=${host}/team/busybox:v1`, '--', 'sleep', '3600']);
  const p = await until('pulled Ready', async () => {
    const p = await pod('pulled');
    return p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
  }, { timeoutMs: 60_000, detail: () => server.output().slice(-2000) });
  assert.equal(p.status?.containerStatuses?.[0]?.image, `${host}/team/busybox:v1`);
  assert.match(p.status?.containerStatuses?.[0]?.imageID ?? '', new RegExp(`^${host}/team/busybox@sha256:`));
  const events = await kubectlOk(server, v, ['get', 'events', '--field-selector', 'involvedObject.name=pulled']);
  assert.match(events, /Pulling\s+pod\/pulled\s+Pulling image "registry\.bosun\.test\/team\/busybox:v1"/);
  assert.match(events, /Successfully pulled image/);
  await kubectlOk(server, v, ['delete', 'pod', 'pulled', '--grace-period=1']);
});

test('a missing image gives ErrImagePull, then ImagePullBackOff', { skip }, async () => {
  await kubectlOk(server, v, ['run', 'missing', `--image=${host}/team/nothing:v9`]);
  await until('ErrImagePull or ImagePullBackOff', async () => /^(ErrImagePull|ImagePullBackOff)$/.test((await pod('missing'))?.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? ''), { timeoutMs: 60_000 });
  const p = await until('ImagePullBackOff', async () => {
    const p = await pod('missing');
    return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff' ? p : undefined;
  }, { timeoutMs: 60_000 });
  assert.equal(p.status?.phase, 'Pending');
  assert.match(p.status!.containerStatuses![0]!.state!.waiting!.message!, /Back-off pulling image "registry\.bosun\.test\/team\/nothing:v9"/);
  const table = await kubectlOk(server, v, ['get', 'pod', 'missing']);
  assert.match(table, /missing\s+0\/1\s+ImagePullBackOff/);
  await kubectlOk(server, v, ['delete', 'pod', 'missing', '--grace-period=0', '--force']);
});

test(':latest images are pulled every time; present tagged images are not', { skip }, async () => {
  for (const name of ['latest-a', 'latest-b']) {
    await kubectlOk(server, v, ['run', name, `--image=${host}/team/busybox`, '--', 'sleep', '3600']);
    await until(`${name} running`, async () => !!(await pod(name))?.status?.containerStatuses?.[0]?.state?.running, { timeoutMs: 60_000 });
  }
  const ev = await kubectlOk(server, v, ['get', 'events', '-o', 'json']);
  const pulls = (JSON.parse(ev) as { items: Array<{ reason: string; involvedObject: { name: string } }> }).items.filter((e) => e.reason === 'Pulling' && e.involvedObject.name.startsWith('latest-'));
  assert.equal(pulls.length, 2, 'both pods pulled :latest');
  await kubectlOk(server, v, ['run', 'tagged', '--image=busybox:1.36', '--', 'sleep', '3600']);
  await until('tagged running', async () => !!(await pod('tagged'))?.status?.containerStatuses?.[0]?.state?.running, { timeoutMs: 60_000 });
  const ev2 = JSON.parse(await kubectlOk(server, v, ['get', 'events', '-o', 'json'])) as { items: Array<{ reason: string; involvedObject: { name: string } }> };
  assert.ok(!ev2.items.some((e) => e.reason === 'Pulling' && e.involvedObject.name === 'tagged'), 'an IfNotPresent image on the node is not pulled');
  assert.ok(ev2.items.some((e) => e.reason === 'Pulled' && e.involvedObject.name === 'tagged'), 'upstream reports "already present on machine"');
});

test('imagePullSecrets authenticate the pull; without them the pull fails', { skip }, async () => {
  await kubectlOk(server, v, ['create', 'secret', 'docker-registry', 'regcred', `--docker-server=${authHost}`, '--docker-username=puller', '--docker-password=s3cret']);
  const manifest = (name: string, secrets: boolean) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { terminationGracePeriodSeconds: 1, ...(secrets ? { imagePullSecrets: [{ name: 'regcred' }] } : {}), containers: [{ name: 'c', image: `${authHost}/team/secret:v1`, command: ['sleep', '3600'] }] },
  });
  // First without the secret (the image is not on the node yet: once pulled, IfNotPresent reuses it, as upstream).
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(manifest('no-secret', false)) });
  const denied = await until('no-secret fails to pull', async () => {
    const p = await pod('no-secret');
    return /^(ErrImagePull|ImagePullBackOff)$/.test(p?.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? '') ? p : undefined;
  }, { timeoutMs: 60_000 });
  assert.equal(denied.status?.phase, 'Pending');
  const events = await kubectlOk(server, v, ['get', 'events', '--field-selector', 'involvedObject.name=no-secret,reason=Failed', '-o', 'jsonpath={.items[*].message}']);
  assert.match(events, /Failed to pull image "private\.bosun\.test\/team\/secret:v1": .*(401|unauthorized|authoriz)/i);
  await kubectlOk(server, v, ['apply', '-f', '-'], { input: JSON.stringify(manifest('with-secret', true)) });
  await until('with-secret running', async () => !!(await pod('with-secret'))?.status?.containerStatuses?.[0]?.state?.running, { timeoutMs: 60_000, detail: () => server.output().slice(-2000) });
  await kubectlOk(server, v, ['delete', 'pod', 'no-secret', 'with-secret', '--grace-period=0', '--force']);
});
