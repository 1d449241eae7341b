import { parseParams } from '../../core/params.js';
import type { Interactions } from '../../data/interactions.js';
import type { Artifact } from '../artifact.js';
import type { GraphAggregator } from './graph-network.js';
import { type GatParams, GraphRecommender, gatParamsSchema } from './graph-recommender.js';

/**
 * A graph attention network (Veličković et al. 2018) over the user–item graph: multi-head
 * attention aggregators; see {@link GraphRecommender} for the model and training.
 *
 * @example
 * const model = new GatRecommender({ heads: 4 });
 * await model.fit(data);
 */
export class GatRecommender extends GraphRecommender<GatParams> {
  readonly kind = 'gat' as const;
  protected readonly aggregator: GraphAggregator = 'attention';

  constructor(params: Partial<GatParams> | Record<string, unknown> = {}) {
    super(parseParams(gatParamsSchema, params, 'gat'));
  }

  protected override get heads(): number {
    return this.params.heads;
  }

  protected override get attentionInitStd(): number {
    return this.params.attentionInitStd;
  }

  /** The model a fitted instance saved. */
  static fromArtifact(artifact: Artifact & { data: Interactions }): GatRecommender {
    const model = new GatRecommender(artifact.params);
    model.restoreGraph(artifact);
    return model;
  }
}
