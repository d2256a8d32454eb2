/**
 * The CronJob controller's pure helpers, as upstream's pkg/controller/cronjob/utils.go: the
 * active list, which scheduled time is due (`mostRecentScheduleTime`: the latest activation in
 * (lastScheduleTime or creation, now], counting missed ones roughly as upstream does, over 100
 * being "many"), when to look again (`nextScheduleTimeDuration`: the next activation plus 100 ms),
 * the Job a CronJob makes for a scheduled time (`<cronjob>-<minutes since the epoch>`, the
 * template's labels and annotations, the scheduled-timestamp annotation, a controller reference),
 * and job finished/succeeded tests and the oldest-first order history cleanup deletes in. Times
 * are epoch ms.
 */
import type { CronJob, Job, ObjectReference } from '../api/index.ts';
import { formatRfc3339, loadZone, zeroTimeMs } from '../api/groups/cron-zone.ts';
import type { Schedule } from '../api/groups/cron.ts';
import { newControllerRef } from './controller-utils.ts';

/** Upstream's nextScheduleDelta: requeues land this long after the activation, against clock skew. */
export const nextScheduleDeltaMs = 100;

/** Missed schedules above this count are "many" (upstream's arbitrary 100). */
export const tooManyMissed = 100;

/** Annotation with the scheduled time of a CronJob's Job (batchv1.CronJobScheduledTimestampAnnotation). */
export const scheduledTimestampAnnotation = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

/**
 * At most this many activations are walked when locating the most recent one (upstream has no
 * bound; its estimate makes it a handful, this only guards against a pathological schedule).
 */
const maxWalk = 10_000;

export type MissedSchedules = 'none' | 'few' | 'many';

export function inActiveList(cj: CronJob, uid: string | undefined): boolean {
  return (cj.status?.active ?? []).some((r) => r.uid === uid);
}

export function inActiveListByName(cj: CronJob, namespace: string | undefined, name: string): boolean {
  return (cj.status?.active ?? []).some((r) => r.name === name && r.namespace === namespace);
}

/** Drops the job with `uid` from the active list (in place on `cj`, a private copy). */
export function deleteFromActiveList(cj: CronJob, uid: string | undefined): void {
  const status = (cj.status ??= {});
  status.active = (status.active ?? []).filter((r) => r.uid !== uid);
}

const timeMs = (t: string | undefined | null): number | undefined => {
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
};

export interface MostRecent {
  /** lastScheduleTime, else the creation time (moved up to now − startingDeadlineSeconds when asked). */
  earliest: number;
  /** The latest activation in (earliest, now], if any. */
  mostRecent: number | undefined;
  missed: MissedSchedules;
  /** Set when two consecutive activations are less than a second apart (an impossible spec). */
  error?: string;
}

/**
 * Upstream's mostRecentScheduleTime. `localZone` is the zone of a schedule that names none.
 * With `includeDeadline`, activations older than startingDeadlineSeconds are not looked at.
 */
export function mostRecentScheduleTime(cj: CronJob, now: number, schedule: Schedule, includeDeadline: boolean, localZone: string): MostRecent {
  let earliest = timeMs(cj.status?.lastScheduleTime) ?? timeMs(cj.metadata.creationTimestamp) ?? zeroTimeMs;
  const deadline = cj.spec?.startingDeadlineSeconds;
  if (includeDeadline && deadline !== undefined && deadline !== null) {
    const schedulingDeadline = now - deadline * 1000;
    if (schedulingDeadline > earliest) earliest = schedulingDeadline;
  }
  const next = (t: number) => schedule.nextMs(t, localZone);
  const t1 = next(earliest);
  const t2 = next(t1);
  if (now < t1) return { earliest, mostRecent: undefined, missed: 'none' };
  if (now < t2) return { earliest, mostRecent: t1, missed: 'none' };
  // An impossible spec (February 31st) gives the zero time twice: no interval between them.
  const between = Math.sign(t2 - t1) * Math.round(Math.abs(t2 - t1) / 1000);
  if (between < 1) return { earliest, mostRecent: undefined, missed: 'none', error: 'time difference between two schedules is less than 1 second' };
  // Upstream's estimate: the missed count as if every interval were t2 − t1, then a walk from
  // one interval before the estimated last activation.
  const elapsed = Math.trunc((now - t1) / 1000);
  const missedCount = Math.trunc(elapsed / between) + 1;
  const potentialEarliest = t1 + (missedCount - 2) * between * 1000;
  let mostRecent: number | undefined;
  let steps = 0;
  for (let t = next(potentialEarliest); t <= now && t !== zeroTimeMs && steps < maxWalk; t = next(t), steps++) mostRecent = t;
  const missed: MissedSchedules = missedCount > tooManyMissed ? 'many' : missedCount > 0 ? 'few' : 'none';
  return { earliest, mostRecent, missed };
}

/** Upstream's nextScheduleTimeDuration: ms until the sync after the next activation (may be ≤ 0). */
export function nextScheduleTimeDuration(cj: CronJob, now: number, schedule: Schedule, localZone: string): number {
  const r = mostRecentScheduleTime(cj, now, schedule, false, localZone);
  let from: number;
  if (r.error) from = now;
  else if (r.mostRecent !== undefined) from = r.mostRecent;
  else from = r.missed === 'none' ? r.earliest : now;
  return schedule.nextMs(from, localZone) + nextScheduleDeltaMs - now;
}

/** Upstream's getJobName: the CronJob's name and the scheduled time in minutes since the epoch. */
export function jobName(cj: CronJob, scheduledTime: number): string {
  return `${cj.metadata.name}-${Math.trunc(scheduledTime / 60_000)}`;
}

/**
 * Upstream's getJobFromTemplate2: the Job for `scheduledTime`, with the template's labels and
 * annotations, the scheduled time (RFC 3339 in spec.timeZone, UTC without one) as an annotation,
 * and the CronJob as its controller.
 */
export function jobFromTemplate(cj: CronJob, scheduledTime: number): Job {
  const template = cj.spec?.jobTemplate;
  const annotations: Record<string, string> = { ...template?.metadata?.annotations };
  annotations[scheduledTimestampAnnotation] = formatRfc3339(scheduledTime, loadZone(cj.spec?.timeZone ?? ''));
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(cj, scheduledTime),
      namespace: cj.metadata.namespace,
      labels: { ...template?.metadata?.labels },
      annotations,
      ownerReferences: [newControllerRef(cj, 'CronJob', 'batch/v1')],
    },
    spec: structuredClone(template?.spec ?? ({} as NonNullable<Job['spec']>)),
  };
}

/** An ObjectReference to a Job, as upstream's reference.GetReference makes it. */
export function jobRef(job: Job): ObjectReference {
  const ref: ObjectReference = {
    kind: 'Job',
    namespace: job.metadata.namespace,
    name: job.metadata.name,
    uid: job.metadata.uid,
    apiVersion: 'batch/v1',
    resourceVersion: job.metadata.resourceVersion,
  };
  for (const k of Object.keys(ref) as (keyof ObjectReference)[]) if (ref[k] === undefined) delete ref[k];
  return ref;
}

/** The Complete or Failed condition type when the job has finished (jobutil.FinishedCondition). */
export function finishedCondition(job: Job): 'Complete' | 'Failed' | undefined {
  for (const c of job.status?.conditions ?? []) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  }
  return undefined;
}

export function isJobFinished(job: Job): boolean {
  return finishedCondition(job) !== undefined;
}

export function isJobSucceeded(job: Job): boolean {
  return (job.status?.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True');
}

/** Upstream's byJobStartTime: started before unstarted, earlier start first, then by name. */
export function compareByStartTime(a: Job, b: Job): number {
  const sa = timeMs(a.status?.startTime);
  const sb = timeMs(b.status?.startTime);
  if (sa === undefined && sb !== undefined) return 1;
  if (sa !== undefined && sb === undefined) return -1;
  if (sa === sb) return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : (a.metadata.name ?? '') > (b.metadata.name ?? '') ? 1 : 0;
  return sa! - sb!;
}
