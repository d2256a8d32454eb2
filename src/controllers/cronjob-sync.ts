/**
 * One CronJob's reconcile, as upstream's cronjob_controllerv2.go (`cleanupFinishedJobs` then
 * `syncCronJob`), over a small `JobControl` so that it can be driven with a fake in unit tests.
 *
 * - Jobs it controls: a finished one leaves status.active (SawCompletedJob) and a succeeded one
 *   moves status.lastSuccessfulTime; an unfinished one missing from the active list is reported
 *   (UnexpectedJob) unless a fresh read of the CronJob lists it; an active entry whose Job is gone
 *   (asked of the API server, not the cache) is dropped (MissingJob).
 * - Finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit are deleted oldest
 *   first (SuccessfulDelete), in the background.
 * - Then, unless the CronJob is being deleted, its time zone is unknown (UnknownTimeZone), it is
 *   suspended or its schedule does not parse (UnparseableSchedule / InvalidSchedule): the most
 *   recent activation not yet run starts a Job unless it is older than startingDeadlineSeconds
 *   (MissSchedule), was already started, or concurrencyPolicy Forbid sees an active Job
 *   (JobAlreadyActive); Replace deletes the active Jobs first. Over 100 missed activations warn
 *   (TooManyMissedTimes) and only the latest is run. A Job that already exists under the name is
 *   adopted into the active list when this CronJob controls it.
 * - The result says when to look again (just after the next activation) and whether the status
 *   changed; the caller writes status.
 *
 * A CronJob whose cached status misses a running Job it controls is re-read from the API server
 * (the cache may lag behind the status update that listed the Job); the rest of the sync works on
 * the fresh copy, and the caller writes that one back (upstream goes on with the fresh copy but
 * writes the earlier one, losing what was changed on the fresh one until the next sync).
 */
import type { CronJob, Job } from '../api/index.ts';
import { isAlreadyExists, isNotFound, isStatusError } from '../api/errors.ts';
import { knownTimeZone, parseSchedule, type Schedule } from '../api/groups/cron.ts';
import { formatRfc1123zUtc } from '../api/groups/cron-zone.ts';
import type { Recorder } from '../client/index.ts';
import {
  compareByStartTime,
  deleteFromActiveList,
  finishedCondition,
  inActiveList,
  inActiveListByName,
  isJobFinished,
  isJobSucceeded,
  jobFromTemplate,
  jobName,
  jobRef,
  mostRecentScheduleTime,
  nextScheduleTimeDuration,
} from './cronjob-utils.ts';

/** The API calls a sync makes (upstream's jobControl and cronJobControl). Errors are StatusErrors. */
export interface JobControl {
  getJob(namespace: string, name: string): Promise<Job>;
  createJob(namespace: string, job: Job): Promise<Job>;
  /** Deletes with background propagation (the Job's pods go too). */
  deleteJob(namespace: string, name: string): Promise<void>;
  getCronJob(namespace: string, name: string): Promise<CronJob>;
}

export interface SyncDeps {
  control: JobControl;
  recorder: Recorder;
  /** The current time, epoch ms. */
  now: number;
  /** The zone of schedules that name none (upstream: the controller manager's local zone). */
  localZone: string;
  log?: (msg: string) => void;
}

export interface SyncResult {
  /** The CronJob to write status from (the working copy, or the fresher one read mid-sync). */
  cronJob: CronJob;
  updateStatus: boolean;
  /** Ms until the next look; undefined: not until something changes. */
  requeueAfter?: number;
  error?: unknown;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Upstream's formatSchedule: the schedule with the CronJob's time zone as a TZ= prefix. A
 * schedule already holding TZ (allowed only on objects from before that was refused) is used as
 * it is, with an UnsupportedSchedule warning when a recorder is given.
 */
export function formatSchedule(cj: CronJob, recorder?: Recorder): string {
  const schedule = cj.spec?.schedule ?? '';
  if (schedule.includes('TZ')) {
    recorder?.event(cj, 'Warning', 'UnsupportedSchedule', `CRON_TZ or TZ used in schedule ${JSON.stringify(schedule)} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details`);
    return schedule;
  }
  const tz = cj.spec?.timeZone;
  if (tz !== undefined && tz !== null) return knownTimeZone(tz) ? `TZ=${tz} ${schedule}` : schedule;
  return schedule;
}

/** Deletes `job` and drops it from the active list; false (with a FailedDelete event) when the delete fails. */
async function deleteJob(cj: CronJob, job: Job, deps: SyncDeps): Promise<boolean> {
  try {
    await deps.control.deleteJob(job.metadata.namespace ?? '', job.metadata.name ?? '');
  } catch (err) {
    deps.recorder.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${errorText(err)}`);
    deps.log?.(`error deleting job ${job.metadata.namespace}/${job.metadata.name} of cronjob ${cj.metadata.namespace}/${cj.metadata.name}: ${errorText(err)}`);
    return false;
  }
  deleteFromActiveList(cj, job.metadata.uid);
  deps.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${job.metadata.name}`);
  return true;
}

/** Upstream's removeOldestJobs: keeps the newest `max` of `jobs`. True when one was deleted. */
async function removeOldestJobs(cj: CronJob, jobs: Job[], max: number, deps: SyncDeps): Promise<boolean> {
  const excess = jobs.length - max;
  if (excess <= 0) return false;
  const oldestFirst = [...jobs].sort(compareByStartTime);
  let updated = false;
  for (let i = 0; i < excess; i++) if (await deleteJob(cj, oldestFirst[i]!, deps)) updated = true;
  return updated;
}

/** Upstream's cleanupFinishedJobs: history limits. Mutates `cj` (a private copy); true when status changed. */
export async function cleanupFinishedJobs(cj: CronJob, jobs: readonly Job[], deps: SyncDeps): Promise<boolean> {
  const successLimit = cj.spec?.successfulJobsHistoryLimit;
  const failedLimit = cj.spec?.failedJobsHistoryLimit;
  const hasSuccessLimit = successLimit !== undefined && successLimit !== null;
  const hasFailedLimit = failedLimit !== undefined && failedLimit !== null;
  if (!hasSuccessLimit && !hasFailedLimit) return false;
  const succeeded: Job[] = [];
  const failed: Job[] = [];
  for (const job of jobs) {
    const c = finishedCondition(job);
    if (c === 'Complete') succeeded.push(job);
    else if (c === 'Failed') failed.push(job);
  }
  let updated = false;
  if (hasSuccessLimit && (await removeOldestJobs(cj, succeeded, successLimit, deps))) updated = true;
  if (hasFailedLimit && (await removeOldestJobs(cj, failed, failedLimit, deps))) updated = true;
  return updated;
}

/** Upstream's syncCronJob. `cronJob` is a private copy the sync may change; `jobs` those it controls. */
export async function syncCronJob(cronJob: CronJob, jobs: readonly Job[], deps: SyncDeps): Promise<SyncResult> {
  const { now, recorder, control } = deps;
  let cj = cronJob;
  let updateStatus = false;
  const result = (r: Omit<SyncResult, 'cronJob' | 'updateStatus'> = {}): SyncResult => ({ cronJob: cj, updateStatus, ...r });

  const children = new Set<string | undefined>();
  for (const job of jobs) {
    children.add(job.metadata.uid);
    const found = inActiveList(cj, job.metadata.uid);
    const finished = isJobFinished(job);
    if (!found && !finished) {
      let fresh: CronJob;
      try {
        fresh = await control.getCronJob(cj.metadata.namespace ?? '', cj.metadata.name ?? '');
      } catch (err) {
        return result({ error: err });
      }
      if (inActiveList(fresh, job.metadata.uid)) {
        cj = structuredClone(fresh);
        continue;
      }
      // Created by us just before a crash, seen before our status update, or made by hand.
      recorder.event(cj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${job.metadata.name}`);
    } else if (finished) {
      if (found) {
        deleteFromActiveList(cj, job.metadata.uid);
        recorder.event(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${job.metadata.name}, condition: ${finishedCondition(job)}`);
        updateStatus = true;
      }
      if (isJobSucceeded(job)) {
        const completion = job.status?.completionTime;
        const last = cj.status?.lastSuccessfulTime;
        if (completion && (!last || Date.parse(completion) > Date.parse(last))) {
          (cj.status ??= {}).lastSuccessfulTime = completion;
          updateStatus = true;
        }
      }
    }
  }

  // Active entries whose Job is gone: ask the API server (the cache may be behind).
  for (const ref of [...(cj.status?.active ?? [])]) {
    if (children.has(ref.uid)) continue;
    try {
      await control.getJob(ref.namespace ?? '', ref.name ?? '');
    } catch (err) {
      if (!isNotFound(err)) return result({ error: err });
      recorder.event(cj, 'Normal', 'MissingJob', `Active job went missing: ${ref.name}`);
      deleteFromActiveList(cj, ref.uid);
      updateStatus = true;
    }
  }

  if (cj.metadata.deletionTimestamp) return result();

  const tz = cj.spec?.timeZone;
  if (tz !== undefined && tz !== null && !knownTimeZone(tz)) {
    recorder.event(cj, 'Warning', 'UnknownTimeZone', `invalid timeZone: ${JSON.stringify(tz)}: unknown time zone ${tz}`);
    return result();
  }
  if (cj.spec?.suspend === true) return result();

  let schedule: Schedule;
  try {
    schedule = parseSchedule(formatSchedule(cj, recorder));
  } catch (err) {
    recorder.event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec?.schedule ?? '')} : ${errorText(err)}`);
    return result();
  }

  const due = mostRecentScheduleTime(cj, now, schedule, true, deps.localZone);
  if (due.mostRecent !== undefined && due.mostRecent <= now && due.missed === 'many') {
    recorder.event(cj, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
    deps.log?.(`cronjob ${cj.metadata.namespace}/${cj.metadata.name}: too many missed times`);
  }
  if (due.error) {
    recorder.event(cj, 'Warning', 'InvalidSchedule', `invalid schedule: ${cj.spec?.schedule} : ${due.error}`);
    return result();
  }
  const requeue = () => nextScheduleTimeDuration(cj, now, schedule, deps.localZone);
  const scheduledTime = due.mostRecent;
  if (scheduledTime === undefined || scheduledTime > now) return result({ requeueAfter: requeue() });

  const deadline = cj.spec?.startingDeadlineSeconds;
  if (deadline !== undefined && deadline !== null && scheduledTime + deadline * 1000 < now) {
    recorder.event(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${formatRfc1123zUtc(scheduledTime)}`);
    return result({ requeueAfter: requeue() });
  }
  const last = cj.status?.lastScheduleTime;
  if (inActiveListByName(cj, cj.metadata.namespace, jobName(cj, scheduledTime)) || (last !== undefined && Date.parse(last) === scheduledTime)) {
    return result({ requeueAfter: requeue() });
  }
  const policy = cj.spec?.concurrencyPolicy;
  if (policy === 'Forbid' && (cj.status?.active ?? []).length > 0) {
    recorder.event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
    return result({ requeueAfter: requeue() });
  }
  if (policy === 'Replace') {
    for (const ref of [...(cj.status?.active ?? [])]) {
      let job: Job;
      try {
        job = await control.getJob(ref.namespace ?? '', ref.name ?? '');
      } catch (err) {
        recorder.event(cj, 'Warning', 'FailedGet', `Get job: ${errorText(err)}`);
        return result({ error: err });
      }
      if (!(await deleteJob(cj, job, deps))) return result({ error: new Error(`could not replace job ${job.metadata.namespace}/${job.metadata.name}`) });
      updateStatus = true;
    }
  }

  const request = jobFromTemplate(cj, scheduledTime);
  let created: Job;
  let alreadyExisted = false;
  try {
    created = await control.createJob(cj.metadata.namespace ?? '', request);
  } catch (err) {
    if (isStatusError(err) && (err.status.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating')) {
      // Every create fails while the namespace goes away.
      return result({ error: err });
    }
    if (!isAlreadyExists(err)) {
      recorder.event(cj, 'Warning', 'FailedCreate', `Error creating job: ${errorText(err)}`);
      return result({ error: err });
    }
    // Made by an earlier sync whose status update was lost, or by someone else.
    alreadyExisted = true;
    try {
      created = await control.getJob(request.metadata.namespace ?? '', request.metadata.name ?? '');
    } catch (getErr) {
      return result({ error: getErr });
    }
    const ref = created.metadata.ownerReferences?.find((r) => r.controller);
    if (ref?.uid !== cj.metadata.uid) return result();
    if (inActiveList(cj, created.metadata.uid)) return result();
  }
  if (alreadyExisted) deps.log?.(`cronjob ${cj.metadata.namespace}/${cj.metadata.name}: job ${created.metadata.name} already exists`);
  else recorder.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);

  const status = (cj.status ??= {});
  status.active = [...(status.active ?? []), jobRef(created)];
  status.lastScheduleTime = new Date(scheduledTime).toISOString().replace(/\.\d{3}Z$/, 'Z');
  updateStatus = true;
  return result({ requeueAfter: requeue() });
}
