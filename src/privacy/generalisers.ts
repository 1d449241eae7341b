/**
 * Generalisation hierarchies for quasi-identifiers: numeric bands, date truncation, prefix
 * truncation, category maps and frequency tops. Level 0 is always the value itself, levels
 * 1…m are the spec's, level m+1 is `*` (the column fully suppressed).
 */

/** A date unit of {@link GeneraliserSpec} `date`, finest first. */
export type DateUnit = 'hour' | 'day' | 'week' | 'month' | 'quarter' | 'year';

/**
 * How a column is generalised, one entry per level above the value itself (finest first):
 * - `band`: numeric bands of these widths, each a multiple of the previous one
 *   (`[5, 10, 20]`), labelled `[20,30)`; bands start at `origin` (default 0);
 * - `date`: a date or timestamp truncated to these units, labelled `2026-12-07` (day),
 *   `2026-W49` (ISO week), `2026-12` (month), `2026-Q4` (quarter), `2026` (year), `2026-12-07T13` (hour);
 * - `prefix`: the first n characters followed by `*` (`[4, 3, 2]`: `1234*`, `123*`, `12*`);
 * - `map`: category maps, each mapping every value of the level below to a group label
 *   (level 1 maps values, level 2 maps level-1 labels, …); a value a map lacks is an error;
 * - `top`: keep the n most frequent values (ties by value) and label the rest `other` (`[10, 3]`).
 * Nulls stay null at every level below `*`.
 */
export type GeneraliserSpec =
  | { band: readonly number[]; origin?: number }
  | { date: readonly DateUnit[] }
  | { prefix: readonly number[] }
  | { map: readonly Readonly<Record<string, string>>[] }
  | { top: readonly number[] };

/** The label of the top level: the column fully suppressed. */
export const SUPPRESSED_LABEL = '*';

/**
 * A column's hierarchy over its distinct values: for each level, the group of each value, the
 * group's label and its information loss. Built by {@link buildHierarchy}.
 */
export interface Hierarchy {
  /** The column it generalises (for messages). */
  readonly column: string;
  readonly spec: GeneraliserSpec;
  /** Number of levels: the value (0), the spec's levels, and `*`. */
  readonly levels: number;
  /** A readable name per level, e.g. `value`, `band 10`, `week`, `prefix 3`, `map 1`, `top 3`, `*`. */
  readonly names: readonly string[];
  /** The distinct values it was built over (null included when present), in the given order. */
  readonly values: readonly (string | null)[];
  /** groupOf[level][i]: the group at `level` of `values[i]` (dense, 0-based per level). */
  readonly groupOf: readonly Int32Array[];
  /** labels[level][g]: the label of group g at `level` (null for the null value's group below `*`). */
  readonly labels: readonly (readonly (string | null)[])[];
  /**
   * loss[level][g] in [0, 1]: Iyengar's loss metric of a value generalised to group g — the
   * group's share of the column's domain (band width ÷ range, date span ÷ data span, for
   * categorical levels (distinct values in the group − 1) ÷ (distinct values − 1)); 0 at level 0, 1 at `*`.
   */
  readonly loss: readonly Float64Array[];
}

/**
 * Builds `column`'s hierarchy over its distinct `values` (`counts[i]` rows each, used by `top`).
 * @throws DataError naming the column and the value when a value does not fit the spec (not a
 *   number for `band`, not a date for `date`, missing from a `map`).
 * @throws InvalidArgumentError naming the field for a malformed spec (widths not increasing
 *   multiples, prefix lengths not decreasing, empty levels…).
 */
export function buildHierarchy(
  column: string,
  spec: GeneraliserSpec,
  values: readonly (string | null)[],
  counts?: ArrayLike<number>,
): Hierarchy {
  void column;
  void spec;
  void values;
  void counts;
  throw new Error('not implemented');
}

/**
 * A DuckDB SQL expression (VARCHAR) giving `expr`'s label at `level` of `hierarchy`, the same
 * label {@link Hierarchy.labels} holds for that value: what the export runs over every row.
 * `band`, `date` and `prefix` are computed in SQL; `map` and `top` become a CASE over the
 * hierarchy's values. Level 0 is `CAST(expr AS VARCHAR)`; the top level is `'*'`.
 */
export function generaliseSql(hierarchy: Hierarchy, level: number, expr: string): string {
  void hierarchy;
  void level;
  void expr;
  throw new Error('not implemented');
}
