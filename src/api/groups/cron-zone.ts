/**
 * Wall-clock arithmetic in an IANA time zone, as Go's `time` package does it for robfig/cron and
 * the CronJob controller: the UTC offset at an instant (through Intl, i.e. the runtime's tz
 * database), the wall-clock fields of an instant, Go's `time.Date` (which normalises overflowing
 * fields and resolves a wall time that a DST change skips or repeats exactly as Go does), and the
 * two text formats the controller writes (RFC 3339 with the zone's offset, RFC 1123 with a numeric
 * zone). Instants are epoch milliseconds. Pure; zones are cached (bounded).
 */
import fs from 'node:fs';

/** Go's zero time (0001-01-01T00:00:00Z) in epoch ms: what robfig/cron's Next returns when nothing matches. */
export const zeroTimeMs = -62_135_596_800_000;

/** Wall-clock fields of an instant in a zone; month 1–12, weekday 0 (Sunday)–6. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

/** A time zone (Go's *time.Location): offsets and wall clock at instants, and Go's time.Date. */
export interface Zone {
  /** The name it was loaded by ('UTC' for UTC). */
  readonly name: string;
  /** Milliseconds east of UTC at the instant `ms`. */
  offset(ms: number): number;
  wall(ms: number): WallClock;
  /**
   * Go's time.Date(year, month, day, hour, min, sec, 0, zone): fields out of range are
   * normalised (month 13 is January of the next year, day 0 the last day of the month before);
   * a wall time that does not exist or exists twice takes the offset Go would pick.
   */
  date(year: number, month: number, day: number, hour: number, minute: number, second: number): number;
}

const mod = (a: number, b: number): number => ((a % b) + b) % b;

/** Wall-clock fields as if UTC (no year 0–99 remapping, unlike Date.UTC). */
function utcFields(ms: number): WallClock {
  const d = new Date(ms);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay() };
}

/** Epoch ms of wall-clock fields read as UTC, normalising overflow as Go (and ECMAScript) do. */
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

class IntlZone implements Zone {
  readonly name: string;
  readonly #fmt: Intl.DateTimeFormat | undefined;

  constructor(name: string, fmt: Intl.DateTimeFormat | undefined) {
    this.name = name;
    this.#fmt = fmt;
  }

  offset(ms: number): number {
    if (!this.#fmt) return 0;
    const whole = ms - mod(ms, 1000);
    const p: Record<string, number> = {};
    let bc = false;
    for (const part of this.#fmt.formatToParts(whole)) {
      if (part.type === 'era') bc = part.value.startsWith('B');
      else if (part.type !== 'literal') p[part.type] = Number(part.value);
    }
    const year = bc ? 1 - p['year']! : p['year']!;
    return utcMs(year, p['month']!, p['day']!, p['hour']!, p['minute']!, p['second']!) - whole;
  }

  wall(ms: number): WallClock {
    return utcFields(ms + this.offset(ms));
  }

  date(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
    // As Go: look the offset up at the wall time read as UTC; if the instant that gives falls in a
    // period with another offset (a transition lies between them), take that period's offset.
    const unix = utcMs(year, month, day, hour, minute, second);
    if (!this.#fmt) return unix;
    const first = this.offset(unix);
    const then = this.offset(unix - first);
    return unix - then;
  }
}

const utc: Zone = new IntlZone('UTC', undefined);
/** Zones by the name asked for; bounded (names differing only in case are distinct keys). */
const zones = new Map<string, Zone>();
const maxZones = 1024;

/**
 * The zone of an IANA name (Go's time.LoadLocation): '' and 'UTC' are UTC, 'Local' the process's
 * zone. Throws a RangeError for a name the runtime does not know.
 */
export function loadZone(name: string): Zone {
  if (name === '' || name === 'UTC') return utc;
  if (name === 'Local') return loadZone(localZoneName());
  const cached = zones.get(name);
  if (cached) return cached;
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: name,
    hourCycle: 'h23',
    era: 'short',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const z = new IntlZone(name, fmt.resolvedOptions().timeZone === 'UTC' ? undefined : fmt);
  if (zones.size >= maxZones) zones.clear();
  zones.set(name, z);
  return z;
}

let local: string | undefined;

/** The process's own zone (the TZ environment variable, else the system's): Go's time.Local. */
export function localZoneName(): string {
  local ??= (process.env.TZ === undefined && linkedZoneName()) || new Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return local;
}

/** The names ICU gives as UTC. */
const utcAliases = new Set(['UTC', 'Etc/UTC', 'Etc/UCT', 'UCT', 'Etc/GMT', 'GMT', 'Etc/GMT0', 'Etc/GMT+0', 'Etc/GMT-0', 'GMT0', 'GMT+0', 'GMT-0', 'Etc/Greenwich', 'Greenwich', 'Etc/Universal', 'Universal', 'Etc/Zulu', 'Zulu']);

/**
 * The zone /etc/localtime links to (`…/zoneinfo/Europe/Paris`), as ICU would name it for the
 * usual links, or undefined. Read so, the local zone costs no ICU time zone data (about 6 MB of
 * the binary resident) in a server that runs no CronJob in another zone.
 */
function linkedZoneName(): string | undefined {
  let link: string;
  try {
    link = fs.readlinkSync('/etc/localtime');
  } catch {
    return undefined;
  }
  const i = link.lastIndexOf('zoneinfo/');
  if (i < 0) return undefined;
  const name = link.slice(i + 'zoneinfo/'.length);
  return utcAliases.has(name) ? 'UTC' : undefined;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `±hh:mm` (or `Z` when `z` and the offset is zero), Go's Z07:00 / -07:00 layouts. */
function offsetText(offsetMs: number, z: boolean, colon: boolean): string {
  if (z && offsetMs === 0) return 'Z';
  const mins = Math.trunc(offsetMs / 60_000);
  const sign = mins < 0 ? '-' : '+';
  const a = Math.abs(mins);
  return `${sign}${pad(Math.floor(a / 60))}${colon ? ':' : ''}${pad(a % 60)}`;
}

/** Go's t.In(zone).Format(time.RFC3339): `2006-01-02T15:04:05Z07:00`. */
export function formatRfc3339(ms: number, zone: Zone): string {
  const off = zone.offset(ms);
  const w = utcFields(ms + off);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${offsetText(off, true, true)}`;
}

const dayNames = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const monthNames = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's t.UTC().Format(time.RFC1123Z): `Mon, 02 Jan 2006 15:04:05 +0000`. */
export function formatRfc1123zUtc(ms: number): string {
  const w = utcFields(ms);
  return `${dayNames[w.weekday]}, ${pad(w.day)} ${monthNames[w.month - 1]} ${pad(w.year, 4)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)} +0000`;
}
