/**
 * CronJob schedules as upstream parses them (robfig/cron's standard parser: five fields —
 * minute, hour, day of month, month, day of week — with ranges, steps, lists and month/weekday
 * names, plus the @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly/@every descriptors
 * and an optional TZ=/CRON_TZ= prefix), and IANA time zone names. Only the parse result matters
 * here: `scheduleError` returns the parser's error text, or '' for a valid schedule. Pure.
 */

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

class CronError extends Error {}

/** Go's strconv.Atoi, failing as it does. */
function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new CronError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || Math.abs(n) > 2 ** 63) {
    throw new CronError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  }
  if (n < 0) throw new CronError(`negative number (${n}) not allowed: ${s}`);
  return n;
}

function intOrName(s: string, b: Bounds): number {
  const named = b.names?.[s.toLowerCase()];
  return named !== undefined ? named : atoi(s);
}

function checkRange(expr: string, b: Bounds): void {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0]!.split('-');
  let start: number;
  let end: number;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = b.min;
    end = b.max;
  } else {
    start = intOrName(lowAndHigh[0]!, b);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = intOrName(lowAndHigh[1]!, b);
    else throw new CronError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = atoi(rangeAndStep[1]!);
    if (lowAndHigh.length === 1) end = b.max;
  } else if (rangeAndStep.length > 2) throw new CronError(`too many slashes: ${expr}`);
  if (start < b.min) throw new CronError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new CronError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new CronError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronError(`step of range should be a positive number: ${expr}`);
}

function checkField(field: string, b: Bounds): void {
  for (const expr of field.split(',').filter((x) => x !== '')) checkRange(expr, b);
}

const durationUnits: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, returning its error text ('' when valid). */
function durationError(s: string): string {
  const quoted = JSON.stringify(s);
  let rest = s;
  if (rest.startsWith('+') || rest.startsWith('-')) rest = rest.slice(1);
  if (rest === '0') return '';
  if (rest === '') return `time: invalid duration ${quoted}`;
  while (rest !== '') {
    const num = /^(\d*)(\.\d*)?/.exec(rest)!;
    if (!num[0] || num[0] === '.') return `time: invalid duration ${quoted}`;
    rest = rest.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (!unit) return `time: missing unit in duration ${quoted}`;
    if (!(unit in durationUnits)) return `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`;
    rest = rest.slice(unit.length);
  }
  return '';
}

/** Whether `name` is a time zone the runtime knows (Go's time.LoadLocation, approximately). */
export function knownTimeZone(name: string): boolean {
  if (name === 'UTC' || name === 'Local') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The standard parser's error for a schedule, or '' when it parses. */
export function scheduleError(spec: string): string {
  try {
    if (spec.length === 0) throw new CronError('empty spec string');
    if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
      const i = spec.indexOf(' ');
      const eq = spec.indexOf('=');
      if (i < 0) throw new CronError('recovered from panic: runtime error: slice bounds out of range');
      const tz = spec.slice(eq + 1, i);
      if (!knownTimeZone(tz)) throw new CronError(`provided bad location ${tz}: unknown time zone ${tz}`);
      spec = spec.slice(i).trim();
    }
    if (spec.startsWith('@')) {
      if (['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'].includes(spec)) return '';
      if (spec.startsWith('@every ')) {
        const err = durationError(spec.slice('@every '.length));
        if (err) throw new CronError(`failed to parse duration ${spec}: ${err}`);
        return '';
      }
      throw new CronError(`unrecognized descriptor: ${spec}`);
    }
    const fields = spec.split(/\s+/).filter((f) => f !== '');
    if (fields.length !== 5) throw new CronError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
    checkField(fields[0]!, minutes);
    checkField(fields[1]!, hours);
    checkField(fields[2]!, dom);
    checkField(fields[3]!, months);
    checkField(fields[4]!, dow);
    return '';
  } catch (err) {
    if (err instanceof CronError) return err.message;
    throw err;
  }
}
