/**
 * The target policy's side of off-policy evaluation: its probabilities on a log, a uniform
 * random policy, and training a policy on logged feedback.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import type { DecideInput, Feedback } from '../bandit-policy.js';
import { candidateIds, contextRow, type BanditLog } from './bandit-log.js';

/** The part of a `BanditPolicy` that evaluation needs. */
export interface ProbabilisticPolicy {
  /** Per slot, the probability of each candidate at that slot (aligned with `candidates`, summing to 1). */
  actionProbabilities(input: DecideInput, random: () => number, samples?: number): Float64Array[];
}

/** The part of a `BanditPolicy` that training on a log needs. */
export interface TrainablePolicy {
  select(input: DecideInput, random: () => number): { arms: string[] };
  update(feedback: readonly Feedback[]): void;
}

/** A policy that shows every candidate at every slot with equal probability (the OBD `random` behaviour policy). */
export const UNIFORM_POLICY: ProbabilisticPolicy = Object.freeze({
  actionProbabilities(input: DecideInput): Float64Array[] {
    const k = input.candidates.length;
    return Array.from({ length: input.slots }, () => new Float64Array(k).fill(1 / k));
  },
});

/** Options of {@link targetProbabilities}. */
export interface TargetProbabilityOptions {
  /** Source of the policy's randomness (Thompson sampling's draws). */
  random: () => number;
  /** Simulated decisions per round for Monte Carlo probabilities; the policy's default when left out. */
  samples?: number;
  /**
   * The policy ignores the context (ε-greedy, UCB1, Bernoulli TS): ask it once per distinct
   * candidate set and slot count instead of once per round. @defaultValue false
   */
  contextFree?: boolean;
}

/**
 * The target policy's probability of every action at each row's logged position: row-major
 * `rows × actions`, zero for actions that were not candidates. The policy is asked once per
 * round (rows of a round share context and candidates).
 *
 * @throws InvalidArgumentError when the policy returns fewer slots than a row's position needs or
 *   a probability row of the wrong length.
 */
export function targetProbabilities(
  log: BanditLog,
  policy: ProbabilisticPolicy,
  options: TargetProbabilityOptions,
): Float64Array {
  const k = log.actions.length;
  const out = new Float64Array(log.rows * k);
  let cachedRound = -1;
  let slots: Float64Array[] = [];
  let dense: Int32Array = new Int32Array(0);
  const shared = new Map<string, Float64Array[]>();
  for (let i = 0; i < log.rows; i++) {
    if (log.round[i] !== cachedRound) {
      cachedRound = log.round[i];
      const candidates = candidateIds(log, i);
      dense = denseIndices(log, i, candidates.length);
      const ask = (): Float64Array[] =>
        policy.actionProbabilities(
          { context: contextRow(log, i), candidates, slots: log.slots[i] },
          options.random,
          options.samples,
        );
      if (options.contextFree === true) {
        const key = `${log.slots[i]}\u0000${log.candidates === null ? '*' : dense.join(',')}`;
        let cached = shared.get(key);
        if (cached === undefined) {
          cached = ask();
          shared.set(key, cached);
        }
        slots = cached;
      } else slots = ask();
    }
    const probs = slots[log.position[i]];
    if (probs === undefined)
      throw new InvalidArgumentError(
        'policy',
        `returned ${slots.length} slots for row ${i}, whose position is ${log.position[i] + 1}`,
      );
    if (probs.length !== dense.length)
      throw new InvalidArgumentError(
        'policy',
        `returned ${probs.length} probabilities for ${dense.length} candidates at row ${i}`,
      );
    for (let c = 0; c < dense.length; c++) out[i * k + dense[c]] = probs[c];
  }
  return out;
}

/** Options of {@link trainPolicy}. */
export interface TrainPolicyOptions {
  /**
   * `all`: every logged row updates the policy (off-policy updates; unbiased per arm when the
   * logging policy was uniform, as in the OBD random logs). `replay`: the policy decides each
   * round and learns only from rows whose logged action it put at the logged position
   * (Li et al. 2011), so it learns from what it would have seen.
   * @defaultValue 'all'
   */
  mode?: 'all' | 'replay';
  /** Source of the policy's randomness in `replay` mode. */
  random: () => number;
  /** Feedback per `update` call in `all` mode. @defaultValue 1000 */
  batch?: number;
}

/**
 * Feeds the log's (context, action, reward) rows to `policy.update`, in log order.
 *
 * @returns how many rows updated the policy.
 */
export function trainPolicy(
  log: BanditLog,
  policy: TrainablePolicy,
  options: TrainPolicyOptions,
): number {
  const mode = options.mode ?? 'all';
  const batch = options.batch ?? 1000;
  if (mode !== 'all' && mode !== 'replay')
    throw new InvalidArgumentError('mode', `must be "all" or "replay", got "${String(mode)}"`);
  if (!Number.isInteger(batch) || batch < 1)
    throw new InvalidArgumentError('batch', `must be a positive integer, got ${batch}`);
  const feedback = (i: number): Feedback => ({
    arm: log.actions[log.action[i]],
    context: contextRow(log, i),
    reward: log.reward[i],
  });
  if (mode === 'all') {
    for (let start = 0; start < log.rows; start += batch) {
      const end = Math.min(log.rows, start + batch);
      policy.update(Array.from({ length: end - start }, (_, j) => feedback(start + j)));
    }
    return log.rows;
  }
  let updates = 0;
  let round = -1;
  let arms: string[] = [];
  for (let i = 0; i < log.rows; i++) {
    if (log.round[i] !== round) {
      round = log.round[i];
      arms = policy.select(
        { context: contextRow(log, i), candidates: candidateIds(log, i), slots: log.slots[i] },
        options.random,
      ).arms;
    }
    if (arms[log.position[i]] === log.actions[log.action[i]]) {
      policy.update([feedback(i)]);
      updates++;
    }
  }
  return updates;
}

function denseIndices(log: BanditLog, i: number, count: number): Int32Array {
  const k = log.actions.length;
  const out = new Int32Array(count);
  if (log.candidates === null) {
    for (let a = 0; a < k; a++) out[a] = a;
    return out;
  }
  let c = 0;
  for (let a = 0; a < k; a++) if (log.candidates[i * k + a] === 1) out[c++] = a;
  return out;
}
