import type { DecideInput, Decision, PolicyKind } from './bandit-policy.js';
import { ArmPolicy, chosenIndices, type ParamSpec } from './policy-support.js';

/** Parameters of {@link EpsilonGreedyPolicy}. */
export const EPSILON_GREEDY_PARAMS: Readonly<Record<string, ParamSpec>> = Object.freeze({
  /** Probability, per slot, of choosing uniformly among the remaining candidates. */
  epsilon: { default: 0.1, min: 0, max: 1 },
  /** Mean reward assumed for an arm with no feedback yet. */
  initial: { default: 0, min: -1e12, max: 1e12 },
});

/**
 * ε-greedy: per slot, with probability ε a uniformly random remaining candidate, otherwise the
 * remaining candidate with the best mean reward (ties broken uniformly). Propensities are exact:
 * arm a at a slot with r remaining candidates, g of them tied for the best mean, has
 * ε/r + (1−ε)·[a is among the best]/g. {@link EpsilonGreedyPolicy.actionProbabilities} is exact
 * too (see {@link greedyRankMarginals}). Ignores the context.
 */
export class EpsilonGreedyPolicy extends ArmPolicy {
  readonly kind: PolicyKind = 'egreedy';

  constructor(dim: number, params: Readonly<Record<string, number>> = {}) {
    super(dim, EPSILON_GREEDY_PARAMS, params);
  }

  select(input: DecideInput, random: () => number): Decision {
    const means = this.#means(input);
    const { candidates, slots } = input;
    const m = candidates.length;
    const epsilon = this.params.epsilon;
    const taken = new Uint8Array(m);
    const arms: string[] = new Array<string>(slots);
    const propensities: number[] = new Array<number>(slots);
    for (let s = 0; s < slots; s++) {
      const remaining = m - s;
      let best = -Infinity;
      let ties = 0;
      for (let c = 0; c < m; c++) {
        if (taken[c] === 1) continue;
        if (means[c] > best || ties === 0) {
          best = means[c];
          ties = 1;
        } else if (means[c] === best) ties++;
      }
      const explore = random() < epsilon;
      const pick = explore
        ? Math.floor(random() * remaining)
        : ties > 1
          ? Math.floor(random() * ties)
          : 0;
      let chosen = -1;
      for (let c = 0, k = 0; c < m; c++) {
        if (taken[c] === 1 || (!explore && means[c] !== best)) continue;
        if (k++ === pick) {
          chosen = c;
          break;
        }
      }
      taken[chosen] = 1;
      arms[s] = candidates[chosen];
      propensities[s] = epsilon / remaining + (means[chosen] === best ? (1 - epsilon) / ties : 0);
    }
    return { arms, propensities };
  }

  actionProbabilities(input: DecideInput): Float64Array[] {
    const means = this.#means(input);
    const m = means.length;
    const order = Array.from({ length: m }, (_, c) => c).sort(
      (a, b) => means[b] - means[a] || a - b,
    );
    const byRank = greedyRankMarginals(m, input.slots, this.params.epsilon);
    const out = Array.from({ length: input.slots }, () => new Float64Array(m));
    // Tied arms are exchangeable: each gets the average over the ranks its group spans.
    for (let start = 0; start < m; ) {
      let end = start + 1;
      while (end < m && means[order[end]] === means[order[start]]) end++;
      for (let s = 0; s < input.slots; s++) {
        let sum = 0;
        for (let r = start; r < end; r++) sum += byRank[s][r];
        for (let r = start; r < end; r++) out[s][order[r]] = sum / (end - start);
      }
      start = end;
    }
    return out;
  }

  slotMarginals(input: DecideInput, arms: readonly string[]): number[] {
    const means = this.#means(input);
    const chosen = chosenIndices(input.candidates, arms);
    // The chosen arm's tie group spans ranks [better, better + tied): tied arms are exchangeable.
    const from = new Int32Array(chosen.length);
    const to = new Int32Array(chosen.length);
    chosen.forEach((c, s) => {
      let better = 0;
      let tied = 0;
      for (let k = 0; k < means.length; k++) {
        if (means[k] > means[c]) better++;
        else if (means[k] === means[c]) tied++;
      }
      from[s] = better;
      to[s] = better + tied;
    });
    const sums = greedyRankRangeMarginals(means.length, this.params.epsilon, from, to);
    return sums.map((sum, s) => sum / (to[s] - from[s]));
  }

  #means(input: DecideInput): Float64Array {
    const idx = this.arms.resolve(input, 0);
    const { n, rewardSum } = this.arms;
    const initial = this.params.initial;
    const means = new Float64Array(idx.length);
    for (let c = 0; c < idx.length; c++) {
      const i = idx[c];
      means[c] = i >= 0 && n[i] > 0 ? rewardSum[i] / n[i] : initial;
    }
    return means;
  }
}

/**
 * Exact per-slot probabilities of each greedy rank (0 = best) for ε-greedy over m arms in a strict
 * order, filling `slots` slots without replacement. The removed set after j slots is described by
 * (p, q): ranks 0…p−1 all removed, rank p not, and q removed among the n = m−p−1 ranks after p —
 * and, by symmetry, those q are a uniformly random q-subset of them (random picks are uniform;
 * greedy picks only ever take rank p). So a dynamic programme over p (q = j − p) is exact:
 * rank p is taken with probability (1−ε) + ε/(m−j), after which the prefix absorbs the run of
 * removed ranks that follows it; any other remaining rank is taken with probability ε/(m−j).
 */
export function greedyRankMarginals(m: number, slots: number, epsilon: number): Float64Array[] {
  const out = Array.from({ length: slots }, () => new Float64Array(m));
  walkGreedyStates(m, slots, epsilon, (j, p, w, uniform, stillThere) => {
    const row = out[j];
    row[p] += w * (1 - epsilon + uniform);
    for (let r = p + 1; r < m; r++) row[r] += w * uniform * stillThere;
  });
  return out;
}

/**
 * Per slot j, the probability that slot j takes one of the greedy ranks `from[j]`…`to[j]`−1 (the
 * same dynamic programme as {@link greedyRankMarginals}, summed over the ranks asked for):
 * memory O(m), not slots × m.
 */
export function greedyRankRangeMarginals(
  m: number,
  epsilon: number,
  from: Int32Array,
  to: Int32Array,
): number[] {
  const out = new Array<number>(from.length).fill(0);
  walkGreedyStates(m, from.length, epsilon, (j, p, w, uniform, stillThere) => {
    const a = from[j];
    const b = to[j];
    if (p >= a && p < b) out[j] += w * (1 - epsilon + uniform);
    const later = b - Math.max(a, p + 1);
    if (later > 0) out[j] += later * w * uniform * stillThere;
  });
  return out;
}

/**
 * Walks the states of the programme: for each slot j and prefix p with probability w, rank p is
 * taken with probability (1−ε) + `uniform` and each other remaining rank after p with
 * `uniform` × `stillThere` (the chance it is still there).
 */
function walkGreedyStates(
  m: number,
  slots: number,
  epsilon: number,
  visit: (j: number, p: number, w: number, uniform: number, stillThere: number) => void,
): void {
  let state = new Float64Array(m + 1);
  state[0] = 1;
  for (let j = 0; j < slots; j++) {
    const next = new Float64Array(m + 1);
    const remaining = m - j;
    const uniform = epsilon / remaining;
    for (let p = 0; p <= Math.min(j, m - 1); p++) {
      const w = state[p];
      if (w === 0) continue;
      const q = j - p;
      const n = m - p - 1;
      const stillThere = n > 0 ? 1 - q / n : 0;
      visit(j, p, w, uniform, stillThere);
      // Taking rank p: the prefix grows by 1 plus the run of removed ranks right after it.
      const takeP = w * (1 - epsilon + uniform);
      let runProbability = 1; // P(ranks p+1…p+t all removed)
      for (let t = 0; t <= q; t++) {
        const nextFree = t < n ? 1 - (q - t) / (n - t) : 1;
        const pt = runProbability * nextFree;
        if (pt > 0) next[p + 1 + t] += takeP * pt;
        if (t < n) runProbability *= (q - t) / (n - t);
      }
      // Taking another remaining rank: one more removed after the prefix.
      if (n - q > 0) next[p] += w * uniform * (n - q);
    }
    state = next;
  }
}
