import type { ModelDefinition } from '../model-registry.js';
import { GatRecommender } from './gat-recommender.js';
import { gatParamsSchema, graphParamsSchema } from './graph-recommender.js';
import { GraphSageRecommender } from './graphsage-recommender.js';

/** The `graphsage` model, as registered by `registerBuiltinModels`. */
export const graphSageModel: ModelDefinition = {
  kind: 'graphsage',
  params: graphParamsSchema,
  create: (params) => new GraphSageRecommender(params),
  load: (saved) => GraphSageRecommender.fromArtifact(saved),
  describe: 'GraphSAGE: users embedded by mean aggregation of their items (full softmax, Adam)',
};

/** The `gat` model, as registered by `registerBuiltinModels`. */
export const gatModel: ModelDefinition = {
  kind: 'gat',
  params: gatParamsSchema,
  create: (params) => new GatRecommender(params),
  load: (saved) => GatRecommender.fromArtifact(saved),
  describe: 'graph attention network: users embedded by multi-head attention over their items',
};
