import { parseParams } from '../../core/params.js';
import type { Interactions } from '../../data/interactions.js';
import type { Artifact } from '../artifact.js';
import type { GraphAggregator } from './graph-network.js';
import { GraphRecommender, type GraphParams, graphParamsSchema } from './graph-recommender.js';

/**
 * GraphSAGE (Hamilton et al. 2017) with the mean aggregator over the user–item graph; see
 * {@link GraphRecommender} for the model and training.
 *
 * @example
 * const model = new GraphSageRecommender({ epochs: 20 });
 * await model.fit(data);
 * const fresh = model.embedUsers([[data.items.indexOf(1), data.items.indexOf(50)]]);
 */
export class GraphSageRecommender extends GraphRecommender<GraphParams> {
  readonly kind = 'graphsage' as const;
  protected readonly aggregator: GraphAggregator = 'mean';

  constructor(params: Partial<GraphParams> | Record<string, unknown> = {}) {
    super(parseParams(graphParamsSchema, params, 'graphsage'));
  }

  /** The model a fitted instance saved. */
  static fromArtifact(artifact: Artifact & { data: Interactions }): GraphSageRecommender {
    const model = new GraphSageRecommender(artifact.params);
    model.restoreGraph(artifact);
    return model;
  }
}
