/**
 * The etcd member-removal controller (k3s pkg/etcd/member_controller.go `onRemove`, and the node
 * annotations of metadata_controller.go): each server marks its own Node with the name and
 * address of its etcd member; when such a Node is deleted, the member is removed from the etcd
 * cluster, so a server taken away with `kubectl delete node` no longer counts towards quorum.
 *
 * Bosun's annotations are `etcd.bosun.dev/node-name` and `etcd.bosun.dev/node-address` (k3s:
 * etcd.k3s.cattle.io/…); the Node also gets k3s's role label `node-role.kubernetes.io/etcd=true`.
 *
 * Contract:
 * - Every server may run it at once: removal goes by member name and peer address (k3s
 *   RemovePeer), and a member already gone counts as done, so the race is harmless.
 * - This server's own member is never removed here (the server removes itself by other means).
 * - Failed removals (no quorum, etcd unreachable) are retried with the work queue's per-item
 *   backoff until they succeed or the signal aborts.
 * - Edge-triggered by necessity: the annotations go with the deleted Node. A deletion that
 *   happens while no server runs this controller is not seen (k3s avoids that with a finalizer
 *   on the Node; Bosun does not add one, so deleting a Node never waits on etcd).
 */
import type { Node } from '../api/index.ts';
import { SharedInformer, WorkQueue, resources, runWorkers, type Client } from '../client/index.ts';
import { removeMember, type ClusterClient } from './cluster.ts';

export const nodeNameAnnotation = 'etcd.bosun.dev/node-name';
export const nodeAddressAnnotation = 'etcd.bosun.dev/node-address';
export const etcdRoleLabel = 'node-role.kubernetes.io/etcd';

export interface MemberRemovalDeps {
  /** A client allowed to list and watch Nodes. */
  client: Client;
  /** The etcd Cluster API (an `Etcd3` client). */
  etcd: ClusterClient;
  log: (msg: string) => void;
  /** This server's member name: never removed. */
  ownMember: string;
  /** Use this informer instead of starting one (it must already be running or be run by the caller). */
  nodeInformer?: SharedInformer<Node>;
}

interface Removal {
  member: string;
  address: string;
}

/**
 * Runs the controller until `signal` aborts; resolves once its informer and worker stopped.
 */
export async function runMemberRemoval(deps: MemberRemovalDeps, signal: AbortSignal): Promise<void> {
  const { log } = deps;
  const queue = new WorkQueue<string>({ name: 'etcd-member-removal' });
  const pending = new Map<string, Removal>();
  const ownInformer = deps.nodeInformer ? undefined : new SharedInformer<Node>(deps.client, resources.nodes, { log });
  const informer = deps.nodeInformer ?? ownInformer!;
  const reg = informer.addEventHandler({
    onDelete(node) {
      const member = node.metadata?.annotations?.[nodeNameAnnotation];
      const address = node.metadata?.annotations?.[nodeAddressAnnotation];
      if (!member) return;
      if (!address) {
        log(`etcd member removal: node ${node.metadata?.name}: annotation ${nodeAddressAnnotation} not found; member ${member} left in place`);
        return;
      }
      if (member === deps.ownMember) {
        log(`etcd member removal: node ${node.metadata?.name} held this server's own member ${member}; not removed here`);
        return;
      }
      const key = `${member}@${address}`;
      pending.set(key, { member, address });
      queue.add(key);
    },
  });
  const informerDone = ownInformer ? ownInformer.run(signal) : Promise.resolve();
  try {
    await runWorkers(
      queue,
      1,
      async (key) => {
        const r = pending.get(key);
        if (!r) return;
        if (await removeMember(deps.etcd, r.member, { address: r.address })) log(`Removed etcd member ${r.member} (address ${r.address}) of a deleted node`);
        pending.delete(key);
      },
      { signal, log },
    );
  } finally {
    reg.remove();
    await informerDone;
  }
}

/**
 * Marks `nodeName` as carrying etcd member `memberName` at `address` (merge patch of the two
 * annotations and the etcd role label). Idempotent; throws the API error (e.g. NotFound while the
 * Node is not registered yet: the caller retries).
 */
export async function annotateOwnNode(client: Client, nodeName: string, memberName: string, address: string): Promise<void> {
  await client.patch(
    resources.nodes,
    nodeName,
    { metadata: { annotations: { [nodeNameAnnotation]: memberName, [nodeAddressAnnotation]: address }, labels: { [etcdRoleLabel]: 'true' } } },
    { type: 'merge' },
  );
}
