import { z } from 'zod';
import { parseParams } from '../../core/params.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import type { Interactions } from '../../data/interactions.js';
import type { Artifact } from '../artifact.js';
import { BaseRecommender } from '../base-recommender.js';
import type { FitOptions, FitReport } from '../recommender.js';
import { selectTopKSet } from '../top-k.js';
import { runIterations } from '../training-loop.js';
import { weightInteractions } from '../weighting.js';

export const itemKnnParamsSchema = z
  .object({
    neighbours: z.int().min(1).default(800).describe('neighbours kept per item (K)'),
    weighting: z
      .enum(['none', 'tfidf', 'bm25'])
      .default('bm25')
      .describe('weighting of the user×item matrix before cosine: none | tfidf | bm25'),
    bm25K1: z.number().min(0).default(10).describe('BM25 saturation K1'),
    bm25B: z.number().min(0).max(1).default(0.8).describe('BM25 length normalisation B'),
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
    return runIterations('itemknn', 1, options, () => {
      this.weighted = weightInteractions(data.userItems, this.params);
      this.neighbours = cosineNeighbours(
        this.weighted,
        this.weighted.transpose(),
        this.params.neighbours,
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

/**
 * For each item (row of `itemUsers`), the `k` items with the highest cosine similarity, by
 * sparse accumulation over shared users: O(Σ_u n_u²) work and O(items) scratch memory.
 */
function cosineNeighbours(userItems: CsrMatrix, itemUsers: CsrMatrix, k: number): CsrMatrix {
  const nItems = itemUsers.rows;
  const norms = new Float32Array(nItems);
  for (let i = 0; i < nItems; i++) {
    let s = 0;
    for (let e = itemUsers.indptr[i]; e < itemUsers.indptr[i + 1]; e++)
      s += itemUsers.values[e] * itemUsers.values[e];
    norms[i] = Math.sqrt(s);
  }
  const acc = new Float32Array(nItems);
  const touched = new Int32Array(nItems);
  const seen = new Uint8Array(nItems);
  const scratch = { values: new Float32Array(nItems), ids: new Int32Array(nItems) };
  const indptr = new Int32Array(nItems + 1);
  let ids: Int32Array = new Int32Array(nItems * Math.min(k, nItems));
  let vals: Float32Array = new Float32Array(ids.length);
  const { indptr: uPtr, indices: uIdx, values: uVal } = userItems;
  let written = 0;
  for (let i = 0; i < nItems; i++) {
    let nTouched = 0;
    for (let e = itemUsers.indptr[i]; e < itemUsers.indptr[i + 1]; e++) {
      const u = itemUsers.indices[e];
      const w = itemUsers.values[e];
      for (let f = uPtr[u]; f < uPtr[u + 1]; f++) {
        const j = uIdx[f];
        if (seen[j] === 0) {
          seen[j] = 1;
          touched[nTouched++] = j;
        }
        acc[j] += w * uVal[f];
      }
    }
    const ni = norms[i];
    for (let t = 0; t < nTouched; t++) {
      const j = touched[t];
      acc[j] = j === i || ni === 0 || norms[j] === 0 ? -Infinity : acc[j] / (ni * norms[j]);
    }
    if (ids.length < written + k) {
      ids = grow(ids, written + k);
      vals = growF(vals, written + k);
    }
    // The kept ids come back ascending, as CSR rows want; `acc` still holds their similarities.
    const kept = selectTopKSet(acc, touched, nTouched, k, ids, written, scratch);
    for (let t = written; t < written + kept; t++) vals[t] = acc[ids[t]];
    written += kept;
    indptr[i + 1] = written;
    for (let t = 0; t < nTouched; t++) {
      acc[touched[t]] = 0;
      seen[touched[t]] = 0;
    }
  }
  return new CsrMatrix(nItems, nItems, indptr, ids.slice(0, written), vals.slice(0, written));
}

function grow(a: Int32Array, min: number): Int32Array {
  const b = new Int32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

function growF(a: Float32Array, min: number): Float32Array {
  const b = new Float32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}
