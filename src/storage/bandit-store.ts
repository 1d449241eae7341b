import { InvalidArgumentError } from '../core/errors.js';

/** A bandit as stored: its definition (opaque JSON text) and the version of its statistics. */
export interface StoredBandit {
  definition: string;
  /** Incremented by every {@link BanditStore.addStatistics}; 0 when created. */
  version: number;
}

/** A bandit's statistics as read in one consistent step. */
export interface BanditStatistics {
  version: number;
  /** Per arm, the totals (`width` numbers). */
  arms: Map<string, Float64Array>;
}

/** What {@link BanditStore.getDecision} found. */
export type DecisionLookup =
  | { status: 'open'; record: string }
  /** No such decision: never made, expired, or made for a bandit since deleted. */
  | { status: 'unknown' }
  /** Its feedback was committed already. */
  | { status: 'duplicate' };

/** What {@link BanditStore.commitFeedback} did. */
export type FeedbackCommit =
  | { status: 'stored'; version: number }
  /** Nothing was changed: these decisions (by id) cannot take feedback. */
  | { status: 'refused'; refused: Map<string, 'unknown' | 'duplicate'> };

/**
 * Where online bandits keep what several server processes share: definitions, per-arm statistics
 * and the decisions awaiting feedback. The store knows nothing of policies: statistics are vectors
 * of `width` numbers per arm that only ever grow by addition, so concurrent updates commute and
 * are applied atomically without locks — none is lost. Backends: memory (one process), SQLite
 * (processes on one machine) and Redis (production), chosen by URL in `app/`.
 */
export interface BanditStore {
  /**
   * Creates bandit `name` with `definition` unless it exists, atomically. Returns the definition
   * in force and whether this call created it (so a caller can tell a repeat from a clash).
   */
  createBandit(name: string, definition: string): Promise<{ created: boolean; definition: string }>;
  /** The bandit's definition and statistics version, or null when there is no such bandit. */
  getBandit(name: string): Promise<StoredBandit | null>;
  /** Names of every bandit, sorted. */
  listBandits(): Promise<string[]>;
  /** Removes the bandit and its statistics (decisions expire by themselves); false when absent. */
  deleteBandit(name: string): Promise<boolean>;
  /**
   * Adds each arm's increment (`width` numbers; arms new to the bandit start from zeros) to its
   * totals and increments the version, in one atomic step; returns the new version. An empty map
   * changes nothing and returns the current version.
   * @throws NotFoundError when the bandit does not exist; InvalidArgumentError when stored totals
   *   have another width.
   */
  addStatistics(
    name: string,
    width: number,
    increments: ReadonlyMap<string, Float64Array>,
  ): Promise<number>;
  /**
   * Like {@link BanditStore.addStatistics}, and in the same atomic step marks each of
   * `decisionIds` as fed back — or, when any of them is unknown (expired) or fed back already,
   * changes nothing and says which. So feedback is counted exactly when its decision is marked:
   * a process that dies before this call leaves the decision open for a retry, and one that dies
   * after it leaves a decision that refuses a second count.
   */
  commitFeedback(
    name: string,
    width: number,
    increments: ReadonlyMap<string, Float64Array>,
    decisionIds: readonly string[],
  ): Promise<FeedbackCommit>;
  /** Every arm's totals and the version they belong to, or null when there is no such bandit. */
  readStatistics(name: string, width: number): Promise<BanditStatistics | null>;
  /**
   * Keeps a decision's record (opaque text) for `ttlMs` milliseconds, for its feedback. The write
   * is issued before this returns, so any later call on the same store object sees it even when
   * the caller does not wait for the promise (which settles once it is stored).
   */
  putDecision(name: string, id: string, record: string, ttlMs: number): Promise<void>;
  /** The decision's record and whether it can still take feedback; changes nothing. */
  getDecision(name: string, id: string): Promise<DecisionLookup>;
  /** Whether the backend answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Bandit names: letters, digits, `.`, `_`, `-`; 1 to 64 characters. */
export const BANDIT_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Decision ids: letters, digits, `_`, `-`; 1 to 64 characters. */
export const DECISION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Refuses a malformed bandit name. */
export function checkBanditName(name: string): string {
  if (typeof name !== 'string' || !BANDIT_NAME.test(name))
    throw new InvalidArgumentError(
      'name',
      `"${String(name)}" is not a bandit name: letters, digits, ".", "_" or "-", at most 64`,
    );
  return name;
}

/** Refuses a malformed decision id. */
export function checkDecisionId(id: string): string {
  if (typeof id !== 'string' || !DECISION_ID.test(id))
    throw new InvalidArgumentError(
      'decisionId',
      `"${String(id)}" is not a decision id: letters, digits, "_" or "-", at most 64`,
    );
  return id;
}

/** Refuses a malformed or repeated decision id in a list of decisions to commit together. */
export function checkDecisionIds(ids: readonly string[]): readonly string[] {
  const seen = new Set<string>();
  for (const id of ids) {
    checkDecisionId(id);
    if (seen.has(id))
      throw new InvalidArgumentError(
        'decisionIds',
        `"${id}" appears twice; a decision takes feedback once`,
      );
    seen.add(id);
  }
  return ids;
}

/** Refuses increments of the wrong width or with non-finite numbers, and a bad width. */
export function checkIncrements(
  width: number,
  increments: ReadonlyMap<string, Float64Array>,
): void {
  if (!Number.isSafeInteger(width) || width < 1)
    throw new InvalidArgumentError('width', `must be an integer ≥ 1, got ${width}`);
  for (const [arm, v] of increments) {
    if (typeof arm !== 'string' || arm.length === 0)
      throw new InvalidArgumentError('increments', 'arm ids must be non-empty strings');
    if (!(v instanceof Float64Array) || v.length !== width)
      throw new InvalidArgumentError(
        `increments.${arm}`,
        `must be a Float64Array of ${width} numbers`,
      );
    for (let j = 0; j < width; j++)
      if (!Number.isFinite(v[j]))
        throw new InvalidArgumentError(`increments.${arm}`, `holds a non-finite number at ${j}`);
  }
}

/** Refuses a TTL that is not a positive integer number of milliseconds. */
export function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
    throw new InvalidArgumentError('ttlMs', `must be an integer ≥ 1, got ${ttlMs}`);
}
