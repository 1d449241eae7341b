/**
 * The record format the online feature stores share: one msgpack array per entity and view,
 * `[eventTime, createdTime, schema, ...values]`, where `schema` is a short hash of the feature
 * name list the row was written with. Each store keeps the name list once per view and hash, so
 * a read after a view's features changed still names each value correctly.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { InvalidArgumentError } from '../core/errors.js';
import type {
  FeatureValue,
  MaterializedMark,
  OnlineWrite,
  StoredOnlineRow,
} from '../features/online-store.js';

// Plain msgpack arrays (no records), floats as float64, so Redis' cmsgpack can read them too.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

/** The schema id of a feature name list: 16 hex digits of its SHA-1. */
export function schemaId(features: readonly string[]): string {
  return createHash('sha1').update(JSON.stringify(features)).digest('hex').slice(0, 16);
}

/** A value as stored and served (see `FeatureValue`): bigint → number when safe, else its decimal string. */
export function normaliseValue(value: unknown, field: string): FeatureValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'number':
    case 'string':
    case 'boolean':
      return value;
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value.toString();
    default:
      if (value instanceof Date) return value.toISOString();
      throw new InvalidArgumentError(
        field,
        `a feature value must be a number, string, boolean, bigint, Date or null; got ${Object.prototype.toString.call(value)}`,
      );
  }
}

/** Checks a write's arguments. @throws InvalidArgumentError naming `view` or `features`. */
export function checkWrite(view: string, features: readonly string[]): void {
  checkView(view);
  if (!Array.isArray(features) || features.some((f) => typeof f !== 'string' || f.length === 0))
    throw new InvalidArgumentError('features', 'must be a list of non-empty feature names');
  if (new Set(features).size !== features.length)
    throw new InvalidArgumentError('features', 'names a feature more than once');
}

/** @throws InvalidArgumentError naming `view` when it is not a non-empty string. */
export function checkView(view: string): void {
  if (typeof view !== 'string' || view.length === 0)
    throw new InvalidArgumentError('view', 'must be a non-empty view name');
}

/** Packs one row. @throws InvalidArgumentError naming `rows[i]` for a malformed row. */
export function packRow(row: OnlineWrite, schema: string, width: number, i: number): Buffer {
  if (typeof row.key !== 'string')
    throw new InvalidArgumentError(`rows[${i}].key`, 'must be a string (see entityKey)');
  if (!Number.isFinite(row.eventTime) || !Number.isFinite(row.createdTime))
    throw new InvalidArgumentError(
      `rows[${i}]`,
      `event and created time must be finite epoch milliseconds, got ${row.eventTime} and ${row.createdTime}`,
    );
  const values = row.values;
  if (!Array.isArray(values) || values.length !== width)
    throw new InvalidArgumentError(
      `rows[${i}].values`,
      `has ${Array.isArray(values) ? values.length : 'no'} values for ${width} features`,
    );
  const record: unknown[] = new Array(3 + width);
  record[0] = row.eventTime;
  record[1] = row.createdTime;
  record[2] = schema;
  for (let j = 0; j < width; j++) {
    const v = values[j];
    // The common kinds as they are; the rest (bigint, Date, undefined, wrong types) checked.
    record[3 + j] =
      typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null
        ? v
        : normaliseValue(v, `rows[${i}].values`);
  }
  return packr.pack(record);
}

/** An unpacked record, before its schema is resolved to names. */
export interface UnpackedRow {
  eventTime: number;
  createdTime: number;
  schema: string;
  values: FeatureValue[];
}

export function unpackRow(bytes: Uint8Array): UnpackedRow {
  const record = packr.unpack(bytes) as unknown[];
  return {
    eventTime: record[0] as number,
    createdTime: record[1] as number,
    schema: record[2] as string,
    values: record.slice(3) as FeatureValue[],
  };
}

/** Whether a row `(e, c, bytes)` is stored over a stored `(se, sc, sbytes)` (see `write`). */
export function supersedes(
  e: number,
  c: number,
  bytes: Uint8Array,
  stored: { eventTime: number; createdTime: number; bytes: Uint8Array },
): boolean {
  if (e !== stored.eventTime) return e > stored.eventTime;
  if (c !== stored.createdTime) return c > stored.createdTime;
  return !Buffer.from(bytes).equals(Buffer.from(stored.bytes));
}

/** A stored row with its names. */
export function withNames(row: UnpackedRow, features: readonly string[]): StoredOnlineRow {
  return {
    eventTime: row.eventTime,
    createdTime: row.createdTime,
    values: row.values,
    features,
  };
}

/** Checks a mark. @throws InvalidArgumentError naming `mark`. */
export function checkMark(mark: MaterializedMark): void {
  const ok =
    Number.isFinite(mark.start) &&
    Number.isFinite(mark.end) &&
    Number.isFinite(mark.updatedAt) &&
    (mark.newestEventTime === null || Number.isFinite(mark.newestEventTime)) &&
    mark.start <= mark.end;
  if (!ok)
    throw new InvalidArgumentError(
      'mark',
      'start ≤ end, updatedAt and newestEventTime (or null) must be finite epoch milliseconds',
    );
}

/** The JSON of a mark, its fields only. */
export function markJson(mark: MaterializedMark): string {
  return JSON.stringify({
    start: mark.start,
    end: mark.end,
    newestEventTime: mark.newestEventTime,
    updatedAt: mark.updatedAt,
  });
}
