import { InvalidArgumentError } from '../core/errors.js';
import {
  CONTEXTUAL_KINDS,
  type ArmStats,
  type BanditPolicy,
  type Feedback,
  type PolicyKind,
  type PolicyState,
} from './bandit-policy.js';
import { checkFeedback } from './policy-support.js';

/**
 * Every policy's state as flat, purely additive per-arm vectors, so feedback from many processes
 * can be merged by adding (in any order, with no lock): `[n, rewardSum]` for ε-greedy, UCB1 and
 * Bernoulli Thompson sampling, followed by `Σ x xᵀ` (d×d row-major) and `Σ r x` (d) for LinUCB
 * and linear Thompson sampling. The prior (λI) is not part of the vector: it is added when the
 * totals become a {@link PolicyState}, so an arm's totals start at zero.
 */

/** The length of one arm's statistics vector. */
export function statisticsWidth(kind: PolicyKind, dim: number): number {
  return CONTEXTUAL_KINDS.has(kind) ? 2 + dim * dim + dim : 2;
}

/**
 * The statistics increments of `feedback`, summed per arm (added to `into` when given). Every
 * item is checked first, as {@link BanditPolicy.update} checks it, so a bad one adds nothing.
 */
export function feedbackIncrements(
  kind: PolicyKind,
  dim: number,
  feedback: readonly Feedback[],
  into = new Map<string, Float64Array>(),
): Map<string, Float64Array> {
  const contextual = CONTEXTUAL_KINDS.has(kind);
  for (let k = 0; k < feedback.length; k++)
    checkFeedback(kind, contextual ? dim : 0, feedback[k], `feedback[${k}]`);
  const width = statisticsWidth(kind, dim);
  for (const { arm, context: x, reward } of feedback) {
    let v = into.get(arm);
    if (v === undefined) into.set(arm, (v = new Float64Array(width)));
    v[0] += 1;
    v[1] += reward;
    if (!contextual) continue;
    for (let r = 0; r < dim; r++) {
      const xr = x[r];
      const row = 2 + r * dim;
      for (let c = 0; c < dim; c++) v[row + c] += xr * x[c];
      v[2 + dim * dim + r] += reward * xr;
    }
  }
  return into;
}

/** Adds `increment` (a vector of the same width) into `total`. */
export function addStatistics(total: Float64Array, increment: Float64Array): void {
  for (let j = 0; j < total.length; j++) total[j] += increment[j];
}

/**
 * The {@link PolicyState} whose arms hold `totals` (statistics vectors of
 * {@link statisticsWidth}); linear arms get A = λI + Σ x xᵀ with λ from `params` (default 1).
 */
export function policyStateFromTotals(
  kind: PolicyKind,
  dim: number,
  params: Readonly<Record<string, number>>,
  totals: Iterable<readonly [arm: string, statistics: Float64Array]>,
): PolicyState {
  const width = statisticsWidth(kind, dim);
  const contextual = CONTEXTUAL_KINDS.has(kind);
  const lambda = params.lambda ?? 1;
  const arms: Record<string, ArmStats> = {};
  for (const [arm, v] of totals) {
    if (v.length !== width)
      throw new InvalidArgumentError(
        `statistics.${arm}`,
        `has ${v.length} numbers, a ${kind} bandit with dim ${dim} keeps ${width}`,
      );
    const stats: ArmStats = { n: v[0], rewardSum: v[1] };
    if (contextual) {
      const A = Array.from(v.subarray(2, 2 + dim * dim));
      for (let j = 0; j < dim; j++) A[j * dim + j] += lambda;
      stats.A = A;
      stats.b = Array.from(v.subarray(2 + dim * dim));
    }
    arms[arm] = stats;
  }
  return { kind, params: { ...params }, dim, arms };
}

/** Replaces `policy`'s state with `totals` (see {@link policyStateFromTotals}), keeping its parameters. */
export function restoreFromTotals(
  policy: BanditPolicy,
  totals: Iterable<readonly [arm: string, statistics: Float64Array]>,
): void {
  policy.restore(policyStateFromTotals(policy.kind, policy.dim, policy.params, totals));
}
