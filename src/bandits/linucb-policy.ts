import type { DecideInput, Decision, PolicyKind } from './bandit-policy.js';
import { LinearPolicy } from './linear-policy.js';
import {
  chosenIndices,
  chosenScoreMarginals,
  scoreMarginals,
  selectByScores,
  type ParamSpec,
} from './policy-support.js';

/** Parameters of {@link LinUcbPolicy}. */
export const LINUCB_PARAMS: Readonly<Record<string, ParamSpec>> = Object.freeze({
  /** Scale of the exploration bonus sqrt(xᵀA⁻¹x). */
  alpha: { default: 1, min: 0, max: 1e6 },
  /** Ridge: every arm starts from A = λI. */
  lambda: { default: 1, min: 0, max: 1e9, minExclusive: true },
});

/**
 * LinUCB with disjoint linear models (Li et al., 2010): per slot, the remaining candidate with the
 * best `θᵀx + α·sqrt(xᵀA⁻¹x)`. Deterministic apart from exact ties (unseen arms tie with each
 * other), broken uniformly: a slot's propensity is 1 / (number tied), and the marginals are exact.
 * A decision over m candidates costs about m·(d + d²/2) multiply-adds.
 */
export class LinUcbPolicy extends LinearPolicy {
  readonly kind: PolicyKind = 'linucb';

  constructor(dim: number, params: Readonly<Record<string, number>> = {}) {
    super(dim, LINUCB_PARAMS, params);
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

  #scores(input: DecideInput): Float64Array {
    const idx = this.arms.resolve(input, this.dim);
    const m = idx.length;
    const scores = new Float64Array(m);
    const widths = new Float64Array(m);
    this.estimates(idx, input.context, scores, widths);
    const alpha = this.params.alpha;
    for (let c = 0; c < m; c++) scores[c] += alpha * widths[c];
    return scores;
  }
}
