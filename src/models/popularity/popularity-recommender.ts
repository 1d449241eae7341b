import { z } from 'zod';
import { parseParams } from '../../core/params.js';
import type { Interactions } from '../../data/interactions.js';
import type { Artifact } from '../artifact.js';
import { BaseRecommender } from '../base-recommender.js';
import type { FitOptions, FitReport } from '../recommender.js';
import { runIterations } from '../training-loop.js';

/** Popularity has no hyper-parameters; the schema still refuses unknown ones. */
export const popularityParamsSchema = z.object({}).strict();
export type PopularityParams = z.output<typeof popularityParamsSchema>;

/**
 * Recommends the items with the most distinct users, the same list for everyone (minus what each
 * user has seen). The baseline every other model must beat. `similarItems` returns the most
 * popular other items, since popularity knows nothing of similarity.
 */
export class PopularityRecommender extends BaseRecommender<PopularityParams> {
  readonly kind = 'popularity' as const;
  private counts: Float32Array = new Float32Array(0);

  constructor(params: Partial<PopularityParams> | Record<string, unknown> = {}) {
    super(parseParams(popularityParamsSchema, params, 'popularity'));
  }

  static fromArtifact(artifact: Artifact & { data: Interactions }): PopularityRecommender {
    const model = new PopularityRecommender(artifact.params);
    model.counts = artifact.arrays.counts as Float32Array;
    model.restore(artifact.data);
    return model;
  }

  protected async fitModel(data: Interactions, options: FitOptions): Promise<FitReport> {
    return runIterations('popularity', 1, options, () => {
      const { indptr } = data.itemUsers;
      const counts = new Float32Array(data.items.size);
      for (let i = 0; i < counts.length; i++) counts[i] = indptr[i + 1] - indptr[i];
      this.counts = counts;
      return undefined;
    });
  }

  protected scoreUser(_u: number, out: Float32Array): void {
    out.set(this.counts);
  }

  protected scoreSimilar(_i: number, out: Float32Array): void {
    out.set(this.counts);
  }

  protected artifactContent(): Pick<Artifact, 'arrays' | 'extra'> {
    return { arrays: { counts: this.counts }, extra: {} };
  }
}
