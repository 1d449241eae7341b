import { Random } from '../core/random.js';

/**
 * One of the policies kiban ships: ε-greedy, UCB1, Bernoulli Thompson sampling (Beta posteriors),
 * LinUCB (disjoint: one ridge regression per arm) and linear Thompson sampling (Gaussian posteriors
 * over the same ridge regressions). The list of them at run time is `POLICY_KINDS` in
 * `create-policy.ts`, which is checked to name exactly these.
 */
export type PolicyKind = 'egreedy' | 'ucb1' | 'bts' | 'linucb' | 'lints';

/** The kinds whose choices depend on the context. */
export const CONTEXTUAL_KINDS: ReadonlySet<PolicyKind> = new Set(['linucb', 'lints']);

/** What one decision is asked. */
export interface DecideInput {
  /** The context, `dim` finite numbers; ignored by the non-contextual policies. */
  context: Float64Array;
  /** Arm ids to choose among: distinct, non-empty strings. Arms never seen start from the prior. */
  candidates: readonly string[];
  /** How many arms to choose (positions to fill): an integer from 1 to `candidates.length`. */
  slots: number;
}

/** What one decision chose. */
export interface Decision {
  /** One arm per slot, distinct, slot 0 first. */
  arms: string[];
  /**
   * Per slot, the probability that this arm was put at this slot given the arms of the earlier
   * slots of this decision (exact, or a Monte Carlo estimate for Thompson sampling); in (0, 1].
   */
  propensities: number[];
}

/** The observed reward of an arm shown in a context. */
export interface Feedback {
  arm: string;
  /** The context the arm was chosen in (`dim` numbers); ignored by the non-contextual policies. */
  context: Float64Array;
  /** In [0, 1] for `bts` (1 a success, fractions count as partial successes); any finite number otherwise. */
  reward: number;
}

/**
 * A bandit policy: chooses arms among candidates and learns from their rewards. State is additive
 * sufficient statistics per arm (see {@link ArmStats}), so updates commute and can be merged from
 * many processes. Randomness comes only from the `random` argument, so equal states and equal
 * seeds give equal decisions.
 *
 * Multi-slot decisions fill the slots one by one without replacement: slot k chooses among the
 * candidates not chosen for slots 0…k−1, by the same rule as slot 0.
 */
export interface BanditPolicy {
  readonly kind: PolicyKind;
  /** The context length this policy expects (0 for a non-contextual policy created without one). */
  readonly dim: number;
  /** The parameters in force, defaults applied. */
  readonly params: Readonly<Record<string, number>>;
  /** Chooses `slots` arms; throws `InvalidArgumentError` for malformed input. Does not change the state. */
  select(input: DecideInput, random: () => number): Decision;
  /**
   * Per slot, the probability of each candidate at that slot over the policy's randomness (a
   * Float64Array aligned with `candidates`, summing to 1): exact for ε-greedy, UCB1 and LinUCB,
   * a Monte Carlo estimate from `samples` simulated decisions for Thompson sampling
   * (default `DEFAULT_PROBABILITY_SAMPLES` of `policy-support.ts`). Used by off-policy evaluation.
   */
  actionProbabilities(input: DecideInput, random: () => number, samples?: number): Float64Array[];
  /**
   * Per slot, the marginal probability (over the policy's randomness) that the arm `arms[s]` of a
   * decision on `input` is put at slot `s` — what per-position off-policy estimators need, where
   * {@link Decision.propensities} after slot 0 are conditional on the earlier slots. Only the
   * chosen arms are computed (memory O(candidates), not slots × candidates): exact for ε-greedy,
   * UCB1 and LinUCB; for Thompson sampling a Rao–Blackwellised Monte Carlo estimate from the
   * policy's `draws` simulated decisions, at least `MIN_PROPENSITY` of `thompson-support.ts`.
   */
  slotMarginals(input: DecideInput, arms: readonly string[], random: () => number): number[];
  /** How many arms the policy holds statistics for. */
  readonly armCount: number;
  /** Whether the policy holds statistics for arm `id`. */
  hasArm(id: string): boolean;
  /**
   * Sets each listed arm's statistics from its additive totals (the vectors of
   * `sufficient-statistics.ts`; arms new to the policy are added, others keep theirs), recomputing
   * derived values (inverses) only for arms whose totals changed; returns how many changed.
   * @throws InvalidArgumentError for totals of the wrong width or with non-finite numbers (nothing is changed).
   */
  setTotals(totals: Iterable<readonly [arm: string, totals: Float64Array]>): number;
  /** Adds the rewards to the arms' statistics; arms never seen are created from the prior. */
  update(feedback: readonly Feedback[]): void;
  /** The whole state as plain JSON (parameters included). */
  snapshot(): PolicyState;
  /** Replaces the whole state (parameters included) with one from {@link BanditPolicy.snapshot}. */
  restore(state: PolicyState): void;
}

/** A policy's state as plain JSON. */
export interface PolicyState {
  kind: PolicyKind;
  /** Every parameter, defaults applied. */
  params: Record<string, number>;
  dim: number;
  arms: Record<string, ArmStats>;
}

/** One arm's sufficient statistics. */
export interface ArmStats {
  /** Rewards observed. */
  n: number;
  /** Sum of the rewards observed. */
  rewardSum: number;
  /** Linear policies: `λI + Σ x xᵀ`, d×d row-major. */
  A?: number[];
  /** Linear policies: `Σ r x`, d numbers. */
  b?: number[];
}

/**
 * A seeded uniform generator on [0, 1) (xoshiro128**, see {@link Random}): equal seeds give equal
 * sequences, so tests and simulations are reproducible.
 */
export function seededRandom(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}
