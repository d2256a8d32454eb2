/**
 * Pod volumes on the host, laid out as upstream's kubelet does:
 * `<podDir>/volumes/<plugin>/<volume>` with plugin names `kubernetes.io~empty-dir`,
 * `kubernetes.io~configmap`, `kubernetes.io~secret`, `kubernetes.io~downward-api`,
 * `kubernetes.io~projected`; hostPath volumes are the host path itself.
 *
 * ConfigMap, Secret, downwardAPI and projected contents go through an atomic writer with
 * upstream's layout (pkg/volume/util/atomic_writer.go): the files live in a hidden timestamped
 * directory `..YYYY_MM_DD_HH_MM_SS.xxxxxx`, `..data` is a symlink to it swapped by rename, and
 * every top-level name is a symlink into `..data`. A refresh writes only when content changed.
 * Secret and projected volumes sit on a tmpfs (upstream wraps them in a memory emptyDir), so
 * secrets never reach the disk.
 *
 * persistentVolumeClaim and generic ephemeral volumes (claim `<pod>-<volume>`, which the pod must
 * control) are resolved as upstream's volume manager populator does: the claim must be Bound, not
 * being deleted, and name its volume, whose claimRef must carry the claim's uid; the volume's
 * hostPath (type-checked, DirectoryOrCreate made) or `local.path` (which must exist) is then bound
 * into containers, read-only when the pod's volume source says so. A claim that cannot be resolved
 * fails the setup with upstream's FailedMount wording (`Unable to attach or mount volumes:
 * unmounted volumes=[v], unattached volumes=[], failed to process volumes=[v]: error processing
 * PVC ns/c: PVC is not bound`); a resolved claim volume is remembered for the pod's lifetime, so
 * a running pod is not disturbed when its claim is later deleted (upstream processes a pod once).
 *
 * Not supported (setup throws a clear error): csi, nfs, image and every other network or cloud
 * volume type (also as the source of a claim's volume), hugepages emptyDir media,
 * clusterTrustBundle projections.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type {
  ConfigMap,
  Container,
  DownwardAPIVolumeFile,
  KeyToPath,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  Secret,
  Volume,
} from '../api/index.ts';
import { parseQuantity } from '../api/quantity.ts';
import { containerResourceValue, expand, podFieldValue } from './env.ts';
import type { NodeAllocatable } from './env.ts';

const execFileP = promisify(execFile);

/** Where referenced objects come from; `undefined` means not found. */
export interface VolumeSources {
  getConfigMap(ns: string, name: string): Promise<ConfigMap | undefined>;
  getSecret(ns: string, name: string): Promise<Secret | undefined>;
  /** A bound service-account token (TokenRequest) for serviceAccountToken projections. */
  requestToken?(req: {
    namespace: string;
    serviceAccount: string;
    audience?: string;
    expirationSeconds: number;
    podName: string;
    podUid: string;
  }): Promise<string>;
  /** A claim, for persistentVolumeClaim and ephemeral volumes; throws the API's error when it cannot be read. */
  getPersistentVolumeClaim?(ns: string, name: string): Promise<PersistentVolumeClaim>;
  /** A PersistentVolume; throws the API's error when it cannot be read. */
  getPersistentVolume?(name: string): Promise<PersistentVolume>;
}

export interface VolumeContext {
  sources: VolumeSources;
  /** Node allocatable memory: the size of memory-backed volumes when nothing smaller applies. */
  nodeAllocatableMemory?: string;
  /** Node allocatable, for downward-API resourceFieldRef items whose container has no limit. */
  nodeAllocatable?: Partial<NodeAllocatable>;
  podIP?: string;
  hostIP?: string;
}

export interface PodVolume {
  /** The host path to bind into containers. */
  hostPath: string;
  /** The volume is always mounted read-only (configMap, secret, downwardAPI, projected). */
  readOnly: boolean;
  /** The emptyDir medium, when not the default. */
  medium?: string;
}

/** A container mount in the CRI's shape (runtime.v1 Mount). */
export interface CriMount {
  container_path: string;
  host_path: string;
  readonly: boolean;
  selinux_relabel: boolean;
  propagation: 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
}

export const pluginDirs = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
} as const;

/** Default file mode of configMap, secret, downwardAPI and projected files (API default). */
export const DEFAULT_FILE_MODE = 0o644;
/** emptyDir directories are world-writable, as upstream. */
const EMPTY_DIR_MODE = 0o777;
/** Token lifetime when the projection names none (API default). */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600;
/** Atomic writer bounds (upstream's maxFileNameLength, maxPathLength). */
const MAX_FILE_NAME_LENGTH = 255;
const MAX_PATH_LENGTH = 4096;
/** Entries `dirUsageBytes` visits at most by default. */
export const MAX_USAGE_WALK_ENTRIES = 100_000;

const unsupportedVolumeTypes = new Set([
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
  'csi',
  'image',
]);

// ---- per-directory serialisation (the atomic writer is not safe for concurrent writers) ----

const locks = new Map<string, Promise<unknown>>();

async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => {});
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

// ---- mounts ----

interface MountEntry {
  mountPoint: string;
  fsType: string;
}

function unescapeMountInfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

async function readMounts(): Promise<MountEntry[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    const fields = pre!.split(' ');
    out.push({ mountPoint: unescapeMountInfo(fields[4] ?? ''), fsType: (post ?? '').split(' ')[0] ?? '' });
  }
  return out;
}

async function isTmpfsMount(dir: string): Promise<boolean> {
  const real = await fs.realpath(dir);
  const entries = (await readMounts()).filter((m) => m.mountPoint === real);
  return entries.length > 0 && entries[entries.length - 1]!.fsType === 'tmpfs';
}

async function mountTmpfs(dir: string, sizeBytes: number | undefined): Promise<void> {
  if (await isTmpfsMount(dir)) return;
  const args = ['-t', 'tmpfs'];
  if (sizeBytes && sizeBytes > 0) args.push('-o', `size=${sizeBytes}`);
  args.push('tmpfs', dir);
  try {
    await execFileP('mount', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`mount of tmpfs at ${dir} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

/** The pod's memory limit as its cgroup gets it, or 0 when a container declares none. */
function podMemoryLimit(pod: Pod): number {
  const containers = pod.spec?.containers ?? [];
  let sum = 0;
  for (const c of containers) {
    const v = parseQuantity(c.resources?.limits?.memory) ?? 0;
    if (v <= 0) return 0;
    sum += v;
  }
  for (const c of pod.spec?.initContainers ?? []) {
    const v = parseQuantity(c.resources?.limits?.memory) ?? 0;
    if (v > sum) sum = v;
  }
  return Math.ceil(sum + (parseQuantity(pod.spec?.overhead?.memory) ?? 0));
}

/**
 * The size of a memory-backed volume (upstream's calculateEmptyDirMemorySize): node allocatable,
 * lowered to the pod's memory limit, lowered to the volume's sizeLimit; undefined = no size option.
 */
function memoryVolumeSize(pod: Pod, sizeLimit: string | undefined, nodeAllocatableMemory: string | undefined): number | undefined {
  let size = nodeAllocatableMemory !== undefined ? Math.ceil(parseQuantity(nodeAllocatableMemory) ?? 0) || undefined : undefined;
  const podLimit = podMemoryLimit(pod);
  if (podLimit > 0 && (size === undefined || podLimit <= size)) size = podLimit;
  const limit = sizeLimit !== undefined ? Math.ceil(parseQuantity(sizeLimit) ?? 0) : 0;
  if (limit > 0 && (size === undefined || limit <= size)) size = limit;
  return size;
}

// ---- ownership (upstream's SetVolumeOwnership for pod.spec.securityContext.fsGroup) ----

async function applyFsGroup(dir: string, gid: number, readOnly: boolean): Promise<void> {
  const fileMask = readOnly ? 0o440 : 0o660;
  const walk = async (p: string): Promise<void> => {
    const st = await fs.lstat(p);
    if (st.isSymbolicLink()) return;
    await fs.lchown(p, st.uid, gid);
    const mask = st.isDirectory() ? fileMask | 0o110 | 0o2000 : fileMask;
    await fs.chmod(p, (st.mode & 0o7777) | mask);
    if (st.isDirectory()) for (const name of await fs.readdir(p)) await walk(path.join(p, name));
  };
  await walk(dir);
}

// ---- the atomic writer ----

interface FileProjection {
  data: Buffer;
  mode: number;
}

type Payload = Map<string, FileProjection>;

function validatePayloadPath(p: string): void {
  if (p === '') throw new Error(`invalid path: must not be empty: "${p}"`);
  if (path.isAbsolute(p)) throw new Error(`invalid path: must be relative path: ${p}`);
  if (p.length > MAX_PATH_LENGTH) throw new Error(`invalid path: must be less than or equal to ${MAX_PATH_LENGTH} characters`);
  const items = p.split('/');
  for (const item of items) {
    if (item === '..') throw new Error(`invalid path: must not contain '..': ${p}`);
    if (item.length > MAX_FILE_NAME_LENGTH) {
      throw new Error(`invalid path: filenames must be less than or equal to ${MAX_FILE_NAME_LENGTH} characters`);
    }
  }
  if (items[0]!.startsWith('..') && items[0]!.length > 2) throw new Error(`invalid path: must not start with '..': ${p}`);
}

function cleanPayload(payload: Payload): Payload {
  const out: Payload = new Map();
  for (const [p, proj] of payload) {
    validatePayloadPath(p);
    out.set(path.posix.normalize(p).replace(/\/$/, ''), proj);
  }
  return out;
}

async function walkRelative(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.add(r);
      if (e.isDirectory()) await walk(r);
    }
  };
  try {
    await walk('');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  return out;
}

function timestampDirPrefix(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

/**
 * Projects `payload` into `targetDir` atomically; answers whether anything was written. The
 * target directory must exist. Paths must be relative, without `..` elements.
 */
async function atomicWrite(targetDir: string, payload: Payload, setPerms?: (dir: string) => Promise<void>): Promise<boolean> {
  const clean = cleanPayload(payload);
  const dataDirPath = path.join(targetDir, '..data');
  let oldTsDir = '';
  try {
    oldTsDir = await fs.readlink(dataDirPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const oldTsPath = path.join(targetDir, oldTsDir);

  let toRemove = new Set<string>();
  if (oldTsDir) {
    const current = await walkRelative(oldTsPath);
    const wanted = new Set<string>();
    for (const p of clean.keys()) {
      for (let sub = p; sub !== '' && sub !== '.'; sub = path.posix.dirname(sub)) wanted.add(sub);
    }
    toRemove = new Set([...current].filter((p) => !wanted.has(p)));
    let changed = false;
    for (const [p, proj] of clean) {
      let onDisk: Buffer | undefined;
      try {
        onDisk = await fs.readFile(path.join(oldTsPath, p));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (!onDisk || !onDisk.equals(proj.data)) {
        changed = true;
        break;
      }
    }
    if (!changed && toRemove.size === 0) return false;
  }

  const tsDir = await fs.mkdtemp(path.join(targetDir, timestampDirPrefix()));
  const tsName = path.basename(tsDir);
  try {
    await fs.chmod(tsDir, 0o755);
    for (const [p, proj] of clean) {
      const full = path.join(tsDir, p);
      await fs.mkdir(path.dirname(full), { recursive: true, mode: 0o755 });
      await fs.writeFile(full, proj.data, { mode: proj.mode });
      await fs.chmod(full, proj.mode);
    }
    if (setPerms) await setPerms(targetDir);
    const tmpLink = path.join(targetDir, '..data_tmp');
    await fs.rm(tmpLink, { force: true });
    await fs.symlink(tsName, tmpLink);
    await fs.rename(tmpLink, dataDirPath);
  } catch (err) {
    await fs.rm(tsDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }

  for (const p of clean.keys()) {
    const top = p.split('/')[0]!;
    const visible = path.join(targetDir, top);
    try {
      await fs.lstat(visible);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await fs.symlink(path.join('..data', top), visible);
    }
  }
  for (const p of toRemove) {
    if (p.includes('/')) continue;
    await fs.rm(path.join(targetDir, p), { force: true });
  }
  if (oldTsDir) await fs.rm(oldTsPath, { recursive: true, force: true });
  return true;
}

// ---- payloads ----

function projectKeys(
  data: Map<string, Buffer>,
  items: KeyToPath[] | undefined,
  defaultMode: number,
  optional: boolean,
  missingKey: (key: string) => string,
): Payload {
  const out: Payload = new Map();
  if (!items || items.length === 0) {
    for (const [k, v] of data) out.set(k, { data: v, mode: defaultMode });
    return out;
  }
  for (const item of items) {
    const v = data.get(item.key);
    if (v === undefined) {
      if (optional) continue;
      throw new Error(missingKey(item.key));
    }
    out.set(item.path, { data: v, mode: item.mode ?? defaultMode });
  }
  return out;
}

function configMapData(cm: ConfigMap | undefined): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(cm?.data ?? {})) m.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(cm?.binaryData ?? {})) m.set(k, Buffer.from(v, 'base64'));
  return m;
}

function secretData(s: Secret | undefined): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(s?.data ?? {})) m.set(k, Buffer.from(v, 'base64'));
  for (const [k, v] of Object.entries(s?.stringData ?? {})) m.set(k, Buffer.from(v, 'utf8'));
  return m;
}

async function configMapPayload(
  pod: Pod,
  src: { name?: string; items?: KeyToPath[]; optional?: boolean },
  defaultMode: number,
  sources: VolumeSources,
): Promise<Payload> {
  const ns = pod.metadata.namespace || 'default';
  const name = src.name ?? '';
  const cm = await sources.getConfigMap(ns, name);
  if (!cm && !src.optional) throw new Error(`configmap "${name}" not found`);
  return projectKeys(configMapData(cm), src.items, defaultMode, !!src.optional, (k) => `configmap references non-existent config key: ${k}`);
}

async function secretPayload(
  pod: Pod,
  name: string,
  src: { items?: KeyToPath[]; optional?: boolean },
  defaultMode: number,
  sources: VolumeSources,
): Promise<Payload> {
  const ns = pod.metadata.namespace || 'default';
  const s = await sources.getSecret(ns, name);
  if (!s && !src.optional) throw new Error(`secret "${name}" not found`);
  return projectKeys(secretData(s), src.items, defaultMode, !!src.optional, (k) => `references non-existent secret key: ${k}`);
}

function downwardPayload(pod: Pod, items: DownwardAPIVolumeFile[] | undefined, defaultMode: number, ctx: VolumeContext): Payload {
  const out: Payload = new Map();
  const errs: string[] = [];
  const allocatable: Partial<NodeAllocatable> = { ...ctx.nodeAllocatable };
  if (allocatable.memory === undefined && ctx.nodeAllocatableMemory !== undefined) allocatable.memory = ctx.nodeAllocatableMemory;
  for (const item of items ?? []) {
    let text = '';
    try {
      if (item.fieldRef) {
        text = podFieldValue(pod, item.fieldRef, { podIP: ctx.podIP, hostIP: ctx.hostIP });
      } else if (item.resourceFieldRef) {
        text = containerResourceValue(pod, undefined, item.resourceFieldRef, allocatable);
      }
    } catch (err) {
      errs.push((err as Error).message);
    }
    out.set(path.posix.normalize(item.path), { data: Buffer.from(text, 'utf8'), mode: item.mode ?? defaultMode });
  }
  if (errs.length === 1) throw new Error(errs[0]);
  if (errs.length > 1) throw new Error(`[${errs.join(', ')}]`);
  return out;
}

// ---- service-account tokens ----

interface CachedToken {
  token: string;
  fetchedAt: number;
  ttlMs: number;
}

const tokenCache = new Map<string, CachedToken>();
/** Refresh a token once 80% of its lifetime has passed, or after 24 h (upstream's token manager). */
const TOKEN_REFRESH_FRACTION = 0.8;
const TOKEN_MAX_AGE_MS = 24 * 3600 * 1000;

async function projectedToken(
  pod: Pod,
  podDir: string,
  volName: string,
  tp: { audience?: string; expirationSeconds?: number; path: string },
  sources: VolumeSources,
): Promise<string> {
  if (!sources.requestToken) {
    throw new Error(`cannot project a serviceAccountToken into volume "${volName}": the node agent has no token source (requestToken)`);
  }
  const expirationSeconds = tp.expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS;
  const serviceAccount = pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default';
  const key = [podDir, volName, tp.path, tp.audience ?? '', expirationSeconds, serviceAccount].join('\0');
  const now = Date.now();
  const hit = tokenCache.get(key);
  if (hit && now - hit.fetchedAt < Math.min(hit.ttlMs * TOKEN_REFRESH_FRACTION, TOKEN_MAX_AGE_MS)) return hit.token;
  const token = await sources.requestToken({
    namespace: pod.metadata.namespace || 'default',
    serviceAccount,
    ...(tp.audience ? { audience: tp.audience } : {}),
    expirationSeconds,
    podName: pod.metadata.name ?? '',
    podUid: pod.metadata.uid ?? '',
  });
  tokenCache.set(key, { token, fetchedAt: now, ttlMs: expirationSeconds * 1000 });
  return token;
}

// ---- hostPath ----

function fileType(st: fsSync.Stats): string | undefined {
  if (st.isDirectory()) return 'Directory';
  if (st.isFile()) return 'File';
  if (st.isSocket()) return 'Socket';
  if (st.isCharacterDevice()) return 'CharDevice';
  if (st.isBlockDevice()) return 'BlockDevice';
  return undefined;
}

async function statOrUndefined(p: string): Promise<fsSync.Stats | undefined> {
  try {
    return await fs.stat(p);
  } catch {
    return undefined;
  }
}

async function checkHostPathType(p: string, type: string): Promise<void> {
  const expected: Record<string, [string, string]> = {
    DirectoryOrCreate: ['Directory', 'directory'],
    Directory: ['Directory', 'directory'],
    FileOrCreate: ['File', 'file'],
    File: ['File', 'file'],
    Socket: ['Socket', 'socket file'],
    CharDevice: ['CharDevice', 'character device'],
    BlockDevice: ['BlockDevice', 'block device'],
  };
  const want = expected[type];
  if (!want) throw new Error(`${type} is an invalid volume type`);
  if (type === 'DirectoryOrCreate' && !(await statOrUndefined(p))) {
    await fs.mkdir(p, { recursive: true, mode: 0o755 });
  }
  if (type === 'FileOrCreate' && !(await statOrUndefined(p))) {
    const fh = await fs.open(p, fsSync.constants.O_CREAT | fsSync.constants.O_RDONLY, 0o644);
    await fh.close();
  }
  const st = await statOrUndefined(p);
  if (!st) throw new Error(`hostPath ${p} doesn't exist`);
  const got = fileType(st);
  if (!got) {
    throw new Error(`hostPath type check failed, ${p} is not a ${want[1]}, unable to determine its type: only recognise file, directory, socket, block device and character device`);
  }
  if (got !== want[0]) throw new Error(`hostPath type check failed: ${p} is not a ${want[1]}, it's a ${got}`);
}

// ---- claims (upstream's desired-state-of-world populator) ----

/** A pod volume backed by a claim, resolved to its bound PersistentVolume. */
interface ClaimVolume {
  pv: PersistentVolume;
  readOnly: boolean;
}

/** Resolved claim volumes by `<podDir>\0<volume>`; dropped by teardownVolumes. */
const claimVolumes = new Map<string, ClaimVolume>();

/** An error whose message is the whole event text (no `MountVolume.SetUp failed …` prefix). */
class WholeMessageError extends Error {}

/** Volume names any container of the pod mounts (volumeMounts). */
function mountedVolumeNames(pod: Pod): Set<string> {
  const out = new Set<string>();
  const s = pod.spec;
  for (const c of [...(s?.initContainers ?? []), ...(s?.containers ?? []), ...((s?.ephemeralContainers ?? []) as Container[])]) {
    for (const m of c.volumeMounts ?? []) out.add(m.name);
  }
  return out;
}

/** The claim's volume for `vol`, or throws with upstream's wording (getPVCExtractPV, VolumeIsForPod, getPVSpec). */
async function resolveClaim(pod: Pod, vol: Volume, sources: VolumeSources, mounted: Set<string>): Promise<ClaimVolume> {
  const ns = pod.metadata.namespace || 'default';
  const ephemeral = !vol.persistentVolumeClaim;
  const claimName = ephemeral ? `${pod.metadata.name}-${vol.name}` : vol.persistentVolumeClaim!.claimName;
  const readOnly = !ephemeral && !!vol.persistentVolumeClaim!.readOnly;
  const processing = (msg: string) => new Error(`error processing PVC ${ns}/${claimName}: ${msg}`);
  if (!sources.getPersistentVolumeClaim || !sources.getPersistentVolume) throw processing('the node agent has no source of claims');
  let pvc: PersistentVolumeClaim;
  try {
    pvc = await sources.getPersistentVolumeClaim(ns, claimName);
  } catch (err) {
    throw processing(`failed to fetch PVC from API server: ${(err as Error).message}`);
  }
  if (pvc.metadata.deletionTimestamp) throw processing('PVC is being deleted');
  if (pvc.status?.phase !== 'Bound') throw processing('PVC is not bound');
  const pvName = pvc.spec?.volumeName ?? '';
  if (!pvName) throw processing('PVC has empty pvc.Spec.VolumeName');
  if (ephemeral && !(pvc.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === pod.metadata.uid)) {
    throw new Error(`PVC ${ns}/${claimName} was not created for pod ${ns}/${pod.metadata.name} (pod is not owner)`);
  }
  let pv: PersistentVolume;
  try {
    pv = await sources.getPersistentVolume(pvName);
  } catch (err) {
    throw processing(`failed to fetch PV ${pvName} from API server: ${(err as Error).message}`);
  }
  const ref = pv.spec?.claimRef;
  if (!ref) throw processing(`found PV object ${pvName} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim`);
  if (ref.uid !== pvc.metadata.uid) throw processing(`found PV object ${pvName} but its pv.Spec.ClaimRef.UID ${ref.uid ?? ''} does not point to claim.UID ${pvc.metadata.uid ?? ''}`);
  const mode = pv.spec?.volumeMode ?? 'Filesystem';
  if (mounted.has(vol.name) && mode !== 'Filesystem') throw new Error(`volume ${vol.name} has volumeMode ${mode}, but is specified in volumeMounts`);
  return { pv, readOnly };
}

/** The claim volumes of the pod, resolved once per pod; throws upstream's FailedMount text when any cannot be. */
async function resolveClaims(pod: Pod, podDir: string, sources: VolumeSources): Promise<Map<string, ClaimVolume>> {
  const out = new Map<string, ClaimVolume>();
  const failed: { name: string; message: string }[] = [];
  const mounted = mountedVolumeNames(pod);
  for (const vol of pod.spec?.volumes ?? []) {
    if (!vol.persistentVolumeClaim && !vol.ephemeral) continue;
    const key = `${podDir}\0${vol.name}`;
    let cv = claimVolumes.get(key);
    if (!cv) {
      try {
        cv = await resolveClaim(pod, vol, sources, mounted);
      } catch (err) {
        failed.push({ name: vol.name, message: (err as Error).message });
        continue;
      }
      claimVolumes.set(key, cv);
    }
    out.set(vol.name, cv);
  }
  if (failed.length) {
    const names = failed.map((f) => f.name).sort().join(' ');
    throw new WholeMessageError(`Unable to attach or mount volumes: unmounted volumes=[${names}], unattached volumes=[], failed to process volumes=[${names}]: ${failed.map((f) => f.message).join('; ')}`);
  }
  return out;
}

/** The host path of a claim's volume (hostPath or local), as the kubelet's volume plugins set it up. */
async function setupClaimVolume(cv: ClaimVolume): Promise<PodVolume> {
  const spec = cv.pv.spec ?? {};
  if (spec.hostPath) {
    const type = spec.hostPath.type ?? '';
    if (type !== '') await checkHostPathType(spec.hostPath.path, type);
    return { hostPath: spec.hostPath.path, readOnly: cv.readOnly };
  }
  if (spec.local) {
    if (!(await statOrUndefined(spec.local.path))) {
      throw new WholeMessageError(`MountVolume.NewMounter initialization failed for volume "${cv.pv.metadata.name}" : path "${spec.local.path}" does not exist`);
    }
    return { hostPath: spec.local.path, readOnly: cv.readOnly };
  }
  const sourceKeys = ['capacity', 'accessModes', 'claimRef', 'persistentVolumeReclaimPolicy', 'storageClassName', 'mountOptions', 'volumeMode', 'nodeAffinity', 'volumeAttributesClassName'];
  const kind = Object.keys(spec).find((k) => !sourceKeys.includes(k) && (spec as Record<string, unknown>)[k] != null) ?? 'unknown';
  throw new Error(`Bosun does not support ${kind} volumes yet`);
}

// ---- setup ----

function volumeKind(v: Volume): string | undefined {
  for (const [k, val] of Object.entries(v)) if (k !== 'name' && val !== undefined && val !== null) return k;
  return undefined;
}

async function ensureDir(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
  const st = await fs.lstat(dir);
  if ((st.mode & 0o777) !== (mode & 0o777)) await fs.chmod(dir, mode);
}

async function setupOne(pod: Pod, podDir: string, vol: Volume, ctx: VolumeContext): Promise<PodVolume> {
  const kind = volumeKind(vol);
  if (!kind) throw new Error(`volume "${vol.name}" has no volume source`);
  if (unsupportedVolumeTypes.has(kind) || !(kind in pluginDirs || kind === 'hostPath')) {
    throw new Error(`Bosun does not support ${kind} volumes yet`);
  }
  const fsGroup = pod.spec?.securityContext?.fsGroup;
  const setPerms = fsGroup !== undefined ? (dir: string) => applyFsGroup(dir, fsGroup, true) : undefined;
  const volumesDir = path.join(podDir, 'volumes');

  if (vol.hostPath) {
    const type = vol.hostPath.type ?? '';
    if (type !== '') await checkHostPathType(vol.hostPath.path, type);
    return { hostPath: vol.hostPath.path, readOnly: false };
  }

  if (vol.emptyDir) {
    const medium = vol.emptyDir.medium ?? '';
    const dir = path.join(volumesDir, pluginDirs.emptyDir, vol.name);
    const ready = path.join(podDir, 'plugins', pluginDirs.emptyDir, vol.name, 'ready');
    const isReady = !!(await statOrUndefined(ready));
    if (medium === '') {
      if (!isReady || !(await statOrUndefined(dir))) {
        await ensureDir(dir, EMPTY_DIR_MODE);
        if (fsGroup !== undefined) await applyFsGroup(dir, fsGroup, false);
      }
    } else if (medium === 'Memory') {
      if (!isReady || !(await statOrUndefined(dir)) || !(await isTmpfsMount(dir))) {
        await ensureDir(dir, EMPTY_DIR_MODE);
        await mountTmpfs(dir, memoryVolumeSize(pod, vol.emptyDir.sizeLimit, ctx.nodeAllocatableMemory));
        if (fsGroup !== undefined) await applyFsGroup(dir, fsGroup, false);
      }
    } else if (medium.startsWith('HugePages')) {
      throw new Error(`Bosun does not support the ${medium} emptyDir medium yet`);
    } else {
      throw new Error(`unknown storage medium "${medium}"`);
    }
    await fs.mkdir(path.dirname(ready), { recursive: true, mode: 0o750 });
    await fs.writeFile(ready, '');
    return { hostPath: dir, readOnly: false, ...(medium ? { medium } : {}) };
  }

  if (vol.configMap) {
    const dir = path.join(volumesDir, pluginDirs.configMap, vol.name);
    const payload = await configMapPayload(pod, vol.configMap, vol.configMap.defaultMode ?? DEFAULT_FILE_MODE, ctx.sources);
    await ensureDir(dir, EMPTY_DIR_MODE);
    await atomicWrite(dir, payload, setPerms);
    return { hostPath: dir, readOnly: true };
  }

  if (vol.secret) {
    const dir = path.join(volumesDir, pluginDirs.secret, vol.name);
    const payload = await secretPayload(pod, vol.secret.secretName ?? '', vol.secret, vol.secret.defaultMode ?? DEFAULT_FILE_MODE, ctx.sources);
    await ensureDir(dir, EMPTY_DIR_MODE);
    await mountTmpfs(dir, memoryVolumeSize(pod, undefined, ctx.nodeAllocatableMemory));
    await atomicWrite(dir, payload, setPerms);
    return { hostPath: dir, readOnly: true };
  }

  if (vol.downwardAPI) {
    const dir = path.join(volumesDir, pluginDirs.downwardAPI, vol.name);
    const payload = downwardPayload(pod, vol.downwardAPI.items, vol.downwardAPI.defaultMode ?? DEFAULT_FILE_MODE, ctx);
    await ensureDir(dir, EMPTY_DIR_MODE);
    await atomicWrite(dir, payload, setPerms);
    return { hostPath: dir, readOnly: true };
  }

  if (vol.projected) {
    const dir = path.join(volumesDir, pluginDirs.projected, vol.name);
    const defaultMode = vol.projected.defaultMode ?? DEFAULT_FILE_MODE;
    const payload: Payload = new Map();
    const errs: string[] = [];
    for (const source of vol.projected.sources ?? []) {
      try {
        let part: Payload;
        if (source.configMap) {
          part = await configMapPayload(pod, source.configMap, defaultMode, ctx.sources);
        } else if (source.secret) {
          part = await secretPayload(pod, source.secret.name ?? '', source.secret, defaultMode, ctx.sources);
        } else if (source.downwardAPI) {
          part = downwardPayload(pod, source.downwardAPI.items, defaultMode, ctx);
        } else if (source.serviceAccountToken) {
          const tp = source.serviceAccountToken;
          const token = await projectedToken(pod, podDir, vol.name, tp, ctx.sources);
          part = new Map([[tp.path, { data: Buffer.from(token, 'utf8'), mode: fsGroup !== undefined ? 0o600 : defaultMode }]]);
        } else if (source.clusterTrustBundle) {
          throw new Error('Bosun does not support clusterTrustBundle projections yet');
        } else {
          continue;
        }
        for (const [k, v] of part) payload.set(k, v);
      } catch (err) {
        errs.push((err as Error).message);
      }
    }
    if (errs.length === 1) throw new Error(errs[0]);
    if (errs.length > 1) throw new Error(`[${errs.join(', ')}]`);
    await ensureDir(dir, EMPTY_DIR_MODE);
    await mountTmpfs(dir, memoryVolumeSize(pod, undefined, ctx.nodeAllocatableMemory));
    await atomicWrite(dir, payload, setPerms);
    return { hostPath: dir, readOnly: true };
  }

  throw new Error(`Bosun does not support ${kind} volumes yet`);
}

/**
 * Prepares every volume of the pod under `podDir` and returns, per volume name, the host path to
 * bind into containers. Idempotent and safe to call again to refresh configMap, secret,
 * downwardAPI and projected contents (written only when they changed; calls for one pod are
 * serialised per volume). Claims are resolved first: if one cannot be, nothing is set up and the
 * Error says so as upstream's FailedMount event does (see the file comment). Then every volume is
 * attempted; if any fails, throws one Error whose message lists each failure as the kubelet's
 * event does: `MountVolume.SetUp failed for volume "v" : configmap "x" not found` (a claim's
 * volume named by its PersistentVolume).
 */
export async function setupVolumes(pod: Pod, podDir: string, ctx: VolumeContext): Promise<Map<string, PodVolume>> {
  const out = new Map<string, PodVolume>();
  const claims = await resolveClaims(pod, podDir, ctx.sources);
  const failures: string[] = [];
  let firstErr: unknown;
  for (const vol of pod.spec?.volumes ?? []) {
    const claim = claims.get(vol.name);
    try {
      out.set(vol.name, claim ? await setupClaimVolume(claim) : await withLock(path.join(podDir, 'volumes', vol.name), () => setupOne(pod, podDir, vol, ctx)));
    } catch (err) {
      firstErr ??= err;
      // Upstream names a claim's volume by its PersistentVolume.
      const name = claim ? claim.pv.metadata.name : vol.name;
      failures.push(err instanceof WholeMessageError ? err.message : `MountVolume.SetUp failed for volume "${name}" : ${(err as Error).message}`);
    }
  }
  if (failures.length) throw new Error(failures.join('\n'), { cause: firstErr });
  return out;
}

// ---- container mounts ----

function within(base: string, p: string): boolean {
  return p === base || p.startsWith(base.endsWith('/') ? base : base + '/');
}

/**
 * Resolves `subPath` inside `volumePath`, creating missing directories with the volume's mode,
 * and answers the resolved real path; a symlink that leads out of the volume is refused.
 */
function safeSubpath(volumePath: string, subPath: string, mountName: string, containerName: string): string {
  const fail = () => new Error(`failed to prepare subPath for volumeMount "${mountName}" of container "${containerName}"`);
  let base: string;
  let perm: number;
  try {
    base = fsSync.realpathSync(volumePath);
    perm = fsSync.statSync(base).mode & 0o7777;
  } catch {
    throw fail();
  }
  let cur = base;
  for (const comp of subPath.split('/')) {
    if (comp === '' || comp === '.') continue;
    const next = path.join(cur, comp);
    const st = fsSync.lstatSync(next, { throwIfNoEntry: false });
    if (!st) {
      try {
        fsSync.mkdirSync(next, { mode: perm });
        fsSync.chmodSync(next, perm);
      } catch {
        throw new Error(`failed to create subPath directory for volumeMount "${mountName}" of container "${containerName}"`);
      }
      cur = next;
      continue;
    }
    if (st.isSymbolicLink()) {
      let resolved: string;
      try {
        resolved = fsSync.realpathSync(next);
      } catch {
        throw fail();
      }
      if (!within(base, resolved)) throw fail();
      cur = resolved;
    } else {
      cur = next;
    }
  }
  if (!within(base, cur)) throw fail();
  return cur;
}

const propagations: Record<string, CriMount['propagation']> = {
  None: 'PROPAGATION_PRIVATE',
  HostToContainer: 'PROPAGATION_HOST_TO_CONTAINER',
  Bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};

/**
 * The container's mounts in the CRI's shape, from its volumeMounts (upstream's makeMounts):
 * subPath and subPathExpr (expanded with `opts.env`) are validated (no absolute path, no `..`),
 * created when missing and resolved so that a symlink cannot lead out of the volume; read-only
 * when the mount or the volume says so. Throws upstream's messages
 * (`cannot find volume "v" to mount into container "c"`, ...).
 */
export function containerMounts(
  container: Container,
  volumes: Map<string, { hostPath: string; readOnly: boolean }>,
  opts: { env?: Array<{ key: string; value: string }> } = {},
): CriMount[] {
  const out: CriMount[] = [];
  for (const m of container.volumeMounts ?? []) {
    const vol = volumes.get(m.name);
    if (!vol) throw new Error(`cannot find volume "${m.name}" to mount into container "${container.name}"`);
    let subPath = m.subPath ?? '';
    if (m.subPathExpr) {
      const env = new Map((opts.env ?? []).map((e) => [e.key, e.value]));
      const missing = new Set<string>();
      subPath = expand(m.subPathExpr, (k) => {
        const v = env.get(k);
        if (!v) missing.add(k);
        return v ?? '';
      });
      if (missing.size) throw new Error(`missing value for ${[...missing].sort().join(', ')}`);
    }
    let hostPath = vol.hostPath;
    if (subPath) {
      if (path.isAbsolute(subPath)) throw new Error(`error SubPath \`${subPath}\` must not be an absolute path`);
      if (subPath.split('/').includes('..')) throw new Error(`unable to provision SubPath \`${subPath}\`: must not contain '..'`);
      hostPath = safeSubpath(vol.hostPath, subPath, m.name, container.name);
    }
    const propagation = m.mountPropagation ? propagations[m.mountPropagation] : 'PROPAGATION_PRIVATE';
    if (!propagation) throw new Error(`invalid MountPropagation mode: "${m.mountPropagation}"`);
    out.push({
      container_path: m.mountPath,
      host_path: hostPath,
      readonly: !!m.readOnly || vol.readOnly,
      selinux_relabel: false,
      propagation,
    });
  }
  return out;
}

// ---- teardown and usage ----

/**
 * Unmounts every mount under `podDir` (tmpfs volumes), deepest first, then removes the pod
 * directory. Throws, leaving the directory in place, if a mount cannot be removed. Missing
 * directory: nothing to do.
 */
export async function teardownVolumes(podDir: string): Promise<void> {
  for (const key of claimVolumes.keys()) if (key.startsWith(podDir + '\0')) claimVolumes.delete(key);
  let real: string;
  try {
    real = await fs.realpath(podDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const under = (mounts: MountEntry[]) =>
    [...new Set(mounts.map((m) => m.mountPoint).filter((mp) => within(real, mp)))].sort((a, b) => b.length - a.length);
  for (const mp of under(await readMounts())) {
    try {
      await execFileP('umount', [mp]);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`unmount of ${mp} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
    }
  }
  const left = under(await readMounts());
  if (left.length) throw new Error(`cannot remove ${podDir}: still mounted: ${left.join(', ')}`);
  await fs.rm(real, { recursive: true, force: true });
  for (const key of tokenCache.keys()) if (key.startsWith(podDir + '\0')) tokenCache.delete(key);
}

/**
 * Disk usage of `dir` in bytes (allocated blocks, as `du`), for emptyDir sizeLimit eviction.
 * Does not follow symlinks or cross into other file systems, counts hard links once, and stops
 * after `maxEntries` entries (default MAX_USAGE_WALK_ENTRIES), answering what it counted so far.
 * A missing directory counts 0.
 */
export async function dirUsageBytes(dir: string, opts: { maxEntries?: number } = {}): Promise<number> {
  const maxEntries = opts.maxEntries ?? MAX_USAGE_WALK_ENTRIES;
  let root: fsSync.Stats;
  try {
    root = await fs.lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let total = root.blocks * 512;
  let visited = 1;
  const seen = new Set<string>();
  const stack = root.isDirectory() ? [dir] : [];
  while (stack.length && visited < maxEntries) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = await fs.readdir(d);
    } catch {
      continue;
    }
    for (const name of names) {
      if (visited >= maxEntries) break;
      const p = path.join(d, name);
      let st: fsSync.Stats;
      try {
        st = await fs.lstat(p);
      } catch {
        continue;
      }
      visited++;
      if (st.dev !== root.dev) continue;
      if (st.nlink > 1 && !st.isDirectory()) {
        const id = `${st.ino}`;
        if (seen.has(id)) continue;
        seen.add(id);
      }
      total += st.blocks * 512;
      if (st.isDirectory()) stack.push(p);
    }
  }
  return total;
}
