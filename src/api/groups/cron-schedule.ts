/**
 * Parsed cron schedules and their activation times, as robfig/cron v3 computes them (the library
 * the CronJob controller uses): a `SpecSchedule` (the five standard fields and the @yearly …
 * @hourly descriptors) walks month, day, hour, minute and second forward in the schedule's zone
 * until every field matches, with robfig's day rule (day of month OR day of week when both are
 * restricted, AND when either is `*`), its correction for days whose midnight a DST change skips,
 * and its five-year search limit; an `EverySchedule` (@every) adds a fixed delay. Pure.
 */
import { loadZone, localZoneName, zeroTimeMs, type Zone } from './cron-zone.ts';

export interface Schedule {
  /**
   * The first activation strictly after `after` (robfig's Schedule.Next), or null when none
   * falls within five years. `timeZone` is the zone of a schedule that names none (Go's
   * time.Local): by default the process's zone.
   */
  next(after: Date, timeZone?: string): Date | null;
  /** `next` on epoch ms; Go's zero time (`zeroTimeMs`) when there is none. */
  nextMs(afterMs: number, timeZone?: string): number;
}

/** Which values of each field match (index = value), and whether day of month / week held a `*`. */
export interface SpecFields {
  second: Uint8Array;
  minute: Uint8Array;
  hour: Uint8Array;
  dom: Uint8Array;
  month: Uint8Array;
  dow: Uint8Array;
  domStar: boolean;
  dowStar: boolean;
}

const mod = (a: number, b: number): number => ((a % b) + b) % b;
const hourMs = 3_600_000;

function dayMatches(s: SpecFields, day: number, weekday: number): boolean {
  const domMatch = s.dom[day] === 1;
  const dowMatch = s.dow[weekday] === 1;
  return s.domStar || s.dowStar ? domMatch && dowMatch : domMatch || dowMatch;
}

/** robfig/cron's SpecSchedule: `location` undefined is Go's time.Local (the zone passed to `next`). */
export class SpecSchedule implements Schedule {
  readonly fields: SpecFields;
  readonly location: string | undefined;

  constructor(fields: SpecFields, location?: string) {
    this.fields = fields;
    this.location = location;
  }

  next(after: Date, timeZone?: string): Date | null {
    const ms = this.nextMs(after.getTime(), timeZone);
    return ms === zeroTimeMs ? null : new Date(ms);
  }

  nextMs(afterMs: number, timeZone?: string): number {
    return specNext(this.fields, loadZone(this.location ?? timeZone ?? localZoneName()), afterMs);
  }
}

/** SpecSchedule.Next, step for step (comments name the Go loops). */
function specNext(s: SpecFields, loc: Zone, from: number): number {
  // The upcoming whole second.
  let t = from - mod(from, 1000) + 1000;
  let added = false;
  let w = loc.wall(t);
  const yearLimit = w.year + 5;
  wrap: for (;;) {
    w = loc.wall(t);
    if (w.year > yearLimit) return zeroTimeMs;
    // month
    while (s.month[w.month] !== 1) {
      if (!added) {
        added = true;
        t = loc.date(w.year, w.month, 1, 0, 0, 0);
        w = loc.wall(t);
      }
      t = loc.date(w.year, w.month + 1, w.day, w.hour, w.minute, w.second);
      w = loc.wall(t);
      if (w.month === 1) continue wrap;
    }
    // day (robfig's note: where DST skips midnight, the day starts at 1:00; put it back on 0:00)
    while (!dayMatches(s, w.day, w.weekday)) {
      if (!added) {
        added = true;
        t = loc.date(w.year, w.month, w.day, 0, 0, 0);
        w = loc.wall(t);
      }
      t = loc.date(w.year, w.month, w.day + 1, w.hour, w.minute, w.second);
      w = loc.wall(t);
      if (w.hour !== 0) {
        t += w.hour > 12 ? (24 - w.hour) * hourMs : -w.hour * hourMs;
        w = loc.wall(t);
      }
      if (w.day === 1) continue wrap;
    }
    // hour
    while (s.hour[w.hour] !== 1) {
      if (!added) {
        added = true;
        t = loc.date(w.year, w.month, w.day, w.hour, 0, 0);
      }
      t += hourMs;
      w = loc.wall(t);
      if (w.hour === 0) continue wrap;
    }
    // minute
    while (s.minute[w.minute] !== 1) {
      if (!added) {
        added = true;
        t -= mod(t, 60_000);
      }
      t += 60_000;
      w = loc.wall(t);
      if (w.minute === 0) continue wrap;
    }
    // second
    while (s.second[w.second] !== 1) {
      if (!added) {
        added = true;
        t -= mod(t, 1000);
      }
      t += 1000;
      w = loc.wall(t);
      if (w.second === 0) continue wrap;
    }
    return t;
  }
}

/** robfig/cron's ConstantDelaySchedule (@every): whole seconds, at least one. */
export class EverySchedule implements Schedule {
  readonly delayMs: number;

  /** `delayNs`: the parsed duration in nanoseconds. */
  constructor(delayNs: number) {
    const ns = delayNs < 1e9 ? 1e9 : delayNs;
    this.delayMs = Math.trunc(ns / 1e9) * 1000;
  }

  next(after: Date): Date | null {
    return new Date(this.nextMs(after.getTime()));
  }

  nextMs(afterMs: number): number {
    return afterMs - mod(afterMs, 1000) + this.delayMs;
  }
}
