import type { ModelDefinition } from '../model-registry.js';
import type { SearchSpace } from '../search-space.js';
import { GatRecommender } from './gat-recommender.js';
import { gatParamsSchema, graphParamsSchema } from './graph-recommender.js';
import { GraphSageRecommender } from './graphsage-recommender.js';

/**
 * What `kiban tune` searches for both graph models: widths that are multiples of 4 (of 16 for
 * gat's 4 heads), and the optimiser's scale-like knobs on a log scale; epochs are the budget.
 */
export const graphSearchSpace: SearchSpace = {
  dim: { kind: 'choice', values: [32, 64, 128] },
  learningRate: { kind: 'float', low: 0.005, high: 0.2, log: true },
  weightDecay: { kind: 'float', low: 0.01, high: 1, log: true },
  dropout: { kind: 'float', low: 0.2, high: 0.9 },
};

/** The `graphsage` model, as registered by `registerBuiltinModels`. */
export const graphSageModel: ModelDefinition = {
  kind: 'graphsage',
  params: graphParamsSchema,
  create: (params) => new GraphSageRecommender(params),
  load: (saved) => GraphSageRecommender.fromArtifact(saved),
  describe: 'GraphSAGE: users embedded by mean aggregation of their items (full softmax, Adam)',
  searchSpace: graphSearchSpace,
};

/** The `gat` model, as registered by `registerBuiltinModels`. */
export const gatModel: ModelDefinition = {
  kind: 'gat',
  params: gatParamsSchema,
  create: (params) => new GatRecommender(params),
  load: (saved) => GatRecommender.fromArtifact(saved),
  describe: 'graph attention network: users embedded by multi-head attention over their items',
  searchSpace: graphSearchSpace,
};
