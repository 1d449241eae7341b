import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotReadyError } from '../../core/errors.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import { errorSchema, modelsRoute } from '../schemas.js';

/** Options of {@link modelRoutes}. */
export interface ModelRoutesOptions {
  /** The store whose versions are described and rolled back. */
  serving: Pick<ServingStore, 'currentVersion' | 'listVersions' | 'rollback'>;
  /** Where the model record behind the published version is found; without it `model` is null. */
  metadata?: Pick<MetadataStore, 'getModel'>;
}

/** `GET /v1/models/versions`: the versions the serving store holds. */
export const modelVersionsRoute = {
  summary: 'The published versions held',
  description:
    'The committed versions the serving store keeps (the current one and the last few before it), newest published first, ' +
    'each with its meta (model id, kind, offline metrics…) and whether readers see it now. Any of them can be rolled back to.',
  response: {
    200: z.object({
      versions: z.array(
        z.object({
          version: z.string(),
          publishedAt: z.string(),
          meta: z.record(z.string(), z.unknown()),
          current: z.boolean(),
        }),
      ),
    }),
  },
};

/** `POST /v1/models/rollback`: makes a held version current again. */
export const modelRollbackRoute = {
  summary: 'Roll back to a held version',
  description:
    'Makes a version the serving store still holds (see GET /models/versions) current again, in one atomic switch: ' +
    'every request after the answer reads it. Rolling forward again is the same call with the newer version. ' +
    'An unknown, aborted or collected version is a 404.',
  body: z.strictObject({
    version: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .describe('the version to make current, as GET /models/versions names it'),
  }),
  response: {
    200: z.object({
      from: z.string().nullable().describe('the version current before (null if none was)'),
      to: z.string().describe('the version current now'),
    }),
    400: errorSchema,
    404: errorSchema,
  },
};

/**
 * The model routes (a fastify plugin):
 * - `GET /v1/models` → `{version, publishedAt, meta, model}` (scope `models:read`): the published
 *   version and the record of the model it came from (`meta.modelId`), or `model: null` where
 *   there is none. Before anything is published, a 503 (`NOT_READY`).
 * - `GET /v1/models/versions` → `{versions}` (scope `models:read`): the committed versions held,
 *   newest first, the current one marked.
 * - `POST /v1/models/rollback` `{version}` → `{from, to}` (scope `admin`): switches readers to a
 *   held version atomically; 404 for a version the store does not hold committed.
 */
export async function modelRoutes(
  app: FastifyInstance,
  { serving, metadata }: ModelRoutesOptions,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/models', { schema: modelsRoute, config: { scopes: ['models:read'] } }, async () => {
    const current = await serving.currentVersion();
    if (current === null) throw new NotReadyError('no model is published yet');
    const modelId = typeof current.meta.modelId === 'string' ? current.meta.modelId : null;
    const model =
      modelId !== null && metadata !== undefined ? await metadata.getModel(modelId) : null;
    return {
      version: current.version,
      publishedAt: current.publishedAt,
      meta: current.meta,
      // A record as the schema's open object (an interface has no index signature).
      model: model === null ? null : { ...model },
    };
  });

  api.get(
    '/models/versions',
    { schema: modelVersionsRoute, config: { scopes: ['models:read'] } },
    async () => ({ versions: await serving.listVersions() }),
  );

  api.post(
    '/models/rollback',
    { schema: modelRollbackRoute, config: { scopes: ['admin'] } },
    async (request) => {
      const result = await serving.rollback(request.body.version);
      request.log.info(result, 'serving version rolled back');
      return result;
    },
  );
}
