import type { ModelDefinition } from '../model-registry.js';
import { EaseRecommender, easeParamsSchema, easeSearchSpace } from './ease-recommender.js';

/** The `ease` model, as registered by `registerBuiltinModels`. */
export const easeModel: ModelDefinition = {
  kind: 'ease',
  params: easeParamsSchema,
  create: (params) => new EaseRecommender(params),
  load: (saved) => EaseRecommender.fromArtifact(saved),
  describe: 'EASE closed-form item–item autoencoder (Steck 2019), exact or top-K neighbour solve',
  searchSpace: easeSearchSpace,
};
