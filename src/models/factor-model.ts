import type { Interactions } from '../data/interactions.js';
import type { Artifact } from './artifact.js';
import { BaseRecommender } from './base-recommender.js';
import { DenseScorer } from './dense-scorer.js';
import type { DenseMatrix, EmbeddingModel, ItemVectors } from './recommender.js';

/**
 * A recommender scored by dot products of user and item factors (ALS, BPR). Item similarity is
 * the cosine of item factors. An optional per-item bias is added to user scores.
 */
export abstract class FactorModel<P extends object>
  extends BaseRecommender<P>
  implements EmbeddingModel
{
  private users: DenseMatrix = { rows: 0, cols: 0, data: new Float32Array(0) };
  private items: DenseMatrix = { rows: 0, cols: 0, data: new Float32Array(0) };
  private itemBias: Float32Array | null = null;
  /** Built on first use after the factors change. */
  private scorer: DenseScorer | undefined;
  private unitScorer: DenseScorer | undefined;
  private unitItems: Float32Array | undefined;

  userFactors(): DenseMatrix {
    return this.users;
  }

  itemFactors(): DenseMatrix {
    return this.items;
  }

  /**
   * The item factor matrix (float32, `items × factors`), not a copy: the vectors the model
   * scores with, so a cosine index over them finds what `similarItems` finds.
   * @throws NotFittedError before `fit` or `load`.
   */
  itemVectors(): ItemVectors {
    const { size } = this.data.items; // throws NotFittedError before fit or load
    const dim = this.items.cols;
    return { dim, vectors: this.items.data.subarray(0, size * dim) };
  }

  /** Installs trained factors (copied off shared memory so the model owns plain arrays). */
  protected setFactors(
    users: DenseMatrix,
    items: DenseMatrix,
    itemBias: Float32Array | null = null,
  ): void {
    this.users = { rows: users.rows, cols: users.cols, data: Float32Array.from(users.data) };
    this.items = { rows: items.rows, cols: items.cols, data: Float32Array.from(items.data) };
    this.itemBias = itemBias === null ? null : Float32Array.from(itemBias);
    this.scorer = undefined;
    this.unitScorer = undefined;
    this.unitItems = undefined;
  }

  protected restoreFactors(artifact: Artifact & { data: Interactions }): void {
    const f = Number(artifact.extra.factors);
    const a = artifact.arrays;
    this.setFactors(
      { rows: artifact.data.users.size, cols: f, data: a['factors.users'] as Float32Array },
      { rows: artifact.data.items.size, cols: f, data: a['factors.items'] as Float32Array },
      (a['factors.itemBias'] as Float32Array | undefined) ?? null,
    );
    this.restore(artifact.data);
  }

  protected scoreUser(u: number, out: Float32Array): void {
    this.scorer ??= new DenseScorer(this.items, this.itemBias);
    this.scorer.score(this.users.data, u * this.users.cols, out);
  }

  protected scoreSimilar(item: number, out: Float32Array): void {
    // Cosine similarity = dot product of unit-length item vectors, on the same SIMD scorer.
    if (this.unitScorer === undefined) {
      const { rows, cols, data } = this.items;
      const unit = new Float32Array(data.length);
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let a = 0; a < cols; a++) s += data[i * cols + a] ** 2;
        const n = Math.fround(Math.sqrt(s));
        if (n > 0) for (let a = 0; a < cols; a++) unit[i * cols + a] = data[i * cols + a] / n;
      }
      this.unitItems = unit;
      this.unitScorer = new DenseScorer({ rows, cols, data: unit }, null);
    }
    this.unitScorer.score(this.unitItems!, item * this.items.cols, out);
  }

  protected artifactContent(): Pick<Artifact, 'arrays' | 'extra'> {
    const arrays: Artifact['arrays'] = {
      'factors.users': this.users.data,
      'factors.items': this.items.data,
    };
    if (this.itemBias !== null) arrays['factors.itemBias'] = this.itemBias;
    return { arrays, extra: { factors: this.users.cols } };
  }
}
