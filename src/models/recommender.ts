import type { Interactions } from '../data/interactions.js';
import type { ItemFeatures } from '../data/item-features.js';
import type { RankedLists } from './ranked-lists.js';

/** One training iteration's figures, as passed to {@link FitOptions.onIteration}. */
export interface IterationReport {
  /** 1-based. */
  iteration: number;
  iterations: number;
  /** Training loss after this iteration, where the model computes one (lower is better). */
  loss?: number;
  /** Seconds this iteration took. */
  seconds: number;
}

/** Options of {@link Recommender.fit}. */
export interface FitOptions {
  /** Called after every iteration (iterative models) or once (closed-form models). */
  onIteration?: (report: IterationReport) => void;
  /** Progress bar on stderr: `'auto'` shows it on a terminal only. @defaultValue 'auto' */
  progress?: boolean | 'auto';
  /** Aborts training between iterations. */
  signal?: AbortSignal;
  /**
   * Compute the training loss every iteration, where it costs extra work (ALS: about one more
   * sweep). @defaultValue true when `onIteration` is given or a progress bar is shown
   */
  loss?: boolean;
  /**
   * Item side features aligned to the training data's dense item indices (see
   * `readItemFeatures`), for models that use them (the graph models); the others ignore them.
   */
  itemFeatures?: ItemFeatures;
}

/** What {@link Recommender.fit} returns. */
export interface FitReport {
  seconds: number;
  iterations: number;
  /** Final training loss, where the model computes one. */
  loss?: number;
}

/** Options of {@link Recommender.recommend}. */
export interface RecommendOptions {
  /** List length; a positive integer. */
  k: number;
  /** Leave out the items each user interacted with in training. @defaultValue true */
  excludeSeen?: boolean;
}

/**
 * The contract every recommendation model meets. Users and items are dense indices of the
 * training {@link Interactions} (`model.data.users` / `.items` map them to external ids).
 * Results are best first; equal scores are ordered by lower index (= lower external id).
 *
 * @example
 * const model = builtinModels().create('als');
 * await model.fit(Interactions.fromLog(await readInteractionLog('train.csv')));
 * const lists = model.recommend([0, 1], { k: 10 });
 */
export interface Recommender {
  /** The kind of its `ModelDefinition` in the model registry; saved with the model, to load it back. */
  readonly kind: string;
  /** The hyper-parameters in force, defaults filled in. */
  readonly params: Readonly<Record<string, unknown>>;
  /** The training interactions; throws before `fit` or `load`. */
  readonly data: Interactions;
  fit(data: Interactions, options?: FitOptions): Promise<FitReport>;
  /** Top-k items for each user. A user index outside the training users is an error. */
  recommend(users: ArrayLike<number>, options: RecommendOptions): RankedLists;
  /** Top-k most similar other items for each item (the item itself is never in its list). */
  similarItems(items: ArrayLike<number>, options: { k: number }): RankedLists;
  /** Writes the model to directory `dir` atomically: either the whole model lands or nothing. */
  save(dir: string): Promise<void>;
  /**
   * The model's item vectors (embeddings), for a vector index: row `r` is dense item `r`. Models
   * without a latent space (popularity, item-kNN) leave the method out or return null; the
   * publish step then publishes no `items` index. Throws before `fit` or `load`.
   */
  itemVectors?(): ItemVectors | null;
}

/** What {@link Recommender.itemVectors} returns: `data.items.size` rows of `dim` float32 values. */
export interface ItemVectors {
  /** Values per item; a positive integer. */
  dim: number;
  /** Row-major, `items × dim` values; the caller must not modify it. */
  vectors: Float32Array;
}

/** A dense row-major matrix: `rows × cols` values in `data`. */
export interface DenseMatrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** A recommender whose users and items live in one latent space. */
export interface EmbeddingModel extends Recommender {
  userFactors(): DenseMatrix;
  itemFactors(): DenseMatrix;
}

/**
 * An embedding model that embeds users from the items they interacted with (the graph models):
 * a user need not be in the training data, and fresh interactions need no retraining.
 */
export interface UserEmbeddingModel extends EmbeddingModel {
  /**
   * One row per list of dense item indices (of `data.items`): that user's vector, scored against
   * {@link EmbeddingModel.itemFactors} by dot product.
   */
  embedUsers(interactions: readonly ArrayLike<number>[]): DenseMatrix;
}
