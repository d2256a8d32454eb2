/**
 * The Job controller's writes to pods, as upstream's RealPodControl and
 * PodControllerRefManager do them for Jobs:
 *
 * - claim: the pods a Job manages are those it controls (found through the owner-uid index)
 *   whose labels still match its selector, plus orphans in its namespace that match, adopted with
 *   the controller reference and the tracking finalizer once a live read confirms the Job is
 *   not being deleted; controlled pods that stopped matching are released.
 * - create: a pod from the template with the tracking finalizer and the controller reference,
 *   `<job>-` generated names; for an Indexed Job the index annotation and label, the
 *   JOB_COMPLETION_INDEX env var (from the label), hostname `<job>-<index>`, name
 *   `<job>-<index>-xxxxx`, and with backoffLimitPerIndex the index's failure counts. Events
 *   SuccessfulCreate "Created pod: x" / FailedCreate "Error creating: ...".
 * - delete: SuccessfulDelete "Deleted pod: x" / FailedDelete "Error deleting: ..." (a pod
 *   already gone is no event and no error).
 * - remove the tracking finalizer: a strategic `$deleteFromPrimitiveList` patch.
 * Writes run at most `podWriteConcurrency` at a time.
 */
import type { Container, Job, Pod, PodTemplateSpec } from '../api/index.ts';
import { isConflict, isNotFound, StatusError } from '../api/errors.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';
import { IndexControllerUid, orphanIndexValue } from '../client/store.ts';
import { controllerRef, isPodReady, keyOf, newControllerRef } from './controller-utils.ts';
import { podGenerateNameWithIndex, replacementFailureCounts } from './job-indexes.ts';
import { matchPodFailurePolicy } from './job-policy.ts';
import type { JobDeps } from './job-sync.ts';
import {
  completionIndexAnnotation,
  completionIndexEnvName,
  errorMessage,
  forEachLimit,
  hasTrackingFinalizer,
  indexFailureCountAnnotation,
  indexIgnoredFailureCountAnnotation,
  jobTrackingFinalizer,
} from './job-util.ts';

/** Pod writes one sync has in flight at once. */
export const podWriteConcurrency = 64;

const jobApiVersion = 'batch/v1';

// ---- claim -------------------------------------------------------------------------------------

/**
 * The pods `job` manages (see the file comment). Cached pods are returned as they are; an
 * adopted pod is returned with the finalizer it was given.
 */
export async function claimPods(d: JobDeps, job: Job): Promise<Pod[]> {
  const uid = job.metadata.uid!;
  const namespace = job.metadata.namespace ?? '';
  const selector = labelSelectorFromObject(job.spec?.selector ?? null);
  const deleting = !!job.metadata.deletionTimestamp;
  const out: Pod[] = [];
  for (const pod of d.pods.store.byIndex(IndexControllerUid, uid)) {
    if (deleting || selector.matches(pod.metadata.labels)) out.push(pod);
    else await release(d, pod, uid);
  }
  if (deleting) return out;
  const orphans = d.pods.store.byIndex(IndexControllerUid, orphanIndexValue(namespace)).filter((p) => !p.metadata.deletionTimestamp && selector.matches(p.metadata.labels));
  if (!orphans.length) return out;
  // Adopt only what a live read says may still be adopted (upstream RecheckDeletionTimestamp).
  let fresh: Job;
  try {
    fresh = await d.cs.jobs.get(job.metadata.name!, { namespace });
  } catch (err) {
    if (isNotFound(err)) return out;
    throw err;
  }
  if (fresh.metadata.uid !== uid || fresh.metadata.deletionTimestamp) return out;
  for (const pod of orphans) {
    try {
      await d.cs.pods.patch(
        pod.metadata.name!,
        { metadata: { ownerReferences: [newControllerRef(job, 'Job', jobApiVersion)], uid: pod.metadata.uid, finalizers: [jobTrackingFinalizer] } },
        { type: 'strategic', namespace },
      );
      out.push(hasTrackingFinalizer(pod) ? pod : { ...pod, metadata: { ...pod.metadata, finalizers: [...(pod.metadata.finalizers ?? []), jobTrackingFinalizer] } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
  return out;
}

async function release(d: JobDeps, pod: Pod, uid: string): Promise<void> {
  const refs = (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
  try {
    await d.cs.pods.patch(pod.metadata.name!, { metadata: { ownerReferences: refs.length ? refs : null, uid: pod.metadata.uid } }, { type: 'merge', namespace: pod.metadata.namespace });
  } catch (err) {
    if (!isNotFound(err) && !isConflict(err)) throw err;
  }
}

// ---- create ------------------------------------------------------------------------------------

/** The template every pod of this sync starts from: finalizer added, and for Indexed Jobs the index env var. */
export function podTemplateFor(job: Job): PodTemplateSpec {
  const template = structuredClone(job.spec?.template ?? {});
  const meta = (template.metadata ??= {});
  if (!meta.finalizers?.includes(jobTrackingFinalizer)) meta.finalizers = [...(meta.finalizers ?? []), jobTrackingFinalizer];
  if (job.spec?.completionMode === 'Indexed' && template.spec) {
    const add = (c: Container) => {
      if (c.env?.some((e) => e.name === completionIndexEnvName)) return;
      c.env = [...(c.env ?? []), { name: completionIndexEnvName, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: `metadata.labels['${completionIndexAnnotation}']` } } }];
    };
    for (const c of template.spec.initContainers ?? []) add(c);
    for (const c of template.spec.containers ?? []) add(c);
  }
  return template;
}

export interface CreatePodOptions {
  /** The completion index, for Indexed Jobs. */
  index?: number;
  /** With backoffLimitPerIndex: the failed pod of the index this pod replaces, if any. */
  replaces?: Pod;
}

/** Creates one pod of `job` from `template` (from podTemplateFor). Throws what the create threw. */
export async function createPod(d: JobDeps, job: Job, template: PodTemplateSpec, opts: CreatePodOptions = {}): Promise<void> {
  const name = job.metadata.name!;
  const namespace = job.metadata.namespace!;
  const meta = template.metadata ?? {};
  const labels = { ...meta.labels };
  const annotations = { ...meta.annotations };
  let spec = template.spec ?? { containers: [] };
  let generateName = `${name}-`;
  if (opts.index !== undefined) {
    const ix = String(opts.index);
    annotations[completionIndexAnnotation] = ix;
    labels[completionIndexAnnotation] = ix;
    spec = { ...spec, hostname: `${name}-${ix}` };
    generateName = podGenerateNameWithIndex(name, opts.index);
    if (job.spec?.backoffLimitPerIndex !== undefined && job.spec.backoffLimitPerIndex !== null) {
      const countFailed = opts.replaces ? matchPodFailurePolicy(job.spec.podFailurePolicy, opts.replaces).countFailed : true;
      const counts = replacementFailureCounts(opts.replaces, countFailed);
      annotations[indexFailureCountAnnotation] = String(counts.failed);
      if (counts.ignored > 0) annotations[indexIgnoredFailureCountAnnotation] = String(counts.ignored);
    }
  }
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName,
      namespace,
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      finalizers: meta.finalizers,
      ownerReferences: [newControllerRef(job, 'Job', jobApiVersion)],
    },
    spec,
  };
  try {
    const created = await d.cs.pods.create(pod, { namespace });
    d.recorder.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
  } catch (err) {
    if (!isNamespaceTerminating(err)) d.recorder.event(job, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(err)}`);
    throw err;
  }
}

/** The create was refused because the namespace is being deleted (nothing more will be created). */
export function isNamespaceTerminating(err: unknown): boolean {
  return err instanceof StatusError && !!err.status.details?.causes?.some((c) => c.reason === 'NamespaceTerminating');
}

// ---- delete ------------------------------------------------------------------------------------

export interface DeleteResult {
  deleted: number;
  deletedReady: number;
  error?: unknown;
}

/**
 * Deletes `pods` of `job`. With `withExpectations` (manageJob's deletions), each pod's tracking
 * finalizer is removed first and each failed delete is reported to the expectations under
 * `key`; a pod already gone counts as deleted. Returns how many were deleted (and of them
 * ready) and the first error.
 */
export async function deletePods(d: JobDeps, job: Job, pods: readonly Pod[], opts: { key?: string; withExpectations?: boolean } = {}): Promise<DeleteResult> {
  const r: DeleteResult = { deleted: 0, deletedReady: 0 };
  const fail = (pod: Pod, err: unknown) => {
    if (opts.withExpectations && opts.key) d.expectations.deletionObserved(opts.key, keyOf(pod));
    if (isNotFound(err)) return true;
    r.error ??= err;
    return false;
  };
  await forEachLimit(pods, podWriteConcurrency, async (pod) => {
    if (opts.withExpectations && hasTrackingFinalizer(pod)) {
      try {
        await removeTrackingFinalizer(d, pod);
      } catch (err) {
        if (!fail(pod, err)) return;
      }
    }
    try {
      await d.cs.pods.delete(pod.metadata.name!, { namespace: pod.metadata.namespace });
      d.recorder.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
    } catch (err) {
      if (!isNotFound(err)) d.recorder.event(job, 'Warning', 'FailedDelete', `Error deleting: ${errorMessage(err)}`);
      if (!fail(pod, err)) return;
    }
    r.deleted++;
    if (isPodReady(pod)) r.deletedReady++;
  });
  return r;
}

/** Removes the tracking finalizer (nothing when the pod has none). Throws what the patch threw. */
export async function removeTrackingFinalizer(d: Pick<JobDeps, 'cs'>, pod: Pod): Promise<void> {
  if (!hasTrackingFinalizer(pod)) return;
  await d.cs.pods.patch(pod.metadata.name!, { metadata: { '$deleteFromPrimitiveList/finalizers': [jobTrackingFinalizer] } }, { type: 'strategic', namespace: pod.metadata.namespace });
}
