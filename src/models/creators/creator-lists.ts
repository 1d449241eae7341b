/**
 * User → creator recommendations (issue 22): items have creators (artists, sellers, authors), and
 * creators are recommended from item scores aggregated per creator, from direct creator
 * interactions (follows, plays of the creator itself) through creator–creator cosine, or from a
 * blend of both. Everything works on packed ranked lists ({@link PackedScores}: the candidates
 * step's format) on dense ids, so that the publish step and the benchmarks share one code path.
 *
 * @module
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import { selectTopK } from '../top-k.js';

/**
 * Ranked lists packed end to end (the shape of the candidates step's `PackedLists`): query q's
 * list is `ids/scores[offsets[q] .. offsets[q+1])`, best first.
 */
export interface PackedScores {
  offsets: Int32Array;
  ids: Int32Array;
  scores: Float32Array;
}

/** Dense creator ids of a catalogue's items. */
export interface CreatorIndex {
  /** Creator names by dense creator id, ascending (code-unit order). */
  names: readonly string[];
  /** Each dense item's creator, or -1 for an item without one. */
  itemCreator: Int32Array;
  /** Items of each creator (in the catalogue given), the size normalisation's denominator. */
  itemCounts: Int32Array;
  /** Dense id of a creator name, or -1. */
  indexOf(name: string): number;
}

/**
 * Numbers the distinct creators of `creators` (indexed by dense item id, null for none) and maps
 * every item to its creator.
 *
 * @example
 * const index = creatorIndex(['a', 'b', 'a', null]); // names ['a','b'], itemCreator [0,1,0,-1]
 */
export function creatorIndex(creators: readonly (string | null)[]): CreatorIndex {
  const names = [...new Set(creators.filter((c): c is string => c !== null))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const byName = new Map(names.map((name, c) => [name, c]));
  const itemCreator = new Int32Array(creators.length).fill(-1);
  const itemCounts = new Int32Array(names.length);
  for (let i = 0; i < creators.length; i++) {
    const name = creators[i];
    if (name === null) continue;
    const c = byName.get(name)!;
    itemCreator[i] = c;
    itemCounts[c]++;
  }
  return { names, itemCreator, itemCounts, indexOf: (name) => byName.get(name) ?? -1 };
}

/** Defaults of {@link aggregateByCreator}. */
export const CREATOR_AGGREGATION_DEFAULTS = Object.freeze({
  /** Creators kept per list. */
  k: 50,
  /**
   * A creator's summed item contributions are divided by (its item count)^sizePower: 0 is a
   * plain sum (prolific creators win by sheer number), 1 the mean over the whole catalogue (one
   * hit of a prolific creator counts for little); 0.5 sits between.
   */
  sizePower: 0.5,
});

/** Options of {@link aggregateByCreator}. */
export interface CreatorAggregationOptions {
  /** @defaultValue {@link CREATOR_AGGREGATION_DEFAULTS}.k */
  k?: number;
  /** @defaultValue {@link CREATOR_AGGREGATION_DEFAULTS}.sizePower */
  sizePower?: number;
  /**
   * Which output row each input list adds into: identity (the default) for user lists; the
   * item's creator (`itemCreator`) for related-item lists, which makes creator → creator lists
   * from all of a creator's items. A list whose output is -1 is skipped.
   */
  outputOf?: Int32Array;
  /** Number of output rows. @defaultValue the number of input lists */
  outputs?: number;
  /** Rows × creators: creators left out of each output row (e.g. those a user already follows). */
  exclude?: CsrMatrix | null;
  /** Leave output row r's own creator r out (for creator → creator lists). @defaultValue false */
  excludeSelf?: boolean;
}

/**
 * Creator lists from item lists: each item's contribution is its score divided by its list's
 * best score (negative scores count 0; a list whose best score is not positive contributes
 * 1/(rank+1) per item, so models with any score scale aggregate alike), summed per creator and
 * divided by (creator's item count)^sizePower. Items without a creator are skipped. Each output
 * row keeps its `k` best creators, best first, ties to the lower creator id.
 *
 * @throws InvalidArgumentError for a non-positive `k` or a negative `sizePower`.
 */
export function aggregateByCreator(
  lists: PackedScores,
  creators: Pick<CreatorIndex, 'itemCreator' | 'itemCounts'>,
  options: CreatorAggregationOptions = {},
): PackedScores {
  const k = options.k ?? CREATOR_AGGREGATION_DEFAULTS.k;
  const power = options.sizePower ?? CREATOR_AGGREGATION_DEFAULTS.sizePower;
  checkK(k);
  if (!(power >= 0)) throw new InvalidArgumentError('sizePower', `must be ≥ 0, got ${power}`);
  const nLists = lists.offsets.length - 1;
  const outputs = options.outputs ?? nLists;
  const { itemCreator, itemCounts } = creators;
  const nCreators = itemCounts.length;
  const divisor = Float32Array.from(itemCounts, (n) => (n > 0 ? n ** power : 1));
  // Input lists by output row, so that each output row is accumulated in one pass.
  const byOutput = groupRows(nLists, outputs, options.outputOf);
  const acc = new SparseAccumulator(nCreators);
  const out = new PackedBuilder(outputs, k);
  for (let r = 0; r < outputs; r++) {
    for (let e = byOutput.indptr[r]; e < byOutput.indptr[r + 1]; e++) {
      const q = byOutput.indices[e];
      const from = lists.offsets[q];
      const to = lists.offsets[q + 1];
      let best = 0;
      for (let t = from; t < to; t++) if (lists.scores[t] > best) best = lists.scores[t];
      for (let t = from; t < to; t++) {
        const c = itemCreator[lists.ids[t]];
        if (c < 0) continue;
        const w = best > 0 ? Math.max(lists.scores[t], 0) / best : 1 / (t - from + 1);
        if (w > 0) acc.add(c, w / divisor[c]);
      }
    }
    if (options.excludeSelf === true && r < nCreators) acc.drop(r);
    if (options.exclude != null) dropRow(acc, options.exclude, r);
    out.push(acc, k);
    acc.clear();
  }
  return out.build();
}

/**
 * Per query, `(1 − weight) · a/max(a) + weight · b/max(b)` over the union of both lists (an
 * entry missing from one list scores 0 there; negative scores count 0, and a list whose best
 * score is not positive contributes 1/(rank+1) per entry, as in {@link aggregateByCreator}),
 * keeping the `k` best, best first. `a` and `b` have the same number of queries; an
 * `exclude` row's ids are left out.
 *
 * @throws InvalidArgumentError when the lists differ in query count, `weight` is outside [0, 1]
 *   or `k` is not positive.
 */
export function blendLists(
  a: PackedScores,
  b: PackedScores,
  weight: number,
  options: { k: number; size: number; exclude?: CsrMatrix | null },
): PackedScores {
  const n = a.offsets.length - 1;
  if (b.offsets.length - 1 !== n)
    throw new InvalidArgumentError(
      'b',
      `holds ${b.offsets.length - 1} lists, and a holds ${n}: blend lists of the same queries`,
    );
  if (!(weight >= 0 && weight <= 1))
    throw new InvalidArgumentError('weight', `must lie in [0, 1], got ${weight}`);
  checkK(options.k);
  const acc = new SparseAccumulator(options.size);
  const out = new PackedBuilder(n, options.k);
  const addScaled = (lists: PackedScores, q: number, w: number): void => {
    if (w === 0) return;
    let best = 0;
    for (let t = lists.offsets[q]; t < lists.offsets[q + 1]; t++)
      if (lists.scores[t] > best) best = lists.scores[t];
    const from = lists.offsets[q];
    for (let t = from; t < lists.offsets[q + 1]; t++)
      acc.add(
        lists.ids[t],
        w * (best > 0 ? Math.max(lists.scores[t], 0) / best : 1 / (t - from + 1)),
      );
  };
  for (let q = 0; q < n; q++) {
    addScaled(a, q, 1 - weight);
    addScaled(b, q, weight);
    if (options.exclude != null) dropRow(acc, options.exclude, q);
    out.push(acc, options.k);
    acc.clear();
  }
  return out.build();
}

/**
 * For each column of `rows` (a users × creators matrix), the `k` other columns with the highest
 * cosine similarity over the rows, best first: O(Σ_row n_row²) work.
 */
export function cosineNeighbours(rows: CsrMatrix, k: number): PackedScores {
  checkK(k);
  const cols = rows.transpose();
  const norms = new Float32Array(cols.rows);
  for (let c = 0; c < cols.rows; c++) {
    let s = 0;
    for (let e = cols.indptr[c]; e < cols.indptr[c + 1]; e++) s += cols.values[e] ** 2;
    norms[c] = Math.sqrt(s);
  }
  const acc = new SparseAccumulator(cols.rows);
  const out = new PackedBuilder(cols.rows, k);
  for (let c = 0; c < cols.rows; c++) {
    for (let e = cols.indptr[c]; e < cols.indptr[c + 1]; e++) {
      const u = cols.indices[e];
      const w = cols.values[e];
      for (let f = rows.indptr[u]; f < rows.indptr[u + 1]; f++)
        acc.add(rows.indices[f], w * rows.values[f]);
    }
    acc.drop(c);
    for (let t = 0; t < acc.count; t++) {
      const d = acc.touched[t];
      if (acc.values[d] !== -Infinity) acc.values[d] /= norms[c] * norms[d];
    }
    out.push(acc, k);
    acc.clear();
  }
  return out.build();
}

/**
 * Neighbourhood scores: for each row of `profile` (users × creators, e.g. the creators a user
 * follows, with weights), Σ over its entries c' of weight · sim(c', c) over c's entries of
 * `neighbours` (from {@link cosineNeighbours}), the `k` best per row, best first, leaving out
 * the row's own entries and those of `exclude`.
 */
export function neighbourhoodScores(
  profile: CsrMatrix,
  neighbours: PackedScores,
  options: { k: number; exclude?: CsrMatrix | null },
): PackedScores {
  checkK(options.k);
  const acc = new SparseAccumulator(profile.cols);
  const out = new PackedBuilder(profile.rows, options.k);
  for (let u = 0; u < profile.rows; u++) {
    for (let e = profile.indptr[u]; e < profile.indptr[u + 1]; e++) {
      const c = profile.indices[e];
      const w = profile.values[e];
      for (let t = neighbours.offsets[c]; t < neighbours.offsets[c + 1]; t++)
        acc.add(neighbours.ids[t], w * neighbours.scores[t]);
    }
    dropRow(acc, profile, u);
    if (options.exclude != null) dropRow(acc, options.exclude, u);
    out.push(acc, options.k);
    acc.clear();
  }
  return out.build();
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k <= 0)
    throw new InvalidArgumentError('k', `must be a positive integer, got ${k}`);
}

/** Input rows grouped by output row (CSR: output → inputs); identity without `outputOf`. */
function groupRows(n: number, outputs: number, outputOf: Int32Array | undefined): CsrMatrix {
  if (outputOf !== undefined && outputOf.length !== n)
    throw new InvalidArgumentError(
      'outputOf',
      `has ${outputOf.length} entries for ${n} lists; give one output row per list`,
    );
  const rows: number[] = [];
  const cols: number[] = [];
  for (let q = 0; q < n; q++) {
    const r = outputOf === undefined ? q : outputOf[q];
    if (r < 0) continue;
    if (r >= outputs)
      throw new InvalidArgumentError('outputOf', `row ${q} goes to ${r}, past ${outputs} outputs`);
    rows.push(r);
    cols.push(q);
  }
  return CsrMatrix.fromCoordinates(
    outputs,
    Math.max(n, 1),
    Int32Array.from(rows),
    Int32Array.from(cols),
    null,
  );
}

/** Sets row r's entries of `matrix` to -Infinity in `acc`, so they are never selected. */
function dropRow(acc: SparseAccumulator, matrix: CsrMatrix, r: number): void {
  if (r >= matrix.rows) return;
  for (let e = matrix.indptr[r]; e < matrix.indptr[r + 1]; e++) acc.drop(matrix.indices[e]);
}

/** Scores over a dense id range, touched sparsely and cleared in O(touched). */
class SparseAccumulator {
  readonly values: Float32Array;
  readonly touched: Int32Array;
  private readonly seen: Uint8Array;
  count = 0;

  constructor(size: number) {
    this.values = new Float32Array(size);
    this.touched = new Int32Array(size);
    this.seen = new Uint8Array(size);
  }

  add(i: number, v: number): void {
    if (this.seen[i] === 0) {
      this.seen[i] = 1;
      this.touched[this.count++] = i;
    }
    this.values[i] += v;
  }

  /** Leaves `i` out of the selection (only matters when it was touched). */
  drop(i: number): void {
    if (this.seen[i] === 1) this.values[i] = -Infinity;
  }

  clear(): void {
    for (let t = 0; t < this.count; t++) {
      this.values[this.touched[t]] = 0;
      this.seen[this.touched[t]] = 0;
    }
    this.count = 0;
  }
}

/** Appends top-k selections of accumulators as packed lists. */
class PackedBuilder {
  private readonly offsets: Int32Array;
  private ids: Int32Array;
  private scores: Float32Array;
  private q = 0;

  constructor(
    rows: number,
    private readonly k: number,
  ) {
    this.offsets = new Int32Array(rows + 1);
    this.ids = new Int32Array(Math.min(rows * k, 1 << 16));
    this.scores = new Float32Array(this.ids.length);
  }

  push(acc: SparseAccumulator, k: number): void {
    const at = this.offsets[this.q];
    if (this.ids.length < at + this.k) {
      const size = Math.max(at + this.k, this.ids.length * 2);
      const ids = new Int32Array(size);
      ids.set(this.ids);
      const scores = new Float32Array(size);
      scores.set(this.scores);
      this.ids = ids;
      this.scores = scores;
    }
    // Non-positive totals carry no evidence (all contributions clamp at 0): never recommended.
    for (let t = 0; t < acc.count; t++)
      if (!(acc.values[acc.touched[t]] > 0)) acc.values[acc.touched[t]] = -Infinity;
    const n = selectTopK(acc.values, k, this.ids, this.scores, at, acc.touched, acc.count);
    this.offsets[++this.q] = at + n;
  }

  build(): PackedScores {
    const end = this.offsets[this.q];
    return {
      offsets: this.offsets,
      ids: this.ids.slice(0, end),
      scores: this.scores.slice(0, end),
    };
  }
}
