import type { ModelDefinition } from '../model-registry.js';
import { BprRecommender, bprParamsSchema } from './bpr-recommender.js';

/** The `bpr` model, as registered by `registerBuiltinModels`. */
export const bprModel: ModelDefinition = {
  kind: 'bpr',
  params: bprParamsSchema,
  create: (params) => new BprRecommender(params),
  load: (saved) => BprRecommender.fromArtifact(saved),
  describe: 'matrix factorisation by Bayesian personalised ranking (SGD on sampled triples)',
  // Factors in multiples of 4 keep the SIMD kernel; epochs stay out: they are the halving budget.
  searchSpace: {
    factors: { kind: 'choice', values: [16, 32, 64, 128, 256] },
    learningRate: { kind: 'float', low: 0.01, high: 0.5, log: true },
    lrDecay: { kind: 'float', low: 0.85, high: 1 },
    reg: { kind: 'float', low: 0.001, high: 0.3, log: true },
    negatives: { kind: 'int', low: 1, high: 16, log: true },
  },
};
