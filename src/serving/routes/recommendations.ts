import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { KibanError, NotReadyError } from '../../core/errors.js';
import type { InteractionStore } from '../../storage/interaction-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import type { LiveVectorIndex } from '../../vectors/live-vector-index.js';
import { type LiveUserEmbedder, userItems } from '../live-user-embedder.js';
import { recommendationsRoute, relatedRoute, wireItems } from '../schemas.js';

/**
 * What re-embeds users with fresh interactions: the published version's model, the `items`
 * vector index and the interactions written through the API.
 */
export interface FreshUserEmbedding {
  /** The model of the published version, when it embeds users. */
  model: LiveUserEmbedder;
  /** The `items` vector index (the model's item vectors, published with the version). */
  items: LiveVectorIndex;
  /** Where `POST /v1/interactions` keeps its events (`metadata.interactions`). */
  interactions: Pick<InteractionStore, 'forUser'>;
}

/** Options of {@link recommendationRoutes}. */
export interface RecommendationRoutesOptions {
  /** The store the published lists are read from. */
  serving: Pick<ServingStore, 'getList' | 'currentVersion'>;
  /**
   * Re-embeds a user whose interactions are newer than the batch (see {@link recommendationRoutes}).
   * @defaultValue none: only the precomputed lists answer
   */
  embedding?: FreshUserEmbedding;
}

/** Most fresh interactions of one user read per request (the newest). */
export const MAX_FRESH_INTERACTIONS = 200;

/**
 * The precomputed lists of the published version (a fastify plugin):
 * - `GET /v1/users/{userId}/recommendations?k` → `{user, items, fallback}`: the user's list, or the
 *   popular list with `fallback: true` for a user the model does not know;
 * - `GET /v1/items/{itemId}/related?k` → `{item, items}`; an item the published model does not
 *   know is a 404.
 *
 * Items are best first, at most `k` of them, their ids strings whatever type the store keeps.
 * Before anything is published both answer 503 (`NOT_READY`).
 *
 * With `embedding`, when the published version was made by a model that embeds users (graphsage,
 * gat) and that model is loaded, a user who has interactions written through the API after the
 * batch (`POST /v1/interactions`, `seq` above the version's `embedding.interactionsThrough`) is
 * embedded on the fly from their batch items plus the new ones (`embedUsers`), and the answer is
 * the `items` vector index's nearest items to that vector (cosine), leaving out every item the
 * user has interacted with; a brand-new user is embedded from the new items alone. Other users get
 * their precomputed list as before.
 */
export async function recommendationRoutes(
  app: FastifyInstance,
  { serving, embedding }: RecommendationRoutesOptions,
): Promise<void> {
  if (embedding !== undefined) {
    // Both may be shared (the index with the vector routes): start and close are idempotent.
    app.addHook('onReady', async () => {
      embedding.model.start();
      embedding.items.start();
    });
    app.addHook('onClose', async () => {
      embedding.model.close();
      embedding.items.close();
    });
  }
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/users/:userId/recommendations',
    { schema: recommendationsRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { userId } = request.params;
      const { k } = request.query;
      if (embedding !== undefined) {
        const fresh = await freshRecommendations(embedding, userId, k);
        if (fresh !== null) return { user: userId, items: fresh, fallback: false };
      }
      const items = await serving.getList('user', userId, { limit: k });
      if (items !== null) return { user: userId, items: wireItems(items), fallback: false };
      const popular = await serving.getList('popular', 'all', { limit: k });
      if (popular === null) throw new NotReadyError('no recommendations are published yet');
      return { user: userId, items: wireItems(popular), fallback: true };
    },
  );

  api.get(
    '/items/:itemId/related',
    { schema: relatedRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { itemId } = request.params;
      const items = await serving.getList('related', itemId, { limit: request.query.k });
      if (items !== null) return { item: itemId, items: wireItems(items) };
      if ((await serving.currentVersion()) === null)
        throw new NotReadyError('no recommendations are published yet');
      // Not NotFoundError: its message would be `… not found`, and this one names the model.
      throw new KibanError('NOT_FOUND', `item "${itemId}" is unknown to the published model`);
    },
  );
}

/**
 * The answer for a user with interactions newer than the loaded model's batch (for a user the
 * model does not know, with any stored interactions): their vector from their batch and fresh items, searched in the `items` index with those items left out. Null when
 * there is nothing fresh, no model or index is loaded, the index loaded is not the one published
 * with the model, or none of the user's items is known to the model (then the user's list, or the
 * popular one, answers).
 */
async function freshRecommendations(
  { model: live, items: index, interactions }: FreshUserEmbedding,
  user: string,
  k: number,
): Promise<{ id: string; score: number }[] | null> {
  const loaded = live.current;
  const snapshot = index.current;
  // The model and the index must come from one publish (each polls its own pointer): until both
  // have moved to the same version the precomputed lists answer.
  if (loaded === null || snapshot === null || snapshot.version !== loaded.itemsIndex) return null;
  // A user the model does not know (new since the batch, or dropped by it: too few items, or
  // outside its window) is embedded from all their stored interactions, the batch's included.
  const known = loaded.model.data.users.indexOf(user) >= 0;
  const events = await interactions.forUser(user, {
    after: known ? loaded.meta.interactionsThrough : 0,
    limit: MAX_FRESH_INTERACTIONS,
  });
  if (events.length === 0) return null;
  const { items, seen } = userItems(
    loaded.model,
    user,
    events.map((e) => e.item),
  );
  if (items.length === 0) return null;
  const vector = loaded.model.embedUsers([items]).data;
  const [hits] = await index.search(snapshot, vector, { k, exclude: seen });
  return hits ?? [];
}
