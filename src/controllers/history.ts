/**
 * ControllerRevision history shared by the StatefulSet and DaemonSet controllers, as upstream's
 * pkg/controller/history: a revision is a snapshot (`data`, the patch that restores the parent's
 * pod template) numbered by `revision`, owned by its parent, and named
 * `<parent>-<hash>` where the hash (label `controller.kubernetes.io/hash`) is FNV-32a of the data
 * and, when non-zero, the parent's collision count, encoded with upstream's safe alphabet. Two
 * revisions are equal when their data are. Creating a revision whose name is taken by
 * different data bumps the collision count and tries the next name, as upstream's
 * CreateControllerRevision does; the caller persists the new count in the parent's status.
 */
import type { ApiObject, ControllerRevision, LabelSelector } from '../api/index.ts';
import { isAlreadyExists } from '../api/errors.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';
import type { ResourceClient } from '../client/typed.ts';
import { controllerRef, fnv32a, newControllerRef, safeEncode, stableJson } from './controller-utils.ts';
import { compareStrings } from '../util/compare.ts';

/** The label holding a revision's hash (upstream's ControllerRevisionHashLabel). */
export const controllerRevisionHashLabel = 'controller.kubernetes.io/hash';

/** Upstream truncates the prefix so the name stays a valid DNS subdomain (253 - 1 - 10 digits of hash, rounded). */
const maxPrefix = 223;

/** The name of a parent's revision with this hash. */
export function controllerRevisionName(prefix: string, hash: string): string {
  return `${prefix.length > maxPrefix ? prefix.slice(0, maxPrefix) : prefix}-${hash}`;
}

/** The hash of revision data and the collision count (0 or absent: not mixed in). */
export function hashControllerRevision(data: unknown, collisionCount?: number): string {
  let text = stableJson(data ?? null);
  // Upstream writes the count as 4 little-endian bytes after the data; the character form is
  // Bosun's (the hashes need only be stable and differ per count, not match upstream's).
  if (collisionCount) text += `#${collisionCount >>> 0}`;
  return safeEncode(String(fnv32a(text)));
}

/**
 * A new (unsaved) revision of `parent` holding `data`: labels are the template's plus the hash
 * label, the controller reference is the parent (`parentKind`: apiVersion and kind).
 */
export function newControllerRevision(
  parent: ApiObject,
  parentKind: { apiVersion: string; kind: string },
  templateLabels: Record<string, string> | undefined,
  data: unknown,
  revision: number,
  collisionCount?: number,
): ControllerRevision {
  const hash = hashControllerRevision(data, collisionCount);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: controllerRevisionName(parent.metadata.name ?? '', hash),
      namespace: parent.metadata.namespace,
      labels: { ...(templateLabels ?? {}), [controllerRevisionHashLabel]: hash },
      ownerReferences: [newControllerRef(parent, parentKind.kind, parentKind.apiVersion)],
    },
    data: data as ControllerRevision['data'],
    revision,
  };
}

/**
 * Same data. Upstream compares the hash labels too, but only when both parse as integers, which
 * safe-encoded hashes never do: in effect the data alone decides, so a revision made before a
 * collision bumped the count still equals one made after it.
 */
export function equalRevision(a: ControllerRevision | undefined, b: ControllerRevision | undefined): boolean {
  if (!a || !b) return a === b;
  return stableJson(a.data ?? null) === stableJson(b.data ?? null);
}

/** The revisions of `revisions` equal to `needle`. */
export function findEqualRevisions(revisions: readonly ControllerRevision[], needle: ControllerRevision): ControllerRevision[] {
  return revisions.filter((r) => equalRevision(r, needle));
}

const created = (r: ControllerRevision) => r.metadata.creationTimestamp ?? '';

/** Sorted as upstream's byRevision: revision number, then creation time, then name. */
export function sortRevisions(revisions: ControllerRevision[]): ControllerRevision[] {
  return revisions.sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0) || compareStrings(created(a), created(b)) || compareStrings(a.metadata.name ?? '', b.metadata.name ?? ''));
}

/** The highest revision number (0 for none). */
export function maxRevision(revisions: readonly ControllerRevision[]): number {
  let max = 0;
  for (const r of revisions) max = Math.max(max, r.revision ?? 0);
  return max;
}

/**
 * The revisions a parent may use, from the namespace's revisions: those matching its selector
 * whose controller is the parent, or that have no controller (to be adopted), as upstream's
 * ListControllerRevisions.
 */
export function revisionsOf(parent: ApiObject, selector: LabelSelector | undefined, revisions: Iterable<ControllerRevision>): ControllerRevision[] {
  const out: ControllerRevision[] = [];
  const matcher = labelSelectorFromObject(selector);
  for (const r of revisions) {
    if (r.metadata.namespace !== parent.metadata.namespace) continue;
    if (!matcher.matches(r.metadata.labels ?? {})) continue;
    const ref = controllerRef(r);
    if (!ref || ref.uid === parent.metadata.uid) out.push(r);
  }
  return out;
}

/**
 * Creates `revision` (made by newControllerRevision with `collisionCount.value`): when its name
 * is taken by an equal revision that one is returned; by a different one, the count is bumped and
 * the revision re-hashed and renamed, until it is created.
 */
export async function createControllerRevision(
  client: ResourceClient<ControllerRevision>,
  revision: ControllerRevision,
  collisionCount: { value: number },
): Promise<ControllerRevision> {
  const namespace = revision.metadata.namespace;
  const prefix = parentName(revision);
  for (let attempt = 0; ; attempt++) {
    const hash = hashControllerRevision(revision.data, collisionCount.value);
    const candidate: ControllerRevision = {
      ...revision,
      metadata: { ...revision.metadata, name: controllerRevisionName(prefix, hash), labels: { ...(revision.metadata.labels ?? {}), [controllerRevisionHashLabel]: hash } },
    };
    try {
      return await client.create(candidate, { namespace });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await client.get(candidate.metadata.name!, { namespace });
      if (equalRevision(existing, candidate)) return existing;
      // Bounded: the count is 32-bit; a thousand collisions in a row means something else is wrong.
      if (attempt >= 1000) throw err;
      collisionCount.value = (collisionCount.value + 1) >>> 0;
    }
  }
}

/** The parent's name a revision was named after (its controller reference, else the name without the hash). */
function parentName(revision: ControllerRevision): string {
  const ref = controllerRef(revision);
  if (ref?.name) return ref.name;
  const name = revision.metadata.name ?? '';
  const dash = name.lastIndexOf('-');
  return dash > 0 ? name.slice(0, dash) : name;
}
