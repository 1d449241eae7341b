import type { Recommender, UserEmbeddingModel } from '../../models/recommender.js';

/** The serving store vector space that user embeddings are published under. */
export const USER_VECTOR_SPACE = 'user';

/**
 * What a serving version published by a model that embeds users (`embedUsers`: the graph models)
 * records under `meta.embedding`, so that a server can re-embed a user from fresh interactions.
 */
export interface EmbeddingVersionMeta {
  /** The vector space of the users' embeddings in the serving store ({@link USER_VECTOR_SPACE}). */
  space: string;
  /** Values per vector. */
  dim: number;
  /** The model's kind in the model registry (`graphsage`, `gat`). */
  kind: string;
  /**
   * The key prefix of the saved model on the artifact store that `stores.artifacts` names
   * (`models/<modelId>` for an artifact store URL, `<modelId>` in a plain directory), where a
   * server on any machine given the same `stores.artifacts` loads it.
   */
  modelKey: string;
  /**
   * The highest `seq` of the interactions written through the API (`metadata.interactions`)
   * that the batch aggregated; those above it are newer than the batch. 0: none was.
   */
  interactionsThrough: number;
}

/** Whether `model` embeds users from their items ({@link UserEmbeddingModel}). */
export function isUserEmbeddingModel(model: Recommender): model is UserEmbeddingModel {
  const m = model as Partial<UserEmbeddingModel>;
  return (
    typeof m.embedUsers === 'function' &&
    typeof m.userFactors === 'function' &&
    typeof m.itemFactors === 'function'
  );
}

/** The {@link EmbeddingVersionMeta} of a version's metadata, or null when it has none (or a malformed one). */
export function readEmbeddingMeta(meta: Record<string, unknown>): EmbeddingVersionMeta | null {
  const e = meta.embedding as Partial<EmbeddingVersionMeta> | undefined;
  if (
    e === null ||
    typeof e !== 'object' ||
    typeof e.space !== 'string' ||
    typeof e.kind !== 'string' ||
    typeof e.modelKey !== 'string' ||
    !Number.isInteger(e.dim) ||
    !Number.isSafeInteger(e.interactionsThrough)
  )
    return null;
  return {
    space: e.space,
    dim: e.dim!,
    kind: e.kind,
    modelKey: e.modelKey,
    interactionsThrough: e.interactionsThrough!,
  };
}
