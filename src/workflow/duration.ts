import { InvalidArgumentError } from '../core/errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds of a duration written as a number of seconds (`30`) or with a unit (`250ms`,
 * `30s`, `5m`, `2h`, `1d`, also combined: `1h30m`).
 */
export function parseDuration(value: number | string, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new InvalidArgumentError(
        field,
        `must be a non-negative number of seconds, got ${value}`,
      );
    return value * 1000;
  }
  const text = value.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) {
    throw new InvalidArgumentError(
      field,
      `"${value}" is not a duration; write e.g. 30s, 5m, 2h, 1h30m or a number of seconds`,
    );
  }
  let total = 0;
  for (const [, amount, , unit] of text.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g))
    total += Number(amount) * UNITS[unit];
  return total;
}
