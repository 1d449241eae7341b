import type { ModelDefinition } from '../model-registry.js';
import { BprRecommender, bprParamsSchema } from './bpr-recommender.js';

/** The `bpr` model, as registered by `registerBuiltinModels`. */
export const bprModel: ModelDefinition = {
  kind: 'bpr',
  params: bprParamsSchema,
  create: (params) => new BprRecommender(params),
  load: (saved) => BprRecommender.fromArtifact(saved),
  describe: 'matrix factorisation by Bayesian personalised ranking (SGD on sampled triples)',
};
