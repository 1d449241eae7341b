import { InvalidArgumentError } from '../core/errors.js';
import { Random } from '../core/random.js';
import { BernoulliThompsonPolicy } from './bernoulli-thompson-policy.js';
import { EpsilonGreedyPolicy } from './epsilon-greedy-policy.js';
import { LinearThompsonPolicy } from './linear-thompson-policy.js';
import { LinUcbPolicy } from './linucb-policy.js';
import { MAX_DIM } from './policy-support.js';
import { Ucb1Policy } from './ucb1-policy.js';

export { DEFAULT_PROBABILITY_SAMPLES, MAX_DIM } from './policy-support.js';
export { MIN_PROPENSITY } from './thompson-support.js';

/**
 * The policies kiban ships: ε-greedy, UCB1, Bernoulli Thompson sampling (Beta posteriors), LinUCB
 * (disjoint: one ridge regression per arm) and linear Thompson sampling (Gaussian posteriors over
 * the same ridge regressions).
 */
export const POLICY_KINDS = ['egreedy', 'ucb1', 'bts', 'linucb', 'lints'] as const;

/** One of {@link POLICY_KINDS}. */
export type PolicyKind = (typeof POLICY_KINDS)[number];

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
  /** Chooses `slots` arms; throws {@link InvalidArgumentError} for malformed input. Does not change the state. */
  select(input: DecideInput, random: () => number): Decision;
  /**
   * Per slot, the probability of each candidate at that slot over the policy's randomness (a
   * Float64Array aligned with `candidates`, summing to 1): exact for ε-greedy, UCB1 and LinUCB,
   * a Monte Carlo estimate from `samples` simulated decisions for Thompson sampling
   * (default {@link DEFAULT_PROBABILITY_SAMPLES}). Used by off-policy evaluation.
   */
  actionProbabilities(input: DecideInput, random: () => number, samples?: number): Float64Array[];
  /**
   * Per slot, the marginal probability (over the policy's randomness) that the arm `arms[s]` of a
   * decision on `input` is put at slot `s` — what per-position off-policy estimators need, where
   * {@link Decision.propensities} after slot 0 are conditional on the earlier slots. Only the
   * chosen arms are computed (memory O(candidates), not slots × candidates): exact for ε-greedy,
   * UCB1 and LinUCB; for Thompson sampling a Rao–Blackwellised Monte Carlo estimate from the
   * policy's `draws` simulated decisions, at least {@link MIN_PROPENSITY}.
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

/** Options of {@link createPolicy}. */
export interface CreatePolicyOptions {
  /** Context length: ≥ 1 for `linucb` and `lints`, ≥ 0 otherwise (context then ignored). */
  dim: number;
  /** Policy parameters; unknown names and out-of-range values are refused (see each policy's defaults). */
  params?: Record<string, number>;
}

/**
 * Creates an empty policy of `kind`. Parameters (defaults in brackets):
 * - `egreedy`: `epsilon` [0.1] share of uniform exploration per slot; `initial` [0] mean assumed for unseen arms.
 * - `ucb1`: `alpha` [1] scale of the bonus `sqrt(2 ln N / n)`.
 * - `bts`: `alpha0` [1], `beta0` [1] Beta prior; `draws` [100] Monte Carlo draws per propensity.
 * - `linucb`: `alpha` [1] scale of the bonus `sqrt(xᵀA⁻¹x)`; `lambda` [1] ridge.
 * - `lints`: `v` [0.5] posterior scale; `lambda` [1] ridge; `draws` [100] Monte Carlo draws per propensity.
 *
 * @example
 * const policy = createPolicy('linucb', { dim: 20, params: { alpha: 0.5 } });
 * const { arms, propensities } = policy.select({ context, candidates: ['a', 'b', 'c'], slots: 2 }, seededRandom(1));
 * policy.update([{ arm: arms[0], context, reward: 1 }]);
 */
export function createPolicy(kind: PolicyKind, options: CreatePolicyOptions): BanditPolicy {
  const { dim } = options;
  const params = options.params ?? {};
  if (!Number.isSafeInteger(dim) || dim < 0 || dim > MAX_DIM) throw new InvalidArgumentError('dim', `must be an integer from 0 to ${MAX_DIM}, got ${dim}`);
  switch (kind) {
    case 'egreedy':
      return new EpsilonGreedyPolicy(dim, params);
    case 'ucb1':
      return new Ucb1Policy(dim, params);
    case 'bts':
      return new BernoulliThompsonPolicy(dim, params);
    case 'linucb':
      return new LinUcbPolicy(dim, params);
    case 'lints':
      return new LinearThompsonPolicy(dim, params);
    default:
      throw new InvalidArgumentError('policy', `unknown policy "${String(kind)}"; known: ${POLICY_KINDS.join(', ')}`);
  }
}

/** Whether `value` names a policy kind. */
export function isPolicyKind(value: unknown): value is PolicyKind {
  return typeof value === 'string' && (POLICY_KINDS as readonly string[]).includes(value);
}

/**
 * A seeded uniform generator on [0, 1) (xoshiro128**, see {@link Random}): equal seeds give equal
 * sequences, so tests and simulations are reproducible.
 */
export function seededRandom(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}
