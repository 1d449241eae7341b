import { InvalidArgumentError } from '../../core/errors.js';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A logical date as the engine stores it: an ISO-8601 instant in UTC with milliseconds
 * (`2026-11-25T00:00:00.000Z`). Accepts a date (`2026-11-25`, midnight UTC), any date-time that
 * `Date` parses with an offset, or a Date.
 */
export function normalizeLogicalDate(value: string | Date, field = 'logicalDate'): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new InvalidArgumentError(field, 'is an invalid date');
    return value.toISOString();
  }
  const text = value.trim();
  const ok =
    DATE_ONLY.test(text) ||
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(text);
  const date = new Date(DATE_ONLY.test(text) ? `${text}T00:00:00Z` : text);
  if (!ok || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError(
      field,
      `"${value}" is not a date (YYYY-MM-DD) or an ISO-8601 date-time with a time zone`,
    );
  }
  return date.toISOString();
}

/** `2026-11-25T03:00:00.000Z` → `20261125T030000Z`, for run ids. */
export function compactDate(iso: string): string {
  return iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
