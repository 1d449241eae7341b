import type { z } from 'zod';
import { InvalidArgumentError } from '../core/errors.js';
import type { Interactions } from '../data/interactions.js';
import { AlsRecommender, alsParamsSchema } from './als/als-recommender.js';
import { readArtifact, type Artifact } from './artifact.js';
import { BprRecommender, bprParamsSchema } from './bpr/bpr-recommender.js';
import { ItemKnnRecommender, itemKnnParamsSchema } from './itemknn/itemknn-recommender.js';
import { PopularityRecommender, popularityParamsSchema } from './popularity/popularity-recommender.js';
import type { ModelKind, Recommender } from './recommender.js';

interface ModelEntry {
  /** One line for `--help`. */
  summary: string;
  schema: z.ZodObject;
  create(params: Record<string, unknown>): Recommender;
  fromArtifact(artifact: Artifact & { data: Interactions }): Recommender;
}

const MODELS: Record<ModelKind, ModelEntry> = {
  popularity: {
    summary: 'most-interacted items first, the same for everyone',
    schema: popularityParamsSchema,
    create: (p) => new PopularityRecommender(p),
    fromArtifact: (a) => PopularityRecommender.fromArtifact(a),
  },
  itemknn: {
    summary: 'item-based nearest neighbours (cosine, optional TF-IDF/BM25 weighting)',
    schema: itemKnnParamsSchema,
    create: (p) => new ItemKnnRecommender(p),
    fromArtifact: (a) => ItemKnnRecommender.fromArtifact(a),
  },
  als: {
    summary: 'implicit-feedback matrix factorisation by alternating least squares',
    schema: alsParamsSchema,
    create: (p) => new AlsRecommender(p),
    fromArtifact: (a) => AlsRecommender.fromArtifact(a),
  },
  bpr: {
    summary: 'matrix factorisation by Bayesian personalised ranking (SGD on sampled triples)',
    schema: bprParamsSchema,
    create: (p) => new BprRecommender(p),
    fromArtifact: (a) => BprRecommender.fromArtifact(a),
  },
};

/** Every model kind, in the order reports list them. */
export const MODEL_KINDS: readonly ModelKind[] = Object.freeze(Object.keys(MODELS) as ModelKind[]);

/** Whether `name` is a model kind kiban knows. */
export function isModelKind(name: string): name is ModelKind {
  return Object.hasOwn(MODELS, name);
}

function entry(kind: string): ModelEntry {
  if (!isModelKind(kind)) throw new InvalidArgumentError('model', `unknown model "${kind}"; choose one of ${MODEL_KINDS.join(', ')}`);
  return MODELS[kind];
}

/**
 * A new, unfitted model of `kind`; unknown or out-of-range parameters are refused.
 *
 * @example
 * const model = createRecommender('itemknn', { neighbours: 200 });
 */
export function createRecommender(kind: string, params: Record<string, unknown> = {}): Recommender {
  return entry(kind).create(params);
}

/** The parameter schema of `kind` (for help texts and option parsing). */
export function modelSchema(kind: string): z.ZodObject {
  return entry(kind).schema;
}

/** A one-line description of `kind`. */
export function modelSummary(kind: string): string {
  return entry(kind).summary;
}

/** Loads a model saved with {@link Recommender.save}, whatever its kind. */
export async function loadRecommender(dir: string): Promise<Recommender> {
  const artifact = await readArtifact(dir);
  return entry(artifact.kind).fromArtifact(artifact);
}
