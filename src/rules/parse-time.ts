/**
 * parse_time(pattern, timestamp[, timezone]) formats epoch milliseconds with a Joda-Time
 * DateTimeFormat pattern in a time zone (default UTC), iot-sql-functions.md:
 *
 *   parse_time("yyyy.MM.dd G 'at' HH:mm:ss z", 100000000, "America/Belize")
 *     = "1970.01.01 AD at 21:46:40 CST"
 *
 * Supported letters (Joda's set): G era, C century, Y year of era, x weekyear, w week of
 * weekyear, e day of week (1 = Monday), E day of week text, y year, D day of year, M month
 * (MMM/MMMM text), d day of month, a AM/PM, K 0-11, h 1-12, H 0-23, k 1-24, m, s, S fraction
 * of second, z zone name (zzzz long), Z offset (-0600, ZZ -06:00, ZZZ zone id). Text in single
 * quotes is literal and `''` is a quote. Another letter, an unknown zone or a bad timestamp
 * gives Undefined (Joda throws there). Zone names come from the platform's ICU data (English),
 * which uses the same CLDR names Joda's JDK data does for the common zones.
 */

type Piece = string | { readonly letter: string; readonly count: number };

export type TimePattern = readonly Piece[];

const LETTERS = new Set('GCYxweEyDMdaKhHkmsSzZ');
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Compile a Joda pattern; undefined when it has a letter Joda does not define. */
export function compileTimePattern(pattern: string): TimePattern | undefined {
  const pieces: Piece[] = [];
  let text = '';
  const n = pattern.length;
  for (let i = 0; i < n; ) {
    const c = pattern[i]!;
    if (c === "'") {
      if (pattern[i + 1] === "'") {
        text += "'";
        i += 2;
        continue;
      }
      // Joda: an unterminated quote runs to the end of the pattern.
      let j = i + 1;
      let quoted = '';
      for (;;) {
        const q = pattern.indexOf("'", j);
        if (q < 0) {
          quoted += pattern.slice(j);
          j = n;
          break;
        }
        if (pattern[q + 1] === "'") {
          quoted += pattern.slice(j, q + 1);
          j = q + 2;
          continue;
        }
        quoted += pattern.slice(j, q);
        j = q + 1;
        break;
      }
      text += quoted;
      i = j;
      continue;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      if (!LETTERS.has(c)) return undefined;
      let j = i + 1;
      while (j < n && pattern[j] === c) j++;
      if (text) pieces.push(text);
      text = '';
      pieces.push({ letter: c, count: j - i });
      i = j;
      continue;
    }
    text += c;
    i++;
  }
  if (text) pieces.push(text);
  return pieces;
}

interface Zone {
  readonly id: string;
  readonly parts: Intl.DateTimeFormat;
  readonly shortName: Intl.DateTimeFormat;
  readonly longName: Intl.DateTimeFormat;
}

/** Per call site: Intl formatters are costly to build, so keep a few per zone. */
export class ZoneCache {
  private readonly map = new Map<string, Zone | null>();

  constructor(private readonly capacity = 16) {}

  get(id: string): Zone | undefined {
    let zone = this.map.get(id);
    if (zone === undefined) {
      zone = makeZone(id) ?? null;
      if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
      this.map.set(id, zone);
    }
    return zone ?? undefined;
  }
}

function makeZone(id: string): Zone | undefined {
  try {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: id,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    const shortName = new Intl.DateTimeFormat('en-US', { timeZone: id, timeZoneName: 'short' });
    const longName = new Intl.DateTimeFormat('en-US', { timeZone: id, timeZoneName: 'long' });
    return { id: parts.resolvedOptions().timeZone, parts, shortName, longName };
  } catch {
    return undefined;
  }
}

/** Offset of `zone` from UTC at `ms`, in milliseconds. */
function offsetAt(zone: Zone, ms: number): number {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const p of zone.parts.formatToParts(ms)) {
    switch (p.type) {
      case 'year':
        year = Number(p.value);
        break;
      case 'month':
        month = Number(p.value);
        break;
      case 'day':
        day = Number(p.value);
        break;
      case 'hour':
        hour = Number(p.value);
        break;
      case 'minute':
        minute = Number(p.value);
        break;
      case 'second':
        second = Number(p.value);
        break;
      case 'era':
        bc = p.value === 'BC' || p.value === 'B';
        break;
    }
  }
  if (bc) year = 1 - year;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime() - (ms - ((ms % 1000) + 1000) % 1000);
}

function zoneName(format: Intl.DateTimeFormat, ms: number): string {
  for (const p of format.formatToParts(ms)) if (p.type === 'timeZoneName') return p.value;
  return '';
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n));
  const padded = s.length >= width ? s : '0'.repeat(width - s.length) + s;
  return n < 0 ? `-${padded}` : padded;
}

function formatOffset(offsetMs: number, colon: boolean): string {
  const sign = offsetMs < 0 ? '-' : '+';
  const minutes = Math.round(Math.abs(offsetMs) / 60000);
  return `${sign}${pad(Math.floor(minutes / 60), 2)}${colon ? ':' : ''}${pad(minutes % 60, 2)}`;
}

/** ISO weekyear and week of a UTC date (fields already shifted to local time). */
function isoWeek(local: Date): { weekyear: number; week: number } {
  const d = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()));
  const dow = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - dow); // Thursday of this week decides the year
  const weekyear = d.getUTCFullYear();
  const jan1 = Date.UTC(weekyear, 0, 1);
  return { weekyear, week: Math.floor((d.getTime() - jan1) / 86400000 / 7) + 1 };
}

/** Format `ms` (epoch milliseconds) in `zone`; undefined when out of range. */
export function formatTime(pattern: TimePattern, ms: number, zone: Zone): string | undefined {
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return undefined;
  const offset = offsetAt(zone, ms);
  const local = new Date(ms + offset);
  const year = local.getUTCFullYear();
  let out = '';
  for (const piece of pattern) {
    if (typeof piece === 'string') {
      out += piece;
      continue;
    }
    const { letter, count } = piece;
    switch (letter) {
      case 'G':
        out += year > 0 ? 'AD' : 'BC';
        break;
      case 'C':
        out += pad(Math.floor((year > 0 ? year : 1 - year) / 100), count);
        break;
      case 'y':
      case 'Y':
      case 'x': {
        let y = letter === 'x' ? isoWeek(local).weekyear : year;
        if (letter === 'Y' && y <= 0) y = 1 - y;
        out += count === 2 ? pad(((y % 100) + 100) % 100, 2) : pad(y, count);
        break;
      }
      case 'w':
        out += pad(isoWeek(local).week, count);
        break;
      case 'M': {
        const m = local.getUTCMonth();
        out += count >= 4 ? MONTHS[m] : count === 3 ? MONTHS[m]!.slice(0, 3) : pad(m + 1, count);
        break;
      }
      case 'd':
        out += pad(local.getUTCDate(), count);
        break;
      case 'D': {
        const start = Date.UTC(year, 0, 1);
        const startOfDay = Date.UTC(year, local.getUTCMonth(), local.getUTCDate());
        out += pad(Math.round((startOfDay - start) / 86400000) + 1, count);
        break;
      }
      case 'E': {
        const name = DAYS[local.getUTCDay()]!;
        out += count >= 4 ? name : name.slice(0, 3);
        break;
      }
      case 'e':
        out += pad(local.getUTCDay() || 7, count);
        break;
      case 'a':
        out += local.getUTCHours() < 12 ? 'AM' : 'PM';
        break;
      case 'H':
        out += pad(local.getUTCHours(), count);
        break;
      case 'k':
        out += pad(local.getUTCHours() || 24, count);
        break;
      case 'K':
        out += pad(local.getUTCHours() % 12, count);
        break;
      case 'h':
        out += pad(local.getUTCHours() % 12 || 12, count);
        break;
      case 'm':
        out += pad(local.getUTCMinutes(), count);
        break;
      case 's':
        out += pad(local.getUTCSeconds(), count);
        break;
      case 'S': {
        // Joda: the fraction of the second, to `count` digits.
        const millis = pad(local.getUTCMilliseconds(), 3);
        out += count <= 3 ? millis.slice(0, count) : millis + '0'.repeat(count - 3);
        break;
      }
      case 'z':
        out += zoneName(count >= 4 ? zone.longName : zone.shortName, ms);
        break;
      case 'Z':
        out += count >= 3 ? zone.id : formatOffset(offset, count === 2);
        break;
    }
  }
  return out;
}
