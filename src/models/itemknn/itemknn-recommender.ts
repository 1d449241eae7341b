import { z } from 'zod';
import { parseParams } from '../../core/params.js';
import { defaultThreadCount } from '../../core/threads.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import type { Interactions } from '../../data/interactions.js';
import type { Artifact } from '../artifact.js';
import { BaseRecommender } from '../base-recommender.js';
import type { FitOptions, FitReport } from '../recommender.js';
import { runIterations } from '../training-loop.js';
import { weightInteractions } from '../weighting.js';
import { cosineNeighbours } from './threaded-neighbours.js';

export const itemKnnParamsSchema = z
  .object({
    neighbours: z.int().min(1).default(800).describe('neighbours kept per item (K)'),
    weighting: z
      .enum(['none', 'tfidf', 'bm25'])
      .default('bm25')
      .describe('weighting of the user×item matrix before cosine: none | tfidf | bm25'),
    bm25K1: z.number().min(0).default(10).describe('BM25 saturation K1'),
    bm25B: z.number().min(0).max(1).default(0.8).describe('BM25 length normalisation B'),
    threads: z
      .int()
      .min(0)
      .default(0)
      .describe(
        'threads computing similarities (the main one included); 0 = one per core on large data',
      ),
    maxNeighbourMiB: z
      .number()
      .positive()
      .default(1024)
      .describe(
        'memory the kept neighbours may take (8 bytes each): K is lowered to fit, e.g. 1342 per item for 100k items',
      ),
  })
  .strict();
export type ItemKnnParams = z.output<typeof itemKnnParamsSchema>;

/**
 * Item-based k-nearest neighbours: cosine similarity between item columns of the (optionally
 * TF-IDF or BM25 weighted) user×item matrix, keeping the K most similar items per item. A user's
 * score for item j is Σ over the user's items i of weight(u, i) · sim(i, j), over i's kept
 * neighbours.
 */
export class ItemKnnRecommender extends BaseRecommender<ItemKnnParams> {
  readonly kind = 'itemknn' as const;
  /** Row i holds item i's kept neighbours and similarities. */
  private neighbours: CsrMatrix | undefined;
  /** The weighted user×item matrix scoring multiplies through the neighbours. */
  private weighted: CsrMatrix | undefined;

  constructor(params: Partial<ItemKnnParams> | Record<string, unknown> = {}) {
    super(parseParams(itemKnnParamsSchema, params, 'itemknn'));
  }

  static fromArtifact(artifact: Artifact & { data: Interactions }): ItemKnnRecommender {
    const model = new ItemKnnRecommender(artifact.params);
    const n = artifact.data.items.size;
    const a = artifact.arrays;
    model.neighbours = new CsrMatrix(
      n,
      n,
      a['knn.indptr'] as Int32Array,
      a['knn.indices'] as Int32Array,
      a['knn.values'] as Float32Array,
    );
    model.weighted = weightInteractions(artifact.data.userItems, model.params);
    model.restore(artifact.data);
    return model;
  }

  protected async fitModel(data: Interactions, options: FitOptions): Promise<FitReport> {
    return runIterations('itemknn', 1, options, async () => {
      this.weighted = weightInteractions(data.userItems, this.params);
      const p = this.params;
      const items = data.items.size;
      const k = Math.max(
        1,
        Math.min(
          p.neighbours,
          Math.floor((p.maxNeighbourMiB * 2 ** 20) / (8 * Math.max(1, items))),
        ),
      );
      this.neighbours = await cosineNeighbours(
        this.weighted,
        this.weighted.transpose(),
        k,
        p.threads === 0 ? defaultThreadCount() : p.threads,
      );
      return undefined;
    });
  }

  protected scoreUser(u: number, out: Float32Array): void {
    const x = this.weighted!;
    const nb = this.neighbours!;
    out.fill(0);
    for (let e = x.indptr[u]; e < x.indptr[u + 1]; e++) {
      const i = x.indices[e];
      const w = x.values[e];
      for (let f = nb.indptr[i]; f < nb.indptr[i + 1]; f++) out[nb.indices[f]] += w * nb.values[f];
    }
  }

  protected scoreSimilar(i: number, out: Float32Array): void {
    const nb = this.neighbours!;
    out.fill(-Infinity);
    for (let f = nb.indptr[i]; f < nb.indptr[i + 1]; f++) out[nb.indices[f]] = nb.values[f];
  }

  protected artifactContent(): Pick<Artifact, 'arrays' | 'extra'> {
    const nb = this.neighbours!;
    return {
      arrays: { 'knn.indptr': nb.indptr, 'knn.indices': nb.indices, 'knn.values': nb.values },
      extra: {},
    };
  }
}
