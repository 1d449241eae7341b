import { InvalidArgumentError } from '../core/errors.js';
import type { ArmStats, Feedback } from './bandit-policy.js';
import { LinearArms } from './linear-arms.js';
import { ArmPolicy, type ParamSpec } from './policy-support.js';

/**
 * What LinUCB and linear Thompson sampling share: one ridge regression per arm (disjoint model)
 * over the context, held in {@link LinearArms}; snapshots carry each arm's A = λI + Σ x xᵀ and
 * b = Σ r x. Needs `dim` ≥ 1 and checks the context of every decision and feedback.
 */
export abstract class LinearPolicy extends ArmPolicy {
  protected readonly linear: LinearArms;

  protected constructor(dim: number, specs: Readonly<Record<string, ParamSpec>>, params: Readonly<Record<string, number>>) {
    if (!(dim >= 1)) throw new InvalidArgumentError('dim', `must be ≥ 1 for a linear policy (the context length), got ${dim}`);
    super(dim, specs, params);
    this.linear = new LinearArms(dim, this.params.lambda);
    this.arms.onGrow = (capacity) => this.linear.grow(capacity);
  }

  protected override get contextDim(): number {
    return this.dim;
  }

  /**
   * Each candidate's estimate θᵀx into `means` and width sqrt(xᵀA⁻¹x) into `widths` (unseen arms:
   * the prior's 0 and sqrt(xᵀx/λ)).
   */
  protected estimates(idx: Int32Array, x: Float64Array, means: Float64Array, widths: Float64Array): void {
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
  }

  protected override addFeedback(i: number, f: Feedback): void {
    this.linear.add(i, f.context, f.reward);
  }

  protected override afterChange(touched: ReadonlySet<number>): void {
    for (const i of touched) this.linear.refresh(i);
  }

  protected override armExtras(i: number): Partial<ArmStats> {
    const d = this.dim;
    return { A: Array.from(this.linear.A.subarray(i * d * d, (i + 1) * d * d)), b: Array.from(this.linear.b.subarray(i * d, (i + 1) * d)) };
  }

  protected override resetStatistics(): void {
    this.linear.reset(this.params.lambda);
  }

  protected override restoreArm(i: number, stats: ArmStats): void {
    this.linear.set(i, stats.A as number[], stats.b as number[]);
  }

  protected override checkArmStats(id: string, stats: ArmStats, params: Readonly<Record<string, number>>): void {
    super.checkArmStats(id, stats, params);
    const d = this.dim;
    for (const [name, length] of [['A', d * d], ['b', d]] as const) {
      const v = stats[name];
      if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new InvalidArgumentError(`state.arms.${id}.${name}`, `must be ${length} finite numbers`);
      }
    }
  }
}
