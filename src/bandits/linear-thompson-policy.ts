import type { DecideInput, Decision, PolicyKind } from './bandit-policy.js';
import { LinearPolicy } from './linear-policy.js';
import {
  checkSamples,
  chosenIndices,
  DEFAULT_PROBABILITY_SAMPLES,
  type ParamSpec,
} from './policy-support.js';
import {
  GaussianScores,
  rbPropensity,
  thompsonProbabilities,
  thompsonSelect,
  thompsonSlotMarginals,
  type ScoreModel,
} from './thompson-support.js';

/** Parameters of {@link LinearThompsonPolicy}. */
export const LINEAR_THOMPSON_PARAMS: Readonly<Record<string, ParamSpec>> = Object.freeze({
  /** Posterior scale: θ ~ N(θ̂, v²A⁻¹). */
  v: { default: 0.5, min: 0, max: 1e6 },
  /** Ridge: every arm starts from A = λI. */
  lambda: { default: 1, min: 0, max: 1e9, minExclusive: true },
  /** Monte Carlo draws per propensity estimate (see {@link thompsonSelect}). */
  draws: { default: 100, min: 1, max: 100_000, integer: true },
});

/**
 * Linear Thompson sampling (Agrawal & Goyal, 2013) over disjoint per-arm ridge regressions:
 * θ_a ~ N(θ̂_a, v²A_a⁻¹). Only the score θ_aᵀx matters to a decision, and it is exactly
 * N(θ̂_aᵀx, v²·xᵀA_a⁻¹x), so each draw is one normal variate per arm rather than a d-dimensional
 * one. Per slot, a fresh draw per remaining candidate and the best wins; propensities are Monte
 * Carlo estimates with `draws` draws per slot ({@link rbPropensity}) — most of a decision's cost:
 * about (draws + 1) × candidates normal variates — and
 * {@link LinearThompsonPolicy.actionProbabilities} simulates `samples` decisions.
 */
export class LinearThompsonPolicy extends LinearPolicy {
  readonly kind: PolicyKind = 'lints';

  constructor(dim: number, params: Readonly<Record<string, number>> = {}) {
    super(dim, LINEAR_THOMPSON_PARAMS, params);
  }

  select(input: DecideInput, random: () => number): Decision {
    const model = this.#model(input, random);
    const draws = this.params.draws;
    return thompsonSelect(model, input.candidates, input.slots, (taken, chosen) =>
      rbPropensity(model, taken, chosen, draws),
    );
  }

  actionProbabilities(
    input: DecideInput,
    random: () => number,
    samples = DEFAULT_PROBABILITY_SAMPLES,
  ): Float64Array[] {
    checkSamples(samples);
    return thompsonProbabilities(
      this.#model(input, random),
      input.candidates.length,
      input.slots,
      samples,
    );
  }

  /** Marginals from `draws` simulated decisions ({@link thompsonSlotMarginals}). */
  slotMarginals(input: DecideInput, arms: readonly string[], random: () => number): number[] {
    return thompsonSlotMarginals(
      this.#model(input, random),
      input.candidates.length,
      chosenIndices(input.candidates, arms),
      this.params.draws,
    );
  }

  #model(input: DecideInput, random: () => number): ScoreModel {
    const idx = this.arms.resolve(input, this.dim);
    const m = idx.length;
    const means = new Float64Array(m);
    const sds = new Float64Array(m);
    this.estimates(idx, input.context, means, sds);
    const v = this.params.v;
    for (let c = 0; c < m; c++) sds[c] *= v;
    return new GaussianScores(means, sds, random);
  }
}
