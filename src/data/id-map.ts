import { InvalidArgumentError } from '../core/errors.js';

/** An identifier as it appears outside kiban: an integer id or a string id. */
export type ExternalId = number | string;

/** A column of external ids: integers in a Float64Array (exact up to 2^53) or strings. */
export type ExternalIdColumn = Float64Array | readonly string[];

/**
 * A bijection between external ids and dense indices 0..size-1. Indices follow ascending id
 * order (numeric for integer ids, code-unit order for strings), so "ties break by lower index"
 * inside a model means "ties break by lower id" outside it.
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
    const unique = [...new Set(column)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new IdMap(unique);
  }

  /** Restores a map saved with {@link IdMap.toJSON}; the ids must be distinct and ascending. */
  static fromSortedIds(ids: readonly ExternalId[]): IdMap {
    for (let i = 1; i < ids.length; i++) {
      if (!(ids[i - 1] < ids[i])) {
        throw new InvalidArgumentError('ids', `not strictly ascending at position ${i}`);
      }
    }
    return new IdMap([...ids]);
  }

  /** Number of distinct ids. */
  get size(): number {
    return this.sortedIds.length;
  }

  /** Dense index of `id`, or -1 when the id is unknown. */
  indexOf(id: ExternalId): number {
    return this.lookup.get(id) ?? -1;
  }

  /** External id at dense `index`; throws on an index out of range. */
  idAt(index: number): ExternalId {
    if (!Number.isInteger(index) || index < 0 || index >= this.sortedIds.length) {
      throw new InvalidArgumentError('index', `${index} is outside 0..${this.sortedIds.length - 1}`);
    }
    return this.sortedIds[index];
  }

  /** Maps a whole column to dense indices; unknown ids become -1. */
  indexColumn(column: ExternalIdColumn): Int32Array {
    const out = new Int32Array(column.length);
    for (let i = 0; i < column.length; i++) out[i] = this.lookup.get(column[i]) ?? -1;
    return out;
  }

  /** The ids in index order, for saving. */
  toJSON(): ExternalId[] {
    return [...this.sortedIds];
  }
}
