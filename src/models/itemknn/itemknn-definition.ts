import type { ModelDefinition } from '../model-registry.js';
import { ItemKnnRecommender, itemKnnParamsSchema } from './itemknn-recommender.js';

/** The `itemknn` model, as registered by `registerBuiltinModels`. */
export const itemKnnModel: ModelDefinition = {
  kind: 'itemknn',
  params: itemKnnParamsSchema,
  create: (params) => new ItemKnnRecommender(params),
  load: (saved) => ItemKnnRecommender.fromArtifact(saved),
  describe: 'item-based nearest neighbours (cosine, optional TF-IDF/BM25 weighting)',
  // K spans short lists (precise, low coverage) to nearly every co-rated item; K1 is scale-like.
  searchSpace: {
    neighbours: { kind: 'int', low: 10, high: 2000, log: true },
    weighting: { kind: 'choice', values: ['none', 'tfidf', 'bm25'] },
    bm25K1: { kind: 'float', low: 0.5, high: 200, log: true },
    bm25B: { kind: 'float', low: 0, high: 1 },
  },
};
