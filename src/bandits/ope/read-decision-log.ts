/**
 * Reader of kiban's own bandit decision logs: JSON lines, one decision (or one impression) a line.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DataError, InvalidArgumentError } from '../../core/errors.js';
import type { BanditLog } from './bandit-log.js';
import { GrowableFloat64, GrowableInt32 } from './growable.js';

/** Options of {@link readDecisionLog}. */
export interface ReadDecisionLogOptions {
  /**
   * Keep only slot 0 of each decision. A decision's `propensities` after slot 0 are conditional
   * on the arms of the earlier slots (see `Decision.propensities`), while per-position estimators
   * need the marginal probability of the arm at that slot; slot 0's is both. @defaultValue false
   */
  firstSlotOnly?: boolean;
  /** Keep only the lines of this bandit (lines without a `bandit` field are kept). Required when the log holds several. */
  bandit?: string;
}

/** A decision log and what the reader noticed. */
export interface DecisionLogRead {
  log: BanditLog;
  /** Rounds (decisions) with at least one impression kept. */
  decisions: number;
  /** Impressions at slots after the first whose propensity came from a multi-slot decision logged without marginals. */
  laterSlotImpressions: number;
  /** Impressions without a reward, counted as reward 0 (not clicked). */
  missingRewards: number;
}

/**
 * Reads a JSON-lines decision log: one file, or a directory whose `.jsonl` files are read
 * together (what `kiban serve` writes: one file per server process, see `bandits/decision-log.ts`).
 * Each line is one of:
 *
 * - a decision, as the online API logs it (`DecisionLogEntry`): `{"type"?: "decision",
 *   "decisionId"?, "bandit"?, "policy"?, "version"?, "time"?, "context": number[],
 *   "candidates": string[], "arms": string[], "propensities": number[], "marginals"?: number[], "positions"?: number[],
 *   "rewards"?: (number | null)[]}`: `arms[j]` was shown at slot `positions[j]` (0-based; default
 *   `j`) with behaviour probability `propensities[j]` (or `marginals[j]`, the marginal
 *   probability of that arm at that slot, when the line has them) and earned `rewards[j]`;
 * - feedback (`FeedbackLogEntry`): `{"type": "feedback", "decisionId", "bandit"?, "rewards": number[]}`
 *   gives the rewards of a decision line that has none (so raw and joined logs both read);
 * - an impression: `{"context": number[], "candidates": string[], "arm": string,
 *   "position"?: number, "propensity": number, "reward"?: number, "decisionId"?: string}`;
 *   consecutive impressions with the same `decisionId` form one round, others are a round each.
 *
 * A reward that is absent or null counts as 0 (no click) and is counted in `missingRewards`.
 * When every line has a parseable `time`, rounds are put in time order (the split into training
 * and evaluation rows follows it); otherwise they stay in file order. Actions are the
 * candidates in order of first appearance. Every context has the same length; there are no
 * action features.
 *
 * @throws DataError naming file and line for malformed JSON, a missing or mistyped field, an arm
 *   outside its candidates, a propensity outside (0, 1], or a context of another length.
 * @throws InvalidArgumentError when the log holds several bandits and `bandit` names none.
 * @example
 * const { log } = await readDecisionLog('.kiban/bandit-log', { bandit: 'home' });
 */
export async function readDecisionLog(
  path: string,
  options: ReadDecisionLogOptions = {},
): Promise<DecisionLogRead> {
  const { records, feedback, bandits } = await collect(await logFiles(path), options.bandit);
  if (options.bandit === undefined && bandits.size > 1) {
    throw new InvalidArgumentError(
      'bandit',
      `${path} holds decisions of ${bandits.size} bandits (${[...bandits].sort().join(', ')}); choose one`,
    );
  }
  if (
    records.length > 0 &&
    records.every(
      (r) => typeof r.value.time === 'string' && !Number.isNaN(Date.parse(r.value.time)),
    )
  ) {
    // Several server processes write several files: put their decisions back in time order.
    records.sort((a, b) => Date.parse(a.value.time as string) - Date.parse(b.value.time as string));
  }
  const actionIndex = new Map<string, number>();
  const actions: string[] = [];
  const action = new GrowableInt32();
  const position = new GrowableInt32();
  const reward = new GrowableFloat64();
  const propensity = new GrowableFloat64();
  const round = new GrowableInt32();
  const slots = new GrowableInt32();
  const context = new GrowableFloat64();
  /** Candidate action indices per round. */
  const roundCandidates: Int32Array[] = [];
  let dim = -1;
  let rounds = 0;
  let lastDecisionId: string | null = null;
  let laterSlots = 0;
  let missing = 0;
  let maxPosition = 0;

  for (const { value: record, file, line } of records) {
    const at = { file, line };
    const ctx = numberArray(record.context, 'context', at);
    if (dim < 0) dim = ctx.length;
    if (ctx.length !== dim)
      throw new DataError(
        { ...at, column: 'context' },
        `has ${ctx.length} numbers; earlier lines have ${dim}`,
      );
    const candidates = stringArray(record.candidates, 'candidates', at);
    if (candidates.length === 0) throw new DataError({ ...at, column: 'candidates' }, 'is empty');
    if (new Set(candidates).size !== candidates.length)
      throw new DataError({ ...at, column: 'candidates' }, 'lists an arm twice');
    const dense = Int32Array.from(candidates, (id) => {
      let a = actionIndex.get(id);
      if (a === undefined) {
        a = actions.length;
        actions.push(id);
        actionIndex.set(id, a);
      }
      return a;
    });

    let shown: { arm: string; slot: number; p: number; r: unknown; marginal?: boolean }[];
    let decisionId: string | null =
      typeof record.decisionId === 'string' ? record.decisionId : null;
    if (Array.isArray(record.arms)) {
      const arms = stringArray(record.arms, 'arms', at);
      // Marginal probabilities where the log has them (what per-position estimators need).
      const marginal = record.marginals !== undefined && record.marginals !== null;
      const props = numberArray(
        marginal ? record.marginals : record.propensities,
        marginal ? 'marginals' : 'propensities',
        at,
      );
      if (props.length !== arms.length)
        throw new DataError(
          { ...at, column: marginal ? 'marginals' : 'propensities' },
          `has ${props.length} numbers for ${arms.length} arms`,
        );
      const positions =
        record.positions === undefined
          ? arms.map((_, j) => j)
          : numberArray(record.positions, 'positions', at);
      if (positions.length !== arms.length)
        throw new DataError(
          { ...at, column: 'positions' },
          `has ${positions.length} numbers for ${arms.length} arms`,
        );
      let rewards: unknown = record.rewards;
      if ((rewards === undefined || rewards === null) && decisionId !== null)
        rewards = feedback.get(feedbackKey(record.bandit, decisionId));
      rewards ??= [];
      if (!Array.isArray(rewards))
        throw new DataError({ ...at, column: 'rewards' }, 'must be an array of numbers or nulls');
      const given = rewards as unknown[];
      shown = arms.map((arm, j) => ({
        arm,
        slot: positions[j],
        p: props[j],
        r: given[j],
        marginal,
      }));
      decisionId = null; // a decision line is a round by itself
    } else {
      if (typeof record.arm !== 'string')
        throw new DataError(
          { ...at, column: 'arm' },
          'must be a string (or give "arms" for a whole decision)',
        );
      const p = record.propensity;
      if (typeof p !== 'number')
        throw new DataError({ ...at, column: 'propensity' }, 'must be a number');
      const slot = record.position === undefined ? 0 : record.position;
      if (typeof slot !== 'number')
        throw new DataError({ ...at, column: 'position' }, 'must be a number');
      shown = [{ arm: record.arm, slot, p, r: record.reward }];
    }

    if (decisionId === null || decisionId !== lastDecisionId) {
      rounds++;
      roundCandidates.push(dense);
    }
    lastDecisionId = decisionId;
    for (const s of shown) {
      if (!Number.isInteger(s.slot) || s.slot < 0)
        throw new DataError(
          { ...at, column: 'positions' },
          `a position must be an integer from 0, got ${s.slot}`,
        );
      if (!(s.p > 0 && s.p <= 1))
        throw new DataError(
          { ...at, column: 'propensities' },
          `a propensity must be in (0, 1], got ${s.p}`,
        );
      if (s.r !== undefined && s.r !== null && (typeof s.r !== 'number' || !Number.isFinite(s.r)))
        throw new DataError(
          { ...at, column: 'rewards' },
          `a reward must be a finite number or null, got ${JSON.stringify(s.r)}`,
        );
      const a = actionIndex.get(s.arm);
      if (a === undefined || !dense.includes(a))
        throw new DataError(
          { ...at, column: 'arms' },
          `arm "${s.arm}" is not among the candidates`,
        );
      if (options.firstSlotOnly === true && s.slot > 0) continue;
      if (s.slot > 0 && shown.length > 1 && s.marginal !== true) laterSlots++;
      if (s.r === undefined || s.r === null) missing++;
      action.push(a);
      position.push(s.slot);
      maxPosition = Math.max(maxPosition, s.slot + 1);
      reward.push(typeof s.r === 'number' ? s.r : 0);
      propensity.push(s.p);
      round.push(rounds - 1);
      slots.push(Array.isArray(record.arms) ? shown.length : s.slot + 1);
      for (const v of ctx) context.push(v);
    }
  }
  const rows = action.length;
  if (rows === 0)
    throw new DataError(
      { file: path },
      options.bandit !== undefined
        ? `no impressions of bandit "${options.bandit}"`
        : 'the log has no impressions',
    );
  const k = actions.length;
  const candidates = new Uint8Array(rows * k);
  const roundOf = round.view();
  const slotsOf = slots.view();
  // Impression lines of one round may cover several slots: each row asks for the round's widest.
  const widest = new Int32Array(rounds);
  for (let i = 0; i < rows; i++) widest[roundOf[i]] = Math.max(widest[roundOf[i]], slotsOf[i]);
  let allAlways = true;
  let previousRound = -1;
  for (let i = 0; i < rows; i++) {
    const dense = roundCandidates[roundOf[i]];
    if (dense.length !== k) allAlways = false;
    for (const a of dense) candidates[i * k + a] = 1;
    slotsOf[i] = Math.min(widest[roundOf[i]], dense.length);
  }
  // Renumber rounds densely: with firstSlotOnly a decision can leave no rows.
  let kept = -1;
  for (let i = 0; i < rows; i++) {
    const original = roundOf[i];
    if (i === 0 || original !== previousRound) kept++;
    previousRound = original;
    roundOf[i] = kept;
  }
  return {
    log: {
      source: path,
      rows,
      actions,
      positions: maxPosition,
      action: action.view(),
      position: position.view(),
      reward: reward.view(),
      propensity: propensity.view(),
      round: roundOf,
      slots: slotsOf,
      contextDim: dim,
      context: context.view(),
      contextNames: Array.from({ length: dim }, (_, j) => `context_${j}`),
      actionContextStart: -1,
      actionFeatureDim: 0,
      actionFeatures: new Float64Array(0),
      actionFeatureNames: [],
      candidates: allAlways ? null : candidates,
    },
    decisions: kept + 1,
    laterSlotImpressions: laterSlots,
    missingRewards: missing,
  };
}

interface Located {
  value: Record<string, unknown>;
  file: string;
  line: number;
}

/** The file itself, or every `.jsonl` file of a directory in name order. */
async function logFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => null);
  if (info === null) throw new DataError({ file: path }, 'file not found');
  if (info.isFile()) return [path];
  if (!info.isDirectory()) throw new DataError({ file: path }, 'not a regular file or directory');
  const files = (await readdir(path)).filter((name) => name.endsWith('.jsonl')).sort();
  if (files.length === 0)
    throw new DataError({ file: path }, 'the directory holds no .jsonl decision logs');
  return files.map((name) => join(path, name));
}

function feedbackKey(bandit: unknown, decisionId: string): string {
  return `${typeof bandit === 'string' ? bandit : ''}\u0000${decisionId}`;
}

/** Reads every line: decisions and impressions (of `bandit`, if given) in order, feedback rewards by decision. */
async function collect(
  files: string[],
  bandit: string | undefined,
): Promise<{ records: Located[]; feedback: Map<string, unknown>; bandits: Set<string> }> {
  const records: Located[] = [];
  const feedback = new Map<string, unknown>();
  const bandits = new Set<string>();
  for (const file of files) {
    const lines = createInterface({
      input: createReadStream(file, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    let line = 0;
    try {
      for await (const text of lines) {
        line++;
        if (text.trim().length === 0) continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          throw new DataError({ file, line }, `not valid JSON (${(error as Error).message})`);
        }
        if (value === null || typeof value !== 'object' || Array.isArray(value))
          throw new DataError({ file, line }, 'expected a JSON object');
        const record = value as Record<string, unknown>;
        if (bandit !== undefined && typeof record.bandit === 'string' && record.bandit !== bandit)
          continue;
        if (record.type === 'feedback') {
          if (typeof record.decisionId !== 'string')
            throw new DataError(
              { file, line, column: 'decisionId' },
              'a feedback line must name its decision',
            );
          feedback.set(feedbackKey(record.bandit, record.decisionId), record.rewards);
          continue;
        }
        if (typeof record.bandit === 'string') bandits.add(record.bandit);
        records.push({ value: record, file, line });
      }
    } finally {
      lines.close();
    }
  }
  return { records, feedback, bandits };
}

function numberArray(value: unknown, field: string, at: { file: string; line: number }): number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new DataError({ ...at, column: field }, 'must be an array of finite numbers');
  }
  return value as number[];
}

function stringArray(value: unknown, field: string, at: { file: string; line: number }): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    throw new DataError({ ...at, column: field }, 'must be an array of non-empty strings');
  }
  return value as string[];
}
