import type { ModelDefinition } from '../model-registry.js';
import { AlsRecommender, alsParamsSchema } from './als-recommender.js';

/** The `als` model, as registered by `registerBuiltinModels`. */
export const alsModel: ModelDefinition = {
  kind: 'als',
  params: alsParamsSchema,
  create: (params) => new AlsRecommender(params),
  load: (saved) => AlsRecommender.fromArtifact(saved),
  describe: 'implicit-feedback matrix factorisation by alternating least squares',
};
