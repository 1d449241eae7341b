import { DataError } from '../core/errors.js';
import type { ServingStore } from './serving-store.js';

/** The serving store key whose value names the tagger that `/v1/tags/suggest` answers with. */
export const TAGGER_POINTER_KEY = 'tags:current';

/** What {@link TAGGER_POINTER_KEY} holds: the published tagger. */
export interface TaggerPointer {
  modelId: string;
  /**
   * Where the model file is: for a tagger kept in an artifact store, its key (the same as
   * {@link TaggerPointer.artifactKey}); for one saved under a plain directory, the file's absolute
   * path (found only by servers that see the same disk).
   */
  artifactPath: string;
  /**
   * The key of the model file in the artifact store (`models/<modelId>/model.tagger`), when the
   * tagger was published to one (`stores.artifacts` an artifact store URL). Servers load it from
   * their own artifact store, so one on any host loads what a worker trained. Absent in pointers
   * to a local file (and in every pointer written before taggers were stored by key).
   */
  artifactKey?: string;
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
    typeof p.publishedAt !== 'string' ||
    (p.artifactKey !== undefined && typeof p.artifactKey !== 'string')
  ) {
    throw new DataError(
      {},
      `serving store key ${TAGGER_POINTER_KEY} does not hold a tagger pointer ({modelId, artifactPath, publishedAt})`,
    );
  }
  return {
    modelId: p.modelId,
    artifactPath: p.artifactPath,
    ...(p.artifactKey === undefined ? {} : { artifactKey: p.artifactKey }),
    publishedAt: p.publishedAt,
    labels: Number(p.labels ?? 0),
    metrics: p.metrics ?? {},
  };
}
