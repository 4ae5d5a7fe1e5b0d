/**
 * @module
 * The one timestamp form veilgraph writes and reads inside signed or sealed structures
 * (docs/crypto.md §12, §13): `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1–9 digits, `Z`
 * (UTC), a real date and time of the proleptic Gregorian calendar in years 0000–9999: no
 * February 30, no hour 24, no leap second. Writers write exactly what
 * `Date.prototype.toISOString` writes (3 fraction digits); readers also take 0–9 digits, so
 * an implementation with another clock precision interoperates. `Date.parse` alone is not
 * the check: it rolls 2026-02-30 over to March 2 and reads 24:00 as the next midnight.
 */

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z$/;

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** True when `v` is a timestamp in the form above. */
export function isTimestamp(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  const m = TIMESTAMP.exec(v);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month) && hour <= 23 && minute <= 59 && second <= 59;
}
