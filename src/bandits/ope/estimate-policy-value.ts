/**
 * Off-policy estimators of a target policy's value from logged bandit feedback, per position as
 * in the Open Bandit Dataset and `obp`: each row is one (round, position) impression and the
 * target's probability is that of the logged action at the logged position.
 *
 * With w_i = π_e(a_i | x_i, k_i) / π_b(a_i | x_i, k_i), q̂ the reward model and
 * q̂(x_i, π_e) = Σ_a π_e(a | x_i, k_i) q̂(x_i, a, k_i), over the n rows:
 *
 * | name   | estimate |
 * |---|---|
 * | ips    | (1/n) Σ w_i r_i (Horvitz–Thompson; Precup 2000, Strehl et al. 2010) |
 * | snips  | Σ w_i r_i / Σ w_i (Swaminathan & Joachims 2015) |
 * | dm     | (1/n) Σ q̂(x_i, π_e) |
 * | dr     | (1/n) Σ [q̂(x_i, π_e) + w_i (r_i − q̂(x_i, a_i, k_i))] (Dudík et al. 2011, 2014) |
 * | sndr   | (1/n) Σ q̂(x_i, π_e) + Σ w_i (r_i − q̂(x_i, a_i, k_i)) / Σ w_i (obp's current `SelfNormalizedDoublyRobust`; its early releases divided the whole DR sum by Σ w_i) |
 * | replay | Σ m_i r_i / Σ m_i, m_i = 1 when an action drawn from π_e(· | x_i, k_i) equals a_i (Li et al. 2011) |
 *
 * Intervals: percentile bootstrap over rounds (all rows of a round are drawn together), each
 * estimator recomputed on every resample, self-normalising sums included (obp instead resamples
 * per-row terms normalised once on the full sample). The reward model is held fixed, so DM's
 * interval leaves out the model's own uncertainty and is narrow.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { Random } from '../../core/random.js';
import type { BanditLog } from './bandit-log.js';
import { bootstrapRoundSums, percentileInterval } from './bootstrap.js';

/** Every estimator {@link estimatePolicyValue} knows. */
export const ESTIMATORS = ['ips', 'snips', 'dm', 'dr', 'sndr', 'replay'] as const;
/** An estimator's name. */
export type EstimatorName = (typeof ESTIMATORS)[number];
/** The estimators computed unless others are asked for. */
export const DEFAULT_ESTIMATORS: readonly EstimatorName[] = Object.freeze([
  'ips',
  'snips',
  'dm',
  'dr',
  'sndr',
]);
/** Estimators that need a reward model's predictions. */
export const MODEL_ESTIMATORS: readonly EstimatorName[] = Object.freeze(['dm', 'dr', 'sndr']);

/** Whether `name` is one of {@link ESTIMATORS}. */
export function isEstimatorName(name: string): name is EstimatorName {
  return (ESTIMATORS as readonly string[]).includes(name);
}

/** A point estimate with its percentile bootstrap interval. */
export interface Estimate {
  value: number;
  ci: [low: number, high: number];
}

/** Options of {@link estimatePolicyValue}. */
export interface EstimateOptions {
  /** @defaultValue {@link DEFAULT_ESTIMATORS} */
  estimators?: readonly EstimatorName[];
  /** Bootstrap resamples (of rounds, with replacement). 0 gives `[NaN, NaN]` intervals. @defaultValue 200 */
  resamples?: number;
  /** Coverage of the interval. @defaultValue 0.95 */
  level?: number;
  /** Seed of the bootstrap and of replay's draws. @defaultValue 0 */
  seed?: number;
}

/** Defaults of {@link EstimateOptions}. */
export const DEFAULT_ESTIMATE_OPTIONS = Object.freeze({
  estimators: DEFAULT_ESTIMATORS,
  resamples: 200,
  level: 0.95,
  seed: 0,
});

/** What {@link estimatePolicyValue} returns. */
export interface PolicyValueEstimates {
  /** Per asked estimator. NaN (JSON null) where undefined, e.g. SNIPS when every weight is 0. */
  estimates: Partial<Record<EstimatorName, Estimate>>;
  /** Mean observed reward of the rows, with its bootstrap interval (the behaviour policy's value). */
  observed: Estimate;
  rows: number;
  rounds: number;
  /** Importance-weight diagnostics: mean (≈ 1 when the target's support is covered), largest, and Kish's effective sample size (Σw)²/Σw². */
  weights: { mean: number; max: number; effectiveSampleSize: number };
  /** Rows where replay's draw matched the logged action (only with `replay`). */
  replayMatches?: number;
}

// Per-row terms whose sums every estimator is a function of.
const ONE = 0;
const R = 1;
const W = 2;
const WR = 3;
const DM = 4;
const WRES = 5;
const M = 6;
const MR = 7;
const W2 = 8;
const TERMS = 9;

/**
 * Estimates the value of a target policy from a log of another (behaviour) policy.
 *
 * @param log - the logged rows; only `action`, `position`, `reward`, `propensity` and `round` are read.
 * @param target - row-major `rows × actions`: the target policy's probability of each action at
 *   the row's logged position, in the row's context. Each row should sum to 1.
 * @param rewardModel - row-major `rows × actions`: q̂(x_i, a, k_i), the predicted reward of each
 *   action at the row's position; required by dm, dr and sndr, ignored otherwise.
 * @throws InvalidArgumentError for arrays of the wrong shape, a missing reward model, a target
 *   row that does not sum to 1, or out-of-range options.
 * @example
 * const { estimates } = estimatePolicyValue(log, target, q, { estimators: ['ips', 'dr'] });
 */
export function estimatePolicyValue(
  log: Pick<BanditLog, 'rows' | 'actions' | 'action' | 'reward' | 'propensity' | 'round'>,
  target: Float64Array,
  rewardModel: Float64Array | null,
  options: EstimateOptions = {},
): PolicyValueEstimates {
  const o = { ...DEFAULT_ESTIMATE_OPTIONS, ...options };
  const n = log.rows;
  const k = log.actions.length;
  if (n === 0) throw new InvalidArgumentError('log', 'has no rows to evaluate');
  if (o.estimators.length === 0)
    throw new InvalidArgumentError('estimators', 'name at least one estimator');
  for (const e of o.estimators)
    if (!isEstimatorName(e))
      throw new InvalidArgumentError(
        'estimators',
        `unknown estimator "${String(e)}"; choose from ${ESTIMATORS.join(', ')}`,
      );
  if (!Number.isInteger(o.resamples) || o.resamples < 0)
    throw new InvalidArgumentError(
      'resamples',
      `must be a non-negative integer, got ${o.resamples}`,
    );
  if (target.length !== n * k)
    throw new InvalidArgumentError(
      'target',
      `expected ${n} × ${k} = ${n * k} probabilities, got ${target.length}`,
    );
  const needsModel = o.estimators.some((e) => MODEL_ESTIMATORS.includes(e));
  if (needsModel && rewardModel === null)
    throw new InvalidArgumentError(
      'rewardModel',
      `needed by ${o.estimators.filter((e) => MODEL_ESTIMATORS.includes(e)).join(', ')}`,
    );
  if (rewardModel !== null && rewardModel.length !== n * k)
    throw new InvalidArgumentError(
      'rewardModel',
      `expected ${n} × ${k} = ${n * k} predictions, got ${rewardModel.length}`,
    );

  const rounds = log.round[n - 1] + 1;
  const terms = new Float64Array(rounds * TERMS);
  const draws = new Random(o.seed ^ 0x5bd1e995);
  let maxWeight = 0;
  let matches = 0;
  for (let i = 0; i < n; i++) {
    const row = i * k;
    let total = 0;
    for (let a = 0; a < k; a++) total += target[row + a];
    if (!(Math.abs(total - 1) < 1e-6))
      throw new InvalidArgumentError(
        'target',
        `row ${i}: probabilities sum to ${+total.toPrecision(12)}, not 1`,
      );
    const a = log.action[i];
    const r = log.reward[i];
    const w = target[row + a] / log.propensity[i];
    if (w > maxWeight) maxWeight = w;
    const round = log.round[i];
    if (!(round >= 0 && round < rounds) || (i > 0 && round < log.round[i - 1]))
      throw new InvalidArgumentError(
        'round',
        `row ${i}: rounds must be contiguous and numbered from 0`,
      );
    const t = round * TERMS;
    terms[t + ONE] += 1;
    terms[t + R] += r;
    terms[t + W] += w;
    terms[t + WR] += w * r;
    terms[t + W2] += w * w;
    if (rewardModel !== null) {
      let dm = 0;
      for (let b = 0; b < k; b++) dm += target[row + b] * rewardModel[row + b];
      terms[t + DM] += dm;
      terms[t + WRES] += w * (r - rewardModel[row + a]);
    }
    if (o.estimators.includes('replay')) {
      const m = drawAction(target, row, k, draws.next()) === a ? 1 : 0;
      matches += m;
      terms[t + M] += m;
      terms[t + MR] += m * r;
    }
  }

  const full = new Float64Array(TERMS);
  for (let j = 0; j < rounds; j++) for (let t = 0; t < TERMS; t++) full[t] += terms[j * TERMS + t];
  const names = [...new Set(o.estimators)];
  const samples = names.map(() => new Float64Array(o.resamples));
  const observedSamples = new Float64Array(o.resamples);
  bootstrapRoundSums(terms, TERMS, o.resamples, o.seed, (sums, b) => {
    names.forEach((e, j) => (samples[j][b] = fromSums(e, sums)));
    observedSamples[b] = sums[R] / sums[ONE];
  });
  const interval = (values: Float64Array): [number, number] =>
    o.resamples === 0 ? [Number.NaN, Number.NaN] : percentileInterval(values, o.level);
  const estimates: Partial<Record<EstimatorName, Estimate>> = {};
  names.forEach((e, j) => (estimates[e] = { value: fromSums(e, full), ci: interval(samples[j]) }));
  return {
    estimates,
    observed: { value: full[R] / full[ONE], ci: interval(observedSamples) },
    rows: n,
    rounds,
    weights: {
      mean: full[W] / full[ONE],
      max: maxWeight,
      effectiveSampleSize: full[W2] > 0 ? (full[W] * full[W]) / full[W2] : 0,
    },
    ...(o.estimators.includes('replay') ? { replayMatches: matches } : {}),
  };
}

function fromSums(e: EstimatorName, s: Float64Array): number {
  switch (e) {
    case 'ips':
      return s[WR] / s[ONE];
    case 'snips':
      return s[WR] / s[W];
    case 'dm':
      return s[DM] / s[ONE];
    case 'dr':
      return (s[DM] + s[WRES]) / s[ONE];
    case 'sndr':
      return s[DM] / s[ONE] + s[WRES] / s[W];
    case 'replay':
      return s[MR] / s[M];
  }
}

/** Inverse-CDF draw from row `row` of a row-major probability matrix. */
function drawAction(p: Float64Array, row: number, k: number, u: number): number {
  let c = 0;
  for (let a = 0; a < k; a++) {
    c += p[row + a];
    if (u < c) return a;
  }
  // Rounding can leave the cumulative sum a hair under 1: take the last action with mass.
  for (let a = k - 1; a >= 0; a--) if (p[row + a] > 0) return a;
  return k - 1;
}
