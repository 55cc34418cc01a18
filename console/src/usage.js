// Usage days as the API answers them (only days with activity) made into a continuous series.

export const COUNTERS = [
  "requests", "requests_2xx", "requests_3xx", "requests_4xx", "requests_5xx", "throttled",
  "events_published", "events_delivered", "dead_letters", "integration_calls",
];
const DAY_MS = 86_400_000;

/** YYYY-MM-DD of a Date, in UTC (the API's days are UTC days). */
export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The default range: the last `days` days up to today (UTC). */
export function lastDays(days, today = new Date()) {
  return { from: isoDay(new Date(today.getTime() - (days - 1) * DAY_MS)), to: isoDay(today) };
}

/** Every day from `from` to `to` inclusive, as YYYY-MM-DD (at most 366). */
export function daysBetween(from, to) {
  const days = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`) && days.length < 366; t += DAY_MS) {
    days.push(isoDay(new Date(t)));
  }
  return days;
}

/** One row per day of the range, each counter 0 where the API had no activity to report. */
export function fillDays(from, to, rows) {
  const byDay = new Map(rows.map((row) => [row.day, row]));
  return daysBetween(from, to).map((day) => {
    const found = byDay.get(day) || {};
    return Object.fromEntries([["day", day], ...COUNTERS.map((c) => [c, Number(found[c] || 0)])]);
  });
}

/** The sum of each counter over `days`. */
export function totals(days) {
  return Object.fromEntries(COUNTERS.map((c) => [c, days.reduce((sum, d) => sum + d[c], 0)]));
}

/** /admin/usage rows ({app, day, ...counters}) as {app: [rows]}. */
export function byApp(rows) {
  const grouped = {};
  for (const row of rows) (grouped[row.app] ||= []).push(row);
  return grouped;
}

/** 1234567 -> "1.2 MB" (1 KB = 1024 B, as the manifest counts). */
export function bytes(n) {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}
