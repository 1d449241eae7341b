import type { Decision } from './bandit-policy.js';
import { betaSurvival, betaVariate, Normals, normalSurvival } from '../math/distributions.js';

/** The posterior scores of one decision's candidates, as Thompson sampling sees them. */
export interface ScoreModel {
  /** The remaining candidate (`taken[c]` = 0) with the best fresh draw; ties go to the first. */
  best(taken: Uint8Array): number;
  /** The best fresh draw among the remaining candidates other than `skip` (−∞ when there are none). */
  maxOthers(taken: Uint8Array, skip: number): number;
  /** P(score of candidate `c` > t) under its posterior, exactly. */
  survival(c: number, t: number): number;
}

/**
 * The least propensity reported: a Rao–Blackwellised estimate can underflow to 0 for an arm far
 * behind the others, and a propensity must stay in (0, 1].
 */
export const MIN_PROPENSITY = 1e-12;

/** Estimates the propensity of the `chosen` candidate among the remaining ones (`taken[c]` = 0). */
export type PropensityEstimate = (taken: Uint8Array, chosen: number) => number;

/**
 * Thompson sampling over slots, filled one by one without replacement: slot k draws a fresh score
 * for every remaining candidate and takes the best. Its propensity — P(the chosen candidate has
 * the best fresh draw among the remaining ones) — comes from `propensity` (by default
 * {@link rbPropensity} with `draws` draws); a single remaining candidate has propensity 1.
 */
export function thompsonSelect(
  model: ScoreModel,
  candidates: readonly string[],
  slots: number,
  propensity: PropensityEstimate,
): Decision {
  const m = candidates.length;
  const taken = new Uint8Array(m);
  const arms: string[] = new Array<string>(slots);
  const propensities: number[] = new Array<number>(slots);
  for (let s = 0; s < slots; s++) {
    const chosen = model.best(taken);
    propensities[s] = m - s > 1 ? propensity(taken, chosen) : 1;
    taken[chosen] = 1;
    arms[s] = candidates[chosen];
  }
  return { arms, propensities };
}

/**
 * P(candidate `chosen` has the best fresh draw among the remaining ones), estimated with `draws`
 * Monte Carlo draws of the other candidates, each contributing the exact conditional probability
 * P(score > their maximum) — Rao–Blackwellisation: lower variance than counting wins, and never
 * 0 for an arm that can win, though clamped at {@link MIN_PROPENSITY} against underflow.
 * Cost: `draws` × (remaining − 1) score draws.
 */
export function rbPropensity(
  model: ScoreModel,
  taken: Uint8Array,
  chosen: number,
  draws: number,
): number {
  let sum = 0;
  for (let k = 0; k < draws; k++) sum += model.survival(chosen, model.maxOthers(taken, chosen));
  return Math.min(1, Math.max(MIN_PROPENSITY, sum / draws));
}

/**
 * Per slot, the share of `samples` simulated {@link thompsonSelect} decisions that put each
 * candidate at that slot (a Monte Carlo estimate of the marginal probabilities).
 */
export function thompsonProbabilities(
  model: ScoreModel,
  m: number,
  slots: number,
  samples: number,
): Float64Array[] {
  const out = Array.from({ length: slots }, () => new Float64Array(m));
  const taken = new Uint8Array(m);
  for (let k = 0; k < samples; k++) {
    taken.fill(0);
    for (let s = 0; s < slots; s++) {
      const c = model.best(taken);
      taken[c] = 1;
      out[s][c] += 1;
    }
  }
  for (const row of out) for (let c = 0; c < m; c++) row[c] /= samples;
  return out;
}

/**
 * Per slot s, the marginal probability that candidate `chosen[s]` is put at slot s, estimated
 * from `samples` simulated decisions: in each, before slot s is filled, the exact conditional
 * chance that the candidate wins it given the slots filled so far (one fresh draw of the others'
 * best) is added when it is still there — Rao–Blackwellisation, so a chosen arm never gets 0 from
 * unlucky simulations. Clamped to [{@link MIN_PROPENSITY}, 1]. Cost: about 2 × samples × slots ×
 * candidates score draws; memory O(candidates).
 */
export function thompsonSlotMarginals(
  model: ScoreModel,
  m: number,
  chosen: Int32Array,
  samples: number,
): number[] {
  const slots = chosen.length;
  const sums = new Float64Array(slots);
  const taken = new Uint8Array(m);
  for (let k = 0; k < samples; k++) {
    taken.fill(0);
    for (let s = 0; s < slots; s++) {
      const target = chosen[s];
      if (taken[target] === 0)
        sums[s] += m - s > 1 ? model.survival(target, model.maxOthers(taken, target)) : 1;
      if (s + 1 < slots) taken[model.best(taken)] = 1;
    }
  }
  return Array.from(sums, (sum) => Math.min(1, Math.max(MIN_PROPENSITY, sum / samples)));
}

/** Independent normal scores N(means[c], sds[c]²) (linear Thompson sampling). */
export class GaussianScores implements ScoreModel {
  readonly #normals: Normals;

  constructor(
    private readonly means: Float64Array,
    private readonly sds: Float64Array,
    random: () => number,
  ) {
    this.#normals = new Normals(random);
  }

  best(taken: Uint8Array): number {
    const { means, sds } = this;
    let best = -Infinity;
    let at = -1;
    for (let c = 0; c < means.length; c++) {
      if (taken[c] === 1) continue;
      const v = means[c] + sds[c] * this.#normals.next();
      if (v > best || at < 0) {
        best = v;
        at = c;
      }
    }
    return at;
  }

  maxOthers(taken: Uint8Array, skip: number): number {
    const { means, sds } = this;
    let best = -Infinity;
    for (let c = 0; c < means.length; c++) {
      if (taken[c] === 1 || c === skip) continue;
      const v = means[c] + sds[c] * this.#normals.next();
      if (v > best) best = v;
    }
    return best;
  }

  survival(c: number, t: number): number {
    const sd = this.sds[c];
    const mean = this.means[c];
    return sd > 0 ? normalSurvival((t - mean) / sd) : mean > t ? 1 : 0;
  }
}

/** Independent Beta(a[c], b[c]) scores (Bernoulli Thompson sampling). */
export class BetaScores implements ScoreModel {
  readonly #normals: Normals;

  constructor(
    private readonly a: Float64Array,
    private readonly b: Float64Array,
    private readonly random: () => number,
  ) {
    this.#normals = new Normals(random);
  }

  best(taken: Uint8Array): number {
    let best = -Infinity;
    let at = -1;
    for (let c = 0; c < this.a.length; c++) {
      if (taken[c] === 1) continue;
      const v = betaVariate(this.a[c], this.b[c], this.#normals, this.random);
      if (v > best || at < 0) {
        best = v;
        at = c;
      }
    }
    return at;
  }

  maxOthers(taken: Uint8Array, skip: number): number {
    let best = -Infinity;
    for (let c = 0; c < this.a.length; c++) {
      if (taken[c] === 1 || c === skip) continue;
      const v = betaVariate(this.a[c], this.b[c], this.#normals, this.random);
      if (v > best) best = v;
    }
    return best;
  }

  survival(c: number, t: number): number {
    return betaSurvival(t, this.a[c], this.b[c]);
  }
}
