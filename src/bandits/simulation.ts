import { InvalidArgumentError } from '../core/errors.js';
import type { BanditPolicy, Feedback } from './bandit-policy.js';
import { seededRandom } from './bandit-policy.js';

/** Options of {@link LinearEnvironment}. */
export interface LinearEnvironmentOptions {
  /** Number of arms, named `arm0`, `arm1`, …. */
  arms: number;
  /** Context length, ≥ 2: a constant 1 followed by dim − 1 uniform features. */
  dim: number;
  /** Seed of the arms' hidden parameters. */
  seed: number;
  /** Which arm gets the highest base rate (the best arm on average). @defaultValue 0 */
  best?: number;
}

/** Base success rate of the best arm; the others' are in [0.3, 0.4]. */
const BEST_BASE = 0.5;
/** Largest context weight: large enough that the best arm depends on the context. */
const WEIGHT = 0.6;

/**
 * A simulated contextual bandit with known expected rewards, linear in the context: arm k's
 * success probability in context x = (1, u) is `base_k + w_kᵀu` (clipped to [0.05, 0.95], which
 * rarely bites), with u uniform in [−1, 1]^(d−1) / sqrt(d−1), bases in [0.3, 0.4] except the
 * best arm's 0.5, and weights uniform in [−0.6, 0.6]. The best arm is best on average, but the
 * best arm of a given context — known exactly, so regret is exact — varies with the context,
 * which is what contextual policies can learn and the others cannot. Rewards are Bernoulli.
 */
export class LinearEnvironment {
  readonly arms: string[];
  readonly dim: number;
  readonly #base: Float64Array;
  readonly #weights: Float64Array;

  constructor(options: LinearEnvironmentOptions) {
    const { arms, dim, seed, best = 0 } = options;
    if (!Number.isSafeInteger(arms) || arms < 2)
      throw new InvalidArgumentError('arms', `must be an integer ≥ 2, got ${arms}`);
    if (!Number.isSafeInteger(dim) || dim < 2)
      throw new InvalidArgumentError('dim', `must be an integer ≥ 2, got ${dim}`);
    if (!Number.isSafeInteger(best) || best < 0 || best >= arms)
      throw new InvalidArgumentError('best', `must be an arm index below ${arms}, got ${best}`);
    const random = seededRandom(seed);
    this.arms = Array.from({ length: arms }, (_, k) => `arm${k}`);
    this.dim = dim;
    this.#base = Float64Array.from({ length: arms }, (_, k) =>
      k === best ? BEST_BASE : 0.3 + 0.1 * random(),
    );
    this.#weights = Float64Array.from(
      { length: arms * (dim - 1) },
      () => WEIGHT * (2 * random() - 1),
    );
  }

  /** A fresh context. */
  context(random: () => number): Float64Array {
    const x = new Float64Array(this.dim);
    x[0] = 1;
    const scale = 1 / Math.sqrt(this.dim - 1);
    for (let j = 1; j < this.dim; j++) x[j] = (2 * random() - 1) * scale;
    return x;
  }

  /** The success probability of arm `k` (an index) in context `x`. */
  expected(k: number, x: Float64Array): number {
    let p = this.#base[k];
    const w = this.#weights;
    const off = k * (this.dim - 1);
    for (let j = 1; j < this.dim; j++) p += w[off + j - 1] * x[j];
    return Math.min(0.95, Math.max(0.05, p));
  }
}

/** Options of {@link simulateRegret}. */
export interface SimulationOptions {
  rounds: number;
  /** Feedback is applied in mini-batches of this many rounds (as a server would). @defaultValue 10 */
  batchSize?: number;
  seed: number;
}

/** What a simulation measured. */
export interface SimulationResult {
  /** Σ over rounds of (best expected reward − chosen arm's expected reward). */
  regret: number;
  /** Rewards observed. */
  reward: number;
  /** Share of rounds that chose the per-context best arm. */
  bestShare: number;
}

/**
 * Plays `policy` (or uniform random choice, `'random'`) against `env` for `rounds` one-slot
 * decisions, updating it in mini-batches, and measures its regret against the known best arm.
 */
export function simulateRegret(
  policy: BanditPolicy | 'random',
  env: LinearEnvironment,
  options: SimulationOptions,
): SimulationResult {
  const { rounds, batchSize = 10, seed } = options;
  const random = seededRandom(seed);
  const index = new Map(env.arms.map((arm, k) => [arm, k]));
  let regret = 0;
  let reward = 0;
  let best = 0;
  let batch: Feedback[] = [];
  for (let t = 0; t < rounds; t++) {
    const x = env.context(random);
    const arm =
      policy === 'random'
        ? env.arms[Math.floor(random() * env.arms.length)]
        : policy.select({ context: x, candidates: env.arms, slots: 1 }, random).arms[0];
    let top = -Infinity;
    let topArm = 0;
    for (let k = 0; k < env.arms.length; k++) {
      const p = env.expected(k, x);
      if (p > top) {
        top = p;
        topArm = k;
      }
    }
    const k = index.get(arm) as number;
    const p = env.expected(k, x);
    regret += top - p;
    if (k === topArm) best++;
    const r = random() < p ? 1 : 0;
    reward += r;
    if (policy !== 'random') {
      batch.push({ arm, context: x, reward: r });
      if (batch.length >= batchSize) {
        policy.update(batch);
        batch = [];
      }
    }
  }
  return { regret, reward, bestShare: best / rounds };
}
