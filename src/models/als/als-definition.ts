import type { ModelDefinition } from '../model-registry.js';
import { AlsRecommender, alsParamsSchema } from './als-recommender.js';

/** The `als` model, as registered by `registerBuiltinModels`. */
export const alsModel: ModelDefinition = {
  kind: 'als',
  params: alsParamsSchema,
  create: (params) => new AlsRecommender(params),
  load: (saved) => AlsRecommender.fromArtifact(saved),
  describe: 'implicit-feedback matrix factorisation by alternating least squares',
  // reg and alpha act multiplicatively on the solves, so they are searched on a log scale;
  // iterations stay out: successive halving uses them as the budget. BM25 weighting stays out
  // too: with many factors and a large alpha its fits took 30–60× longer and never won.
  searchSpace: {
    factors: { kind: 'int', low: 16, high: 256, log: true },
    reg: { kind: 'float', low: 0.3, high: 300, log: true },
    alpha: { kind: 'float', low: 0.3, high: 30, log: true },
  },
};
