import { InvalidArgumentError, NotFittedError } from '../core/errors.js';
import type { Interactions } from '../data/interactions.js';
import { writeArtifact, type Artifact } from './artifact.js';
import { RankedLists } from './ranked-lists.js';
import type { FitOptions, FitReport, RecommendOptions, Recommender } from './recommender.js';
import { selectTopK } from './top-k.js';

/**
 * What the four models share: argument checks, seen-item exclusion, top-k selection and saving.
 * A model supplies how to fit and how to score all items for one user or one item.
 */
export abstract class BaseRecommender<P extends object> implements Recommender {
  abstract readonly kind: string;
  private fittedData: Interactions | undefined;

  constructor(readonly params: Readonly<P>) {}

  get data(): Interactions {
    if (this.fittedData === undefined) throw new NotFittedError(this.kind);
    return this.fittedData;
  }

  async fit(data: Interactions, options: FitOptions = {}): Promise<FitReport> {
    if (data.nnz === 0) throw new InvalidArgumentError('data', 'has no interactions to fit on');
    const report = await this.fitModel(data, options);
    this.fittedData = data;
    return report;
  }

  recommend(users: ArrayLike<number>, options: RecommendOptions): RankedLists {
    const data = this.data;
    const k = checkK(options.k);
    const excludeSeen = options.excludeSeen ?? true;
    const { indptr, indices } = data.userItems;
    const out = new RankedLists(users.length, k);
    const scores = new Float32Array(data.items.size);
    for (let q = 0; q < users.length; q++) {
      const u = users[q];
      checkIndex('users', u, data.users.size);
      this.scoreUser(u, scores);
      if (excludeSeen)
        for (let e = indptr[u]; e < indptr[u + 1]; e++) scores[indices[e]] = -Infinity;
      out.lengths[q] = selectTopK(scores, k, out.ids, out.scores, q * k);
    }
    return out;
  }

  similarItems(items: ArrayLike<number>, options: { k: number }): RankedLists {
    const data = this.data;
    const k = checkK(options.k);
    const out = new RankedLists(items.length, k);
    const scores = new Float32Array(data.items.size);
    for (let q = 0; q < items.length; q++) {
      const i = items[q];
      checkIndex('items', i, data.items.size);
      this.scoreSimilar(i, scores);
      scores[i] = -Infinity;
      out.lengths[q] = selectTopK(scores, k, out.ids, out.scores, q * k);
    }
    return out;
  }

  async save(dir: string): Promise<void> {
    await writeArtifact(
      dir,
      { kind: this.kind, params: { ...this.params }, ...this.artifactContent() },
      this.data,
    );
  }

  /** Adopts training data restored from an artifact (used by the models' `fromArtifact`). */
  protected restore(data: Interactions): void {
    this.fittedData = data;
  }

  /** Trains on `data`; the base class records `data` as fitted once this resolves. */
  protected abstract fitModel(data: Interactions, options: FitOptions): Promise<FitReport>;
  /** Writes a score for every item for user `u` into `out` (length = number of items). */
  protected abstract scoreUser(u: number, out: Float32Array): void;
  /** Writes a similarity to item `i` for every item into `out`. */
  protected abstract scoreSimilar(i: number, out: Float32Array): void;
  /** The model's own arrays and small extras to save beside the training data. */
  protected abstract artifactContent(): Pick<Artifact, 'arrays' | 'extra'>;
}

function checkK(k: number): number {
  if (!Number.isInteger(k) || k <= 0)
    throw new InvalidArgumentError('k', `must be a positive integer, got ${k}`);
  return k;
}

function checkIndex(field: string, index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new InvalidArgumentError(field, `index ${index} is outside 0..${size - 1}`);
  }
}
