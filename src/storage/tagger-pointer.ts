import { DataError } from '../core/errors.js';
import type { ServingStore } from './serving-store.js';

/** The serving store key whose value names the tagger that `/v1/tags/suggest` answers with. */
export const TAGGER_POINTER_KEY = 'tags:current';

/** What {@link TAGGER_POINTER_KEY} holds: the published tagger. */
export interface TaggerPointer {
  modelId: string;
  /** Absolute path of the model file, so that servers started anywhere find it. */
  artifactPath: string;
  /** ISO-8601. */
  publishedAt: string;
  labels: number;
  /** Offline figures measured before publishing, e.g. `{ "precision@1": 0.61 }`. */
  metrics: Record<string, number>;
}

/**
 * The published tagger's pointer, or null when none was published.
 *
 * @throws DataError when the key holds something else (written by hand or by another tool).
 */
export async function readTaggerPointer(
  serving: Pick<ServingStore, 'get'>,
): Promise<TaggerPointer | null> {
  const value = await serving.get(TAGGER_POINTER_KEY);
  if (value === null || value === undefined) return null;
  const p = value as Partial<TaggerPointer>;
  if (
    typeof p !== 'object' ||
    typeof p.modelId !== 'string' ||
    typeof p.artifactPath !== 'string' ||
    typeof p.publishedAt !== 'string'
  ) {
    throw new DataError(
      {},
      `serving store key ${TAGGER_POINTER_KEY} does not hold a tagger pointer ({modelId, artifactPath, publishedAt})`,
    );
  }
  return {
    modelId: p.modelId,
    artifactPath: p.artifactPath,
    publishedAt: p.publishedAt,
    labels: Number(p.labels ?? 0),
    metrics: p.metrics ?? {},
  };
}
