import type { ModelDefinition } from '../model-registry.js';
import { PopularityRecommender, popularityParamsSchema } from './popularity-recommender.js';

/** The `popularity` model, as registered by `registerBuiltinModels`. */
export const popularityModel: ModelDefinition = {
  kind: 'popularity',
  params: popularityParamsSchema,
  create: (params) => new PopularityRecommender(params),
  load: (saved) => PopularityRecommender.fromArtifact(saved),
  describe: 'most-interacted items first, the same for everyone',
};
