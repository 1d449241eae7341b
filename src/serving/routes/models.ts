import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { NotReadyError } from '../../core/errors.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import { modelsRoute } from '../schemas.js';

/** Options of {@link modelRoutes}. */
export interface ModelRoutesOptions {
  /** The store whose current version is described. */
  serving: Pick<ServingStore, 'currentVersion'>;
  /** Where the model record behind the published version is found; without it `model` is null. */
  metadata?: Pick<MetadataStore, 'getModel'>;
}

/**
 * `GET /v1/models` → `{version, publishedAt, meta, model}` (a fastify plugin): the published
 * version and the record of the model it came from (`meta.modelId`), or `model: null` where
 * there is none. Before anything is published, a 503 (`NOT_READY`).
 */
export async function modelRoutes(
  app: FastifyInstance,
  { serving, metadata }: ModelRoutesOptions,
): Promise<void> {
  app
    .withTypeProvider<ZodTypeProvider>()
    .get('/models', { schema: modelsRoute, config: { scopes: ['models:read'] } }, async () => {
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
}
