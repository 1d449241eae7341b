/**
 * k-anonymity (with optional distinct l-diversity) by full-domain generalisation and record
 * suppression: the least information loss over a lattice of per-column generalisation levels
 * such that suppressed records stay under a bound.
 */
import { DataError, InvalidArgumentError } from '../core/errors.js';
import type { Hierarchy } from './generalisers.js';
import { LatticeEvaluator, type NodeEvaluation, type TupleHistogram } from './lattice.js';

export type { TupleHistogram } from './lattice.js';

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

/** The largest lattice {@link findKAnonymous} searches. */
export const MAX_LATTICE_NODES = 100_000;

// Losses are sums of floats taken in different orders; closer than this they count as a tie.
const LOSS_EPSILON = 1e-12;

/**
 * Searches the lattice of per-column levels (the product of [minLevel, maxLevel] per column) for
 * the node of least `loss` whose suppression (rows in classes smaller than k, or holding sensitive
 * values but fewer than l distinct ones) is at most `maxSuppression`. Ties go to fewer suppressed
 * rows, then to the lexicographically lower levels.
 *
 * Suppression never rises towards coarser nodes, so a node over the bound rules out every node
 * below it without evaluation. Loss is not monotone (a coarser node can suppress fewer rows), so
 * nodes are visited in increasing order of a lower bound on their loss — the loss with no row
 * suppressed, which is monotone and a sum of per-column terms — and the search stops once that
 * bound exceeds the best loss found: every node that could win is evaluated.
 * @throws InvalidArgumentError naming the field for k < 1, l < 1, l without `sensitive`, a bound
 *   outside [0, 1], levels out of range, codes that do not fit the hierarchies, and `columns`
 *   when the lattice has more than {@link MAX_LATTICE_NODES} nodes.
 * @throws DataError when no node meets the bound, with the smallest suppression possible (that
 *   of the coarsest node), or when the histogram has no rows.
 */
export function findKAnonymous(
  columns: readonly Hierarchy[],
  histogram: TupleHistogram,
  options: KAnonymityOptions,
): KAnonymitySolution {
  const { k, l } = options;
  const maxSuppression = options.maxSuppression ?? 0.05;
  if (!Number.isFinite(k) || k < 1) {
    throw new InvalidArgumentError('k', `must be a number of at least 1, got ${k}`);
  }
  if (l !== undefined) {
    if (!Number.isFinite(l) || l < 1) {
      throw new InvalidArgumentError('l', `must be a number of at least 1, got ${l}`);
    }
    if (histogram.sensitive === undefined) {
      throw new InvalidArgumentError('l', 'needs the histogram sensitive codes');
    }
  }
  if (!(maxSuppression >= 0 && maxSuppression <= 1)) {
    throw new InvalidArgumentError('maxSuppression', `must be in [0, 1], got ${maxSuppression}`);
  }
  checkHistogram(columns, histogram);
  const cols = columns.length;
  const lo = levelOption('minLevel', options.minLevel, columns, () => 0);
  const hi = levelOption('maxLevel', options.maxLevel, columns, (c) => columns[c].levels - 1);
  for (let c = 0; c < cols; c++) {
    if (lo[c] > hi[c]) {
      throw new InvalidArgumentError(
        'minLevel',
        `${columns[c].column}: ${lo[c]} is above maxLevel ${hi[c]}`,
      );
    }
  }
  // Column 0 varies slowest, so node index order is the lexicographic order of levels.
  const stride = new Array<number>(cols);
  let latticeSize = 1;
  for (let c = cols - 1; c >= 0; c--) {
    stride[c] = latticeSize;
    latticeSize *= hi[c] - lo[c] + 1;
    if (latticeSize > MAX_LATTICE_NODES) {
      let size = 1;
      for (let d = 0; d < cols; d++) size *= hi[d] - lo[d] + 1;
      throw new InvalidArgumentError(
        'columns',
        `the lattice of levels has ${size} nodes, more than ${MAX_LATTICE_NODES}: narrow minLevel/maxLevel or use fewer levels`,
      );
    }
  }
  let rows = 0;
  for (let t = 0; t < histogram.counts.length; t++) rows += histogram.counts[t];
  if (!(rows > 0)) throw new DataError({}, 'k-anonymity: the histogram has no rows');

  const evaluator = new LatticeEvaluator(columns, histogram, k, l);
  const levelsOf = (node: number): number[] =>
    lo.map((min, c) => min + (Math.floor(node / stride[c]) % (hi[c] - lo[c] + 1)));
  // The loss with nothing suppressed, per column and level; a node's lower bound is their mean.
  const columnBound = columns.map((_, c) => {
    const out = new Float64Array(hi[c] + 1);
    for (let level = lo[c]; level <= hi[c]; level++) {
      out[level] = evaluator.columnLoss(c, level) / (rows * cols);
    }
    return out;
  });
  const bound = new Float64Array(latticeSize);
  for (let node = 0; node < latticeSize; node++) {
    const levels = levelsOf(node);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += columnBound[c][levels[c]];
    bound[node] = sum;
  }
  const meets = (e: NodeEvaluation): boolean =>
    e.suppressedRows <= maxSuppression * rows * (1 + LOSS_EPSILON);

  let nodesEvaluated = 1;
  const top = latticeSize - 1;
  const topEval = evaluator.evaluate(hi);
  if (!meets(topEval)) {
    throw new DataError(
      {},
      `k-anonymity: no generalisation keeps suppression within ${maxSuppression} (k = ${k}${l === undefined ? '' : `, l = ${l}`}); the least possible, at levels [${hi.join(', ')}], is ${(topEval.suppressedRows / rows).toFixed(4)}`,
    );
  }
  let best = { node: top, evaluation: topEval };
  // 0: not looked at; 1: over the bound (evaluated or implied); 2: evaluated within it.
  const state = new Uint8Array(latticeSize);
  state[top] = 2;
  const order = Array.from({ length: latticeSize }, (_, node) => node);
  order.sort((a, b) => bound[a] - bound[b] || a - b);
  for (const node of order) {
    if (bound[node] > best.evaluation.loss + LOSS_EPSILON) break;
    if (state[node] !== 0) continue;
    const evaluation = evaluator.evaluate(levelsOf(node));
    nodesEvaluated++;
    if (!meets(evaluation)) {
      markBelow(node, state, stride, levelsOf, lo);
      continue;
    }
    state[node] = 2;
    if (isBetter(evaluation, node, best.evaluation, best.node)) best = { node, evaluation };
  }

  const levels = levelsOf(best.node);
  const final = evaluator.evaluate(levels, true);
  return {
    levels,
    levelNames: levels.map((level, c) => columns[c].names[level]),
    rows,
    suppressedRows: final.suppressedRows,
    suppression: final.suppressedRows / rows,
    classes: final.classes,
    smallestClass: final.smallestClass,
    averageClassSize: final.classes === 0 ? 0 : final.releasedRows / final.classes,
    loss: final.loss,
    discernibility: final.discernibility,
    suppressedTuples: final.suppressedTuples as Uint8Array,
    nodesEvaluated,
    latticeSize,
  };
}

function isBetter(a: NodeEvaluation, aNode: number, b: NodeEvaluation, bNode: number): boolean {
  if (a.loss < b.loss - LOSS_EPSILON) return true;
  if (a.loss > b.loss + LOSS_EPSILON) return false;
  if (a.suppressedRows !== b.suppressedRows) return a.suppressedRows < b.suppressedRows;
  return aNode < bNode;
}

// Everything below a node over the bound is over it too. A node already marked had its own
// down-set marked then, so the walk stops there.
function markBelow(
  node: number,
  state: Uint8Array,
  stride: readonly number[],
  levelsOf: (node: number) => number[],
  lo: readonly number[],
): void {
  state[node] = 1;
  const stack = [node];
  while (stack.length > 0) {
    const at = stack.pop() as number;
    const levels = levelsOf(at);
    for (let c = 0; c < levels.length; c++) {
      if (levels[c] === lo[c]) continue;
      const below = at - stride[c];
      if (state[below] === 0) {
        state[below] = 1;
        stack.push(below);
      }
    }
  }
}

function levelOption(
  field: 'minLevel' | 'maxLevel',
  given: readonly number[] | undefined,
  columns: readonly Hierarchy[],
  fallback: (c: number) => number,
): number[] {
  if (given !== undefined && given.length !== columns.length) {
    throw new InvalidArgumentError(
      field,
      `has ${given.length} levels for ${columns.length} columns`,
    );
  }
  return columns.map((h, c) => {
    const level = given === undefined ? fallback(c) : given[c];
    if (!Number.isInteger(level) || level < 0 || level >= h.levels) {
      throw new InvalidArgumentError(
        field,
        `${h.column}: must be an integer in [0, ${h.levels - 1}], got ${level}`,
      );
    }
    return level;
  });
}

function checkHistogram(columns: readonly Hierarchy[], histogram: TupleHistogram): void {
  const tuples = histogram.counts.length;
  if (histogram.codes.length !== columns.length) {
    throw new InvalidArgumentError(
      'histogram.codes',
      `has ${histogram.codes.length} columns for ${columns.length} hierarchies`,
    );
  }
  columns.forEach((h, c) => {
    const codes = histogram.codes[c];
    if (codes.length !== tuples) {
      throw new InvalidArgumentError(
        'histogram.codes',
        `${h.column}: ${codes.length} codes for ${tuples} tuples`,
      );
    }
    for (let t = 0; t < tuples; t++) {
      if (codes[t] < 0 || codes[t] >= h.values.length) {
        throw new InvalidArgumentError(
          'histogram.codes',
          `${h.column}: tuple ${t} has code ${codes[t]}, outside its ${h.values.length} values`,
        );
      }
    }
  });
  if (histogram.sensitive !== undefined && histogram.sensitive.length !== tuples) {
    throw new InvalidArgumentError(
      'histogram.sensitive',
      `has ${histogram.sensitive.length} codes for ${tuples} tuples`,
    );
  }
}
