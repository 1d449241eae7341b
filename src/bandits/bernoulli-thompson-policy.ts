import type { DecideInput, Decision, PolicyKind } from './bandit-policy.js';
import { seededRandom } from './bandit-policy.js';
import {
  ArmPolicy,
  checkSamples,
  chosenIndices,
  DEFAULT_PROBABILITY_SAMPLES,
  type ParamSpec,
} from './policy-support.js';
import {
  BetaScores,
  rbPropensity,
  thompsonProbabilities,
  thompsonSelect,
  thompsonSlotMarginals,
} from './thompson-support.js';

/** Parameters of {@link BernoulliThompsonPolicy}. */
export const BERNOULLI_THOMPSON_PARAMS: Readonly<Record<string, ParamSpec>> = Object.freeze({
  /** Prior successes (Beta α). */
  alpha0: { default: 1, min: 0, max: 1e9, minExclusive: true },
  /** Prior failures (Beta β). */
  beta0: { default: 1, min: 0, max: 1e9, minExclusive: true },
  /** Monte Carlo draws per propensity estimate (see {@link rbPropensity}). */
  draws: { default: 100, min: 1, max: 100_000, integer: true },
});

/** Propensities cached per state before the cache is emptied (a bound on memory). */
const CACHE_LIMIT = 10_000;

/**
 * Bernoulli Thompson sampling: each arm's success rate has the posterior
 * Beta(α₀ + successes, β₀ + failures), where successes is the reward sum (rewards in [0, 1]) and
 * failures the count minus it. Per slot, a fresh draw per remaining candidate and the best wins.
 *
 * A slot's propensity does not depend on the context, only on the state, the remaining candidates
 * and the chosen arm; so it is estimated ({@link rbPropensity}, `draws` draws) with a generator
 * seeded from those candidates and that arm, and cached until the state changes: equal questions
 * get equal answers, the decision's own random stream is untouched, and repeated candidate sets
 * cost one estimate per state. {@link BernoulliThompsonPolicy.actionProbabilities} simulates
 * `samples` decisions. Ignores the context.
 */
export class BernoulliThompsonPolicy extends ArmPolicy {
  readonly kind: PolicyKind = 'bts';
  readonly #cache = new Map<string, number>();

  constructor(dim: number, params: Readonly<Record<string, number>> = {}) {
    super(dim, BERNOULLI_THOMPSON_PARAMS, params);
  }

  select(input: DecideInput, random: () => number): Decision {
    const [a, b] = this.#posteriors(input);
    const { candidates } = input;
    const draws = this.params.draws;
    return thompsonSelect(
      new BetaScores(a, b, random),
      candidates,
      input.slots,
      (taken, chosen) => {
        let key = '';
        for (let c = 0; c < candidates.length; c++)
          if (taken[c] === 0) key += `${candidates[c]}\u0000`;
        key += `\u0001${candidates[chosen]}`;
        let p = this.#cache.get(key);
        if (p === undefined) {
          p = rbPropensity(new BetaScores(a, b, seededRandom(fnv1a(key))), taken, chosen, draws);
          if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
          this.#cache.set(key, p);
        }
        return p;
      },
    );
  }

  actionProbabilities(
    input: DecideInput,
    random: () => number,
    samples = DEFAULT_PROBABILITY_SAMPLES,
  ): Float64Array[] {
    checkSamples(samples);
    const [a, b] = this.#posteriors(input);
    return thompsonProbabilities(
      new BetaScores(a, b, random),
      input.candidates.length,
      input.slots,
      samples,
    );
  }

  /** Marginals from `draws` simulated decisions ({@link thompsonSlotMarginals}). */
  slotMarginals(input: DecideInput, arms: readonly string[], random: () => number): number[] {
    const [a, b] = this.#posteriors(input);
    return thompsonSlotMarginals(
      new BetaScores(a, b, random),
      input.candidates.length,
      chosenIndices(input.candidates, arms),
      this.params.draws,
    );
  }

  protected override afterChange(): void {
    this.#cache.clear();
  }

  #posteriors(input: DecideInput): [Float64Array, Float64Array] {
    const idx = this.arms.resolve(input, 0);
    const { n, rewardSum } = this.arms;
    const { alpha0, beta0 } = this.params;
    const a = new Float64Array(idx.length);
    const b = new Float64Array(idx.length);
    for (let c = 0; c < idx.length; c++) {
      const i = idx[c];
      a[c] = alpha0 + (i < 0 ? 0 : rewardSum[i]);
      b[c] = beta0 + (i < 0 ? 0 : Math.max(0, n[i] - rewardSum[i]));
    }
    return [a, b];
  }
}

/** 32-bit FNV-1a hash of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
  return h >>> 0;
}
