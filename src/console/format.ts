// Number, size and time formatting for cards, tables and chart axes.

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en');

/** 1234 -> "1,234"; beyond a million, "1.2M". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1_000_000) return compact.format(n);
  if (Number.isInteger(n)) return whole.format(n);
  return n >= 100 ? whole.format(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(2).replace(/\.?0+$/, '');
}

/** Short form for axes: 0, 5, 1.5k, 2M. */
export function formatAxis(n: number): string {
  if (n === 0) return '0';
  if (Math.abs(n) >= 1000) return compact.format(n);
  return Number.isInteger(n) ? String(n) : n.toFixed(Math.abs(n) < 1 ? 2 : 1).replace(/\.?0+$/, '');
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 -> "1.5 KB" (powers of 1024). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(v >= 100 ? 0 : 1)} ${UNITS[i]}`;
}

export function formatBytesAxis(n: number): string {
  return n === 0 ? '0' : formatBytes(n).replace(' ', '');
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** 14:03:07 */
export function formatClock(t: number): string {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 14:03:07.125 */
export function formatClockMs(t: number): string {
  return `${formatClock(t)}.${pad(new Date(t).getMilliseconds(), 3)}`;
}

/** 14:03 */
export function formatHourMinute(t: number): string {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** 2024-05-01 14:03:07 (local time). */
export function formatDateTime(t: number | string): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatClock(d.getTime())}`;
}

/** "12 s", "3 min", "2 h 5 min", "4 d 3 h". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "3 min ago" */
export function formatAgo(t: number | string, now = Date.now()): string {
  const ms = now - new Date(t).getTime();
  if (!Number.isFinite(ms)) return String(t);
  return ms < 5000 ? 'just now' : `${formatDuration(ms)} ago`;
}
