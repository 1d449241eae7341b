/**
 * User → creator recommendations over HTTP (issue 22): the creator lists the publish step writes
 * (`pipeline/steps/publish-creators.ts`) when the item catalogue has a creator column.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { KibanError, NotReadyError } from '../../core/errors.js';
import type { ServingStore } from '../../storage/serving-store.js';
import {
  POPULAR_CREATORS_LIST,
  RELATED_CREATORS_LIST,
  USER_CREATORS_LIST,
} from '../../storage/serving-lists.js';
import { errorSchema, wireItems } from '../schemas.js';

/** A path segment naming a user or a creator. */
const externalId = z.string().min(1).max(256);

const kQuery = z.strictObject({
  k: z.coerce.number().int().min(1).max(1000).default(10).describe('list length'),
});

const scoredCreator = z.object({
  id: z.string().describe('the creator, as the item catalogue names it'),
  score: z.number(),
});

/** `GET …/users/{userId}/creators`. */
export const userCreatorsRoute = {
  summary: 'Recommended creators for a user',
  description:
    'Precomputed top-k creators for the user, best first: the user\'s recommended items aggregated per creator, blended with direct creator interactions, never a creator the user already interacted with. A user without a list gets the most popular creators with "fallback": true. 404 when the published version has no creator lists (no creator column in the item catalogue).',
  params: z.object({ userId: externalId }),
  querystring: kQuery,
  response: {
    200: z.object({ user: z.string(), creators: z.array(scoredCreator), fallback: z.boolean() }),
    400: errorSchema,
    404: errorSchema,
    503: errorSchema,
  },
};

/** `GET …/creators/{creatorId}/related`. */
export const relatedCreatorsRoute = {
  summary: 'Creators related to a creator',
  description:
    "Precomputed top-k most related creators, best first: the creator's items' related items aggregated per creator, blended with creator co-occurrence over users. A creator the published version does not know is a 404.",
  params: z.object({ creatorId: externalId }),
  querystring: kQuery,
  response: {
    200: z.object({ creator: z.string(), creators: z.array(scoredCreator) }),
    400: errorSchema,
    404: errorSchema,
    503: errorSchema,
  },
};

/** Options of {@link creatorRoutes}. */
export interface CreatorRoutesOptions {
  /** The store the published creator lists are read from. */
  serving: Pick<ServingStore, 'getList' | 'currentVersion'>;
}

/**
 * The creator lists of the published version (a fastify plugin; scope `recs:read`):
 * - `GET /users/{userId}/creators?k` → `{user, creators, fallback}`: the user's creator list, or
 *   the popular creators with `fallback: true` for a user without one (unknown to the model, or
 *   left with no creator they have not touched);
 * - `GET /creators/{creatorId}/related?k` → `{creator, creators}`; a creator the published
 *   version does not know is a 404.
 *
 * Creators are best first, at most `k`. Before anything is published both answer 503
 * (`NOT_READY`); a published version without creator lists (its catalogue has no creator column)
 * answers 404 (`NOT_FOUND`). Registered once per service, under the service's prefix.
 *
 * @example
 * await app.register(creatorRoutes, { prefix: '/v1', serving: store });
 */
export async function creatorRoutes(
  app: FastifyInstance,
  { serving }: CreatorRoutesOptions,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/users/:userId/creators',
    { schema: userCreatorsRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { userId } = request.params;
      const { k } = request.query;
      const creators = await serving.getList(USER_CREATORS_LIST, userId, { limit: k });
      if (creators !== null)
        return { user: userId, creators: wireItems(creators), fallback: false };
      const popular = await serving.getList(POPULAR_CREATORS_LIST, 'all', { limit: k });
      if (popular !== null) return { user: userId, creators: wireItems(popular), fallback: true };
      throw await missing(
        serving,
        'the published version has no creator lists (its item catalogue has no creator column: data.items.creator)',
      );
    },
  );

  api.get(
    '/creators/:creatorId/related',
    { schema: relatedCreatorsRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { creatorId } = request.params;
      const creators = await serving.getList(RELATED_CREATORS_LIST, creatorId, {
        limit: request.query.k,
      });
      if (creators !== null) return { creator: creatorId, creators: wireItems(creators) };
      throw await missing(serving, `creator "${creatorId}" is unknown to the published version`);
    },
  );
}

/** 503 before anything is published, else a 404 with `message`. */
async function missing(
  serving: Pick<ServingStore, 'currentVersion'>,
  message: string,
): Promise<KibanError> {
  if ((await serving.currentVersion()) === null)
    return new NotReadyError('no recommendations are published yet');
  return new KibanError('NOT_FOUND', message);
}
