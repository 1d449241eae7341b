/**
 * Services (issue 22): one kiban serves many products, each a `service` with its own serving
 * namespace (published versions, lists, vectors), interactions and models. Every service's
 * recommendation, model and interaction routes are the same plugins, registered once per service
 * under its own prefix with that service's stores:
 * - the `default` service at `/v1/…` (the routes kiban always had);
 * - every other service at `/v1/services/{service}/…`.
 *
 * Each registration checks, after authentication, that the caller may use its service
 * (`mayUseService`: `service:NAME` or `service:*` scopes; `admin`; a caller with no service scope
 * only `default`), so a key of one service reads nothing of another.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mayUseService } from '../auth/principal.js';
import { ForbiddenError } from '../core/errors.js';
import type { InteractionStore } from '../storage/interaction-store.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import type { UserStateStore } from '../storage/user-state-store.js';
import { creatorRoutes } from './routes/creators.js';
import type { RecommendOptions } from './recommend-engine.js';
import { interactionRoutes } from './routes/interactions.js';
import { modelRoutes } from './routes/models.js';
import { type FreshUserEmbedding, recommendationRoutes } from './routes/recommendations.js';

/** The name of the service the routes without `/services/` belong to. */
export const DEFAULT_SERVICE = 'default';

/** What one service's routes read from and write to. */
export interface ServiceServing {
  /** {@link DEFAULT_SERVICE}, or a name matching `SERVICE_NAME` (`auth/principal.ts`). */
  name: string;
  /** The service's serving namespace: its published versions and lists. */
  serving: ServingStore;
  /** Where `GET …/models` finds the model record behind the published version. */
  metadata?: Pick<MetadataStore, 'getModel'>;
  /** Where `POST …/interactions` keeps the service's events; without it the route is not mounted. */
  interactions?: InteractionStore;
  /** Re-embeds users with fresh interactions (graph models); without it, precomputed lists only. */
  embedding?: FreshUserEmbedding;
  /** Hidden and just-seen items per user, left out of recommendations at once. */
  userState?: UserStateStore;
  /** The service's fallback chain and read sizes (`recommend` of its configuration). */
  recommend?: RecommendOptions;
}

/** The URL prefix of a service's routes: `/v1` for {@link DEFAULT_SERVICE}, else `/v1/services/NAME`. */
export function servicePrefix(service: string): string {
  return service === DEFAULT_SERVICE ? '/v1' : `/v1/services/${service}`;
}

/**
 * One service's routes (a fastify plugin; register it with `prefix: servicePrefix(name)`):
 * recommendations and related items, the published model, and interactions when the service has
 * a store for them. An `onRequest` hook refuses (403) a caller who may not use the service.
 */
export async function serviceRoutes(
  app: FastifyInstance,
  { service }: { service: ServiceServing },
): Promise<void> {
  app.addHook('onRequest', async (request) => {
    const principal = request.principal;
    if (principal === null || principal === undefined) return; // auth off, or a public route
    if (!mayUseService(principal, service.name))
      throw new ForbiddenError(
        `${principal.kind} "${principal.name}" may not use service "${service.name}": it needs the scope service:${service.name} (or service:*)`,
      );
  });
  await app.register(recommendationRoutes, {
    serving: service.serving,
    ...(service.embedding === undefined ? {} : { embedding: service.embedding }),
    ...(service.userState === undefined ? {} : { userState: service.userState }),
    ...(service.interactions === undefined ? {} : { interactions: service.interactions }),
    ...(service.recommend === undefined ? {} : { recommend: service.recommend }),
  });
  // User → creator recommendations (issue 22): the version's creator lists.
  await app.register(creatorRoutes, { serving: service.serving });
  if (service.interactions !== undefined)
    await app.register(interactionRoutes, { interactions: service.interactions });
  await app.register(modelRoutes, {
    serving: service.serving,
    ...(service.metadata === undefined ? {} : { metadata: service.metadata }),
  });
}

const servicesListRoute = {
  summary: 'The services this server serves',
  description:
    'Every service with its route prefix and the version of its serving namespace readers see now (null before its first publish). Only the services the caller may use are listed.',
  response: {
    200: z.object({
      services: z.array(
        z.object({
          name: z.string(),
          prefix: z.string(),
          version: z.string().nullable(),
          publishedAt: z.string().nullable(),
        }),
      ),
    }),
  },
};

/** `GET /v1/services` (scope `recs:read` or `models:read`): the services the caller may use. */
export async function servicesListRoutes(
  app: FastifyInstance,
  { services }: { services: readonly ServiceServing[] },
): Promise<void> {
  app
    .withTypeProvider<ZodTypeProvider>()
    .get(
      '/v1/services',
      { schema: servicesListRoute, config: { scopes: ['recs:read', 'models:read'] } },
      async (request) => {
        const principal = request.principal;
        const visible = services.filter(
          (s) => principal === null || principal === undefined || mayUseService(principal, s.name),
        );
        return {
          services: await Promise.all(
            visible.map(async (s) => {
              const current = await s.serving.currentVersion();
              return {
                name: s.name,
                prefix: servicePrefix(s.name),
                version: current?.version ?? null,
                publishedAt: current?.publishedAt ?? null,
              };
            }),
          ),
        };
      },
    );
}
