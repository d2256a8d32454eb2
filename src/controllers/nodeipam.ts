/**
 * Node IPAM, as upstream's range allocator (pkg/controller/nodeipam, `--allocate-node-cidrs`
 * with `--cluster-cidr` and `--node-cidr-mask-size`): every Node without `spec.podCIDR` gets the
 * next free block of the cluster range in `spec.podCIDR` and `spec.podCIDRs`.
 *  - The allocation state lives only in memory and is rebuilt from the Nodes in the cache before
 *    the first allocation (level-based: a restart converges to the same state).
 *  - A Node created with a podCIDR keeps it; its block is marked used (blocks outside the
 *    cluster range, e.g. simulated nodes', are left alone).
 *  - A deleted Node's block is released, and Nodes still waiting are tried again.
 *  - When no block is left the Node gets the event `CIDRNotAvailable` (upstream's node status
 *    change event) and the queue retries it with backoff.
 * Only IPv4 single-stack ranges are allocated (Bosun's pod network is IPv4 only).
 */
import type { Node } from '../api/index.ts';
import { isInvalid, isNotFound } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import { BosunError } from '../util/errors.ts';
import { formatIpv4, parseCidr, parseIpv4, type Ipv4Cidr } from '../network/cidr.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';

/** Upstream's default --node-cidr-mask-size for IPv4. */
export const defaultNodeCidrMaskSize = 24;
/** Upstream refuses cluster ranges that split into more blocks than this (clusterSubNetMaxDiff = 16 bits). */
export const maxCidrBlocks = 1 << 16;

/**
 * The blocks of one cluster range, as upstream's CidrSet: `allocateNext` hands out the first
 * free block at or after the one after the last handed out (wrapping), so a released block is
 * not reused at once; `occupy` and `release` are idempotent. Synchronous, so one set may be
 * shared by concurrent workers.
 */
export class CidrSet {
  readonly cluster: Ipv4Cidr;
  readonly maskSize: number;
  readonly size: number;
  #used: Uint8Array;
  #allocated = 0;
  #next = 0;

  constructor(clusterCidr: string, maskSize: number = defaultNodeCidrMaskSize) {
    this.cluster = parseCidr(clusterCidr, 'cluster CIDR');
    if (!Number.isInteger(maskSize) || maskSize < this.cluster.prefix || maskSize > 30) {
      throw new BosunError('ERR_INVALID_CONFIG', `node CIDR mask size ${maskSize} must be an integer from the cluster CIDR's prefix (${this.cluster.prefix}) to 30`);
    }
    if (maskSize - this.cluster.prefix > 16) {
      throw new BosunError('ERR_INVALID_CONFIG', `node CIDR mask size ${maskSize} splits cluster CIDR ${this.cluster.text} into more than ${maxCidrBlocks} blocks`);
    }
    this.maskSize = maskSize;
    this.size = 2 ** (maskSize - this.cluster.prefix);
    this.#used = new Uint8Array(this.size);
  }

  /** Blocks handed out or occupied. */
  get allocated(): number {
    return this.#allocated;
  }

  /** The next free block, now marked used; undefined when the range is exhausted. */
  allocateNext(): string | undefined {
    if (this.#allocated >= this.size) return undefined;
    for (let i = 0; i < this.size; i++) {
      const k = (this.#next + i) % this.size;
      if (this.#used[k]) continue;
      this.#used[k] = 1;
      this.#allocated++;
      this.#next = (k + 1) % this.size;
      return this.#text(k);
    }
    return undefined;
  }

  /** Marks a node's block used. False (nothing marked) when it is not a block of this range. */
  occupy(cidr: string): boolean {
    const k = this.#index(cidr);
    if (k === undefined) return false;
    if (!this.#used[k]) {
      this.#used[k] = 1;
      this.#allocated++;
    }
    return true;
  }

  /** Frees a block; false when it is not a block of this range. */
  release(cidr: string): boolean {
    const k = this.#index(cidr);
    if (k === undefined) return false;
    if (this.#used[k]) {
      this.#used[k] = 0;
      this.#allocated--;
    }
    return true;
  }

  #text(k: number): string {
    return `${formatIpv4((this.cluster.base + k * 2 ** (32 - this.maskSize)) >>> 0)}/${this.maskSize}`;
  }

  /** The block index of `cidr`: it must be exactly one block of the range (as upstream's getIndexForIP). */
  #index(cidr: string): number | undefined {
    let c: Ipv4Cidr;
    try {
      c = parseCidr(cidr);
    } catch {
      return undefined;
    }
    if (c.prefix !== this.maskSize || parseIpv4(cidr.trim().split('/')[0]!) !== c.base) return undefined;
    const offset = c.base - this.cluster.base;
    if (offset < 0 || offset >= this.size * 2 ** (32 - this.maskSize)) return undefined;
    return offset / 2 ** (32 - this.maskSize);
  }
}

/** The node's IPv4 pod ranges (podCIDRs, or podCIDR when podCIDRs is empty). */
export function podCidrsOf(node: Node): string[] {
  const list = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  return list.filter((c): c is string => typeof c === 'string' && c.includes('.'));
}

export function startNodeIpamController(ctx: ControllerContext): void {
  const set = new CidrSet(ctx.config.clusterCidr, ctx.config.nodeCidrMaskSize);
  const nodes = ctx.informers.typedInformerFor(resources.nodes);
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder('cidrAllocator');
  const log = (m: string) => ctx.log(`node-ipam-controller: ${m}`);
  let rebuilt = false;
  const queue = startQueue(ctx, sync, { name: 'node-ipam-controller', workers: 1, waitFor: [nodes] });
  const enqueue = (n: Node) => queue.add(n.metadata.name!);
  nodes.addEventHandler({
    onAdd: enqueue,
    onUpdate: (_o, n) => enqueue(n),
    onDelete: (n: Node) => {
      if (!rebuilt) return; // the rebuild reads the cache, which no longer has it
      const inUse = new Set(nodes.store.list().flatMap(podCidrsOf));
      let freed = false;
      for (const c of podCidrsOf(n)) if (!inUse.has(c) && set.release(c)) freed = true;
      if (freed) {
        log(`released ${podCidrsOf(n).join(',')} of deleted node ${n.metadata.name}`);
        for (const w of nodes.store.list()) if (!podCidrsOf(w).length) enqueue(w);
      }
    },
  });

  /** Marks every block the cached Nodes hold, once, before anything is handed out. */
  function rebuild(): void {
    if (rebuilt) return;
    rebuilt = true;
    for (const n of nodes.store.list()) for (const c of podCidrsOf(n)) set.occupy(c);
    log(`${set.allocated} of ${set.size} blocks of ${set.cluster.text} in use`);
  }

  async function sync(name: string): Promise<void> {
    rebuild();
    const node = nodes.store.get(name);
    if (!node || node.metadata.deletionTimestamp) return;
    const have = podCidrsOf(node);
    if (have.length) {
      for (const c of have) set.occupy(c);
      return;
    }
    const cidr = set.allocateNext();
    if (!cidr) {
      recorder.event(node, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      throw new Error(`no pod CIDR left in ${set.cluster.text} for node ${name}`);
    }
    try {
      await cs.nodes.patch(name, { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { podCIDR: cidr, podCIDRs: [cidr] } }, { type: 'merge' });
      log(`node ${name} gets pod CIDR ${cidr}`);
    } catch (err) {
      set.release(cidr);
      if (isNotFound(err)) return;
      if (isInvalid(err)) {
        // Someone else set it meanwhile (podCIDR is immutable once set): take theirs.
        const fresh = await cs.nodes.get(name).catch(() => undefined);
        if (fresh && podCidrsOf(fresh).length) {
          for (const c of podCidrsOf(fresh)) set.occupy(c);
          return;
        }
      }
      throw err;
    }
  }
}
