import type { DecideInput, Decision, PolicyKind } from './bandit-policy.js';
import {
  ArmPolicy,
  chosenIndices,
  chosenScoreMarginals,
  scoreMarginals,
  selectByScores,
  type ParamSpec,
} from './policy-support.js';

/** Parameters of {@link Ucb1Policy}. */
export const UCB1_PARAMS: Readonly<Record<string, ParamSpec>> = Object.freeze({
  /** Scale of the exploration bonus (1 is Auer et al.'s UCB1). */
  alpha: { default: 1, min: 0, max: 1e6 },
});

/**
 * UCB1: the remaining candidate with the best `mean + α·sqrt(2 ln N / n)` per slot, where n is the
 * arm's feedback count and N the bandit's total. Arms without feedback score +∞, so they are tried
 * first. Deterministic apart from exact ties, broken uniformly: a slot's propensity is 1 / (number
 * tied), and the marginals are exact. Ignores the context.
 */
export class Ucb1Policy extends ArmPolicy {
  readonly kind: PolicyKind = 'ucb1';
  #total = 0;

  constructor(dim: number, params: Readonly<Record<string, number>> = {}) {
    super(dim, UCB1_PARAMS, params);
  }

  select(input: DecideInput, random: () => number): Decision {
    return selectByScores(this.#scores(input), input.candidates, input.slots, random);
  }

  actionProbabilities(input: DecideInput): Float64Array[] {
    return scoreMarginals(this.#scores(input), input.slots);
  }

  slotMarginals(input: DecideInput, arms: readonly string[]): number[] {
    return chosenScoreMarginals(this.#scores(input), chosenIndices(input.candidates, arms));
  }

  protected override afterChange(): void {
    let total = 0;
    for (let i = 0; i < this.arms.size; i++) total += this.arms.n[i];
    this.#total = total;
  }

  #scores(input: DecideInput): Float64Array {
    const idx = this.arms.resolve(input, 0);
    const { n, rewardSum } = this.arms;
    const logTotal = this.#total > 1 ? Math.log(this.#total) : 0;
    const alpha = this.params.alpha;
    const scores = new Float64Array(idx.length);
    for (let c = 0; c < idx.length; c++) {
      const i = idx[c];
      scores[c] =
        i < 0 || n[i] === 0
          ? Infinity
          : rewardSum[i] / n[i] + alpha * Math.sqrt((2 * logTotal) / n[i]);
    }
    return scores;
  }
}
