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

/**
 * A bijection between external ids and dense indices 0..size-1. Indices follow ascending id
 * order ({@link compareExternalIds}), so "ties break by lower index" inside a model means "ties
 * break by lower id" outside it.
 */
export class IdMap {
  private readonly lookup: Map<ExternalId, number>;

  private constructor(private readonly sortedIds: readonly ExternalId[]) {
    this.lookup = new Map();
    for (let i = 0; i < sortedIds.length; i++) this.lookup.set(sortedIds[i], i);
  }

  /** Builds a map over the distinct ids of a column. */
  static fromColumn(column: ExternalIdColumn): IdMap {
    if (column instanceof Float64Array) {
      const sorted = Float64Array.from(column).sort();
      const unique: number[] = [];
      for (let i = 0; i < sorted.length; i++) {
        if (i === 0 || sorted[i] !== sorted[i - 1]) unique.push(sorted[i]);
      }
      return new IdMap(unique);
    }
    const unique = [...new Set(column)];
    const keys = unique.map(numericKey);
    const order = Array.from(unique, (_, i) => i).sort((x, y) =>
      compareKeys(unique[x], keys[x], unique[y], keys[y]),
    );
    return new IdMap(order.map((i) => unique[i]));
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
