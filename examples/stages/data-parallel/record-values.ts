/**
 * Reading fields of source records, whatever the source made of them: CSV and Parquet sources
 * give numbers (integers beyond 2^53 as strings) and ISO-8601 strings for timestamps, JSONL
 * gives whatever the file holds, `records` sources whatever the caller passed.
 */
import { DataError } from '../../../src/core/errors.js';
import type { ExternalId, ExternalIdColumn } from '../../../src/data/id-map.js';

const INTEGER = /^-?\d+$/;

/**
 * An id field as an {@link ExternalId}: integers (also integer strings and bigints within 2^53)
 * become numbers, anything else a string, so that `429` and `"429"` are the same id, as they are
 * in DuckDB's `CAST(… AS VARCHAR)` grouping of aggregate.ts.
 *
 * @throws DataError when the field is missing or null
 */
export function idField(record: Record<string, unknown>, column: string): ExternalId {
  const v = record[column];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'bigint' && Number.isSafeInteger(Number(v))) return Number(v);
  if (
    typeof v === 'string' &&
    INTEGER.test(v) &&
    Number.isSafeInteger(Number(v)) &&
    String(Number(v)) === v
  )
    return Number(v);
  if (v === null || v === undefined || v === '')
    throw new DataError({ column }, 'is missing or null');
  return String(v);
}

/** A numeric field; null, missing or empty gives `fallback`. @throws DataError on a non-number */
export function numberField(
  record: Record<string, unknown>,
  column: string,
  fallback: number,
): number {
  const v = record[column];
  if (v === null || v === undefined || v === '') return fallback;
  const n =
    typeof v === 'bigint'
      ? Number(v)
      : typeof v === 'number'
        ? v
        : typeof v === 'string'
          ? Number(v)
          : Number.NaN;
  if (!Number.isFinite(n))
    throw new DataError({ column }, `is not a number: ${JSON.stringify(String(v))}`);
  return n;
}

/**
 * A time field as Unix epoch seconds: numbers are taken as seconds already, strings as ISO-8601
 * (without a zone: UTC, DuckDB's default), `Date`s as they are.
 *
 * @throws DataError when the field is missing or unreadable
 */
export function epochSecondsField(record: Record<string, unknown>, column: string): number {
  const v = record[column];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date && !Number.isNaN(v.getTime())) return v.getTime() / 1000;
  if (typeof v === 'string' && v !== '') {
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    const zoned = /[zZ]|[+-]\d\d(:?\d\d)?$/.test(v) ? v : `${v.replace(' ', 'T')}Z`;
    const ms = Date.parse(zoned);
    if (!Number.isNaN(ms)) return ms / 1000;
  }
  throw new DataError(
    { column },
    `is not a timestamp: ${JSON.stringify(v === undefined ? null : String(v))}`,
  );
}

/**
 * Ids as a column for `Interactions.fromColumns`: a Float64Array when every id is a number,
 * otherwise strings (numbers written in decimal), so that one column never mixes the two kinds.
 */
export function idColumn(ids: readonly ExternalId[]): ExternalIdColumn {
  if (ids.every((id) => typeof id === 'number')) return Float64Array.from(ids as number[]);
  return ids.map(String);
}
