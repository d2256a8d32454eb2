/**
 * writeOciArchive and the busybox layer, checked by reading the archive back: blob names are
 * their digests, the manifest points at them, rootfs.diff_ids are the uncompressed layers'
 * digests, and the index names the image. No root needed.
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { busyboxLayer } from './build.ts';
import { MEDIA_TYPES, ociArch, writeOciArchive, type LayerEntry } from './oci.ts';

interface Entry {
  name: string;
  type: string;
  mode: number;
  linkname?: string;
  data: Buffer;
}

async function untar(buf: Buffer): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        out.set(h.name, { name: h.name, type: h.type ?? 'file', mode: h.mode ?? 0, linkname: h.linkname ?? undefined, data: Buffer.concat(chunks) });
        next();
      });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bosun-oci-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const layers: LayerEntry[][] = [
  [
    { path: '/bin/tool', type: 'file', mode: 0o755, content: Buffer.from('#!/bin/sh\necho tool\n') },
    { path: '/bin/alias', type: 'symlink', linkTarget: 'tool' },
    { path: '/etc/deep/nested/conf', type: 'file', content: Buffer.from('x=1\n') },
  ],
  [{ path: '/tmp', type: 'dir', mode: 0o1777 }],
];

test('an OCI archive is self-consistent and names the image', async () => {
  const file = path.join(dir, 'img.tar');
  await writeOciArchive(file, {
    name: 'docker.io/library/tool:1.0',
    layers,
    config: { Entrypoint: ['/bin/tool'], Env: ['A=b'], ExposedPorts: { '80/tcp': {} } },
  });
  const files = await untar(await readFile(file));
  assert.deepEqual(JSON.parse(files.get('oci-layout')!.data.toString()), { imageLayoutVersion: '1.0.0' });
  for (const [name, e] of files) {
    if (name.startsWith('blobs/sha256/') && e.type === 'file') assert.equal(sha(e.data), 'sha256:' + name.slice(13), name);
  }
  const blob = (digest: string) => files.get(`blobs/sha256/${digest.slice(7)}`)!.data;

  const index = JSON.parse(files.get('index.json')!.data.toString());
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.manifests.length, 1);
  const desc = index.manifests[0];
  assert.equal(desc.mediaType, MEDIA_TYPES.manifest);
  assert.equal(desc.annotations['io.containerd.image.name'], 'docker.io/library/tool:1.0');
  assert.equal(desc.annotations['org.opencontainers.image.ref.name'], '1.0');
  assert.deepEqual(desc.platform, { architecture: ociArch(), os: 'linux' });
  assert.equal(desc.size, blob(desc.digest).length);

  const manifest = JSON.parse(blob(desc.digest).toString());
  assert.equal(manifest.config.mediaType, MEDIA_TYPES.config);
  assert.equal(manifest.layers.length, 2);
  const config = JSON.parse(blob(manifest.config.digest).toString());
  assert.equal(config.os, 'linux');
  assert.equal(config.architecture, ociArch());
  assert.deepEqual(config.config.Entrypoint, ['/bin/tool']);
  assert.deepEqual(config.config.ExposedPorts, { '80/tcp': {} });

  const uncompressed = manifest.layers.map((l: { digest: string; size: number; mediaType: string }) => {
    assert.equal(l.mediaType, MEDIA_TYPES.layer);
    assert.equal(l.size, blob(l.digest).length);
    return gunzipSync(blob(l.digest));
  });
  assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: uncompressed.map(sha) });

  const first = await untar(uncompressed[0]);
  assert.deepEqual([...first.keys()], ['bin/', 'bin/alias', 'bin/tool', 'etc/', 'etc/deep/', 'etc/deep/nested/', 'etc/deep/nested/conf']);
  assert.equal(first.get('bin/tool')!.mode, 0o755);
  assert.equal(first.get('bin/tool')!.data.toString(), '#!/bin/sh\necho tool\n');
  assert.equal(first.get('bin/alias')!.type, 'symlink');
  assert.equal(first.get('bin/alias')!.linkname, 'tool');
  const second = await untar(uncompressed[1]);
  assert.equal(second.get('tmp/')!.mode, 0o1777);
});

test('the same image gives the same bytes', async () => {
  const a = path.join(dir, 'a.tar');
  const b = path.join(dir, 'b.tar');
  await writeOciArchive(a, { name: 'example.com/x:1', layers });
  await writeOciArchive(b, { name: 'example.com/x:1', layers });
  assert.deepEqual(await readFile(a), await readFile(b));
});

test('Node architectures map to OCI names', () => {
  const cases = [
    ['x64', 'amd64'],
    ['arm64', 'arm64'],
    ['ia32', '386'],
    ['ppc64', 'ppc64le'],
  ];
  for (const [node, oci] of cases) assert.equal(ociArch(node), oci, node);
});

test('the busybox layer links every applet to the static binary', { skip: !existsSync('/bin/busybox') && 'busybox-static is not installed' }, () => {
  const entries = busyboxLayer();
  const byPath = new Map(entries.map((e) => [e.path, e]));
  assert.equal(byPath.get('/bin/busybox')?.type, 'file');
  for (const applet of ['sh', 'httpd', 'nc', 'wget', 'sleep']) {
    assert.deepEqual([byPath.get(`/bin/${applet}`)?.type, byPath.get(`/bin/${applet}`)?.linkTarget], ['symlink', 'busybox'], applet);
  }
  assert.match(byPath.get('/etc/passwd')?.content?.toString() ?? '', /^root:x:0:0:.*\nnobody:x:65534:65534:/);
  assert.match(byPath.get('/etc/group')?.content?.toString() ?? '', /^root:x:0:\nnobody:x:65534:/);
  assert.equal(byPath.get('/tmp')?.mode, 0o1777);
  assert.equal(byPath.get('/var/www')?.type, 'dir');
});
