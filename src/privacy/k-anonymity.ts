/**
 * k-anonymity (with optional distinct l-diversity) by full-domain generalisation and record
 * suppression: the least information loss over a lattice of per-column generalisation levels
 * such that suppressed records stay under a bound.
 */
import type { Hierarchy } from './generalisers.js';

/**
 * The data as a histogram of distinct quasi-identifier tuples: tuple t has value index
 * `codes[c][t]` in `hierarchies[c].values` for each column c, and `counts[t]` rows. With
 * l-diversity, tuples are split by the sensitive value too: `sensitive[t]` is its code, or -1
 * when the sensitive column does not apply to those rows (null).
 */
export interface TupleHistogram {
  readonly codes: readonly Int32Array[];
  readonly counts: Float64Array;
  readonly sensitive?: Int32Array;
}

/** Options of {@link findKAnonymous}. */
export interface KAnonymityOptions {
  /** Every released class has at least k rows. */
  k: number;
  /**
   * Distinct l-diversity: every released class holding sensitive values has at least l
   * distinct ones (classes with none are exempt). Needs `sensitive` in the histogram. @defaultValue none
   */
  l?: number;
  /** Largest share of rows that may be suppressed, in [0, 1]. @defaultValue 0.05 */
  maxSuppression?: number;
  /** Per column, the lowest level the search may choose. @defaultValue all 0 */
  minLevel?: readonly number[];
  /** Per column, the highest level it may choose. @defaultValue each hierarchy's top */
  maxLevel?: readonly number[];
}

/** The generalisation chosen and what it costs. */
export interface KAnonymitySolution {
  /** The chosen level per column. */
  levels: number[];
  /** Their names (`Hierarchy.names`). */
  levelNames: string[];
  rows: number;
  suppressedRows: number;
  /** suppressedRows ÷ rows. */
  suppression: number;
  /** Released equivalence classes. */
  classes: number;
  smallestClass: number;
  averageClassSize: number;
  /** Mean loss metric over all rows and columns, a suppressed row counting 1: in [0, 1]. */
  loss: number;
  /** Discernibility: Σ (class size)² over released classes + suppressed rows × rows. */
  discernibility: number;
  /** Per input tuple, 1 when its rows are suppressed. */
  suppressedTuples: Uint8Array;
  /** Lattice nodes whose classes were computed, and the lattice's size. */
  nodesEvaluated: number;
  latticeSize: number;
}

/**
 * Searches the lattice of per-column levels for the node of least `loss` whose suppression
 * (rows in classes smaller than k, or not l-diverse) is at most `maxSuppression`.
 * @throws InvalidArgumentError naming the field for k < 1, l < 1 without `sensitive`, a bound outside [0, 1].
 * @throws DataError when no node meets the bound, with the smallest suppression found.
 */
export function findKAnonymous(
  columns: readonly Hierarchy[],
  histogram: TupleHistogram,
  options: KAnonymityOptions,
): KAnonymitySolution {
  void columns;
  void histogram;
  void options;
  throw new Error('not implemented');
}
