/**
 * Bosun's local-path provisioner (`bosun.dev/local-path`): k3s's local-path-provisioner run the way
 * external-provisioner runs in its `--node-deployment` mode. Each node agent provisions the claims
 * selected to a node it owns, so the directory is made where the volume lives and no helper pod
 * is needed; simulated nodes run the same code without touching the disk (`fs` absent).
 *
 * Which claims (sig-storage-lib-external-provisioner's shouldProvision): not yet bound
 * (`spec.volumeName` empty), annotated `volume.kubernetes.io/storage-provisioner` (or the beta
 * key) with this provisioner's name (the PV binder adds it), of a StorageClass naming it; with
 * WaitForFirstConsumer, only once the scheduler has annotated `volume.kubernetes.io/selected-node`,
 * and only by the owner of that node. Immediate claims have no selected node: every provisioner
 * with an `immediateNode` tries, and creating the PV (named `pvc-<claim uid>`) decides which node
 * wins — the others see AlreadyExists and remove their directory (upstream's node deployment
 * settles ownership through the claim, which NodeRestriction forbids nodes to update).
 *
 * The volume, as k3s's provisioner shapes it: hostPath `<root>/pvc-<uid>_<namespace>_<name>` of
 * type DirectoryOrCreate (the directory made 0777, as k3s's helper script does), node affinity
 * `kubernetes.io/hostname In [node]`, capacity the claim's request, the claim's access modes,
 * volumeMode Filesystem, the class's reclaimPolicy, annotation `pv.kubernetes.io/provisioned-by`,
 * a claimRef with the claim's uid (the PV binder completes the binding), and the finalizer
 * `external-provisioner.volume.kubernetes.io/finalizer` (upstream's addFinalizer). The class's
 * mountOptions are ignored (a hostPath has none). Refused with ProvisioningFailed as upstream:
 * volumeMode Block (`bosun.dev/local-path does not support block volume provisioning`, not
 * retried), a selector, access modes other than ReadWriteOnce/ReadWriteOncePod (k3s's words,
 * retried). Events on the claim: Provisioning, ProvisioningSucceeded, ProvisioningFailed.
 *
 * Deletion (upstream's shouldDelete with addFinalizer): a Released volume this provisioner made on
 * a node it owns, with reclaimPolicy Delete, loses its directory, then the PV is deleted and the
 * finalizer removed; the finalizer is added to Bound Delete volumes lacking it and removed from
 * Retain ones. A failed removal is a VolumeFailedDelete event on the volume. Removal is confined
 * to one level under the node's root: the PV's path must be `<root>/<pv name>_…`, a symlink there
 * is unlinked, never followed, and nothing under it is followed either.
 *
 * One work queue for claims (`claim/<ns>/<name>`) and volumes (`volume/<name>`), 4 workers
 * (upstream's threadiness), per-item exponential retries given up after 15 failures (upstream's
 * failed provision/delete thresholds) until the object changes or the 15-minute resync.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isAlreadyExists, isNotFound } from '../api/errors.ts';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/index.ts';
import { clientset, EventRecorder, InformerFactory, resources, waitForCacheSync, WorkQueue, type RestClient } from '../client/index.ts';
// The binder's annotation names and claim reference: the provisioner hands its volumes to it.
import { annBetaStorageProvisioner, annDynamicallyProvisioned, annSelectedNode, annStorageProvisioner, claimReference, localPathProvisionerName } from '../controllers/pvbinder-match.ts';
export { annBetaStorageProvisioner, annDynamicallyProvisioned, annSelectedNode, annStorageProvisioner, localPathProvisionerName };

const annAlphaSelectedNode = 'volume.alpha.kubernetes.io/selected-node';
export const provisionerFinalizer = 'external-provisioner.volume.kubernetes.io/finalizer';
export const hostnameLabel = 'kubernetes.io/hostname';
/** Upstream's DefaultFailedProvisionThreshold and DefaultFailedDeleteThreshold. */
export const failedThreshold = 15;
/** Upstream's DefaultResyncPeriod. */
export const resyncMs = 15 * 60_000;
/** Upstream's DefaultThreadiness. */
const workers = 4;

/** The disk side of provisioning; absent for simulated nodes. */
export interface LocalPathFs {
  /** Makes `dir`, a direct child of `root`, with mode 0777 (and `root` when missing). Idempotent. */
  mkdir(dir: string, root: string): Promise<void>;
  /** Removes `dir`, a direct child of `root`, and what it holds, following no symlink. Missing: done. */
  rm(dir: string, root: string): Promise<void>;
}

export interface LocalPathProvisionerOptions {
  /** The identity's client: the node (group system:nodes) or the simulated nodes. */
  client: RestClient;
  /** A shared factory (the caller starts it); absent: one of its own, started here. */
  informers?: InformerFactory;
  /** Whether this provisioner serves volumes of node `name`. */
  ownsNode: (name: string) => boolean;
  /** The storage root on node `name`. */
  root: (name: string) => string;
  /** Directories on disk; absent: none (simulated nodes). */
  fs?: LocalPathFs;
  /** The node this provisioner offers for Immediate claims; absent (or undefined): it takes none. */
  immediateNode?: () => string | undefined;
  /** Appended to the events' component (`bosun.dev/local-path_<identity>`), e.g. the node name. */
  identity?: string;
  signal: AbortSignal;
  log?: (msg: string) => void;
}

/** Resolves once the signal aborted and the workers stopped. */
export interface LocalPathProvisioner {
  stopped: Promise<void>;
}

/** The directory of claim `claim`'s volume under `root` (k3s's folder name). */
export function volumeDir(root: string, claim: PersistentVolumeClaim): string {
  return path.join(root, [`pvc-${claim.metadata.uid}`, claim.metadata.namespace, claim.metadata.name].join('_'));
}

/** The provisioner a claim asks for (the storage-provisioner annotation, or its beta key). */
export function claimProvisioner(claim: PersistentVolumeClaim): string | undefined {
  const a = claim.metadata.annotations ?? {};
  return a[annStorageProvisioner] ?? a[annBetaStorageProvisioner];
}

/** The node a claim was selected for, '' when none. */
export function selectedNode(claim: PersistentVolumeClaim): string {
  const a = claim.metadata.annotations ?? {};
  return a[annSelectedNode] || a[annAlphaSelectedNode] || '';
}

/** The node of a local-path volume: its single `kubernetes.io/hostname In [node]` affinity, or ''. */
export function volumeNode(pv: PersistentVolume): string {
  for (const term of pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? []) {
    for (const e of term.matchExpressions ?? []) {
      if (e.key === hostnameLabel && e.operator === 'In') return e.values?.length === 1 ? e.values[0]! : '';
    }
  }
  return '';
}

/** Why k3s's provisioner refuses the claim (retried), or undefined. */
export function provisionRefusal(claim: PersistentVolumeClaim): string | undefined {
  if (claim.spec?.selector) return 'claim.Spec.Selector is not supported';
  for (const m of claim.spec?.accessModes ?? []) {
    if (m !== 'ReadWriteOnce' && m !== 'ReadWriteOncePod') return 'NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes';
  }
  return undefined;
}

/** The PersistentVolume for `claim` on `node` (k3s's shape, the library's claimRef, annotation and finalizer). */
export function localPathVolume(claim: PersistentVolumeClaim, cls: StorageClass, node: string, root: string): PersistentVolume {
  const storage = claim.spec?.resources?.requests?.['storage'];
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: `pvc-${claim.metadata.uid}`,
      annotations: { [annDynamicallyProvisioned]: cls.provisioner },
      finalizers: [provisionerFinalizer],
    },
    spec: {
      persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
      accessModes: [...(claim.spec?.accessModes ?? [])],
      volumeMode: 'Filesystem',
      ...(storage !== undefined ? { capacity: { storage } } : {}),
      hostPath: { path: volumeDir(root, claim), type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: hostnameLabel, operator: 'In', values: [node] }] }] } },
      claimRef: claimReference(claim),
      storageClassName: claim.spec?.storageClassName ?? '',
    },
  };
}

/** Throws unless `dir` is a direct child of `root` with a plain name. */
function assertChild(dir: string, root: string): void {
  const d = path.resolve(dir);
  const base = path.basename(d);
  if (path.dirname(d) !== path.resolve(root) || !base || base === '.' || base === '..') {
    throw new Error(`path ${dir} is not a directory of the storage root ${root}`);
  }
}

/** The real disk: directories made 0777 under a root made 0700; removal that follows no symlink. */
export const diskFs: LocalPathFs = {
  async mkdir(dir, root) {
    assertChild(dir, root);
    await fs.mkdir(root, { recursive: true, mode: 0o700 });
    let made = true;
    try {
      await fs.mkdir(dir, { mode: 0o777 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      made = false;
    }
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
    // The umask trims mkdir's mode: set it as k3s's `mkdir -m 0777` does.
    if (made) await fs.chmod(dir, 0o777);
  },
  async rm(dir, root) {
    assertChild(dir, root);
    let st;
    try {
      st = await fs.lstat(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    // A symlink (or a file) in the root is removed itself; its target is never touched.
    if (!st.isDirectory()) return fs.unlink(dir);
    // fs.rm walks with lstat: symlinks inside are unlinked, not followed.
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
  },
};

/**
 * Starts the provisioner: registers claim, volume and class informers on `informers` (or its own
 * factory) and runs the workers once they synced, until `signal` aborts. Returns at once.
 */
export function startLocalPathProvisioner(opts: LocalPathProvisionerOptions): LocalPathProvisioner {
  const { signal } = opts;
  const log = (m: string) => (opts.log ?? (() => {}))(`local-path provisioner: ${m}`);
  const own = !opts.informers;
  const informers = opts.informers ?? new InformerFactory(opts.client, { log });
  const claims = informers.typedInformerFor(resources.persistentVolumeClaims);
  const volumes = informers.typedInformerFor(resources.persistentVolumes);
  const classes = informers.typedInformerFor(resources.storageClasses);
  const cs = clientset(opts.client);
  const recorder = new EventRecorder(opts.client, { component: `${localPathProvisionerName}_${opts.identity ?? 'bosun'}`, log });
  const queue = new WorkQueue<string>({ name: 'local-path-provisioner' });

  const claimKey = (c: PersistentVolumeClaim) => `claim/${c.metadata.namespace}/${c.metadata.name}`;
  const enqueueClaim = (c: PersistentVolumeClaim) => {
    if (!c.spec?.volumeName && claimProvisioner(c) === localPathProvisionerName) queue.add(claimKey(c));
  };
  const enqueueVolume = (pv: PersistentVolume) => {
    if (pv.metadata.annotations?.[annDynamicallyProvisioned] === localPathProvisionerName && opts.ownsNode(volumeNode(pv))) queue.add(`volume/${pv.metadata.name}`);
  };
  claims.addEventHandler({ onAdd: enqueueClaim, onUpdate: (_o, c) => enqueueClaim(c) });
  volumes.addEventHandler({ onAdd: enqueueVolume, onUpdate: (_o, v) => enqueueVolume(v) });
  if (own) informers.start(signal);

  const provisionFailed = (claim: PersistentVolumeClaim, message: string) => recorder.event(claim, 'Warning', 'ProvisioningFailed', message);

  async function syncClaim(namespace: string, name: string): Promise<void> {
    const claim = claims.store.get(`${namespace}/${name}`);
    if (!claim || claim.spec?.volumeName || claimProvisioner(claim) !== localPathProvisionerName) return;
    const className = claim.spec?.storageClassName ?? '';
    const cls = classes.store.get(className);
    if (!cls) throw new Error(`storageClass ${JSON.stringify(className)} not found`);
    let node = selectedNode(claim);
    const immediate = (cls.volumeBindingMode ?? 'Immediate') !== 'WaitForFirstConsumer';
    if (!node) {
      if (!immediate) return;
      node = opts.immediateNode?.() ?? '';
      if (!node) return;
    }
    if (!opts.ownsNode(node)) return;
    const pvName = `pvc-${claim.metadata.uid}`;
    const existing = volumes.store.get(pvName);
    if (existing) {
      // An Immediate claim another node won: this node's directory, if it made one, goes.
      if (volumeNode(existing) !== node) await opts.fs?.rm(volumeDir(opts.root(node), claim), opts.root(node));
      return;
    }
    if (claim.spec?.volumeMode === 'Block') {
      provisionFailed(claim, `${localPathProvisionerName} does not support block volume provisioning`);
      return;
    }
    if (cls.provisioner !== localPathProvisionerName) return;
    recorder.event(claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${namespace}/${name}"`);
    const failure = (reason: string) => `failed to provision volume with StorageClass ${JSON.stringify(className)}: ${reason}`;
    const refusal = provisionRefusal(claim);
    if (refusal) {
      provisionFailed(claim, failure(refusal));
      throw new Error(failure(refusal));
    }
    const root = opts.root(node);
    const pv = localPathVolume(claim, cls, node, root);
    const dir = pv.spec!.hostPath!.path;
    try {
      await opts.fs?.mkdir(dir, root);
    } catch (err) {
      provisionFailed(claim, failure((err as Error).message));
      throw err;
    }
    try {
      await cs.persistentVolumes.create(pv);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Another node won an Immediate claim: its volume stays, this node's directory goes.
      if (volumeNode(await cs.persistentVolumes.get(pvName)) !== node) await opts.fs?.rm(dir, root);
      return;
    }
    log(`provisioned ${pvName} for claim ${namespace}/${name} on node ${node}`);
    recorder.event(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
  }

  async function setFinalizer(pv: PersistentVolume, present: boolean): Promise<void> {
    const metadata = present ? { finalizers: [provisionerFinalizer] } : { '$deleteFromPrimitiveList/finalizers': [provisionerFinalizer] };
    try {
      await cs.persistentVolumes.patch(pv.metadata.name!, { metadata: { ...metadata, uid: pv.metadata.uid } }, { type: 'strategic' });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async function syncVolume(name: string): Promise<void> {
    const pv = volumes.store.get(name);
    if (!pv || pv.metadata.annotations?.[annDynamicallyProvisioned] !== localPathProvisionerName) return;
    const node = volumeNode(pv);
    if (!opts.ownsNode(node)) return;
    const policy = pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain';
    const hasFinalizer = (pv.metadata.finalizers ?? []).includes(provisionerFinalizer);
    const deleting = !!pv.metadata.deletionTimestamp;
    if (policy === 'Delete' && !deleting && pv.status?.phase === 'Bound' && !hasFinalizer) return setFinalizer(pv, true);
    if ((policy === 'Retain' || policy === 'Recycle') && hasFinalizer) return setFinalizer(pv, false);
    // shouldDelete (with the finalizer): not already finished, Released, reclaimPolicy Delete.
    if (deleting && !hasFinalizer) return;
    if (pv.status?.phase !== 'Released' || policy !== 'Delete') return;
    const dir = pv.spec?.hostPath?.path ?? pv.spec?.local?.path ?? '';
    const root = opts.root(node);
    try {
      if (!dir) throw new Error('no HostPath set');
      if (!path.basename(dir).startsWith(`${name}_`)) throw new Error(`path ${dir} is not this volume's directory`);
      await opts.fs?.rm(dir, root);
    } catch (err) {
      const message = `failed to delete volume ${name}: ${(err as Error).message}`;
      recorder.event(pv, 'Warning', 'VolumeFailedDelete', message);
      throw new Error(message, { cause: err });
    }
    try {
      await cs.persistentVolumes.delete(name, { preconditions: { uid: pv.metadata.uid } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (hasFinalizer) await setFinalizer(pv, false);
    log(`deleted ${name} and its directory on node ${node}`);
  }

  async function sync(key: string): Promise<void> {
    const [kind, a, b] = key.split('/');
    if (kind === 'claim') return syncClaim(a!, b!);
    return syncVolume(a!);
  }

  async function worker(): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await sync(key);
        queue.forget(key);
      } catch (err) {
        // As upstream: retried until the threshold, then given up (not forgotten) until the object
        // changes or the resync adds it again.
        if (queue.numRequeues(key) < failedThreshold) queue.addRateLimited(key);
        else log(`giving up on ${key} after ${failedThreshold} failures`);
        log(`${key}: ${(err as Error).message}`);
      } finally {
        queue.done(key);
      }
    }
  }

  const stopped = (async () => {
    const onAbort = () => queue.shutDown();
    signal.addEventListener('abort', onAbort, { once: true });
    const resync = setInterval(() => {
      for (const c of claims.store.list()) enqueueClaim(c);
      for (const v of volumes.store.list()) enqueueVolume(v);
    }, resyncMs);
    resync.unref();
    try {
      if (!(await waitForCacheSync(signal, claims, volumes, classes))) return;
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      clearInterval(resync);
      signal.removeEventListener('abort', onAbort);
      queue.shutDown();
      await recorder.close().catch(() => {});
      if (own) await informers.stopped();
    }
  })();
  return { stopped };
}

/**
 * The node agent's provisioner: volumes of node `nodeName` under `<agentDir>/storage`, on disk,
 * Immediate claims offered to this node. Shares the agent's informers; stops with the signal.
 */
export function startNodeLocalPath(o: { client: RestClient; informers: InformerFactory; nodeName: string; agentDir: string; signal: AbortSignal; log?: (msg: string) => void }): LocalPathProvisioner {
  const root = path.join(o.agentDir, 'storage');
  return startLocalPathProvisioner({ client: o.client, informers: o.informers, ownsNode: (n) => n === o.nodeName, root: () => root, fs: diskFs, immediateNode: () => o.nodeName, identity: o.nodeName, signal: o.signal, log: o.log });
}
