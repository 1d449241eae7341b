import { lowerBound } from '../core/lower-bound.js';
import { InvalidArgumentError } from '../core/errors.js';

/** An identifier as it appears outside kiban: an integer id or a string id. */
export type ExternalId = number | string;

/** A column of external ids: integers in a Float64Array (exact up to 2^53) or strings. */
export type ExternalIdColumn = Float64Array | readonly string[];

/**
 * The order of external ids that dense indices follow: numbers numerically; strings that spell
 * a safe integer in canonical form (`"7"`, `"-3"`, not `"007"` or `"+7"`) numerically and before
 * every other string; other strings in code-unit order. So string ids that look like numbers
 * (MovieLens read as strings) get the same dense indices, and models the same results, as the
 * same ids read as integers. Returns a negative, zero or positive number.
 */
export function compareExternalIds(a: ExternalId, b: ExternalId): number {
  return compareKeys(a, numericKey(a), b, numericKey(b));
}

/** The number a canonical safe-integer string (or a number) stands for, else NaN. */
function numericKey(id: ExternalId): number {
  if (typeof id === 'number') return id;
  if (id.length === 0 || id.length > 17 || !/^-?(0|[1-9][0-9]*)$/.test(id) || id === '-0')
    return NaN;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : NaN;
}

function compareKeys(a: ExternalId, ka: number, b: ExternalId, kb: number): number {
  const na = !Number.isNaN(ka);
  const nb = !Number.isNaN(kb);
  if (na && nb) return ka - kb || (typeof a === typeof b ? 0 : typeof a === 'number' ? -1 : 1);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A column encoded on an {@link IdMap}: the map and each row's dense index. */
export interface EncodedIdColumn {
  readonly map: IdMap;
  /** Dense index of each row's id, in row order; same length as the column. */
  readonly codes: Int32Array;
}

/**
 * An integer column encoded on an {@link IdMap} through a direct table: the code of id `x` is
 * `table[x - base] - 1`.
 */
export interface IdTable {
  readonly map: IdMap;
  /** The column itself. */
  readonly ids: Float64Array;
  readonly table: Int32Array;
  readonly base: number;
}

// Encodings computed where the column was made (by DuckDB, while reading it), keyed by the
// column itself so that no public type has to carry them.
const knownEncodings = new WeakMap<ExternalIdColumn, EncodedIdColumn>();

/**
 * Records that `column` is encoded as `codes` over the ids `sortedIds`, so that
 * {@link IdMap.encode} of that very column (say, from `Interactions.fromLog`) returns it without
 * hashing a row. The caller guarantees `column[r] === sortedIds[codes[r]]` for every row and must
 * not change the column afterwards; `sortedIds` must be strictly ascending by
 * {@link compareExternalIds}, which is checked (returns false and records nothing otherwise).
 */
export function recordEncoding(
  column: readonly string[],
  sortedIds: readonly string[],
  codes: Int32Array,
): boolean {
  for (let i = 1; i < sortedIds.length; i++)
    if (compareExternalIds(sortedIds[i - 1], sortedIds[i]) >= 0) return false;
  let map: IdMap;
  try {
    map = IdMap.fromSortedIds(sortedIds);
  } catch {
    return false;
  }
  if (codes.length !== column.length) return false;
  knownEncodings.set(column, { map, codes });
  return true;
}

/**
 * Integer ids spanning at most this many values (or 4× the row count, if larger) are indexed
 * through a direct table instead of a sort: a counting pass is linear and cache-friendly.
 */
const DIRECT_TABLE_SPAN = 1 << 22;

/**
 * A bijection between external ids and dense indices 0..size-1. Indices follow ascending id
 * order ({@link compareExternalIds}), so "ties break by lower index" inside a model means "ties
 * break by lower id" outside it.
 */
export class IdMap {
  // Built on first lookup: training from an encoded column never needs it, and for a million
  // ids it is the most expensive part of the map.
  private lookupCache: Map<ExternalId, number> | undefined;

  private constructor(private readonly sortedIds: readonly ExternalId[]) {}

  private get lookup(): Map<ExternalId, number> {
    if (this.lookupCache === undefined) {
      const lookup = new Map<ExternalId, number>();
      for (let i = 0; i < this.sortedIds.length; i++) lookup.set(this.sortedIds[i], i);
      this.lookupCache = lookup;
    }
    return this.lookupCache;
  }

  /** Builds a map over the distinct ids of a column. */
  static fromColumn(column: ExternalIdColumn): IdMap {
    return IdMap.encode(column).map;
  }

  /**
   * Builds a map over the distinct ids of a column and, in the same pass, each row's dense
   * index: `codes[r] === map.indexOf(column[r])`. Integer columns are indexed without any
   * comparator sort (a direct table when the ids span a compact range, a native typed-array
   * sort otherwise); string columns hash each row once and sort only the distinct ids.
   */
  static encode(column: ExternalIdColumn): EncodedIdColumn {
    return IdMap.encodeOwned(column);
  }

  /**
   * {@link IdMap.encode}, saying also whether the codes are the caller's own: true when this
   * call computed them (the caller may overwrite them, say to build a matrix in their memory),
   * false when they are an encoding recorded with the column, which every caller shares.
   */
  static encodeOwned(column: ExternalIdColumn): EncodedIdColumn & { readonly owned: boolean } {
    const known = knownEncodings.get(column);
    if (known !== undefined) return { ...known, owned: false };
    const { ids, codes } =
      column instanceof Float64Array ? encodeNumbers(column) : encodeStrings(column);
    return { map: new IdMap(ids), codes, owned: true };
  }

  /**
   * The encoding of a column of integer ids spanning a compact range as a lookup table instead
   * of one code per row: the code of id `x` is `table[x - base] - 1`. For a caller that reads
   * the ids once more anyway (building a matrix), this saves writing and reading the codes.
   * Null for other columns (strings, sparse or fractional ids, or a recorded encoding), which
   * take {@link IdMap.encode}.
   */
  static encodeAsTable(column: ExternalIdColumn): IdTable | null {
    if (!(column instanceof Float64Array) || knownEncodings.has(column)) return null;
    const direct = directTable(column, null);
    return direct === null
      ? null
      : { map: new IdMap(direct.ids), ids: column, table: direct.table, base: direct.base };
  }

  /**
   * Restores a map saved with {@link IdMap.toJSON}, keeping its indices; the ids must be
   * strictly ascending by {@link compareExternalIds} (or, as artifacts saved before that order
   * have them, by code units).
   */
  static fromSortedIds(ids: readonly ExternalId[]): IdMap {
    const ascending = (before: (a: ExternalId, b: ExternalId) => boolean): number => {
      for (let i = 1; i < ids.length; i++) if (!before(ids[i - 1], ids[i])) return i;
      return 0;
    };
    const at = ascending((a, b) => compareExternalIds(a, b) < 0);
    if (at > 0 && ascending((a, b) => typeof a === typeof b && a < b) > 0) {
      throw new InvalidArgumentError('ids', `not strictly ascending at position ${at}`);
    }
    return new IdMap([...ids]);
  }

  /** Number of distinct ids. */
  get size(): number {
    return this.sortedIds.length;
  }

  /**
   * Dense index of `id`, or -1 when the id is unknown. A number and its canonical decimal string
   * are the same id (`589` finds `"589"` and the other way round, `"007"` does not find `7`), so
   * a model trained on integer ids answers string ids read later, and vice versa.
   */
  indexOf(id: ExternalId): number {
    return this.lookup.get(id) ?? this.lookupOther(id);
  }

  private lookupOther(id: ExternalId): number {
    if (typeof id === 'number') return this.lookup.get(String(id)) ?? -1;
    const n = numericKey(id);
    return Number.isNaN(n) ? -1 : (this.lookup.get(n) ?? -1);
  }

  /** External id at dense `index`; throws on an index out of range. */
  idAt(index: number): ExternalId {
    if (!Number.isInteger(index) || index < 0 || index >= this.sortedIds.length) {
      throw new InvalidArgumentError(
        'index',
        `${index} is outside 0..${this.sortedIds.length - 1}`,
      );
    }
    return this.sortedIds[index];
  }

  /** Maps a whole column to dense indices (as {@link IdMap.indexOf}); unknown ids become -1. */
  indexColumn(column: ExternalIdColumn): Int32Array {
    const out = new Int32Array(column.length);
    for (let i = 0; i < column.length; i++)
      out[i] = this.lookup.get(column[i]) ?? this.lookupOther(column[i]);
    return out;
  }

  /** The ids in index order, for saving. */
  toJSON(): ExternalId[] {
    return [...this.sortedIds];
  }
}

/** Sorted distinct ids and each row's position among them. */
interface Encoded {
  ids: ExternalId[];
  codes: Int32Array;
}

function encodeNumbers(column: Float64Array): Encoded {
  const n = column.length;
  const codes = new Int32Array(n);
  const direct = directTable(column, codes);
  if (direct !== null) {
    // The marking pass left each row's offset in codes; the table turns offsets into codes.
    const { table } = direct;
    for (let r = 0; r < n; r++) codes[r] = table[codes[r]] - 1;
    return { ids: direct.ids, codes };
  }
  const sorted = Float64Array.from(column).sort();
  let size = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[size++] = sorted[i];
  }
  const unique = sorted.subarray(0, size);
  for (let r = 0; r < n; r++) codes[r] = lowerBound(unique, column[r]);
  return { ids: Array.from(unique), codes };
}

/** Sorted distinct integer ids and the table from `id - base` to code + 1 (0: absent). */
interface DirectTable {
  ids: number[];
  table: Int32Array;
  base: number;
}

/**
 * The direct table of a column of integer ids spanning a compact range, or null. `offsets`,
 * when given, receives each row's `id - base` (and is partly written when the answer is null).
 */
function directTable(column: Float64Array, offsets: Int32Array | null): DirectTable | null {
  // The usual case first, in one pass with no min/max pass before it: integer ids in
  // [0, DIRECT_TABLE_SPAN). The table's pages that no id touches are never mapped.
  const usual = markDirect(column, offsets, 0, DIRECT_TABLE_SPAN);
  if (usual !== null) return usual;
  const n = column.length;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < n; r++) {
    const x = column[r];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const span = max - min + 1;
  return n > 0 && span <= Math.max(DIRECT_TABLE_SPAN, 4 * n)
    ? markDirect(column, offsets, min, span)
    : null;
}

/**
 * Marks each id of the column present in a table over [base, base + span) and numbers the
 * present ones in ascending order; null when an id is not an integer in that range.
 */
function markDirect(
  column: Float64Array,
  offsets: Int32Array | null,
  base: number,
  span: number,
): DirectTable | null {
  const n = column.length;
  const table = new Int32Array(span);
  let lo = span;
  let hi = -1;
  for (let r = 0; r < n; r++) {
    const offset = column[r] - base;
    const k = offset | 0;
    if (k !== offset || k < 0 || k >= span) return null;
    if (offsets !== null) offsets[r] = k;
    table[k] = 1;
    if (k < lo) lo = k;
    if (k > hi) hi = k;
  }
  let size = 0;
  for (let k = lo; k <= hi; k++) if (table[k] !== 0) table[k] = ++size;
  const ids = new Array<number>(size);
  for (let k = lo; k <= hi; k++) if (table[k] !== 0) ids[table[k] - 1] = k + base;
  return { ids, table, base };
}

function encodeStrings(column: readonly string[]): Encoded {
  const n = column.length;
  const codes = new Int32Array(n);
  // First-seen numbering in one hash pass, then only the distinct ids are sorted.
  const seen = new Map<string, number>();
  const unique: string[] = [];
  for (let r = 0; r < n; r++) {
    const id = column[r];
    let code = seen.get(id);
    if (code === undefined) {
      code = unique.length;
      seen.set(id, code);
      unique.push(id);
    }
    codes[r] = code;
  }
  const keys = unique.map(numericKey);
  const order = Int32Array.from(unique, (_, i) => i).sort((x, y) =>
    compareKeys(unique[x], keys[x], unique[y], keys[y]),
  );
  const rank = new Int32Array(unique.length);
  const sortedIds = new Array<string>(unique.length);
  for (let k = 0; k < order.length; k++) {
    rank[order[k]] = k;
    sortedIds[k] = unique[order[k]];
  }
  for (let r = 0; r < n; r++) codes[r] = rank[codes[r]];
  return { ids: sortedIds, codes };
}
