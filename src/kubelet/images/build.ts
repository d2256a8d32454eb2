/**
 * The two images a node needs without a registry, built from what the host has:
 * - pause (registry.k8s.io/pause:3.10): pause.c compiled with `gcc -static -Os -s`, the binary
 *   cached under `cacheDir` by a hash of source and flags;
 * - busybox (docker.io/library/busybox:1.36 by default): the host's static /bin/busybox with one
 *   symlink per applet in /bin, and the files a shell, httpd, nc and wget expect.
 */

import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeOciArchive, type LayerEntry } from './oci.ts';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
export const BUSYBOX_IMAGE = 'docker.io/library/busybox:1.36';
/** The static busybox the image is built from (Debian's busybox-static). */
export const BUSYBOX_BINARY = '/bin/busybox';

const GCC_FLAGS = ['-static', '-Os', '-s'];
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const run = promisify(execFile);

/** Compiles pause.c once per source version; concurrent builders race harmlessly (atomic rename). */
async function pauseBinary(cacheDir: string): Promise<Buffer> {
  const source = fileURLToPath(new URL('./pause.c', import.meta.url));
  const hash = createHash('sha256')
    .update(await readFile(source))
    .update(GCC_FLAGS.join(' '))
    .digest('hex')
    .slice(0, 16);
  const out = path.join(cacheDir, `pause-${hash}`);
  try {
    return await readFile(out);
  } catch {}
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    await run('gcc', [...GCC_FLAGS, '-o', tmp, source], { timeout: 120_000 });
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error(`building the pause binary with gcc failed: ${e.stderr || e.message}`, { cause: err });
  }
  return readFile(out);
}

/** Writes the pause image archive to `file`. Needs gcc with static libc (Debian: libc6-dev). */
export async function buildPauseImage(file: string, opts: { cacheDir: string }): Promise<{ name: string }> {
  const binary = await pauseBinary(opts.cacheDir);
  await writeOciArchive(file, {
    name: PAUSE_IMAGE,
    layers: [[{ path: '/pause', type: 'file', mode: 0o755, content: binary }]],
    config: { Entrypoint: ['/pause'], User: '65535:65535' },
  });
  return { name: PAUSE_IMAGE };
}

/**
 * Root filesystem of a busybox image: the static binary, a /bin symlink per applet, users root
 * and nobody, /tmp, /var/www (httpd's default home), and empty mount targets in /etc.
 * Throws if `binary` is absent or is not busybox.
 */
export function busyboxLayer(binary: string = BUSYBOX_BINARY): LayerEntry[] {
  const content = readFileSync(binary);
  const applets = execFileSync(binary, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && !s.includes('/'));
  const file = (p: string, text: string, mode = 0o644): LayerEntry => ({
    path: p,
    type: 'file',
    mode,
    content: Buffer.from(text),
  });
  const dir = (p: string, mode = 0o755): LayerEntry => ({ path: p, type: 'dir', mode });
  return [
    { path: '/bin/busybox', type: 'file', mode: 0o755, content },
    ...applets.map((a): LayerEntry => ({ path: `/bin/${a}`, type: 'symlink', linkTarget: 'busybox' })),
    file('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n'),
    file('/etc/group', 'root:x:0:\nnobody:x:65534:\n'),
    file('/etc/hostname', ''),
    file('/etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost\n'),
    file('/etc/resolv.conf', ''),
    dir('/root', 0o700),
    dir('/home'),
    dir('/tmp', 0o1777),
    dir('/var/www'),
    dir('/var/tmp', 0o1777),
    dir('/usr/bin'),
    dir('/usr/sbin'),
    dir('/sbin'),
    dir('/proc'),
    dir('/sys'),
    dir('/dev'),
  ];
}

/** Writes a busybox image archive named `name` to `file`; its default command is `sh`. */
export async function buildBusyboxImage(file: string, name: string = BUSYBOX_IMAGE): Promise<{ name: string }> {
  await writeOciArchive(file, {
    name,
    layers: [busyboxLayer()],
    config: { Cmd: ['sh'], Env: [PATH_ENV] },
  });
  return { name };
}
