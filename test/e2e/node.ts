/**
 * Node-agent helpers for end-to-end tests: the busybox test image built locally (no registry is
 * reachable) and placed where the agent imports images at start, and the clean-up after a
 * server with an agent stopped (pods outlive the server by design: their shims keep running).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildBusyboxImage } from '../../src/kubelet/images/index.ts';
import { killPods, unmountUnder } from '../../src/kubelet/containerd/index.ts';
import { removeNetwork } from '../../src/network/index.ts';

export const busyboxImage = 'busybox:1.36';

/** Whether this machine can run the node agent (root and containerd); tests need both. */
export function agentSupported(): boolean {
  return process.getuid?.() === 0;
}

let cachedImage: Promise<string> | undefined;

/** The busybox image archive, built once per test process. */
export function busyboxArchive(): Promise<string> {
  cachedImage ??= (async () => {
    const dir = await fs.mkdtemp('/tmp/bosun-images-');
    const file = path.join(dir, 'busybox.tar');
    await buildBusyboxImage(file);
    return file;
  })();
  return cachedImage;
}

export async function prepareAgent(dataDir: string): Promise<void> {
  const images = path.join(dataDir, 'agent', 'images');
  await fs.mkdir(images, { recursive: true });
  await fs.copyFile(await busyboxArchive(), path.join(images, 'busybox.tar'));
}

/**
 * Removes what a stopped server's agent left: pod containers, the pods' volume mounts (the data
 * dir can then be removed), then the pod network.
 */
export async function cleanupAgent(dataDir: string): Promise<void> {
  await killPods(path.join(dataDir, 'agent', 'containerd')).catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
  await unmountUnder([dataDir], (msg) => console.error(`cleanup: ${msg}`));
  await removeNetwork({ dataDir: path.join(dataDir, 'agent', 'cni', 'ipam'), confDir: path.join(dataDir, 'agent', 'cni', 'net.d'), podCidr: '10.42.0.0/24' }).catch((err: unknown) =>
    console.error(`cleanup: ${(err as Error).message}`),
  );
}
