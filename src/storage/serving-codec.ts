/**
 * Validation and the stored form shared by every {@link ServingStore} backend, so that the
 * memory, SQLite and Redis stores accept and refuse exactly the same inputs and return
 * byte-for-byte the same lists.
 */
import { InvalidArgumentError, KibanError } from '../core/errors.js';
import type { ExternalId } from '../data/id-map.js';
// ServingStore is imported for the {@link} in the module comment only.
import {
  LIST_KEYS_DEFAULT_LIMIT,
  type ListKeysOptions,
  type ListRange,
  type ScoredItem,
  type ServingStore,
} from './serving-store.js';

/** What a version name and a list name must match: no `:` so they can sit inside storage keys. */
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Throws {@link InvalidArgumentError} (field `version`) unless `version` matches {@link NAME_PATTERN}. */
export function checkVersionName(version: unknown): string {
  if (typeof version !== 'string' || !NAME_PATTERN.test(version)) {
    throw new InvalidArgumentError(
      'version',
      `must match ${NAME_PATTERN.source}, got ${describe(version)}`,
    );
  }
  return version;
}

/** Throws {@link InvalidArgumentError} (field `list`) unless `list` matches {@link NAME_PATTERN}. */
export function checkListName(list: unknown): string {
  if (typeof list !== 'string' || !NAME_PATTERN.test(list)) {
    throw new InvalidArgumentError(
      'list',
      `must match ${NAME_PATTERN.source}, got ${describe(list)}`,
    );
  }
  return list;
}

/**
 * The stored form of a list key: its string form, so `42` and `'42'` address the same list
 * (HTTP paths carry ids as strings; the publisher may hold them as numbers). Refuses empty
 * strings and non-finite numbers.
 */
export function encodeKey(key: unknown, field = 'key'): string {
  if (typeof key === 'number') {
    if (!Number.isFinite(key))
      throw new InvalidArgumentError(field, `must be a finite number or a string, got ${key}`);
    return String(key);
  }
  if (typeof key === 'string' && key.length > 0) return key;
  throw new InvalidArgumentError(
    field,
    `must be a finite number or a non-empty string, got ${describe(key)}`,
  );
}

// The stored form of a ranked list of n items, little-endian:
//   bytes 0–3   format (uint32): 1 = every id is a number, 2 = ids as a JSON array (strings, or mixed)
//   bytes 4–7   n (uint32)
//   8 … 8+8n    the scores (float64)
//   8+8n …      format 1: the ids (float64); format 2: the UTF-8 JSON array of the ids
// Binary scores cost a fraction of printing and parsing decimals (publishing 10^6 items in JSON
// spends most of its time there), round-trip bit-exactly, and let a read decode just its slice.
const NUMERIC_IDS = 1;
const JSON_IDS = 2;
const HEADER = 8;

/**
 * Validates a ranked list and serialises it in kiban's compact list format (see above). Scores
 * and numeric ids come back bit-exactly; ids keep their type (number or string). Throws
 * {@link InvalidArgumentError} naming `field[i].id` or `field[i].score`.
 */
export function encodeItems(items: readonly ScoredItem[], field = 'items'): Buffer {
  if (!Array.isArray(items))
    throw new InvalidArgumentError(field, `must be an array, got ${describe(items)}`);
  const n = items.length;
  let numeric = true;
  for (let i = 0; i < n; i++) {
    const item = items[i];
    if (item === null || typeof item !== 'object')
      throw new InvalidArgumentError(
        `${field}[${i}]`,
        `must be { id, score }, got ${describe(item)}`,
      );
    const { id, score } = item;
    if (typeof id === 'number') {
      if (!Number.isFinite(id))
        throw new InvalidArgumentError(
          `${field}[${i}].id`,
          `must be a finite number or a string, got ${id}`,
        );
    } else if (typeof id === 'string') numeric = false;
    else
      throw new InvalidArgumentError(
        `${field}[${i}].id`,
        `must be a finite number or a string, got ${describe(id)}`,
      );
    if (typeof score !== 'number' || !Number.isFinite(score)) {
      throw new InvalidArgumentError(
        `${field}[${i}].score`,
        `must be a finite number, got ${describe(score)}`,
      );
    }
  }
  const idsJson = numeric
    ? null
    : Buffer.from(JSON.stringify(items.map((item) => item.id)), 'utf8');
  const out = Buffer.allocUnsafe(HEADER + 8 * n + (idsJson === null ? 8 * n : idsJson.length));
  out.writeUInt32LE(numeric ? NUMERIC_IDS : JSON_IDS, 0);
  out.writeUInt32LE(n, 4);
  for (let i = 0; i < n; i++) out.writeDoubleLE(items[i].score, HEADER + 8 * i);
  if (idsJson === null) {
    const base = HEADER + 8 * n;
    for (let i = 0; i < n; i++) out.writeDoubleLE(items[i].id as number, base + 8 * i);
  } else idsJson.copy(out, HEADER + 8 * n);
  return out;
}

/** Checks a {@link ListRange} and returns it with defaults applied (`limit` Infinity = all). */
export function checkRange(range: ListRange | undefined): {
  offset: number;
  limit: number;
  version?: string;
} {
  const offset = range?.offset ?? 0;
  const limit = range?.limit ?? Infinity;
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new InvalidArgumentError('offset', `must be an integer ≥ 0, got ${describe(offset)}`);
  if (limit !== Infinity && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new InvalidArgumentError('limit', `must be an integer ≥ 0, got ${describe(limit)}`);
  }
  return range?.version === undefined
    ? { offset, limit }
    : { offset, limit, version: checkVersionName(range.version) };
}

/** Checked {@link ListKeysOptions}: the cursor split into its version and backend position. */
export interface KeyListing {
  /** The version asked for (by the cursor or `version`), or undefined for the current one. */
  version?: string;
  /** Where the previous page ended (backend-specific), or null for the first page. */
  position: string | null;
  limit: number;
}

/**
 * Validates {@link ListKeysOptions} the same way for every backend. A cursor is
 * `{version}:{position}` (version names hold no `:`), so it pins the version of the first page.
 */
export function checkListKeysOptions(options: ListKeysOptions | undefined): KeyListing {
  const limit = options?.limit ?? LIST_KEYS_DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new InvalidArgumentError('limit', `must be an integer ≥ 1, got ${describe(limit)}`);
  const cursor = options?.cursor;
  if (cursor !== undefined) {
    const at = typeof cursor === 'string' ? cursor.indexOf(':') : -1;
    if (at < 1 || !NAME_PATTERN.test(cursor.slice(0, at)))
      throw new InvalidArgumentError(
        'cursor',
        `is not a cursor listKeys returned: ${describe(cursor)}`,
      );
    return { version: cursor.slice(0, at), position: cursor.slice(at + 1), limit };
  }
  return options?.version === undefined
    ? { position: null, limit }
    : { version: checkVersionName(options.version), position: null, limit };
}

/** The cursor of a page that ended at `position` of `version` (see {@link checkListKeysOptions}). */
export function keyCursor(version: string, position: string): string {
  return `${version}:${position}`;
}

/** Orders stored keys by their UTF-8 bytes, as SQLite's BINARY collation does. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Decodes the slice `range` of a list written by {@link encodeItems}, touching only that slice
 * (and, for string ids, the id array). Throws an `INTERNAL` {@link KibanError} on bytes that are
 * not a list in this format (another writer, or corruption).
 */
export function decodeItems(
  stored: Uint8Array,
  range: { offset: number; limit: number },
): ScoredItem[] {
  const buf = Buffer.isBuffer(stored)
    ? stored
    : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  const format = buf.length >= HEADER ? buf.readUInt32LE(0) : 0;
  const n = buf.length >= HEADER ? buf.readUInt32LE(4) : 0;
  const valid =
    (format === NUMERIC_IDS && buf.length === HEADER + 16 * n) ||
    (format === JSON_IDS && buf.length > HEADER + 8 * n);
  if (!valid)
    throw new KibanError(
      'INTERNAL',
      `serving store: a stored list of ${buf.length} bytes is not in kiban's list format`,
    );
  const end = Math.min(n, range.offset + range.limit);
  const out: ScoredItem[] = [];
  if (range.offset >= end) return out;
  const ids =
    format === JSON_IDS ? (JSON.parse(buf.toString('utf8', HEADER + 8 * n)) as ExternalId[]) : null;
  for (let i = range.offset; i < end; i++) {
    const id = ids === null ? buf.readDoubleLE(HEADER + 8 * (n + i)) : ids[i];
    out.push({ id, score: buf.readDoubleLE(HEADER + 8 * i) });
  }
  return out;
}

/** Version metadata as stored: a JSON copy of a plain object (later mutation cannot leak in). */
export function encodeMeta(meta: unknown): string {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new InvalidArgumentError('meta', `must be a JSON object, got ${describe(meta)}`);
  }
  return encodeJson(meta, 'meta');
}

/** Throws {@link InvalidArgumentError} (field `key`) unless a KV key is a non-empty string. */
export function checkKvKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0)
    throw new InvalidArgumentError('key', `must be a non-empty string, got ${describe(key)}`);
  return key;
}

/** Serialises a KV value; `undefined`, functions, BigInts and cycles are refused (field `field`). */
export function encodeJson(value: unknown, field = 'value'): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new InvalidArgumentError(field, 'is not JSON-serialisable', { cause });
  }
  if (text === undefined)
    throw new InvalidArgumentError(field, `is not JSON-serialisable (${typeof value})`);
  return text;
}

/**
 * Options with defaults applied, frozen. An option given as `undefined` takes its default, as if
 * it were absent (so `{ prefix: maybePrefix }` works).
 */
export function withDefaults<T extends object>(
  defaults: Readonly<Required<T>>,
  options: T,
): Readonly<Required<T>> {
  const merged: Record<string, unknown> = { ...defaults };
  for (const [name, value] of Object.entries(options))
    if (value !== undefined) merged[name] = value;
  return Object.freeze(merged) as Readonly<Required<T>>;
}

/** Lets other callbacks (readers, timers) run between write batches of a long publish. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null)
    return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}

/** The one character that starts every vector space's internal list name (never a list name's). */
const VECTOR_SPACE_MARK = '@';

/**
 * The internal list name under which vectors of `space` are stored beside the ranked lists of
 * the same version: `@` + the space name, which no list name can be (see {@link NAME_PATTERN}),
 * so vectors and lists never meet, in `listKeys` or in a backend's keys.
 * @throws InvalidArgumentError (field `space`) unless `space` matches {@link NAME_PATTERN}.
 */
export function vectorSpaceList(space: unknown): string {
  if (typeof space !== 'string' || !NAME_PATTERN.test(space)) {
    throw new InvalidArgumentError(
      'space',
      `must match ${NAME_PATTERN.source}, got ${describe(space)}`,
    );
  }
  return VECTOR_SPACE_MARK + space;
}

/** Most values in one stored vector. */
export const MAX_STORED_VECTOR_DIM = 65_536;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The stored form of a vector: its float32 values as little-endian bytes (4 per value, nothing
 * else), a copy the caller may reuse. Refuses anything but a non-empty `Float32Array` of at most
 * {@link MAX_STORED_VECTOR_DIM} finite values, naming `field`.
 */
export function encodeVector(vector: unknown, field = 'vector'): Buffer {
  if (!(vector instanceof Float32Array))
    throw new InvalidArgumentError(field, `must be a Float32Array, got ${describe(vector)}`);
  if (vector.length === 0 || vector.length > MAX_STORED_VECTOR_DIM)
    throw new InvalidArgumentError(
      field,
      `must hold 1 to ${MAX_STORED_VECTOR_DIM} values, got ${vector.length}`,
    );
  for (let i = 0; i < vector.length; i++)
    if (!Number.isFinite(vector[i]))
      throw new InvalidArgumentError(field, `value ${i} is ${vector[i]}, not a finite number`);
  // Buffer.from(Uint8Array) copies: the stored bytes never alias the caller's array.
  if (LITTLE_ENDIAN)
    return Buffer.from(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
  const out = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) out.writeFloatLE(vector[i], i * 4);
  return out;
}

/**
 * A vector written by {@link encodeVector}, as a fresh `Float32Array`. Throws an `INTERNAL`
 * {@link KibanError} on bytes that are not one (a length that is not a positive multiple of 4).
 */
export function decodeVector(stored: Uint8Array): Float32Array {
  if (stored.byteLength === 0 || stored.byteLength % 4 !== 0)
    throw new KibanError(
      'INTERNAL',
      `serving store: a stored vector of ${stored.byteLength} bytes is not float32 values`,
    );
  const out = new Float32Array(stored.byteLength / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(stored);
    return out;
  }
  const view = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
