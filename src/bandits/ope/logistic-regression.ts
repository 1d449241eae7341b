/**
 * L2-regularised logistic (or, with the identity link, ridge) regression on sparse rows, fitted
 * by Newton's method (iteratively reweighted least squares) with a backtracking line search.
 *
 * Objective (the intercept is not penalised, as in scikit-learn's lbfgs and newton-cg solvers,
 * so `l2 = 1/C` reproduces `LogisticRegression(C=C)`):
 *   logit:    Σ_i [log(1 + e^{η_i}) − y_i η_i] + (l2/2)‖w‖²,   η_i = b + x_iᵀw
 *   identity: Σ_i ½ (y_i − η_i)² + (l2/2)‖w‖²
 * Targets of the logit link may be fractional (in [0, 1]).
 */
import { InvalidArgumentError } from '../../core/errors.js';

/** Rows in compressed sparse row form with double-precision values. */
export interface SparseRows {
  readonly rows: number;
  readonly cols: number;
  /** Row start offsets, length `rows + 1`. */
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/** Options of {@link fitLogisticRegression}. */
export interface LogisticRegressionOptions {
  /** @defaultValue 'logit' */
  link?: 'logit' | 'identity';
  /** L2 penalty on the weights (not the intercept); 1/C in scikit-learn terms. @defaultValue 1 */
  l2?: number;
  /** @defaultValue 100 */
  maxIterations?: number;
  /** Stop when the largest gradient component falls below this. @defaultValue 1e-8 */
  tolerance?: number;
}

/** Defaults of {@link LogisticRegressionOptions}. */
export const DEFAULT_LOGISTIC_REGRESSION_OPTIONS = Object.freeze({
  link: 'logit' as 'logit' | 'identity',
  l2: 1,
  maxIterations: 100,
  tolerance: 1e-8,
});

/** A fitted model: `predict` gives probabilities (logit link) or values (identity link). */
export interface LinearModel {
  readonly link: 'logit' | 'identity';
  readonly weights: Float64Array;
  readonly intercept: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** The penalised objective at the solution, divided by the number of rows. */
  readonly loss: number;
}

/**
 * Fits the model to `x` (n rows) and targets `y` (n values).
 *
 * @throws InvalidArgumentError for mismatched shapes, a negative penalty, or logit targets
 *   outside [0, 1].
 * @example
 * const model = fitLogisticRegression(x, clicks, { l2: 1 });
 * const p = linearPredict(model, x.indices, x.values, x.indptr[0], x.indptr[1]);
 */
export function fitLogisticRegression(
  x: SparseRows,
  y: Float64Array,
  options: LogisticRegressionOptions = {},
): LinearModel {
  const o = { ...DEFAULT_LOGISTIC_REGRESSION_OPTIONS, ...options };
  const n = x.rows;
  const p = x.cols;
  if (y.length !== n) throw new InvalidArgumentError('y', `expected ${n} targets, got ${y.length}`);
  if (n === 0) throw new InvalidArgumentError('x', 'no rows to fit');
  if (!(o.l2 >= 0)) throw new InvalidArgumentError('l2', `must be non-negative, got ${o.l2}`);
  if (o.link !== 'logit' && o.link !== 'identity')
    throw new InvalidArgumentError(
      'link',
      `must be "logit" or "identity", got "${String(o.link)}"`,
    );
  let mean = 0;
  for (let i = 0; i < n; i++) {
    if (o.link === 'logit' && !(y[i] >= 0 && y[i] <= 1))
      throw new InvalidArgumentError(
        'y',
        `row ${i}: a logistic target must be in [0, 1], got ${y[i]}`,
      );
    mean += y[i];
  }
  mean /= n;
  const logit = o.link === 'logit';
  // Parameters: p weights then the intercept, started at the intercept-only solution.
  const m = p + 1;
  const theta = new Float64Array(m);
  const clipped = Math.min(Math.max(mean, 1e-6), 1 - 1e-6);
  theta[p] = logit ? Math.log(clipped / (1 - clipped)) : mean;
  const eta = new Float64Array(n);
  const grad = new Float64Array(m);
  const hess = new Float64Array(m * m);
  const step = new Float64Array(m);
  const trial = new Float64Array(m);
  const cols = new Int32Array(m);
  const vals = new Float64Array(m);

  const objective = (t: Float64Array): number => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      let e = t[p];
      for (let j = x.indptr[i]; j < x.indptr[i + 1]; j++) e += t[x.indices[j]] * x.values[j];
      eta[i] = e;
      f += logit ? softplus(e) - y[i] * e : 0.5 * (y[i] - e) * (y[i] - e);
    }
    let norm = 0;
    for (let j = 0; j < p; j++) norm += t[j] * t[j];
    return f + 0.5 * o.l2 * norm;
  };

  let f = objective(theta);
  let iterations = 0;
  let converged = false;
  while (iterations < o.maxIterations) {
    grad.fill(0);
    hess.fill(0);
    for (let i = 0; i < n; i++) {
      const mu = logit ? sigmoid(eta[i]) : eta[i];
      const r = mu - y[i];
      const s = logit ? mu * (1 - mu) : 1;
      // Gather the row's entries plus the intercept, then add its outer product (upper triangle).
      let nnz = 0;
      for (let j = x.indptr[i]; j < x.indptr[i + 1]; j++) {
        cols[nnz] = x.indices[j];
        vals[nnz++] = x.values[j];
      }
      cols[nnz] = p;
      vals[nnz++] = 1;
      for (let a = 0; a < nnz; a++) {
        const ca = cols[a];
        const va = vals[a];
        grad[ca] += r * va;
        const sv = s * va;
        for (let b = 0; b < nnz; b++) {
          const cb = cols[b];
          if (cb >= ca) hess[ca * m + cb] += sv * vals[b];
        }
      }
    }
    for (let j = 0; j < p; j++) {
      grad[j] += o.l2 * theta[j];
      hess[j * m + j] += o.l2;
    }
    let gmax = 0;
    for (let j = 0; j < m; j++) gmax = Math.max(gmax, Math.abs(grad[j]));
    if (gmax < o.tolerance * Math.max(1, n / 1000)) {
      converged = true;
      break;
    }
    for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) hess[a * m + b] = hess[b * m + a];
    solveSymmetric(hess, grad, step, m);
    // Backtracking (Armijo) on the penalised objective; Newton steps are usually taken whole.
    let slope = 0;
    for (let j = 0; j < m; j++) slope -= grad[j] * step[j];
    let alpha = 1;
    let next = f;
    for (let tries = 0; tries < 30; tries++) {
      for (let j = 0; j < m; j++) trial[j] = theta[j] - alpha * step[j];
      next = objective(trial);
      if (next <= f + 1e-4 * alpha * slope) break;
      alpha /= 2;
    }
    iterations++;
    if (!(next <= f)) {
      objective(theta);
      break;
    }
    theta.set(trial);
    const improvement = f - next;
    f = next;
    if (improvement <= 1e-14 * Math.max(1, Math.abs(f))) {
      converged = true;
      break;
    }
  }
  return {
    link: o.link,
    weights: theta.slice(0, p),
    intercept: theta[p],
    iterations,
    converged,
    loss: f / n,
  };
}

/** The model's prediction for the sparse row stored in `indices/values[start, end)`. */
export function linearPredict(
  model: LinearModel,
  indices: ArrayLike<number>,
  values: ArrayLike<number>,
  start: number,
  end: number,
): number {
  let e = model.intercept;
  for (let j = start; j < end; j++) e += model.weights[indices[j]] * values[j];
  return model.link === 'logit' ? sigmoid(e) : e;
}

function sigmoid(e: number): number {
  return e >= 0 ? 1 / (1 + Math.exp(-e)) : Math.exp(e) / (1 + Math.exp(e));
}

function softplus(e: number): number {
  return e > 0 ? e + Math.log1p(Math.exp(-e)) : Math.log1p(Math.exp(e));
}

/**
 * Solves `a z = b` for symmetric positive (semi-)definite `a` (m × m, row-major, overwritten) by
 * Cholesky, adding a growing ridge to the diagonal if a pivot is not positive (collinear
 * features without a penalty).
 */
function solveSymmetric(a: Float64Array, b: Float64Array, z: Float64Array, m: number): void {
  const l = new Float64Array(m * m);
  let jitter = 0;
  let scale = 0;
  for (let j = 0; j < m; j++) scale = Math.max(scale, a[j * m + j]);
  for (let attempt = 0; ; attempt++) {
    if (cholesky(a, l, m, jitter)) break;
    jitter = jitter === 0 ? 1e-10 * Math.max(scale, 1) : jitter * 100;
    if (attempt > 12)
      throw new InvalidArgumentError(
        'x',
        'the normal equations are singular even with a ridge; check the features for NaN',
      );
  }
  for (let i = 0; i < m; i++) {
    let s = b[i];
    for (let j = 0; j < i; j++) s -= l[i * m + j] * z[j];
    z[i] = s / l[i * m + i];
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = z[i];
    for (let j = i + 1; j < m; j++) s -= l[j * m + i] * z[j];
    z[i] = s / l[i * m + i];
  }
}

function cholesky(a: Float64Array, l: Float64Array, m: number, jitter: number): boolean {
  l.fill(0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j] + (i === j ? jitter : 0);
      for (let k = 0; k < j; k++) s -= l[i * m + k] * l[j * m + k];
      if (i === j) {
        if (!(s > 0)) return false;
        l[i * m + i] = Math.sqrt(s);
      } else l[i * m + j] = s / l[j * m + j];
    }
  }
  return true;
}
