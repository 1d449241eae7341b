/**
 * Logged bandit feedback on typed arrays: the input of every off-policy estimator.
 *
 * One row is one impression: an action (item) shown at one position (slot) of one round, its
 * reward and the probability the logging (behaviour) policy had of showing that action at that
 * position. A round with three slots is three rows sharing a round index and a context row, as in
 * the Open Bandit Dataset and the `obp` library.
 */
import { InvalidArgumentError } from '../../core/errors.js';

/** Logged bandit feedback; every per-row array has `rows` entries (or `rows × width`). */
export interface BanditLog {
  /** Where it came from, for messages. */
  readonly source: string;
  readonly rows: number;
  /** External action (item) ids; an action's dense index is its place here. */
  readonly actions: readonly string[];
  /** The most slots any round has (3 in the Open Bandit Dataset). */
  readonly positions: number;
  /** Dense action index of the logged action, per row. */
  readonly action: Int32Array;
  /** 0-based position (slot) of the logged action, per row. */
  readonly position: Int32Array;
  /** Observed reward (a click is 1), per row. */
  readonly reward: Float64Array;
  /** Behaviour policy's probability of the logged action at the logged position, in (0, 1]. */
  readonly propensity: Float64Array;
  /** Dense round index per row; rows of one round share it. Bootstrap resamples whole rounds. */
  readonly round: Int32Array;
  /** Number of slots of the row's round (what a policy is asked to fill). */
  readonly slots: Int32Array;
  /** Width of a context row. */
  readonly contextDim: number;
  /** Row-major `rows × contextDim`: the context the policy saw. */
  readonly context: Float64Array;
  /** A name per context column (e.g. `user_feature_0=cef339…`, `user-item_affinity_3`). */
  readonly contextNames: readonly string[];
  /**
   * First column of a block of `actions.length` context columns that describe the user's relation
   * to each action (OBD's `user-item_affinity_<a>`), or -1 when there is none. The reward model
   * uses column `actionContextStart + a` as a feature of action `a`.
   */
  readonly actionContextStart: number;
  /** Width of an action-feature row (0 when actions have no features). */
  readonly actionFeatureDim: number;
  /** Row-major `actions.length × actionFeatureDim`. */
  readonly actionFeatures: Float64Array;
  readonly actionFeatureNames: readonly string[];
  /**
   * Row-major `rows × actions.length` availability (1 = the action was a candidate in the row's
   * round), or null when every action was always available.
   */
  readonly candidates: Uint8Array | null;
}

/**
 * The rows `[start, end)` of a log as a log of their own (typed arrays are views, not copies;
 * round indices are renumbered from 0).
 */
export function sliceBanditLog(log: BanditLog, start: number, end: number): BanditLog {
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(end) ||
    start < 0 ||
    end > log.rows ||
    start > end
  ) {
    throw new InvalidArgumentError(
      'rows',
      `[${start}, ${end}) is not a range of the ${log.rows} rows of ${log.source}`,
    );
  }
  const k = log.actions.length;
  const round = new Int32Array(end - start);
  let next = -1;
  let previous = Number.NaN;
  for (let i = start; i < end; i++) {
    // Rounds are contiguous in every reader here; a new value starts a new round.
    if (log.round[i] !== previous) {
      next++;
      previous = log.round[i];
    }
    round[i - start] = next;
  }
  return {
    ...log,
    rows: end - start,
    action: log.action.subarray(start, end),
    position: log.position.subarray(start, end),
    reward: log.reward.subarray(start, end),
    propensity: log.propensity.subarray(start, end),
    round,
    slots: log.slots.subarray(start, end),
    context: log.context.subarray(start * log.contextDim, end * log.contextDim),
    candidates: log.candidates === null ? null : log.candidates.subarray(start * k, end * k),
  };
}

/** Number of rounds of a log (its largest round index plus one). */
export function roundCount(log: Pick<BanditLog, 'rows' | 'round'>): number {
  let max = -1;
  for (let i = 0; i < log.rows; i++) if (log.round[i] > max) max = log.round[i];
  return max + 1;
}

/** The context row of row `i` (a view). */
export function contextRow(log: BanditLog, i: number): Float64Array {
  return log.context.subarray(i * log.contextDim, (i + 1) * log.contextDim);
}

/** The candidate ids of row `i`'s round, in dense action order. */
export function candidateIds(log: BanditLog, i: number): string[] {
  if (log.candidates === null) return [...log.actions];
  const k = log.actions.length;
  const out: string[] = [];
  for (let a = 0; a < k; a++) if (log.candidates[i * k + a] === 1) out.push(log.actions[a]);
  return out;
}

/** Mean reward over the rows of a log (NaN when it has none). */
export function observedRewardRate(log: Pick<BanditLog, 'rows' | 'reward'>): number {
  let sum = 0;
  for (let i = 0; i < log.rows; i++) sum += log.reward[i];
  return sum / log.rows;
}
