import { InvalidArgumentError } from '../core/errors.js';

/**
 * Argument checks for the metadata store. They run before any SQL so that a bad record is refused
 * with the field named, instead of being stored in a form that would not read back the same
 * (JSON drops `undefined` and turns `NaN` into `null`; an invalid Date has no epoch value).
 */

/** Returns `value` if it is a non-empty string; otherwise throws {@link InvalidArgumentError} naming `field`. */
export function requireText(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(field, `must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** Returns `value`, which may be undefined, if it is otherwise a string (empty allowed). */
export function optionalText(field: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') {
    throw new InvalidArgumentError(field, `must be a string when given, got ${describe(value)}`);
  }
  return value;
}

/** Returns the epoch milliseconds of a valid `Date`. */
export function requireDate(field: string, value: unknown): number {
  if (!(value instanceof Date) || !Number.isFinite(value.getTime())) {
    throw new InvalidArgumentError(field, `must be a valid Date, got ${describe(value)}`);
  }
  return value.getTime();
}

/** Returns the limit of a listing: `value`, or `fallback` when undefined; must be an integer ≥ 1. */
export function requireLimit(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(field, `must be an integer ≥ 1, got ${describe(value)}`);
  }
  return value;
}

/**
 * Serialises a JSON object (not an array or null) for a `text` column, refusing anything that
 * would not parse back equal: `undefined`, functions, symbols, bigints, non-finite numbers, and
 * objects other than plain ones and arrays (a `Date` would come back as a string).
 */
export function toJsonText(field: string, value: unknown): string {
  if (!isPlainObject(value))
    throw new InvalidArgumentError(field, `must be a plain JSON object, got ${describe(value)}`);
  checkJson(field, value);
  return JSON.stringify(value);
}

/** Serialises a record of finite numbers (metrics, figures) for a `text` column. */
export function toNumbersJsonText(field: string, value: unknown): string {
  if (!isPlainObject(value))
    throw new InvalidArgumentError(field, `must be an object of numbers, got ${describe(value)}`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InvalidArgumentError(
        `${field}.${key}`,
        `must be a finite number, got ${describe(v)}`,
      );
    }
  }
  return JSON.stringify(value);
}

/**
 * Refuses anything without an exact JSON form (non-finite numbers, Dates, class instances…),
 * naming its path. With `dropUndefined`, object properties set to `undefined` are allowed, since
 * `JSON.stringify` drops them (typed records may spell out their optional fields).
 */
export function checkJson(
  path: string,
  value: unknown,
  options: { dropUndefined?: boolean } = {},
): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(path, `${value} has no JSON form`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJson(`${path}[${i}]`, v, options));
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, v] of Object.entries(value))
      if (!(v === undefined && options.dropUndefined)) checkJson(`${path}.${key}`, v, options);
    return;
  }
  throw new InvalidArgumentError(
    path,
    `${describe(value)} has no JSON form that reads back the same`,
  );
}

/** An object literal (or `Object.create(null)`): what JSON objects read back as. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? 'a Date' : 'an invalid Date';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  return `${typeof value} ${String(value)}`;
}
