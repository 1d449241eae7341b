import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { InvalidArgumentError, KibanError } from '../../core/errors.js';
import type { InteractionEvent, InteractionStore } from '../../storage/interaction-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import type { UserStateStore } from '../../storage/user-state-store.js';
import type { LiveVectorIndex } from '../../vectors/live-vector-index.js';
import { type LiveUserEmbedder, userItems } from '../live-user-embedder.js';
import {
  DEFAULT_FALLBACK_CHAIN,
  RecommendEngine,
  type RecommendOptions,
} from '../recommend-engine.js';
import {
  excludedIds,
  hiddenItemRoute,
  hiddenItemsRoute,
  MAX_EXCLUDED_IDS,
  recommendationsRoute,
  relatedRoute,
  sessionRecommendationsRoute,
  type USER_EVENT_TYPES,
  userEventsRoute,
} from '../schemas.js';

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
  /**
   * Hidden and just-seen items per user: adds `PUT`/`DELETE …/users/{id}/hidden/{item}` and
   * `GET …/users/{id}/hidden`, and leaves those items out of recommendations.
   * @defaultValue none: the hidden routes are not mounted
   */
  userState?: UserStateStore;
  /**
   * Where `POST …/users/{id}/events` stores its events for the next batch (the service's
   * interactions). The events route is mounted when this or `userState` is given.
   */
  interactions?: Pick<InteractionStore, 'append'>;
  /** The fallback chain and read sizes. @defaultValue {@link DEFAULT_FALLBACK_CHAIN} and its defaults */
  recommend?: RecommendOptions;
}

/** Most fresh interactions of one user read per request (the newest). */
export const MAX_FRESH_INTERACTIONS = 200;

/** Default weight of each event type of `POST …/users/{id}/events`. */
export const EVENT_TYPE_WEIGHTS: Readonly<Record<(typeof USER_EVENT_TYPES)[number], number>> =
  Object.freeze({ view: 1, click: 1, like: 2, purchase: 3, follow: 1 });

/**
 * The recommendation routes of one service (a fastify plugin, registered under the service's
 * prefix, `/v1` for the default one):
 * - `GET …/users/{userId}/recommendations?k&offset&category&exclude&explain` → `{user, items,
 *   fallback}`: the service's fallback chain (personal → related-to-recent → category-popular →
 *   popular by default, see {@link RecommendEngine}), each item with its `source`, retired, hidden,
 *   just-seen and excluded items left out; `fallback` is true for a user with no list of their own;
 * - `POST …/recommendations` `{items, k, offset, category?, exclude?, explain?}` → `{items,
 *   fallback}`: session recommendations from recent items, no user id;
 * - `GET …/items/{itemId}/related?k&exclude` → `{item, items}` (retired items left out); an item
 *   the published model does not know is a 404;
 * - with `userState`: `PUT`/`DELETE …/users/{userId}/hidden/{itemId}` (204, scope `events:write`)
 *   and `GET …/users/{userId}/hidden`;
 * - with `userState` or `interactions`: `POST …/users/{userId}/events` (scope `events:write`):
 *   view/click/like/purchase/follow events appended to the interactions (for the next batch) and
 *   to the user's seen items (left out at once).
 *
 * Reads need `recs:read`. Items are best first, their ids strings whatever type the store keeps.
 * Before anything is published the reads answer 503 (`NOT_READY`).
 *
 * With `embedding`, when the published version was made by a model that embeds users (graphsage,
 * gat) and that model is loaded, a user who has interactions written through the API after the
 * batch (`POST /v1/interactions`, `seq` above the version's `embedding.interactionsThrough`) is
 * embedded on the fly from their batch items plus the new ones (`embedUsers`), and the `personal`
 * source is the `items` vector index's nearest items to that vector (cosine), leaving out every
 * item the user has interacted with; a brand-new user is embedded from the new items alone. Other
 * users get their precomputed list as before.
 */
export async function recommendationRoutes(
  app: FastifyInstance,
  { serving, embedding, userState, interactions, recommend }: RecommendationRoutesOptions,
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
  const engine = new RecommendEngine({
    serving,
    ...(userState === undefined ? {} : { userState }),
    ...(embedding === undefined
      ? {}
      : {
          fresh: (user: string, k: number, version: string) =>
            freshRecommendations(embedding, user, k, version),
        }),
    ...(recommend === undefined ? {} : { options: recommend }),
  });
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/users/:userId/recommendations',
    { schema: recommendationsRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { userId } = request.params;
      const { k, offset, category, exclude, explain } = request.query;
      const excluded = excludedIds(exclude);
      if (excluded.length > MAX_EXCLUDED_IDS)
        throw new InvalidArgumentError(
          'query parameter exclude',
          `takes at most ${MAX_EXCLUDED_IDS} ids, got ${excluded.length}`,
        );
      const answer = await engine.recommend({
        user: userId,
        k,
        offset,
        ...(category === undefined ? {} : { category }),
        exclude: excluded,
        explain: explain === 'true',
      });
      return { user: userId, items: answer.items, fallback: answer.fallback };
    },
  );

  api.post(
    '/recommendations',
    { schema: sessionRecommendationsRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { items, k, offset, category, exclude, explain } = request.body;
      const answer = await engine.recommend({
        user: null,
        session: items,
        k,
        offset,
        ...(category === undefined ? {} : { category }),
        exclude: exclude ?? [],
        explain,
      });
      return { items: answer.items, fallback: answer.fallback };
    },
  );

  api.get(
    '/items/:itemId/related',
    { schema: relatedRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { itemId } = request.params;
      const related = await engine.related(
        itemId,
        request.query.k,
        excludedIds(request.query.exclude),
      );
      if (related !== null)
        return { item: itemId, items: related.items.map(({ id, score }) => ({ id, score })) };
      // Not NotFoundError: its message would be `… not found`, and this one names the model.
      throw new KibanError('NOT_FOUND', `item "${itemId}" is unknown to the published model`);
    },
  );

  if (userState !== undefined) {
    api.put(
      '/users/:userId/hidden/:itemId',
      { schema: hiddenItemRoute, config: { scopes: ['events:write'], audit: false } },
      async (request, reply) => {
        await userState.hide(request.params.userId, request.params.itemId);
        return reply.code(204).send(null);
      },
    );
    api.delete(
      '/users/:userId/hidden/:itemId',
      { schema: hiddenItemRoute, config: { scopes: ['events:write'], audit: false } },
      async (request, reply) => {
        await userState.unhide(request.params.userId, request.params.itemId);
        return reply.code(204).send(null);
      },
    );
    api.get(
      '/users/:userId/hidden',
      { schema: hiddenItemsRoute, config: { scopes: ['recs:read'] } },
      async (request) => {
        const { userId } = request.params;
        return { user: userId, items: [...(await userState.hidden(userId))].sort() };
      },
    );
  }

  if (userState !== undefined || interactions !== undefined) {
    api.post(
      '/users/:userId/events',
      { schema: userEventsRoute, config: { scopes: ['events:write'], audit: false } },
      async (request) => {
        const { userId } = request.params;
        const now = Date.now();
        const events: InteractionEvent[] = request.body.events.map((e, i) => {
          const weight = e.weight ?? EVENT_TYPE_WEIGHTS[e.type];
          if (!Number.isFinite(weight))
            throw new InvalidArgumentError(`body.events[${i}].weight`, 'must be a finite number');
          return {
            user: userId,
            item: e.item,
            at: eventTime(e.ts, now, `body.events[${i}].ts`),
            weight,
            ...(e.id === undefined ? {} : { id: e.id }),
          };
        });
        // Oldest first, so the newest event's item is the newest seen.
        const ordered = [...events].sort((a, b) => a.at.getTime() - b.at.getTime());
        const [appended] = await Promise.all([
          interactions === undefined ? { accepted: 0, duplicates: 0 } : interactions.append(events),
          userState?.markSeen(
            userId,
            ordered.map((e) => e.item),
          ),
        ]);
        return {
          ...appended,
          seen: userState === undefined ? 0 : new Set(events.map((e) => e.item)).size,
        };
      },
    );
  }
}

/** An event's time: ISO-8601 text or epoch ms, default `now`; a 400 naming `field` otherwise. */
function eventTime(ts: string | number | undefined, now: number, field: string): Date {
  if (ts === undefined) return new Date(now);
  const at = typeof ts === 'number' ? new Date(ts) : new Date(ts);
  if (Number.isNaN(at.getTime()))
    throw new InvalidArgumentError(field, `"${ts}" is not an ISO-8601 time or epoch milliseconds`);
  return at;
}

/**
 * The answer for a user with interactions newer than the loaded model's batch (for a user the
 * model does not know, with any stored interactions): their vector from their batch and fresh items, searched in the `items` index with those items left out. Null when
 * there is nothing fresh, no model or index is loaded, the model loaded is not the one `version`
 * (the version this request reads) names, the index loaded is not the one published with the
 * model, or none of the user's items is known to the model (then the user's list, or the
 * popular one, answers).
 */
async function freshRecommendations(
  { model: live, items: index, interactions }: FreshUserEmbedding,
  user: string,
  k: number,
  version: string,
): Promise<{ id: string; score: number }[] | null> {
  const loaded = live.current;
  const snapshot = index.current;
  // The model and the index must come from one publish (each polls its own pointer): until both
  // have moved to the same version the precomputed lists answer.
  if (loaded === null || snapshot === null || snapshot.version !== loaded.itemsIndex) return null;
  // The model polls the current version every few seconds: until it has caught up with a publish
  // or a rollback, the precomputed lists of the version this request reads answer.
  if (loaded.version !== version) return null;
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
