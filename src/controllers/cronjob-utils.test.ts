/**
 * Which scheduled time is due and when to look again, as upstream's mostRecentScheduleTime and
 * nextScheduleTimeDuration (its TestMostRecentScheduleTime in spirit): regular, @every and
 * irregular schedules, missed ones counted few or many, the starting deadline, an impossible
 * schedule; and the oldest-first order of history cleanup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CronJob, Job } from '../api/index.ts';
import { parseSchedule } from '../api/groups/cron.ts';
import { compareByStartTime, mostRecentScheduleTime, nextScheduleTimeDuration, type MissedSchedules } from './cronjob-utils.ts';

const ms = (s: string) => Date.parse(s);
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString().replace('.000Z', 'Z'));

const cj = (schedule: string, o: { created: string; last?: string; deadline?: number }): CronJob => ({
  metadata: { name: 'c', namespace: 'ns', creationTimestamp: o.created },
  spec: { schedule, jobTemplate: {}, ...(o.deadline !== undefined ? { startingDeadlineSeconds: o.deadline } : {}) },
  status: o.last ? { lastScheduleTime: o.last } : {},
});

const cases: { name: string; schedule: string; created: string; last?: string; deadline?: number; now: string; want?: string; missed: MissedSchedules; error?: boolean; requeue?: string }[] = [
  { name: 'created just now: nothing due', schedule: '0 * * * *', created: '2024-05-06T10:00:00Z', now: '2024-05-06T10:00:00Z', missed: 'none', requeue: '2024-05-06T11:00:00.100Z' },
  { name: 'one activation since creation', schedule: '0 * * * *', created: '2024-05-06T09:30:00Z', now: '2024-05-06T10:00:05Z', want: '2024-05-06T10:00:00Z', missed: 'none', requeue: '2024-05-06T11:00:00.100Z' },
  { name: 'the last schedule time counts, not creation', schedule: '0 * * * *', created: '2024-05-01T00:00:00Z', last: '2024-05-06T09:00:00Z', now: '2024-05-06T10:00:05Z', want: '2024-05-06T10:00:00Z', missed: 'none' },
  { name: 'five missed hours: the latest, a few missed', schedule: '0 * * * *', created: '2024-05-06T04:30:00Z', now: '2024-05-06T10:20:00Z', want: '2024-05-06T10:00:00Z', missed: 'few', requeue: '2024-05-06T11:00:00.100Z' },
  { name: '@every counts from the last schedule', schedule: '@every 1h', created: '2024-05-06T07:00:30Z', now: '2024-05-06T10:20:00Z', want: '2024-05-06T10:00:30Z', missed: 'few' },
  { name: 'an irregular weekday schedule, same day', schedule: '30 6-16/4 * * 1-5', created: '2024-05-06T00:00:00Z', last: '2024-05-06T14:30:00Z', now: '2024-05-07T11:00:00Z', want: '2024-05-07T10:30:00Z', missed: 'few' },
  { name: 'an irregular weekday schedule over a weekend', schedule: '30 6-16/4 * * 1-5', created: '2024-05-01T00:00:00Z', last: '2024-05-03T14:30:00Z', now: '2024-05-06T11:00:00Z', want: '2024-05-06T10:30:00Z', missed: 'few' },
  { name: 'three hours of minutes: many missed', schedule: '* * * * *', created: '2024-05-06T07:00:00Z', now: '2024-05-06T10:00:30Z', want: '2024-05-06T10:00:00Z', missed: 'many' },
  { name: 'the deadline moves the earliest time up', schedule: '* * * * *', created: '2024-05-06T07:00:00Z', deadline: 600, now: '2024-05-06T10:00:30Z', want: '2024-05-06T10:00:00Z', missed: 'few' },
  { name: 'an impossible date is an error', schedule: '59 23 31 2 *', created: '2024-05-06T07:00:00Z', now: '2024-05-06T10:00:30Z', missed: 'none', error: true },
];

for (const c of cases) {
  test(`most recent: ${c.name}`, () => {
    const s = parseSchedule(c.schedule);
    const o = cj(c.schedule, c);
    const r = mostRecentScheduleTime(o, ms(c.now), s, true, 'UTC');
    assert.equal(iso(r.mostRecent), c.want);
    assert.equal(r.missed, c.missed);
    assert.equal(r.error !== undefined, c.error ?? false);
    if (c.requeue) assert.equal(new Date(ms(c.now) + nextScheduleTimeDuration(o, ms(c.now), s, 'UTC')).toISOString(), c.requeue);
  });
}

test('the requeue after a schedule whose activations were all missed long ago aims at the next one from now', () => {
  const s = parseSchedule('0 * * * *');
  const o = cj('0 * * * *', { created: '2024-05-06T04:30:00Z', last: '2024-05-06T05:00:00Z' });
  const now = ms('2024-05-06T10:20:00Z');
  assert.equal(new Date(now + nextScheduleTimeDuration(o, now, s, 'UTC')).toISOString(), '2024-05-06T11:00:00.100Z');
});

test('history is deleted oldest first: started before unstarted, then by start, then by name', () => {
  const j = (name: string, start?: string): Job => ({ metadata: { name }, status: start ? { startTime: start } : {} });
  const jobs = [j('d'), j('c', '2024-01-02T00:00:00Z'), j('b', '2024-01-01T00:00:00Z'), j('a', '2024-01-02T00:00:00Z'), j('e')];
  assert.deepEqual(jobs.sort(compareByStartTime).map((x) => x.metadata.name), ['b', 'a', 'c', 'd', 'e']);
});
