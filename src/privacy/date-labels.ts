/**
 * Date and timestamp parsing and labelling for the `date` generaliser, kept apart so that the
 * Node labels and the DuckDB SQL that must reproduce them sit side by side.
 */

/** A date unit of a `date` generaliser, finest first. */
export type DateUnit = 'hour' | 'day' | 'week' | 'month' | 'quarter' | 'year';

/** The date units, finest first: the order a `date` spec must follow. */
export const DATE_UNITS: readonly DateUnit[] = ['hour', 'day', 'week', 'month', 'quarter', 'year'];

/** A parsed date or timestamp: calendar fields as written, and its instant read as UTC. */
export interface ParsedDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  /** Milliseconds since the epoch, the wall clock read as UTC (the offset is ignored). */
  readonly ms: number;
}

// The shapes DuckDB's CAST(x AS VARCHAR) gives DATE, TIMESTAMP and TIMESTAMPTZ.
const DATE_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:\s*(?:Z|[+-]\d{2}(?::?\d{2})?))?)?$/;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Parses `2026-12-07`, `2019-11-24 00:03:13`, `2019-11-24 00:03:13.442536+00` (and `T` for the
 * space). The wall clock is taken as written and read as UTC: the offset is ignored so that the
 * labels match the SQL, which works on the same text. Returns undefined when it is not a date.
 */
export function parseDate(text: string): ParsedDate | undefined {
  const m = DATE_RE.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const fraction = m[7] === undefined ? 0 : Number(m[7]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const dayStart = Date.UTC(year, month - 1, day);
  // Date.UTC rolls 2026-02-30 over into March: a day the month lacks shows up as a changed month.
  if (new Date(dayStart).getUTCMonth() !== month - 1) return undefined;
  const ms = dayStart + hour * HOUR_MS + minute * 60_000 + (second + fraction) * 1000;
  return { year, month, day, hour, ms };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** The ISO-8601 week-numbering year and week of a calendar day (weeks start on Monday). */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const t = Date.UTC(year, month - 1, day);
  const weekday = (new Date(t).getUTCDay() + 6) % 7;
  // The Thursday of the same week decides the week's year.
  const thursday = t + (3 - weekday) * DAY_MS;
  const isoYear = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(isoYear, 0, 1)) / (7 * DAY_MS));
  return { year: isoYear, week };
}

/**
 * The label of a date at `unit`: `2026-12-07T13` (hour), `2026-12-07`, `2026-W49` (ISO week),
 * `2026-12`, `2026-Q4`, `2026`.
 */
export function dateLabel(d: ParsedDate, unit: DateUnit): string {
  const ymd = `${pad(d.year, 4)}-${pad(d.month)}-${pad(d.day)}`;
  switch (unit) {
    case 'hour':
      return `${ymd}T${pad(d.hour)}`;
    case 'day':
      return ymd;
    case 'week': {
      const w = isoWeek(d.year, d.month, d.day);
      return `${pad(w.year, 4)}-W${pad(w.week)}`;
    }
    case 'month':
      return `${pad(d.year, 4)}-${pad(d.month)}`;
    case 'quarter':
      return `${pad(d.year, 4)}-Q${Math.ceil(d.month / 3)}`;
    case 'year':
      return pad(d.year, 4);
  }
}

/** The length in milliseconds of the `unit` period holding `d` (months and years as they fall). */
export function dateSpanMs(d: ParsedDate, unit: DateUnit): number {
  switch (unit) {
    case 'hour':
      return HOUR_MS;
    case 'day':
      return DAY_MS;
    case 'week':
      return 7 * DAY_MS;
    case 'month':
      return Date.UTC(d.year, d.month, 1) - Date.UTC(d.year, d.month - 1, 1);
    case 'quarter': {
      const first = 3 * Math.floor((d.month - 1) / 3);
      return Date.UTC(d.year, first + 3, 1) - Date.UTC(d.year, first, 1);
    }
    case 'year':
      return Date.UTC(d.year + 1, 0, 1) - Date.UTC(d.year, 0, 1);
  }
}

/**
 * The DuckDB expression giving {@link dateLabel} for `text`, a VARCHAR expression holding the
 * value as {@link parseDate} reads it: it works on the same text (date part and hour as written)
 * so that the offset and the session's time zone cannot make the two disagree.
 */
export function dateLabelSql(text: string, unit: DateUnit): string {
  const day = `CAST(left(${text}, 10) AS DATE)`;
  switch (unit) {
    case 'hour':
      return `(strftime(${day}, '%Y-%m-%d') || 'T' || CASE WHEN length(${text}) >= 13 THEN substr(${text}, 12, 2) ELSE '00' END)`;
    case 'day':
      return `strftime(${day}, '%Y-%m-%d')`;
    case 'week':
      return `strftime(${day}, '%G-W%V')`;
    case 'month':
      return `strftime(${day}, '%Y-%m')`;
    case 'quarter':
      return `(strftime(${day}, '%Y') || '-Q' || CAST(quarter(${day}) AS VARCHAR))`;
    case 'year':
      return `strftime(${day}, '%Y')`;
  }
}
