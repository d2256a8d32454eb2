/**
 * OCI image layout archives built by hand, so nodes and tests get images without a registry.
 *
 * `writeOciArchive` writes one single-platform image as a tar of an OCI image layout
 * (oci-layout, index.json, blobs/sha256/*): gzip layers, a config whose rootfs.diff_ids are the
 * sha256 of each uncompressed layer, a manifest, and an index entry annotated with the full
 * reference (io.containerd.image.name), so `ctr images import` names it with no flags.
 * Output is deterministic: entries have mtime 0 and uid/gid 0.
 */

import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export interface LayerEntry {
  /** Path inside the image, absolute or relative to its root ("/bin/sh" or "bin/sh"). */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits; default 0o644 for files, 0o755 for dirs, 0o777 for symlinks. */
  mode?: number;
  content?: Buffer;
  linkTarget?: string;
}

/** The subset of the OCI image config (`config` object) Bosun sets. */
export interface ImageConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  User?: string;
}

export interface OciImage {
  /** Full reference, e.g. docker.io/library/busybox:1.36. */
  name: string;
  /** Each layer is a list of entries; later layers overlay earlier ones. */
  layers: LayerEntry[][];
  config?: ImageConfig;
}

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** OCI architecture name of this machine (Node's process.arch differs for a few). */
export function ociArch(arch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[arch] ?? arch;
}

const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Collects a tar-stream pack into one buffer. */
async function tarBuffer(fill: (p: ReturnType<typeof pack>) => void): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    p.on('end', resolve);
    p.on('error', reject);
  });
  fill(p);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * An uncompressed layer tar. Missing parent directories are added (mode 0755), entries are
 * sorted so parents come first, and a later entry for the same path replaces an earlier one.
 */
export async function layerTar(entries: LayerEntry[]): Promise<Buffer> {
  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) {
    const rel = e.path.replace(/^\/+/, '').replace(/\/+$/, '');
    if (!rel) continue;
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: 'dir' });
    }
    byPath.set(rel, { ...e, path: rel });
  }
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return tarBuffer((p) => {
    for (const e of sorted) {
      const common = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: new Date(0) };
      if (e.type === 'dir') p.entry({ ...common, name: e.path + '/', type: 'directory', mode: e.mode ?? 0o755 });
      else if (e.type === 'symlink') {
        if (!e.linkTarget) throw new Error(`symlink ${e.path} has no linkTarget`);
        p.entry({ ...common, name: e.path, type: 'symlink', linkname: e.linkTarget, mode: e.mode ?? 0o777 });
      } else p.entry({ ...common, name: e.path, type: 'file', mode: e.mode ?? 0o644 }, e.content ?? Buffer.alloc(0));
    }
  });
}

/** Writes `image` as an OCI layout tar at `file` (overwriting it). */
export async function writeOciArchive(file: string, image: OciImage): Promise<void> {
  const blobs = new Map<string, Buffer>();
  const blob = (data: Buffer) => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { digest, size: data.length };
  };

  const diffIds: string[] = [];
  const layers = [];
  for (const entries of image.layers) {
    const tar = await layerTar(entries);
    diffIds.push(sha256(tar));
    layers.push({ mediaType: MEDIA_TYPES.layer, ...blob(gzipSync(tar, { level: 6 })) });
  }
  const platform = { architecture: ociArch(), os: 'linux' };
  const config = {
    created: new Date(0).toISOString(),
    ...platform,
    config: image.config ?? {},
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: new Date(0).toISOString(), created_by: 'bosun' })),
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, ...blob(Buffer.from(JSON.stringify(config))) },
    layers,
  };
  const manifestDesc = blob(Buffer.from(JSON.stringify(manifest)));
  const tag = /:([\w][\w.-]{0,127})$/.exec(image.name.replace(/@.*$/, ''))?.[1];
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        mediaType: MEDIA_TYPES.manifest,
        ...manifestDesc,
        platform,
        annotations: {
          'io.containerd.image.name': image.name,
          ...(tag ? { 'org.opencontainers.image.ref.name': tag } : {}),
        },
      },
    ],
  };

  const archive = await tarBuffer((p) => {
    const common = { uid: 0, gid: 0, mtime: new Date(0), mode: 0o644 };
    p.entry({ ...common, name: 'oci-layout' }, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    p.entry({ ...common, name: 'index.json' }, JSON.stringify(index));
    p.entry({ ...common, name: 'blobs/', type: 'directory', mode: 0o755 });
    p.entry({ ...common, name: 'blobs/sha256/', type: 'directory', mode: 0o755 });
    for (const [digest, data] of blobs) p.entry({ ...common, name: `blobs/sha256/${digest.slice(7)}` }, data);
  });
  await writeFile(file, archive);
}
