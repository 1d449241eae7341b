import type { ModelDefinition } from '../model-registry.js';
import { ItemKnnRecommender, itemKnnParamsSchema } from './itemknn-recommender.js';

/** The `itemknn` model, as registered by `registerBuiltinModels`. */
export const itemKnnModel: ModelDefinition = {
  kind: 'itemknn',
  params: itemKnnParamsSchema,
  create: (params) => new ItemKnnRecommender(params),
  load: (saved) => ItemKnnRecommender.fromArtifact(saved),
  describe: 'item-based nearest neighbours (cosine, optional TF-IDF/BM25 weighting)',
};
