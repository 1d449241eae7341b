/**
 * Evaluation of one node of the generalisation lattice: the equivalence classes a choice of
 * per-column levels makes of a tuple histogram, which of them are suppressed, and the loss.
 * Kept apart from the search in `k-anonymity.ts`, which decides which nodes to evaluate.
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

/** What one lattice node costs: see `KAnonymitySolution` for the meaning of each field. */
export interface NodeEvaluation {
  suppressedRows: number;
  classes: number;
  smallestClass: number;
  releasedRows: number;
  loss: number;
  discernibility: number;
  /** Per tuple, 1 when suppressed; only when asked for. */
  suppressedTuples?: Uint8Array;
}

const MAX_EXACT = 2 ** 53;

/**
 * Evaluates lattice nodes over one histogram. Buffers are allocated once and reused, and each
 * column's group per tuple at each level is computed once, because the search evaluates many
 * nodes over the same tuples.
 */
export class LatticeEvaluator {
  private readonly tuples: number;
  private readonly rows: number;
  private readonly groupCache: (Int32Array | undefined)[][];
  private readonly classOf: Int32Array;
  private readonly classRows: Float64Array;
  private readonly classDistinct: Int32Array;
  private readonly tupleLoss: Float64Array;
  private readonly sensitiveRadix: number;

  /**
   * @param columns the hierarchies, one per histogram column
   * @param histogram tuples whose codes index the hierarchies' values (checked by the caller)
   * @param k smallest released class
   * @param l smallest number of distinct sensitive values in a class holding any, or undefined
   */
  constructor(
    private readonly columns: readonly Hierarchy[],
    private readonly histogram: TupleHistogram,
    private readonly k: number,
    private readonly l: number | undefined,
  ) {
    this.tuples = histogram.counts.length;
    let rows = 0;
    for (let t = 0; t < this.tuples; t++) rows += histogram.counts[t];
    this.rows = rows;
    this.groupCache = columns.map((h) => new Array<Int32Array | undefined>(h.levels));
    this.classOf = new Int32Array(this.tuples);
    this.classRows = new Float64Array(this.tuples);
    this.classDistinct = new Int32Array(this.tuples);
    this.tupleLoss = new Float64Array(this.tuples);
    let maxSensitive = -1;
    const sensitive = histogram.sensitive;
    if (sensitive !== undefined) {
      for (let t = 0; t < this.tuples; t++) {
        if (sensitive[t] > maxSensitive) maxSensitive = sensitive[t];
      }
    }
    this.sensitiveRadix = maxSensitive + 1;
  }

  /** Column `c`'s group per tuple at `level`. */
  groups(c: number, level: number): Int32Array {
    const cached = this.groupCache[c][level];
    if (cached !== undefined) return cached;
    const of = this.columns[c].groupOf[level];
    const codes = this.histogram.codes[c];
    const out = new Int32Array(this.tuples);
    for (let t = 0; t < this.tuples; t++) out[t] = of[codes[t]];
    this.groupCache[c][level] = out;
    return out;
  }

  /**
   * Column `c`'s loss at `level` summed over rows (Σ counts × group loss), no row suppressed:
   * the search's lower bound on a node's loss is built from these, since suppressing a row only
   * raises its loss to 1.
   */
  columnLoss(c: number, level: number): number {
    const groups = this.groups(c, level);
    const loss = this.columns[c].loss[level];
    const counts = this.histogram.counts;
    let sum = 0;
    for (let t = 0; t < this.tuples; t++) sum += counts[t] * loss[groups[t]];
    return sum;
  }

  /** The classes, suppression and loss at `levels` (one per column). */
  evaluate(levels: ArrayLike<number>, withTuples = false): NodeEvaluation {
    const { tuples, classOf, classRows, classDistinct, tupleLoss } = this;
    const counts = this.histogram.counts;
    const cols = this.columns.length;
    let radix = 1;
    for (let c = 0; c < cols; c++) radix *= this.columns[c].labels[levels[c]].length;
    tupleLoss.fill(0);
    // Class ids are dense and given in tuple order, so the per-class buffers need only `tuples` slots.
    let classes = 0;
    if (radix <= MAX_EXACT) {
      const keys = new Float64Array(tuples);
      for (let c = 0; c < cols; c++) {
        const groups = this.groups(c, levels[c]);
        const size = this.columns[c].labels[levels[c]].length;
        const loss = this.columns[c].loss[levels[c]];
        for (let t = 0; t < tuples; t++) {
          keys[t] = keys[t] * size + groups[t];
          tupleLoss[t] += loss[groups[t]];
        }
      }
      const ids = new Map<number, number>();
      for (let t = 0; t < tuples; t++) {
        let id = ids.get(keys[t]);
        if (id === undefined) ids.set(keys[t], (id = classes++));
        classOf[t] = id;
      }
    } else {
      const keys = new Array<string>(tuples).fill('');
      for (let c = 0; c < cols; c++) {
        const groups = this.groups(c, levels[c]);
        const loss = this.columns[c].loss[levels[c]];
        for (let t = 0; t < tuples; t++) {
          keys[t] += `${groups[t]},`;
          tupleLoss[t] += loss[groups[t]];
        }
      }
      const ids = new Map<string, number>();
      for (let t = 0; t < tuples; t++) {
        let id = ids.get(keys[t]);
        if (id === undefined) ids.set(keys[t], (id = classes++));
        classOf[t] = id;
      }
    }
    classRows.fill(0, 0, classes);
    for (let t = 0; t < tuples; t++) classRows[classOf[t]] += counts[t];
    const sensitive = this.histogram.sensitive;
    const l = this.l;
    if (l !== undefined && sensitive !== undefined) {
      classDistinct.fill(0, 0, classes);
      const seen = new Set<number>();
      for (let t = 0; t < tuples; t++) {
        const s = sensitive[t];
        if (s < 0 || counts[t] <= 0) continue;
        const key = classOf[t] * this.sensitiveRadix + s;
        if (!seen.has(key)) {
          seen.add(key);
          classDistinct[classOf[t]]++;
        }
      }
    }
    const suppressedClass = new Uint8Array(classes);
    let suppressedRows = 0;
    let released = 0;
    let smallest = Number.POSITIVE_INFINITY;
    let discernibility = 0;
    for (let g = 0; g < classes; g++) {
      const size = classRows[g];
      const notDiverse = l !== undefined && classDistinct[g] > 0 && classDistinct[g] < l;
      if (size < this.k || notDiverse) {
        suppressedClass[g] = 1;
        suppressedRows += size;
      } else {
        released++;
        if (size < smallest) smallest = size;
        discernibility += size * size;
      }
    }
    discernibility += suppressedRows * this.rows;
    let lossSum = 0;
    const suppressedTuples = withTuples ? new Uint8Array(tuples) : undefined;
    for (let t = 0; t < tuples; t++) {
      if (suppressedClass[classOf[t]] === 1) {
        lossSum += counts[t] * cols;
        if (suppressedTuples !== undefined) suppressedTuples[t] = 1;
      } else {
        lossSum += counts[t] * tupleLoss[t];
      }
    }
    return {
      suppressedRows,
      classes: released,
      smallestClass: released === 0 ? 0 : smallest,
      releasedRows: this.rows - suppressedRows,
      loss: cols === 0 ? suppressedRows / this.rows : lossSum / (cols * this.rows),
      discernibility,
      ...(suppressedTuples === undefined ? {} : { suppressedTuples }),
    };
  }
}
