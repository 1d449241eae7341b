import { describeRecommender } from '../../test/contracts/recommender-contract.js';
import { AlsRecommender } from './als/als-recommender.js';
import { BprRecommender } from './bpr/bpr-recommender.js';
import { EaseRecommender } from './ease/ease-recommender.js';
import { ItemKnnRecommender } from './itemknn/itemknn-recommender.js';
import { PopularityRecommender } from './popularity/popularity-recommender.js';

// Small fixtures want settings that converge on a dozen users; the contract is the same.
describeRecommender('popularity', (p) => new PopularityRecommender(p), { personalized: false });
describeRecommender('itemknn (bm25, defaults)', (p) => new ItemKnnRecommender(p), {
  personalized: true,
});
describeRecommender(
  'itemknn (plain cosine, K=3)',
  (p) => new ItemKnnRecommender({ weighting: 'none', neighbours: 3, ...p }),
  { personalized: true },
);
describeRecommender(
  'als (cg, wasm)',
  (p) => new AlsRecommender({ factors: 8, reg: 0.1, iterations: 10, ...p }),
  { personalized: true, itemVectors: true },
);
describeRecommender(
  'als (exact, js)',
  (p) => new AlsRecommender({ factors: 6, reg: 0.1, iterations: 10, solver: 'exact', ...p }),
  { personalized: true, itemVectors: true },
);
describeRecommender('bpr', (p) => new BprRecommender({ factors: 8, epochs: 200, ...p }), {
  personalized: true,
  itemVectors: true,
});
describeRecommender(
  'ease (exact, item side)',
  (p) => new EaseRecommender({ lambda: 1, solver: 'items', ...p }),
  { personalized: true },
);
describeRecommender(
  'ease (exact, user side by Woodbury)',
  (p) => new EaseRecommender({ lambda: 1, solver: 'users', ...p }),
  { personalized: true },
);
describeRecommender(
  'ease (neighbours, K=3)',
  (p) => new EaseRecommender({ lambda: 1, neighbours: 3, ...p }),
  { personalized: true },
);
