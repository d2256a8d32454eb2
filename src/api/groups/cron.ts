/**
 * CronJob schedules as upstream parses them (robfig/cron v3's standard parser: five fields —
 * minute, hour, day of month, month, day of week — with ranges, steps, lists and month/weekday
 * names, plus the @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly/@every descriptors
 * and an optional TZ=/CRON_TZ= prefix), and IANA time zone names. `parseSchedule` returns the
 * schedule (cron-schedule.ts computes its activation times) or throws a `ScheduleError` with the
 * parser's error text; `scheduleError` returns that text, or '' for a valid schedule. Pure.
 */
import { EverySchedule, SpecSchedule, type Schedule, type SpecFields } from './cron-schedule.ts';

export type { Schedule } from './cron-schedule.ts';

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const minutes: Bounds = { min: 0, max: 59 };
const hours: Bounds = { min: 0, max: 23 };
const dom: Bounds = { min: 1, max: 31 };
const months: Bounds = {
  min: 1,
  max: 12,
  names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 },
};
const dow: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

/** A schedule the parser refuses; the message is robfig/cron's. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** Go's strconv.Atoi, failing as it does. */
function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new ScheduleError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || Math.abs(n) > 2 ** 63) {
    throw new ScheduleError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  }
  if (n < 0) throw new ScheduleError(`negative number (${n}) not allowed: ${s}`);
  return n;
}

function intOrName(s: string, b: Bounds): number {
  const named = b.names?.[s.toLowerCase()];
  return named !== undefined ? named : atoi(s);
}

/** robfig's getRange: sets the values `expr` names in `set`; true when it is `*` or `?` (unstepped). */
function getRange(expr: string, b: Bounds, set: Uint8Array): boolean {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0]!.split('-');
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    start = intOrName(lowAndHigh[0]!, b);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = intOrName(lowAndHigh[1]!, b);
    else throw new ScheduleError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = atoi(rangeAndStep[1]!);
    // "N/step" means "N-max/step".
    if (lowAndHigh.length === 1) end = b.max;
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) throw new ScheduleError(`too many slashes: ${expr}`);
  if (start < b.min) throw new ScheduleError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new ScheduleError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new ScheduleError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new ScheduleError(`step of range should be a positive number: ${expr}`);
  for (let v = start; v <= end; v += step) set[v] = 1;
  return star;
}

/** A field's matching values (index = value) and whether it held an unstepped `*` or `?`. */
type Field = { set: Uint8Array; star: boolean };

/** robfig's getField: a comma-separated list of ranges. */
function getField(field: string, b: Bounds): Field {
  const set = new Uint8Array(b.max + 1);
  let star = false;
  for (const expr of field.split(',').filter((x) => x !== '')) star = getRange(expr, b, set) || star;
  return { set, star };
}

/** A field matching exactly `values`, or every value of `b` (a star) when `values` is omitted. */
function only(b: Bounds, ...values: number[]): Field {
  const set = new Uint8Array(b.max + 1);
  if (values.length === 0) {
    set.fill(1, b.min);
    return { set, star: true };
  }
  for (const v of values) set[v] = 1;
  return { set, star: false };
}

const seconds: Bounds = { min: 0, max: 59 };

function specOf(sec: Field, min: Field, hour: Field, dayOfMonth: Field, month: Field, dayOfWeek: Field, location: string | undefined): SpecSchedule {
  const fields: SpecFields = {
    second: sec.set,
    minute: min.set,
    hour: hour.set,
    dom: dayOfMonth.set,
    month: month.set,
    dow: dayOfWeek.set,
    domStar: dayOfMonth.star,
    dowStar: dayOfWeek.star,
  };
  return new SpecSchedule(fields, location);
}

/** robfig's parseDescriptor. */
function parseDescriptor(d: string, location: string | undefined): Schedule {
  switch (d) {
    case '@yearly':
    case '@annually':
      return specOf(only(seconds, 0), only(minutes, 0), only(hours, 0), only(dom, 1), only(months, 1), only(dow), location);
    case '@monthly':
      return specOf(only(seconds, 0), only(minutes, 0), only(hours, 0), only(dom, 1), only(months), only(dow), location);
    case '@weekly':
      return specOf(only(seconds, 0), only(minutes, 0), only(hours, 0), only(dom), only(months), only(dow, 0), location);
    case '@daily':
    case '@midnight':
      return specOf(only(seconds, 0), only(minutes, 0), only(hours, 0), only(dom), only(months), only(dow), location);
    case '@hourly':
      return specOf(only(seconds, 0), only(minutes, 0), only(hours), only(dom), only(months), only(dow), location);
  }
  if (d.startsWith('@every ')) {
    const r = parseDuration(d.slice('@every '.length));
    if (typeof r === 'string') throw new ScheduleError(`failed to parse duration ${d}: ${r}`);
    return new EverySchedule(r);
  }
  throw new ScheduleError(`unrecognized descriptor: ${d}`);
}

const durationUnits: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const maxDurationNs = 2 ** 63;

/** Go's time.ParseDuration: nanoseconds, or its error text. */
function parseDuration(s: string): number | string {
  const quoted = JSON.stringify(s);
  let rest = s;
  let sign = 1;
  if (rest.startsWith('+') || rest.startsWith('-')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return `time: invalid duration ${quoted}`;
  let total = 0;
  while (rest !== '') {
    const num = /^(\d*)(\.\d*)?/.exec(rest)!;
    if (!num[0] || num[0] === '.') return `time: invalid duration ${quoted}`;
    rest = rest.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (!unit) return `time: missing unit in duration ${quoted}`;
    const scale = durationUnits[unit];
    if (scale === undefined) return `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`;
    rest = rest.slice(unit.length);
    total += Number(num[1] || '0') * scale + (num[2] && num[2].length > 1 ? Number(`0${num[2]}`) * scale : 0);
    if (total > maxDurationNs) return `time: invalid duration ${quoted}`;
  }
  return sign * total;
}

/** Whether `name` is a time zone the runtime knows (Go's time.LoadLocation, approximately: '' is UTC). */
export function knownTimeZone(name: string): boolean {
  if (name === '' || name === 'UTC' || name === 'Local') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * robfig/cron's ParseStandard: the schedule `spec` describes. A TZ=/CRON_TZ= prefix fixes its
 * zone; without one the zone is whatever `next` is given (Go's time.Local). Throws a
 * `ScheduleError` carrying the parser's message.
 */
export function parseSchedule(spec: string): Schedule {
  if (spec.length === 0) throw new ScheduleError('empty spec string');
  let location: string | undefined;
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    const i = spec.indexOf(' ');
    const eq = spec.indexOf('=');
    if (i < 0) throw new ScheduleError('recovered from panic: runtime error: slice bounds out of range');
    const tz = spec.slice(eq + 1, i);
    if (!knownTimeZone(tz)) throw new ScheduleError(`provided bad location ${tz}: unknown time zone ${tz}`);
    location = tz === 'Local' ? undefined : tz === '' ? 'UTC' : tz;
    spec = spec.slice(i).trim();
  }
  if (spec.startsWith('@')) return parseDescriptor(spec, location);
  const fields = spec.split(/\s+/).filter((f) => f !== '');
  if (fields.length !== 5) throw new ScheduleError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  const minute = getField(fields[0]!, minutes);
  const hour = getField(fields[1]!, hours);
  const dayOfMonth = getField(fields[2]!, dom);
  const month = getField(fields[3]!, months);
  const dayOfWeek = getField(fields[4]!, dow);
  return specOf(only(seconds, 0), minute, hour, dayOfMonth, month, dayOfWeek, location);
}

/** The standard parser's error for a schedule, or '' when it parses. */
export function scheduleError(spec: string): string {
  try {
    parseSchedule(spec);
    return '';
  } catch (err) {
    if (err instanceof ScheduleError) return err.message;
    throw err;
  }
}
