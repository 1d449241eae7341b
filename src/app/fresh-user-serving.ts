import { childLogger, type Logger } from '../core/log.js';
import type { ServingAppDeps } from '../serving/create-app.js';
import { LiveUserEmbedder } from '../serving/live-user-embedder.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import { LiveVectorIndex } from '../vectors/live-vector-index.js';

/**
 * The serving app's vector search, interaction events and fresh-user re-embedding (issues 18 and
 * 19), built once for the serve and all-in-one roles: one live `items` index shared by
 * `GET /v1/items/{id}/similar` and the recommendations of users with fresh interactions, the
 * published version's model (loaded from `artifacts` when the version was published by a model
 * that embeds users), and `POST /v1/interactions` over `metadata.interactions`. The app starts
 * and closes the live objects with itself.
 */
export function freshUserServing(
  stores: { serving: ServingStore; metadata: MetadataStore; artifacts: ArtifactStore },
  logger: Logger,
): Pick<ServingAppDeps, 'vectors' | 'interactions' | 'embedding'> {
  const { serving, metadata, artifacts } = stores;
  const items = new LiveVectorIndex(artifacts, 'items', {
    updates: metadata.vectorUpdates,
    logger: childLogger(logger, 'vectors'),
  });
  const model = new LiveUserEmbedder(serving, artifacts, { logger: childLogger(logger, 'embed') });
  return {
    // PUT/DELETE changes are kept in the metadata store, so a restart loses none.
    vectors: { artifacts, updates: metadata.vectorUpdates, shared: [items] },
    interactions: metadata.interactions,
    embedding: { model, items, interactions: metadata.interactions },
  };
}
