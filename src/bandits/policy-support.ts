import { InvalidArgumentError } from '../core/errors.js';
import type {
  ArmStats,
  BanditPolicy,
  DecideInput,
  Decision,
  Feedback,
  PolicyKind,
  PolicyState,
} from './bandit-policy.js';

/** Simulated decisions behind a Thompson sampling policy's `actionProbabilities` by default. */
export const DEFAULT_PROBABILITY_SAMPLES = 2000;

/** Largest context length a policy takes (linear policies hold 2·d² numbers per arm). */
export const MAX_DIM = 256;

/** Longest arm id, in UTF-16 code units. */
export const MAX_ARM_ID_LENGTH = 256;

/** How a numeric parameter is checked: its default and its allowed range. */
export interface ParamSpec {
  default: number;
  min: number;
  max: number;
  /** Whether `min` itself is excluded. */
  minExclusive?: boolean;
  integer?: boolean;
}

/** Applies defaults to `given` and checks every value; unknown names are refused. */
export function resolveParams(
  specs: Readonly<Record<string, ParamSpec>>,
  given: Readonly<Record<string, number>>,
): Readonly<Record<string, number>> {
  const known = Object.keys(specs);
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(specs, name))
      throw new InvalidArgumentError(
        `params.${name}`,
        `unknown parameter; known: ${known.join(', ')}`,
      );
  }
  const out: Record<string, number> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = Object.hasOwn(given, name) ? given[name] : spec.default;
    const low = spec.minExclusive ? value <= spec.min : value < spec.min;
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      low ||
      value > spec.max ||
      (spec.integer && !Number.isInteger(value))
    ) {
      const range = `${spec.minExclusive ? '(' : '['}${spec.min}, ${spec.max}]`;
      throw new InvalidArgumentError(
        `params.${name}`,
        `must be ${spec.integer ? 'an integer' : 'a number'} in ${range}, got ${String(value)}`,
      );
    }
    out[name] = value;
  }
  return Object.freeze(out);
}

/**
 * Arm ids mapped to dense indices, with each arm's count and reward sum in typed arrays that grow
 * by doubling. Also detects duplicate candidates without allocating (a stamp per arm).
 */
export class ArmTable {
  readonly ids: string[] = [];
  n = new Float64Array(16);
  rewardSum = new Float64Array(16);
  /** Called with the new capacity whenever the arrays grow, so owners can grow theirs. */
  onGrow: (capacity: number) => void = () => undefined;
  readonly #index = new Map<string, number>();
  #stamp = new Uint32Array(16);
  #epoch = 0;

  get size(): number {
    return this.ids.length;
  }

  /** The dense index of `id`, or −1 when the arm has never been seen. */
  indexOf(id: string): number {
    return this.#index.get(id) ?? -1;
  }

  /** The index of `id`, adding the arm (all statistics zero) when it is new. */
  ensure(id: string): number {
    const known = this.#index.get(id);
    if (known !== undefined) return known;
    const i = this.ids.length;
    if (i === this.n.length) this.#grow(i * 2);
    this.ids.push(id);
    this.#index.set(id, i);
    return i;
  }

  /** Forgets every arm. */
  clear(): void {
    this.ids.length = 0;
    this.#index.clear();
    this.n.fill(0);
    this.rewardSum.fill(0);
  }

  /**
   * Validates `input` and maps its candidates to arm indices (−1 for unseen arms), refusing
   * duplicates; checks the context only when `contextDim` > 0.
   */
  resolve(input: DecideInput, contextDim: number): Int32Array {
    if (input === null || typeof input !== 'object')
      throw new InvalidArgumentError('input', 'must be an object');
    const { candidates, slots, context } = input;
    if (!Array.isArray(candidates) || candidates.length === 0)
      throw new InvalidArgumentError('candidates', 'must be a non-empty array of arm ids');
    if (!Number.isSafeInteger(slots) || slots < 1 || slots > candidates.length) {
      throw new InvalidArgumentError(
        'slots',
        `must be an integer from 1 to ${candidates.length} (the number of candidates), got ${String(slots)}`,
      );
    }
    if (contextDim > 0) checkContext(context, contextDim, 'context');
    if (++this.#epoch === 0xffffffff) {
      this.#stamp.fill(0);
      this.#epoch = 1;
    }
    const epoch = this.#epoch;
    const out = new Int32Array(candidates.length);
    let unseen: Set<string> | null = null;
    for (let c = 0; c < candidates.length; c++) {
      const id = candidates[c];
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ARM_ID_LENGTH) {
        throw new InvalidArgumentError(
          `candidates[${c}]`,
          `must be a string of 1 to ${MAX_ARM_ID_LENGTH} characters`,
        );
      }
      const i = this.#index.get(id);
      if (i === undefined) {
        unseen ??= new Set();
        if (unseen.has(id))
          throw new InvalidArgumentError('candidates', `"${id}" appears more than once`);
        unseen.add(id);
        out[c] = -1;
      } else {
        if (this.#stamp[i] === epoch)
          throw new InvalidArgumentError('candidates', `"${id}" appears more than once`);
        this.#stamp[i] = epoch;
        out[c] = i;
      }
    }
    return out;
  }

  #grow(capacity: number): void {
    const n = new Float64Array(capacity);
    n.set(this.n);
    this.n = n;
    const sums = new Float64Array(capacity);
    sums.set(this.rewardSum);
    this.rewardSum = sums;
    const stamp = new Uint32Array(capacity);
    stamp.set(this.#stamp);
    this.#stamp = stamp;
    this.onGrow(capacity);
  }
}

/** Checks that `context` is a Float64Array (or number array) of `dim` finite numbers. */
export function checkContext(context: unknown, dim: number, field: string): void {
  if (!(context instanceof Float64Array) && !Array.isArray(context))
    throw new InvalidArgumentError(field, `must be ${dim} numbers`);
  const x = context as ArrayLike<unknown>;
  if (x.length !== dim)
    throw new InvalidArgumentError(
      field,
      `must have ${dim} numbers (the bandit's dim), got ${x.length}`,
    );
  for (let j = 0; j < dim; j++) {
    const v = x[j];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new InvalidArgumentError(`${field}[${j}]`, `must be a finite number, got ${String(v)}`);
  }
}

/**
 * The shared part of every policy: parameters, the arm table, validated updates and
 * snapshot/restore of counts and reward sums. Subclasses add their statistics through the hooks.
 */
export abstract class ArmPolicy implements BanditPolicy {
  abstract readonly kind: PolicyKind;
  readonly dim: number;
  protected readonly arms = new ArmTable();
  #params: Readonly<Record<string, number>>;

  protected constructor(
    dim: number,
    private readonly specs: Readonly<Record<string, ParamSpec>>,
    params: Readonly<Record<string, number>>,
  ) {
    this.dim = dim;
    this.#params = resolveParams(specs, params);
  }

  /** The parameters in force, defaults applied. */
  get params(): Readonly<Record<string, number>> {
    return this.#params;
  }

  abstract select(input: DecideInput, random: () => number): Decision;
  abstract actionProbabilities(
    input: DecideInput,
    random: () => number,
    samples?: number,
  ): Float64Array[];
  abstract slotMarginals(
    input: DecideInput,
    arms: readonly string[],
    random: () => number,
  ): number[];

  get armCount(): number {
    return this.arms.size;
  }

  hasArm(id: string): boolean {
    return this.arms.indexOf(id) >= 0;
  }

  setTotals(totals: Iterable<readonly [arm: string, totals: Float64Array]>): number {
    const entries = [...totals];
    const width = this.totalsWidth;
    // Everything is checked first, so bad totals leave the state untouched.
    for (const [id, v] of entries) {
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ARM_ID_LENGTH)
        throw new InvalidArgumentError(
          'totals',
          `arm ids must be strings of 1 to ${MAX_ARM_ID_LENGTH} characters`,
        );
      if (!(v instanceof Float64Array) || v.length !== width)
        throw new InvalidArgumentError(
          `totals.${id}`,
          `must be a Float64Array of ${width} numbers (a ${this.kind} policy with dim ${this.dim})`,
        );
      for (let j = 0; j < width; j++)
        if (!Number.isFinite(v[j]))
          throw new InvalidArgumentError(`totals.${id}`, `holds a non-finite number at ${j}`);
      if (v[0] < 0) throw new InvalidArgumentError(`totals.${id}`, `has a negative count ${v[0]}`);
    }
    const touched = new Set<number>();
    for (const [id, v] of entries) {
      const i = this.ensureArm(id);
      const sameCounts = this.arms.n[i] === v[0] && this.arms.rewardSum[i] === v[1];
      this.arms.n[i] = v[0];
      this.arms.rewardSum[i] = v[1];
      if (this.takeTotals(i, v, sameCounts) || !sameCounts) touched.add(i);
    }
    if (touched.size > 0) this.afterChange(touched);
    return touched.size;
  }

  /** Length of an arm's additive totals vector (`[n, rewardSum]` here). */
  protected get totalsWidth(): number {
    return 2;
  }

  /**
   * Sets arm `i`'s extra statistics from its totals `v` (counts are done); true when its derived
   * values must be recomputed by {@link ArmPolicy.afterChange}.
   */
  protected takeTotals(_arm: number, _v: Float64Array, _sameCounts: boolean): boolean {
    return false;
  }

  /** The context length `select` checks: `dim` for contextual policies, 0 (unchecked) otherwise. */
  protected get contextDim(): number {
    return 0;
  }

  update(feedback: readonly Feedback[]): void {
    if (!Array.isArray(feedback)) throw new InvalidArgumentError('feedback', 'must be an array');
    // Everything is checked first, so a bad item leaves the state untouched.
    for (let k = 0; k < feedback.length; k++)
      checkFeedback(this.kind, this.contextDim, feedback[k], `feedback[${k}]`);
    const touched = new Set<number>();
    for (const f of feedback) {
      const i = this.ensureArm(f.arm);
      this.arms.n[i] += 1;
      this.arms.rewardSum[i] += f.reward;
      this.addFeedback(i, f);
      touched.add(i);
    }
    this.afterChange(touched);
  }

  snapshot(): PolicyState {
    const arms: Record<string, ArmStats> = {};
    const { ids, n, rewardSum } = this.arms;
    for (let i = 0; i < ids.length; i++)
      arms[ids[i]] = { n: n[i], rewardSum: rewardSum[i], ...this.armExtras(i) };
    return { kind: this.kind, params: { ...this.#params }, dim: this.dim, arms };
  }

  restore(state: PolicyState): void {
    if (state === null || typeof state !== 'object')
      throw new InvalidArgumentError('state', 'must be a policy state object');
    if (state.kind !== this.kind)
      throw new InvalidArgumentError(
        'state.kind',
        `is "${String(state.kind)}", this policy is "${this.kind}"`,
      );
    if (state.dim !== this.dim)
      throw new InvalidArgumentError(
        'state.dim',
        `is ${String(state.dim)}, this policy has dim ${this.dim}`,
      );
    const params = resolveParams(this.specs, state.params ?? {});
    const entries = Object.entries(state.arms ?? {});
    for (const [id, stats] of entries) this.checkArmStats(id, stats, params);
    this.#params = params;
    this.arms.clear();
    this.resetStatistics();
    const touched = new Set<number>();
    for (const [id, stats] of entries) {
      const i = this.ensureArm(id);
      this.arms.n[i] = stats.n;
      this.arms.rewardSum[i] = stats.rewardSum;
      this.restoreArm(i, stats);
      touched.add(i);
    }
    this.afterChange(touched);
  }

  /** The index of arm `id`, adding it (from the prior, through {@link ArmPolicy.initArm}) when new. */
  protected ensureArm(id: string): number {
    const before = this.arms.size;
    const i = this.arms.ensure(id);
    if (this.arms.size > before) this.initArm(i);
    return i;
  }

  /** Sets a new arm's extra statistics to the prior. */
  protected initArm(_arm: number): void {}
  /** Adds one checked feedback's extra statistics (counts and sums are done). */
  protected addFeedback(_arm: number, _feedback: Feedback): void {}
  /** Brings derived values (inverses, estimates) up to date after updates or a restore. */
  protected afterChange(_touched: ReadonlySet<number>): void {}
  /** Extra statistics of arm `i` for the snapshot. */
  protected armExtras(_arm: number): Partial<ArmStats> {
    return {};
  }
  /** Forgets extra statistics before a restore. */
  protected resetStatistics(): void {}
  /** Sets arm `i`'s extra statistics from a (checked) snapshot. */
  protected restoreArm(_arm: number, _stats: ArmStats): void {}

  /** Refuses malformed arm statistics, naming the field. */
  protected checkArmStats(
    id: string,
    stats: ArmStats,
    _params: Readonly<Record<string, number>>,
  ): void {
    const field = `state.arms.${id}`;
    if (stats === null || typeof stats !== 'object')
      throw new InvalidArgumentError(field, 'must be an object');
    if (typeof stats.n !== 'number' || !Number.isFinite(stats.n) || stats.n < 0)
      throw new InvalidArgumentError(
        `${field}.n`,
        `must be a finite number ≥ 0, got ${String(stats.n)}`,
      );
    if (typeof stats.rewardSum !== 'number' || !Number.isFinite(stats.rewardSum))
      throw new InvalidArgumentError(
        `${field}.rewardSum`,
        `must be a finite number, got ${String(stats.rewardSum)}`,
      );
  }
}

/** Checks one feedback item: an arm id, a finite reward (in [0, 1] for `bts`), a context of `dim` numbers when `dim` > 0. */
export function checkFeedback(kind: PolicyKind, dim: number, f: Feedback, field: string): void {
  if (f === null || typeof f !== 'object')
    throw new InvalidArgumentError(field, 'must be an object {arm, context, reward}');
  if (typeof f.arm !== 'string' || f.arm.length === 0 || f.arm.length > MAX_ARM_ID_LENGTH) {
    throw new InvalidArgumentError(
      `${field}.arm`,
      `must be a string of 1 to ${MAX_ARM_ID_LENGTH} characters`,
    );
  }
  if (typeof f.reward !== 'number' || !Number.isFinite(f.reward))
    throw new InvalidArgumentError(
      `${field}.reward`,
      `must be a finite number, got ${String(f.reward)}`,
    );
  if (kind === 'bts' && (f.reward < 0 || f.reward > 1))
    throw new InvalidArgumentError(
      `${field}.reward`,
      `must be in [0, 1] for Bernoulli Thompson sampling, got ${f.reward}`,
    );
  if (dim > 0) checkContext(f.context, dim, `${field}.context`);
}

/**
 * Fills the slots by descending score, breaking exact ties uniformly at random; each slot's
 * propensity is 1 / (number of remaining candidates tied for the best score). Consumes randomness
 * only for ties, so it is deterministic without them.
 */
export function selectByScores(
  scores: Float64Array,
  candidates: readonly string[],
  slots: number,
  random: () => number,
): Decision {
  const m = candidates.length;
  const arms: string[] = new Array<string>(slots);
  const propensities: number[] = new Array<number>(slots);
  if (slots === 1) {
    const c = bestOf(scores, null, m, random, propensities);
    arms[0] = candidates[c];
    return { arms, propensities };
  }
  const taken = new Uint8Array(m);
  for (let s = 0; s < slots; s++) {
    const c = bestOf(scores, taken, m, random, propensities, s);
    taken[c] = 1;
    arms[s] = candidates[c];
  }
  return { arms, propensities };
}

function bestOf(
  scores: Float64Array,
  taken: Uint8Array | null,
  m: number,
  random: () => number,
  propensities: number[],
  slot = 0,
): number {
  let best = -Infinity;
  let ties = 0;
  let first = -1;
  for (let c = 0; c < m; c++) {
    if (taken !== null && taken[c] === 1) continue;
    const s = scores[c];
    if (s > best || first < 0) {
      best = s;
      ties = 1;
      first = c;
    } else if (s === best) ties++;
  }
  propensities[slot] = 1 / ties;
  if (ties === 1) return first;
  let pick = Math.floor(random() * ties);
  for (let c = first; c < m; c++) {
    if ((taken === null || taken[c] === 0) && scores[c] === best && pick-- === 0) return c;
  }
  return first;
}

/**
 * Exact per-slot marginals of {@link selectByScores}: with ties broken uniformly, each member of a
 * group of g equal scores spanning sorted positions s…s+g−1 has probability 1/g at each of them.
 */
export function scoreMarginals(scores: Float64Array, slots: number): Float64Array[] {
  const m = scores.length;
  const order = Array.from({ length: m }, (_, c) => c).sort(
    (a, b) => scores[b] - scores[a] || a - b,
  );
  const out = Array.from({ length: slots }, () => new Float64Array(m));
  for (let start = 0; start < slots; ) {
    let end = start + 1;
    while (end < m && scores[order[end]] === scores[order[start]]) end++;
    const share = 1 / (end - start);
    for (let pos = start; pos < Math.min(end, slots); pos++)
      for (let g = start; g < end; g++) out[pos][order[g]] = share;
    start = end;
  }
  return out;
}

/**
 * The marginals of {@link scoreMarginals} for just the chosen arms (`chosen[s]`: the candidate
 * index at slot s): the arm at slot s belongs to the group of equal scores spanning s, so its
 * marginal is 1 / the size of that group. O(slots × candidates) time, no slots × candidates array.
 */
export function chosenScoreMarginals(scores: Float64Array, chosen: Int32Array): number[] {
  return Array.from(chosen, (c) => {
    let tied = 0;
    for (let k = 0; k < scores.length; k++) if (scores[k] === scores[c]) tied++;
    return 1 / tied;
  });
}

/**
 * The candidate index of each of a decision's arms, in slot order.
 * @throws InvalidArgumentError for an arm outside the candidates.
 */
export function chosenIndices(candidates: readonly string[], arms: readonly string[]): Int32Array {
  const position = new Map<string, number>();
  for (let c = 0; c < candidates.length; c++) position.set(candidates[c], c);
  return Int32Array.from(arms, (arm, s) => {
    const c = position.get(arm);
    if (c === undefined)
      throw new InvalidArgumentError(`arms[${s}]`, `"${arm}" is not among the candidates`);
    return c;
  });
}

/** Checks `samples` for `actionProbabilities`. */
export function checkSamples(samples: number): number {
  if (!Number.isSafeInteger(samples) || samples < 1)
    throw new InvalidArgumentError('samples', `must be an integer ≥ 1, got ${String(samples)}`);
  return samples;
}
