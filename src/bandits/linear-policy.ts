import { InvalidArgumentError } from '../core/errors.js';
import type { ArmStats, Feedback } from './bandit-policy.js';
import { LinearArms } from './linear-arms.js';
import { ArmPolicy, type ParamSpec } from './policy-support.js';

/** Fewest rank-one steps between two exact inversions of an arm. */
const MIN_EXACT_EVERY = 32;

/**
 * What LinUCB and linear Thompson sampling share: one ridge regression per arm (disjoint model)
 * over the context, held in {@link LinearArms}; snapshots carry each arm's A = λI + Σ x xᵀ and
 * b = Σ r x. Needs `dim` ≥ 1 and checks the context of every decision and feedback.
 */
export abstract class LinearPolicy extends ArmPolicy {
  protected readonly linear: LinearArms;

  protected constructor(
    dim: number,
    specs: Readonly<Record<string, ParamSpec>>,
    params: Readonly<Record<string, number>>,
  ) {
    if (!(dim >= 1))
      throw new InvalidArgumentError(
        'dim',
        `must be ≥ 1 for a linear policy (the context length), got ${dim}`,
      );
    super(dim, specs, params);
    this.linear = new LinearArms(dim, this.params.lambda);
    this.#sinceExact = new Uint32Array(16);
    this.arms.onGrow = (capacity) => {
      this.linear.grow(capacity);
      const counts = new Uint32Array(capacity);
      counts.set(this.#sinceExact);
      this.#sinceExact = counts;
    };
    this.#exactEvery = Math.max(MIN_EXACT_EVERY, dim);
  }

  /** Per arm, the Sherman–Morrison steps since its inverse was last computed exactly. */
  #sinceExact: Uint32Array;
  /** Arms whose A and b were set wholesale (restore, totals), to be inverted exactly by afterChange. */
  readonly #exact = new Set<number>();
  /** Rank-one steps after which an arm is inverted exactly again (d³ work every d steps: O(d²) a step). */
  readonly #exactEvery: number;

  protected override get contextDim(): number {
    return this.dim;
  }

  /**
   * Each candidate's estimate θᵀx into `means` and width sqrt(xᵀA⁻¹x) into `widths` (unseen arms:
   * the prior's 0 and sqrt(xᵀx/λ)).
   */
  protected estimates(
    idx: Int32Array,
    x: Float64Array,
    means: Float64Array,
    widths: Float64Array,
  ): void {
    const z = this.#z;
    this.linear.products(x, z);
    this.linear.estimateAll(idx, z, means, widths);
    for (let c = 0; c < idx.length; c++) widths[c] = Math.sqrt(widths[c]);
  }

  /** Scratch for the context's products (decisions are synchronous, so one per policy suffices). */
  get #z(): Float64Array {
    return (this.#scratch ??= new Float64Array(this.linear.rowLength));
  }

  #scratch: Float64Array | null = null;

  protected override initArm(i: number): void {
    this.linear.initArm(i);
    this.#sinceExact[i] = 0;
  }

  protected override addFeedback(i: number, f: Feedback): void {
    this.linear.add(i, f.context, f.reward);
    this.linear.rankOne(i, f.context, f.reward);
    this.#sinceExact[i]++;
  }

  protected override afterChange(touched: ReadonlySet<number>): void {
    for (const i of touched) {
      if (!this.#exact.has(i) && this.#sinceExact[i] < this.#exactEvery) continue;
      this.linear.refresh(i);
      this.#sinceExact[i] = 0;
    }
    this.#exact.clear();
  }

  protected override get totalsWidth(): number {
    return 2 + this.dim * this.dim + this.dim;
  }

  protected override takeTotals(i: number, v: Float64Array, sameCounts: boolean): boolean {
    const d = this.dim;
    const moved = this.linear.setTotals(i, v.subarray(2, 2 + d * d), v.subarray(2 + d * d));
    // Same counts and A, b equal but for rounding (this process's own feedback, already applied
    // by rank-one steps, summed in another order): the inverse is kept.
    if (moved || !sameCounts) this.#exact.add(i);
    return moved || !sameCounts;
  }

  protected override armExtras(i: number): Partial<ArmStats> {
    const d = this.dim;
    return {
      A: Array.from(this.linear.A.subarray(i * d * d, (i + 1) * d * d)),
      b: Array.from(this.linear.b.subarray(i * d, (i + 1) * d)),
    };
  }

  protected override resetStatistics(): void {
    this.linear.reset(this.params.lambda);
  }

  protected override restoreArm(i: number, stats: ArmStats): void {
    this.linear.set(i, stats.A as number[], stats.b as number[]);
    this.#exact.add(i);
  }

  protected override checkArmStats(
    id: string,
    stats: ArmStats,
    params: Readonly<Record<string, number>>,
  ): void {
    super.checkArmStats(id, stats, params);
    const d = this.dim;
    for (const [name, length] of [
      ['A', d * d],
      ['b', d],
    ] as const) {
      const v = stats[name];
      if (
        !Array.isArray(v) ||
        v.length !== length ||
        !v.every((x) => typeof x === 'number' && Number.isFinite(x))
      ) {
        throw new InvalidArgumentError(
          `state.arms.${id}.${name}`,
          `must be ${length} finite numbers`,
        );
      }
    }
  }
}
