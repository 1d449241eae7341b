import { InvalidArgumentError } from '../core/errors.js';
import type { BanditPolicy, PolicyKind } from './bandit-policy.js';
import { BernoulliThompsonPolicy } from './bernoulli-thompson-policy.js';
import { EpsilonGreedyPolicy } from './epsilon-greedy-policy.js';
import { LinearThompsonPolicy } from './linear-thompson-policy.js';
import { LinUcbPolicy } from './linucb-policy.js';
import { MAX_DIM } from './policy-support.js';
import { Ucb1Policy } from './ucb1-policy.js';

/**
 * The policies kiban ships, in this order: ε-greedy, UCB1, Bernoulli Thompson sampling (Beta
 * posteriors), LinUCB (disjoint: one ridge regression per arm) and linear Thompson sampling
 * (Gaussian posteriors over the same ridge regressions). Names exactly the members of
 * {@link PolicyKind} (checked at compile time).
 */
export const POLICY_KINDS = [
  'egreedy',
  'ucb1',
  'bts',
  'linucb',
  'lints',
] as const satisfies readonly PolicyKind[];

// A kind added to PolicyKind but not to POLICY_KINDS would be refused by isPolicyKind; fail the build instead.
type MissingKinds = Exclude<PolicyKind, (typeof POLICY_KINDS)[number]>;
const everyKindListed: [MissingKinds] extends [never] ? true : MissingKinds = true;
void everyKindListed;

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
  if (!Number.isSafeInteger(dim) || dim < 0 || dim > MAX_DIM)
    throw new InvalidArgumentError('dim', `must be an integer from 0 to ${MAX_DIM}, got ${dim}`);
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
      throw new InvalidArgumentError(
        'policy',
        `unknown policy "${String(kind)}"; known: ${POLICY_KINDS.join(', ')}`,
      );
  }
}

/** Whether `value` names a policy kind. */
export function isPolicyKind(value: unknown): value is PolicyKind {
  return typeof value === 'string' && (POLICY_KINDS as readonly string[]).includes(value);
}
