/**
 * The reward model q̂(x, a, k) behind the direct method and doubly robust estimators: a
 * logistic regression (ridge regression for rewards outside [0, 1]) on features of the context,
 * the action and the position.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import type { BanditLog } from './bandit-log.js';
import {
  DEFAULT_LOGISTIC_REGRESSION_OPTIONS,
  fitLogisticRegression,
  linearPredict,
  type LinearModel,
  type SparseRows,
} from './logistic-regression.js';

/** Options of {@link RewardModel.fit}. */
export interface RewardModelOptions {
  /** `auto`: logit when every training reward lies in [0, 1] (clicks), identity otherwise. @defaultValue 'auto' */
  link?: 'auto' | 'logit' | 'identity';
  /**
   * L2 penalty (1/C in scikit-learn terms), or `auto`: the value of {@link L2_GRID} with the
   * least mean held-out loss in 5-fold cross-validation over the training rows (contiguous folds;
   * 1 when there are fewer than 10 rows).
   * @defaultValue 'auto'
   */
  l2?: number | 'auto';
  /** Newton iterations at most. @defaultValue 100 */
  maxIterations?: number;
}

/** Defaults of {@link RewardModelOptions}. */
export const DEFAULT_REWARD_MODEL_OPTIONS = Object.freeze({
  link: 'auto' as 'auto' | 'logit' | 'identity',
  l2: 'auto' as number | 'auto',
  maxIterations: DEFAULT_LOGISTIC_REGRESSION_OPTIONS.maxIterations,
});

/** Penalties tried by `l2: 'auto'`. */
export const L2_GRID: readonly number[] = Object.freeze([0.1, 1, 10, 100, 1000]);

const FOLDS = 5;

/** Which log properties the feature layout depends on; two logs with equal shapes share it. */
type Shape = Pick<
  BanditLog,
  'actions' | 'positions' | 'contextDim' | 'actionContextStart' | 'actionFeatureDim'
>;

/**
 * Feature vector φ(x, a, k), in this order:
 * - the context columns outside the per-action block (OBD: the one-hot user features);
 * - the per-action context column of `a` (OBD: the user's affinity to item `a`), if the log has that block;
 * - the features of action `a` (OBD: item_feature_0 and the one-hot item_feature_1..3);
 * - a one-hot of the action;
 * - a one-hot of the position, when there is more than one.
 * Zeros are not stored, so a row costs its non-zero count.
 */
export class RewardModel {
  private constructor(
    private readonly shape: Shape,
    /** The fitted regression. */
    readonly model: LinearModel,
    /** Feature names, aligned with `model.weights`. */
    readonly featureNames: readonly string[],
    /** Rows it was fitted on. */
    readonly trainRows: number,
    /** The penalty used (chosen by cross-validation with `l2: 'auto'`). */
    readonly l2: number,
    /** With `l2: 'auto'`: the mean held-out loss of each value of {@link L2_GRID}. */
    readonly validation: readonly { l2: number; loss: number }[],
  ) {}

  /**
   * Fits the model to every row of `log` (slice it first to fit on a part).
   *
   * @throws InvalidArgumentError when the logit link is asked for rewards outside [0, 1].
   * @example
   * const q = RewardModel.fit(train).predict(test);
   */
  static fit(log: BanditLog, options: RewardModelOptions = {}): RewardModel {
    const o = { ...DEFAULT_REWARD_MODEL_OPTIONS, ...options };
    let binary = true;
    for (let i = 0; i < log.rows; i++)
      if (!(log.reward[i] >= 0 && log.reward[i] <= 1)) binary = false;
    if (o.link === 'logit' && !binary)
      throw new InvalidArgumentError(
        'link',
        `logit needs rewards in [0, 1]; ${log.source} has others`,
      );
    const link = o.link === 'auto' ? (binary ? 'logit' : 'identity') : o.link;
    const x = buildRows(log);
    let l2 = o.l2;
    const validation: { l2: number; loss: number }[] = [];
    if (l2 === 'auto') {
      for (const candidate of L2_GRID)
        validation.push({
          l2: candidate,
          loss: crossValidate(x, log, link, candidate, o.maxIterations),
        });
      const scored = validation.filter((v) => Number.isFinite(v.loss));
      // Too few rows to cross-validate: fall back to scikit-learn's default C = 1.
      l2 = scored.length === 0 ? 1 : scored.reduce((best, v) => (v.loss < best.loss ? v : best)).l2;
    } else if (!(l2 >= 0))
      throw new InvalidArgumentError(
        'l2',
        `must be a non-negative number or "auto", got ${String(l2)}`,
      );
    const model = fitLogisticRegression(x, log.reward, {
      link,
      l2,
      maxIterations: o.maxIterations,
    });
    return new RewardModel(shapeOf(log), model, featureNames(log), log.rows, l2, validation);
  }

  /**
   * q̂ for every row of `log` and every action at the row's logged position: row-major
   * `rows × actions`.
   *
   * @throws InvalidArgumentError when `log` does not have the shape of the log the model was fitted on.
   */
  predict(log: BanditLog): Float64Array {
    const s = this.shape;
    if (
      log.actions.length !== s.actions.length ||
      log.actions.some((id, a) => id !== s.actions[a]) ||
      log.contextDim !== s.contextDim ||
      log.actionContextStart !== s.actionContextStart ||
      log.actionFeatureDim !== s.actionFeatureDim ||
      log.positions > s.positions
    ) {
      throw new InvalidArgumentError(
        'log',
        `${log.source} does not have the actions and features the reward model was fitted on`,
      );
    }
    const k = log.actions.length;
    const out = new Float64Array(log.rows * k);
    const width = featureCount(s);
    const indices = new Int32Array(width);
    const values = new Float64Array(width);
    for (let i = 0; i < log.rows; i++) {
      for (let a = 0; a < k; a++) {
        const nnz = fillRow(s, log, i, a, log.position[i], indices, values, 0);
        out[i * k + a] = linearPredict(this.model, indices, values, 0, nnz);
      }
    }
    return out;
  }

  /** Mean log-loss (logit) or squared error (identity) of the logged rewards of `log`. */
  evaluate(log: BanditLog): number {
    const k = log.actions.length;
    const q = this.predict(log);
    let sum = 0;
    for (let i = 0; i < log.rows; i++) {
      const p = q[i * k + log.action[i]];
      const y = log.reward[i];
      sum += pointLoss(this.model.link, p, y);
    }
    return sum / log.rows;
  }
}

function pointLoss(link: 'logit' | 'identity', p: number, y: number): number {
  if (link === 'identity') return (y - p) * (y - p);
  const c = Math.min(Math.max(p, 1e-15), 1 - 1e-15);
  return -(y * Math.log(c) + (1 - y) * Math.log(1 - c));
}

/** Mean held-out loss over {@link FOLDS} contiguous folds (cut at round boundaries). */
function crossValidate(
  x: SparseRows,
  log: BanditLog,
  link: 'logit' | 'identity',
  l2: number,
  maxIterations: number,
): number {
  const n = x.rows;
  if (n < FOLDS * 2) return Number.NaN;
  const cuts = [0];
  for (let f = 1; f < FOLDS; f++) {
    let at = Math.floor((n * f) / FOLDS);
    while (at < n && log.round[at] === log.round[at - 1]) at++;
    cuts.push(at);
  }
  cuts.push(n);
  let loss = 0;
  for (let f = 0; f < FOLDS; f++) {
    const [lo, hi] = [cuts[f], cuts[f + 1]];
    const keep = (i: number): boolean => i < lo || i >= hi;
    const fit = fitLogisticRegression(
      subsetRows(x, keep),
      log.reward.filter((_, i) => keep(i)),
      { link, l2, maxIterations },
    );
    for (let i = lo; i < hi; i++)
      loss += pointLoss(
        link,
        linearPredict(fit, x.indices, x.values, x.indptr[i], x.indptr[i + 1]),
        log.reward[i],
      );
  }
  return loss / n;
}

function subsetRows(x: SparseRows, keep: (i: number) => boolean): SparseRows {
  const rows: number[] = [];
  let nnz = 0;
  for (let i = 0; i < x.rows; i++) {
    if (!keep(i)) continue;
    rows.push(i);
    nnz += x.indptr[i + 1] - x.indptr[i];
  }
  const indptr = new Int32Array(rows.length + 1);
  const indices = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let at = 0;
  rows.forEach((i, r) => {
    const [start, end] = [x.indptr[i], x.indptr[i + 1]];
    indices.set(x.indices.subarray(start, end), at);
    values.set(x.values.subarray(start, end), at);
    at += end - start;
    indptr[r + 1] = at;
  });
  return { rows: rows.length, cols: x.cols, indptr, indices, values };
}

function shapeOf(log: BanditLog): Shape {
  return {
    actions: log.actions,
    positions: log.positions,
    contextDim: log.contextDim,
    actionContextStart: log.actionContextStart,
    actionFeatureDim: log.actionFeatureDim,
  };
}

function featureCount(s: Shape): number {
  const k = s.actions.length;
  const shared = s.contextDim - (s.actionContextStart >= 0 ? k : 0);
  return (
    shared +
    (s.actionContextStart >= 0 ? 1 : 0) +
    s.actionFeatureDim +
    k +
    (s.positions > 1 ? s.positions : 0)
  );
}

function featureNames(log: BanditLog): string[] {
  const k = log.actions.length;
  const names: string[] = [];
  const start = log.actionContextStart;
  for (let c = 0; c < log.contextDim; c++)
    if (start < 0 || c < start || c >= start + k) names.push(log.contextNames[c] ?? `context_${c}`);
  if (start >= 0) names.push('action_context');
  names.push(...log.actionFeatureNames);
  names.push(...log.actions.map((a) => `action=${a}`));
  if (log.positions > 1) for (let p = 0; p < log.positions; p++) names.push(`position=${p + 1}`);
  return names;
}

/** Writes the non-zeros of φ(x_i, a, k) at `at`; returns the new end. */
function fillRow(
  s: Shape,
  log: BanditLog,
  i: number,
  a: number,
  k: number,
  indices: Int32Array,
  values: Float64Array,
  at: number,
): number {
  const nActions = s.actions.length;
  const start = s.actionContextStart;
  const ctx = i * log.contextDim;
  let col = 0;
  for (let c = 0; c < s.contextDim; c++) {
    if (start >= 0 && c >= start && c < start + nActions) continue;
    const v = log.context[ctx + c];
    if (v !== 0) {
      indices[at] = col;
      values[at++] = v;
    }
    col++;
  }
  if (start >= 0) {
    const v = log.context[ctx + start + a];
    if (v !== 0) {
      indices[at] = col;
      values[at++] = v;
    }
    col++;
  }
  for (let f = 0; f < s.actionFeatureDim; f++) {
    const v = log.actionFeatures[a * s.actionFeatureDim + f];
    if (v !== 0) {
      indices[at] = col;
      values[at++] = v;
    }
    col++;
  }
  indices[at] = col + a;
  values[at++] = 1;
  col += nActions;
  if (s.positions > 1) {
    indices[at] = col + k;
    values[at++] = 1;
  }
  return at;
}

/** The logged rows' features φ(x_i, a_i, k_i) as sparse rows. */
function buildRows(log: BanditLog): SparseRows {
  const width = featureCount(log);
  const indptr = new Int32Array(log.rows + 1);
  let indices = new Int32Array(Math.max(16, log.rows * 8));
  let values = new Float64Array(indices.length);
  let at = 0;
  for (let i = 0; i < log.rows; i++) {
    if (at + width > indices.length) {
      const size = Math.max(indices.length * 2, at + width);
      const ni = new Int32Array(size);
      ni.set(indices.subarray(0, at));
      const nv = new Float64Array(size);
      nv.set(values.subarray(0, at));
      indices = ni;
      values = nv;
    }
    at = fillRow(log, log, i, log.action[i], log.position[i], indices, values, at);
    indptr[i + 1] = at;
  }
  return {
    rows: log.rows,
    cols: width,
    indptr,
    indices: indices.subarray(0, at),
    values: values.subarray(0, at),
  };
}
