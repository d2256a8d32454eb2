/**
 * CronJob schedules: activation times as robfig/cron v3 computes them (its own TestNext and
 * TestActivation tables, in five-field form), time zones and both DST transitions, descriptors,
 * @every, and the Go time formats the controller writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSchedule, ScheduleError } from './cron.ts';
import { formatRfc1123zUtc, formatRfc3339, loadZone, localZoneName, zeroTimeMs } from './cron-zone.ts';

const iso = (d: Date | null): string | null => (d ? d.toISOString().replace('.000Z', 'Z') : null);

const nextCases: { name: string; from: string; spec: string; tz?: string; want: string | null }[] = [
  { name: 'every fifteen minutes', from: '2012-07-09T14:45:00Z', spec: '0/15 * * * *', want: '2012-07-09T15:00:00Z' },
  { name: 'every fifteen minutes, a minute before', from: '2012-07-09T14:59:00Z', spec: '0/15 * * * *', want: '2012-07-09T15:00:00Z' },
  { name: 'every fifteen minutes, a second before', from: '2012-07-09T14:59:59Z', spec: '0/15 * * * *', want: '2012-07-09T15:00:00Z' },
  { name: 'a fractional second rounds up to the next whole one', from: '2012-07-09T14:59:59.400Z', spec: '0/15 * * * *', want: '2012-07-09T15:00:00Z' },
  { name: 'strictly after: an activation time gives the next one', from: '2012-07-09T15:00:00Z', spec: '0/15 * * * *', want: '2012-07-09T15:15:00Z' },
  { name: 'a stepped range wraps around the hour', from: '2012-07-09T15:45:00Z', spec: '20-35/15 * * * *', want: '2012-07-09T16:20:00Z' },
  { name: 'wraps around the day', from: '2012-07-09T23:46:00Z', spec: '*/15 * * * *', want: '2012-07-10T00:00:00Z' },
  { name: 'a stepped range wraps around the day', from: '2012-07-09T23:45:00Z', spec: '20-35/15 * * * *', want: '2012-07-10T00:20:00Z' },
  { name: 'wraps around the month', from: '2012-07-09T23:35:00Z', spec: '0 0 9 Apr-Oct ?', want: '2012-08-09T00:00:00Z' },
  { name: 'day of month or day of week, both restricted', from: '2012-07-09T23:35:00Z', spec: '0 0 */5 Apr,Aug,Oct Mon', want: '2012-08-01T00:00:00Z' },
  { name: 'a Monday comes first in October', from: '2012-07-09T23:35:00Z', spec: '0 0 */5 Oct Mon', want: '2012-10-01T00:00:00Z' },
  { name: 'wraps around the year', from: '2012-07-09T23:35:00Z', spec: '0 0 * Feb Mon', want: '2013-02-04T00:00:00Z' },
  { name: 'a stepped weekday', from: '2012-07-09T23:35:00Z', spec: '0 0 * Feb Mon/2', want: '2013-02-01T00:00:00Z' },
  { name: 'wraps minute, hour, day, month and year at once', from: '2012-12-31T23:59:45Z', spec: '* * * * *', want: '2013-01-01T00:00:00Z' },
  { name: 'the next leap day', from: '2012-07-09T23:35:00Z', spec: '0 0 29 Feb ?', want: '2016-02-29T00:00:00Z' },
  { name: 'February 30th never comes', from: '2012-07-09T23:35:00Z', spec: '0 0 30 Feb ?', want: null },
  { name: 'April 31st never comes', from: '2012-07-09T23:35:00Z', spec: '0 0 31 Apr ?', want: null },
  // Spring forward in New York: 2012-03-11 02:00 EST becomes 03:00 EDT.
  { name: 'spring forward: a yearly 2:30 that day is next year’s', from: '2012-03-11T05:00:00Z', spec: 'TZ=America/New_York 30 2 11 Mar ?', want: '2013-03-11T06:30:00Z' },
  { name: 'spring forward: hourly at 1:00 EST', from: '2012-03-11T05:00:00Z', spec: 'TZ=America/New_York 0 * * * ?', want: '2012-03-11T06:00:00Z' },
  { name: 'spring forward: hourly skips 2:00 to 3:00 EDT', from: '2012-03-11T06:00:00Z', spec: 'TZ=America/New_York 0 * * * ?', want: '2012-03-11T07:00:00Z' },
  { name: 'spring forward: hourly goes on at 4:00 EDT', from: '2012-03-11T07:00:00Z', spec: 'TZ=America/New_York 0 * * * ?', want: '2012-03-11T08:00:00Z' },
  { name: 'spring forward: CRON_TZ works as TZ', from: '2012-03-11T06:00:00Z', spec: 'CRON_TZ=America/New_York 0 * * * ?', want: '2012-03-11T07:00:00Z' },
  { name: 'spring forward: nightly at 1:00 runs that night', from: '2012-03-11T05:00:00Z', spec: 'TZ=America/New_York 0 1 * * ?', want: '2012-03-11T06:00:00Z' },
  { name: 'spring forward: nightly at 1:00, the night after', from: '2012-03-11T06:00:00Z', spec: 'TZ=America/New_York 0 1 * * ?', want: '2012-03-12T05:00:00Z' },
  { name: 'spring forward: nightly at 2:00 is skipped that night', from: '2012-03-11T05:00:00Z', spec: 'TZ=America/New_York 0 2 * * ?', want: '2012-03-12T06:00:00Z' },
  // Fall back in New York: 2012-11-04 02:00 EDT becomes 01:00 EST.
  { name: 'fall back: a yearly 2:30 runs in EST', from: '2012-11-04T04:00:00Z', spec: 'TZ=America/New_York 30 2 04 Nov ?', want: '2012-11-04T07:30:00Z' },
  { name: 'fall back: 1:30 comes again in EST', from: '2012-11-04T05:45:00Z', spec: 'TZ=America/New_York 30 1 04 Nov ?', want: '2012-11-04T06:30:00Z' },
  { name: 'fall back: hourly at 1:00 EDT', from: '2012-11-04T04:00:00Z', spec: 'TZ=America/New_York 0 * * * ?', want: '2012-11-04T05:00:00Z' },
  { name: 'fall back: hourly at 1:00 again, in EST', from: '2012-11-04T05:00:00Z', spec: 'TZ=America/New_York 0 * * * ?', want: '2012-11-04T06:00:00Z' },
  { name: 'fall back: hourly at 2:00 EST', from: '2012-11-04T06:00:00Z', spec: 'TZ=America/New_York 0 * * * ?', want: '2012-11-04T07:00:00Z' },
  { name: 'fall back: nightly at 1:00 runs twice (first)', from: '2012-11-04T04:00:00Z', spec: 'TZ=America/New_York 0 1 * * ?', want: '2012-11-04T05:00:00Z' },
  { name: 'fall back: nightly at 1:00 runs twice (second)', from: '2012-11-04T05:00:00Z', spec: 'TZ=America/New_York 0 1 * * ?', want: '2012-11-04T06:00:00Z' },
  { name: 'fall back: nightly at 1:00, the night after', from: '2012-11-04T06:00:00Z', spec: 'TZ=America/New_York 0 1 * * ?', want: '2012-11-05T06:00:00Z' },
  { name: 'fall back: nightly at 2:00 runs once', from: '2012-11-04T04:00:00Z', spec: 'TZ=America/New_York 0 2 * * ?', want: '2012-11-04T07:00:00Z' },
  { name: 'fall back: nightly at 2:00, the night after', from: '2012-11-04T07:00:00Z', spec: 'TZ=America/New_York 0 2 * * ?', want: '2012-11-05T07:00:00Z' },
  { name: 'fall back: nightly at 3:00', from: '2012-11-04T04:00:00Z', spec: 'TZ=America/New_York 0 3 * * ?', want: '2012-11-04T08:00:00Z' },
  // A schedule without a zone runs in the zone `next` is given (Go's time.Local).
  { name: 'no zone in the spec: the given zone, hourly over fall back', from: '2012-11-04T05:00:00Z', spec: '0 * * * ?', tz: 'America/New_York', want: '2012-11-04T06:00:00Z' },
  { name: 'no zone in the spec: the given zone, nightly at 2:00', from: '2012-11-04T04:00:00Z', spec: '0 2 * * ?', tz: 'America/New_York', want: '2012-11-04T07:00:00Z' },
  { name: 'no zone in the spec: the given zone, monthly', from: '2012-11-04T04:00:00Z', spec: '0 3 3 * ?', tz: 'America/New_York', want: '2012-12-03T08:00:00Z' },
  { name: 'a TZ prefix wins over the given zone', from: '2012-07-09T00:00:00Z', spec: 'TZ=Europe/Paris 0 9 * * *', tz: 'America/New_York', want: '2012-07-09T07:00:00Z' },
  { name: 'TZ=Local is the given zone', from: '2012-07-09T00:00:00Z', spec: 'TZ=Local 0 9 * * *', tz: 'Asia/Tokyo', want: '2012-07-10T00:00:00Z' },
  { name: 'a half-hour zone', from: '2024-01-01T00:00:00Z', spec: 'TZ=Asia/Kolkata 0 9 * * *', want: '2024-01-01T03:30:00Z' },
  // Where DST makes midnight not exist (São Paulo, 2018), the day search lands on 1:00 and corrects.
  { name: 'a day whose midnight does not exist', from: '2018-10-17T09:00:00Z', spec: 'TZ=America/Sao_Paulo 0 9 10 * ?', want: '2018-11-10T11:00:00Z' },
  { name: 'the day after a midnight that repeats', from: '2018-02-14T10:00:00Z', spec: 'TZ=America/Sao_Paulo 0 9 22 * ?', want: '2018-02-22T12:00:00Z' },
  // Descriptors.
  { name: '@hourly', from: '2024-05-05T10:20:00Z', spec: '@hourly', want: '2024-05-05T11:00:00Z' },
  { name: '@daily', from: '2024-05-05T10:20:00Z', spec: '@daily', want: '2024-05-06T00:00:00Z' },
  { name: '@midnight', from: '2024-05-05T10:20:00Z', spec: '@midnight', want: '2024-05-06T00:00:00Z' },
  { name: '@weekly is Sunday midnight', from: '2024-05-06T10:20:00Z', spec: '@weekly', want: '2024-05-12T00:00:00Z' },
  { name: '@monthly', from: '2024-05-05T10:20:00Z', spec: '@monthly', want: '2024-06-01T00:00:00Z' },
  { name: '@yearly', from: '2024-05-05T10:20:00Z', spec: '@yearly', want: '2025-01-01T00:00:00Z' },
  { name: '@annually', from: '2024-05-05T10:20:00Z', spec: '@annually', want: '2025-01-01T00:00:00Z' },
  { name: '@daily in a zone', from: '2024-05-05T10:20:00Z', spec: 'TZ=Europe/Berlin @daily', want: '2024-05-05T22:00:00Z' },
  { name: '@every adds whole seconds after the current second', from: '2024-05-05T10:00:00.500Z', spec: '@every 1h30m', want: '2024-05-05T11:30:00Z' },
  { name: '@every under a second is a second', from: '2024-05-05T10:00:00Z', spec: '@every 10ms', want: '2024-05-05T10:00:01Z' },
  { name: '@every drops a fraction of a second', from: '2024-05-05T10:00:00Z', spec: '@every 1.9s', want: '2024-05-05T10:00:01Z' },
  { name: 'names and ranges', from: '2024-05-03T18:00:00Z', spec: '0 9 * jan-jun MON-FRI', want: '2024-05-06T09:00:00Z' },
  { name: 'a list', from: '2024-05-03T18:00:00Z', spec: '15,45 8,20 * * *', want: '2024-05-03T20:15:00Z' },
];

for (const c of nextCases) {
  test(`next: ${c.name}`, () => {
    const s = parseSchedule(c.spec);
    assert.equal(iso(s.next(new Date(c.from), c.tz ?? 'UTC')), c.want);
  });
}

// robfig's TestActivation: is `at` an activation time (the next one after a second before)?
const activationCases: { at: string; spec: string; want: boolean }[] = [
  { at: '2012-07-09T15:00:00Z', spec: '0/15 * * * *', want: true },
  { at: '2012-07-09T15:45:00Z', spec: '0/15 * * * *', want: true },
  { at: '2012-07-09T15:40:00Z', spec: '0/15 * * * *', want: false },
  { at: '2012-07-09T15:05:00Z', spec: '5/15 * * * *', want: true },
  { at: '2012-07-09T15:50:00Z', spec: '5/15 * * * *', want: true },
  { at: '2012-07-15T15:00:00Z', spec: '0/15 * * Jul *', want: true },
  { at: '2012-07-15T15:00:00Z', spec: '0/15 * * Jun *', want: false },
  { at: '2012-07-15T08:30:00Z', spec: '30 08 ? Jul Sun', want: true },
  { at: '2012-07-15T08:30:00Z', spec: '30 08 15 Jul ?', want: true },
  { at: '2012-07-16T08:30:00Z', spec: '30 08 ? Jul Sun', want: false },
  { at: '2012-07-16T08:30:00Z', spec: '30 08 15 Jul ?', want: false },
  { at: '2012-07-09T15:00:00Z', spec: '@hourly', want: true },
  { at: '2012-07-09T15:04:00Z', spec: '@hourly', want: false },
  { at: '2012-07-09T15:00:00Z', spec: '@daily', want: false },
  { at: '2012-07-09T00:00:00Z', spec: '@daily', want: true },
  { at: '2012-07-09T00:00:00Z', spec: '@weekly', want: false },
  { at: '2012-07-08T00:00:00Z', spec: '@weekly', want: true },
  { at: '2012-07-08T01:00:00Z', spec: '@weekly', want: false },
  { at: '2012-07-08T00:00:00Z', spec: '@monthly', want: false },
  { at: '2012-07-01T00:00:00Z', spec: '@monthly', want: true },
  // Both day fields restricted: either may match.
  { at: '2012-07-15T00:00:00Z', spec: '* * 1,15 * Sun', want: true },
  { at: '2012-06-15T00:00:00Z', spec: '* * 1,15 * Sun', want: true },
  { at: '2012-08-01T00:00:00Z', spec: '* * 1,15 * Sun', want: true },
  { at: '2012-07-15T00:00:00Z', spec: '* * */10 * Sun', want: true },
  // One of them a star: both must match.
  { at: '2012-07-15T00:00:00Z', spec: '* * * * Mon', want: false },
  { at: '2012-07-09T00:00:00Z', spec: '* * 1,15 * *', want: false },
  { at: '2012-07-15T00:00:00Z', spec: '* * 1,15 * *', want: true },
  { at: '2012-07-15T00:00:00Z', spec: '* * */2 * Sun', want: true },
  { at: '2012-07-16T00:00:00Z', spec: '* * */1 * Sun', want: false },
];

for (const c of activationCases) {
  test(`activation: ${c.spec} at ${c.at} is ${c.want}`, () => {
    const at = Date.parse(c.at);
    assert.equal(parseSchedule(c.spec).nextMs(at - 1000, 'UTC') === at, c.want);
  });
}

test('nextMs answers Go’s zero time when nothing matches within five years', () => {
  assert.equal(parseSchedule('59 23 31 2 *').nextMs(Date.parse('2024-01-01T00:00:00Z'), 'UTC'), zeroTimeMs);
  assert.equal(new Date(zeroTimeMs).toISOString(), '0001-01-01T00:00:00.000Z');
});

test('parse errors carry robfig’s message', () => {
  assert.throws(() => parseSchedule('* * *'), (e: unknown) => e instanceof ScheduleError && e.message === 'expected exactly 5 fields, found 3: [* * *]');
  assert.throws(() => parseSchedule('@every 5x'), { message: 'failed to parse duration @every 5x: time: unknown unit "x" in duration "5x"' });
  assert.throws(() => parseSchedule('TZ=Mars/Olympus * * * * *'), { message: 'provided bad location Mars/Olympus: unknown time zone Mars/Olympus' });
  assert.throws(() => parseSchedule('@every 9999999999h'), { message: 'failed to parse duration @every 9999999999h: time: invalid duration "9999999999h"' });
});

test('a schedule without a zone defaults to the process’s zone', () => {
  const s = parseSchedule('0 * * * *');
  const from = new Date('2024-05-05T10:20:00Z');
  // Whole-hour zones agree on the next hour; the process's default is one of them or not, so
  // only check it answers a time at a minute boundary after `from`.
  const got = s.next(from)!;
  assert.ok(got > from && got.getTime() % 60_000 === 0);
});

const formatCases: { name: string; ms: string; zone: string; want: string }[] = [
  { name: 'UTC ends in Z', ms: '2024-05-05T10:00:00Z', zone: 'UTC', want: '2024-05-05T10:00:00Z' },
  { name: 'a zone east of UTC', ms: '2024-05-05T10:00:00Z', zone: 'Europe/Paris', want: '2024-05-05T12:00:00+02:00' },
  { name: 'a zone west of UTC', ms: '2024-01-05T10:00:00Z', zone: 'America/New_York', want: '2024-01-05T05:00:00-05:00' },
  { name: 'a zone at offset zero ends in Z too', ms: '2024-01-05T10:00:00Z', zone: 'Europe/London', want: '2024-01-05T10:00:00Z' },
  { name: 'a half-hour offset', ms: '2024-01-05T10:00:00Z', zone: 'Asia/Kolkata', want: '2024-01-05T15:30:00+05:30' },
];
for (const c of formatCases) {
  test(`RFC 3339: ${c.name}`, () => assert.equal(formatRfc3339(Date.parse(c.ms), loadZone(c.zone)), c.want));
}

test('RFC 1123 with a numeric zone, in UTC', () => {
  assert.equal(formatRfc1123zUtc(Date.parse('2024-05-05T09:03:07Z')), 'Sun, 05 May 2024 09:03:07 +0000');
});

test('Go’s time.Date in a zone: normalised fields, and wall times DST skips or repeats', () => {
  const ny = loadZone('America/New_York');
  assert.equal(new Date(ny.date(2012, 13, 1, 0, 0, 0)).toISOString(), '2013-01-01T05:00:00.000Z');
  assert.equal(new Date(ny.date(2012, 3, 0, 0, 0, 0)).toISOString(), '2012-02-29T05:00:00.000Z');
  // 02:30 does not exist on 2012-03-11: Go's lookup lands on 06:30Z (01:30 EST).
  assert.equal(new Date(ny.date(2012, 3, 11, 2, 30, 0)).toISOString(), '2012-03-11T06:30:00.000Z');
  // 01:30 exists twice on 2012-11-04: Go's lookup keeps the first (EDT).
  assert.equal(new Date(ny.date(2012, 11, 4, 1, 30, 0)).toISOString(), '2012-11-04T05:30:00.000Z');
});

test("the process's zone is the one Intl resolves (read from /etc/localtime's link when that names UTC)", () => {
  assert.equal(localZoneName(), new Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
});
