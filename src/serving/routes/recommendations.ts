import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { KibanError, NotReadyError } from '../../core/errors.js';
import type { ServingStore } from '../../storage/serving-store.js';
import { recommendationsRoute, relatedRoute, wireItems } from '../schemas.js';

/** Options of {@link recommendationRoutes}. */
export interface RecommendationRoutesOptions {
  /** The store the published lists are read from. */
  serving: Pick<ServingStore, 'getList' | 'currentVersion'>;
}

/**
 * The precomputed lists of the published version (a fastify plugin):
 * - `GET /v1/users/{userId}/recommendations?k` → `{user, items, fallback}`: the user's list, or the
 *   popular list with `fallback: true` for a user the model does not know;
 * - `GET /v1/items/{itemId}/related?k` → `{item, items}`; an item the published model does not
 *   know is a 404.
 *
 * Items are best first, at most `k` of them, their ids strings whatever type the store keeps.
 * Before anything is published both answer 503 (`NOT_READY`).
 */
export async function recommendationRoutes(
  app: FastifyInstance,
  { serving }: RecommendationRoutesOptions,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/v1/users/:userId/recommendations',
    { schema: recommendationsRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { userId } = request.params;
      const { k } = request.query;
      const items = await serving.getList('user', userId, { limit: k });
      if (items !== null) return { user: userId, items: wireItems(items), fallback: false };
      const popular = await serving.getList('popular', 'all', { limit: k });
      if (popular === null) throw new NotReadyError('no recommendations are published yet');
      return { user: userId, items: wireItems(popular), fallback: true };
    },
  );

  api.get(
    '/v1/items/:itemId/related',
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
