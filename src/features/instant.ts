import { InvalidArgumentError } from '../core/errors.js';

/**
 * An instant given as epoch seconds or ISO-8601 (a date, or a date and time; no offset = UTC),
 * as the feature commands and tasks take `start`/`end`.
 *
 * @throws InvalidArgumentError naming `field`.
 * @example parseInstant('--start', '2024-01-31') // 2024-01-31T00:00:00Z
 */
export function parseInstant(field: string, value: string | number): Date {
  let date: Date;
  if (typeof value === 'number') date = new Date(value * 1000);
  else {
    const text = value.trim();
    if (/^-?\d+(\.\d+)?$/.test(text)) date = new Date(Number(text) * 1000);
    else if (
      /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(text)
    ) {
      const hasTime = text.length > 10;
      const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(text.slice(10));
      date = new Date(hasTime && !hasZone ? `${text.replace(' ', 'T')}Z` : text.replace(' ', 'T'));
    } else date = new Date(Number.NaN);
  }
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgumentError(
      field,
      `"${value}" is neither an ISO-8601 time (2024-01-31, 2024-01-31T12:00:00Z) nor epoch seconds`,
    );
  return date;
}
